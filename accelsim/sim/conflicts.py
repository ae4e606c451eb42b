"""SRAM bank conflicts of the MAC array's operand requests (placeholder: moved from mapping)."""

from __future__ import annotations

import numpy as np

from accelsim.sim.accelerator import Accelerator
from accelsim.sim.sram import sram_conflicts
from accelsim.workload import Layer

_CONFLICTS: dict[tuple, float] = {}


def conflict_ratio(layer: Layer, accel: Accelerator, rows: int | None = None, pattern: str = "fan-in") -> float:
    """Bank-conflict stall cycles per MAC-array cycle, from the layer's real input-operand addresses,
    with ``rows`` rows of the array in use (default: all).

    Each cycle the array reads one input operand per row it uses: for weight-stationary, `rows`
    consecutive fan-in elements of one output pixel (channel, ky, kx in CHW order); for
    output-stationary, the same fan-in element for `rows` neighbouring output pixels. The kernel maps
    64 such cycles onto the banks. Results are cached by everything they depend on."""
    if layer.kind not in ("conv", "fc"):
        return 0.0
    b = accel.act_bytes
    r = min(rows or accel.rows, layer.fan_in if pattern == "fan-in" else layer.out_pixels)
    key = (layer.kind, layer.in_shape, layer.out_shape, layer.kernel, layer.stride, layer.groups, pattern, b,
           accel.sram, r)
    if key not in _CONFLICTS:
        _CONFLICTS[key] = _conflict_ratio(layer, accel, r, pattern)
    return _CONFLICTS[key]


def _conflict_ratio(layer: Layer, accel: Accelerator, r: int, pattern: str) -> float:
    b = accel.act_bytes
    cycles = 64
    if layer.kind == "fc":
        idx = np.arange(cycles * r).reshape(cycles, r) % layer.fan_in if pattern == "fan-in" else \
            np.repeat(np.arange(cycles)[:, None], r, axis=1)
        addr = idx * b
    else:
        _, h, w = layer.in_shape
        kh, kw = layer.kernel
        ho, wo = layer.out_shape[1:]
        if pattern == "fan-in":
            f = np.arange(cycles * r).reshape(cycles, r) % layer.fan_in
            c, rem = np.divmod(f, kh * kw)
            ky, kx = np.divmod(rem, kw)
            y = np.zeros_like(f)
            x = np.zeros_like(f)
        else:
            f = np.repeat(np.arange(cycles)[:, None] % layer.fan_in, r, axis=1)
            c, rem = np.divmod(f, kh * kw)
            ky, kx = np.divmod(rem, kw)
            p = np.arange(r)[None, :] % (ho * wo)
            y, x = np.divmod(p, wo)
            y, x = y * layer.stride, x * layer.stride
        addr = ((c * h + np.minimum(y + ky, h - 1)) * w + np.minimum(x + kx, w - 1)) * b
    res = sram_conflicts(np.asarray(addr, dtype=np.int64), accel.sram)
    return res.stall_cycles / res.groups


