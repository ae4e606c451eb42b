"""The compressed model as the accelerator stores it, with the exact bit count of every part.

Per layer the storage holds:

- the **codebook** (k entries in the codebook format) when weights are shared; without sharing, each
  stored entry holds its weight directly in that format;
- the **symbol stream**: one symbol per stored entry, a codebook index (ceil(log2 k) bits) or a raw
  value, fixed width or Huffman-coded;
- the **position stream** (sparse layers): one gap per stored entry (see `sparse`), fixed width or
  Huffman-coded; dense layers store every weight and no positions;
- **fillers**: entries that only bridge long gaps; they cost a symbol and a gap each and decode to 0;
- Huffman **tables** (code lengths) for the streams that use them;
- the **biases** in the bias format.

`LayerBits` counts each part; `LayerStorage.decode()` rebuilds the dense weight from the streams alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from accelsim.compress.formats import ValueFormat
from accelsim.compress.huffman import canonical_codes, code_lengths, table_bits
from accelsim.compress.sparse import decode_positions, encode_positions


@dataclass(frozen=True)
class LayerBits:
    """Exact storage of one layer, in bits."""

    codebook: int = 0
    indices: int = 0  # symbols of real (non-filler) entries
    positions: int = 0  # gaps of real entries
    fillers: int = 0  # symbols + gaps of filler entries
    huffman_tables: int = 0
    bias: int = 0

    @property
    def weights(self) -> int:
        """Everything needed to rebuild the weights (all but the biases)."""
        return self.codebook + self.indices + self.positions + self.fillers + self.huffman_tables

    @property
    def total(self) -> int:
        return self.weights + self.bias

    def as_dict(self) -> dict[str, int]:
        return {
            "codebook_bits": self.codebook,
            "index_stream_bits": self.indices,
            "position_stream_bits": self.positions,
            "filler_bits": self.fillers,
            "huffman_table_bits": self.huffman_tables,
            "bias_bits": self.bias,
            "total_bits": self.total,
        }


@dataclass(frozen=True)
class Stream:
    """One stream of unsigned symbols, with its coding: fixed width, or canonical Huffman lengths."""

    symbols: np.ndarray  # uint32, one per stored entry
    width: int  # bits per symbol when fixed-width; alphabet is [0, 2**width)
    huffman_lengths: np.ndarray | None = None  # code length per symbol of the alphabet

    @property
    def alphabet(self) -> int:
        return 1 << self.width

    def bits_of(self, select: np.ndarray) -> int:
        """Bits taken by the selected entries."""
        if self.huffman_lengths is None:
            return int(np.count_nonzero(select)) * self.width
        return int(self.huffman_lengths[self.symbols[select]].sum())

    @property
    def table_bits(self) -> int:
        return 0 if self.huffman_lengths is None else table_bits(self.alphabet)

    @classmethod
    def build(cls, symbols: np.ndarray, width: int, huffman: bool) -> Stream:
        symbols = np.asarray(symbols, dtype=np.uint32)
        lengths = None
        if huffman and width > 0:  # a 0-bit stream (one codebook entry) costs nothing to code
            lengths = code_lengths(np.bincount(symbols, minlength=1 << width))
        return cls(symbols, width, lengths)

    def codes(self) -> np.ndarray:
        assert self.huffman_lengths is not None
        return canonical_codes(self.huffman_lengths)


@dataclass(frozen=True)
class LayerStorage:
    name: str
    shape: tuple[int, ...]  # dense weight shape (torch layout)
    symbols: Stream
    gaps: Stream | None  # None: dense storage
    is_filler: np.ndarray  # bool per stored entry
    codebook: np.ndarray | None  # decoded codebook values (float32); None: unshared
    value_format: ValueFormat  # of codebook entries, or of the weights themselves when unshared
    zero_code: int  # codebook index of the reserved 0 entry, -1 if none
    kept: int  # weights that survived pruning (all of them when unpruned)
    bias: np.ndarray | None
    bias_format: ValueFormat | None
    bits: LayerBits = field(init=False)

    def __post_init__(self):
        real = ~self.is_filler
        gaps = self.gaps
        bits = LayerBits(
            codebook=0 if self.codebook is None else self.codebook.size * self.value_format.bits,
            indices=self.symbols.bits_of(real),
            positions=0 if gaps is None else gaps.bits_of(real),
            fillers=self.symbols.bits_of(self.is_filler) + (0 if gaps is None else gaps.bits_of(self.is_filler)),
            huffman_tables=self.symbols.table_bits + (0 if gaps is None else gaps.table_bits),
            bias=0 if self.bias is None else self.bias.size * self.bias_format.bits,
        )
        object.__setattr__(self, "bits", bits)

    # -- derived figures -------------------------------------------------------------------------
    @property
    def weights(self) -> int:
        return int(np.prod(self.shape))

    @property
    def entries(self) -> int:
        return int(self.symbols.symbols.size)

    @property
    def fillers(self) -> int:
        return int(np.count_nonzero(self.is_filler))

    @property
    def clusters(self) -> int | None:
        return None if self.codebook is None else int(self.codebook.size)

    @property
    def index_bits(self) -> int | None:
        return None if self.codebook is None else self.symbols.width

    @property
    def position_bits(self) -> int | None:
        return None if self.gaps is None else self.gaps.width

    def positions(self) -> np.ndarray:
        """Flat row-major position of every stored entry."""
        if self.gaps is None:
            return np.arange(self.entries, dtype=np.int64)
        return decode_positions(self.gaps.symbols)

    def entry_values(self) -> np.ndarray:
        """Decoded weight value of every stored entry (float32)."""
        if self.codebook is None:
            return self.value_format.decode(self.symbols.symbols)
        return self.codebook[self.symbols.symbols.astype(np.int64)]

    def decode(self) -> np.ndarray:
        """The dense weight (float32), rebuilt from the streams alone."""
        flat = np.zeros(self.weights, dtype=np.float32)
        flat[self.positions()] = self.entry_values()
        return flat.reshape(self.shape)


def index_width(entries: int) -> int:
    """Bits to address a codebook of ``entries`` entries (0 for a single entry: it is implied)."""
    return int(np.ceil(np.log2(entries))) if entries > 1 else 0


def encode_layer(name: str, mask: np.ndarray, *, labels: np.ndarray | None, codebook: np.ndarray | None,
                 zero_code: int, weight: np.ndarray, value_format: ValueFormat, position_width: int | None,
                 huffman_indices: bool, huffman_positions: bool, bias: np.ndarray | None,
                 bias_format: ValueFormat | None) -> LayerStorage:
    """Lay out one layer's streams.

    ``mask``: kept weights. Shared layers give ``labels`` (codebook index of every weight, any value
    where pruned) and ``codebook`` (already in its format); unshared layers give ``weight``, stored in
    ``value_format``. Pruned weights and fillers use ``zero_code`` (shared) or the code of 0.0.
    """
    mask = np.asarray(mask, dtype=bool)
    flat_mask = mask.ravel()
    if position_width is None:
        stored = np.arange(flat_mask.size)
        is_filler = np.zeros(flat_mask.size, dtype=bool)
        gaps = None
    else:
        gap_values, is_filler = encode_positions(flat_mask, position_width)
        stored = decode_positions(gap_values)
        gaps = Stream.build(gap_values, position_width, huffman_positions)
    # Stored entries that are not kept weights (fillers, or pruned zeros in dense storage) hold a zero.
    holds_zero = ~flat_mask[stored]
    if codebook is not None:
        symbols = np.where(holds_zero, zero_code, labels.ravel()[stored]).astype(np.uint32)
        width = index_width(codebook.size)
    else:
        raw = value_format.encode(weight.ravel()[stored]).astype(np.uint32)
        symbols = np.where(holds_zero, value_format.encode(np.zeros(1))[0], raw).astype(np.uint32)
        width = value_format.bits
    return LayerStorage(
        name=name,
        shape=tuple(mask.shape),
        symbols=Stream.build(symbols, width, huffman_indices),
        gaps=gaps,
        is_filler=is_filler,
        codebook=None if codebook is None else np.asarray(codebook, dtype=np.float32),
        value_format=value_format,
        zero_code=zero_code,
        kept=int(np.count_nonzero(flat_mask)),
        bias=None if bias is None else np.asarray(bias, dtype=np.float32),
        bias_format=bias_format,
    )
