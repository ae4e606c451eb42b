"""From a validated hardware config to the engine's `Accelerator`, with every figure's table entry.

It sits in the pipeline, above both the config schema and the engine: `accelsim.sim` never imports the
config (whose validation reads the engine's dataflow registry), so the two do not import each other.

The SRAM ``unified`` policy is modelled as a fixed partition chosen here: one eighth of the buffer for
input-activation tiles, one eighth for output tiles (each double-buffered by the engine), and the
remaining three quarters for weights, resident or streamed.

SRAM timing: each access holds its bank for ``ceil(t / clock period)`` cycles, t the longer of the bank's
access and cycle time in the SRAM table (`accelsim.sim.accelerator.sram_access_cycles`, which says why this is
modelled rather than refused); a table without timing (Horowitz) leaves the banks single-cycle and the
reported times missing.

DRAM refresh energy is charged as a power: one refresh command's energy per channel every tREFI,
added to the background power (both are paid whether or not data moves).
"""

from __future__ import annotations

import math

from accelsim.config import HardwareConfig
from accelsim.errors import ConfigError
from accelsim.sim.accelerator import Accelerator, Energies, bank_time_ns, sram_access_cycles
from accelsim.sim.dram import DramEnergy, DramTiming
from accelsim.sim.sram import SramGeometry
from accelsim.tech.model import TechModel


def accelerator_from_config(cfg: HardwareConfig) -> tuple[Accelerator, list[dict]]:
    """The engine's accelerator and the list of table entries behind its figures (with sources)."""
    tech = TechModel(cfg)
    s, d, m, dr = cfg.sram, cfg.decoders, cfg.mac_array, cfg.dram
    if s.policy == "unified":
        act = s.size // 8
        weights, inputs, outputs = s.size - 2 * act, act, act
    else:
        weights, inputs, outputs = s.weights_bytes, s.input_activation_bytes, s.output_activation_bytes
    timing = DramTiming(
        tck_ns=dr.tck_s * 1e9, burst_length=dr.burst_length, bus_width_bits=dr.bus_width_bits, channels=dr.channels,
        banks=dr.banks, row_bytes=dr.row_bytes, trcd_cycles=dr.tRCD, trp_cycles=dr.tRP, cl_cycles=dr.CL,
        tras_cycles=dr.tRAS, trefi_cycles=dr.tREFI, trfc_cycles=dr.tRFC,
    )
    refresh_mw = tech.dram_refresh.to("pJ") * dr.channels / (dr.tREFI * dr.tck_s * 1e9)  # pJ/ns = mW
    energy = DramEnergy(
        read_pj_per_bit=tech.dram_read.to("pJ/bit"), write_pj_per_bit=tech.dram_write.to("pJ/bit"),
        act_pre_nj=tech.dram_activate.to("pJ") / 1000, background_mw=tech.dram_background.to("mW") + refresh_mw,
    )
    acc_read, acc_write, acc_leak = (getattr(tech, f"accumulator_{x}") for x in ("read", "write", "leakage"))
    energies = Energies(
        mac_pj=tech.mac.to("pJ"), sram_read_pj=tech.sram_read.to("pJ"), sram_write_pj=tech.sram_write.to("pJ"),
        decoder_lookup_pj=tech.decoder_lookup.to("pJ"), sram_leakage_mw=tech.sram_leakage.to("mW"),
        other_leakage_mw=tech.decoder_leakage.to("mW") + tech.mac_leakage.to("mW") + (acc_leak.to("mW") if acc_leak else 0.0),
        accumulator_read_pj=acc_read.to("pJ") if acc_read else 0.0,
        accumulator_write_pj=acc_write.to("pJ") if acc_write else 0.0,
        sources={name: entry.key for name, entry in tech.figures().items()},
    )
    access_ns = tech.sram_access_time.to("ns") if tech.sram_access_time else math.nan
    cycle_ns = tech.sram_cycle_time.to("ns") if tech.sram_cycle_time else math.nan
    accel = Accelerator(
        clock_hz=cfg.clock, rows=m.rows, cols=m.cols, dataflow=m.dataflow, overlap_stationary=m.overlap_stationary,
        weight_bits=m.weight_bits, activation_bits=m.activation_bits, accumulator_bits=m.accumulator_bits,
        sram=SramGeometry(banks=s.banks, bank_width_bytes=s.bank_width_bytes, ports=s.ports_per_bank,
                          access_cycles=sram_access_cycles(bank_time_ns(access_ns, cycle_ns), cfg.clock)),
        sram_weight_bytes=weights, sram_input_bytes=inputs, sram_output_bytes=outputs,
        decoders=d.count, decoder_lookups_per_cycle=d.lookups_per_cycle,
        skip_pruned_weights=cfg.sparsity.skip_pruned_weights, skip_zero_activations=cfg.sparsity.skip_zero_activations,
        dram_timing=timing, dram_energy=energy, energies=energies, proposals_batch=cfg.proposals_batch,
        area_mm2=tech.area_mm2, mapper_objective=cfg.mapper.objective, sram_access_time_ns=access_ns,
        sram_cycle_time_ns=cycle_ns, accumulator_entries=cfg.accumulators.entries if cfg.accumulators else 0,
    )
    entries = [{"figure": name, **entry.as_dict()} for name, entry in tech.figures().items()]
    return accel, entries


def check_decoders(cfg: HardwareConfig, layers, source: str) -> None:
    """Refuse, before simulating, a codebook larger than the decoders' tables."""
    for layer in layers:
        entries = 0 if layer.profile is None else layer.profile.codebook_entries
        if entries > cfg.decoders.entries:
            raise ConfigError(
                f"{source}: decoders.entries: {cfg.decoders.entries} table entries cannot hold layer {layer.name}'s "
                f"codebook of {entries} entries; raise decoders.entries or use fewer clusters"
            )
