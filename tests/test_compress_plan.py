"""Compression plans: resolution, the shipped plans, and bad plans refused before any work.

Schema errors come from `load_plan` and name the file and the dotted field path
(``layers.fc1.clusters``); errors that need the model (unknown layers, formats against a layer's
range) come from `compress` before any pruning and name the plan, the layer and the field.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from accelsim.compress import compress, load_plan, pipeline
from accelsim.compress.plan import CompressionPlan
from accelsim.errors import AccelsimError, PlanError

LAYERS = ["conv1", "fc1", "fc2"]


def small():
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(conv1=nn.Conv2d(1, 2, 3), flat=nn.Flatten(), fc1=nn.Linear(8, 6), fc2=nn.Linear(6, 2)))


def write(tmp_path, text, name="plan.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def no_work(monkeypatch):
    """Fail loudly if compress() gets as far as pruning, clustering or encoding."""
    def boom(*_a, **_k):
        raise AssertionError("compress did work before refusing the plan")

    for name in ("magnitude_mask", "fit_codebook", "encode_layer", "finetune"):
        monkeypatch.setattr(pipeline, name, boom)


# -- resolution --------------------------------------------------------------------------------

def test_defaults_group_layer_precedence(tmp_path):
    plan = load_plan(write(tmp_path, """
        defaults: {sparsity: 0.5, clusters: 16, positions: 4, codebook_format: fp16}
        groups:
          fcs: {layers: [fc1, fc2], clusters: 8, threshold: 0.2}
        layers:
          fc2: {sparsity: 0.9, positions: null}
    """))
    assert plan.name == "plan"  # from the file name
    r = plan.resolve(LAYERS)
    # conv1: defaults only
    assert (r["conv1"].sparsity, r["conv1"].threshold, r["conv1"].clusters, r["conv1"].positions) == (0.5, None, 16, 4)
    # fc1: the group's threshold replaces the default sparsity; clusters from the group
    assert (r["fc1"].sparsity, r["fc1"].threshold, r["fc1"].clusters, r["fc1"].positions) == (0.0, 0.2, 8, 4)
    # fc2: the layer's sparsity replaces the group's threshold; positions null = dense
    assert (r["fc2"].sparsity, r["fc2"].threshold, r["fc2"].clusters, r["fc2"].positions) == (0.9, None, 8, None)
    assert all(str(lp.codebook_format) == "fp16" and str(lp.bias_format) == "fp32" for lp in r.values())
    assert all(lp.kmeans_init == "linear" and not lp.huffman_indices for lp in r.values())


def test_shipped_table4_plan_resolves_to_the_table():
    plan = load_plan("deep-compression-alexnet")
    names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    r = plan.resolve(names)
    kept = {"conv1": 0.84, "conv2": 0.38, "conv3": 0.35, "conv4": 0.37, "conv5": 0.37, "fc6": 0.09, "fc7": 0.09, "fc8": 0.25}
    for n in names:
        assert r[n].sparsity == pytest.approx(1 - kept[n])
        assert r[n].clusters == (256 if n.startswith("conv") else 32)  # 8-bit / 5-bit indices
        assert r[n].positions == 4 and str(r[n].codebook_format) == "fp32"
        assert not r[n].huffman_indices and not r[n].huffman_positions


def test_shipped_dense_plan():
    r = load_plan("dense-fixed16").resolve(["a", "b"])
    assert all(lp.clusters is None and lp.positions is None and not lp.pruned for lp in r.values())
    assert all(str(lp.codebook_format) == "fixed16" and str(lp.bias_format) == "fixed16" for lp in r.values())


def test_every_shipped_plan_loads():
    from accelsim.resources import plans_dir

    paths = sorted(plans_dir().glob("*.yaml"))
    assert {"deep-compression-alexnet", "dense-fixed16"} <= {p.stem for p in paths}
    for path in paths:
        assert load_plan(path).name == path.stem


def test_plan_round_trips_through_to_dict():
    plan = load_plan("deep-compression-alexnet")
    again = CompressionPlan.model_validate(plan.to_dict())
    names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert again.resolve(names) == plan.resolve(names)


# -- schema errors: file and dotted field named -------------------------------------------------

@pytest.mark.parametrize(
    "body, field, words",
    [
        ("layers: {fc1: {clusters: 1}}", "layers.fc1.clusters", "greater than or equal to 2"),
        ("groups: {g: {layers: [fc1], clusters: 0}}", "groups.g.clusters", "greater than or equal to 2"),
        ("defaults: {clusters: -4}", "defaults.clusters", "greater than or equal to 2"),
        ("layers: {conv1: {sparsity: 1.0}}", "layers.conv1.sparsity", "less than 1"),
        ("layers: {conv1: {sparsity: 1.5}}", "layers.conv1.sparsity", "less than 1"),
        ("layers: {conv1: {sparsity: -0.1}}", "layers.conv1.sparsity", "greater than or equal to 0"),
        ("layers: {fc2: {threshold: -0.5}}", "layers.fc2.threshold", "greater than or equal to 0"),
        ("defaults: {threshold: .inf}", "defaults.threshold", "finite number"),
        ("layers: {fc2: {threshold: .nan}}", "layers.fc2.threshold", "finite number"),
        ("finetune: {lr: .inf}", "finetune.lr", "finite number"),
        ("defaults: {clusters: 65536}", "defaults.clusters", "65536 clusters is more than 4096 (12-bit indices)"),
        ("layers: {fc2: {positions: 0}}", "layers.fc2.positions", "greater than or equal to 1"),
        ("defaults: {positions: 0}", "defaults.positions", "greater than or equal to 1"),
        ("layers: {fc1: {sparsity: 0.5, threshold: 0.1}}", "layers.fc1", "either sparsity or threshold, not both"),
        ("layers: {fc1: {clsuters: 4}}", "layers.fc1.clsuters", "unknown field"),
        ("defualts: {clusters: 4}", "defualts", "unknown field"),
        ("groups: {g: {layers: [fc1], huffman: true}}", "groups.g.huffman", "unknown field"),
        ("groups: {g: {layers: [], clusters: 4}}", "groups.g.layers", "at least 1"),
        ("layers: {fc1: {codebook_format: fixed40}}", "layers.fc1.codebook_format", "outside 2..32"),
        ("layers: {fc1: {codebook_format: int8}}", "layers.fc1.codebook_format", "is not a value format"),
        ("layers: {fc1: {kmeans_init: spectral}}", "layers.fc1.kmeans_init", "linear"),
        ("pruning: {mode: gradual}", "pruning.mode", "one-shot"),
    ],
)
def test_schema_errors_name_file_and_field(tmp_path, body, field, words):
    path = write(tmp_path, body)
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {field}: "), msg
    assert words in msg


def test_sparsity_zero_and_threshold_together_are_refused(tmp_path):
    with pytest.raises(PlanError, match="either sparsity or threshold"):
        load_plan(write(tmp_path, "layers: {fc1: {sparsity: 0.0, threshold: 0.1}}"))


def test_repeated_yaml_key_is_refused_naming_key_and_lines(tmp_path):
    path = write(tmp_path, """
        layers:
          fc1:
            clusters: 4
            clusters: 8
    """)
    with pytest.raises(PlanError) as err:
        load_plan(path)
    msg = str(err.value)
    assert str(path) in msg and "key 'clusters' is repeated (first on line 4, again on line 5)" in msg


def test_a_binary_plan_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes(b"clusters: 4\n\xcc\xff\x00")
    with pytest.raises(PlanError, match=f"^{path}: not a text file \\(byte 12 is not UTF-8\\); expected YAML$"):
        load_plan(path)


def test_a_plan_that_is_not_a_mapping(tmp_path):
    with pytest.raises(PlanError, match="expected a mapping of plan fields, got list"):
        load_plan(write(tmp_path, "- clusters: 4"))


def test_unknown_plan_name_lists_the_shipped_ones():
    with pytest.raises(AccelsimError, match="plan 'no-such-plan' is neither an existing file nor a shipped plan; "
                                            "shipped: .*deep-compression-alexnet"):
        load_plan("no-such-plan")


# -- errors that need the model: raised by compress() before any work ---------------------------

@pytest.mark.parametrize(
    "plan, words",
    [
        ({"layers": {"fc9": {"clusters": 4}}}, "plan 't': layers.fc9: unknown layer (model has conv1, fc1, fc2)"),
        ({"groups": {"fcs": {"layers": ["fc1", "fc3"], "clusters": 4}}},
         "plan 't': groups.fcs.layers: unknown layer 'fc3' (model has conv1, fc1, fc2)"),
        ({"groups": {"a": {"layers": ["fc1"]}, "b": {"layers": ["fc1"]}}},
         "plan 't': groups.b.layers: layer 'fc1' is already in group 'a'"),
        ({"defaults": {"huffman_indices": True}},
         "plan 't': layer conv1: huffman_indices needs clusters"),
        ({"defaults": {"clusters": 4}, "layers": {"fc2": {"huffman_positions": True}}},
         "plan 't': layer fc2: huffman_positions needs positions"),
        ({"layers": {"fc1": {"clusters": 4, "codebook_format": "fixed8.7"}}},
         "plan 't': layer fc1: codebook_format: fixed8.7 holds magnitudes up to 0.992188, but values reach"),
    ],
)
def test_model_dependent_errors_are_refused_before_any_work(plan, words, no_work):
    model = small()
    with torch.no_grad():
        model.fc1.weight[0, 0] = 1.5  # beyond fixed8.7
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PlanError) as err:
        compress(model, CompressionPlan.model_validate({"name": "t", **plan}), model_name="small")
    assert words in str(err.value)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_finetuning_without_data_is_refused_before_any_work(no_work):
    plan = CompressionPlan.model_validate({"name": "t", "defaults": {"sparsity": 0.5}, "finetune": {"epochs": 2}})
    with pytest.raises(PlanError, match="fine-tuning for 2 epochs needs training data, and model 'small' has none"):
        compress(small(), plan, model_name="small")


def test_fixed_format_that_holds_the_range_is_accepted():
    # fixed8.7 holds |w| <= 0.9921875 and every weight of this model is below it (|w| < 1 / sqrt(fan-in))
    model = small()
    assert float(max(m.weight.detach().abs().max() for m in (model.conv1, model.fc1, model.fc2))) < 0.99
    cm = compress(model, CompressionPlan.model_validate({"name": "t", "defaults": {"clusters": 4, "codebook_format": "fixed8.7"}}),
                  model_name="small")
    for layer in cm.layers.values():
        assert str(layer.value_format) == "fixed8.7"
        assert np.all(layer.codebook * 128 == np.rint(layer.codebook * 128))  # on the 1/128 grid


def test_huffman_positions_with_a_huge_gap_alphabet_is_refused_as_a_plan_error():
    # Run in a child limited to 3 GiB of address space, so the bug cannot take this machine's memory.
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        from torch import nn
        from accelsim.compress import compress, CompressionPlan
        try:
            plan = CompressionPlan.model_validate({"name": "p", "defaults": {"sparsity": 0.5, "clusters": 4,
                                                                            "positions": 32, "huffman_positions": True}})
            compress(nn.Sequential(nn.Linear(8, 4)), plan, model_name="x")
            print("ACCEPTED")
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120).stdout
    # positions is capped at 16 bits in the schema, so the plan is refused as it is validated.
    assert out.startswith(("PlanError", "ValidationError")) and "positions" in out, out
