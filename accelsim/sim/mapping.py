"""Tiling: how one layer's weights and activations move between DRAM, SRAM and the MAC array.

The choice, per layer and batch of proposals, follows the SRAM split:

* **Weights.** A layer is *pinned* when the frame planner keeps its compressed weights resident in
  the weight share of the SRAM (then DRAM never sees them after the cold first frame). Otherwise its
  stream is cut into *weight tiles*: contiguous ranges of output units whose stored bits (from the
  real position stream) fit half of the unpinned weight SRAM, so that one tile loads while the
  previous one computes (double buffering). A single output unit that does not fit is a config error.
* **Activations.** The activation between two layers stays on chip when it fits both the input and
  the output share (the two buffers swap roles from layer to layer); otherwise the producer writes it
  to DRAM and the consumer streams it back in *input tiles* of half the input share.
* **Loop order** when the input must be streamed: weights outer (each weight tile sweeps the whole
  input: input re-read once per weight tile, unless the whole input fits the input share, in which
  case it is loaded once and stays for every weight tile) or inputs outer (each input tile sweeps all
  weights: weights re-read once per input tile). The mapper takes the order with fewer DRAM bytes, as a
  compiler for such an accelerator would. Both counts fall as SRAM grows, so DRAM traffic never
  rises with SRAM size. Halo rows that neighbouring input tiles of a convolution share are ignored.

MAC-array cycles per tile come from `mac_array` (dense), scaled by the tile's non-zero weight
fraction when the hardware skips pruned weights and by the measured activation density when it skips
zero activations. Decoder lookups are every stored entry (fillers too) each time a tile's weights are
loaded into the array: for weight-stationary once per activation chunk of a pass (each chunk sweeps
the tile's folds again), for output-stationary once per row fold of vectors, where skipping zero
activations also skips the weights of fan-in elements that are zero in every vector of the fold
(`os_weight_passes`). Bank conflicts come from the `sram` kernel on the layer's real operand addresses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from accelsim.errors import ConfigError
from accelsim.sim.accelerator import Accelerator
from accelsim.sim.decoder import decoder_cycles
from accelsim.sim.mac_array import mac_array_cycles_by_rows
from accelsim.sim.positions import walk_positions
from accelsim.sim.sram import sram_conflicts
from accelsim.workload import Layer

MAX_TILES = 64  # tiles per layer kept as separate SimPy events; more are merged in runs


class LayerCosts:
    """Per-output-unit storage and stream counts of one layer.

    Walking a large layer's stream is the costliest per-element work of a design point, and it depends
    only on the storage, so `for_layer` keeps the result on the storage object: a sweep over hardware
    walks each stream once."""

    @classmethod
    def for_layer(cls, layer: Layer, acc: Accelerator) -> LayerCosts:
        st = layer.storage
        if st is None:
            return cls(layer, acc)
        cache = st.__dict__.setdefault("_costs_by_fan_in", {})
        if layer.fan_in not in cache:
            cache[layer.fan_in] = cls(layer, acc)
        return cache[layer.fan_in]

    def __init__(self, layer: Layer, acc: Accelerator):
        self.layer = layer
        units = layer.out_units
        st = layer.storage
        if st is None:  # uncompressed: every weight stored at the array's weight precision
            self.row_bits = np.full(units, layer.fan_in * acc.weight_bits, dtype=np.int64)
            self.row_entries = np.full(units, layer.fan_in, dtype=np.int64)
            self.row_nonzeros = self.row_entries.copy()
            self.fixed_bits = 0
            self.shared = False
            if layer.kind in ("conv", "fc"):
                self.row_bits += acc.weight_bits * 2  # bias at double width, accumulator-aligned
        else:
            # One walker tile per output unit: its stored entries and fillers, from the real stream.
            counts = walk_positions(None if st.gaps is None else st.gaps.symbols, st.symbols.symbols,
                                    _zero_symbol(st), units, layer.fan_in, np.arange(units + 1, dtype=np.int64))
            self.row_entries = counts.stored_entries
            self.row_nonzeros = counts.nonzero_weights
            entry_bits = _entry_bits(st)
            if np.isscalar(entry_bits):
                self.row_bits = self.row_entries * int(entry_bits)
            else:
                rows = st.positions() // layer.fan_in
                self.row_bits = np.bincount(rows, weights=entry_bits, minlength=units).astype(np.int64)
            if st.bias is not None:
                self.row_bits = self.row_bits + st.bias_format.bits
            # Codebook and Huffman tables travel with the first tile.
            self.fixed_bits = st.bits.codebook + st.bits.huffman_tables
            self.shared = st.codebook is not None
        self.cum_bits = np.cumsum(self.row_bits)

    @property
    def total_bytes(self) -> int:
        return int(math.ceil((int(self.cum_bits[-1]) + self.fixed_bits) / 8)) if self.cum_bits.size else 0

    @property
    def max_row_bytes(self) -> int:
        return int(math.ceil((int(self.row_bits.max()) + self.fixed_bits) / 8)) if self.row_bits.size else 0

    def weight_tiles(self, buffer_bytes: float) -> np.ndarray:
        """Greedy cut into contiguous tiles of at most ``buffer_bytes``: boundaries [0, ..., units].
        Greedy gives the fewest tiles, and never more with a bigger buffer."""
        units = self.row_bits.size
        budget = buffer_bytes * 8
        if self.max_row_bytes > buffer_bytes:
            raise ConfigError(
                f"sram: the weight buffer ({buffer_bytes:,.1f} B, half the unpinned weight share) is smaller than "
                f"one output unit of layer {self.layer.name} ({self.max_row_bytes:,} B"
                f"{' with its codebook' if self.fixed_bits else ''}); give weights more SRAM"
            )
        bounds = [0]
        base = 0.0
        while bounds[-1] < units:
            start = bounds[-1]
            extra = self.fixed_bits if start == 0 else 0
            end = int(np.searchsorted(self.cum_bits, base + budget - extra, side="right"))
            end = max(end, start + 1)
            bounds.append(end)
            base = float(self.cum_bits[end - 1])
        return np.asarray(bounds, dtype=np.int64)


def _zero_symbol(st) -> int:
    if st.codebook is not None:
        return st.zero_code
    return int(st.value_format.encode(np.zeros(1))[0])


def _entry_bits(st):
    """Bits of each stored entry (a scalar when both streams are fixed width)."""
    sym, gap = st.symbols, st.gaps
    fixed = sym.huffman_lengths is None and (gap is None or gap.huffman_lengths is None)
    if fixed:
        return sym.width + (0 if gap is None else gap.width)
    bits = (sym.huffman_lengths[sym.symbols] if sym.huffman_lengths is not None else np.full(sym.symbols.size, sym.width))
    if gap is not None:
        bits = bits + (gap.huffman_lengths[gap.symbols] if gap.huffman_lengths is not None else gap.width)
    return bits.astype(np.float64)


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

    @classmethod
    def make(cls, dram_read_bytes, dram_write_bytes, mac_cycles, decoder_cycles, conflict_cycles,
             weight_read_bytes=0.0) -> Tile:
        # The decoder feeds the array through a FIFO: the slower of the two sets the pace.
        compute = max(mac_cycles, decoder_cycles) + conflict_cycles
        return cls(float(dram_read_bytes), float(dram_write_bytes), float(mac_cycles), float(decoder_cycles),
                   float(conflict_cycles), float(compute), float(weight_read_bytes))


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


_CONFLICTS: dict[tuple, float] = {}


def conflict_ratio(layer: Layer, acc: Accelerator, rows: int | None = None) -> float:
    """Bank-conflict stall cycles per MAC-array cycle, from the layer's real input-operand addresses,
    with ``rows`` rows of the array in use (default: all).

    Each cycle the array reads one input operand per row it uses: for weight-stationary, `rows`
    consecutive fan-in elements of one output pixel (channel, ky, kx in CHW order); for
    output-stationary, the same fan-in element for `rows` neighbouring output pixels. The kernel maps
    64 such cycles onto the banks. Results are cached by everything they depend on."""
    if layer.kind not in ("conv", "fc"):
        return 0.0
    b = acc.act_bytes
    r = min(rows or acc.rows, layer.fan_in if acc.dataflow == "ws" else layer.out_pixels)
    key = (layer.kind, layer.in_shape, layer.out_shape, layer.kernel, layer.stride, layer.groups, acc.dataflow, b,
           acc.sram, r)
    if key not in _CONFLICTS:
        _CONFLICTS[key] = _conflict_ratio(layer, acc, r)
    return _CONFLICTS[key]


def _conflict_ratio(layer: Layer, acc: Accelerator, r: int) -> float:
    b = acc.act_bytes
    cycles = 64
    if layer.kind == "fc":
        idx = np.arange(cycles * r).reshape(cycles, r) % layer.fan_in if acc.dataflow == "ws" else \
            np.repeat(np.arange(cycles)[:, None], r, axis=1)
        addr = idx * b
    else:
        c_in, h, w = layer.in_shape
        kh, kw = layer.kernel
        ho, wo = layer.out_shape[1:]
        if acc.dataflow == "ws":
            f = np.arange(cycles * r).reshape(cycles, r) % layer.fan_in
            c, rem = np.divmod(f, kh * kw)
            ky, kx = np.divmod(rem, kw)
            y = np.zeros_like(f)
            x = np.zeros_like(f)
        else:
            f = np.repeat(np.arange(cycles)[:, None] % layer.fan_in, r, axis=1)
            c, rem = np.divmod(f, kh * kw)
            ky, kx = np.divmod(rem, kw)
            p = np.arange(r)[None, :] % (ho * wo)
            y, x = np.divmod(p, wo)
            y, x = y * layer.stride, x * layer.stride
        addr = ((c * h + np.minimum(y + ky, h - 1)) * w + np.minimum(x + kx, w - 1)) * b
    res = sram_conflicts(np.asarray(addr, dtype=np.int64), acc.sram)
    return res.stall_cycles / res.groups


@dataclass(frozen=True)
class Traffic:
    """The tiling decision of one layer for one pass and the DRAM bytes it implies."""

    bounds: np.ndarray  # weight-tile boundaries in output units
    tile_weight_bytes: np.ndarray
    weight_dram_bytes: float  # per weight read (0 when pinned)
    input_dram_bytes: float  # one full read of the streamed input (0 when on chip)
    output_dram_bytes: float
    chunks: int  # activation chunks
    order: str
    weight_reads: int  # times the weights are read from DRAM in this pass
    input_resident: bool = False  # a streamed input that fits the input share: loaded once, kept for all tiles

    @property
    def input_reads(self) -> int:
        """Times the streamed input is read from DRAM in this pass."""
        return self.bounds.size - 1 if self.order == "weights-outer" and not self.input_resident else 1

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


def _chunks(acc: Accelerator, in_dram: float, out_dram: float, vectors: int) -> int:
    """Activation chunks: each fits half the input share and half the output share (double buffering)."""
    need = max(1, math.ceil(in_dram / (acc.sram_input_bytes / 2)), math.ceil(out_dram / (acc.sram_output_bytes / 2)))
    return min(need, vectors)


def plan_traffic(layer: Layer, costs: LayerCosts, acc: Accelerator, batch: int, *, pinned: bool,
                 stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool) -> Traffic:
    """Weight tiles, activation chunks and loop order of a conv/fc layer (see the module docstring)."""
    b = acc.act_bytes
    in_dram = 0.0 if input_on_chip else batch * layer.input_elements * b
    out_dram = 0.0 if output_on_chip else batch * layer.output_elements * b
    bounds = np.array([0, layer.out_units]) if pinned else costs.weight_tiles(stream_buffer_bytes)
    n_wt = bounds.size - 1
    tile_bits = np.diff(np.concatenate([[0], costs.cum_bits[bounds[1:] - 1]])).astype(np.float64)
    tile_bits[0] += costs.fixed_bits
    # Bytes, not rounded per tile: the stream is one contiguous bit string however it is cut, and the
    # DRAM model rounds transfers to bursts with adjacent transfers coalesced.
    tile_weight_bytes = tile_bits / 8
    w_dram = 0.0 if pinned else float(tile_weight_bytes.sum())
    # Activations move in chunks of vectors that fit half the input (and output) share, so that a
    # chunk loads (or drains) while the previous one computes.
    chunks = _chunks(acc, in_dram, out_dram, batch * layer.out_pixels)
    if input_on_chip or n_wt == 1 or pinned:
        order = "on-chip" if pinned and input_on_chip else "weights-outer"
    else:
        weights_outer = w_dram + in_dram * (1 if in_dram <= acc.sram_input_bytes else n_wt)
        inputs_outer = in_dram + w_dram * chunks
        order = "weights-outer" if weights_outer <= inputs_outer else "inputs-outer"
    return Traffic(bounds, tile_weight_bytes, w_dram, in_dram, out_dram, chunks, order,
                   chunks if order == "inputs-outer" else 1, 0 < in_dram <= acc.sram_input_bytes)


def map_layer(layer: Layer, costs: LayerCosts | None, acc: Accelerator, batch: int, *, pinned: bool,
              stream_buffer_bytes: float, input_on_chip: bool, output_on_chip: bool,
              activation_density: float = 1.0) -> LayerMapping:
    """Tiles, traffic and counts of ``layer`` for one pass over ``batch`` proposals.

    The layer runs on the rows of the array that finish it soonest: more rows mean fewer folds but
    more operand requests per cycle, hence more bank conflicts, and a compiler would leave rows idle
    rather than lose more to conflicts than they gain. So a bigger array is never slower."""
    b = acc.act_bytes
    in_bytes = batch * layer.input_elements * b
    out_bytes = batch * layer.output_elements * b
    in_dram = 0.0 if input_on_chip else in_bytes
    out_dram = 0.0 if output_on_chip else out_bytes

    if layer.kind not in ("conv", "fc"):
        # Pooling and normalisation run on the array's columns as vector lanes, one window element
        # per lane per cycle; they read each window from SRAM and write each output once. Streamed
        # activations move in chunks, as for conv layers, so transfers overlap the work.
        window = layer.kernel[0] * layer.kernel[1]
        cycles = math.ceil(batch * layer.output_elements * window / acc.cols)
        chunks = _chunks(acc, in_dram, out_dram, batch * layer.out_pixels)
        tiles = tuple(Tile.make(in_dram / chunks, out_dram / chunks, cycles / chunks, 0.0, 0.0) for _ in range(chunks))
        reads = batch * layer.output_elements * window * b + out_dram
        writes = out_bytes + in_dram
        return LayerMapping(layer, batch, "no-weights", False, input_on_chip, output_on_chip, 0, 1, tuple(_merge(list(tiles))),
                            0.0, 0.0, reads, writes, 0.0)

    assert costs is not None
    tr = plan_traffic(layer, costs, acc, batch, pinned=pinned, stream_buffer_bytes=stream_buffer_bytes,
                      input_on_chip=input_on_chip, output_on_chip=output_on_chip)
    bounds, tile_weight_bytes, order, n_chunks = tr.bounds, tr.tile_weight_bytes, tr.order, tr.chunks
    n_wt = bounds.size - 1
    weight_bytes = float(tile_weight_bytes.sum())
    vectors_per_item = layer.out_pixels
    rows_per_tile = np.diff(bounds)
    entries = np.add.reduceat(costs.row_entries, bounds[:-1])
    nonzeros = np.add.reduceat(costs.row_nonzeros, bounds[:-1])
    density = activation_density if acc.skip_zero_activations else 1.0

    vectors_total = batch * vectors_per_item
    chunk_vectors = [vectors_total // n_chunks + (1 if i < vectors_total % n_chunks else 0) for i in range(n_chunks)]
    steps = [(t, a) for t in range(n_wt) for a in range(n_chunks)] if order != "inputs-outer" else \
        [(t, a) for a in range(n_chunks) for t in range(n_wt)]
    # Every (weight tile, chunk) step, evaluated for every number of rows in use (1..rows) at once.
    st_tile = np.array([t for t, _ in steps])
    st_vec = np.array([chunk_vectors[a] for _, a in steps], dtype=np.int64)
    # Without bank conflicts the whole array is fastest; only then is a sub-array worth a look.
    conflicted = conflict_ratio(layer, acc) > 0
    candidates = np.arange(1, acc.rows + 1, dtype=np.int64) if conflicted else np.array([acc.rows], dtype=np.int64)
    keys, key_of_step = np.unique(np.stack([rows_per_tile[st_tile], st_vec]), axis=1, return_inverse=True)
    dense = np.stack([mac_array_cycles_by_rows(candidates, acc.cols, acc.dataflow, int(vec), layer.fan_in, int(units))
                      for units, vec in keys.T])[key_of_step.ravel()]  # [steps, candidates]
    frac = nonzeros[st_tile] / (rows_per_tile[st_tile] * layer.fan_in) if acc.skip_pruned_weights else np.ones(len(steps))
    mac = np.ceil(dense * (frac * density)[:, None])
    reloads = np.ones_like(mac) if acc.dataflow == "ws" else os_weight_passes(st_vec[:, None], candidates[None, :], density)
    lookups = np.ceil(entries[st_tile][:, None] * reloads) if costs.shared else np.zeros_like(mac)
    dec = decoder_cycles(lookups.astype(np.int64), acc.decoders, acc.decoder_lookups_per_cycle)
    ratios = np.array([conflict_ratio(layer, acc, int(r)) for r in candidates]) if conflicted else np.zeros(1)
    conflict = np.ceil(mac * ratios[None, :])
    total = (np.maximum(mac, dec) + conflict).sum(axis=0)
    col = int(np.flatnonzero(total == total.min())[-1])  # the fastest; of equals, the most rows
    rows_used = int(candidates[col])

    tiles: list[Tile] = []
    macs_executed = lookups_total = 0.0
    for s_i, (t, a) in enumerate(steps):
        vec = chunk_vectors[a]
        dense_w = rows_per_tile[t] * layer.fan_in
        executed = vec * (nonzeros[t] if acc.skip_pruned_weights else dense_w) * density
        # Weights-outer: a weight tile loads with its first chunk, and every weight tile sweeps the
        # whole streamed input (from DRAM again, unless the input fits its share and stays resident).
        # Inputs-outer: every chunk reloads all weight tiles, inputs load once.
        if order == "inputs-outer":
            w_load = tile_weight_bytes[t]
            in_load = in_dram * vec / vectors_total if t == 0 else 0.0
        else:
            w_load = 0.0 if pinned or a > 0 else tile_weight_bytes[t]
            in_load = in_dram * vec / vectors_total if t == 0 or not tr.input_resident else 0.0
        out_w = out_dram * (rows_per_tile[t] / layer.out_units) * (vec / vectors_total)
        tiles.append(Tile.make(w_load + in_load, out_w, mac[s_i, col], dec[s_i, col], conflict[s_i, col], w_load))
        macs_executed += executed
        lookups_total += float(lookups[s_i, col])
    col_folds = math.ceil(layer.out_units / acc.cols)
    row_folds = math.ceil(layer.fan_in / rows_used)
    input_reads = vectors_total * layer.fan_in * col_folds * b
    if acc.dataflow == "ws":
        psum_writes = vectors_total * layer.out_units * row_folds * b
        psum_reads = vectors_total * layer.out_units * (row_folds - 1) * b
    else:
        psum_writes, psum_reads = vectors_total * layer.out_units * b, 0.0
    weight_reads = weight_bytes * tr.weight_reads
    if acc.dataflow == "os":  # weights stream through the array once per row fold of vectors
        weight_reads = weight_bytes * sum(float(os_weight_passes(v, rows_used, density)) for v in chunk_vectors)
    dram_in_total = sum(t.dram_read_bytes for t in tiles)
    sram_reads = input_reads + psum_reads + weight_reads + out_dram
    sram_writes = psum_writes + dram_in_total
    return LayerMapping(layer, batch, order, pinned, input_on_chip, output_on_chip, n_wt, tr.weight_reads,
                        tuple(_merge(tiles)), macs_executed, lookups_total, sram_reads, sram_writes,
                        tr.weight_dram_bytes * tr.weight_reads)


def _merge(tiles: list[Tile]) -> list[Tile]:
    """At most MAX_TILES tiles: consecutive runs summed (their pipeline overlap inside a run is kept
    by the run's compute and transfer times adding up, as the tiles would in sequence)."""
    if len(tiles) <= MAX_TILES:
        return tiles
    runs = np.array_split(np.arange(len(tiles)), MAX_TILES)
    merged = []
    for run in runs:
        part = [tiles[i] for i in run]
        merged.append(Tile(*(sum(getattr(t, f) for t in part) for f in
                             ("dram_read_bytes", "dram_write_bytes", "mac_cycles", "decoder_cycles", "conflict_cycles",
                              "compute_cycles", "weight_read_bytes")), count=len(part)))
    return merged
