"""The accumulator buffers as a memory level of the hardware config: parsed, priced from the tables with
their source, refused with the field named, and stated by each shipped config."""

from __future__ import annotations

import pytest

from test_hwconfig import _base
from accelsim.config import load_hwconfig, parse_hwconfig
from accelsim.errors import ConfigError
from accelsim.resources import hwconfigs_dir
from accelsim.pipeline.accelerator import accelerator_from_config
from accelsim.tech.model import TechModel
from accelsim.tech.tables import TableError, load_table


def test_figures_come_from_the_small_array_table_and_scale_with_the_columns():
    cfg = parse_hwconfig(_base(accumulators={"entries": 256}))
    tech = TechModel(cfg)
    row = load_table("cacti-decoder")
    read = row.lookup("decoder", "read", tech_node_nm=45, entries=256, value_bits=24)
    area = row.lookup("decoder", "area", tech_node_nm=45, entries=256, value_bits=24)
    assert tech.accumulator_read.value == pytest.approx(read.to("pJ"))
    assert tech.accumulator_area.value == pytest.approx(16 * area.to("mm2"))  # one buffer per column
    assert "256 x 24 bits" in tech.accumulator_read.note
    without = TechModel(parse_hwconfig(_base(accumulators=None)))
    assert without.accumulator_read is None and "accumulator_read" not in without.figures()
    assert tech.area_mm2 == pytest.approx(without.area_mm2 + tech.accumulator_area.value)
    accel, entries = accelerator_from_config(cfg)
    assert accel.accumulator_entries == 256 and accel.energies.accumulator_write_pj == pytest.approx(tech.accumulator_write.value)
    assert {"accumulator_read", "accumulator_write", "accumulator_leakage", "accumulator_area"} <= {e["figure"] for e in entries}
    no_acc = accelerator_from_config(parse_hwconfig(_base(accumulators=None)))[0]
    assert accel.energies.other_leakage_mw == pytest.approx(no_acc.energies.other_leakage_mw + tech.accumulator_leakage.value)


def test_a_table_with_an_accumulator_component_prices_it_directly():
    """The matched validation case gives its peers free per-PE partial-sum registers; its table says so."""
    cfg = load_hwconfig("validation/energy/matched-16x16-ws.yaml")
    tech = TechModel(cfg)
    assert cfg.accumulators is not None and tech.accumulator_read.value == 0
    assert tech.accumulator_read.key.startswith("matched-45nm:accumulator.read")


@pytest.mark.parametrize("entries, message", [
    (0, "accumulators.entries: Input should be greater than or equal to 1"),
    ("many", "accumulators.entries: Input should be a valid integer"),
])
def test_a_malformed_level_is_refused_naming_the_field(entries, message):
    with pytest.raises(ConfigError, match=message):
        parse_hwconfig(_base(accumulators={"entries": entries}))
    with pytest.raises(ConfigError, match="accumulators.depth: unknown field"):
        parse_hwconfig(_base(accumulators={"entries": 4, "depth": 4}))


def test_a_buffer_outside_the_table_is_refused_naming_the_level_and_the_range():
    cfg = parse_hwconfig(_base(accumulators={"entries": 4096}))
    with pytest.raises(TableError, match=r"accumulators \(4096 entries of 24 bits\).*entries=4096 is outside the table \(2 \.\. 1024\)"):
        TechModel(cfg)


def test_every_shipped_config_states_its_memory_levels():
    for path in sorted(hwconfigs_dir().glob("*.yaml")):
        text = path.read_text()
        assert "Memory levels" in text, path.name
        cfg = load_hwconfig(path.stem)
        # the weight-stationary designs send partial sums down the columns, and give them buffers there
        assert (cfg.accumulators is not None) == (cfg.mac_array.dataflow == "weight-stationary"), path.name
