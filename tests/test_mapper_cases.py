"""The mapper on the cases issue 13 measured: grouped convolutions, the stationary preload overlap,
input-stationary from a config, the objective, and latency with a larger SRAM."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine_helpers import accel
from accelsim.config import load_hwconfig
from accelsim.pipeline.accelerator import accelerator_from_config
from accelsim.sim.mac_array import mac_array_cycles
from accelsim.sim.mapping import map_layer, mapping_of, objective_rank, search
from accelsim.sim.weight_stream import WeightStream
from accelsim.workload import Layer

# deepped-small's conv4: 192 -> 192 channels, 3x3 on a 3x3 map, 2 groups (fan-in 96 x 9 = 864 per group)
CONV4 = Layer("conv4", "conv", (192, 3, 3), (192, 3, 3), (3, 3), 1, groups=2, padding=(1, 1))


def test_grouped_convolution_is_mapped_group_by_group():
    """On a 1 x 64 output-stationary array (eie-like) the 9 pixels x 96 units of each group take
    2 column folds: 36 folds and 32,832 cycles, not the 27 folds of an ungrouped 192-unit layer."""
    assert mac_array_cycles(1, 64, "os", 9, 864, 192, groups=2).cycles == 32_832
    a = accel(rows=1, cols=64, dataflow="os")
    m = map_layer(CONV4, WeightStream.for_layer(CONV4, a.weight_bits), a, 1, pinned=True, stream_buffer_bytes=0,
                  input_on_chip=True, output_on_chip=True)
    assert m.chunks == 1 and sum(t.mac_cycles for t in m.tiles) == 32_832
    # weight tiles' column groups stop at the group boundary: 64 + 32 units per group
    assert WeightStream.for_layer(CONV4, 8).whole(64).group_units.tolist() == [64, 32, 64, 32]


def test_the_stationary_preload_overlap_is_a_config_choice():
    """fc6 (9216 -> 4096) at batch 1 on 16 x 16 weight-stationary is bound by loading weights into the array:
    the overlap hides all loads but the first."""
    fc6 = Layer("fc6", "fc", (9216,), (4096,))
    cycles = {}
    for overlap in (False, True):
        a = accel(rows=16, cols=16, overlap_stationary=overlap, sram_output_bytes=1 << 20)
        m = map_layer(fc6, WeightStream.for_layer(fc6, a.weight_bits), a, 1, pinned=True, stream_buffer_bytes=0,
                      input_on_chip=True, output_on_chip=True)
        cycles[overlap] = sum(t.mac_cycles for t in m.tiles)
    assert cycles[False] == mac_array_cycles(16, 16, "ws", 1, 9216, 4096).cycles == 576 * 256 * 47
    assert cycles[True] == 576 * 256 * 31 + 16
    cfg = load_hwconfig("embedded-45nm")
    assert cfg.mac_array.overlap_stationary is True  # what real arrays do (Jouppi et al. 2017)
    off = cfg.model_copy(update={"mac_array": cfg.mac_array.model_copy(update={"overlap_stationary": False})})
    assert accelerator_from_config(off)[0].overlap_stationary is False


def test_input_stationary_runs_from_a_config():
    cfg = load_hwconfig("embedded-45nm")
    cfg = cfg.model_copy(update={"mac_array": cfg.mac_array.model_copy(update={"dataflow": "input-stationary"})})
    a = accelerator_from_config(cfg)[0]
    assert a.dataflow.short == "is"
    layer = Layer("c", "conv", (16, 10, 10), (32, 8, 8), (3, 3), 1)
    m = map_layer(layer, WeightStream.for_layer(layer, a.weight_bits), a, 2, pinned=True, stream_buffer_bytes=0,
                  input_on_chip=True, output_on_chip=True)
    # each im2col input element is loaded into the array once: 2 x 64 vectors x 144 fan-in, 8-bit
    assert m.operands.sram_read["inputs"] == 2 * 64 * 144
    # the 32 filters stream past each of the ceil(128 / 16) = 8 column folds of vectors
    assert m.operands.sram_read["weights"] == pytest.approx(8 * WeightStream.for_layer(layer, 8).total_bytes)


def test_the_objective_is_what_the_search_minimises():
    layer = Layer("c", "conv", (8, 18, 18), (16, 16, 16), (3, 3), 1)
    base = accel(sram_input_bytes=2_048, sram_output_bytes=2_048)
    stream = WeightStream.for_layer(layer, base.weight_bits)
    found = {}
    for objective in ("energy", "latency", "edp"):
        sr = search(layer, stream, replace(base, mapper_objective=objective), 4, pinned=False,
                    stream_buffer_bytes=1_000, input_on_chip=False, output_on_chip=False)
        c = sr.cands
        ok = c.feasible
        found[objective] = sr.choice
        value = {"energy": c.energy, "latency": c.cycles, "edp": c.energy * c.cycles}[objective]
        assert objective_rank(value[sr.best]) == objective_rank(value[ok].min())  # ranked in 0.1% steps
    assert found["latency"].cycles <= found["energy"].cycles
    assert found["energy"].energy_pj <= found["latency"].energy_pj


def test_a_larger_sram_does_not_slow_the_frame():
    """The issue's case: deepped-alexnet, one proposal, the embedded config scaled to 6 and 8 MiB
    (3.096 ms and 3.169 ms before). The weight tile is the mapper's choice, so a bigger buffer never forces
    a bigger first load."""
    from accelsim.pipeline.compression import CompressionRequest, compress_stage
    from accelsim.sim.frame import simulate_frame
    from accelsim.workload import build_workload

    c = compress_stage(CompressionRequest.of("deepped-alexnet", "deep-compression-alexnet"))
    layers = build_workload(c.network, c.entry.input_shape, c.storage)
    base = accelerator_from_config(load_hwconfig("embedded-45nm"))[0]
    total = base.sram_weight_bytes + base.sram_input_bytes + base.sram_output_bytes
    seen = []
    for mib in (6, 8):
        f = mib * 2**20 / total
        a = replace(base, sram_weight_bytes=int(base.sram_weight_bytes * f), sram_input_bytes=int(base.sram_input_bytes * f),
                    sram_output_bytes=int(base.sram_output_bytes * f))
        seen.append(simulate_frame(layers, a, 1).figures)
    assert seen[1].latency_per_frame_ms <= seen[0].latency_per_frame_ms
    assert seen[1].dram_bytes_per_frame <= seen[0].dram_bytes_per_frame


def test_memoised_work_never_leaks_between_accelerators():
    """Regression: the array's cycles were memoised per weight stream under a key that left out the
    proposals per pass, on which an fc layer's bank conflicts depend; a run after another accelerator's
    then reused that accelerator's conflicts. A run must not depend on what ran before it."""
    import accelsim.sim.frame as frame
    from engine_helpers import workload
    from accelsim.sim.sram import SramGeometry

    layers = list(workload("dense"))
    a = accel(dataflow="os", sram=SramGeometry(banks=2, bank_width_bytes=2, ports=1), proposals_batch=4)
    b = replace(a, proposals_batch=10)
    # 4 proposals: both run passes of 4 vectors, but the conflicts model b's batches of 10
    frame._STREAMS.clear()
    fresh = frame.simulate_frame(layers, b, 4)
    frame._STREAMS.clear()
    frame.simulate_frame(layers, a, 4)
    after = frame.simulate_frame(layers, b, 4)
    assert fresh.figures == after.figures
    assert fresh.layers.equals(after.layers)


def _pinned(layer, a, batch):
    return search(layer, WeightStream.for_layer(layer, a.weight_bits), a, batch, pinned=True, stream_buffer_bytes=0,
                  input_on_chip=True, output_on_chip=True)


def test_partial_sums_stay_in_the_accumulator_buffers_when_a_column_can_hold_them():
    """An fc layer of fan-in 64 on 16 rows leaves the array 4 times per output: 3 round trips of 32 outputs at
    4 bytes (32-bit accumulators) = 384 B each way. One entry per column holds batch 1's sum: the round trips
    leave the SRAM (48 reads and 48 writes of 8 B) for the buffers (96 reads and 96 writes of one entry)."""
    fc = Layer("fc", "fc", (64,), (32,))
    none, one = accel(), accel(accumulator_entries=1)
    assert none.accumulator_entries == 0
    without, with_acc = _pinned(fc, none, 1), _pinned(fc, one, 1)
    m0, m1 = mapping_of(without, none), mapping_of(with_acc, one)
    assert m0.operands.sram_read["psums"] == m0.operands.sram_write["psums"] == 384
    assert m0.operands.accumulator_read["psums"] == 0
    assert m1.operands.sram_read["psums"] == m1.operands.sram_write["psums"] == 0
    assert m1.operands.accumulator_read["psums"] == m1.operands.accumulator_write["psums"] == 384
    saved = 48 * (25.87 + 19.65) - 96 * (1.1 + 1.7)
    assert without.choice.energy_pj - with_acc.choice.energy_pj == pytest.approx(saved, rel=1e-9)
    # two proposals need two entries per column: one entry keeps nothing
    assert mapping_of(_pinned(fc, one, 2), one).operands.accumulator_read["psums"] == 0


def test_the_mapper_cuts_activation_chunks_to_fit_the_accumulator_buffers():
    """A conv layer of 64 output pixels and fan-in 16 x 3 x 3 = 144 (9 row folds, 8 round trips): a chunk of n
    pixels needs n entries per column. With 16 or 32 entries the energy objective chooses chunks that fit,
    re-reading the weights per chunk, and every partial sum stays in the buffers (64 pixels x 16 units x 8 round
    trips x 4 B). With 8 entries, chunks of 8 would read the weights 8 times and pay each fold's fill and drain 8
    times, more than the SRAM round trips cost: it is a choice, not a rule."""
    conv = Layer("c", "conv", (16, 10, 10), (16, 8, 8), (3, 3), 1)
    through_sram = 64 * 16 * 8 * 4
    for entries in (16, 32):
        a = accel(accumulator_entries=entries)
        m = mapping_of(_pinned(conv, a, 1), a)
        assert m.chunk_vectors == entries
        assert m.operands.sram_read["psums"] == 0
        assert m.operands.accumulator_read["psums"] == through_sram
    for entries in (0, 8):
        a = accel(accumulator_entries=entries)
        m = mapping_of(_pinned(conv, a, 1), a)
        assert m.chunk_vectors == 64 and m.operands.sram_read["psums"] == through_sram
        assert m.operands.accumulator_read["psums"] == 0
