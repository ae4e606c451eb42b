"""Bank conflicts of a layer's operand stream: the addresses a dataflow reads, mapped onto the SRAM banks.

The MAC array asks the SRAM for one operand per array row (or column) in use, every cycle; those
requests are one *group* of the `sram` kernel. Which addresses a group holds is the dataflow's
access pattern, a parameter here so that each dataflow declares its own:

* ``"fan-in"`` (weight-stationary): each cycle the ``r`` rows read ``r`` consecutive fan-in elements
  (channel, ky, kx in CHW order) of one output pixel; successive cycles successive pixels; when
  every pixel has streamed past, the next ``r`` fan-in elements (the next row fold).
* ``"pixels"`` (output-stationary; also input-stationary, whose stationary inputs are loaded this
  way across the array's columns): each cycle the ``r`` rows read the same fan-in element for ``r``
  neighbouring output pixels (row-major); successive cycles successive fan-in elements; then the
  next ``r`` pixels.

Addresses are those of the input activations in CHW order at the activation width, from byte 0 (a
conv layer's maps of different proposals, or its channel groups, lie at constant offsets, which only
rotate the banks: one proposal's map and the first channel group stand for all). A fully connected
layer is a 1 x 1 map of ``fan_in`` channels whose *pixels* are the ``proposals_batch`` input vectors
of a pass, stored one after the other in a **skewed layout** (`vector_stride_bytes`): vector ``v``
starts at ``v * stride``, the stride being the vector's size rounded up to whole bank words and then
to the next word count coprime with the number of banks (odd, for a power-of-two bank count). Both
patterns read the same fan-in element of different vectors close together (``"fan-in"`` in
successive cycles, ``"pixels"`` within a cycle); packed vectors whose size is a multiple of
banks x width would put that element of every vector in one bank (AlexNet's fc6: 9,216 B = 1,152
words of 8 B, a multiple of 16 banks), which a compiler avoids by padding the stride, the usual
skewed layout of batched vectors: with a stride coprime with the banks, ``banks`` successive vectors'
element ``k`` lie in ``banks`` different banks. The padding (under one word per vector, plus the
rounding) is negligible storage. The skew spreads one element over the vectors; it does not keep a
``"fan-in"`` cycle's window of several words (r rows' operands) off the next vector's window: a
stride of 1 word modulo the banks overlaps them by a bank, so slow banks (k > 1) can still stall
there (the mapper's row choice then finds a window of fewer words). A conv layer's pixels share one input map (their windows overlap),
so they have no such layout to choose; its map is CHW, unpadded. **Padding is padding**: a kernel position that falls outside
the input map reads no SRAM (the datapath injects the zero), so it is an empty slot of its group,
not a clamped address. Padding comes from the layer (`Layer.padding`); a position outside the map is
padding whatever the layer says.

The ratio is averaged over the groups the layer actually streams, in stream order (order matters
once an access occupies a bank for several cycles, `sram`). Up to `MAX_GROUPS` groups the whole
stream is mapped; beyond, a deterministic sample: `MAX_GROUPS // RUN` runs of `RUN` consecutive
groups, starting at points of the golden-ratio sequence over the stream (evenly spread over row
folds and pixels alike, with no period to alias with a map's width), in stream order. Each run is
preceded by the `WARM` groups before it in the stream, mapped but not counted (`sram`'s warm-up
groups): they load each row's word register and occupy the bank ports as the stream would, so a
run does not start with every row missing its register at once. No random numbers: the same layer
and SRAM always give the same ratio.

Each row (request slot) keeps the bank word it last read in a word register (`sram`): with a
stride-1 operand stream successive cycles of a row mostly fall in the word it has just read, which
is then no bank access; only the row's move to the next word is. Each bank keeps the word it last
read in its output latch (`sram`): a weight-stationary conv stream's neighbouring rows (kernel
positions kx and kx + 1) read the same word one cycle apart, which the latch serves.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from accelsim.sim.accelerator import Accelerator
from accelsim.sim.sram import sram_conflicts
from accelsim.workload import Layer

PATTERNS = ("fan-in", "pixels")

MAX_GROUPS = 2048  # groups mapped per (layer, rows, pattern): the whole stream up to this, else a sample
RUN = 16  # consecutive groups per sampled run: several times any bank's occupancy, so waits show
WARM = 4  # groups mapped, not counted, before each sampled run: the word registers and busy ports it inherits
_INV_PHI = (math.sqrt(5) - 1) / 2

_CACHE: dict[tuple, float] = {}


def conflict_ratio(layer: Layer, accel: Accelerator, rows: int | None = None, pattern: str | None = None) -> float:
    """Bank-conflict stall cycles per MAC-array cycle of ``layer``'s input-operand stream, with ``rows``
    requests per cycle (default: all the array's rows) in access ``pattern`` (default: the one of
    ``accel.dataflow``, `Dataflow.conflict_pattern`). See the module docstring for the stream and its sample.

    Results are cached by everything they depend on: the layer's geometry, the pattern, the request
    count (clamped to what the pattern can issue), the activation width, the SRAM geometry (banks,
    width, ports, cycles per access) and, for fc layers, the vectors per pass."""
    if layer.kind not in ("conv", "fc"):
        return 0.0
    pattern = pattern or accel.dataflow.conflict_pattern
    if pattern not in PATTERNS:
        raise ValueError(f"conflict_ratio: pattern {pattern!r} is not one of {', '.join(PATTERNS)}")
    geo = _Geometry(layer, accel)
    r = min(rows or accel.rows, layer.fan_in if pattern == "fan-in" else geo.vectors)
    key = (layer.kind, layer.in_shape, layer.out_shape, layer.kernel, layer.stride, layer.groups, layer.padding,
           pattern, accel.activation_bits, accel.sram, r, geo.vectors)
    if key not in _CACHE:
        addresses, measured = operand_stream(layer, accel, r, pattern)
        _CACHE[key] = ratio_of(addresses, accel, measured)
    return _CACHE[key]


def ratio_of(addresses: np.ndarray, accel: Accelerator, measured: np.ndarray | None = None) -> float:
    """Stall cycles per measured group (``measured`` None: all groups) of an address stream."""
    res = sram_conflicts(addresses, accel.sram, measured=measured)
    return res.stall_cycles / res.groups


class _Geometry:
    """The input map and the output pixels (vectors) of a conv or fc layer, as the address formula needs."""

    def __init__(self, layer: Layer, accel: Accelerator):
        if layer.kind == "fc":
            self.c, self.h, self.w, self.kh, self.kw = layer.fan_in, 1, 1, 1, 1
            self.stride, self.pad, self.wo = 1, (0, 0), 1
            self.vectors = max(1, accel.proposals_batch)
        else:
            self.c, self.h, self.w = layer.in_shape
            self.kh, self.kw = layer.kernel
            self.stride, self.pad, self.wo = layer.stride, layer.padding, layer.out_shape[2]
            self.vectors = layer.out_pixels
        self.fan_in = layer.fan_in


def vector_stride_bytes(vector_bytes: int, bank_width_bytes: int, banks: int) -> int:
    """The skewed layout's distance between successive batched vectors of ``vector_bytes`` (module doc):
    the smallest whole number of bank words ``>= vector_bytes`` that shares no factor with ``banks``,
    in bytes. E.g. 9,216 B on 16 banks of 8 B: 1,152 words (even) -> 1,153 words, 9,224 B."""
    words = max(1, -(-vector_bytes // bank_width_bytes))
    while math.gcd(words, banks) != 1:
        words += 1
    return words * bank_width_bytes


def stream_groups(outer: int, inner: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in stream order) of the groups mapped for a stream of ``outer * inner`` groups, and
    which of them count: all of them up to `MAX_GROUPS`, else `RUN`-long runs from golden-ratio
    points, each after its `WARM` uncounted warm-up groups (see the module doc)."""
    total = outer * inner
    if total <= MAX_GROUPS:
        return np.arange(total, dtype=np.int64), np.ones(total, dtype=np.bool_)
    runs = MAX_GROUPS // RUN
    starts = np.sort(np.floor(((0.5 + _INV_PHI * np.arange(runs)) % 1.0) * (total - RUN + 1)).astype(np.int64))
    pos = (starts[:, None] + np.arange(-WARM, RUN, dtype=np.int64)[None, :]).ravel()
    measured = np.tile(np.arange(-WARM, RUN) >= 0, runs)
    keep = pos >= 0  # a run at the stream's start has no groups before it
    return pos[keep], measured[keep]


def operand_addresses(layer: Layer, accel: Accelerator, r: int, pattern: str) -> np.ndarray:
    """The ``[groups, r]`` byte addresses (-1: empty slot) the layer's stream reads, as mapped (the whole
    stream or its sample with its warm-up groups, `stream_groups`)."""
    return operand_stream(layer, accel, r, pattern)[0]


def operand_stream(layer: Layer, accel: Accelerator, r: int, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """`operand_addresses` and, per mapped group, whether it counts (False: a warm-up group)."""
    g = _Geometry(layer, accel)
    fan_in_pattern = pattern == "fan-in"
    if fan_in_pattern:
        pos, measured = stream_groups(-(-g.fan_in // r), g.vectors)  # row folds outer, pixels inner
    else:
        pos, measured = stream_groups(-(-g.vectors // r), g.fan_in)  # blocks of r pixels outer, fan-in inner
    fc = layer.kind == "fc"
    vstride = vector_stride_bytes(-(-g.c * accel.activation_bits // 8), accel.sram.bank_width_bytes,
                                  accel.sram.banks) if fc else 0
    return _addresses(pos, r, fan_in_pattern, fc, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad[0],
                      g.pad[1], g.wo, g.vectors, g.fan_in, accel.activation_bits, vstride), measured


@numba.njit(cache=True)
def _addresses(pos, r, fan_in_pattern, fc, c_in, h, w, kh, kw, stride, pad_y, pad_x, wo, vectors, fan_in, bits,
               vstride):
    out = np.full((pos.size, r), -1, dtype=np.int64)
    for i in range(pos.size):
        if fan_in_pattern:
            outer, vec = divmod(pos[i], vectors)
        else:
            outer, elem = divmod(pos[i], fan_in)
        for j in range(r):
            if fan_in_pattern:
                f = outer * r + j  # r consecutive fan-in elements of one pixel
                v = vec
            else:
                f = elem
                v = outer * r + j  # one fan-in element of r neighbouring pixels
            if f >= fan_in or v >= vectors:  # a short last fold or block
                continue
            c, rem = divmod(f, kh * kw)
            ky, kx = divmod(rem, kw)
            if fc:  # vector v at v * vstride (the skewed layout), its features packed
                out[i, j] = v * vstride + c * bits // 8
                continue
            oy, ox = divmod(v, wo)
            y = oy * stride - pad_y + ky
            x = ox * stride - pad_x + kx
            if y < 0 or y >= h or x < 0 or x >= w:
                continue  # padding: a zero from the datapath, no SRAM access
            out[i, j] = ((c * h + y) * w + x) * bits // 8
    return out
