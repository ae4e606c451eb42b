"""The detector pipeline and its evaluation, on stand-in stages with hand-computed outcomes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from accelsim.detect.crops import CropSpec
from accelsim.detect.detector import Combiner, Detector, DetectorConfig
from accelsim.detect.evaluate import run_detector
from accelsim.detect.functional import FunctionalClassifier, NumberFormats
from accelsim.detect.types import Annotation, Frame


class FixedProposals:
    """A proposal stage that returns the same boxes for every image."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, dtype=np.float64)

    def propose(self, image):
        return self.boxes.copy()


class Brightness(torch.nn.Module):
    """Logits (0, mean brightness of the crop * 10): bright crops are 'pedestrians'."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3)) * 10.0
        return torch.stack([torch.zeros_like(m), m], dim=1)


def _image_with_bright_box():
    img = np.zeros((480, 640, 3), dtype=np.uint8)
    img[100:200, 300:341] = 255  # a 41 x 100 px bright 'pedestrian'
    return img


def test_combined_scores_and_nms():
    # proposal A frames the bright box exactly; B is shifted by 5 px (IoU 0.78 with A), C is dark.
    boxes = [[300, 100, 41, 100, 2.0], [305, 100, 41, 100, 1.0], [50, 300, 41, 100, 3.0]]
    config = DetectorConfig(crop=CropSpec(size=32, context=1.0), combiner=Combiner(0.5, 1.0, -1.0), nms_overlap=0.3)
    det = Detector(FixedProposals(boxes), config, Brightness())
    out = det(_image_with_bright_box())
    # margins = 10 * mean crop value; A's crop is all white (+0.5) -> 5.0; C is all black (-0.5) -> -5.0
    assert out.margins[0] == pytest.approx(5.0, abs=1e-4)
    assert out.margins[2] == pytest.approx(-5.0, abs=1e-4)
    # combined: A = 0.5*2 + 5 - 1 = 5; C = 0.5*3 - 5 - 1 = -4.5; B (mostly bright) lies in between
    # and is suppressed by A (IoU 36*100 / (2*4100 - 3600) = 0.78 > 0.3)
    assert len(out.detections) == 2
    assert out.detections[0, 4] == pytest.approx(5.0, abs=1e-4)
    assert out.detections[1, 4] == pytest.approx(-4.5, abs=1e-4)
    np.testing.assert_allclose(out.detections[0, :4], [300, 100, 41, 100])


def test_a_frame_without_proposals_has_no_detections():
    det = Detector(FixedProposals(np.zeros((0, 5))), DetectorConfig(), Brightness())
    out = det(_image_with_bright_box())
    assert out.detections.shape == (0, 5) and out.margins.shape == (0,)


def _frames(n):
    img = _image_with_bright_box()
    person = Annotation(box=(300.0, 100.0, 41.0, 100.0))
    return [Frame(f"f{i}", 640, 480, (person,), lambda: img) for i in range(n)]


def test_run_detector_measures_proposals_and_miss_rate():
    boxes = [[300, 100, 41, 100, 2.0], [50, 300, 41, 100, 3.0]]
    config = DetectorConfig(crop=CropSpec(size=32, context=1.0), combiner=Combiner(0.0, 1.0, 0.0), nms_overlap=0.3)
    # the functional classifier only supplies the density statistics here; the stand-in scores
    classifier = FunctionalClassifier(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 2)),
                                      NumberFormats.float32())
    det = Detector(FixedProposals(boxes), config, Brightness())
    accuracy = run_detector(det, classifier, _frames(4), "stand-in")
    # every frame: the true box scores 5, the dark box -5 (a false positive at the lowest score). At any
    # threshold above -5 the detector finds all 4 people with 0 FPPI: miss rate 0 at every reference
    # point, floored to 1e-10 before the log average.
    assert accuracy.miss_rate_lamr == pytest.approx(1e-10)
    assert accuracy.proposals_per_frame == 2.0 and accuracy.detections_per_frame == 2.0
    assert accuracy.frames_evaluated == 4 and accuracy.positives == 4
