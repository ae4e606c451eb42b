"""What every dataset yields and every detector consumes.

Boxes are ``(x, y, w, h)`` in pixels, top-left origin, as in Caltech's vbb files and COCO's JSON.
Detections of one frame are a float64 array of shape (n, 5): ``x, y, w, h, score``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

# Labels as the Caltech annotations use them. Only "person" can be a positive; the evaluation protocol
# turns every other label (and any person outside its filter) into an ignore region.
LABELS = ("person", "person?", "people", "ignore")


@dataclass(frozen=True)
class Annotation:
    """One labelled box. ``visible`` is the fraction of the box that is not occluded (1.0 = fully
    visible; Caltech derives it from the visible box ``posv``)."""

    box: tuple[float, float, float, float]  # x, y, w, h (px)
    label: str = "person"
    visible: float = 1.0
    # Whether the annotation marks the object occluded (Caltech: it has a visible box). None: occluded
    # exactly when less than all of it is visible.
    occluded: bool | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label '{self.label}' is not one of {LABELS}")
        if not 0.0 <= self.visible <= 1.0:
            raise ValueError(f"visible fraction {self.visible} is outside [0, 1]")

    @property
    def visibility_ratio(self) -> float:
        """The visible fraction as Caltech's ``dbEval>filterGtFun`` tests it: infinite for an object
        not marked occluded (its visible box is all zero there), so that the 'occ=none' subset, whose
        range is [inf, inf], holds exactly the unoccluded pedestrians."""
        occluded = self.visible < 1.0 if self.occluded is None else self.occluded
        return self.visible if occluded else float("inf")


@dataclass(frozen=True)
class Frame:
    """One image and its annotations. The pixels are loaded on demand (``image()``): a dataset of
    thousands of frames costs nothing until a frame is used."""

    frame_id: str  # unique within its dataset, e.g. "set06/V000/29" or "test/000017"
    width: int  # px
    height: int  # px
    objects: tuple[Annotation, ...]
    load: Callable[[], np.ndarray] = field(repr=False, compare=False)
    # Files the pixels and annotations are read from: a cached result keys on their content. Generated
    # frames have none (their content is the generator's code and seed).
    sources: tuple[Path, ...] = field(default=(), repr=False, compare=False)
    # What the frame shows, as (condition, value) pairs, e.g. (("lighting", "dim"), ("haze", "clear")):
    # pairs, not a dict, so that frames stay hashable; ``dict(frame.conditions)`` looks one up. Generated
    # frames are tagged (``synthetic.CONDITIONS`` lists the conditions); other datasets' are not.
    conditions: tuple[tuple[str, str], ...] = ()

    def image(self) -> np.ndarray:
        """RGB pixels, uint8, shape (height, width, 3)."""
        return self.load()


class Dataset(Protocol):
    """A sized, indexable sequence of frames with a name that results carry (``synthetic(seed=0,
    split=test)``, ``caltech:/data/caltech (test)``, ``coco:/data/peds.json``)."""

    name: str

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Frame: ...


def no_detections() -> np.ndarray:
    return np.zeros((0, 5), dtype=np.float64)


def as_detections(rows: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Validate and convert to the (n, 5) float64 ``x, y, w, h, score`` layout."""
    arr = np.asarray(rows, dtype=np.float64)
    if arr.size == 0:
        return no_detections()
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError(f"detections must have shape (n, 5) as x, y, w, h, score; got {arr.shape}")
    return arr
