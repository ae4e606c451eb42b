"""The background of a frame: sky, distant skyline, road, kerbs, pavements and markings drawn as
polygons of surface classes; facades computed analytically per pixel on their two planes; then
the per-frame palette of the classes, texture, cast shadows and shade, vignetting and haze.

The result is a planar (3, HEIGHT, WIDTH) float32 image in 0-255 units, before the objects are
painted on it and before the optics and sensor (``rendering``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH, Camera, Layout, Scene
from accelsim.detect.datasets.synthetic.textures import noise_window, vignette_r2

# Background surface classes: one colour each in a per-frame palette
_SKY_BANDS = 48  # classes 0-47: sky, top to horizon
C_SKYLINE = 48
C_ROAD, C_KERB, C_PAVE_L, C_PAVE_R, C_MARK, C_JOINT_L, C_JOINT_R, C_VERGE = range(49, 57)
C_FACADE = 64  # + 8 * segment + one of:
F_WALL, F_WINDOW, F_LEDGE, F_SHOP, F_SIGN, F_DOOR, F_EDGE = range(7)


def ground_quad(cam: Camera, X0, X1, Z0, Z1):
    """The image polygon of the ground rectangle ``[X0, X1] x [Z0, Z1]`` (m)."""
    return [(cam.x(X0, Z0), cam.y(Z0)), (cam.x(X1, Z0), cam.y(Z0)), (cam.x(X1, Z1), cam.y(Z1)),
            (cam.x(X0, Z1), cam.y(Z1))]


# --- surface classes


def ground_classes(sc: Scene) -> np.ndarray:
    """Sky, skyline and ground surfaces as polygons on the image: (HEIGHT, WIDTH) int32 classes."""
    cam = sc.cam
    im = Image.new("I", (WIDTH, HEIGHT), C_VERGE)
    draw = ImageDraw.Draw(im)
    hy = cam.hy
    for b in range(_SKY_BANDS):
        draw.rectangle([0, int(b * hy / _SKY_BANDS), WIDTH, int((b + 1) * hy / _SKY_BANDS) + 1], fill=b)
    x, blocks = 0, sc.skyline
    while x < WIDTH:
        if blocks[x] > 0:
            w = int(np.argmax(blocks[x:] != blocks[x])) or WIDTH - x
            draw.rectangle([x, int(hy - blocks[x]), x + w - 1, int(hy) + 1], fill=C_SKYLINE)
            x += w
        else:
            x += 1
    hy_row = int(math.floor(hy)) + 1
    bottom = HEIGHT + 2
    draw.rectangle([0, hy_row, WIDTH, HEIGHT], fill=C_VERGE)
    znear = cam.f * cam.hc / (bottom - hy)
    zfar = 2000.0
    for X0, X1, cls in ((-sc.wall_l, -sc.road_l - 0.25, C_PAVE_L), (-sc.road_l - 0.25, -sc.road_l, C_KERB),
                        (-sc.road_l, sc.road_r, C_ROAD), (sc.road_r, sc.road_r + 0.25, C_KERB),
                        (sc.road_r + 0.25, sc.wall_r, C_PAVE_R)):
        draw.polygon(ground_quad(cam, X0, X1, znear, zfar), fill=cls)
    _draw_markings(draw, sc, znear)
    _draw_paving_joints(draw, sc, znear)
    return np.asarray(im)


def _draw_markings(draw, sc: Scene, znear):
    """Dashed lane line, edge lines, a zebra crossing."""
    cam = sc.cam
    z = znear - (znear % 9.0)
    while z < 250:
        draw.polygon(ground_quad(cam, sc.lane_x - 0.07, sc.lane_x + 0.07, max(z, znear), z + 3.0), fill=C_MARK)
        z += 9.0
    draw.polygon(ground_quad(cam, sc.road_r - 0.33, sc.road_r - 0.2, znear, 400), fill=C_MARK)
    draw.polygon(ground_quad(cam, -sc.road_l + 0.2, -sc.road_l + 0.33, znear, 400), fill=C_MARK)
    if sc.crossing:
        z0, z1 = sc.crossing
        x = -sc.road_l + 0.3
        while x < sc.road_r - 0.3:
            draw.polygon(ground_quad(cam, x, min(x + 0.5, sc.road_r - 0.3), z0, z1), fill=C_MARK)
            x += 1.0


def _draw_paving_joints(draw, sc: Scene, znear):
    """Paving joints near the camera, across and along both pavements."""
    cam = sc.cam
    for X0, X1, cls in ((-sc.wall_l, -sc.road_l - 0.25, C_JOINT_L), (sc.road_r + 0.25, sc.wall_r, C_JOINT_R)):
        z = znear - (znear % 1.5) + 1.5
        while z < 18:
            draw.polygon(ground_quad(cam, X0, X1, z, z + 0.05), fill=cls)
            z += 1.5
        x = X0 + 1.2
        while x < X1:
            draw.polygon(ground_quad(cam, x, x + 0.04, znear, 18), fill=cls)
            x += 1.2


# --- facades, analytically per pixel on the planes X = -wall_l (left) and X = wall_r (right)


@dataclass
class _FacadeColumns:
    """The facade segment that each image column shows, and at what depth."""

    Zf: np.ndarray  # (WIDTH,) float32, m: depth of the facade plane seen in the column
    segcol: np.ndarray  # (WIDTH,) index into allseg (left side first), -1 where none
    seg: np.ndarray  # segcol, 0 where none (for indexing)
    ok: np.ndarray  # segcol >= 0
    hcol: np.ndarray  # m, height of the facade in the column (0: none, or a gap)
    allseg: dict  # the fields of the Segment of each side, concatenated left then right
    n_left: int  # segments on the left side


def _facade_columns(sc: Scene) -> _FacadeColumns:
    cam = sc.cam
    xs = np.arange(WIDTH, dtype=np.float32) + 0.5
    left_seg, right_seg = sc.sides
    nl = len(left_seg.z0)
    dx = xs - cam.cx
    Zf = np.full(WIDTH, 1e6, np.float32)
    left, right = dx < -0.5, dx > 0.5
    Zf[left] = cam.f * sc.wall_l / -dx[left]
    Zf[right] = cam.f * sc.wall_r / dx[right]
    segcol = np.full(WIDTH, -1, np.int64)
    for seg, sel, base in ((left_seg, left, 0), (right_seg, right, nl)):
        i = np.searchsorted(seg.z1, Zf[sel])
        segcol[sel] = np.where(i < len(seg.z0), i + base, -1)
    allseg = {k: np.concatenate([getattr(left_seg, k), getattr(right_seg, k)]) for k in vars(left_seg)}
    ok = segcol >= 0
    sc_ = np.where(ok, segcol, 0)
    hcol = np.where(ok & (allseg["kind"][sc_] != 3), allseg["height"][sc_], 0.0)
    return _FacadeColumns(Zf, segcol, sc_, ok, hcol, allseg, nl)


def _facade_details(cols: _FacadeColumns, v):
    """The F_* class of each facade pixel (window, ledge, shop window, shop sign, door, segment
    edge; 0 for wall) from ``v``, its height above the ground (m); with the window and shop window
    masks and ``frac``, each pixel's height within its floor (0-1), which shades the glass."""
    allseg, sc_, ok, hcol = cols.allseg, cols.seg, cols.ok, cols.hcol
    building = (allseg["kind"][sc_] == 0) & ok
    u = (cols.Zf - allseg["z0"][sc_]).astype(np.float32)
    module = allseg["module"][sc_].astype(np.float32)
    gh = allseg["ground_h"][sc_].astype(np.float32)[None, :]
    fh = allseg["floor_h"][sc_].astype(np.float32)[None, :]
    shop = allseg["shop"][sc_] & ok
    cu = (u % module) / module
    colwin = building & (np.abs(cu - 0.5) < allseg["win_frac"][sc_] / 2)
    fl = (v - gh) / fh
    frac = fl - np.floor(fl)
    upper = v > gh
    win = colwin[None, :] & upper & (frac > 0.3) & (frac < 0.82) & (v < hcol[None, :] - 0.7)
    ledge = building[None, :] & upper & (frac < 0.06)
    shopcol = shop & (np.abs(((u % (2 * module)) / (2 * module)) - 0.5) < 0.42)
    shopwin = shopcol[None, :] & (v > 0.35) & (v < gh - 0.75)
    signb = shop[None, :] & (v > gh - 0.62) & (v < gh - 0.18)
    door = (building & ~shop & (np.abs(cu - 0.5) < 0.18))[None, :] & (v < 2.2)
    u8 = np.uint8
    sub = win.view(u8) * u8(F_WINDOW)  # the five are disjoint
    sub += ledge.view(u8) * u8(F_LEDGE)
    sub += shopwin.view(u8) * u8(F_SHOP)
    sub += signb.view(u8) * u8(F_SIGN)
    sub += door.view(u8) * u8(F_DOOR)
    edge = np.zeros(WIDTH, bool)
    edge[1:] = cols.segcol[1:] != cols.segcol[:-1]
    edge[:-1] |= edge[1:]
    sub[:, edge] = F_EDGE
    return sub, win, shopwin, frac


def _draw_facades(sc: Scene, cols: _FacadeColumns, cls, mult, haze_a, blotch):
    """Write the facades' classes into ``cls``, their glass brightness into ``mult`` and their
    haze into ``haze_a``, where a facade is nearer than the ground and the sky."""
    cam = sc.cam
    Zf, hcol = cols.Zf, cols.hcol
    ytop = cam.hy + cam.f * (cam.hc - hcol) / Zf
    ybot = cam.hy + cam.f * cam.hc / Zf
    has = hcol > 0
    if not has.any():
        return
    r0 = max(int(math.floor(ytop[has].min())), 0)
    r1 = min(int(math.ceil(ybot[has].max())) + 1, HEIGHT)
    rows = slice(r0, r1)
    ys = np.arange(HEIGHT, dtype=np.float32) + 0.5
    v = (cam.hc - (ys[rows, None] - cam.hy) * (Zf / cam.f)[None, :]).astype(np.float32)
    fm = (v >= 0) & (v < hcol[None, :].astype(np.float32))
    sub, win, shopwin, frac = _facade_details(cols, v)
    fcls = (C_FACADE + 8 * cols.seg.astype(np.int32))[None, :] + sub
    np.copyto(cls[rows], fcls, where=fm)
    # glass shows the sky brighter towards the top of each pane; shop windows vary more
    g = np.where(win, 0.75 + 0.5 * frac, 1.0).astype(np.float32)
    g = np.where(shopwin, 0.85 + 0.25 * blotch[rows], g)
    np.copyto(mult[rows], g, where=fm)
    a_col = (1 - np.exp(-Zf / sc.haze_m)).astype(np.float32)
    np.copyto(haze_a[rows], np.broadcast_to(a_col, fm.shape), where=fm)


# --- palette, shadows, the whole background


def _frame_palette(sc: Scene, allseg: dict, nl: int):
    """The colour of every surface class in this frame, and its fine and blotchy texture amplitudes."""
    nseg = len(allseg["z0"])
    pal = np.zeros((C_FACADE + 8 * nseg, 3), np.float32)
    t = (np.arange(_SKY_BANDS, dtype=np.float32) + 0.5)[:, None] / _SKY_BANDS
    pal[:_SKY_BANDS] = sc.sky_top * (1 - t) + sc.sky_low * t
    pal[C_SKYLINE] = sc.skyline_colour * 0.6 + sc.haze * 0.4
    pal[C_ROAD], pal[C_KERB], pal[C_PAVE_L], pal[C_PAVE_R] = sc.asphalt, (175, 172, 165), sc.pavement_l, sc.pavement_r
    pal[C_MARK], pal[C_JOINT_L], pal[C_JOINT_R], pal[C_VERGE] = (sc.marking, sc.pavement_l * 0.72,
                                                                 sc.pavement_r * 0.72, sc.verge)
    wall = allseg["colour"].astype(np.float32)
    if sc.shade_side:
        shaded = slice(0, nl) if sc.shade_side < 0 else slice(nl, nseg)
        wall[shaded] *= sc.shade * 1.1
    fac = pal[C_FACADE:].reshape(nseg, 8, 3)
    fac[:, F_WALL], fac[:, F_WINDOW], fac[:, F_LEDGE] = wall, allseg["glass"], wall * 0.78
    fac[:, F_SHOP], fac[:, F_SIGN] = allseg["glass"] * 0.9 + 10, allseg["sign"]
    fac[:, F_DOOR], fac[:, F_EDGE] = wall * 0.45, wall * 0.6
    amp_f = np.zeros(len(pal), np.float32)
    amp_b = np.zeros(len(pal), np.float32)
    amp_b[:_SKY_BANDS] = sc.clouds * 0.25
    amp_f[C_ROAD:C_VERGE + 1] = (0.08, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.18)
    amp_b[C_ROAD:C_VERGE + 1] = (0.03, 0.03, 0.04, 0.04, 0.03, 0.04, 0.04, 0.1)
    ftex = np.repeat(allseg["tex"].astype(np.float32), 8)
    amp_f[C_FACADE:] = ftex
    amp_b[C_FACADE:] = 0.04 + ftex * 0.5
    return pal, amp_f, amp_b


def shadow_map(sc: Scene, layout: Layout) -> tuple[int, np.ndarray]:
    """Darkening of the background by cast shadows and shade: (first row, rows x WIDTH factors)."""
    cam = sc.cam
    im = Image.new("L", (WIDTH, HEIGHT), 0)
    draw = ImageDraw.Draw(im)
    dXs, dZs = sc.shadow_dir
    top = HEIGHT
    if sc.shade_side:
        s = sc.shade_side
        X0, X1 = (sc.shade_x, 500.0) if s > 0 else (-500.0, -sc.shade_x)
        znear = cam.f * cam.hc / (HEIGHT + 2 - cam.hy)
        draw.polygon(ground_quad(cam, X0, X1, znear, 2000.0), fill=int(round((1 - sc.shade) / 0.6 * 255)))
        top = int(cam.hy)
    for it in layout.items:
        if it.glass:
            continue
        Z = it.depth + (2.2 if it.kind == "car" else 0.0)
        w2 = it.width_m / 2
        if sc.sunny and not sc.in_shade(it.X):
            L = min(it.height_m, 6.0)
            zt = max(Z + dZs * L, 1.0)
            poly = ground_quad(cam, it.X - w2, it.X + w2, Z, zt)
            poly[2] = (cam.x(it.X + w2 + dXs * L, zt), poly[2][1])
            poly[3] = (cam.x(it.X - w2 + dXs * L, zt), poly[3][1])
            draw.polygon(poly, fill=150)
            top = min(top, int(min(p[1] for p in poly)))
        else:
            r = max(w2 * 1.3, 0.25)
            x0, x1 = cam.x(it.X - r, Z), cam.x(it.X + r, Z)
            y0, y1 = cam.y(Z + r * 0.8), cam.y(max(Z - r * 0.8, 0.5))
            draw.ellipse([min(x0, x1), y0, max(x0, x1), max(y1, y0)], fill=90)
            top = min(top, int(y0))
    top = min(max(top, 0), HEIGHT)
    sh = np.asarray(im)[top:].astype(np.float32)
    return top, 1 - sh * (0.6 / 255)


def _ground_haze(sc: Scene) -> np.ndarray:
    """(HEIGHT, WIDTH) fraction of haze on the ground, per row (0 above the horizon)."""
    cam = sc.cam
    ys = np.arange(HEIGHT, dtype=np.float32) + 0.5
    haze_a = np.zeros((HEIGHT, WIDTH), np.float32)
    hy_row = int(math.floor(cam.hy)) + 1
    Zrow = cam.f * cam.hc / (ys[hy_row:] - cam.hy)
    haze_a[hy_row:] = (1 - np.exp(-Zrow / sc.haze_m))[:, None]
    return haze_a


def background(sc: Scene, layout: Layout, rng) -> np.ndarray:
    """The background of the frame, shadows of ``layout``'s items included: planar float32."""
    cls = ground_classes(sc).copy()
    fine = noise_window(rng, "fine", HEIGHT, WIDTH)
    blotch = noise_window(rng, "blotch", HEIGHT, WIDTH)
    haze_a = _ground_haze(sc)
    mult = np.ones((HEIGHT, WIDTH), np.float32)
    cols = _facade_columns(sc)
    _draw_facades(sc, cols, cls, mult, haze_a, blotch)
    pal, amp_f, amp_b = _frame_palette(sc, cols.allseg, cols.n_left)

    # texture, shadows, vignetting, haze; the global gain (exposure, colour cast, contrast) is
    # applied to the palette and the haze colour, which is the same as applying it to the image
    mult *= 1 + np.take(amp_f, cls) * fine + np.take(amp_b, cls) * blotch
    top, shade = shadow_map(sc, layout)
    mult[top:] *= shade
    if sc.vignette > 0:
        mult *= 1 - sc.vignette * vignette_r2()
    mult *= 1 - haze_a
    # planar (3, HEIGHT, WIDTH) float32 from here on: numpy is several times faster on planes
    img = np.empty((3, HEIGHT, WIDTH), np.float32)
    pal = (pal * sc.colour_gain()).astype(np.float32)
    haze = (sc.haze * sc.colour_gain()).astype(np.float32)
    for c in range(3):
        np.take(pal[:, c], cls, out=img[c])
        img[c] *= mult
        img[c] += haze_a * haze[c]
    return img
