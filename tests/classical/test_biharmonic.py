"""Tests of biharmonic inpainting (scikit-image)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.restoration import inpaint_biharmonic as sk_inpaint_biharmonic

from mattepaint.classical import BiharmonicInpainter, inpaint_biharmonic
from mattepaint.methods import get_inpainter


def _mask(h: int, w: int) -> np.ndarray:
    """Two separate blocks: (H, W) bool."""
    mask = np.zeros((h, w), bool)
    mask[4:12, 5:14] = True
    mask[h - 10 : h - 4, w - 12 : w - 3] = True
    return mask


def test_hole_equals_skimage(rng: np.random.Generator) -> None:
    image = rng.random((32, 40, 3)).astype(np.float32)
    mask = _mask(32, 40)
    out = inpaint_biharmonic(image, mask)
    expected = sk_inpaint_biharmonic(image.astype(np.float64), mask, channel_axis=-1)
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_array_equal(out[mask], expected[mask].astype(np.float32))
    np.testing.assert_array_equal(out[~mask], image[~mask])


def test_uint8_input_equals_skimage(rng: np.random.Generator) -> None:
    u8 = (rng.random((24, 24, 3)) * 255).astype(np.uint8)
    mask = _mask(24, 24)
    out = inpaint_biharmonic(u8, mask)
    expected = sk_inpaint_biharmonic(u8 / 255.0, mask, channel_axis=-1)
    np.testing.assert_array_equal(out[mask], expected[mask].astype(np.float32))


def test_reproduces_linear_ramp() -> None:
    # A linear function is biharmonic (its discrete bilaplacian is 0), so the fill is exact.
    y, x = np.mgrid[0:32, 0:32] / 64.0
    image = np.stack([x, y, 0.2 + 0.5 * x + 0.25 * y], axis=-1)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 10:22] = True
    out = inpaint_biharmonic(image, mask)
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_split_into_regions_close(rng: np.random.Generator) -> None:
    image = rng.random((32, 32, 3))
    mask = _mask(32, 32)
    joint = inpaint_biharmonic(image, mask)
    split = inpaint_biharmonic(image, mask, split_into_regions=True)
    np.testing.assert_allclose(split, joint, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched(dtype: torch.dtype, rng: np.random.Generator) -> None:
    images = rng.random((2, 24, 28, 3)).astype(np.float32)
    masks = np.stack([_mask(24, 28), np.fliplr(_mask(24, 28))])
    image_t = torch.from_numpy(images).permute(0, 3, 1, 2).to(dtype)  # (B, 3, H, W)
    mask_t = torch.from_numpy(masks)[:, None].float()  # (B, 1, H, W)
    out = get_inpainter("biharmonic")(image_t, mask_t)
    assert out.shape == image_t.shape and out.dtype == dtype
    keep = ~torch.from_numpy(masks)[:, None].expand_as(image_t)
    assert torch.equal(out[keep], image_t[keep])
    for b in range(2):
        expected = inpaint_biharmonic(images[b], masks[b])
        got = out[b].permute(1, 2, 0).numpy().astype(np.float32)
        np.testing.assert_allclose(got[masks[b]], expected[masks[b]], atol=1e-6)


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    image = rng.random((16, 16, 3))
    with pytest.raises(ValueError, match=r"mask must be \(H, W\) = \(16, 16\)"):
        inpaint_biharmonic(image, np.zeros((16, 15), bool))
    with pytest.raises(TypeError, match="split_into_regions must be a bool"):
        BiharmonicInpainter(split_into_regions="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\)"):
        BiharmonicInpainter()(torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))
    with pytest.warns(UserWarning, match="mask is empty"):
        out = inpaint_biharmonic(image, np.zeros((16, 16), bool))
    np.testing.assert_array_equal(out, image.astype(np.float32))
