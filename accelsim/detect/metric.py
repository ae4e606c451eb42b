"""Log-average miss rate under the Caltech Pedestrian protocol (Dollár et al., PAMI 2012).

The rules follow the Caltech evaluation code v3.2.1 (``dbEval.m`` and ``bbGt.m`` of Piotr's toolbox),
because published miss rates are only comparable when every detail of it is reproduced:

* ground truth (``dbEval>loadGt``/``filterGtFun``): a box is a positive only if it is labelled
  ``person``, is at least ``min_height`` tall, at least ``min_visible`` visible and lies inside the
  bounds, tested on the *original* box. Every other box (a person failing a test, ``person?``,
  ``people``, ``ignore``) becomes an ignore region.
* aspect standardisation: positives and all detections are resized to ``w = aspect * h`` around
  their centre, keeping the height (``bbApply('resize', bb, 1, 0, .41)``). Ignore regions are *not*
  resized: ``loadGt`` resizes only the rows whose ignore flag is not 1 (``ids=bb(:,5)~=1``).
* detections (``dbEval>evalAlgs``): kept if ``min_height / 1.25 <= h``; there is no bounds test on
  detections. The filter runs after the resize, which keeps the height, so the order does not matter.
* matching (``bbGt>evalRes``, ``compOas``): see :func:`match_frame`.
* curve and average (``bbGt>compRoc``, ``acfTest.m``): see :func:`evaluate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from accelsim.detect.types import Annotation, as_detections

# 10^(-2:0.25:0). Written as exact quarter powers so that 10**-2 is the double nearest 0.01: an FPPI of
# exactly 1/100 then counts as "not above" the first reference point, as it does in MATLAB.
_CALTECH_FPPI_POINTS = tuple(10.0 ** (k / 4) for k in range(-8, 1))

# acfTest.m averages log(max(1e-10, miss)). dbEval.m v3.2.1 itself does not clip, so a perfect detector
# scores exactly 0 there and 1e-10 ** (k/9) here; the clip keeps the logarithm finite.
_MISS_RATE_FLOOR = 1e-10

# dbEval's 'Reasonable' row: filter = 1.25 expands the height range for detections to [50/1.25, inf),
# so that a detection of a 50 px person that came out a little short still counts.
_DET_HEIGHT_MARGIN = 1.25

GT_MATCHED, GT_MISSED, GT_IGNORED = 1, 0, -1
DET_TRUE, DET_FALSE, DET_IGNORED = 1, 0, -1


@dataclass(frozen=True)
class Protocol:
    """One Caltech evaluation setting; the defaults are the 'reasonable' subset."""

    name: str = "reasonable"
    min_height: float = 50.0  # px, ground truth height for a positive
    min_visible: float = 0.65  # visible fraction for a positive
    bounds: tuple[float, float, float, float] | None = (5.0, 5.0, 635.0, 475.0)  # x0, y0, x1, y1 (px)
    aspect: float | None = 0.41  # w/h that boxes are standardised to; None = keep boxes as they are
    iou: float = 0.5  # overlap threshold, for positives and (as intersection / detection area) ignores
    det_min_height: float | None = None  # px; None = min_height / 1.25
    fppi_points: tuple[float, ...] = field(default=_CALTECH_FPPI_POINTS)

    def __post_init__(self) -> None:
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"protocol {self.name!r}: iou {self.iou} is outside (0, 1]")
        if self.aspect is not None and not self.aspect > 0.0:
            raise ValueError(f"protocol {self.name!r}: aspect {self.aspect} must be positive or None")
        if not self.fppi_points or any(not p > 0.0 for p in self.fppi_points):
            raise ValueError(f"protocol {self.name!r}: fppi_points must be positive, got {self.fppi_points}")
        if self.bounds is not None and len(self.bounds) != 4:
            raise ValueError(f"protocol {self.name!r}: bounds must be (x0, y0, x1, y1), got {self.bounds}")

    @property
    def detection_min_height(self) -> float:
        """Shortest detection (px) that is evaluated."""
        if self.det_min_height is not None:
            return self.det_min_height
        return self.min_height / _DET_HEIGHT_MARGIN


REASONABLE = Protocol()


@dataclass(frozen=True, eq=False)  # eq would compare DataFrames, which have no single truth value
class MissRateResult:
    lamr: float  # log-average miss rate in [0, 1]
    curve: pd.DataFrame  # score_threshold, fppi, miss_rate; a row per distinct score of a TP or FP, descending
    frames: int
    positives: int  # non-ignored ground truth boxes
    protocol: str

    def miss_rate_at(self, fppi: float) -> float:
        """Miss rate of the lowest-miss operating point whose FPPI is not above ``fppi`` (unclipped);
        1.0 when even the strictest threshold gives more false positives per image than that."""
        return _miss_rate_at(self.curve["fppi"].to_numpy(), self.curve["miss_rate"].to_numpy(), fppi)


def resize_to_aspect(boxes: np.ndarray, aspect: float | None) -> np.ndarray:
    """Boxes ``(n, >=4)`` as ``x, y, w, h, ...`` with ``w = aspect * h`` about the same centre.

    Extra columns (a score) are kept. ``aspect=None`` returns a copy unchanged.
    """
    out = np.array(boxes, dtype=np.float64, copy=True)
    if aspect is None or out.shape[0] == 0:
        return out
    new_w = out[:, 3] * aspect
    out[:, 0] += (out[:, 2] - new_w) / 2.0
    out[:, 2] = new_w
    return out


def is_positive(ann: Annotation, protocol: Protocol = REASONABLE) -> bool:
    """Whether a ground truth box counts (True) or is an ignore region (False)."""
    x, y, w, h = ann.box
    if ann.label != "person" or h < protocol.min_height or ann.visible < protocol.min_visible:
        return False
    if protocol.bounds is not None:
        # filterGtFun tests the box as annotated, before the aspect standardisation.
        x0, y0, x1, y1 = protocol.bounds
        if x < x0 or y < y0 or x + w > x1 or y + h > y1:
            return False
    return True


def _overlaps(dets: np.ndarray, gts: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """Matrix (n_det, n_gt) of IoU against positives and intersection / detection area against
    ignore regions (compOas: a detection may cover any part of an ignore region)."""
    if dets.shape[0] == 0 or gts.shape[0] == 0:
        return np.zeros((dets.shape[0], gts.shape[0]))
    dx0, dy0 = dets[:, 0:1], dets[:, 1:2]
    dx1, dy1 = dx0 + dets[:, 2:3], dy0 + dets[:, 3:4]
    gx0, gy0 = gts[:, 0], gts[:, 1]
    gx1, gy1 = gx0 + gts[:, 2], gy0 + gts[:, 3]
    iw = np.minimum(dx1, gx1) - np.maximum(dx0, gx0)
    ih = np.minimum(dy1, gy1) - np.maximum(dy0, gy0)
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    det_area = dets[:, 2:3] * dets[:, 3:4]
    union = det_area + gts[:, 2] * gts[:, 3] - inter
    denom = np.where(ignore[None, :], det_area, union)
    # Only divide where boxes intersect: a zero-area box then never divides by zero.
    out = np.zeros_like(inter)
    np.divide(inter, denom, out=out, where=inter > 0)
    return out


def match_frame(
    gt: Sequence[Annotation], dets: np.ndarray, protocol: Protocol = REASONABLE
) -> tuple[np.ndarray, np.ndarray]:
    """Match one frame's detections to its ground truth the way ``bbGt>evalRes`` does.

    Returns ``(gt_flags, det_flags)`` as int8 arrays in the order given: ground truth 1 matched,
    0 missed, -1 ignore region; detections 1 true positive, 0 false positive, -1 not counted (it fell
    on an ignore region, or it is shorter than the protocol's detection height and was dropped).

    Detections are taken by descending score (stable, like MATLAB's sort, so equal scores keep their
    given order). Each takes the unmatched positive of highest IoU, if that is at least ``iou``; on a
    tie the later positive wins, since evalRes replaces its best match when ``oa >= bstOa``. Only a
    detection with no such positive is tested against ignore regions (intersection over detection
    area >= ``iou``), and an ignore region can absorb any number of detections.
    """
    dets = as_detections(dets)
    _check_finite(dets, "detections")
    n_gt, n_det = len(gt), dets.shape[0]
    positive = np.array([is_positive(a, protocol) for a in gt], dtype=bool)
    gt_boxes = np.array([a.box for a in gt], dtype=np.float64).reshape(n_gt, 4)
    # loadGt resizes only the boxes that are not ignore regions.
    gt_boxes[positive] = resize_to_aspect(gt_boxes[positive], protocol.aspect)

    gt_flags = np.where(positive, GT_MISSED, GT_IGNORED).astype(np.int8)
    det_flags = np.full(n_det, DET_IGNORED, dtype=np.int8)

    boxes = resize_to_aspect(dets[:, :4], protocol.aspect)
    # evalAlgs: bb(:,4) >= hr(1) & bb(:,4) < hr(2), with hr(2) = inf * 1.25 for every 'reasonable' run.
    kept = np.flatnonzero(boxes[:, 3] >= protocol.detection_min_height)
    order = kept[np.argsort(-dets[kept, 4], kind="stable")]

    pos_idx = np.flatnonzero(positive)
    ign_idx = np.flatnonzero(~positive)
    ov_pos = _overlaps(boxes[order], gt_boxes[pos_idx], np.zeros(pos_idx.size, dtype=bool))
    ov_ign = _overlaps(boxes[order], gt_boxes[ign_idx], np.ones(ign_idx.size, dtype=bool))
    on_ignore = np.any(ov_ign >= protocol.iou, axis=1)
    det_flags[order] = np.where(on_ignore, DET_IGNORED, DET_FALSE)

    # Only detections that reach some positive need the sequential greedy pass; the rest are
    # settled above (the fast path matters on thousands of frames with dozens of proposals each).
    free = np.ones(pos_idx.size, dtype=bool)
    for row in np.flatnonzero(np.any(ov_pos >= protocol.iou, axis=1)):
        cand = np.where(free, ov_pos[row], -1.0)
        # last index holding the maximum: evalRes lets a later equal overlap replace the best
        j = cand.size - 1 - int(np.argmax(cand[::-1]))
        if cand[j] >= protocol.iou:
            free[j] = False
            gt_flags[pos_idx[j]] = GT_MATCHED
            det_flags[order[row]] = DET_TRUE
    return gt_flags, det_flags


def evaluate(
    ground_truth: Sequence[Sequence[Annotation]],
    detections: Sequence[np.ndarray],
    protocol: Protocol = REASONABLE,
) -> MissRateResult:
    """Log-average miss rate of ``detections`` (one (n, 5) array per frame) against ``ground_truth``.

    All counted detections of all frames are pooled and swept by descending score (compRoc); each
    distinct score is one operating point with FPPI = false positives / frames and miss rate =
    1 - true positives / positives. Sweeping whole groups of equal scores (compRoc steps through them
    one by one, in file order) makes the result independent of the order of frames and detections.
    At each reference FPPI the miss rate is that of the point with the largest FPPI not above it, or
    1.0 (no detections) when there is none; the result is the geometric mean of those miss rates,
    each floored at 1e-10.
    """
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"ground truth has {len(ground_truth)} frames but detections have {len(detections)}"
        )
    frames = len(ground_truth)
    positives = 0
    scores: list[np.ndarray] = []
    flags: list[np.ndarray] = []
    for i, (gt, dets) in enumerate(zip(ground_truth, detections, strict=True)):
        try:
            gt_flags, det_flags = match_frame(gt, dets, protocol)
        except ValueError as exc:
            raise ValueError(f"frame {i}: {exc}") from None
        positives += int(np.count_nonzero(gt_flags != GT_IGNORED))
        counted = det_flags != DET_IGNORED
        scores.append(as_detections(dets)[counted, 4])
        flags.append(det_flags[counted])
    if positives == 0:
        raise ValueError(
            f"no positive ground truth under protocol {protocol.name!r} in {frames} frames: "
            "the miss rate is undefined (every box is an ignore region or there are no boxes)"
        )

    score = np.concatenate(scores) if scores else np.zeros(0)
    tp_flag = np.concatenate(flags) if flags else np.zeros(0, dtype=np.int8)
    order = np.argsort(-score, kind="stable")
    score, tp_flag = score[order], tp_flag[order]
    tp = np.cumsum(tp_flag == DET_TRUE)
    fp = np.cumsum(tp_flag == DET_FALSE)
    # the last detection of each run of equal scores closes that operating point
    last = np.flatnonzero(np.append(score[1:] != score[:-1], True)) if score.size else np.zeros(0, int)
    curve = pd.DataFrame(
        {
            "score_threshold": score[last],
            "fppi": fp[last] / frames,
            "miss_rate": 1.0 - tp[last] / positives,
        }
    )
    fppi_arr, miss_arr = curve["fppi"].to_numpy(), curve["miss_rate"].to_numpy()
    at_points = np.array([_miss_rate_at(fppi_arr, miss_arr, r) for r in protocol.fppi_points])
    lamr = float(np.exp(np.mean(np.log(np.maximum(_MISS_RATE_FLOOR, at_points)))))
    return MissRateResult(
        lamr=lamr, curve=curve, frames=frames, positives=positives, protocol=protocol.name
    )


def _miss_rate_at(fppi: np.ndarray, miss_rate: np.ndarray, ref: float) -> float:
    # compRoc prepends (fppi=-inf, recall=0) and takes the last point with fppi <= ref. FPPI never
    # falls and miss rate never rises along the curve, so the last such row is the one wanted.
    n = int(np.searchsorted(fppi, ref, side="right"))
    return 1.0 if n == 0 else float(miss_rate[n - 1])


def _check_finite(dets: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(dets)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(dets), axis=1))[0])
        raise ValueError(f"{what} row {bad} is not finite: {dets[bad].tolist()}")
