"""The cache: entries ``<root>/<kind>/<key>.entry``, checked on every read, written atomically,
computed once across processes.

Reading never trusts a file: an entry that fails any check (see ``entry.py``) or that its codec cannot
decode is reported in one warning line, deleted and recomputed. Writing goes to a unique temporary
file in the same directory, fsynced, then renamed over the entry, so a reader sees the old entry or
the new one, never part of one. A write that fails loses the cache, never the computed value.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Generic, TypeVar

from filelock import FileLock

from accelsim.cache.codec import Codec
from accelsim.cache.entry import Damaged, Expected, pack, unpack
from accelsim.cache.location import NUMBA_SUBDIR, cache_dir

T = TypeVar("T")

ENTRY_SUFFIX = ".entry"
LOCK_SUFFIX = ".lock"
TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 3600.0  # a write takes seconds; a temporary this old was left by a killed process
_KIND = re.compile(r"[a-z][a-z0-9-]{0,31}")
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")  # no dots or slashes: a key is one file name
_RESERVED_KINDS = frozenset({NUMBA_SUBDIR})  # directories under the root that hold no entries


def warn_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Lookup(Generic[T]):
    value: T
    hit: bool  # True: read from the cache; False: computed by this call
    path: Path  # the entry file
    compute_s: float  # wall seconds this call spent computing (0.0 on a hit)
    waited_s: float  # wall seconds spent waiting for another process's lock


@dataclass(frozen=True)
class KindInfo:
    entries: int
    size_bytes: int
    oldest_use_utc: datetime  # entries' modification times: written, or last read
    newest_use_utc: datetime


@dataclass(frozen=True)
class CacheInfo:
    root: Path
    total_bytes: int  # every file under the root
    kinds: dict[str, KindInfo]
    stray_files: tuple[Path, ...]  # temporaries and lock files left by killed processes
    stray_bytes: int
    other_bytes: int  # what is neither entry nor stray: Numba's kernels, the file digest memo


@dataclass(frozen=True)
class _Found(Generic[T]):
    value: T


@dataclass(frozen=True)
class _Broken:
    reason: str


class Cache:
    """Entries by kind (a short slug: ``compressed``, ``accuracy``) and key (``key_of(...)``)."""

    def __init__(self, root: Path, warn: Callable[[str], None] | None = None):
        self.root = Path(root)
        self._warn = warn or warn_stderr

    def entry_path(self, kind: str, key: str) -> Path:
        _check_kind(kind)
        if not _KEY.fullmatch(key):
            raise ValueError(f"cache key must be 1-128 letters, digits, '_' or '-', not {key!r}")
        return self.root / kind / f"{key}{ENTRY_SUFFIX}"

    def get_or_compute(self, kind: str, key: str, compute: Callable[[], T], codec: Codec[T]) -> Lookup[T]:
        """The cached value, or ``compute()``'s, stored. Of several processes asking for the same
        entry at once, one computes; the others wait for its lock and read what it wrote."""
        path = self.entry_path(kind, key)
        expected = Expected(kind, key, codec.name)
        found = self._read(path, expected, codec)  # no lock: most lookups are hits
        if isinstance(found, _Found):
            return Lookup(found.value, True, path, 0.0, 0.0)
        asked = time.perf_counter()
        with self._locked(path, "computing without the cache") as locked:
            waited_s = time.perf_counter() - asked
            if locked:
                found = self._read(path, expected, codec)  # the lock's previous holder may have written it
                if isinstance(found, _Found):
                    return Lookup(found.value, True, path, 0.0, waited_s)
                if isinstance(found, _Broken):
                    self._discard(path, found.reason, "recomputing")
            started = time.perf_counter()
            value = compute()
            compute_s = time.perf_counter() - started
            if locked:
                self._write(path, expected, codec.encode(value))
        return Lookup(value, False, path, compute_s, waited_s)

    def get(self, kind: str, key: str, codec: Codec[T]) -> T | None:
        """The cached value, or None when there is none or it was damaged (warned and deleted)."""
        path = self.entry_path(kind, key)
        expected = Expected(kind, key, codec.name)
        found = self._read(path, expected, codec)
        if isinstance(found, _Broken):
            # under the lock: a writer may have just replaced the damaged entry with a good one
            with self._locked(path, "leaving it") as locked:
                found = self._read(path, expected, codec)
                if locked and isinstance(found, _Broken):
                    self._discard(path, found.reason, "removed it")
        return found.value if isinstance(found, _Found) else None

    def put(self, kind: str, key: str, value: T, codec: Codec[T]) -> Path:
        """Store ``value``; returns the entry's path, which exists unless the write failed (warned)."""
        path = self.entry_path(kind, key)
        payload = codec.encode(value)
        with self._locked(path, "not caching the value") as locked:
            if locked:
                self._write(path, Expected(kind, key, codec.name), payload)
        return path

    def kinds(self) -> list[str]:
        """The kinds that have a directory under the root."""
        try:
            return sorted(p.name for p in self.root.iterdir()
                          if p.is_dir() and _KIND.fullmatch(p.name) and p.name not in _RESERVED_KINDS)
        except OSError:  # no root yet, or not a directory: no kinds
            return []

    def info(self) -> CacheInfo:
        kinds: dict[str, KindInfo] = {}
        strays: list[tuple[Path, os.stat_result]] = []
        for kind in self.kinds():
            entries, kind_strays = self._scan(kind)
            strays += kind_strays
            if entries:
                used = [datetime.fromtimestamp(st.st_mtime, timezone.utc) for _, st in entries]
                kinds[kind] = KindInfo(len(entries), sum(st.st_size for _, st in entries), min(used), max(used))
        total = _tree_bytes(self.root)
        stray_bytes = sum(st.st_size for _, st in strays)
        return CacheInfo(self.root, total, kinds, tuple(p for p, _ in strays), stray_bytes,
                         total - stray_bytes - sum(k.size_bytes for k in kinds.values()))

    def clear(self, older_than: timedelta | None = None, kind: str | None = None) -> tuple[int, int]:
        """Remove the entries (of ``kind``, or all) not used for ``older_than`` (or all), and the
        temporaries and lock files that killed processes left; returns (entries removed, bytes freed)."""
        now = time.time()
        cutoff = now - older_than.total_seconds() if older_than is not None else math.inf
        removed, freed_bytes = 0, 0
        for name in [_check_kind(kind)] if kind is not None else self.kinds():
            entries, strays = self._scan(name)
            for path, st in entries:
                if st.st_mtime < cutoff and _unlink(path):
                    removed += 1
                    freed_bytes += st.st_size
            for path, st in strays:
                if _remove_stray(path, st, now):
                    freed_bytes += st.st_size
        return removed, freed_bytes

    def _read(self, path: Path, expected: Expected, codec: Codec[T]) -> _Found[T] | _Broken | None:
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            return _Broken(f"unreadable: {_reason(exc)}")
        try:
            value = codec.decode(unpack(data, expected))
        except Damaged as exc:
            return _Broken(str(exc))
        except Exception as exc:  # any failure of a codec means the payload is unusable
            return _Broken(f"the {codec.name} codec cannot decode it: {type(exc).__name__}: {_one_line(exc)}")
        with suppress(OSError):  # a read-only cache still serves hits
            os.utime(path)  # the last use, which `clear(older_than=...)` goes by
        return _Found(value)

    def _discard(self, path: Path, reason: str, then: str) -> None:
        try:
            path.unlink(missing_ok=True)
            failed = ""
        except OSError as exc:
            failed = f", and cannot be removed ({_reason(exc)})"
        self._warn(f"warning: cache entry {path} is damaged ({reason}){failed}; {then}")

    @contextmanager
    def _locked(self, path: Path, otherwise: str) -> Iterator[bool]:
        """Holds the entry's lock and yields True; yields False (warned: ``otherwise``) when the
        lock cannot be taken, e.g. in a read-only cache. The OS releases the lock of a killed process."""
        lock_path = path.with_suffix(LOCK_SUFFIX)
        lock = FileLock(lock_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except OSError as exc:
            self._warn(f"warning: cannot lock cache entry {path} ({_reason(exc)}); {otherwise}")
            acquired = False
        else:
            acquired = True
        if not acquired:  # yielded outside the except block, so the caller's errors do not chain to it
            yield False
            return
        try:
            yield True
        finally:
            # removed while still held, so lock files do not pile up; a waiter that opened this file
            # finds it unlinked once it gets the lock and takes a fresh one (filelock >= 4)
            with suppress(OSError):
                lock_path.unlink()
            lock.release()

    def _write(self, path: Path, expected: Expected, payload: bytes) -> None:
        data = pack(expected, payload)
        temp: str | None = None
        try:
            descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=TEMP_SUFFIX)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
            temp = None
        except OSError as exc:
            self._warn(f"warning: cannot write cache entry {path} ({_reason(exc)}); the value is used but not cached")
        finally:
            if temp is not None:
                with suppress(OSError):
                    os.unlink(temp)

    def _scan(self, kind: str) -> tuple[list[tuple[Path, os.stat_result]], list[tuple[Path, os.stat_result]]]:
        """(entries, strays) of one kind, each with its stat; files that vanish meanwhile are left out."""
        entries, strays = [], []
        try:
            names = list((self.root / kind).iterdir())
        except OSError:
            return [], []
        for path in names:
            try:
                st = path.stat()
            except OSError:
                continue
            if path.name.endswith(ENTRY_SUFFIX):
                entries.append((path, st))
            elif path.name.endswith((TEMP_SUFFIX, LOCK_SUFFIX)):
                strays.append((path, st))
        return entries, strays


def default_cache() -> Cache:
    """The cache at ``cache_dir()``, warning on stderr."""
    return Cache(cache_dir())


def _check_kind(kind: str) -> str:
    if not _KIND.fullmatch(kind) or kind in _RESERVED_KINDS:
        raise ValueError(f"cache kind must be a lowercase slug of at most 32 characters other than "
                         f"{', '.join(sorted(_RESERVED_KINDS))}, not {kind!r}")
    return kind


def _remove_stray(path: Path, st: os.stat_result, now: float) -> bool:
    """Remove a temporary old enough to be abandoned, or a lock file that nobody holds."""
    if path.name.endswith(TEMP_SUFFIX):
        return st.st_mtime < now - STALE_TEMP_S and _unlink(path)
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except OSError:  # held by a live process (filelock.Timeout is an OSError), or not ours to lock
        return False
    try:
        return _unlink(path)
    finally:
        lock.release()


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except OSError:
        return False
    return True


def _tree_bytes(root: Path) -> int:
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _reason(exc: OSError) -> str:
    return exc.strerror or _one_line(exc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
