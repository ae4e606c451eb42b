"""The accelerator as the engine sees it: plain numbers with units, and per-action energies.

`accelsim.sim.build.accelerator_from_config` builds it from a validated hardware config and the energy
tables; tests build it directly. Keeping the engine free of the config schema means every formula can be checked
against hand-computed values with a few numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accelsim.sim.dataflow import Dataflow, dataflow as _dataflow

from accelsim.sim.dram import DramEnergy, DramTiming
from accelsim.sim.sram import SramGeometry


@dataclass(frozen=True)
class Energies:
    """Energy per action in picojoules (and leakage in milliwatts); ``sources`` names the table
    entry behind each figure, for the run's list of entries used."""

    mac_pj: float  # one multiply-accumulate at the array's operand precision
    sram_read_pj: float  # one bank access (bank_width bits)
    sram_write_pj: float
    decoder_lookup_pj: float  # one codebook lookup
    sram_leakage_mw: float  # all banks
    other_leakage_mw: float = 0.0  # MAC array, decoders
    sources: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Accelerator:
    clock_hz: float
    rows: int
    cols: int
    dataflow: Dataflow  # a `Dataflow`; its name ("weight-stationary") or short name ("ws") is accepted
    weight_bits: int  # operand width the MAC array multiplies (decoded weights)
    activation_bits: int
    accumulator_bits: int  # partial sums that leave the array before their final reduction are this wide
    sram: SramGeometry
    sram_weight_bytes: int  # share of the SRAM for weights (resident + streaming buffers)
    sram_input_bytes: int
    sram_output_bytes: int
    decoders: int
    decoder_lookups_per_cycle: int
    skip_pruned_weights: bool
    skip_zero_activations: bool
    dram_timing: DramTiming
    dram_energy: DramEnergy
    energies: Energies
    proposals_batch: int = 1
    area_mm2: float = 0.0  # SRAM + decoders + MAC array, from the config's tables (reported, not simulated)
    overlap_stationary: bool = True  # double-buffered stationary registers (`Dataflow.grid`)
    mapper_objective: str = "energy"  # what the mapper minimises per layer: energy, latency or edp

    def __post_init__(self) -> None:
        if not isinstance(self.dataflow, Dataflow):
            object.__setattr__(self, "dataflow", _dataflow(self.dataflow))

    @property
    def act_bytes(self) -> float:
        return self.activation_bits / 8

    @property
    def accumulator_bytes(self) -> float:
        return self.accumulator_bits / 8

    @property
    def cycle_ns(self) -> float:
        return 1e9 / self.clock_hz

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.rows * self.cols

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Peak DRAM bandwidth in bytes per accelerator cycle."""
        return self.dram_timing.peak_bytes_per_ns * self.cycle_ns
