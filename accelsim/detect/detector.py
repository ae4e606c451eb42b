"""The DeepPed-shaped detector: proposals -> CNN score of every warped crop -> combined score -> NMS.

DeepPed combines the proposal detector's score and the CNN's score with a second-level linear model;
here that is a logistic regression on [proposal score, CNN logit margin], fitted on held-out frames.
The classifier is any callable from crops to logits, so the same pipeline runs the float torch model,
or the functional model in the hardware's number formats (`functional`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from accelsim.detect.boxes import nms
from accelsim.detect.crops import CropSpec, crop, image_tensor
from accelsim.detect.proposals import ProposalModel
from accelsim.errors import ModelError

Classifier = Callable[[torch.Tensor], torch.Tensor]  # (n, 3, S, S) crops -> (n, 2) logits


@dataclass(frozen=True)
class Combiner:
    """combined = w_proposal * proposal_score + w_cnn * (logit_pedestrian - logit_background) + bias"""

    w_proposal: float = 0.0
    w_cnn: float = 1.0
    bias: float = 0.0

    def __call__(self, proposal_score: np.ndarray, margin: np.ndarray) -> np.ndarray:
        return self.w_proposal * proposal_score + self.w_cnn * margin + self.bias


@dataclass
class DetectorConfig:
    """Everything of the detector except the CNN's weights: stored as ``detector.json`` next to
    ``proposals.npz`` and the classifier's ``weights.pt``."""

    crop: CropSpec = field(default_factory=CropSpec)
    combiner: Combiner = field(default_factory=Combiner)
    nms_overlap: float = 0.3  # IoU; DeepPed's final NMS overlap (../shared/REFERENCES.md)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"crop": asdict(self.crop), "combiner": asdict(self.combiner),
                                    "nms_overlap": self.nms_overlap}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> DetectorConfig:
        try:
            raw = json.loads(path.read_text())
            return cls(CropSpec(**raw["crop"]), Combiner(**raw["combiner"]), float(raw["nms_overlap"]))
        except FileNotFoundError:
            raise ModelError(f"detector config {path} does not exist") from None
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ModelError(f"detector config {path} is malformed: {exc!r}") from None


@dataclass(frozen=True)
class FrameOutput:
    detections: np.ndarray  # (n, 5) x, y, w, h, combined score after NMS
    proposals: np.ndarray  # (p, 5) the proposal stage's boxes and scores
    margins: np.ndarray  # (p,) CNN logit margin of each proposal


class Detector:
    def __init__(self, proposals: ProposalModel, config: DetectorConfig, classifier: Classifier):
        self.proposals = proposals
        self.config = config
        self.classifier = classifier

    @classmethod
    def load(cls, folder: Path, classifier: Classifier) -> Detector:
        return cls(ProposalModel.load(folder / "proposals.npz"), DetectorConfig.load(folder / "detector.json"), classifier)

    def margins(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0:
            return np.zeros(0)
        with torch.no_grad():
            logits = self.classifier(crop(image_tensor(image), boxes, self.config.crop))
        return (logits[:, 1] - logits[:, 0]).double().numpy()

    def __call__(self, image: np.ndarray, proposals: np.ndarray | None = None) -> FrameOutput:
        """Detections of one image; ``proposals`` given when the proposal stage already ran on it."""
        props = self.proposals.propose(image) if proposals is None else proposals
        margins = self.margins(image, props)
        scores = self.config.combiner(props[:, 4], margins)
        dets = nms(np.column_stack([props[:, :4], scores]), self.config.nms_overlap) if len(props) else props
        return FrameOutput(dets, props, margins)
