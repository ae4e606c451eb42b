"""Box geometry shared by the proposal stage, crop extraction and the detector: (x, y, w, h) boxes in
pixels, top-left origin."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (n, >=4) with every box of ``b`` (m, >=4)."""
    a = np.asarray(a, dtype=np.float64)[:, :4]
    b = np.asarray(b, dtype=np.float64)[:, :4]
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, 0][:, None], b[:, 0][None])
    ih = np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, 1][:, None], b[:, 1][None])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    # corners computed as x + w round differently from w itself, which can put identical tiny boxes a
    # few ulps above 1
    return np.minimum(iou, 1.0)


def nms(dets: np.ndarray, overlap: float, limit: int | None = None) -> np.ndarray:
    """Greedy non-maximum suppression: keep the best-scoring box, drop every box whose IoU with a kept
    box exceeds ``overlap``; rows of ``dets`` are x, y, w, h, score. Returns the kept rows by descending
    score (ties keep input order, so the result is deterministic), at most ``limit`` of them."""
    if len(dets) == 0:
        return dets
    order = np.argsort(-dets[:, 4], kind="stable")
    dets = dets[order]
    iou = iou_matrix(dets, dets)
    keep: list[int] = []
    suppressed = np.zeros(len(dets), dtype=bool)
    for i in range(len(dets)):
        if limit is not None and len(keep) >= limit:
            break
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > overlap
    return dets[keep]

