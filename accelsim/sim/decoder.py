"""Codebook decoders: n-bit indices to weights through lookup tables.

``decoders`` tables work in parallel, each answering ``lookups_per_cycle`` lookups per cycle, so N
lookups take ``ceil(N / (decoders * lookups_per_cycle))`` cycles. Every stored entry is looked up,
fillers included (`StreamProfile.unit_entries`). Whether the decoders or the MAC array bound a tile
is the engine's comparison of the two cycle counts; energy is lookups x the table's per-lookup energy.
"""

from __future__ import annotations

import numpy as np


def decoder_cycles(lookups: int | np.ndarray, decoders: int, lookups_per_cycle: int) -> int | np.ndarray:
    """Cycles to decode ``lookups`` entries (an int, or an int array such as per-tile counts)."""
    if decoders <= 0 or lookups_per_cycle <= 0:
        raise ValueError(f"decoders and lookups_per_cycle must be > 0, got {decoders} and {lookups_per_cycle}")
    rate = decoders * lookups_per_cycle
    if isinstance(lookups, np.ndarray):
        if lookups.size and lookups.min() < 0:
            raise ValueError("lookups must be >= 0")
        return -(-lookups.astype(np.int64) // rate)
    if lookups < 0:
        raise ValueError(f"lookups must be >= 0, got {lookups}")
    return -(-int(lookups) // rate)
