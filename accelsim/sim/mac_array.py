"""Systolic MAC array: cycles of one layer (or tile) for weight- and output-stationary dataflows.

A layer is a matrix product per group: ``vectors`` input vectors of ``fan_in`` values each, times a
``[fan_in, out_units / groups]`` weight block (conv: vectors = output pixels x batch, fan_in =
in_ch / groups * kh * kw; fc: vectors = batch, fan_in = in_features, groups = 1).

Convention (SCALE-Sim's analytical model, Samajdar et al. 2018: a fold costs ``2*Sr + Sc + T - 2``):

* weight-stationary (``"ws"``): fan_in on the array rows, output units on the columns. Folds =
  ``groups * ceil(fan_in / rows) * ceil(out_units_per_group / cols)``. A fold with ``r`` rows and
  ``c`` columns in use first loads its weights (``r`` cycles, one row per cycle), then streams the
  ``vectors`` inputs through: ``vectors + r + c - 2`` cycles (the skew to fill and drain the array).
* output-stationary (``"os"``): vectors on the rows, output units on the columns, fan_in streamed.
  Folds = ``groups * ceil(vectors / rows) * ceil(out_units_per_group / cols)``; a fold streams
  ``fan_in + r + c - 2`` cycles, then drains its outputs (``r`` cycles).
* Deviation from SCALE-Sim: the skew and load/drain count the rows and columns a fold *uses*, not
  the whole array (a partial fold sits in the corner where inputs enter and outputs leave). With
  whole-array skew a larger array could be slower on a small layer; this way it never is.
* Fold order: output-unit blocks outermost (group by group), the row dimension inside.

Sparse weights are not skipped here: this is dense execution. The mapper scales it by the layer's
non-zero weights (`StreamProfile.unit_nonzeros`) on hardware that skips pruned ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Dataflow = Literal["ws", "os"]


@dataclass(frozen=True)
class MacArrayResult:
    folds: int
    cycles: int


def _check(rows: int, cols: int, dataflow: str, vectors: int, fan_in: int, out_units: int, groups: int) -> None:
    for name, value in (("rows", rows), ("cols", cols), ("vectors", vectors), ("fan_in", fan_in),
                        ("out_units", out_units), ("groups", groups)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if out_units % groups:
        raise ValueError(f"out_units ({out_units}) must be a multiple of groups ({groups})")
    if dataflow not in ("ws", "os"):
        raise ValueError(f"dataflow must be 'ws' or 'os', got {dataflow!r}")


def _grid(rows, cols, dataflow: str, vectors: int, fan_in: int, out_units: int, groups: int):
    """(folds, cycles) for arrays of rows and cols (numpy broadcasting; all integer arithmetic)."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    m = out_units // groups
    spatial, temporal = (fan_in, vectors) if dataflow == "ws" else (vectors, fan_in)
    n_r = -(-spatial // rows)
    n_c = -(-m // cols)
    folds = groups * n_r * n_c
    # Sums over all folds: rows used add up to `spatial` per column block, columns used to m per row fold.
    stream = groups * (spatial * n_c + m * n_r) + folds * (temporal - 2)
    return folds, stream + groups * spatial * n_c  # one load (WS) / drain (OS) of r cycles per fold


def mac_array_cycles(rows: int, cols: int, dataflow: Dataflow, vectors: int, fan_in: int, out_units: int,
                     groups: int = 1) -> MacArrayResult:
    """Cycles of ``vectors`` input vectors through a layer mapped onto the whole ``rows x cols`` array."""
    _check(rows, cols, dataflow, vectors, fan_in, out_units, groups)
    folds, cycles = _grid(rows, cols, dataflow, vectors, fan_in, out_units, groups)
    return MacArrayResult(folds=int(folds), cycles=int(cycles))


def mac_array_cycles_by_rows(rows: np.ndarray, cols: int, dataflow: Dataflow, vectors: int, fan_in: int,
                             out_units: int, groups: int = 1) -> np.ndarray:
    """`mac_array_cycles` for each entry of ``rows`` at once, as an int64 array."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size and rows.min() <= 0:
        raise ValueError("rows must be > 0")
    _check(1, cols, dataflow, vectors, fan_in, out_units, groups)
    return np.asarray(_grid(rows, cols, dataflow, vectors, fan_in, out_units, groups)[1], dtype=np.int64)
