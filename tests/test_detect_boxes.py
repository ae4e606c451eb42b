"""Box geometry of the detector (accelsim.detect.boxes): IoU, greedy NMS, aspect standardisation.

Boxes are (x, y, w, h) in pixels with a top-left origin; every expected value below is worked by hand.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim.detect.boxes import iou_matrix, nms
from accelsim.detect.metric import resize_to_aspect


def _iou(a, b):
    return float(iou_matrix(np.array([a], float), np.array([b], float))[0, 0])


# -- iou_matrix -------------------------------------------------------------------------------------

def test_iou_partial_overlap():
    # 2x2 boxes offset by (1, 1): intersection 1x1 = 1, union 4 + 4 - 1 = 7
    assert _iou((0, 0, 2, 2), (1, 1, 2, 2)) == pytest.approx(1 / 7, abs=1e-15)


def test_iou_partial_overlap_in_one_axis():
    # 10x10 boxes offset by 1 px in x: intersection 9 * 10 = 90, union 200 - 90 = 110
    assert _iou((0, 0, 10, 10), (1, 0, 10, 10)) == pytest.approx(90 / 110, abs=1e-15)


def test_iou_disjoint_is_zero():
    assert _iou((0, 0, 2, 2), (5, 5, 2, 2)) == 0.0
    # overlapping in x only, apart in y: the negative height must not give a positive product with a
    # negative width
    assert _iou((0, 0, 2, 2), (1, 3, 2, 2)) == 0.0
    assert _iou((0, 0, 2, 2), (3, 3, 2, 2)) == 0.0  # both extents negative: (-1) * (-1) must not count


def test_iou_contained():
    # 2x2 inside 4x4: intersection 4, union 16
    assert _iou((0, 0, 4, 4), (1, 1, 2, 2)) == 0.25
    assert _iou((1, 1, 2, 2), (0, 0, 4, 4)) == 0.25


def test_iou_touching_edges_is_zero():
    assert _iou((0, 0, 2, 2), (2, 0, 2, 2)) == 0.0  # shared vertical edge
    assert _iou((0, 0, 2, 2), (0, 2, 2, 2)) == 0.0  # shared horizontal edge
    assert _iou((0, 0, 2, 2), (2, 2, 2, 2)) == 0.0  # shared corner


def test_iou_zero_area_boxes():
    assert _iou((1, 1, 0, 0), (0, 0, 2, 2)) == 0.0  # a point inside a box
    assert _iou((1, 0, 0, 2), (0, 0, 2, 2)) == 0.0  # a line inside a box
    assert _iou((1, 1, 0, 0), (1, 1, 0, 0)) == 0.0  # union 0: defined as 0, not NaN


def test_iou_identical_and_fractional():
    assert _iou((3.5, 2.25, 7.5, 4.0), (3.5, 2.25, 7.5, 4.0)) == 1.0
    # half-pixel offset: intersection 1.5 * 2 = 3, union 4 + 4 - 3 = 5
    assert _iou((0, 0, 2, 2), (0.5, 0, 2, 2)) == pytest.approx(0.6, abs=1e-15)


def test_iou_matrix_shape_order_and_extra_columns():
    a = np.array([[0, 0, 2, 2, 0.9], [0, 0, 4, 4, 0.1]])  # 5th column (a score) is ignored
    b = np.array([[1, 1, 2, 2], [0, 0, 2, 2], [10, 10, 1, 1]])
    got = iou_matrix(a, b)
    expected = np.array([[1 / 7, 1.0, 0.0], [4 / 16, 4 / 16, 0.0]])
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-15)


def test_iou_matrix_empty():
    assert iou_matrix(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)
    assert iou_matrix(np.array([[0, 0, 1, 1], [1, 1, 1, 1]]), np.zeros((0, 5))).shape == (2, 0)


_coord = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
_size = st.floats(0, 40, allow_nan=False, allow_infinity=False)
_box = st.tuples(_coord, _coord, _size, _size)
_pos_box = st.tuples(_coord, _coord, st.floats(0.5, 40), st.floats(0.5, 40))


@given(st.lists(_box, min_size=1, max_size=8), st.lists(_box, min_size=1, max_size=8))
def test_iou_symmetric_and_in_unit_interval(a, b):
    a, b = np.array(a), np.array(b)
    ab, ba = iou_matrix(a, b), iou_matrix(b, a)
    np.testing.assert_array_equal(ab, ba.T)
    assert np.all(np.isfinite(ab))
    assert np.all(ab >= 0.0) and np.all(ab <= 1.0 + 1e-12)


@given(st.lists(_pos_box, min_size=1, max_size=8))
def test_iou_is_one_on_identical_boxes(boxes):
    d = np.diag(iou_matrix(np.array(boxes), np.array(boxes)))
    np.testing.assert_allclose(d, 1.0, rtol=0, atol=1e-12)


@given(_pos_box, st.floats(-30, 30), st.floats(-30, 30))
def test_iou_translation_invariant(box, dx, dy):
    other = (box[0] + 1.5, box[1] - 0.75, box[2] * 0.8, box[3] * 1.3)
    a = np.array([box, other])
    shifted = a + np.array([dx, dy, 0, 0])
    np.testing.assert_allclose(iou_matrix(a, a), iou_matrix(shifted, shifted), rtol=0, atol=1e-9)


# -- nms --------------------------------------------------------------------------------------------

def test_nms_suppresses_overlapping_lower_score_and_sorts():
    dets = np.array([
        [0, 0, 10, 10, 0.9],    # A
        [1, 0, 10, 10, 0.8],    # B: IoU(A, B) = 90/110 > 0.5 -> suppressed by A
        [20, 20, 10, 10, 0.95],  # C: disjoint, best score -> first
        [40, 0, 10, 10, 0.1],   # D: disjoint -> kept, last
    ])
    got = nms(dets, 0.5)
    np.testing.assert_array_equal(got, dets[[2, 0, 3]])


def test_nms_overlap_is_strict():
    # IoU of (0,0,3,1) and (1,0,3,1) is exactly 2/4 = 0.5: not above 0.5 -> both kept
    dets = np.array([[0, 0, 3, 1, 0.9], [1, 0, 3, 1, 0.8]])
    assert len(nms(dets, 0.5)) == 2
    assert len(nms(dets, 0.49)) == 1


def test_nms_chain_uses_kept_boxes_only():
    # A suppresses B; B would suppress C, but B is gone, and IoU(A, C) is low -> C kept
    dets = np.array([
        [0, 0, 10, 10, 0.9],  # A
        [3, 0, 10, 10, 0.8],  # B: IoU(A, B) = 70/130 = 0.54
        [6, 0, 10, 10, 0.7],  # C: IoU(B, C) = 70/130 = 0.54, IoU(A, C) = 40/160 = 0.25
    ])
    np.testing.assert_array_equal(nms(dets, 0.5), dets[[0, 2]])


def test_nms_ties_keep_input_order():
    disjoint = np.array([[0, 0, 1, 1, 0.5], [5, 0, 1, 1, 0.5], [10, 0, 1, 1, 0.7], [15, 0, 1, 1, 0.5]])
    np.testing.assert_array_equal(nms(disjoint, 0.5), disjoint[[2, 0, 1, 3]])
    # of two identical-score, overlapping boxes the earlier row wins, whichever that is
    a, b = [0, 0, 10, 10, 0.5], [1, 0, 10, 10, 0.5]
    np.testing.assert_array_equal(nms(np.array([a, b]), 0.5), np.array([a]))
    np.testing.assert_array_equal(nms(np.array([b, a]), 0.5), np.array([b]))


def test_nms_limit():
    dets = np.array([[10 * i, 0, 5, 5, s] for i, s in enumerate([0.1, 0.9, 0.5, 0.7])], float)
    np.testing.assert_array_equal(nms(dets, 0.5, limit=2), dets[[1, 3]])
    np.testing.assert_array_equal(nms(dets, 0.5, limit=1), dets[[1]])
    np.testing.assert_array_equal(nms(dets, 0.5, limit=10), dets[[1, 3, 2, 0]])


def test_nms_limit_counts_kept_not_visited():
    # the 2nd best is suppressed; limit=2 must still give two boxes: the 1st and the 3rd best
    dets = np.array([[0, 0, 10, 10, 0.9], [1, 0, 10, 10, 0.8], [50, 0, 10, 10, 0.7], [80, 0, 10, 10, 0.6]])
    np.testing.assert_array_equal(nms(dets, 0.5, limit=2), dets[[0, 2]])


def test_nms_limit_zero_keeps_nothing():
    dets = np.array([[0, 0, 1, 1, 0.9], [5, 5, 1, 1, 0.5]])
    assert len(nms(dets, 0.5, limit=0)) == 0


def test_nms_empty_and_input_untouched():
    empty = np.zeros((0, 5))
    assert nms(empty, 0.5).shape == (0, 5)
    dets = np.array([[1, 0, 10, 10, 0.2], [0, 0, 10, 10, 0.9]])
    before = dets.copy()
    nms(dets, 0.5)
    np.testing.assert_array_equal(dets, before)


_det = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 20), st.integers(1, 20),
                 st.sampled_from([0.1, 0.2, 0.5, 0.5, 0.9]))


@given(st.lists(_det, min_size=1, max_size=25), st.sampled_from([0.0, 0.3, 0.5, 0.7]),
       st.one_of(st.none(), st.integers(1, 10)))
def test_nms_properties(rows, overlap, limit):
    dets = np.array(rows, dtype=np.float64)
    kept = nms(dets, overlap, limit)
    # a subset of the input rows, each row kept at most once
    assert all((dets == r).all(axis=1).any() for r in kept)
    assert len(kept) <= len(dets)
    if limit is not None:
        assert len(kept) <= limit
    # by descending score
    assert np.all(np.diff(kept[:, 4]) <= 0)
    # pairwise IoU of kept boxes at most `overlap`
    iou = iou_matrix(kept, kept)
    np.fill_diagonal(iou, 0.0)
    assert np.all(iou <= overlap)
    assert len(set(map(tuple, kept.tolist()))) == len(kept)
    # maximal (no limit): every dropped box overlaps a kept box that scores at least as high
    if limit is None:
        dropped = np.ones(len(dets), dtype=bool)
        for r in kept:
            dropped[(dets == r).all(axis=1)] = False
        for d in dets[dropped]:
            cover = iou_matrix(d[None], kept)[0] > overlap
            assert cover.any() and kept[cover, 4].max() >= d[4]


# -- aspect standardisation (one implementation, in the metric) ------------------------------------------------------------------------------------

def test_resize_to_aspect_hand_values():
    boxes = np.array([[10, 20, 30, 40], [0, 0, 10, 100]], float)
    got = resize_to_aspect(boxes, 0.5)
    # widths 0.5 * height = 20 and 50, centres x = 25 and 5 kept
    np.testing.assert_allclose(got, [[15, 20, 20, 40], [-20, 0, 50, 100]], rtol=0, atol=1e-12)


def test_resize_to_aspect_keeps_extra_columns_and_input():
    boxes = np.array([[0, 0, 20, 100, 0.75]])
    before = boxes.copy()
    got = resize_to_aspect(boxes, 0.41)
    np.testing.assert_allclose(got, [[-10.5, 0, 41, 100, 0.75]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(boxes, before)
