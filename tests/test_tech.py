"""Energy/area tables: published figures by hand, CACTI check values, interpolation, refusals."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config import load_hwconfig, parse_hwconfig
from accelsim.resources import hwconfigs_dir
from accelsim.tech import Entry, TableError, TableRangeError, TechModel, load_table, lookup


# --- published figures (shared/REFERENCES.md) -----------------------------------------------------

@pytest.mark.parametrize(
    "component, params, pj",
    [
        ("adder", dict(number="int", adder_bits=8), 0.03),
        ("adder", dict(number="int", adder_bits=32), 0.1),
        ("multiplier", dict(number="int", multiplier_bits=8), 0.2),
        ("multiplier", dict(number="int", multiplier_bits=32), 3.1),
        ("adder", dict(number="float", adder_bits=16), 0.4),
        ("multiplier", dict(number="float", multiplier_bits=16), 1.1),
        ("adder", dict(number="float", adder_bits=32), 0.9),
        ("multiplier", dict(number="float", multiplier_bits=32), 3.7),
    ],
)
def test_horowitz_arithmetic(component, params, pj):
    e = lookup("horowitz-45nm", component, "compute", tech_node_nm=45, **params)
    assert e.to("pJ") == pytest.approx(pj) and "Horowitz" in e.source


@pytest.mark.parametrize("size, pj", [(8 * 1024, 10), (32 * 1024, 20), (1024 * 1024, 100)])
def test_horowitz_sram_cache_reads(size, pj):
    e = lookup("horowitz-45nm", "sram", "read", tech_node_nm=45, size_bytes=size, width_bits=64)
    assert e.value == pj and e.unit == "pJ" and "cache" in e.source


def test_horowitz_sram_interpolates_log_log():
    # Between 8 KB (10 pJ) and 32 KB (20 pJ), 16 KB is the geometric mean: 10 * sqrt(2).
    e = lookup("horowitz-45nm", "sram", "read", tech_node_nm=45, size_bytes=16 * 1024, width_bits=64)
    assert e.value == pytest.approx(10 * math.sqrt(2))
    assert "log-log interpolation" in e.note


def test_eie_scratchpad_and_dram():
    assert lookup("horowitz-45nm", "sram_scratchpad", "read", tech_node_nm=45, size_bytes=32768, width_bits=32).value == 5
    e = lookup("horowitz-45nm", "dram", "read")
    assert e.to("pJ/bit") == 20 and e.to("pJ/B") * 4 == pytest.approx(640)  # 640 pJ per 32-bit access


@pytest.mark.parametrize(
    "part, read, write, act_nj, random_read",
    [("LPDDR4-3200", 5.3, 3.9, 1.06, 9.4), ("DDR4-2400", 8.8, 7.8, 1.01, 24.6)],
)
def test_drampower_figures(part, read, write, act_nj, random_read):
    t = load_table("drampower")
    assert t.lookup("dram", "read", part=part).to("pJ/bit") == read
    assert t.lookup("dram", "write", part=part).to("pJ/bit") == write
    act = t.lookup("dram", "activate", part=part)
    assert act.to("nJ") == act_nj and "DRAMPower" in act.source
    # REFERENCES.md: random read, one burst per activate (per device: BL x width bits).
    bits = {"LPDDR4-3200": 16 * 16, "DDR4-2400": 8 * 8}[part]
    assert act.to("pJ") / bits + read == pytest.approx(random_read, abs=0.05)


def test_drampower_values_follow_from_the_memspec_currents():
    # LPDDR4 read: (IDD4R2 - IDD3N2) * VDD2 * (BL/2) tCK / (BL * width)
    lp_read = (275 - 30) * 1e-3 * 1.1 * 8 * 0.625e-9 / 256
    ddr_act = (60.75 * 55 - 44 * 39 - 38.25 * 16) * 1e-3 * 1.2 * (1 / 1.2e9)
    assert lp_read * 1e12 == pytest.approx(5.3, abs=0.05)
    assert ddr_act * 1e9 == pytest.approx(1.01, abs=0.005)


# --- generated tables: check values from REFERENCES.md ---------------------------------------------

@pytest.mark.parametrize("width, read, write, area", [(64, 25.87, 19.65, 0.209), (128, 39.33, 36.04, 0.188)])
def test_cacti_check_values(width, read, write, area):
    bank = dict(tech_node_nm=45, ports=1, size_bytes=64 * 1024, width_bits=width)
    t = load_table("cacti-sram")
    assert t.lookup("sram", "read", **bank).to("pJ") == pytest.approx(read, abs=0.005)
    assert t.lookup("sram", "write", **bank).to("pJ") == pytest.approx(write, abs=0.005)
    assert t.lookup("sram", "area", **bank).to("mm2") == pytest.approx(area, abs=0.0005)
    assert "CACTI" in t.lookup("sram", "read", **bank).source


def test_aladdin_mac_check_value():
    t = load_table("aladdin-mac")
    mac = dict(tech_node_nm=45, multiplier_bits=8, adder_bits=24)
    assert t.lookup("mac", "compute", **mac).to("pJ") == pytest.approx(1.09, abs=0.005)
    assert t.lookup("mac", "area", **mac).to("um2") == pytest.approx(885, abs=0.5)


def test_generated_tables_state_their_tools():
    for name in ("cacti-sram", "cacti-decoder", "aladdin-mac"):
        data = yaml.safe_load((hwconfigs_dir() / "tech" / f"{name}.yaml").read_text())
        assert "hwcomponents" in data["source"] and data["generated"] and data["command"].startswith("tools/cacti/")
        assert data["tools"]["hwcomponents"] != "not installed"


# --- interpolation ---------------------------------------------------------------------------------

def _sram_rows():
    data = yaml.safe_load((hwconfigs_dir() / "tech" / "cacti-sram.yaml").read_text())
    return [dict(zip(data["columns"], r)) for r in data["rows"]]


def test_interpolation_is_exact_at_every_table_point():
    t = load_table("cacti-sram")
    for row in _sram_rows():
        key = {k: row[k] for k in ("tech_node_nm", "ports", "size_bytes", "width_bits")}
        for action in ("read", "write", "leakage", "area"):
            assert t.lookup("sram", action, **key).value == row[action]


@settings(max_examples=200, deadline=None)
@given(k=st.floats(min_value=10, max_value=24), width=st.sampled_from([32, 64, 128, 256]),
       action=st.sampled_from(["read", "write", "area", "leakage"]))
def test_interpolation_lies_between_neighbours(k, width, action):
    size = 2**k
    t = load_table("cacti-sram")
    lo, hi = 2 ** math.floor(k), 2 ** math.ceil(k)
    at = lambda s: t.lookup("sram", action, tech_node_nm=45, ports=1, size_bytes=s, width_bits=width).value  # noqa: E731
    a, b, v = at(lo), at(hi), at(size)
    assert min(a, b) * (1 - 1e-12) <= v <= max(a, b) * (1 + 1e-12)


def test_interpolation_is_monotone_between_points():
    t = load_table("cacti-sram")
    sizes = [32768 * (1 + i / 20) for i in range(21)]  # 32 KiB .. 64 KiB
    vals = [t.lookup("sram", "read", tech_node_nm=45, ports=1, size_bytes=s, width_bits=64).value for s in sizes]
    steps = [b - a for a, b in zip(vals, vals[1:])]
    assert all(s >= 0 for s in steps) or all(s <= 0 for s in steps)


def test_width_interpolation_between_grid_widths():
    t = load_table("cacti-sram")
    at = lambda w: t.lookup("sram", "read", tech_node_nm=45, ports=1, size_bytes=65536, width_bits=w).value  # noqa: E731
    assert at(64) < at(96) < at(128)
    assert at(96) == pytest.approx(math.sqrt(at(64) * at(128)) ** 1, rel=0.2)


def test_multiplier_of_unequal_operands_is_exact_for_a_power_law():
    # Aladdin scales multiplier energy with the square of the width; log-log interpolation at
    # sqrt(8*16) bits then gives exactly the geometric mean of the 8- and 16-bit figures.
    t = load_table("aladdin-mac")
    e = lambda b: t.lookup("multiplier", "compute", tech_node_nm=45, multiplier_bits=b).value  # noqa: E731
    assert e(math.sqrt(8 * 16)) == pytest.approx(math.sqrt(e(8) * e(16)))


# --- out of range, bad tables ------------------------------------------------------------------------

def test_request_outside_the_table_is_reported():
    t = load_table("cacti-sram")
    with pytest.raises(TableRangeError, match=r"size_bytes=32MiB is outside the table \(1KiB \.\. 16MiB\)"):
        t.lookup("sram", "read", tech_node_nm=45, ports=1, size_bytes=32 * 2**20, width_bits=64)
    with pytest.raises(TableRangeError, match=r"no figure for tech_node_nm=28; the table has tech_node_nm in \[22, 32, 45, 65\]"):
        t.lookup("sram", "read", tech_node_nm=28, ports=1, size_bytes=65536, width_bits=64)
    with pytest.raises(TableRangeError, match="width_bits=512 is outside"):
        t.lookup("sram", "read", tech_node_nm=45, ports=1, size_bytes=65536, width_bits=512)
    with pytest.raises(TableError, match="takes parameters"):
        t.lookup("sram", "read", tech_node_nm=45)


def _table_file(tmp_path, entries, **header):
    data = {"name": "t", "kind": "entries", **header, "entries": entries}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_entry_without_source_is_refused(tmp_path):
    path = _table_file(tmp_path, [{"component": "sram", "action": "read", "value": 1.0, "unit": "pJ"}])
    with pytest.raises(TableError, match=r"t\.yaml: entries\.0\.source: no source; every figure needs one"):
        load_table(path)
    path = _table_file(tmp_path, [{"component": "sram", "action": "read", "value": 1.0, "unit": "pJ", "source": " "}])
    with pytest.raises(TableError, match="entries.0.source: empty source"):
        load_table(path)


def test_grid_without_source_is_refused(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump({
        "name": "g", "kind": "grid", "component": "sram", "exact_axes": [], "interp_axes": ["size_bytes"],
        "units": {"read": "pJ"}, "columns": ["size_bytes", "read"], "rows": [[1024, 1.0]],
    }))
    with pytest.raises(TableError, match="source: no source"):
        load_table(path)


def test_entry_with_unknown_unit_is_refused(tmp_path):
    path = _table_file(tmp_path, [{"component": "x", "action": "y", "value": 1, "unit": "pj", "source": "s"}])
    with pytest.raises(TableError, match="unknown unit 'pj'"):
        load_table(path)


def test_unknown_table_lists_shipped():
    with pytest.raises(TableError, match="shipped: .*cacti-sram"):
        load_table("nope")


# --- the figures of a config ----------------------------------------------------------------------

def test_embedded_figures_and_record_of_use():
    cfg = load_hwconfig("embedded-45nm")
    tm = TechModel(cfg)
    t = load_table("cacti-sram")
    bank = dict(tech_node_nm=45, ports=1, size_bytes=32768, width_bits=64)
    assert tm.sram_read.value == t.lookup("sram", "read", **bank).value and tm.sram_read.unit == "pJ"
    assert tm.sram_leakage.value == pytest.approx(16 * t.lookup("sram", "leakage", **bank).value)
    assert tm.sram_leakage.unit == "mW" and "x 16 banks" in tm.sram_leakage.key
    assert tm.mac.value == pytest.approx(1.09324) and tm.mac.unit == "pJ"
    assert tm.mac_area.to("um2") == pytest.approx(256 * 884.779, rel=1e-5)
    assert tm.dram_read.value == 5.3 and tm.dram_read.unit == "pJ/bit"
    assert tm.dram_activate.value == pytest.approx(1060) and tm.dram_activate.unit == "pJ"  # 1 x16 device per channel
    assert tm.dram_background.value == pytest.approx(66)  # 33 mW x 2 channels
    used = {e.key for e in tm.used()}
    assert all(e.key in used for e in tm.figures().values())
    assert all(isinstance(e, Entry) and e.source for e in tm.used())


def _embedded(**section_changes):
    data = yaml.safe_load((hwconfigs_dir() / "embedded-45nm.yaml").read_text())
    data["name"] = "t"
    for section, changes in section_changes.items():
        if isinstance(changes, dict):
            data[section] = {**data.get(section, {}), **changes}
        else:
            data[section] = changes
    return parse_hwconfig(data)


def test_ddr4_activate_is_per_channel():
    tm = TechModel(_embedded(dram={"preset": "DDR4-2400"}))
    assert tm.dram_activate.value == pytest.approx(8 * 1010)  # 8 x8 devices act together
    assert tm.dram_activate.to("pJ") / 512 + tm.dram_read.value == pytest.approx(24.6, abs=0.05)


def test_horowitz_selection_sums_mac_and_falls_back_for_leakage():
    tm = TechModel(_embedded(tables={"sram": "horowitz-45nm", "mac": "horowitz-45nm", "dram": "horowitz-45nm"}))
    assert tm.sram_read.value == 20  # 32 KiB bank, 64-bit: Horowitz's cache figure
    assert "cacti-sram" in tm.sram_write.key and "horowitz-45nm has no sram.write" in tm.sram_write.note
    assert tm.mac.value == pytest.approx(0.2 + 0.03 * (0.1 / 0.03) ** (math.log(3) / math.log(4)))
    assert tm.dram_read.value == 20 and tm.dram_activate.value == 0


def test_dram_energy_override_wins_and_names_the_config():
    tm = TechModel(_embedded(dram={"preset": "LPDDR4-3200", "read_energy_per_bit": "7pJ/bit"}))
    assert tm.dram_read.value == pytest.approx(7) and "dram.read_energy_per_bit (override)" in tm.dram_read.source


def test_unmodelled_context_is_noted():
    tm = TechModel(_embedded(sram={"ports_per_bank": 2}, tables={"sram": "horowitz-45nm"}))
    assert "not modelled by horowitz-45nm: ports=2" in tm.sram_read.note


def test_config_outside_the_table_names_the_config():
    cfg = _embedded(sram={"size": "64MiB", "banks": 2, "bank_width_bits": 64,
                          "split": {"weights": "32MiB", "input_activations": "16MiB", "output_activations": "16MiB"}})
    with pytest.raises(TableRangeError, match=r"hardware config 't': energy table cacti-sram: sram.read: size_bytes=32MiB is outside"):
        TechModel(cfg)


@pytest.mark.parametrize("name", ["embedded-45nm", "large-sram-45nm", "eie-like"])
def test_every_shipped_config_has_all_figures(name):
    tm = TechModel(load_hwconfig(name))
    for fig, entry in tm.figures().items():
        assert entry.value >= 0 and entry.source, fig
    assert tm.area_mm2 > 0 and min(tm.sram_leakage.value, tm.decoder_leakage.value, tm.mac_leakage.value) > 0
