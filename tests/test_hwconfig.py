"""Hardware configs: shipped ones load, bad ones stop with one message naming the file and field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from accelsim.config import DRAM_PRESETS, HardwareConfig, load_hwconfig, parse_hwconfig
from accelsim.errors import AccelsimError, ConfigError
from accelsim.resources import hwconfigs_dir
from accelsim.pipeline.accelerator import accelerator_from_config

SHIPPED = sorted(p.stem for p in hwconfigs_dir().glob("*.yaml"))


def test_the_three_configs_are_shipped():
    assert any(n.startswith("embedded-") for n in SHIPPED)
    assert {"large-sram-45nm", "eie-like"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_loads_and_round_trips(name, tmp_path):
    cfg = load_hwconfig(name)
    assert cfg.name == name
    out = cfg.dump_yaml(tmp_path / f"{name}.yaml")
    again = load_hwconfig(out)
    assert again == cfg
    assert again.resolved() == cfg.resolved()


def test_embedded_default_derived_figures():
    cfg = load_hwconfig("embedded-45nm")
    accel, _ = accelerator_from_config(cfg)
    assert cfg.clock == 800e6 and accel.cycle_ns == pytest.approx(1.25)
    assert cfg.tech_node_nm == 45
    assert cfg.sram.size == 512 * 1024 and cfg.sram.bank_size == 32 * 1024
    assert cfg.sram.weights_bytes + cfg.sram.input_activation_bytes + cfg.sram.output_activation_bytes <= cfg.sram.size
    assert (cfg.sram.banks, cfg.sram.bank_width_bytes, cfg.sram.ports_per_bank) == (16, 8, 1)
    assert cfg.mac_array.macs_per_cycle == accel.peak_macs_per_cycle == 256
    assert cfg.decoders.entries == 256  # 8-bit indices
    # LPDDR4-3200, 2 x16 channels: 3200e6 transfers/s x 2 bytes x 2 = 12.8 GB/s
    assert accel.dram_timing.peak_bytes_per_ns == pytest.approx(12.8)
    assert accel.dram_bytes_per_cycle == pytest.approx(12.8e9 / 800e6)
    assert cfg.dram.tck_s == pytest.approx(0.625e-9)
    assert accel.dram_timing.burst_bytes == 32 and cfg.dram.row_bytes == 2048
    assert cfg.dram.tRAS + cfg.dram.tRP == 97  # 68 + 29, the memspec's RC


def test_eie_like_matches_the_paper():
    cfg = load_hwconfig("eie-like")
    assert cfg.mac_array.macs_per_cycle == 64 and cfg.clock == 800e6 and cfg.tech_node_nm == 45
    assert cfg.mac_array.weight_bits == 16 and cfg.decoders.entries == 16  # 4-bit indices
    assert cfg.sram.bank_size == 162 * 1024 and cfg.sram.bank_width_bits == 64
    assert cfg.sparsity.skip_pruned_weights and cfg.sparsity.skip_zero_activations


# --- DRAM presets ---------------------------------------------------------------------------------

def _base(name: str = "embedded-45nm", **changes) -> dict:
    """A shipped config as data, renamed "t", with ``changes`` (``a__b=v`` sets ``a.b``)."""
    data = yaml.safe_load((hwconfigs_dir() / f"{name}.yaml").read_text())
    data["name"] = "t"
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = data
        for p in path:
            node = node.setdefault(p, {})
        node[last] = value
    return data


def test_ddr4_preset_figures():
    cfg = parse_hwconfig(_base(dram={"preset": "DDR4-2400"}))
    d = cfg.dram
    timing = accelerator_from_config(cfg)[0].dram_timing
    assert timing.peak_bytes_per_ns == pytest.approx(19.2)  # 2400 MT/s x 8 bytes
    assert d.clock_hz == pytest.approx(1.2e9)
    assert (d.CL, d.tRCD, d.tRP, d.tRAS, d.tREFI, d.tRFC) == (16, 16, 16, 39, 4680, 313)
    assert d.devices_per_channel == 8 and d.row_bytes == 8 * 1024
    assert timing.burst_bytes == 64 and timing.burst_cycles == 4


def test_preset_overrides_any_field():
    cfg = parse_hwconfig(_base(dram={"preset": "LPDDR4-3200", "channels": 4, "tRCD": "18ns", "activate_energy": "2nJ"}))
    assert cfg.dram.channels == 4
    assert accelerator_from_config(cfg)[0].dram_timing.peak_bytes_per_ns == pytest.approx(25.6)
    assert cfg.dram.tRCD == math.ceil(18 / 0.625)  # 29 cycles: rounded up, as a controller must
    assert cfg.dram.activate_energy == pytest.approx(2e-9)
    assert cfg.dram.tRP == 29  # untouched fields keep the preset


def test_dram_without_preset_needs_every_field():
    spec = dict(DRAM_PRESETS["DDR4-2400"])
    cfg = parse_hwconfig(_base(dram=spec))
    assert cfg.dram.preset is None and cfg.dram.tRFC == 313
    del spec["tRFC"]
    with pytest.raises(ConfigError, match=r"cfg\.yaml: dram\.tRFC: Field required"):
        parse_hwconfig(_base(dram=spec), "cfg.yaml")


# --- bad configs: one clear message naming file and field ---------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def _embedded_text() -> str:
    return (hwconfigs_dir() / "embedded-45nm.yaml").read_text()


@pytest.mark.parametrize(
    "old, new, field, message",
    [
        ("  size: 512KiB", "  size: -512KiB", "sram.size", "'-512KiB' must be greater than zero"),
        ("  size: 512KiB", "  size: 0KiB", "sram.size", "must be greater than zero"),
        ("  banks: 16 ", "  banks: 0 ", "sram.banks", "greater than or equal to 1"),
        ("  banks: 16 ", "  banks: 7 ", "sram.banks", "7 banks do not divide size 512KiB"),
        ("  size: 512KiB", "  size: 512KiX", "sram.size", "'512KiX' is not a size: unknown unit 'KiX'"),
        ("clock: 800MHz", "clock: 800", "clock", "has no unit; a frequency needs one"),
        ("preset: LPDDR4-3200", "preset: LPDDR5-6400", "dram.preset", "unknown DRAM preset 'LPDDR5-6400'; known presets: LPDDR4-3200, DDR4-2400"),
        ("    weights: 384KiB", "    weights: 448KiB", "sram.split", "shares sum to 448KiB + 64KiB + 64KiB = 576KiB, more than sram.size 512KiB"),
        ("  banks: 16 ", "  bnaks: 16 ", "sram.bnaks", "unknown field; did you mean 'banks'?"),
        ("  banks: 16 ", "  banks: 16\n  colour: red ", "sram.colour", "unknown field; known fields: size, banks"),
        ("  count: 16 ", "  count: 0 ", "decoders.count", "greater than or equal to 1"),
        ("  value_bits: 8 ", "  value_bits: 16 ", "decoders", "value_bits 16 is wider than mac_array.weight_bits 8"),
        ("  bank_width_bits: 64 ", "  bank_width_bits: 60 ", "sram.bank_width_bits", "not a whole number of bytes"),
        ("  dataflow: weight-stationary", "  dataflow: row-stationary", "mac_array.dataflow", "unknown dataflow 'row-stationary'; known: weight-stationary, output-stationary, input-stationary"),
        ("  dram: drampower", "  dram: nosuch", "tables.dram", "unknown energy table 'nosuch'"),
        ("proposals_batch: 16", "proposals_batch: 0", "proposals_batch", "greater than or equal to 1"),
        ("clock: 800MHz", "clock: 1e-9Hz", "clock", "is outside 1MHz to 10GHz, the range of CMOS accelerator clocks"),
        ("clock: 800MHz", "clock: 1000000GHz", "clock", "1000000GHz is outside 1MHz to 10GHz"),
        ("  rows: 16", "  rows: 1000000000000", "mac_array.rows", "1000000000000 is more than 4096 MAC units on a side"),
        ("  cols: 16", "  cols: 4097", "mac_array.cols", "4097 is more than 4096 MAC units on a side"),
        ("preset: LPDDR4-3200", "preset: LPDDR4-3200\n  channels: 1000000000", "dram.channels",
         "1000000000 channels is more than 256; the widest memory systems built"),
        ("  count: 16 ", "  count: 1000000000 ", "decoders", "count 1000000000 is more than the 16 x 16 = 256 MAC units"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path, old, new, field, message):
    text = _embedded_text()
    assert old in text, old
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        load_hwconfig(path)
    msg = str(exc.value)
    assert msg.count("\n") == 0, msg  # one message
    assert msg.startswith(f"{path}: {field}: "), msg
    assert message in msg, msg


def test_a_binary_config_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_bytes(b"name: x\n\xcc\xff\x00")
    with pytest.raises(ConfigError, match=f"^{path}: not a text file \\(byte 8 is not UTF-8\\); expected YAML$"):
        load_hwconfig(path)


def test_repeated_key_names_the_dotted_field(tmp_path):
    text = _embedded_text().replace("  banks: 16 ", "  banks: 16\n  banks: 8 ", 1)
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_hwconfig(path)
    assert str(exc.value).startswith(f"{path}: sram.banks: key repeated (line ")


def test_dram_timing_with_a_bad_unit(tmp_path):
    text = _embedded_text().replace("preset: LPDDR4-3200", "preset: LPDDR4-3200\n  tRCD: 18xs", 1)
    with pytest.raises(ConfigError, match=r"dram: tRCD: '18xs' is neither cycles"):
        load_hwconfig(_write(tmp_path, text))


def test_unified_policy_has_no_split():
    cfg = parse_hwconfig(_base(sram={"size": "1MiB", "banks": 8, "bank_width_bits": 128, "policy": "unified"}))
    assert cfg.sram.weights_bytes == cfg.sram.size == 2**20
    with pytest.raises(ConfigError, match="sram: policy 'unified' has no fixed shares"):
        parse_hwconfig(_base(sram__policy="unified"))


def test_fractional_split():
    cfg = parse_hwconfig(_base(sram__split={"weights": 0.75, "input_activations": "12.5%", "output_activations": "64KiB"}))
    assert cfg.sram.weights_bytes == 384 * 1024
    assert cfg.sram.input_activation_bytes == 64 * 1024
    assert cfg.resolved()["sram"]["split"] == {"weights": 0.75, "input_activations": 0.125, "output_activations": "64KiB"}
    with pytest.raises(ConfigError, match="sram.split.weights: .*a bare number is a fraction"):
        parse_hwconfig(_base(sram__split={"weights": 384, "input_activations": "64KiB", "output_activations": "64KiB"}))


def test_unknown_shipped_name_lists_shipped():
    with pytest.raises(ConfigError, match="shipped: .*embedded-45nm"):
        load_hwconfig("no-such-config")
    assert issubclass(ConfigError, AccelsimError)


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_hwconfig(_write(tmp_path, "- 1\n- 2\n"))


def test_model_is_frozen():
    cfg = load_hwconfig("embedded-45nm")
    with pytest.raises(Exception):
        cfg.clock = 1.0  # type: ignore[misc]
    assert isinstance(cfg, HardwareConfig)
