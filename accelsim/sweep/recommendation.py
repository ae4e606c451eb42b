"""The recommended design: the one that meets every constraint at the lowest objective, compared
with the designs it was preferred to, and warned about where the evidence under its miss rate is thin.

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

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from accelsim.detect.intervals import DEFAULT_SPEC, Difference, IntervalSpec, paired_difference
from accelsim.detect.metric import Matched
from accelsim.sweep.constraints import CONSTRAINT_LABELS, Constraints, MissRateLimit, Objective
from accelsim.sweep.figures import column_floats, fmt_change, fmt_level, fmt_percent, fmt_points, row_float

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
    objective, and the feasible design with the lowest miss rate; the near misses (the best design
    of each of up to ``runners_up`` evaluations rejected only on the miss rate at a lower objective,
    nearest the best's objective first); per constraint the number of designs failing it (a design failing
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
    order = [*CONSTRAINT_LABELS, "objective"]
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
    miss = column_floats(feasible, "miss_rate_lamr")
    if not np.isnan(miss).all():
        lowest = feasible.iloc[[int(np.nanargmin(miss))]]  # first of equal miss rates: lowest objective
        lowest_key = keys[lowest.index[0]]
        same = [i for i in runners.index if keys[i] == lowest_key]
        if same:
            runners.loc[same, "role"] = "runner-up, lowest miss rate"
        elif lowest_key != best_key:
            runners = pd.concat([runners, against_best(lowest, "lowest miss rate")])
    only_miss = evaluated[(evaluated["violated"] == "max_miss_rate")
                          & (column_floats(evaluated, "objective") < best["objective"])]
    # nearest the best first: those are the alternatives a slightly looser miss-rate target would pick
    each = first_of_each(only_miss.sort_values(["objective", "index"], kind="stable"))
    near = against_best(each.iloc[::-1].head(runners_up), "rejected only on miss rate")
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
    miss, low, high = (row_float(best, c)
                       for c in ("miss_rate_lamr", "miss_rate_lamr_ci_low", "miss_rate_lamr_ci_high"))
    if math.isnan(miss):
        return []
    found = []
    frames, positives = row_float(best, "frames_evaluated"), row_float(best, "positives")
    if frames < MIN_FRAMES:
        found.append(f"thin evidence: {frames:.0f} frames; the log-average reads the miss rate down to 0.01 false "
                     f"positives per image, which takes at least {MIN_FRAMES} frames to measure")
    if positives < MIN_POSITIVES:
        found.append(f"thin evidence: {positives:.0f} pedestrians count (fewer than {MIN_POSITIVES}); each one "
                     f"moves the miss rate by {100 / max(positives, 1):.1f} points")
    if (high - low) / 2 > MAX_HALF_WIDTH:
        found.append(f"thin evidence: the miss rate's {fmt_level(level)} interval, "
                     f"{fmt_percent(low)}–{fmt_percent(high)}, is wider than ±{MAX_HALF_WIDTH * 100:g} points")
    if limit is not None and limit.at == "estimate" and high + limit.margin > limit.value:
        margin = f" + {fmt_percent(limit.margin)} margin" if limit.margin else ""
        found.append(f"the miss rate meets {fmt_percent(limit.value)} on its estimate, but the upper end of its "
                     f"interval ({fmt_percent(high)}{margin}) does not; "
                     f"'max_miss_rate: {fmt_percent(limit.value)} at {fmt_level(level)}' would reject it")
    for _, row in near[near["miss_rate_tied"] == True].iterrows():  # noqa: E712 - None is neither
        found.append(f"{row['point_id']} was rejected only on its miss rate ({row['violations']}) at "
                     f"{fmt_change(row['objective_change'])} objective, yet its miss rate is tied with the "
                     f"recommendation's ({difference_text(row, level)}): the constraint, not the evidence, "
                     "separates them")
    looks_better = runners[(runners["miss_rate_tied"] == True)  # noqa: E712
                           & (runners["miss_rate_delta"] <= -MAX_HALF_WIDTH)]
    for _, row in looks_better.iterrows():
        found.append(f"{row['point_id']} reads {fmt_percent(row_float(row, 'miss_rate_lamr'))} against the "
                     f"recommendation's {fmt_percent(miss)} at {fmt_change(row['objective_change'])} objective, "
                     f"yet the two are tied ({difference_text(row, level)}): the objective broke the tie; more frames "
                     "may separate them")
    if not runners.empty and runners["miss_rate_tied"].isna().any():
        found.append("no per-frame evidence to pair: the runners-up are not compared with the recommendation")
    return found


def difference_text(row: pd.Series, level: float) -> str:
    """The paired difference against the recommendation, in points, with its interval and verdict."""
    delta = row_float(row, "miss_rate_delta")
    if math.isnan(delta):
        return "no paired comparison"
    low, high = row_float(row, "miss_rate_delta_ci_low"), row_float(row, "miss_rate_delta_ci_high")
    verdict = "tied" if row["miss_rate_tied"] else "distinguishable"
    return (f"{fmt_points(delta)} points, paired {fmt_level(level)} interval "
            f"[{fmt_points(low)}, {fmt_points(high)}]: {verdict}")
