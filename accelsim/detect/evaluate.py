"""Accuracy of one (detector, compressed weights, number formats, dataset) combination.

This is the functional half of a design point: the detector runs on every frame with the classifier
executed in the hardware's formats on the decoded weights, and the run measures what the accelerator
model needs from it (proposals per frame, the density of non-zero activations per layer). The
pipeline's accuracy stage (`accelsim.pipeline.accuracy`) caches the result on disk.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from accelsim.compress.model import CompressedModel
from accelsim.detect.crops import crop, image_tensor
from accelsim.detect.datasets.synthetic import SyntheticScenes
from accelsim.detect.detector import Detector
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.evidence import Evidence
from accelsim.detect.metric import REASONABLE, match_all
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


def calibration_crops(proposals: ProposalModel, detector_crop, frames: Sequence[Frame]) -> torch.Tensor:
    batches = []
    for frame in frames:
        image = frame.image()
        props = proposals.propose(image)
        batches.append(crop(image_tensor(image), props, detector_crop))
    return torch.cat(batches)


def functional_detector(model: nn.Module, detector_dir: Path, formats: NumberFormats,
                        compressed: CompressedModel | None = None) -> tuple[Detector, FunctionalClassifier]:
    base = Detector.load(detector_dir, model)
    calibration = None
    if formats.activation_bits is not None:
        # the crops depend on the proposal stage only, so variants evaluated in one process share them
        key = (_proposal_key(base.proposals), repr(base.config.crop))
        if key not in _CALIBRATION:
            val = SyntheticScenes(seed=0, split="val", frames=CALIBRATION_FRAMES)
            _CALIBRATION[key] = calibration_crops(base.proposals, base.config.crop, [val[i] for i in range(len(val))])
        calibration = _CALIBRATION[key]
    classifier = FunctionalClassifier(model, formats, compressed, calibration=calibration)
    return Detector(base.proposals, base.config, classifier), classifier


# Proposals of frames already seen in this process, by (proposal model hash, dataset, frame id): the
# proposal stage does not depend on the classifier's weights or formats, so evaluating several
# compression variants on the same frames (`accelsim tradeoff`) runs it once per frame.
_PROPOSALS: dict[tuple[str, str, str], np.ndarray] = {}
_CALIBRATION: dict[tuple[str, str], torch.Tensor] = {}
# Pixels of frames already seen, up to a budget: a generated scene takes longer to render than the
# small classifier takes to score its proposals.
_IMAGES: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
IMAGE_CACHE_BYTES = 512 * 2**20


def _image(frame: Frame, dataset: str) -> np.ndarray:
    key = (dataset, frame.frame_id)
    if key in _IMAGES:
        _IMAGES.move_to_end(key)
        return _IMAGES[key]
    image = frame.image()
    _IMAGES[key] = image
    while sum(a.nbytes for a in _IMAGES.values()) > IMAGE_CACHE_BYTES and len(_IMAGES) > 1:
        _IMAGES.popitem(last=False)
    return image


def _proposal_key(proposals: ProposalModel) -> str:
    h = hashlib.sha256(np.ascontiguousarray(proposals.weights).tobytes())
    h.update(repr((proposals.bias, proposals.threshold, proposals.max_proposals, proposals.nms_overlap,
                   proposals.geometry, proposals.prefilter)).encode())
    if proposals.rescorer is not None:
        for v in vars(proposals.rescorer).values():
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


def run_detector(detector: Detector, classifier: FunctionalClassifier, frames: Sequence[Frame], dataset: str,
                 progress: Callable[[str], None] | None = None) -> Accuracy:
    t0 = time.perf_counter()
    detections, n_props = [], []
    pkey = _proposal_key(detector.proposals) if isinstance(detector.proposals, ProposalModel) else None
    for i, frame in enumerate(frames):
        image = _image(frame, dataset)
        key = (pkey, dataset, frame.frame_id)
        if pkey is not None and key not in _PROPOSALS:
            _PROPOSALS[key] = detector.proposals.propose(image)
        out = detector(image, _PROPOSALS.get(key))
        detections.append(out.detections)
        n_props.append(len(out.proposals))
        if progress and ((i + 1) % 25 == 0 or i + 1 == len(frames)):
            elapsed = time.perf_counter() - t0
            progress(f"evaluating {dataset}: {i + 1}/{len(frames)} frames, {elapsed:.0f} s, "
                     f"eta {elapsed / (i + 1) * (len(frames) - i - 1):.0f} s")
    evidence = Evidence(tuple(f.frame_id for f in frames), tuple(f.objects for f in frames), tuple(detections),
                        tuple(dict(f.conditions) for f in frames))
    try:
        match_all(evidence.ground_truth, evidence.detections, REASONABLE)
    except ValueError as exc:  # no pedestrian in the frames that the protocol counts
        raise DatasetError(f"{dataset}, first {len(frames)} frames: {exc}; evaluate more frames") from None
    return Accuracy(
        dataset=dataset, formats=str(classifier.formats), proposals_per_frame=float(np.mean(n_props)),
        detections_per_frame=float(np.mean([len(d) for d in detections])),
        activation_density=classifier.density_by_layer(), saturation=classifier.saturation(), evidence=evidence)
