"""SRAM bank-conflict model.

Conventions:

* Addresses are byte addresses. Banks are word-interleaved: the word ``addr // bank_width_bytes``
  lives in bank ``word % banks`` (consecutive words in consecutive banks), so unit-stride access
  spreads over all banks and a stride of ``banks`` words hits one bank only.
* An access pattern is a sequence of *groups*: the requests the datapath issues together in one
  cycle (e.g. the P operands the MAC array wants). Given as a 2-D array ``[groups, P]``; a negative
  address is an empty slot, so groups can be ragged.
* Each bank serves ``ports`` accesses per cycle. A group takes
  ``max(1, max over banks of ceil(accesses_in_bank / ports))`` cycles; a group without requests
  still takes its one issue cycle. ``stall_cycles = cycles - groups``.
* **Multi-cycle banks.** An access occupies its bank port for ``access_cycles`` (k) clock cycles:
  ``ceil(t / clock period)`` where t is the bank's access time (or random cycle time, if longer) at
  the bank's geometry (`accelsim.pipeline.accelerator`). Groups issue in order; each access starts on its bank's
  earliest free port, no earlier than its group's issue cycle, and keeps that port busy k cycles;
  the next group issues the cycle after the current group's last access has started. With k = 1 no
  port is busy beyond its cycle, so this is exactly the rule above. With k > 1 a bank-port serves
  1/k of a request per cycle: a stream that spreads over enough banks (a bank revisited no sooner
  than k cycles later) runs at one group per cycle, and a stream that keeps returning to a bank
  pays the wait; in steady state a bank hit by ``a`` accesses per group costs
  ``ceil(a / ports) * k`` cycles per group (``k * ceil(a / ports) - k + 1`` for a lone group),
  so stalls appear exactly when the banks cannot keep up with the datapath. The access latency
  itself (data back k cycles after the start) is a fixed pipeline delay, hidden by the operand
  prefetch and not counted.
* With ``broadcast`` (default) requests in one group for the same word are served by one access
  and fanned out (the usual operand broadcast); without it each request is its own access.
* **Word registers.** With ``word_registers`` (default) each request slot (column ``j`` of the
  pattern: one MAC-array row's operand port) has a register one bank word wide that holds the last
  word delivered to that slot. A request for the word the same slot received in its previous
  request (empty slots in between do not count: the register keeps its word) is served from the
  register: it is not a bank access, occupies no port and does not count in ``accesses``. This is
  the operand-staging register of real operand-fetch logic: a bank read returns a whole word (a
  64-bit word holds eight 8-bit activations) and the row consumes the operands in it over the next
  cycles instead of re-reading the SRAM for each; without it a unit-stride operand stream would
  read each word once per activation and, with multi-cycle banks, pay ``k`` cycles for each. The
  register is per slot: a word in slot ``j``'s register does not serve slot ``i`` (that is what
  ``broadcast`` does, within a group). A request served by broadcast still loads its slot's
  register. Only the immediately previous word is kept (one register, no cache): a slot that
  alternates between two words reads both every time (unless the bank latches, below, serve them). The register check comes first, so a group
  merges by broadcast only the requests the registers cannot serve.
* **Bank output latches.** With ``bank_latches`` (default) each bank keeps the last word it read in
  its read-data (output) register, as SRAM macros do: a compiled SRAM registers its read data
  (``Q`` holds until the next read), so a re-read of the word the bank's latch still holds needs no
  new array access. A request for that word, from any slot and in any later group, is served from
  the latch: it is not a bank access, occupies no port, does not count in ``accesses`` (it counts in
  ``latch_hits``) and loads its slot's register. A group sees the latches as it issues: the
  word each bank read last in an earlier group, even if one of the group's own accesses to that
  bank replaces it later (its data comes back k cycles on, after the latch has served the group); a
  word the group itself reads is not in the latch for the group, so without ``broadcast`` a second
  request for it is a second access. The latch holds the word of the bank's most
  recently issued access and is replaced by the bank's next access (to a different word: a request
  for the latched word never becomes an access); with several ports only that one word is counted,
  not one per port (conservative, and independent of the port timing, so the accesses of a stream
  do not depend on ``access_cycles``). A latch hit never waits: every access of an earlier group
  has started before the current group issues, and one of the current group is merged by
  ``broadcast`` first. The kernel models reads only (the operand streams); a write to a bank would
  replace its latched word like a read of a different word. This is what catches neighbouring MAC
  rows that read the same word one cycle apart (kernel positions kx and kx + 1 of a
  weight-stationary conv stream): different slots and different groups, so neither the word
  registers nor broadcast serve it.
* **Warm-up groups.** ``measured`` (default: all) marks the groups whose figures count. The others
  run like any group (they load word registers and occupy ports) but add nothing to the result: a
  sample of a longer stream puts the groups just before each sampled run there, so the run starts
  with the registers and ports the whole stream would leave it, not cold.
* Energy is the engine's business: it multiplies ``accesses`` (per bank if bank sizes differ) by
  the per-access energy of the bank geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from accelsim.sim._intmath import fdiv, fmod, pow2_shift


@dataclass(frozen=True)
class SramGeometry:
    banks: int
    bank_width_bytes: int  # one access reads or writes one word of this many bytes
    ports: int  # accesses each bank serves per cycle (each port one access at a time)
    access_cycles: int = 1  # clock cycles one access occupies its bank port (see the module doc)

    def __post_init__(self) -> None:
        for name in ("banks", "bank_width_bytes", "ports", "access_cycles"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SramGeometry.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class SramConflictResult:
    groups: int
    requests: int  # non-empty slots
    accesses: int  # bank accesses after word-register hits and broadcast merging
    cycles: int
    stall_cycles: int  # cycles lost to bank conflicts: cycles - groups
    bank_accesses: np.ndarray  # [banks] accesses per bank
    register_hits: int = 0  # requests served from their slot's word register (no bank access)
    latch_hits: int = 0  # requests served from their bank's output latch (no bank access)


@numba.njit(cache=True)
def sram_conflict_kernel(addresses_bytes, bank_width_bytes, banks, ports, broadcast, access_cycles, word_registers,
                         measured, bank_latches):
    """Returns (groups, cycles, requests, accesses, bank_accesses[banks], register_hits, latch_hits) of the
    ``measured`` groups of a [groups, P] pattern."""
    width_shift = pow2_shift(bank_width_bytes)
    bank_shift = pow2_shift(banks)
    n_groups, width = addresses_bytes.shape
    bank_accesses = np.zeros(banks, dtype=np.int64)
    # Per bank port, the first cycle it is free again; all free at cycle 0.
    port_free = np.zeros(banks * ports, dtype=np.int64)
    # Broadcast merging needs "seen this word in this group?": an open-addressing hash set whose
    # slots are stamped with the group number, so it is never cleared (O(1) per request, no sort).
    slots = 1
    while slots < 2 * width:
        slots *= 2
    slot_word = np.zeros(slots, dtype=np.int64)
    slot_group = np.full(slots, -1, dtype=np.int64)
    # Per request slot, the word in its register (-1: none yet).
    last_word = np.full(width, -1, dtype=np.int64)
    # Per bank, the word in its output latch (-1: none yet): the word of its last access.
    latched = np.full(banks, -1, dtype=np.int64)
    latched_group = np.full(banks, -1, dtype=np.int64)  # the group whose access latched it
    group_latch = np.full(banks, -1, dtype=np.int64)  # the word latched before that group's first access
    now = 0  # the cycle the current group issues
    requests = 0
    accesses = 0
    register_hits = 0
    latch_hits = 0
    counted_groups = 0
    counted_cycles = 0
    for g in range(n_groups):
        m = measured[g]
        last = now  # the cycle the group's last access starts (its issue cycle if it has none)
        for j in range(width):
            a = np.int64(addresses_bytes[g, j])
            if a < 0:
                continue
            if m:
                requests += 1
            wd = fdiv(a, bank_width_bytes, width_shift)
            if word_registers:
                if last_word[j] == wd:
                    if m:
                        register_hits += 1
                    continue  # the slot's register holds this word: no bank access
                last_word[j] = wd  # the access (or broadcast) below delivers it to the slot
            if broadcast:
                h = (wd * 0x9E3779B1) & (slots - 1)
                while slot_group[h] == g and slot_word[h] != wd:
                    h = (h + 1) & (slots - 1)
                if slot_group[h] == g:
                    continue  # same word already requested in this group: served by that access
                slot_group[h] = g
                slot_word[h] = wd
            b = fmod(wd, banks, bank_shift)
            if bank_latches:
                earlier = latched_group[b] < g
                if (latched[b] if earlier else group_latch[b]) == wd:
                    if m:
                        latch_hits += 1
                    continue  # the bank's output latch holds this word as the group issues: no access
                if earlier:
                    group_latch[b] = latched[b]  # what the group found in the latch
                latched[b] = wd  # the access below replaces the latched word
                latched_group[b] = g
            if m:
                bank_accesses[b] += 1
                accesses += 1
            best = b * ports  # the bank's earliest free port
            for q in range(b * ports + 1, b * ports + ports):
                if port_free[q] < port_free[best]:
                    best = q
            start = port_free[best] if port_free[best] > now else now
            port_free[best] = start + access_cycles
            if start > last:
                last = start
        if m:
            counted_groups += 1
            counted_cycles += last + 1 - now
        now = last + 1
    return counted_groups, counted_cycles, requests, accesses, bank_accesses, register_hits, latch_hits


def sram_conflicts(addresses_bytes: np.ndarray, geometry: SramGeometry, broadcast: bool = True,
                   word_registers: bool = True, measured: np.ndarray | None = None,
                   bank_latches: bool = True) -> SramConflictResult:
    """Cycles and bank conflicts of an access pattern ``[groups, P]`` (negative = empty slot), with
    within-group ``broadcast``, per-slot ``word_registers`` and per-bank output ``bank_latches``, over
    the ``measured`` groups (default all; the rest are warm-up, module docstring)."""
    addr = np.asarray(addresses_bytes)
    if addr.ndim == 1:
        addr = addr[None, :]
    if addr.ndim != 2:
        raise ValueError("addresses_bytes must be a [groups, requests_per_group] array")
    if not np.issubdtype(addr.dtype, np.integer):
        raise ValueError("addresses_bytes must be integers")
    addr = np.ascontiguousarray(addr, dtype=np.int64)
    if measured is None:
        measured = np.ones(addr.shape[0], dtype=np.bool_)
    measured = np.ascontiguousarray(measured, dtype=np.bool_)
    if measured.shape != (addr.shape[0],):
        raise ValueError("measured must be one flag per group")
    groups, cycles, requests, accesses, bank_accesses, register_hits, latch_hits = sram_conflict_kernel(
        addr, geometry.bank_width_bytes, geometry.banks, geometry.ports, broadcast, geometry.access_cycles,
        word_registers, measured, bank_latches)
    groups = int(groups)
    return SramConflictResult(groups=groups, requests=int(requests), accesses=int(accesses), cycles=int(cycles),
                              stall_cycles=int(cycles) - groups, bank_accesses=bank_accesses,
                              register_hits=int(register_hits), latch_hits=int(latch_hits))
