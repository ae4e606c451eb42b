"""Bootstrap intervals of the log-average miss rate: the resample kernel against the reference computed
on explicitly rebuilt resamples, determinism, and paired differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.detect.intervals import IntervalSpec, lamr_interval, paired_difference
from accelsim.detect.metric import REASONABLE, evaluate, match_all
from accelsim.detect.roc import log_average_miss_rate
from accelsim.detect.types import Annotation

PERSON = (100.0, 100.0, 41.0, 100.0)
ELSEWHERE = (400.0, 100.0, 41.0, 100.0)


@st.composite
def frames(draw):
    """Frames with 0-2 pedestrians, each found or not, and false positives; few distinct scores, so
    that ties across and within frames are common."""
    n = draw(st.integers(1, 7))
    gt, dets = [], []
    for _ in range(n):
        people = draw(st.integers(0, 2))
        g = [Annotation((100.0 + 150 * k, 100.0, 41.0, 100.0)) for k in range(people)]
        d = []
        for k in range(people):
            if draw(st.booleans()):
                d.append((100.0 + 150 * k, 100.0, 41.0, 100.0, draw(st.sampled_from([0.2, 0.5, 0.9]))))
        for _ in range(draw(st.integers(0, 3))):
            d.insert(draw(st.integers(0, len(d))), (*ELSEWHERE[:1], 300.0, 41.0, 100.0,
                                                    draw(st.sampled_from([0.2, 0.5, 0.9]))))
        gt.append(g)
        dets.append(np.array(d, dtype=np.float64).reshape(-1, 5))
    if not any(gt):  # the metric needs a positive somewhere
        gt[0] = [Annotation(PERSON)]
    return gt, dets


@settings(deadline=None, max_examples=200)
@given(frames(), st.data())
def test_a_resample_is_the_reference_on_the_rebuilt_frame_list(data, draw):
    # A resample drawing frame f c_f times must give exactly compRoc's log-average on the list of frames
    # [f repeated c_f times, in frame order], rebuilt and evaluated from scratch.
    gt, dets = data
    counts = np.array([draw.draw(st.integers(0, 3)) for _ in gt], dtype=np.int64)
    rebuilt = [i for i, c in enumerate(counts) for _ in range(c)]
    m = match_all(gt, dets)
    got = log_average_miss_rate(m.frame, m.score, m.true_positive, m.positives, REASONABLE.fppi_points,
                                counts[None, :])[0]
    if not any(m.positives[i] for i in rebuilt):
        assert np.isnan(got)
        return
    expected = evaluate([gt[i] for i in rebuilt], [dets[i] for i in rebuilt]).lamr
    assert got == pytest.approx(expected, rel=1e-12)


def _evaluation(n_frames: int, found: float, seed: int):
    """n frames with one pedestrian each, found with probability ``found``, and one false positive in
    every other frame."""
    rng = np.random.default_rng(seed)
    gt, dets = [], []
    for i in range(n_frames):
        gt.append([Annotation(PERSON)])
        d = []
        if rng.random() < found:
            d.append((*PERSON, rng.random()))
        if i % 2:
            d.append((*ELSEWHERE, rng.random()))
        dets.append(np.array(d).reshape(-1, 5))
    return gt, dets


def test_interval_is_seeded_and_brackets_the_estimate():
    gt, dets = _evaluation(200, 0.7, seed=1)
    m = match_all(gt, dets)
    a = lamr_interval(m, IntervalSpec(seed=3))
    b = lamr_interval(m, IntervalSpec(seed=3))
    c = lamr_interval(m, IntervalSpec(seed=4))
    assert (a.low, a.high) == (b.low, b.high)
    assert (a.low, a.high) != (c.low, c.high)
    assert a.low <= a.estimate <= a.high
    assert a.estimate == pytest.approx(evaluate(gt, dets).lamr, rel=1e-12)
    assert a.resamples == 1000
    narrower = lamr_interval(m, IntervalSpec(level=0.8, seed=3))
    assert a.low <= narrower.low and narrower.high <= a.high


def test_more_frames_give_a_narrower_interval():
    widths = [lamr_interval(match_all(*_evaluation(n, 0.7, seed=2))).half_width for n in (50, 800)]
    # the half-width shrinks about as 1/sqrt(frames): 4x here; allow a wide margin
    assert widths[1] < widths[0] / 2


def test_paired_difference_of_a_variant_with_itself_is_exactly_zero():
    m = match_all(*_evaluation(100, 0.6, seed=5))
    d = paired_difference(m, m)
    assert (d.delta, d.low, d.high) == (0.0, 0.0, 0.0)
    assert not d.distinguishable


def test_a_detector_that_misses_more_is_distinguishable_on_enough_frames():
    gt, good = _evaluation(400, 0.9, seed=6)
    # the same frames, with a quarter of the found pedestrians' detections removed
    worse = [d if i % 4 else d[d[:, 0] != PERSON[0]] for i, d in enumerate(good)]
    a, b = match_all(gt, worse), match_all(gt, good)
    d = paired_difference(a, b)
    assert d.delta > 0 and d.low > 0 and d.distinguishable
    # on the same frames, the unpaired intervals overlap more than the paired one says
    assert d.low < d.delta < d.high


def test_paired_needs_the_same_frames():
    a = match_all(*_evaluation(10, 0.5, seed=7))
    b = match_all(*_evaluation(12, 0.5, seed=7))
    with pytest.raises(ValueError, match="same frames"):
        paired_difference(a, b)


@pytest.mark.parametrize("kwargs, message", [({"level": 1.0}, "confidence level"), ({"resamples": 10}, "at least 100"),
                                             ({"seed": -1}, "non-negative")])
def test_interval_spec_is_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        IntervalSpec(**kwargs)
