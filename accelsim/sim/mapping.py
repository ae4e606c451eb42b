"""The mapper: how one layer's weights, inputs, partial sums and outputs move between DRAM, SRAM and the
MAC array, chosen per layer from a search space that respects every buffer's capacity.

**The loop nest.** The frame planner decides which layers' weights are *pinned* (resident) and whether a
layer's input and output stay on chip (`frame`). For the rest the mapper searches:

* **weight tile** size: the layer's stream (in the array's order, `weight_stream`) cut into tiles of
  every whole byte up to 64 B, then ``2**(j/4)`` bytes, for every size that fits the weight buffer (half the unpinned weight share:
  one tile loads while the previous computes), from ``max(tables + 1 B, stream / 4096)`` up;
* **activation chunk**: ``ceil(V / 2**i)`` vectors (output pixels x proposals) for every ``i``;
* **loop order**: ``weights-outer`` (each tile sweeps every chunk: weights read once) or
  ``inputs-outer`` (each chunk sweeps every tile: inputs read once, weights once per chunk);
* **input mode**: ``resident`` (the whole input fits the input share and is loaded once, or a chunk's
  input fits half of it: then weights-outer re-reads the input once per tile) or ``streamed`` (no
  residency: the input passes from DRAM through a staging buffer once per column fold of each tile, as
  SCALE-Sim streams it; this allows any chunk size).

Within a (tile, chunk) step the array runs the tile's folds one after the other, each streaming the
chunk's vectors (`Dataflow.fold_cycles`): bigger chunks pay each fold's fill, drain and stationary
load fewer times.

**Partial sums** are kept at ``accumulator_bits``. A column fold's outputs leave the array once per
row fold (`Dataflow.output_departures`), and a weight tile that ends inside a column group's fan-in
leaves that group's sums unfinished until the next tile: under weights-outer for every vector of the
layer, under inputs-outer for the chunk's. They leave the array at the foot of its columns. Where the
config has **accumulator buffers** (``accumulators.entries`` per column, `Dataflow.columns_in_use`),
the sums a column must hold fit there when the chunk needs no more entries than it has: a step's (one
chunk through a column group's row folds) and, if they fit too, those held across a tile boundary. A
buffer access costs far less than an SRAM word, so the mapper weighs smaller chunks (each re-reading the
weights and paying each fold's fill and drain again) against the SRAM round trips they avoid
(`tests/test_mapper_cases.py` has a layer where 16 entries win and 8 do not). Otherwise the sums live
in the output share, beside the whole output when it stays on chip for the next layer (finished outputs
bound for DRAM drain as they complete). What does not fit is **spilled**: written to DRAM and read back,
counted in bytes, cycles and energy.

**The objective** (``mapper.objective`` in the hardware config) is ``energy`` (default: the figure
accelsim exists to report), ``latency`` or ``edp`` (a layer's energy times its cycles; a frame's is the
sum of its layers'). Energy is the default although it may trade latency away: on the embedded config
scaled to 128 KiB it takes 1.09 ms more per frame of deepped-alexnet (one proposal) than at 64 KiB, for
379 uJ less (`validation/sram_sweep.py`). On the full-size frame (10 proposals, 512 KiB) ``edp`` and
``energy`` choose the same frame to 0.01% (8.929 mJ, 23.31 ms); before the accumulator buffers ``edp``
chose 10% more energy for 7% less latency and a worse frame EDP (a sum of layer EDPs is a poor proxy for
the frame's), so it is not the default.
Each candidate's cost is estimated from its counts (DRAM and SRAM bytes at
the tables' energies, decoder lookups, MACs, leakage and DRAM background over the estimated cycles,
which take the larger of compute and DRAM time plus the exposed first load and last write-back).

**Invariants by construction.** A buffer's size (an SRAM share, the accumulator entries) never raises a
candidate's counts (it only decides which candidates are feasible, whether an input fits whole and is
read once, and where partial sums go), so a larger level only adds candidates and lowers their costs:
the chosen objective never rises when any level grows, to within the 0.1% steps in which candidates are
ranked (`objective_rank`; `tests/test_mapper_invariants.py`). DRAM bytes and latency are not the objective;
they are monotone only where the objective agrees with them (`validation/sram_sweep.py` measures
both on the embedded config). Ties go to fewer DRAM bytes, then fewer cycles, then the candidate
listed first.

Per-operand accounting (weights, inputs, partial sums, outputs; SRAM and DRAM, reads and writes) is in
`OperandBytes`. Bank conflicts on the streamed operand come from `conflicts` for each number of rows in
use; the layer runs on the rows that finish it soonest (a compiler leaves rows idle rather than lose
more to conflicts than they gain), so a bigger array is never slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from accelsim.errors import ConfigError
from accelsim.sim.accelerator import Accelerator
from accelsim.sim.conflicts import conflict_ratio
from accelsim.sim.decoder import decoder_cycles
from accelsim.sim.weight_stream import WeightStream, WeightTiles
from accelsim.workload import Layer

MAX_TILES = 64  # steps per layer kept as separate SimPy events; more are merged in runs
MAX_WEIGHT_TILES = 4096  # the finest cut of a weight stream the mapper considers
OBJECTIVES = ("energy", "latency", "edp")
OPERANDS = ("weights", "inputs", "psums", "outputs")


@dataclass(frozen=True)
class OperandBytes:
    """Bytes moved per operand and level. SRAM writes of weights and inputs are their fills from DRAM;
    SRAM reads of outputs are their drains to DRAM; partial sums are written to and read from the
    accumulator buffers or the SRAM at the accumulator width, and to and from DRAM when they spill (only
    partial sums ever use the accumulator buffers)."""

    sram_read: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    sram_write: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    dram_read: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    dram_write: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    accumulator_read: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    accumulator_write: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))


@dataclass(frozen=True)
class Tile:
    """One step of the pipeline (or a run of consecutive steps): DMA in, compute, write back."""

    weight_read_bytes: float
    input_read_bytes: float
    psum_read_bytes: float  # spilled partial sums read back from DRAM
    output_write_bytes: float
    psum_write_bytes: float  # partial sums spilled to DRAM
    mac_cycles: float  # the MAC array busy
    decoder_cycles: float
    conflict_cycles: float
    compute_cycles: float
    count: int = 1  # steps merged into this one

    @property
    def dram_read_bytes(self) -> float:
        return self.weight_read_bytes + self.input_read_bytes + self.psum_read_bytes

    @property
    def dram_write_bytes(self) -> float:
        return self.output_write_bytes + self.psum_write_bytes


@dataclass(frozen=True)
class LayerMapping:
    layer: Layer
    batch: int
    order: str  # "weights-outer" | "inputs-outer" | "no-weights"
    pinned: bool
    input_on_chip: bool
    output_on_chip: bool
    weight_tiles: int
    weight_tile_bytes: float  # the tile size chosen (the whole stream when pinned or in one tile)
    chunks: int  # activation chunks
    chunk_vectors: int  # vectors (output pixels x proposals) per chunk
    input_mode: str  # "on-chip" | "resident" | "streamed"
    weight_reads: int  # times the weight stream is read from DRAM in this pass (0 when pinned)
    rows_used: int
    psum_spill_bytes: float  # partial sums written to DRAM (and read back as much)
    tiles: tuple[Tile, ...]
    macs_executed: float
    decoder_lookups: float
    operands: OperandBytes

    @property
    def sram_read_bytes(self) -> float:
        return sum(self.operands.sram_read.values())

    @property
    def sram_write_bytes(self) -> float:
        return sum(self.operands.sram_write.values())

    @property
    def weight_dram_bytes(self) -> float:
        return self.operands.dram_read["weights"]

    @cached_property
    def dram_read_bytes(self) -> float:
        return sum(t.dram_read_bytes for t in self.tiles)

    @cached_property
    def dram_write_bytes(self) -> float:
        return sum(t.dram_write_bytes for t in self.tiles)


@dataclass(frozen=True)
class Choice:
    """The mapper's decision for one layer and pass, with the estimates it was chosen on."""

    tile_bytes: float  # weight tile size (0: pinned or no weights)
    chunk_vectors: int
    order: str
    input_mode: str
    dram_bytes: float
    cycles: float  # estimated
    energy_pj: float  # estimated


# -- the search -----------------------------------------------------------------------------------


def tile_sizes(stream: WeightStream, buffer_bytes: float) -> np.ndarray:
    """Candidate weight tile sizes in bytes: every whole byte up to 64 B, then quarter octaves ``2**(j/4)``,
    that fit ``buffer_bytes`` and are no finer than `MAX_WEIGHT_TILES` tiles, plus the whole stream when it
    fits. The ladder does not depend on the buffer except through its top, so a bigger buffer only adds
    sizes."""
    total = stream.total_bytes
    low = max(stream.fixed_bits / 8 + 1, total / MAX_WEIGHT_TILES)
    top = min(buffer_bytes, total)
    sizes = []
    if top >= low:
        # every whole byte up to 64 B (tiny buffers still find a size), then quarter octaves
        sizes = [float(b) for b in range(math.ceil(low), math.floor(min(top, 64)) + 1)]
        sizes += [2 ** (j / 4) for j in range(max(24, math.ceil(4 * math.log2(low))), math.floor(4 * math.log2(top)) + 1)]
    if total <= buffer_bytes:
        sizes.append(float(total))
    return np.unique(np.array(sizes, dtype=np.float64))


def chunk_sizes(vectors: int) -> np.ndarray:
    """Candidate activation chunks: ``ceil(vectors / 2**i)`` vectors, from the whole layer down to one."""
    out = {vectors}
    i = 1
    while (n := -(-vectors // 2 ** i)) >= 1 and i <= 40:
        out.add(n)
        if n == 1:
            break
        i += 1
    return np.array(sorted(out, reverse=True), dtype=np.int64)


@dataclass(frozen=True)
class _Compute:
    """The array's work for each candidate chunk size (independent of tiles, order and buffers)."""

    chunk: np.ndarray  # [N] vectors per chunk
    chunks: np.ndarray  # [N]
    last: np.ndarray  # [N] vectors of the last chunk
    rows_used: np.ndarray  # [N]
    mac: np.ndarray  # [N, 2]: cycles of a full chunk, of the last chunk
    dec: np.ndarray
    conflict: np.ndarray
    compute: np.ndarray
    lookups: np.ndarray  # [N, 2]
    weight_passes: np.ndarray  # [N]: passes of the weight stream from SRAM into the array, whole layer
    first_load: np.ndarray  # [N]: the exposed first stationary load (overlap), else 0

    @property
    def total(self) -> np.ndarray:
        return self.compute[:, 0] * (self.chunks - 1) + self.compute[:, 1] + self.first_load


def conflict_ratios(layer: Layer, accel: Accelerator) -> np.ndarray:
    """Bank-conflict stalls per array cycle with 1, 2, ... rows in use (all zero when the whole array has
    none: then fewer rows cannot have any either)."""
    pattern = accel.dataflow.conflict_pattern
    if conflict_ratio(layer, accel, None, pattern) == 0:
        return np.zeros(accel.rows)
    return np.array([conflict_ratio(layer, accel, r, pattern) for r in range(1, accel.rows + 1)])


def _compute(layer: Layer, stream: WeightStream, accel: Accelerator, vectors: int, density: float,
             ratios: np.ndarray) -> _Compute:
    df = accel.dataflow
    chunk = chunk_sizes(vectors)
    chunks = -(-vectors // chunk)
    last = vectors - (chunks - 1) * chunk
    sizes = np.stack([chunk, last], axis=1)  # [N, 2]
    fan_in, units, groups = layer.fan_in, layer.out_units, max(1, layer.groups)
    # Every number of rows is a candidate: fewer rows can win on bank conflicts, and on a fold load that
    # double-buffering cannot hide (the first one).
    candidates = np.arange(1, accel.rows + 1, dtype=np.int64)
    r = candidates[None, None, :]
    _, stream_c, load_c = df.fold_cycles(r, accel.cols, sizes[:, :, None], fan_in, units, groups)
    dense = stream_c if accel.overlap_stationary else stream_c + load_c  # [N, 2, R]
    frac = stream.profile.nonzeros / (units * fan_in) if accel.skip_pruned_weights else 1.0
    mac = np.ceil(dense * frac * density)
    passes = df.weight_passes(sizes[:, :, None], r, accel.cols, density)
    lookups = np.ceil(stream.profile.entries * passes) if stream.profile.shared else np.zeros_like(mac)
    dec = decoder_cycles(lookups.astype(np.int64), accel.decoders, accel.decoder_lookups_per_cycle)
    conflict = np.ceil(mac * ratios[None, None, :])
    compute = np.maximum(mac, dec) + conflict  # the decoder feeds the array through a FIFO: the slower sets the pace
    first = np.broadcast_to(df.first_load(r, sizes[:, :1, None], fan_in), (chunk.size, 1, candidates.size))[:, 0, :] \
        if accel.overlap_stationary else np.zeros((chunk.size, candidates.size))
    per_rows = compute[:, 0, :] * (chunks - 1)[:, None] + compute[:, 1, :] + first  # [N, R]
    # the fastest; of equals, the most rows
    col = per_rows.shape[1] - 1 - np.argmin(per_rows[:, ::-1], axis=1)
    full = (chunk.size, 2, candidates.size)

    def pick(a):
        return np.broadcast_to(a, full)[np.arange(chunk.size), :, col]

    wp = pick(passes)
    return _Compute(chunk, chunks, last, candidates[col], pick(mac), pick(dec), pick(conflict), pick(compute),
                    pick(lookups), wp[:, 0] * (chunks - 1) + wp[:, 1], first[np.arange(chunk.size), col])


@dataclass(frozen=True)
class _Tiling:
    """Per candidate tile size: the cut and what it implies for partial sums and input passes."""

    sizes: np.ndarray  # [S] bytes
    cuts: tuple[WeightTiles, ...]
    count: np.ndarray  # [S] tiles
    first_bytes: np.ndarray  # [S]
    split_units: np.ndarray  # [S] sum over tile boundaries inside a column group of that group's units
    split_block: np.ndarray  # [S] units of the largest column group a boundary cuts (0: none)
    touched: tuple[np.ndarray, ...]  # per cut, per tile: passes of a streamed input (column groups it touches)
    input_passes: np.ndarray  # [S] those passes summed over the tiles


def _cut(stream: WeightStream, size: float | None, block: int, units_on_columns: bool):
    """One cut of the stream (``size`` bytes per tile, None: whole) and what the mapper needs of it:
    (cut, streamed-input passes per tile, sum over boundaries inside a column group of its units, the
    largest such group). Memoised on the stream: it depends on nothing else."""
    key = ("cut", size, block, units_on_columns)
    if key not in stream.memo:
        c = stream.whole(block) if size is None else stream.weight_tiles(size, block)
        splits = c.split_departures
        start = np.concatenate([[0.0], c.ends[:-1]])
        first_group = np.searchsorted(c.group_ends, start, side="right")
        last_group = np.searchsorted(c.group_ends, c.ends, side="left")
        touched = np.maximum(1, last_group - first_group + 1).astype(np.float64) if units_on_columns \
            else np.ones(c.count)
        stream.memo[key] = (c, touched, float((splits * c.group_units).sum()),
                            float(c.group_units[splits > 0].max()) if splits.any() else 0.0)
    return stream.memo[key]


def _tiling(stream: WeightStream, accel: Accelerator, layer: Layer, pinned: bool, buffer_bytes: float) -> _Tiling:
    df = accel.dataflow
    block = df.unit_block(accel.cols, layer.out_units // max(1, layer.groups))
    sizes = np.array([0.0]) if pinned else tile_sizes(stream, buffer_bytes)
    cuts = [_cut(stream, None if pinned else float(size), block, df.units_on_columns) for size in sizes]
    return _Tiling(sizes, tuple(c[0] for c in cuts), np.array([c[0].count for c in cuts], dtype=np.int64),
                   np.array([c[0].tile_bits[0] / 8 for c in cuts]) * (not pinned), np.array([c[2] for c in cuts]),
                   np.array([c[3] for c in cuts]), tuple(c[1] for c in cuts), np.array([c[1].sum() for c in cuts]))


@dataclass(frozen=True)
class _Candidates:
    """Every (tile size, chunk size, order, input mode) with its counts, as flat arrays."""

    s: np.ndarray
    n: np.ndarray
    order: np.ndarray  # 0 weights-outer, 1 inputs-outer
    mode: np.ndarray  # 0 resident, 1 streamed
    feasible: np.ndarray
    w_dram: np.ndarray
    in_dram: np.ndarray
    out_dram: float
    psum_dram: np.ndarray  # spilled bytes, each way
    psum_sram: np.ndarray  # partial-sum round trips through the SRAM, each way
    psum_acc: np.ndarray  # partial-sum round trips through the accumulator buffers, each way
    input_sram_reads: np.ndarray  # input operands into the array, bytes
    weight_sram_reads: np.ndarray  # weight stream into the array, bytes
    out_bytes: float  # final outputs written to the SRAM
    tiles: np.ndarray  # weight tiles
    cycles: np.ndarray
    energy: np.ndarray

    @property
    def dram(self) -> np.ndarray:
        return self.w_dram + self.in_dram + self.out_dram + 2 * self.psum_dram


def _candidates(layer: Layer, accel: Accelerator, comp: _Compute, til: _Tiling, batch: int, *, pinned: bool,
                input_on_chip: bool, output_on_chip: bool, weight_bytes: float) -> _Candidates:
    df = accel.dataflow
    b, a = accel.act_bytes, accel.accumulator_bytes
    groups = max(1, layer.groups)
    mg = layer.out_units // groups
    vectors = batch * layer.out_pixels
    in_bytes = batch * layer.input_elements * b
    out_bytes = batch * layer.output_elements * b
    in_dram = 0.0 if input_on_chip else in_bytes
    out_dram = 0.0 if output_on_chip else out_bytes

    S, N = til.sizes.size, comp.chunk.size
    s, n, o, m = (x.ravel() for x in np.meshgrid(np.arange(S), np.arange(N), [0, 1], [0, 1], indexing="ij"))
    T, C, nv = til.count[s], comp.chunks[n], comp.chunk[n]
    weights_outer = o == 0
    # Orders and input modes only differ when something streams: keep one representative otherwise.
    feasible = ~((T == 1) | (C == 1)) | weights_outer
    feasible &= (m == 0) | (in_dram > 0)

    w_dram = np.where(weights_outer, 1.0, C) * (0.0 if pinned else weight_bytes)
    whole_fits = in_bytes <= accel.sram_input_bytes
    chunk_fits = in_bytes * nv / vectors <= accel.sram_input_bytes / 2
    resident_reads = np.where(whole_fits | ~weights_outer | (T == 1), 1.0, T)
    feasible &= (m == 1) | whole_fits | chunk_fits | (in_dram == 0)
    in_reads = np.where(m == 1, til.input_passes[s], resident_reads)
    in_d = in_dram * in_reads

    # Output share: the whole output when it stays on chip for the next layer (finished outputs that go
    # to DRAM drain as they complete, through a staging buffer the model does not size, as SCALE-Sim's
    # ofmap buffer does); the rest holds partial sums.
    block = df.output_block(nv, accel.cols, mg)
    room = accel.sram_output_bytes - (out_bytes if output_on_chip else 0.0)
    feasible &= room >= 0
    rows_used = comp.rows_used[n]
    departures = df.output_departures(layer.fan_in, rows_used)
    step_psums = np.where(departures > 1, block * a, 0.0)
    held = np.where(weights_outer, vectors, nv)  # vectors whose sums wait across a tile boundary
    cross_psums = held * til.split_block[s] * a
    # Round trips: every departure but the last, and at least one per tile boundary inside a column group
    # (the only ones output-stationary has); those at tile boundaries are the ones held across tiles.
    cross_total = vectors * til.split_units[s] * a
    psum_total = np.maximum(vectors * layer.out_units * (departures - 1) * a, cross_total)
    # Accumulator buffers at the columns' feet take the round trips whose sums fit a column's entries: a
    # step's (one chunk through a column group's row folds), and those held across a tile boundary, which
    # reuse the same entries when the next tile resumes the group.
    column_bytes = accel.accumulator_entries * a
    if column_bytes:
        acc_step = step_psums <= column_bytes * df.columns_in_use(nv, accel.cols, mg)
        acc_cross = acc_step & (cross_psums <= column_bytes * df.columns_in_use(held, accel.cols, mg))
    else:
        acc_step = acc_cross = np.zeros(s.shape, dtype=bool)
    sram_psums = np.where(acc_cross, 0.0, np.where(acc_step, cross_total, psum_total))
    acc_psums = psum_total - sram_psums
    step_sram = np.where(acc_step, 0.0, step_psums)
    all_spill = step_sram > room
    cross_spill = ~all_spill & ~acc_cross & (step_sram + cross_psums > room)
    psum_dram = np.where(all_spill, sram_psums, np.where(cross_spill, cross_total, 0.0))

    # SRAM traffic: operands into the array, partial sums, fills from and drains to DRAM.
    input_reads = np.broadcast_to(df.input_reads(vectors, layer.fan_in, mg, groups, rows_used, accel.cols) * b, s.shape)
    weight_reads = weight_bytes * comp.weight_passes[n]
    reads = input_reads + weight_reads + sram_psums + psum_dram + out_dram
    writes = sram_psums + psum_dram + out_bytes + in_d + w_dram
    width = accel.sram.bank_width_bytes
    sram_pj = np.ceil(reads / width) * accel.energies.sram_read_pj + np.ceil(writes / width) * accel.energies.sram_write_pj
    acc_pj = acc_psums / a * (accel.energies.accumulator_read_pj + accel.energies.accumulator_write_pj)

    dram_read = w_dram + in_d + psum_dram
    dram_write = out_dram + psum_dram
    bw = accel.dram_bytes_per_cycle
    # The first load and the last write-back are exposed; the array starts only once its first fold's
    # weights are in, so a first tile smaller than a fold's share of the stream saves nothing.
    fold_bytes = 0.0 if pinned else weight_bytes * accel.rows * min(accel.cols, mg) / max(1, layer.fan_in * layer.out_units)
    exposed = (np.maximum(til.first_bytes[s], np.minimum(fold_bytes, weight_bytes)) + (in_dram + out_dram) * nv / vectors) / bw
    cycles = np.maximum(comp.total[n], (dram_read + dram_write) / bw) + exposed
    lookups = comp.lookups[n, 0] * (C - 1) + comp.lookups[n, 1]
    e = accel.energies
    # MACs are the same for every candidate and left out; mW x ns = pJ
    energy = (dram_read * 8 * accel.dram_energy.read_pj_per_bit + dram_write * 8 * accel.dram_energy.write_pj_per_bit
              + sram_pj + acc_pj + lookups * e.decoder_lookup_pj
              + (e.sram_leakage_mw + e.other_leakage_mw + accel.dram_energy.background_mw) * cycles * accel.cycle_ns)
    return _Candidates(s, n, o, m, feasible, w_dram, in_d, out_dram, psum_dram, sram_psums, acc_psums, input_reads,
                       weight_reads, out_bytes, T, cycles, energy)


def objective_value(energy_pj, cycles, objective: str):
    """What the mapper and the frame planner minimise: energy (pJ), latency (cycles), or their product per
    layer (edp; a frame's is the sum of its layers', so that the planner can add layers up)."""
    if objective == "latency":
        return cycles
    if objective == "edp":
        return energy_pj * cycles
    return energy_pj


OBJECTIVE_STEP = 1e-3  # objectives within 0.1% of each other are ties (then DRAM bytes decide)


def objective_rank(value):
    """The objective in steps of `OBJECTIVE_STEP`: a fixed function of a candidate's costs, so the best of a
    larger set of candidates still ranks no worse; without it the latency objective would buy a cycle in a
    million with megabytes of DRAM traffic."""
    return np.floor(np.log(np.maximum(value, 1e-30)) / np.log1p(OBJECTIVE_STEP))


def choose(c: _Candidates, objective: str) -> int:
    """Index of the best feasible candidate: the objective (to within `OBJECTIVE_STEP`), then DRAM bytes,
    then fewer weight tiles (fewer transfers, fewer partial sums leaving the array early), then cycles,
    then order."""
    idx = np.flatnonzero(c.feasible)
    keys = (np.arange(idx.size), c.cycles[idx], c.tiles[idx], c.dram[idx],
            objective_rank(objective_value(c.energy, c.cycles, objective)[idx]))
    return int(idx[np.lexsort(keys)[0]])


# -- the layer's mapping --------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """A layer's search space for one pass, evaluated, and the chosen candidate."""

    layer: Layer
    stream: WeightStream
    batch: int
    pinned: bool
    input_on_chip: bool
    output_on_chip: bool
    density: float
    comp: _Compute
    tiling: _Tiling
    cands: _Candidates
    best: int

    @property
    def choice(self) -> Choice:
        c, i = self.cands, self.best
        return Choice(float(self.tiling.sizes[c.s[i]]), int(self.comp.chunk[c.n[i]]),
                      "weights-outer" if c.order[i] == 0 else "inputs-outer",
                      "on-chip" if self.input_on_chip else ("resident", "streamed")[c.mode[i]],
                      float(c.dram[i]), float(c.cycles[i]), float(c.energy[i]))

    @property
    def dram_bytes(self) -> float:
        return float(self.cands.dram[self.best])


def search(layer: Layer, stream: WeightStream, accel: Accelerator, batch: int, *, pinned: bool,
           stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool,
           activation_density: float = 1.0) -> Search:
    """Evaluate every candidate mapping of a conv or fc ``layer`` for one pass over ``batch`` proposals and
    choose one (see the module docstring). A buffer too small for any candidate is a config error."""
    density = activation_density if accel.skip_zero_activations else 1.0
    vectors = batch * layer.out_pixels
    # The memo key holds everything `_compute` reads of the accelerator; the conflict ratios stand for
    # whatever they depend on (the SRAM, the operand width, the proposals per pass, ...).
    ratios = conflict_ratios(layer, accel)
    key = ("compute", vectors, density, accel.rows, accel.cols, accel.dataflow.name, accel.overlap_stationary,
           accel.skip_pruned_weights, accel.decoders, accel.decoder_lookups_per_cycle, ratios.tobytes())
    if key not in stream.memo:
        stream.memo[key] = _compute(layer, stream, accel, vectors, density, ratios)
    comp = stream.memo[key]
    til = _tiling(stream, accel, layer, pinned, stream_buffer_bytes)
    weight_bytes = float(til.cuts[0].tile_bits.sum()) / 8 if til.sizes.size else 0.0
    if not til.sizes.size:
        stream.weight_tiles(stream_buffer_bytes, 1)  # raises the config error that names the buffer
    cands = _candidates(layer, accel, comp, til, batch, pinned=pinned, input_on_chip=input_on_chip,
                        output_on_chip=output_on_chip, weight_bytes=weight_bytes)
    if not cands.feasible.any():
        raise ConfigError(
            f"sram: no mapping of layer {layer.name} fits: the output share ({accel.sram_output_bytes:,} B) cannot "
            f"hold its output for the next layer; keep it in DRAM or give outputs more SRAM")
    return Search(layer, stream, batch, pinned, input_on_chip, output_on_chip, density, comp, til, cands,
                  choose(cands, accel.mapper_objective))


def map_layer(layer: Layer, stream: WeightStream | None, accel: Accelerator, batch: int, *, pinned: bool,
              stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool,
              activation_density: float = 1.0) -> LayerMapping:
    """Tiles, traffic and counts of ``layer`` for one pass over ``batch`` proposals."""
    if layer.kind not in ("conv", "fc"):
        return _no_weights(layer, accel, batch, input_on_chip, output_on_chip)
    assert stream is not None
    return mapping_of(search(layer, stream, accel, batch, pinned=pinned, stream_buffer_bytes=stream_buffer_bytes,
                             input_on_chip=input_on_chip, output_on_chip=output_on_chip,
                             activation_density=activation_density), accel)


def mapping_of(sr: Search, accel: Accelerator) -> LayerMapping:
    """The chosen candidate of a search as steps for the engine, with its per-operand counts."""
    layer, c, i, comp, til = sr.layer, sr.cands, sr.best, sr.comp, sr.tiling
    ni, si = int(c.n[i]), int(c.s[i])
    cut, touched = til.cuts[si], til.touched[si]
    T, C = cut.count, int(comp.chunks[ni])
    weights_outer = c.order[i] == 0
    vectors = sr.batch * layer.out_pixels
    b = accel.act_bytes
    in_dram = 0.0 if sr.input_on_chip else sr.batch * layer.input_elements * b
    out_dram = c.out_dram

    if weights_outer:
        st_tile, st_chunk = np.repeat(np.arange(T), C), np.tile(np.arange(C), T)
    else:
        st_tile, st_chunk = np.tile(np.arange(T), C), np.repeat(np.arange(C), T)
    last = st_chunk == C - 1
    st_vec = np.where(last, comp.last[ni], comp.chunk[ni]).astype(np.float64)
    which = last.astype(np.int64)  # column of the per-chunk arrays: 0 full chunk, 1 the last one
    start, end = cut.cum_share
    start, end = start[st_tile], end[st_tile]
    mac = _share(comp.mac[ni][which], start, end)
    dec = _share(comp.dec[ni][which], start, end)
    conflict = _share(comp.conflict[ni][which], start, end)
    compute = _share(comp.compute[ni][which], start, end)
    compute[0] += comp.first_load[ni]  # the one stationary load double-buffering cannot hide
    mac[0] += comp.first_load[ni]
    share = end - start

    tile_bytes = cut.tile_bits / 8
    if sr.pinned:
        w_load = np.zeros(st_tile.size)
    elif weights_outer:
        w_load = np.where(st_chunk == 0, tile_bytes[st_tile], 0.0)
    else:
        w_load = tile_bytes[st_tile]
    in_step = in_dram * st_vec / vectors
    if c.mode[i] == 1:
        in_load = in_step * touched[st_tile]
    elif in_dram <= accel.sram_input_bytes or not weights_outer:
        in_load = np.where(st_tile == 0, in_step, 0.0)
    else:
        in_load = in_step
    part = share * st_vec / vectors
    spill = float(c.psum_dram[i])
    tiles = _tiles(w_load, in_load, spill * part, out_dram * part, spill * part, mac, dec, conflict, compute)

    ops = OperandBytes()
    w_dram, in_d = float(w_load.sum()), float(in_load.sum())
    ops.sram_read.update(weights=float(c.weight_sram_reads[i]), inputs=float(c.input_sram_reads[i]),
                         psums=float(c.psum_sram[i]) + spill, outputs=out_dram)
    ops.sram_write.update(weights=w_dram, inputs=in_d, psums=float(c.psum_sram[i]) + spill, outputs=c.out_bytes)
    ops.dram_read.update(weights=w_dram, inputs=in_d, psums=spill)
    ops.dram_write.update(psums=spill, outputs=out_dram)
    ops.accumulator_read["psums"] = ops.accumulator_write["psums"] = float(c.psum_acc[i])
    profile = sr.stream.profile
    macs = float(vectors * (profile.nonzeros if accel.skip_pruned_weights else layer.out_units * layer.fan_in)
                 * sr.density)
    choice = sr.choice
    return LayerMapping(
        layer, sr.batch, choice.order, sr.pinned, sr.input_on_chip, sr.output_on_chip, T,
        float(tile_bytes.sum()) if T == 1 else choice.tile_bytes, C, choice.chunk_vectors, choice.input_mode,
        0 if sr.pinned else (1 if weights_outer else C), int(comp.rows_used[ni]), spill, tiles, macs,
        float(comp.lookups[ni, 0] * (C - 1) + comp.lookups[ni, 1]), ops)


def _no_weights_counts(layer: Layer, accel: Accelerator, batch: int, input_on_chip: bool, output_on_chip: bool):
    """Pooling and normalisation run on the array's columns as vector lanes, one window element per lane
    per cycle; they read each window from SRAM and write each output once. Returns (cycles, DRAM in, DRAM
    out, per-operand bytes)."""
    b = accel.act_bytes
    in_bytes, out_bytes = batch * layer.input_elements * b, batch * layer.output_elements * b
    in_dram = 0.0 if input_on_chip else in_bytes
    out_dram = 0.0 if output_on_chip else out_bytes
    window = layer.kernel[0] * layer.kernel[1]
    cycles = math.ceil(batch * layer.output_elements * window / accel.cols)
    ops = OperandBytes()
    ops.sram_read.update(inputs=batch * layer.output_elements * window * b, outputs=out_dram)
    ops.sram_write.update(inputs=in_dram, outputs=out_bytes)
    ops.dram_read.update(inputs=in_dram)
    ops.dram_write.update(outputs=out_dram)
    return cycles, in_dram, out_dram, ops


def no_weights_choice(layer: Layer, accel: Accelerator, batch: int, input_on_chip: bool, output_on_chip: bool) -> Choice:
    """The estimates of a pooling or normalisation layer, as the mapper estimates its candidates."""
    cycles, in_dram, out_dram, ops = _no_weights_counts(layer, accel, batch, input_on_chip, output_on_chip)
    bw, e, width = accel.dram_bytes_per_cycle, accel.energies, accel.sram.bank_width_bytes
    est = max(cycles, (in_dram + out_dram) / bw)
    energy = (in_dram * 8 * accel.dram_energy.read_pj_per_bit + out_dram * 8 * accel.dram_energy.write_pj_per_bit
              + math.ceil(sum(ops.sram_read.values()) / width) * e.sram_read_pj
              + math.ceil(sum(ops.sram_write.values()) / width) * e.sram_write_pj
              + (e.sram_leakage_mw + e.other_leakage_mw + accel.dram_energy.background_mw) * est * accel.cycle_ns)
    return Choice(0.0, batch * layer.out_pixels, "no-weights", "on-chip" if input_on_chip else "resident",
                  in_dram + out_dram, est, energy)


def _no_weights(layer: Layer, accel: Accelerator, batch: int, input_on_chip: bool, output_on_chip: bool) -> LayerMapping:
    """A pooling or normalisation layer's steps: streamed activations move in chunks that fit half the
    input and output shares, so transfers overlap the work."""
    cycles, in_dram, out_dram, ops = _no_weights_counts(layer, accel, batch, input_on_chip, output_on_chip)
    need = max(1, math.ceil(in_dram / (accel.sram_input_bytes / 2)), math.ceil(out_dram / (accel.sram_output_bytes / 2)))
    chunks = min(need, batch * layer.out_pixels)
    each = np.full(chunks, 1.0 / chunks)
    zero = np.zeros(chunks)
    tiles = _tiles(zero, in_dram * each, zero, out_dram * each, zero, cycles * each, zero, zero, cycles * each)
    return LayerMapping(layer, batch, "no-weights", False, input_on_chip, output_on_chip, 0, 0.0, chunks,
                        -(-batch * layer.out_pixels // chunks), "on-chip" if input_on_chip else "resident", 0,
                        accel.rows, 0.0, tiles, 0.0, 0.0, ops)


def _share(whole: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A tile's part of ``whole`` (a chunk's count over the whole layer) in whole units: the rounded
    cumulative count at its end minus that at its start, so a chunk's tiles add up to ``whole``."""
    return np.floor(whole * end + 0.5) - np.floor(whole * start + 0.5)


def _tiles(*fields_in) -> tuple[Tile, ...]:
    """The steps as at most MAX_TILES tiles: consecutive runs summed (their pipeline overlap inside a
    run is kept by the run's compute and transfer times adding up, as the steps would in sequence).
    Arguments in `Tile`'s field order."""
    n = max(np.size(x) for x in fields_in)
    fields = np.stack([np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)) for x in fields_in])
    runs = min(MAX_TILES, n)
    # np.array_split's runs: the first n % runs of them one step longer
    size, extra = divmod(n, runs)
    counts = np.full(runs, size) + (np.arange(runs) < extra)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sums = np.add.reduceat(fields, starts, axis=1).T.tolist()
    return tuple(Tile(*row, count=int(c)) for row, c in zip(sums, counts))
