"""Tests of background difference matting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mattepaint.classical import BackgroundDifferenceMatter, matte_background_difference
from mattepaint.methods import Matter, get_matter


def _disk_scene(
    rng: np.random.Generator, h: int = 64, w: int = 80
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A hard disk on a textured background: composite (H, W, 3), background, disk (H, W) bool."""
    yy, xx = np.mgrid[0:h, 0:w]
    background = 0.5 + 0.25 * np.sin(xx / 3.0)[..., None] * np.cos(yy / 5.0)[..., None]
    background = np.clip(background + 0.1 * rng.random((h, w, 3)), 0, 1).astype(np.float32)
    disk = (yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (min(h, w) / 3) ** 2
    foreground = np.clip(np.array([0.9, 0.2, 0.1]) + 0.05 * rng.random((h, w, 3)), 0, 1)
    image = np.where(disk[..., None], foreground, background).astype(np.float32)
    return image, background, disk


@pytest.mark.parametrize("cleanup", ["median", "open_close", "none"])
def test_recovers_hard_disk(cleanup: str, rng: np.random.Generator) -> None:
    image, background, disk = _disk_scene(rng)
    alpha, fg = matte_background_difference(image, background, cleanup=cleanup)
    assert alpha.shape == disk.shape and fg.shape == image.shape
    assert alpha.dtype == np.float32 and fg.dtype == np.float32
    pred = alpha > 0.5
    iou = (pred & disk).sum() / (pred | disk).sum()
    assert iou > 0.95
    same = np.all(image == background, axis=-1)
    assert same.any() and np.all(alpha[same] == 0.0)  # C == B -> alpha 0
    inside = alpha == 1.0
    np.testing.assert_allclose(fg[inside], image[inside], atol=1e-6)  # alpha 1 -> F = C
    np.testing.assert_array_equal(fg[alpha == 0.0], image[alpha == 0.0])  # alpha 0 -> F = C


def test_identical_plates_give_zero_alpha(rng: np.random.Generator) -> None:
    background = rng.random((16, 16, 3)).astype(np.float32)
    alpha, fg = matte_background_difference(background.copy(), background)
    np.testing.assert_array_equal(alpha, np.zeros((16, 16), np.float32))
    np.testing.assert_array_equal(fg, background)


def test_golden_pixel() -> None:
    # One pixel, C - B = (0.1, 0, 0): d = 0.1, alpha = (0.1 - 0.05) / (0.25 - 0.05) = 0.25,
    # F = B + (C - B) / 0.25 = (0.2 + 0.4, 0.5, 0.5) = (0.6, 0.5, 0.5) (by hand).
    background = np.array([[[0.2, 0.5, 0.5]]])
    image = np.array([[[0.3, 0.5, 0.5]]])
    alpha, fg = matte_background_difference(image, background, cleanup="none")
    np.testing.assert_allclose(alpha, [[0.25]], atol=1e-6)
    np.testing.assert_allclose(fg, [[[0.6, 0.5, 0.5]]], atol=1e-6)
    # d = ||(0.1, 0.1, 0.1)|| = 0.1732 with low 0, high 0.3464: alpha = 0.5 (by hand).
    alpha, _ = matte_background_difference(
        background + 0.1, background, low=0.0, high=2 * np.sqrt(0.03), cleanup="none"
    )
    np.testing.assert_allclose(alpha, [[0.5]], atol=1e-6)


@pytest.mark.parametrize(
    ("cleanup", "removed"), [("median", True), ("open_close", True), ("none", False)]
)
def test_speckle_cleanup(cleanup: str, removed: bool, rng: np.random.Generator) -> None:
    image, background, disk = _disk_scene(rng)
    speckled = image.copy()
    far = ~ndimage.binary_dilation(disk, iterations=3)  # specks away from the disk's edge
    ys, xs = np.nonzero(far)
    pick = rng.choice(len(ys), size=20, replace=False)
    ys, xs = ys[pick], xs[pick]
    speckled[ys, xs] = np.where(background[ys, xs] < 0.5, 1.0, 0.0)  # >= 0.5 off per channel
    alpha, _ = matte_background_difference(speckled, background, cleanup=cleanup)
    specks = alpha[ys, xs]
    assert np.all(specks == 0.0) if removed else np.all(specks > 0.5)


def test_uint8_inputs(rng: np.random.Generator) -> None:
    image, background, _ = _disk_scene(rng, 32, 32)
    to_u8 = lambda x: np.round(x * 255).astype(np.uint8)  # noqa: E731
    alpha_u8, _ = matte_background_difference(to_u8(image), to_u8(background))
    alpha_f, _ = matte_background_difference(to_u8(image) / 255.0, to_u8(background) / 255.0)
    np.testing.assert_allclose(alpha_u8, alpha_f, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_registered_batched(dtype: torch.dtype, rng: np.random.Generator) -> None:
    scenes = [_disk_scene(rng, 32, 40) for _ in range(2)]
    image_t = torch.from_numpy(np.stack([s[0] for s in scenes])).permute(0, 3, 1, 2).to(dtype)
    bg_t = torch.from_numpy(np.stack([s[1] for s in scenes])).permute(0, 3, 1, 2).to(dtype)
    matter = get_matter("background_difference", low=0.1, high=0.3, cleanup="open_close")
    assert isinstance(matter, Matter) and matter.needs == "background"
    result = matter(image_t, background=bg_t)
    assert result.alpha.shape == (2, 1, 32, 40) and result.alpha.dtype == dtype
    assert result.foreground is not None and result.foreground.shape == (2, 3, 32, 40)
    for b, (image, background, _) in enumerate(scenes):
        alpha, fg = matte_background_difference(
            image, background, low=0.1, high=0.3, cleanup="open_close"
        )
        np.testing.assert_array_equal(result.alpha[b, 0].float().numpy(), alpha)
        np.testing.assert_array_equal(result.foreground[b].permute(1, 2, 0).float().numpy(), fg)


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    image, background, _ = _disk_scene(rng, 16, 16)
    with pytest.raises(ValueError, match="need 0 <= low < high"):
        BackgroundDifferenceMatter(low=0.3, high=0.2)
    with pytest.raises(ValueError, match="cleanup must be one of median, open_close, none"):
        matte_background_difference(image, background, cleanup="blur")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size must be an odd int >= 1"):
        BackgroundDifferenceMatter(size=4)
    with pytest.raises(ValueError, match=r"background must be \(H, W, 3\) like image"):
        matte_background_difference(image, background[:8])
    with pytest.raises(ValueError, match="needs a background image"):
        get_matter("background_difference")(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"background must be \(B, 3, H, W\)"):
        get_matter("background_difference")(
            torch.rand(1, 3, 8, 8), background=torch.rand(1, 3, 8, 9)
        )
