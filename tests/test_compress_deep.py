"""Deep Compression's arithmetic (Han, Mao, Dally, ICLR 2016, Table 4; ../shared/REFERENCES.md).

Per layer, with k clusters (b_i = log2 k index bits), w-bit relative positions and fp32 codebooks:

    bits = 32 k + entries x (b_i + w),   entries = kept + fillers

and for a mask whose kept weights are spread like independent draws with keep probability p
(magnitude pruning of untrained, i.i.d. Gaussian weights), the zeros before a kept weight are
geometric: P(z >= m) = q^m with q = 1 - p, so a kept weight costs on average
E[floor(z / M)] = sum_j q^(jM) = q^M / (1 - q^M) fillers (M = 2^w). With w = 4:

    fc6/fc7, p = 0.09: q^16 = 0.221  -> 0.284 fillers per kept weight (+0.72 points of fp32 size)
    fc8,     p = 0.25: q^16 = 0.0100 -> 0.0101                        (+0.07 points)
    conv2-5, p = 0.35-0.38:           -> 0.0001-0.0010                (+0.00 points)
    conv1,   p = 0.84:                -> 0

Tolerances against Table 4, in points of compressed size (percent of fp32):
- conv +-0.5: the table's kept fractions are whole percents (+-0.5 % x 12 / 32 = +-0.19 points) and its
  sizes are rounded to 0.1; conv fillers are nil either way. Measured: -0.18 .. +0.10.
- fc +-0.5: our untrained masks are random, so fc6/fc7 pay the 0.72 points of fillers above where the
  trained AlexNet paid about 0.47 (3.0 % - 9 % x 9 / 32); fc8 here has 2 classes (8 k weights, not 4 M),
  so its 32-entry codebook adds 0.39 points. Measured: +0.25 .. +0.27.
- total 27x +-15 % (the issue's tolerance). Measured 26.98x (DeepPed's fc8 is 2-way, so the model has
  56.9 M weights, not AlexNet's 61 M).
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from accelsim.cli import main as cli
from accelsim.compress import compress, load, load_plan
from accelsim.compress.plan import CompressionPlan

TABLE4 = {  # layer: (kept fraction, index bits, compressed size in % of fp32)
    "conv1": (0.84, 8, 32.6), "conv2": (0.38, 8, 14.5), "conv3": (0.35, 8, 13.1), "conv4": (0.37, 8, 14.1),
    "conv5": (0.37, 8, 14.0), "fc6": (0.09, 5, 3.0), "fc7": (0.09, 5, 3.0), "fc8": (0.25, 5, 7.3),
}
TOL_POINTS = {"conv": 0.5, "fc": 0.5}
SPARSITY = {"conv1": 0.16, "conv2": 0.62, "conv3": 0.65, "conv4": 0.63, "conv5": 0.63, "fc6": 0.91, "fc7": 0.91,
            "fc8": 0.75}  # models/plans/deep-compression-alexnet.yaml

# DeepPed AlexNet shapes (weights, biases): Caffe layout, groups 2 on conv2/4/5, 2 classes
SHAPES = {"conv1": (96 * 3 * 11 * 11, 96), "conv2": (256 * 48 * 5 * 5, 256), "conv3": (384 * 256 * 3 * 3, 384),
          "conv4": (384 * 192 * 3 * 3, 384), "conv5": (256 * 192 * 3 * 3, 256), "fc6": (4096 * 9216, 4096),
          "fc7": (4096 * 4096, 4096), "fc8": (2 * 4096, 2)}


def he_normal_(module, seed=0):
    """He-normal weights, as the DeepPed model's seeded init (accelsim.model.alexnet.init_gaussian_)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.weight.normal_(0.0, (2.0 / module.weight[0].numel()) ** 0.5, generator=gen)
    return module


def fillers_per_kept(p, width=4):
    qm = (1 - p) ** (2**width)
    return qm / (1 - qm)


def reference_fillers(mask, width=4):
    """Fillers of a flat mask, counted directly: sum over kept weights of floor(zeros before / 2^width)."""
    at = np.flatnonzero(np.asarray(mask).ravel())
    zeros_before = np.diff(at, prepend=-1) - 1
    return int((zeros_before // 2**width).sum())


def analytic_layer(name, pos_width=4):
    """Expected bits of one DeepPed layer under the shipped plan: codebook, entries, bias."""
    n, nb = SHAPES[name]
    kept_fraction, idx_bits, _ = TABLE4[name]
    kept = n - round(SPARSITY[name] * n)
    entries = kept * (1 + fillers_per_kept(kept / n, pos_width))
    k = 2**idx_bits
    return k * 32 + entries * (idx_bits + pos_width) + nb * 32, (n + nb) * 32


def percent_tolerance(name):
    return TOL_POINTS["conv" if name.startswith("conv") else "fc"]


# -- fast: the formula, scaled-down layers, and the whole table analytically ----------------------

def test_paper_formula_for_a_dense_shared_layer():
    # r = n b / (n log2 k + k b): n = 128 x 256 = 32768, b = 32, k = 16 -> 1048576 / (131072 + 512) = 7.969
    lin = he_normal_(nn.Linear(256, 128, bias=False))
    cm = compress(nn.Sequential(OrderedDict(fc=lin)), CompressionPlan.model_validate(
        {"name": "f", "defaults": {"clusters": 16}}), model_name="f")
    layer = cm.layers["fc"]
    assert layer.bits.total == 32768 * 4 + 16 * 32
    assert cm.table()["ratio"][0] == pytest.approx(32768 * 32 / (32768 * 4 + 16 * 32))
    assert cm.totals()["ratio"] == pytest.approx(7.9689, abs=1e-4)


@pytest.mark.parametrize(
    "name, module, table_row",
    [
        # 1 M weights with fc6's settings: 9 % kept, k = 32, 4-bit positions
        ("fc6-like", nn.Linear(1024, 1024, bias=False), "fc6"),
        # 205 k weights with conv2's: 38 % kept, k = 256
        ("conv2-like", nn.Conv2d(64, 128, 5, bias=False), "conv2"),
    ],
)
def test_scaled_down_layer_with_table4_settings(name, module, table_row):
    he_normal_(module)
    w = module.weight.detach().numpy().copy()
    kept_fraction, idx_bits, table_percent = TABLE4[table_row]
    k = 2**idx_bits
    plan = CompressionPlan.model_validate({"name": "t4", "defaults": {"sparsity": SPARSITY[table_row],
                                                                      "clusters": k, "positions": 4}})
    layer = compress(nn.Sequential(OrderedDict(L=module)), plan, model_name="t4").layers["L"]
    n = w.size
    kept = n - round(SPARSITY[table_row] * n)
    mask = np.zeros(n, bool)
    mask[np.argsort(-np.abs(w.ravel()), kind="stable")[:kept]] = True  # the kept largest magnitudes
    fillers = reference_fillers(mask)
    assert (layer.kept, layer.fillers, layer.clusters, layer.index_bits) == (kept, fillers, k, idx_bits)
    # bits = 32 k + (kept + fillers) x (index bits + 4)
    assert layer.bits.total == 32 * k + (kept + fillers) * (idx_bits + 4)
    # the filler count is what the geometric model predicts (within 3 %, or 3 fillers when it is ~0)
    expected_fillers = kept * fillers_per_kept(kept_fraction)
    assert fillers == pytest.approx(expected_fillers, rel=0.03, abs=3)
    percent = 100 * layer.bits.total / (n * 32)
    analytic = 100 * (32 * k + kept * (1 + fillers_per_kept(kept_fraction)) * (idx_bits + 4)) / (n * 32)
    assert percent == pytest.approx(analytic, abs=0.02)
    assert percent == pytest.approx(table_percent, abs=percent_tolerance(table_row))


def test_table4_analytically():
    """The whole DeepPed model, from the shapes and the plan alone: the same tolerances as the slow run."""
    plan = load_plan("deep-compression-alexnet").resolve(list(SHAPES))
    total_bits = total_dense = 0
    for name, (kept_fraction, idx_bits, table_percent) in TABLE4.items():
        assert plan[name].sparsity == SPARSITY[name] == pytest.approx(1 - kept_fraction)
        assert plan[name].clusters == 2**idx_bits and plan[name].positions == 4
        bits, dense = analytic_layer(name)
        assert 100 * bits / dense == pytest.approx(table_percent, abs=percent_tolerance(name)), name
        total_bits += bits
        total_dense += dense
    assert total_dense / total_bits == pytest.approx(27, rel=0.15)
    assert total_dense / total_bits == pytest.approx(26.98, abs=0.05)  # what the slow run measures


# -- slow: the full-size model through the CLI ------------------------------------------------------

@pytest.mark.slow
def test_deepped_alexnet_with_the_table4_plan(tmp_path):
    out = tmp_path / "alexnet.npz"
    result = CliRunner().invoke(cli, ["compress", "--model", "deepped-alexnet", "--plan", "deep-compression-alexnet",
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = {r["layer"]: r for r in report["layers"]}
    assert list(rows) == list(TABLE4)

    # totals: 27x +-15 % against fp32 dense (biases included on both sides)
    total = report["total"]
    assert total["weights"] == sum(n for n, _ in SHAPES.values()) == 56_866_848
    assert total["dense_fp32_bytes"] == sum(n + nb for n, nb in SHAPES.values()) * 4
    assert total["ratio"] == pytest.approx(27, rel=0.15)
    assert total["ratio"] == pytest.approx(total["dense_fp32_bytes"] / total["compressed_bytes"])

    cm = load(out)
    measured = {}
    for name, (kept_fraction, idx_bits, table_percent) in TABLE4.items():
        row, layer = rows[name], cm.layers[name]
        n, nb = SHAPES[name]
        percent = 100 * row["compressed_bytes"] / row["dense_fp32_bytes"]
        measured[name] = percent
        assert percent == pytest.approx(table_percent, abs=percent_tolerance(name)), name
        # and the layer is exactly the arithmetic: recount from the decoded weights
        mask = layer.decode().ravel() != 0
        kept = n - round(SPARSITY[name] * n)
        assert int(mask.sum()) == kept == layer.kept
        fillers = reference_fillers(mask)
        assert row["fillers"] == fillers
        assert (row["clusters"], row["index_bits"], row["position_bits"]) == (2**idx_bits, idx_bits, 4)
        bits = 32 * 2**idx_bits + (kept + fillers) * (idx_bits + 4) + nb * 32
        assert row["total_bits"] == bits and row["compressed_bytes"] == bits / 8
        # and close to the geometric-filler expectation for random masks
        expected_bits, _ = analytic_layer(name)
        assert bits == pytest.approx(expected_bits, rel=0.002, abs=200), name
    print("compressed % of fp32 per layer:", {k: round(v, 2) for k, v in measured.items()}, "ratio", total["ratio"])
