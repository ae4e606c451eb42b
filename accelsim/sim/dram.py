"""DRAM burst-stream model: row-buffer hits and misses, time and energy of a transfer.

Conventions (the engine relies on these; tests pin them with hand-computed cases):

Address mapping
    A byte address is split, most significant first, as ``row : bank : column : channel : offset``.
    ``offset`` is the byte within one burst (``burst_bytes = burst_length * bus_width_bits / 8``, the
    data one channel moves per burst). Channels interleave at burst granularity: global burst ``b``
    goes to channel ``b % channels`` as that channel's local burst ``lb = b // channels``. Within a
    channel, ``column = lb % bursts_per_row``, ``bank = (lb // bursts_per_row) % banks`` and
    ``row = lb // (bursts_per_row * banks)``. So a sequential stream fills one row of one bank, then
    moves to the next bank, and returns to a bank only after all banks' rows have been used.
    ``row_bytes`` is the page one channel sees (device row size times devices per rank).

Timing (in DRAM clock cycles, ``tck_ns`` each)
    Open-page policy, one row open per bank. Each channel serves its bursts in order, one at a time
    (no look-ahead: a controller that prepared the next bank while the bus is busy would hide some
    misses, so this model is an upper bound on time for streams with many row switches).
    * hit: the burst occupies the data bus for ``burst_length / 2`` cycles (double data rate).
    * miss: precharge (``tRP``), activate (``tRCD``), then the data. The precharge waits until the
      bank's previous activate is at least ``tRAS`` old. Every bank starts with some *other* row
      open (steady state of open-page traffic), so the first access to a bank is a miss that costs
      ``tRP + tRCD``; pass ``open_rows`` to continue from an earlier stream's row state.
    * CAS latency ``CL`` is paid once per stream: column commands are pipelined, so only the first
      data waits for it. Writes use ``CL`` too (write latency and read/write turnaround are ignored).
    * channels run in parallel: the stream's busy time is the slowest channel's, plus ``CL``.
    * refresh: ``tRFC`` of every ``tREFI`` is lost, applied as a bandwidth derating
      ``cycles = busy_cycles * tREFI / (tREFI - tRFC)``; refresh closing rows is ignored.

Coalescing
    A transfer range covers whole bursts. When a range starts in the burst the previous range (same
    direction) ended in, that burst is not fetched twice (the DMA coalesces adjacent requests), so a
    contiguous transfer costs the same however it is cut into ranges.

Energy (picojoules)
    ``bits moved * pJ/bit`` (whole bursts, so partial-burst overfetch costs energy) +
    ``activations * act_pre_nj * 1000`` + ``background_mw * time_ns`` (1 mW x 1 ns = 1 pJ), the last
    over the stream's own duration; the engine may charge background over the whole frame instead
    (it is reported apart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from accelsim.sim._intmath import fdiv, fmod, pow2_shift

# Activate time of a bank whose last activate is "long ago": tRAS can never hold its precharge back.
_LONG_AGO_CYCLES = -(1 << 40)
# A row number no real row has: the bank has some other row open.
OTHER_ROW = -1


@dataclass(frozen=True)
class DramTiming:
    """Geometry and timings of the DRAM interface; all timings in DRAM clock cycles."""

    tck_ns: float  # clock period
    burst_length: int  # beats per burst (BL8, BL16)
    bus_width_bits: int  # data width of one channel
    channels: int  # independent channels, interleaved at burst granularity
    banks: int  # banks per channel
    row_bytes: int  # page size one channel sees (device row x devices per rank)
    trcd_cycles: int
    trp_cycles: int
    cl_cycles: int
    tras_cycles: int
    trefi_cycles: int
    trfc_cycles: int

    def __post_init__(self) -> None:
        positive = ("tck_ns", "burst_length", "bus_width_bits", "channels", "banks", "row_bytes", "trefi_cycles")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"DramTiming.{name} must be > 0, got {getattr(self, name)}")
        for name in ("trcd_cycles", "trp_cycles", "cl_cycles", "tras_cycles", "trfc_cycles"):
            if getattr(self, name) < 0:
                raise ValueError(f"DramTiming.{name} must be >= 0, got {getattr(self, name)}")
        if self.burst_length % 2:
            raise ValueError(f"DramTiming.burst_length must be even (two beats per clock), got {self.burst_length}")
        if (self.burst_length * self.bus_width_bits) % 8:
            raise ValueError("DramTiming: a burst must be a whole number of bytes")
        if self.row_bytes % self.burst_bytes:
            raise ValueError(f"DramTiming.row_bytes ({self.row_bytes}) must be a multiple of the burst size ({self.burst_bytes} bytes)")
        if self.trfc_cycles >= self.trefi_cycles:
            raise ValueError("DramTiming: trfc_cycles must be below trefi_cycles")

    @property
    def burst_bytes(self) -> int:
        """Bytes one channel moves in one burst."""
        return self.burst_length * self.bus_width_bits // 8

    @property
    def burst_cycles(self) -> int:
        """Data-bus cycles of one burst (double data rate: two beats per cycle)."""
        return self.burst_length // 2

    @property
    def bursts_per_row(self) -> int:
        return self.row_bytes // self.burst_bytes

    @property
    def refresh_derating(self) -> float:
        """Factor (>= 1) by which refresh stretches busy time."""
        return self.trefi_cycles / (self.trefi_cycles - self.trfc_cycles)

    @property
    def peak_bytes_per_cycle(self) -> float:
        """All channels, every cycle carrying two beats, no misses and no refresh."""
        return self.channels * self.bus_width_bits / 8 * 2

    @property
    def peak_bytes_per_ns(self) -> float:
        return self.peak_bytes_per_cycle / self.tck_ns


@dataclass(frozen=True)
class DramEnergy:
    """Energy figures of the DRAM; ``background_mw`` is the whole DRAM's (all channels) standby power."""

    read_pj_per_bit: float
    write_pj_per_bit: float
    act_pre_nj: float  # one activate + its precharge
    background_mw: float

    def __post_init__(self) -> None:
        for name in ("read_pj_per_bit", "write_pj_per_bit", "act_pre_nj", "background_mw"):
            if getattr(self, name) < 0:
                raise ValueError(f"DramEnergy.{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class DramStreamResult:
    read_bursts: int
    write_bursts: int
    row_hits: int
    row_misses: int  # = activations (each miss activates one row)
    busy_cycles: int  # slowest channel's bus time + CL, before refresh
    cycles: float  # busy_cycles with the refresh derating
    time_ns: float
    read_bytes: int  # moved on the bus (whole bursts)
    write_bytes: int
    energy_rw_pj: float
    energy_act_pre_pj: float
    energy_background_pj: float

    @property
    def energy_pj(self) -> float:
        return self.energy_rw_pj + self.energy_act_pre_pj + self.energy_background_pj


# --------------------------------------------------------------------------------------------------
# Kernels. Both advance the same per-channel state machine; ``_serve`` is the single definition of
# what a run of bursts in one row costs, so the detailed and the sequential model cannot drift apart
# (tests check both against a burst-by-burst reference).


@numba.njit(cache=True, inline="always")
def _serve(chan, bank, row, n_bursts, open_rows, last_act_cycles, bus_free_cycles, burst_cycles, trp, trcd, tras):
    """Serve ``n_bursts`` consecutive bursts to one row of one bank; returns 1 if the first missed."""
    t = bus_free_cycles[chan]
    miss = 0
    if open_rows[chan, bank] != row:
        miss = 1
        pre = max(t, last_act_cycles[chan, bank] + tras)
        act = pre + trp
        last_act_cycles[chan, bank] = act
        open_rows[chan, bank] = row
        t = act + trcd
    bus_free_cycles[chan] = t + n_bursts * burst_cycles
    return miss


@numba.njit(cache=True, inline="always")
def _serve_bursts(b_first, b_last, channels, banks, bursts_per_row, open_rows, last_act_cycles, bus_free_cycles,
                  burst_cycles, trp, trcd, tras, shifts):
    """Serve global bursts ``b_first..b_last`` in address order; returns the misses.

    Channels are independent, so each channel's share is served in turn, one row segment at a time
    (a segment's bursts after the first are hits): O(channels + rows touched), not O(bursts).
    ``shifts`` = pow2 shifts of (channels, bursts_per_row, banks)."""
    ch_sh, bpr_sh, bank_sh = shifts[0], shifts[1], shifts[2]
    if b_first == b_last:  # one burst (scattered streams): skip the per-channel loop
        lb = fdiv(b_first, channels, ch_sh)
        seg = fdiv(lb, bursts_per_row, bpr_sh)
        return _serve(fmod(b_first, channels, ch_sh), fmod(seg, banks, bank_sh), fdiv(seg, banks, bank_sh), 1,
                      open_rows, last_act_cycles, bus_free_cycles, burst_cycles, trp, trcd, tras)
    misses = 0
    for chan in range(channels):
        # this channel's local bursts: global b in [b_first, b_last] with b % channels == chan
        l0 = fdiv(b_first - chan + channels - 1, channels, ch_sh) if b_first > chan else 0
        l1 = fdiv(b_last - chan, channels, ch_sh) if b_last >= chan else -1
        lb = l0
        while lb <= l1:
            seg = fdiv(lb, bursts_per_row, bpr_sh)  # global row segment index: bank-major inside a row
            seg_end = min(l1, (seg + 1) * bursts_per_row - 1)
            misses += _serve(chan, fmod(seg, banks, bank_sh), fdiv(seg, banks, bank_sh), seg_end - lb + 1,
                             open_rows, last_act_cycles, bus_free_cycles, burst_cycles, trp, trcd, tras)
            lb = seg_end + 1
    return misses


@numba.njit(cache=True)
def _shifts(channels, bursts_per_row, banks):
    out = np.empty(3, dtype=np.int64)
    out[0] = pow2_shift(channels)
    out[1] = pow2_shift(bursts_per_row)
    out[2] = pow2_shift(banks)
    return out


@numba.njit(cache=True)
def dram_stream_kernel(starts_bytes, lengths_bytes, is_write, burst_bytes, channels, banks, bursts_per_row,
                       burst_cycles, trp, trcd, tras, open_rows):
    """Serve transfer ranges in order. ``open_rows`` [channels, banks] is updated in place.

    Returns (read_bursts, write_bursts, hits, misses, bus_end_cycles[channels])."""
    last_act = np.full((channels, banks), _LONG_AGO_CYCLES, dtype=np.int64)
    bus_free = np.zeros(channels, dtype=np.int64)
    shifts = _shifts(channels, bursts_per_row, banks)
    bb_sh = pow2_shift(burst_bytes)
    read_bursts = 0
    write_bursts = 0
    misses = 0
    prev_burst = -1
    prev_write = False
    for i in range(starts_bytes.shape[0]):
        n = np.int64(lengths_bytes[i])
        if n <= 0:
            continue
        w = bool(is_write[i])
        first = fdiv(np.int64(starts_bytes[i]), burst_bytes, bb_sh)
        last = fdiv(np.int64(starts_bytes[i]) + n - 1, burst_bytes, bb_sh)
        if first == prev_burst and w == prev_write:
            first += 1  # coalesced with the previous range's last burst
        if last >= first:
            misses += _serve_bursts(first, last, channels, banks, bursts_per_row, open_rows, last_act, bus_free,
                                    burst_cycles, trp, trcd, tras, shifts)
            if w:
                write_bursts += last - first + 1
            else:
                read_bursts += last - first + 1
        prev_burst = last
        prev_write = w
    total = read_bursts + write_bursts
    return read_bursts, write_bursts, total - misses, misses, bus_free


@numba.njit(cache=True)
def dram_sequential_kernel(start_byte, n_bytes, burst_bytes, channels, banks, bursts_per_row,
                           burst_cycles, trp, trcd, tras, open_rows):
    """One contiguous range. Returns (bursts, hits, misses, bus_end_cycles[channels])."""
    last_act = np.full((channels, banks), _LONG_AGO_CYCLES, dtype=np.int64)
    bus_free = np.zeros(channels, dtype=np.int64)
    if n_bytes <= 0:
        return 0, 0, 0, bus_free
    b0 = start_byte // burst_bytes
    b1 = (start_byte + n_bytes - 1) // burst_bytes
    misses = _serve_bursts(b0, b1, channels, banks, bursts_per_row, open_rows, last_act, bus_free,
                           burst_cycles, trp, trcd, tras, _shifts(channels, bursts_per_row, banks))
    bursts = b1 - b0 + 1
    return bursts, bursts - misses, misses, bus_free


# --------------------------------------------------------------------------------------------------


def new_open_rows(timing: DramTiming) -> np.ndarray:
    """Row state in which every bank holds some other row (the default start of a stream)."""
    return np.full((timing.channels, timing.banks), OTHER_ROW, dtype=np.int64)


def _check_open_rows(open_rows: np.ndarray | None, timing: DramTiming) -> np.ndarray:
    if open_rows is None:
        return new_open_rows(timing)
    if open_rows.shape != (timing.channels, timing.banks) or open_rows.dtype != np.int64:
        raise ValueError(f"open_rows must be int64 of shape ({timing.channels}, {timing.banks})")
    return open_rows


def _result(timing: DramTiming, energy: DramEnergy, read_bursts: int, write_bursts: int, hits: int,
            misses: int, bus_end_cycles: np.ndarray) -> DramStreamResult:
    bursts = read_bursts + write_bursts
    busy = int(bus_end_cycles.max()) + timing.cl_cycles if bursts else 0
    cycles = busy * timing.refresh_derating
    time_ns = cycles * timing.tck_ns
    burst_bits = timing.burst_bytes * 8
    return DramStreamResult(
        read_bursts=int(read_bursts),
        write_bursts=int(write_bursts),
        row_hits=int(hits),
        row_misses=int(misses),
        busy_cycles=busy,
        cycles=cycles,
        time_ns=time_ns,
        read_bytes=int(read_bursts) * timing.burst_bytes,
        write_bytes=int(write_bursts) * timing.burst_bytes,
        energy_rw_pj=float(burst_bits) * (read_bursts * energy.read_pj_per_bit + write_bursts * energy.write_pj_per_bit),
        energy_act_pre_pj=float(misses) * energy.act_pre_nj * 1000.0,
        energy_background_pj=energy.background_mw * time_ns,
    )


def dram_stream(starts_bytes: np.ndarray, lengths_bytes: np.ndarray, is_write: np.ndarray | bool,
                timing: DramTiming, energy: DramEnergy, open_rows: np.ndarray | None = None) -> DramStreamResult:
    """Time and energy of a stream of transfer ranges ``[start, start + length)``, served in order.

    ``is_write`` is one flag per range or one for all. ``open_rows`` (from `new_open_rows`) carries
    the banks' open rows from an earlier stream and is updated in place."""
    starts = np.ascontiguousarray(starts_bytes, dtype=np.int64)
    lengths = np.ascontiguousarray(lengths_bytes, dtype=np.int64)
    if starts.shape != lengths.shape or starts.ndim != 1:
        raise ValueError("starts_bytes and lengths_bytes must be 1-D arrays of one length")
    if starts.size and (starts.min() < 0 or lengths.min() < 0):
        raise ValueError("addresses and lengths must be >= 0")
    writes = np.broadcast_to(np.asarray(is_write, dtype=np.bool_), starts.shape)
    writes = np.ascontiguousarray(writes)
    rows = _check_open_rows(open_rows, timing)
    rd, wr, hits, misses, bus_end = dram_stream_kernel(
        starts, lengths, writes, timing.burst_bytes, timing.channels, timing.banks, timing.bursts_per_row,
        timing.burst_cycles, timing.trp_cycles, timing.trcd_cycles, timing.tras_cycles, rows)
    return _result(timing, energy, rd, wr, hits, misses, bus_end)


def dram_sequential(start_byte: int, n_bytes: int, is_write: bool, timing: DramTiming, energy: DramEnergy,
                    open_rows: np.ndarray | None = None) -> DramStreamResult:
    """The same figures as `dram_stream` for one contiguous transfer, in time linear in rows touched.

    With ``banks >= 2`` and rows long enough that tRAS has passed when a bank is revisited (every
    real part), this is ``busy = CL + misses * (tRP + tRCD) + bursts * BL/2`` on the busiest channel."""
    if start_byte < 0 or n_bytes < 0:
        raise ValueError("start_byte and n_bytes must be >= 0")
    rows = _check_open_rows(open_rows, timing)
    bursts, hits, misses, bus_end = dram_sequential_kernel(
        np.int64(start_byte), np.int64(n_bytes), timing.burst_bytes, timing.channels, timing.banks,
        timing.bursts_per_row, timing.burst_cycles, timing.trp_cycles, timing.trcd_cycles, timing.tras_cycles, rows)
    rd, wr = (0, bursts) if is_write else (bursts, 0)
    return _result(timing, energy, rd, wr, hits, misses, bus_end)
