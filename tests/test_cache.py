"""The cache: keys, entries that are checked on every read, atomic writes, one computation across
processes, the file digest memo, location and Numba's kernel cache."""

from __future__ import annotations

import errno
import hashlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import platformdirs
import pytest
from filelock import FileLock

import accelsim
from accelsim.cache import (BytesCodec, Cache, JsonCodec, cache_dir, default_cache, file_digest, key_of,
                            source_digest)
from accelsim.cache import digests
from accelsim.cache.entry import Expected, pack
from accelsim.cache.keys import digest_sources

PACKAGE_DIR = Path(accelsim.__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
KIND = "accuracy"
KEY = key_of("test-entry")
OTHER_KEY = key_of("another-entry")

JSON_VALUE = {"miss_rate": 0.0266, "curve": [0.1, 1 / 3, 1e-300, -0.0, float("inf")], "name": "Fußgänger"}
BYTES_VALUE = bytes(range(256)) * 2
CODECS = [pytest.param(JsonCodec(), JSON_VALUE, id="json"), pytest.param(BytesCodec(), BYTES_VALUE, id="bytes")]


class Recorder:
    """A compute function that counts its calls."""

    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def warnings() -> list[str]:
    return []


@pytest.fixture
def cache(root, warnings) -> Cache:
    return Cache(root, warn=warnings.append)


def _subprocess_env(**overrides: str | None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for name, value in overrides.items():
        env.pop(name, None)
        if value is not None:
            env[name] = value
    return env


# --- round trips and keys ------------------------------------------------------------------------

@pytest.mark.parametrize("codec, value", CODECS)
def test_round_trip_miss_then_hit(cache, warnings, codec, value):
    compute = Recorder(value)
    first = cache.get_or_compute(KIND, KEY, compute, codec)
    second = cache.get_or_compute(KIND, KEY, compute, codec)
    assert (first.hit, second.hit) == (False, True)
    assert first.value == value and second.value == value
    assert compute.calls == 1
    assert first.path == second.path == cache.root / KIND / f"{KEY}.entry"
    assert second.compute_s == 0.0 and first.compute_s >= 0.0
    assert cache.get(KIND, KEY, codec) == value
    assert sorted(p.name for p in (cache.root / KIND).iterdir()) == [f"{KEY}.entry"]  # no lock or temporary left
    assert warnings == []


@pytest.mark.parametrize("codec, value", CODECS)
def test_put_then_get(cache, codec, value):
    assert cache.get(KIND, KEY, codec) is None
    path = cache.put(KIND, KEY, value, codec)
    assert path.is_file()
    assert cache.get(KIND, KEY, codec) == value


def test_json_floats_round_trip_exactly(cache):
    value = {"x": [0.1 + 0.2, 2.0 ** -1074, 1.7976931348623157e308, float("nan"), float("-inf")]}
    cache.put(KIND, KEY, value, JsonCodec())
    got = cache.get(KIND, KEY, JsonCodec())["x"]
    assert got[:3] == value["x"][:3] and math.isnan(got[3]) and got[4] == float("-inf")


def test_kind_and_key_are_validated(cache):
    for kind in ("", "Accuracy", "a/b", "../x", "numba", "x" * 33):
        with pytest.raises(ValueError, match="cache kind"):
            cache.entry_path(kind, KEY)
    for key in ("", "../k", "a.b", "a/b", "k" * 129):
        with pytest.raises(ValueError, match="cache key"):
            cache.entry_path(KIND, key)


def test_key_ignores_dict_order_and_sequence_type():
    assert key_of({"a": 1, "b": {"c": [1, 2], "d": None}}) == key_of({"b": {"d": None, "c": (1, 2)}, "a": 1})
    assert len(key_of("x")) == 32 and int(key_of("x"), 16) >= 0


def test_key_is_pinned():
    # a changed encoding must be a deliberate decision: it orphans every existing entry
    assert key_of("accelsim", {"b": [1, 2.5], "a": None}, b"\x00") == "b7342b793aa9ba845c3e7d8890207379"


BASE = ("deepped-small", {"sparsity": 0.5, "clusters": [16, 32], "format": "int8"}, b"\x00\x01",
        np.zeros((2, 3), dtype=np.int32), 3, None, True)


def _replaced(index: int, value) -> tuple:
    return BASE[:index] + (value,) + BASE[index + 1:]


VARIANTS = {
    "base": BASE,
    "string": _replaced(0, "deepped-smal"),
    "float ulp": _replaced(1, {**BASE[1], "sparsity": 0.5000000000000001}),
    "nested list": _replaced(1, {**BASE[1], "clusters": [16, 33]}),
    "dict key": _replaced(1, {"sparsity ": 0.5, "clusters": [16, 32], "format": "int8"}),
    "bytes": _replaced(2, b"\x00\x02"),
    "bytes as str": _replaced(2, "\x00\x01"),
    "array dtype (same bytes)": _replaced(3, np.zeros((2, 3), dtype=np.float32)),
    "array shape": _replaced(3, np.zeros((3, 2), dtype=np.int32)),
    "array rank": _replaced(3, np.zeros((1, 2, 3), dtype=np.int32)),
    "array value": _replaced(3, np.array([[0, 0, 0], [0, 0, 1]], dtype=np.int32)),
    "int as float": _replaced(4, 3.0),
    "int as str": _replaced(4, "3"),
    "None as 0": _replaced(5, 0),
    "True as 1": _replaced(6, 1),
    "one more part": BASE + ("",),
    "one part fewer": BASE[:-1],
    "parts nested": (BASE,),
}


def test_any_change_of_any_part_changes_the_key():
    keys = {name: key_of(*parts) for name, parts in VARIANTS.items()}
    assert len(set(keys.values())) == len(keys), keys
    assert key_of("ab") != key_of("a", "b") != key_of(["a", "b"])
    assert key_of(0.0) != key_of(-0.0)


def test_key_of_numpy_scalars_and_views():
    assert key_of(np.float64(0.1)) == key_of(0.1)
    assert key_of(np.int64(3)) == key_of(3)
    assert key_of(np.float32(0.1)) == key_of(float(np.float32(0.1))) != key_of(0.1)
    assert key_of(np.bool_(True)) == key_of(True)
    matrix = np.arange(12, dtype=np.int16).reshape(3, 4)
    assert key_of(matrix.T) == key_of(np.ascontiguousarray(matrix.T)) != key_of(matrix)


@pytest.mark.parametrize("value", [{1, 2}, Path("x"), object(), {1: "a"}, np.array([None, 1], dtype=object)])
def test_key_of_refuses_what_it_cannot_encode_exactly(value):
    with pytest.raises(TypeError, match="key_of"):
        key_of(value)


# --- damaged entries ---------------------------------------------------------------------------

def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def _header_index(data: bytes) -> int:
    return data.index(b"created_utc") + 20  # inside the timestamp, which nothing but the checksum covers


def _damages(cache: Cache, codec, value) -> dict[str, tuple[bytes, str]]:
    """name -> (content of the damaged entry file, part of the expected warning)."""
    good = cache.entry_path(KIND, KEY).read_bytes()
    other_key = cache.put(KIND, OTHER_KEY, value, codec).read_bytes()
    other_kind = cache.put("compressed", KEY, value, codec).read_bytes()
    other_codec = pack(Expected(KIND, KEY, "other-codec"), codec.encode(value))
    return {
        "truncated in the payload": (good[:-1], "truncated: "),
        "truncated in the header": (good[:40], "truncated header"),
        "empty": (b"", "empty file"),
        "header byte flipped": (_flip(good, _header_index(good)), "header checksum mismatch"),
        "checksum byte flipped": (_flip(good, good.index(b"}\n") + 5), "header checksum mismatch"),
        "payload byte flipped": (_flip(good, len(good) - 1), "payload checksum mismatch"),
        "trailing bytes": (good + b"\n", "1 bytes after the payload"),
        "foreign JSON": (b'{"miss_rate": 0.5}', "not a cache entry"),
        "another key's entry": (other_key, f"key {OTHER_KEY!r}"),
        "another kind's entry": (other_kind, "holds kind 'compressed'"),
        "another codec's entry": (other_codec, "codec 'other-codec'"),
        "future format version": (good.replace(b"entry 1\n", b"entry 2\n", 1), "format version '2'"),
    }


@pytest.mark.parametrize("codec, value", CODECS)
def test_a_damaged_entry_is_reported_once_removed_and_recomputed(cache, warnings, codec, value):
    cache.put(KIND, KEY, value, codec)
    path = cache.entry_path(KIND, KEY)
    for name, (content, reason) in _damages(cache, codec, value).items():
        path.write_bytes(content)
        warnings.clear()
        compute = Recorder(value)
        found = cache.get_or_compute(KIND, KEY, compute, codec)
        assert len(warnings) == 1, (name, warnings)
        assert warnings[0].startswith(f"warning: cache entry {path} is damaged (") and reason in warnings[0], name
        assert warnings[0].endswith("; recomputing") and "\n" not in warnings[0]
        assert (found.value, found.hit, compute.calls) == (value, False, 1), name
        again = cache.get_or_compute(KIND, KEY, compute, codec)
        assert (again.value, again.hit, compute.calls, len(warnings)) == (value, True, 1, 1), name


@pytest.mark.parametrize("codec, value", [pytest.param(JsonCodec(), {"m": 0.5}, id="json"),
                                          pytest.param(BytesCodec(), b"\x00payload\xff", id="bytes")])
def test_one_byte_flipped_anywhere_is_found(cache, warnings, codec, value):
    good = cache.put(KIND, KEY, value, codec).read_bytes()
    path = cache.entry_path(KIND, KEY)
    for index in range(len(good)):
        path.write_bytes(_flip(good, index))
        warnings.clear()
        compute = Recorder(value)
        found = cache.get_or_compute(KIND, KEY, compute, codec)
        assert (len(warnings), compute.calls, found.value) == (1, 1, value), (index, warnings)
        assert str(path) in warnings[0]


def test_a_payload_the_codec_cannot_decode_is_damage(cache, warnings):
    path = cache.entry_path(KIND, KEY)
    path.parent.mkdir(parents=True)
    path.write_bytes(pack(Expected(KIND, KEY, "json"), b"{not json"))  # checksums right, content wrong
    found = cache.get_or_compute(KIND, KEY, Recorder({"m": 1.0}), JsonCodec())
    assert found.value == {"m": 1.0} and not found.hit
    assert len(warnings) == 1 and "the json codec cannot decode it: JSONDecodeError" in warnings[0]


def test_get_of_a_damaged_entry_warns_deletes_and_returns_none(cache, warnings):
    path = cache.put(KIND, KEY, {"m": 1.0}, JsonCodec())
    path.write_bytes(path.read_bytes()[:-2])
    assert cache.get(KIND, KEY, JsonCodec()) is None
    assert not path.exists()
    assert warnings == [f"warning: cache entry {path} is damaged (truncated: 7 of 9 payload bytes); removed it"]


# --- failing writes, locks ---------------------------------------------------------------------

def test_a_failing_write_warns_once_and_keeps_the_value(cache, warnings, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    found = cache.get_or_compute(KIND, KEY, Recorder({"m": 0.25}), JsonCodec())
    assert (found.value, found.hit) == ({"m": 0.25}, False)
    assert warnings == [f"warning: cannot write cache entry {found.path} (No space left on device); "
                        f"the value is used but not cached"]
    assert list((cache.root / KIND).iterdir()) == []  # neither the temporary nor the lock is left


def test_an_unusable_cache_directory_warns_once_and_keeps_the_value(tmp_path, warnings):
    (tmp_path / "file").write_text("not a directory")
    cache = Cache(tmp_path / "file" / "cache", warn=warnings.append)
    found = cache.get_or_compute(KIND, KEY, Recorder([1, 2]), JsonCodec())
    assert (found.value, found.hit) == ([1, 2], False)
    assert len(warnings) == 1 and warnings[0].startswith("warning: cannot lock cache entry")
    assert warnings[0].endswith("(Not a directory); computing without the cache")


def test_a_lock_left_by_a_killed_process_does_not_block(cache, warnings):
    lock_path = cache.entry_path(KIND, KEY).with_suffix(".lock")
    lock_path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; FileLock(sys.argv[1]).acquire(); "
                               "print('held', flush=True); time.sleep(600)", str(lock_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=60)
    assert lock_path.exists()  # left behind, still named like a lock
    found = cache.get_or_compute(KIND, KEY, Recorder({"m": 2.0}), JsonCodec())
    assert (found.value, found.hit, warnings) == ({"m": 2.0}, False, [])
    assert not lock_path.exists()


CHILD = r"""
import json, os, sys, time
from pathlib import Path
from accelsim.cache import Cache, JsonCodec

root, counter, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
ready.touch()
deadline = time.monotonic() + 120
while not go.exists():  # start together, so that all three miss
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.01)

def compute():
    with counter.open("a") as file:
        file.write(f"{os.getpid()}\n")
    time.sleep(1.0)
    return {"computed_by": os.getpid(), "x": [0.1, 1 / 3]}

found = Cache(Path(root)).get_or_compute("accuracy", "k" * 32, compute, JsonCodec())
print(json.dumps({"value": found.value, "hit": found.hit}))
"""


def test_three_processes_compute_once_and_agree(tmp_path):
    import json

    counter, go = tmp_path / "counter.txt", tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "cache"), str(counter),
                                  str(tmp_path / f"ready-{i}"), str(go)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_subprocess_env())
                 for i in range(3)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{i}").exists() for i in range(3)) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], outputs
    results = [json.loads(out) for out, _ in outputs]
    assert len(counter.read_text().splitlines()) == 1
    assert results[0]["value"] == results[1]["value"] == results[2]["value"]
    assert results[0]["value"]["x"] == [0.1, 1 / 3]
    assert sorted(r["hit"] for r in results) == [False, True, True]
    assert all(err == "" for _, err in outputs)


# --- info and clear ----------------------------------------------------------------------------

DAY_S = 86400.0


def _age(path: Path, seconds: float) -> int:
    """Sets the modification time ``seconds`` back, to a whole second (exact in a float)."""
    mtime = int(time.time() - seconds)
    os.utime(path, (mtime, mtime))
    return mtime


def _populated(cache: Cache) -> dict:
    """Entries of two kinds at known ages, strays and other files; returns what was made."""
    old = [cache.put(KIND, key_of("old", i), {"i": i}, JsonCodec()) for i in range(2)]
    new = [cache.put(KIND, key_of("new"), {"i": 9}, JsonCodec())]
    compressed = [cache.put("compressed", key_of("c", i), bytes(1000 * (i + 1)), BytesCodec()) for i in range(2)]
    times = {p: _age(p, 10 * DAY_S + i) for i, p in enumerate(old)}
    times |= {new[0]: _age(new[0], 60), compressed[0]: _age(compressed[0], 3 * 3600), compressed[1]: _age(compressed[1], 30)}
    stale_temp = cache.root / KIND / f".{key_of('x')}.abc123.tmp"
    stale_temp.write_bytes(b"partial" * 10)
    _age(stale_temp, 2 * 3600)
    fresh_temp = cache.root / KIND / f".{key_of('y')}.def456.tmp"
    fresh_temp.write_bytes(b"being written")
    lock = cache.root / "compressed" / f"{key_of('z')}.lock"
    lock.touch()
    (cache.root / "numba").mkdir()
    (cache.root / "numba" / "kernel.nbi").write_bytes(b"n" * 123)
    (cache.root / "file-digests.sqlite").write_bytes(b"s" * 456)
    return {"old": old, "new": new, "compressed": compressed, "times": times, "stale_temp": stale_temp,
            "fresh_temp": fresh_temp, "lock": lock}


def _size(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def test_info_counts_entries_strays_and_other_files(cache):
    made = _populated(cache)
    info = cache.info()
    accuracy, compressed = info.kinds[KIND], info.kinds["compressed"]
    assert sorted(info.kinds) == ["accuracy", "compressed"]
    assert (accuracy.entries, accuracy.size_bytes) == (3, _size(made["old"] + made["new"]))
    assert (compressed.entries, compressed.size_bytes) == (2, _size(made["compressed"]))
    stamp = {p: datetime.fromtimestamp(t, timezone.utc) for p, t in made["times"].items()}
    assert accuracy.oldest_use_utc == stamp[made["old"][1]] and accuracy.newest_use_utc == stamp[made["new"][0]]
    assert compressed.oldest_use_utc == stamp[made["compressed"][0]]
    assert set(info.stray_files) == {made["stale_temp"], made["fresh_temp"], made["lock"]}
    assert info.stray_bytes == 70 + 13
    assert info.other_bytes == 123 + 456
    assert info.total_bytes == accuracy.size_bytes + compressed.size_bytes + 83 + 579


def test_clear_by_age_then_kind_then_all(cache):
    made = _populated(cache)
    old_bytes, new_bytes = _size(made["old"]), _size(made["new"])
    compressed_bytes = [_size([p]) for p in made["compressed"]]
    assert cache.clear(older_than=timedelta(days=7)) == (2, old_bytes + 70)
    assert not made["stale_temp"].exists() and not made["lock"].exists()
    assert made["fresh_temp"].exists()  # may belong to a running writer
    assert all(p.exists() for p in made["new"] + made["compressed"])
    assert cache.clear(older_than=timedelta(hours=1)) == (1, compressed_bytes[0])
    assert cache.clear(kind=KIND) == (1, new_bytes)
    assert made["compressed"][1].exists()
    assert cache.clear() == (1, compressed_bytes[1])
    assert cache.info().kinds == {}
    assert (cache.root / "numba" / "kernel.nbi").exists()


def test_clear_leaves_a_lock_that_is_held(cache):
    lock_path = cache.root / KIND / f"{KEY}.lock"
    lock_path.parent.mkdir(parents=True)
    with FileLock(lock_path):
        cache.clear()
        assert lock_path.exists()


def test_a_hit_counts_as_use(cache):
    path = cache.put(KIND, KEY, {"m": 1.0}, JsonCodec())
    old = _age(path, 10 * DAY_S)
    assert cache.get_or_compute(KIND, KEY, Recorder(None), JsonCodec()).hit
    assert path.stat().st_mtime > old + 9 * DAY_S
    assert cache.clear(older_than=timedelta(days=7)) == (0, 0)


def test_info_and_clear_of_a_cache_not_yet_created(tmp_path):
    cache = Cache(tmp_path / "nothing")
    assert cache.info().total_bytes == 0 and cache.info().kinds == {}
    assert cache.clear() == (0, 0)


# --- file digests --------------------------------------------------------------------------------

@pytest.fixture
def settled(monkeypatch):
    """Memoise files however recently they changed: the tests set modification times themselves."""
    monkeypatch.setattr(digests, "_SETTLE_NS", -(10 ** 18))


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    seen: list[Path] = []
    real = digests._sha256_of_file

    def counting(path):
        seen.append(path)
        return real(path)

    monkeypatch.setattr(digests, "_sha256_of_file", counting)
    return seen


def _write(path: Path, content: bytes, mtime_s: float) -> None:
    path.write_bytes(content)
    os.utime(path, (mtime_s, mtime_s))


def test_file_digest_is_the_content_sha256_and_read_once(root, tmp_path, settled, reads):
    path = tmp_path / "weights.bin"
    _write(path, b"abcd" * 1000, 1_700_000_000)
    expected = hashlib.sha256(b"abcd" * 1000).hexdigest()
    assert file_digest(path) == file_digest(tmp_path / "." / "weights.bin") == expected
    assert len(reads) == 1
    assert (root / "file-digests.sqlite").is_file()


def test_file_digest_sees_a_same_size_change(root, tmp_path, settled, reads):
    path = tmp_path / "weights.bin"
    _write(path, b"aaaa", 1_700_000_000)
    first = file_digest(path)
    _write(path, b"bbbb", 1_700_000_001)
    assert file_digest(path) == hashlib.sha256(b"bbbb").hexdigest() != first
    assert len(reads) == 2


def test_file_digest_does_not_memoise_a_file_changed_just_now(root, tmp_path, reads):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"fresh")
    assert file_digest(path) == file_digest(path) == hashlib.sha256(b"fresh").hexdigest()
    assert len(reads) == 2


def test_a_damaged_digest_memo_is_rebuilt_with_one_warning(root, tmp_path, settled, reads, warnings):
    path = tmp_path / "weights.bin"
    _write(path, b"abcd", 1_700_000_000)
    memo = root / "file-digests.sqlite"
    memo.parent.mkdir(parents=True)
    memo.write_bytes(b"this is no SQLite database " * 200)
    assert file_digest(path, warn=warnings.append) == hashlib.sha256(b"abcd").hexdigest()
    assert warnings == [f"warning: file digest memo {memo} is damaged (file is not a database); rebuilding it"]
    assert file_digest(path, warn=warnings.append) == hashlib.sha256(b"abcd").hexdigest()
    assert len(warnings) == 1 and len(reads) == 1  # the rebuilt memo served the second call


def test_a_memo_row_that_is_not_a_digest_is_not_trusted(root, tmp_path, settled, reads):
    import sqlite3

    path = tmp_path / "weights.bin"
    _write(path, b"abcd", 1_700_000_000)
    file_digest(path)
    with sqlite3.connect(root / "file-digests.sqlite") as db:
        db.execute("UPDATE digests SET sha256 = 'garbage'")
    assert file_digest(path) == hashlib.sha256(b"abcd").hexdigest()
    assert len(reads) == 2


# --- source digests ----------------------------------------------------------------------------

def test_source_digest_is_stable_and_order_free():
    assert source_digest("accelsim.cache", "accelsim.units") == source_digest("accelsim.units", "accelsim.cache")
    assert source_digest("accelsim.cache") != source_digest("accelsim.units") != source_digest("accelsim.cache", "accelsim.units")
    for bad in ("accelsim.nothing", "numpy", "accelsim.cache.nothing"):
        with pytest.raises(ValueError):
            source_digest(bad)


def test_digest_sources_recursive_and_content_based(tmp_path):
    pkg = tmp_path / "pkg"
    for folder in (pkg, pkg / "sub", pkg / "sub" / "__pycache__"):
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (pkg / "sub" / "m.py").write_text("X = 1\n")
    (pkg / "other.py").write_text("Y = 1\n")

    def digests_now():
        return {name: digest_sources(pkg, (name,)) for name in ("pkg", "pkg.sub", "pkg.sub.m", "pkg.other")}

    before = digests_now()
    (pkg / "sub" / "__pycache__" / "__init__.py").write_text("ignored")
    (pkg / "notes.txt").write_text("not a source")
    assert digests_now() == before
    (pkg / "sub" / "m.py").write_text("X = 2\n")
    after = digests_now()
    assert [after[n] != before[n] for n in before] == [True, True, True, False]
    (pkg / "sub" / "m.py").rename(pkg / "sub" / "n.py")
    assert digest_sources(pkg, ("pkg.sub",)) != after["pkg.sub"]


def test_source_digest_does_not_depend_on_where_accelsim_is_installed(tmp_path):
    site = tmp_path / "site-packages"
    shutil.copytree(PACKAGE_DIR, site / "accelsim", ignore=shutil.ignore_patterns("__pycache__"))
    names = ("accelsim.cache", "accelsim.compress")
    code = f"from accelsim.cache import source_digest; print(source_digest{names!r})"
    out = subprocess.run([sys.executable, "-c", code], env=_subprocess_env(PYTHONPATH=str(site)),
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.stdout.strip() == source_digest(*names), out.stderr


# --- location and Numba --------------------------------------------------------------------------

def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    assert default_cache().root == tmp_path / "mine"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", "relative")
    assert cache_dir() == tmp_path / "relative"
    for unset in ("", None):
        if unset is None:
            monkeypatch.delenv("ACCELSIM_CACHE_DIR")
        else:
            monkeypatch.setenv("ACCELSIM_CACHE_DIR", unset)
        assert cache_dir() == Path(platformdirs.user_cache_dir("accelsim")).absolute()
        assert not cache_dir().is_relative_to(REPO_ROOT)


NUMBA_PROBE = "import {first}, os; from numba.core import config; print(os.environ['NUMBA_CACHE_DIR']); print(config.CACHE_DIR)"


@pytest.mark.parametrize("first", ["accelsim", "numba, accelsim"])
def test_numba_cache_dir_defaults_to_the_cache_dir(tmp_path, first):
    out = subprocess.run([sys.executable, "-c", NUMBA_PROBE.format(first=first)], capture_output=True, text=True,
                         timeout=120, env=_subprocess_env(ACCELSIM_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=None))
    assert out.stdout.split() == [str(tmp_path / "numba")] * 2, out.stderr


def test_numba_cache_dir_of_the_user_is_kept(tmp_path):
    out = subprocess.run([sys.executable, "-c", NUMBA_PROBE.format(first="accelsim")], capture_output=True, text=True,
                         timeout=120, env=_subprocess_env(ACCELSIM_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR="/users/own"))
    assert out.stdout.split() == ["/users/own"] * 2, out.stderr


def _kernel_files() -> set[Path]:
    return {*PACKAGE_DIR.rglob("*.nbi"), *PACKAGE_DIR.rglob("*.nbc")}


def test_kernels_are_cached_under_the_cache_dir_not_the_package(tmp_path):
    code = "from accelsim.sim._intmath import pow2_shift; print(pow2_shift(64))"
    before = _kernel_files()  # a checkout used before the cache existed may hold old ones
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=_subprocess_env(ACCELSIM_CACHE_DIR=str(tmp_path), NUMBA_CACHE_DIR=None))
    assert out.stdout.strip() == "6", out.stderr
    cached = {p.suffix for p in (tmp_path / "numba").rglob("*") if p.is_file()}
    assert {".nbi", ".nbc"} <= cached
    assert _kernel_files() <= before
