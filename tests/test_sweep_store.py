"""The sweep store: round trip, refusals (existing store, changed spec, corrupt file), durability under SIGKILL."""

from __future__ import annotations

import math
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pandas as pd
import pytest

from accelsim.detect.metric import Matched
from accelsim.errors import SweepError
from accelsim.sweep.store import SweepStore


def _ok(i: int, **extra) -> dict:
    return {
        "point_id": f"p{i:03d}", "index": i, "status": "ok", "error": None, "sram.size": f"{64 << i}KiB",
        "energy_per_frame_uj": 0.1 * i + 1 / 3, "miss_rate_lamr": None, "weights_resident": i % 2 == 0, **extra,
    }


def _failed(i: int, error: str = "ConfigError: 3 banks do not divide 64KiB") -> dict:
    return {"point_id": f"p{i:03d}", "index": i, "status": "failed", "error": error, "sram.size": f"{64 << i}KiB"}


def test_round_trip_orders_rows_by_index_and_columns_by_first_point(tmp_path):
    with SweepStore.open(tmp_path / "out", "hash1", "spec: 1\n", resume=False) as store:
        # Completion order differs from index order, as with parallel workers.
        store.record(_ok(2))
        store.record(_failed(1))
        store.record(_ok(0, extra_metric=7))
        table = store.results()
    assert (tmp_path / "out" / SweepStore.FILENAME).is_file()
    assert list(table.columns) == [
        "point_id", "index", "status", "error", "sram.size", "energy_per_frame_uj", "miss_rate_lamr",
        "weights_resident", "extra_metric"]
    assert list(table["point_id"]) == ["p000", "p001", "p002"]
    assert list(table["index"]) == [0, 1, 2]
    # Floats come back bit-exact, through JSON.
    assert table.loc[2, "energy_per_frame_uj"] == 0.1 * 2 + 1 / 3
    assert table.loc[0, "energy_per_frame_uj"] == 1 / 3
    assert table.loc[1, "error"] == "ConfigError: 3 banks do not divide 64KiB"
    assert math.isnan(table.loc[1, "energy_per_frame_uj"])
    assert table["miss_rate_lamr"].isna().all()
    assert list(table["weights_resident"].fillna("missing")) == [True, "missing", True]
    assert table.loc[0, "extra_metric"] == 7 and table["extra_metric"].isna().sum() == 2


def test_results_are_independent_of_completion_order(tmp_path):
    points = [_ok(0), _failed(1), _ok(2, extra_metric=1.5), _ok(3)]
    tables = []
    for name, order in (("a", [0, 1, 2, 3]), ("b", [3, 2, 1, 0])):
        with SweepStore.open(tmp_path / name, "h", "s", resume=False) as store:
            for i in order:
                store.record(points[i], [{"layer": "conv1", "energy_pj": float(i)}, {"layer": "fc6", "energy_pj": 2.0}])
            tables.append((store.results(), store.layer_results()))
    pd.testing.assert_frame_equal(tables[0][0], tables[1][0])
    pd.testing.assert_frame_equal(tables[0][1], tables[1][1])


def test_numpy_scalars_are_stored_as_plain_values(tmp_path):
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        store.record(_ok(0, dram_bytes_per_frame=np.int64(2**60 + 3), flag=np.bool_(False), e=np.float64(0.1)))
        row = store.results().iloc[0]
    # 2**60 + 3 is not a float: an int that passed through float would have lost the 3.
    assert int(row["dram_bytes_per_frame"]) == 2**60 + 3
    assert row["flag"].dtype == bool and not row["flag"] and row["e"] == 0.1


def test_layer_rows_keep_layer_order_and_are_replaced_with_their_point(tmp_path):
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        assert store.layer_results().empty
        store.record(_ok(1), [{"layer": "conv1", "cycles": 10}, {"layer": "conv2", "cycles": 20}])
        store.record(_ok(0), [{"layer": "conv1", "cycles": 5}, {"layer": "fc", "cycles": 6, "dram_bytes": 64}])
        layers = store.layer_results()
        assert list(layers.columns) == ["point_id", "index", "layer", "cycles", "dram_bytes"]
        assert list(zip(layers["point_id"], layers["layer"], layers["cycles"])) == [
            ("p000", "conv1", 5), ("p000", "fc", 6), ("p001", "conv1", 10), ("p001", "conv2", 20)]
        # A retried point replaces its earlier record and its layers, leaving no stale rows.
        store.record(_ok(1, energy_per_frame_uj=9.5), [{"layer": "conv1", "cycles": 11}])
        assert list(store.layer_results()["cycles"]) == [5, 6, 11]
        table = store.results()
    assert len(table) == 2 and table.loc[1, "energy_per_frame_uj"] == 9.5


def test_finished_and_retry_of_a_failed_point(tmp_path):
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        assert store.finished() == set()
        store.record(_ok(0))
        store.record(_failed(1))
        assert store.finished() == {"p000", "p001"}
        assert store.finished(include_failed=False) == {"p000"}
        store.record(_ok(1))
        assert store.finished(include_failed=False) == {"p000", "p001"}
        assert list(store.results()["status"]) == ["ok", "ok"]


def test_points_recorded_from_many_threads_are_all_kept_with_their_layers(tmp_path):
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        def work(t: int) -> None:
            for i in range(t * 50, t * 50 + 50):
                store.record(_ok(i), [{"layer": "conv1", "cycles": i}, {"layer": "fc", "cycles": -i}])
                store.results()  # readers interleave with writers
        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert list(store.results()["index"]) == list(range(300))
        layers = store.layer_results()
    assert list(layers["cycles"]) == [c for i in range(300) for c in (i, -i)]


def test_meta_records_the_spec(tmp_path):
    spec_text = "axes:\n  sram.size: [64KiB, 8MiB]\n"
    with SweepStore.open(tmp_path, "abc123", spec_text, resume=False) as store:
        meta = store.meta
    assert meta["spec_hash"] == "abc123" and meta["spec_text"] == spec_text
    assert meta["accelsim_version"]


def test_existing_store_is_refused_without_resume(tmp_path):
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        store.record(_ok(0))
        store.record(_failed(1))
    with pytest.raises(SweepError, match=r"already holds a sweep \(2 points finished\); pass --resume"):
        SweepStore.open(tmp_path, "h", "s", resume=False)
    # The refusal must not have touched what was there.
    with SweepStore.open(tmp_path, "h", "s", resume=True) as store:
        assert store.finished() == {"p000", "p001"}


def test_resume_with_a_changed_spec_is_refused(tmp_path):
    SweepStore.open(tmp_path, "hash-old", "a", resume=False).close()
    with pytest.raises(SweepError) as err:
        SweepStore.open(tmp_path, "hash-new", "b", resume=True)
    message = str(err.value)
    assert str(tmp_path / SweepStore.FILENAME) in message
    assert "hash-old" in message and "hash-new" in message and "spec changed" in message


def test_resume_without_a_store_starts_one(tmp_path):
    with SweepStore.open(tmp_path / "new", "h", "s", resume=True) as store:
        assert store.finished() == set()


@pytest.mark.parametrize("content, why", [
    (b"sweep results, honest\n" * 20, "not a readable sweep store"),
    (b"", r"table\(s\) layers, meta, points missing"),
])
def test_a_file_that_is_not_a_store_is_refused(tmp_path, content, why):
    (tmp_path / SweepStore.FILENAME).write_bytes(content)
    with pytest.raises(SweepError, match=why) as err:
        SweepStore.open(tmp_path, "h", "s", resume=True)
    assert str(tmp_path / SweepStore.FILENAME) in str(err.value)
    assert (tmp_path / SweepStore.FILENAME).read_bytes() == content


def test_another_sqlite_database_is_refused(tmp_path):
    conn = sqlite3.connect(tmp_path / SweepStore.FILENAME)
    conn.execute("CREATE TABLE points (x)")
    conn.commit()
    conn.close()
    with pytest.raises(SweepError, match="table.s. layers, meta missing"):
        SweepStore.open(tmp_path, "h", "s", resume=True)


def test_a_store_of_format_1_is_refused_by_name(tmp_path):
    """Format 1 had a ``variants`` table as well; such a store is refused, not misread."""
    path = tmp_path / SweepStore.FILENAME
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE points (point_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,
                             row_json TEXT NOT NULL);
        CREATE TABLE layers (point_id TEXT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL,
                             row_json TEXT NOT NULL, PRIMARY KEY (point_id, seq));
        CREATE TABLE variants (key TEXT PRIMARY KEY, payload_json TEXT NOT NULL);
        INSERT INTO meta VALUES ('spec_hash', 'h'), ('spec_text', 's'), ('store_format', '1');
    """)
    conn.close()
    with pytest.raises(SweepError) as err:
        SweepStore.open(tmp_path, "h", "s", resume=True)
    assert str(err.value).startswith(f"{path} is a sweep store of format '1', without the per-frame evidence")
    assert str(err.value).endswith("reads format '3' only")


def test_a_store_of_format_2_is_refused_saying_what_to_do(tmp_path):
    """Format 2 kept no per-frame evidence, so its variants cannot be paired: a new --out reruns them
    (from the caches) rather than giving a recommendation without comparisons."""
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        store.record(_ok(0))
    conn = sqlite3.connect(tmp_path / SweepStore.FILENAME)
    with conn:
        conn.execute("DROP TABLE evidence")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'store_format'")
    conn.close()
    with pytest.raises(SweepError, match=r"format '2', without the per-frame evidence .* another --out"):
        SweepStore.open(tmp_path, "h", "s", resume=True)


def test_evidence_round_trips_per_variant_and_format(tmp_path):
    positives = np.array([2, 0, 1], dtype=np.int64)
    a = Matched(3, positives, np.array([0, 2, 0, 1]), np.array([0.9, 0.8, 0.5, 0.1]),
                np.array([True, True, False, False]))
    b = Matched(3, positives, np.array([1]), np.array([0.7]), np.array([False]))
    with SweepStore.open(tmp_path, "h", "s", resume=False) as store:
        store.record_evidence("plan-v1", "int8", a)
        store.record_evidence("plan-v1", "fp32", b)
        store.record_evidence("plan-v1", "int8", b)  # a rerun variant replaces its evidence
    with SweepStore.open(tmp_path, "h", "s", resume=True) as store:
        found = store.evidence()
    assert set(found) == {("plan-v1", "int8"), ("plan-v1", "fp32")}
    got = found[("plan-v1", "int8")]
    assert got.frames == 3 and got.positives.tolist() == [2, 0, 1] and got.frame.tolist() == [1]
    assert got.score.tolist() == [0.7] and got.true_positive.tolist() == [False]
    assert got.lamr() == b.lamr()


def test_a_truncated_store_is_refused(tmp_path):
    with SweepStore.open(tmp_path / "good", "h", "s", resume=False) as store:
        for i in range(200):
            store.record(_ok(i, note="x" * 200))
    data = (tmp_path / "good" / SweepStore.FILENAME).read_bytes()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / SweepStore.FILENAME).write_bytes(data[: len(data) // 2])
    with pytest.raises(SweepError, match="sweep store") as err:
        SweepStore.open(tmp_path / "bad", "h", "s", resume=True)
    assert "bad" in str(err.value)


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from accelsim.sweep.store import SweepStore
    store = SweepStore.open(Path(sys.argv[1]), "h", "s", resume=True)
    i = 0
    while True:
        store.record({"point_id": f"p{i}", "index": i, "status": "ok", "error": None, "e": i / 7},
                     [{"layer": "conv1", "cycles": i}])
        print(i, flush=True)
        i += 1
        if i >= 25:
            time.sleep(60)  # then killed while holding the store open, nothing checkpointed
""")


def test_points_recorded_before_sigkill_survive(tmp_path):
    SweepStore.open(tmp_path, "h", "s", resume=False).close()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        reported = [int(child.stdout.readline()) for _ in range(25)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # The child died with its commits still in the write-ahead log: reopening must replay them.
    assert (tmp_path / (SweepStore.FILENAME + "-wal")).stat().st_size > 0
    with SweepStore.open(tmp_path, "h", "s", resume=True) as store:
        assert store.finished() == {f"p{i}" for i in reported}
        table = store.results()
        assert list(table["e"]) == [i / 7 for i in range(25)]
        assert list(store.layer_results()["cycles"]) == list(range(25))
