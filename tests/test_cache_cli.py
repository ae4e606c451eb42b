"""`accelsim cache info` and `accelsim cache clear`."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from click.testing import CliRunner

from accelsim.cache import BytesCodec, Cache, JsonCodec, key_of
from accelsim.cli import _Age, main
from accelsim.units import human_size


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _invoke(*args: str):
    return CliRunner().invoke(main, ["cache", *args])


def _entries(root) -> tuple[list, list]:
    """Two accuracy entries 10 days unused, one compressed entry used a minute ago."""
    cache = Cache(root)
    old = [cache.put("accuracy", key_of(i), {"miss_rate": i / 10}, JsonCodec()) for i in range(2)]
    new = [cache.put("compressed", key_of("c"), bytes(5000), BytesCodec())]
    for path, age_s in [(old[0], 10 * 86400), (old[1], 10 * 86400), (new[0], 60)]:
        mtime = int(time.time() - age_s)
        os.utime(path, (mtime, mtime))
    return old, new


def test_info_of_an_empty_cache(root):
    result = _invoke("info")
    assert result.exit_code == 0
    assert result.output.splitlines() == [f"cache: {root}  (set ACCELSIM_CACHE_DIR to move it)", "total: 0 B",
                                          "no entries"]


def test_info_lists_kinds_with_counts_and_sizes(root):
    old, new = _entries(root)
    (root / "accuracy" / ".abc.123.tmp").write_bytes(b"x" * 10)
    result = _invoke("info")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    total = sum(p.stat().st_size for p in old + new) + 10
    assert lines[1] == f"total: {human_size(total)}"
    accuracy = next(line for line in lines if line.startswith("accuracy"))
    assert accuracy.split()[1:4] == ["2", *human_size(sum(p.stat().st_size for p in old)).split()]
    compressed = next(line for line in lines if line.startswith("compressed"))
    assert compressed.split()[1:4] == ["1", *human_size(new[0].stat().st_size).split()]
    assert lines[-1].startswith("stray temporaries and lock files: 1 (10 B)")


def test_clear_older_than(root):
    old, new = _entries(root)
    freed = sum(p.stat().st_size for p in old)
    result = _invoke("clear", "--older-than", "7d")
    assert result.exit_code == 0, result.output
    assert result.output == f"removed 2 entries ({human_size(freed)}) from {root}\n"
    assert not any(p.exists() for p in old) and new[0].exists()
    assert _invoke("clear", "--kind", "compressed").output.startswith("removed 1 entry (")
    assert not new[0].exists()


@pytest.mark.parametrize("age", ["3x", "7", "d", "1.5h", "-2d", "7 days"])
def test_clear_refuses_a_bad_age_in_one_line(root, age):
    _entries(root)
    result = _invoke("clear", "--older-than", age)
    assert result.exit_code == 2
    error = result.output.splitlines()[-1]
    assert error == (f"Error: Invalid value for '--older-than': {age!r} is not an age; write a whole number and "
                     f"m (minutes), h (hours), d (days) or w (weeks), e.g. 30m, 12h, 7d, 2w")
    assert len(list((root / "accuracy").iterdir())) == 2  # nothing removed


def test_clear_refuses_an_unknown_kind(root):
    _entries(root)
    result = _invoke("clear", "--kind", "acuracy")
    assert result.exit_code == 2
    assert "no cache entries of kind 'acuracy'" in result.output and "(kinds: accuracy, compressed)" in result.output


@pytest.mark.parametrize("text, expected", [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)),
                                            ("7d", timedelta(days=7)), ("2w", timedelta(weeks=2)),
                                            ("0m", timedelta(0))])
def test_ages(text, expected):
    assert _Age().convert(text, None, None) == expected


def test_help_says_where_the_cache_is_and_how_to_move_it():
    result = CliRunner().invoke(main, ["cache", "--help"])
    assert result.exit_code == 0
    assert "ACCELSIM_CACHE_DIR" in result.output and "~/.cache/accelsim" in result.output
    assert "--older-than AGE" in CliRunner().invoke(main, ["cache", "clear", "--help"]).output
