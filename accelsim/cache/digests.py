"""``file_digest``: the sha256 of a file's content, read once per version of the file.

A memo in the cache directory (SQLite, which serialises concurrent processes) maps a resolved path
to its digest together with the file's stamp: size, modification and status-change times (ns) and
inode. A file whose stamp is unchanged is not read again; any write changes the status-change time,
even one that restores the modification time and size. A memo that SQLite finds damaged is removed
and rebuilt (warned); a memo that cannot be opened only costs re-reading.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import TypeVar

from accelsim.cache.location import cache_dir
from accelsim.cache.store import warn_stderr

MEMO_FILE = "file-digests.sqlite"
# A file changed this recently may change again within the same timestamp tick (coarse on some file
# systems), leaving its stamp as it was; its digest is used but not memoised. Goes by the status-change
# time too, which no program can set back.
_SETTLE_NS = 2_000_000_000
_SQLITE_BUSY_TIMEOUT_S = 30.0
_DAMAGE_CODES = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_unavailable_warned: set[Path] = set()  # memos that could not be opened, warned once per process

R = TypeVar("R")


def file_digest(path: str | os.PathLike, *, warn: Callable[[str], None] | None = None) -> str:
    """The sha256 (64 hex) of the file's content; ``warn`` receives a line about a damaged memo."""
    resolved = Path(path).resolve()
    before = resolved.stat()
    stamp = _stamp(before)
    memo = _Memo(cache_dir() / MEMO_FILE, warn or warn_stderr)
    known = memo.lookup(str(resolved), stamp)
    if known is not None:
        return known
    digest = _sha256_of_file(resolved)
    changed_ns = max(before.st_mtime_ns, before.st_ctime_ns)
    if _stamp(resolved.stat()) == stamp and time.time_ns() - changed_ns > _SETTLE_NS:
        memo.store(str(resolved), stamp, digest)
    return digest


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _sha256_of_file(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


class _Memo:
    def __init__(self, path: Path, warn: Callable[[str], None]):
        self.path = path
        self._warn = warn

    def lookup(self, name: str, stamp: str) -> str | None:
        row = self._run(lambda db: db.execute("SELECT sha256 FROM digests WHERE path = ? AND stamp = ?",
                                              (name, stamp)).fetchone())
        # a value that is not a digest is not trusted, whatever wrote it
        return row[0] if row and isinstance(row[0], str) and _SHA256_HEX.fullmatch(row[0]) else None

    def store(self, name: str, stamp: str, digest: str) -> None:
        self._run(lambda db: db.execute("INSERT OR REPLACE INTO digests (path, stamp, sha256) VALUES (?, ?, ?)",
                                        (name, stamp, digest)))

    def _run(self, action: Callable[[sqlite3.Connection], R]) -> R | None:
        try:
            return self._open_and(action)
        except sqlite3.DatabaseError as exc:
            if (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF not in _DAMAGE_CODES:
                return self._unavailable(str(exc))
            self._warn(f"warning: file digest memo {self.path} is damaged ({exc}); rebuilding it")
            self._remove()
        except OSError as exc:
            return self._unavailable(exc.strerror or str(exc))
        try:
            return self._open_and(action)
        except (sqlite3.DatabaseError, OSError) as exc:
            return self._unavailable(str(exc))

    def _open_and(self, action: Callable[[sqlite3.Connection], R]) -> R:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=_SQLITE_BUSY_TIMEOUT_S, isolation_level=None)) as db:
            db.execute("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, stamp TEXT, sha256 TEXT)")
            return action(db)

    def _remove(self) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            with suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _unavailable(self, reason: str) -> None:
        """Warns once per process and memo: a read-only cache would otherwise warn at every digest."""
        if self.path not in _unavailable_warned:
            _unavailable_warned.add(self.path)
            self._warn(f"warning: file digest memo {self.path} is unavailable ({reason}); digests are computed anew")
