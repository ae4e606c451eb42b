"""Walking a layer's sparse position stream: what each tile of output units reads, decodes and computes.

The stored format (Deep Compression's relative index; the compress package owns it): a layer's
weights form a dense matrix ``[out_units, fan_in]`` (``fan_in = in_ch / groups * kh * kw`` for a
convolution), flattened row-major. The stream holds one entry per stored weight, in position order:

* ``gaps[i]``: zeros skipped before entry i, so ``position[i] = sum(gaps[:i+1] + 1) - 1``;
* ``indices[i]``: its codebook index. Entries with ``index == zero_code`` decode to exactly 0: the
  *fillers* a ``b``-bit gap needs when a zero run is longer than ``2**b - 1`` (or, in dense storage,
  the pruned weights). ``zero_code = -1``: the layer has no zero entry, so nothing is a filler.

Dense storage (no gaps, every weight stored) is ``gaps=None``. Weights stored without a codebook
can be walked by passing ``indices = (values == 0)`` and ``zero_code = 1``; such a layer performs no
decoder lookups, which the caller accounts for.

A tile is a contiguous range of output rows, given as boundaries ``[0, r1, ..., out_units]``.
Per tile the walker counts (all per input vector; a convolution multiplies MACs by its output pixels):

* ``stored_entries``: entries read from the stream (fillers included);
* ``filler_entries``: entries that decode to 0;
* ``nonzero_weights = stored_entries - filler_entries``;
* ``decoder_lookups = stored_entries``: the decoder sees every entry, fillers too;
* ``dense_macs = rows * fan_in`` and ``sparse_macs = nonzero_weights``: the MACs of hardware that
  multiplies every weight versus hardware that skips pruned ones (fillers are skipped: they are 0);
* ``max_row_nonzeros``: the busiest output row, which bounds a tile on hardware that gives each
  output row its own lane (load imbalance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np


@dataclass(frozen=True)
class TileCounts:
    """Per-tile counts, each an int64 array of length ``tiles``."""

    tile_bounds_rows: np.ndarray  # [tiles + 1]
    stored_entries: np.ndarray
    filler_entries: np.ndarray
    max_row_nonzeros: np.ndarray
    fan_in: int

    @property
    def tiles(self) -> int:
        return self.stored_entries.shape[0]

    @property
    def nonzero_weights(self) -> np.ndarray:
        return self.stored_entries - self.filler_entries

    @property
    def decoder_lookups(self) -> np.ndarray:
        return self.stored_entries

    @property
    def sparse_macs(self) -> np.ndarray:
        return self.nonzero_weights

    @property
    def dense_macs(self) -> np.ndarray:
        return np.diff(self.tile_bounds_rows) * self.fan_in


@numba.njit(cache=True)
def walk_positions_kernel(gaps, indices, dense, zero_code, fan_in, tile_bounds_rows):
    """Returns (stored[tiles], fillers[tiles], max_row_nonzeros[tiles], bad_entry); bad_entry is the
    first entry whose position falls outside the matrix, or -1."""
    tiles = tile_bounds_rows.shape[0] - 1
    stored = np.zeros(tiles, dtype=np.int64)
    fillers = np.zeros(tiles, dtype=np.int64)
    max_row = np.zeros(tiles, dtype=np.int64)
    total = np.int64(tile_bounds_rows[tiles]) * fan_in
    row = np.int64(0)
    row_end = np.int64(fan_in)
    tile = 0
    tile_end_row = np.int64(tile_bounds_rows[1])
    # counters of the current row and tile live in registers; flushed when the walk leaves them
    row_nonzeros = np.int64(0)
    tile_stored = np.int64(0)
    tile_fillers = np.int64(0)
    pos = np.int64(-1)
    for i in range(indices.shape[0]):
        if dense:
            pos = np.int64(i)
        else:
            pos += np.int64(gaps[i]) + 1
        if pos >= row_end:
            if pos >= total:  # row_end never passes total, so the check only runs on row changes
                stored[tile] += tile_stored
                fillers[tile] += tile_fillers
                return stored, fillers, max_row, i
            # Rows are walked one by one (not pos // fan_in) so tiles advance without a search;
            # long gaps skip at most out_units rows over the whole stream.
            while pos >= row_end:
                if row_nonzeros > max_row[tile]:
                    max_row[tile] = row_nonzeros
                row_nonzeros = 0
                row += 1
                row_end += fan_in
                if row >= tile_end_row:
                    stored[tile] += tile_stored
                    fillers[tile] += tile_fillers
                    tile_stored = 0
                    tile_fillers = 0
                    while row >= tile_end_row:
                        tile += 1
                        tile_end_row = np.int64(tile_bounds_rows[tile + 1])
        is_zero = np.int64(np.int64(indices[i]) == zero_code)
        tile_stored += 1
        tile_fillers += is_zero
        row_nonzeros += 1 - is_zero
    if tiles > 0:
        stored[tile] += tile_stored
        fillers[tile] += tile_fillers
        if row_nonzeros > max_row[tile]:
            max_row[tile] = row_nonzeros
    return stored, fillers, max_row, -1


def tile_bounds(out_units: int, tile_rows: int) -> np.ndarray:
    """Boundaries of tiles of ``tile_rows`` output rows (the last one may be shorter)."""
    if out_units <= 0 or tile_rows <= 0:
        raise ValueError(f"out_units and tile_rows must be > 0, got {out_units} and {tile_rows}")
    return np.append(np.arange(0, out_units, tile_rows, dtype=np.int64), np.int64(out_units))


def walk_positions(gaps: np.ndarray | None, indices: np.ndarray, zero_code: int, out_units: int, fan_in: int,
                   tile_bounds_rows: np.ndarray | None = None) -> TileCounts:
    """Per-tile counts of a layer's stream (see the module docstring); one tile if no bounds given."""
    if out_units <= 0 or fan_in <= 0:
        raise ValueError(f"out_units and fan_in must be > 0, got {out_units} and {fan_in}")
    bounds = np.array([0, out_units], dtype=np.int64) if tile_bounds_rows is None else np.asarray(tile_bounds_rows, dtype=np.int64)
    if bounds.ndim != 1 or bounds.size < 2 or bounds[0] != 0 or bounds[-1] != out_units or np.any(np.diff(bounds) <= 0):
        raise ValueError(f"tile_bounds_rows must rise strictly from 0 to out_units={out_units}")
    indices = np.asarray(indices)
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer) and indices.dtype != np.bool_:
        raise ValueError("indices must be a 1-D integer array")
    if indices.dtype == np.bool_:
        indices = indices.view(np.uint8)
    dense = gaps is None
    if dense:
        if indices.size != out_units * fan_in:
            raise ValueError(f"dense storage needs {out_units * fan_in} entries, got {indices.size}")
        gaps_arr = np.zeros(0, dtype=np.uint8)
    else:
        gaps_arr = np.asarray(gaps)
        if gaps_arr.shape != indices.shape or not np.issubdtype(gaps_arr.dtype, np.integer):
            raise ValueError("gaps must be an integer array as long as indices")
        if gaps_arr.size and np.issubdtype(gaps_arr.dtype, np.signedinteger) and gaps_arr.min() < 0:
            raise ValueError("gaps must be >= 0")
    stored, fillers, max_row, bad = walk_positions_kernel(gaps_arr, indices, dense, np.int64(zero_code), np.int64(fan_in), bounds)
    if bad >= 0:
        raise ValueError(f"position stream runs past the {out_units}x{fan_in} weight matrix at entry {bad}")
    return TileCounts(tile_bounds_rows=bounds, stored_entries=stored, filler_entries=fillers,
                      max_row_nonzeros=max_row, fan_in=int(fan_in))

