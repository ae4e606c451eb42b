"""Deep Compression's sparse position format: relative indices with filler zeros.

A layer's weight is flattened row-major as [output unit, fan-in] (for a convolution the fan-in is
in_channels/groups x kh x kw), so each output unit's weights are contiguous and a tile of output units
is a contiguous slice of the stream. Each stored entry carries its *gap*: the number of zeros skipped
since the previous stored entry (or since the start). A gap is ``width`` bits, so at most
M - 1 = 2^width - 1 zeros can be skipped at once; a longer run of z zeros is bridged by floor(z / M)
*filler* entries, each skipping M - 1 zeros and itself storing a zero weight, after which the real
entry's gap is z mod M. Zeros after the last stored entry cost nothing: the decoder knows the shape.
"""

from __future__ import annotations

import numpy as np


def encode_positions(mask: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaps of every stored entry and a boolean array marking the fillers, for a flat kept-mask."""
    if width < 1:
        raise ValueError("position width must be at least 1 bit")
    span = 1 << width
    positions = np.flatnonzero(np.asarray(mask).ravel())
    zeros_before = np.diff(positions, prepend=-1) - 1
    fillers = zeros_before // span
    per_real = fillers + 1
    owner = np.repeat(np.arange(positions.size), per_real)
    group_start = np.cumsum(per_real) - per_real
    is_real = (np.arange(owner.size) - group_start[owner]) == fillers[owner]
    gaps = np.where(is_real, (zeros_before % span)[owner], span - 1)
    return gaps.astype(np.uint32), ~is_real


def decode_positions(gaps: np.ndarray) -> np.ndarray:
    """Flat position of every stored entry."""
    return np.cumsum(np.asarray(gaps, dtype=np.int64) + 1) - 1
