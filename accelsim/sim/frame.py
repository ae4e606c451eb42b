"""One frame of the detector: proposals in batches, weights resident or streamed, cold and steady.

The classifier runs on every proposal of a frame, ``proposals_batch`` proposals per weight pass, so
a frame is ``ceil(proposals / batch)`` passes through all layers. The planner decides which layers'
weights stay resident in the weight share of the SRAM:

* candidates are prefixes of the layers sorted by compressed size (smallest first) that fit, each
  leaving room to double-buffer a weight tile of every layer not pinned (its codebook and a weight);
* the planner picks the candidate with the fewest DRAM bytes per steady-state frame; of equals, the
  one with the lowest estimated latency (`estimated_cycles`), then the one with more pinned. A bigger
  SRAM only adds candidates and makes each cheaper, so DRAM traffic per frame never rises with SRAM
  size; when every layer fits, all are pinned and steady-state weight traffic is 0.

Latency is the tie-break and not the objective because no rule that trades DRAM bytes for latency
keeps that invariant: with a larger SRAM a faster candidate with more DRAM bytes can overtake the one
chosen at the smaller SRAM, and the frame's DRAM traffic rises. Pinning costs little latency because
a small streaming buffer does not idle the array's columns (a weight tile is any piece of the stream in
the array's order, `mapping.WeightTiles`).

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
from accelsim.sim.mapping import LayerMapping, WeightStream, map_layer, plan_traffic
from accelsim.workload import Layer


@dataclass(frozen=True)
class FramePlan:
    pinned: frozenset[str]
    stream_buffer_bytes: float
    batches: tuple[int, ...]
    mappings: tuple[tuple[LayerMapping, ...], ...]  # per pass, per layer

    @property
    def steady_dram_bytes(self) -> float:
        return sum(m.dram_read_bytes + m.dram_write_bytes for ms in self.mappings for m in ms)


def _on_chip(layers: list[Layer], accel: Accelerator, batch: int) -> list[tuple[bool, bool]]:
    """(input on chip, output on chip) per layer. The crops arrive from DRAM and the scores leave for it."""
    b = accel.act_bytes
    share = min(accel.sram_input_bytes, accel.sram_output_bytes)
    kept = [batch * l.output_elements * b <= share for l in layers]
    flags = []
    for i, _ in enumerate(layers):
        inp = kept[i - 1] if i > 0 else False
        out = kept[i] if i < len(layers) - 1 else False
        flags.append((inp, out))
    return flags


def plan_frame(layers: list[Layer], streams: dict[str, WeightStream], accel: Accelerator, proposals: int,
               density: dict[str, float]) -> FramePlan:
    batch = max(1, min(accel.proposals_batch, proposals))
    batches = tuple([batch] * (proposals // batch) + ([proposals % batch] if proposals % batch else []))
    flags = {nb: _on_chip(layers, accel, nb) for nb in set(batches)}
    weighted = sorted((c.total_bytes, name) for name, c in streams.items())

    # Passes of equal batch size map identically: each distinct size is planned and mapped once.
    passes = Counter(batches)

    def steady_bytes(pinned: frozenset[str], buffer: float) -> float:
        total = 0.0
        for nb, count in passes.items():
            for i, l in enumerate(layers):
                if l.name in streams:
                    total += count * plan_traffic(l, streams[l.name], accel, nb, pinned=l.name in pinned,
                                                  stream_buffer_bytes=buffer, input_on_chip=flags[nb][i][0],
                                                  output_on_chip=flags[nb][i][1]).dram_bytes
        return total

    feasible: list[tuple[float, frozenset[str], float]] = []
    first_error: ConfigError | None = None
    for k in range(len(weighted) + 1):
        pinned = frozenset(name for _, name in weighted[:k])
        free = accel.sram_weight_bytes - sum(size for size, _ in weighted[:k])
        if free < 0:
            break  # prefixes only grow
        buffer = free / 2
        try:  # a candidate whose streaming buffer cannot hold the smallest weight tile is not feasible
            feasible.append((steady_bytes(pinned, buffer), pinned, buffer))
        except ConfigError as exc:
            first_error = first_error or exc
    if not feasible:
        raise first_error

    def mapped(pinned: frozenset[str], buffer: float) -> tuple[tuple[LayerMapping, ...], ...]:
        by_size = {
            nb: tuple(map_layer(l, streams.get(l.name), accel, nb, pinned=l.name in pinned, stream_buffer_bytes=buffer,
                                input_on_chip=flags[nb][i][0], output_on_chip=flags[nb][i][1],
                                activation_density=density.get(l.name, 1.0))
                      for i, l in enumerate(layers))
            for nb in passes}
        return tuple(by_size[nb] for nb in batches)

    fewest = min(c[0] for c in feasible)
    tied = [FramePlan(pinned, buffer, batches, mapped(pinned, buffer)) for b, pinned, buffer in feasible if b == fewest]
    return min(tied, key=lambda p: (estimated_cycles(p, accel), -len(p.pinned)))


def estimated_cycles(plan: FramePlan, accel: Accelerator) -> float:
    """A frame's cycles without the SimPy run: each tile takes the longer of its compute and its DRAM
    transfers at peak bandwidth (double buffering overlaps the two)."""
    bw = accel.dram_bytes_per_cycle
    return sum(max(t.compute_cycles, (t.dram_read_bytes + t.dram_write_bytes) / bw)
               for ms in plan.mappings for m in ms for t in m.tiles)


@dataclass(frozen=True)
class FrameResult:
    rows: tuple[LayerRow, ...]  # one per layer, summed over the frame's passes (steady state)
    figures: FrameFigures

    @property
    def layers(self) -> pd.DataFrame:
        return table(self.rows, LayerRow.columns())


def simulate_frame(layers: list[Layer], accel: Accelerator, proposals: int,
                   activation_density: dict[str, float] | None = None) -> FrameResult:
    """Simulate the detector's classifier on ``proposals`` proposals per frame."""
    if proposals < 1:
        raise ValueError("proposals per frame must be at least 1")
    density = activation_density or {}
    streams = {l.name: WeightStream.for_layer(l, accel) for l in layers if l.kind in ("conv", "fc")}
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


_ENERGY = ("energy_dram_pj", "energy_sram_pj", "energy_decoder_pj", "energy_mac_pj", "energy_leakage_pj")
# What limits a layer: the largest of these, named as `LayerRow.bound` says.
_LIMITS = {"mac_cycles": "compute", "decoder_cycles": "decoder", "dram_cycles": "dram", "conflict_cycles": "sram-banks"}


@dataclass
class _LayerSums:
    """A layer's counts summed over the passes of a frame, and what its first pass decided."""

    layer: Layer
    compressed_weight_bytes: int
    pinned: bool
    loop_order: str
    weight_tiles: int
    input_tiles: int
    counts: dict

    def row(self, accel: Accelerator, density: float) -> LayerRow:
        c = self.counts
        limits = [c[k] for k in _LIMITS]
        return LayerRow(
            layer=self.layer.name, kind=self.layer.kind, input_activation_density=density,
            compressed_weight_bytes=self.compressed_weight_bytes, pinned=self.pinned, loop_order=self.loop_order,
            weight_tiles=self.weight_tiles, input_tiles=self.input_tiles,
            stall_cycles=c["cycles"] - c["mac_cycles"],
            stall_share=(c["cycles"] - c["mac_cycles"]) / c["cycles"] if c["cycles"] else 0.0,
            latency_us=c["cycles"] * accel.cycle_ns / 1000,
            bound=list(_LIMITS.values())[limits.index(max(limits))],
            energy_total_pj=sum(c[k] for k in _ENERGY),
            **c,
        )


def _accumulate(sums: dict[str, _LayerSums], m: LayerMapping, t: LayerTiming, accel: Accelerator, streams: dict) -> None:
    e = accel.energies
    width = accel.sram.bank_width_bytes
    time_ns = t.cycles * accel.cycle_ns
    sram_pj = math.ceil(m.sram_read_bytes / width) * e.sram_read_pj + math.ceil(m.sram_write_bytes / width) * e.sram_write_pj
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
        "decoder_lookups": m.decoder_lookups,
        "events": t.events,
        "energy_dram_pj": dram_pj,
        "energy_sram_pj": sram_pj,
        "energy_decoder_pj": m.decoder_lookups * e.decoder_lookup_pj,
        "energy_mac_pj": m.macs_executed * e.mac_pj,
        "energy_leakage_pj": (e.sram_leakage_mw + e.other_leakage_mw) * time_ns,
    }
    s = sums.get(m.layer.name)
    if s is None:
        weight_bytes = streams[m.layer.name].total_bytes if m.layer.name in streams else 0
        sums[m.layer.name] = s = _LayerSums(m.layer, weight_bytes, m.pinned, m.order, m.weight_tiles, m.input_tiles,
                                            dict.fromkeys(values, 0))
    for k, v in values.items():
        s.counts[k] += v


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
