"""Bank conflicts of a layer's operand stream (accelsim.sim.conflicts): hand-computed streams, padding,
the average over the streamed pixels against pixel (0,0), properties, and the figures of issue 13."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config import parse_hwconfig
from accelsim.resources import hwconfigs_dir
from accelsim.sim import conflicts
from accelsim.pipeline.accelerator import accelerator_from_config
from accelsim.sim.conflicts import conflict_ratio, operand_addresses, ratio_of
from accelsim.sim.sram import SramGeometry, sram_conflicts
from accelsim.workload import Layer
from engine_helpers import accel

# A 1-channel 3x3 conv with padding 1 on a 3x3 input of 8-bit activations: element (y, x) at byte 3y + x.
CONV = Layer("c", "conv", (1, 3, 3), (1, 3, 3), (3, 3), 1, 1, padding=(1, 1))


def byte_banks(banks: int, ports: int = 1, access_cycles: int = 1, rows: int = 9, **changes):
    """An array of ``rows`` rows on ``banks`` one-byte-wide banks, 8-bit activations."""
    return accel(rows=rows, activation_bits=8, sram=SramGeometry(banks, 1, ports, access_cycles), **changes)


def test_fan_in_stream_treats_padding_as_empty_slots():
    # One fold of 9 fan-in elements per pixel; pixels in row-major order. A kernel position outside the
    # map is a zero from the datapath: -1, not a clamped address.
    addr = operand_addresses(CONV, byte_banks(8), 9, "fan-in")
    e = -1
    assert addr.tolist() == [
        [e, e, e, e, 0, 1, e, 3, 4],  # pixel (0,0): the 2x2 corner of the input
        [e, e, e, 0, 1, 2, 3, 4, 5],
        [e, e, e, 1, 2, e, 4, 5, e],
        [e, 0, 1, e, 3, 4, e, 6, 7],
        [0, 1, 2, 3, 4, 5, 6, 7, 8],  # pixel (1,1): the whole input
        [1, 2, e, 4, 5, e, 7, 8, e],
        [e, 3, 4, e, 6, 7, e, e, e],
        [3, 4, 5, 6, 7, 8, e, e, e],
        [4, 5, e, 7, 8, e, e, e, e],
    ]


def test_pixel_zero_and_the_average_differ():
    # 4 banks (bytes 0, 4, 8 in bank 0): pixel (0,0) reads bytes 0, 1, 3, 4, bank 0 twice: 2 cycles, a
    # ratio of 1. Over the 9 pixels the bank latches serve most repeats (a pixel's window overlaps its
    # predecessor's): only (0,0) and (1,1) take 2 cycles, 11 for 9 pixels. (1,1) reads bytes 0..8 after
    # (1,0) left byte 4 in bank 0's latch: bytes 0 and 8 are two accesses of bank 0. Clamping pixel
    # (0,0)'s window instead of padding it would read the full 3x3 input (3 cycles).
    four = byte_banks(4)
    addr = operand_addresses(CONV, four, 9, "fan-in")
    assert ratio_of(addr[:1], four) == 1.0
    assert [sram_conflicts(addr[:i + 1], four.sram).cycles for i in range(9)] == [2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert conflict_ratio(CONV, four) == pytest.approx(2 / 9)
    # 8 banks: byte 8 shares bank 0 with byte 0, which (1,1) reads, but bank 0's latch holds byte 0 from
    # (1,0): no stall (without the latches (1,1) took 2 cycles, 1/9)
    assert conflict_ratio(CONV, byte_banks(8)) == 0.0
    r = sram_conflicts(operand_addresses(CONV, byte_banks(8), 9, "fan-in"), byte_banks(8).sram, bank_latches=False)
    assert r.stall_cycles == 1


def test_pixels_stream_reads_one_element_of_neighbouring_pixels():
    # r = 3 neighbouring pixels (one output row) per cycle, the 9 fan-in elements in turn, then the next row.
    addr = operand_addresses(CONV, byte_banks(8, rows=3), 3, "pixels")
    assert addr.shape == (27, 3)
    assert addr[0].tolist() == [-1, -1, -1]  # row 0, (ky, kx) = (0, 0): above the input
    assert addr[4].tolist() == [0, 1, 2]  # row 0, the centre
    assert addr[9 + 3].tolist() == [-1, 3, 4]  # row 1, (1, 0): the left column is padding
    assert addr[18 + 5].tolist() == [7, 8, -1]  # row 2, (1, 2)
    assert addr[18 + 8].tolist() == [-1, -1, -1]  # row 2, (2, 2): below the input
    # consecutive bytes on 3 banks never conflict
    assert conflict_ratio(CONV, byte_banks(3, rows=3), pattern="pixels") == 0.0


def test_fc_vectors_follow_each_other_in_the_skewed_layout():
    fc = Layer("f", "fc", (4,), (3,))
    acc = byte_banks(8, rows=2, proposals_batch=2)
    # 4-byte vectors on 8 one-byte banks: 4 words share a factor with 8, so vector v starts at 5v
    assert conflicts.vector_stride_bytes(4, 1, 8) == 5
    # fold 0 for vector 0 then vector 1 (5 bytes further), then fold 1
    assert operand_addresses(fc, acc, 2, "fan-in").tolist() == [[0, 1], [5, 6], [2, 3], [7, 8]]
    assert operand_addresses(fc, acc, 2, "pixels").tolist() == [[0, 5], [1, 6], [2, 7], [3, 8]]
    # 4 banks: packed, bytes 0 and 4 would share a bank (the pixels pattern would conflict every cycle);
    # skewed, the two vectors' element k lie in neighbouring banks: no conflict in either pattern
    four = byte_banks(4, rows=2, proposals_batch=2)
    assert conflict_ratio(fc, four, pattern="pixels") == 0.0
    assert conflict_ratio(fc, four, pattern="fan-in") == 0.0


def test_skewed_stride_of_alexnet_fc6():
    # 9,216 B (fc6's input, 8-bit) on 16 banks of 8 B: 1,152 words, a multiple of 16 -> 1,153 words
    assert conflicts.vector_stride_bytes(9216, 8, 16) == 9224
    assert conflicts.vector_stride_bytes(9216, 8, 40) == 9224  # gcd(1152, 40) = 8; 1153 is prime
    assert conflicts.vector_stride_bytes(4096, 8, 3) == 4096  # 512 words: already coprime with 3 banks
    assert conflicts.vector_stride_bytes(9, 8, 16) == 24  # 2 words -> 3
    fc6 = Layer("fc6", "fc", (9216,), (4096,))
    k1 = accel(rows=16, activation_bits=8, proposals_batch=16, sram=SramGeometry(16, 8, 1, 1))
    # pixels pattern, 16 rows: element k of 16 vectors, 1,153 words apart: 16 different banks, no
    # conflict at k = 1 (packed, all 16 in one bank: 15 stalls per cycle)
    addr = operand_addresses(fc6, k1, 16, "pixels")
    assert np.diff(addr[0]).tolist() == [9224] * 15
    assert sorted((addr[0] // 8 % 16).tolist()) == list(range(16))
    assert conflict_ratio(fc6, k1, pattern="pixels") == 0.0
    packed = np.arange(16) * 9216
    assert sram_conflicts(packed[None, :], k1.sram).stall_cycles == 15
    # fan-in pattern, 16 rows: 16 bytes (2 words) of one vector a cycle, then the next vector's: no
    # conflict at k = 1
    assert conflict_ratio(fc6, k1, pattern="fan-in") == 0.0


def test_multi_cycle_banks_in_the_stream():
    # Pixels pattern, one request per cycle (rows=1) walking the fc input byte by byte: with k = 2 and
    # 2 banks, consecutive bytes alternate banks and each bank is free again when it is next needed;
    # with 1 bank every access waits for the previous one: 2 cycles per access.
    fc = Layer("f", "fc", (8,), (1,))
    assert conflict_ratio(fc, byte_banks(2, access_cycles=2, rows=1, proposals_batch=1)) == 0.0
    one = byte_banks(1, access_cycles=2, rows=1, proposals_batch=1)
    r = sram_conflicts(operand_addresses(fc, one, 1, "fan-in"), one.sram)
    assert (r.groups, r.cycles) == (8, 15)  # starts at 0, 2, ..., 14
    assert conflict_ratio(fc, one) == pytest.approx(7 / 8)


def test_word_registers_in_the_stream():
    # fc layer of 16 8-bit inputs, one vector, one row: the row reads bytes 0..15 in turn, two 8-byte
    # words. With its word register it reads each word once (2 accesses, not 16), so one bank of
    # two-cycle accesses keeps up: the second access starts at cycle 8, long after the first is done.
    fc = Layer("f", "fc", (16,), (1,))
    one = accel(rows=1, activation_bits=8, proposals_batch=1, sram=SramGeometry(1, 8, 1, 2))
    addr = operand_addresses(fc, one, 1, "fan-in")
    assert addr.ravel().tolist() == list(range(16))
    r = sram_conflicts(addr, one.sram)
    assert (r.requests, r.accesses, r.register_hits, r.cycles, r.stall_cycles) == (16, 2, 14, 16, 0)
    assert conflict_ratio(fc, one) == 0.0
    # without it (and without the bank latch) every byte is an access of the one bank: starts 0, 2, ..., 30
    r = sram_conflicts(addr, one.sram, word_registers=False, bank_latches=False)
    assert (r.accesses, r.cycles, r.stall_cycles) == (16, 31, 15)
    # the bank's latch alone does the register's work for a single row
    r = sram_conflicts(addr, one.sram, word_registers=False)
    assert (r.accesses, r.latch_hits, r.cycles, r.stall_cycles) == (2, 14, 16, 0)
    # the pixels pattern walks the same bytes in the same order on one row: the same two accesses
    assert operand_addresses(fc, one, 1, "pixels").ravel().tolist() == list(range(16))
    assert conflict_ratio(fc, one, pattern="pixels") == 0.0
    # 16-bit activations: a word serves 4 requests, still more than k = 2 cycles apart
    wide = accel(rows=1, activation_bits=16, proposals_batch=1, sram=SramGeometry(1, 8, 1, 2))
    assert conflict_ratio(fc, wide) == 0.0
    # a word serving 2 requests (32-bit activations) against k = 3: accesses every 2 cycles wait 1 each
    slow = accel(rows=1, activation_bits=32, proposals_batch=1, sram=SramGeometry(1, 8, 1, 3))
    r = sram_conflicts(operand_addresses(fc, slow, 1, "fan-in"), slow.sram)
    # accesses start at 0, 3, ..., 21, each followed by its register hit: 16 groups + 7 waits
    assert (r.accesses, r.register_hits, r.cycles, r.stall_cycles) == (8, 8, 23, 7)


def test_patterns_are_checked_and_cached_by_what_they_depend_on():
    with pytest.raises(ValueError, match="pattern"):
        conflict_ratio(CONV, byte_banks(8), pattern="rows")
    a = conflict_ratio(CONV, byte_banks(3))
    assert conflict_ratio(CONV, byte_banks(4)) != a  # the SRAM is part of the key
    assert conflict_ratio(dataclasses.replace(CONV, padding=(0, 0)), byte_banks(3)) != a  # padding too
    assert conflict_ratio(CONV, byte_banks(3, access_cycles=3)) > a  # and the cycles per access
    assert conflict_ratio(Layer("p", "pool", (1, 3, 3), (1, 1, 1), (3, 3), 3), byte_banks(4)) == 0.0


def test_a_long_stream_is_sampled_deterministically_and_close_to_the_whole():
    layer = Layer("c", "conv", (64, 27, 27), (64, 27, 27), (5, 5), 1, 1, padding=(2, 2))
    pos, measured = conflicts.stream_groups(100, 729)
    runs = conflicts.MAX_GROUPS // conflicts.RUN
    assert pos.size == runs * (conflicts.RUN + conflicts.WARM) and measured.sum() == conflicts.MAX_GROUPS
    assert np.all(np.diff(pos[measured]) > 0) and pos[-1] < 100 * 729
    # each run is preceded by the WARM groups before it, uncounted
    assert pos[: conflicts.WARM + 1].tolist() == list(range(pos[conflicts.WARM] - conflicts.WARM, pos[conflicts.WARM] + 1))
    assert not measured[: conflicts.WARM].any() and measured[conflicts.WARM: conflicts.WARM + conflicts.RUN].all()
    # With word registers and bank latches the whole stream barely stalls: 20 stall cycles in 72,900 with
    # two-cycle banks (0.716 per cycle before the latches), none with single-cycle ones. The warm-up keeps
    # the sample there: runs that started cold, all 16 rows missing their registers and every bank latch
    # empty at once, would say 0.064 (k = 2) and 0.019 (k = 1).
    for k, whole_ratio, cold in ((2, 0.0003, 0.064), (1, 0.0, 0.019)):
        acc = accel(rows=16, activation_bits=8, sram=SramGeometry(40, 8, 1, k))
        addr, m = conflicts.operand_stream(layer, acc, 16, "fan-in")
        sampled = ratio_of(addr, acc, m)
        assert sampled == conflict_ratio(layer, acc, pattern="fan-in") == ratio_of(addr, acc, m)
        old = conflicts.MAX_GROUPS
        try:
            conflicts.MAX_GROUPS = 10**9
            whole = ratio_of(operand_addresses(layer, acc, 16, "fan-in"), acc)
        finally:
            conflicts.MAX_GROUPS = old
        assert whole == pytest.approx(whole_ratio, abs=5e-5)
        assert sampled == pytest.approx(whole, rel=0.02, abs=1e-3)
        assert sampled == 0.0 and ratio_of(addr[m], acc) == pytest.approx(cold, abs=5e-4)


conv_layers = st.builds(
    lambda c, h, k, s, p: Layer("c", "conv", (c, h, h), (2, (h + 2 * p - k) // s + 1, (h + 2 * p - k) // s + 1),
                                (k, k), s, 1, padding=(p, p)),
    st.integers(1, 6), st.integers(3, 12), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1))


@settings(max_examples=60, deadline=None)
@given(conv_layers, st.integers(1, 12), st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 2, 4, 8]),
       st.integers(1, 16), st.sampled_from(["fan-in", "pixels"]))
def test_ratio_is_non_negative_and_grows_with_cycles_per_access(layer, banks, ports, k, width, rows, pattern):
    ratios = [conflict_ratio(layer, accel(rows=rows, activation_bits=8, sram=SramGeometry(banks, width, ports, kk)),
                             pattern=pattern) for kk in (k, k + 1)]
    assert 0 <= ratios[0] <= ratios[1]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.integers(1, 4), st.integers(1, 16), st.integers(1, 12), st.integers(1, 3),
       st.sampled_from([1, 2, 8]), st.sampled_from([8, 16]))
def test_unit_stride_is_conflict_free_when_banks_times_ports_cover_the_requests(fan_in, batch, rows, banks, ports,
                                                                               width, bits):
    # fc under the fan-in pattern: each cycle reads consecutive activations (unit stride in words when a
    # word holds at least one activation)
    width = max(width, bits // 8)
    if banks * ports < rows:
        banks = -(-rows // ports)
    acc = accel(rows=rows, activation_bits=bits, proposals_batch=batch, sram=SramGeometry(banks, width, ports))
    assert conflict_ratio(Layer("f", "fc", (fan_in,), (4,)), acc, pattern="fan-in") == 0.0


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 20000), st.sampled_from([1, 2, 4, 8, 16]), st.integers(1, 64))
def test_skewed_stride_is_the_smallest_coprime_word_count(vector_bytes, width, banks):
    stride = conflicts.vector_stride_bytes(vector_bytes, width, banks)
    words = stride // width
    assert stride % width == 0 and stride >= vector_bytes and np.gcd(words, banks) == 1
    assert all(np.gcd(w, banks) != 1 for w in range(-(-vector_bytes // width), words))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.integers(1, 32), st.integers(1, 16), st.integers(1, 40), st.sampled_from([1, 2, 8]),
       st.sampled_from([8, 16]))
def test_skewed_vectors_never_conflict_in_the_pixels_pattern(fan_in, batch, rows, banks, width, bits):
    # Each cycle reads one element of up to `banks` consecutive vectors: with a stride coprime with the
    # banks they lie in different banks, whatever the vector size (packed, a size that is a multiple of
    # banks x width puts them all in one bank). Single-cycle banks: the skew removes the conflicts of a
    # cycle; it does not promise that k > 1 banks keep up with the fan-in pattern, whose cycles read a
    # window of several words per vector (a stride of +-1 word modulo the banks makes the windows of
    # consecutive vectors overlap by a bank, where a packed stride of 2 words would not; the skewed
    # ratio is therefore not always below the packed one, e.g. 240 B vectors on 16 banks of 8 B, 16
    # rows, k = 2: 0.558 against 0.058).
    width = max(width, bits // 8)
    rows = min(rows, banks)
    acc = accel(rows=rows, activation_bits=bits, proposals_batch=batch, sram=SramGeometry(banks, width, 1))
    assert conflict_ratio(Layer("f", "fc", (fan_in,), (4,)), acc, pattern="pixels") == 0.0


# --- issue 13's figures: deepped-alexnet conv2 on 40 banks --------------------------------------

@lru_cache(maxsize=1)
def _alexnet_conv2() -> Layer:
    from accelsim.model.registry import get_model
    from accelsim.workload import build_workload

    entry = get_model("deepped-alexnet")
    return next(l for l in build_workload(entry.factory(), entry.input_shape) if l.name == "conv2")


def _embedded(**sram):
    data = yaml.safe_load((hwconfigs_dir() / "embedded-45nm.yaml").read_text())
    data["name"] = "issue-13"
    data["sram"].update(sram)
    return accelerator_from_config(parse_hwconfig(data))[0]


def _issue_estimate(layer: Layer, acc) -> float:
    """The estimate before issue 13: 64 cycles at output pixel (0,0), coordinates clamped into the map."""
    _, h, w = layer.in_shape
    kh, kw = layer.kernel
    f = np.arange(64 * acc.rows).reshape(64, acc.rows) % layer.fan_in
    c, rem = np.divmod(f, kh * kw)
    ky, kx = np.divmod(rem, kw)
    addr = ((c * h + np.minimum(ky, h - 1)) * w + np.minimum(kx, w - 1)) * acc.activation_bits // 8
    return sram_conflicts(addr, acc.sram, word_registers=False, bank_latches=False).stall_cycles / 64


def test_issue_13_conv2_on_40_banks():
    conv2 = _alexnet_conv2()
    assert (conv2.in_shape, conv2.kernel, conv2.groups, conv2.padding) == ((96, 27, 27), (5, 5), 2, (2, 2))
    # 40 banks of 16 KiB (640 KiB) and 32 banks of 16 KiB: single-cycle at 800 MHz, so only conflicts count
    forty, thirty_two = _embedded(size="640KiB", banks=40), _embedded(banks=32)
    assert forty.sram.access_cycles == thirty_two.sram.access_cycles == 1
    # the issue's pixel (0,0) figure (the kernel of the time: no word registers, no bank latches): its 64
    # groups read 64 x 16 different fan-in elements, so no row ever re-reads its word and the word
    # registers would change nothing
    assert _issue_estimate(conv2, forty) == pytest.approx(0.469, abs=5e-4)
    averaged = conflict_ratio(conv2, forty)
    old = conflicts.MAX_GROUPS
    try:
        conflicts.MAX_GROUPS = 10**9
        addr = operand_addresses(conv2, forty, 16, "fan-in")
    finally:
        conflicts.MAX_GROUPS = old
    whole = sram_conflicts(addr, forty.sram)
    registers = sram_conflicts(addr, forty.sram, bank_latches=False)
    latches = sram_conflicts(addr, forty.sram, word_registers=False)
    without = sram_conflicts(addr, forty.sram, word_registers=False, bank_latches=False)
    # The whole stream (75 row folds x 729 pixels): without word registers or bank latches 0.313 stalls
    # per cycle (280,674 accesses for 798,768 requests; the issue's 0.321 averaged over pixels with
    # clamped, not padded, coordinates). With the registers a row reads a word once and takes the next
    # pixels' operands from its register: 102,576 accesses (one request in 7.8), and the 40 banks keep
    # up but for 12 stall cycles in 54,675. The bank latches then serve the word that row kx + 1 reads
    # one cycle after row kx: 15,504 accesses (one request in 52), no stall. The latches alone: 33,414
    # accesses, no stall. The 2,048-group sample sees none.
    assert (whole.groups, whole.requests, whole.accesses, whole.stall_cycles) == (54675, 798768, 15504, 0)
    assert (whole.register_hits, whole.latch_hits) == (693888, 87072)
    assert (registers.accesses, registers.stall_cycles) == (102576, 12)
    assert (latches.accesses, latches.stall_cycles, latches.latch_hits) == (33414, 0, 247260)
    assert (without.accesses, round(without.stall_cycles / without.groups, 3)) == (280674, 0.313)
    assert averaged == 0.0
    assert conflict_ratio(conv2, thirty_two) == _issue_estimate(conv2, thirty_two) == 0.0
