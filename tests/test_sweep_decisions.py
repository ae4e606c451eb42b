"""Decisions that respect the noise: the issue's 12-pedestrian sweep, rebuilt from per-frame evidence.

Issue 12: a sweep at 20 frames, with 12 reasonable pedestrians, chose 16 conv / 8 fc clusters over
32/8 at 1% more energy, on miss rates that another scene seed read almost equal. Here three variants
see the same 20 frames and 12 pedestrians (one missed by all) and differ only in high-scoring false
positives: 16/8 has two, 32/8 none, 8/8 three. One false positive in one frame is what moves a
log-average on 20 frames by 8 points or more, and a frame resample that leaves those frames out reads
the variants equal: their paired intervals contain 0. The same frames ten times over (200 frames, 120
pedestrians) make the 16/8 vs 32/8 gap systematic, and the paired interval excludes 0.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from accelsim.detect.evidence import Evidence
from accelsim.detect.intervals import IntervalSpec, lamr_interval, paired_difference
from accelsim.detect.types import Annotation
from accelsim.sweep.constraints import Constraints, Objective, evaluate
from accelsim.sweep.outputs import text_summary, write_outputs
from accelsim.sweep.recommendation import recommend
from accelsim.sweep.runner import run_sweep, variant_tasks
from accelsim.sweep.spec import load_sweep
from accelsim.sweep.store import SweepStore

PEDESTRIAN = (100.0, 100.0, 40.0, 100.0)  # 100 px tall, fully visible: 'reasonable'
# variant -> (frame, score) of its high-scoring false positives; energy per frame (µJ)
VARIANTS = {"16/8": ([(3, 0.95), (7, 0.93)], 100.0), "32/8": ([], 101.0), "8/8": ([(3, 0.95), (7, 0.93), (15, 0.97)], 95.0)}
SRAM = {"256KiB": 256 * 2**10, "512KiB": 512 * 2**10}
AXES = ["plan.groups.conv.clusters", "sram.size"]


def _evidence(false_positives, copies: int) -> Evidence:
    ids, gts, dets = [], [], []
    for c in range(copies):
        for f in range(20):
            boxes = [(*PEDESTRIAN, 0.9 - 0.02 * f)] if f < 11 else []  # frames 0-11 hold one each; 11 is missed
            boxes.append((400.0, 50.0 + f, 40.0, 100.0, 0.05 + 0.01 * f))  # low-scoring clutter
            boxes += [(500.0, 60.0, 40.0, 100.0, s) for frame, s in false_positives if frame == f]
            ids.append(f"{c}/{f}")
            gts.append((Annotation(PEDESTRIAN),) if f < 12 else ())
            dets.append(np.array(boxes))
    return Evidence(tuple(ids), tuple(gts), tuple(dets))


def _sweep(copies: int = 1):
    """The results table of a 6-point sweep (3 variants x 2 SRAM sizes) and its stored evidence."""
    rows, evidence = [], {}
    for v, (name, (false_positives, energy_uj)) in enumerate(VARIANTS.items()):
        matched = _evidence(false_positives, copies).matched()
        key = (f"deepped-small-{name}", "int8")
        evidence[key] = matched
        iv = lamr_interval(matched)
        for s, (size, n_bytes) in enumerate(SRAM.items()):
            rows.append({
                "point_id": f"{name}@{size}", "index": 2 * v + s, "status": "ok", "error": None,
                "plan.groups.conv.clusters": name, "sram.size": size, "plan": key[0], "number_formats": key[1],
                "energy_per_frame_uj": energy_uj + 0.5 * s, "latency_per_frame_ms": 10.0, "frames_per_s": 100.0,
                "energy_leakage_pj": 0.0, "dram_background_pj": 0.0, "sram_bytes": n_bytes, "area_mm2": 1.0,
                "dataset": "synthetic", "frames_evaluated": matched.frames, "positives": matched.positive_count,
                "miss_rate_lamr": iv.estimate, "miss_rate_lamr_ci_low": iv.low, "miss_rate_lamr_ci_high": iv.high,
                "confidence_level": iv.level, "bootstrap_resamples": iv.resamples,
            })
    return pd.DataFrame(rows), evidence


def _decide(constraints: Constraints, copies: int = 1):
    table, evidence = _sweep(copies)
    evaluated = evaluate(table, constraints, Objective())
    return evaluated, recommend(evaluated, constraints=constraints, objective=Objective(), evidence=evidence), evidence


def _miss(evaluated, point_id):
    return evaluated.set_index("point_id").loc[point_id, "miss_rate_lamr"]


def test_the_twelve_pedestrian_sweep_warns_and_reports_its_ties(tmp_path):
    evaluated, rec, evidence = _decide(Constraints(max_miss_rate="30%"))
    a, b, c = (evidence[(f"deepped-small-{n}", "int8")] for n in VARIANTS)
    assert (a.frames, a.positive_count) == (20, 12)
    # 16/8 reads 25.1% and 32/8 8.3% (1 of 12 missed at every false-positive rate): 16/8 is chosen on energy
    assert _miss(evaluated, "16/8@256KiB") == pytest.approx(0.2515, abs=1e-4)
    assert _miss(evaluated, "32/8@256KiB") == pytest.approx(1 / 12)
    assert rec.best["point_id"] == "16/8@256KiB"

    # One runner-up per other variant (16/8@512KiB is the same evaluation: nothing to compare); 32/8 is
    # also the lowest miss rate. Its difference is theirs minus the recommendation's, paired.
    assert rec.runners_up["point_id"].tolist() == ["32/8@256KiB"]
    runner = rec.runners_up.iloc[0]
    expected = paired_difference(b, a, IntervalSpec())
    assert runner["role"] == "runner-up, lowest miss rate"
    assert runner["miss_rate_delta"] == pytest.approx(1 / 12 - 0.2515, abs=1e-4)
    assert (runner["miss_rate_delta_ci_low"], runner["miss_rate_delta_ci_high"]) == (expected.low, expected.high)
    assert expected.low < 0 <= expected.high and runner["miss_rate_tied"] is True
    assert runner["objective_change"] == pytest.approx(0.01)

    # 8/8 is cheaper and failed only the miss rate (33.1% > 30%), yet is tied with the recommendation.
    assert rec.near_misses["point_id"].tolist() == ["8/8@256KiB"]
    near = rec.near_misses.iloc[0]
    assert near["miss_rate_tied"] is True and near["miss_rate_delta"] == pytest.approx(paired_difference(c, a).delta)
    assert near["violations"] == "miss rate 33.1% > 30.0%"

    warnings = "\n".join(rec.warnings)
    for text in ("thin evidence: 20 frames;", "at least 100 frames",
                 "thin evidence: 12 pedestrians count (fewer than 100); each one moves the miss rate by 8.3 points",
                 "thin evidence: the miss rate's 95% interval, 0.0%–52.0%, is wider than ±5 points",
                 "meets 30.0% on its estimate, but the upper end of its interval (52.0%) does not",
                 "8/8@256KiB was rejected only on its miss rate (miss rate 33.1% > 30.0%) at -5.0% objective, yet its "
                 "miss rate is tied with the recommendation's",
                 "32/8@256KiB reads 8.3% against the recommendation's 25.1% at +1.0% objective, yet the two are tied "
                 "(-16.8 points, paired 95% interval [-37.0, +0.0]: tied)"):
        assert text in warnings, text

    summary = text_summary(rec, AXES)
    assert ("evidence: 20 frames of synthetic, 12 pedestrians counted (Caltech 'reasonable'); miss rate 25.1%, "
            "95% interval 0.0%–52.0% (1000 bootstrap resamples of the frames)") in summary
    assert "runner-up, lowest miss rate 32/8@256KiB (plan.groups.conv.clusters=32/8, sram.size=256KiB): " \
           "miss rate 8.3% (0.0%–25.0%), -16.8 points" in summary
    assert "warning: thin evidence: 12 pedestrians" in summary

    write_outputs(tmp_path, evaluated, pd.DataFrame(), rec, AXES, "12 pedestrians")
    doc = json.loads((tmp_path / "recommendation.json").read_text())
    assert doc["evidence"] == {
        "dataset": "synthetic", "frames_evaluated": 20, "positives": 12, "bootstrap_resamples": 1000,
        "miss_rate_lamr": pytest.approx(0.2515, abs=1e-4), "miss_rate_lamr_ci_low": pytest.approx(0, abs=1e-9),
        "miss_rate_lamr_ci_high": pytest.approx(0.5196, abs=1e-4), "confidence_level": 0.95}
    assert doc["warnings"] == list(rec.warnings)
    assert doc["runners_up"][0]["miss_rate_tied"] is True and doc["near_misses"][0]["point_id"] == "8/8@256KiB"
    md = (tmp_path / "recommendation.md").read_text()
    assert "## Warnings" in md and "## Rejected only on miss rate, at a lower objective" in md
    assert "| -16.8 [-37.0, +0.0] | tied | +1.0% |" in md
    for name in ("results.csv", "pareto.csv"):
        columns = pd.read_csv(tmp_path / name).columns
        assert {"miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high", "confidence_level", "positives"} <= set(columns)


def test_ten_times_the_frames_separate_the_runner_up():
    evaluated, rec, _ = _decide(Constraints(max_miss_rate="30%"), copies=10)
    runner = rec.runners_up.iloc[0]
    assert rec.best["point_id"] == "16/8@256KiB" and runner["point_id"] == "32/8@256KiB"
    assert runner["miss_rate_tied"] is False and runner["miss_rate_delta_ci_high"] < 0
    warnings = "\n".join(rec.warnings)
    assert "frames;" not in warnings and "pedestrians count" not in warnings and "reads 8.3%" not in warnings
    # 120 pedestrians still leave the interval ±10 points wide: that warning stays.
    assert "is wider than ±5 points" in warnings


def test_a_limit_on_the_upper_bound_picks_what_the_evidence_supports():
    # 16/8's interval reaches 52.0% and 8/8's 59.2%; 32/8's stops at 25.0%, the only one under 30%.
    constraints = Constraints(max_miss_rate="30% at 95%")
    evaluated, rec, _ = _decide(constraints)
    assert rec.best["point_id"] == "32/8@256KiB"
    violations = evaluated.set_index("point_id")["violations"]
    assert violations["16/8@256KiB"] == "upper end of the miss rate's 95% interval 52.0% > 30.0%"
    # Both cheaper variants fail only the miss rate, and on 20 frames even 8/8's 33.1% is tied with
    # 32/8's 8.3%: a resample without frames 3, 7 and 15 (0.85^20, 3.9% of them) reads them equal.
    # nearest the recommendation's objective first (16/8 is 1% cheaper than 32/8, 8/8 6%)
    assert rec.near_misses["point_id"].tolist() == ["16/8@256KiB", "8/8@256KiB"]
    assert rec.near_misses["miss_rate_tied"].tolist() == [True, True]
    assert "upper end of the miss rate's 95% interval ≤ 30.0%" in text_summary(rec, AXES)


def test_a_margin_adds_to_the_estimate():
    evaluated, rec, _ = _decide(Constraints(max_miss_rate={"value": "30%", "margin": "6%"}))
    assert rec.best["point_id"] == "32/8@256KiB"
    assert evaluated.set_index("point_id")["violations"]["16/8@256KiB"] == "miss rate + 6.0% margin = 31.1% > 30.0%"


TINY = """
name: tiny
hardware: embedded-45nm
model: deepped-small
dataset: synthetic
frames: 16
axes:
  plan.groups.conv.clusters: [16, 32]
constraints: {max_miss_rate: 90%}
intervals: {level: 90%, resamples: 200, seed: 1}
"""


def test_variant_tasks_carry_the_specs_intervals(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(TINY)
    sweep = load_sweep(spec)
    tasks, _, _ = variant_tasks(sweep, sweep.points())
    assert {t.intervals for t in tasks.values()} == {IntervalSpec(0.9, 200, 1)}


@pytest.mark.slow
def test_a_sweep_stores_evidence_and_pairs_its_variants_across_a_resume(tmp_path):
    spec = tmp_path / "sweep.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    run_sweep(load_sweep(spec), out, workers=1, spec_text=TINY)
    results = pd.read_csv(out / "results.csv")
    assert (results["confidence_level"] == 0.9).all() and (results["bootstrap_resamples"] <= 200).all()
    assert (results["miss_rate_lamr_ci_low"] <= results["miss_rate_lamr"]).all()
    assert (results["miss_rate_lamr"] <= results["miss_rate_lamr_ci_high"]).all()
    with SweepStore.open(out, load_sweep(spec).spec_hash, TINY, resume=True) as store:
        evidence = store.evidence()
    assert set(evidence) == set(zip(results["plan"], results["number_formats"]))
    first = json.loads((out / "recommendation.json").read_text())
    runner = first["runners_up"][0]
    a, b = (evidence[(r["plan"], r["number_formats"])] for r in (runner, first["best"]))
    expected = paired_difference(a, b, IntervalSpec(0.9, 200, 1))
    assert (runner["miss_rate_delta"], runner["miss_rate_delta_ci_low"], runner["miss_rate_delta_ci_high"]) == \
        pytest.approx((expected.delta, expected.low, expected.high))
    assert first["evidence"]["frames_evaluated"] == 16 and first["evidence"]["confidence_level"] == 0.9
    # resumed with nothing left to run, the comparisons come from the stored evidence alone
    result = run_sweep(load_sweep(spec), out, workers=1, resume=True, spec_text=TINY)
    assert result["ran"] == 0
    assert json.loads((out / "recommendation.json").read_text()) == first
