"""Hardware configs: the typed schema (`HardwareConfig`) and `load_hwconfig` (shipped name or path)."""

from accelsim.config.dram import PRESETS as DRAM_PRESETS
from accelsim.config.dram import DramConfig
from accelsim.config.hardware import (
    AccumulatorConfig,
    DecoderConfig,
    HardwareConfig,
    MacArrayConfig,
    SparsityConfig,
    SramConfig,
    SramSplit,
    TablesConfig,
    load_hwconfig,
    parse_hwconfig,
)

__all__ = [
    "AccumulatorConfig",
    "DRAM_PRESETS",
    "DecoderConfig",
    "DramConfig",
    "HardwareConfig",
    "MacArrayConfig",
    "SparsityConfig",
    "SramConfig",
    "SramSplit",
    "TablesConfig",
    "load_hwconfig",
    "parse_hwconfig",
]
