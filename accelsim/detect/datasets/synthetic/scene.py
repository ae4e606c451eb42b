"""What a scene is: the frame size, the camera, the street and its facades, the objects in it and
the groups that are annotated. The layout stream fills these in (``street``, ``layout``); the
renderer and the annotator only read them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 640, 480  # px


@dataclass
class Camera:
    """A pinhole camera at height ``hc`` looking along the street, the horizon on row ``hy``."""

    f: float  # px
    cx: float  # px, column of the vanishing point
    hy: float  # px, row of the horizon
    hc: float  # m, camera height

    def x(self, X, Z):
        return self.cx + self.f * X / Z

    def y(self, Z, up=0.0):
        return self.hy + self.f * (self.hc - up) / Z


@dataclass
class Item:
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
class Segment:
    """The facade of one side of the street, as segments along it (one entry per segment)."""

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
class Scene:
    """The camera, the street, its surfaces' colours, the light and the sensor of one frame."""

    cam: Camera
    road_l: float  # m, road extent to the left of the camera (X = -road_l)
    road_r: float
    wall_l: float  # m, facade plane on the left (X = -wall_l)
    wall_r: float
    sides: tuple  # (Segment, Segment) left, right
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

    def in_shade(self, X: float) -> bool:
        """Whether the ground at lateral position ``X`` (m) lies in the buildings' shade."""
        if self.shade_side == 0:
            return False
        return (X * self.shade_side) > self.shade_x

    def colour_gain(self) -> np.ndarray:
        """Exposure, colour cast and contrast: one float32 factor per channel."""
        return (self.gain * self.contrast).astype(np.float32)


@dataclass
class Group:
    """One annotation: a label and the items (indices into ``Layout.items``) it covers."""

    label: str
    members: list  # indices into items
    box: tuple


@dataclass
class Layout:
    """A frame's scene, its items and its annotated groups: all that the layout stream decides."""

    scene: Scene
    items: list  # painter's order (far to near)
    groups: list  # one per annotation
