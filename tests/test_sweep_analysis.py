"""Sweep analysis: power at the operating rate, objective, violations, Pareto front, recommendation, outputs.

The small table below is worked by hand in the comments; the Pareto front is checked against its
definition (and a brute-force front) with hypothesis.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from accelsim.sweep.constraints import METRIC_COLUMNS, Constraints, MissRateLimit, Objective, evaluate, power_mw
from accelsim.sweep.outputs import text_summary, write_outputs
from accelsim.sweep.pareto import pareto_front
from accelsim.sweep.recommendation import recommend

KIB, MIB = 2**10, 2**20
AXES = ["sram.size", "prune"]


def _point(i, energy_uj, latency_ms, leak_pj, bg_pj, miss, sram, area, prune=0.5):
    return {
        "point_id": f"p{i}", "index": i, "status": "ok", "error": None,
        "sram.size": f"{sram // KIB}KiB", "prune": prune,
        "energy_per_frame_uj": energy_uj, "latency_per_frame_ms": latency_ms, "frames_per_s": 1000 / latency_ms,
        "sram_bytes": sram, "area_mm2": area, "miss_rate_lamr": miss,
        "energy_leakage_pj": leak_pj, "dram_background_pj": bg_pj,
        # evidence enough that no warning fires: 1,000 frames, 800 pedestrians, ±2 points
        "dataset": "synthetic", "frames_evaluated": 1000, "positives": 800, "miss_rate_lamr_ci_low": miss - 0.02,
        "miss_rate_lamr_ci_high": miss + 0.02, "confidence_level": 0.95, "bootstrap_resamples": 1000,
    }


def _table() -> pd.DataFrame:
    rows = [
        # static S = 30 µJ over 20 ms -> 1.5 mW; at 30 frames/s: (100 - 30) µJ * 30/s = 2.1 mW; P = 3.6 mW
        _point(0, 100.0, 20.0, 20e6, 10e6, 0.30, 512 * KIB, 2.0),
        # 10 frames/s < 30: runs at its own rate, P = 50 µJ / 100 ms = 0.5 mW
        _point(1, 50.0, 100.0, 5e6, 0.0, 0.716, 8 * MIB, 1.0),
        {"point_id": "p2", "index": 2, "status": "failed", "error": "ConfigError: 3 banks", "sram.size": "3KiB",
         "prune": 0.5},
        # no static energy: 300 µJ * 30/s = 9 mW
        _point(3, 300.0, 10.0, 0.0, 0.0, 0.20, 256 * KIB, 0.5),
        # S = 10 µJ over 25 ms -> 0.4 mW; (80 - 10) µJ * 30/s = 2.1 mW; P = 2.5 mW
        _point(4, 80.0, 25.0, 8e6, 2e6, 0.25, MIB, 1.5, prune=0.8),
        # same energy as p0 (a tie broken by index), same power 3.6 mW
        _point(5, 100.0, 20.0, 20e6, 10e6, 0.50, 512 * KIB, 3.0, prune=0.9),
    ]
    # Rows not in index order, as a caller may hand them: ties must still go by index.
    return pd.DataFrame.from_records([rows[i] for i in (5, 0, 1, 2, 3, 4)])


CONSTRAINTS = Constraints(max_miss_rate="60%", min_fps=30, max_power_mw=5, max_sram_bytes="1MiB")


def _by_id(frame: pd.DataFrame, column: str) -> dict:
    return dict(zip(frame["point_id"], frame[column]))


# --- constraints and objective ---------------------------------------------------------------------

def test_constraints_accept_units_and_percentages():
    assert CONSTRAINTS.max_miss_rate == MissRateLimit(value=0.6, at="estimate") and CONSTRAINTS.max_sram_bytes == MIB
    assert Constraints(max_power_mw="0.5W").max_power_mw == pytest.approx(500.0)
    assert Constraints(max_miss_rate=0.25).max_miss_rate.value == 0.25
    assert Constraints(max_sram_bytes=4096).max_sram_bytes == 4096


@pytest.mark.parametrize("fields, needle", [
    ({"max_miss_rate": "60"}, "percentage"),
    ({"max_miss_rate": 1.5}, "max_miss_rate"),
    ({"max_miss_rate": "0%"}, "max_miss_rate"),
    ({"min_fps": 0}, "min_fps"),
    ({"max_power_mw": "5 furlongs"}, "power"),
    ({"max_sram_bytes": "12b"}, "whole number of bytes"),
    ({"max_sram": "1MiB"}, "max_sram"),
])
def test_bad_constraints_are_refused_naming_the_field(fields, needle):
    with pytest.raises(ValidationError, match=needle):
        Constraints(**fields)


def test_objective_weights_must_match_the_mode():
    assert Objective(minimise="weighted", weights={"energy_per_frame_uj": 1, "area_mm2": 50}).weights["area_mm2"] == 50
    with pytest.raises(ValidationError, match="needs weights"):
        Objective(minimise="weighted")
    with pytest.raises(ValidationError, match="only to minimise: weighted"):
        Objective(minimise="energy", weights={"area_mm2": 1.0})
    with pytest.raises(ValidationError) as err:
        Objective(minimise="weighted", weights={"energy_uj": 1.0})
    assert "'energy_uj'" in str(err.value) and all(c in str(err.value) for c in METRIC_COLUMNS)


# --- power, objective, violations --------------------------------------------------------------------

def test_power_at_min_fps_by_hand():
    power = _by_id(_table().assign(power_mw=power_mw(_table(), CONSTRAINTS)), "power_mw")
    assert power["p0"] == pytest.approx(3.6, rel=1e-12)
    assert power["p1"] == pytest.approx(0.5, rel=1e-12)
    assert power["p3"] == pytest.approx(9.0, rel=1e-12)
    assert power["p4"] == pytest.approx(2.5, rel=1e-12)
    assert math.isnan(power["p2"])


def test_power_at_own_rate_is_energy_over_latency():
    table = _table()
    power = power_mw(table, Constraints())
    ok = table["status"] == "ok"
    # Running flat out, static and dynamic energy are both paid once per frame: P = E / T.
    expected = table["energy_per_frame_uj"] / table["latency_per_frame_ms"]  # µJ/ms = mW
    assert np.allclose(power[ok], expected[ok], rtol=1e-12)
    assert _by_id(table.assign(p=power), "p")["p3"] == pytest.approx(30.0)


def test_power_without_dram_background_column():
    table = _table().drop(columns="dram_background_pj")
    # p4: S = 8 µJ over 25 ms -> 0.32 mW; (80 - 8) µJ * 30/s = 2.16 mW
    assert _by_id(table.assign(p=power_mw(table, CONSTRAINTS)), "p")["p4"] == pytest.approx(2.48, rel=1e-12)


def test_evaluate_by_hand():
    ev = evaluate(_table(), CONSTRAINTS, Objective())
    assert _by_id(ev, "feasible") == {"p0": True, "p1": False, "p2": False, "p3": False, "p4": True, "p5": True}
    violations = _by_id(ev, "violations")
    assert violations["p0"] == violations["p4"] == violations["p5"] == ""
    assert violations["p1"] == "miss rate 71.6% > 60.0%; 10 frames/s < 30 frames/s; SRAM 8 MiB > 1 MiB"
    assert violations["p2"] == "failed: ConfigError: 3 banks"
    assert violations["p3"] == "power 9 mW > 5 mW"
    assert _by_id(ev, "violated")["p1"] == "max_miss_rate,min_fps,max_sram_bytes"
    objective = _by_id(ev, "objective")
    assert objective["p4"] == 80.0 and objective["p3"] == 300.0 and math.isnan(objective["p2"])
    # The input is not modified.
    assert "feasible" not in _table().columns and list(ev["point_id"]) == list(_table()["point_id"])


def test_weighted_and_area_objectives():
    weighted = Objective(minimise="weighted", weights={"energy_per_frame_uj": 1.0, "area_mm2": 50.0})
    objective = _by_id(evaluate(_table(), CONSTRAINTS, weighted), "objective")
    assert objective == pytest.approx(
        {"p0": 200.0, "p1": 100.0, "p2": math.nan, "p3": 325.0, "p4": 155.0, "p5": 250.0}, nan_ok=True)
    assert _by_id(evaluate(_table(), CONSTRAINTS, Objective(minimise="area")), "objective")["p5"] == 3.0


def test_limits_are_inclusive_and_near_misses_show_enough_digits():
    table = _table()
    table.loc[table["point_id"] == "p0", "frames_per_s"] = 30.0  # exactly the minimum: meets it
    table.loc[table["point_id"] == "p4", "frames_per_s"] = 29.996
    table.loc[table["point_id"] == "p5", "miss_rate_lamr"] = 0.6004
    ev = evaluate(table, Constraints(min_fps=30, max_miss_rate=0.6), Objective())
    violations = _by_id(ev, "violations")
    assert violations["p0"] == ""
    assert violations["p4"] == "29.996 frames/s < 30 frames/s"
    assert violations["p5"] == "miss rate 60.04% > 60.00%"


def test_miss_rate_constraint_without_a_dataset():
    table = _table().assign(miss_rate_lamr=None)
    ev = evaluate(table, Constraints(max_miss_rate=0.5), Objective())
    assert _by_id(ev, "violations")["p4"] == "no miss rate (sweep has no dataset)"
    assert not ev["feasible"].any()


def test_weighted_objective_over_a_missing_metric_is_not_feasible():
    table = _table().assign(miss_rate_lamr=None)
    ev = evaluate(table, Constraints(), Objective(minimise="weighted", weights={"miss_rate_lamr": 1.0}))
    assert not ev["feasible"].any()
    assert _by_id(ev, "violated")["p0"] == "objective"


# --- recommendation -----------------------------------------------------------------------------------

def test_recommend_picks_lowest_objective_feasible_point():
    rec = recommend(evaluate(_table(), CONSTRAINTS, Objective()), constraints=CONSTRAINTS)
    assert rec.best["point_id"] == "p4"
    assert list(rec.runners_up["point_id"]) == ["p0", "p5"]  # equal energy: lower index first
    assert rec.rejected == {"max_miss_rate": 1, "min_fps": 1, "max_power_mw": 1, "max_sram_bytes": 1, "failed": 1}
    assert (rec.n_points, rec.n_feasible) == (6, 3)
    assert recommend(evaluate(_table(), CONSTRAINTS, Objective()), runners_up=1).runners_up["point_id"].tolist() == ["p0"]


def test_recommend_counts_only_constraints_that_were_set():
    constraints = Constraints(min_fps=30, max_power_mw=100)
    rec = recommend(evaluate(_table(), constraints, Objective(minimise="area")), constraints=constraints)
    # p3 (area 0.5) is feasible without a power cap of 5 mW.
    assert rec.best["point_id"] == "p3"
    assert rec.rejected == {"min_fps": 1, "max_power_mw": 0, "failed": 1}


def test_recommend_when_nothing_is_feasible():
    rec = recommend(evaluate(_table(), Constraints(min_fps=1000), Objective()))
    assert rec.best is None and rec.runners_up.empty and rec.n_feasible == 0
    assert rec.rejected == {"min_fps": 5, "failed": 1}
    assert "no design meets every constraint" in text_summary(rec, AXES)


# --- Pareto front ---------------------------------------------------------------------------------------

def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def _vectors(frame: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    values = frame[columns].apply(pd.to_numeric, errors="coerce").fillna(math.inf).to_numpy(float)
    return dict(zip(frame["point_id"], values))


_COLUMNS = ["energy_per_frame_uj", "miss_rate_lamr", "sram_bytes"]


@st.composite
def _results(draw):
    n = draw(st.integers(1, 40))
    no_dataset = draw(st.booleans())
    rows = []
    for i in range(n):
        # Few distinct values, so ties and duplicates are common.
        row = {"point_id": f"p{i}", "index": i, "status": draw(st.sampled_from(["ok", "ok", "ok", "failed"])),
               "error": None}
        if row["status"] == "ok":
            row |= {"energy_per_frame_uj": float(draw(st.integers(1, 6))),
                    "miss_rate_lamr": None if no_dataset else draw(st.sampled_from([None, *range(6)])),
                    "sram_bytes": 2 ** draw(st.integers(16, 20))}
        rows.append(row)
    frame = pd.DataFrame.from_records(rows, columns=["point_id", "index", "status", "error", *_COLUMNS])
    frame["miss_rate_lamr"] = pd.to_numeric(frame["miss_rate_lamr"]) / 10  # a None among values: missing
    return frame


@settings(max_examples=200, deadline=None)
@given(_results())
def test_pareto_front_is_exactly_the_non_dominated_ok_points(results):
    front = pareto_front(results)
    ok = results[results["status"] == "ok"]
    used = [c for c in _COLUMNS if ok[c].notna().any()]
    points = _vectors(ok, used)
    front_ids = set(front["point_id"])
    assert front_ids <= set(points)
    for pid in front_ids:  # no front point is dominated by any point
        assert not any(_dominates(v, points[pid]) for v in points.values())
    for pid in set(points) - front_ids:  # every other ok point is dominated by a front point
        assert any(_dominates(points[f], points[pid]) for f in front_ids)
    first = pd.to_numeric(front[used[0]]).to_numpy() if used else np.array([])
    assert np.all(np.diff(first) >= 0)


@settings(max_examples=100, deadline=None)
@given(_results(), st.data())
def test_adding_a_dominated_point_leaves_the_front_unchanged(results, data):
    ok = results[results["status"] == "ok"]
    if ok.empty:
        return
    base = ok.iloc[data.draw(st.integers(0, len(ok) - 1))].to_dict()
    worse = dict(base, point_id="extra", index=len(results))
    worse["energy_per_frame_uj"] += data.draw(st.integers(1, 3))
    worse["sram_bytes"] *= data.draw(st.sampled_from([1, 2]))
    bigger = pd.concat([results, pd.DataFrame([worse])], ignore_index=True)
    assert list(pareto_front(bigger)["point_id"]) == list(pareto_front(results)["point_id"])


def test_pareto_front_by_hand_keeps_ties_and_drops_failed_points():
    table = _table()
    front = pareto_front(table)
    # (energy µJ, miss rate, SRAM): p1 (50, .716, 8M) has the least energy; p4 (80, .25, 1M) beats p0
    # (100, .30, 512K) on energy and miss rate but not on SRAM; p5 (100, .50, 512K) is dominated by p0;
    # p3 (300, .20, 256K) has the lowest miss rate and SRAM.
    assert list(front["point_id"]) == ["p1", "p4", "p0", "p3"]
    twin = table[table["point_id"] == "p0"].assign(point_id="p0b", index=9)
    assert list(pareto_front(pd.concat([table, twin]))["point_id"]) == ["p1", "p4", "p0", "p0b", "p3"]


def test_pareto_front_of_ten_thousand_points_on_a_trade_off_curve():
    rng = np.random.default_rng(7)
    energy = rng.uniform(1, 100, 10_000)
    table = pd.DataFrame({"point_id": [f"p{i}" for i in range(10_000)], "index": range(10_000), "status": "ok",
                          "energy_per_frame_uj": energy, "miss_rate_lamr": 1 / energy, "sram_bytes": 1})
    # Energy and miss rate trade off exactly: no point dominates another.
    assert len(pareto_front(table)) == 10_000


# --- outputs ---------------------------------------------------------------------------------------------

def test_write_outputs(tmp_path):
    ev = evaluate(_table(), CONSTRAINTS, Objective())
    rec = recommend(ev, constraints=CONSTRAINTS)
    layers = pd.DataFrame({"point_id": ["p0", "p0"], "index": [0, 0], "layer": ["conv1", "fc6"], "cycles": [5, 6]})
    written = write_outputs(tmp_path / "out", ev, layers, rec, AXES, "SRAM x pruning sweep")
    names = sorted(p.name for p in written)
    assert names == ["layers.csv", "pareto.csv", "pareto.png", "recommendation.json", "recommendation.md",
                     "results.csv", "results.parquet"]
    assert all(p.stat().st_size > 0 for p in written)

    csv = pd.read_csv(tmp_path / "out" / "results.csv")
    parquet = pd.read_parquet(tmp_path / "out" / "results.parquet")
    for table in (csv, parquet):
        assert list(table["point_id"]) == list(ev["point_id"])
        assert list(table["energy_per_frame_uj"].fillna(-1)) == list(ev["energy_per_frame_uj"].fillna(-1))
        assert list(table["feasible"]) == list(ev["feasible"])
    assert list(pd.read_csv(tmp_path / "out" / "pareto.csv")["point_id"]) == ["p1", "p4", "p0", "p3"]
    # the Parquet schema carries the result schema's types, units and descriptions
    schema = pq.read_schema(tmp_path / "out" / "results.parquet")
    energy = schema.field("energy_per_frame_uj")
    assert str(energy.type) == "double" and energy.metadata[b"unit"] == "µJ".encode()
    assert b"steady-state frame" in energy.metadata[b"description"]
    assert str(schema.field("feasible").type) == "bool" and str(schema.field("point_id").type) == "string"
    assert list(pd.read_csv(tmp_path / "out" / "layers.csv")["layer"]) == ["conv1", "fc6"]

    doc = json.loads((tmp_path / "out" / "recommendation.json").read_text())
    assert doc["best"]["point_id"] == "p4" and doc["best"]["power_mw"] == pytest.approx(2.5)
    assert doc["best"]["sram.size"] == "1024KiB" and doc["best"]["prune"] == 0.8
    assert [r["point_id"] for r in doc["runners_up"]] == ["p0", "p5"]
    assert doc["rejected"]["max_sram_bytes"] == 1 and doc["rejected"]["failed"] == 1
    assert (doc["n_points"], doc["n_feasible"]) == (6, 3)
    assert doc["constraints"] == {"max_miss_rate": {"value": 0.6, "at": "estimate", "margin": 0.0}, "min_fps": 30.0,
                                  "max_power_mw": 5.0, "max_sram_bytes": MIB}

    md = (tmp_path / "out" / "recommendation.md").read_text()
    assert "## Recommended design: p4" in md
    for text in ("| sram.size | 1024KiB |", "| prune | 0.8 |", "| energy per frame | 80 µJ |",
                 "| frame rate | 40 frames/s |", "| power | 2.5 mW |", "| miss rate | 25.0% (23.0%–27.0%) |", "| SRAM | 1 MiB |",
                 "| area | 1.5 mm² |", "| SRAM ≤ 1 MiB | 1 |", "| miss rate ≤ 60.0% | 1 |",
                 "| simulation failed | 1 |", "energy table"):
        assert text in md, text
    assert (tmp_path / "out" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = text_summary(rec, AXES)
    assert "6 design points: 3 meet every constraint, 1 failed" in summary
    assert "recommended p4: sram.size=1024KiB, prune=0.8" in summary
    assert "energy per frame 80 µJ" in summary and "power 2.5 mW" in summary


def test_write_outputs_without_dataset_layers_or_a_feasible_design(tmp_path):
    table = _table().assign(miss_rate_lamr=None)
    # An axis whose values mix numbers and strings still makes a Parquet file.
    table["sram.size"] = [65536, "64KiB", 1, "x", 2.5, None]
    ev = evaluate(table, Constraints(min_fps=1000), Objective())
    rec = recommend(ev)
    written = write_outputs(tmp_path, ev, pd.DataFrame(), rec, AXES, "no dataset")
    assert "layers.csv" not in {p.name for p in written}
    assert list(pd.read_parquet(tmp_path / "results.parquet")["sram.size"])[:2] == ["65536", "64KiB"]
    doc = json.loads((tmp_path / "recommendation.json").read_text())
    assert doc["best"] is None and doc["runners_up"] == []
    assert "No design meets every constraint" in (tmp_path / "recommendation.md").read_text()
    # Without miss rate the front is (energy, SRAM), where p5 ties with p0 (100 µJ, 512 KiB): both kept.
    assert list(pd.read_csv(tmp_path / "pareto.csv")["point_id"]) == ["p1", "p4", "p0", "p5", "p3"]
