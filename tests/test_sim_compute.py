"""MAC array and codebook decoder throughput: hand-computed layers, fold-by-fold reference for every
dataflow, properties; weight tiles and the mapper's choices and counts, by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_helpers import accel
from accelsim.sim.decoder import decoder_cycles
from accelsim.sim.dataflow import DATAFLOWS, dataflow
from accelsim.sim.mac_array import mac_array_cycles
from accelsim.sim.mapping import chunk_sizes, map_layer, search, tile_sizes
from accelsim.sim.weight_stream import WeightStream
from accelsim.workload import Layer


def _fold_by_fold(rows, cols, df, vectors, fan_in, out_units, groups, overlap=False):
    """Reference: list every fold in order and add up the loads, streams and drains of SCALE-Sim's
    table (rows x columns x streamed: WS fan-in x units x vectors, OS vectors x units x fan-in, IS fan-in x
    vectors x units); with ``overlap`` only the first fold's load is paid."""
    m = out_units // groups
    spatial_r, spatial_c, temporal = {"ws": (fan_in, m, vectors), "os": (vectors, m, fan_in),
                                      "is": (fan_in, vectors, m)}[df]
    folds = []
    for _ in range(groups):
        for c0 in range(0, spatial_c, cols):
            for r0 in range(0, spatial_r, rows):
                folds.append((min(rows, spatial_r - r0), min(cols, spatial_c - c0)))
    loads = folds[0][0] if overlap else sum(r for r, _ in folds)
    return sum(r + c + temporal - 2 for r, c in folds) + loads


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
        mac_array_cycles(16, 16, "row-stationary", 1, 1, 1)


def test_input_stationary_conv1_by_hand():
    # IS: fan-in 363 on the rows (23 folds), 3025 pixels on the columns (190 folds of 16, the last of 1),
    # the 96 filters streamed: each fold loads r inputs and streams 96 + r + c - 2
    r = mac_array_cycles(16, 16, "is", vectors=3025, fan_in=363, out_units=96)
    assert r.folds == 23 * 190
    per_col = lambda c: 22 * (16 + 96 + 16 + c - 2) + (11 + 96 + 11 + c - 2)  # noqa: E731
    assert r.cycles == 189 * per_col(16) + per_col(1)


def test_overlapped_preload_pays_only_the_first_load():
    # conv1 WS on 16x16: 138 folds, 6 * (22 * 16 + 11) = 2,178 load cycles of which only the first 16 remain
    plain = mac_array_cycles(16, 16, "ws", vectors=3025, fan_in=363, out_units=96)
    assert mac_array_cycles(16, 16, "ws", 3025, 363, 96, overlap=True).cycles == plain.cycles - 2_178 + 16
    # fc6 at batch 1 is no longer load bound: 576 x 256 folds of 16 + 16 + 1 - 2 = 31 cycles, plus 16
    assert mac_array_cycles(16, 16, "ws", 1, 9216, 4096, overlap=True).cycles == 576 * 256 * 31 + 16


def test_the_registry_is_what_the_config_accepts():
    assert list(DATAFLOWS) == ["weight-stationary", "output-stationary", "input-stationary"]
    assert [dataflow(d.short).name for d in DATAFLOWS.values()] == list(DATAFLOWS)
    ws, os_, is_ = DATAFLOWS.values()
    # per-operand SRAM reads of conv1 (3025 x 363 x 96) on 16 x 16: inputs once per column fold (WS, OS)
    # or once (IS); weights once per chunk (WS), per row fold of vectors (OS), per column fold (IS)
    assert ws.input_reads(3025, 363, 96, 1, 16, 16) == os_.input_reads(3025, 363, 96, 1, 16, 16) == 3025 * 363 * 6
    assert is_.input_reads(3025, 363, 96, 1, 16, 16) == 3025 * 363
    assert ws.weight_passes(3025, 16, 16) == 1 and os_.weight_passes(3025, 16, 16) == 190 == is_.weight_passes(3025, 16, 16)
    assert ws.output_departures(363, 16) == is_.output_departures(363, 16) == 23 and os_.output_departures(363, 16) == 1


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


shapes = st.tuples(st.integers(1, 20), st.integers(1, 20), st.sampled_from(["ws", "os", "is"]), st.integers(1, 50),
                   st.integers(1, 50), st.integers(1, 12), st.integers(1, 3))


@settings(max_examples=200, deadline=None)
@given(shapes)
def test_closed_form_equals_fold_by_fold_timeline(shape):
    rows, cols, df, vectors, fan_in, per_group, groups = shape
    out_units = per_group * groups
    got = mac_array_cycles(rows, cols, df, vectors, fan_in, out_units, groups)
    assert got.cycles == _fold_by_fold(rows, cols, df, vectors, fan_in, out_units, groups)
    assert got.cycles * rows * cols >= vectors * fan_in * out_units  # no more MACs than the array's slots
    assert mac_array_cycles(rows, cols, df, vectors, fan_in, out_units, groups, overlap=True).cycles == \
        _fold_by_fold(rows, cols, df, vectors, fan_in, out_units, groups, overlap=True)


@settings(max_examples=200, deadline=None)
@given(shapes, st.integers(0, 8), st.integers(0, 8))
def test_more_rows_or_columns_never_slow_a_layer(shape, more_rows, more_cols):
    rows, cols, df, vectors, fan_in, per_group, groups = shape
    out_units = per_group * groups
    small = mac_array_cycles(rows, cols, df, vectors, fan_in, out_units, groups)
    big = mac_array_cycles(rows + more_rows, cols + more_cols, df, vectors, fan_in, out_units, groups)
    assert big.cycles <= small.cycles


# --- weight tiles and the mapper (accelsim.sim.weight_stream, accelsim.sim.mapping) ------------------

def _fc_100_to_40():
    """An uncompressed fc layer, 100 -> 40, at 16-bit weights: each output unit 100 x 16 bits + a 32-bit
    bias = 1,632 bits (204 B), 8,160 B in all."""
    layer = Layer("fc", "fc", (100,), (40,))
    a = accel(rows=4, cols=16, dataflow="os")
    return layer, a, WeightStream.for_layer(layer, a.weight_bits)


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
    # Tile boundaries at 8,000 k bits: 3 inside group 0, 3 inside group 1, 2 inside group 2.
    assert wt.split_departures.tolist() == [3, 3, 2]
    whole = stream.whole(a.cols)
    assert whole.count == 1 and whole.split_departures.tolist() == [0, 0, 0]
    # A bigger buffer never makes more tiles; the array's shape never changes the cut.
    assert stream.weight_tiles(2_000, 16).count == 5 and stream.weight_tiles(1_000, 64).tile_bits.tolist() == \
        wt.tile_bits.tolist()


def test_column_groups_never_span_two_convolution_groups():
    # conv 8 -> 12 channels in 2 groups (6 units each) on 4 columns: groups of 4, 2 | 4, 2 units
    layer = Layer("c", "conv", (8, 4, 4), (12, 4, 4), (3, 3), 1, groups=2)
    stream = WeightStream.for_layer(layer, 8)
    assert stream.whole(4).group_units.tolist() == [4, 2, 4, 2]


def test_the_search_space_grows_with_the_buffer_and_never_moves():
    _, _, stream = _fc_100_to_40()
    small, big = tile_sizes(stream, 1_000), tile_sizes(stream, 4_000)
    assert set(small) <= set(big) and small.max() <= 1_000 < big.max() <= 4_000
    assert small.min() >= stream.total_bytes / 4096
    whole = small[small <= 64]
    assert whole.tolist() == list(range(int(whole[0]), 65))  # every byte up to 64 B
    octaves = np.log2(small[small > 64]) * 4
    assert np.allclose(octaves, np.round(octaves))  # then quarter octaves
    assert tile_sizes(stream, 10_000)[-1] == 8_160  # the whole stream when it fits
    assert chunk_sizes(10).tolist() == [10, 5, 3, 2, 1]


def test_output_stationary_layer_mapped_by_hand():
    """fc 100 -> 40 on a 4 x 16 output-stationary array, batch 2, 16-bit activations, 32-bit accumulator,
    activations on chip, weights streamed through a 1,000 B buffer."""
    layer, a, stream = _fc_100_to_40()
    m = map_layer(layer, stream, a, 2, pinned=False, stream_buffer_bytes=1_000, input_on_chip=True, output_on_chip=True)
    # One chunk of both vectors: the array over the whole layer is 1 row fold of the 2 vectors x 3 column
    # groups; each streams 100 + 2 + c - 2 cycles and drains 2 (no overlap in these tests' accelerator).
    assert m.chunks == 1 and m.chunk_vectors == 2
    assert sum(t.mac_cycles for t in m.tiles) == 2 * 118 + 110 == 346
    overlapped = map_layer(layer, stream, replace(a, overlap_stationary=True), 2, pinned=False, stream_buffer_bytes=1_000,
                           input_on_chip=True, output_on_chip=True)
    assert sum(t.mac_cycles for t in overlapped.tiles) == 2 * 116 + 108 + 2 == 342  # only the first drain
    # The weights are read once from DRAM and once from SRAM into the array (one row fold of vectors).
    ops = m.operands
    assert ops.dram_read["weights"] == ops.sram_write["weights"] == pytest.approx(8_160)
    assert ops.sram_read["weights"] == pytest.approx(8_160)
    # Inputs: once per column fold (2 x 100 x 3 x 2 B); outputs written once (2 x 40 x 2 B).
    assert ops.sram_read["inputs"] == 2 * 100 * 3 * 2 and ops.sram_write["outputs"] == 2 * 40 * 2
    # Each tile boundary inside a column group makes its outputs leave as partial sums: 16 x 3 + 16 x 3 +
    # 8 x 2 = 112 per vector at 4 B, written and read back, for the tile size the mapper chose.
    cut = stream.weight_tiles(m.weight_tile_bytes, a.cols)
    per_vector = float((cut.split_departures * cut.group_units).sum())
    assert ops.sram_write["psums"] == ops.sram_read["psums"] == 2 * per_vector * 4
    assert m.psum_spill_bytes == 0 and ops.dram_write["psums"] == 0


def test_partial_sums_that_do_not_fit_are_spilled_to_dram():
    """WS conv 1 -> 8 channels, 3x3, on a 2 x 8 array: fan-in 9 in 5 row folds, so each output leaves 5
    times, 4 of them as 32-bit partial sums, which a column fold holds for every vector of its chunk:
    8 units x 4 B = 32 B a vector. A 16 B output share cannot hold one vector's: all 4 x 64 x 8 x 4 B
    round trips go to DRAM. With 64 B two vectors' fit: chunks of at most two vectors, nothing spilled."""
    layer = Layer("c", "conv", (1, 10, 10), (8, 8, 8), (3, 3), 1)
    a = accel(rows=2, cols=8, dataflow="ws", sram_output_bytes=16, sram_input_bytes=1 << 20)
    stream = WeightStream.for_layer(layer, a.weight_bits)
    m = map_layer(layer, stream, a, 1, pinned=True, stream_buffer_bytes=0, input_on_chip=True, output_on_chip=False)
    assert m.psum_spill_bytes == 4 * 64 * 8 * 4 == m.operands.dram_write["psums"] == m.operands.dram_read["psums"]
    assert m.operands.sram_write["psums"] == 2 * 4 * 64 * 8 * 4  # staged on their way out and back in
    roomy = map_layer(layer, stream, accel(rows=2, cols=8, dataflow="ws", sram_output_bytes=64), 1, pinned=True,
                      stream_buffer_bytes=0, input_on_chip=True, output_on_chip=False)
    assert roomy.psum_spill_bytes == 0 and roomy.chunk_vectors <= 2
    assert roomy.dram_read_bytes + roomy.dram_write_bytes < m.dram_read_bytes + m.dram_write_bytes
    sr = search(layer, stream, accel(rows=2, cols=8, dataflow="ws", sram_output_bytes=64), 1, pinned=True,
                stream_buffer_bytes=0, input_on_chip=True, output_on_chip=False)
    assert sr.choice.chunk_vectors == roomy.chunk_vectors
