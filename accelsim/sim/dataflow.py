"""Dataflows: which operand stays in the MAC array, and what that costs in folds, cycles and accesses.

A conv or fc layer is, per group, a matrix product of ``V`` input vectors (output pixels x batch) of
``K`` fan-in values each with a ``K x M`` weight block (``M`` output units per group). A dataflow
puts two of the three dimensions on the array's rows and columns and streams the third through it
(SCALE-Sim's terms, Samajdar et al. 2018):

=================  ==================  ==========  ==========  ========
dataflow           stationary operand  rows        columns     streamed
=================  ==================  ==========  ==========  ========
weight-stationary  weights             K           M           V
output-stationary  outputs             V           M           K
input-stationary   inputs              K           V           M
=================  ==================  ==========  ==========  ========

A *fold* is one block of rows x columns of the spatial dimensions. Everything the mapper and the
array model need to know about a dataflow is a method here, so adding one is adding a class to
`DATAFLOWS`; the hardware config's ``mac_array.dataflow`` accepts exactly the registry's names.

Per-operand SRAM accesses follow from the table: the operand on the columns' dimension is re-read
once per row fold, the one on the rows' dimension once per column fold, and the stationary one is
loaded (or drained) once per fold. Outputs whose reduction dimension ``K`` is spread over row folds
(weight- and input-stationary) leave the array once per row fold, all but the last time as partial
sums; they leave at the foot of the columns, where an accumulator buffer may hold them
(`columns_in_use`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class Dataflow(ABC):
    name: ClassVar[str]  # the config's spelling
    short: ClassVar[str]  # the tables' spelling (SCALE-Sim's cfg value)
    stationary: ClassVar[str]  # "weights" | "outputs" | "inputs"
    # How the streamed activations reach the rows each cycle, for the bank-conflict model: "fan-in"
    # (the rows read consecutive fan-in elements of one output pixel) or "pixels" (the rows read one
    # fan-in element of neighbouring output pixels).
    conflict_pattern: ClassVar[str]
    # Whether output units lie on the columns (weight- and output-stationary): then a column fold is a
    # block of ``cols`` units, weight tiles are cut along such blocks, and the input is streamed once
    # per block. Input-stationary streams the units, so a group's units form one block.
    units_on_columns: ClassVar[bool] = True

    @staticmethod
    @abstractmethod
    def dims(vectors, fan_in, units):
        """(spatial on rows, spatial on columns, streamed) for one group."""

    def fold_cycles(self, rows, cols, vectors, fan_in, units, groups: int = 1):
        """(folds, streaming cycles, stationary load cycles) of ``vectors`` vectors through a layer of
        ``groups`` groups on an array of ``rows x cols`` (numpy broadcasting over ``rows``, ``cols`` and
        ``vectors``; integer arithmetic).

        A fold with ``r`` rows and ``c`` columns in use streams ``T + r + c - 2`` cycles (the skew to
        fill and drain the array) and spends ``r`` cycles loading its stationary operand (weights,
        inputs) or draining it (outputs): SCALE-Sim's ``2*Sr + Sc + T - 2``. The skew and the load count
        the rows and columns a fold *uses*, so a bigger array is never slower on a small layer."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        sr, sc, t = self.dims(np.asarray(vectors, dtype=np.int64), fan_in, units // groups)
        n_r = -(-sr // rows)
        n_c = -(-sc // cols)
        folds = groups * n_r * n_c
        # Over all folds, rows used add up to sr per column fold and columns used to sc per row fold.
        stream = groups * (sr * n_c + sc * n_r) + folds * (t - 2)
        return folds, stream, groups * sr * n_c

    def first_load(self, rows, vectors, fan_in):
        """The stationary load of a layer's first fold: the one load that double-buffered stationary
        registers cannot hide (a fold streams ``T + r + c - 2 >= r`` cycles, long enough to shift the
        next fold's operand in, or the last fold's outputs out, behind it)."""
        sr = self.dims(np.asarray(vectors, dtype=np.int64), fan_in, 1)[0]
        return np.minimum(sr, np.asarray(rows, dtype=np.int64))

    def grid(self, rows, cols, vectors, fan_in, units, groups: int = 1, *, overlap: bool = False):
        """(folds, cycles) of the whole layer: streaming plus every fold's load, or with ``overlap``
        (double-buffered stationary registers) only the first fold's."""
        folds, stream, load = self.fold_cycles(rows, cols, vectors, fan_in, units, groups)
        return folds, stream + (self.first_load(rows, vectors, fan_in) if overlap else load)

    def row_folds(self, rows, vectors, fan_in: int):
        """Folds of the rows' dimension (numpy broadcasting)."""
        sr = self.dims(np.asarray(vectors, dtype=np.int64), fan_in, 1)[0]
        return -(-sr // np.asarray(rows, dtype=np.int64))

    def col_folds(self, cols: int, vectors, units_per_group: int):
        """Folds of the columns' dimension, per group."""
        sc = self.dims(np.asarray(vectors, dtype=np.int64), 1, units_per_group)[1]
        return -(-sc // cols)

    def input_reads(self, vectors, fan_in: int, units_per_group: int, groups: int, rows, cols: int):
        """Input operands (im2col elements) read from SRAM into the array: once per column fold when the
        units lie on the columns (each column fold streams all inputs of its group past the array),
        else once (input-stationary loads each element into exactly one fold)."""
        passes = self.col_folds(cols, vectors, units_per_group) if self.units_on_columns else 1
        return vectors * fan_in * groups * passes * np.ones_like(np.asarray(rows, dtype=np.int64))

    @abstractmethod
    def weight_passes(self, vectors, rows, cols: int, density: float = 1.0):
        """Times the weight stream passes from SRAM (through the codebook decoders) into the array for
        ``vectors`` vectors. ``density`` is the fraction of non-zero activations on hardware that
        skips them (1.0 otherwise)."""

    def unit_block(self, cols: int, units_per_group: int) -> int:
        """Output units one column fold holds (the granularity of weight tiles' column groups)."""
        return min(cols, units_per_group) if self.units_on_columns else units_per_group

    def output_block(self, vectors, cols: int, units_per_group: int):
        """Outputs (elements) that complete together and sit in the output buffer: a column fold's units
        for every vector streamed (weight-, output-stationary), or a column fold's vectors for every
        unit streamed (input-stationary)."""
        streamed = np.asarray(vectors) if self.units_on_columns else units_per_group
        return self.columns_in_use(vectors, cols, units_per_group) * streamed

    def columns_in_use(self, vectors, cols: int, units_per_group: int):
        """Columns an output block of ``vectors`` vectors spreads over: its partial sums leave the array at
        these columns' feet, so each column's accumulator buffer holds an equal part of them."""
        if self.units_on_columns:
            return np.full_like(np.asarray(vectors, dtype=np.int64), min(cols, units_per_group))
        return np.minimum(np.asarray(vectors, dtype=np.int64), cols)

    def output_departures(self, fan_in: int, rows):
        """How often each output leaves the array within one pass over the fan-in: all but the last
        departure are partial sums. Once per row fold where the fan-in lies on the rows (weight- and
        input-stationary)."""
        return -(-fan_in // np.asarray(rows, dtype=np.int64))


class WeightStationary(Dataflow):
    name = "weight-stationary"
    short = "ws"
    stationary = "weights"
    conflict_pattern = "fan-in"

    @staticmethod
    def dims(vectors, fan_in, units):
        return fan_in, units, vectors

    def weight_passes(self, vectors, rows, cols, density=1.0):
        return np.ones_like(np.asarray(vectors, dtype=np.float64))  # loaded once, used by every vector


class OutputStationary(Dataflow):
    name = "output-stationary"
    short = "os"
    stationary = "outputs"
    conflict_pattern = "pixels"

    @staticmethod
    def dims(vectors, fan_in, units):
        return vectors, units, fan_in

    def weight_passes(self, vectors, rows, cols, density=1.0):
        return os_weight_passes(vectors, rows, density)

    def output_departures(self, fan_in, rows):
        return np.ones_like(np.asarray(rows, dtype=np.int64))  # outputs stay until their sum is complete


class InputStationary(Dataflow):
    name = "input-stationary"
    short = "is"
    stationary = "inputs"
    conflict_pattern = "pixels"
    units_on_columns = False

    @staticmethod
    def dims(vectors, fan_in, units):
        return fan_in, vectors, units

    def weight_passes(self, vectors, rows, cols, density=1.0):
        # the weights stream past every column fold of vectors; a fold whose vectors are all zero at a
        # fan-in element skips it, as for output-stationary (the fold's vectors lie on the columns)
        return os_weight_passes(vectors, cols, density)


def os_weight_passes(vectors, rows, density: float = 1.0):
    """Passes of a weight stream through an array whose ``rows`` hold different vectors (output- and
    input-stationary) for ``vectors`` input vectors: one per fold of vectors, ``ceil(vectors / rows)``
    when every activation counts.

    Hardware that skips zero activations skips a fan-in element, so that its weights are neither read
    nor decoded, when every vector of the fold has a zero there. With activation density ``d``,
    independent from vector to vector, a fold of ``r`` vectors needs a given weight with probability
    ``1 - (1 - d)**r``; for one vector per fold (batch 1 on a 1 x N array, EIE's sparse
    matrix-vector product) that is exactly ``d``: only the columns of non-zero activations are read.
    Works elementwise on arrays."""
    full, rest = np.divmod(vectors, rows)
    return full * (1.0 - (1.0 - density) ** rows) + (1.0 - (1.0 - density) ** rest)


DATAFLOWS: dict[str, Dataflow] = {df.name: df for df in (WeightStationary(), OutputStationary(), InputStationary())}


def dataflow(name: str) -> Dataflow:
    """The dataflow called ``name`` (config spelling, or SCALE-Sim's short one)."""
    for df in DATAFLOWS.values():
        if name in (df.name, df.short):
            return df
    raise ValueError(f"unknown dataflow {name!r}; known: {', '.join(DATAFLOWS)}")
