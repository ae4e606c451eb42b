"""The hardware config: what the accelerator is, validated before any simulation starts.

A config is YAML (see ``hwconfigs/*.yaml``); every dimensional quantity carries its unit
(``512KiB``, ``800MHz``); counts and bit widths named ``*_bits`` are plain integers. This module checks
*structure* (sizes positive, banks divide the SRAM, the split fits, widths consistent) and physical
bounds (array side, clock, DRAM channels, decoders per MAC unit: beyond them a value is a typo); whether a
layer's tiles fit a share is the engine's check, since it depends on the workload.

SRAM ``policy``:

- ``partitioned``: fixed shares for ``weights``, ``input_activations`` and ``output_activations``
  (``split``), each a size (``384KiB``) or a fraction of ``size`` (``0.75`` or ``"75%"``); their sum
  may not exceed ``size``. Compressed weights are resident only if they fit in the weights share.
- ``unified``: one buffer, no fixed shares. Stated policy (``accelsim/pipeline/accelerator.py``): one eighth of
  the buffer holds input-activation tiles, one eighth output tiles (each double-buffered), and the
  remaining three quarters hold weights, resident or streamed. Every share property here returns
  ``size``; the division is the engine's.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from accelsim.config.dram import PRESETS, DramConfig, unknown_preset_message
from accelsim.errors import AccelsimError, ConfigError
from accelsim.sim.dataflow import DATAFLOWS
from accelsim.resources import hwconfigs_dir, resolve_named_file, tech_dir
from accelsim.units import Frequency, Length, PositiveBytes, UnitError, format_quantity, parse_bytes
from accelsim.yamlio import load_yaml, read_text

_Strict = ConfigDict(extra="forbid", frozen=True)


# --- SRAM shares: a size or a fraction of the SRAM -----------------------------------------------

def _parse_share(value: Any) -> int | float:
    """``"384KiB"`` -> 393216 (bytes, int); ``0.75`` or ``"75%"`` -> 0.75 (fraction, float)."""
    if isinstance(value, bool):
        raise UnitError(f"{value!r} is not a share: give a size ('384KiB') or a fraction of sram.size (0.75, '75%')")
    if isinstance(value, (int, float)):
        if not 0 < value <= 1:
            raise UnitError(
                f"{value!r} is not a share: a bare number is a fraction of sram.size in (0, 1]; "
                "give a size with a unit, e.g. '384KiB'"
            )
        return float(value)
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            pct = float(value.strip()[:-1])
        except ValueError:
            raise UnitError(f"'{value}' is not a percentage") from None
        if not 0 < pct <= 100:
            raise UnitError(f"'{value}' must be in (0%, 100%]")
        return pct / 100
    size = parse_bytes(value)
    if size <= 0:
        raise UnitError(f"'{value}' must be greater than zero")
    return size


def _dump_share(value: int | float) -> str | float:
    return format_quantity(value, "size") if isinstance(value, int) else value


Share = Annotated[int | float, BeforeValidator(_parse_share), PlainSerializer(_dump_share)]


class SramSplit(BaseModel):
    model_config = _Strict

    weights: Share
    input_activations: Share
    output_activations: Share


class SramConfig(BaseModel):
    """On-chip SRAM: ``banks`` equal banks of ``size / banks`` bytes, each ``bank_width_bits`` wide
    with ``ports_per_bank`` read/write ports (one access of the bank width per port per cycle)."""

    model_config = _Strict

    size: PositiveBytes
    banks: int = Field(ge=1)
    bank_width_bits: int = Field(ge=8)
    ports_per_bank: int = Field(1, ge=1, le=4)
    policy: Literal["partitioned", "unified"] = "partitioned"
    split: SramSplit | None = None

    @field_validator("banks")
    @classmethod
    def _banks_divide(cls, banks: int, info: ValidationInfo) -> int:
        size = info.data.get("size")
        if size is not None and size % banks:
            raise ValueError(f"{banks} banks do not divide size {format_quantity(size, 'size')} into whole bytes")
        return banks

    @field_validator("bank_width_bits")
    @classmethod
    def _width(cls, width: int, info: ValidationInfo) -> int:
        if width % 8:
            raise ValueError(f"{width} is not a whole number of bytes (a multiple of 8 bits)")
        size, banks = info.data.get("size"), info.data.get("banks")
        if size is not None and banks is not None and (size // banks) % (width // 8):
            raise ValueError(f"a bank of {format_quantity(size // banks, 'size')} is not a whole number of {width}-bit words")
        return width

    @field_validator("split")
    @classmethod
    def _split_fits(cls, split: SramSplit | None, info: ValidationInfo) -> SramSplit | None:
        size = info.data.get("size")
        if split is None or size is None:
            return split
        shares = {k: _share_bytes(getattr(split, k), size) for k in SramSplit.model_fields}
        for name, nbytes in shares.items():
            if nbytes <= 0:
                raise ValueError(f"{name} share rounds to 0 bytes of {format_quantity(size, 'size')}")
        total = sum(shares.values())
        if total > size:
            parts = " + ".join(format_quantity(b, "size") for b in shares.values())
            raise ValueError(
                f"shares sum to {parts} = {format_quantity(total, 'size')}, more than sram.size {format_quantity(size, 'size')}"
            )
        return split

    @model_validator(mode="after")
    def _policy_matches_split(self) -> "SramConfig":
        if self.policy == "partitioned" and self.split is None:
            raise ValueError("policy 'partitioned' needs split: {weights, input_activations, output_activations}")
        if self.policy == "unified" and self.split is not None:
            raise ValueError("policy 'unified' has no fixed shares; remove split (or use policy: partitioned)")
        return self

    # --- derived ------------------------------------------------------------------------------

    @property
    def bank_size(self) -> int:
        """Bytes per bank."""
        return self.size // self.banks

    @property
    def bank_width_bytes(self) -> int:
        return self.bank_width_bits // 8

    def _share(self, name: str) -> int:
        if self.split is None:  # unified: the whole buffer, managed by the engine's policy
            return self.size
        return _share_bytes(getattr(self.split, name), self.size)

    @property
    def weights_bytes(self) -> int:
        return self._share("weights")

    @property
    def input_activation_bytes(self) -> int:
        return self._share("input_activations")

    @property
    def output_activation_bytes(self) -> int:
        return self._share("output_activations")


def _share_bytes(share: int | float, size: int) -> int:
    # Fractions round down: a share never claims a byte the SRAM does not have.
    return share if isinstance(share, int) else math.floor(share * size)


# Physical bounds on what a config may describe: beyond them a value is a typo, and the engine would
# build arrays of that size (a 10^12-row array asked numpy for 7.3 TiB).
MAX_ARRAY_SIDE = 4096
MIN_CLOCK_HZ, MAX_CLOCK_HZ = 1e6, 10e9


class MacArrayConfig(BaseModel):
    """A rows x cols array of multiply-accumulate units, one MAC per unit per cycle."""

    model_config = _Strict

    rows: int = Field(ge=1)
    cols: int = Field(ge=1)
    weight_bits: int = Field(ge=1, le=32)
    activation_bits: int = Field(ge=1, le=32)
    accumulator_bits: int = Field(ge=1, le=64)
    dataflow: str = Field(description="which operand stays in the array: one of the dataflow registry's names "
                                      "(accelsim.sim.dataflow.DATAFLOWS)")
    # Real arrays double-buffer the stationary operand so that the next fold's loads behind the current
    # one: the TPU's matrix unit "holds one 64 KiB tile of weights plus one for double-buffering (to hide
    # the 256 cycles it takes to shift a tile in)" (Jouppi et al., ISCA 2017, section 2). SCALE-Sim does
    # not overlap (a fold costs 2*Sr + Sc + T - 2); set false to match it.
    overlap_stationary: bool = True

    @field_validator("rows", "cols")
    @classmethod
    def _buildable(cls, n: int) -> int:
        if n > MAX_ARRAY_SIDE:
            raise ValueError(f"{n} is more than {MAX_ARRAY_SIDE} MAC units on a side (16 times the side of the TPU's "
                             "256 x 256 array)")
        return n

    @field_validator("dataflow")
    @classmethod
    def _known_dataflow(cls, name: str) -> str:
        if name not in DATAFLOWS:
            raise ValueError(f"unknown dataflow '{name}'; known: {', '.join(DATAFLOWS)}")
        return name

    @field_validator("accumulator_bits")
    @classmethod
    def _acc_wide_enough(cls, bits: int, info: ValidationInfo) -> int:
        w, a = info.data.get("weight_bits"), info.data.get("activation_bits")
        if w is not None and a is not None and bits < max(w, a):
            raise ValueError(f"{bits} bits cannot hold a {max(w, a)}-bit operand; accumulators are at least as wide as the operands")
        return bits

    @property
    def macs_per_cycle(self) -> int:
        return self.rows * self.cols


class MapperConfig(BaseModel):
    """How the mapper chooses each layer's tiles and loop order (`accelsim.sim.mapping`)."""

    model_config = _Strict

    objective: Literal["energy", "latency", "edp"] = Field(
        "energy", description="what the mapper minimises per layer: energy (default: the figure accelsim reports), "
                              "latency, or the product of a layer's energy and latency (edp)")


class AccumulatorConfig(BaseModel):
    """A per-column accumulator buffer at the foot of the MAC array: ``entries`` partial sums of
    ``mac_array.accumulator_bits`` per column. A column's partial sums collect there, over the row folds of
    a layer and across weight tiles, instead of round-tripping through the SRAM, whenever the mapper's
    chunk of vectors needs no more entries than a column has (`accelsim.sim.mapping`). The TPU's matrix unit
    feeds 4,096 such entries per column (Jouppi et al., ISCA 2017, section 2). Energy, leakage and area come
    from ``tables.accumulator`` (one small SRAM array of ``entries`` x ``accumulator_bits`` per column)."""

    model_config = _Strict

    entries: int = Field(ge=1, le=1 << 20, description="partial sums each column holds")


class DecoderConfig(BaseModel):
    """Codebook decoders: each holds a table of ``entries`` values of ``value_bits`` and turns an
    index into a weight, ``lookups_per_cycle`` lookups per decoder per cycle."""

    model_config = _Strict

    count: int = Field(ge=1)
    entries: int = Field(ge=2, le=65536)
    lookups_per_cycle: int = Field(1, ge=1)
    value_bits: int = Field(ge=1, le=32)


class SparsityConfig(BaseModel):
    """What the datapath skips: pruned (zero) weights, zero activations (after ReLU)."""

    model_config = _Strict

    skip_pruned_weights: bool = False
    skip_zero_activations: bool = False


def _table_name(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if (tech_dir() / f"{value}.yaml").is_file() or Path(value).is_file():
        return value
    shipped = sorted(p.stem for p in tech_dir().glob("*.yaml"))
    raise ValueError(f"unknown energy table '{value}'; shipped tables: {', '.join(shipped) or 'none'}")


TableName = Annotated[str, BeforeValidator(_table_name)]


class TablesConfig(BaseModel):
    """Which energy/area table each component's figures come from (files in ``hwconfigs/tech``).

    ``dram: drampower`` uses DRAMPower-derived core energies (no I/O); ``horowitz-45nm`` uses the
    system-level per-bit figure that includes I/O. SRAM leakage and area come from ``cacti-sram``
    when the selected SRAM table has none.
    """

    model_config = _Strict

    sram: TableName = "cacti-sram"
    decoder: TableName = "cacti-decoder"
    mac: TableName = "aladdin-mac"
    dram: TableName = "drampower"
    # A table with an ``accumulator`` component prices it directly; the CACTI codebook table prices one
    # column's buffer as the small SRAM array (entries x bits) it is.
    accumulator: TableName = "cacti-decoder"


class HardwareConfig(BaseModel):
    """A whole accelerator design point (hardware only)."""

    model_config = _Strict

    name: str
    description: str = ""
    clock: Frequency
    tech_node: Length
    mac_array: MacArrayConfig
    sram: SramConfig
    decoders: DecoderConfig
    sparsity: SparsityConfig = SparsityConfig()
    accumulators: AccumulatorConfig | None = Field(
        None, description="optional per-column accumulator buffers (a memory level below the SRAM); none: partial "
                          "sums that leave the array go to the SRAM")
    dram: DramConfig
    proposals_batch: int = Field(1, ge=1, description="region proposals processed per pass over the weights")
    tables: TablesConfig = TablesConfig()
    mapper: MapperConfig = MapperConfig()

    @field_validator("clock")
    @classmethod
    def _plausible_clock(cls, hz: float) -> float:
        if not MIN_CLOCK_HZ <= hz <= MAX_CLOCK_HZ:
            raise ValueError(f"{format_quantity(hz, 'frequency')} is outside {format_quantity(MIN_CLOCK_HZ, 'frequency')} "
                             f"to {format_quantity(MAX_CLOCK_HZ, 'frequency')}, the range of CMOS accelerator clocks (the "
                             "fastest logic runs near 6GHz)")
        return hz

    @field_validator("decoders")
    @classmethod
    def _decoder_fits_mac(cls, dec: DecoderConfig, info: ValidationInfo) -> DecoderConfig:
        mac = info.data.get("mac_array")
        if mac is not None and dec.value_bits > mac.weight_bits:
            raise ValueError(
                f"value_bits {dec.value_bits} is wider than mac_array.weight_bits {mac.weight_bits}; "
                "the MAC array cannot take the decoded weights"
            )
        if mac is not None and dec.count > mac.macs_per_cycle:
            raise ValueError(
                f"count {dec.count} is more than the {mac.rows} x {mac.cols} = {mac.macs_per_cycle} MAC units; a decoder "
                "feeds MAC units, so more decoders than units decode weights nothing takes"
            )
        return dec

    # --- derived ------------------------------------------------------------------------------

    @property
    def tech_node_nm(self) -> int:
        return round(self.tech_node * 1e9)

    def resolved(self) -> dict:
        """The config with presets expanded and every quantity as a unit string (loads back equal)."""
        return self.model_dump(mode="json")

    def dump_yaml(self, path: str | Path) -> Path:
        """Write the resolved config, so a run can be repeated from its output folder."""
        path = Path(path)
        header = f"# Resolved hardware config '{self.name}' (presets expanded); load with --hw {path.name}\n"
        path.write_text(header + yaml.safe_dump(self.resolved(), sort_keys=False, allow_unicode=True))
        return path


# --- loading -------------------------------------------------------------------------------------

def _repeated_key(text: str) -> str | None:
    """The dotted path and lines of the first repeated mapping key, or None.

    ``yamlio.load_yaml`` refuses repeated keys too, but names only the key; here the whole path
    (``sram.banks``) is named, as for every other config error.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None  # load_yaml reports syntax errors

    def walk(node, path: list[str]) -> str | None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    return f"{'.'.join(path + [key])}: key repeated (line {seen[key]} and line {line})"
                seen[key] = line
                found = walk(value_node, path + [key])
                if found:
                    return found
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                found = walk(item, path + [str(i)])
                if found:
                    return found
        return None

    return walk(root, []) if root is not None else None


def _fields_at(loc: tuple) -> list[str]:
    """Field names of the config section at ``loc`` (for "unknown field" hints)."""
    model: Any = HardwareConfig
    for part in loc:
        field = model.model_fields.get(str(part)) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        ann = field.annotation
        candidates = [a for a in (getattr(ann, "__args__", None) or (ann,)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not candidates:
            return []
        model = candidates[0]
    return list(model.model_fields)


def _format_errors(source: str, exc: ValidationError) -> str:
    """One line per problem, naming the dotted field; a misspelt key is reported once, as unknown
    (with the likely intended name), not again as the required field it failed to set."""
    errors = exc.errors()
    explained: set[tuple] = set()
    lines = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent, name = loc[:-1], str(loc[-1])
            known = _fields_at(parent)
            close = difflib.get_close_matches(name, known, n=1)
            msg = "unknown field"
            if close:
                msg += f"; did you mean '{close[0]}'?"
                explained.add(parent + (close[0],))
            elif known:
                msg += f"; known fields: {', '.join(known)}"
            lines.append((loc, msg))
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" or loc in explained:
            continue
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        lines.append((loc, msg))
    return "\n".join(f"{source}: {'.'.join(str(p) for p in loc) or '(top level)'}: {msg}" for loc, msg in lines)


def parse_hwconfig(data: Any, source: str = "hardware config") -> HardwareConfig:
    """Validate a config mapping (already read from YAML); errors are ConfigError naming ``source``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of hardware config fields, got {type(data).__name__}")
    dram = data.get("dram")
    if isinstance(dram, dict) and dram.get("preset") is not None and dram["preset"] not in PRESETS:
        raise ConfigError(f"{source}: dram.preset: {unknown_preset_message(dram['preset'])}")
    try:
        return HardwareConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None


def load_hwconfig(arg: str | Path) -> HardwareConfig:
    """A shipped config by name (``embedded-45nm``) or a config file by path."""
    try:
        path = resolve_named_file(arg, hwconfigs_dir(), "hardware config")
    except ConfigError:
        raise
    except AccelsimError as exc:
        raise ConfigError(str(exc)) from None
    try:
        repeated = _repeated_key(read_text(path))
        if repeated:
            raise ConfigError(f"{path}: {repeated}")
        data = load_yaml(path)
    except ConfigError:
        raise
    except AccelsimError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return parse_hwconfig(data, str(path))
