"""Systolic MAC array: cycles of one layer (or tile) for weight- and output-stationary dataflows.

A layer is a matrix product per group: ``vectors`` input vectors of ``fan_in`` values each, times a
``[fan_in, out_units / groups]`` weight block (conv: vectors = output pixels x batch, fan_in =
in_ch / groups * kh * kw; fc: vectors = batch, fan_in = in_features, groups = 1).

How each dataflow maps the product onto the array, and the cycles of a fold, are the dataflow
objects' business (`accelsim.sim.dataflow`); this module is the entry point with argument checks.

* Deviation from SCALE-Sim: the skew and load/drain count the rows and columns a fold *uses*, not
  the whole array (a partial fold sits in the corner where inputs enter and outputs leave). With
  whole-array skew a larger array could be slower on a small layer; this way it never is.
* Fold order: column folds outermost (group by group), the row dimension inside.

Sparse weights are not skipped here: this is dense execution. The mapper scales it by the layer's
non-zero weights (`StreamProfile.unit_nonzeros`) on hardware that skips pruned ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.sim.dataflow import Dataflow, dataflow as _dataflow


@dataclass(frozen=True)
class MacArrayResult:
    folds: int
    cycles: int


def _check(rows: int, cols: int, vectors: int, fan_in: int, out_units: int, groups: int) -> None:
    for name, value in (("rows", rows), ("cols", cols), ("vectors", vectors), ("fan_in", fan_in),
                        ("out_units", out_units), ("groups", groups)):
        if value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    if out_units % groups:
        raise ValueError(f"out_units ({out_units}) must be a multiple of groups ({groups})")


def _resolve(dataflow: Dataflow | str) -> Dataflow:
    return dataflow if isinstance(dataflow, Dataflow) else _dataflow(dataflow)


def mac_array_cycles(rows: int, cols: int, dataflow: Dataflow | str, vectors: int, fan_in: int, out_units: int,
                     groups: int = 1, *, overlap: bool = False) -> MacArrayResult:
    """Cycles of ``vectors`` input vectors through a layer mapped onto the whole ``rows x cols`` array;
    ``overlap``: double-buffered stationary registers (`Dataflow.grid`)."""
    _check(rows, cols, vectors, fan_in, out_units, groups)
    folds, cycles = _resolve(dataflow).grid(rows, cols, vectors, fan_in, out_units, groups, overlap=overlap)
    return MacArrayResult(folds=int(folds), cycles=int(cycles))
