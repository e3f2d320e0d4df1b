"""Tests of the PatchMatch exemplar inpainting (mattepaint.classical.patchmatch)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mattepaint.classical import PatchMatchInpainter, inpaint_patchmatch, inpaint_telea
from mattepaint.errors import InputError
from mattepaint.methods import Inpainter, get_inpainter


def _stripes(h: int = 64, w: int = 72, period: int = 8) -> np.ndarray:
    """Vertical colour stripes of the given period: (H, W, 3) float32, a periodic texture."""
    x = np.arange(w)
    phase = (x % period) / period  # (W,)
    row = np.stack([phase, 1.0 - phase, (x % period < period // 2) * 0.8 + 0.1], axis=-1)
    return np.broadcast_to(row[None], (h, w, 3)).astype(np.float32).copy()


def _textured(h: int = 56, w: int = 64, seed: int = 0) -> np.ndarray:
    """Smooth colours plus noise: (H, W, 3) float32, no exact repeats."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([x, y, 0.5 + 0.4 * np.sin(9 * x + 4 * y)], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)


def _box(h: int, w: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[top : top + size, left : left + size] = True
    return mask


@pytest.mark.parametrize("min_size", [256, 16])
def test_outside_the_hole_is_the_input_exactly(min_size: int) -> None:
    image = _textured()
    mask = _box(56, 64, 10, 20, 14)
    out = inpaint_patchmatch(image, mask, min_size=min_size)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.array_equal(out[~mask], image[~mask])
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out[mask], image[mask])  # the hole was filled from elsewhere


def test_uint8_input_gives_floats_and_keeps_the_known_pixels() -> None:
    image = np.round(_textured() * 255).astype(np.uint8)
    mask = _box(56, 64, 30, 5, 12)
    out = inpaint_patchmatch(image, mask)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[~mask], image[~mask].astype(np.float32) / 255)


@pytest.mark.parametrize("min_size", [256, 16])  # one level (the default here), a pyramid
def test_periodic_stripes_are_restored_much_better_than_telea(min_size: int) -> None:
    image = _stripes()
    mask = _box(64, 72, 20, 24, 20)  # a 20x20 hole over 2.5 periods
    out = inpaint_patchmatch(image, mask, min_size=min_size)
    err = float(np.abs(out - image)[mask].mean())
    telea_err = float(np.abs(inpaint_telea(image, mask) - image)[mask].mean())
    assert err < 0.02, err  # the texture is copied back, not blurred
    assert telea_err > 0.1 and err < telea_err / 5, (err, telea_err)


def test_same_seed_same_result_and_seed_matters() -> None:
    image = _textured(seed=1)
    mask = _box(56, 64, 15, 15, 18)
    a = inpaint_patchmatch(image, mask, seed=3)
    b = inpaint_patchmatch(image, mask, seed=3)
    c = inpaint_patchmatch(image, mask, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)  # noise: a different random search finds other matches
    big = inpaint_patchmatch(image, mask, seed=2**63 + 5)  # any int >= 0, no overflow
    assert np.isfinite(big).all()


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"patch_size": 6}, ValueError, "patch_size must be odd"),
        ({"patch_size": 1}, ValueError, "patch_size must be an int >= 3"),
        ({"patch_size": 7.0}, TypeError, "patch_size must be an int >= 3"),
        ({"em_iterations": 0}, ValueError, "em_iterations must be an int >= 1"),
        ({"pm_iterations": 0}, ValueError, "pm_iterations must be an int >= 1"),
        ({"min_size": 4}, ValueError, "min_size must be an int >= 7"),
        ({"seed": -1}, ValueError, "seed must be >= 0"),
    ],
)
def test_bad_options_raise(options: dict, error: type, match: str) -> None:
    image = _textured()
    with pytest.raises(error, match=match):
        inpaint_patchmatch(image, _box(56, 64, 5, 5, 5), **options)
    with pytest.raises(error, match=match):
        PatchMatchInpainter(**options)


def test_bad_inputs_raise() -> None:
    image = _textured()
    with pytest.raises(ValueError, match=r"mask must be \(H, W\) = \(56, 64\)"):
        inpaint_patchmatch(image, np.zeros((56, 63), bool))
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        inpaint_patchmatch(image[..., :2], np.zeros((56, 64), bool))
    with pytest.raises(TypeError, match="image must be a numpy array"):
        inpaint_patchmatch(torch.rand(56, 64, 3), np.zeros((56, 64), bool))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="covers the whole image"):
        inpaint_patchmatch(image, np.ones((56, 64), bool))
    stripes_left = np.ones((56, 64), bool)
    stripes_left[:, :4] = False  # known pixels, but no 7x7 patch free of the hole
    with pytest.raises(InputError, match="no 7x7 patch of the image lies entirely outside"):
        inpaint_patchmatch(image, stripes_left)


def test_empty_mask_returns_the_input_with_a_warning() -> None:
    image = _textured()
    with pytest.warns(UserWarning, match="no hole"):
        out = inpaint_patchmatch(image, np.zeros((56, 64), bool))
    assert np.array_equal(out, image)


def test_registered_inpainter_on_a_batch() -> None:
    method = get_inpainter("patchmatch", patch_size=5, seed=2)
    assert isinstance(method, Inpainter) and method.name == "patchmatch"
    assert "patch_size=5" in repr(method)
    image = torch.from_numpy(np.stack([_textured(seed=0), _stripes(56, 64)])).permute(0, 3, 1, 2)
    mask = torch.zeros(2, 1, 56, 64)
    mask[0, :, 10:20, 10:30] = 1
    mask[1, :, 30:45, 40:50] = 1
    out = method(image.double(), mask.double())
    assert out.shape == (2, 3, 56, 64) and out.dtype == torch.float64
    keep = mask.expand_as(out) == 0
    assert torch.equal(out[keep], image.double()[keep])
    one = inpaint_patchmatch(_textured(seed=0), mask[0, 0].numpy() > 0.5, patch_size=5, seed=2)
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), one, atol=1e-6)
