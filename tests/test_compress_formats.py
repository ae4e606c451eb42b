"""Value formats: fixed-point rounding, saturation, refusal, and per-layer fractional bits, by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.compress import compress
from accelsim.compress.formats import ValueFormat
from accelsim.compress.plan import CompressionPlan
from accelsim.errors import PlanError


def fmt(text):
    return ValueFormat.parse(text)


@pytest.mark.parametrize(
    "value, expected",
    [
        # fixed8.4: step 1/16, codes -128..127, so values -8 .. 7.9375
        (0.30, 0.3125),  # 0.30 x 16 = 4.8 -> 5 -> 5/16
        (-0.30, -0.3125),
        (0.70, 0.6875),  # 11.2 -> 11
        (0.03125, 0.0),  # 0.5 -> round half to even -> 0
        (0.09375, 0.125),  # 1.5 -> 2
        (7.9375, 7.9375),  # largest code 127
        (8.0, 7.9375),  # 128 saturates to 127
        (100.0, 7.9375),
        (-8.0, -8.0),  # -128 is a code
        (-9.0, -8.0),  # saturates to -128
    ],
)
def test_fixed8_4_rounds_to_nearest_and_saturates(value, expected):
    assert fmt("fixed8.4").quantize(np.array([value]))[0] == np.float32(expected)


def test_fixed_codes_are_twos_complement_in_b_bits():
    f = fmt("fixed8.4")
    # 0.3125 -> 5; -0.3125 -> -5 -> 256 - 5 = 251; -8 -> -128 -> 128; 7.9375 -> 127
    assert f.encode(np.array([0.3125, -0.3125, -8.0, 7.9375])).tolist() == [5, 251, 128, 127]
    assert f.decode(np.array([5, 251, 128, 127], dtype=np.uint64)).tolist() == [0.3125, -0.3125, -8.0, 7.9375]


def test_float_formats():
    assert fmt("fp16").quantize(np.array([0.1]))[0] == np.float32(0.0999755859375)
    assert fmt("fp32").quantize(np.array([0.1]))[0] == np.float32(0.1)
    assert (fmt("fp32").bits, fmt("fp16").bits, fmt("fixed12").bits, fmt("fixed8.3").bits) == (32, 16, 12, 8)
    assert fmt("fp16").encode(np.array([1.0])).tolist() == [0x3C00]


@pytest.mark.parametrize("text", ["fixed1", "fixed33", "int8", "fp8", "fixed", "fixed8.", "FP32 x"])
def test_bad_format_text_is_refused(text):
    with pytest.raises(ValueError):
        fmt(text)


def test_explicit_fractional_bits_refuse_a_range_they_cannot_hold():
    # fixed8.7 holds up to 127/128 = 0.9921875
    with pytest.raises(ValueError, match=r"fixed8\.7 holds magnitudes up to 0\.992188, but values reach 1\.2"):
        fmt("fixed8.7").resolve(1.2)
    # 0.995 x 128 = 127.36 -> code 127: rounds into range, accepted (rounding, not saturation)
    assert fmt("fixed8.7").resolve(0.995) == fmt("fixed8.7")
    # 0.99609375 x 128 = 127.5 -> 128 (half to even): one code too far, refused
    with pytest.raises(ValueError):
        fmt("fixed8.7").resolve(0.99609375)


@pytest.mark.parametrize(
    "max_abs, frac",
    [
        # the most fractional bits F with round(max_abs x 2^F) <= 127
        (0.3, 8),  # 0.3 x 256 = 76.8 -> 77 fits; x 512 = 153.6 -> 154 does not
        (1.0, 6),  # 1.0 x 128 = 128 does not fit; x 64 = 64 does
        (5.0, 4),  # 80 fits, 160 does not
        (0.99, 7),  # 126.72 -> 127 fits
        (0.99609375, 6),  # 127.5 -> 128 (half to even) does not fit at F = 7
        (200.0, -1),  # 200 / 2 = 100 fits; needs a negative F
        (0.0, 7),  # all-zero tensor: B - 1
    ],
)
def test_automatic_fractional_bits(max_abs, frac):
    assert fmt("fixed8").resolve(max_abs) == ValueFormat("fixed", 8, frac)


def test_unresolved_fixed_format_cannot_encode():
    with pytest.raises(ValueError, match="resolved"):
        fmt("fixed8").encode(np.array([0.1]))


def _linear(weight, bias=None):
    weight = torch.tensor(weight, dtype=torch.float32)
    m = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        m.weight.copy_(weight)
        if bias is not None:
            m.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return m


def test_fixed8_4_codebook_of_a_layer():
    # 4 distinct weights, k = 4, dense, unpruned: the codebook is the 4 values rounded to fixed8.4.
    model = nn.Sequential(_linear([[0.30, -0.30], [0.70, 1.00], [0.30, 1.00]], bias=[0.30, -0.70, 2.0]))
    plan = CompressionPlan.model_validate({"name": "p", "defaults": {"clusters": 4, "codebook_format": "fixed8.4",
                                                                     "bias_format": "fixed8.4"}})
    layer = compress(model, plan, model_name="m").layers["0"]
    assert layer.codebook.tolist() == [-0.3125, 0.3125, 0.6875, 1.0]
    np.testing.assert_array_equal(layer.decode(), [[0.3125, -0.3125], [0.6875, 1.0], [0.3125, 1.0]])
    np.testing.assert_array_equal(layer.bias, [0.3125, -0.6875, 2.0])
    # codebook 4 x 8 = 32 bits; indices 6 x 2 = 12; bias 3 x 8 = 24
    b = layer.bits
    assert (b.codebook, b.indices, b.positions, b.fillers, b.bias, b.total) == (32, 12, 0, 0, 24, 68)
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), layer.decode())


def test_rounding_merges_centroids_and_shrinks_the_index():
    # 4 distinct weights <= k = 4, so the codebook starts as the 4 values; in fixed8.4 0.30, 0.31 and
    # 0.32 all round to code 5 (4.8, 4.96, 5.12), so 2 entries remain: 1-bit indices, 2 x 8 codebook bits.
    model = nn.Sequential(_linear([[0.30, 0.31], [0.32, 1.0]]))
    plan = CompressionPlan.model_validate({"name": "p", "defaults": {"clusters": 4, "codebook_format": "fixed8.4"}})
    layer = compress(model, plan, model_name="m").layers["0"]
    assert layer.codebook.tolist() == [0.3125, 1.0]
    assert (layer.index_bits, layer.bits.codebook, layer.bits.indices) == (1, 16, 4)


def test_automatic_fractional_bits_are_chosen_per_layer():
    model = nn.Sequential(_linear([[0.3, -0.1], [0.2, 0.05]]), _linear([[5.0, -1.0], [0.5, 0.25]]))
    plan = CompressionPlan.model_validate({"name": "p", "defaults": {"codebook_format": "fixed8", "bias_format": "fp32"}})
    cm = compress(model, plan, model_name="m")
    # layer 0: max 0.3 -> fixed8.8 (step 1/256); layer 1: max 5.0 -> fixed8.4 (step 1/16)
    assert str(cm.layers["0"].value_format) == "fixed8.8"
    assert str(cm.layers["1"].value_format) == "fixed8.4"
    # 0.3 x 256 = 76.8 -> 77/256; -0.1 x 256 = -25.6 -> -26/256; 0.2 -> 51.2 -> 51/256; 0.05 -> 12.8 -> 13/256
    np.testing.assert_array_equal(cm.layers["0"].decode(), np.float32([[77, -26], [51, 13]]) / 256)
    # 5.0 -> 80/16; -1.0 -> -16/16; 0.5 -> 8/16; 0.25 -> 4/16: all exact
    np.testing.assert_array_equal(cm.layers["1"].decode(), [[5.0, -1.0], [0.5, 0.25]])
    # unshared dense: 4 weights x 8 bits each
    assert cm.layers["0"].bits.indices == 32 and cm.layers["0"].bits.codebook == 0


def test_explicit_fixed_format_that_cannot_hold_the_layer_is_refused_naming_layer_and_field():
    model = nn.Sequential(_linear([[0.5, 0.1]]), _linear([[1.2, -0.3]]))
    before = [p.detach().clone() for p in model.parameters()]
    plan = CompressionPlan.model_validate({"name": "tight", "defaults": {"clusters": 2, "codebook_format": "fixed8.7"}})
    with pytest.raises(PlanError) as err:
        compress(model, plan, model_name="m")
    msg = str(err.value)
    assert "plan 'tight'" in msg and "layer 1" in msg and "codebook_format" in msg
    assert "0.992188" in msg and "1.2" in msg  # what the format holds, and what the layer needs
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing was touched


def test_bias_format_range_is_checked_too():
    model = nn.Sequential(_linear([[0.5, 0.1]], bias=[3.0]))
    plan = CompressionPlan.model_validate({"name": "b", "defaults": {"bias_format": "fixed8.6"}})  # max 1.984
    with pytest.raises(PlanError, match=r"layer 0: bias_format: fixed8\.6 holds magnitudes up to 1\.98438, but values reach 3"):
        compress(model, plan, model_name="m")
