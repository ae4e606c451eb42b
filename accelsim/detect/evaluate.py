"""Accuracy of one (detector, compressed weights, number formats, dataset) combination.

This is the functional half of a design point: the detector runs on every frame with the classifier
executed in the hardware's formats on the decoded weights, and the run measures what the accelerator
model needs from it (proposals per frame, the density of non-zero activations per layer). The
pipeline's accuracy stage (`accelsim.pipeline.accuracy`) caches the result on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from accelsim.cache import Cache
from accelsim.compress.model import CompressedModel
from accelsim.detect.crops import crop, image_tensor
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.detector import Detector
from accelsim.detect.frame_cache import FrameInputs, proposal_model_key
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.evidence import Evidence
from accelsim.detect.metric import REASONABLE, require_positives
from accelsim.detect.proposals import ProposalModel
from accelsim.detect.types import Frame
from accelsim.errors import DatasetError

CALIBRATION_FRAMES = 16  # synthetic 'val' frames whose proposal crops calibrate activation ranges


@dataclass(frozen=True, eq=False)
class Accuracy:
    dataset: str
    formats: str
    proposals_per_frame: float  # mean over the evaluated frames
    detections_per_frame: float
    activation_density: dict[str, float]  # fraction of non-zero input activations per conv/fc layer
    saturation: dict[str, float]  # fraction of values clipped per quantisation point
    evidence: Evidence  # every frame's detections and ground truth: all miss rates derive from it

    @property
    def frames_evaluated(self) -> int:
        return self.evidence.frames

    @property
    def positives(self) -> int:
        """Ground-truth pedestrians that count (reasonable subset)."""
        return self.evidence.matched().positive_count

    @property
    def miss_rate_lamr(self) -> float:
        """Log-average miss rate, Caltech 'reasonable', in [0, 1]."""
        return self.evidence.matched().lamr()

    @property
    def curve(self) -> pd.DataFrame:
        """score_threshold, fppi, miss_rate: one row per counted detection (Caltech 'reasonable')."""
        return self.evidence.matched().curve()


def calibration_crops(proposals: ProposalModel, detector_crop, frames: Sequence[Frame], dataset: str) -> torch.Tensor:
    # every fixed-point variant calibrates on the same 16 frames: worth keeping their 14 MiB of pixels
    inputs = FrameInputs(proposals, dataset, keep_pixels=True)
    return torch.cat([crop(image_tensor(image), props, detector_crop) for image, props in map(inputs, frames)])


def functional_detector(model: nn.Module, detector_dir: Path, formats: NumberFormats,
                        compressed: CompressedModel | None = None) -> tuple[Detector, FunctionalClassifier]:
    base = Detector.load(detector_dir, model)
    calibration = None
    if formats.activation_bits is not None:
        # the crops depend on the proposal stage only, so variants evaluated in one process share them
        key = (proposal_model_key(base.proposals), repr(base.config.crop))
        if key not in _CALIBRATION:
            val = SyntheticScenes(seed=0, split="val", frames=CALIBRATION_FRAMES)
            _CALIBRATION[key] = calibration_crops(base.proposals, base.config.crop, [val[i] for i in range(len(val))],
                                                  val.name)
        calibration = _CALIBRATION[key]
    classifier = FunctionalClassifier(model, formats, compressed, calibration=calibration)
    return Detector(base.proposals, base.config, classifier), classifier


_CALIBRATION: dict[tuple[str, str], torch.Tensor] = {}


def run_detector(detector: Detector, classifier: FunctionalClassifier, frames: Sequence[Frame], dataset: str,
                 progress: Callable[[str], None] | None = None, cache: Cache | None = None,
                 keep_pixels: bool = False) -> Accuracy:
    t0 = time.perf_counter()
    detections, n_props = [], []
    inputs = FrameInputs(detector.proposals, dataset, cache, keep_pixels)  # pixels and proposals, cached by content
    for i, frame in enumerate(frames):
        out = detector(*inputs(frame))
        detections.append(out.detections)
        n_props.append(len(out.proposals))
        if progress and ((i + 1) % 25 == 0 or i + 1 == len(frames)):
            elapsed = time.perf_counter() - t0
            progress(f"evaluating {dataset}: {i + 1}/{len(frames)} frames, {elapsed:.0f} s, "
                     f"eta {elapsed / (i + 1) * (len(frames) - i - 1):.0f} s")
    evidence = Evidence(tuple(f.frame_id for f in frames), tuple(f.objects for f in frames), tuple(detections),
                        tuple(dict(f.conditions) for f in frames))
    try:
        require_positives(evidence.matched(REASONABLE), REASONABLE)
    except ValueError as exc:  # no pedestrian in the frames that the protocol counts
        raise DatasetError(f"{dataset}, first {len(frames)} frames: {exc}; evaluate more frames") from None
    return Accuracy(
        dataset=dataset, formats=str(classifier.formats), proposals_per_frame=float(np.mean(n_props)),
        detections_per_frame=float(np.mean([len(d) for d in detections])),
        activation_density=classifier.density_by_layer(), saturation=classifier.saturation(), evidence=evidence)
