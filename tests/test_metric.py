"""Hand-computed cases for the Caltech 'reasonable' log-average miss rate.

Each expected number is worked out in the comments so that a reader can check it without running
code; each case is built so that one specific wrong reading of the protocol gives another number.
"""

import math

import numpy as np
import pytest

from accelsim.detect.metric import (
    REASONABLE,
    MissRateResult,
    Protocol,
    evaluate,
    is_positive,
    match_frame,
    resize_to_aspect,
)
from accelsim.detect.types import Annotation

A = Annotation


def dets(*rows):
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


# --- the two-frame scenario -------------------------------------------------------------------------
# Frame A ground truth (boxes x, y, w, h):
#   P1 person (100,100,41,100)                 positive (already w/h = 0.41)
#   P2 person (300,100,41,100)                 positive
#   S  person (400,300,20,45)                  ignore: 45 px < 50 px
#   O  person (500,100,41,100) visible 0.5     ignore: occluded (0.5 < 0.65)
#   G1 people (200,300,100,60)                 ignore region, NOT resized (stays 100 px wide)
FRAME_A_GT = [
    A((100, 100, 41, 100)),
    A((300, 100, 41, 100)),
    A((400, 300, 20, 45)),
    A((500, 100, 41, 100), visible=0.5),
    A((200, 300, 100, 60), "people"),
]
# Frame A detections (x, y, w, h, score), in this order:
#   d1 (100,100,41,100) .90  -> TP on P1 (IoU 1)
#   d2 (102,100,41,100) .80  -> duplicate of P1 (IoU 3900/4300 = .907) but P1 is taken; no other
#                               positive and no ignore region under it -> FP
#   d3 (205,305,41,50)  .70  -> resized to w=20.5 at x=215.25: x 215.25..235.75, y 305..355 lies inside
#                               G1 (x 200..300, y 300..360): intersection/det area = 1 -> ignored.
#                               Had G1 been resized too (w 24.6 at x 237.7) it would miss it -> FP.
#   d4 (600,400,12,30)  .95  -> 30 px < 40 px -> dropped (an FP at the top score otherwise)
#   d5 (500,100,41,100) .60  -> on the occluded person O -> ignored
#   d6 (270,100,101,100) .50 -> unresized IoU with P2 = 4100/10100 = .406 (FP); resized to
#                               (300,100,41,100) it is exactly P2 -> TP
#   d7 (210,300,41,60)  .20  -> resized x 218.2..242.8, inside G1 -> ignored (G1 absorbs a second one)
FRAME_A_DETS = dets(
    (100, 100, 41, 100, 0.90),
    (102, 100, 41, 100, 0.80),
    (205, 305, 41, 50, 0.70),
    (600, 400, 12, 30, 0.95),
    (500, 100, 41, 100, 0.60),
    (270, 100, 101, 100, 0.50),
    (210, 300, 41, 60, 0.20),
)
# Frame B ground truth:
#   P3 person (50,50,41,100)                   positive, lying inside the people region G2
#   E  person (1,100,41,100)                   ignore: x = 1 < 5, outside the bounds
#   G2 people (40,40,100,120)                  ignore region
#   P4 person (200,200,41,100)                 positive, never detected
FRAME_B_GT = [
    A((50, 50, 41, 100)),
    A((1, 100, 41, 100)),
    A((40, 40, 100, 120), "people"),
    A((200, 200, 41, 100)),
]
# Frame B detections:
#   d8  (1,100,41,100)  .85  -> on E -> ignored
#   d9  (50,50,41,100)  .40  -> TP on P3: positives are tried before G2, which also covers it fully
#   d10 (400,200,41,100) .75 -> nothing there -> FP
#   d11 (52,50,41,100)  .35  -> duplicate of P3 (taken) but inside G2 -> ignored, not FP
FRAME_B_DETS = dets(
    (1, 100, 41, 100, 0.85),
    (50, 50, 41, 100, 0.40),
    (400, 200, 41, 100, 0.75),
    (52, 50, 41, 100, 0.35),
)


def test_scenario_frame_flags():
    gt_a, det_a = match_frame(FRAME_A_GT, FRAME_A_DETS)
    assert gt_a.tolist() == [1, 1, -1, -1, -1]
    assert det_a.tolist() == [1, 0, -1, -1, -1, 1, -1]
    gt_b, det_b = match_frame(FRAME_B_GT, FRAME_B_DETS)
    assert gt_b.tolist() == [1, -1, -1, 0]
    assert det_b.tolist() == [-1, 1, 0, -1]


def test_scenario_curve_and_lamr():
    # Counted detections pooled by score: d1 .90 TP, d2 .80 FP, d10 .75 FP, d6 .50 TP, d9 .40 TP.
    # 4 positives (P1..P4), 2 frames:
    #   .90: TP 1 FP 0 -> fppi 0.0, miss 3/4
    #   .80: TP 1 FP 1 -> fppi 0.5, miss 3/4
    #   .75: TP 1 FP 2 -> fppi 1.0, miss 3/4
    #   .50: TP 2 FP 2 -> fppi 1.0, miss 2/4
    #   .40: TP 3 FP 2 -> fppi 1.0, miss 1/4
    # Reference points .01 .. .316 (7) -> last point with fppi <= r is .90 -> 3/4;
    # .562 -> .80 row -> 3/4; 1.0 -> .40 row -> 1/4.
    # LAMR = exp((8 ln .75 + ln .25) / 9) = .75^(8/9) * .25^(1/9) = 0.66382
    res = evaluate([FRAME_A_GT, FRAME_B_GT], [FRAME_A_DETS, FRAME_B_DETS])
    assert isinstance(res, MissRateResult)
    assert (res.frames, res.positives, res.protocol) == (2, 4, "reasonable")
    assert list(res.curve.columns) == ["score_threshold", "fppi", "miss_rate"]
    assert res.curve["score_threshold"].tolist() == [0.90, 0.80, 0.75, 0.50, 0.40]
    assert res.curve["fppi"].tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert res.curve["miss_rate"].tolist() == [0.75, 0.75, 0.75, 0.50, 0.25]
    assert res.lamr == pytest.approx(0.75 ** (8 / 9) * 0.25 ** (1 / 9), rel=1e-12)
    assert res.lamr == pytest.approx(0.663816, abs=1e-6)
    assert res.miss_rate_at(0.01) == 0.75
    assert res.miss_rate_at(0.49) == 0.75
    assert res.miss_rate_at(1.0) == 0.25
    assert res.miss_rate_at(100.0) == 0.25


def test_scenario_frames_swapped_same_result():
    a = evaluate([FRAME_A_GT, FRAME_B_GT], [FRAME_A_DETS, FRAME_B_DETS])
    b = evaluate([FRAME_B_GT, FRAME_A_GT], [FRAME_B_DETS, FRAME_A_DETS])
    assert a.lamr == b.lamr
    assert a.curve.equals(b.curve)


# --- filtering of ground truth -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ann", "positive"),
    [
        (A((5, 5, 41, 100)), True),  # touching the top-left bound counts as inside
        (A((4.9, 5, 41, 100)), False),
        (A((594, 100, 41, 100)), True),  # x + w = 635 exactly
        (A((594.5, 100, 41, 100)), False),
        (A((100, 375, 41, 100)), True),  # y + h = 475 exactly
        (A((100, 375.5, 41, 100)), False),
        (A((100, 100, 20, 50)), True),  # height exactly 50
        (A((100, 100, 20, 49.99)), False),
        (A((100, 100, 41, 100), visible=0.65), True),
        (A((100, 100, 41, 100), visible=0.64), False),
        (A((100, 100, 41, 100), "person?"), False),
        (A((100, 100, 41, 100), "people"), False),
        (A((100, 100, 41, 100), "ignore"), False),
        # out of bounds as annotated (x = 3) but inside once standardised (x = 3 + (45 - 41)/2 = 5):
        # filterGtFun tests the annotated box, so this is an ignore region
        (A((3, 100, 45, 100)), False),
    ],
)
def test_ground_truth_filter(ann, positive):
    assert is_positive(ann) is positive
    gt_flags, _ = match_frame([ann], dets())
    assert gt_flags.tolist() == [0 if positive else -1]


def test_no_bounds_protocol_keeps_edge_boxes():
    assert is_positive(A((1, 100, 41, 100)), Protocol(bounds=None))


# --- aspect standardisation --------------------------------------------------------------------------
def test_resize_to_aspect_numbers():
    # w = .41 * 100 = 41; centre x = 10 + 30/2 = 25 stays, so x = 25 - 20.5 = 4.5; y, h unchanged.
    out = resize_to_aspect(np.array([[10.0, 20.0, 30.0, 100.0, 0.7]]), 0.41)
    np.testing.assert_allclose(out, [[4.5, 20.0, 41.0, 100.0, 0.7]], rtol=0, atol=1e-12)
    # a wide box shrinks about its centre: w 80 -> 20.5, x 0 -> 40 - 10.25 = 29.75
    out = resize_to_aspect(np.array([[0.0, 0.0, 80.0, 50.0]]), 0.41)
    np.testing.assert_allclose(out, [[29.75, 0.0, 20.5, 50.0]], rtol=0, atol=1e-12)
    assert resize_to_aspect(np.array([[0.0, 0.0, 80.0, 50.0]]), None).tolist() == [[0, 0, 80, 50]]


def test_aspect_none_keeps_detection_shape():
    # d6 of the scenario is a TP only because of the resize; without it IoU is .406 -> FP
    gt = [A((300, 100, 41, 100))]
    d = dets((270, 100, 101, 100, 0.5))
    assert match_frame(gt, d)[1].tolist() == [1]
    assert match_frame(gt, d, Protocol(aspect=None))[1].tolist() == [0]


# --- matching details --------------------------------------------------------------------------------
def test_detection_height_filter_at_40px():
    gt = [A((100, 100, 41, 100))]
    d = dets((400, 100, 16.4, 40, 0.9), (400, 200, 16.4, 39.9, 0.8))
    # 40 px is kept (>= 50/1.25) and is an FP; 39.9 px is dropped
    assert match_frame(gt, d)[1].tolist() == [0, -1]
    assert match_frame(gt, d, Protocol(det_min_height=39.0))[1].tolist() == [0, 0]


def test_iou_threshold_inclusive():
    # IoU >= 0.5 matches (evalRes skips only oa < thr). Without resizing, gt (0,0,10,100) and det
    # (0,0,10,50) give 500 / 1000 = 0.5 exactly -> TP; det (0,0,10,49) gives .49 -> FP.
    p = Protocol(aspect=None, bounds=None, det_min_height=0)
    assert match_frame([A((0, 0, 10, 100))], dets((0, 0, 10, 50, 1)), p)[1].tolist() == [1]
    assert match_frame([A((0, 0, 10, 100))], dets((0, 0, 10, 49, 1)), p)[1].tolist() == [0]


def test_tie_goes_to_later_positive():
    # Pa (100,100,41,100), Pb (110,100,41,100). d1 at x=105 overlaps both with IoU 3600/4600 = .783;
    # evalRes keeps the later one on a tie (oa >= best), so d1 takes Pb. d2 at x=95: IoU with Pa
    # 3600/4600 = .783, with Pb 2600/5600 = .464 -> takes Pa. Taking the first on ties would leave
    # d2 only Pb (.464) -> FP.
    gt = [A((100, 100, 41, 100)), A((110, 100, 41, 100))]
    gt_flags, det_flags = match_frame(gt, dets((105, 100, 41, 100, 0.9), (95, 100, 41, 100, 0.8)))
    assert gt_flags.tolist() == [1, 1]
    assert det_flags.tolist() == [1, 1]


def test_best_iou_positive_wins():
    # d overlaps Pa with IoU 3100/5100 = .608 and Pb with IoU 1 -> Pb; a second d on Pa is then a TP
    gt = [A((100, 100, 41, 100)), A((110, 100, 41, 100))]
    gt_flags, det_flags = match_frame(gt, dets((110, 100, 41, 100, 0.9), (100, 100, 41, 100, 0.1)))
    assert det_flags.tolist() == [1, 1]
    assert gt_flags.tolist() == [1, 1]


def test_equal_scores_keep_given_order_within_frame():
    # Same score: the first given is matched first (MATLAB's sort is stable), so d1 takes P and d2
    # (IoU .907) is the duplicate.
    gt = [A((100, 100, 41, 100))]
    _, det_flags = match_frame(gt, dets((102, 100, 41, 100, 0.5), (100, 100, 41, 100, 0.5)))
    assert det_flags.tolist() == [1, 0]


def test_ignore_overlap_is_over_detection_area():
    # det (200,100,41,100); an ignore region starting at x = 220.5 covers 20.5 * 100 = 2050 px, half
    # the detection's 4100 -> ignored, although its IoU with the 300x300 region is only .02.
    gt = [A((220.5, 0, 300, 300), "ignore")]
    assert match_frame(gt, dets((200, 100, 41, 100, 1)))[1].tolist() == [-1]
    gt = [A((221, 0, 300, 300), "ignore")]  # 20/41 < .5 -> FP
    assert match_frame(gt, dets((200, 100, 41, 100, 1)))[1].tolist() == [0]


# --- whole-detector cases ----------------------------------------------------------------------------
def _one_person_frames(n):
    return [[A((100, 100, 41, 100))] for _ in range(n)]


def test_perfect_detector():
    # every positive found, no FP: miss rate 0 at every reference point, floored at 1e-10 -> 1e-10
    gt = _one_person_frames(3)
    d = [dets((100, 100, 41, 100, s)) for s in (0.9, 0.8, 0.7)]
    res = evaluate(gt, d)
    assert res.lamr < 1e-6
    assert res.lamr == pytest.approx(1e-10, rel=1e-9)
    assert res.miss_rate_at(0.01) == 0.0


def test_no_detections_is_one():
    res = evaluate(_one_person_frames(2), [dets(), dets()])
    assert res.lamr == 1.0
    assert len(res.curve) == 0
    assert res.miss_rate_at(1.0) == 1.0


def test_only_dropped_or_ignored_detections_is_one():
    gt = [[A((100, 100, 41, 100)), A((300, 100, 41, 100), "people")]]
    res = evaluate(gt, [dets((300, 100, 41, 100, 0.9), (10, 10, 10, 20, 0.8))])
    assert res.lamr == 1.0


@pytest.mark.parametrize(
    ("fp_total", "expected"),
    [
        # 4 frames, each with one person; persons in frames 0 and 1 found (final miss rate 1/2) at
        # scores below every FP. While FPs come in, miss rate stays 1.
        # 1 FP in all (k = .25/frame): fppi .25 before any TP; points .316 .562 1 reach the TPs
        # (fppi .25 <= r) -> miss 1/2; the 6 points below .25 have no point -> 1.
        (1, 0.5 ** (3 / 9)),
        # k = 1 per frame: fppi reaches 1 before the TPs; only r = 1 sees miss 1/2.
        (4, 0.5 ** (1 / 9)),
        # k = 2 per frame: the TPs sit at fppi 2 > 1, so every point reads miss 1.
        (8, 1.0),
    ],
)
def test_false_positives_above_all_true_ones(fp_total, expected):
    gt = _one_person_frames(4)
    frame_dets = [[] for _ in range(4)]
    for i in range(fp_total):
        frame_dets[i % 4].append((400, 100 + 5 * i, 41, 100, 0.9 - 0.01 * i))
    frame_dets[0].append((100, 100, 41, 100, 0.5))
    frame_dets[1].append((100, 100, 41, 100, 0.4))
    res = evaluate(gt, [dets(*rows) for rows in frame_dets])
    assert res.lamr == pytest.approx(expected, rel=1e-12)


def test_fppi_exactly_on_reference_point_counts():
    # 100 frames, 1 FP at the top score: fppi = 1/100 = 0.01, "not above" the first point.
    # Then 1 TP of 100 positives -> miss .99 at fppi .01, read by all 9 points -> LAMR .99.
    # If .01 counted as above 10^-2, the first point would read 1.0 -> .99^(8/9).
    gt = _one_person_frames(100)
    d = [dets() for _ in range(100)]
    d[0] = dets((400, 100, 41, 100, 0.9), (100, 100, 41, 100, 0.5))
    res = evaluate(gt, d)
    assert res.miss_rate_at(0.01) == pytest.approx(0.99)
    assert res.lamr == pytest.approx(0.99, rel=1e-12)


def test_equal_scores_are_stepped_one_by_one_in_frame_order():
    # compRoc makes one point per detection: a TP and an FP with the same score are two points, in
    # frame order. Frame 0's TP comes first -> (fppi 0, miss 0); frame 1's FP -> (.5, 0).
    gt = [[A((100, 100, 41, 100))], []]
    res = evaluate(gt, [dets((100, 100, 41, 100, 0.5)), dets((400, 100, 41, 100, 0.5))])
    assert res.curve.values.tolist() == [[0.5, 0.0, 0.0], [0.5, 0.5, 0.0]]
    # every reference point reads miss 0 -> 1e-10 (the floor)
    assert res.lamr == pytest.approx(1e-10, rel=1e-9)


def test_tied_scores_hand_computed_as_comproc():
    # 4 frames, 3 positives (frames 0, 1 and 3); every detection scores 0.5.
    #   frame 0: TP            frame 1: FP then TP (as given)     frame 2: FP     frame 3: nothing found
    # compRoc's points, one per detection in frame order (fppi = FP/4, recall = TP/3):
    #   TP (0, 1/3)   FP (.25, 1/3)   TP (.25, 2/3)   FP (.5, 2/3)
    # References .01 .. .178 (6 of them) read the first point: miss 2/3.
    # .316 reads (.25, 2/3) and .562, 1 read (.5, 2/3): miss 1/3.
    # LAMR = (2/3)^(6/9) * (1/3)^(3/9) = 0.529134...
    # One point per distinct score would give a single point (.5, 2/3): (1/3)^(2/9) = 0.7832.
    gt = [[A((100, 100, 41, 100))], [A((100, 100, 41, 100))], [], [A((300, 100, 41, 100))]]
    d = [dets((100, 100, 41, 100, 0.5)),
         dets((400, 100, 41, 100, 0.5), (100, 100, 41, 100, 0.5)),
         dets((400, 100, 41, 100, 0.5)),
         dets()]
    res = evaluate(gt, d)
    expected = (2 / 3) ** (6 / 9) * (1 / 3) ** (3 / 9)
    assert expected == pytest.approx(0.529134, abs=1e-6)
    assert res.lamr == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(res.curve[["fppi", "miss_rate"]].to_numpy(),
                               [[0, 2 / 3], [0.25, 2 / 3], [0.25, 1 / 3], [0.5, 1 / 3]], rtol=1e-15)


# --- errors ------------------------------------------------------------------------------------------
def test_zero_positives_raises():
    with pytest.raises(ValueError, match="no positive ground truth"):
        evaluate([[A((100, 100, 41, 100), "people")], []], [dets(), dets()])


def test_frame_count_mismatch_raises():
    with pytest.raises(ValueError, match="2 frames but detections have 1"):
        evaluate(_one_person_frames(2), [dets()])


def test_non_finite_detection_raises_with_frame():
    with pytest.raises(ValueError, match="frame 1: detections row 0 is not finite"):
        evaluate(_one_person_frames(2), [dets(), dets((1, 2, 3, float("nan"), 0.5))])


def test_bad_detection_shape_raises():
    with pytest.raises(ValueError, match="shape"):
        match_frame([], np.zeros((2, 4)))


def test_reasonable_defaults():
    assert REASONABLE.detection_min_height == 40.0
    assert len(REASONABLE.fppi_points) == 9
    assert REASONABLE.fppi_points[0] == 0.01 and REASONABLE.fppi_points[-1] == 1.0
    np.testing.assert_allclose(REASONABLE.fppi_points, 10.0 ** np.arange(-2, 0.01, 0.25), rtol=1e-15)
    assert math.isclose(REASONABLE.fppi_points[4], 0.1)
