"""Street furniture, pedestrian-like distractors and cars as scene items.

Furniture and distractors (lamp posts, sign posts, tree trunks, bollards, fire hydrants, bins,
A-frame shop signs, planters and person-sized vertical blobs) are shapes in metres about their
base point on the ground (dx right, up), projected at the base point's depth. A car is two boxes
projected corner by corner through the camera."""

from __future__ import annotations

import numpy as np

from accelsim.detect.datasets.synthetic.palette import CAR_WEIGHTS, CARS, CLOTHES, SIGNS, SKIN, jitter, pick
from accelsim.detect.datasets.synthetic.scene import Camera, Item

CAR_WIDTH = 1.85  # m
CAR_LENGTH = 4.8  # m, the longest car


def _lut(*colours):
    """A colour table for part ids 1, 2, ... (part 0 is the background of a part map)."""
    return np.array([(0, 0, 0)] + [tuple(c) for c in colours], dtype=np.float32)


class _Shaper:
    """Primitives of a shape in metres about the base point ``(X, Z)`` on the ground, in frame px."""

    def __init__(self, cam: Camera, X, Z):
        self.X = X
        self.xb, self.yb, self.s = cam.x(X, Z), cam.y(Z), cam.f / Z
        self.scale, self.shift = np.array((self.s, -self.s)), np.array((self.xb, self.yb))

    def poly(self, pts):
        return np.array(pts, dtype=np.float64) * self.scale + self.shift

    def ellipse(self, x, y, rx, ry):
        xb, yb, s = self.xb, self.yb, self.s
        return np.array([xb + (x - rx) * s, yb - (y + ry) * s, xb + (x + rx) * s, yb - (y - ry) * s])

    def rect(self, x0, x1, y0, y1):
        return self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


# One function per kind of thing: (rng, shape, metal colour, texture amplitudes to set) ->
# (primitives, colour table, width m, height m).


def _pole(rng, P: _Shaper, metal, tex):
    """A lamp post with its arm over the road."""
    w, hgt = rng.uniform(0.12, 0.24), rng.uniform(4.5, 9.0)
    toward_road = 1.0 if P.X < 0 else -1.0
    arm = toward_road * rng.uniform(0.8, 2.0)
    prims = [("p", 1, P.rect(-w / 2, w / 2, 0, hgt)), ("p", 1, P.rect(-w * 0.8, w * 0.8, 0, 0.5)),
             ("p", 1, P.poly([(0, hgt - 0.1), (arm, hgt + 0.1), (arm, hgt + 0.02), (0, hgt - 0.2)])),
             ("e", 2, P.ellipse(arm, hgt, 0.3, 0.1))]
    return prims, _lut(metal, (220, 220, 200)), w, hgt


def _sign(rng, P: _Shaper, metal, tex):
    """A sign post: a round, square, triangular or tall sign, sometimes a plate below it."""
    w, hgt = rng.uniform(0.06, 0.1), rng.uniform(2.1, 3.0)
    d = rng.uniform(0.45, 0.8)
    shape = rng.integers(4)
    prims = [("p", 1, P.rect(-w / 2, w / 2, 0, hgt))]
    if shape == 0:
        prims.append(("e", 2, P.ellipse(0, hgt, d / 2, d / 2)))
    elif shape == 1:
        prims.append(("p", 2, P.rect(-d / 2, d / 2, hgt - d * 0.7, hgt + d * 0.3)))
    elif shape == 2:
        prims.append(("p", 2, P.poly([(-d / 2, hgt + d * 0.3), (d / 2, hgt + d * 0.3), (0, hgt - d * 0.5)])))
    else:
        prims.append(("p", 2, P.rect(-d * 0.3, d * 0.3, hgt - d * 1.2, hgt + d * 0.2)))
    if rng.random() < 0.35:
        prims.append(("p", 3, P.rect(-d * 0.35, d * 0.35, hgt - d - 0.35, hgt - d + 0.05)))
    return prims, _lut(metal, pick(rng, SIGNS), pick(rng, SIGNS)), d, hgt


def _tree(rng, P: _Shaper, metal, tex):
    """A trunk, sometimes forked, under a crown of 2-4 ellipses."""
    w, hgt = rng.uniform(0.2, 0.45), rng.uniform(2.2, 3.6)
    prims = [("p", 1, P.poly([(-w * 0.6, 0), (w * 0.6, 0), (w * 0.45, hgt), (-w * 0.45, hgt)]))]
    if rng.random() < 0.5:  # a fork
        prims.append(("p", 1, P.poly([(-w * 0.2, hgt * 0.8), (w * 0.25, hgt * 0.8), (w * 1.4, hgt * 1.3),
                                      (w * 0.9, hgt * 1.35)])))
    r = rng.uniform(1.2, 2.8)
    for _ in range(rng.integers(2, 5)):
        prims.append(("e", 2, P.ellipse(rng.uniform(-r, r) * 0.5, hgt + r * rng.uniform(0.6, 1.3),
                                        r * rng.uniform(0.6, 1.0), r * rng.uniform(0.5, 0.9))))
    bark = jitter(rng, np.array((85, 68, 52)), 0.15)
    leaves = jitter(rng, np.array((55, 85, 45)), 0.2)
    tex[1], tex[2] = 0.15, 0.3
    return prims, _lut(bark, leaves), r * 1.5, hgt + 2 * r


def _bollard(rng, P: _Shaper, metal, tex):
    w, hgt = rng.uniform(0.12, 0.24), rng.uniform(0.7, 1.1)
    prims = [("p", 1, P.rect(-w / 2, w / 2, 0, hgt)), ("e", 1, P.ellipse(0, hgt, w / 2, w * 0.35))]
    if rng.random() < 0.6:
        prims.append(("p", 2, P.rect(-w / 2, w / 2, hgt * 0.72, hgt * 0.82)))
    return prims, _lut(metal, (225, 225, 210)), w, hgt


def _hydrant(rng, P: _Shaper, metal, tex):
    w, hgt = rng.uniform(0.22, 0.3), rng.uniform(0.6, 0.85)
    prims = [("p", 1, P.rect(-w * 0.7, w * 0.7, 0, 0.08)), ("p", 1, P.rect(-w / 2, w / 2, 0.05, hgt * 0.82)),
             ("e", 1, P.ellipse(0, hgt * 0.82, w * 0.5, hgt * 0.14)),
             ("p", 1, P.rect(-w * 0.12, w * 0.12, hgt * 0.9, hgt)),
             ("p", 2, P.rect(-w * 0.9, w * 0.9, hgt * 0.5, hgt * 0.64))]
    body = pick(rng, np.array([(180, 30, 30), (210, 180, 40), (40, 110, 60), (200, 200, 195)], np.float32))
    return prims, _lut(jitter(rng, body), jitter(rng, body * 0.8)), w, hgt


def _bin(rng, P: _Shaper, metal, tex):
    w, hgt = rng.uniform(0.45, 0.65), rng.uniform(0.85, 1.15)
    prims = [("p", 1, P.poly([(-w / 2, 0), (w / 2, 0), (w * 0.55, hgt), (-w * 0.55, hgt)])),
             ("e", 2, P.ellipse(0, hgt, w * 0.58, 0.08))]
    colour = jitter(rng, pick(rng, np.array([(40, 70, 50), (50, 50, 55), (30, 60, 120), (120, 120, 120)],
                                            np.float32)))
    return prims, _lut(colour, colour * 0.75), w, hgt


def _aframe(rng, P: _Shaper, metal, tex):
    """An A-frame shop sign: a board with 2-4 lines of text."""
    w, hgt = rng.uniform(0.5, 0.7), rng.uniform(0.9, 1.25)
    prims = [("p", 1, P.poly([(-w / 2, 0), (w / 2, 0), (w * 0.38, hgt), (-w * 0.38, hgt)])),
             ("p", 2, P.poly([(-w * 0.38, hgt * 0.18), (w * 0.38, hgt * 0.18), (w * 0.3, hgt * 0.9),
                              (-w * 0.3, hgt * 0.9)]))]
    for k in range(rng.integers(2, 5)):
        y = hgt * (0.75 - 0.15 * k)
        prims.append(("p", 3, P.rect(-w * 0.22, w * rng.uniform(0, 0.22), y - hgt * 0.05, y)))
    board = pick(rng, np.array([(30, 30, 30), (235, 235, 225), (60, 40, 30), (190, 30, 30)], np.float32))
    lut = _lut(jitter(rng, np.array((90, 70, 50))), jitter(rng, board), jitter(rng, 255 - board))
    return prims, lut, w, hgt


def _planter(rng, P: _Shaper, metal, tex):
    w, hgt = rng.uniform(1.0, 2.4), rng.uniform(0.55, 1.0)
    prims = [("p", 1, P.rect(-w / 2, w / 2, 0, hgt * 0.6)), ("e", 2, P.ellipse(0, hgt * 0.65, w * 0.52, hgt * 0.4))]
    lut = _lut(jitter(rng, np.array((120, 110, 100))), jitter(rng, np.array((50, 85, 40))))
    tex[1], tex[2] = 0.08, 0.3
    return prims, lut, w, hgt


def _blob(rng, P: _Shaper, metal, tex):
    """A person-sized vertical blob (post with a ball, wrapped statue, coat on a stand)."""
    hgt = rng.uniform(1.4, 1.9)
    w = rng.uniform(0.25, 0.5)
    head = rng.uniform(0.08, 0.14)
    prims = [("p", 1, P.poly([(-w / 2, 0), (w / 2, 0), (w * 0.5, hgt * 0.55), (w * 0.35, hgt - 2.2 * head),
                              (-w * 0.35, hgt - 2.2 * head), (-w * 0.5, hgt * 0.55)])),
             ("e", 2, P.ellipse(0, hgt - head, head, head * 1.1))]
    colour = jitter(rng, pick(rng, CLOTHES))
    tex[1] = 0.06
    return prims, _lut(colour, jitter(rng, pick(rng, np.vstack([CLOTHES, SKIN])))), w, hgt


_THINGS = {"pole": _pole, "sign": _sign, "tree": _tree, "bollard": _bollard, "hydrant": _hydrant, "bin": _bin,
           "aframe": _aframe, "planter": _planter, "blob": _blob}


def make_thing(rng, cam: Camera, kind, X, Z) -> Item:
    """A piece of street furniture or a distractor of ``kind`` (a key of ``_THINGS``; any other
    kind is a blob) standing at ``(X, Z)``."""
    shape = _Shaper(cam, X, Z)
    grey = rng.uniform(60, 150)
    metal = jitter(rng, np.array((grey, grey, grey * 1.03)), 0.05)
    if rng.random() < 0.25:
        metal = jitter(rng, np.array((40, 70, 50)))
    tex = np.zeros(8, np.float32)
    prims, lut, width, height = _THINGS.get(kind, _blob)(rng, shape, metal, tex)
    tex[tex == 0] = 0.04
    return Item(kind, Z, prims, lut, tex, X=X, width_m=width, height_m=height, centre_x=shape.xb,
                half_w=width * shape.s / 2)


def _project(cam: Camera, X, Y, Z):
    """The frame point of the scene point ``(X, Y, Z)`` (``Y`` up from the ground)."""
    return (cam.cx + cam.f * X / Z, cam.hy + cam.f * (cam.hc - Y) / Z)


def _quad(cam: Camera, pts):
    return np.array([_project(cam, *p) for p in pts], dtype=np.float64)


def make_car(rng, cam: Camera, x0, Z0, rear: bool) -> Item:
    """A car as two boxes projected through the camera, spanning X in [x0, x0 + CAR_WIDTH] and Z
    from Z0 (its rear, or its front when ``rear`` is False) to Z0 + 3.9..4.8 m."""
    wd, ln = CAR_WIDTH, rng.uniform(3.9, CAR_LENGTH)
    hb, hc = rng.uniform(0.9, 1.05), rng.uniform(1.4, 1.6)
    x1 = x0 + wd
    z0, z1 = Z0, Z0 + ln
    f, H = cam.f, cam.hc
    prims = []
    if x0 > 0 or x1 < 0:  # the side facing the camera axis
        xs = x0 if x0 > 0 else x1
        prims.append(("p", 1, _quad(cam, [(xs, 0.3, z0), (xs, hb, z0), (xs, hb, z1), (xs, 0.3, z1)])))
        prims.append(("p", 2, _quad(cam, [(xs, hb, z0 + 1.1), (xs, hc, z0 + 1.5), (xs, hc, z1 - 1.4),
                                          (xs, hb, z1 - 0.9)])))
        for zw in (z0 + 0.8, z1 - 0.85):
            cxw, cyw = _project(cam, xs, 0.33, zw)
            r = 0.33 * f / zw
            prims.append(("e", 3, np.array([cxw - r * 0.45, cyw - r, cxw + r * 0.45, cyw + r])))
    if H > hb:
        prims.append(("p", 1, _quad(cam, [(x0, hb, z0), (x1, hb, z0), (x1, hb, z1), (x0, hb, z1)])))
    ci0, ci1 = x0 + 0.12, x1 - 0.12
    if H > hc:
        prims.append(("p", 1, _quad(cam, [(ci0, hc, z0 + 1.5), (ci1, hc, z0 + 1.5), (ci1, hc, z1 - 1.4),
                                          (ci0, hc, z1 - 1.4)])))
    prims.append(("p", 2, _quad(cam, [(ci0, hb, z0 + 1.0), (ci1, hb, z0 + 1.0), (ci1, hc, z0 + 1.5),
                                      (ci0, hc, z0 + 1.5)])))
    for xa, xb_ in ((x0 + 0.1, x0 + 0.35), (x1 - 0.35, x1 - 0.1)):
        prims.append(("p", 3, _quad(cam, [(xa, 0.0, z0 + 0.7), (xb_, 0.0, z0 + 0.7), (xb_, 0.35, z0 + 0.7),
                                          (xa, 0.35, z0 + 0.7)])))
    prims.append(("p", 1, _quad(cam, [(x0, 0.3, z0), (x1, 0.3, z0), (x1, hb, z0), (x0, hb, z0)])))
    prims.append(("p", 5, _quad(cam, [(x0, 0.25, z0), (x1, 0.25, z0), (x1, 0.45, z0), (x0, 0.45, z0)])))
    for xa, xb_ in ((x0 + 0.05, x0 + 0.3), (x1 - 0.3, x1 - 0.05)):
        prims.append(("p", 4, _quad(cam, [(xa, 0.7, z0), (xb_, 0.7, z0), (xb_, 0.85, z0), (xa, 0.85, z0)])))
    xm = (x0 + x1) / 2
    prims.append(("p", 6, _quad(cam, [(xm - 0.26, 0.5, z0), (xm + 0.26, 0.5, z0), (xm + 0.26, 0.62, z0),
                                      (xm - 0.26, 0.62, z0)])))
    body = jitter(rng, pick(rng, CARS, CAR_WEIGHTS), 0.05)
    lights = (200, 30, 30) if rear else (235, 235, 215)
    lut = _lut(body, jitter(rng, np.array((45, 55, 65)), 0.15), (20, 20, 22), lights, (30, 30, 32),
               (220, 220, 210))
    tex = np.full(7, 0.03, np.float32)
    xc = cam.x((x0 + x1) / 2, z0)
    return Item("car", Z0 + 0.01, prims, lut, tex, X=(x0 + x1) / 2, width_m=wd, height_m=hc, centre_x=xc,
                half_w=wd * f / z0 / 2)
