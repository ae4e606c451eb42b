"""Geometry of the proposal stage (accelsim.detect.proposals): the sliding window, the scale pyramid,
window -> box mapping, mirrored feature windows, and the model file round trip."""

import math

import numpy as np
import pytest
import torch

from accelsim.detect.features import CHANNELS, ORIENTATIONS, SHRINK, channel_features, resize
from accelsim.detect.proposals import (FORMAT_VERSION, Geometry, Level, ProposalModel, Rescorer, mirror, pyramid,
                                       window_boxes)
from accelsim.errors import ModelError

# -- Geometry ---------------------------------------------------------------------------------------


def test_default_cells_and_offset():
    g = Geometry()
    assert g.cells == (16, 8)  # 64 x 32 px window in 4 px cells: (rows, cols)
    ox, oy = g.offset
    # person 48 px tall, 0.41 * 48 = 19.68 px wide, centred in 32 x 64: ((32 - 19.68) / 2, (64 - 48) / 2)
    assert ox == pytest.approx(6.16, abs=1e-12)
    assert oy == 8.0


def test_custom_cells_and_offset():
    g = Geometry(person_height=80, window_w=40, window_h=96, aspect=0.5)
    assert g.cells == (24, 10)
    assert g.offset == pytest.approx((0.0, 8.0))


def test_default_scales():
    g = Geometry()
    s = g.scales()
    # first: 48 px window / 48 px smallest pedestrian = 1; ratio 2^(-1/4); n = floor(4 log2(240/48)) + 1 = 10
    assert len(s) == 10
    assert s[0] == 1.0
    np.testing.assert_allclose(np.array(s[1:]) / np.array(s[:-1]), 2 ** -0.25, rtol=1e-12)
    assert s[-1] == pytest.approx(2 ** (-9 / 4), rel=1e-12)
    # window heights in image px: 48 ... 228.3; the next step (271.5) would pass 240
    heights = [g.person_height / x for x in s]
    assert heights[0] == pytest.approx(48.0)
    assert heights[-1] <= g.max_height < heights[-1] * 2 ** 0.25


def test_scales_reach_max_height_exactly_on_an_octave():
    # person 48, smallest 40: first scale 1.2 (upsampling); 40 -> 160 px is 2 octaves = 8 steps + 1
    g = Geometry(min_height=40.0, max_height=160.0)
    s = g.scales()
    assert len(s) == 9
    assert s[0] == pytest.approx(1.2, rel=1e-12)
    assert s[-1] == pytest.approx(0.3, rel=1e-12)
    assert g.person_height / s[-1] == pytest.approx(160.0, rel=1e-12)


def test_scales_per_octave():
    g = Geometry(scales_per_octave=2, min_height=48.0, max_height=96.0)
    assert g.scales() == pytest.approx([1.0, 2 ** -0.5, 0.5])


def test_single_scale_when_range_is_one_size():
    assert Geometry(min_height=48.0, max_height=48.0).scales() == [1.0]


# -- window_boxes -----------------------------------------------------------------------------------

def _level(sy, sx, ch=40, cw=40):
    return Level(sy, sx, torch.zeros((CHANNELS, ch, cw)))


def test_window_box_at_origin_scale_1():
    g = Geometry()
    got = window_boxes(_level(1.0, 1.0), np.array([0]), np.array([0]), g)
    np.testing.assert_allclose(got, [[6.16, 8.0, 19.68, 48.0]], rtol=0, atol=1e-12)


def test_window_box_hand_computed():
    g = Geometry()
    # cell (r=2, c=3) of a level resized by sy = 0.5, sx = 0.4:
    # x = (3*4 + 6.16) / 0.4 = 45.4, y = (2*4 + 8) / 0.5 = 32, w = 19.68 / 0.4 = 49.2, h = 48 / 0.5 = 96
    got = window_boxes(_level(0.5, 0.4), np.array([2]), np.array([3]), g)
    np.testing.assert_allclose(got, [[45.4, 32.0, 49.2, 96.0]], rtol=0, atol=1e-9)


def test_window_boxes_vectorised_rows_cols():
    g = Geometry()
    rows, cols = np.array([0, 1, 5]), np.array([7, 0, 2])
    got = window_boxes(_level(2.0, 2.0), rows, cols, g)
    assert got.shape == (3, 4)
    # upsampled x2: each cell step is 2 px in the image, box 9.84 x 24
    np.testing.assert_allclose(got[:, 0], (cols * 4 + 6.16) / 2)
    np.testing.assert_allclose(got[:, 1], (rows * 4 + 8.0) / 2)
    np.testing.assert_allclose(got[:, 2], 9.84)
    np.testing.assert_allclose(got[:, 3], 24.0)


def test_window_boxes_match_the_pyramid_levels():
    # a 120 x 200 image: the level at the 3rd scale (2^-1/2) is resized to round(120 s) x round(200 s)
    g = Geometry()
    img = np.zeros((120, 200, 3), dtype=np.uint8)
    levels = pyramid(img, g)
    assert len(levels) == len(g.scales())
    s = g.scales()[2]
    lvl = levels[2]
    rh, rw = round(120 * s), round(200 * s)
    assert (lvl.sy, lvl.sx) == (rh / 120, rw / 200)
    assert tuple(lvl.features.shape) == (CHANNELS, rh // SHRINK, rw // SHRINK)
    # a window's box, mapped back into the resized image, is the person rectangle inside the window
    b = window_boxes(lvl, np.array([1]), np.array([2]), g)[0]
    np.testing.assert_allclose([b[0] * lvl.sx, b[1] * lvl.sy, b[2] * lvl.sx, b[3] * lvl.sy],
                               [8 + 6.16, 4 + 8, 19.68, 48], rtol=0, atol=1e-9)


def test_pyramid_never_smaller_than_a_window():
    g = Geometry()
    levels = pyramid(np.zeros((70, 40, 3), dtype=np.uint8), g)
    for lvl in levels:
        assert lvl.features.shape[1] >= g.cells[0] and lvl.features.shape[2] >= g.cells[1]


# -- mirror -----------------------------------------------------------------------------------------

def test_mirror_permutation_by_hand():
    g = Geometry(window_w=8, window_h=4)  # cells (1, 2)
    ch, cw = g.cells
    assert (ch, cw) == (1, 2) and ORIENTATIONS == 6
    win = np.arange(CHANNELS * ch * cw, dtype=np.float32).reshape(CHANNELS, ch, cw)
    m = mirror(win.reshape(1, -1), g).reshape(CHANNELS, ch, cw)
    # colour and magnitude: cells swapped left-right
    for c in range(4):
        np.testing.assert_array_equal(m[c, 0], win[c, 0, ::-1])
    # orientation bin k of the mirror comes from bin (6 - k) % 6: 0<-0, 1<-5, 2<-4, 3<-3, 4<-2, 5<-1
    for k, src in enumerate([0, 5, 4, 3, 2, 1]):
        np.testing.assert_array_equal(m[4 + k, 0], win[4 + src, 0, ::-1])


def test_mirror_is_an_involution_and_batched():
    g = Geometry()
    x = np.random.default_rng(0).random((5, CHANNELS * 16 * 8)).astype(np.float32)
    m = mirror(x, g)
    assert m.shape == x.shape and m.flags.c_contiguous
    np.testing.assert_array_equal(mirror(m, g), x)
    np.testing.assert_array_equal(m[3], mirror(x[3:4], g)[0])  # rows independent
    assert not np.array_equal(m, x)


def _random_scene(h, w, seed):
    """A smooth-ish image with edges at every orientation: random blocks plus a sinusoid."""
    rng = np.random.default_rng(seed)
    img = rng.random((3, h // 4 + 1, w // 4 + 1)).repeat(4, axis=1).repeat(4, axis=2)[:, :h, :w]
    y, x = np.mgrid[0:h, 0:w]
    img = 0.6 * img + 0.4 * (0.5 + 0.5 * np.sin(0.37 * x + 0.21 * y))[None]
    img += 0.05 * rng.random((3, h, w))
    return np.clip(img, 0, 1).astype(np.float32)


def test_mirror_equals_features_of_the_flipped_image():
    g = Geometry()
    ch, cw = g.cells
    img = _random_scene(ch * SHRINK, cw * SHRINK, seed=1)  # exactly one window: 64 x 32 px
    f = channel_features(torch.from_numpy(img)).numpy()
    f_flip = channel_features(torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1]))).numpy()
    assert f.shape == (CHANNELS, ch, cw)
    got = mirror(f.reshape(1, -1), g).reshape(f.shape)
    np.testing.assert_allclose(got, f_flip, rtol=0, atol=2e-6)
    # the test can tell a wrong permutation: flipping cells alone does not match the orientation bins
    naive = f[:, :, ::-1]
    assert np.abs(naive[4:] - f_flip[4:]).max() > 1e-2


def test_mirror_of_windows_in_a_larger_image():
    # 80 x 48 px image: a 20 x 12 cell map; the window at column c of the flipped image is the mirror
    # of the window at column 12 - 8 - c of the original
    g = Geometry()
    ch, cw = g.cells
    img = _random_scene(80, 48, seed=2)
    f = channel_features(torch.from_numpy(img)).numpy()
    f_flip = channel_features(torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1]))).numpy()
    full_w = f.shape[2]
    assert full_w == 12
    for r in (0, 2, 4):
        for c in range(full_w - cw + 1):
            orig = f[:, r:r + ch, full_w - cw - c:full_w - c].reshape(1, -1)
            flipped = f_flip[:, r:r + ch, c:c + cw].reshape(-1)
            np.testing.assert_allclose(mirror(orig, g)[0], flipped, rtol=0, atol=2e-6)


# -- save / load ------------------------------------------------------------------------------------

def _model(geometry=Geometry(), rescorer=True, seed=0):
    rng = np.random.default_rng(seed)
    ch, cw = geometry.cells
    d = CHANNELS * ch * cw
    r = None
    if rescorer:
        r = Rescorer(rng.random(d).astype(np.float32), (rng.random(d) + 0.5).astype(np.float32),
                     rng.standard_normal((d, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32),
                     rng.standard_normal(5).astype(np.float32), -0.375)
    return ProposalModel(rng.standard_normal((CHANNELS, ch, cw)).astype(np.float32), bias=0.25, threshold=-1.5,
                         max_proposals=17, nms_overlap=0.65, geometry=geometry, rescorer=r, prefilter=1234)


def _assert_same(a: ProposalModel, b: ProposalModel):
    np.testing.assert_array_equal(a.weights, b.weights)
    assert b.weights.dtype == np.float32
    assert (a.bias, a.threshold, a.max_proposals, a.nms_overlap, a.prefilter) == \
           (b.bias, b.threshold, b.max_proposals, b.nms_overlap, b.prefilter)
    assert a.geometry == b.geometry
    assert (a.rescorer is None) == (b.rescorer is None)
    if a.rescorer is not None:
        for k in ("mean", "scale", "w1", "b1", "w2"):
            np.testing.assert_array_equal(getattr(a.rescorer, k), getattr(b.rescorer, k))
        assert a.rescorer.b2 == b.rescorer.b2
        assert isinstance(b.rescorer.b2, float)


def test_save_load_round_trip_with_rescorer(tmp_path):
    m = _model()
    path = tmp_path / "proposals.npz"
    m.save(path)
    back = ProposalModel.load(path)
    _assert_same(m, back)
    x = np.random.default_rng(5).random((3, CHANNELS * 16 * 8)).astype(np.float32)
    np.testing.assert_array_equal(back.rescorer(x), m.rescorer(x))


def test_save_load_round_trip_without_rescorer_custom_geometry(tmp_path):
    g = Geometry(person_height=80, window_w=40, window_h=96, aspect=0.37, min_height=60.0, max_height=300.5,
                 scales_per_octave=3)
    m = _model(g, rescorer=False, seed=1)
    m.threshold = -math.inf
    path = tmp_path / "p.npz"
    m.save(path)
    back = ProposalModel.load(path)
    _assert_same(m, back)
    assert back.rescorer is None
    assert back.geometry.scales() == g.scales()


def test_round_trip_scores_identically(tmp_path):
    m = _model()
    m.save(tmp_path / "m.npz")
    back = ProposalModel.load(tmp_path / "m.npz")
    img = (np.random.default_rng(0).random((70, 50, 3)) * 255).astype(np.uint8)
    levels = [Level(1.0, 1.0, channel_features(resize(img, 70, 50)))]
    np.testing.assert_array_equal(back.scored_windows(levels), m.scored_windows(levels))


def test_load_missing_file_names_path(tmp_path):
    path = tmp_path / "nowhere" / "proposals.npz"
    with pytest.raises(ModelError, match="does not exist") as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"", b"not a numpy file at all\n", b"PK\x03\x04truncated zip"])
def test_load_corrupt_file_names_path(tmp_path, content):
    path = tmp_path / "proposals.npz"
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


def test_load_truncated_real_file(tmp_path):
    path = tmp_path / "proposals.npz"
    _model().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


def test_load_missing_key_names_path(tmp_path):
    path = tmp_path / "proposals.npz"
    np.savez(path, version=FORMAT_VERSION, weights=np.zeros((CHANNELS, 16, 8), np.float32))
    with pytest.raises(ModelError) as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


def test_load_wrong_version(tmp_path):
    path = tmp_path / "proposals.npz"
    _model().save(path)
    with np.load(path) as z:
        d = dict(z)
    d["version"] = FORMAT_VERSION + 1
    np.savez(path, **d)
    with pytest.raises(ModelError, match="format version") as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


def test_load_weights_not_matching_geometry(tmp_path):
    path = tmp_path / "proposals.npz"
    m = _model(rescorer=False)
    m.weights = np.zeros((CHANNELS, 8, 8), np.float32)  # geometry says (16, 8)
    m.save(path)
    with pytest.raises(ModelError, match="shape") as info:
        ProposalModel.load(path)
    assert str(path) in str(info.value)


def test_load_accepts_str_path(tmp_path):
    path = tmp_path / "proposals.npz"
    _model().save(path)
    _assert_same(_model(), ProposalModel.load(str(path)))
