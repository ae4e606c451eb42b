"""Datasets by spec string, as ``--dataset`` takes them:

- ``synthetic`` (or ``synthetic:SEED``): the built-in procedural pedestrian scenes, test split;
  ``synthetic:SEED:KEY=VALUE[,KEY=VALUE...]`` (or ``synthetic:KEY=VALUE...``, seed 0) holds only those
  of its frames that meet every condition, e.g. ``synthetic:0:lighting=dim,haze=hazy``
  (conditions and values: ``synthetic.CONDITIONS``);
- ``caltech:DIR``: Caltech Pedestrian from its own .seq/.vbb files, standard test split
  (set06-set10, every 30th frame);
- ``coco:FILE``: COCO-style JSON annotations of any pedestrian set.
"""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.detect.datasets.caltech import CaltechDataset
from accelsim.detect.datasets.coco import CocoDataset
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.datasets.synthetic.conditions import parse_conditions
from accelsim.detect.types import Dataset, Frame
from accelsim.errors import DatasetError

SPEC_HELP = "synthetic[:SEED][:KEY=VALUE,...] | caltech:DIR | coco:FILE"


def open_dataset(spec: str, split: str = "test") -> Dataset:
    kind, _, arg = spec.partition(":")
    if kind == "synthetic":
        return _synthetic(spec, arg, split)
    if kind == "caltech" and arg:
        return CaltechDataset(arg, split=split)
    if kind == "coco" and arg:
        return CocoDataset(arg)
    raise DatasetError(f"dataset '{spec}' is not one of {SPEC_HELP}")


def _synthetic(spec: str, arg: str, split: str) -> Dataset:
    """``synthetic[:SEED][:KEY=VALUE,...]``, from ``arg``, what follows ``synthetic:``."""
    seed_text, colon, restriction = arg.partition(":")
    if "=" in seed_text and not colon:  # synthetic:KEY=VALUE,...: seed 0
        seed_text, colon, restriction = "", ":", seed_text
    try:
        seed = int(seed_text) if seed_text else 0
    except ValueError:
        raise DatasetError(f"dataset '{spec}': the synthetic seed must be an integer, got '{seed_text}'") from None
    scenes = SyntheticScenes(seed=seed, split=split, frames=SYNTHETIC_FRAMES)
    if not colon:
        return scenes
    return scenes.where(**parse_conditions(restriction, f"dataset '{spec}'"))


# Frames a synthetic split holds; --frames picks how many of them an evaluation uses.
SYNTHETIC_FRAMES = 10_000


def first_frames(dataset: Dataset, frames: int | None) -> Sequence[Frame]:
    """The first ``frames`` frames (all when None); refuses more than the dataset holds."""
    if frames is None:
        return [dataset[i] for i in range(len(dataset))]
    if frames < 1:
        raise DatasetError(f"--frames must be at least 1, got {frames}")
    # The last frame asked for, not len(), says whether there are enough: a synthetic subset finds its
    # frames only as far as they are asked for (its len() scans the whole split), and too few are
    # still refused before the others are made.
    try:
        dataset[frames - 1]
    except IndexError:
        raise DatasetError(
            f"dataset {dataset.name} has {len(dataset)} frames; --frames {frames} asks for more") from None
    return [dataset[i] for i in range(frames)]
