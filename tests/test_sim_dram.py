"""DRAM burst-stream model: hand-computed cases and properties (see accelsim/sim/dram.py for the
conventions these pin down)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.dram import (
    DramEnergy,
    DramTiming,
    dram_sequential,
    dram_stream,
    new_open_rows,
)

# Round numbers so every case below is checkable by hand: 64-byte bursts taking 4 cycles,
# 16 bursts per 1 KiB row, 4 banks; refresh derating 1000 / 900.
TOY = DramTiming(tck_ns=1.0, burst_length=8, bus_width_bits=64, channels=1, banks=4, row_bytes=1024,
                 trcd_cycles=10, trp_cycles=10, cl_cycles=10, tras_cycles=20, trefi_cycles=1000, trfc_cycles=100)
TOY_E = DramEnergy(read_pj_per_bit=10.0, write_pj_per_bit=5.0, act_pre_nj=1.0, background_mw=100.0)
ROW_STRIDE_SAME_BANK = 16 * 4 * 64  # bursts per row x banks x burst bytes

# DDR4-2400 x8 from REFERENCES.md, as a 64-bit rank of 8 devices (8 KiB page).
DDR4 = DramTiming(tck_ns=0.833, burst_length=8, bus_width_bits=64, channels=1, banks=16, row_bytes=8192,
                  trcd_cycles=16, trp_cycles=16, cl_cycles=16, tras_cycles=39, trefi_cycles=4680, trfc_cycles=313)
DDR4_E = DramEnergy(read_pj_per_bit=8.8, write_pj_per_bit=7.8, act_pre_nj=1.01, background_mw=0.0)


def _reads(addresses, timing=TOY, energy=TOY_E, open_rows=None):
    a = np.asarray(addresses, dtype=np.int64)
    return dram_stream(a, np.ones_like(a), False, timing, energy, open_rows)


def test_one_row_is_one_miss_and_three_hits():
    r = _reads([0, 64, 128, 192])
    assert (r.row_hits, r.row_misses, r.read_bursts) == (3, 1, 4)
    # precharge 10 + activate 10 + 4 bursts x 4 cycles + CL 10
    assert r.busy_cycles == 10 + 10 + 16 + 10 == 46
    assert r.cycles == pytest.approx(46 * 1000 / 900)
    assert r.energy_rw_pj == pytest.approx(4 * 512 * 10.0)
    assert r.energy_act_pre_pj == pytest.approx(1000.0)
    assert r.energy_background_pj == pytest.approx(100.0 * 46 * 1000 / 900)  # mW x ns = pJ
    assert r.energy_pj == pytest.approx(20480 + 1000 + 5111.111111)


def test_four_rows_of_one_bank_are_four_misses_held_back_by_tras():
    r = _reads([0, ROW_STRIDE_SAME_BANK, 2 * ROW_STRIDE_SAME_BANK, 3 * ROW_STRIDE_SAME_BANK])
    assert (r.row_hits, r.row_misses) == (0, 4)
    # act at 10, data 20..24; next precharge waits for act + tRAS = 30: act 40, data 50..54;
    # then precharges at 60 and 90: last data 110..114; + CL 10
    assert r.busy_cycles == 124
    assert r.energy_act_pre_pj == pytest.approx(4000.0)
    assert r.energy_rw_pj == pytest.approx(4 * 512 * 10.0)


def test_four_rows_without_tras_cost_precharge_activate_and_data_each():
    fast = DramTiming(**{**TOY.__dict__, "tras_cycles": 0})
    r = _reads([0, ROW_STRIDE_SAME_BANK, 2 * ROW_STRIDE_SAME_BANK, 3 * ROW_STRIDE_SAME_BANK], timing=fast)
    assert r.busy_cycles == 4 * (10 + 10 + 4) + 10


def test_rows_in_different_banks_all_miss_first_time_and_hit_when_revisited():
    row = 16 * 64  # next bank, same row number
    r = _reads([0, row, 2 * row, 3 * row, 0, row])
    assert (r.row_misses, r.row_hits) == (4, 2)


def test_open_rows_carry_over_to_the_next_stream():
    rows = new_open_rows(TOY)
    first = _reads([0, 64, 128, 192], open_rows=rows)
    again = _reads([0, 64, 128, 192], open_rows=rows)
    assert first.row_misses == 1
    assert (again.row_misses, again.row_hits, again.busy_cycles) == (0, 4, 16 + 10)


def test_channels_interleave_bursts_and_run_in_parallel():
    two = DramTiming(**{**TOY.__dict__, "channels": 2})
    r = _reads([0, 64, 128, 192], timing=two)
    # bursts 0, 2 on channel 0 and 1, 3 on channel 1: each 1 miss + 1 hit, in parallel
    assert (r.row_misses, r.row_hits) == (2, 2)
    assert r.busy_cycles == 10 + 10 + 2 * 4 + 10


def test_writes_cost_write_energy():
    a = np.array([0], dtype=np.int64)
    r = dram_stream(a, np.array([64]), True, TOY, TOY_E)
    assert (r.write_bursts, r.read_bursts, r.write_bytes) == (1, 0, 64)
    assert r.energy_rw_pj == pytest.approx(512 * 5.0)


def test_partial_bursts_are_fetched_whole_and_adjacent_ranges_coalesce():
    r = dram_stream(np.array([10, 40, 70]), np.array([30, 30, 100]), False, TOY, TOY_E)
    # [10,40) and [40,70) lie in bursts 0 and 0..1; [70,170) in bursts 1..2: 3 bursts in all
    assert r.read_bursts == 3 and r.read_bytes == 192


def test_empty_stream_costs_nothing():
    r = dram_stream(np.zeros(0), np.zeros(0), False, TOY, TOY_E)
    assert r.busy_cycles == 0 and r.energy_pj == 0.0
    assert dram_sequential(123, 0, False, TOY, TOY_E).busy_cycles == 0


def test_ddr4_row_read_by_hand():
    r = dram_sequential(0, 8192, False, DDR4, DDR4_E)
    assert (r.read_bursts, r.row_misses) == (128, 1)
    assert r.busy_cycles == 16 + 16 + 128 * 4 + 16
    assert r.cycles == pytest.approx(560 * 4680 / (4680 - 313))
    assert r.energy_pj == pytest.approx(8192 * 8 * 8.8 + 1010.0)


def test_sequential_closed_form_for_many_rows():
    # 10 rows' worth over 16 banks: each row is a miss in a fresh bank, tRAS never binds
    r = dram_sequential(0, 10 * 8192, False, DDR4, DDR4_E)
    assert r.busy_cycles == 16 + 10 * 32 + 1280 * 4


def test_strided_tile_rows():
    # 4 rows of a 2-D tile, 128 bytes each, one DRAM row apart in the same bank
    r = dram_stream(ROW_STRIDE_SAME_BANK * np.arange(4), np.full(4, 128), False, TOY, TOY_E)
    assert (r.row_misses, r.row_hits, r.read_bursts) == (4, 4, 8)


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="row_bytes"):
        DramTiming(**{**TOY.__dict__, "row_bytes": 1000})
    with pytest.raises(ValueError, match="banks"):
        DramTiming(**{**TOY.__dict__, "banks": 0})
    with pytest.raises(ValueError, match="open_rows"):
        _reads([0], open_rows=np.zeros((2, 2), dtype=np.int64))


# -- properties -------------------------------------------------------------------------------------

timings = st.builds(
    lambda bl, width, ch, banks, rowmul, trcd, trp, cl, tras: DramTiming(
        tck_ns=1.0, burst_length=bl, bus_width_bits=width, channels=ch, banks=banks,
        row_bytes=bl * width // 8 * rowmul, trcd_cycles=trcd, trp_cycles=trp, cl_cycles=cl,
        tras_cycles=tras, trefi_cycles=1000, trfc_cycles=100),
    st.sampled_from([4, 8, 16]), st.sampled_from([16, 32, 64]), st.integers(1, 3), st.integers(1, 5),
    st.integers(1, 6), st.integers(0, 20), st.integers(0, 20), st.integers(0, 20), st.integers(0, 80))


@settings(max_examples=60, deadline=None)
@given(timings, st.integers(0, 5000), st.integers(0, 20000), st.lists(st.integers(1, 3000), max_size=8),
       st.integers(0, 2**31))
def test_sequential_equals_stream_however_the_range_is_cut(timing, start, n, cuts, seed):
    """The fast sequential model agrees with the burst-by-burst one on any partition of a range,
    from any starting row state."""
    rng = np.random.default_rng(seed)
    init = rng.integers(-1, 3, size=(timing.channels, timing.banks)).astype(np.int64)
    edges = sorted({0, n, *[c % (n + 1) for c in cuts]})
    starts = start + np.array(edges[:-1], dtype=np.int64)
    lengths = np.diff(edges).astype(np.int64)
    rows_a, rows_b = init.copy(), init.copy()
    a = dram_sequential(start, n, False, timing, TOY_E, rows_a)
    b = dram_stream(starts, lengths, False, timing, TOY_E, rows_b)
    assert (a.read_bursts, a.row_hits, a.row_misses, a.busy_cycles) == (b.read_bursts, b.row_hits, b.row_misses, b.busy_cycles)
    assert a.energy_pj == pytest.approx(b.energy_pj)
    assert np.array_equal(rows_a, rows_b)


def _burst_by_burst(starts, lengths, writes, t: DramTiming, open_rows):
    """Reference: the module docstring's rules applied one burst at a time, in plain Python."""
    bus = [0] * t.channels
    last_act = {}
    hits = misses = 0
    prev = None
    for start, n, w in zip(starts, lengths, writes):
        if n <= 0:
            continue
        bursts = range(start // t.burst_bytes, (start + n - 1) // t.burst_bytes + 1)
        for b in bursts:
            if b == bursts[0] and (b, w) == prev:
                continue  # a range starting in the previous range's last burst does not fetch it again
            ch, lb = b % t.channels, b // t.channels
            bank, row = (lb // t.bursts_per_row) % t.banks, lb // (t.bursts_per_row * t.banks)
            if open_rows[ch][bank] == row:
                hits += 1
            else:
                misses += 1
                pre = max(bus[ch], last_act.get((ch, bank), -10**12) + t.tras_cycles)
                last_act[(ch, bank)] = pre + t.trp_cycles
                bus[ch] = pre + t.trp_cycles + t.trcd_cycles
                open_rows[ch][bank] = row
            bus[ch] += t.burst_cycles
        prev = (bursts[-1], w)
    busy = max(bus) + t.cl_cycles if hits + misses else 0
    return hits, misses, busy


@settings(max_examples=80, deadline=None)
@given(timings, st.lists(st.tuples(st.integers(0, 1 << 14), st.integers(0, 700), st.booleans()), max_size=25),
       st.integers(0, 2**31))
def test_kernel_equals_burst_by_burst_reference(timing, ranges, seed):
    init = np.random.default_rng(seed).integers(-1, 3, size=(timing.channels, timing.banks)).astype(np.int64)
    starts = np.array([r[0] for r in ranges], dtype=np.int64)
    lengths = np.array([r[1] for r in ranges], dtype=np.int64)
    writes = np.array([r[2] for r in ranges], dtype=np.bool_)
    rows = init.copy()
    got = dram_stream(starts, lengths, writes, timing, TOY_E, rows)
    ref_rows = init.tolist()
    assert (got.row_hits, got.row_misses, got.busy_cycles) == _burst_by_burst(starts.tolist(), lengths.tolist(), writes.tolist(), timing, ref_rows)
    assert rows.tolist() == ref_rows


@settings(max_examples=60, deadline=None)
@given(timings, st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 4096), st.booleans()), max_size=30))
def test_never_faster_than_peak_bandwidth(timing, ranges):
    starts = np.array([r[0] for r in ranges], dtype=np.int64)
    lengths = np.array([r[1] for r in ranges], dtype=np.int64)
    writes = np.array([r[2] for r in ranges], dtype=np.bool_)
    r = dram_stream(starts, lengths, writes, timing, TOY_E)
    moved = r.read_bytes + r.write_bytes
    assert moved >= 0
    assert r.cycles >= moved / timing.peak_bytes_per_cycle - 1e-9  # at peak: no latency, misses or refresh
    assert r.busy_cycles >= (r.read_bursts + r.write_bursts) * timing.burst_cycles / timing.channels
    assert r.row_hits + r.row_misses == r.read_bursts + r.write_bursts
