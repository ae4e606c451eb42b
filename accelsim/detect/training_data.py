"""The small detector's CNN training data: labelled warped crops of generated scenes.

`accelsim train` trains the classifier on them (`accelsim.train`), and compression fine-tunes the
shipped ``deepped-small`` classifier on the same crops cut by the shipped proposal stage (`crop_data`,
which the model catalogue offers as that model's data). This module stands below the catalogue: it
imports nothing of ``accelsim.model``.

Crops are labelled as R-CNN does: the ground-truth pedestrians (jittered, mirrored) are pedestrians,
and so are the proposals at IoU >= 0.5 with one; proposals at IoU < 0.3 with every object are
background, and those in between are unused.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from accelsim.cache import default_cache, file_digest, key_of, source_digest
from accelsim.detect.boxes import iou_matrix
from accelsim.detect.crops import CropSpec, crop, from_uint8, image_tensor, to_uint8
from accelsim.detect.datasets import synthetic
from accelsim.detect.proposals import ProposalModel
from accelsim.detect.types import Frame

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainSettings:
    data_seed: int = 0  # seed of the synthetic scenes
    seed: int = 0  # initial weights, batch order, augmentation
    train_frames: int = 500
    val_frames: int = 150
    epochs: int = 8
    lr: float = 1e-3
    batch: int = 128
    jitter_copies: int = 2  # jittered copies of each ground-truth pedestrian
    background_per_frame: int = 24  # proposals used as background crops per frame


class CropBatches:
    """Shuffled float batches of a uint8 crop set, mirrored at random; deterministic by seed and epoch.
    It is what `compress.finetune.finetune` and `detect.training.train_classifier` iterate over."""

    def __init__(self, crops: torch.Tensor, labels: torch.Tensor, batch: int, seed: int, shuffle: bool = True):
        self.crops, self.labels, self.batch, self.seed, self.shuffle = crops, labels, batch, seed, shuffle
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.labels), generator=gen) if self.shuffle else torch.arange(len(self.labels))
        flips = torch.rand(len(self.labels), generator=gen) < 0.5 if self.shuffle else torch.zeros(len(self.labels), dtype=torch.bool)
        for i in range(0, len(order), self.batch):
            idx = order[i:i + self.batch]
            x = from_uint8(self.crops[idx])
            f = flips[idx]
            x[f] = x[f].flip(-1)
            yield x, self.labels[idx]


def crop_set(frames: Sequence[Frame], proposals: ProposalModel, spec: CropSpec, settings: TrainSettings,
             progress: Progress | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 crops (n, 3, S, S) and labels (1 pedestrian, 0 background) from ``frames``."""
    rng = np.random.default_rng(settings.seed)
    xs, ys = [], []
    for i, frame in enumerate(frames):
        image = frame.image()
        t = image_tensor(image)
        people = np.array([o.box for o in frame.objects if o.label == "person" and o.visible >= 0.5], dtype=np.float64).reshape(-1, 4)
        others = np.array([o.box for o in frame.objects], dtype=np.float64).reshape(-1, 4)
        props = proposals.propose(image)
        pos_boxes = [people]
        for _ in range(settings.jitter_copies):
            if len(people):
                j = people.copy()
                scale = np.exp(rng.normal(0, 0.08, len(j)))
                cx = j[:, 0] + j[:, 2] / 2 + rng.normal(0, 0.06, len(j)) * j[:, 2]
                cy = j[:, 1] + j[:, 3] / 2 + rng.normal(0, 0.04, len(j)) * j[:, 3]
                j[:, 2] *= scale
                j[:, 3] *= scale
                j[:, 0], j[:, 1] = cx - j[:, 2] / 2, cy - j[:, 3] / 2
                pos_boxes.append(j)
        if len(props):
            best_person = iou_matrix(props, people).max(axis=1) if len(people) else np.zeros(len(props))
            best_any = iou_matrix(props, others).max(axis=1) if len(others) else np.zeros(len(props))
            pos_boxes.append(props[best_person >= 0.5, :4])
            bg = props[best_any < 0.3, :4][: settings.background_per_frame]
        else:
            bg = np.zeros((0, 4))
        pos = np.concatenate(pos_boxes)
        boxes = np.concatenate([pos, bg])
        if len(boxes):
            xs.append(to_uint8(crop(t, boxes, spec)))
            ys.append(torch.cat([torch.ones(len(pos), dtype=torch.long), torch.zeros(len(bg), dtype=torch.long)]))
        if progress and (i + 1) % 100 == 0:
            progress(f"crops: {i + 1}/{len(frames)} frames")
    return torch.cat(xs), torch.cat(ys)


def synthetic_frames(split: str, n: int, data_seed: int) -> list[Frame]:
    """The first ``n`` generated scenes of ``split``."""
    scenes = synthetic.SyntheticScenes(seed=data_seed, split=split, frames=n)
    return [scenes[i] for i in range(n)]


def crop_data(proposals_file: Path, seed: int, settings: TrainSettings = TrainSettings()) -> tuple[CropBatches, CropBatches]:
    """Training and held-out crop batches cut by the proposal stage in ``proposals_file``, for
    fine-tuning during compression. Cutting them takes minutes, so they are cached by everything they
    depend on: the proposal stage's file, the settings, the crop warp and the code that makes them."""
    key = key_of(file_digest(proposals_file), asdict(settings), asdict(CropSpec()),
                 source_digest("accelsim.detect.datasets.synthetic", "accelsim.detect.crops",
                               "accelsim.detect.training_data"))

    def cut() -> dict:
        proposals = ProposalModel.load(proposals_file)
        return {split: crop_set(synthetic_frames(split, n, settings.data_seed), proposals, CropSpec(), settings)
                for split, n in (("train", settings.train_frames), ("val", settings.val_frames))}

    data = default_cache().get_or_compute("crops", key, cut, _CropsCodec()).value
    return (CropBatches(*data["train"], settings.batch, seed), CropBatches(*data["val"], 256, seed, shuffle=False))


class _CropsCodec:
    """Crops and labels as torch's file format (tensors only, loaded with weights_only)."""

    name = "torch-crops"

    def encode(self, value: dict) -> bytes:
        buffer = io.BytesIO()
        torch.save(value, buffer)
        return buffer.getvalue()

    def decode(self, data: bytes) -> dict:
        return torch.load(io.BytesIO(data), weights_only=True)
