"""Running sweeps: failing points, kill and resume, executors that agree, and the CLI."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from accelsim.cli import main
from accelsim.errors import SweepError
from accelsim.sweep import runner
from accelsim.sweep.runner import run_sweep, variant_tasks
from accelsim.sweep.spec import load_sweep
from accelsim.sweep.store import SweepStore

# toy-bars compresses in well under a second, so these sweeps test the machinery, not the model
TOY = """
name: toy
hardware: embedded-45nm
model: toy-bars
plan: toy-aggressive
dataset: none
proposals: 4
axes:
  sram.split.weights: [8KiB, 384KiB]
  decoders.entries: [2, 256]
  plan.defaults.clusters: [4, 16]
  plan.finetune.epochs: [0]
constraints: {min_fps: 1000}
"""

TIMING_FREE = ["point_id", "index", "status", "error", "sram.split.weights", "plan.defaults.clusters",
               "energy_per_frame_uj", "latency_per_frame_ms", "dram_bytes_per_frame",
               "miss_rate_lamr", "area_mm2", "weights_resident"]


def _write(tmp_path, text=TOY, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_failing_points_are_recorded_and_the_sweep_goes_on(tmp_path):
    spec = _write(tmp_path)
    out = tmp_path / "out"
    result = run_sweep(load_sweep(spec), out, workers=1, spec_text=spec.read_text())
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 8 and list(table["index"]) == list(range(8))
    failed = table[table["status"] == "failed"]
    # a 2-entry decoder table cannot hold a 4- or 16-entry codebook: those 4 points fail, named
    assert len(failed) == 4
    assert set(failed["decoders.entries"]) == {2}
    assert failed["error"].str.contains("decoders.entries: 2 table entries cannot hold").all()
    ok = table[table["status"] == "ok"]
    assert len(ok) == 4 and (ok["energy_per_frame_uj"] > 0).all()
    # more weight SRAM never means more DRAM traffic
    for k in (4, 16):
        small, big = (ok[(ok["plan.defaults.clusters"] == k) & (ok["sram.split.weights"] == s)]["dram_bytes_per_frame"].item()
                      for s in ("8KiB", "384KiB"))
        assert big <= small
    assert result["failed_run"] == 4 and result["ok_run"] == 4 and result["variants_run"] == 2
    assert (out / "recommendation.md").is_file() and (out / "pareto.csv").is_file()


def test_points_whose_decoders_cannot_hold_the_plan_fail_before_compressing(tmp_path):
    sweep = load_sweep(_write(tmp_path, TOY.replace("decoders.entries: [2, 256]", "decoders.entries: [2]")))
    tasks, _, invalid = variant_tasks(sweep, sweep.points())
    assert tasks == {}  # no variant left to compress
    assert len(invalid) == 4
    assert all("decoders.entries: 2 table entries cannot hold plan 'toy-aggressive-v" in row["error"] for row in invalid)


@pytest.mark.parametrize("out, error", [
    ("{tmp}/file/out", "--out {tmp}/file/out: {tmp}/file is a file, not a folder"),
    pytest.param("/proc/nope/out", "--out /proc/nope/out: cannot write in /proc (",
                 marks=pytest.mark.skipif(not os.path.isdir("/proc"), reason="no /proc")),
])
def test_an_output_folder_that_cannot_be_written_is_refused_before_the_sweep_runs(tmp_path, monkeypatch, out, error):
    def boom(*_a, **_k):
        raise AssertionError("the sweep ran before refusing --out")

    monkeypatch.setattr(runner, "run_sweep", boom)
    (tmp_path / "file").write_text("not a folder")
    result = CliRunner().invoke(main, ["sweep", str(_write(tmp_path)), "--out", out.format(tmp=tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {error.format(tmp=tmp_path)}") and result.stderr.count("\n") == 1


def test_store_refuses_a_different_sweep_and_a_rerun_without_resume(tmp_path):
    spec = _write(tmp_path)
    out = tmp_path / "out"
    run_sweep(load_sweep(spec), out, workers=1, spec_text=spec.read_text())
    with pytest.raises(SweepError, match="--resume"):
        run_sweep(load_sweep(spec), out, workers=1)
    other = _write(tmp_path, TOY.replace("[4, 16]", "[4, 8]"), "other.yaml")
    with pytest.raises(SweepError, match="spec"):
        run_sweep(load_sweep(other), out, workers=1, resume=True)
    again = run_sweep(load_sweep(spec), out, workers=1, resume=True)
    assert again["ran"] == 0  # nothing recomputed


def test_retry_failed_reruns_only_failed_points(tmp_path):
    spec = _write(tmp_path)
    out = tmp_path / "out"
    run_sweep(load_sweep(spec), out, workers=1)
    again = run_sweep(load_sweep(spec), out, workers=1, resume=True, retry_failed=True)
    assert again["ran"] == 4 and again["failed_run"] == 4


KILL = TOY.replace("sram.split.weights: [8KiB, 384KiB]", "sram.split.weights: [8KiB, 16KiB, 32KiB, 64KiB, 128KiB, 384KiB]") \
          .replace("plan.defaults.clusters: [4, 16]", "plan.defaults.clusters: [4, 6, 8, 10, 12, 16]") \
          .replace("decoders.entries: [2, 256]", "sram.banks: [4, 8, 16, 32]\n  mac_array.rows: [8, 16]")
KILL_POINTS = 6 * 6 * 4 * 2


def _stored(out) -> int:
    try:
        with sqlite3.connect(out / SweepStore.FILENAME) as db:
            return db.execute("select count(*) from points").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_and_resume_loses_and_repeats_nothing(tmp_path):
    spec = _write(tmp_path, KILL)
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "accelsim", "sweep", str(spec), "--out", str(out), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while _stored(out) < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _stored(out)
    assert 6 <= before < KILL_POINTS, "the sweep was not caught mid-way"
    with SweepStore.open(out, load_sweep(spec).spec_hash, "", resume=True) as store:
        kept = store.results()
    resumed = run_sweep(load_sweep(spec), out, workers=1, resume=True)
    assert resumed["ran"] == KILL_POINTS - before  # the finished points are not run again
    full = run_sweep(load_sweep(spec), tmp_path / "whole", workers=1)
    assert full["ran"] == KILL_POINTS
    a = pd.read_csv(out / "results.csv")
    b = pd.read_csv(tmp_path / "whole" / "results.csv")
    pd.testing.assert_frame_equal(a[TIMING_FREE], b[TIMING_FREE])
    # and the points finished before the kill are exactly as they were stored then
    merged = kept.merge(a, on="point_id", suffixes=("", "_after"))
    assert len(merged) == before
    assert (merged["energy_per_frame_uj"] == merged["energy_per_frame_uj_after"]).all()


def test_local_and_dask_executors_give_identical_tables(tmp_path):
    spec = _write(tmp_path)
    serial = tmp_path / "serial"
    local = tmp_path / "local"
    dask = tmp_path / "dask"
    run_sweep(load_sweep(spec), serial, workers=1)
    run_sweep(load_sweep(spec), local, executor="local", workers=2)
    run_sweep(load_sweep(spec), dask, executor="dask", workers=2)
    tables = [pd.read_parquet(d / "results.parquet") for d in (serial, local, dask)]
    pd.testing.assert_frame_equal(tables[0], tables[1])
    pd.testing.assert_frame_equal(tables[0], tables[2])


def test_cli_sweep_end_to_end_with_accuracy(tmp_path):
    """The essential path: a detector sweep evaluates accuracy once per compression variant."""
    spec = _write(tmp_path, """
    name: tiny
    hardware: embedded-45nm
    hardware_overrides: {sram.split.weights: 75%, sram.split.input_activations: 12.5%, sram.split.output_activations: 12.5%}
    model: deepped-small
    dataset: synthetic
    frames: 3
    axes:
      sram.size: [256KiB, 1MiB]
      plan.groups.fc.clusters: [16, 256]
    constraints: {max_miss_rate: 99%, min_fps: 10}
    """)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out), "--workers", "1", "--layers"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "results.csv")
    assert (table["status"] == "ok").all() and len(table) == 4
    # hardware-only points share their variant's miss rate exactly
    for k in (16, 256):
        rates = table[table["plan.groups.fc.clusters"] == k]["miss_rate_lamr"]
        assert rates.nunique() == 1 and 0 < rates.iloc[0] < 1
    layers = pd.read_csv(out / "layers.csv")
    # every point has the 13 layers of `accelsim run`'s layers.csv (8 conv/fc, pools, norms)
    assert len(layers) == 4 * 13 and (layers.groupby("index")["layer"].apply(list).map(len) == 13).all()
    assert list(layers[layers["index"] == 0]["layer"])[:3] == ["conv1", "pool1", "norm1"]
    assert "recommend" in res.output.lower()


def test_cli_sweep_bad_spec_is_one_clear_line(tmp_path):
    spec = _write(tmp_path, TOY.replace("decoders.entries", "decoders.entrys"))
    res = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "unknown hardware config path 'decoders.entrys'; did you mean 'decoders.entries'?" in res.output
    assert "Traceback" not in res.output


def test_a_second_sweep_in_a_running_sweeps_folder_is_refused(tmp_path):
    """The lock is held for the whole run; a second sweep (or a --resume) is refused at once, and the lock
    goes with its holder."""
    from accelsim.sweep.store import folder_lock

    spec = _write(tmp_path)
    out = tmp_path / "out"
    with folder_lock(out):
        with pytest.raises(SweepError, match="another sweep is running in this folder"):
            run_sweep(load_sweep(spec), out, workers=1, spec_text=spec.read_text())
        with pytest.raises(SweepError, match="another sweep is running"):
            run_sweep(load_sweep(spec), out, workers=1, resume=True)
    assert not (out / "sweep.sqlite").exists()  # the refused sweeps created nothing
    run_sweep(load_sweep(spec), out, workers=1, spec_text=spec.read_text())  # released: it runs
    assert not list(out.glob("*.tmp"))


def test_a_sweep_whose_points_all_fail_exits_non_zero_with_the_first_reason(tmp_path):
    spec = _write(tmp_path, TOY.replace("decoders.entries: [2, 256]", "decoders.entries: [2]"))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out)])
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: all 4 design points of {spec} failed; the first: ")
    assert "decoders.entries: 2 table entries cannot hold" in last
    assert (out / "results.csv").is_file()  # what ran is written all the same
