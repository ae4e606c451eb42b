"""Fixed per-pixel fields, the same for every frame: noise tiles (textures that frames sample at
random offsets) and the squared radius of the vignetting."""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH

TILE = 512  # px, side of a noise tile


@functools.cache
def noise_tiles() -> dict[str, np.ndarray]:
    """Unit-variance Gaussian noise at three scales: ``fine``, ``mid`` and ``blotch``."""
    g = np.random.default_rng(0x5CE7E)
    out = {}
    for name, sigma in (("fine", 0.6), ("mid", 2.5), ("blotch", 14.0)):
        t = ndimage.gaussian_filter(g.standard_normal((TILE, TILE)), sigma, mode="wrap")
        t = (t - t.mean()) / t.std()
        # wrap-padded so that any HEIGHT x WIDTH window at an offset below TILE is one slice
        out[name] = np.pad(t, ((0, HEIGHT), (0, WIDTH)), mode="wrap").astype(np.float32)
    return out


def noise_window(rng, name, h, w):
    """An ``h`` x ``w`` window of noise tile ``name`` at a random offset."""
    oy, ox = rng.integers(0, TILE, 2)
    return noise_tiles()[name][oy:oy + h, ox:ox + w]


@functools.cache
def vignette_r2() -> np.ndarray:
    """(HEIGHT, WIDTH) squared distance from the image centre, 1 at the corners."""
    y = (np.arange(HEIGHT, dtype=np.float32) + 0.5 - HEIGHT / 2) / (HEIGHT / 2)
    x = (np.arange(WIDTH, dtype=np.float32) + 0.5 - WIDTH / 2) / (WIDTH / 2)
    return ((x[None, :] ** 2 + y[:, None] ** 2) / 2).astype(np.float32)
