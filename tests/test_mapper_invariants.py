"""The mapper's invariants (issue 13), as properties over the small CNN's workloads and random accelerators:

* the objective never rises when any memory level grows (the SRAM shares, the accumulator buffers; in the
  0.1% steps candidates are ranked in): true by construction, since a larger level only makes more candidates feasible and never raises a candidate's
  counts (`accelsim.sim.mapping`);
* energy is never below that of the compulsory accesses (every MAC executed, weights and activations
  that live in DRAM moved once, every output written to SRAM once);
* latency is never below the roofline (MACs at the array's peak rate, DRAM bytes at its peak bandwidth).
"""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from test_engine_invariants import PLANS, PROPERTY, accelerators, grown, growth, planned, run, workload
from accelsim.sim.mapping import OBJECTIVES, objective_rank, search
from accelsim.sim.weight_stream import WeightStream

objectives = st.sampled_from(OBJECTIVES)


@PROPERTY
@given(plan=st.sampled_from(PLANS), a=accelerators, objective=objectives, proposals=st.integers(1, 24),
       more_w=growth, more_in=growth, more_out=growth, more_acc=st.integers(0, 512))
def test_the_objective_never_rises_when_any_level_grows(plan, a, objective, proposals, more_w, more_in, more_out,
                                                        more_acc):
    a = replace(a, mapper_objective=objective)
    small = planned(plan, a, proposals).objective
    big = planned(plan, grown(a, more_w, more_in, more_out, more_acc), proposals).objective
    assert objective_rank(big) <= objective_rank(small)  # candidates rank in 0.1% steps


@PROPERTY
@given(plan=st.sampled_from(PLANS), a=accelerators, objective=objectives, batch=st.integers(1, 8),
       pinned=st.booleans(), input_on_chip=st.booleans(), output_on_chip=st.booleans(),
       buffer=st.integers(600, 40_000), more=st.integers(0, 40_000), more_in=growth, more_out=growth,
       more_acc=st.integers(0, 512))
def test_a_layers_choice_never_worsens_when_a_buffer_grows(plan, a, objective, batch, pinned, input_on_chip,
                                                           output_on_chip, buffer, more, more_in, more_out, more_acc):
    """One layer's search, each of its buffers grown: the chosen candidate's objective never rises."""
    a = replace(a, mapper_objective=objective)
    for layer in workload(plan):
        if layer.kind not in ("conv", "fc"):
            continue
        stream = WeightStream.for_layer(layer, a.weight_bits)
        kw = dict(pinned=pinned, input_on_chip=input_on_chip, output_on_chip=output_on_chip)
        try:
            small = search(layer, stream, a, batch, stream_buffer_bytes=buffer, **kw).choice
        except Exception:  # noqa: BLE001 - a buffer too small for this layer: nothing to compare
            continue
        big = search(layer, stream, grown(a, 0, more_in, more_out, more_acc), batch, stream_buffer_bytes=buffer + more,
                     **kw).choice
        value = {"energy": lambda c: c.energy_pj, "latency": lambda c: c.cycles,
                 "edp": lambda c: c.energy_pj * c.cycles}[objective]
        assert objective_rank(value(big)) <= objective_rank(value(small)), (layer.name, small, big)


@PROPERTY
@given(plan=st.sampled_from(PLANS), a=accelerators, objective=objectives, proposals=st.integers(1, 24))
def test_energy_is_never_below_the_compulsory_accesses(plan, a, objective, proposals):
    a = replace(a, mapper_objective=objective)
    fp = planned(plan, a, proposals)
    r = run(plan, a, proposals)
    e, width = a.energies, a.sram.bank_width_bytes
    compulsory = 0.0
    for m in (m for ms in fp.mappings for m in ms):
        layer, b = m.layer, a.act_bytes
        moved_in = 0 if m.input_on_chip else m.batch * layer.input_elements * b
        moved_out = 0 if m.output_on_chip else m.batch * layer.output_elements * b
        weights = 0 if m.pinned or layer.kind not in ("conv", "fc") else m.operands.dram_read["weights"] / max(1, m.weight_reads)
        compulsory += m.macs_executed * e.mac_pj
        compulsory += 8 * ((moved_in + weights) * a.dram_energy.read_pj_per_bit + moved_out * a.dram_energy.write_pj_per_bit)
        compulsory += math.floor(m.batch * layer.output_elements * b / width) * e.sram_write_pj
    assert r.figures.energy_per_frame_uj * 1e6 >= compulsory * (1 - 1e-9)


@PROPERTY
@given(plan=st.sampled_from(PLANS), a=accelerators, objective=objectives, proposals=st.integers(1, 24))
def test_latency_is_never_below_the_roofline(plan, a, objective, proposals):
    r = run(plan, replace(a, mapper_objective=objective), proposals)
    bw = a.dram_bytes_per_cycle
    for row in r.layers.itertuples():
        bound = max(row.macs_executed / (a.rows * a.cols), (row.dram_read_bytes + row.dram_write_bytes) / bw)
        assert row.cycles >= bound * (1 - 1e-9), row.layer
    assert r.figures.latency_per_frame_ms >= r.figures.roofline_bound_ms * (1 - 1e-9)
