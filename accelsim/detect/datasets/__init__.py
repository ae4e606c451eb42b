"""Datasets by spec string, as ``--dataset`` takes them:

- ``synthetic`` (or ``synthetic:SEED``): the built-in procedural pedestrian scenes, test split;
- ``caltech:DIR``: Caltech Pedestrian from its own .seq/.vbb files, standard test split
  (set06-set10, every 30th frame);
- ``coco:FILE``: COCO-style JSON annotations of any pedestrian set.
"""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.detect.datasets.caltech import CaltechDataset
from accelsim.detect.datasets.coco import CocoDataset
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.types import Dataset, Frame
from accelsim.errors import DatasetError

SPEC_HELP = "synthetic[:SEED] | caltech:DIR | coco:FILE"


def open_dataset(spec: str, split: str = "test") -> Dataset:
    kind, _, arg = spec.partition(":")
    if kind == "synthetic":
        try:
            seed = int(arg) if arg else 0
        except ValueError:
            raise DatasetError(f"dataset '{spec}': the synthetic seed must be an integer, got '{arg}'") from None
        return SyntheticScenes(seed=seed, split=split, frames=SYNTHETIC_FRAMES)
    if kind == "caltech" and arg:
        return CaltechDataset(arg, split=split)
    if kind == "coco" and arg:
        return CocoDataset(arg)
    raise DatasetError(f"dataset '{spec}' is not one of {SPEC_HELP}")


# Frames a synthetic split holds; --frames picks how many of them an evaluation uses.
SYNTHETIC_FRAMES = 10_000


def first_frames(dataset: Dataset, frames: int | None) -> Sequence[Frame]:
    """The first ``frames`` frames (all when None); refuses more than the dataset holds."""
    n = len(dataset)
    if frames is not None:
        if frames < 1:
            raise DatasetError(f"--frames must be at least 1, got {frames}")
        if frames > n:
            raise DatasetError(f"dataset {dataset.name} has {n} frames; --frames {frames} asks for more")
        n = frames
    return [dataset[i] for i in range(n)]
