"""Models by name.

A `ModelEntry` knows how to build its network, the shape of one input, where its shipped weights are (if
any), for models that can be fine-tuned from the command line, how to make its training and
evaluation data, and, for the detector's trained classifier, the folder holding the rest of the
detector (proposal model, score combiner).

The catalogue stands above what it names: the networks (`alexnet`, `toy`) and the small detector's
training data (`accelsim.detect.training_data`), which it offers for fine-tuning. The detector's
training job (`accelsim.train`) stands above the catalogue, so nothing here imports it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from accelsim.detect.training_data import CropBatches, crop_data
from accelsim.errors import ModelError
from accelsim.model.alexnet import AlexNetClassifier, init_gaussian_
from accelsim.model.toy import ToyBarsNet, toy_data
from accelsim.resources import models_dir

# (training batches, held-out batches) of (input, class) for a given seed: DataLoaders or CropBatches
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
DataFactory = Callable[[int], tuple[Batches, Batches]]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    factory: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]  # channels, height (px), width (px)
    init_seed: int = 0
    weights: str | None = None  # shipped weights, relative to models/
    data: DataFactory | None = None
    detector: str | None = None  # folder (relative to models/) with proposals.npz and detector.json
    default_plan: str | None = None  # the shipped plan that `accelsim run` uses for this model

    @property
    def detector_dir(self) -> Path | None:
        return models_dir() / self.detector if self.detector else None

    def build(self, weights: str | os.PathLike | None = None) -> nn.Module:
        """The network in eval mode, with ``weights`` (a state-dict file), the shipped weights, or
        deterministic seeded initial weights, in that order of preference."""
        model = self.factory()
        path = Path(weights) if weights is not None else (models_dir() / self.weights if self.weights else None)
        if path is None:
            init_gaussian_(model, self.init_seed)
        else:
            model.load_state_dict(load_state_dict(path, model))
        return model.eval()


def load_state_dict(path: Path, model: nn.Module) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise ModelError(f"weights file {path} does not exist")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of files it then refuses
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file; all mean the same to a user
        # torch's own message runs over several lines and suggests weights_only=False, which would run
        # whatever code a damaged or foreign file holds.
        raise ModelError(f"weights file {path} cannot be read as a torch state dict: it is damaged or was not "
                         "written by torch.save(model.state_dict(), ...)") from None
    if not isinstance(state, dict):
        raise ModelError(f"weights file {path} holds a {type(state).__name__}, expected a state dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(f"weights file {path} does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise ModelError(
                f"weights file {path}: '{key}' has shape {tuple(state[key].shape)}, the model expects {tuple(tensor.shape)}"
            )
        bad = int((~torch.isfinite(state[key])).sum()) if state[key].is_floating_point() else 0
        if bad:  # otherwise a NaN surfaces later as a codebook format that cannot hold the layer's range
            raise ModelError(f"weights file {path}: '{key}' holds {bad} NaN or infinite values of "
                             f"{state[key].numel()}")
    return state


_REGISTRY: dict[str, ModelEntry] = {}


def register(entry: ModelEntry) -> ModelEntry:
    if entry.name in _REGISTRY:
        raise ValueError(f"model '{entry.name}' registered twice")
    _REGISTRY[entry.name] = entry
    return entry


def get_model(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model '{name}'; known models: {', '.join(model_names())}") from None


def model_names() -> list[str]:
    return sorted(_REGISTRY)


SMALL_INPUT = 67  # px: the smallest square crop the AlexNet layout accepts (pool5 of 1x1)
SMALL_DETECTOR = "deepped-small"  # folder (relative to models/) of the small detector's stages


def small_classifier() -> nn.Module:
    """The small AlexNet-shaped classifier of ``deepped-small``: half the channels, 512-wide fc layers,
    67x67 crops; 0.92 M weights (3.7 MB fp32), too big for a 384 KiB weight SRAM until compressed."""
    return AlexNetClassifier(num_classes=2, width=0.5, fc=512, input_size=SMALL_INPUT)


def _small_data(seed: int) -> tuple[CropBatches, CropBatches]:
    """The shipped detector's training crops, cut by its shipped proposal stage: fine-tuning data."""
    return crop_data(models_dir() / SMALL_DETECTOR / "proposals.npz", seed)


register(
    ModelEntry(
        name="deepped-small",
        description="Small trained AlexNet-shaped DeepPed classifier (half width, fc 512, 67x67 crops) with "
        "its proposal stage; trained on generated scenes by `accelsim train`",
        factory=small_classifier,
        input_shape=(3, SMALL_INPUT, SMALL_INPUT),
        weights="deepped-small/weights.pt",
        data=_small_data,
        detector=SMALL_DETECTOR,
        default_plan="deepped-small",
    )
)

register(
    ModelEntry(
        name="deepped-alexnet",
        description="Full-size AlexNet-shaped DeepPed classifier (Caffe layout, 227x227 crops, 2 classes), "
        "seeded untrained weights: for workload and storage studies",
        factory=lambda: AlexNetClassifier(num_classes=2),
        input_shape=(3, 227, 227),
        default_plan="deep-compression-alexnet",
    )
)

register(
    ModelEntry(
        name="alexnet-227",
        description="Ungrouped AlexNet-227 (every conv in one group, 1,000 classes, 1,135 M MACs per "
        "image), seeded untrained weights: a workload-only model for validating against peer tools "
        "(SCALE-Sim), not a detector",
        factory=lambda: AlexNetClassifier(num_classes=1000, grouped=False),
        input_shape=(3, 227, 227),
    )
)

register(
    ModelEntry(
        name="toy-bars",
        description="Small trained CNN (conv1, conv2, fc1, fc2; 9.5 k weights) on a procedural 16x16 "
        "upright-bar 'pedestrian' task; ships training data, so it can be fine-tuned",
        factory=ToyBarsNet,
        input_shape=(1, 16, 16),
        weights="toy-bars/weights.pt",
        data=toy_data,
        default_plan="toy-aggressive",
    )
)
