"""Pedestrians and mannequins: poses, the figure's primitives, its colours, and the scene item.

A figure is drawn in unit coordinates (x right, y up, about 1 tall) from a ``Pose``: legs and arms
swing with the walking phase, the torso and head turn from a front (or back) view to a side view,
and clothes, hair, hats and bags add their parts. ``person_prims`` then scales it to its height in
the frame and narrows wide poses so that every part stays inside the 0.41 box."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.detect.datasets.synthetic.palette import (BOTTOM_WEIGHTS, CLOTHES, HAIR, HAIR_WEIGHTS, SKIN,
                                                        TOP_WEIGHTS, choice, jitter, pick)
from accelsim.detect.datasets.synthetic.scene import Camera, Item

# part ids of a figure; *_FAR is the far limb of a side view, drawn darker
(_P_SKIN, _P_SKIN_FAR, _P_HAIR, _P_TOP, _P_TOP_FAR, _P_BOTTOM, _P_BOTTOM_FAR, _P_LEG, _P_LEG_FAR, _P_SHOES,
 _P_SHOES_FAR, _P_BAG, _P_HAT) = range(1, 14)
_PERSON_PARTS = 14


@dataclass
class Pose:
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


def sample_pose(rng, facing_hint=None, mannequin=False) -> Pose:
    r = rng.random()
    side = 1.0 if r < 0.45 else (0.0 if r < 0.8 else rng.uniform(0.25, 0.75))
    facing = facing_hint if facing_hint is not None else int(choice(rng, (-1, 1)))
    walking = rng.random() < 0.72
    top = str(choice(rng, ("tshirt", "long", "coat"), (0.3, 0.42, 0.28)))
    bottom = str(choice(rng, ("trousers", "shorts", "skirt", "dress"), (0.7, 0.08, 0.14, 0.08)))
    if top == "coat" and bottom == "dress":
        bottom = "skirt"
    return Pose(
        side=side, facing=facing, back=bool(rng.random() < 0.45), phase=float(rng.uniform(0, 2 * math.pi)),
        stride=float(rng.uniform(0.2, 0.42)) if walking else float(rng.uniform(0.0, 0.06)),
        child=bool(rng.random() < 0.05), top=top, bottom=bottom,
        hair=str(choice(rng, ("short", "long", "bald"), (0.6, 0.3, 0.1))),
        hat=None if rng.random() > 0.14 else str(choice(rng, ("beanie", "cap"))),
        bag=None if rng.random() > 0.4 else str(choice(rng, ("backpack", "shoulder", "hand"))),
        mannequin=mannequin,
    )


def _limb(p, q, w1, w2):
    """The quadrilateral around the segment ``p`` -> ``q``: ``w1`` wide at ``p``, ``w2`` at ``q``."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    n = math.hypot(dx, dy) or 1e-9
    nx, ny = -dy / n * 0.5, dx / n * 0.5
    return [(p[0] + nx * w1, p[1] + ny * w1), (q[0] + nx * w2, q[1] + ny * w2),
            (q[0] - nx * w2, q[1] - ny * w2), (p[0] - nx * w1, p[1] - ny * w1)]


class _UnitFigure:
    """One figure being drawn in unit coordinates: its proportions and joints, and the primitives
    drawn so far (back to front). Limb 0 is the near one, 1 the far one."""

    def __init__(self, p: Pose):
        self.p = p
        c = self.c = p.side
        s = self.s = p.facing
        A = p.stride
        self.sideview = c >= 0.5
        kh = self.kh = 1.22 if p.child else 1.0  # a child's head is larger for its height
        self.kl = 0.88 if p.child else 1.0  # and its limbs shorter
        lean = self.lean = s * c * (0.012 + 0.06 * A)  # forward, when walking
        self.sw = 0.118 * (1 - c) + 0.062 * c  # half-width at the shoulders
        self.hw = 0.088 * (1 - c) + 0.066 * c  # half-width at the hips
        self.hip = 0.53 * self.kl
        self.sh = self.hip + 0.27  # shoulder height
        self.neck_top = self.sh + 0.06
        self.rx, self.ry = (0.047 * (1 - c) + 0.055 * c) * kh, 0.066 * kh  # head radii
        self.hx, self.hcy = lean * 1.15 + s * c * 0.012, self.neck_top + 0.85 * self.ry  # head centre
        self.legs = [self._leg_joints(i) for i in (0, 1)]
        self.arms = [self._arm_joints(j) for j in (0, 1)]
        self.prims = []

    def poly(self, part, pts):
        self.prims.append(("p", part, pts))

    def ell(self, part, x, y, ex, ey):
        self.prims.append(("e", part, (x, y, ex, ey)))

    def far(self, a, b):
        """Part ``a`` of a near limb, or ``b`` (its darker twin) of the far limb of a side view."""
        return b if self.sideview else a

    # --- joints

    def _leg_joints(self, i):
        """Hip, knee and ankle of leg ``i``."""
        c, s, A, lean, hip = self.c, self.s, self.p.stride, self.lean, self.hip
        lt, ls = 0.255 * self.kl, 0.24 * self.kl
        q = self.p.phase + i * math.pi
        at = A * math.sin(q)
        flex = 1.5 * A * max(0.0, math.cos(q + math.pi / 4)) ** 2
        lat = (1 - c) * (0.048 if i == 0 else -0.048)
        out = (1 - c) * (0.04 if i == 0 else -0.04)
        hxl = lean * 0.2 + lat - (s * 0.012 * c if i else 0.0)
        kx, ky = hxl + s * c * math.sin(at) * lt + out * lt, hip - math.cos(at) * lt
        sa = at - flex
        ax, ay = kx + s * c * math.sin(sa) * ls + out * 0.3 * ls, ky - math.cos(sa) * ls
        return (hxl, hip), (kx, ky), (ax, ay)

    def _arm_joints(self, j):
        """Shoulder, elbow, wrist and hand of arm ``j``; an arm swings with the opposite leg."""
        p, c, s, A, lean = self.p, self.c, self.s, self.p.stride, self.lean
        lu, lf = 0.165 * self.kl, 0.145 * self.kl
        q = p.phase + (1 - j) * math.pi
        au = 0.85 * A * math.sin(q)
        fe = 0.12 + 0.7 * max(0.0, au)
        if p.bag == "hand" and j == 0:
            au, fe = 0.6 * au, 0.05
        lat = (1 - c) * (1 if j == 0 else -1)
        sx = lean + lat * (self.sw - 0.022) - (s * 0.012 * c if j else 0.0)
        sy = self.sh - 0.012
        out = 0.07 * lat
        ex, ey = sx + s * c * math.sin(au) * lu + math.sin(out) * lu, sy - math.cos(au) * lu
        a2 = au + fe
        wx, wy = ex + s * c * math.sin(a2) * lf + math.sin(0.6 * out) * lf, ey - math.cos(a2) * lf
        hand = (wx + s * c * math.sin(a2) * 0.018, wy - math.cos(a2) * 0.02)
        return (sx, sy), (ex, ey), (wx, wy), hand

    # --- outlines of the trunk and hair

    def torso(self):
        sw, hw, lean, sh, hip = self.sw, self.hw, self.lean, self.sh, self.hip
        return [(-sw + lean, sh - 0.01), (-sw * 0.7 + lean, sh + 0.028), (sw * 0.7 + lean, sh + 0.028),
                (sw + lean, sh - 0.01), (hw + 0.004, hip + 0.03), (-hw - 0.004, hip + 0.03)]

    def coat(self):
        hw, sc, hip = self.hw, self.s * self.c, self.hip
        return self.torso()[:4] + [(hw * 1.25 + sc * 0.012, hip - 0.2), (-hw * 1.25 + sc * 0.012, hip - 0.2)]

    def skirt(self):
        hw, sc, hip = self.hw, self.s * self.c, self.hip
        return [(-hw, hip + 0.04), (hw, hip + 0.04), (hw * 1.5 + sc * 0.01, hip - 0.17),
                (-hw * 1.5 + sc * 0.01, hip - 0.17)]

    def hair_long(self):
        hx, hcy, rx, sc, sh = self.hx, self.hcy, self.rx, self.s * self.c, self.sh
        return [(hx - rx * 1.05 - sc * 0.015, hcy), (hx + rx * 1.05 - sc * 0.015, hcy),
                (hx + rx * 1.15 - sc * 0.03, sh - 0.03), (hx - rx * 1.15 - sc * 0.03, sh - 0.03)]

    # --- parts

    def leg(self, i):
        p, c, s = self.p, self.c, self.s
        (hxl, hy_), (kx, ky), (ax, ay) = self.legs[i]
        near = i == 0
        bare = p.bottom in ("skirt", "dress") or p.mannequin
        thigh = _P_BOTTOM if p.bottom == "shorts" else _P_LEG
        thigh = thigh if near else self.far(thigh, thigh + 1)
        shin = _P_LEG if near else self.far(_P_LEG, _P_LEG_FAR)
        shoes = _P_SHOES if near else self.far(_P_SHOES, _P_SHOES_FAR)
        wt = 0.08 if bare else 0.092
        self.poly(thigh, _limb((hxl, hy_ + 0.02), (kx, ky), wt, 0.058))
        self.poly(shin, _limb((kx, ky), (ax, ay), 0.054, 0.038))
        self.ell(shin, kx, ky, 0.028, 0.028)
        foot_h = 0.035
        fw = 0.026 * (1 - c) + 0.016 * c
        left = ax - fw - (0.03 if s > 0 else 0.075) * c
        right = ax + fw + (0.075 if s > 0 else 0.03) * c
        self.poly(shoes, [(ax - 0.021, ay + 0.012), (ax + 0.021, ay + 0.012), (right, ay - foot_h + 0.012),
                          (right, ay - foot_h), (left, ay - foot_h)])

    def arm(self, j):
        p = self.p
        (sx, sy), (ex, ey), (wx, wy), (hx_, hy_) = self.arms[j]
        near = j == 0
        sleeve = _P_TOP if near else self.far(_P_TOP, _P_TOP_FAR)
        skin = _P_SKIN if near else self.far(_P_SKIN, _P_SKIN_FAR)
        fore = skin if p.top == "tshirt" or p.mannequin else sleeve
        self.poly(sleeve, _limb((sx, sy), (ex, ey), 0.05, 0.043))
        self.ell(sleeve, sx, sy - 0.005, 0.026, 0.026)
        self.poly(fore, _limb((ex, ey), (wx, wy), 0.04, 0.033))
        self.ell(fore, ex, ey, 0.02, 0.02)
        self.ell(skin, hx_, hy_, 0.021, 0.025)

    def lower_body(self):
        p, c, hw, hip = self.p, self.c, self.hw, self.hip
        if p.mannequin:
            self.poly(_P_BOTTOM, [(-hw, hip + 0.04), (hw, hip + 0.04), (0.03, 0.1), (-0.03, 0.1)])
            self.poly(_P_SHOES, [(-0.012, 0.12), (0.012, 0.12), (0.012, 0.03), (-0.012, 0.03)])
            self.ell(_P_SHOES, 0.0, 0.02, 0.07 * (1 - c) + 0.05 * c, 0.02)
            return
        self.leg(1)
        self.leg(0)
        self.poly(_P_BOTTOM, [(-hw, hip + 0.04), (hw, hip + 0.04), (hw * 0.92, hip - 0.07), (-hw * 0.92, hip - 0.07)])
        if p.bottom == "skirt":
            self.poly(_P_BOTTOM, self.skirt())
        elif p.bottom == "dress":
            self.poly(_P_TOP, self.skirt())

    def trunk(self):
        """Neck, torso, coat and bags (all but a bag in the hand)."""
        p, lean = self.p, self.lean
        self.poly(_P_SKIN, _limb((lean, self.sh), (lean * 1.1, self.neck_top), 0.045, 0.04))
        self.poly(_P_TOP, self.torso())
        if p.top == "coat" and not p.mannequin:
            self.poly(_P_TOP, self.coat())
        if p.bag == "backpack":
            self.backpack()
        elif p.bag == "shoulder":
            self.shoulder_bag()

    def backpack(self):
        s, lean, sh, hip, sw = self.s, self.lean, self.sh, self.hip, self.sw
        if self.sideview:
            b0, b1 = lean - s * 0.055, lean - s * 0.135
            self.poly(_P_BAG, [(b0, sh - 0.015), (b1, sh - 0.03), (b1, hip + 0.07), (b0, hip + 0.06)])
        elif self.p.back:
            self.poly(_P_BAG, [(-0.085, sh - 0.015), (0.085, sh - 0.015), (0.09, hip + 0.05), (-0.09, hip + 0.05)])
        else:
            for k in (-1, 1):
                self.poly(_P_BAG, _limb((k * (sw - 0.045), sh + 0.02), (k * (sw - 0.035), hip + 0.12), 0.018, 0.018))

    def shoulder_bag(self):
        s, lean, sh, hip = self.s, self.lean, self.sh, self.hip
        bx = lean * 0.5 - s * 0.035 if self.sideview else (self.hw + 0.035)
        self.poly(_P_BAG, _limb((-bx * 0.6 + lean, sh + 0.015), (bx, hip), 0.012, 0.012))
        self.poly(_P_BAG, [(bx - 0.05, hip + 0.03), (bx + 0.05, hip + 0.03), (bx + 0.052, hip - 0.07),
                           (bx - 0.052, hip - 0.07)])

    def hand_bag(self):
        if self.p.bag == "hand":
            wx, wy = self.arms[0][3]
            self.poly(_P_BAG, [(wx - 0.04, wy + 0.005), (wx + 0.04, wy + 0.005), (wx + 0.046, wy - 0.125),
                               (wx - 0.046, wy - 0.125)])

    def head(self):
        p, sc, kh = self.p, self.s * self.c, self.kh
        hx, hcy, rx, ry = self.hx, self.hcy, self.rx, self.ry
        if p.mannequin:
            self.ell(_P_SKIN, hx, hcy, rx, ry)
            return
        hair = ("e", _P_HAIR, (hx - sc * 0.012, hcy + 0.012 * kh, rx * 1.06, ry * 0.9))
        if p.hair == "bald":
            hair = ("e", _P_HAIR, (hx - sc * 0.01, hcy + 0.02 * kh, rx * 0.98, ry * 0.8))
        if p.back and not self.sideview:
            self.ell(_P_SKIN, hx, hcy, rx, ry)
            self.ell(_P_HAIR, hx, hcy + 0.006, rx * 1.03, ry * 0.98)
        else:
            self.prims.append(hair)
            self.ell(_P_SKIN, hx + sc * 0.004, hcy - 0.006, rx * 0.98, ry * 0.93)
        if p.hat:
            self.ell(_P_HAT, hx - sc * 0.004, hcy + ry * 0.5, rx * 1.1, ry * 0.58)
            if p.hat == "cap":
                bx, bw = hx + sc * rx * 1.1, rx * (1.1 - 0.3 * self.c)
                self.poly(_P_HAT, [(bx - bw, hcy + ry * 0.22), (bx + bw, hcy + ry * 0.22), (bx + bw, hcy + ry * 0.08),
                                   (bx - bw, hcy + ry * 0.08)])

    # --- whole figures

    def draw_side_view(self):
        p = self.p
        if not p.mannequin:
            self.arm(1)
        self.lower_body()
        self.trunk()
        if p.hair == "long" and not p.mannequin:
            self.poly(_P_HAIR, self.hair_long())
        if not p.mannequin:
            self.arm(0)
            self.hand_bag()
        self.head()

    def draw_front_view(self):
        p = self.p
        if p.hair == "long" and not p.back and not p.mannequin:
            self.poly(_P_HAIR, self.hair_long())
        self.lower_body()
        self.trunk()
        if not p.mannequin:
            self.arm(1)
            self.arm(0)
            self.hand_bag()
        self.head()
        if p.hair == "long" and p.back and not p.mannequin:
            self.poly(_P_HAIR, self.hair_long())


def person_unit(p: Pose) -> list:
    """The figure in unit coordinates (x right, y up, about 1 tall), back to front."""
    figure = _UnitFigure(p)
    if figure.sideview:
        figure.draw_side_view()
    else:
        figure.draw_front_view()
    return figure.prims


def person_prims(pose: Pose, xc: float, feet_y: float, h: float) -> list:
    """The figure in frame pixels: soles on row ``feet_y``, head top on ``feet_y - h``, and every
    part within ``0.205 h`` of the column ``xc`` (wide poses are narrowed to fit the 0.41 box)."""
    unit = person_unit(pose)
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


def _person_colours(rng, pose: Pose, dull: bool):
    """Colour and texture amplitude per part id of a figure; ``dull``: ambiguous, low contrast."""
    lut = np.zeros((_PERSON_PARTS, 3), np.float32)
    skin = SKIN[rng.integers(len(SKIN))] * rng.uniform(0.92, 1.06)
    top = jitter(rng, pick(rng, CLOTHES, TOP_WEIGHTS))
    bottom = jitter(rng, pick(rng, CLOTHES, BOTTOM_WEIGHTS))
    if dull:  # ambiguous figures: dark, grey, low contrast clothes
        top = top * 0.35 + 45
        bottom = bottom * 0.35 + 40
    legs = bottom if pose.bottom == "trousers" else (skin if rng.random() < 0.6 else pick(rng, CLOTHES[:3]))
    shoes = jitter(rng, pick(rng, CLOTHES[:3])) if rng.random() < 0.75 else jitter(rng, CLOTHES[4])
    if pose.mannequin:
        skin = pick(rng, np.array([(230, 225, 215), (40, 40, 42), (200, 175, 140), (175, 175, 178)], np.float32))
        shoes = np.array((60, 60, 64), np.float32)
    lut[_P_SKIN], lut[_P_HAIR] = skin, pick(rng, HAIR, HAIR_WEIGHTS) * rng.uniform(0.85, 1.15)
    lut[_P_TOP], lut[_P_BOTTOM], lut[_P_LEG], lut[_P_SHOES] = top, bottom, legs, shoes
    lut[_P_BAG] = jitter(rng, pick(rng, CLOTHES))
    lut[_P_HAT] = jitter(rng, pick(rng, CLOTHES))
    for near, far_ in ((_P_SKIN, _P_SKIN_FAR), (_P_TOP, _P_TOP_FAR), (_P_BOTTOM, _P_BOTTOM_FAR),
                       (_P_LEG, _P_LEG_FAR), (_P_SHOES, _P_SHOES_FAR)):
        lut[far_] = lut[near] * 0.8
    tex = np.zeros(_PERSON_PARTS, np.float32)
    tex[[_P_TOP, _P_TOP_FAR, _P_BOTTOM, _P_BOTTOM_FAR, _P_LEG, _P_LEG_FAR, _P_BAG, _P_HAT]] = rng.uniform(0.02, 0.08)
    tex[_P_HAIR] = 0.12
    return lut, tex


def make_person(rng, cam: Camera, X, Z, H, dull=False, facing=None, mannequin=False, up=0.0) -> Item:
    """A pedestrian (or a mannequin) of real height ``H`` m standing at ``(X, Z)``, ``up`` m above
    the ground: pose, colours and, for a quarter of the people, a striped top."""
    h = cam.f * H / Z
    feet = cam.y(Z, up)
    xc = cam.x(X, Z)
    pose = sample_pose(rng, facing, mannequin)
    lut, tex = _person_colours(rng, pose, dull)
    stripes = None
    if rng.random() < 0.25 and not mannequin:
        stripes = ((_P_TOP, _P_TOP_FAR), max(2.0, h * rng.uniform(0.025, 0.06)), rng.uniform(0.6, 0.85),
                   bool(rng.random() < 0.3))
    return Item("mannequin" if mannequin else "person", Z, person_prims(pose, xc, feet, h), lut, tex, X=X,
                width_m=0.45, height_m=H, centre_x=xc, half_w=0.2 * h, stripes=stripes)
