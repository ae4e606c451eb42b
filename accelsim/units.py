"""Quantities with units: parse ``"512KiB"``, ``"800MHz"``, ``"5.3pJ/bit"`` into SI numbers and back.

Why: a hardware config is read by people who mix KB and KiB, pJ and nJ, cycles and ns. Every
dimensional field therefore *requires* its unit in the YAML (a bare ``512`` for an SRAM size is
refused: bytes? KiB? words?), and every value is held in one base unit inside the program:

==============  ============  ==========================================================
kind            base unit     accepted units (case-sensitive: ``b`` is a bit, ``B`` a byte)
==============  ============  ==========================================================
size            byte (int)    B, KB/kB, MB, GB (10^3 steps), KiB, MiB, GiB (2^10 steps),
                              b, Kb/kb, Mb, Gb, Kib, Mib, Gib (bits; must make whole bytes)
bits            bit (int)     the size units above, converted to bits
frequency       Hz            Hz, kHz, MHz, GHz
time            s             s, ms, us, µs, ns, ps
energy          J             J, mJ, uJ, µJ, nJ, pJ, fJ
energy_per_bit  J/bit         any energy unit followed by /bit or /b (or /B: divided by 8)
power           W             W, mW, uW, µW, nW
area            m^2           m2, mm2, um2, µm2, nm2 (also written mm^2 or mm²)
length          m             m, mm, um, µm, nm
bandwidth       byte/s        B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, b/s, Mb/s, Gb/s
data_rate       transfer/s    T/s, MT/s, GT/s (a DRAM pin's transfers per second)
==============  ============  ==========================================================

The pydantic types at the end (``PositiveBytes``, ``Frequency``, ...) parse on input and serialise back to
the shortest exact unit string, so a resolved config written to YAML loads back to equal numbers.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Callable

from pydantic import BeforeValidator, PlainSerializer

_KI, _MI, _GI = 2**10, 2**20, 2**30

# kind -> {unit: factor to the base unit}. Order matters only for formatting (first = preferred).
_SIZE_UNITS: dict[str, float] = {
    "B": 1, "KiB": _KI, "MiB": _MI, "GiB": _GI, "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9,
    "b": 1 / 8, "Kib": _KI / 8, "Mib": _MI / 8, "Gib": _GI / 8, "Kb": 1e3 / 8, "kb": 1e3 / 8,
    "Mb": 1e6 / 8, "Gb": 1e9 / 8,
}
_ENERGY_UNITS = {"J": 1.0, "mJ": 1e-3, "uJ": 1e-6, "µJ": 1e-6, "nJ": 1e-9, "pJ": 1e-12, "fJ": 1e-15}
UNITS: dict[str, dict[str, float]] = {
    "size": _SIZE_UNITS,
    "bits": {u: f * 8 for u, f in _SIZE_UNITS.items()},
    "frequency": {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "time": {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "ps": 1e-12},
    "energy": _ENERGY_UNITS,
    "energy_per_bit": {
        **{f"{u}/bit": f for u, f in _ENERGY_UNITS.items()},
        **{f"{u}/b": f for u, f in _ENERGY_UNITS.items()},
        **{f"{u}/B": f / 8 for u, f in _ENERGY_UNITS.items()},
    },
    "power": {"W": 1.0, "mW": 1e-3, "uW": 1e-6, "µW": 1e-6, "nW": 1e-9},
    "area": {"m2": 1.0, "mm2": 1e-6, "um2": 1e-12, "µm2": 1e-12, "nm2": 1e-18},
    "length": {"m": 1.0, "mm": 1e-3, "um": 1e-6, "µm": 1e-6, "nm": 1e-9},
    "bandwidth": {
        "B/s": 1.0, "KB/s": 1e3, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9, "KiB/s": _KI, "MiB/s": _MI,
        "GiB/s": _GI, "b/s": 1 / 8, "kb/s": 1e3 / 8, "Mb/s": 1e6 / 8, "Gb/s": 1e9 / 8,
    },
    "data_rate": {"T/s": 1.0, "MT/s": 1e6, "GT/s": 1e9},
}

# What an error message calls each kind, and the units it lists as examples.
_NAMES = {
    "size": ("a size", "B, KB, KiB, MB, MiB, GB, GiB or bits (b, Kib, Mib)"),
    "bits": ("a size in bits", "b, Kib, Mib, B, KiB, MiB ..."),
    "frequency": ("a frequency", "Hz, kHz, MHz, GHz"),
    "time": ("a time", "s, ms, us, ns, ps"),
    "energy": ("an energy", "J, mJ, uJ, nJ, pJ, fJ"),
    "energy_per_bit": ("an energy per bit", "pJ/bit, nJ/bit, fJ/bit (or pJ/B per byte)"),
    "power": ("a power", "W, mW, uW, nW"),
    "area": ("an area", "m2, mm2, um2"),
    "length": ("a length", "m, mm, um, nm"),
    "bandwidth": ("a bandwidth", "B/s, MB/s, GB/s, GiB/s, Gb/s"),
    "data_rate": ("a data rate", "MT/s, GT/s"),
}

_NUMBER_UNIT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\s\d.+-][^\s]*)?\s*$")


def _normalise_unit(unit: str) -> str:
    # Accept the spellings people type for square units and micro.
    return unit.replace("^2", "2").replace("²", "2").replace("μ", "µ")


class UnitError(ValueError):
    """A value that is not a quantity of the expected kind (a ValueError, so pydantic reports it)."""


def parse_quantity(text: object, kind: str) -> float:
    """``text`` as a float in the base unit of ``kind`` (see the module table).

    A bare number is refused: the unit is what makes a config readable and unambiguous.
    """
    if kind not in UNITS:
        raise KeyError(f"unknown quantity kind {kind!r}; known: {', '.join(UNITS)}")
    name, examples = _NAMES[kind]
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise UnitError(f"{text!r} is not {name}: expected a number with a unit ({examples})")
    if isinstance(text, (int, float)):
        raise UnitError(f"{text!r} has no unit; {name} needs one, e.g. '{_example(kind)}' ({examples})")
    m = _NUMBER_UNIT.match(text)
    if not m:
        raise UnitError(f"'{text}' is not {name}: expected a number with {examples}")
    number, unit = m.group(1), m.group(2)
    if unit is None:
        raise UnitError(f"'{text}' has no unit; {name} needs one, e.g. '{_example(kind)}' ({examples})")
    factor = UNITS[kind].get(_normalise_unit(unit))
    if factor is None:
        raise UnitError(f"'{text}' is not {name}: unknown unit '{unit}', expected {examples}")
    value = float(number) * factor
    if not math.isfinite(value):
        raise UnitError(f"'{text}' is not a finite number")
    return value


def _example(kind: str) -> str:
    return {
        "size": "512KiB", "bits": "64b", "frequency": "800MHz", "time": "13.75ns", "energy": "1.06nJ",
        "energy_per_bit": "5.3pJ/bit", "power": "12mW", "area": "0.2mm2", "length": "45nm",
        "bandwidth": "12.8GB/s", "data_rate": "3200MT/s",
    }[kind]


def parse_bytes(text: object) -> int:
    """A size in bytes; ``"64b"`` is 8 bytes, ``"12b"`` is an error (not whole bytes)."""
    value = parse_quantity(text, "size")
    rounded = round(value)
    # Sizes are counted in whole bytes; allow float noise from e.g. "1.5KiB" only.
    if abs(value - rounded) > 1e-9 * max(1.0, abs(value)):
        raise UnitError(f"'{text}' is not a whole number of bytes")
    return int(rounded)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert between two units of the same kind, e.g. ``convert(1.06, "nJ", "pJ") == 1060``."""
    a, b = _normalise_unit(from_unit), _normalise_unit(to_unit)
    for table in UNITS.values():
        if a in table and b in table:
            return value * table[a] / table[b]
    raise UnitError(f"cannot convert '{from_unit}' to '{to_unit}': not units of the same kind")


def unit_kind(unit: str) -> str | None:
    """The kind a unit belongs to (``"pJ"`` -> ``"energy"``), or None; sizes win over bits."""
    u = _normalise_unit(unit)
    for kind, table in UNITS.items():
        if u in table:
            return kind
    return None


# Units tried when formatting, per kind: only exact, conventional spellings.
_FORMAT_UNITS = {
    "size": ["B", "KiB", "MiB", "GiB", "KB", "MB", "GB"],
    "bits": ["b", "Kib", "Mib", "Gib", "Kb", "Mb", "Gb"],
    "frequency": ["Hz", "kHz", "MHz", "GHz"],
    "time": ["s", "ms", "us", "ns", "ps"],
    "energy": ["J", "mJ", "uJ", "nJ", "pJ", "fJ"],
    "energy_per_bit": ["J/bit", "mJ/bit", "uJ/bit", "nJ/bit", "pJ/bit", "fJ/bit"],
    "power": ["W", "mW", "uW", "nW"],
    "area": ["m2", "mm2", "um2", "nm2"],
    "length": ["m", "mm", "um", "nm"],
    "bandwidth": ["B/s", "KB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s"],
    "data_rate": ["MT/s"],  # the way DRAM speeds are quoted (3200MT/s)
}


def format_quantity(value: float, kind: str) -> str:
    """A ``"<number><unit>"`` that parses back to exactly ``value``.

    Preference: no float noise (<= 6 significant digits), then a magnitude >= 1 (``512KiB``, not
    ``0.5MiB``), then the fewest digits, then the shorter text."""
    candidates = []
    for unit in _FORMAT_UNITS[kind]:
        scaled = value / UNITS[kind][unit]
        for digits in range(1, 18):  # fewest significant digits that survive the round trip
            number = format(Decimal(f"{scaled:.{digits}g}"), "f")
            text = number + unit
            try:
                exact = parse_quantity(text, kind) == value
            except UnitError:
                exact = False
            if exact:
                candidates.append((digits > 6, not (abs(scaled) >= 1 or scaled == 0), digits, len(text), text))
                break
    return min(candidates)[-1] if candidates else f"{value!r}{_FORMAT_UNITS[kind][0]}"



def human_size(n_bytes: int) -> str:
    """A size for people rather than for round trips: ``512 B``, ``349.2 KiB``, ``2.9 MiB``."""
    value, unit = float(n_bytes), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < _KI:
            break
        value, unit = value / _KI, bigger
    return f"{n_bytes} B" if unit == "B" else f"{value:.1f} {unit}"

# --- pydantic types ------------------------------------------------------------------------------

def _validator(kind: str, positive: bool, integer: Callable[[object], int] | None = None):
    def check(value: object):
        number = integer(value) if integer else parse_quantity(value, kind)
        if positive and number <= 0:
            raise UnitError(f"'{value}' must be greater than zero")
        if not positive and number < 0:
            raise UnitError(f"'{value}' must not be negative")
        return number

    return BeforeValidator(check)


def _serializer(kind: str):
    return PlainSerializer(lambda v: format_quantity(v, kind), return_type=str)


#: Sizes in bytes (int, > 0), e.g. ``"512KiB"``.
PositiveBytes = Annotated[int, _validator("size", True, parse_bytes), _serializer("size")]
Frequency = Annotated[float, _validator("frequency", True), _serializer("frequency")]
Energy = Annotated[float, _validator("energy", False), _serializer("energy")]
EnergyPerBit = Annotated[float, _validator("energy_per_bit", False), _serializer("energy_per_bit")]
Power = Annotated[float, _validator("power", False), _serializer("power")]
Length = Annotated[float, _validator("length", True), _serializer("length")]
DataRate = Annotated[float, _validator("data_rate", True), _serializer("data_rate")]


def parse_cycles(value: object) -> int:
    """A whole number of clock cycles: ``29``, ``"29cycles"``, ``"29 cycles"`` or ``"29tCK"``.

    A bare integer is accepted here (a count, not a dimensional quantity).
    """
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a number of cycles")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value == int(value):
        n = int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([+-]?\d+)\s*(cycles?|cyc|tCK|nCK)?\s*", value)
        if not m:
            raise UnitError(f"'{value}' is not a number of cycles: expected e.g. '29cycles' or '29tCK'")
        n = int(m.group(1))
    else:
        raise UnitError(f"{value!r} is not a number of cycles: expected e.g. '29cycles'")
    if n < 0:
        raise UnitError(f"'{value}' must not be negative")
    return n


Cycles = Annotated[int, BeforeValidator(parse_cycles), PlainSerializer(lambda n: f"{n}cycles", return_type=str)]
