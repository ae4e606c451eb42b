"""MAC array and codebook decoder throughput: hand-computed layers, fold-by-fold reference, properties;
weight tiles, column passes and partial sums of the mapping, by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_helpers import accel
from accelsim.sim.decoder import decoder_cycles
from accelsim.sim.mac_array import mac_array_cycles, mac_array_cycles_by_rows
from accelsim.sim.mapping import WeightStream, column_passes, map_layer, output_departures, partial_sum_bytes
from accelsim.workload import Layer


def _fold_by_fold(rows, cols, dataflow, vectors, fan_in, out_units, groups):
    """Reference: list every fold in order and add up the loads, streams and drains the module docstring
    describes."""
    spatial, temporal = (fan_in, vectors) if dataflow == "ws" else (vectors, fan_in)
    m = out_units // groups
    folds = []
    for _ in range(groups):
        for c0 in range(0, m, cols):
            for r0 in range(0, spatial, rows):
                folds.append((min(rows, spatial - r0), min(cols, m - c0)))
    return sum(r + c + temporal - 2 for r, c in folds) + sum(r for r, _ in folds)


def test_conv1_on_16x16_weight_stationary_by_hand():
    # conv1: 96 filters, fan-in 3*11*11 = 363, 55*55 = 3025 output pixels
    r = mac_array_cycles(16, 16, "ws", vectors=3025, fan_in=363, out_units=96)
    assert r.folds == 23 * 6 == 138
    # 22 row folds of 16 and one of 11, per column block of 16; each fold loads r weight rows and
    # streams 3025 + r + 16 - 2 cycles: 6 * (22 * (16 + 3055) + (11 + 3050)) = 423,738
    # (SCALE-Sim's whole-array skew would give 138 * (2*16 + 16 + 3025 - 2) = 423,798)
    assert r.cycles == 6 * (22 * (16 + 3055) + (11 + 3050)) == 423_738


def test_conv1_output_stationary_by_hand():
    r = mac_array_cycles(16, 16, "os", vectors=3025, fan_in=363, out_units=96)
    # 3025 = 189 * 16 + 1: 190 row folds; each streams 363 + r + 14 and drains r
    assert r.folds == 190 * 6
    assert r.cycles == 6 * (189 * (16 + 363 + 30) + (1 + 363 + 15)) == 466_080


def test_grouped_conv2():
    # conv2: 256 filters in 2 groups, fan-in 48*5*5 = 1200 per group, 27*27 pixels; no partial folds
    r = mac_array_cycles(16, 16, "ws", vectors=729, fan_in=1200, out_units=256, groups=2)
    assert r.folds == 2 * 75 * 8
    assert r.cycles == 1200 * (2 * 16 + 16 + 729 - 2) == 930_000


def test_fc6_batch_of_one_is_load_bound_on_weight_stationary():
    r = mac_array_cycles(16, 16, "ws", vectors=1, fan_in=9216, out_units=4096)
    assert r.cycles == 576 * 256 * (16 + 16 + 16 - 1)  # 16 load cycles of 47 a fold


def test_partial_folds_use_only_their_rows():
    # rows 4, cols 1, fan-in 5 (folds of 4 and 1 rows), 2 output units, one vector: loads 4, 1, 4, 1
    # and streams 4 + 1 + 1 - 2 = 4, 1 + 1 + 1 - 2 = 1, 4, 1.
    assert mac_array_cycles(4, 1, "ws", 1, 5, 2).cycles == 20


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="rows"):
        mac_array_cycles(0, 16, "ws", 1, 1, 1)
    with pytest.raises(ValueError, match="groups"):
        mac_array_cycles(16, 16, "ws", 1, 1, 3, groups=2)
    with pytest.raises(ValueError, match="dataflow"):
        mac_array_cycles(16, 16, "is", 1, 1, 1)


def test_decoder_cycles():
    assert decoder_cycles(1000, decoders=2, lookups_per_cycle=1) == 500
    assert decoder_cycles(1001, decoders=2, lookups_per_cycle=2) == 251
    assert decoder_cycles(0, 4, 4) == 0
    assert decoder_cycles(np.array([0, 1, 8, 9]), 2, 4).tolist() == [0, 1, 1, 2]
    with pytest.raises(ValueError):
        decoder_cycles(10, 0, 1)


def test_a_tile_bounded_by_decoder_lookups():
    # fc7-like tile on 16x16 OS with a batch of 16: 16 * 4096 * 4096 MACs; 9% of weights kept
    # (1,509,950 lookups) through one decoder at 1 lookup/cycle exceeds the array's cycles
    mac = mac_array_cycles(16, 16, "os", vectors=16, fan_in=4096, out_units=4096)
    lookups = 1_509_950
    assert mac.cycles == 256 * (16 + 4096 + 30)
    assert decoder_cycles(lookups, 1, 1) > mac.cycles
    assert decoder_cycles(lookups, 2, 1) < mac.cycles


shapes = st.tuples(st.integers(1, 20), st.integers(1, 20), st.sampled_from(["ws", "os"]), st.integers(1, 50),
                   st.integers(1, 50), st.integers(1, 12), st.integers(1, 3))


@settings(max_examples=200, deadline=None)
@given(shapes)
def test_closed_form_equals_fold_by_fold_timeline(shape):
    rows, cols, df, vectors, fan_in, per_group, groups = shape
    out_units = per_group * groups
    got = mac_array_cycles(rows, cols, df, vectors, fan_in, out_units, groups)
    assert got.cycles == _fold_by_fold(rows, cols, df, vectors, fan_in, out_units, groups)
    assert got.cycles * rows * cols >= vectors * fan_in * out_units  # no more MACs than the array's slots
    by_rows = mac_array_cycles_by_rows(np.array([rows, rows + 1]), cols, df, vectors, fan_in, out_units, groups)
    assert by_rows.tolist() == [got.cycles, mac_array_cycles(rows + 1, cols, df, vectors, fan_in, out_units, groups).cycles]


@settings(max_examples=200, deadline=None)
@given(shapes, st.integers(0, 8), st.integers(0, 8))
def test_more_rows_or_columns_never_slow_a_layer(shape, more_rows, more_cols):
    rows, cols, df, vectors, fan_in, per_group, groups = shape
    out_units = per_group * groups
    small = mac_array_cycles(rows, cols, df, vectors, fan_in, out_units, groups)
    big = mac_array_cycles(rows + more_rows, cols + more_cols, df, vectors, fan_in, out_units, groups)
    assert big.cycles <= small.cycles


# --- weight tiles, column passes and partial sums (accelsim.sim.mapping) ---------------------------

def _fc_100_to_40():
    """An uncompressed fc layer, 100 -> 40, at 16-bit weights: each output unit 100 x 16 bits + a 32-bit
    bias = 1,632 bits (204 B), 8,160 B in all."""
    layer = Layer("fc", "fc", (100,), (40,))
    a = accel(rows=4, cols=16, dataflow="os")
    return layer, a, WeightStream.for_layer(layer, a)


def test_weight_tiles_cut_the_stream_in_the_arrays_order_by_hand():
    layer, a, stream = _fc_100_to_40()
    p = stream.profile  # uncompressed: 100 weights, all multiplied, no codebook
    assert (p.unit_bits.tolist(), p.unit_entries.tolist(), p.unit_nonzeros.tolist(), p.fixed_bits, p.shared) == \
        ([1_632] * 40, [100] * 40, [100] * 40, 0, False)
    assert stream.total_bytes == 8_160
    wt = stream.weight_tiles(1_000, a.cols)
    # 8 tiles of 1,000 B and one of 160 B, wherever they fall in the 40 units.
    assert wt.count == 9 and wt.tile_bits.tolist() == [8_000.0] * 8 + [1_280.0]
    start, end = wt.cum_share
    assert start[0] == 0 and end[-1] == 1 and end[0] == pytest.approx(8_000 / 65_280)
    # Column groups of the 16-column array: 16, 16 and 8 units, ending at bits 26,112, 52,224 and 65,280.
    assert wt.group_units.tolist() == [16, 16, 8] and wt.group_ends.tolist() == [26_112, 52_224, 65_280]
    assert column_passes(40, 16) == 3
    # Tile boundaries at 8,000 k bits: 3 inside group 0, 3 inside group 1, 2 inside group 2. Output-
    # stationary outputs leave once per piece of their group; weight-stationary ones once per row fold.
    assert wt.split_departures.tolist() == [3, 3, 2]
    assert output_departures(wt, "os", 100, 4).tolist() == [4, 4, 3]
    assert output_departures(wt, "ws", 100, 16).tolist() == [7, 7, 7]  # ceil(100 / 16)
    whole = stream.whole(a.cols)
    assert whole.count == 1 and whole.split_departures.tolist() == [0, 0, 0]
    # A bigger buffer never makes more tiles; the array's shape never changes the cut.
    assert stream.weight_tiles(2_000, 16).count == 5 and stream.weight_tiles(1_000, 64).tile_bits.tolist() == \
        wt.tile_bits.tolist()


def test_partial_sums_are_stored_at_the_accumulator_width_by_hand():
    # 2 vectors, groups of 16, 16 and 8 units leaving 4, 4 and 3 times: (16 x 3 + 16 x 3 + 8 x 2) = 112
    # partial sums per vector at 3 bytes, written and read back; the 40 outputs written once at 1 byte.
    writes, reads = partial_sum_bytes(2, [16, 16, 8], [4, 4, 3], act_bytes=1, acc_bytes=3)
    assert reads == 2 * 112 * 3 == 672
    assert writes == 672 + 2 * 40 * 1 == 752
    assert partial_sum_bytes(5, [8], [1], 2, 4) == (5 * 8 * 2, 0)  # complete in one departure: no partial sums


def test_output_stationary_layer_cut_into_tiles_by_hand():
    """fc 100 -> 40 on a 4 x 16 output-stationary array, batch 2, 16-bit activations, 32-bit accumulator,
    activations on chip, weights streamed through a 1,000 B buffer (9 tiles, as above)."""
    layer, a, stream = _fc_100_to_40()
    m = map_layer(layer, stream, a, 2, pinned=False, stream_buffer_bytes=1_000, input_on_chip=True, output_on_chip=True)
    assert m.weight_tiles == 9
    # The array over the whole layer: 1 row fold of the 2 vectors x 3 column groups; each streams
    # 100 + 2 + c - 2 cycles and drains 2: 2 x (100 + 16 + 2) + (100 + 8 + 2). The tiles add up to it.
    assert sum(t.mac_cycles for t in m.tiles) == 2 * 118 + 110 == 346
    # SRAM reads: the inputs once per column pass (2 x 100 x 3 x 2 B), the partial sums of 11 tile
    # boundaries' worth of departures (112 per vector, as above) at 4 B, the weights once (one row fold).
    # Writes: those partial sums, the 2 x 40 outputs at 2 B, the weights arriving from DRAM.
    assert m.sram_read_bytes == 2 * 100 * 3 * 2 + 2 * 112 * 4 + 8_160 == 10_256
    assert m.sram_write_bytes == 2 * 112 * 4 + 2 * 40 * 2 + 8_160 == 9_216
