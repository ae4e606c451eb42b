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

from accelsim.detect.roc import log_average_miss_rate
from accelsim.detect.types import Annotation, as_detections

# 10^(-2:0.25:0). Written as exact quarter powers so that 10**-2 is the double nearest 0.01: an FPPI of
# exactly 1/100 then counts as "not above" the first reference point, as it does in MATLAB.
_CALTECH_FPPI_POINTS = tuple(10.0 ** (k / 4) for k in range(-8, 1))

# dbEval's 'Reasonable' row: filter = 1.25 expands the height range for detections to [50/1.25, inf),
# so that a detection of a 50 px person that came out a little short still counts.
_DET_HEIGHT_MARGIN = 1.25

GT_MATCHED, GT_MISSED, GT_IGNORED = 1, 0, -1
DET_TRUE, DET_FALSE, DET_IGNORED = 1, 0, -1

_INF = float("inf")


@dataclass(frozen=True)
class Protocol:
    """One Caltech evaluation setting (one row of ``dbEval``'s experiments); the defaults are 'reasonable'.

    ``min_height``/``max_height`` are its height range ``hr`` (px, ``min <= h < max``),
    ``min_visible``/``max_visible`` its visibility range ``vr`` (``min <= ratio <= max``, tested on
    `Annotation.visibility_ratio`, which is infinite for an unoccluded object), ``aspect_tolerance`` its
    ``ar`` (0: no test; > 0 keeps boxes whose w/h is within it of ``aspect``, < 0 those outside it) and
    ``height_expand`` its ``filter`` (detections are evaluated if ``min/expand <= h < max*expand``).
    """

    name: str = "reasonable"
    min_height: float = 50.0  # px, ground truth height for a positive
    min_visible: float = 0.65  # visibility ratio for a positive
    bounds: tuple[float, float, float, float] | None = (5.0, 5.0, 635.0, 475.0)  # x0, y0, x1, y1 (px)
    aspect: float | None = 0.41  # w/h that boxes are standardised to; None = keep boxes as they are
    iou: float = 0.5  # overlap threshold, for positives and (as intersection / detection area) ignores
    det_min_height: float | None = None  # px; None = min_height / height_expand
    fppi_points: tuple[float, ...] = field(default=_CALTECH_FPPI_POINTS)
    max_height: float = _INF  # px, exclusive
    max_visible: float = _INF
    aspect_tolerance: float = 0.0
    height_expand: float = _DET_HEIGHT_MARGIN

    def __post_init__(self) -> None:
        if not 0.0 < self.iou <= 1.0:
            raise ValueError(f"protocol {self.name!r}: iou {self.iou} is outside (0, 1]")
        if self.aspect is not None and not self.aspect > 0.0:
            raise ValueError(f"protocol {self.name!r}: aspect {self.aspect} must be positive or None")
        if not self.fppi_points or any(not p > 0.0 for p in self.fppi_points):
            raise ValueError(f"protocol {self.name!r}: fppi_points must be positive, got {self.fppi_points}")
        if self.bounds is not None and len(self.bounds) != 4:
            raise ValueError(f"protocol {self.name!r}: bounds must be (x0, y0, x1, y1), got {self.bounds}")
        if not self.height_expand > 0.0:
            raise ValueError(f"protocol {self.name!r}: height_expand {self.height_expand} must be positive")

    @property
    def detection_min_height(self) -> float:
        """Shortest detection (px) that is evaluated."""
        if self.det_min_height is not None:
            return self.det_min_height
        return self.min_height / self.height_expand

    @property
    def detection_max_height(self) -> float:
        """Detections this tall (px) or taller are not evaluated."""
        return self.max_height * self.height_expand


REASONABLE = Protocol()


def _subset(name: str, hr: tuple[float, float], vr: tuple[float, float], ar: float = 0.0) -> Protocol:
    return Protocol(name=name, min_height=hr[0], max_height=hr[1], min_visible=vr[0], max_visible=vr[1],
                    aspect_tolerance=ar)


# The evaluation subsets of Caltech's dbEval.m v3.2.1 (its ``exps`` table: name, hr, vr, ar), all with
# IoU 0.5 and filter 1.25. 'occ=none' is [inf, inf]: only objects not marked occluded.
SUBSETS: dict[str, Protocol] = {p.name: p for p in (
    REASONABLE,
    _subset("all", (20, _INF), (0.2, _INF)),
    _subset("scale=large", (100, _INF), (_INF, _INF)),
    _subset("scale=near", (80, _INF), (_INF, _INF)),
    _subset("scale=medium", (30, 80), (_INF, _INF)),
    _subset("scale=far", (20, 30), (_INF, _INF)),
    _subset("occ=none", (50, _INF), (_INF, _INF)),
    _subset("occ=partial", (50, _INF), (0.65, 1.0)),
    _subset("occ=heavy", (50, _INF), (0.2, 0.65)),
    _subset("ar=all", (50, _INF), (_INF, _INF)),
    _subset("ar=typical", (50, _INF), (_INF, _INF), 0.1),
    _subset("ar=atypical", (50, _INF), (_INF, _INF), -0.1),
)}


@dataclass(frozen=True, eq=False)  # eq would compare DataFrames, which have no single truth value
class MissRateResult:
    lamr: float  # log-average miss rate in [0, 1]
    curve: pd.DataFrame  # score_threshold, fppi, miss_rate: a row per counted detection, as compRoc makes them
    frames: int
    positives: int  # non-ignored ground truth boxes
    protocol: str

    def miss_rate_at(self, fppi: float) -> float:
        """Miss rate of the last operating point whose FPPI is not above ``fppi`` (unclipped);
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
    """Whether a ground truth box counts (True) or is an ignore region (False): ``filterGtFun``."""
    x, y, w, h = ann.box
    if ann.label != "person" or not protocol.min_height <= h < protocol.max_height:
        return False
    if not protocol.min_visible <= ann.visibility_ratio <= protocol.max_visible:
        return False
    if protocol.aspect_tolerance != 0.0:
        tol = protocol.aspect_tolerance
        if not np.sign(tol) * abs(w / h - (protocol.aspect or 0.41)) < tol:
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


@dataclass(frozen=True)
class FrameMatch:
    """How one frame's boxes matched (``bbGt>evalRes``), in the order the boxes were given."""

    gt_flags: np.ndarray  # int8: 1 matched, 0 missed, -1 ignore region
    det_flags: np.ndarray  # int8: 1 true positive, 0 false positive, -1 not counted
    det_match: np.ndarray  # int64: index of the ground truth box a detection matched, -1 for none


def match_frame(
    gt: Sequence[Annotation], dets: np.ndarray, protocol: Protocol = REASONABLE
) -> tuple[np.ndarray, np.ndarray]:
    """``(gt_flags, det_flags)`` of `match_boxes`."""
    m = match_boxes(gt, dets, protocol)
    return m.gt_flags, m.det_flags


def match_boxes(gt: Sequence[Annotation], dets: np.ndarray, protocol: Protocol = REASONABLE) -> FrameMatch:
    """Match one frame's detections to its ground truth the way ``bbGt>evalRes`` does.

    Ground truth is 1 matched, 0 missed, -1 ignore region; detections 1 true positive, 0 false
    positive, -1 not counted (it fell on an ignore region, or its height is outside the protocol's
    detection range and it was dropped).

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
    det_match = np.full(n_det, -1, dtype=np.int64)

    boxes = resize_to_aspect(dets[:, :4], protocol.aspect)
    # evalAlgs: bb(:,4) >= hr(1)/filter & bb(:,4) < hr(2)*filter
    kept = np.flatnonzero((boxes[:, 3] >= protocol.detection_min_height)
                          & (boxes[:, 3] < protocol.detection_max_height))
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
            det_match[order[row]] = pos_idx[j]
    return FrameMatch(gt_flags, det_flags, det_match)


@dataclass(frozen=True, eq=False)
class Matched:
    """The counted detections of an evaluation in ``compRoc``'s order, and the positives of each frame:
    everything the log-average miss rate, its curve and its bootstrap intervals need.

    The order is descending score, ties kept in frame order and, within a frame, in the order given
    (MATLAB's stable sort of the frames' results concatenated in frame order).
    """

    frames: int
    positives: np.ndarray  # int64 (frames,): positives of each frame
    frame: np.ndarray  # int64 (n,): frame index of each counted detection
    score: np.ndarray  # float64 (n,)
    true_positive: np.ndarray  # bool (n,)

    @classmethod
    def of(cls, frames: Sequence[tuple[FrameMatch, np.ndarray]]) -> Matched:
        """From each frame's match and its (n, 5) detections."""
        positives = np.array([int(np.count_nonzero(m.gt_flags != GT_IGNORED)) for m, _ in frames], dtype=np.int64)
        idx, score, tp = [], [], []
        for i, (m, dets) in enumerate(frames):
            counted = m.det_flags != DET_IGNORED
            idx.append(np.full(int(counted.sum()), i, dtype=np.int64))
            score.append(as_detections(dets)[counted, 4])
            tp.append(m.det_flags[counted] == DET_TRUE)
        if not frames:
            return cls(0, positives, np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
        score_all = np.concatenate(score)
        order = np.argsort(-score_all, kind="stable")
        return cls(len(frames), positives, np.concatenate(idx)[order], score_all[order], np.concatenate(tp)[order])

    def subset(self, keep: np.ndarray) -> Matched:
        """The evaluation restricted to the frames where ``keep`` (bool, per frame) holds, renumbered."""
        keep = np.asarray(keep, dtype=bool)
        new_index = np.cumsum(keep) - 1
        rows = keep[self.frame]
        return Matched(int(keep.sum()), self.positives[keep], new_index[self.frame[rows]], self.score[rows],
                       self.true_positive[rows])

    @property
    def positive_count(self) -> int:
        return int(self.positives.sum())

    def curve(self) -> pd.DataFrame:
        """One row per counted detection, as ``compRoc`` makes its points."""
        tp = np.cumsum(self.true_positive)
        fp = np.cumsum(~self.true_positive)
        return pd.DataFrame({"score_threshold": self.score, "fppi": fp / max(self.frames, 1),
                             "miss_rate": 1.0 - tp / max(self.positive_count, 1)})

    def lamr(self, fppi_points: Sequence[float] = _CALTECH_FPPI_POINTS) -> float:
        """The log-average miss rate (``compRoc`` then ``exp(mean(log(max(1e-10, miss))))``)."""
        return float(log_average_miss_rate(self.frame, self.score, self.true_positive, self.positives, fppi_points))


def evaluate(
    ground_truth: Sequence[Sequence[Annotation]],
    detections: Sequence[np.ndarray],
    protocol: Protocol = REASONABLE,
) -> MissRateResult:
    """Log-average miss rate of ``detections`` (one (n, 5) array per frame) against ``ground_truth``.

    All counted detections of all frames are pooled and swept in `Matched`'s order (compRoc); each
    detection is one operating point with FPPI = false positives so far / frames and miss rate =
    1 - true positives so far / positives, so equal scores are stepped through one by one in frame
    order, as the reference does. At each reference FPPI the miss rate is that of the last point whose
    FPPI is not above it, or 1.0 (no detections) when there is none; the result is the geometric mean
    of those miss rates, each floored at 1e-10.
    """
    matched = match_all(ground_truth, detections, protocol)
    return MissRateResult(lamr=matched.lamr(protocol.fppi_points), curve=matched.curve(), frames=matched.frames,
                          positives=matched.positive_count, protocol=protocol.name)


def match_frames(ground_truth: Sequence[Sequence[Annotation]], detections: Sequence[np.ndarray],
                 protocol: Protocol = REASONABLE) -> list[FrameMatch]:
    """Every frame matched under ``protocol``; an error names the frame it is in."""
    if len(ground_truth) != len(detections):
        raise ValueError(
            f"ground truth has {len(ground_truth)} frames but detections have {len(detections)}"
        )
    frames = []
    for i, (gt, dets) in enumerate(zip(ground_truth, detections, strict=True)):
        try:
            frames.append(match_boxes(gt, dets, protocol))
        except ValueError as exc:
            raise ValueError(f"frame {i}: {exc}") from None
    return frames


def require_positives(matched: Matched, protocol: Protocol = REASONABLE) -> Matched:
    """``matched``, or a ValueError when it has no positive: its miss rate is undefined."""
    if matched.positive_count == 0:
        raise ValueError(
            f"no positive ground truth under protocol {protocol.name!r} in {matched.frames} frames: "
            "the miss rate is undefined (every box is an ignore region or there are no boxes)"
        )
    return matched


def match_all(ground_truth: Sequence[Sequence[Annotation]], detections: Sequence[np.ndarray],
              protocol: Protocol = REASONABLE) -> Matched:
    """Every frame matched under ``protocol``; refuses an evaluation with no positive."""
    matches = match_frames(ground_truth, detections, protocol)
    return require_positives(Matched.of(list(zip(matches, detections, strict=True))), protocol)


def _miss_rate_at(fppi: np.ndarray, miss_rate: np.ndarray, ref: float) -> float:
    # compRoc prepends (fppi=-inf, recall=0) and takes the last point with fppi <= ref. FPPI never
    # falls and miss rate never rises along the curve, so the last such row is the one wanted.
    n = int(np.searchsorted(fppi, ref, side="right"))
    return 1.0 if n == 0 else float(miss_rate[n - 1])


def _check_finite(dets: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(dets)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(dets), axis=1))[0])
        raise ValueError(f"{what} row {bad} is not finite: {dets[bad].tolist()}")
