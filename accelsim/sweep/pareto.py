"""The Pareto front of a sweep: the designs that no other design beats on every figure compared
(energy per frame, miss rate and SRAM size, all minimised)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from accelsim.sweep.figures import column_floats

PARETO_COLUMNS = ("energy_per_frame_uj", "miss_rate_lamr", "sram_bytes")


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
    used = [c for c in columns if not np.isnan(column_floats(ok, c)).all()]
    if not used or ok.empty:
        return ok.sort_values("index", kind="stable")
    values = np.column_stack([np.nan_to_num(column_floats(ok, c), nan=math.inf) for c in used])
    front = ok[_non_dominated(values)]
    return front.sort_values([used[0], "index"], kind="stable", key=lambda s: pd.to_numeric(s, errors="coerce"))
