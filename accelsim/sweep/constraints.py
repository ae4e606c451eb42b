"""A sweep's targets and objective (the spec's ``constraints`` and ``objective``), and every design
checked against them: its power at the operating rate, its objective, and each constraint it fails,
by how much, with units, so a reader can see whether a target is the one that prunes the design space.

**The miss-rate constraint and its noise.** A miss rate is measured on a finite set of frames, so it
comes with a bootstrap interval (`accelsim.detect.intervals`; the spec's ``intervals`` set its level,
resamples and seed). ``max_miss_rate`` says which figure must meet the target:

- ``max_miss_rate: 60%`` (or ``0.6``): the point estimate, as measured;
- ``max_miss_rate: 50% at 95%``, or ``{value: 50%, at: upper_bound}``: the upper end of the
  interval, so a design passes only if the evidence supports the target at that level;
- ``max_miss_rate: {value: 50%, margin: 3%}``: the estimate plus an explicit margin (a safety
  margin fixed before the design is chosen); a margin also adds to the upper bound when both are set.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accelsim.detect.intervals import DEFAULT_SPEC
from accelsim.results.records import design_point_columns
from accelsim.sweep.figures import column_floats, fmt_level, fmt_number, fmt_pair, fmt_percent, fmt_size
from accelsim.units import parse_bytes, parse_quantity

# Columns a weighted objective may combine: the numeric figures of a design point.
METRIC_COLUMNS = tuple(c.name for c in design_point_columns() if c.type in (int, float))

_FINITE = Field(allow_inf_nan=False)
_POSITIVE = Field(gt=0, allow_inf_nan=False)


def parse_fraction(value: object, what: str) -> object:
    """``"60%"`` -> 0.6; anything but a string is left to the field's own validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    number = text[:-1].strip() if text.endswith("%") else None
    try:
        return float(number) / 100
    except (TypeError, ValueError):
        raise ValueError(f"'{value}' is not a {what}: give a fraction (0.6) or a percentage ('60%')") from None


_SHORTHAND_AT = re.compile(r"^\s*(?P<value>\S+)\s+at\s+(?P<level>\S+)\s*$")


class MissRateLimit(BaseModel):
    """A miss-rate target and which figure must meet it: the estimate, or the upper end of its
    interval (``at: upper_bound``), plus an optional margin. ``60%`` is ``{value: 60%}``;
    ``50% at 95%`` is ``{value: 50%, at: upper_bound, level: 95%}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: Annotated[float, _POSITIVE, Field(le=1)]  # fraction; "60%" accepted
    at: Literal["estimate", "upper_bound"] = "estimate"
    margin: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0  # added to the figure checked
    # The interval's level, for at: upper_bound; must agree with the sweep's intervals.level (it sets
    # it when the spec has no intervals); None: the sweep's level.
    level: Annotated[float, Field(ge=0.5, lt=1)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        if isinstance(value, (int, float)):
            return {"value": value}
        if not isinstance(value, str):
            return value
        at = _SHORTHAND_AT.match(value)
        if at is None:
            return {"value": value}
        return {"value": at["value"], "at": "upper_bound", "level": at["level"]}

    @field_validator("value", "margin", "level", mode="before")
    @classmethod
    def _fractions(cls, value: object, info) -> object:
        what = {"value": "miss rate", "margin": "margin", "level": "confidence level"}[info.field_name]
        return parse_fraction(value, what)

    @model_validator(mode="after")
    def _fits(self) -> MissRateLimit:
        if self.level is not None and self.at != "upper_bound":
            raise ValueError("level applies to at: upper_bound (the upper end of an interval at that level)")
        if self.margin >= self.value:
            raise ValueError(f"margin {fmt_percent(self.margin)} leaves no room under {fmt_percent(self.value)}")
        return self

    def figure(self, estimate: float, upper_bound: float) -> float:
        """The figure that must not exceed ``value``."""
        return (estimate if self.at == "estimate" else upper_bound) + self.margin

    def describe(self, level: float) -> str:
        """The figure checked, in words (``level``: the interval's, when the limit has none)."""
        if self.at == "estimate":
            name = "miss rate"
        else:
            name = f"upper end of the miss rate's {fmt_level(self.level or level)} interval"
        return name + (f" + {fmt_percent(self.margin)} margin" if self.margin else "")


class Constraints(BaseModel):
    """Targets a recommended design must meet; None means no target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_miss_rate: MissRateLimit | None = None  # "60%", "50% at 95%" or {value, at, margin, level}
    min_fps: Annotated[float, _POSITIVE] | None = None  # frames/s
    max_power_mw: Annotated[float, _POSITIVE] | None = None  # mW at the operating rate (see power_mw); "0.5W" accepted
    max_sram_bytes: Annotated[int, Field(gt=0)] | None = None  # total on-chip SRAM; "1MiB" accepted

    @field_validator("max_power_mw", mode="before")
    @classmethod
    def _power(cls, value: object) -> object:
        return parse_quantity(value, "power") * 1e3 if isinstance(value, str) else value

    @field_validator("max_sram_bytes", mode="before")
    @classmethod
    def fmt_size(cls, value: object) -> object:
        return parse_bytes(value) if isinstance(value, str) else value


class Objective(BaseModel):
    """What the recommendation minimises among the designs that meet every constraint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimise: Literal["energy", "area", "weighted"] = "energy"
    # Only for "weighted": result column -> weight, e.g. {"energy_per_frame_uj": 1.0, "area_mm2": 50.0}.
    weights: dict[str, Annotated[float, _FINITE]] = {}

    @model_validator(mode="after")
    def _weights_fit(self) -> Objective:
        if self.minimise != "weighted":
            if self.weights:
                raise ValueError(f"weights apply only to minimise: weighted, not to minimise: {self.minimise}")
            return self
        if not self.weights:
            raise ValueError(
                "minimise: weighted needs weights, {column: weight}, e.g. {energy_per_frame_uj: 1.0, area_mm2: 50.0}")
        for column in self.weights:
            if column not in METRIC_COLUMNS:
                raise ValueError(f"weights: unknown column {column!r}; known: {', '.join(METRIC_COLUMNS)}")
        return self

    def describe(self) -> str:
        """What is minimised, in words with units."""
        if self.minimise == "energy":
            return "energy per frame (µJ)"
        if self.minimise == "area":
            return "area (mm²)"
        return "weighted cost " + " + ".join(f"{w:g} × {c}" for c, w in self.weights.items())


_OBJECTIVE_COLUMN = {"energy": "energy_per_frame_uj", "area": "area_mm2"}

# Constraint name -> what a reader calls it; the order is the order of checks and of every table.
CONSTRAINT_LABELS = {
    "max_miss_rate": "miss rate", "min_fps": "frame rate", "max_power_mw": "power", "max_sram_bytes": "SRAM size",
}


def _operating_rate(results: pd.DataFrame, constraints: Constraints) -> np.ndarray:
    fps = column_floats(results, "frames_per_s")
    if constraints.min_fps is None:
        return fps
    # A design slower than min_fps cannot run at it; it runs flat out (and fails min_fps).
    return np.where(fps >= constraints.min_fps, constraints.min_fps, fps)


def power_mw(results: pd.DataFrame, constraints: Constraints) -> pd.Series:
    """Average power (mW) of each design running at the operating rate R.

    R is ``constraints.min_fps`` when set and the design reaches it, else the design's own
    ``frames_per_s``. Leakage (``energy_leakage_pj``) and DRAM background + refresh
    (``dram_background_pj``, 0 where absent) are paid all the time; the rest of a frame's energy
    is paid once per frame. With S the static energy of one frame (pJ) and T its latency (ns):

        P_static  = S / T                              pJ/ns = mW
        P_dynamic = (E_frame - S) × R                  µJ × 1/s = µW, so × 1e-3 for mW
                    (E_frame in µJ, S × 1e-6 in µJ)
        P         = P_dynamic + P_static

    At R = 1/T this is E_frame / T, the power while running flat out; below it the chip idles
    between frames and pays only static power there (no power gating is modelled).
    """
    energy_uj = column_floats(results, "energy_per_frame_uj")
    latency_ns = column_floats(results, "latency_per_frame_ms") * 1e6
    static_pj = (column_floats(results, "energy_leakage_pj")
                 + np.nan_to_num(column_floats(results, "dram_background_pj", 0.0)))
    dynamic_mw = (energy_uj - static_pj * 1e-6) * _operating_rate(results, constraints) * 1e-3
    return pd.Series(dynamic_mw + static_pj / latency_ns, index=results.index, name="power_mw")


def _objective(results: pd.DataFrame, objective: Objective) -> np.ndarray:
    if objective.minimise in _OBJECTIVE_COLUMN:
        return column_floats(results, _OBJECTIVE_COLUMN[objective.minimise])
    return sum(weight * column_floats(results, name) for name, weight in objective.weights.items())


def _violations(row: dict, constraints: Constraints) -> list[tuple[str, str]]:
    """(constraint name, message) for each constraint an "ok" point fails."""
    found = []
    miss, fps = row["miss_rate_lamr"], row["frames_per_s"]
    power, sram = row["power_mw"], row["sram_bytes"]
    limit = constraints.max_miss_rate
    if limit is not None:
        checked = limit.figure(miss, row["miss_rate_lamr_ci_high"])
        if math.isnan(miss):
            found.append(("max_miss_rate", "no miss rate (sweep has no dataset)"))
        elif math.isnan(checked):
            found.append(("max_miss_rate", "no interval of the miss rate to check"))
        elif checked > limit.value:
            a, b = fmt_pair(checked, limit.value, fmt_percent)
            equals = " =" if limit.margin else ""  # "miss rate + 3.0% margin = 51.0%", but "miss rate 51.0%"
            found.append(("max_miss_rate", f"{limit.describe(row['confidence_level'])}{equals} {a} > {b}"))
    if constraints.min_fps is not None and not fps >= constraints.min_fps:
        a, b = fmt_pair(fps, constraints.min_fps, fmt_number)
        found.append(("min_fps", f"{a} frames/s < {b} frames/s"))
    if constraints.max_power_mw is not None and not power <= constraints.max_power_mw:
        a, b = fmt_pair(power, constraints.max_power_mw, fmt_number)
        found.append(("max_power_mw", f"power {a} mW > {b} mW"))
    if constraints.max_sram_bytes is not None and not sram <= constraints.max_sram_bytes:
        found.append(("max_sram_bytes", f"SRAM {fmt_size(sram)} > {fmt_size(constraints.max_sram_bytes)}"))
    return found


def evaluate(results: pd.DataFrame, constraints: Constraints, objective: Objective) -> pd.DataFrame:
    """A copy of ``results`` with ``power_mw``, ``objective``, ``feasible``, ``violations`` (messages
    with both values and units, "; "-joined, "" when feasible) and ``violated`` (the failed
    constraints' names, ","-joined: ``max_miss_rate``, ``min_fps``, ``max_power_mw``,
    ``max_sram_bytes``, ``objective`` where the objective has no value, or ``failed``)."""
    out = results.copy()
    ok = (out["status"] == "ok").to_numpy()
    out["power_mw"] = np.where(ok, power_mw(results, constraints), math.nan)
    out["objective"] = np.where(ok, _objective(results, objective), math.nan)
    checked = pd.DataFrame({
        "miss_rate_lamr": column_floats(results, "miss_rate_lamr"),
        "frames_per_s": column_floats(results, "frames_per_s"),
        "miss_rate_lamr_ci_high": column_floats(results, "miss_rate_lamr_ci_high"),
        "confidence_level": column_floats(results, "confidence_level", DEFAULT_SPEC.level),
        "sram_bytes": column_floats(results, "sram_bytes"), "power_mw": out["power_mw"].to_numpy(),
        "objective": out["objective"].to_numpy(),
    })
    messages, names = [], []
    for is_ok, error, row in zip(ok, out["error"], checked.to_dict("records")):
        if not is_ok:
            found = [("failed", f"failed: {error}")]
        else:
            found = _violations(row, constraints)
            if math.isnan(row["objective"]):
                found.append(("objective", f"no value for the objective, {objective.describe()}"))
        names.append(",".join(name for name, _ in found))
        messages.append("; ".join(message for _, message in found))
    out["feasible"] = np.array([not n for n in names], dtype=bool)
    out["violations"] = messages
    out["violated"] = names
    return out
