"""Integer division helpers for the kernels: memory geometries are almost always powers of two, and a
shift or mask costs a cycle where a 64-bit division by a run-time divisor costs tens. Operands must be
non-negative (addresses, counts)."""

from __future__ import annotations

import numba


@numba.njit(cache=True)
def pow2_shift(divisor):
    """log2(divisor) when it is a power of two, else -1 (fdiv/fmod then divide for real)."""
    if divisor <= 0 or divisor & (divisor - 1) != 0:
        return -1
    shift = 0
    while (1 << shift) < divisor:
        shift += 1
    return shift


@numba.njit(cache=True, inline="always")
def fdiv(a, divisor, shift):
    return a >> shift if shift >= 0 else a // divisor


@numba.njit(cache=True, inline="always")
def fmod(a, divisor, shift):
    return a & (divisor - 1) if shift >= 0 else a % divisor
