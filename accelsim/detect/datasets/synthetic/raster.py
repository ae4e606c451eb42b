"""Primitives and their rasterisation. A primitive is ``("p", part, (k, 2) polygon)`` or
``("e", part, (x0, y0, x1, y1) ellipse box)`` in frame pixels; ``part`` is a small integer that
indexes the item's colour and texture tables."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH


def rasterise(prims, clip: bool):
    """Paint the part ids of ``prims`` into a crop; returns (x0, y0, uint8 part map).

    Coordinates are rounded once, in frame pixels, and crops start at integer pixels, so a
    primitive covers the same frame pixels whatever crop it is painted into."""
    lo_x = lo_y = math.inf
    hi_x = hi_y = -math.inf
    for kind, _, a in prims:
        if kind == "p":
            lo_x, hi_x = min(lo_x, a[:, 0].min()), max(hi_x, a[:, 0].max())
            lo_y, hi_y = min(lo_y, a[:, 1].min()), max(hi_y, a[:, 1].max())
        else:
            lo_x, lo_y = min(lo_x, a[0]), min(lo_y, a[1])
            hi_x, hi_y = max(hi_x, a[2]), max(hi_y, a[3])
    x0, y0 = math.floor(lo_x) - 1, math.floor(lo_y) - 1
    x1, y1 = math.ceil(hi_x) + 2, math.ceil(hi_y) + 2
    if clip:
        x0, y0 = max(x0, -1), max(y0, -1)
        x1, y1 = min(x1, WIDTH + 1), min(y1, HEIGHT + 1)
    if x1 <= x0 or y1 <= y0:
        return x0, y0, np.zeros((0, 0), np.uint8)
    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    draw = ImageDraw.Draw(im)
    off = np.array([x0, y0], dtype=np.float64)
    for kind, part, a in prims:
        if kind == "p":
            draw.polygon(np.rint(a - off).astype(np.int64).ravel().tolist(), fill=part)
        else:
            b = np.rint(a - np.tile(off, 2)).astype(np.int64).tolist()
            draw.ellipse(b, fill=part)
    return x0, y0, np.asarray(im)


def paste_region(x0, y0, h, w):
    """Frame and crop slices of a crop at (x0, y0) of size (h, w), clipped to the frame."""
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, WIDTH), min(y0 + h, HEIGHT)
    if fx1 <= fx0 or fy1 <= fy0:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1)), (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
