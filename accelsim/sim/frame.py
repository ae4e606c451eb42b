"""One frame of the detector: proposals in batches, weights resident or streamed, cold and steady.

The classifier runs on every proposal of a frame, ``proposals_batch`` proposals per weight pass, so
a frame is ``ceil(proposals / batch)`` passes through all layers. The planner decides which layers'
weights stay resident in the weight share of the SRAM:

* candidates are prefixes of the layers sorted by compressed size (smallest first) that fit, each
  leaving room to double-buffer a weight tile of every layer not pinned (its codebook and a weight);
* the planner picks the candidate that is best under the mapper's objective (``mapper.objective``:
  energy, latency or their product), summed over the frame's layers as the mapper estimates them
  (`mapping.search`); of equals, the one with fewer DRAM bytes, then more pinned. Planner and mapper
  share one objective, so neither undoes the other's choice.

A bigger SRAM only adds candidates (more prefixes fit, and each layer's search space only grows,
`mapping`), so the objective never rises with SRAM size. DRAM traffic and latency are not the objective
and are not monotone by construction (`validation/sram_sweep.py` measures them).

The *cold* first frame also loads the pinned weights once; the *steady* frame is every later one.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from accelsim.errors import ConfigError
from accelsim.results.records import FrameFigures, LayerRow
from accelsim.results.schema import table
from accelsim.sim.accelerator import Accelerator
from accelsim.sim.engine import DramPort, LayerTiming, simulate_layer
from accelsim.sim.mapping import (OPERANDS, Choice, LayerMapping, map_layer, mapping_of, no_weights_choice,
                                  objective_rank, objective_value, search)
from accelsim.sim.weight_stream import WeightStream
from accelsim.workload import Layer


@dataclass(frozen=True)
class FramePlan:
    pinned: frozenset[str]
    stream_buffer_bytes: float
    batches: tuple[int, ...]
    mappings: tuple[tuple[LayerMapping, ...], ...]  # per pass, per layer
    objective: float = 0.0  # the planner's estimate of its objective over the steady frame (`mapping`)

    @property
    def steady_dram_bytes(self) -> float:
        return sum(m.dram_read_bytes + m.dram_write_bytes for ms in self.mappings for m in ms)


def _keepable(layers: list[Layer], accel: Accelerator, batch: int) -> list[bool]:
    """Whether each layer's output may stay on chip for the next layer: it fits both activation shares
    (the two buffers swap roles from layer to layer). The crops arrive from DRAM and the scores leave for it."""
    share = min(accel.sram_input_bytes, accel.sram_output_bytes)
    return [i < len(layers) - 1 and batch * l.output_elements * accel.act_bytes <= share for i, l in enumerate(layers)]


def plan_frame(layers: list[Layer], streams: dict[str, WeightStream], accel: Accelerator, proposals: int,
               density: dict[str, float]) -> FramePlan:
    batch = max(1, min(accel.proposals_batch, proposals))
    batches = tuple([batch] * (proposals // batch) + ([proposals % batch] if proposals % batch else []))
    weighted = sorted((c.total_bytes, name) for name, c in streams.items())
    # Passes of equal batch size map identically: each distinct size is planned and mapped once.
    passes = Counter(batches)
    keepable = {nb: _keepable(layers, accel, nb) for nb in passes}
    evaluated: dict[tuple, object] = {}

    def evaluate(nb: int, i: int, pinned: frozenset[str], buffer: float, inp: bool, out: bool):
        """Layer i's mapper search (or the estimate of a layer without weights) for these flags; shared by
        every candidate that agrees on what the layer sees."""
        l = layers[i]
        if l.name not in streams:
            key = (nb, i, inp, out)
            if key not in evaluated:
                evaluated[key] = no_weights_choice(l, accel, nb, inp, out)
            return evaluated[key]
        key = (nb, i, l.name in pinned, None if l.name in pinned else buffer, inp, out)
        if key not in evaluated:
            evaluated[key] = search(l, streams[l.name], accel, nb, pinned=l.name in pinned, stream_buffer_bytes=buffer,
                                    input_on_chip=inp, output_on_chip=out, activation_density=density.get(l.name, 1.0))
        return evaluated[key]

    def value(choice) -> float:
        return objective_value(choice.energy_pj, choice.cycles, accel.mapper_objective)

    def best_flags(nb: int, pinned: frozenset[str], buffer: float) -> tuple[tuple[float, float], list[tuple[bool, bool]]]:
        """Which activations stay on chip, by dynamic programming along the layers: the state is whether
        the next layer's input is on chip; each layer's cost is its mapping's objective. Keeping an
        activation is an option, never forced, so a larger share only adds options. Returns ((objective,
        DRAM bytes), flags per layer)."""
        states = {False: ((0.0, 0.0), [])}
        refused: ConfigError | None = None
        for i in range(len(layers)):
            nxt: dict[bool, tuple] = {}
            for inp, ((acc, dram), path) in states.items():
                for out in (False, True) if keepable[nb][i] else (False,):
                    try:
                        c = evaluate(nb, i, pinned, buffer, inp, out)
                    except ConfigError as exc:  # e.g. no room for outputs beside an activation kept on chip
                        refused = refused or exc
                        continue
                    choice = c if isinstance(c, Choice) else c.choice
                    cand = ((acc + value(choice), dram + choice.dram_bytes), path + [(inp, out)])
                    if out not in nxt or cand[0] < nxt[out][0]:
                        nxt[out] = cand
            states = nxt
            if not states:
                raise refused
        return min(states.values(), key=lambda s: s[0])

    def cost(pinned: frozenset[str], buffer: float) -> tuple[tuple[float, float], dict]:
        plans = {nb: best_flags(nb, pinned, buffer) for nb in passes}
        total = tuple(sum(passes[nb] * plans[nb][0][k] for nb in passes) for k in (0, 1))
        return total, {nb: plans[nb][1] for nb in passes}

    feasible = []
    first_error: ConfigError | None = None
    for k in range(len(weighted) + 1):
        pinned = frozenset(name for _, name in weighted[:k])
        free = accel.sram_weight_bytes - sum(size for size, _ in weighted[:k])
        if free < 0:
            break  # prefixes only grow
        buffer = free / 2
        try:  # a candidate whose streaming buffer cannot hold the smallest weight tile is not feasible
            total, flags = cost(pinned, buffer)
            feasible.append((total, pinned, buffer, flags))
        except ConfigError as exc:
            first_error = first_error or exc
    if not feasible:
        raise first_error

    (objective, _), pinned, buffer, flags = min(feasible, key=lambda c: (float(objective_rank(c[0][0])), c[0][1],
                                                                         c[0][0], -len(c[1])))
    by_size = {}
    for nb in passes:
        by_size[nb] = tuple(
            mapping_of(evaluate(nb, i, pinned, buffer, *flags[nb][i]), accel) if l.name in streams else
            map_layer(l, None, accel, nb, pinned=False, stream_buffer_bytes=buffer, input_on_chip=flags[nb][i][0],
                      output_on_chip=flags[nb][i][1])
            for i, l in enumerate(layers))
    return FramePlan(pinned, buffer, batches, tuple(by_size[nb] for nb in batches), objective)


@dataclass(frozen=True)
class FrameResult:
    rows: tuple[LayerRow, ...]  # one per layer, summed over the frame's passes (steady state)
    figures: FrameFigures

    @property
    def layers(self) -> pd.DataFrame:
        return table(self.rows, LayerRow.columns())


_STREAMS: dict[tuple[int, int], tuple[Layer, WeightStream]] = {}


def _stream(layer: Layer, weight_bits: int) -> WeightStream:
    """The layer's weight stream, kept (with the mapper's memo of its cuts and cycles) for the next design
    point of a sweep over the same layers. Keyed by the layer object, which the entry holds so that its
    id is not reused while cached."""
    key = (id(layer), weight_bits)
    if key not in _STREAMS or _STREAMS[key][0] is not layer:
        if len(_STREAMS) >= 512:
            _STREAMS.pop(next(iter(_STREAMS)))
        _STREAMS[key] = (layer, WeightStream.for_layer(layer, weight_bits))
    return _STREAMS[key][1]


def simulate_frame(layers: list[Layer], accel: Accelerator, proposals: int,
                   activation_density: dict[str, float] | None = None) -> FrameResult:
    """Simulate the detector's classifier on ``proposals`` proposals per frame."""
    if proposals < 1:
        raise ValueError("proposals per frame must be at least 1")
    density = activation_density or {}
    streams = {l.name: _stream(l, accel.weight_bits) for l in layers if l.kind in ("conv", "fc")}
    plan = plan_frame(layers, streams, accel, proposals, density)

    port = DramPort(accel)
    # Cold start: pinned weights are loaded once, before the first pass.
    pinned_bytes = sum(streams[n].total_bytes for n in plan.pinned)
    cold = port.transfer(pinned_bytes, False, "weights") if pinned_bytes else None
    # The steady-state frame starts its weight stream afresh (the pinned ones stay on chip).
    port.fetched_burst.pop("weights", None)

    sums: dict[str, _LayerSums] = {}
    for pass_mappings in plan.mappings:
        for mapping in pass_mappings:
            _accumulate(sums, mapping, simulate_layer(mapping, accel, port), accel, streams)
    rows = tuple(s.row(accel, density.get(name, 1.0)) for name, s in sums.items())
    return FrameResult(rows, _figures(rows, plan, streams, accel, proposals, cold, layers))


_ENERGY = ("energy_dram_pj", "energy_sram_pj", "energy_accumulator_pj", "energy_decoder_pj", "energy_mac_pj",
           "energy_leakage_pj")
# What limits a layer: the largest of these, named as `LayerRow.bound` says.
_LIMITS = {"mac_cycles": "compute", "decoder_cycles": "decoder", "dram_cycles": "dram", "conflict_cycles": "sram-banks"}


@dataclass
class _LayerSums:
    """A layer's counts summed over the passes of a frame, and what its first pass decided."""

    first: LayerMapping
    compressed_weight_bytes: int
    counts: dict

    def row(self, accel: Accelerator, density: float) -> LayerRow:
        c, m = self.counts, self.first
        limits = [c[k] for k in _LIMITS]
        time_s = c["cycles"] / accel.clock_hz
        return LayerRow(
            layer=m.layer.name, kind=m.layer.kind, input_activation_density=density,
            compressed_weight_bytes=self.compressed_weight_bytes, pinned=m.pinned, loop_order=m.order,
            weight_tiles=m.weight_tiles, weight_tile_bytes=m.weight_tile_bytes, weight_reads=m.weight_reads,
            activation_chunks=m.chunks, chunk_vectors=m.chunk_vectors, input_mode=m.input_mode, rows_used=m.rows_used,
            stall_cycles=c["cycles"] - c["mac_cycles"],
            stall_share=(c["cycles"] - c["mac_cycles"]) / c["cycles"] if c["cycles"] else 0.0,
            latency_us=c["cycles"] * accel.cycle_ns / 1000,
            bound=list(_LIMITS.values())[limits.index(max(limits))],
            energy_total_pj=sum(c[k] for k in _ENERGY),
            mac_utilisation_pct=100 * c["macs_executed"] / (c["cycles"] * accel.peak_macs_per_cycle) if c["cycles"] else 0.0,
            dram_bandwidth_avg_gbps=(c["dram_read_bytes"] + c["dram_write_bytes"]) / time_s / 1e9 if time_s else 0.0,
            dram_bandwidth_peak_gbps=c.pop("peak_dram_bytes_per_cycle") * accel.clock_hz / 1e9,
            **c,
        )


def _accumulate(sums: dict[str, _LayerSums], m: LayerMapping, t: LayerTiming, accel: Accelerator, streams: dict) -> None:
    e = accel.energies
    width = accel.sram.bank_width_bytes
    time_ns = t.cycles * accel.cycle_ns
    ops = m.operands
    sram_pj = {op: math.ceil(ops.sram_read[op] / width) * e.sram_read_pj
               + math.ceil(ops.sram_write[op] / width) * e.sram_write_pj for op in OPERANDS}
    acc_pj = {op: (ops.accumulator_read[op] * e.accumulator_read_pj + ops.accumulator_write[op] * e.accumulator_write_pj)
              / accel.accumulator_bytes for op in OPERANDS}
    moved = t.dram.read_bytes + t.dram.write_bytes
    # DRAM read/write energy is shared among operands by the bytes each moved (bursts round it up alike)
    dram_rw_pj = {op: t.dram.energy_rw_pj * (ops.dram_read[op] + ops.dram_write[op]) / (m.dram_read_bytes + m.dram_write_bytes)
                  if moved else 0.0 for op in OPERANDS}
    dram_pj = t.dram.energy_rw_pj + t.dram.energy_act_pre_pj + accel.dram_energy.background_mw * time_ns
    values = {
        "macs": m.layer.macs * m.batch,
        "macs_executed": m.macs_executed,
        "cycles": t.cycles,
        "mac_cycles": t.mac_cycles,
        "decoder_cycles": t.decoder_cycles,
        "conflict_cycles": t.conflict_cycles,
        "dram_cycles": t.dram_cycles,
        "dram_read_bytes": t.dram.read_bytes,
        "dram_write_bytes": t.dram.write_bytes,
        "dram_row_hits": t.dram.row_hits,
        "dram_row_misses": t.dram.row_misses,
        "sram_read_bytes": m.sram_read_bytes,
        "sram_write_bytes": m.sram_write_bytes,
        "accumulator_read_bytes": sum(ops.accumulator_read.values()),
        "accumulator_write_bytes": sum(ops.accumulator_write.values()),
        "decoder_lookups": m.decoder_lookups,
        "events": t.events,
        "energy_dram_pj": dram_pj,
        "energy_sram_pj": sum(sram_pj.values()),
        "energy_accumulator_pj": sum(acc_pj.values()),
        "energy_decoder_pj": m.decoder_lookups * e.decoder_lookup_pj,
        "energy_mac_pj": m.macs_executed * e.mac_pj,
        "energy_leakage_pj": (e.sram_leakage_mw + e.other_leakage_mw) * time_ns,
        "psum_spill_bytes": m.psum_spill_bytes,
    }
    for op in OPERANDS:
        values[f"{op}_sram_read_bytes"] = ops.sram_read[op]
        values[f"{op}_sram_write_bytes"] = ops.sram_write[op]
        values[f"{op}_dram_read_bytes"] = ops.dram_read[op]
        values[f"{op}_dram_write_bytes"] = ops.dram_write[op]
        values[f"energy_{op}_pj"] = sram_pj[op] + acc_pj[op] + dram_rw_pj[op]
    s = sums.get(m.layer.name)
    if s is None:
        weight_bytes = streams[m.layer.name].total_bytes if m.layer.name in streams else 0
        sums[m.layer.name] = s = _LayerSums(m, weight_bytes, dict.fromkeys(values, 0) | {"peak_dram_bytes_per_cycle": 0.0})
    for k, v in values.items():
        s.counts[k] += v
    s.counts["peak_dram_bytes_per_cycle"] = max(s.counts["peak_dram_bytes_per_cycle"], t.peak_dram_bytes_per_cycle)


def _figures(rows: tuple[LayerRow, ...], plan: FramePlan, streams, accel: Accelerator, proposals: int, cold,
             layers) -> FrameFigures:
    cycles = float(sum(r.cycles for r in rows))
    dram_bytes = float(sum(r.dram_read_bytes for r in rows) + sum(r.dram_write_bytes for r in rows))
    compute_bound_cycles = float(sum(r.macs_executed for r in rows)) / accel.peak_macs_per_cycle
    dram_bound_cycles = dram_bytes / accel.dram_bytes_per_cycle
    energy_pj = float(sum(r.energy_total_pj for r in rows))
    latency_ns = cycles * accel.cycle_ns
    cold_bytes = float(cold.read_bytes) if cold else 0.0
    cold_ns = float(cold.time_ns) if cold else 0.0
    cold_pj = (cold.energy_rw_pj + cold.energy_act_pre_pj + accel.dram_energy.background_mw * cold_ns) if cold else 0.0
    order = [l.name for l in layers]
    return FrameFigures(
        proposals_per_frame=proposals,
        proposals_batch=plan.batches[0],
        weight_passes_per_frame=len(plan.batches),
        weights_resident=len(plan.pinned) == len(streams),
        pinned_layers=tuple(sorted(plan.pinned, key=order.index)),
        compressed_weight_bytes=sum(c.total_bytes for c in streams.values()),
        sram_bytes=accel.sram_weight_bytes + accel.sram_input_bytes + accel.sram_output_bytes,
        sram_weight_bytes=accel.sram_weight_bytes,
        energy_per_frame_uj=energy_pj / 1e6,
        latency_per_frame_ms=latency_ns / 1e6,
        frames_per_s=1e9 / latency_ns if cycles else float("inf"),
        dram_bytes_per_frame=dram_bytes,
        dram_weight_bytes_per_frame=sum(m.weight_dram_bytes for ms in plan.mappings for m in ms),
        roofline_bound_ms=max(compute_bound_cycles, dram_bound_cycles) * accel.cycle_ns / 1e6,
        **{k: float(sum(getattr(r, k) for r in rows)) for k in _ENERGY},
        # background + refresh power over the frame (mW x ns = pJ), part of energy_dram_pj
        dram_background_pj=accel.dram_energy.background_mw * latency_ns,
        area_mm2=accel.area_mm2,
        sram_access_time_ns=_known(accel.sram_access_time_ns),
        sram_cycle_time_ns=_known(accel.sram_cycle_time_ns),
        sram_max_clock_mhz=_known(accel.sram_max_clock_hz / 1e6),
        sram_access_cycles=accel.sram.access_cycles,
        cold_frame_energy_uj=(energy_pj + cold_pj) / 1e6,
        cold_frame_latency_ms=(latency_ns + cold_ns) / 1e6,
        cold_frame_dram_bytes=dram_bytes + cold_bytes,
        cold_frame_extra_energy_uj=cold_pj / 1e6,
        cold_frame_extra_latency_ms=cold_ns / 1e6,
        cold_frame_extra_dram_read_bytes=cold_bytes,
    )


def _known(value: float) -> float | None:
    """None for a figure the tables do not give (NaN inside the engine)."""
    return None if math.isnan(value) else float(value)
