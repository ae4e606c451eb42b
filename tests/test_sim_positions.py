"""Sparse position-stream walker: a hand-built stream with a filler, and properties against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.compress.sparse import encode_positions
from accelsim.sim.positions import tile_bounds, walk_positions

# 3 x 5 matrix, 2-bit gaps (a gap holds at most 3 zeros):
#   row 0: [0 a 0 0 0]
#   row 1: [0 0 0 0 b]
#   row 2: [c d 0 0 0]
# a at position 1 (gap 1). 7 zeros before b (position 9): one filler with gap 3 standing on
# position 5, then b with gap 7 - 4 = 3. c, d at 10, 11 with gap 0.
MASK = np.zeros((3, 5), dtype=bool)
MASK[0, 1] = MASK[1, 4] = MASK[2, 0] = MASK[2, 1] = True
GAPS = np.array([1, 3, 3, 0, 0], dtype=np.uint8)
ZERO_CODE = 0
INDICES = np.array([2, ZERO_CODE, 1, 3, 2], dtype=np.uint8)


def test_hand_stream_is_what_the_encoder_writes():
    gaps, is_filler = encode_positions(MASK, 2)
    assert gaps.tolist() == GAPS.tolist()
    assert is_filler.tolist() == [False, True, False, False, False]


def test_hand_stream_two_tiles():
    c = walk_positions(GAPS, INDICES, ZERO_CODE, out_units=3, fan_in=5, tile_bounds_rows=[0, 1, 3])
    assert c.stored_entries.tolist() == [1, 4]
    assert c.filler_entries.tolist() == [0, 1]  # the filler stands in row 1
    assert c.nonzero_weights.tolist() == [1, 3]
    assert c.decoder_lookups.tolist() == [1, 4]
    assert c.sparse_macs.tolist() == [1, 3]
    assert c.dense_macs.tolist() == [5, 10]
    assert c.max_row_nonzeros.tolist() == [1, 2]


def test_hand_stream_one_tile_per_row_and_whole_layer():
    rows = walk_positions(GAPS, INDICES, ZERO_CODE, 3, 5, tile_bounds(3, 1))
    assert rows.stored_entries.tolist() == [1, 2, 2]
    assert rows.filler_entries.tolist() == [0, 1, 0]
    whole = walk_positions(GAPS, INDICES, ZERO_CODE, 3, 5)
    assert (whole.stored_entries.tolist(), whole.nonzero_weights.tolist(), whole.dense_macs.tolist()) == ([5], [4], [15])


def test_without_a_zero_code_nothing_is_a_filler():
    c = walk_positions(GAPS, INDICES, -1, 3, 5)
    assert c.filler_entries.tolist() == [0] and c.nonzero_weights.tolist() == [5]


def test_dense_storage_counts_pruned_zeros_as_lookups_not_macs():
    indices = np.where(MASK.ravel(), 5, ZERO_CODE).astype(np.uint8)
    c = walk_positions(None, indices, ZERO_CODE, 3, 5, [0, 2, 3])
    assert c.stored_entries.tolist() == [10, 5]
    assert c.nonzero_weights.tolist() == [2, 2]


def test_empty_tiles_and_empty_stream():
    c = walk_positions(np.zeros(0, np.uint8), np.zeros(0, np.uint8), 0, 4, 3, [0, 2, 4])
    assert c.stored_entries.tolist() == [0, 0] and c.max_row_nonzeros.tolist() == [0, 0]
    # all weights in the last row: the first tiles stay empty
    c = walk_positions(np.array([9], np.uint8), np.array([1], np.uint8), 0, 4, 3, [0, 1, 2, 4])
    assert c.stored_entries.tolist() == [0, 0, 1]


def test_bad_streams_are_refused():
    with pytest.raises(ValueError, match="runs past"):
        walk_positions(np.array([15], np.uint8), np.array([1], np.uint8), 0, 3, 5)
    with pytest.raises(ValueError, match="tile_bounds"):
        walk_positions(GAPS, INDICES, 0, 3, 5, [0, 2])
    with pytest.raises(ValueError, match="as long as"):
        walk_positions(GAPS[:3], INDICES, 0, 3, 5)
    with pytest.raises(ValueError, match="dense storage"):
        walk_positions(None, INDICES, 0, 3, 5)


def _loop_encode(flat_mask, bits):
    """Reference encoder written as the rule reads, one zero at a time."""
    limit = 2**bits - 1
    gaps, fillers = [], []
    zeros = 0
    for nonzero in flat_mask:
        if nonzero:
            gaps.append(zeros)
            fillers.append(False)
            zeros = 0
        elif zeros == limit:  # this zero cannot be skipped: store it as a filler
            gaps.append(zeros)
            fillers.append(True)
            zeros = 0
        else:
            zeros += 1
    # a trailing zero run needs no entries; drop fillers after the last non-zero
    while fillers and fillers[-1]:
        gaps.pop()
        fillers.pop()
    return np.array(gaps, dtype=np.int64), np.array(fillers, dtype=bool)


@st.composite
def sparse_layers(draw):
    out_units = draw(st.integers(1, 12))
    fan_in = draw(st.integers(1, 40))
    density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.4, 1.0]))
    seed = draw(st.integers(0, 2**31))
    bits = draw(st.integers(1, 5))
    cuts = draw(st.lists(st.integers(1, max(1, out_units - 1)), max_size=4))
    mask = np.random.default_rng(seed).random((out_units, fan_in)) < density
    bounds = sorted({0, out_units, *[c for c in cuts if c < out_units]})
    return mask, bits, np.array(bounds, dtype=np.int64)


@settings(max_examples=120, deadline=None)
@given(sparse_layers())
def test_encoder_and_walker_agree_with_numpy_reference(layer):
    mask, bits, bounds = layer
    out_units, fan_in = mask.shape
    gaps, is_filler = encode_positions(mask, bits)
    ref_gaps, ref_fillers = _loop_encode(mask.ravel(), bits)
    assert gaps.tolist() == ref_gaps.tolist() and is_filler.tolist() == ref_fillers.tolist()
    assert gaps.size == 0 or gaps.max() <= 2**bits - 1

    positions = np.cumsum(gaps.astype(np.int64) + 1) - 1
    assert np.array_equal(positions[~is_filler], np.flatnonzero(mask))
    assert not mask.ravel()[positions[is_filler]].any()  # fillers stand on zeros

    zero_code = 3
    indices = np.where(is_filler, zero_code, 1).astype(np.uint16)
    got = walk_positions(gaps, indices, zero_code, out_units, fan_in, bounds)

    tiles = bounds.size - 1
    tile_of = np.searchsorted(bounds, positions // fan_in, side="right") - 1
    assert got.stored_entries.tolist() == np.bincount(tile_of, minlength=tiles).tolist()
    assert got.filler_entries.tolist() == np.bincount(tile_of[is_filler], minlength=tiles).tolist()
    row_nnz = mask.sum(axis=1)
    assert got.nonzero_weights.tolist() == np.add.reduceat(row_nnz, bounds[:-1]).tolist()
    assert got.max_row_nonzeros.tolist() == np.maximum.reduceat(row_nnz, bounds[:-1]).tolist()
    assert got.dense_macs.sum() == mask.size
    assert got.sparse_macs.sum() == mask.sum() <= got.dense_macs.sum()
