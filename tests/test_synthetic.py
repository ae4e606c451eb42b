"""The procedural pedestrian scenes: determinism, split disjointness, geometry of the boxes, exact
visibility, and the statistics the generator promises (labels, heights, perspective)."""

from __future__ import annotations

import copy
import hashlib
import math
import pickle
from collections import Counter
from functools import cache

import numpy as np
import pytest

from accelsim.detect.datasets.synthetic import (SyntheticScenes, background, render_scene, rendering,
                                                scene_annotations)
from accelsim.detect.datasets.synthetic.annotations import annotate
from accelsim.detect.datasets.synthetic.dataset import scene_streams
from accelsim.detect.datasets.synthetic.figures import person_prims, sample_pose
from accelsim.detect.datasets.synthetic.layout import sample_layout
from accelsim.detect.datasets.synthetic.raster import rasterise
from accelsim.detect.datasets.synthetic.rendering import paint, render
from accelsim.detect.types import LABELS
from accelsim.errors import DatasetError


def digest(img: np.ndarray) -> str:
    return hashlib.sha256(img.tobytes()).hexdigest()


@cache
def test_objects(n: int = 500) -> list:
    scenes = SyntheticScenes(seed=0, split="test", frames=n)
    return [scenes[i].objects for i in range(n)]


test_objects.__test__ = False  # a helper, not a test


def layout(seed: int, split: str, i: int):
    ss = SyntheticScenes(seed=seed, split=split).seed_sequence(i)
    return sample_layout(scene_streams(ss)[0])


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_split_index_gives_identical_frames():
    a, b = SyntheticScenes(seed=3, split="train")[7], SyntheticScenes(seed=3, split="train")[7]
    assert a.frame_id == b.frame_id == "train/000007"
    assert a.objects == b.objects
    ia = a.image()
    assert np.array_equal(ia, b.image())
    assert np.array_equal(ia, a.image()), "loading the same frame twice must give the same pixels"


def test_other_index_or_seed_gives_other_frames():
    scenes = SyntheticScenes(seed=3, split="train")
    base = scenes[7]
    for other in (scenes[8], SyntheticScenes(seed=4, split="train")[7]):
        assert digest(other.image()) != digest(base.image())
        assert other.objects != base.objects or not base.objects


def test_frame_does_not_depend_on_other_frames_or_order():
    alone = SyntheticScenes(seed=1, split="test")[5]
    scenes = SyntheticScenes(seed=1, split="test")
    for i in range(5):
        scenes[i].image()
    after = scenes[5]
    assert after.objects == alone.objects
    assert np.array_equal(after.image(), alone.image())
    # and in reverse order, pixels before annotations of other frames
    rev = SyntheticScenes(seed=1, split="test")
    img5 = rev[5].image()
    for i in (4, 3):
        rev[i].objects
    assert np.array_equal(img5, alone.image())


def test_frames_pickle():
    frame = SyntheticScenes(seed=0, split="test")[2]
    again = pickle.loads(pickle.dumps(frame))
    assert again.objects == frame.objects
    assert np.array_equal(again.image(), frame.image())


def test_render_scene_matches_the_dataset_frame():
    scenes = SyntheticScenes(seed=2, split="val")
    img, objects = render_scene(scenes.seed_sequence(4))
    frame = scenes[4]
    assert objects == frame.objects
    assert np.array_equal(img, frame.image())
    assert scene_annotations(scenes.seed_sequence(4)) == frame.objects
    # the same SeedSequence object used twice gives the same scene (no spawn counter involved)
    ss = scenes.seed_sequence(4)
    assert np.array_equal(render_scene(ss)[0], render_scene(ss)[0])


def test_splits_are_disjoint():
    n = 6
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        scenes = SyntheticScenes(seed=0, split=split, frames=n)
        for i in range(n):
            h = digest(scenes[i].image())
            assert h not in seen, f"{split}/{i} equals {seen.get(h)}"
            seen[h] = f"{split}/{i}"


def test_annotations_need_no_pixels(monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("pixels rendered")

    monkeypatch.setattr(rendering, "background", boom)
    monkeypatch.setattr(rendering, "finish_frame", boom)
    frame = SyntheticScenes(seed=0, split="test")[3]
    assert isinstance(frame.objects, tuple)
    with pytest.raises(AssertionError, match="pixels rendered"):
        frame.image()


# --- the dataset protocol --------------------------------------------------------------------------


def test_dataset_protocol():
    scenes = SyntheticScenes(seed=5, split="val", frames=12)
    assert scenes.name == "synthetic(seed=5, split=val)"
    assert len(scenes) == 12
    assert scenes[-1].frame_id == "val/000011"
    with pytest.raises(IndexError):
        scenes[12]
    assert len(list(scenes)) == 12  # iteration stops at the end
    frame = scenes[0]
    assert (frame.width, frame.height) == (640, 480)
    img = frame.image()
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8
    assert img.std() > 10, "a scene, not a flat image"
    with pytest.raises(DatasetError, match="split"):
        SyntheticScenes(split="training")
    with pytest.raises(DatasetError, match="seed"):
        SyntheticScenes(seed=-1)


# --- boxes, labels, visibility ---------------------------------------------------------------------


def test_boxes_are_within_sensible_bounds():
    for objects in test_objects()[:200]:
        assert len(objects) <= 6
        for o in objects:
            x, y, w, h = o.box
            assert o.label in LABELS and o.label != "ignore"
            assert 0.0 < o.visible <= 1.0, "a figure of which nothing is seen is not annotated"
            assert 0 <= x + w / 2 <= 640, "box centre inside the frame"
            assert y >= 0 and y + h <= 480
            assert 30 <= h <= 200
            if o.label != "people":
                assert abs(w / h - 0.41) < 0.005
            else:
                assert w / h >= 0.41


def test_some_people_are_occluded_and_most_are_not():
    vis = np.array([o.visible for objects in test_objects()[:200] for o in objects])
    assert (vis < 0.65).mean() > 0.05, "heavily occluded people must occur"
    assert ((vis >= 0.65) & (vis < 1.0)).mean() > 0.05, "partly occluded people must occur"
    assert (vis == 1.0).mean() > 0.4


def test_label_distribution():
    labels = Counter(o.label for objects in test_objects()[:200] for o in objects)
    total = sum(labels.values())
    assert labels["person"] / total > 0.7
    assert 0.02 < labels["person?"] / total < 0.2
    assert 0.02 < labels["people"] / total < 0.2


def test_pedestrians_per_frame():
    counts = np.array([len(objects) for objects in test_objects()])
    assert counts.max() <= 6
    assert 0.1 < (counts == 0).mean() < 0.35, "some frames are empty"
    assert (counts >= 4).mean() > 0.1
    assert 1.4 < counts.mean() < 2.6


def _truncated_lognormal_cdf(h: float, median=62.0, sigma=0.42, lo=30.0, hi=200.0) -> float:
    """The documented height law: log-normal, median 62 px, log-sigma 0.42, truncated to [30, 200]."""
    def cdf(x):
        return 0.5 * (1 + math.erf(math.log(x / median) / (sigma * math.sqrt(2))))

    return (cdf(min(max(h, lo), hi)) - cdf(lo)) / (cdf(hi) - cdf(lo))


def test_height_histogram_matches_the_intended_law():
    h = np.array([o.box[3] for objects in test_objects() for o in objects if o.label != "people"])
    assert len(h) > 600
    assert 40 <= np.percentile(h, 25) and np.percentile(h, 75) <= 120, "most between 40 and 120 px"
    assert ((h >= 40) & (h <= 120)).mean() > 0.78
    assert 55 < np.median(h) < 75
    edges = [30, 40, 50, 60, 75, 90, 120, 200]
    got = np.histogram(h, bins=edges)[0] / len(h)
    want = np.diff([_truncated_lognormal_cdf(e) for e in edges])
    assert np.abs(got - want).max() < 0.05, (got.round(3), want.round(3))


def test_feet_rise_towards_the_horizon_as_people_shrink():
    people = [o for objects in test_objects() for o in objects if o.label == "person"]
    h = np.array([o.box[3] for o in people])
    feet = np.array([o.box[1] + o.box[3] for o in people])
    assert np.corrcoef(h, feet)[0, 1] > 0.6
    # the small ones stand higher in the image than the big ones
    assert np.median(feet[h < 45]) + 40 < np.median(feet[h > 100])


def _flat_paint(item, scene) -> np.ndarray:
    """``item`` painted on a flat background (planar float, no noise or blur): True where it differs."""
    img = np.full((3, 480, 640), -7.0, np.float32)
    x0, y0, pm = rasterise(item.prims, clip=False)
    paint(img, item, x0, y0, pm, scene)
    return (img != -7.0).any(axis=0)


def test_annotated_box_contains_the_figure_and_is_tight_in_height():
    checked = tight = 0
    for i in range(60):
        lay = layout(0, "test", i)
        for g in lay.groups:
            if g.label == "people":
                continue
            x, y, w, h = g.box
            changed = _flat_paint(lay.items[g.members[0]], lay.scene)
            ys, xs = np.nonzero(changed)
            if not len(xs):
                continue
            checked += 1
            assert xs.min() >= x - 2 and xs.max() + 1 <= x + w + 2, f"frame {i}: figure wider than its box"
            assert ys.min() >= y - 2 and ys.max() + 1 <= y + h + 2, f"frame {i}: figure taller than its box"
            if xs.min() > 0 and xs.max() < 639:  # inside the frame: head to feet spans the box height
                tight += 1
                assert abs(ys.min() - y) <= 2 and abs(ys.max() + 1 - (y + h)) <= 2
                assert xs.max() + 1 - xs.min() > 0.15 * h, "the figure fills its box in width"
    assert checked > 60 and tight > 50


def test_box_contains_figure_in_every_pose():
    """Wide poses (side view, full stride, bags, coats, children) stay in the 0.41 box."""
    rng = np.random.default_rng(11)
    for _ in range(300):
        pose = sample_pose(rng)
        pose.stride = float(rng.choice([0.0, 0.42]))
        h = float(rng.uniform(30, 200))
        prims = person_prims(pose, 320.0, 400.0, h)
        x0, y0, pm = rasterise(prims, clip=False)
        ys, xs = np.nonzero(pm)
        assert (xs + x0).min() >= 320 - 0.205 * h - 2 and (xs + x0).max() + 1 <= 320 + 0.205 * h + 2
        assert abs((ys + y0).min() - (400 - h)) <= 2 and abs((ys + y0).max() + 1 - 400) <= 2


def test_visible_fraction_is_what_the_renderer_leaves_of_the_figure(monkeypatch):
    """Render each annotated figure's scene with and without it (no shadows, noise or blur): the
    pixels it changes are its visible silhouette pixels."""
    monkeypatch.setattr(background, "shadow_map", lambda sc, lay: (480, np.ones((0, 640), np.float32)))
    checked = occluded = 0
    for i in range(40):
        lay = layout(0, "test", i)
        objects = annotate(lay, keep_hidden=True)
        full = render(lay, np.random.default_rng(0), finish=False)
        for g, o in zip(lay.groups, objects):
            if g.label == "people":
                continue
            k = g.members[0]
            without = copy.copy(lay)
            without.items = lay.items[:k] + lay.items[k + 1:]
            without.groups = []
            other = render(without, np.random.default_rng(0), finish=False)
            changed = int((full != other).any(axis=2).sum())
            x0, y0, pm = rasterise(lay.items[k].prims, clip=False)
            area = int((pm > 0).sum())
            assert abs(changed / area - o.visible) <= 0.03 + 2 / area, (i, o)
            checked += 1
            occluded += o.visible < 0.9
    assert checked > 40 and occluded >= 5


def test_frame_edge_counts_as_occlusion():
    cut = [o for objects in test_objects()[:300] for o in objects
           if (o.box[0] < 0 or o.box[0] + o.box[2] > 640) and o.label == "person"]
    assert cut, "some people are cut by the frame edge"
    for o in cut:
        x, _, w, _ = o.box
        outside = (max(0.0, -x) + max(0.0, x + w - 640)) / w
        if outside > 0.25:
            assert o.visible < 1.0


# --- distractors ------------------------------------------------------------------------------------


def test_pedestrian_like_distractors_at_pedestrian_scales():
    kinds: Counter = Counter()
    heights = []
    for i in range(60):
        lay = layout(0, "train", i)
        annotated = {m for g in lay.groups for m in g.members}
        for k, it in enumerate(lay.items):
            if k in annotated or it.kind in ("car", "person"):
                continue
            kinds[it.kind] += 1
            if it.kind in ("mannequin", "blob", "bollard", "hydrant", "sign", "aframe", "bin"):
                heights.append(lay.scene.cam.f * it.height_m / it.depth)
    for kind in ("mannequin", "blob", "pole", "sign", "tree", "bollard", "hydrant", "aframe"):
        assert kinds[kind] > 0, kind
    heights = np.array(heights)
    assert ((heights > 30) & (heights < 200)).mean() > 0.5
