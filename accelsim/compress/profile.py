"""A compressed layer's stream profile: everything the accelerator model needs from its storage.

The accelerator reads a layer's weights output unit by output unit: the weight matrix is
``[out_units, fan_in]`` flattened row-major (see `sparse`), so the entries of one output unit are a
contiguous piece of the stream. The profile reduces the real streams to plain numbers per output unit
(stored bits, stored entries, non-zero weights) plus what travels once with the layer (codebook and
Huffman tables), so that the simulator never reads the storage itself and a workload that carries
profiles instead of streams pickles small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.compress.storage import LayerStorage, Stream


@dataclass(frozen=True, eq=False)
class StreamProfile:
    """Per output unit (a row of the weight matrix) in stream order, and for the whole layer.

    Arrays are int64 of length ``units`` and read-only: one profile serves every design point of a
    sweep."""

    unit_bits: np.ndarray  # bits stored for the unit: its entries' symbols and gaps (fillers too) and its bias
    unit_entries: np.ndarray  # entries stored for the unit, fillers included: each is one decoder lookup
    unit_nonzeros: np.ndarray  # of those, entries that do not hold the zero code: the weights to multiply
    fixed_bits: int  # codebook and Huffman tables, which travel with the first tile
    codebook_entries: int  # 0 when weights are stored as values and need no decoder

    def __post_init__(self) -> None:
        for array in (self.unit_bits, self.unit_entries, self.unit_nonzeros):
            array.flags.writeable = False

    @property
    def units(self) -> int:
        return int(self.unit_bits.size)

    @property
    def shared(self) -> bool:
        """Weights are codebook indices: every stored entry is a decoder lookup."""
        return self.codebook_entries > 0

    @property
    def total_bits(self) -> int:
        """Everything stored for the layer: the units' bits and the fixed bits."""
        return int(self.unit_bits.sum()) + self.fixed_bits

    @property
    def entries(self) -> int:
        return int(self.unit_entries.sum())

    @property
    def nonzeros(self) -> int:
        return int(self.unit_nonzeros.sum())


def stream_profile(st: LayerStorage) -> StreamProfile:
    """The profile of ``st``, counted on its real streams."""
    units = st.shape[0]
    fan_in = st.weights // units
    positions = st.positions()
    # Positions rise along the stream, so each unit's entries lie between two of these indices.
    first = np.searchsorted(positions, fan_in * np.arange(units + 1, dtype=np.int64))
    if first[-1] != positions.size:
        raise ValueError(f"layer {st.name}: its position stream runs past its {units}x{fan_in} weight matrix")
    entries = np.diff(first)
    zero = _zero_symbol(st)
    zeros = 0 if zero < 0 else np.diff(np.searchsorted(np.flatnonzero(st.symbols.symbols == zero), first))
    unit_bits = _unit_bits(st.symbols, first) + (0 if st.gaps is None else _unit_bits(st.gaps, first))
    if st.bias is not None:
        unit_bits = unit_bits + st.bias_format.bits
    return StreamProfile(
        unit_bits=unit_bits,
        unit_entries=entries,
        unit_nonzeros=entries - zeros,
        fixed_bits=st.bits.codebook + st.bits.huffman_tables,
        codebook_entries=0 if st.codebook is None else int(st.codebook.size),
    )


def _unit_bits(stream: Stream, first: np.ndarray) -> np.ndarray:
    """Bits of each unit's symbols in ``stream``, whose entries ``first[u]:first[u + 1]`` are unit u's."""
    if stream.huffman_lengths is None:
        return np.diff(first) * stream.width
    cumulative = np.concatenate([[0], np.cumsum(stream.huffman_lengths[stream.symbols], dtype=np.int64)])
    return np.diff(cumulative[first])


def _zero_symbol(st: LayerStorage) -> int:
    """The symbol of an entry that decodes to 0 (-1: none, a codebook without a zero entry)."""
    if st.codebook is not None:
        return st.zero_code
    return int(st.value_format.encode(np.zeros(1))[0])
