"""The accelerator as the engine sees it: plain numbers with units, and per-action energies.

`accelsim.pipeline.accelerator.accelerator_from_config` builds it from a validated hardware config and the energy
tables; tests build it directly. Keeping the engine free of the config schema means every formula can be checked
against hand-computed values with a few numbers.
"""

from __future__ import annotations

import math
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
    other_leakage_mw: float = 0.0  # MAC array, decoders, accumulator buffers
    accumulator_read_pj: float = 0.0  # one partial sum (accumulator_bits) out of a column's accumulator buffer
    accumulator_write_pj: float = 0.0
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
    accumulator_entries: int = 0  # partial sums each column's accumulator buffer holds (0: no such level)

    # One bank's timing from the SRAM table (NaN: the table has none; the banks are then taken as
    # single-cycle). What the engine uses is `sram.access_cycles`, derived from them by `sram_access_cycles`.
    sram_access_time_ns: float = math.nan
    sram_cycle_time_ns: float = math.nan

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

    @property
    def sram_bank_time_ns(self) -> float:
        """How long one access holds its bank: the longer of the access time (data out) and the cycle
        time (ready for the next access), NaN where the table gives neither."""
        return bank_time_ns(self.sram_access_time_ns, self.sram_cycle_time_ns)

    @property
    def sram_max_clock_hz(self) -> float:
        """The highest clock at which every SRAM access fits one cycle (NaN without SRAM timing)."""
        return 1e9 / self.sram_bank_time_ns


def bank_time_ns(access_time_ns: float, cycle_time_ns: float) -> float:
    """How long one access holds an SRAM bank: the longer of its access time and cycle time (a bank is
    free for the next access only when the data is out and the array is precharged), NaN if neither is
    known; one alone (NaN for the other) is taken as it is."""
    known = [t for t in (access_time_ns, cycle_time_ns) if not math.isnan(t)]
    return max(known) if known else math.nan


def sram_access_cycles(bank_time_ns: float, clock_hz: float) -> int:
    """Clock cycles one SRAM access occupies its bank port: ``ceil(bank time / clock period)``, at least 1;
    1 (single-cycle, assumed) when the bank time is unknown (NaN).

    Why multi-cycle accesses rather than refusing a clock the SRAM cannot meet: a sweep over SRAM size
    must price large, slow banks (their energy, area and DRAM traffic are what the sweep is about),
    not fail them; a bank that needs k cycles serves 1/k of a request per cycle per port, which the
    bank-conflict model turns into stall cycles exactly when the banks cannot keep up with the array
    (`accelsim.sim.sram`). ``sram_max_clock_mhz`` in summary.json says at which clock the banks would
    be single-cycle. (The products are exact at table precision: a bank of 1.25 ns at 800 MHz is one
    cycle, not two.)"""
    if math.isnan(bank_time_ns):
        return 1
    return max(1, math.ceil(round(bank_time_ns * clock_hz / 1e9, 9)))
