"""SRAM timing (issue 13): bank access and cycle time from the table, cycles per access at the clock,
multi-cycle banks in the conflict kernel, and the figures in summary.json."""

from __future__ import annotations

import math

import numpy as np
import pytest

from test_hwconfig import _base
from accelsim.config import load_hwconfig, parse_hwconfig
from accelsim.sim.accelerator import bank_time_ns, sram_access_cycles
from accelsim.pipeline.accelerator import accelerator_from_config
from accelsim.sim.frame import simulate_frame
from accelsim.sim.sram import SramGeometry, sram_conflicts
from accelsim.tech.model import TechModel
from engine_helpers import workload


def _config(name: str = "embedded-45nm", **changes):
    return parse_hwconfig(_base(name, **changes))


def test_bank_timing_is_the_cacti_table_row():
    # 45 nm, one port, table points (no interpolation). The 1.34 ns and 3.21 ns are the table's
    # cycle_time column; its access_time column gives 1.41 ns and 2.48 ns for the same banks.
    small = TechModel(load_hwconfig("embedded-45nm"))  # 32 KiB banks, 64 bits
    assert (small.sram_access_time.value, small.sram_cycle_time.value) == (1.40915, 1.34298)
    assert small.sram_cycle_time.unit == "ns" and "size_bytes=32KiB" in small.sram_cycle_time.key
    large = TechModel(load_hwconfig("large-sram-45nm"))  # 256 KiB banks, 128 bits
    assert (large.sram_access_time.value, large.sram_cycle_time.value) == (2.47548, 3.20736)
    assert "sram_access_time" in small.figures()  # listed with its source in table_entries.json


def test_cycles_per_access_at_800_mhz():
    period = 1.25  # ns at 800 MHz
    assert sram_access_cycles(1.34298, 800e6) == 2  # ceil(1.34 / 1.25)
    assert sram_access_cycles(3.20736, 800e6) == 3  # ceil(3.21 / 1.25)
    assert sram_access_cycles(period, 800e6) == 1  # exactly one period is one cycle
    assert sram_access_cycles(0.4, 800e6) == 1
    assert sram_access_cycles(math.nan, 800e6) == 1  # no timing in the table: single-cycle, assumed
    assert bank_time_ns(1.40915, 1.34298) == 1.40915 and bank_time_ns(2.47548, 3.20736) == 3.20736
    assert bank_time_ns(math.nan, 1.2) == 1.2 and math.isnan(bank_time_ns(math.nan, math.nan))


def test_shipped_configs_cycles_per_access_and_highest_clock():
    seen = {}
    for name in ("embedded-45nm", "large-sram-45nm", "eie-like"):
        acc, entries = accelerator_from_config(load_hwconfig(name))
        seen[name] = (acc.sram.access_cycles, round(acc.sram_max_clock_hz / 1e6, 1))
        assert any(e["figure"] == "sram_access_time" for e in entries)
    # embedded: max(1.409, 1.343) ns; large: max(2.475, 3.207) ns; eie-like's 162 KiB banks interpolate
    # 2.306 ns between 128 KiB and 256 KiB. All three run at 800 MHz.
    assert seen == {"embedded-45nm": (2, 709.6), "large-sram-45nm": (3, 311.8), "eie-like": (2, 433.7)}
    # at the highest clock the embedded banks are single-cycle again
    assert accelerator_from_config(_config(clock="709MHz"))[0].sram.access_cycles == 1


def test_a_table_without_timing_leaves_the_banks_single_cycle():
    acc, entries = accelerator_from_config(_config(tables__sram="horowitz-45nm"))
    assert acc.sram.access_cycles == 1
    assert math.isnan(acc.sram_access_time_ns) and math.isnan(acc.sram_max_clock_hz)
    assert not any(e["figure"].startswith("sram_access") for e in entries)


def test_multi_cycle_banks_in_the_kernel():
    # 4 one-byte banks, 1 port, k = 2 (two cycles per access), in-order groups.
    geo = SramGeometry(4, 1, 1, access_cycles=2)
    # banks 0,1,2,3 in turn: each is free again before it is revisited -> one group per cycle
    assert sram_conflicts(np.arange(8)[:, None], geo).cycles == 8
    # banks 0,0,1: the second access to bank 0 waits until cycle 2, the third starts at 3
    r = sram_conflicts(np.array([[0], [4], [1]]), geo)
    assert (r.cycles, r.stall_cycles) == (4, 1)
    # one group with bank 0 twice and bank 1 once: starts 0, 2 (bank 0), 0 (bank 1): issue to last start
    # is 3 cycles (the brief's per-group bound ceil(2 * 2 / 1) = 4 counts the last access's second cycle,
    # which overlaps the next group)
    assert sram_conflicts(np.array([[0, 4, 1]]), geo).cycles == 3
    # the same word every cycle, without word registers or bank latches (each group re-reads it): the bank is busy,
    # 2 cycles per group
    same = np.zeros((5, 1), dtype=np.int64)
    assert sram_conflicts(same, geo, word_registers=False, bank_latches=False).cycles == 9  # starts 0, 2, 4, 6, 8
    # two ports serve a bank every cycle even at k = 2
    assert sram_conflicts(same, SramGeometry(4, 1, 2, 2), word_registers=False, bank_latches=False).cycles == 5
    # with them (the default) the row reads the word once and keeps it: one access, no stall
    r = sram_conflicts(same, geo)
    assert (r.accesses, r.register_hits, r.cycles) == (1, 4, 5)
    # another row asking for that word in the next group gets it from the bank's output latch: one access,
    # no stall; without the latch it is an access (rows do not share registers)
    r = sram_conflicts(np.array([[0, -1], [-1, 0]]), geo)
    assert (r.accesses, r.register_hits, r.latch_hits, r.cycles) == (1, 0, 1, 2)
    r = sram_conflicts(np.array([[0, -1], [-1, 0]]), geo, bank_latches=False)
    assert (r.accesses, r.register_hits, r.cycles) == (2, 0, 3)  # starts 0, 2
    # k = 3 on two banks alternating (words 0, 1, 4, 5: no latch hits): bank 0 free at 3, needed at 2 -> waits
    r = sram_conflicts(np.array([[0], [1], [4], [5]]), SramGeometry(4, 1, 1, 3))
    assert (r.cycles, r.stall_cycles) == (5, 1)  # starts 0, 1, 3, 4: the last group issues at cycle 4


def test_summary_reports_the_sram_timing():
    layers = list(workload("dense"))
    embedded, _ = accelerator_from_config(load_hwconfig("embedded-45nm"))
    f = simulate_frame(layers, embedded, 2).figures
    assert (f.sram_access_time_ns, f.sram_cycle_time_ns, f.sram_access_cycles) == (1.40915, 1.34298, 2)
    assert f.sram_max_clock_mhz == pytest.approx(1000 / 1.40915)
    assert {"sram_access_time_ns", "sram_cycle_time_ns", "sram_max_clock_mhz", "sram_access_cycles"} <= set(f.flat())
    horowitz, _ = accelerator_from_config(_config(tables__sram="horowitz-45nm"))
    g = simulate_frame(layers, horowitz, 2).figures
    assert g.sram_access_time_ns is None and g.sram_max_clock_mhz is None and g.sram_access_cycles == 1
    # the slower banks cost cycles, never save them
    fast, _ = accelerator_from_config(_config(clock="700MHz"))
    assert fast.sram.access_cycles == 1
    two = simulate_frame(layers, embedded, 2).layers
    one = simulate_frame(layers, fast, 2).layers
    assert (two["conflict_cycles"].to_numpy() >= one["conflict_cycles"].to_numpy()).all()
