"""From a sweep's results table to a decision: constraints, the objective, the Pareto front, the
recommended design and the files a reader gets (results, Pareto front, recommendation, plot).

The recommendation is the design that meets every constraint at the lowest objective; each
rejected design says which constraints it failed and by how much, with units, so a reader can see
whether a target is the one that prunes the design space.

**The miss-rate constraint and its noise.** A miss rate is measured on a finite set of frames, so it
comes with a bootstrap interval (`accelsim.detect.intervals`; the spec's ``intervals`` set its level,
resamples and seed). ``max_miss_rate`` says which figure must meet the target:

- ``max_miss_rate: 60%`` (or ``0.6``): the point estimate, as measured;
- ``max_miss_rate: 50% at 95%``, or ``{value: 50%, at: upper_bound}``: the upper end of the
  interval, so a design passes only if the evidence supports the target at that level;
- ``max_miss_rate: {value: 50%, margin: 3%}``: the estimate plus an explicit margin (a safety
  margin fixed before the design is chosen); a margin also adds to the upper bound when both are set.

**Ties.** Two designs' miss rates count as tied when the paired bootstrap interval of their
difference (same frames, resampled together) contains 0; the objective alone then decides between
them, which is what the recommendation does anyway. What a tie changes is what the reader is told:
the recommendation is compared, by paired intervals, with its runners-up (the best design of each
other compression variant, by objective, and the feasible design with the lowest miss rate) and with
the designs of a lower objective that were rejected *only* on the miss-rate constraint. A near miss
that the evidence cannot tell apart from the recommendation is reported as such: the constraint, not
the evidence, rejected it.

**Thin evidence.** The recommendation states its frames, positives and interval, and warns when:

- fewer than ``MIN_FRAMES`` = 100 frames were evaluated: the log-average reads the miss rate at
  false positives per image down to 10^-2, and FPPI moves in steps of 1/frames, so below 100 frames
  its lowest reference points are read before the first false positive, not measured;
- fewer than ``MIN_POSITIVES`` = 100 pedestrians count: each one then moves a miss rate by more
  than a point, the size of the differences between compression variants;
- the interval's half-width exceeds ``MAX_HALF_WIDTH`` = 5 points: the miss rate is then not known
  to within the gaps between the cluster counts a sweep chooses between (the example sweep's dense
  and shipped plans differ by about 9 points);
- a constraint on the estimate is met but the upper end of the interval breaks it;
- a near miss is tied with the recommendation (above);
- a runner-up's miss rate looks ``MAX_HALF_WIDTH`` or more lower but is tied with the
  recommendation's: an apparent difference that the evidence does not support.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accelsim.detect.intervals import DEFAULT_SPEC, Difference, IntervalSpec, paired_difference
from accelsim.detect.metric import Matched
from accelsim.results.records import design_point_columns, sweep_columns
from accelsim.results.schema import arrow_schema
from accelsim.units import format_quantity, parse_bytes, parse_quantity

# Columns a weighted objective may combine: the numeric figures of a design point.
METRIC_COLUMNS = tuple(c.name for c in design_point_columns() if c.type in (int, float))
PARETO_COLUMNS = ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes")

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
            raise ValueError(f"margin {_percent(self.margin)} leaves no room under {_percent(self.value)}")
        return self

    def figure(self, estimate: float, upper_bound: float) -> float:
        """The figure that must not exceed ``value``."""
        return (estimate if self.at == "estimate" else upper_bound) + self.margin

    def describe(self, level: float) -> str:
        """The figure checked, in words (``level``: the interval's, when the limit has none)."""
        if self.at == "estimate":
            name = "miss rate"
        else:
            name = f"upper end of the miss rate's {_level(self.level or level)} interval"
        return name + (f" + {_percent(self.margin)} margin" if self.margin else "")


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
    def _size(cls, value: object) -> object:
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
_CONSTRAINT_LABELS = {
    "max_miss_rate": "miss rate", "min_fps": "frame rate", "max_power_mw": "power", "max_sram_bytes": "SRAM size",
}


def _column(results: pd.DataFrame, name: str, default: float = math.nan) -> np.ndarray:
    # Failed points and sweeps without a dataset leave None/NaN (object columns); compare as floats.
    if name not in results.columns:
        return np.full(len(results), default)
    return pd.to_numeric(results[name], errors="coerce").to_numpy(dtype=float, na_value=math.nan)


def _operating_rate(results: pd.DataFrame, constraints: Constraints) -> np.ndarray:
    fps = _column(results, "frames_per_s")
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
    energy_uj = _column(results, "energy_per_frame_uj")
    latency_ns = _column(results, "latency_per_frame_ms") * 1e6
    static_pj = _column(results, "energy_leakage_pj") + np.nan_to_num(_column(results, "dram_background_pj", 0.0))
    dynamic_mw = (energy_uj - static_pj * 1e-6) * _operating_rate(results, constraints) * 1e-3
    return pd.Series(dynamic_mw + static_pj / latency_ns, index=results.index, name="power_mw")


def _objective(results: pd.DataFrame, objective: Objective) -> np.ndarray:
    if objective.minimise in _OBJECTIVE_COLUMN:
        return _column(results, _OBJECTIVE_COLUMN[objective.minimise])
    return sum(weight * _column(results, name) for name, weight in objective.weights.items())


def _fmt(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits, without exponent or trailing zeros."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pair(value: float, limit: float, fmt) -> tuple[str, str]:
    # "30 frames/s < 30 frames/s" would read as a bug: add digits until the two differ.
    for digits in range(3, 16):
        a, b = fmt(value, digits), fmt(limit, digits)
        if a != b:
            return a, b
    return a, b


def _percent(value: float, digits: int = 3) -> str:
    return f"{value * 100:.{digits - 2}f}%"


def _level(level: float) -> str:
    return f"{level * 100:g}%"


def _points(delta: float) -> str:
    """A difference of two miss rates in percentage points, signed."""
    return f"{delta * 100:+.1f}"


def _size(n_bytes: float) -> str:
    if not math.isfinite(n_bytes):
        return "n/a"
    number, unit = re.match(r"([-\d.]+)(.*)", format_quantity(int(n_bytes), "size")).groups()
    return f"{number} {unit}"


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
            a, b = _pair(checked, limit.value, _percent)
            equals = " =" if limit.margin else ""  # "miss rate + 3.0% margin = 51.0%", but "miss rate 51.0%"
            found.append(("max_miss_rate", f"{limit.describe(row['confidence_level'])}{equals} {a} > {b}"))
    if constraints.min_fps is not None and not fps >= constraints.min_fps:
        a, b = _pair(fps, constraints.min_fps, _fmt)
        found.append(("min_fps", f"{a} frames/s < {b} frames/s"))
    if constraints.max_power_mw is not None and not power <= constraints.max_power_mw:
        a, b = _pair(power, constraints.max_power_mw, _fmt)
        found.append(("max_power_mw", f"power {a} mW > {b} mW"))
    if constraints.max_sram_bytes is not None and not sram <= constraints.max_sram_bytes:
        found.append(("max_sram_bytes", f"SRAM {_size(sram)} > {_size(constraints.max_sram_bytes)}"))
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
        "miss_rate_lamr": _column(results, "miss_rate_lamr"), "frames_per_s": _column(results, "frames_per_s"),
        "miss_rate_lamr_ci_high": _column(results, "miss_rate_lamr_ci_high"),
        "confidence_level": _column(results, "confidence_level", DEFAULT_SPEC.level),
        "sram_bytes": _column(results, "sram_bytes"), "power_mw": out["power_mw"].to_numpy(),
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


def _non_dominated(values: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``values`` (n × k, minimised) that no other row dominates.

    A column with one value for every row decides nothing and is dropped. Rows are then visited in
    lexicographic order: a dominating row is lexicographically smaller, so it has been visited, and
    by transitivity some row already on the front dominates too; each row is compared with the
    front only (O(n × front)); two columns need one pass (O(n log n))."""
    values = values[:, [j for j in range(values.shape[1]) if np.any(values[:, j] != values[0, j])]]
    n, k = values.shape
    if k == 0:
        return np.ones(n, dtype=bool)
    order = np.lexsort(values.T[::-1])
    if k == 1:
        return values[:, 0] == values[order[0], 0]
    if k == 2:
        return _non_dominated_2d(values, order)
    keep = np.zeros(n, dtype=bool)
    front = np.empty((n, k))
    size = 0
    for i in order:
        v = values[i]
        f = front[:size]
        if size and np.any(np.all(f <= v, axis=1) & np.any(f < v, axis=1)):
            continue
        front[size] = v
        size += 1
        keep[i] = True
    return keep


def _non_dominated_2d(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    # In (x, y) order a row is dominated by a row of smaller x with y no larger, or by a row of the
    # same x with smaller y (the first of its x group holds the group's least y).
    keep = np.zeros(len(values), dtype=bool)
    least_y_left = None  # least y over all rows of smaller x
    group_x = group_least_y = None
    for i in order:
        x, y = values[i]
        if x != group_x:
            if group_x is not None:
                least_y_left = group_least_y if least_y_left is None else min(least_y_left, group_least_y)
            group_x, group_least_y = x, y
        keep[i] = y == group_least_y and (least_y_left is None or y < least_y_left)
    return keep


def pareto_front(results: pd.DataFrame, columns: tuple[str, ...] = PARETO_COLUMNS) -> pd.DataFrame:
    """The "ok" points that no other ok point dominates in ``columns`` (all minimised), sorted by
    the first compared column, then index. Columns without any value (no dataset: no miss rate)
    are left out of the comparison; a missing value counts as worst. Points with identical values
    are all kept."""
    ok = results[results["status"] == "ok"]
    used = [c for c in columns if not np.isnan(_column(ok, c)).all()]
    if not used or ok.empty:
        return ok.sort_values("index", kind="stable")
    values = np.column_stack([np.nan_to_num(_column(ok, c), nan=math.inf) for c in used])
    front = ok[_non_dominated(values)]
    return front.sort_values([used[0], "index"], kind="stable", key=lambda s: pd.to_numeric(s, errors="coerce"))


# Thresholds of thin evidence; the module docstring says why each.
MIN_FRAMES = 100
MIN_POSITIVES = 100
MAX_HALF_WIDTH = 0.05


def evaluation_keys(frame: pd.DataFrame) -> pd.Series:
    """Which evaluation of the miss rate each row's figures come from: (plan, number_formats), the
    compression variant in one number format, as `SweepStore.evidence` keys them. Rows of a table
    without those columns (one made by hand) are each their own evaluation, keyed by point_id."""
    columns = [c for c in ("plan", "number_formats") if c in frame.columns]
    if not columns:
        return frame["point_id"]
    return pd.Series(list(zip(*(frame[c] for c in columns))), index=frame.index, dtype=object)


@dataclass(frozen=True)
class Recommendation:
    """The best feasible design, the designs it was preferred to, and why the others were rejected."""

    best: pd.Series | None
    runners_up: pd.DataFrame  # best design of each other evaluation by objective, then the lowest miss rate
    rejected: dict[str, int]  # constraint name (or "objective", "failed") -> designs failing it
    n_points: int
    n_feasible: int
    constraints: dict[str, object] = field(default_factory=dict)  # the targets that were set
    objective: str = Objective().describe()
    # Designs of a lower objective than the best that failed the miss-rate constraint and nothing else.
    near_misses: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: tuple[str, ...] = ()
    level: float = DEFAULT_SPEC.level  # of the intervals


def recommend(evaluated: pd.DataFrame, runners_up: int = 4, *, constraints: Constraints | None = None,
              objective: Objective | None = None, evidence: Mapping[Hashable, Matched] | None = None,
              intervals: IntervalSpec = DEFAULT_SPEC) -> Recommendation:
    """The feasible design with the lowest objective (ties: lowest index); as runners-up, the best
    design of each of the next ``runners_up`` evaluations (compression variant and number formats) by
    objective, and the feasible design with the lowest miss rate; the near misses (up to
    ``runners_up`` evaluations); per constraint the number of designs failing it (a design failing
    two counts under both); and warnings where the evidence is thin (module docstring).

    Runners-up and near misses carry how each compares with the best: ``role``; ``miss_rate_delta``,
    theirs minus the best's on the same frames, with its paired interval ``miss_rate_delta_ci_low`` and
    ``_high`` over ``evidence`` (each evaluation's 'reasonable' `Matched`, keyed as `evaluation_keys`)
    at ``intervals``; ``miss_rate_tied``, that interval contains 0 (None without evidence to pair);
    and ``objective_change``, relative to the best's. ``constraints`` and ``objective``, when given, are those ``evaluated`` was made
    with: the rejected counts then list every constraint set, 0 included, and the outputs state the
    targets."""
    feasible = evaluated[evaluated["feasible"].astype(bool)].sort_values(["objective", "index"], kind="stable")
    counts: dict[str, int] = {}
    for names in evaluated["violated"]:
        for name in filter(None, names.split(",")):
            counts[name] = counts.get(name, 0) + 1
    targets = {} if constraints is None else constraints.model_dump(exclude_none=True)
    order = [*_CONSTRAINT_LABELS, "objective"]
    rejected = {name: counts.get(name, 0) for name in order if name in targets or counts.get(name)}
    rejected["failed"] = counts.get("failed", 0)
    rec = Recommendation(
        best=None, runners_up=feasible.iloc[:0], rejected=rejected, n_points=len(evaluated),
        n_feasible=len(feasible), constraints=targets, objective=(objective or Objective()).describe(),
        level=intervals.level)
    if feasible.empty:
        return rec
    best = feasible.iloc[0]
    keys = evaluation_keys(evaluated)
    best_key = keys[best.name]

    def first_of_each(rows: pd.DataFrame) -> pd.DataFrame:
        k = keys[rows.index]
        other = np.array([v != best_key for v in k], dtype=bool)
        return rows[~k.duplicated().to_numpy(dtype=bool) & other]

    def against_best(rows: pd.DataFrame, role: str) -> pd.DataFrame:
        out = rows.assign(role=role)
        diffs = [_paired(keys[i], best_key, evidence, intervals) for i in rows.index]
        out["miss_rate_delta"] = [math.nan if d is None else d.delta for d in diffs]
        out["miss_rate_delta_ci_low"] = [math.nan if d is None else d.low for d in diffs]
        out["miss_rate_delta_ci_high"] = [math.nan if d is None else d.high for d in diffs]
        out["miss_rate_tied"] = pd.Series([None if d is None else not d.distinguishable for d in diffs],
                                          index=rows.index, dtype=object)
        out["objective_change"] = (rows["objective"] - best["objective"]) / abs(best["objective"])
        return out

    runners = against_best(first_of_each(feasible).head(runners_up), "runner-up")
    miss = _column(feasible, "miss_rate_lamr")
    if not np.isnan(miss).all():
        lowest = feasible.iloc[[int(np.nanargmin(miss))]]  # first of equal miss rates: lowest objective
        lowest_key = keys[lowest.index[0]]
        same = [i for i in runners.index if keys[i] == lowest_key]
        if same:
            runners.loc[same, "role"] = "runner-up, lowest miss rate"
        elif lowest_key != best_key:
            runners = pd.concat([runners, against_best(lowest, "lowest miss rate")])
    only_miss = evaluated[(evaluated["violated"] == "max_miss_rate")
                          & (_column(evaluated, "objective") < best["objective"])]
    near = against_best(first_of_each(only_miss.sort_values(["objective", "index"], kind="stable")).head(runners_up),
                        "rejected only on miss rate")
    limit = None if constraints is None else constraints.max_miss_rate
    return replace(rec, best=best, runners_up=runners, near_misses=near,
                   warnings=tuple(_warnings(best, runners, near, limit, intervals.level)))


def _paired(key: Hashable, best_key: Hashable, evidence: Mapping[Hashable, Matched] | None,
            intervals: IntervalSpec) -> Difference | None:
    if evidence is None or key not in evidence or best_key not in evidence:
        return None
    return paired_difference(evidence[key], evidence[best_key], intervals)


def _warnings(best: pd.Series, runners: pd.DataFrame, near: pd.DataFrame, limit: MissRateLimit | None,
              level: float) -> list[str]:
    miss, low, high = (_metric(best, c) for c in ("miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high"))
    if math.isnan(miss):
        return []
    found = []
    frames, positives = _metric(best, "frames_evaluated"), _metric(best, "positives")
    if frames < MIN_FRAMES:
        found.append(f"thin evidence: {frames:.0f} frames; the log-average reads the miss rate down to 0.01 false "
                     f"positives per image, which takes at least {MIN_FRAMES} frames to measure")
    if positives < MIN_POSITIVES:
        found.append(f"thin evidence: {positives:.0f} pedestrians count (fewer than {MIN_POSITIVES}); each one "
                     f"moves the miss rate by {100 / max(positives, 1):.1f} points")
    if (high - low) / 2 > MAX_HALF_WIDTH:
        found.append(f"thin evidence: the miss rate's {_level(level)} interval, {_percent(low)}–{_percent(high)}, "
                     f"is wider than ±{MAX_HALF_WIDTH * 100:g} points")
    if limit is not None and limit.at == "estimate" and high + limit.margin > limit.value:
        found.append(f"the miss rate meets {_percent(limit.value)} on its estimate, but the upper end of its interval "
                     f"({_percent(high)}{f' + {_percent(limit.margin)} margin' if limit.margin else ''}) does not; "
                     f"'max_miss_rate: {_percent(limit.value)} at {_level(level)}' would reject it")
    for _, row in near[near["miss_rate_tied"] == True].iterrows():  # noqa: E712 - None is neither
        found.append(f"{row['point_id']} was rejected only on its miss rate ({row['violations']}) at "
                     f"{_change(row['objective_change'])} objective, yet its miss rate is tied with the "
                     f"recommendation's ({_difference_text(row, level)}): the constraint, not the evidence, "
                     "separates them")
    looks_better = runners[(runners["miss_rate_tied"] == True)  # noqa: E712
                           & (runners["miss_rate_delta"] <= -MAX_HALF_WIDTH)]
    for _, row in looks_better.iterrows():
        found.append(f"{row['point_id']} reads {_percent(_metric(row, 'miss_rate_lamr'))} against the recommendation's "
                     f"{_percent(miss)} at {_change(row['objective_change'])} objective, yet the two are tied "
                     f"({_difference_text(row, level)}): the objective broke the tie; more frames may separate them")
    if not runners.empty and runners["miss_rate_tied"].isna().any():
        found.append("no per-frame evidence to pair: the runners-up are not compared with the recommendation")
    return found


def _change(fraction: float) -> str:
    """A relative change as a signed percentage, with digits enough that a small one is not "0.0%"."""
    pct = fraction * 100
    return ("-" if pct < 0 else "+") + (f"{abs(pct):.1f}" if abs(pct) >= 1 else _fmt(abs(pct), 2)) + "%"


def _difference_text(row: pd.Series, level: float) -> str:
    """The paired difference against the recommendation, in points, with its interval and verdict."""
    delta = _metric(row, "miss_rate_delta")
    if math.isnan(delta):
        return "no paired comparison"
    low, high = _metric(row, "miss_rate_delta_ci_low"), _metric(row, "miss_rate_delta_ci_high")
    verdict = "tied" if row["miss_rate_tied"] else "distinguishable"
    return f"{_points(delta)} points, paired {_level(level)} interval [{_points(low)}, {_points(high)}]: {verdict}"


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _constraint_text(name: str, limit: object, level: float) -> str:
    if name == "max_miss_rate":
        limit = MissRateLimit.model_validate(limit)
        return f"{limit.describe(level)} ≤ {_percent(limit.value)}"
    return {
        "min_fps": lambda: f"≥ {_fmt(limit)} frames/s",
        "max_power_mw": lambda: f"power ≤ {_fmt(limit)} mW",
        "max_sram_bytes": lambda: f"SRAM ≤ {_size(limit)}",
    }[name]()


def _rejected_label(name: str, rec: Recommendation) -> str:
    if name in rec.constraints:
        return _constraint_text(name, rec.constraints[name], rec.level)
    return {"objective": "objective has no value", "failed": "simulation failed"}.get(name, _CONSTRAINT_LABELS.get(name, name))


def _metric(row: pd.Series, name: str) -> float:
    value = row.get(name)
    try:
        return float(value)
    except (TypeError, ValueError):  # None, or absent from a sweep without that metric
        return math.nan


def _miss_rate_text(row: pd.Series) -> str:
    """The miss rate with its interval: a miss rate never travels without it."""
    miss, low, high = (_metric(row, c) for c in ("miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high"))
    if math.isnan(miss):
        return "n/a (no dataset)"
    return _percent(miss) if math.isnan(low) else f"{_percent(miss)} ({_percent(low)}–{_percent(high)})"


def _headline(row: pd.Series) -> dict[str, str]:
    """The figures a reader compares, formatted with units."""
    return {
        "energy per frame": f"{_fmt(_metric(row, 'energy_per_frame_uj'))} µJ",
        "frame rate": f"{_fmt(_metric(row, 'frames_per_s'))} frames/s",
        "power": f"{_fmt(_metric(row, 'power_mw'))} mW",
        "miss rate": _miss_rate_text(row),
        "SRAM": _size(_metric(row, "sram_bytes")),
        "area": f"{_fmt(_metric(row, 'area_mm2'))} mm²",
    }


def _evidence(row: pd.Series) -> dict[str, object]:
    """What the recommendation's miss rate rests on (recommendation.json's ``evidence``)."""
    counts = {c: _metric(row, c) for c in ("frames_evaluated", "positives", "bootstrap_resamples")}
    return {"dataset": _jsonable(row.get("dataset")),
            **{c: int(v) if math.isfinite(v) else None for c, v in counts.items()},
            **{c: _jsonable(_metric(row, c)) for c in (
                "miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high", "confidence_level")}}


def _evidence_text(row: pd.Series) -> str | None:
    e = _evidence(row)
    if e["miss_rate_lamr"] is None:
        return None
    return (f"evidence: {e['frames_evaluated']} frames of {e['dataset']}, {e['positives']} pedestrians counted "
            f"(Caltech 'reasonable'); miss rate {_percent(e['miss_rate_lamr'])}, {_level(e['confidence_level'])} "
            f"interval {_percent(e['miss_rate_lamr_ci_low'])}–{_percent(e['miss_rate_lamr_ci_high'])} "
            f"({e['bootstrap_resamples']} bootstrap resamples of the frames)")


def _comparison_cells(row: pd.Series) -> list[str]:
    delta = _metric(row, "miss_rate_delta")
    if math.isnan(delta):
        return ["n/a", "n/a", _change(row["objective_change"])]
    interval = f"{_points(delta)} [{_points(_metric(row, 'miss_rate_delta_ci_low'))}, " \
               f"{_points(_metric(row, 'miss_rate_delta_ci_high'))}]"
    return [interval, "tied" if row["miss_rate_tied"] else "distinguishable", _change(row["objective_change"])]


def _cell(value: object) -> str:
    value = _jsonable(value)
    text = "" if value is None else (_fmt(value) if isinstance(value, float) else str(value))
    return text.replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _markdown(rec: Recommendation, axes: list[str], title: str) -> str:
    failed = rec.rejected.get("failed", 0)
    lines = [f"# {title}", "",
             f"{rec.n_points} design points evaluated; {rec.n_feasible} meet every constraint; "
             f"{failed} failed to simulate.", "",
             f"Objective: the lowest {rec.objective} among the designs that meet every constraint.", ""]
    if rec.constraints:
        lines += ["Constraints: " + "; ".join(_constraint_text(n, v, rec.level) for n, v in rec.constraints.items())
                  + ".", ""]
    if rec.best is None:
        lines += ["## No design meets every constraint", ""]
    else:
        lines += [f"## Recommended design: {rec.best['point_id']}", ""]
        rows = [[axis, _cell(rec.best.get(axis))] for axis in axes]
        rows += [[name, text] for name, text in _headline(rec.best).items()]
        lines += _table(["", ""], rows) + [""]
        evidence = _evidence_text(rec.best)
        if evidence:
            lines += [evidence[0].upper() + evidence[1:] + ".", ""]
    if rec.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in rec.warnings] + [""]
    compared = [f"Δ miss rate vs recommended (points, paired {_level(rec.level)} interval)", "miss rates",
                "objective vs recommended"]
    if len(rec.runners_up):
        lines += ["## Runners-up", "",
                  "The best design of each other compression variant by objective, and the design with the lowest "
                  "miss rate. Tied: the paired interval of the difference contains 0, so the objective decides.", ""]
        header = ["point", "role", *axes, *_headline(rec.runners_up.iloc[0]), *compared]
        rows = [[_cell(r["point_id"]), r["role"], *(_cell(r.get(a)) for a in axes), *_headline(r).values(),
                 *_comparison_cells(r)] for _, r in rec.runners_up.iterrows()]
        lines += _table(header, rows) + [""]
    if len(rec.near_misses):
        lines += ["## Rejected only on miss rate, at a lower objective", ""]
        header = ["point", *axes, "miss rate", "why rejected", *compared]
        rows = [[_cell(r["point_id"]), *(_cell(r.get(a)) for a in axes), _miss_rate_text(r), _cell(r["violations"]),
                 *_comparison_cells(r)] for _, r in rec.near_misses.iterrows()]
        lines += _table(header, rows) + [""]
    lines += ["## Designs rejected", ""]
    lines += _table(["constraint", "designs rejected"],
                    [[_rejected_label(n, rec), str(c)] for n, c in rec.rejected.items()])
    lines += ["", "A design that fails several constraints is counted under each.", "",
              "## Where the figures come from", "",
              "Energy per frame is the simulator's: every access, lookup and MAC counted in the simulated frame, "
              "priced by the energy table of that design's hardware config (each table entry names its source), "
              "plus leakage and DRAM background power over the frame's latency. Power is the average at the "
              "operating frame rate (the minimum frame rate if one is set, else the design's own): dynamic energy "
              "per frame times frame rate, plus leakage and DRAM background power, which are paid while idle too. "
              "Miss rate is the log-average miss rate measured on the sweep's dataset with each design's decoded "
              "weights, with its percentile bootstrap interval over the frames; differences between two designs "
              "are paired (both recomputed on the same resampled frames). Area is on-chip SRAM, codebook "
              "decoders and MAC array from the same tables (no interconnect or control).", ""]
    return "\n".join(lines)


def _plot(path: Path, evaluated: pd.DataFrame, rec: Recommendation, title: str) -> None:
    # Figure + Agg canvas directly, not pyplot: no global backend switched under a caller's feet.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullLocator

    ok = evaluated[evaluated["status"] == "ok"]
    energy, miss, sram = (_column(ok, c) for c in ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes"))
    feasible = ok["feasible"].to_numpy(dtype=bool)
    on_front = ok.index.isin(pareto_front(ok).index)
    has_miss = not np.isnan(miss).all()
    x = miss * 100 if has_miss else sram

    fig = Figure(figsize=(8, 5.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    finite_sram = sram[np.isfinite(sram) & (sram > 0)]
    coloured = has_miss and len(np.unique(finite_sram)) > 1
    style = {"c": sram, "cmap": "viridis", "norm": LogNorm(finite_sram.min(), finite_sram.max())} if coloured else {
        "color": "tab:blue"}
    for mask, alpha, label in ((~feasible, 0.25, "fails a constraint"), (feasible, 0.9, "meets every constraint")):
        if not mask.any():
            continue
        kw = {k: (v[mask] if k == "c" else v) for k, v in style.items()}
        points = ax.scatter(x[mask], energy[mask], s=18, alpha=alpha, linewidths=0, label=label, **kw)
    if coloured:
        bar = fig.colorbar(points, ax=ax)
        bar.set_label("SRAM size")
        # Sweeps step SRAM in powers of two: label the sizes swept, not decades of bytes.
        sizes = np.unique(finite_sram)
        bar.ax.yaxis.set_major_locator(FixedLocator(sizes) if len(sizes) <= 12 else LogLocator(base=2))
        bar.ax.yaxis.set_minor_locator(NullLocator())
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _size(v) if v >= 1 else ""))
    ax.scatter(x[on_front], energy[on_front], s=60, facecolors="none", edgecolors="black", linewidths=1.0,
               label="Pareto front (energy, miss rate, SRAM)" if has_miss else "Pareto front (energy, SRAM)")
    handles = ax.get_legend_handles_labels()[0]
    if rec.best is not None:
        bx = _metric(rec.best, "miss_rate_lamr") * 100 if has_miss else _metric(rec.best, "sram_bytes")
        ax.scatter([bx], [_metric(rec.best, "energy_per_frame_uj")], marker="*", s=260, color="red",
                   edgecolors="black", zorder=5)
        handles.append(Line2D([], [], marker="*", color="red", markeredgecolor="black", linestyle="none",
                              markersize=14, label=f"recommended ({rec.best['point_id']})"))
    if has_miss:
        ax.set_xlabel("log-average miss rate (%)")
    else:
        if len(np.unique(finite_sram)) > 1:  # a log axis over one value has no range to scale
            ax.set_xscale("log", base=2)
            ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _size(v)))
        ax.set_xlabel("SRAM size (sweep has no dataset: no miss rate)")
    finite_energy = energy[np.isfinite(energy) & (energy > 0)]
    if len(finite_energy) and finite_energy.max() > 30 * finite_energy.min():
        ax.set_yscale("log")
    ax.set_ylabel("energy per frame (µJ)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(handles=handles, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with the schema's types, units and descriptions on the known columns; axis
    columns get the type of their values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    known = {c.name: c for c in sweep_columns()}
    out = frame.copy()
    fields = dict(zip(known, arrow_schema(list(known.values()))))
    for name in out.columns:
        if name in known:
            continue
        # An axis may mix types (64 and "64KiB" in one column); Parquet columns have one type.
        kinds = {type(v) for v in out[name] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if out[name].dtype == object and len(kinds) > 1 and not kinds <= {int, float}:
            out[name] = [v if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in out[name]]
        fields[name] = pa.Table.from_pandas(out[[name]], preserve_index=False).schema.field(name)
    schema = pa.schema([fields[name] for name in out.columns])
    pq.write_table(pa.Table.from_pandas(out, schema=schema, preserve_index=False), path)


def write_outputs(out_dir: Path, evaluated: pd.DataFrame, layers: pd.DataFrame, recommendation: Recommendation,
                  axes: list[str], title: str) -> list[Path]:
    """Write results.csv/.parquet, layers.csv (when there are layer rows), pareto.csv,
    recommendation.json/.md and pareto.png into ``out_dir``; return the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def path(name: str) -> Path:
        written.append(out_dir / name)
        return written[-1]

    evaluated.to_csv(path("results.csv"), index=False)
    _parquet(evaluated, path("results.parquet"))
    if layers is not None and len(layers):
        layers.to_csv(path("layers.csv"), index=False)
    pareto_front(evaluated).to_csv(path("pareto.csv"), index=False)
    rec = recommendation
    document = {
        "title": title, "n_points": rec.n_points, "n_feasible": rec.n_feasible, "objective": rec.objective,
        "constraints": rec.constraints, "axes": axes,
        "confidence_level": rec.level,
        "best": None if rec.best is None else rec.best.to_dict(),
        "evidence": None if rec.best is None else _evidence(rec.best),
        "warnings": list(rec.warnings),
        "runners_up": rec.runners_up.to_dict("records"),
        "near_misses": rec.near_misses.to_dict("records"),
        "rejected": rec.rejected,
    }
    path("recommendation.json").write_text(json.dumps(_jsonable(document), indent=2, allow_nan=False) + "\n")
    path("recommendation.md").write_text(_markdown(rec, axes, title))
    _plot(path("pareto.png"), evaluated, rec, title)
    return written


def text_summary(recommendation: Recommendation, axes: list[str]) -> str:
    """The lines the CLI prints when a sweep ends."""
    rec = recommendation
    lines = [f"{rec.n_points} design points: {rec.n_feasible} meet every constraint, "
             f"{rec.rejected.get('failed', 0)} failed"]
    if rec.best is None:
        lines.append("no design meets every constraint")
    else:
        settings = ", ".join(f"{a}={_cell(rec.best.get(a))}" for a in axes)
        lines.append(f"recommended {rec.best['point_id']}: {settings}")
        lines.append("  " + ", ".join(f"{k} {v}" for k, v in _headline(rec.best).items()))
        evidence = _evidence_text(rec.best)
        if evidence:
            lines.append("  " + evidence)
        compared = pd.concat([rec.runners_up, rec.near_misses])
        if len(compared):
            lines.append("against the recommendation (miss rate: theirs minus the recommended one's, paired):")
        for _, r in compared.iterrows():
            settings = ", ".join(f"{a}={_cell(r.get(a))}" for a in axes)
            lines.append(f"  {r['role']} {r['point_id']} ({settings}): miss rate {_miss_rate_text(r)}, "
                         f"{_difference_text(r, rec.level)}; objective {_change(r['objective_change'])}")
    rejected = [f"{_rejected_label(n, rec)}: {c}" for n, c in rec.rejected.items() if n != "failed"]
    if rejected:
        lines.append("rejected by " + "; ".join(rejected))
    lines += [f"warning: {w}" for w in rec.warnings]
    return "\n".join(lines)
