"""Tests of the OpenCV inpainting methods (telea, ns)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mattepaint.classical import NSInpainter, TeleaInpainter, inpaint_ns, inpaint_telea
from mattepaint.methods import Inpainter, get_inpainter

FUNCTIONS = {"telea": (inpaint_telea, cv2.INPAINT_TELEA), "ns": (inpaint_ns, cv2.INPAINT_NS)}


def _synthetic_image(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    """Smooth gradients + stripes + noise, float32 (H, W, 3) in [0, 1]."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 0.5 + 0.4 * np.sin(12 * x + 5 * y)], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def _mask(h: int, w: int) -> np.ndarray:
    """A block, a thin diagonal scratch and a disk: (H, W) bool."""
    mask = np.zeros((h, w), bool)
    mask[h // 4 : h // 4 + h // 6, w // 5 : w // 5 + w // 8] = True
    scratch = np.zeros((h, w), np.uint8)
    cv2.line(scratch, (0, h - 1), (w - 1, h // 2), 1, thickness=2)
    mask |= scratch.astype(bool)
    yy, xx = np.mgrid[0:h, 0:w]
    mask |= (yy - 0.6 * h) ** 2 + (xx - 0.7 * w) ** 2 < (0.1 * min(h, w)) ** 2
    return mask


def _check_against_opencv(image: np.ndarray, mask: np.ndarray, method: str, radius: int) -> None:
    fn, flag = FUNCTIONS[method]
    out = fn(image, mask, radius=radius)
    u8 = np.round(image * 255).astype(np.uint8)
    expected = cv2.inpaint(u8, mask.astype(np.uint8) * 255, radius, flag).astype(np.float32) / 255
    assert out.dtype == np.float32 and out.shape == image.shape
    np.testing.assert_array_equal(out[mask], expected[mask])  # hole: OpenCV exactly
    np.testing.assert_array_equal(out[~mask], image[~mask])  # outside: the float input exactly


@pytest.mark.parametrize("method", ["telea", "ns"])
@pytest.mark.parametrize("radius", [1, 3, 7])
def test_hole_equals_opencv_synthetic(method: str, radius: int, rng: np.random.Generator) -> None:
    image = _synthetic_image(rng)
    _check_against_opencv(image, _mask(*image.shape[:2]), method, radius)


@pytest.mark.parametrize("method", ["telea", "ns"])
@pytest.mark.parametrize("radius", [2, 5])
def test_hole_equals_opencv_kodak(
    method: str, radius: int, shared_file: Callable[..., Path]
) -> None:
    path = shared_file("images", "kodak24", "kodim05.png")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1]  # BGR -> RGB
    image = np.ascontiguousarray(cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA))
    image = image.astype(np.float32) / 255
    _check_against_opencv(image, _mask(*image.shape[:2]), method, radius)


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_uint8_input_equals_opencv(method: str, rng: np.random.Generator) -> None:
    fn, flag = FUNCTIONS[method]
    u8 = (rng.random((32, 40, 3)) * 255).astype(np.uint8)
    mask = _mask(32, 40)
    out = fn(u8, mask)
    expected = cv2.inpaint(u8, mask.astype(np.uint8) * 255, 3, flag)
    np.testing.assert_array_equal(out, expected.astype(np.float32) / 255)


@pytest.mark.parametrize("name", ["telea", "ns"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_matches_function(name: str, dtype: torch.dtype, rng: np.random.Generator) -> None:
    images = np.stack([_synthetic_image(rng, 24, 32) for _ in range(2)])  # (B, H, W, 3)
    masks = np.stack([_mask(24, 32), np.flipud(_mask(24, 32))])  # (B, H, W)
    image_t = torch.from_numpy(images).permute(0, 3, 1, 2).to(dtype)  # (B, 3, H, W)
    mask_t = torch.from_numpy(masks)[:, None].to(dtype)  # (B, 1, H, W)
    inpainter = get_inpainter(name, radius=4)
    assert isinstance(inpainter, Inpainter) and inpainter.name == name
    out = inpainter(image_t, mask_t)
    assert out.shape == image_t.shape and out.dtype == dtype and out.device == image_t.device
    keep = ~torch.from_numpy(masks)[:, None].expand_as(image_t)
    assert torch.equal(out[keep], image_t[keep])  # outside the hole: bit for bit
    for b in range(2):
        expected = FUNCTIONS[name][0](images[b], masks[b], radius=4)
        got = out[b].permute(1, 2, 0).numpy().astype(np.float32)
        np.testing.assert_array_equal(got[masks[b]], expected[masks[b]])


def test_bool_mask_tensor_accepted(rng: np.random.Generator) -> None:
    image = torch.from_numpy(_synthetic_image(rng, 16, 16)).permute(2, 0, 1)[None]
    mask = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    mask[..., 4:8, 4:8] = True
    out = TeleaInpainter()(image, mask)
    assert out.shape == (1, 3, 16, 16)
    assert not torch.equal(out[..., 4:8, 4:8], image[..., 4:8, 4:8])


def test_fills_constant_image() -> None:
    image = np.full((20, 20, 3), 0.4, np.float32)
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    level = np.float32(np.round(0.4 * 255)) / np.float32(255)  # 102 / 255
    np.testing.assert_array_equal(inpaint_ns(image, mask)[mask], level)
    # OpenCV's Telea is not exact on a constant image: cv2.inpaint of a constant 102 uint8 image
    # (20x20, 10x10 hole, radius 3) gives values 101..104 in the hole (OpenCV 5.0).
    np.testing.assert_allclose(inpaint_telea(image, mask)[mask], level, atol=3 / 255 + 1e-6)


def test_empty_mask_warns_and_returns_input(rng: np.random.Generator) -> None:
    image = _synthetic_image(rng, 16, 16)
    with pytest.warns(UserWarning, match="mask is empty"):
        out = inpaint_telea(image, np.zeros((16, 16), bool))
    np.testing.assert_array_equal(out, image)
    with pytest.warns(UserWarning, match="mask is empty"):
        out_t = NSInpainter()(torch.rand(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))
    assert out_t.shape == (1, 3, 8, 8)


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    image = _synthetic_image(rng, 16, 16)
    mask = np.zeros((16, 16), bool)
    with pytest.raises(ValueError, match=r"mask must be \(H, W\) = \(16, 16\)"):
        inpaint_telea(image, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        inpaint_telea(image[..., 0], mask)
    with pytest.raises(TypeError, match="uint8 or float"):
        inpaint_telea(image.astype(np.int32), mask)
    with pytest.raises(ValueError, match="radius must be an int >= 1"):
        inpaint_ns(image, mask, radius=0)
    with pytest.raises(TypeError, match="radius must be an int"):
        TeleaInpainter(radius=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\)"):
        TeleaInpainter()(torch.rand(1, 3, 8, 8), torch.zeros(1, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        TeleaInpainter()(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.zeros(1, 1, 8, 8))


def test_out_of_range_float_warns(rng: np.random.Generator) -> None:
    image = _synthetic_image(rng, 16, 16) * 2
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    with pytest.warns(UserWarning, match=r"image values should be in \[0, 1\]"):
        out = inpaint_telea(image, mask)
    assert out.max() <= 1.0
