"""Rendering a layout: the background, then every item painted over it far to near, then the
optics and the sensor (blur, black level, noise, JPEG). Pixels are planar (3, HEIGHT, WIDTH)
float32 until the end; the pixel stream gives the texture offsets of the background, the sensor
noise and nothing else."""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image

from accelsim.detect.datasets.synthetic.background import background
from accelsim.detect.datasets.synthetic.raster import paste_region, rasterise
from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH, Item, Layout, Scene
from accelsim.detect.datasets.synthetic.textures import noise_tiles, vignette_r2


def paint(img, it: Item, x0, y0, pm, sc: Scene):
    """Paint item ``it``, rasterised as part map ``pm`` at ``(x0, y0)``, into the planar ``img``:
    its colours with texture, stripes, side light, a darker rim, shade, shop glass, vignetting and
    haze."""
    reg = paste_region(x0, y0, *pm.shape)
    if reg is None:
        return
    fr, cr = reg
    sub = pm[cr]
    mask = sub > 0
    if not mask.any():
        return
    h, w = sub.shape
    oy, ox = it.tex_off
    tile = noise_tiles()["mid" if it.kind in ("tree", "planter") else "fine"]
    m = 1 + np.take(it.tex, sub) * tile[oy:oy + h, ox:ox + w]
    if it.stripes:
        parts, period, contrast, vertical = it.stripes
        coords = np.arange(w if vertical else h) + (cr[1].start if vertical else cr[0].start)
        band = 1 - ((coords // period) % 2 == 1).astype(np.float32) * (1 - contrast)
        m = np.where(np.isin(sub, parts), m * (band[None, :] if vertical else band[:, None]), m)
    # side light, a darker rim, shade, shop glass, haze
    xx = (np.arange(w, dtype=np.float32) + fr[1].start - it.centre_x) / max(it.half_w, 1.0)
    m *= (1 + sc.side_light * np.clip(xx, -1.5, 1.5))[None, :]
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    m[mask & ~inner] *= 0.82
    light = (sc.shade if sc.in_shade(it.X) else 1.0) * (0.7 if it.glass else 1.0)
    if sc.vignette > 0:
        m *= 1 - sc.vignette * vignette_r2()[fr]
    a = 1 - math.exp(-it.depth / sc.haze_m)
    gain = sc.colour_gain()
    m *= light * (1 - a)
    lut = (it.lut * gain).astype(np.float32)
    haze = (sc.haze * gain * a).astype(np.float32)
    for c in range(3):
        col = np.take(lut[:, c], sub)
        col *= m
        col += haze[c]
        np.copyto(img[c][fr], col, where=mask)


def finish_frame(img: np.ndarray, sc: Scene, rng) -> np.ndarray:
    """Optics and sensor: blur, black level, noise, JPEG (gain and vignetting are already in)."""
    k = np.float32(sc.blur)
    for _ in range(sc.blur_passes):
        for a, b, c in (((slice(None), slice(None, -2)), (slice(None), slice(1, -1)), (slice(None), slice(2, None))),
                        ((slice(None), slice(None), slice(None, -2)), (slice(None), slice(None), slice(1, -1)),
                         (slice(None), slice(None), slice(2, None)))):
            t = img[a] + img[c]
            t *= k
            mid = img[b]
            mid *= 1 - 2 * k
            mid += t
    noise = np.frombuffer(rng.bytes(HEIGHT * WIDTH), np.uint8).reshape(HEIGHT, WIDTH).astype(np.float32)
    noise += np.frombuffer(rng.bytes(HEIGHT * WIDTH), np.uint8).reshape(HEIGHT, WIDTH)
    noise -= 255.0
    noise *= sc.noise / 104.1  # triangular noise of std 104.1 before scaling
    noise += (1 - sc.contrast) * 118 + sc.offset + 0.5  # black level; + 0.5 rounds when truncating below
    img += noise
    np.clip(img, 0, 255, out=img)
    out = interleave(img)
    if sc.jpeg:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=sc.jpeg)
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("RGB"))
    return out


def interleave(planes: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 255] -> (H, W, 3) uint8, truncating."""
    out = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    for c in range(3):
        out[:, :, c] = planes[c]
    return out


def render(layout: Layout, rng, finish: bool = True) -> np.ndarray:
    """The pixels of ``layout`` from the pixel stream ``rng``: RGB uint8 (HEIGHT, WIDTH, 3). Without
    ``finish``, no blur, noise or JPEG (and no draws after the background's)."""
    sc = layout.scene
    img = background(sc, layout, rng)
    annotated = {m for g in layout.groups for m in g.members}
    for k, it in enumerate(layout.items):
        x0, y0, pm = rasterise(it.prims, clip=k not in annotated)
        paint(img, it, x0, y0, pm, sc)
    if not finish:
        img += 0.5
        np.clip(img, 0, 255, out=img)
        return interleave(img)
    return finish_frame(img, sc, rng)
