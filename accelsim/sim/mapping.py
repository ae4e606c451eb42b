"""Tiling: how one layer's weights and activations move between DRAM, SRAM and the MAC array.

The choice, per layer and batch of proposals, follows the SRAM split:

* **Weights.** A layer is *pinned* when the frame planner keeps its compressed weights resident in
  the weight share of the SRAM (then DRAM never sees them after the cold first frame). Otherwise its
  stream is cut into *weight tiles* of half of the unpinned weight SRAM (stored bits, from the real
  position stream), so that one tile loads while the previous one computes (double buffering). The
  stream is laid out in the order the array consumes it, column group by column group, so a tile is
  any contiguous piece of it (`WeightTiles`): the array's columns stay full however small the buffer.
  A weight buffer that cannot hold a layer's codebook and a weight is a config error.
* **Activations.** The activation between two layers stays on chip when it fits both the input and
  the output share (the two buffers swap roles from layer to layer); otherwise the producer writes it
  to DRAM and the consumer streams it back in *input tiles* of half the input share.
* **Loop order** when the input must be streamed: weights outer (each weight tile sweeps the whole
  input: input re-read once per weight tile, unless the whole input fits the input share, in which
  case it is loaded once and stays for every weight tile) or inputs outer (each input tile sweeps all
  weights: weights re-read once per input tile). The mapper takes the order with fewer DRAM bytes, as a
  compiler for such an accelerator would. Both counts fall as SRAM grows, so DRAM traffic never
  rises with SRAM size. Halo rows that neighbouring input tiles of a convolution share are ignored.

MAC-array cycles of a chunk come from `mac_array` (dense) over the whole layer, scaled by the layer's
non-zero weight fraction when the hardware skips pruned weights and by the measured activation density
when it skips zero activations; each tile takes its share (of the layer's stored bits) of them.
Decoder lookups are every stored entry (fillers too) each time a tile's weights are loaded into the
array: for weight-stationary once per activation chunk of a pass (each chunk sweeps the tile's folds
again), for output-stationary once per row fold of vectors, where skipping zero
activations also skips the weights of fan-in elements that are zero in every vector of the fold
(`os_weight_passes`). Bank conflicts come from the `sram` kernel on the layer's real operand addresses.

SRAM traffic: input operands are read once per column pass (`column_passes`); outputs leave the
array once per row fold (weight-stationary) or per piece of their column group's fan-in
(output-stationary, `output_departures`), all but the last time as partial sums at the accumulator
width that are written and read back (`partial_sum_bytes`); weights are read as they are loaded into
the array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from accelsim.compress.profile import StreamProfile
from accelsim.errors import ConfigError
from accelsim.sim.accelerator import Accelerator
from accelsim.sim.conflicts import conflict_ratio
from accelsim.sim.decoder import decoder_cycles
from accelsim.sim.mac_array import mac_array_cycles_by_rows
from accelsim.workload import Layer

MAX_TILES = 64  # tiles per layer kept as separate SimPy events; more are merged in runs


@dataclass(frozen=True, eq=False)
class WeightStream:
    """A layer's weight stream as the array consumes it: output unit by output unit, with the
    cumulative stored bits that say where each unit ends, and its cuts into tiles.

    Compressed layers bring the stream profile of their storage; an uncompressed one is every weight
    at the array's weight precision (`dense_profile`)."""

    layer_name: str
    profile: StreamProfile
    cum_bits: np.ndarray  # per output unit, the stored bits up to its end (the payload: no fixed bits)

    @classmethod
    def for_layer(cls, layer: Layer, accel: Accelerator) -> WeightStream:
        profile = layer.profile if layer.profile is not None else dense_profile(layer, accel.weight_bits)
        return cls(layer.name, profile, np.cumsum(profile.unit_bits))

    @property
    def fixed_bits(self) -> int:
        """Codebook and Huffman tables: they travel with the first tile."""
        return self.profile.fixed_bits

    @property
    def total_bytes(self) -> int:
        """Everything the layer stores, in whole bytes: what a pinned layer occupies and loads."""
        return -(-self.profile.total_bits // 8)

    def weight_tiles(self, buffer_bytes: float, cols: int) -> WeightTiles:
        """The stream cut into tiles of ``buffer_bytes`` (the last one shorter), the first also carrying
        the codebook and Huffman tables, for an array of ``cols`` columns. The cut does not depend on the
        array's shape, so a bigger array only shortens each tile's compute; a bigger buffer never makes
        more tiles."""
        budget = buffer_bytes * 8
        if budget <= self.fixed_bits:
            raise ConfigError(
                f"sram: the weight buffer ({buffer_bytes:,.1f} B, half the unpinned weight share) cannot hold "
                f"layer {self.layer_name}'s codebook and Huffman tables ({self.fixed_bits / 8:,.1f} B) and a weight; "
                f"give weights more SRAM"
            )
        payload = float(self.cum_bits[-1])
        ends = np.minimum(budget - self.fixed_bits + budget * np.arange(
            1 + max(0, math.ceil((payload - budget + self.fixed_bits) / budget))), payload)
        return WeightTiles.cut(self, ends, cols)

    def whole(self, cols: int) -> WeightTiles:
        """The layer as one tile (pinned weights)."""
        return WeightTiles.cut(self, np.array([float(self.cum_bits[-1])]), cols)


def dense_profile(layer: Layer, weight_bits: int) -> StreamProfile:
    """An uncompressed layer's stream: every weight stored at ``weight_bits``, and each output unit's
    bias at double width (accumulator-aligned); no codebook, no fillers."""
    entries = np.full(layer.out_units, layer.fan_in, dtype=np.int64)
    return StreamProfile(unit_bits=entries * weight_bits + 2 * weight_bits, unit_entries=entries,
                         unit_nonzeros=entries.copy(), fixed_bits=0, codebook_entries=0)


@dataclass(frozen=True)
class WeightTiles:
    """A layer's weight stream cut into tiles. The stream is laid out in DRAM in the order the array
    consumes it (column group by column group, a group's row folds in turn), so a tile is any
    contiguous piece of it: several whole column groups, or a slice of one group's fan-in, or the end
    of one group and the start of the next. Either way the array's columns stay full and its cycles
    over the tiles add up to those of the whole layer: each tile takes its share of them, the share of
    the layer's stored bits it carries."""

    tile_bits: np.ndarray  # per tile, stored bits (the first one with the codebook and Huffman tables)
    ends: np.ndarray  # per tile, where it ends in the layer's payload (stored bits without the tables)
    group_ends: np.ndarray  # per column group of the array, where it ends in the payload
    group_units: np.ndarray  # output units of each column group (the array's columns but the last)

    @classmethod
    def cut(cls, stream: WeightStream, ends: np.ndarray, cols: int) -> WeightTiles:
        ends = np.asarray(ends, dtype=np.float64)
        bits = np.diff(np.concatenate([[0.0], ends]))
        bits[0] += stream.fixed_bits
        units = stream.cum_bits.size
        last = np.minimum(np.arange(cols, units + cols, cols), units)  # each column group's last unit + 1
        return cls(bits, ends, stream.cum_bits[last - 1].astype(np.float64), np.diff(last, prepend=0))

    @property
    def count(self) -> int:
        return int(self.tile_bits.size)

    @property
    def cum_share(self) -> tuple[np.ndarray, np.ndarray]:
        """(start, end) of each tile as a fraction of the layer's payload: 0 for the first start, 1 for
        the last end."""
        payload = self.ends[-1]
        end = self.ends / payload if payload else np.ones_like(self.ends)
        end[-1] = 1.0
        return np.concatenate([[0.0], end[:-1]]), end

    @property
    def groups(self) -> int:
        return int(self.group_units.size)

    @property
    def split_departures(self) -> np.ndarray:
        """Per column group, how many tile boundaries cut its fan-in: each makes the group's outputs
        leave an output-stationary array as partial sums before the next tile resumes them."""
        inside = self.ends[:-1][~np.isin(self.ends[:-1], self.group_ends)]
        return np.bincount(np.searchsorted(self.group_ends, inside, side="right"), minlength=self.groups)


def column_passes(out_units: int, cols: int) -> int:
    """Column folds of the array over a layer: its output units in groups of ``cols``. Tiles do not add
    any (see `WeightTiles`); every pass streams the whole input once, so this counts both the array's
    column folds and the input-operand reads from SRAM."""
    return -(-out_units // cols)


def output_departures(tiles: WeightTiles, dataflow: str, fan_in: int, rows_used: int) -> np.ndarray:
    """Per column group, how often its outputs leave the array: weight-stationary, once per row fold
    (each fold's ``rows_used`` fan-in elements end in a partial sum); output-stationary, once, plus once
    per tile boundary inside the group's fan-in (the outputs stay in the array across a tile's part)."""
    if dataflow == "os":
        return 1 + tiles.split_departures
    return np.full(tiles.groups, -(-fan_in // rows_used))


def partial_sum_bytes(vectors: int, group_units, departures, act_bytes: float, acc_bytes: float) -> tuple[float, float]:
    """(SRAM write bytes, SRAM read bytes) of the outputs of ``vectors`` vectors over column groups whose
    outputs leave the array ``departures`` times each before they are complete. All but the last
    departure are partial sums at the accumulator width, written and read back for the next one; the
    last is the output, written once at the activation width."""
    units = np.asarray(group_units, dtype=np.float64)
    partial = float((units * (np.asarray(departures, dtype=np.float64) - 1)).sum()) * vectors * acc_bytes
    return partial + vectors * float(units.sum()) * act_bytes, partial


@dataclass(frozen=True)
class Tile:
    """One step of the pipeline: DMA in, compute, write back."""

    dram_read_bytes: float  # weights and input activations
    dram_write_bytes: float
    mac_cycles: float  # the MAC array busy
    decoder_cycles: float
    conflict_cycles: float
    compute_cycles: float
    weight_read_bytes: float = 0.0  # of dram_read_bytes, the weight stream's
    count: int = 1  # tiles merged into this one


@dataclass(frozen=True)
class LayerMapping:
    layer: Layer
    batch: int
    order: str  # "on-chip" | "weights-outer" | "inputs-outer" | "no-weights"
    pinned: bool
    input_on_chip: bool
    output_on_chip: bool
    weight_tiles: int
    input_tiles: int
    tiles: tuple[Tile, ...]
    macs_executed: float
    decoder_lookups: float
    sram_read_bytes: float
    sram_write_bytes: float
    weight_dram_bytes: float = 0.0  # of dram_read_bytes, the weights' share

    @cached_property
    def dram_read_bytes(self) -> float:
        return sum(t.dram_read_bytes for t in self.tiles)

    @cached_property
    def dram_write_bytes(self) -> float:
        return sum(t.dram_write_bytes for t in self.tiles)


@dataclass(frozen=True)
class Traffic:
    """The tiling decision of one layer for one pass and the DRAM bytes it implies."""

    tiles: WeightTiles
    weight_dram_bytes: float  # per weight read (0 when pinned)
    input_dram_bytes: float  # one full read of the streamed input (0 when on chip)
    output_dram_bytes: float
    chunks: int  # activation chunks
    order: str
    weight_reads: int  # times the weights are read from DRAM in this pass
    input_resident: bool = False  # a streamed input that fits the input share: loaded once, kept for all tiles

    @property
    def tile_weight_bytes(self) -> np.ndarray:
        # Bytes, not rounded per tile: the stream is one contiguous bit string however it is cut, and the
        # DRAM model rounds transfers to bursts with adjacent transfers coalesced.
        return self.tiles.tile_bits / 8

    @property
    def input_reads(self) -> int:
        """Times the streamed input is read from DRAM in this pass: weights outer, once per weight tile,
        unless it stays resident. (A tile that holds only part of a column group's fan-in needs only that
        part of the input; charging the whole input keeps the traffic, and so the planner's choice,
        independent of the array's shape, at the cost of an overcount when tiles are that small.)"""
        return self.tiles.count if self.order == "weights-outer" and not self.input_resident else 1

    @property
    def dram_bytes(self) -> float:
        input_reads = self.input_reads
        return self.weight_dram_bytes * self.weight_reads + self.input_dram_bytes * input_reads + self.output_dram_bytes


def os_weight_passes(vectors, rows, density: float = 1.0):
    """Passes of a weight stream through an output-stationary array for ``vectors`` input vectors on
    ``rows`` rows: one per row fold of vectors, ``ceil(vectors / rows)`` when every activation counts.

    Hardware that skips zero activations skips a fan-in element, so that its weights are neither read
    nor decoded, when every vector of the fold has a zero there. With activation density ``d``,
    independent from vector to vector, a fold of ``r`` vectors needs a given weight with probability
    ``1 - (1 - d)**r``; for one vector per fold (batch 1 on a 1 x N array, EIE's sparse
    matrix-vector product) that is exactly ``d``: only the columns of non-zero activations are read.
    Works elementwise on arrays."""
    full, rest = np.divmod(vectors, rows)
    return full * (1.0 - (1.0 - density) ** rows) + (1.0 - (1.0 - density) ** rest)


def _chunks(accel: Accelerator, in_dram: float, out_dram: float, vectors: int) -> int:
    """Activation chunks: each fits half the input share and half the output share (double buffering)."""
    need = max(1, math.ceil(in_dram / (accel.sram_input_bytes / 2)), math.ceil(out_dram / (accel.sram_output_bytes / 2)))
    return min(need, vectors)


def plan_traffic(layer: Layer, stream: WeightStream, accel: Accelerator, batch: int, *, pinned: bool,
                 stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool) -> Traffic:
    """Weight tiles, activation chunks and loop order of a conv/fc layer (see the module docstring)."""
    b = accel.act_bytes
    in_dram = 0.0 if input_on_chip else batch * layer.input_elements * b
    out_dram = 0.0 if output_on_chip else batch * layer.output_elements * b
    tiles = stream.whole(accel.cols) if pinned else stream.weight_tiles(stream_buffer_bytes, accel.cols)
    w_dram = 0.0 if pinned else float(tiles.tile_bits.sum()) / 8
    # Activations move in chunks of vectors that fit half the input (and output) share, so that a
    # chunk loads (or drains) while the previous one computes.
    chunks = _chunks(accel, in_dram, out_dram, batch * layer.out_pixels)
    if input_on_chip or tiles.count == 1 or pinned:
        order = "on-chip" if pinned and input_on_chip else "weights-outer"
    else:
        weights_outer = w_dram + in_dram * (1 if in_dram <= accel.sram_input_bytes else tiles.count)
        inputs_outer = in_dram + w_dram * chunks
        order = "weights-outer" if weights_outer <= inputs_outer else "inputs-outer"
    return Traffic(tiles, w_dram, in_dram, out_dram, chunks, order,
                   chunks if order == "inputs-outer" else 1, 0 < in_dram <= accel.sram_input_bytes)


def map_layer(layer: Layer, stream: WeightStream | None, accel: Accelerator, batch: int, *, pinned: bool,
              stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool,
              activation_density: float = 1.0) -> LayerMapping:
    """Tiles, traffic and counts of ``layer`` for one pass over ``batch`` proposals.

    The layer runs on the rows of the array that finish it soonest: more rows mean fewer folds but
    more operand requests per cycle, hence more bank conflicts, and a compiler would leave rows idle
    rather than lose more to conflicts than they gain. So a bigger array is never slower."""
    b = accel.act_bytes
    in_bytes = batch * layer.input_elements * b
    out_bytes = batch * layer.output_elements * b
    in_dram = 0.0 if input_on_chip else in_bytes
    out_dram = 0.0 if output_on_chip else out_bytes

    if layer.kind not in ("conv", "fc"):
        # Pooling and normalisation run on the array's columns as vector lanes, one window element
        # per lane per cycle; they read each window from SRAM and write each output once. Streamed
        # activations move in chunks, as for conv layers, so transfers overlap the work.
        window = layer.kernel[0] * layer.kernel[1]
        cycles = math.ceil(batch * layer.output_elements * window / accel.cols)
        chunks = _chunks(accel, in_dram, out_dram, batch * layer.out_pixels)
        each = np.full(chunks, 1.0 / chunks)
        tiles = _tiles(in_dram * each, out_dram * each, cycles * each, 0.0, 0.0, cycles * each, 0.0)
        reads = batch * layer.output_elements * window * b + out_dram
        writes = out_bytes + in_dram
        return LayerMapping(layer, batch, "no-weights", False, input_on_chip, output_on_chip, 0, 1, tiles,
                            0.0, 0.0, reads, writes, 0.0)

    assert stream is not None
    tr = plan_traffic(layer, stream, accel, batch, pinned=pinned, stream_buffer_bytes=stream_buffer_bytes,
                      input_on_chip=input_on_chip, output_on_chip=output_on_chip)
    wt, order, n_chunks = tr.tiles, tr.order, tr.chunks
    n_wt = wt.count
    tile_weight_bytes = tr.tile_weight_bytes
    weight_bytes = float(tile_weight_bytes.sum())
    units, fan_in = layer.out_units, layer.fan_in
    nonzeros = float(stream.profile.nonzeros)
    entries = float(stream.profile.entries)
    density = activation_density if accel.skip_zero_activations else 1.0

    vectors_total = batch * layer.out_pixels
    chunk_vectors = np.array([vectors_total // n_chunks + (1 if i < vectors_total % n_chunks else 0)
                              for i in range(n_chunks)], dtype=np.int64)
    # Every (weight tile, chunk) step in loop order, evaluated for every number of rows in use at once.
    if order == "inputs-outer":
        st_tile, st_chunk = np.tile(np.arange(n_wt), n_chunks), np.repeat(np.arange(n_chunks), n_wt)
    else:
        st_tile, st_chunk = np.repeat(np.arange(n_wt), n_chunks), np.tile(np.arange(n_chunks), n_wt)
    st_vec = chunk_vectors[st_chunk]
    start, end = wt.cum_share
    start, end = start[st_tile][:, None], end[st_tile][:, None]
    # Without bank conflicts the whole array is fastest; only then is a sub-array worth a look.
    conflicted = conflict_ratio(layer, accel) > 0
    candidates = np.arange(1, accel.rows + 1, dtype=np.int64) if conflicted else np.array([accel.rows], dtype=np.int64)
    sizes, size_of_step = np.unique(st_vec, return_inverse=True)
    dense = np.stack([mac_array_cycles_by_rows(candidates, accel.cols, accel.dataflow, int(v), fan_in, units)
                      for v in sizes])[size_of_step.ravel()]  # [steps, candidates]: the whole layer, this chunk
    frac = nonzeros / (units * fan_in) if accel.skip_pruned_weights else 1.0
    mac = _share(np.ceil(dense * frac * density), start, end)
    reloads = np.ones_like(dense, dtype=np.float64) if accel.dataflow == "ws" else \
        os_weight_passes(st_vec[:, None], candidates[None, :], density)
    lookups = _share(np.ceil(entries * reloads), start, end) if stream.profile.shared else np.zeros_like(mac)
    dec = decoder_cycles(lookups.astype(np.int64), accel.decoders, accel.decoder_lookups_per_cycle)
    ratios = np.array([conflict_ratio(layer, accel, int(r)) for r in candidates]) if conflicted else np.zeros(1)
    conflict = np.ceil(mac * ratios[None, :])
    compute = np.maximum(mac, dec) + conflict  # the decoder feeds the array through a FIFO: the slower sets the pace
    total = compute.sum(axis=0)
    col = int(np.flatnonzero(total == total.min())[-1])  # the fastest; of equals, the most rows
    rows_used = int(candidates[col])

    share = (end - start)[:, 0]
    first_chunk = st_chunk == 0
    # Weights-outer: a weight tile loads with its first chunk, and every weight tile sweeps the whole
    # streamed input (from DRAM again, unless the input fits its share and stays resident: then it loads
    # with the first tile). Inputs-outer: every chunk reloads all weight tiles, inputs load once, with
    # the first tile of their chunk.
    in_step = in_dram * st_vec / vectors_total
    if order == "inputs-outer":
        w_load = tile_weight_bytes[st_tile]
        in_load = np.where(st_tile == 0, in_step, 0.0)
    else:
        w_load = np.where(first_chunk & (not pinned), tile_weight_bytes[st_tile], 0.0)
        in_load = np.where(st_tile == 0, in_step, 0.0) if tr.input_resident else in_step
    out_w = out_dram * share * st_vec / vectors_total
    tiles = _tiles(w_load + in_load, out_w, mac[:, col], dec[:, col], conflict[:, col], compute[:, col], w_load)
    macs_executed = float(vectors_total * (nonzeros if accel.skip_pruned_weights else units * fan_in) * density)
    lookups_total = float(lookups[:, col].sum())
    input_reads = vectors_total * fan_in * column_passes(units, accel.cols) * b
    psum_writes, psum_reads = partial_sum_bytes(vectors_total, wt.group_units,
                                                output_departures(wt, accel.dataflow, fan_in, rows_used), b,
                                                accel.accumulator_bytes)
    weight_reads = weight_bytes * tr.weight_reads
    if accel.dataflow == "os":  # weights stream through the array once per row fold of vectors
        weight_reads = weight_bytes * sum(float(os_weight_passes(v, rows_used, density)) for v in chunk_vectors)
    dram_in_total = float((w_load + in_load).sum())
    sram_reads = input_reads + psum_reads + weight_reads + out_dram
    sram_writes = psum_writes + dram_in_total
    return LayerMapping(layer, batch, order, pinned, input_on_chip, output_on_chip, n_wt, tr.weight_reads,
                        tiles, macs_executed, lookups_total, sram_reads, sram_writes,
                        tr.weight_dram_bytes * tr.weight_reads)


def _share(whole: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A tile's part of ``whole`` (a chunk's count over the whole layer) in whole units: the rounded
    cumulative count at its end minus that at its start, so a chunk's tiles add up to ``whole``."""
    return np.floor(whole * end + 0.5) - np.floor(whole * start + 0.5)


def _tiles(dram_read, dram_write, mac, dec, conflict, compute, weight_read) -> tuple[Tile, ...]:
    """The steps as at most MAX_TILES tiles: consecutive runs summed (their pipeline overlap inside a
    run is kept by the run's compute and transfer times adding up, as the tiles would in sequence)."""
    fields = np.stack([np.broadcast_to(np.asarray(x, dtype=np.float64), np.shape(mac))
                       for x in (dram_read, dram_write, mac, dec, conflict, compute, weight_read)])
    runs = np.array_split(np.arange(fields.shape[1]), min(MAX_TILES, fields.shape[1]))
    return tuple(Tile(*(float(v) for v in fields[:, run].sum(axis=1)), count=len(run)) for run in runs)
