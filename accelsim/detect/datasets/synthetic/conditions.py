"""The conditions of a generated frame: its light, haze, blur, noise and crowding, each a named value,
so that a miss rate can be measured where detection is hardest (``Frame.conditions``, and the
restricted datasets ``synthetic:SEED:KEY=VALUE,...``).

Each condition is read from values that the layout stream draws anyway (the scene's light and
sensor, ``street.sample_scene``, and the number of pedestrians, ``layout``); none draws anything, so
tagging leaves every frame's pixels and annotations as they were. They are all among the stream's
first draws: a frame's conditions cost about a fifth of its layout, and nothing of its pixels.

=========  ======================================================================  ===============
condition  value: when                                                             share of frames
=========  ======================================================================  ===============
lighting   ``dim``: exposure (mean colour gain x contrast) under 0.6, the scene's  21.70 %
           colours at less than 60 % of their nominal brightness;
           ``sun``: otherwise, under a sunny sky (cast shadows, shaded sides);     31.85 %
           ``overcast``: otherwise                                                 46.45 %
haze       ``hazy``: haze reaches 63 % within 200 m, so that a person 20 m away    27.30 %
           (about 50 px tall) is at least 9.5 % haze colour; ``clear``: otherwise  72.70 %
blur       ``blurred``: the optics' blur has a variance of at least 0.45 px²       26.15 %
           (2 x neighbour weight x passes: sigma >= 0.67 px); ``sharp``: otherwise 73.85 %
noise      ``noisy``: sensor noise of std >= 5.5 (0-255) or JPEG quality <= 70;    39.85 %
           ``clean``: otherwise                                                    60.15 %
crowding   pedestrians in the scene, annotated or not: ``empty`` none;             22.05 %
           ``sparse`` 1-2; ``crowded`` 3-6                                         40.10 %, 37.85 %
=========  ======================================================================  ===============

The shares were measured on frames 0-1999 of ``synthetic(seed=0, split=test)``. A frame with
``crowding=empty`` has no positives: on such frames only false positives per image are defined."""

from __future__ import annotations

from collections.abc import Mapping

from accelsim.detect.datasets.synthetic.scene import Scene
from accelsim.errors import DatasetError

# Every condition and its values, in the order frames list them.
CONDITIONS: dict[str, tuple[str, ...]] = {
    "lighting": ("sun", "overcast", "dim"),
    "haze": ("clear", "hazy"),
    "blur": ("sharp", "blurred"),
    "noise": ("clean", "noisy"),
    "crowding": ("empty", "sparse", "crowded"),
}

DIM_EXPOSURE = 0.6  # mean colour gain x contrast
HAZY_M = 200.0  # m, Scene.haze_m
BLURRED_VARIANCE = 0.45  # px², of the 3-tap blur over all its passes
NOISY_STD = 5.5  # sensor noise, 0-255 units
NOISY_JPEG_QUALITY = 70
CROWDED_PEDESTRIANS = 3


def conditions_of(scene: Scene, pedestrians: int) -> tuple[tuple[str, str], ...]:
    """The ``(condition, value)`` pairs of a frame with this scene and number of pedestrians."""
    exposure = float(scene.gain.mean()) * scene.contrast
    # each pass of the kernel (w, 1 - 2w, w) adds a variance of 2w
    blur_variance = 2 * scene.blur * scene.blur_passes
    noisy = scene.noise >= NOISY_STD or 0 < scene.jpeg <= NOISY_JPEG_QUALITY
    return (
        ("lighting", "dim" if exposure < DIM_EXPOSURE else "sun" if scene.sunny else "overcast"),
        ("haze", "hazy" if scene.haze_m < HAZY_M else "clear"),
        ("blur", "blurred" if blur_variance >= BLURRED_VARIANCE else "sharp"),
        ("noise", "noisy" if noisy else "clean"),
        ("crowding", "empty" if pedestrians == 0 else "sparse" if pedestrians < CROWDED_PEDESTRIANS else "crowded"),
    )


def describe_conditions() -> str:
    """``lighting=sun|overcast|dim, haze=clear|hazy, ...``: every condition and its values."""
    return ", ".join(f"{name}={'|'.join(values)}" for name, values in CONDITIONS.items())


def check_conditions(where: Mapping[str, str], what: str) -> dict[str, str]:
    """``where`` in the order of ``CONDITIONS``, or one DatasetError naming ``what`` (the dataset),
    the unknown condition or value, and the ones there are."""
    for name, value in where.items():
        if name not in CONDITIONS:
            raise DatasetError(f"{what}: unknown condition '{name}'; the conditions are {describe_conditions()}")
        if value not in CONDITIONS[name]:
            raise DatasetError(f"{what}: {name} '{value}' is not one of {', '.join(CONDITIONS[name])}")
    return {name: where[name] for name in CONDITIONS if name in where}


def parse_conditions(text: str, what: str) -> dict[str, str]:
    """``KEY=VALUE,KEY=VALUE`` as a checked restriction (see ``check_conditions``)."""
    where: dict[str, str] = {}
    for term in text.split(","):
        name, eq, value = (part.strip() for part in term.partition("="))
        if not (name and eq and value):
            raise DatasetError(f"{what}: '{term}' is not KEY=VALUE; the conditions are {describe_conditions()}")
        if name in where:
            raise DatasetError(f"{what}: condition '{name}' is given twice")
        where[name] = value
    return check_conditions(where, what)
