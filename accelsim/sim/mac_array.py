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
* ``overlap_stationary``: the weight load (WS) or output drain (OS) of one fold hides behind the
  stream of its neighbour (double-buffered stationary registers); only the first load / last drain
  is exposed, and a load longer than the stream it hides behind shows the difference.
* Fold order: output-unit blocks outermost (group by group), the row dimension inside.
* `mac_array_cycles` maps onto the whole array. With ``overlap_stationary`` a bigger array can be a
  few cycles slower on a tiny layer (one fold's load can no longer hide behind another's stream), so
  `mac_array_best_cycles` lets the mapper use a sub-array when that is faster, as a compiler would:
  its cycles never rise with rows or columns. Without overlap both give the same cycles.

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
    macs: int
    rows: int  # physical array
    cols: int
    used_rows: int  # the (sub-)array the layer was mapped onto
    used_cols: int

    @property
    def utilisation(self) -> float:
        """Useful MACs over the physical array's MAC slots (rows x cols x cycles)."""
        return self.macs / (self.cycles * self.rows * self.cols) if self.cycles else 0.0


def _check(rows: int, cols: int, dataflow: str, vectors: int, fan_in: int, out_units: int, groups: int) -> None:
    for name, value in (("rows", rows), ("cols", cols), ("vectors", vectors), ("fan_in", fan_in),
                        ("out_units", out_units), ("groups", groups)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if out_units % groups:
        raise ValueError(f"out_units ({out_units}) must be a multiple of groups ({groups})")
    if dataflow not in ("ws", "os"):
        raise ValueError(f"dataflow must be 'ws' or 'os', got {dataflow!r}")


def _grid(rows, cols, dataflow: str, vectors: int, fan_in: int, out_units: int, groups: int, overlap: bool):
    """(folds, cycles) for arrays of rows and cols (numpy broadcasting; all integer arithmetic)."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    m = out_units // groups
    spatial, temporal = (fan_in, vectors) if dataflow == "ws" else (vectors, fan_in)
    n_r, full_r, part_r = -(-spatial // rows), spatial // rows, spatial % rows
    n_c, full_c, part_c = -(-m // cols), m // cols, m % cols
    folds = groups * n_r * n_c
    # Sums over all folds: rows used add up to `spatial` per column block, columns used to m per row fold.
    stream = groups * (spatial * n_c + m * n_r) + folds * (temporal - 2)
    if not overlap:
        return folds, stream + groups * spatial * n_c  # one load (WS) / drain (OS) of r cycles per fold

    # Overlapped: a load/drain of r2 cycles next to a fold streaming s cycles exposes max(0, r2 - s).
    # Streams are r + c + temporal - 2 >= r, so only a fold next to a taller one exposes anything:
    # WS, a column block's first load behind the previous block's (partial) last fold; OS, a full
    # fold's drain behind its block's partial fold. Plus the first load / last drain, always exposed.
    def hidden_short(r2, r, c):
        return np.maximum(0, r2 - (r + c + temporal - 2))

    first_r = np.where(full_r > 0, rows, part_r)  # rows used by a column block's first fold
    last_r = np.where(part_r > 0, part_r, rows)  # ... and by its last
    blocks_full, blocks_part = groups * full_c, np.where(part_c > 0, groups, 0)  # column blocks by width
    if dataflow == "ws":
        followed_full = blocks_full - (part_c == 0)  # the final block has no successor
        followed_part = np.maximum(blocks_part - 1, 0)
        exposed = (first_r + followed_full * hidden_short(first_r, last_r, cols)
                   + followed_part * hidden_short(first_r, last_r, part_c))
    else:
        inner = (part_r > 0) & (full_r > 0)
        exposed = last_r + np.where(inner, blocks_full * hidden_short(rows, part_r, cols)
                                    + blocks_part * hidden_short(rows, part_r, part_c), 0)
    return folds, stream + exposed


def mac_array_cycles(rows: int, cols: int, dataflow: Dataflow, vectors: int, fan_in: int, out_units: int,
                     groups: int = 1, overlap_stationary: bool = False) -> MacArrayResult:
    """Cycles of ``vectors`` input vectors through a layer mapped onto the whole ``rows x cols`` array."""
    _check(rows, cols, dataflow, vectors, fan_in, out_units, groups)
    folds, cycles = _grid(rows, cols, dataflow, vectors, fan_in, out_units, groups, overlap_stationary)
    return MacArrayResult(folds=int(folds), cycles=int(cycles), macs=vectors * fan_in * out_units,
                          rows=rows, cols=cols, used_rows=rows, used_cols=cols)


def mac_array_cycles_by_rows(rows: np.ndarray, cols: int, dataflow: Dataflow, vectors: int, fan_in: int,
                             out_units: int, groups: int = 1) -> np.ndarray:
    """`mac_array_cycles` (no overlap) for each entry of ``rows`` at once, as an int64 array."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size and rows.min() <= 0:
        raise ValueError("rows must be > 0")
    _check(1, cols, dataflow, vectors, fan_in, out_units, groups)
    return np.asarray(_grid(rows, cols, dataflow, vectors, fan_in, out_units, groups, False)[1], dtype=np.int64)


def mac_array_best_cycles(rows: int, cols: int, dataflow: Dataflow, vectors: int, fan_in: int, out_units: int,
                          groups: int = 1, overlap_stationary: bool = False) -> MacArrayResult:
    """As `mac_array_cycles`, on the fastest sub-array (ties: the largest). Never slower with more
    rows or columns. Evaluates rows x cols mappings at once (about 0.1 ms for 64 x 64)."""
    _check(rows, cols, dataflow, vectors, fan_in, out_units, groups)
    if not overlap_stationary:  # cycles fall monotonically with rows and cols: the whole array wins
        return mac_array_cycles(rows, cols, dataflow, vectors, fan_in, out_units, groups, False)
    # Sub-arrays beyond what the layer can fill behave like the filled size: cap the search there.
    spatial = fan_in if dataflow == "ws" else vectors
    r = np.arange(1, min(rows, spatial) + 1, dtype=np.int64)[:, None]
    c = np.arange(1, min(cols, out_units // groups) + 1, dtype=np.int64)[None, :]
    folds, cycles = _grid(r, c, dataflow, vectors, fan_in, out_units, groups, True)
    flat = cycles.ravel()
    best = np.flatnonzero(flat == flat.min())[-1]  # row-major: the last minimum is the largest array
    i, j = np.unravel_index(best, cycles.shape)
    return MacArrayResult(folds=int(folds[i, j]), cycles=int(flat[best]), macs=vectors * fan_in * out_units,
                          rows=rows, cols=cols, used_rows=int(r[i, 0]), used_cols=int(c[0, j]))
