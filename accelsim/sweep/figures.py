"""The figures of a sweep's results table: read as floats, and written for a reader with their units
(significant digits, percentages, percentage points, sizes).

The constraints, the recommendation and the output files all read and word the same figures; one
wording keeps a miss rate or a size reading the same in a violation, a warning and a table.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from accelsim.units import format_quantity


def column_floats(results: pd.DataFrame, name: str, default: float = math.nan) -> np.ndarray:
    """Column ``name`` as floats, NaN where a row has no value; ``default`` throughout when the table
    has no such column."""
    # Failed points and sweeps without a dataset leave None/NaN (object columns); compare as floats.
    if name not in results.columns:
        return np.full(len(results), default)
    return pd.to_numeric(results[name], errors="coerce").to_numpy(dtype=float, na_value=math.nan)


def row_float(row: pd.Series, name: str) -> float:
    """``row[name]`` as a float, NaN where the row has no value."""
    value = row.get(name)
    try:
        return float(value)
    except (TypeError, ValueError):  # None, or absent from a sweep without that metric
        return math.nan


def fmt_number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, without exponent or trailing zeros."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_pair(value: float, limit: float, fmt) -> tuple[str, str]:
    # "30 frames/s < 30 frames/s" would read as a bug: add digits until the two differ.
    for digits in range(3, 16):
        a, b = fmt(value, digits), fmt(limit, digits)
        if a != b:
            return a, b
    return a, b


def fmt_percent(value: float, digits: int = 3) -> str:
    return f"{value * 100:.{digits - 2}f}%"


def fmt_level(level: float) -> str:
    return f"{level * 100:g}%"


def fmt_points(delta: float) -> str:
    """A difference of two miss rates in percentage points, signed."""
    return f"{delta * 100:+.1f}"


def fmt_size(n_bytes: float) -> str:
    if not math.isfinite(n_bytes):
        return "n/a"
    number, unit = re.match(r"([-\d.]+)(.*)", format_quantity(int(n_bytes), "size")).groups()
    return f"{number} {unit}"


def fmt_change(fraction: float) -> str:
    """A relative change as a signed percentage, with digits enough that a small one is not "0.0%"."""
    pct = fraction * 100
    return ("-" if pct < 0 else "+") + (f"{abs(pct):.1f}" if abs(pct) >= 1 else fmt_number(abs(pct), 2)) + "%"
