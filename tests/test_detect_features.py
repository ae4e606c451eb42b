"""Aggregated channel features (accelsim.detect.features): 3 opponent-colour channels, gradient
magnitude and 6 soft-binned orientation channels, as means over SHRINK x SHRINK pixel cells.

Expected values are worked by hand from the definitions: the 1-2-1 luminance smoothing, the central
difference gradient 0.5 * (l[x+1] - l[x-1]) with clamped borders, bins pi/6 wide centred on k*pi/6.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from accelsim.detect.features import (_OPPONENT, CHANNELS, ORIENTATIONS, SHRINK, _unsigned_angle, channel_features,
                                      resize)


def _feat(img_chw: np.ndarray) -> np.ndarray:
    return channel_features(torch.from_numpy(np.ascontiguousarray(img_chw, dtype=np.float32))).numpy()


def _grey(values_hw: np.ndarray) -> np.ndarray:
    return np.repeat(np.asarray(values_hw, dtype=np.float32)[None], 3, axis=0)


def test_constants():
    assert (SHRINK, ORIENTATIONS, CHANNELS) == (4, 6, 10)
    # luminance weights sum to 1, the chroma rows are zero on grey
    np.testing.assert_allclose(_OPPONENT.sum(axis=1), [1.0, 0.0, 0.0], atol=1e-6)


def test_output_shape_drops_partial_cells():
    f = _feat(np.zeros((3, 13, 22)))
    assert f.shape == (CHANNELS, 3, 5) and f.dtype == np.float32


@pytest.mark.parametrize("rgb", [(1.0, 0.0, 0.0), (0.2, 0.6, 0.9), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0)])
def test_flat_colour_gives_opponent_values_and_no_gradient(rgb):
    img = np.empty((3, 12, 16), dtype=np.float32)
    img[:] = np.array(rgb, dtype=np.float32)[:, None, None]
    f = _feat(img)
    # e.g. red (1, 0, 0): luminance 0.299, red-green 0.5, yellow-blue 0.25
    r, g, b = rgb
    expected = [0.299 * r + 0.587 * g + 0.114 * b, 0.5 * r - 0.5 * g, 0.25 * r + 0.25 * g - 0.5 * b]
    for c in range(3):
        np.testing.assert_allclose(f[c], expected[c], rtol=0, atol=2e-6)
    assert np.all(f[3:] == 0.0)  # a constant image has exactly zero gradient everywhere


def test_red_cell_values_explicit():
    img = np.zeros((3, 4, 4), dtype=np.float32)
    img[0] = 1.0
    f = _feat(img)
    np.testing.assert_allclose(f[:3, 0, 0], [0.299, 0.5, 0.25], rtol=0, atol=1e-6)


def test_colour_channels_are_cell_means():
    # one red pixel per 4x4 cell: colour channels are 1/16 of the red values, per cell
    img = np.zeros((3, 8, 8), dtype=np.float32)
    img[0, 1, 2] = 1.0  # cell (0, 0)
    img[2, 6, 5] = 1.0  # blue pixel in cell (1, 1)
    f = _feat(img)
    np.testing.assert_allclose(f[:3, 0, 0], np.array([0.299, 0.5, 0.25]) / 16, atol=1e-7)
    np.testing.assert_allclose(f[:3, 1, 1], np.array([0.114, 0.0, -0.5]) / 16, atol=1e-7)
    np.testing.assert_allclose(f[:3, 0, 1], 0.0, atol=0)
    np.testing.assert_allclose(f[:3, 1, 0], 0.0, atol=0)


def test_vertical_step_edge_energy_in_bin_0():
    # columns 0..5 black, 6..11 white, 8 rows. After 1-2-1 smoothing along x the luminance around the
    # step is 0, 0.25 | 0.75, 1 (columns 5 | 6), so the central difference gives
    # gx = 0.125, 0.375, 0.375, 0.125 at columns 4, 5, 6, 7 (sum 1 per row) and gy = 0:
    # all of it falls in cell column 1 (pixels 4..7): per cell 4 rows * 1.0 / 16 = 0.25.
    v = np.zeros((8, 12), dtype=np.float32)
    v[:, 6:] = 1.0
    f = _feat(_grey(v))
    np.testing.assert_allclose(f[3], [[0, 0.25, 0], [0, 0.25, 0]], rtol=0, atol=1e-6)
    np.testing.assert_allclose(f[4], f[3], rtol=0, atol=1e-7)  # theta = 0: bin 0 only
    assert np.all(f[5:] == 0.0)


def test_vertical_step_edge_split_between_cells():
    # step at column 4: gradient columns 2, 3 (cell 0) and 4, 5 (cell 1), 0.5 per row each
    v = np.zeros((4, 12), dtype=np.float32)
    v[:, 4:] = 1.0
    f = _feat(_grey(v))
    np.testing.assert_allclose(f[3, 0], [0.125, 0.125, 0.0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(f[4, 0], [0.125, 0.125, 0.0], rtol=0, atol=1e-6)


def test_falling_vertical_edge_also_bin_0():
    # white to black: gx < 0, gy = 0 -> unsigned orientation 0, still bin 0
    v = np.ones((8, 12), dtype=np.float32)
    v[:, 6:] = 0.0
    f = _feat(_grey(v))
    np.testing.assert_allclose(f[4], f[3], rtol=0, atol=1e-7)
    np.testing.assert_allclose(f[3, :, 1], 0.25, rtol=0, atol=1e-6)
    assert np.all(f[5:] == 0.0)


@pytest.mark.parametrize("top,bottom", [(0.0, 1.0), (1.0, 0.0)])
def test_horizontal_step_edge_energy_in_bin_3(top, bottom):
    # rows 0..5 one level, 6..11 the other: theta = pi/2 -> position 3.0 in bins of pi/6
    v = np.full((12, 8), top, dtype=np.float32)
    v[6:] = bottom
    f = _feat(_grey(v))
    np.testing.assert_allclose(f[3], [[0, 0], [0.25, 0.25], [0, 0]], rtol=0, atol=1e-6)
    np.testing.assert_allclose(f[4 + 3], f[3], rtol=0, atol=1e-6)
    for k in (0, 1, 2, 4, 5):
        np.testing.assert_allclose(f[4 + k], 0.0, rtol=0, atol=1e-9)


def test_diagonal_gradient_soft_binned_between_1_and_2():
    # luminance l = x + y scaled: gx = gy in the interior -> theta = pi/4, halfway between bins 1 (pi/6)
    # and 2 (pi/3): each gets half of the magnitude
    y, x = np.mgrid[0:12, 0:12]
    v = ((x + y) / 30.0).astype(np.float32)
    f = _feat(_grey(v))
    inner = f[:, 1, 1]  # cell (1, 1): pixels 4..7, no border clamping within reach of the stencils
    # gx = gy = 1/30 (a linear ramp survives the 1-2-1 smoothing), magnitude sqrt(2)/30
    assert inner[3] == pytest.approx(math.sqrt(2) / 30, rel=1e-5)
    assert inner[4 + 1] == pytest.approx(inner[3] / 2, rel=2e-3)  # 2e-3: the atan approximation
    assert inner[4 + 2] == pytest.approx(inner[3] / 2, rel=2e-3)
    for k in (0, 3, 4, 5):
        assert inner[4 + k] == pytest.approx(0.0, abs=1e-9)


def test_orientation_near_pi_wraps_to_bin_0_and_5():
    # theta = 5*pi/6 + pi/12 = 11*pi/12: halfway between bin 5 (5*pi/6) and bin 0 (pi, i.e. 0)
    ang = 11 * math.pi / 12
    y, x = np.mgrid[0:12, 0:12]
    v = ((math.cos(ang) * x + math.sin(ang) * y) / 40.0 + 0.5).astype(np.float32)
    inner = _feat(_grey(v))[:, 1, 1]
    assert inner[3] == pytest.approx(1 / 40, rel=1e-4)
    assert inner[4 + 5] == pytest.approx(inner[3] / 2, rel=5e-3)
    assert inner[4 + 0] == pytest.approx(inner[3] / 2, rel=5e-3)
    assert inner[4 + 1:4 + 5].sum() == pytest.approx(0.0, abs=1e-7)


@given(st.integers(0, 2**32 - 1))
def test_orientation_channels_sum_to_magnitude(seed):
    img = np.random.default_rng(seed).random((3, 16, 20), dtype=np.float32)
    f = _feat(img)
    np.testing.assert_allclose(f[4:].sum(axis=0), f[3], rtol=1e-5, atol=1e-6)
    assert np.all(f[3:] >= 0.0)


def test_gradient_uses_luminance_only():
    # an isoluminant red/green edge: chroma changes, luminance is constant -> no gradient
    img = np.zeros((3, 8, 8), dtype=np.float32)
    # red r and green g with 0.299 r = 0.587 g: left (r, 0, 0) luminance 0.299*r; right (0, g, 0)
    img[0, :, :4] = 0.587
    img[1, :, 4:] = 0.299
    f = _feat(img)
    np.testing.assert_allclose(f[3:], 0.0, atol=1e-6)
    assert f[1, 0, 0] == pytest.approx(0.5 * 0.587, abs=1e-6)
    assert f[1, 0, 1] == pytest.approx(-0.5 * 0.299, abs=1e-6)


def test_non_contiguous_input_same_result():
    img = np.random.default_rng(3).random((3, 12, 16), dtype=np.float32)
    t = torch.from_numpy(img.transpose(0, 2, 1).copy()).transpose(1, 2)  # same values, non-contiguous
    assert not t.is_contiguous()
    np.testing.assert_array_equal(channel_features(t).numpy(), _feat(img))


# -- the fast orientation ---------------------------------------------------------------------------

def _circular_error(a, b):
    d = abs(a - b) % math.pi
    return min(d, math.pi - d)


_g = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(_g, _g)
def test_unsigned_angle_matches_atan2(gx, gy):
    got = _unsigned_angle(gx, gy)
    assert 0.0 <= got <= math.pi
    if gx == 0.0 and gy == 0.0:
        assert got == 0.0
        return
    assert _circular_error(got, math.atan2(gy, gx) % math.pi) <= 0.002


def test_unsigned_angle_grid():
    vals = np.linspace(-2.0, 2.0, 81)
    worst = 0.0
    for gx in vals:
        for gy in vals:
            if gx == 0.0 and gy == 0.0:
                continue
            worst = max(worst, _circular_error(_unsigned_angle(gx, gy), math.atan2(gy, gx) % math.pi))
    assert worst <= 0.002


@pytest.mark.parametrize("gx,gy,expected", [
    (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, math.pi / 2), (0.0, -1.0, math.pi / 2),
    (1.0, 1.0, math.pi / 4), (-1.0, -1.0, math.pi / 4), (-1.0, 1.0, 3 * math.pi / 4), (1.0, -1.0, 3 * math.pi / 4),
    (0.0, 0.0, 0.0),
])
def test_unsigned_angle_cardinal_values(gx, gy, expected):
    assert _unsigned_angle(gx, gy) == pytest.approx(expected, abs=0.002)


@given(st.floats(1e-3, 1e3), st.floats(-1e3, 1e3))
def test_unsigned_angle_mirror_symmetry(gx, gy):
    # mirroring the image (gx -> -gx) maps theta to pi - theta; the mirrored features rely on it
    a, b = _unsigned_angle(gx, gy), _unsigned_angle(-gx, gy)
    assert _circular_error(a + b, 0.0) <= 1e-12


# -- resize -----------------------------------------------------------------------------------------

def test_resize_same_size_is_exact_chw_scaling():
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 14  # values 0..238
    t = resize(img, 2, 3)
    assert t.shape == (3, 2, 3) and t.dtype == torch.float32
    np.testing.assert_array_equal(t.numpy(), img.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0))
    assert t[0, 1, 2].item() == pytest.approx(img[1, 2, 0] / 255, abs=1e-7)  # channel-first indexing


def test_resize_constant_stays_constant_and_shape():
    img = np.empty((50, 70, 3), dtype=np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 128, 255
    t = resize(img, 23, 41)
    assert t.shape == (3, 23, 41)
    np.testing.assert_allclose(t[0].numpy(), 10 / 255, atol=1e-7)
    np.testing.assert_allclose(t[1].numpy(), 128 / 255, atol=1e-7)
    np.testing.assert_allclose(t[2].numpy(), 1.0, atol=1e-7)


def test_resize_downsample_averages():
    # 2x downsample of alternating 0/200 columns: an antialiased resize averages them to ~100, a plain
    # point sample would give 0 or 200
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, 1::2] = 200
    t = resize(img, 4, 4).numpy() * 255
    np.testing.assert_allclose(t[:, :, 1:3], 100, atol=2)


def test_resize_non_contiguous_input():
    img = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    flipped = img[:, ::-1]
    np.testing.assert_array_equal(resize(flipped, 6, 10).numpy(), resize(flipped.copy(), 6, 10).numpy())
    np.testing.assert_array_equal(resize(flipped, 3, 5).numpy(), resize(flipped.copy(), 3, 5).numpy())
