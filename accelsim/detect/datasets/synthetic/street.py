"""The camera and the street: where the road, the pavements and the facades are, what the facades
are made of, the sky, the light and the sensor. A pinhole camera at height ``Hc`` (1.35-1.85 m)
looks along the street; the horizon is a row ``hy`` of the image. The road and the pavements lie
on the ground plane, the facades on two vertical planes parallel to the street.

The draws of ``sample_scene`` are the first of a frame's layout stream. Many are made in the
keyword arguments of its ``Scene(...)`` call, in the order they are written there: reordering
those arguments changes every frame."""

from __future__ import annotations

import numpy as np

from accelsim.detect.datasets.synthetic.palette import FACADE, SIGN_COLOURS, choice, jitter
from accelsim.detect.datasets.synthetic.scene import WIDTH, Camera, Scene, Segment


def _sample_facades(rng, z_end=260.0) -> Segment:
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
    colour = FACADE[rng.integers(len(FACADE), size=n)] * rng.uniform(0.92, 1.08, (n, 3)) \
        * rng.uniform(0.85, 1.15, (n, 1))
    colour[kind == 2] = np.array((50, 80, 40)) * rng.uniform(0.8, 1.2, (int((kind == 2).sum()), 1))
    keep = int(np.searchsorted(z0, z_end)) + 1
    seg = Segment(
        z0=z0, z1=z1, kind=kind, height=height, colour=colour.astype(np.float32),
        module=rng.uniform(2.2, 4.5, n), win_frac=rng.uniform(0.3, 0.65, n), floor_h=rng.uniform(2.9, 3.6, n),
        ground_h=rng.uniform(3.2, 4.6, n), shop=(kind == 0) & (rng.random(n) < 0.55),
        sign=(SIGN_COLOURS[rng.integers(len(SIGN_COLOURS), size=n)] * rng.uniform(0.85, 1.1, (n, 1))),
        glass=(np.array((50, 60, 72)) * rng.uniform(0.75, 1.25, (n, 1)) * rng.uniform(0.9, 1.1, (n, 3))),
        tex=np.where(kind == 2, 0.25, rng.uniform(0.02, 0.06, n)),
    )
    return Segment(**{k: v[:keep] for k, v in vars(seg).items()})


def facade_at(seg: Segment, Z: float):
    """The index of the facade segment at depth ``Z``, or None past the last one."""
    i = int(np.searchsorted(seg.z1, Z))
    return None if i >= len(seg.z0) else i


def sample_scene(rng) -> Scene:
    """The camera, the street, its colours, the light and the sensor of one frame."""
    cam = Camera(f=rng.uniform(500, 600), cx=rng.uniform(250, 390), hy=rng.uniform(185, 250),
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
    shade_side = int(choice(rng, (-1, 0, 1))) if sunny else 0
    shade_x = rng.uniform(-2.0, 5.0)
    sun = -shade_side if shade_side else float(choice(rng, (-1, 1)))
    asphalt = rng.uniform(65, 115) * np.array((1.0, 1.0, rng.uniform(1.0, 1.08)), np.float32)
    pave = jitter(rng, np.array((rng.uniform(125, 185),) * 3, np.float32) * np.array((1.0, 0.98, 0.94)), 0.04)
    cast = rng.uniform(0.88, 1.12, 3)
    return Scene(
        cam=cam, road_l=road_l, road_r=road_r, wall_l=wall_l, wall_r=wall_r,
        sides=(_sample_facades(rng), _sample_facades(rng)),
        sky_top=jitter(rng, np.array(sky_top, np.float32), 0.06),
        sky_low=jitter(rng, np.array(sky_low, np.float32), 0.04),
        clouds=rng.uniform(0, 0.5) * (sky != 1), skyline=skyline,
        skyline_colour=jitter(rng, np.array((135, 140, 150), np.float32), 0.1),
        asphalt=asphalt, pavement_l=pave, pavement_r=jitter(rng, pave, 0.03),
        verge=jitter(rng, np.array((80, 100, 55), np.float32), 0.15),
        marking=np.array((225, 225, 215), np.float32) if rng.random() < 0.8 else np.array((225, 190, 60), np.float32),
        lane_x=rng.uniform(-road_l + 1.5, -0.8) if road_l > 4.5 else -road_l + 0.15,
        crossing=_sample_crossing(rng),
        haze=jitter(rng, np.array(sky_low, np.float32), 0.05), haze_m=rng.uniform(120, 400),
        sunny=sunny, shade_side=shade_side, shade_x=shade_x, shade=rng.uniform(0.45, 0.7),
        shadow_dir=(sun * rng.uniform(0.3, 1.2), rng.uniform(-0.8, 0.8)),
        side_light=sun * (rng.uniform(0.1, 0.3) if sunny else rng.uniform(0.0, 0.1)),
        gain=(rng.uniform(0.55, 1.3) * cast / cast.mean()).astype(np.float32), contrast=rng.uniform(0.6, 1.15),
        offset=rng.uniform(-10, 15), vignette=rng.uniform(0, 0.35),
        blur=rng.uniform(0.05, 0.25), blur_passes=int(choice(rng, (1, 1, 1, 2))),
        noise=rng.uniform(1.5, 7.0), jpeg=int(rng.integers(55, 92)) if rng.random() < 0.4 else 0,
    )


def _sample_crossing(rng):
    """A zebra crossing ``(z0, z1)`` m in a fifth of the scenes, else None."""
    if rng.random() < 0.2:
        z = rng.uniform(8, 40)
        return (z, z + rng.uniform(3, 5))
    return None
