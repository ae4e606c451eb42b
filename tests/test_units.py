"""Quantities with units: hand-checked conversions, clear refusals, exact round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from accelsim import units as u


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("512KiB", "size", 524288),
        ("8MiB", "size", 8 * 2**20),
        ("64KB", "size", 64000),
        ("64kB", "size", 64000),
        ("1B", "size", 1),
        ("64b", "size", 8),
        ("2Kib", "size", 256),
        ("1.5KiB", "size", 1536),
        ("1GiB", "size", 2**30),
        ("800MHz", "frequency", 800e6),
        ("1.2GHz", "frequency", 1.2e9),
        ("5.3pJ", "energy", 5.3e-12),
        ("1.06nJ", "energy", 1.06e-9),
        ("5.3pJ/bit", "energy_per_bit", 5.3e-12),
        ("8pJ/B", "energy_per_bit", 1e-12),
        ("12mW", "power", 12e-3),
        ("13.75ns", "time", 13.75e-9),
        ("2us", "time", 2e-6),
        ("2µs", "time", 2e-6),
        ("3ms", "time", 3e-3),
        ("0.209mm2", "area", 0.209e-6),
        ("885um2", "area", 885e-12),
        ("885 um^2", "area", 885e-12),
        ("45nm", "length", 45e-9),
        ("12.8GB/s", "bandwidth", 12.8e9),
        ("3200MT/s", "data_rate", 3.2e9),
        (" 800 MHz ", "frequency", 800e6),
    ],
)
def test_parse_hand_values(text, kind, expected):
    assert u.parse_quantity(text, kind) == pytest.approx(expected, rel=1e-12)


def test_bytes_are_integers():
    assert u.parse_bytes("512KiB") == 524288 and isinstance(u.parse_bytes("512KiB"), int)
    assert u.parse_bytes("64b") == 8


@pytest.mark.parametrize(
    "text, kind, fragment",
    [
        ("512KiX", "size", "'512KiX' is not a size: unknown unit 'KiX', expected B, KB, KiB, MB, MiB"),
        ("abc", "size", "'abc' is not a size: expected a number with B, KB, KiB"),
        ("800", "frequency", "has no unit; a frequency needs one, e.g. '800MHz'"),
        ("5.3pJ", "energy_per_bit", "unknown unit 'pJ', expected pJ/bit"),
        ("1.06nj", "energy", "unknown unit 'nj'"),
    ],
)
def test_refusals_say_what_was_expected(text, kind, fragment):
    with pytest.raises(u.UnitError) as exc:
        u.parse_quantity(text, kind)
    assert fragment in str(exc.value)


def test_bare_numbers_refused_for_dimensional_quantities():
    with pytest.raises(u.UnitError, match="512 has no unit"):
        u.parse_bytes(512)


def test_partial_bytes_refused():
    with pytest.raises(u.UnitError, match="not a whole number of bytes"):
        u.parse_bytes("12b")


def test_convert():
    assert u.convert(1.06, "nJ", "pJ") == pytest.approx(1060)
    assert u.convert(0.209, "mm2", "um2") == pytest.approx(209000)
    assert u.convert(5.3, "pJ/bit", "pJ/B") == pytest.approx(5.3 * 8)
    with pytest.raises(u.UnitError, match="not units of the same kind"):
        u.convert(1, "pJ", "mW")


@pytest.mark.parametrize(
    "text, kind, formatted",
    [
        ("512KiB", "size", "512KiB"),
        ("64KB", "size", "64KB"),
        ("800MHz", "frequency", "800MHz"),
        ("0.209mm2", "area", "0.209mm2"),
        ("1.06nJ", "energy", "1.06nJ"),
        ("5.3pJ/bit", "energy_per_bit", "5.3pJ/bit"),
        ("45nm", "length", "45nm"),
    ],
)
def test_format_is_conventional(text, kind, formatted):
    assert u.format_quantity(u.parse_quantity(text, kind), kind) == formatted


@given(st.floats(min_value=1e-18, max_value=1e12, allow_nan=False, allow_infinity=False),
       st.sampled_from(["energy", "frequency", "time", "area", "power", "energy_per_bit"]))
def test_format_round_trips_exactly(value, kind):
    assert u.parse_quantity(u.format_quantity(value, kind), kind) == value


@given(st.integers(min_value=0, max_value=2**40))
def test_size_format_round_trips(n):
    assert u.parse_bytes(u.format_quantity(n, "size")) == n


def test_cycles():
    assert u.parse_cycles("29cycles") == 29
    assert u.parse_cycles("29 cycles") == 29
    assert u.parse_cycles("29tCK") == 29
    assert u.parse_cycles(29) == 29
    with pytest.raises(u.UnitError, match="not a number of cycles"):
        u.parse_cycles("29ns")


class _M(BaseModel):
    size: u.PositiveBytes
    clock: u.Frequency
    e: u.EnergyPerBit


def test_pydantic_types_parse_and_serialise():
    m = _M(size="512KiB", clock="800MHz", e="5.3pJ/bit")
    assert (m.size, m.clock, m.e) == (524288, 800e6, 5.3e-12)
    dumped = m.model_dump(mode="json")
    assert dumped == {"size": "512KiB", "clock": "800MHz", "e": "5.3pJ/bit"}
    assert _M.model_validate(dumped) == m


def test_pydantic_types_refuse_zero_and_bad_units():
    with pytest.raises(ValidationError, match="must be greater than zero"):
        _M(size="0B", clock="800MHz", e="1pJ/bit")
    with pytest.raises(ValidationError, match="'-4KiB' must be greater than zero"):
        _M(size="-4KiB", clock="800MHz", e="1pJ/bit")
    with pytest.raises(ValidationError, match="unknown unit 'MHZ'"):
        _M(size="1KiB", clock="800MHZ", e="1pJ/bit")
