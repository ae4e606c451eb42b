"""Invariants of the Caltech miss rate that must hold for any ground truth and any detector."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.detect.metric import Protocol, evaluate, is_positive, match_frame
from accelsim.detect.types import LABELS, Annotation

# Integer pixel boxes keep every overlap an exact ratio of integers, so two runs that should agree
# bit for bit do, and no test depends on rounding at the 0.5 threshold.
coords = st.integers(0, 560)
annotation = st.builds(
    lambda x, y, w, h, label, vis: Annotation((x, y, w, h), label, vis),
    coords,
    st.integers(0, 380),
    st.integers(8, 120),
    st.integers(30, 200),
    st.sampled_from(LABELS),
    st.sampled_from([0.3, 0.65, 1.0]),
)
# one certain positive so that every generated set has a defined miss rate
sure_positive = st.builds(
    lambda x, y, h: Annotation((x, y, 41, h)), st.integers(5, 500), st.integers(5, 300), st.integers(50, 170)
)
# scores on a coarse grid: equal scores within and across frames are common on purpose
score = st.integers(0, 20).map(lambda k: k / 20)


@st.composite
def frame(draw, first=False):
    gt = draw(st.lists(annotation, max_size=4))
    if first:
        gt = [draw(sure_positive), *gt]
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        if gt and draw(st.booleans()):
            # a detection near some ground truth box: true positives, duplicates and near misses
            x, y, w, h = draw(st.sampled_from(gt)).box
            rows.append((x + draw(st.integers(-12, 12)), y + draw(st.integers(-12, 12)), w,
                         h + draw(st.integers(-20, 20)), draw(score)))
        else:
            rows.append((draw(coords), draw(st.integers(0, 380)), draw(st.integers(8, 120)),
                         draw(st.integers(20, 200)), draw(score)))
    return gt, np.array(rows, dtype=np.float64).reshape(-1, 5)


@st.composite
def dataset(draw):
    frames = [draw(frame(first=True)), *draw(st.lists(frame(), max_size=4))]
    order = draw(st.permutations(range(len(frames))))
    frames = [frames[i] for i in order]
    return [f[0] for f in frames], [f[1] for f in frames]


def _same(a, b):
    assert a.lamr == b.lamr
    assert (a.frames, a.positives) == (b.frames, b.positives)
    np.testing.assert_array_equal(a.curve[["fppi", "miss_rate"]].to_numpy(),
                                  b.curve[["fppi", "miss_rate"]].to_numpy())


@settings(deadline=None)
@given(dataset())
def test_lamr_and_curve_are_well_formed(data):
    res = evaluate(*data)
    assert 0.0 < res.lamr <= 1.0
    c = res.curve
    assert np.all(np.diff(c["score_threshold"]) <= 0)
    assert np.all(np.diff(c["fppi"]) >= 0)
    assert np.all(np.diff(c["miss_rate"]) <= 0)
    assert np.all((c["miss_rate"] >= 0) & (c["miss_rate"] <= 1))
    # the average lies between the best and the worst of the nine points it averages
    points = [max(1e-10, res.miss_rate_at(r)) for r in Protocol().fppi_points]
    assert min(points) * (1 - 1e-12) <= res.lamr <= max(points) * (1 + 1e-12)


@settings(deadline=None)
@given(dataset())
def test_matches_are_one_to_one_and_ignores_are_the_filtered(data):
    for gt, dets in zip(*data):
        gt_flags, det_flags = match_frame(gt, dets)
        assert np.count_nonzero(gt_flags == 1) == np.count_nonzero(det_flags == 1)
        assert [f != -1 for f in gt_flags] == [is_positive(a) for a in gt]
        assert np.all(det_flags[dets[:, 3] < 40] == -1)


def _group_ends(res):
    """The curve at the last detection of each distinct score: the points no tie order can move."""
    c = res.curve
    score = c["score_threshold"].to_numpy()
    last = np.append(score[1:] != score[:-1], True) if score.size else np.zeros(0, dtype=bool)
    return c[["fppi", "miss_rate"]].to_numpy()[last]


@settings(deadline=None)
@given(dataset(), st.randoms(use_true_random=False))
def test_frame_order_moves_only_points_inside_ties(data, rnd):
    # compRoc steps through equal scores in frame order, so reordering frames can move the points
    # inside a run of equal scores, but never the point that closes the run; with distinct scores
    # nothing moves.
    gt, dets = data
    order = list(range(len(gt)))
    rnd.shuffle(order)
    a, b = evaluate(gt, dets), evaluate([gt[i] for i in order], [dets[i] for i in order])
    np.testing.assert_array_equal(_group_ends(a), _group_ends(b))
    scores = np.concatenate([d[:, 4] for d in dets])
    if np.unique(scores).size == scores.size:
        _same(a, b)


@settings(deadline=None)
@given(dataset(), st.integers(-8, 8))
def test_scaling_scores_does_not_matter(data, k):
    # powers of two scale exactly, so no two distinct scores can merge
    gt, dets = data
    scaled = [d * np.array([1, 1, 1, 1, 2.0**k]) for d in dets]
    a, b = evaluate(gt, dets), evaluate(gt, scaled)
    _same(a, b)
    np.testing.assert_array_equal(a.curve["score_threshold"] * 2.0**k, b.curve["score_threshold"])


@settings(deadline=None)
@given(dataset(), st.data())
def test_a_detection_below_all_others_never_raises_lamr(data, draw):
    gt, dets = data
    i = draw.draw(st.integers(0, len(gt) - 1))
    lowest = min((float(d[:, 4].min()) for d in dets if len(d)), default=0.0) - 1.0
    x, y, w, h = draw.draw(st.sampled_from([a.box for a in gt[i]] or [(100, 100, 41, 100)]))
    extra = np.array([[x + draw.draw(st.integers(-10, 10)), y, w, h, lowest]])
    more = list(dets)
    more[i] = np.vstack([dets[i], extra])
    a, b = evaluate(gt, dets), evaluate(gt, more)
    assert b.lamr <= a.lamr
    # it is matched last, so every earlier operating point is unchanged
    n = len(a.curve)
    assert len(b.curve) in (n, n + 1)
    np.testing.assert_array_equal(a.curve.to_numpy(), b.curve.to_numpy()[:n])


@settings(deadline=None)
@given(dataset())
def test_removing_false_positives_never_raises_lamr(data):
    # a false positive claims nothing, so removing it leaves every other flag as it was
    gt, dets = data
    kept = [d[match_frame(g, d)[1] != 0] for g, d in zip(gt, dets)]
    a, b = evaluate(gt, dets), evaluate(gt, kept)
    assert b.lamr <= a.lamr
    assert (b.curve["fppi"] == 0).all()


@settings(deadline=None)
@given(dataset(), st.lists(annotation.filter(lambda a: not is_positive(a)), max_size=3))
def test_an_extra_frame_without_positives_or_detections_only_rescales_fppi(data, ignores):
    gt, dets = data
    n = len(gt)
    a = evaluate(gt, dets)
    b = evaluate([*gt, ignores], [*dets, np.zeros((0, 5))])
    assert (b.frames, b.positives) == (n + 1, a.positives)
    np.testing.assert_array_equal(a.curve["miss_rate"], b.curve["miss_rate"])
    np.testing.assert_allclose(b.curve["fppi"] * (n + 1), a.curve["fppi"] * n, rtol=1e-12)
    assert b.lamr <= a.lamr


@settings(deadline=None)
@given(dataset(), st.integers(-200, 200), st.integers(-200, 200))
def test_translation_does_not_matter_without_bounds_or_resize(data, dx, dy):
    # bounds and the .41 resize are the only position-dependent rules; without them, moving
    # every box of every frame by whole pixels changes nothing
    gt, dets = data
    p = Protocol(bounds=None, aspect=None)
    moved_gt = [[Annotation((a.box[0] + dx, a.box[1] + dy, *a.box[2:]), a.label, a.visible) for a in g]
                for g in gt]
    moved = [d + np.array([dx, dy, 0, 0, 0]) for d in dets]
    for g, d, mg, md in zip(gt, dets, moved_gt, moved):
        for x, y in zip(match_frame(g, d, p), match_frame(mg, md, p)):
            np.testing.assert_array_equal(x, y)
    _same(evaluate(gt, dets, p), evaluate(moved_gt, moved, p))
