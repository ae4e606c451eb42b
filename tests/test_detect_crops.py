"""Proposal crops (accelsim.detect.crops): context regions, warped crops, flips, uint8 storage.

With ``align_corners=False`` a crop whose size equals its region's size samples exactly the input pixel
centres, and a crop of half the region's size averages 2 x 2 pixel blocks; the expected crops below use
that to be exact.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from accelsim.detect.crops import CropSpec, crop, from_uint8, image_tensor, to_uint8

# -- CropSpec.regions -------------------------------------------------------------------------------


def test_default_spec():
    s = CropSpec()
    assert s.size == 67
    assert s.context == pytest.approx(227 / 195)


def test_regions_context_2():
    # box (10, 20, 30, 60): centre (25, 50); 60 x 120 about it -> (-5, -10, 60, 120)
    got = CropSpec(context=2.0).regions(np.array([[10, 20, 30, 60]]))
    np.testing.assert_allclose(got, [[-5, -10, 60, 120]], rtol=0, atol=1e-12)


def test_regions_context_1_is_identity_and_ignores_score():
    boxes = np.array([[10, 20, 30, 60, 0.9], [0.5, 1.5, 2.0, 4.0, -3.0]])
    got = CropSpec(context=1.0).regions(boxes)
    assert got.shape == (2, 4)
    np.testing.assert_allclose(got, boxes[:, :4], rtol=0, atol=1e-12)


def test_regions_rcnn_context():
    # a 195 px box grows by 16 px on every side to 227 px (R-CNN's warp)
    got = CropSpec().regions(np.array([[100, 50, 195, 195]]))
    np.testing.assert_allclose(got, [[84, 34, 227, 227]], rtol=0, atol=1e-9)


def test_regions_non_square_and_shrinking():
    # context 0.5: box (0, 0, 8, 4) centre (4, 2) -> 4 x 2 region (2, 1, 4, 2)
    got = CropSpec(context=0.5).regions(np.array([[0, 0, 8, 4]]))
    np.testing.assert_allclose(got, [[2, 1, 4, 2]], rtol=0, atol=1e-12)


@given(st.floats(-100, 100), st.floats(-100, 100), st.floats(1, 200), st.floats(1, 200), st.floats(0.5, 3.0))
def test_regions_keep_centre_and_scale_size(x, y, w, h, c):
    r = CropSpec(context=c).regions(np.array([[x, y, w, h]]))[0]
    assert r[0] + r[2] / 2 == pytest.approx(x + w / 2, abs=1e-9)
    assert r[1] + r[3] / 2 == pytest.approx(y + h / 2, abs=1e-9)
    assert r[2] == pytest.approx(c * w, rel=1e-12)
    assert r[3] == pytest.approx(c * h, rel=1e-12)


# -- image_tensor -----------------------------------------------------------------------------------

def test_image_tensor_range_and_layout():
    img = np.zeros((2, 3, 3), dtype=np.uint8)
    img[0, 1] = (255, 0, 128)
    t = image_tensor(img)
    assert t.shape == (1, 3, 2, 3) and t.dtype == torch.float32
    assert t[0, :, 0, 1].tolist() == pytest.approx([0.5, -0.5, 128 / 255 - 0.5], abs=1e-7)
    assert t[0, :, 1, 2].tolist() == pytest.approx([-0.5, -0.5, -0.5])


# -- crop -------------------------------------------------------------------------------------------

def _scene():
    """40 x 48 px dark image (uint8 0) with a bright (255) rectangle at rows 10..19, columns 12..27."""
    img = np.zeros((40, 48, 3), dtype=np.uint8)
    img[10:20, 12:28] = 255
    return img


def test_crop_reproduces_region_at_native_size():
    img = _scene()
    # box (x=8, y=6, 24 x 24), no context, 24 px crop: the crop is image[6:30, 8:32]
    out = crop(image_tensor(img), np.array([[8, 6, 24, 24]]), CropSpec(size=24, context=1.0))
    assert out.shape == (1, 3, 24, 24)
    expected = np.full((3, 24, 24), -0.5, dtype=np.float32)
    expected[:, 4:14, 4:20] = 0.5  # the rectangle, shifted by (-6, -8)
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-5)


def test_crop_of_the_rectangle_itself_is_all_bright():
    img = _scene()
    # the rectangle box (12, 10, 16, 10) warped to 8 x 8: every sample lies inside it
    out = crop(image_tensor(img), np.array([[12, 10, 16, 10]]), CropSpec(size=8, context=1.0))
    np.testing.assert_allclose(out.numpy(), 0.5, rtol=0, atol=1e-5)


def test_crop_half_size_averages_pixel_pairs():
    # 24 px region to 12 px: output pixel i samples input 2i + 0.5, the mean of pixels 2i and 2i + 1.
    # The rectangle edges (rows 10/20, cols 12/28 -> region rows 4/14, cols 4/20) fall on even offsets:
    # the downsampled rectangle is rows 2..6, cols 2..9 exactly.
    img = _scene()
    out = crop(image_tensor(img), np.array([[8, 6, 24, 24]]), CropSpec(size=12, context=1.0))
    expected = np.full((3, 12, 12), -0.5, dtype=np.float32)
    expected[:, 2:7, 2:10] = 0.5
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-5)


def test_crop_edge_pixel_blends_half():
    # a rectangle edge at an odd offset of a half-size crop: the pixel straddling it is the mean, 0
    img = np.zeros((16, 16, 3), dtype=np.uint8)
    img[:, 5:] = 255
    out = crop(image_tensor(img), np.array([[0, 0, 16, 16]]), CropSpec(size=8, context=1.0))
    row = out[0, 0, 3].numpy()
    np.testing.assert_allclose(row, [-0.5, -0.5, 0.0, 0.5, 0.5, 0.5, 0.5, 0.5], rtol=0, atol=1e-5)


def test_crop_with_context_includes_surroundings():
    img = _scene()
    # the 16 x 10 rectangle with context 2: region (4, 5, 32, 20); at 32 x 20 -> not square, so use a box
    # that is square: (14, 9, 12, 12) with context 2 -> region (8, 3, 24, 24) = image[3:27, 8:32]
    out = crop(image_tensor(img), np.array([[14, 9, 12, 12]]), CropSpec(size=24, context=2.0))
    expected = np.full((3, 24, 24), -0.5, dtype=np.float32)
    expected[:, 7:17, 4:20] = 0.5
    np.testing.assert_allclose(out[0].numpy(), expected, rtol=0, atol=1e-5)


def test_crop_out_of_frame_is_mid_grey():
    white = np.full((16, 16, 3), 255, dtype=np.uint8)
    # region 8 px beyond the left edge and 4 px beyond the top
    out = crop(image_tensor(white), np.array([[-8, -4, 16, 16]]), CropSpec(size=16, context=1.0))[0].numpy()
    np.testing.assert_allclose(out[:, :4, :], 0.0, rtol=0, atol=1e-6)  # out of frame: 0 = mid-grey
    np.testing.assert_allclose(out[:, :, :8], 0.0, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[:, 4:, 8:], 0.5, rtol=0, atol=1e-5)


def test_crop_entirely_outside_is_zero():
    img = _scene()
    out = crop(image_tensor(img), np.array([[100, 100, 10, 10]]), CropSpec(size=6, context=1.0))
    assert torch.count_nonzero(out).item() == 0


def test_crop_flip_mirrors_selected_crops_only():
    img = _scene()
    t = image_tensor(img)
    boxes = np.array([[4, 6, 24, 24], [0, 0, 24, 24], [20, 14, 24, 24]])
    spec = CropSpec(size=24, context=1.0)
    plain = crop(t, boxes, spec)
    flipped = crop(t, boxes, spec, flip=np.array([True, False, True]))
    np.testing.assert_allclose(flipped[0].numpy(), plain[0].flip(-1).numpy(), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(flipped[1].numpy(), plain[1].numpy())
    np.testing.assert_allclose(flipped[2].numpy(), plain[2].flip(-1).numpy(), rtol=0, atol=1e-5)
    # and the flip does something here: the rectangle is off-centre in the flipped crops
    assert not torch.allclose(plain[0], plain[0].flip(-1))
    assert not torch.allclose(plain[2], plain[2].flip(-1))


def test_crop_flip_exact_hand_values():
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, 0] = 255  # leftmost column bright
    out = crop(image_tensor(img), np.array([[0, 0, 8, 8]]), CropSpec(size=8, context=1.0), flip=[True])[0]
    np.testing.assert_allclose(out[:, :, 7].numpy(), 0.5, atol=1e-5)  # now the rightmost
    np.testing.assert_allclose(out[:, :, :7].numpy(), -0.5, atol=1e-5)


def test_crop_colour_channels_kept():
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 255, 0, 51
    out = crop(image_tensor(img), np.array([[1, 1, 4, 4]]), CropSpec(size=3, context=1.0))[0]
    np.testing.assert_allclose(out[0].numpy(), 0.5, atol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), -0.5, atol=1e-5)
    np.testing.assert_allclose(out[2].numpy(), 0.2 - 0.5, atol=1e-5)


def test_crop_empty_boxes():
    out = crop(image_tensor(_scene()), np.zeros((0, 4)), CropSpec(size=5))
    assert out.shape == (0, 3, 5, 5)


def test_crop_default_spec_shape_and_dtype():
    out = crop(image_tensor(_scene()), np.array([[10, 5, 10, 24, 0.7], [0, 0, 5, 5, 0.1]]), CropSpec())
    assert out.shape == (2, 3, 67, 67) and out.dtype == torch.float32
    assert out.min().item() >= -0.5 - 1e-6 and out.max().item() <= 0.5 + 1e-6


# -- uint8 storage ----------------------------------------------------------------------------------

def test_to_uint8_hand_values():
    x = torch.tensor([-0.5, 0.5, 0.0, -1.0, 0.9, 0.25, 1 / 255 - 0.5])
    # 0.0 -> 127.5 rounds half to even -> 128; out of range clamps; 0.25 -> 191.25 -> 191
    assert to_uint8(x).tolist() == [0, 255, 128, 0, 255, 191, 1]
    assert to_uint8(x).dtype == torch.uint8


def test_from_uint8_hand_values():
    u = torch.tensor([0, 255, 128, 51], dtype=torch.uint8)
    np.testing.assert_allclose(from_uint8(u).numpy(), [-0.5, 0.5, 128 / 255 - 0.5, 0.2 - 0.5], atol=1e-7)
    assert from_uint8(u).dtype == torch.float32


def test_to_uint8_does_not_modify_input():
    x = torch.tensor([0.1, -0.2])
    to_uint8(x)
    assert x.tolist() == pytest.approx([0.1, -0.2])


@given(st.lists(st.floats(-0.5, 0.5, width=32), min_size=1, max_size=50))
def test_uint8_round_trip_within_half_a_step(values):
    x = torch.tensor(values, dtype=torch.float32)
    back = from_uint8(to_uint8(x))
    assert torch.all((back - x).abs() <= 0.5 / 255 + 1e-6)
    # and the stored crop decodes to itself exactly
    assert torch.equal(to_uint8(back), to_uint8(x))


def test_uint8_round_trip_of_real_crops():
    img = (np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)
    crops = crop(image_tensor(img), np.array([[3, 2, 20, 25], [-5, 10, 30, 30]]), CropSpec(size=17))
    back = from_uint8(to_uint8(crops))
    assert (back - crops).abs().max().item() <= 1 / 255
