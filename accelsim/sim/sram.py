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
* With ``broadcast`` (default) requests in one group for the same word are served by one access
  and fanned out (the usual operand broadcast); without it each request is its own access.
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
    ports: int  # accesses each bank serves per cycle

    def __post_init__(self) -> None:
        for name in ("banks", "bank_width_bytes", "ports"):
            if getattr(self, name) <= 0:
                raise ValueError(f"SramGeometry.{name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class SramConflictResult:
    groups: int
    requests: int  # non-empty slots
    accesses: int  # bank accesses after broadcast merging
    cycles: int
    stall_cycles: int  # cycles lost to bank conflicts: cycles - groups
    bank_accesses: np.ndarray  # [banks] accesses per bank


@numba.njit(cache=True)
def sram_conflict_kernel(addresses_bytes, bank_width_bytes, banks, ports, broadcast):
    """Returns (cycles, requests, accesses, bank_accesses[banks]) for a [groups, P] pattern."""
    width_shift = pow2_shift(bank_width_bytes)
    bank_shift = pow2_shift(banks)
    n_groups, width = addresses_bytes.shape
    count = np.zeros(banks, dtype=np.int64)
    bank_accesses = np.zeros(banks, dtype=np.int64)
    words = np.empty(width, dtype=np.int64)
    # Broadcast merging needs "seen this word in this group?": an open-addressing hash set whose
    # slots are stamped with the group number, so it is never cleared (O(1) per request, no sort).
    slots = 1
    while slots < 2 * width:
        slots *= 2
    slot_word = np.zeros(slots, dtype=np.int64)
    slot_group = np.full(slots, -1, dtype=np.int64)
    cycles = 0
    requests = 0
    accesses = 0
    for g in range(n_groups):
        m = 0
        for j in range(width):
            a = np.int64(addresses_bytes[g, j])
            if a < 0:
                continue
            requests += 1
            wd = fdiv(a, bank_width_bytes, width_shift)
            if broadcast:
                h = (wd * 0x9E3779B1) & (slots - 1)
                while slot_group[h] == g and slot_word[h] != wd:
                    h = (h + 1) & (slots - 1)
                if slot_group[h] == g:
                    continue  # same word already requested in this group: served by that access
                slot_group[h] = g
                slot_word[h] = wd
            words[m] = wd
            m += 1
        worst = 0
        for j in range(m):
            b = fmod(words[j], banks, bank_shift)
            count[b] += 1
            if count[b] > worst:
                worst = count[b]
        for j in range(m):  # reset only the banks touched: O(P) per group, not O(banks)
            b = fmod(words[j], banks, bank_shift)
            bank_accesses[b] += count[b]
            count[b] = 0
        accesses += m
        group_cycles = (worst + ports - 1) // ports
        cycles += group_cycles if group_cycles > 1 else 1
    return cycles, requests, accesses, bank_accesses


def sram_conflicts(addresses_bytes: np.ndarray, geometry: SramGeometry, broadcast: bool = True) -> SramConflictResult:
    """Cycles and bank conflicts of an access pattern ``[groups, P]`` (negative = empty slot)."""
    addr = np.asarray(addresses_bytes)
    if addr.ndim == 1:
        addr = addr[None, :]
    if addr.ndim != 2:
        raise ValueError("addresses_bytes must be a [groups, requests_per_group] array")
    if not np.issubdtype(addr.dtype, np.integer):
        raise ValueError("addresses_bytes must be integers")
    addr = np.ascontiguousarray(addr, dtype=np.int64)
    cycles, requests, accesses, bank_accesses = sram_conflict_kernel(
        addr, geometry.bank_width_bytes, geometry.banks, geometry.ports, broadcast)
    groups = addr.shape[0]
    return SramConflictResult(groups=groups, requests=int(requests), accesses=int(accesses), cycles=int(cycles),
                              stall_cycles=int(cycles) - groups, bank_accesses=bank_accesses)
