"""Per-frame evidence: the table round-trips, its statuses are the matching's, and every subset
statistic recomputed from it equals a direct evaluation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.detect.evidence import Evidence
from accelsim.detect.intervals import IntervalSpec
from accelsim.detect.metric import SUBSETS, evaluate, is_positive
from accelsim.detect.types import Annotation as A
from accelsim.pipeline.subsets import subset_rows


def _evidence() -> Evidence:
    gt = (
        (A((100, 100, 41, 100)), A((300, 100, 20, 45)), A((500, 100, 41, 100), visible=0.5),
         A((200, 300, 100, 60), "people")),
        (A((100, 100, 25, 60)), A((300, 100, 41, 100), visible=0.8)),
        (),
    )
    dets = (
        np.array([[100, 100, 41, 100, 0.9], [210, 310, 30, 50, 0.8], [400, 50, 41, 100, 0.3]], float),
        np.array([[100, 100, 25, 60, 0.7], [300, 100, 41, 100, 0.6]], float),
        np.array([[50, 50, 41, 100, 0.5]], float),
    )
    cond = ({"lighting": "dim"}, {"lighting": "sun"}, {"lighting": "dim"})
    return Evidence(("a/0", "a/1", "a/2"), gt, dets, cond)


def test_table_holds_every_frame_box_and_match():
    t = _evidence().table()
    assert (t["kind"] == "frame").sum() == 3  # frame 2 has no ground truth and still counts
    g0 = t[(t["frame"] == 0) & (t["kind"] == "ground_truth")].set_index("index")
    assert g0["status"].tolist() == ["matched", "ignore", "ignore", "ignore"]  # short, occluded, people
    assert g0.loc[0, "match"] == 0
    d0 = t[(t["frame"] == 0) & (t["kind"] == "detection")].set_index("index")
    # the TP matched ground truth 0; the box on the 'people' region is not counted; the last is an FP
    assert d0["status"].tolist() == ["tp", "ignored", "fp"]
    assert d0["match"].tolist() == [0, -1, -1]
    assert set(t["condition_lighting"]) == {"dim", "sun"}
    assert t.loc[(t["frame"] == 1) & (t["kind"] == "ground_truth"), "occluded"].tolist() == [False, True]


def test_table_round_trips():
    e = _evidence()
    back = Evidence.from_table(e.table())
    assert back.frame_ids == e.frame_ids
    # occluded=None (derived from visible) comes back as the flag it resolved to
    assert [[(a.box, a.label, a.visible, a.visibility_ratio) for a in g] for g in back.ground_truth] == \
        [[(a.box, a.label, a.visible, a.visibility_ratio) for a in g] for g in e.ground_truth]
    for d, f in zip(back.detections, e.detections, strict=True):
        np.testing.assert_array_equal(d, f)
    assert back.conditions == e.conditions
    assert back.matched().lamr() == e.matched().lamr()


def test_every_subset_equals_a_direct_evaluation():
    e = _evidence()
    rows = {r.subset: r for r in subset_rows(e, IntervalSpec(resamples=200))}
    for name in ("reasonable", "all", "scale=near", "scale=medium", "occ=none", "occ=partial", "occ=heavy"):
        protocol = SUBSETS[name]
        positives = sum(is_positive(a, protocol) for g in e.ground_truth for a in g)
        assert rows[name].positives == positives, name
        if positives:
            direct = evaluate(e.ground_truth, e.detections, protocol)
            assert rows[name].miss_rate_lamr == pytest.approx(direct.lamr, rel=1e-12), name
            assert rows[name].miss_rate_lamr_ci_low <= rows[name].miss_rate_lamr <= rows[name].miss_rate_lamr_ci_high
        else:
            assert rows[name].miss_rate_lamr is None
    # a condition is the reasonable protocol on that condition's frames
    dim = rows["lighting=dim"]
    assert dim.frames == 2 and dim.subset_kind == "condition"
    direct = evaluate([e.ground_truth[0], e.ground_truth[2]], [e.detections[0], e.detections[2]])
    assert dim.miss_rate_lamr == pytest.approx(direct.lamr, rel=1e-12)


@pytest.mark.parametrize("name, box, visible, occluded, positive", [
    ("scale=far", (100, 100, 10, 25), 1.0, None, True),     # 20 <= 25 < 30
    ("scale=far", (100, 100, 12, 30), 1.0, None, False),    # 30 is medium
    ("scale=medium", (100, 100, 12, 30), 1.0, None, True),
    ("scale=medium", (100, 100, 33, 80), 1.0, None, False),  # 80 is near
    ("scale=near", (100, 100, 33, 80), 1.0, None, True),
    ("scale=near", (100, 100, 33, 80), 0.9, None, False),    # near means unoccluded: vr [inf, inf]
    ("occ=none", (100, 100, 41, 100), 1.0, True, False),     # marked occluded although all of it shows
    ("occ=partial", (100, 100, 41, 100), 1.0, True, True),   # vf 1 is inside [.65, 1]
    ("occ=partial", (100, 100, 41, 100), 0.65, None, True),
    ("occ=partial", (100, 100, 41, 100), 0.64, None, False),
    ("occ=heavy", (100, 100, 41, 100), 0.64, None, True),
    ("occ=heavy", (100, 100, 41, 100), 0.19, None, False),
    ("reasonable", (100, 100, 41, 100), 1.0, None, True),     # unoccluded: vf = inf >= .65
    ("ar=typical", (100, 100, 41, 100), 1.0, None, True),     # |.41 - .41| < .1
    ("ar=typical", (100, 100, 60, 100), 1.0, None, False),    # |.6 - .41| >= .1
    ("ar=atypical", (100, 100, 60, 100), 1.0, None, True),
])
def test_subset_filters_follow_dbeval(name, box, visible, occluded, positive):
    assert is_positive(A(box, visible=visible, occluded=occluded), SUBSETS[name]) is positive


def test_detections_outside_the_subset_height_range_are_not_counted():
    # scale=far evaluates detections with 20/1.25 <= h < 30*1.25 = 37.5; a 40 px one is dropped
    p = SUBSETS["scale=far"]
    assert (p.detection_min_height, p.detection_max_height) == (16.0, 37.5)
    gt = [[A((100, 100, 10, 25))]]
    far = evaluate(gt, [np.array([[400, 100, 16, 40, 0.9], [100, 100, 10, 25, 0.5]])], p)
    assert far.curve["fppi"].tolist() == [0.0]  # only the TP counts
    assert math.isclose(far.lamr, 1e-10, rel_tol=1e-9)


def test_pictures_show_the_operating_point():
    from accelsim.pipeline.accuracy_files import at_operating_point

    # frame 1: the 25x60 person is found at 0.7, the occluded one (an ignore region) at 0.6
    t = _evidence().table()
    kept = at_operating_point(t, 0.75)
    det = kept[kept["kind"] == "detection"]
    assert (det["score"] >= 0.75).all() and len(det) == 2  # frame 0's 0.9 and 0.8
    gt1 = kept[(kept["frame"] == 1) & (kept["kind"] == "ground_truth")].set_index("index")
    # only a detection below the threshold matched it: at this operating point it is missed
    assert gt1.loc[0, "status"] == "missed" and gt1.loc[0, "match"] == -1
    gt0 = kept[(kept["frame"] == 0) & (kept["kind"] == "ground_truth")].set_index("index")
    assert gt0.loc[0, "status"] == "matched"  # its 0.9 detection stays
    assert (kept["kind"] == "frame").sum() == 3
