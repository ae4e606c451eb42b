"""The log-average miss rate of pooled, matched detections, as ``bbGt>compRoc`` and ``dbEval`` compute
it, for the full evaluation and for any resampling of its frames (the bootstrap in `intervals`).

A resample is given as a count per frame (how many times the frame was drawn). Its frames are taken in
frame order, each repeated as often as it was drawn, so its ROC is the reference's on that list of
frames: detections by descending score, and among equal scores, frame by frame, each copy of a frame
before the next copy, and within a copy in the order given. Walking the evaluation's pooled order
block by block, where a block is a run of one frame's detections with one score, and emitting each
block as often as its frame was drawn, produces exactly that sequence without sorting again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

# acfTest.m averages log(max(1e-10, miss)). dbEval.m v3.2.1 itself does not clip, so a perfect detector
# scores exactly 0 there and 1e-10 ** (k/9) here; the clip keeps the logarithm finite.
MISS_RATE_FLOOR = 1e-10


def blocks(frame: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Start of each run of equal (frame, score) in the pooled order, and its end as a last entry."""
    if frame.size == 0:
        return np.zeros(1, dtype=np.int64)
    change = (frame[1:] != frame[:-1]) | (score[1:] != score[:-1])
    return np.concatenate(([0], np.flatnonzero(change) + 1, [frame.size])).astype(np.int64)


@numba.njit(cache=True)
def _lamr(frame, true_positive, starts, counts, positives, refs):  # pragma: no cover - compiled
    n_img = 0
    n_pos = 0
    for f in range(counts.size):
        n_img += counts[f]
        n_pos += counts[f] * positives[f]
    if n_pos == 0:
        return np.nan
    m = refs.size
    recall = np.empty(m)
    k = 0
    tp = 0
    fp = 0
    for b in range(starts.size - 1):
        if k == m:
            break
        s, e = starts[b], starts[b + 1]
        for _ in range(counts[frame[s]]):
            for i in range(s, e):
                if true_positive[i]:
                    tp += 1
                else:
                    fp += 1
                    # the points before this false positive are the last with FPPI <= each ref passed
                    while k < m and fp / n_img > refs[k]:
                        recall[k] = tp / n_pos
                        k += 1
    while k < m:
        recall[k] = tp / n_pos
        k += 1
    total = 0.0
    for j in range(m):
        total += np.log(max(MISS_RATE_FLOOR, 1.0 - recall[j]))
    return np.exp(total / m)


@numba.njit(cache=True)
def _lamr_many(frame, true_positive, starts, counts, positives, refs):  # pragma: no cover - compiled
    out = np.empty(counts.shape[0])
    for r in range(counts.shape[0]):
        out[r] = _lamr(frame, true_positive, starts, counts[r], positives, refs)
    return out


def log_average_miss_rate(frame: np.ndarray, score: np.ndarray, true_positive: np.ndarray, positives: np.ndarray,
                          fppi_points: Sequence[float], counts: np.ndarray | None = None) -> np.ndarray | float:
    """The log-average miss rate of the pooled detections (``frame``, ``score``, ``true_positive`` in
    compRoc's order; ``positives`` per frame), or of each resample when ``counts`` (resamples, frames)
    gives how often each frame was drawn. NaN for a resample without a positive."""
    starts = blocks(frame, score)
    refs = np.asarray(fppi_points, dtype=np.float64)
    tp = np.ascontiguousarray(true_positive, dtype=np.bool_)
    frame = np.ascontiguousarray(frame, dtype=np.int64)
    positives = np.ascontiguousarray(positives, dtype=np.int64)
    if counts is None:
        return float(_lamr(frame, tp, starts, np.ones(positives.size, np.int64), positives, refs))
    return _lamr_many(frame, tp, starts, np.ascontiguousarray(counts, dtype=np.int64), positives, refs)
