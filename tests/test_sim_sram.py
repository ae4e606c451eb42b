"""SRAM bank-conflict model: hand-computed patterns and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.sram import SramGeometry, sram_conflicts

G8 = SramGeometry(banks=8, bank_width_bytes=8, ports=1)


def strided_addresses(base_byte: int, requests: int, stride_bytes: int, groups: int = 1,
                      group_step_bytes: int = 0) -> np.ndarray:
    """``[groups, requests]`` pattern: request i of group g reads ``base + g*group_step + i*stride``."""
    g = np.arange(groups, dtype=np.int64)[:, None]
    i = np.arange(requests, dtype=np.int64)[None, :]
    return base_byte + g * group_step_bytes + i * stride_bytes


def strided_group_cycles(requests: int, stride_words: int, geometry: SramGeometry, broadcast: bool = True) -> int:
    """Reference: cycles of one group of ``requests`` word-aligned requests ``stride_words`` words apart.

    Requests ``i`` go to bank ``(b0 + i*d) mod B``, which cycles through ``B / gcd(d, B)`` banks,
    so the busiest bank gets ``ceil(P / (B / gcd(d, B)))`` of them. Stride 0 is one word: one access
    with broadcast, P accesses to one bank without."""
    d = abs(stride_words)
    if d == 0:
        worst = 1 if broadcast else requests
    else:
        banks_touched = geometry.banks // math.gcd(d, geometry.banks)
        worst = -(-requests // banks_touched)
    return max(1, -(-worst // geometry.ports))


def test_unit_stride_spreads_over_all_banks():
    r = sram_conflicts(strided_addresses(0, requests=8, stride_bytes=8, groups=10, group_step_bytes=64), G8)
    assert (r.cycles, r.stall_cycles, r.accesses) == (10, 0, 80)
    assert r.bank_accesses.tolist() == [10] * 8


def test_stride_of_banks_words_hits_one_bank():
    # 8 requests 8 words apart: all in bank 0, one port -> 8 cycles, 7 stalls, per group
    r = sram_conflicts(strided_addresses(0, requests=8, stride_bytes=64, groups=3, group_step_bytes=8), G8)
    assert (r.cycles, r.stall_cycles) == (24, 21)
    assert r.bank_accesses.tolist() == [8, 8, 8, 0, 0, 0, 0, 0]


def test_two_ports_halve_the_conflict():
    two = SramGeometry(banks=8, bank_width_bytes=8, ports=2)
    r = sram_conflicts(strided_addresses(0, requests=8, stride_bytes=64), two)
    assert (r.cycles, r.stall_cycles) == (4, 3)


def test_stride_two_words_uses_half_the_banks():
    # banks 0,2,4,6 get 2 requests each
    r = sram_conflicts(strided_addresses(0, requests=8, stride_bytes=16), G8)
    assert r.cycles == 2
    assert r.bank_accesses.tolist() == [2, 0, 2, 0, 2, 0, 2, 0]


def test_hand_written_ragged_pattern():
    pattern = np.array([
        [0, 8, 16, 24],     # banks 0,1,2,3: 1 cycle
        [0, 64, 128, -1],   # bank 0 three times: 3 cycles (2 with word registers: slot 0 holds word 0)
        [-1, -1, -1, -1],   # nothing: its issue cycle
        [4, 0, 3, 72],      # word 0 three times (broadcast: one access) + word 9 in bank 1: 1 cycle
    ])
    # Without word registers and bank latches every group is on its own.
    r = sram_conflicts(pattern, G8, word_registers=False, bank_latches=False)
    assert (r.groups, r.requests, r.accesses, r.cycles, r.stall_cycles, r.register_hits) == (4, 11, 9, 6, 2, 0)
    no_bc = sram_conflicts(pattern, G8, broadcast=False, word_registers=False, bank_latches=False)
    assert (no_bc.accesses, no_bc.cycles) == (11, 8)  # last group: 3 accesses to bank 0
    # Bank latches alone: group 1 finds word 0 in bank 0's latch (group 0 read it last there), so reads
    # only words 8 and 16 (2 cycles); in group 3 bank 0's latch holds word 16, so word 0 is an access.
    r = sram_conflicts(pattern, G8, word_registers=False)
    assert (r.accesses, r.cycles, r.stall_cycles, r.register_hits, r.latch_hits) == (8, 5, 1, 0, 1)
    # With them (the default) slot 0 keeps word 0 from group 0 through the empty group to group 3: its
    # requests in groups 1 and 3 are register hits. Group 1 reads words 8 and 16 (bank 0 twice, 2
    # cycles); group 3 reads word 0 once for slots 1 and 2 (broadcast) and word 9.
    # The latches serve nothing more: slot 0's register takes group 1's word 0, and bank 0's latch holds
    # word 16 by group 3.
    r = sram_conflicts(pattern, G8)
    assert (r.groups, r.requests, r.accesses, r.cycles, r.stall_cycles, r.register_hits) == (4, 11, 8, 5, 1, 2)
    assert r.latch_hits == 0
    no_bc = sram_conflicts(pattern, G8, broadcast=False)
    assert (no_bc.accesses, no_bc.cycles, no_bc.register_hits) == (9, 6, 2)  # group 3: word 0 twice in bank 0


def test_bank_latch_serves_the_word_the_bank_read_last():
    one = SramGeometry(banks=1, bank_width_bytes=1, ports=1, access_cycles=2)
    # Two rows read word 0 in consecutive groups (kx and kx + 1 of a conv stream): the second is served by
    # the bank's output latch, so one access and no stall at k = 2 (without the latch: starts 0 and 2).
    pair = np.array([[0, -1], [-1, 0]])
    r = sram_conflicts(pair, one)
    assert (r.accesses, r.latch_hits, r.register_hits, r.cycles, r.stall_cycles) == (1, 1, 0, 2, 0)
    r = sram_conflicts(pair, one, bank_latches=False)
    assert (r.accesses, r.latch_hits, r.cycles, r.stall_cycles) == (2, 0, 3, 1)
    # A different word read by the bank replaces the latched one: word 0, word 1, word 0 from three rows
    # on one bank are three accesses (starts 0, 2, 4); on two banks word 1 leaves bank 0's latch alone.
    three = np.array([[0, -1, -1], [-1, 1, -1], [-1, -1, 0]])
    r = sram_conflicts(three, one)
    assert (r.accesses, r.latch_hits, r.cycles) == (3, 0, 5)
    r = sram_conflicts(three, SramGeometry(banks=2, bank_width_bytes=1, ports=1, access_cycles=2))
    assert (r.accesses, r.latch_hits, r.cycles) == (2, 1, 3)
    # A group sees the latch as it issues: row 2 still gets word 0 although row 1's access to word 1 in the
    # same group replaces it afterwards (word 1 starts at 2: the bank is busy with word 0 until then).
    r = sram_conflicts(np.array([[0, -1, -1], [-1, 1, 0]]), one)
    assert (r.accesses, r.latch_hits, r.cycles) == (2, 1, 3)
    # Within one group the word is not back yet: without broadcast a second request is a second access.
    r = sram_conflicts(np.array([[0, 0]]), one, broadcast=False, word_registers=False)
    assert (r.accesses, r.latch_hits) == (2, 0)


def test_bank_width_groups_bytes_into_words():
    wide = SramGeometry(banks=4, bank_width_bytes=16, ports=1)
    r = sram_conflicts(np.array([[0, 16, 32, 48, 64]]), wide)  # words 0..4: bank 0 twice
    assert r.cycles == 2


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match="banks"):
        SramGeometry(banks=0, bank_width_bytes=8, ports=1)
    with pytest.raises(ValueError, match="integers"):
        sram_conflicts(np.array([[0.5]]), G8)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 64), st.integers(0, 40), st.integers(1, 33), st.integers(1, 3), st.integers(1, 16),
       st.integers(0, 100), st.booleans())
def test_strided_formula_equals_kernel(requests, stride_words, banks, ports, width, base_word, broadcast):
    geo = SramGeometry(banks=banks, bank_width_bytes=width, ports=ports)
    pattern = strided_addresses(base_word * width, requests, stride_words * width)
    r = sram_conflicts(pattern, geo, broadcast)
    assert r.cycles == strided_group_cycles(requests, stride_words, geo, broadcast)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 64), st.integers(1, 32), st.integers(1, 32), st.integers(1, 3), st.integers(0, 50))
def test_more_banks_never_more_conflicts_for_sequential_access(requests, banks, extra, ports, groups):
    pattern = strided_addresses(0, requests, 8, groups=groups, group_step_bytes=8 * requests)
    few = sram_conflicts(pattern, SramGeometry(banks, 8, ports))
    more = sram_conflicts(pattern, SramGeometry(banks + extra, 8, ports))
    assert more.stall_cycles <= few.stall_cycles


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.integers(1, 3), st.integers(1, 8),
       st.lists(st.lists(st.integers(-3, 200), min_size=1, max_size=9), min_size=1, max_size=20))
def test_kernel_equals_numpy_reference(banks, ports, width, rows):
    p = max(len(r) for r in rows)
    pattern = np.full((len(rows), p), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        pattern[i, : len(r)] = r
    geo = SramGeometry(banks, width, ports)
    for latches in (False, True):
        got = sram_conflicts(pattern, geo, bank_latches=latches)
        cycles = 0
        register = np.full(p, -1)  # each slot's last word
        latch = np.full(banks, -1)  # each bank's last word read (in an earlier group)
        for row in pattern:
            word = np.where(row >= 0, row // width, -1)
            fetch = (word >= 0) & (word != register)  # what the slot registers cannot serve
            register = np.where(word >= 0, word, register)
            words = np.array(list(dict.fromkeys(word[fetch].tolist())), dtype=np.int64)  # broadcast, slot order
            if latches:
                words = words[latch[words % banks] != words]  # the latches as the group issues
                latch[words % banks] = words  # the bank's last access in the group (numpy: last wins)
            worst = np.bincount(words % banks, minlength=banks).max() if words.size else 0
            cycles += max(1, -(-worst // ports))
        assert got.cycles == cycles
        assert got.stall_cycles >= 0 and got.bank_accesses.sum() == got.accesses <= got.requests
        assert got.register_hits + got.latch_hits <= got.requests - got.accesses


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12), st.integers(1, 3), st.sampled_from([1, 2, 4, 8]), st.integers(1, 4), st.booleans(),
       st.lists(st.lists(st.integers(-3, 120), min_size=1, max_size=9), min_size=1, max_size=30))
def test_word_registers_never_add_accesses_and_faster_banks_never_add_stalls(banks, ports, width, k, broadcast,
                                                                            rows):
    p = max(len(r) for r in rows)
    pattern = np.full((len(rows), p), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        pattern[i, : len(r)] = r
    results = [sram_conflicts(pattern, SramGeometry(banks, width, ports, kk), broadcast) for kk in (k + 1, k)]
    for r in results:
        assert r.register_hits + r.accesses <= r.requests and r.bank_accesses.sum() == r.accesses
    # which requests the registers serve depends on the stream only, not on the banks' speed
    assert results[0].accesses == results[1].accesses and results[0].register_hits == results[1].register_hits
    assert results[1].stall_cycles <= results[0].stall_cycles  # k fell: stalls never rise
    # so do the latches (the last word each bank read is the stream's, whatever the timing)
    assert results[0].latch_hits == results[1].latch_hits
    geo = SramGeometry(banks, width, ports, k)
    # registers only remove accesses (checked without latches: a register hit leaves the latch to an older
    # word, which can cost another slot a latch hit)
    unlatched = sram_conflicts(pattern, geo, broadcast, bank_latches=False)
    plain = sram_conflicts(pattern, geo, broadcast, word_registers=False, bank_latches=False)
    assert unlatched.accesses <= plain.accesses and plain.register_hits == 0
    # latches only remove accesses: they see the requests the registers and broadcast leave, whatever they hold
    for registers in (False, True):
        on = sram_conflicts(pattern, geo, broadcast, word_registers=registers)
        off = sram_conflicts(pattern, geo, broadcast, word_registers=registers, bank_latches=False)
        assert on.accesses + on.latch_hits == off.accesses and off.latch_hits == 0
