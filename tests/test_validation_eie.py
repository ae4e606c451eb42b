"""The EIE reproduction (validation/eie/eie.py): its arithmetic, its cached results, and the engine rule
it relies on (output-stationary hardware that skips zero activations reads and decodes only the weights
of non-zero activations)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_helpers import accel  # noqa: E402
from accelsim.compress import CompressionPlan, compress  # noqa: E402
from accelsim.model.alexnet import init_gaussian_  # noqa: E402
from accelsim.sim.frame import simulate_frame  # noqa: E402
from accelsim.sim.dataflow import os_weight_passes  # noqa: E402
from accelsim.workload import build_workload  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


eie = _load(ROOT / "validation" / "eie" / "eie.py")


def test_published_figures():
    assert eie.EIE_UJ == pytest.approx(7.198, abs=1e-3)  # 1 / 138,927 frames/J
    # 590 mW for 1/81,967 s is the same 7.2 uJ: EIE's energy per frame is its power times its time
    assert eie.eie_hand_figures(1, 1)["eie_energy_uj_from_power"] == pytest.approx(7.198, abs=0.01)


def test_fps_and_energy_from_a_frame_by_hand():
    # 9,760 cycles of 1.25 ns = 12.2 us -> 81,967 frames/s; 7.198 uJ -> EIE's figures exactly
    m = eie.metrics({"cycles": 9760.0, "dram_cycles": 0.0, "energy_total_pj": 7.198e6, "energy_dram_pj": 0.0}, 1.25)
    assert m["fps"] == pytest.approx(81_967, rel=1e-4) and m["fps_error"] == pytest.approx(0, abs=1e-4)
    assert m["uj"] == pytest.approx(7.198) and m["uj_error"] == pytest.approx(0, abs=1e-3)
    # 12,000 cycles of which 2,000 move the vector to/from DRAM; 10 uJ of which 2.5 uJ DRAM
    m = eie.metrics({"cycles": 12_000.0, "dram_cycles": 2_000.0, "energy_total_pj": 10e6, "energy_dram_pj": 2.5e6}, 1.25)
    assert m["fps"] == pytest.approx(1e9 / 15_000) and m["onchip_fps"] == pytest.approx(1e9 / 12_500)
    assert m["uj"] == 10 and m["onchip_uj"] == 7.5
    assert m["onchip_uj_error"] == pytest.approx(7.5 / eie.EIE_UJ - 1)
    assert m["fps_error"] == pytest.approx((1e9 / 15_000) / 81_967 - 1)


def test_hand_figures():
    h = eie.eie_hand_figures(kept=1_509_949, entries=1_938_473)
    assert h["eie_cycles"] == pytest.approx(800e6 / 81_967)
    assert h["ideal_cycles_kept"] == pytest.approx(1_509_949 * 0.351 / 64)
    assert h["ideal_cycles_entries"] == pytest.approx(1_938_473 * 0.351 / 64)


def test_cached_results_are_what_the_metrics_give():
    res = json.loads((ROOT / "validation" / "eie" / "results.json").read_text())
    assert res["workload"]["activation_density"] == eie.FC7_ACT_DENSITY
    assert res["workload"]["weight_density"] == pytest.approx(0.09, abs=5e-4)
    assert set(res["configs"]) == set(eie.CONFIGS)
    for c in res["configs"].values():
        again = eie.metrics(c["layer"], 1.25)  # 800 MHz
        for key, value in c["metrics"].items():
            assert again[key] == pytest.approx(value, rel=1e-12), key
    text = eie.markdown(res)
    m = res["configs"]["eie-like (1 x 64)"]["metrics"]
    assert f"{m['fps']:,.0f}" in text and f"{m['onchip_uj_error']:+.0%}" in text


# --- the engine rule: output-stationary zero-activation skipping -----------------------------------

def test_os_weight_passes():
    assert os_weight_passes(1, 64, 0.351) == pytest.approx(0.351)  # one vector per fold: exactly the density
    assert os_weight_passes(10, 4, 1.0) == 3 == math.ceil(10 / 4)  # no skipping: one pass per row fold
    d = 0.25  # 10 vectors on 4 rows: folds of 4, 4, 2 vectors
    assert os_weight_passes(10, 4, d) == pytest.approx(2 * (1 - 0.75**4) + (1 - 0.75**2))
    assert os_weight_passes(8, 4, d) == pytest.approx(2 * (1 - 0.75**4))
    # more rows never need more passes (fewer, fuller folds)
    passes = os_weight_passes(np.full(16, 37), np.arange(1, 17), 0.3)
    assert np.all(np.diff(passes) <= 1e-12)


def _shared_fc():
    model = init_gaussian_(nn.Sequential(OrderedDict([("fc", nn.Linear(256, 64))])), 0)
    plan = CompressionPlan.model_validate({"name": "shared", "defaults": {
        "clusters": 16, "positions": None, "codebook_format": "fixed16", "bias_format": "fixed32"}})
    cm = compress(model, plan, model_name="fc-only")
    return build_workload(model, (256,), cm)


def test_output_stationary_hardware_reads_only_the_weights_of_nonzero_activations():
    layers = _shared_fc()
    entries = layers[0].profile.entries
    assert entries == 256 * 64
    a = accel(dataflow="os", rows=1, cols=16, skip_zero_activations=True, proposals_batch=1)
    fc = simulate_frame(layers, a, 1, activation_density={"fc": 0.25}).layers.set_index("layer").loc["fc"]
    assert fc["decoder_lookups"] == math.ceil(0.25 * entries) == 4096
    assert fc["decoder_cycles"] == 4096 / 16
    off = simulate_frame(layers, accel(dataflow="os", rows=1, cols=16, proposals_batch=1), 1,
                         activation_density={"fc": 0.25}).layers.set_index("layer").loc["fc"]
    assert off["decoder_lookups"] == entries  # hardware that does not skip reads every weight
    # SRAM: the weight stream is read once, scaled by the density when skipping; the rest is unchanged
    weight_bytes = off["compressed_weight_bytes"]
    assert off["sram_read_bytes"] - fc["sram_read_bytes"] == pytest.approx(0.75 * weight_bytes)


@pytest.mark.slow
def test_full_eie_run_lands_within_the_target():
    res = eie.compute()
    m = res["configs"]["eie-like (1 x 64)"]["metrics"]
    assert abs(m["onchip_fps_error"]) <= eie.TARGET and abs(m["onchip_uj_error"]) <= eie.TARGET
