"""The layout of a frame: where every pedestrian, car, piece of street furniture and distractor
stands, drawn from the frame's layout stream after the street (``street.sample_scene``).

Geometry
--------
A person of real height ``H`` at depth ``Z`` is ``h = f H / Z`` pixels tall and stands on the row
``hy + f Hc / Z = hy + h Hc / H``, so feet rise towards the horizon as people shrink, as in a
street scene. Box heights follow a log-normal law (median 62 px, log-sigma 0.42) truncated to
[30, 200] px: about 83 % of people are between 40 and 120 px tall.

What stands in the street
-------------------------
0-6 pedestrians a frame, mostly on the pavements, some crossing the road; some walk in tight
groups of 2-3 (annotated as one ``people`` box, or one box each); a quarter of the single ones get
an occluder of their own in front (a car, another pedestrian, a piece of furniture). Then 3-11
tries at placing street furniture or a pedestrian-like distractor (``props``, and mannequins) at
the same scales as the people; rows of lamp posts or trees along the kerbs; parked and passing
cars, kept clear of the people."""

from __future__ import annotations

import math

import numpy as np

from accelsim.detect.datasets.synthetic.figures import make_person
from accelsim.detect.datasets.synthetic.palette import choice
from accelsim.detect.datasets.synthetic.props import CAR_LENGTH, CAR_WIDTH, make_car, make_thing
from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH, Group, Item, Layout, Scene
from accelsim.detect.datasets.synthetic.street import facade_at, sample_scene
from accelsim.detect.datasets.synthetic.textures import TILE

BOX_ASPECT = 0.41  # box width / height
MIN_HEIGHT, MAX_HEIGHT = 30.0, 200.0  # px, box height
HEIGHT_MEDIAN = 62.0  # px, median of the log-normal height law
HEIGHT_LOG_SIGMA = 0.42
# P(number of pedestrians in a frame = 0, 1, ..., 6)
PEDESTRIANS_PER_FRAME = (0.2, 0.22, 0.2, 0.15, 0.11, 0.07, 0.05)

_DISTRACTORS = ("pole", "sign", "tree", "bollard", "hydrant", "aframe", "mannequin", "bin", "blob", "planter")
_DISTRACTOR_WEIGHTS = np.array((0.15, 0.13, 0.12, 0.12, 0.08, 0.1, 0.11, 0.07, 0.07, 0.05))
_AT_THE_KERB = ("pole", "sign", "tree", "bollard", "hydrant")
_OCCLUDERS = ("bin", "bollard", "hydrant", "planter", "aframe", "pole", "tree", "sign")
_OCCLUDER_WEIGHTS = (0.17, 0.15, 0.12, 0.2, 0.14, 0.08, 0.07, 0.07)


def sample_height(rng, hmax: float) -> float:
    """A box height (px) from the truncated log-normal law, at most ``hmax``."""
    for _ in range(200):
        h = HEIGHT_MEDIAN * math.exp(HEIGHT_LOG_SIGMA * rng.standard_normal())
        if MIN_HEIGHT <= h <= hmax:
            return h
    return float(rng.uniform(MIN_HEIGHT, hmax))


def _clear_of_car(x0, x1, Z, px, pz) -> bool:
    """Whether a person at ``(px, pz)`` may stand there with a car over ``[x0, x1]`` from ``Z``.

    The car is painted at the depth of its rear face: nobody may stand within its depth range
    unless they are beyond it, seen from the camera axis (then the car hides them, as it should)."""
    if not Z - 0.6 <= pz <= Z + CAR_LENGTH + 0.6:
        return True
    return (x0 > 0 and px > x1 + 0.3) or (x1 < 0 and px < x0 - 0.3)


def sample_layout(rng) -> Layout:
    """The street and everything in it, from the frame's layout stream."""
    return _LayoutSampler(rng).sample()


def sample_scene_and_pedestrians(rng) -> tuple[Scene, int]:
    """The first draws of ``sample_layout(rng)``: the scene and how many pedestrians it will place,
    without placing anything (a frame's conditions need no more, at a fifth of the cost)."""
    sampler = _LayoutSampler(rng)
    return sampler.sc, sampler.pedestrian_count()


class _LayoutSampler:
    """One frame's layout, drawn step by step: its items (in the order they are made) and groups."""

    def __init__(self, rng):
        self.rng = rng
        self.sc = sample_scene(rng)
        self.cam = self.sc.cam
        self.items: list[Item] = []
        self.groups: list[Group] = []
        self.people_xz: list[tuple[float, float]] = []

    def sample(self) -> Layout:
        self.place_pedestrians()
        for _ in range(int(self.rng.integers(3, 12))):
            self.place_distractor()
        for left in (True, False):
            self.place_kerb_row(left)
        for _ in range(int(choice(self.rng, range(4), (0.3, 0.35, 0.25, 0.1)))):
            self.place_car()
        return self.painters_order()

    # --- helpers

    def person_height_m(self):
        rng = self.rng
        return rng.uniform(1.05, 1.35) if rng.random() < 0.05 else rng.uniform(1.55, 1.95)

    def tallest_px(self, H):
        """The tallest box (px) of a person of height ``H`` m whose feet are in the frame."""
        return min(MAX_HEIGHT, (HEIGHT - 3 - self.cam.hy) * H / self.cam.hc)

    def kerb(self, left: bool) -> float:
        """|X| of the kerb on the left or the right."""
        return self.sc.road_l if left else self.sc.road_r

    def lateral(self, Z):
        """A lateral position: mostly on a pavement, sometimes crossing the road, in the frame."""
        rng, sc, cam = self.rng, self.sc, self.cam
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

    def parked_x0(self, left: bool, gap: float) -> float:
        """Left edge of a car parked at a kerb."""
        return -(self.sc.road_l - 0.25 - gap) if left else self.sc.road_r - 0.25 - gap - CAR_WIDTH

    def free(self, X, Z, r=0.6):
        """Whether no pedestrian stands within ``r`` m of ``(X, Z)``."""
        return all(abs(X - px) > r or abs(Z - pz) > r for px, pz in self.people_xz)

    def add_person(self, X, Z, H, **kw):
        self.items.append(make_person(self.rng, self.cam, X, Z, H, **kw))
        self.people_xz.append((X, Z))
        return len(self.items) - 1

    def box_of(self, i):
        it, cam = self.items[i], self.cam
        h = cam.f * it.height_m / it.depth
        return (it.centre_x - BOX_ASPECT * h / 2, cam.y(it.depth) - h, BOX_ASPECT * h, h)

    def annotate_one(self, i, label="person"):
        self.groups.append(Group(label, [i], self.box_of(i)))

    # --- pedestrians

    def pedestrian_count(self) -> int:
        """How many pedestrians the frame holds: exactly this many are placed, alone, in groups or
        in front of one another (annotated or not)."""
        return int(choice(self.rng, range(len(PEDESTRIANS_PER_FRAME)), PEDESTRIANS_PER_FRAME))

    def place_pedestrians(self):
        rng, cam = self.rng, self.cam
        n = self.pedestrian_count()
        placed = 0
        while placed < n:
            H = self.person_height_m()
            hmax = self.tallest_px(H)
            group = n - placed >= 2 and rng.random() < 0.2
            if group:
                hmax = min(hmax, 185.0)
            h = sample_height(rng, hmax)
            Z = cam.f * H / h
            X = self.lateral(Z)
            if group:
                placed += self.place_group(X, Z, H, hmax, n - placed)
            else:
                placed += self.place_person(X, Z, H, h, more=placed + 1 < n)

    def place_group(self, X, Z, H, hmax, room) -> int:
        """A group of 2-3 (at most ``room``) walking side by side; returns how many were placed."""
        rng, cam = self.rng, self.cam
        size = min(room, int(choice(rng, (2, 3), (0.7, 0.3))))
        facing = int(choice(rng, (-1, 1)))
        members = [self.add_person(X, Z, H, facing=facing)]
        for k in range(1, size):
            Hk = rng.uniform(1.55, 1.95)
            Zk = Z + rng.uniform(-0.5, 0.6)
            hk = cam.f * Hk / Zk
            if not MIN_HEIGHT + 2 <= hk <= hmax:
                Hk = H
                Zk = Z
            step = choice(rng, (-1, 1)) * rng.uniform(0.22, 0.45) * k
            for Xk in (X + step, X - step):
                if 0 <= cam.x(Xk, Zk) <= WIDTH:  # box centre in the frame
                    members.append(self.add_person(Xk, Zk, Hk, facing=facing))
                    break
        if len(members) == 1:
            self.annotate_one(members[0])
        elif rng.random() < 0.65:
            bs = [self.box_of(i) for i in members]
            x0, y0 = min(b[0] for b in bs), min(b[1] for b in bs)
            x1, y1 = max(b[0] + b[2] for b in bs), max(b[1] + b[3] for b in bs)
            self.groups.append(Group("people", members, (x0, y0, x1 - x0, y1 - y0)))
        else:
            for i in members:
                self.annotate_one(i)
        return len(members)

    def place_person(self, X, Z, H, h, more: bool) -> int:
        """One pedestrian, and for a quarter of them an occluder in front; ``more``: whether the
        frame has a pedestrian left to place. Returns how many pedestrians were placed."""
        rng = self.rng
        ambiguous = (h < 45 and rng.random() < 0.35) or rng.random() < 0.04
        i = self.add_person(X, Z, H, dull=ambiguous and rng.random() < 0.7)
        self.annotate_one(i, "person?" if ambiguous else "person")
        if rng.random() < 0.25:
            return 1 + self.place_occluder(X, Z, more)
        return 1

    def place_occluder(self, X, Z, more: bool) -> int:
        """A dedicated occluder in front of the person at ``(X, Z)``: a car ahead on the road, a
        car parked at the kerb, another pedestrian (one of the frame's, if ``more``), or street
        furniture. Returns how many pedestrians were placed."""
        rng, cam = self.rng, self.cam
        r = rng.random()
        kerb = self.kerb(X < 0)
        on_pavement = abs(X) > kerb
        if not on_pavement and (r >= 0.45 or not more):  # on the road: a car ahead hides them
            Zc = Z - CAR_LENGTH - rng.uniform(0.3, 2.0)
            if Zc > 3.0:
                x0 = X * Zc / Z - rng.uniform(0.3, CAR_WIDTH - 0.3)
                # in or right of the camera's lane it drives ahead; further left it comes towards us
                self.items.append(make_car(rng, cam, x0, Zc, rear=x0 + CAR_WIDTH > -1.0))
        elif r < 0.3 and on_pavement and kerb > 2.6:
            Zc = Z - rng.uniform(0.3, 3.8)
            if Zc > 2.5:
                self.items.append(make_car(rng, cam, self.parked_x0(X < 0, rng.uniform(0, 0.4)), Zc, rear=True))
        elif r < 0.45 and more:
            return self.place_pedestrian_ahead(X, Z)
        elif on_pavement:
            kind = choice(rng, _OCCLUDERS, _OCCLUDER_WEIGHTS)
            Zo = Z - rng.uniform(0.3, 2.0)
            if Zo > 1.5:
                Xo = X * Zo / Z + rng.uniform(-0.35, 0.35)
                Xo = math.copysign(max(abs(Xo), kerb + 0.2), X)  # off the road
                self.items.append(make_thing(rng, cam, kind, Xo, Zo))
        return 0

    def place_pedestrian_ahead(self, X, Z) -> int:
        rng, cam = self.rng, self.cam
        Zo = Z - rng.uniform(0.6, 3.0)
        Ho = self.person_height_m()
        ho = cam.f * Ho / Zo if Zo > 0 else 1e9
        if Zo > 1.0 and MIN_HEIGHT <= ho <= self.tallest_px(Ho):
            Xo = X * Zo / Z + choice(rng, (-1, 1)) * rng.uniform(0.15, 0.45)
            if 0 <= cam.x(Xo, Zo) <= WIDTH:
                self.annotate_one(self.add_person(Xo, Zo, Ho))
                return 1
        return 0

    # --- street furniture, distractors, cars

    def place_distractor(self):
        """Street furniture or a pedestrian-like distractor, at a pedestrian's scale."""
        rng, sc, cam = self.rng, self.sc, self.cam
        kind = str(choice(rng, _DISTRACTORS, _DISTRACTOR_WEIGHTS / _DISTRACTOR_WEIGHTS.sum()))
        heq = sample_height(rng, MAX_HEIGHT)
        Z = cam.f * 1.75 / heq
        if cam.y(Z) > HEIGHT + 5:
            return
        left = rng.random() < 0.5
        road, wall = (sc.road_l, sc.wall_l) if left else (sc.road_r, sc.wall_r)
        if kind in _AT_THE_KERB:
            d = road + rng.uniform(0.35, 0.9)
        else:
            d = rng.uniform(road + 0.5, wall - 0.3)
        X = -d if left else d
        if kind == "mannequin":
            seg = sc.sides[0 if left else 1]
            i = facade_at(seg, Z)
            if i is not None and seg.shop[i] and rng.random() < 0.6:  # in a shop window
                X = math.copysign(wall + 0.4, X)
                it = make_person(rng, cam, X, Z, rng.uniform(1.65, 1.85), mannequin=True, up=0.35)
                it.glass = True
                self.items.append(it)
                return
        if not (-20 <= cam.x(X, Z) <= WIDTH + 20) or not self.free(X, Z):
            return
        if kind == "mannequin":
            self.items.append(make_person(rng, cam, X, Z, rng.uniform(1.6, 1.85), mannequin=True))
        else:
            self.items.append(make_thing(rng, cam, kind, X, Z))

    def place_kerb_row(self, left: bool):
        """In some frames, a row of lamp posts or trees along the kerb."""
        rng, cam = self.rng, self.cam
        if rng.random() < 0.45:
            kind = "pole" if rng.random() < 0.6 else "tree"
            road = self.kerb(left)
            X = -(road + 0.5) if left else road + 0.5
            spacing = rng.uniform(12, 30)
            Z = rng.uniform(4, 15)
            while cam.f * 3.0 / Z > 12:
                if -30 <= cam.x(X, Z) <= WIDTH + 30 and self.free(X, Z, 0.8):
                    self.items.append(make_thing(rng, cam, kind, X, Z))
                Z += spacing

    def place_car(self):
        """A car parked at a kerb or passing in another lane, if it is in view and clear of the people."""
        rng, sc, cam = self.rng, self.sc, self.cam
        Z = rng.uniform(5, 70)
        if rng.random() < 0.7:
            left = rng.random() < 0.5
            if self.kerb(left) <= 2.6:
                return
            x0, rear = self.parked_x0(left, rng.uniform(0, 0.3)), True
        else:
            x0 = rng.uniform(-sc.road_l + 0.2, sc.road_r - 0.2 - CAR_WIDTH)
            if -1.0 - CAR_WIDTH <= x0 <= 1.0:  # not in the camera car's own lane
                x0 = 1.0 if x0 > -CAR_WIDTH / 2 else -1.0 - CAR_WIDTH
            rear = x0 > 0  # in the lanes to the left, cars come towards the camera
        x1 = x0 + CAR_WIDTH
        if cam.x(x1, Z) < -50 or cam.x(x0, Z) > WIDTH + 50:
            return
        if all(_clear_of_car(x0, x1, Z, px, pz) for px, pz in self.people_xz):
            self.items.append(make_car(rng, cam, x0, Z, rear))

    def painters_order(self) -> Layout:
        """Texture offsets for every item, then the items far to near (group members renumbered)."""
        items = self.items
        for it, off in zip(items, self.rng.integers(0, TILE, (len(items), 2)).tolist()):
            it.tex_off = tuple(off)
        order = sorted(range(len(items)), key=lambda k: (-items[k].depth, k))
        where = {old: new for new, old in enumerate(order)}
        for g in self.groups:
            g.members = [where[m] for m in g.members]
        return Layout(self.sc, [items[k] for k in order], self.groups)
