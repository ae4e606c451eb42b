"""DRAM section of a hardware config: geometry, timings, presets.

Why presets: an architect picks "LPDDR4-3200" and changes one thing (channels, say); typing 15
timing parameters per config invites mistakes. A preset fills every field; any field the config
gives overrides it. Presets carry geometry and timing only; the energy of each DRAM action comes from
the energy table selected by ``tables.dram`` (``drampower`` by default, see ``hwconfigs/tech``),
unless the config overrides it here (``read_energy_per_bit`` ...), so every figure keeps a source.

Timings are whole cycles of the DRAM clock tCK (= 2 / data rate, double data rate), as in DRAMPower
memspecs; a timing may also be given as a time (``18ns``) and is then rounded *up* to cycles, as a
memory controller must.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accelsim.units import (
    Cycles,
    DataRate,
    Energy,
    EnergyPerBit,
    Power,
    PositiveBytes,
    UnitError,
    parse_cycles,
    parse_quantity,
)

# Sources: DRAMPower memspecs (github.com/tukl-msd/DRAMPower, memspecs/) for Micron parts, as
# summarised in shared/REFERENCES.md. Values are strings with units, exactly as a config would say.
PRESETS: dict[str, dict[str, Any]] = {
    "LPDDR4-3200": {
        "part": "LPDDR4-3200",
        "standard": "LPDDR4",
        "source": "DRAMPower memspec MICRON_6Gb_LPDDR4-3200_32bit_A (one x16 channel per die, tCK 0.625 ns); "
                  "channels=2 models the common 32-bit (2 x16) LPDDR4 interface of an embedded SoC",
        "data_rate": "3200MT/s",
        "channels": 2,
        "bus_width_bits": 16,
        "device_width_bits": 16,
        "burst_length": 16,
        "banks": 8,
        "device_row_size": "2KiB",  # 1024 columns x 16 bits
        "CL": "28cycles",  # LPDDR4 read latency RL
        "WL": "14cycles",
        "tRCD": "29cycles",
        "tRP": "29cycles",  # per-bank precharge tRPpb
        "tRAS": "68cycles",
        "tREFI": "6246cycles",  # all-bank refresh interval
        "tRFC": "448cycles",  # all-bank refresh cycle tRFCab
    },
    "DDR4-2400": {
        "part": "DDR4-2400",
        "standard": "DDR4",
        "source": "DRAMPower memspec MICRON_4Gb_DDR4-2400_8bit_A (x8 devices, 8 per 64-bit channel, tCK 0.833 ns)",
        "data_rate": "2400MT/s",
        "channels": 1,
        "bus_width_bits": 64,
        "device_width_bits": 8,
        "burst_length": 8,
        "banks": 16,
        "device_row_size": "1KiB",  # 1024 columns x 8 bits
        "CL": "16cycles",
        "WL": "16cycles",
        "tRCD": "16cycles",
        "tRP": "16cycles",
        "tRAS": "39cycles",
        "tREFI": "4680cycles",
        "tRFC": "313cycles",
    },
}

MAX_CHANNELS = 256

TIMING_FIELDS = ("CL", "WL", "tRCD", "tRP", "tRAS", "tREFI", "tRFC")


def unknown_preset_message(name: object) -> str:
    return f"unknown DRAM preset '{name}'; known presets: {', '.join(PRESETS)}"


class DramConfig(BaseModel):
    """One DRAM subsystem: ``channels`` identical channels, each ``bus_width_bits`` wide, built of
    ``bus_width_bits / device_width_bits`` devices that act in lock step (one rank)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    preset: str | None = Field(None, description="preset the fields came from (informational once resolved)")
    part: str = Field(description="key of this part's figures in the DRAM energy table (e.g. LPDDR4-3200)")
    standard: str
    source: str = ""
    data_rate: DataRate
    channels: int = Field(ge=1)
    bus_width_bits: int = Field(ge=1)
    device_width_bits: int = Field(ge=1)
    burst_length: int = Field(ge=1)
    banks: int = Field(ge=1)
    device_row_size: PositiveBytes
    CL: Cycles
    WL: Cycles
    tRCD: Cycles
    tRP: Cycles
    tRAS: Cycles
    tREFI: Cycles
    tRFC: Cycles
    # Optional overrides of the energy table (per device where the table is per device).
    read_energy_per_bit: EnergyPerBit | None = None
    write_energy_per_bit: EnergyPerBit | None = None
    activate_energy: Energy | None = Field(None, description="activate + precharge of one row, one device")
    refresh_energy: Energy | None = Field(None, description="one all-bank refresh command, one device")
    background_power: Power | None = Field(None, description="active-standby power of one device")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("preset")
        if name is not None:
            if name not in PRESETS:
                raise ValueError(unknown_preset_message(name))
            data = {**PRESETS[name], **data}
        return _timings_to_cycles(data)

    @field_validator("channels")
    @classmethod
    def _buildable(cls, channels: int) -> int:
        # Beyond this a value is a typo, and the engine keeps per-channel arrays (10^9 channels asked
        # numpy for 59.6 GiB).
        if channels > MAX_CHANNELS:
            raise ValueError(f"{channels} channels is more than {MAX_CHANNELS}; the widest memory systems built, "
                             "six HBM3 stacks of 16 channels, have 96")
        return channels

    @model_validator(mode="after")
    def _check(self) -> "DramConfig":
        if self.bus_width_bits % self.device_width_bits:
            raise ValueError(
                f"bus_width_bits {self.bus_width_bits} is not a multiple of device_width_bits {self.device_width_bits}"
            )
        if self.tREFI <= self.tRFC:
            raise ValueError(f"tREFI ({self.tREFI} cycles) must exceed tRFC ({self.tRFC} cycles)")
        return self

    # --- derived figures (SI units) ---------------------------------------------------------

    @property
    def clock_hz(self) -> float:
        """DRAM clock; two transfers per clock (double data rate)."""
        return self.data_rate / 2

    @property
    def tck_s(self) -> float:
        return 1.0 / self.clock_hz

    @property
    def devices_per_channel(self) -> int:
        return self.bus_width_bits // self.device_width_bits

    @property
    def row_bytes(self) -> int:
        """Bytes of one open row across a channel (all devices of the rank open the same row)."""
        return self.device_row_size * self.devices_per_channel


def _timings_to_cycles(data: dict) -> dict:
    """Replace timings given as a time ("18ns") by whole tCK cycles, rounded up."""
    out = dict(data)
    for key in TIMING_FIELDS:
        value = out.get(key)
        if not isinstance(value, str):
            continue
        try:
            parse_cycles(value)
            continue
        except UnitError:
            pass
        try:
            seconds = parse_quantity(value, "time")
        except UnitError:
            raise ValueError(f"{key}: '{value}' is neither cycles (e.g. '29cycles') nor a time (e.g. '18ns')") from None
        try:
            rate = parse_quantity(out.get("data_rate"), "data_rate")
        except (UnitError, TypeError):
            raise ValueError(f"{key}: '{value}' is a time; converting it to cycles needs a valid data_rate") from None
        tck = 2.0 / rate
        out[key] = math.ceil(seconds / tck - 1e-9)
    return out
