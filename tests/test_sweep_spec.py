"""The sweep spec: validation names what is wrong, and points expand deterministically."""

from __future__ import annotations

import textwrap

import pytest

from accelsim.detect.intervals import IntervalSpec
from accelsim.errors import SweepError
from accelsim.resources import project_root
from accelsim.sweep.spec import load_sweep

BASE = """
name: t
hardware: embedded-45nm
hardware_overrides:
  sram.split.weights: 75%
  sram.split.input_activations: 12.5%
  sram.split.output_activations: 12.5%
model: deepped-small
dataset: none
"""


def _spec(tmp_path, body: str, base: str = BASE):
    path = tmp_path / "sweep.yaml"
    path.write_text(base + textwrap.dedent(body))
    return path


def _load(tmp_path, body: str, base: str = BASE):
    return load_sweep(_spec(tmp_path, body, base))


def test_grid_order_and_variants(tmp_path):
    sweep = _load(tmp_path, """
    axes:
      sram.size: [256KiB, 1MiB]
      plan.groups.conv.clusters: [8, 16, 32]
    """)
    points = sweep.points()
    assert len(points) == 6 == sweep.grid_size
    # the last axis varies fastest, as itertools.product
    assert [p.values for p in points[:3]] == [
        (("sram.size", "256KiB"), ("plan.groups.conv.clusters", c)) for c in (8, 16, 32)]
    assert [p.index for p in points] == list(range(6))
    # hardware-only differences share a variant; plan differences do not
    assert points[0].variant == points[3].variant
    assert len({p.variant for p in points}) == 3
    assert len({p.point_id for p in points}) == 6


def test_hardware_and_plan_for_a_point(tmp_path):
    sweep = _load(tmp_path, """
    axes:
      sram.size: [1MiB]
      plan.sparsity: [0, 0.8]
      plan.groups.fc.clusters: [4]
    """)
    dense, pruned = sweep.points()
    cfg = sweep.hardware_for(dense)
    assert cfg.sram.size == 2**20
    assert cfg.sram.weights_bytes == 3 * 2**18  # 75% of 1 MiB
    assert cfg.sram.banks == 16  # untouched fields come from the base
    plan = sweep.plan_for(pruned.plan_values)
    layers = plan.resolve(sweep.layer_names)
    # the shorthand replaces every per-layer sparsity of the base plan
    assert {lp.sparsity for lp in layers.values()} == {0.8}
    assert layers["fc6"].clusters == 4 and layers["conv1"].clusters == 32
    assert layers["fc6"].positions == 4
    dense_layers = sweep.plan_for(dense.plan_values).resolve(sweep.layer_names)
    assert {lp.sparsity for lp in dense_layers.values()} == {0.0}
    assert {lp.positions for lp in dense_layers.values()} == {None}  # unpruned: stored densely
    # variant plans are named apart, so the compression cache keeps them apart
    assert sweep.plan_for(dense.plan_values).name != sweep.plan_for(pruned.plan_values).name


def test_random_sampling_is_seeded_subset_of_grid(tmp_path):
    body = """
    axes:
      sram.size: [64KiB, 128KiB, 256KiB, 512KiB, 1MiB]
      sram.banks: [4, 8, 16, 32]
    sampling: {{method: random, points: 7, seed: {seed}}}
    """
    a = _load(tmp_path, body.format(seed=3)).points()
    b = _load(tmp_path, body.format(seed=3)).points()
    c = _load(tmp_path, body.format(seed=4)).points()
    grid = {p.point_id: p for p in _load(tmp_path, "axes:\n  sram.size: [64KiB, 128KiB, 256KiB, 512KiB, 1MiB]\n"
                                                   "  sram.banks: [4, 8, 16, 32]\n").points()}
    assert [p.point_id for p in a] == [p.point_id for p in b]
    assert [p.point_id for p in a] != [p.point_id for p in c]
    assert len({p.point_id for p in a}) == 7
    for p in a:  # each sample is the grid point of the same index
        assert grid[p.point_id].index == p.index


@pytest.mark.parametrize("body, message", [
    ("axes:\n  sram.sise: [1MiB]\n", "unknown hardware config path 'sram.sise'; did you mean 'sram.size'?"),
    ("axes:\n  sram: [1MiB]\n", "'sram' is a section"),
    ("axes:\n  sram.size: []\n", "axes.sram.size: empty axis"),
    ("axes: {}\n", "axes: no axes"),
    ("axes:\n  sram.size: 1MiB\n", "axes.sram.size: expected a list of values"),
    ("axes:\n  sram.size: [1MiB, 1MiB]\n", "value '1MiB' is listed twice"),
    ("axes:\n  sram.size: [1MB1]\n", "axes.sram.size: value '1MB1'"),
    ("axes:\n  plan.groups.conv.clusters: [1]\n", "axes.plan.groups.conv.clusters: value 1"),
    ("axes:\n  plan.groups.conv.clustrs: [8]\n", "unknown plan field 'clustrs'; did you mean 'clusters'?"),
    ("axes:\n  plan.groups.attn.clusters: [8]\n", "has no group 'attn'"),
    ("axes:\n  plan.layers.fc9.sparsity: [0.5]\n", "has no layer 'fc9'"),
    ("axes:\n  plan.bogus: [1]\n", "unknown plan path"),
    ("axes:\n  sram.size: [1MiB]\nconstraints: {max_miss_rate: 50%}\n", "constraints.max_miss_rate: the sweep has no dataset"),
    ("axes:\n  sram.size: [1MiB]\nsampling: {method: random}\n", "random sampling needs points"),
    ("axes:\n  sram.size: [1MiB]\nfrobnicate: 3\n", "frobnicate"),
    ("axes:\n  tech_node: [45nm, 28nm]\n", "axes.tech_node: value '28nm': hardware config 'embedded-45nm': energy "
     "table cacti-sram: sram.read: no figure for tech_node_nm=28"),
    ("axes:\n  sram.size: [1MiB]\nproposals: 1000000000\n", "1000000000 proposals per frame is outside 1 to 10,000"),
])
def test_bad_specs_are_refused_naming_the_problem(tmp_path, body, message):
    with pytest.raises(SweepError) as err:
        _load(tmp_path, body)
    assert message in str(err.value)
    assert "sweep.yaml" in str(err.value)


def test_missing_spec_and_unknown_hardware(tmp_path):
    with pytest.raises(SweepError, match="does not exist"):
        load_sweep(tmp_path / "nope.yaml")
    with pytest.raises(SweepError, match="hardware: hardware config 'nope'"):
        _load(tmp_path, "axes:\n  sram.size: [1MiB]\n", base=BASE.replace("embedded-45nm", "nope"))


def test_a_dataset_that_cannot_be_opened_is_refused_when_the_spec_loads(tmp_path):
    # not when every variant has compressed and failed on it
    with pytest.raises(SweepError) as err:
        _load(tmp_path, "axes:\n  sram.size: [1MiB]\n", base=BASE.replace("dataset: none", "dataset: caltech:/nonexistent"))
    assert str(err.value).startswith(f"{tmp_path / 'sweep.yaml'}: dataset: "), str(err.value)
    assert "/nonexistent" in str(err.value)


def test_a_binary_spec_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"name: x\n\xcc\xff\x00")
    with pytest.raises(SweepError, match=f"^{path}: not a text file \\(byte 8 is not UTF-8\\); expected YAML$"):
        load_sweep(path)


def test_combination_invalid_together_fails_only_that_point(tmp_path):
    # each value is valid on the base (512 KiB), but a 384 KiB weight share does not fit 256 KiB
    sweep = _load(tmp_path, """
    axes:
      sram.size: [512KiB, 256KiB]
      sram.split.weights: [384KiB, 50%]
    """)
    points = {tuple(p.hardware_values.values()): p for p in sweep.points()}
    assert sweep.hardware_for(points[("256KiB", "50%")]).sram.weights_bytes == 128 * 2**10
    assert sweep.hardware_for(points[("512KiB", "384KiB")]).sram.weights_bytes == 384 * 2**10
    with pytest.raises(SweepError, match=r"design point 2 \(sram.size=256KiB, sram.split.weights=384KiB\)"):
        sweep.hardware_for(points[("256KiB", "384KiB")])


def test_spec_hash_tracks_spec_and_base(tmp_path):
    a = _load(tmp_path, "axes:\n  sram.size: [1MiB]\n")
    b = _load(tmp_path, "axes:\n  sram.size: [1MiB]\n")
    c = _load(tmp_path, "axes:\n  sram.size: [2MiB]\n")
    assert a.spec_hash == b.spec_hash != c.spec_hash


def test_shipped_example_sweep():
    sweep = load_sweep(project_root() / "sweeps" / "embedded-default.yaml")
    points = sweep.points()
    assert len(points) == 8 * 4 * 4 * 4
    assert len({p.variant for p in points}) == 4 * 4 * 4
    assert sweep.spec.frames == 500 and sweep.spec.constraints.max_miss_rate.at == "upper_bound"
    sizes = sorted({sweep.hardware_for(p).sram.size for p in points})
    assert sizes[0] == 64 * 2**10 and sizes[-1] == 8 * 2**20
    # at 512 KiB the fractions give the shipped design's shares
    cfg = next(sweep.hardware_for(p) for p in points if p.hardware_values["sram.size"] == "512KiB")
    assert (cfg.sram.weights_bytes, cfg.sram.input_activation_bytes) == (384 * 2**10, 64 * 2**10)


WITH_DATA = BASE.replace("dataset: none", "dataset: synthetic")


@pytest.mark.parametrize("constraints, intervals, expected", [
    ("{max_miss_rate: 60%}", "", ((0.6, "estimate", 0.0), IntervalSpec())),
    ("{max_miss_rate: 50% at 90%}", "", ((0.5, "upper_bound", 0.0), IntervalSpec(level=0.9))),
    ("{max_miss_rate: {value: 50%, at: upper_bound}}", "intervals: {level: 80%, resamples: 200, seed: 7}\n",
     ((0.5, "upper_bound", 0.0), IntervalSpec(0.8, 200, 7))),
    ("{max_miss_rate: {value: 0.5, margin: 3%}}", "", ((0.5, "estimate", 0.03), IntervalSpec())),
])
def test_miss_rate_limits_and_intervals(tmp_path, constraints, intervals, expected):
    sweep = _load(tmp_path, f"axes:\n  sram.size: [1MiB]\nconstraints: {constraints}\n{intervals}", base=WITH_DATA)
    limit = sweep.spec.constraints.max_miss_rate
    assert ((limit.value, limit.at, limit.margin), sweep.intervals) == expected


@pytest.mark.parametrize("body, message", [
    ("constraints: {max_miss_rate: 50% at 95%}\nintervals: {level: 90%}\n",
     "sweep.yaml: constraints.max_miss_rate: asks for the upper end of a 95% interval, but intervals.level is 90%"),
    ("constraints: {max_miss_rate: {value: 50%, margin: 50%}}\n",
     "sweep.yaml: constraints.max_miss_rate: margin 50.0% leaves no room under 50.0%"),
    ("constraints: {max_miss_rate: {value: 50%, level: 90%}}\n",
     "sweep.yaml: constraints.max_miss_rate: level applies to at: upper_bound"),
    ("constraints: {max_miss_rate: 50% at most}\n",
     "sweep.yaml: constraints.max_miss_rate.level: 'most' is not a confidence level"),
    ("constraints: {max_miss_rate: {value: 50%, at: upper}}\n",
     "sweep.yaml: constraints.max_miss_rate.at: Input should be"),
    ("intervals: {resamples: 10}\n", "sweep.yaml: intervals: bootstrap resamples 10 must be at least 100"),
    ("intervals: {level: 100%}\n", "sweep.yaml: intervals: confidence level 1.0 must be in [0.5, 1)"),
    ("intervals: {levels: 90%}\n", "sweep.yaml: intervals.levels: unknown field"),
])
def test_bad_miss_rate_limits_and_intervals_name_the_field_in_one_line(tmp_path, body, message):
    with pytest.raises(SweepError) as err:
        _load(tmp_path, "axes:\n  sram.size: [1MiB]\n" + body, base=WITH_DATA)
    assert str(err.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])
    assert "\n" not in str(err.value)
