"""The resumable results store of one sweep: ``DIR/sweep.sqlite``.

Each finished design point is committed on its own, so a sweep that is killed (Ctrl-C, ``kill -9``,
a lost cluster) keeps every point that finished and ``--resume`` recomputes none of them. The spec's
hash is kept with the results: resuming with a changed spec is refused, because one store holding
points of two different sweeps would give a Pareto front and a recommendation that no spec produced.

Tables (all rows JSON, so any axis value or metric round-trips exactly, floats included):

- ``meta``: spec_hash, spec_text, created_utc, accelsim_version, store_format.
- ``points``: point_id (primary key), idx, status ("ok" or "failed"), error, row_json.
- ``layers``: point_id, idx, seq (the layer's position), row_json; replaced with their point.
- ``evidence``: plan, number_formats (the ``plan`` and ``number_formats`` of the rows it belongs to),
  matched_npz: the evaluation's 'reasonable' `Matched` arrays (positives per frame; frame, score and
  true-positive flag of each counted detection) as an ``.npz``, so that the analysis can pair any two
  variants' miss rates on the same frames without evaluating again. Written when a compression
  variant's evaluation finishes, before its points.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives the death of the process
(the log is replayed on the next open); only a power loss may drop the last few commits, and never
corrupts the file.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

import accelsim
from accelsim.detect.metric import Matched
from accelsim.errors import SweepError

# Bumped when the tables change shape, so that an old store is refused by name instead of misread.
_STORE_FORMAT = "3"
LOCK_FILENAME = ".sweep.lock"  # held while a sweep runs in the folder (`folder_lock`)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE points (
    point_id TEXT PRIMARY KEY, idx INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,
    row_json TEXT NOT NULL);
CREATE TABLE layers (
    point_id TEXT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL, row_json TEXT NOT NULL,
    PRIMARY KEY (point_id, seq));
CREATE TABLE evidence (
    plan TEXT NOT NULL, number_formats TEXT NOT NULL, matched_npz BLOB NOT NULL,
    PRIMARY KEY (plan, number_formats));
"""
_TABLES = {"meta", "points", "layers"}  # what every format has: without them it is no sweep store
_POINT_KEYS = ("point_id", "index", "status", "error")


def _json_default(value: object) -> object:
    # Workers hand back numpy scalars (np.int64 counts, np.bool_ flags); store them as plain values.
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


def _dumps(value: object) -> str:
    return json.dumps(value, default=_json_default)


@contextmanager
def folder_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s sweep lock for the duration, or refuse at once: two sweeps writing one store would
    recompute each other's points. The kernel releases the lock when the holder exits, however it dies, so
    no stale lock survives a killed sweep."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / LOCK_FILENAME
    with open(lock_path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepError(f"{out_dir}: another sweep is running in this folder (it holds {lock_path}); wait for it "
                             "to finish, or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SweepStore:
    """Finished design points of one sweep, in DIR/sweep.sqlite; each point is committed as it
    completes, so a killed sweep loses nothing that finished."""

    FILENAME = "sweep.sqlite"

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        # Executors may report finished points from callback threads: one statement at a time, so a
        # reader never sees a point whose layer rows are still being written.
        self._lock = threading.RLock()

    @classmethod
    def open(cls, out_dir: Path, spec_hash: str, spec_text: str, *, resume: bool) -> SweepStore:
        """The store in ``out_dir``: a new one, or (with ``resume``) the existing one of the same spec."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / cls.FILENAME
        existed = path.exists()
        if not existed:
            cls._create(path, spec_hash, spec_text)
        store = cls(path, cls._connect(path))
        try:
            store._check_valid()
            if existed and not resume:
                raise SweepError(
                    f"{path} already holds a sweep ({len(store.finished())} points finished); pass --resume to continue it, "
                    "or choose another --out")
            stored_hash = store.meta["spec_hash"]
            if stored_hash != spec_hash:
                raise SweepError(
                    f"{path} was written by a sweep with spec hash {stored_hash}, but this spec hashes to "
                    f"{spec_hash}: the spec changed since the store was written, and mixing two sweeps in one "
                    "store is refused; choose another --out (or restore the original spec to resume it)")
            # Only now, knowing the file is ours: WAL rewrites the database header.
            store._conn.execute("PRAGMA journal_mode=WAL")
            store._conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            return sqlite3.connect(path, check_same_thread=False)
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{path} cannot be opened as a sweep store ({exc})") from None

    @classmethod
    def _create(cls, path: Path, spec_hash: str, spec_text: str) -> None:
        # Built under a temporary name and renamed, so a kill during creation never leaves a
        # half-made store that --resume would then refuse.
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")  # unique per creator
        os.close(fd)
        tmp = Path(name)
        conn = sqlite3.connect(tmp)
        try:
            with conn:
                conn.executescript(_SCHEMA)
                meta = {
                    "spec_hash": spec_hash, "spec_text": spec_text,
                    "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "accelsim_version": accelsim.__version__, "store_format": _STORE_FORMAT,
                }
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", meta.items())
        finally:
            conn.close()
        os.replace(tmp, path)

    def _check_valid(self) -> None:
        try:
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise SweepError(f"{self.path} is a damaged sweep store ({'; '.join(problems[:3])})")
            tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = sorted(_TABLES - tables)
            if missing:
                raise SweepError(
                    f"{self.path} is not a sweep store: table(s) {', '.join(missing)} missing")
            meta = self.meta
        except sqlite3.DatabaseError as exc:
            raise SweepError(f"{self.path} is not a readable sweep store ({exc})") from None
        if meta.get("store_format") != _STORE_FORMAT or "spec_hash" not in meta:
            # Format 3 added each variant's per-frame evidence, which the paired comparisons need and
            # an older store cannot supply; a new --out recomputes only what the caches lack.
            raise SweepError(
                f"{self.path} is a sweep store of format {meta.get('store_format')!r}, without the per-frame "
                f"evidence that paired miss-rate comparisons need; run the sweep with another --out (compression "
                f"and accuracy come from the cache): this accelsim {accelsim.__version__} reads format "
                f"{_STORE_FORMAT!r} only")

    @property
    def meta(self) -> dict[str, str]:
        """spec_hash, spec_text, created_utc, accelsim_version and store_format of this store."""
        with self._lock:
            return dict(self._conn.execute("SELECT key, value FROM meta"))

    def finished(self, *, include_failed: bool = True) -> set[str]:
        """point_ids already recorded: ok ones, and failed ones unless ``include_failed`` is False."""
        sql = "SELECT point_id FROM points" + ("" if include_failed else " WHERE status = 'ok'")
        with self._lock:
            return {row[0] for row in self._conn.execute(sql)}

    def record(self, point: dict, layers: list[dict] | None = None) -> None:
        """Commit one finished point (and its per-layer rows), replacing any earlier record of it."""
        missing = [k for k in _POINT_KEYS if k not in point]
        if missing:
            raise ValueError(f"point lacks {', '.join(missing)}: {point!r}")
        if point["status"] not in ("ok", "failed"):
            raise ValueError(f"point status must be 'ok' or 'failed', not {point['status']!r}")
        point_id, idx = str(point["point_id"]), int(point["index"])
        row_json = _dumps(point)
        layer_rows = [(point_id, idx, seq, _dumps(layer)) for seq, layer in enumerate(layers or [])]
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO points (point_id, idx, status, error, row_json) VALUES (?, ?, ?, ?, ?)",
                (point_id, idx, point["status"], point["error"], row_json))
            self._conn.execute("DELETE FROM layers WHERE point_id = ?", (point_id,))
            self._conn.executemany(
                "INSERT INTO layers (point_id, idx, seq, row_json) VALUES (?, ?, ?, ?)", layer_rows)

    def record_evidence(self, plan: str, number_formats: str, matched: Matched) -> None:
        """Commit the per-frame evidence of one variant's evaluation, replacing any earlier one."""
        sink = io.BytesIO()
        np.savez(sink, positives=matched.positives, frame=matched.frame, score=matched.score,
                 true_positive=matched.true_positive)
        with self._lock, self._conn:
            self._conn.execute("INSERT OR REPLACE INTO evidence (plan, number_formats, matched_npz) VALUES (?, ?, ?)",
                               (plan, number_formats, sink.getvalue()))

    def evidence(self) -> dict[tuple[str, str], Matched]:
        """(plan, number_formats) -> that evaluation's 'reasonable' `Matched`."""
        with self._lock:
            stored = self._conn.execute("SELECT plan, number_formats, matched_npz FROM evidence").fetchall()
        out = {}
        for plan, formats, blob in stored:
            with np.load(io.BytesIO(blob)) as a:
                out[(plan, formats)] = Matched(len(a["positives"]), a["positives"], a["frame"], a["score"],
                                               a["true_positive"])
        return out

    def results(self) -> pd.DataFrame:
        """One row per recorded point, sorted by index.

        Columns: point_id, index, status, error, then the other keys in the order they first appear
        going through the points by index (so the order does not depend on which worker finished
        first); a key a point lacks (a failed point's metrics) is NaN."""
        with self._lock:
            stored = self._conn.execute("SELECT row_json FROM points ORDER BY idx, point_id").fetchall()
        rows = [json.loads(r[0]) for r in stored]
        return _frame(rows, list(_POINT_KEYS))

    def layer_results(self) -> pd.DataFrame:
        """One row per (point, layer): point_id, index, then the layer rows' keys; empty if none."""
        with self._lock:
            stored = self._conn.execute(
                "SELECT point_id, idx, row_json FROM layers ORDER BY idx, point_id, seq").fetchall()
        rows = [{"point_id": point_id, "index": idx, **json.loads(row_json)} for point_id, idx, row_json in stored]
        return _frame(rows, ["point_id", "index"])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _frame(rows: list[dict], leading: list[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    columns = dict.fromkeys(leading)
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pd.DataFrame.from_records(rows, columns=list(columns))
