"""Tests of the seed-002 input transforms: hole, mosaic, hole_ns."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mattepaint.masks import INPUT_TRANSFORMS, generate_mask, hole, hole_ns, mosaic


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:96] / 64.0
    image = np.stack(
        [0.5 + 0.4 * np.sin(3 * xx), yy * 0.9, 0.3 + 0.2 * np.cos(5 * yy * xx)], axis=-1
    )
    image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32)
    mask = generate_mask("random_square", (64, 96), rng, size=30)
    return image, mask


def test_registry():
    assert INPUT_TRANSFORMS == {"hole": hole, "mosaic": mosaic, "hole_ns": hole_ns}


@pytest.mark.parametrize("name", ["hole", "mosaic", "hole_ns"])
def test_outside_hole_bit_identical_and_shape(pair, name):
    image, mask = pair
    out = INPUT_TRANSFORMS[name](image, mask)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert np.array_equal(out[~mask], image[~mask])
    assert not np.shares_memory(out, image)
    assert not np.array_equal(out[mask], image[mask])


def test_hole_fill(pair):
    image, mask = pair
    np.testing.assert_array_equal(hole(image, mask)[mask], 0.0)
    out = hole(image, mask, fill=(1.0, 0.5, 0.0))
    np.testing.assert_array_equal(
        out[mask], np.broadcast_to(np.float32([1.0, 0.5, 0.0]), out[mask].shape)
    )


@pytest.mark.parametrize("unit_size", [12, 5])
def test_mosaic_inside_equals_cv2_down_up(pair, unit_size):
    image, mask = pair
    small = cv2.resize(image, (96 // unit_size, 64 // unit_size), interpolation=cv2.INTER_LINEAR)
    coarse = cv2.resize(small, (96, 64), interpolation=cv2.INTER_LINEAR)
    out = mosaic(image, mask, unit_size=unit_size)
    np.testing.assert_array_equal(out[mask], coarse[mask])
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_mosaic_of_constant_image_is_constant():
    image = np.full((40, 40, 3), 0.25, dtype=np.float32)
    mask = np.ones((40, 40), dtype=bool)
    np.testing.assert_allclose(mosaic(image, mask), 0.25, atol=1e-7)


def test_mosaic_unit_larger_than_image():
    image = np.random.default_rng(1).random((8, 8, 3)).astype(np.float32)
    out = mosaic(image, np.ones((8, 8), dtype=bool), unit_size=20)
    np.testing.assert_allclose(
        out, np.broadcast_to(out[0, 0], out.shape), atol=1e-6
    )  # one 1x1 cell


@pytest.mark.parametrize("radius", [3, 6])
def test_hole_ns_equals_direct_cv2_inpaint(pair, radius):
    image, mask = pair
    u8 = np.round(image * 255).astype(np.uint8)
    direct = cv2.inpaint(u8, mask.astype(np.uint8), radius, cv2.INPAINT_NS).astype(np.float32) / 255
    out = hole_ns(image, mask, radius=radius)
    np.testing.assert_allclose(out[mask], direct[mask], atol=1e-7)
    assert np.array_equal(out[~mask], image[~mask])


def test_float64_is_kept(pair):
    image, mask = pair
    image64 = image.astype(np.float64)
    for fn in (hole, mosaic, hole_ns):
        out = fn(image64, mask)
        assert out.dtype == np.float64 and np.array_equal(out[~mask], image64[~mask])


def test_numeric_mask_accepted(pair):
    image, mask = pair
    np.testing.assert_array_equal(mosaic(image, mask.astype(np.uint8)), mosaic(image, mask))


@pytest.mark.parametrize("fn", [hole, mosaic, hole_ns])
def test_transform_errors(pair, fn):
    image, mask = pair
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        fn(image[..., 0], mask)
    with pytest.raises(TypeError, match="float"):
        fn((image * 255).astype(np.uint8), mask)
    with pytest.raises(ValueError, match="like image"):
        fn(image, mask[:10])
    with pytest.raises(ValueError, match="bool or 0/1"):
        fn(image, mask * 2.5)
    with pytest.raises(TypeError, match="numpy array"):
        fn(image.tolist(), mask)


def test_out_of_range_warns(pair):
    image, mask = pair
    with pytest.warns(UserWarning, match=r"outside \[0, 1\]"):
        hole(image * 2, mask)


def test_bad_options(pair):
    image, mask = pair
    with pytest.raises(ValueError, match="unit_size"):
        mosaic(image, mask, unit_size=0)
    with pytest.raises(ValueError, match="radius"):
        hole_ns(image, mask, radius=0)
    with pytest.raises(ValueError, match="fill"):
        hole(image, mask, fill=(1.0, 2.0))
