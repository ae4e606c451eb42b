"""The workload-only ``alexnet-227`` model: ungrouped AlexNet-227 with 1,000 classes, SCALE-Sim's own
topology (validation/scalesim). Shapes and MACs are hand-computed here, not taken from the model."""

from __future__ import annotations

import pytest

from accelsim.model import get_model, model_names
from accelsim.workload import build_workload

# name: (in_shape, out_shape, kernel, stride, fan_in, MACs); out 55 = (227 - 11) / 4 + 1; pools 3/2:
# 55 -> 27 -> 13 -> 6; conv2 pads 2 and conv3-5 pad 1, so they keep the size.
EXPECTED = {
    "conv1": ((3, 227, 227), (96, 55, 55), (11, 11), 4, 11 * 11 * 3, 55 * 55 * 96 * 363),
    "conv2": ((96, 27, 27), (256, 27, 27), (5, 5), 1, 5 * 5 * 96, 27 * 27 * 256 * 2400),
    "conv3": ((256, 13, 13), (384, 13, 13), (3, 3), 1, 3 * 3 * 256, 13 * 13 * 384 * 2304),
    "conv4": ((384, 13, 13), (384, 13, 13), (3, 3), 1, 3 * 3 * 384, 13 * 13 * 384 * 3456),
    "conv5": ((384, 13, 13), (256, 13, 13), (3, 3), 1, 3 * 3 * 384, 13 * 13 * 256 * 3456),
    "fc6": ((9216,), (4096,), (1, 1), 1, 256 * 6 * 6, 9216 * 4096),  # pool5 flattened
    "fc7": ((4096,), (4096,), (1, 1), 1, 4096, 4096 * 4096),
    "fc8": ((4096,), (1000,), (1, 1), 1, 4096, 4096 * 1000),
}


@pytest.fixture(scope="module")
def workload():
    entry = get_model("alexnet-227")
    return build_workload(entry.factory().eval(), entry.input_shape)  # shapes only: no weight init needed


def test_registered_as_a_workload_only_model():
    assert "alexnet-227" in model_names()
    entry = get_model("alexnet-227")
    assert entry.input_shape == (3, 227, 227)
    assert entry.weights is None and entry.detector is None and entry.data is None  # seeded, untrained
    assert "not a detector" in entry.description


def test_layer_shapes_and_no_groups(workload):
    compute = [l for l in workload if l.kind in ("conv", "fc")]
    assert [l.name for l in compute] == list(EXPECTED)
    for l in compute:
        in_shape, out_shape, kernel, stride, fan_in, macs = EXPECTED[l.name]
        assert (l.in_shape, l.out_shape, l.kernel, l.stride) == (in_shape, out_shape, kernel, stride), l.name
        assert l.groups == 1, l.name
        assert l.fan_in == fan_in and l.macs == macs, l.name
    assert [l.name for l in workload if l.kind == "pool"] == ["pool1", "pool2", "pool5"]
    assert [l.name for l in workload if l.kind == "norm"] == ["norm1", "norm2"]


def test_mac_total(workload):
    # 105,415,200 + 447,897,600 + 149,520,384 + 224,280,576 + 149,520,384 + 37,748,736 + 16,777,216 + 4,096,000
    assert sum(m for *_, m in EXPECTED.values()) == 1_135_256_096
    assert sum(l.macs for l in workload) == 1_135_256_096  # about 1,135 M, AlexNet's usual figure


def test_grouped_default_unchanged():
    """deepped-alexnet keeps Caffe's two groups in conv2, conv4 and conv5."""
    entry = get_model("deepped-alexnet")
    groups = {l.name: l.groups for l in build_workload(entry.factory().eval(), entry.input_shape) if l.kind == "conv"}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
