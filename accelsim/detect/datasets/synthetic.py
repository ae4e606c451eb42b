"""Procedural street scenes with pedestrians: the embedded default dataset.

Every frame is a 640x480 RGB street scene seen from a car, as in Caltech Pedestrian: a road and
pavements on a ground plane in perspective, building facades with windows and shop fronts, sky,
parked cars, street furniture, and 0-6 pedestrians with exact boxes.

What a frame is made of
-----------------------
A frame is drawn in two steps from two independent random streams of one
``numpy.random.SeedSequence([seed, split_code, index])``:

1. the *layout* (camera, street, every object's position, size, pose and colours) from the first
   stream; the annotations follow from the layout alone, by rasterising silhouettes, so
   ``Frame.objects`` costs a few milliseconds and no pixels;
2. the *pixels* (textures, lighting, noise) from the second stream, only when ``Frame.image()`` is
   called.

Frame ``i`` of ``(seed, split)`` is therefore a pure function of ``(seed, split, i)``; splits use
different split codes (``train`` 1, ``val`` 2, ``test`` 3), so they never share a frame.

Geometry
--------
A pinhole camera at height ``Hc`` (1.35-1.85 m) looks along the street; the horizon is a row
``hy`` of the image. A person of real height ``H`` at depth ``Z`` is ``h = f H / Z`` pixels tall
and stands on the row ``hy + f Hc / Z = hy + h Hc / H``, so feet rise towards the horizon as
people shrink, as in a street scene. Box heights follow a log-normal law (median 62 px, log-sigma
0.42) truncated to [30, 200] px: about 83 % of people are between 40 and 120 px tall.

Annotations
-----------
- ``box``: ``(x, y, w, h)`` with ``h`` from the top of the head to the soles (the figure's real
  extent in its pose) and ``w = 0.41 h`` centred on the body axis, as Caltech annotators draw
  them. Arms, legs and bags stay inside the box (a wide pose is narrowed to fit). Boxes of
  people near an image border may extend past it (their centre is always inside the frame);
  ``box`` is the full extent, not the part in the frame.
- ``visible``: the fraction of the figure's *silhouette pixels* that are seen in the frame: not
  painted over by a nearer object (car, street furniture, another pedestrian) and not outside the
  image. It is counted on the very rasters that the renderer paints, so it is exact.
- ``label``: ``person`` for most; ``person?`` for some small (< 45 px) or ambiguous, low-contrast
  figures; ``people`` for some tight groups of 2-3 overlapping people annotated as one box (the
  union of their boxes; ``visible`` over the group's silhouettes). ``ignore`` is not produced.
  A figure hidden entirely (behind a car or a tree trunk, say) is in the scene but not annotated.

Distractors that look like pedestrians to a detector are part of every scene: lamp posts, sign
posts, tree trunks, bollards, fire hydrants, bins, A-frame shop signs, mannequins (in shop windows
and outdoors) and person-sized vertical blobs, at the same scales as the people.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from accelsim.detect.types import Annotation, Frame
from accelsim.errors import DatasetError

__all__ = ["SyntheticScenes", "render_scene", "scene_annotations", "SPLIT_CODES", "WIDTH", "HEIGHT"]

WIDTH, HEIGHT = 640, 480  # px
BOX_ASPECT = 0.41  # box width / height
MIN_HEIGHT, MAX_HEIGHT = 30.0, 200.0  # px, box height
HEIGHT_MEDIAN = 62.0  # px, median of the log-normal height law
HEIGHT_LOG_SIGMA = 0.42
# P(number of pedestrians in a frame = 0, 1, ..., 6)
PEDESTRIANS_PER_FRAME = (0.2, 0.22, 0.2, 0.15, 0.11, 0.07, 0.05)
SPLIT_CODES = {"train": 1, "val": 2, "test": 3}

# ---------------------------------------------------------------------------------------------
# Colours (RGB 0-255)

_CLOTHES = np.array([
    (28, 28, 32), (50, 50, 56), (95, 95, 100), (150, 150, 150), (215, 215, 210), (35, 42, 75),
    (55, 78, 120), (105, 130, 165), (90, 62, 45), (180, 160, 125), (130, 120, 88), (78, 84, 52),
    (35, 66, 44), (150, 34, 36), (95, 30, 40), (200, 105, 40), (205, 180, 65), (200, 135, 155),
    (85, 58, 112), (115, 160, 200), (40, 112, 112), (160, 150, 140),
], dtype=np.float32)
_TOP_W = np.array([8, 7, 6, 5, 6, 6, 4, 3, 4, 4, 3, 3, 2, 3, 2, 2, 2, 2, 2, 3, 2, 3], dtype=np.float64)
_BOTTOM_W = np.array([10, 8, 6, 3, 1, 6, 10, 5, 4, 3, 4, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 3], dtype=np.float64)
_SKIN = np.array([(236, 200, 172), (214, 170, 135), (190, 140, 105), (150, 102, 72), (105, 70, 50),
                  (72, 48, 36)], dtype=np.float32)
_HAIR = np.array([(22, 18, 16), (48, 34, 26), (92, 64, 42), (180, 150, 95), (145, 145, 140), (125, 62, 36)],
                 dtype=np.float32)
_HAIR_W = np.array([6, 6, 4, 2, 1.5, 0.5])
_FACADE = np.array([(150, 75, 58), (122, 92, 72), (198, 184, 158), (150, 148, 142), (208, 202, 190),
                    (78, 76, 80), (182, 160, 128), (95, 110, 125), (170, 120, 90), (120, 130, 110)],
                   dtype=np.float32)
_CARS = np.array([(225, 225, 225), (170, 172, 176), (25, 25, 28), (90, 92, 96), (30, 45, 90), (150, 25, 25),
                  (60, 80, 60), (190, 180, 160), (40, 90, 150)], dtype=np.float32)
_CAR_W = np.array([5, 5, 5, 4, 2, 2, 1, 1, 1], dtype=np.float64)
_SIGNS = np.array([(200, 30, 30), (30, 70, 160), (230, 230, 225), (230, 190, 30), (30, 120, 60)],
                  dtype=np.float32)


def _choice(rng, options, p=None):
    """One of ``options`` (with probabilities ``p``, uniform when None); a cheap rng.choice."""
    r = rng.random()
    if p is None:
        return options[min(int(r * len(options)), len(options) - 1)]
    acc = 0.0
    for o, w in zip(options, p):
        acc += w
        if r < acc:
            return o
    return options[-1]


def _pick(rng, table, weights=None):
    if weights is None:
        return table[min(int(rng.random() * len(table)), len(table) - 1)].copy()
    return table[_choice(rng, range(len(table)), weights / weights.sum())].copy()


def _jitter(rng, colour, amount=0.1):
    u = rng.random(4)
    return np.minimum(colour * ((1 - amount + 2 * amount * u[:3]) * (0.85 + 0.3 * u[3])), 255.0)


# ---------------------------------------------------------------------------------------------
# Noise tiles: fixed textures (the same for every frame) that frames sample at random offsets.

_TILE = 512


@functools.cache
def _tiles() -> dict[str, np.ndarray]:
    g = np.random.default_rng(0x5CE7E)
    out = {}
    for name, sigma in (("fine", 0.6), ("mid", 2.5), ("blotch", 14.0)):
        t = ndimage.gaussian_filter(g.standard_normal((_TILE, _TILE)), sigma, mode="wrap")
        t = (t - t.mean()) / t.std()
        # wrap-padded so that any HEIGHT x WIDTH window at an offset below _TILE is one slice
        out[name] = np.pad(t, ((0, HEIGHT), (0, WIDTH)), mode="wrap").astype(np.float32)
    return out


def _tile_window(rng, name, h, w):
    oy, ox = rng.integers(0, _TILE, 2)
    return _tiles()[name][oy:oy + h, ox:ox + w]


# ---------------------------------------------------------------------------------------------
# Primitives: ("p", part, (k,2) polygon) or ("e", part, (x0, y0, x1, y1) ellipse box), frame px.


def _seg(p, q, w1, w2):
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1e-9
    nx, ny = -dy / n * 0.5, dx / n * 0.5
    return [(p[0] + nx * w1, p[1] + ny * w1), (q[0] + nx * w2, q[1] + ny * w2),
            (q[0] - nx * w2, q[1] - ny * w2), (p[0] - nx * w1, p[1] - ny * w1)]


def _raster(prims, clip: bool):
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


def _paste_region(x0, y0, h, w):
    """Frame and crop slices of a crop at (x0, y0) of size (h, w), clipped to the frame."""
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, WIDTH), min(y0 + h, HEIGHT)
    if fx1 <= fx0 or fy1 <= fy0:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1)), (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))


# ---------------------------------------------------------------------------------------------
# Scene description


@dataclass
class _Camera:
    f: float  # px
    cx: float  # px, column of the vanishing point
    hy: float  # px, row of the horizon
    hc: float  # m, camera height

    def x(self, X, Z):
        return self.cx + self.f * X / Z

    def y(self, Z, up=0.0):
        return self.hy + self.f * (self.hc - up) / Z


@dataclass
class _Item:
    """One object of the scene, painted in order of decreasing depth."""

    kind: str
    depth: float  # m; painter's order key
    prims: list
    lut: np.ndarray  # (parts, 3) float32 colour per part id
    tex: np.ndarray  # (parts,) texture amplitude per part id
    X: float = 0.0  # m, lateral position of the base
    width_m: float = 0.5  # m, for the cast shadow
    height_m: float = 1.7  # m, for the cast shadow
    centre_x: float = 0.0  # px, for side lighting
    half_w: float = 10.0  # px
    stripes: tuple | None = None  # (parts, period px, contrast, vertical)
    glass: bool = False  # seen through a shop window
    tex_off: tuple = (0, 0)  # offset of its texture in the noise tiles


@dataclass
class _Segment:
    z0: np.ndarray  # m, start of each facade segment along the street
    z1: np.ndarray
    kind: np.ndarray  # 0 building, 1 wall, 2 hedge, 3 open
    height: np.ndarray  # m
    colour: np.ndarray  # (n, 3)
    module: np.ndarray  # m, window spacing
    win_frac: np.ndarray  # fraction of a module that is glass
    floor_h: np.ndarray  # m
    ground_h: np.ndarray  # m, height of the ground floor
    shop: np.ndarray  # bool, shop front on the ground floor
    sign: np.ndarray  # (n, 3) shop sign colour
    glass: np.ndarray  # (n, 3) window colour
    tex: np.ndarray  # texture amplitude


@dataclass
class _Scene:
    cam: _Camera
    road_l: float  # m, road extent to the left of the camera (X = -road_l)
    road_r: float
    wall_l: float  # m, facade plane on the left (X = -wall_l)
    wall_r: float
    sides: tuple  # (_Segment, _Segment) left, right
    sky_top: np.ndarray
    sky_low: np.ndarray
    clouds: float
    skyline: np.ndarray  # (WIDTH,) px height of the distant skyline above the horizon
    skyline_colour: np.ndarray
    asphalt: np.ndarray
    pavement_l: np.ndarray
    pavement_r: np.ndarray
    verge: np.ndarray
    marking: np.ndarray
    lane_x: float  # m, dashed lane line
    crossing: tuple | None  # (z0, z1) m of a zebra crossing
    haze: np.ndarray
    haze_m: float  # m, distance at which 63 % of the colour is haze
    sunny: bool
    shade_side: int  # -1 left, +1 right, 0 none: the side whose buildings shade the street
    shade_x: float  # m, the shade edge on the ground (|X| beyond it is shaded)
    shade: float  # brightness factor in shade
    shadow_dir: tuple  # (dX, dZ) of cast shadows per metre of object height
    side_light: float  # horizontal brightness gradient on objects
    gain: np.ndarray  # per-channel gain (colour cast)
    contrast: float
    offset: float
    vignette: float
    blur: float  # weight of each neighbour in a 3-tap blur (0 = none)
    blur_passes: int
    noise: float  # std of the sensor noise, 0-255 units
    jpeg: int  # quality, 0 = none


@dataclass
class _Group:
    label: str
    members: list  # indices into items
    box: tuple


@dataclass
class _Layout:
    scene: _Scene
    items: list  # painter's order (far to near)
    groups: list  # one per annotation


# ---------------------------------------------------------------------------------------------
# Pedestrians

(_P_SKIN, _P_SKIN_FAR, _P_HAIR, _P_TOP, _P_TOP_FAR, _P_BOTTOM, _P_BOTTOM_FAR, _P_LEG, _P_LEG_FAR, _P_SHOES,
 _P_SHOES_FAR, _P_BAG, _P_HAT) = range(1, 14)
_PERSON_PARTS = 14


@dataclass
class _Pose:
    side: float  # 0 = seen from the front or back, 1 = side view
    facing: int  # +1 walking right, -1 left (side views)
    back: bool  # seen from behind
    phase: float  # walking phase, rad
    stride: float  # rad, thigh swing amplitude (0 = standing)
    child: bool = False
    top: str = "long"  # tshirt | long | coat
    bottom: str = "trousers"  # trousers | shorts | skirt | dress
    hair: str = "short"  # short | long | bald
    hat: str | None = None  # beanie | cap
    bag: str | None = None  # backpack | shoulder | hand
    mannequin: bool = False  # fused legs on a stand, no arms


def _person_unit(p: _Pose) -> list:
    """The figure in unit coordinates (x right, y up, about 1 tall), back to front."""
    c, s, A, ph = p.side, p.facing, p.stride, p.phase
    sideview = c >= 0.5
    kh = 1.22 if p.child else 1.0
    kl = 0.88 if p.child else 1.0
    lean = s * c * (0.012 + 0.06 * A)
    sw = 0.118 * (1 - c) + 0.062 * c
    hw = 0.088 * (1 - c) + 0.066 * c
    hip = 0.53 * kl
    sh = hip + 0.27
    neck_top = sh + 0.06
    rx, ry = (0.047 * (1 - c) + 0.055 * c) * kh, 0.066 * kh
    hx, hcy = lean * 1.15 + s * c * 0.012, neck_top + 0.85 * ry
    prims = []

    def poly(part, pts):
        prims.append(("p", part, pts))

    def ell(part, x, y, ex, ey):
        prims.append(("e", part, (x, y, ex, ey)))

    far = (lambda a, b: b) if sideview else (lambda a, b: a)

    # legs
    legs = []
    lt, ls, foot_h = 0.255 * kl, 0.24 * kl, 0.035
    for i in (0, 1):
        q = ph + i * math.pi
        at = A * math.sin(q)
        flex = 1.5 * A * max(0.0, math.cos(q + math.pi / 4)) ** 2
        lat = (1 - c) * (0.048 if i == 0 else -0.048)
        out = (1 - c) * (0.04 if i == 0 else -0.04)
        hxl = lean * 0.2 + lat - (s * 0.012 * c if i else 0.0)
        kx, ky = hxl + s * c * math.sin(at) * lt + out * lt, hip - math.cos(at) * lt
        sa = at - flex
        ax, ay = kx + s * c * math.sin(sa) * ls + out * 0.3 * ls, ky - math.cos(sa) * ls
        legs.append(((hxl, hip), (kx, ky), (ax, ay)))

    def leg(i):
        (hxl, hy_), (kx, ky), (ax, ay) = legs[i]
        near = i == 0
        bare = p.bottom in ("skirt", "dress") or p.mannequin
        thigh = _P_BOTTOM if p.bottom == "shorts" else _P_LEG
        thigh = thigh if near else far(thigh, thigh + 1)
        shin = _P_LEG if near else far(_P_LEG, _P_LEG_FAR)
        shoes = _P_SHOES if near else far(_P_SHOES, _P_SHOES_FAR)
        wt = 0.08 if bare else 0.092
        poly(thigh, _seg((hxl, hy_ + 0.02), (kx, ky), wt, 0.058))
        poly(shin, _seg((kx, ky), (ax, ay), 0.054, 0.038))
        ell(shin, kx, ky, 0.028, 0.028)
        fw = 0.026 * (1 - c) + 0.016 * c
        left = ax - fw - (0.03 if s > 0 else 0.075) * c
        right = ax + fw + (0.075 if s > 0 else 0.03) * c
        poly(shoes, [(ax - 0.021, ay + 0.012), (ax + 0.021, ay + 0.012), (right, ay - foot_h + 0.012),
                     (right, ay - foot_h), (left, ay - foot_h)])

    # arms
    arms = []
    lu, lf = 0.165 * kl, 0.145 * kl
    for j in (0, 1):
        q = ph + (1 - j) * math.pi  # an arm swings with the opposite leg
        au = 0.85 * A * math.sin(q)
        fe = 0.12 + 0.7 * max(0.0, au)
        if p.bag == "hand" and j == 0:
            au, fe = 0.6 * au, 0.05
        lat = (1 - c) * (1 if j == 0 else -1)
        sx = lean + lat * (sw - 0.022) - (s * 0.012 * c if j else 0.0)
        sy = sh - 0.012
        out = 0.07 * lat
        ex, ey = sx + s * c * math.sin(au) * lu + math.sin(out) * lu, sy - math.cos(au) * lu
        a2 = au + fe
        wx, wy = ex + s * c * math.sin(a2) * lf + math.sin(0.6 * out) * lf, ey - math.cos(a2) * lf
        hand = (wx + s * c * math.sin(a2) * 0.018, wy - math.cos(a2) * 0.02)
        arms.append(((sx, sy), (ex, ey), (wx, wy), hand))

    def arm(j):
        (sx, sy), (ex, ey), (wx, wy), (hx_, hy_) = arms[j]
        near = j == 0
        sleeve = _P_TOP if near else far(_P_TOP, _P_TOP_FAR)
        skin = _P_SKIN if near else far(_P_SKIN, _P_SKIN_FAR)
        fore = skin if p.top == "tshirt" or p.mannequin else sleeve
        poly(sleeve, _seg((sx, sy), (ex, ey), 0.05, 0.043))
        ell(sleeve, sx, sy - 0.005, 0.026, 0.026)
        poly(fore, _seg((ex, ey), (wx, wy), 0.04, 0.033))
        ell(fore, ex, ey, 0.02, 0.02)
        ell(skin, hx_, hy_, 0.021, 0.025)

    torso = [(-sw + lean, sh - 0.01), (-sw * 0.7 + lean, sh + 0.028), (sw * 0.7 + lean, sh + 0.028),
             (sw + lean, sh - 0.01), (hw + 0.004, hip + 0.03), (-hw - 0.004, hip + 0.03)]
    pelvis = [(-hw, hip + 0.04), (hw, hip + 0.04), (hw * 0.92, hip - 0.07), (-hw * 0.92, hip - 0.07)]
    skirt = [(-hw, hip + 0.04), (hw, hip + 0.04), (hw * 1.5 + s * c * 0.01, hip - 0.17),
             (-hw * 1.5 + s * c * 0.01, hip - 0.17)]
    coat = torso[:4] + [(hw * 1.25 + s * c * 0.012, hip - 0.2), (-hw * 1.25 + s * c * 0.012, hip - 0.2)]
    neck = _seg((lean, sh), (lean * 1.1, neck_top), 0.045, 0.04)
    hair_long = [(hx - rx * 1.05 - s * c * 0.015, hcy), (hx + rx * 1.05 - s * c * 0.015, hcy),
                 (hx + rx * 1.15 - s * c * 0.03, sh - 0.03), (hx - rx * 1.15 - s * c * 0.03, sh - 0.03)]

    def lower_body():
        if p.mannequin:
            poly(_P_BOTTOM, [(-hw, hip + 0.04), (hw, hip + 0.04), (0.03, 0.1), (-0.03, 0.1)])
            poly(_P_SHOES, [(-0.012, 0.12), (0.012, 0.12), (0.012, 0.03), (-0.012, 0.03)])
            ell(_P_SHOES, 0.0, 0.02, 0.07 * (1 - c) + 0.05 * c, 0.02)
            return
        leg(1)
        leg(0)
        poly(_P_BOTTOM, pelvis)
        if p.bottom == "skirt":
            poly(_P_BOTTOM, skirt)
        elif p.bottom == "dress":
            poly(_P_TOP, skirt)

    def head():
        if p.mannequin:
            ell(_P_SKIN, hx, hcy, rx, ry)
            return
        hair = ("e", _P_HAIR, (hx - s * c * 0.012, hcy + 0.012 * kh, rx * 1.06, ry * 0.9))
        if p.hair == "bald":
            hair = ("e", _P_HAIR, (hx - s * c * 0.01, hcy + 0.02 * kh, rx * 0.98, ry * 0.8))
        if p.back and not sideview:
            ell(_P_SKIN, hx, hcy, rx, ry)
            ell(_P_HAIR, hx, hcy + 0.006, rx * 1.03, ry * 0.98)
        else:
            prims.append(hair)
            ell(_P_SKIN, hx + s * c * 0.004, hcy - 0.006, rx * 0.98, ry * 0.93)
        if p.hat:
            ell(_P_HAT, hx - s * c * 0.004, hcy + ry * 0.5, rx * 1.1, ry * 0.58)
            if p.hat == "cap":
                bx, bw = hx + s * c * rx * 1.1, rx * (1.1 - 0.3 * c)
                poly(_P_HAT, [(bx - bw, hcy + ry * 0.22), (bx + bw, hcy + ry * 0.22), (bx + bw, hcy + ry * 0.08),
                              (bx - bw, hcy + ry * 0.08)])

    def bags():
        if p.bag == "backpack":
            if sideview:
                b0, b1 = lean - s * 0.055, lean - s * 0.135
                poly(_P_BAG, [(b0, sh - 0.015), (b1, sh - 0.03), (b1, hip + 0.07), (b0, hip + 0.06)])
            elif p.back:
                poly(_P_BAG, [(-0.085, sh - 0.015), (0.085, sh - 0.015), (0.09, hip + 0.05), (-0.09, hip + 0.05)])
            else:
                for k in (-1, 1):
                    poly(_P_BAG, _seg((k * (sw - 0.045), sh + 0.02), (k * (sw - 0.035), hip + 0.12), 0.018, 0.018))
        elif p.bag == "shoulder":
            bx = lean * 0.5 - s * 0.035 if sideview else (hw + 0.035)
            poly(_P_BAG, _seg((-bx * 0.6 + lean, sh + 0.015), (bx, hip), 0.012, 0.012))
            poly(_P_BAG, [(bx - 0.05, hip + 0.03), (bx + 0.05, hip + 0.03), (bx + 0.052, hip - 0.07),
                          (bx - 0.052, hip - 0.07)])

    def hand_bag():
        if p.bag == "hand":
            wx, wy = arms[0][3]
            poly(_P_BAG, [(wx - 0.04, wy + 0.005), (wx + 0.04, wy + 0.005), (wx + 0.046, wy - 0.125),
                          (wx - 0.046, wy - 0.125)])

    if sideview:
        if not p.mannequin:
            arm(1)
        lower_body()
        poly(_P_SKIN, neck)
        poly(_P_TOP, torso)
        if p.top == "coat" and not p.mannequin:
            poly(_P_TOP, coat)
        bags()
        if p.hair == "long" and not p.mannequin:
            poly(_P_HAIR, hair_long)
        if not p.mannequin:
            arm(0)
            hand_bag()
        head()
    else:
        if p.hair == "long" and not p.back and not p.mannequin:
            poly(_P_HAIR, hair_long)
        lower_body()
        poly(_P_SKIN, neck)
        poly(_P_TOP, torso)
        if p.top == "coat" and not p.mannequin:
            poly(_P_TOP, coat)
        bags()
        if not p.mannequin:
            arm(1)
            arm(0)
            hand_bag()
        head()
        if p.hair == "long" and p.back and not p.mannequin:
            poly(_P_HAIR, hair_long)
    return prims


def _person_prims(pose: _Pose, xc: float, feet_y: float, h: float) -> list:
    """The figure in frame pixels: soles on row ``feet_y``, head top on ``feet_y - h``, and every
    part within ``0.205 h`` of the column ``xc`` (wide poses are narrowed to fit the 0.41 box)."""
    unit = _person_unit(pose)
    xs, ys = [], []
    for kind, _, a in unit:
        if kind == "p":
            for x, y in a:
                xs.append(x)
                ys.append(y)
        else:
            x, y, ex, ey = a
            xs += [x - ex, x + ex]
            ys += [y - ey, y + ey]
    ground, top = min(ys), max(ys)
    scale = h / (top - ground)
    half = 0.205 * h - 0.6  # px; rasterisation may add half a pixel
    widest = max(abs(min(xs)), abs(max(xs))) * scale
    sx = scale * min(1.0, half / widest) if widest > 0 else scale
    out = []
    for kind, part, a in unit:
        if kind == "p":
            arr = np.array(a, dtype=np.float64)
            arr[:, 0] = xc + arr[:, 0] * sx
            arr[:, 1] = feet_y - (arr[:, 1] - ground) * scale
            out.append(("p", part, arr))
        else:
            x, y, ex, ey = a
            X, Y, EX, EY = xc + x * sx, feet_y - (y - ground) * scale, ex * sx, ey * scale
            out.append(("e", part, np.array([X - EX, Y - EY, X + EX, Y + EY])))
    return out


def _sample_pose(rng, facing_hint=None, mannequin=False) -> _Pose:
    r = rng.random()
    side = 1.0 if r < 0.45 else (0.0 if r < 0.8 else rng.uniform(0.25, 0.75))
    facing = facing_hint if facing_hint is not None else int(_choice(rng, (-1, 1)))
    walking = rng.random() < 0.72
    top = str(_choice(rng, ("tshirt", "long", "coat"), (0.3, 0.42, 0.28)))
    bottom = str(_choice(rng, ("trousers", "shorts", "skirt", "dress"), (0.7, 0.08, 0.14, 0.08)))
    if top == "coat" and bottom == "dress":
        bottom = "skirt"
    return _Pose(
        side=side, facing=facing, back=bool(rng.random() < 0.45), phase=float(rng.uniform(0, 2 * math.pi)),
        stride=float(rng.uniform(0.2, 0.42)) if walking else float(rng.uniform(0.0, 0.06)),
        child=bool(rng.random() < 0.05), top=top, bottom=bottom,
        hair=str(_choice(rng, ("short", "long", "bald"), (0.6, 0.3, 0.1))),
        hat=None if rng.random() > 0.14 else str(_choice(rng, ("beanie", "cap"))),
        bag=None if rng.random() > 0.4 else str(_choice(rng, ("backpack", "shoulder", "hand"))),
        mannequin=mannequin,
    )


def _person_colours(rng, pose: _Pose, dull: bool):
    lut = np.zeros((_PERSON_PARTS, 3), np.float32)
    skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.92, 1.06)
    top = _jitter(rng, _pick(rng, _CLOTHES, _TOP_W))
    bottom = _jitter(rng, _pick(rng, _CLOTHES, _BOTTOM_W))
    if dull:  # ambiguous figures: dark, grey, low contrast clothes
        top = top * 0.35 + 45
        bottom = bottom * 0.35 + 40
    legs = bottom if pose.bottom == "trousers" else (skin if rng.random() < 0.6 else _pick(rng, _CLOTHES[:3]))
    shoes = _jitter(rng, _pick(rng, _CLOTHES[:3])) if rng.random() < 0.75 else _jitter(rng, _CLOTHES[4])
    if pose.mannequin:
        skin = _pick(rng, np.array([(230, 225, 215), (40, 40, 42), (200, 175, 140), (175, 175, 178)], np.float32))
        shoes = np.array((60, 60, 64), np.float32)
    lut[_P_SKIN], lut[_P_HAIR] = skin, _pick(rng, _HAIR, _HAIR_W) * rng.uniform(0.85, 1.15)
    lut[_P_TOP], lut[_P_BOTTOM], lut[_P_LEG], lut[_P_SHOES] = top, bottom, legs, shoes
    lut[_P_BAG] = _jitter(rng, _pick(rng, _CLOTHES))
    lut[_P_HAT] = _jitter(rng, _pick(rng, _CLOTHES))
    for near, far_ in ((_P_SKIN, _P_SKIN_FAR), (_P_TOP, _P_TOP_FAR), (_P_BOTTOM, _P_BOTTOM_FAR),
                       (_P_LEG, _P_LEG_FAR), (_P_SHOES, _P_SHOES_FAR)):
        lut[far_] = lut[near] * 0.8
    tex = np.zeros(_PERSON_PARTS, np.float32)
    tex[[_P_TOP, _P_TOP_FAR, _P_BOTTOM, _P_BOTTOM_FAR, _P_LEG, _P_LEG_FAR, _P_BAG, _P_HAT]] = rng.uniform(0.02, 0.08)
    tex[_P_HAIR] = 0.12
    return lut, tex


def _make_person(rng, cam, X, Z, H, dull=False, facing=None, mannequin=False, up=0.0) -> _Item:
    h = cam.f * H / Z
    feet = cam.y(Z, up)
    xc = cam.x(X, Z)
    pose = _sample_pose(rng, facing, mannequin)
    lut, tex = _person_colours(rng, pose, dull)
    stripes = None
    if rng.random() < 0.25 and not mannequin:
        stripes = ((_P_TOP, _P_TOP_FAR), max(2.0, h * rng.uniform(0.025, 0.06)), rng.uniform(0.6, 0.85),
                   bool(rng.random() < 0.3))
    return _Item("mannequin" if mannequin else "person", Z, _person_prims(pose, xc, feet, h), lut, tex, X=X,
                 width_m=0.45, height_m=H, centre_x=xc, half_w=0.2 * h, stripes=stripes)


# ---------------------------------------------------------------------------------------------
# Street furniture, cars and distractors. Shapes in metres about the base point (dx right, up).


def _shape(cam, X, Z, up0=0.0):
    xb, yb, s = cam.x(X, Z), cam.y(Z, up0), cam.f / Z

    scale, shift = np.array((s, -s)), np.array((xb, yb))

    def P(pts):
        return np.array(pts, dtype=np.float64) * scale + shift

    def E(x, y, rx, ry):
        return np.array([xb + (x - rx) * s, yb - (y + ry) * s, xb + (x + rx) * s, yb - (y - ry) * s])

    def R(x0, x1, y0, y1):
        return P([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])

    return P, E, R, xb, s


def _lut(*colours):
    return np.array([(0, 0, 0)] + [tuple(c) for c in colours], dtype=np.float32)


def _make_thing(rng, cam, kind, X, Z) -> _Item:
    P, E, R, xb, s = _shape(cam, X, Z)
    grey = rng.uniform(60, 150)
    metal = _jitter(rng, np.array((grey, grey, grey * 1.03)), 0.05)
    if rng.random() < 0.25:
        metal = _jitter(rng, np.array((40, 70, 50)))
    tex = np.zeros(8, np.float32)
    toward_road = 1.0 if X < 0 else -1.0
    if kind == "pole":
        w, hgt = rng.uniform(0.12, 0.24), rng.uniform(4.5, 9.0)
        arm = toward_road * rng.uniform(0.8, 2.0)
        prims = [("p", 1, R(-w / 2, w / 2, 0, hgt)), ("p", 1, R(-w * 0.8, w * 0.8, 0, 0.5)),
                 ("p", 1, P([(0, hgt - 0.1), (arm, hgt + 0.1), (arm, hgt + 0.02), (0, hgt - 0.2)])),
                 ("e", 2, E(arm, hgt, 0.3, 0.1))]
        lut, width, height = _lut(metal, (220, 220, 200)), w, hgt
    elif kind == "sign":
        w, hgt = rng.uniform(0.06, 0.1), rng.uniform(2.1, 3.0)
        d = rng.uniform(0.45, 0.8)
        shape = rng.integers(4)
        prims = [("p", 1, R(-w / 2, w / 2, 0, hgt))]
        if shape == 0:
            prims.append(("e", 2, E(0, hgt, d / 2, d / 2)))
        elif shape == 1:
            prims.append(("p", 2, R(-d / 2, d / 2, hgt - d * 0.7, hgt + d * 0.3)))
        elif shape == 2:
            prims.append(("p", 2, P([(-d / 2, hgt + d * 0.3), (d / 2, hgt + d * 0.3), (0, hgt - d * 0.5)])))
        else:
            prims.append(("p", 2, R(-d * 0.3, d * 0.3, hgt - d * 1.2, hgt + d * 0.2)))
        if rng.random() < 0.35:
            prims.append(("p", 3, R(-d * 0.35, d * 0.35, hgt - d - 0.35, hgt - d + 0.05)))
        lut = _lut(metal, _pick(rng, _SIGNS), _pick(rng, _SIGNS))
        width, height = d, hgt
    elif kind == "tree":
        w, hgt = rng.uniform(0.2, 0.45), rng.uniform(2.2, 3.6)
        prims = [("p", 1, P([(-w * 0.6, 0), (w * 0.6, 0), (w * 0.45, hgt), (-w * 0.45, hgt)]))]
        if rng.random() < 0.5:  # a fork
            prims.append(("p", 1, P([(-w * 0.2, hgt * 0.8), (w * 0.25, hgt * 0.8), (w * 1.4, hgt * 1.3),
                                     (w * 0.9, hgt * 1.35)])))
        r = rng.uniform(1.2, 2.8)
        for _ in range(rng.integers(2, 5)):
            prims.append(("e", 2, E(rng.uniform(-r, r) * 0.5, hgt + r * rng.uniform(0.6, 1.3),
                                    r * rng.uniform(0.6, 1.0), r * rng.uniform(0.5, 0.9))))
        bark = _jitter(rng, np.array((85, 68, 52)), 0.15)
        leaves = _jitter(rng, np.array((55, 85, 45)), 0.2)
        lut, width, height = _lut(bark, leaves), r * 1.5, hgt + 2 * r
        tex[1], tex[2] = 0.15, 0.3
    elif kind == "bollard":
        w, hgt = rng.uniform(0.12, 0.24), rng.uniform(0.7, 1.1)
        prims = [("p", 1, R(-w / 2, w / 2, 0, hgt)), ("e", 1, E(0, hgt, w / 2, w * 0.35))]
        if rng.random() < 0.6:
            prims.append(("p", 2, R(-w / 2, w / 2, hgt * 0.72, hgt * 0.82)))
        lut, width, height = _lut(metal, (225, 225, 210)), w, hgt
    elif kind == "hydrant":
        w, hgt = rng.uniform(0.22, 0.3), rng.uniform(0.6, 0.85)
        prims = [("p", 1, R(-w * 0.7, w * 0.7, 0, 0.08)), ("p", 1, R(-w / 2, w / 2, 0.05, hgt * 0.82)),
                 ("e", 1, E(0, hgt * 0.82, w * 0.5, hgt * 0.14)), ("p", 1, R(-w * 0.12, w * 0.12, hgt * 0.9, hgt)),
                 ("p", 2, R(-w * 0.9, w * 0.9, hgt * 0.5, hgt * 0.64))]
        body = _pick(rng, np.array([(180, 30, 30), (210, 180, 40), (40, 110, 60), (200, 200, 195)], np.float32))
        lut, width, height = _lut(_jitter(rng, body), _jitter(rng, body * 0.8)), w, hgt
    elif kind == "bin":
        w, hgt = rng.uniform(0.45, 0.65), rng.uniform(0.85, 1.15)
        prims = [("p", 1, P([(-w / 2, 0), (w / 2, 0), (w * 0.55, hgt), (-w * 0.55, hgt)])),
                 ("e", 2, E(0, hgt, w * 0.58, 0.08))]
        colour = _jitter(rng, _pick(rng, np.array([(40, 70, 50), (50, 50, 55), (30, 60, 120), (120, 120, 120)],
                                                  np.float32)))
        lut, width, height = _lut(colour, colour * 0.75), w, hgt
    elif kind == "aframe":
        w, hgt = rng.uniform(0.5, 0.7), rng.uniform(0.9, 1.25)
        prims = [("p", 1, P([(-w / 2, 0), (w / 2, 0), (w * 0.38, hgt), (-w * 0.38, hgt)])),
                 ("p", 2, P([(-w * 0.38, hgt * 0.18), (w * 0.38, hgt * 0.18), (w * 0.3, hgt * 0.9),
                             (-w * 0.3, hgt * 0.9)]))]
        for k in range(rng.integers(2, 5)):
            y = hgt * (0.75 - 0.15 * k)
            prims.append(("p", 3, R(-w * 0.22, w * rng.uniform(0, 0.22), y - hgt * 0.05, y)))
        board = _pick(rng, np.array([(30, 30, 30), (235, 235, 225), (60, 40, 30), (190, 30, 30)], np.float32))
        lut = _lut(_jitter(rng, np.array((90, 70, 50))), _jitter(rng, board), _jitter(rng, 255 - board))
        width, height = w, hgt
    elif kind == "planter":
        w, hgt = rng.uniform(1.0, 2.4), rng.uniform(0.55, 1.0)
        prims = [("p", 1, R(-w / 2, w / 2, 0, hgt * 0.6)), ("e", 2, E(0, hgt * 0.65, w * 0.52, hgt * 0.4))]
        lut, width, height = _lut(_jitter(rng, np.array((120, 110, 100))), _jitter(rng, np.array((50, 85, 40)))), w, hgt
        tex[1], tex[2] = 0.08, 0.3
    else:  # "blob": a person-sized vertical blob (post with a ball, wrapped statue, coat on a stand)
        hgt = rng.uniform(1.4, 1.9)
        w = rng.uniform(0.25, 0.5)
        head = rng.uniform(0.08, 0.14)
        prims = [("p", 1, P([(-w / 2, 0), (w / 2, 0), (w * 0.5, hgt * 0.55), (w * 0.35, hgt - 2.2 * head),
                             (-w * 0.35, hgt - 2.2 * head), (-w * 0.5, hgt * 0.55)])),
                 ("e", 2, E(0, hgt - head, head, head * 1.1))]
        colour = _jitter(rng, _pick(rng, _CLOTHES))
        lut, width, height = _lut(colour, _jitter(rng, _pick(rng, np.vstack([_CLOTHES, _SKIN])))), w, hgt
        tex[1] = 0.06
    tex[tex == 0] = 0.04
    return _Item(kind, Z, prims, lut, tex, X=X, width_m=width, height_m=height, centre_x=xb, half_w=width * s / 2)


CAR_WIDTH = 1.85  # m
CAR_LENGTH = 4.8  # m, the longest car


def _make_car(rng, cam, x0, Z0, rear: bool) -> _Item:
    """A car as two boxes projected through the camera, spanning X in [x0, x0 + CAR_WIDTH] and Z
    from Z0 (its rear, or its front when ``rear`` is False) to Z0 + 3.9..4.8 m."""
    wd, ln = CAR_WIDTH, rng.uniform(3.9, CAR_LENGTH)
    hb, hc = rng.uniform(0.9, 1.05), rng.uniform(1.4, 1.6)
    x1 = x0 + wd
    z0, z1 = Z0, Z0 + ln
    f, cx, hy, H = cam.f, cam.cx, cam.hy, cam.hc

    def pt(X, Y, Z):
        return (cx + f * X / Z, hy + f * (H - Y) / Z)

    def quad(pts):
        return np.array([pt(*p) for p in pts], dtype=np.float64)

    prims = []
    if x0 > 0 or x1 < 0:  # the side facing the camera axis
        xs = x0 if x0 > 0 else x1
        prims.append(("p", 1, quad([(xs, 0.3, z0), (xs, hb, z0), (xs, hb, z1), (xs, 0.3, z1)])))
        prims.append(("p", 2, quad([(xs, hb, z0 + 1.1), (xs, hc, z0 + 1.5), (xs, hc, z1 - 1.4),
                                    (xs, hb, z1 - 0.9)])))
        for zw in (z0 + 0.8, z1 - 0.85):
            cxw, cyw = pt(xs, 0.33, zw)
            r = 0.33 * f / zw
            prims.append(("e", 3, np.array([cxw - r * 0.45, cyw - r, cxw + r * 0.45, cyw + r])))
    if H > hb:
        prims.append(("p", 1, quad([(x0, hb, z0), (x1, hb, z0), (x1, hb, z1), (x0, hb, z1)])))
    ci0, ci1 = x0 + 0.12, x1 - 0.12
    if H > hc:
        prims.append(("p", 1, quad([(ci0, hc, z0 + 1.5), (ci1, hc, z0 + 1.5), (ci1, hc, z1 - 1.4),
                                    (ci0, hc, z1 - 1.4)])))
    prims.append(("p", 2, quad([(ci0, hb, z0 + 1.0), (ci1, hb, z0 + 1.0), (ci1, hc, z0 + 1.5), (ci0, hc, z0 + 1.5)])))
    for xa, xb_ in ((x0 + 0.1, x0 + 0.35), (x1 - 0.35, x1 - 0.1)):
        prims.append(("p", 3, quad([(xa, 0.0, z0 + 0.7), (xb_, 0.0, z0 + 0.7), (xb_, 0.35, z0 + 0.7),
                                    (xa, 0.35, z0 + 0.7)])))
    prims.append(("p", 1, quad([(x0, 0.3, z0), (x1, 0.3, z0), (x1, hb, z0), (x0, hb, z0)])))
    prims.append(("p", 5, quad([(x0, 0.25, z0), (x1, 0.25, z0), (x1, 0.45, z0), (x0, 0.45, z0)])))
    for xa, xb_ in ((x0 + 0.05, x0 + 0.3), (x1 - 0.3, x1 - 0.05)):
        prims.append(("p", 4, quad([(xa, 0.7, z0), (xb_, 0.7, z0), (xb_, 0.85, z0), (xa, 0.85, z0)])))
    xm = (x0 + x1) / 2
    prims.append(("p", 6, quad([(xm - 0.26, 0.5, z0), (xm + 0.26, 0.5, z0), (xm + 0.26, 0.62, z0),
                                (xm - 0.26, 0.62, z0)])))
    body = _jitter(rng, _pick(rng, _CARS, _CAR_W), 0.05)
    lights = (200, 30, 30) if rear else (235, 235, 215)
    lut = _lut(body, _jitter(rng, np.array((45, 55, 65)), 0.15), (20, 20, 22), lights, (30, 30, 32),
               (220, 220, 210))
    tex = np.full(7, 0.03, np.float32)
    xc = cam.x((x0 + x1) / 2, z0)
    return _Item("car", Z0 + 0.01, prims, lut, tex, X=(x0 + x1) / 2, width_m=wd, height_m=hc, centre_x=xc,
                 half_w=wd * f / z0 / 2)


# ---------------------------------------------------------------------------------------------
# Layout


def _sample_height(rng, hmax: float) -> float:
    for _ in range(200):
        h = HEIGHT_MEDIAN * math.exp(HEIGHT_LOG_SIGMA * rng.standard_normal())
        if MIN_HEIGHT <= h <= hmax:
            return h
    return float(rng.uniform(MIN_HEIGHT, hmax))


_SIGN_COLOURS = np.vstack([_SIGNS, _CLOTHES])


def _segments(rng, z_end=260.0) -> _Segment:
    """The facade of one side of the street: segments along it (buildings, walls, hedges, gaps)."""
    n = 40  # at least 7 m each, so 40 reach past z_end
    ln = rng.uniform(7, 28, n)
    z1 = 1.0 + np.cumsum(ln)
    z0 = z1 - ln
    r = rng.random(n)
    kind = np.select([r < 0.8, r < 0.88, r < 0.94], [0, 1, 2], 3)
    if rng.random() < 0.15:  # an open side: mostly gaps
        kind[rng.random(n) < 0.6] = 3
    height = np.choose(kind, [rng.uniform(6, 28, n), rng.uniform(0.8, 2.2, n), rng.uniform(0.9, 1.8, n),
                              np.zeros(n)])
    colour = _FACADE[rng.integers(len(_FACADE), size=n)] * rng.uniform(0.92, 1.08, (n, 3)) \
        * rng.uniform(0.85, 1.15, (n, 1))
    colour[kind == 2] = np.array((50, 80, 40)) * rng.uniform(0.8, 1.2, (int((kind == 2).sum()), 1))
    keep = int(np.searchsorted(z0, z_end)) + 1
    seg = _Segment(
        z0=z0, z1=z1, kind=kind, height=height, colour=colour.astype(np.float32),
        module=rng.uniform(2.2, 4.5, n), win_frac=rng.uniform(0.3, 0.65, n), floor_h=rng.uniform(2.9, 3.6, n),
        ground_h=rng.uniform(3.2, 4.6, n), shop=(kind == 0) & (rng.random(n) < 0.55),
        sign=(_SIGN_COLOURS[rng.integers(len(_SIGN_COLOURS), size=n)] * rng.uniform(0.85, 1.1, (n, 1))),
        glass=(np.array((50, 60, 72)) * rng.uniform(0.75, 1.25, (n, 1)) * rng.uniform(0.9, 1.1, (n, 3))),
        tex=np.where(kind == 2, 0.25, rng.uniform(0.02, 0.06, n)),
    )
    return _Segment(**{k: v[:keep] for k, v in vars(seg).items()})


def _facade_at(seg: _Segment, Z: float):
    i = int(np.searchsorted(seg.z1, Z))
    return None if i >= len(seg.z0) else i


def _sample_scene(rng) -> _Scene:
    cam = _Camera(f=rng.uniform(500, 600), cx=rng.uniform(250, 390), hy=rng.uniform(185, 250),
                  hc=rng.uniform(1.35, 1.85))
    road_l, road_r = rng.uniform(3.5, 9.0), rng.uniform(1.8, 4.5)
    wall_l, wall_r = road_l + 0.25 + rng.uniform(2.5, 6.0), road_r + 0.25 + rng.uniform(2.5, 6.0)
    sky = rng.integers(4)
    sky_top, sky_low = [((85, 135, 200), (175, 198, 222)), ((150, 155, 162), (200, 202, 205)),
                        ((70, 80, 120), (215, 160, 120)), ((190, 200, 210), (225, 228, 230))][sky]
    skyline = np.zeros(WIDTH, np.float32)
    x = 0
    while x < WIDTH:
        w = int(rng.integers(8, 60))
        skyline[x:x + w] = rng.uniform(0, 35) * (rng.random() < 0.85)
        x += w
    sunny = bool(sky in (0, 2) and rng.random() < 0.8)
    shade_side = int(_choice(rng, (-1, 0, 1))) if sunny else 0
    shade_x = rng.uniform(-2.0, 5.0)
    sun = -shade_side if shade_side else float(_choice(rng, (-1, 1)))
    asphalt = rng.uniform(65, 115) * np.array((1.0, 1.0, rng.uniform(1.0, 1.08)), np.float32)
    pave = _jitter(rng, np.array((rng.uniform(125, 185),) * 3, np.float32) * np.array((1.0, 0.98, 0.94)), 0.04)
    cast = rng.uniform(0.88, 1.12, 3)
    return _Scene(
        cam=cam, road_l=road_l, road_r=road_r, wall_l=wall_l, wall_r=wall_r,
        sides=(_segments(rng), _segments(rng)),
        sky_top=_jitter(rng, np.array(sky_top, np.float32), 0.06),
        sky_low=_jitter(rng, np.array(sky_low, np.float32), 0.04),
        clouds=rng.uniform(0, 0.5) * (sky != 1), skyline=skyline,
        skyline_colour=_jitter(rng, np.array((135, 140, 150), np.float32), 0.1),
        asphalt=asphalt, pavement_l=pave, pavement_r=_jitter(rng, pave, 0.03),
        verge=_jitter(rng, np.array((80, 100, 55), np.float32), 0.15),
        marking=np.array((225, 225, 215), np.float32) if rng.random() < 0.8 else np.array((225, 190, 60), np.float32),
        lane_x=rng.uniform(-road_l + 1.5, -0.8) if road_l > 4.5 else -road_l + 0.15,
        crossing=(lambda z: (z, z + rng.uniform(3, 5)))(rng.uniform(8, 40)) if rng.random() < 0.2 else None,
        haze=_jitter(rng, np.array(sky_low, np.float32), 0.05), haze_m=rng.uniform(120, 400),
        sunny=sunny, shade_side=shade_side, shade_x=shade_x, shade=rng.uniform(0.45, 0.7),
        shadow_dir=(sun * rng.uniform(0.3, 1.2), rng.uniform(-0.8, 0.8)),
        side_light=sun * (rng.uniform(0.1, 0.3) if sunny else rng.uniform(0.0, 0.1)),
        gain=(rng.uniform(0.55, 1.3) * cast / cast.mean()).astype(np.float32), contrast=rng.uniform(0.6, 1.15),
        offset=rng.uniform(-10, 15), vignette=rng.uniform(0, 0.35),
        blur=rng.uniform(0.05, 0.25), blur_passes=int(_choice(rng, (1, 1, 1, 2))),
        noise=rng.uniform(1.5, 7.0), jpeg=int(rng.integers(55, 92)) if rng.random() < 0.4 else 0,
    )


def _in_shade(sc: _Scene, X: float) -> bool:
    if sc.shade_side == 0:
        return False
    return (X * sc.shade_side) > sc.shade_x


def _sample_layout(rng) -> _Layout:
    sc = _sample_scene(rng)
    cam = sc.cam
    items: list[_Item] = []
    groups: list[_Group] = []
    people_xz: list[tuple[float, float]] = []

    def person_height_m():
        return rng.uniform(1.05, 1.35) if rng.random() < 0.05 else rng.uniform(1.55, 1.95)

    def lateral(Z):
        """A lateral position: mostly on a pavement, sometimes crossing the road, in the frame."""
        for _ in range(8):
            r = rng.random()
            if r < 0.35:
                X = -rng.uniform(sc.road_l + 0.5, sc.wall_l - 0.4)
            elif r < 0.7:
                X = rng.uniform(sc.road_r + 0.5, sc.wall_r - 0.4)
            else:
                X = rng.uniform(-sc.road_l + 0.3, sc.road_r - 0.3)
            if 0 <= cam.x(X, Z) <= WIDTH:
                return X
        return (rng.uniform(0.05, 0.95) * WIDTH - cam.cx) * Z / cam.f

    def parked_x0(left: bool, gap: float) -> float:
        """Left edge of a car parked at a kerb."""
        return -(sc.road_l - 0.25 - gap) if left else sc.road_r - 0.25 - gap - CAR_WIDTH

    def add_person(X, Z, H, **kw):
        items.append(_make_person(rng, cam, X, Z, H, **kw))
        people_xz.append((X, Z))
        return len(items) - 1

    def box_of(i):
        it = items[i]
        h = cam.f * it.height_m / it.depth
        return (it.centre_x - BOX_ASPECT * h / 2, cam.y(it.depth) - h, BOX_ASPECT * h, h)

    n = int(_choice(rng, range(len(PEDESTRIANS_PER_FRAME)), PEDESTRIANS_PER_FRAME))
    placed = 0
    while placed < n:
        H = person_height_m()
        hmax = min(MAX_HEIGHT, (HEIGHT - 3 - cam.hy) * H / cam.hc)
        group = n - placed >= 2 and rng.random() < 0.2
        if group:
            hmax = min(hmax, 185.0)
        h = _sample_height(rng, hmax)
        Z = cam.f * H / h
        X = lateral(Z)
        if group:
            size = min(n - placed, int(_choice(rng, (2, 3), (0.7, 0.3))))
            facing = int(_choice(rng, (-1, 1)))
            members = [add_person(X, Z, H, facing=facing)]
            for k in range(1, size):
                Hk = rng.uniform(1.55, 1.95)
                Zk = Z + rng.uniform(-0.5, 0.6)
                hk = cam.f * Hk / Zk
                if not MIN_HEIGHT + 2 <= hk <= hmax:
                    Hk = H
                    Zk = Z
                step = _choice(rng, (-1, 1)) * rng.uniform(0.22, 0.45) * k
                for Xk in (X + step, X - step):
                    if 0 <= cam.x(Xk, Zk) <= WIDTH:  # box centre in the frame
                        members.append(add_person(Xk, Zk, Hk, facing=facing))
                        break
            placed += len(members)
            if len(members) == 1:
                groups.append(_Group("person", members, box_of(members[0])))
                continue
            if rng.random() < 0.65:
                bs = [box_of(i) for i in members]
                x0, y0 = min(b[0] for b in bs), min(b[1] for b in bs)
                x1, y1 = max(b[0] + b[2] for b in bs), max(b[1] + b[3] for b in bs)
                groups.append(_Group("people", members, (x0, y0, x1 - x0, y1 - y0)))
            else:
                for i in members:
                    groups.append(_Group("person", [i], box_of(i)))
            continue
        ambiguous = (h < 45 and rng.random() < 0.35) or rng.random() < 0.04
        i = add_person(X, Z, H, dull=ambiguous and rng.random() < 0.7)
        groups.append(_Group("person?" if ambiguous else "person", [i], box_of(i)))
        placed += 1
        # a dedicated occluder in front of this person
        if rng.random() < 0.25:
            r = rng.random()
            on_pavement = abs(X) > (sc.road_l if X < 0 else sc.road_r)
            if not on_pavement and (r >= 0.45 or placed >= n):  # on the road: a car ahead hides them
                Zc = Z - CAR_LENGTH - rng.uniform(0.3, 2.0)
                if Zc > 3.0:
                    x0 = X * Zc / Z - rng.uniform(0.3, CAR_WIDTH - 0.3)
                    # in or right of the camera's lane it drives ahead; further left it comes towards us
                    items.append(_make_car(rng, cam, x0, Zc, rear=x0 + CAR_WIDTH > -1.0))
            elif r < 0.3 and on_pavement and (sc.road_l if X < 0 else sc.road_r) > 2.6:
                Zc = Z - rng.uniform(0.3, 3.8)
                if Zc > 2.5:
                    items.append(_make_car(rng, cam, parked_x0(X < 0, rng.uniform(0, 0.4)), Zc, rear=True))
            elif r < 0.45 and placed < n:  # one of the frame's n pedestrians
                Zo = Z - rng.uniform(0.6, 3.0)
                Ho = person_height_m()
                ho = cam.f * Ho / Zo if Zo > 0 else 1e9
                if Zo > 1.0 and MIN_HEIGHT <= ho <= min(MAX_HEIGHT, (HEIGHT - 3 - cam.hy) * Ho / cam.hc):
                    Xo = X * Zo / Z + _choice(rng, (-1, 1)) * rng.uniform(0.15, 0.45)
                    if 0 <= cam.x(Xo, Zo) <= WIDTH:
                        j = add_person(Xo, Zo, Ho)
                        groups.append(_Group("person", [j], box_of(j)))
                        placed += 1
            elif on_pavement:
                kind = _choice(rng, ("bin", "bollard", "hydrant", "planter", "aframe", "pole", "tree", "sign"),
                               (0.17, 0.15, 0.12, 0.2, 0.14, 0.08, 0.07, 0.07))
                Zo = Z - rng.uniform(0.3, 2.0)
                if Zo > 1.5:
                    Xo = X * Zo / Z + rng.uniform(-0.35, 0.35)
                    Xo = math.copysign(max(abs(Xo), (sc.road_l if X < 0 else sc.road_r) + 0.2), X)  # off the road
                    items.append(_make_thing(rng, cam, kind, Xo, Zo))

    # street furniture and pedestrian-like distractors
    def free(X, Z, r=0.6):
        return all(abs(X - px) > r or abs(Z - pz) > r for px, pz in people_xz)

    kinds = ("pole", "sign", "tree", "bollard", "hydrant", "aframe", "mannequin", "bin", "blob", "planter")
    weights = np.array((0.15, 0.13, 0.12, 0.12, 0.08, 0.1, 0.11, 0.07, 0.07, 0.05))
    for _ in range(int(rng.integers(3, 12))):
        kind = str(_choice(rng, kinds, weights / weights.sum()))
        heq = _sample_height(rng, MAX_HEIGHT)
        Z = cam.f * 1.75 / heq
        if cam.y(Z) > HEIGHT + 5:
            continue
        left = rng.random() < 0.5
        road, wall = (sc.road_l, sc.wall_l) if left else (sc.road_r, sc.wall_r)
        if kind in ("pole", "sign", "tree", "bollard", "hydrant"):
            d = road + rng.uniform(0.35, 0.9)
        else:
            d = rng.uniform(road + 0.5, wall - 0.3)
        X = -d if left else d
        if kind == "mannequin":
            seg = sc.sides[0 if left else 1]
            i = _facade_at(seg, Z)
            if i is not None and seg.shop[i] and rng.random() < 0.6:
                X = math.copysign(wall + 0.4, X)
                it = _make_person(rng, cam, X, Z, rng.uniform(1.65, 1.85), mannequin=True, up=0.35)
                it.glass = True
                items.append(it)
                continue
        if not (-20 <= cam.x(X, Z) <= WIDTH + 20) or not free(X, Z):
            continue
        if kind == "mannequin":
            items.append(_make_person(rng, cam, X, Z, rng.uniform(1.6, 1.85), mannequin=True))
        else:
            items.append(_make_thing(rng, cam, kind, X, Z))

    # rows of lamp posts or trees along a kerb
    for left in (True, False):
        if rng.random() < 0.45:
            kind = "pole" if rng.random() < 0.6 else "tree"
            road = sc.road_l if left else sc.road_r
            X = -(road + 0.5) if left else road + 0.5
            spacing = rng.uniform(12, 30)
            Z = rng.uniform(4, 15)
            while cam.f * 3.0 / Z > 12:
                if -30 <= cam.x(X, Z) <= WIDTH + 30 and free(X, Z, 0.8):
                    items.append(_make_thing(rng, cam, kind, X, Z))
                Z += spacing

    # parked and passing cars, kept clear of the people
    for _ in range(int(_choice(rng, range(4), (0.3, 0.35, 0.25, 0.1)))):
        Z = rng.uniform(5, 70)
        if rng.random() < 0.7:
            left = rng.random() < 0.5
            if (sc.road_l if left else sc.road_r) <= 2.6:
                continue
            x0, rear = parked_x0(left, rng.uniform(0, 0.3)), True
        else:
            x0 = rng.uniform(-sc.road_l + 0.2, sc.road_r - 0.2 - CAR_WIDTH)
            if -1.0 - CAR_WIDTH <= x0 <= 1.0:  # not in the camera car's own lane
                x0 = 1.0 if x0 > -CAR_WIDTH / 2 else -1.0 - CAR_WIDTH
            rear = x0 > 0  # in the lanes to the left, cars come towards the camera
        x1 = x0 + CAR_WIDTH
        if cam.x(x1, Z) < -50 or cam.x(x0, Z) > WIDTH + 50:
            continue
        # painted at the depth of its rear face: nobody may stand within its depth range unless
        # they are beyond it, seen from the camera axis (then the car hides them, as it should)
        def clear(px, pz):
            if not Z - 0.6 <= pz <= Z + CAR_LENGTH + 0.6:
                return True
            return (x0 > 0 and px > x1 + 0.3) or (x1 < 0 and px < x0 - 0.3)
        if all(clear(px, pz) for px, pz in people_xz):
            items.append(_make_car(rng, cam, x0, Z, rear))

    for it, off in zip(items, rng.integers(0, _TILE, (len(items), 2)).tolist()):
        it.tex_off = tuple(off)
    order = sorted(range(len(items)), key=lambda k: (-items[k].depth, k))
    where = {old: new for new, old in enumerate(order)}
    items = [items[k] for k in order]
    for g in groups:
        g.members = [where[m] for m in g.members]
    return _Layout(sc, items, groups)


# ---------------------------------------------------------------------------------------------
# Annotations


def _annotate(layout: _Layout, keep_hidden: bool = False) -> tuple[Annotation, ...]:
    """Boxes and labels from the layout; ``visible`` by painting every silhouette's id in depth
    order into a label image and counting what is left of each annotated figure. Figures of which
    no pixel is seen are not annotated (unless ``keep_hidden``: then one per group, in order)."""
    annotated = {m for g in layout.groups for m in g.members}
    labels = np.zeros((HEIGHT, WIDTH), np.int16)
    area, region = {}, {}
    first = min(annotated) if annotated else len(layout.items)
    for k in range(first, len(layout.items)):  # items behind every annotated figure hide none of them
        x0, y0, pm = _raster(layout.items[k].prims, clip=k not in annotated)
        mask = pm > 0
        reg = _paste_region(x0, y0, *pm.shape)
        if k in annotated:
            area[k], region[k] = int(np.count_nonzero(mask)), reg
        if reg is not None:
            fr, cr = reg
            labels[fr][mask[cr]] = k + 1
    seen = {k: (int(np.count_nonzero(labels[region[k][0]] == k + 1)) if region[k] else 0) for k in annotated}
    out = []
    for g in layout.groups:
        total = sum(area[m] for m in g.members)
        vis = sum(seen[m] for m in g.members)
        if vis == 0 and not keep_hidden:
            continue
        x, y, w, h = g.box
        out.append(Annotation(box=(float(x), float(y), float(w), float(h)), label=g.label,
                              visible=float(vis / total) if total else 0.0))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Pixels


# Background surface classes: one colour each in a per-frame palette
_SKY_BANDS = 48  # classes 0-47: sky, top to horizon
C_SKYLINE = 48
C_ROAD, C_KERB, C_PAVE_L, C_PAVE_R, C_MARK, C_JOINT_L, C_JOINT_R, C_VERGE = range(49, 57)
C_FACADE = 64  # + 8 * segment + one of:
F_WALL, F_WINDOW, F_LEDGE, F_SHOP, F_SIGN, F_DOOR, F_EDGE = range(7)


def _ground_quad(cam, X0, X1, Z0, Z1):
    return [(cam.x(X0, Z0), cam.y(Z0)), (cam.x(X1, Z0), cam.y(Z0)), (cam.x(X1, Z1), cam.y(Z1)),
            (cam.x(X0, Z1), cam.y(Z1))]


def _ground_classes(sc: _Scene) -> np.ndarray:
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

    def band(X0, X1, cls):
        draw.polygon(_ground_quad(cam, X0, X1, znear, zfar), fill=cls)

    band(-sc.wall_l, -sc.road_l - 0.25, C_PAVE_L)
    band(-sc.road_l - 0.25, -sc.road_l, C_KERB)
    band(-sc.road_l, sc.road_r, C_ROAD)
    band(sc.road_r, sc.road_r + 0.25, C_KERB)
    band(sc.road_r + 0.25, sc.wall_r, C_PAVE_R)
    # markings: dashed lane line, edge lines, a zebra crossing
    z = znear - (znear % 9.0)
    while z < 250:
        draw.polygon(_ground_quad(cam, sc.lane_x - 0.07, sc.lane_x + 0.07, max(z, znear), z + 3.0), fill=C_MARK)
        z += 9.0
    draw.polygon(_ground_quad(cam, sc.road_r - 0.33, sc.road_r - 0.2, znear, 400), fill=C_MARK)
    draw.polygon(_ground_quad(cam, -sc.road_l + 0.2, -sc.road_l + 0.33, znear, 400), fill=C_MARK)
    if sc.crossing:
        z0, z1 = sc.crossing
        x = -sc.road_l + 0.3
        while x < sc.road_r - 0.3:
            draw.polygon(_ground_quad(cam, x, min(x + 0.5, sc.road_r - 0.3), z0, z1), fill=C_MARK)
            x += 1.0
    # paving joints near the camera
    for X0, X1, cls in ((-sc.wall_l, -sc.road_l - 0.25, C_JOINT_L), (sc.road_r + 0.25, sc.wall_r, C_JOINT_R)):
        z = znear - (znear % 1.5) + 1.5
        while z < 18:
            draw.polygon(_ground_quad(cam, X0, X1, z, z + 0.05), fill=cls)
            z += 1.5
        x = X0 + 1.2
        while x < X1:
            draw.polygon(_ground_quad(cam, x, x + 0.04, znear, 18), fill=cls)
            x += 1.2
    return np.asarray(im)


def _shadow_map(sc: _Scene, layout: _Layout) -> tuple[int, np.ndarray]:
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
        draw.polygon(_ground_quad(cam, X0, X1, znear, 2000.0), fill=int(round((1 - sc.shade) / 0.6 * 255)))
        top = int(cam.hy)
    for it in layout.items:
        if it.glass:
            continue
        Z = it.depth + (2.2 if it.kind == "car" else 0.0)
        w2 = it.width_m / 2
        if sc.sunny and not _in_shade(sc, it.X):
            L = min(it.height_m, 6.0)
            zt = max(Z + dZs * L, 1.0)
            poly = _ground_quad(cam, it.X - w2, it.X + w2, Z, zt)
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


def _background(sc: _Scene, layout: _Layout, rng) -> np.ndarray:
    cam = sc.cam
    cls = _ground_classes(sc).copy()
    fine = _tile_window(rng, "fine", HEIGHT, WIDTH)
    blotch = _tile_window(rng, "blotch", HEIGHT, WIDTH)
    ys = np.arange(HEIGHT, dtype=np.float32) + 0.5
    xs = np.arange(WIDTH, dtype=np.float32) + 0.5

    # haze: per row on the ground
    haze_a = np.zeros((HEIGHT, WIDTH), np.float32)
    hy_row = int(math.floor(cam.hy)) + 1
    Zrow = cam.f * cam.hc / (ys[hy_row:] - cam.hy)
    haze_a[hy_row:] = (1 - np.exp(-Zrow / sc.haze_m))[:, None]
    mult = np.ones((HEIGHT, WIDTH), np.float32)

    # facades on the planes X = -wall_l (left) and X = wall_r (right), analytically per pixel
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
    ytop = cam.hy + cam.f * (cam.hc - hcol) / Zf
    ybot = cam.hy + cam.f * cam.hc / Zf
    has = hcol > 0
    if has.any():
        r0 = max(int(math.floor(ytop[has].min())), 0)
        r1 = min(int(math.ceil(ybot[has].max())) + 1, HEIGHT)
        rows = slice(r0, r1)
        v = (cam.hc - (ys[rows, None] - cam.hy) * (Zf / cam.f)[None, :]).astype(np.float32)
        fm = (v >= 0) & (v < hcol[None, :].astype(np.float32))
        building = (allseg["kind"][sc_] == 0) & ok
        u = (Zf - allseg["z0"][sc_]).astype(np.float32)
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
        edge[1:] = segcol[1:] != segcol[:-1]
        edge[:-1] |= edge[1:]
        sub[:, edge] = F_EDGE
        fcls = (C_FACADE + 8 * sc_.astype(np.int32))[None, :] + sub
        region = cls[rows]
        np.copyto(region, fcls, where=fm)
        # glass shows the sky brighter towards the top of each pane; shop windows vary more
        g = np.where(win, 0.75 + 0.5 * frac, 1.0).astype(np.float32)
        g = np.where(shopwin, 0.85 + 0.25 * blotch[rows], g)
        np.copyto(mult[rows], g, where=fm)
        a_col = (1 - np.exp(-Zf / sc.haze_m)).astype(np.float32)
        np.copyto(haze_a[rows], np.broadcast_to(a_col, fm.shape), where=fm)

    # the palette of this frame
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

    # texture, shadows, vignetting, haze; the global gain (exposure, colour cast, contrast) is
    # applied to the palette and the haze colour, which is the same as applying it to the image
    mult *= 1 + np.take(amp_f, cls) * fine + np.take(amp_b, cls) * blotch
    top, shade = _shadow_map(sc, layout)
    mult[top:] *= shade
    if sc.vignette > 0:
        mult *= 1 - sc.vignette * _vignette_r2()
    mult *= 1 - haze_a
    # planar (3, HEIGHT, WIDTH) float32 from here on: numpy is several times faster on planes
    img = np.empty((3, HEIGHT, WIDTH), np.float32)
    pal = (pal * _gain(sc)).astype(np.float32)
    haze = (sc.haze * _gain(sc)).astype(np.float32)
    for c in range(3):
        np.take(pal[:, c], cls, out=img[c])
        img[c] *= mult
        img[c] += haze_a * haze[c]
    return img


def _gain(sc: _Scene) -> np.ndarray:
    return (sc.gain * sc.contrast).astype(np.float32)


def _paint(img, it: _Item, x0, y0, pm, sc: _Scene):
    reg = _paste_region(x0, y0, *pm.shape)
    if reg is None:
        return
    fr, cr = reg
    sub = pm[cr]
    mask = sub > 0
    if not mask.any():
        return
    h, w = sub.shape
    oy, ox = it.tex_off
    m = 1 + np.take(it.tex, sub) * _tiles()["mid" if it.kind in ("tree", "planter") else "fine"][oy:oy + h, ox:ox + w]
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
    light = (sc.shade if _in_shade(sc, it.X) else 1.0) * (0.7 if it.glass else 1.0)
    if sc.vignette > 0:
        m *= 1 - sc.vignette * _vignette_r2()[fr]
    a = 1 - math.exp(-it.depth / sc.haze_m)
    gain = _gain(sc)
    m *= light * (1 - a)
    lut = (it.lut * gain).astype(np.float32)
    haze = (sc.haze * gain * a).astype(np.float32)
    for c in range(3):
        col = np.take(lut[:, c], sub)
        col *= m
        col += haze[c]
        np.copyto(img[c][fr], col, where=mask)


def _finish(img: np.ndarray, sc: _Scene, rng) -> np.ndarray:
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
    out = _interleave(img)
    if sc.jpeg:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, "JPEG", quality=sc.jpeg)
        buf.seek(0)
        out = np.asarray(Image.open(buf).convert("RGB"))
    return out


def _interleave(planes: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [0, 255] -> (H, W, 3) uint8, truncating."""
    out = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    for c in range(3):
        out[:, :, c] = planes[c]
    return out


@functools.cache
def _vignette_r2() -> np.ndarray:
    y = (np.arange(HEIGHT, dtype=np.float32) + 0.5 - HEIGHT / 2) / (HEIGHT / 2)
    x = (np.arange(WIDTH, dtype=np.float32) + 0.5 - WIDTH / 2) / (WIDTH / 2)
    return ((x[None, :] ** 2 + y[:, None] ** 2) / 2).astype(np.float32)


def _render(layout: _Layout, rng, finish: bool = True) -> np.ndarray:
    sc = layout.scene
    img = _background(sc, layout, rng)
    annotated = {m for g in layout.groups for m in g.members}
    for k, it in enumerate(layout.items):
        x0, y0, pm = _raster(it.prims, clip=k not in annotated)
        _paint(img, it, x0, y0, pm, sc)
    if not finish:
        img += 0.5
        np.clip(img, 0, 255, out=img)
        return _interleave(img)
    return _finish(img, sc, rng)


# ---------------------------------------------------------------------------------------------
# Public API


def _streams(source) -> tuple[np.random.Generator, np.random.Generator]:
    """The layout and pixel streams of a scene. For a SeedSequence they are its children 0 and 1,
    made without ``spawn`` (which counts calls), so the same sequence always gives the same scene."""
    if isinstance(source, np.random.Generator):
        a, b = source.spawn(2)
        return a, b
    if not isinstance(source, np.random.SeedSequence):
        source = np.random.SeedSequence(source)
    a, b = (np.random.SeedSequence(source.entropy, spawn_key=(*source.spawn_key, k),
                                   pool_size=source.pool_size) for k in (0, 1))
    return np.random.default_rng(a), np.random.default_rng(b)


def render_scene(source) -> tuple[np.ndarray, tuple[Annotation, ...]]:
    """One scene from a SeedSequence (or Generator, or seed entropy): ``(image, annotations)``;
    the image is RGB uint8 of shape (480, 640, 3)."""
    layout_rng, pixel_rng = _streams(source)
    layout = _sample_layout(layout_rng)
    return _render(layout, pixel_rng), _annotate(layout)


def scene_annotations(source) -> tuple[Annotation, ...]:
    """The annotations of ``render_scene(source)`` without rendering its pixels."""
    layout_rng, _ = _streams(source)
    return _annotate(_sample_layout(layout_rng))


def _load_pixels(layout: _Layout, entropy: list) -> np.ndarray:
    """The pixels of a frame whose layout is known (a module-level function: frames pickle)."""
    return _render(layout, _streams(np.random.SeedSequence(entropy))[1])


class SyntheticScenes:
    """The procedural pedestrian scenes as a Dataset: ``frames`` frames of split ``split``.

    Frame ``i`` is drawn from ``SeedSequence([seed, SPLIT_CODES[split], i])`` alone, so it does not
    depend on which other frames were made, or in which order; its annotations are computed when
    the frame is made, its pixels when ``Frame.image()`` is called."""

    def __init__(self, seed: int = 0, split: str = "test", frames: int = 500):
        if split not in SPLIT_CODES:
            raise DatasetError(f"synthetic dataset: split '{split}' is not one of {tuple(SPLIT_CODES)}")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise DatasetError(f"synthetic dataset: the seed must be a non-negative integer, got {seed!r}")
        if frames < 0:
            raise DatasetError(f"synthetic dataset: frames must be >= 0, got {frames}")
        self.seed, self.split, self.frames = int(seed), split, int(frames)
        self.name = f"synthetic(seed={self.seed}, split={split})"

    def __len__(self) -> int:
        return self.frames

    def seed_sequence(self, index: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed, SPLIT_CODES[self.split], index])

    def __getitem__(self, index: int) -> Frame:
        if isinstance(index, slice):
            raise TypeError("SyntheticScenes does not take slices; index frames one by one")
        i = int(index)
        if i < 0:
            i += self.frames
        if not 0 <= i < self.frames:
            raise IndexError(f"frame {index} is outside {self.name}, which has {self.frames} frames")
        entropy = [self.seed, SPLIT_CODES[self.split], i]
        layout = _sample_layout(_streams(np.random.SeedSequence(entropy))[0])
        return Frame(frame_id=f"{self.split}/{i:06d}", width=WIDTH, height=HEIGHT, objects=_annotate(layout),
                     load=functools.partial(_load_pixels, layout, entropy))

    def __repr__(self) -> str:
        return f"SyntheticScenes(seed={self.seed}, split={self.split!r}, frames={self.frames})"
