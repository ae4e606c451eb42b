"""Aggregated channel features for the proposal stage.

DeepPed's proposals come from LDCF (Nam, Dollar, Han 2014), a boosted detector on aggregated channel
features: colour, gradient magnitude and oriented-gradient channels summed over small cells. This module
computes a channel set of that kind (10 channels: 3 colour, 1 gradient magnitude, 6 orientation bins),
summed over ``SHRINK`` x ``SHRINK`` pixel cells, so that a sliding window over the image becomes a
sliding window over a small feature map and can be scored by one convolution.

The colour channels are an opponent-colour transform (luminance and two chroma axes) rather than CIE LUV:
what the linear scorer needs is a decorrelated colour space that separates skin/clothing from tarmac and
foliage, and the linear transform keeps the computation a single matrix product.
"""

from __future__ import annotations

import numpy as np
import torch
from numba import njit
from PIL import Image

SHRINK = 4  # px per feature cell
ORIENTATIONS = 6
CHANNELS = 3 + 1 + ORIENTATIONS

# rows: luminance, red-green, yellow-blue (inputs scaled to [0, 1])
_OPPONENT = np.array([[0.299, 0.587, 0.114], [0.5, -0.5, 0.0], [0.25, 0.25, -0.5]], dtype=np.float32)


def resize(image: np.ndarray, height: int, width: int) -> torch.Tensor:
    """Antialiased bilinear resize of an (H, W, 3) uint8 image to a (3, height, width) float tensor in
    [0, 1]. Pillow's resampler is several times faster than torch's antialiased interpolation here."""
    if (height, width) != image.shape[:2]:
        image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((width, height), Image.BILINEAR))
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / np.float32(255.0))


def channel_features(rgb: torch.Tensor) -> torch.Tensor:
    """(3, H, W) float image in [0, 1] -> (CHANNELS, H // SHRINK, W // SHRINK) cell means."""
    out = _cells(rgb.numpy() if rgb.is_contiguous() else rgb.contiguous().numpy(), _OPPONENT, SHRINK, ORIENTATIONS)
    return torch.from_numpy(out)


@njit(cache=True, nogil=True)
def _cells(rgb, opponent, shrink, n_orient):  # pragma: no cover - compiled
    # One pass per pixel: colour transform, 1-2-1 smoothed luminance gradient, orientation soft-binned
    # between its two nearest bins, all accumulated into the pixel's cell.
    _, h, w = rgb.shape
    ch, cw = h // shrink, w // shrink
    out = np.zeros((3 + 1 + n_orient, ch, cw), dtype=np.float32)
    lum = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            lum[y, x] = opponent[0, 0] * rgb[0, y, x] + opponent[0, 1] * rgb[1, y, x] + opponent[0, 2] * rgb[2, y, x]
    sm = np.empty((h, w), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            xl, xr = max(x - 1, 0), min(x + 1, w - 1)
            sm[y, x] = 0.25 * lum[y, xl] + 0.5 * lum[y, x] + 0.25 * lum[y, xr]
    for y in range(h):
        yu, yd = max(y - 1, 0), min(y + 1, h - 1)
        for x in range(w):
            lum[y, x] = 0.25 * sm[yu, x] + 0.5 * sm[y, x] + 0.25 * sm[yd, x]
    bin_width = np.pi / n_orient
    norm = 1.0 / (shrink * shrink)
    for y in range(ch * shrink):
        cy = y // shrink
        yu, yd = max(y - 1, 0), min(y + 1, h - 1)
        for x in range(cw * shrink):
            cx = x // shrink
            for c in range(3):
                out[c, cy, cx] += norm * (opponent[c, 0] * rgb[0, y, x] + opponent[c, 1] * rgb[1, y, x]
                                          + opponent[c, 2] * rgb[2, y, x])
            gx = 0.5 * (lum[y, min(x + 1, w - 1)] - lum[y, max(x - 1, 0)])
            gy = 0.5 * (lum[yd, x] - lum[yu, x])
            mag = np.sqrt(gx * gx + gy * gy)
            out[3, cy, cx] += norm * mag
            theta = _unsigned_angle(gx, gy)
            pos = theta / bin_width
            lo = int(pos)
            frac = pos - lo
            lo = lo % n_orient
            hi = (lo + 1) % n_orient
            out[4 + lo, cy, cx] += norm * mag * (1.0 - frac)
            out[4 + hi, cy, cx] += norm * mag * frac
    return out


@njit(cache=True, inline="always")
def _unsigned_angle(gx, gy):  # pragma: no cover - compiled
    # Orientation in [0, pi) from a rational approximation of atan (max error 0.0015 rad, well below the
    # 30 degree bin width); np.arctan2 was half of this module's run time.
    if gy < 0.0 or (gy == 0.0 and gx < 0.0):
        gx, gy = -gx, -gy
    ax, ay = abs(gx), gy
    if ax == 0.0 and ay == 0.0:
        return 0.0
    if ax >= ay:
        z = ay / ax
        a = z * (0.9998660 + z * z * (-0.3302995 + z * z * (0.1801410 + z * z * (-0.0851330 + z * z * 0.0208351))))
    else:
        z = ax / ay
        a = np.pi / 2 - z * (0.9998660 + z * z * (-0.3302995 + z * z * (0.1801410 + z * z * (-0.0851330 + z * z * 0.0208351))))
    return a if gx >= 0.0 else np.pi - a
