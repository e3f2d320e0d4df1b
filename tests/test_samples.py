"""Tests for mattepaint.samples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mattepaint.compositing import composite, trimap_from_alpha
from mattepaint.samples import (
    InpaintingSample,
    MattingSample,
    make_background,
    make_inpainting_sample,
    make_matting_sample,
)


def _assert_image(x: np.ndarray, shape: tuple[int, int]) -> None:
    assert x.shape == (*shape, 3)
    assert x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0


class TestMattingSample:
    @pytest.mark.parametrize("size", [(256, 256), (96, 160)])
    def test_shapes_and_ranges(self, size: tuple[int, int]) -> None:
        s = make_matting_sample(size, seed=3)
        assert isinstance(s, MattingSample)
        for name in ("image", "foreground", "background"):
            _assert_image(getattr(s, name), size)
        assert s.alpha.shape == size and s.alpha.dtype == np.float32
        assert s.alpha.min() == 0.0 and s.alpha.max() == 1.0
        assert s.trimap.shape == size and s.trimap.dtype == np.float32
        assert set(np.unique(s.trimap).tolist()) == {0.0, 0.5, 1.0}

    def test_image_is_composite(self) -> None:
        s = make_matting_sample(seed=0)
        expected = composite(s.foreground, s.background, s.alpha)
        np.testing.assert_allclose(s.image, expected, atol=1e-6)

    def test_background_is_make_background(self) -> None:
        for seed in (0, 5):
            s = make_matting_sample((128, 96), seed=seed)
            np.testing.assert_array_equal(s.background, make_background((128, 96), seed=seed))

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_soft_alpha(self, seed: int) -> None:
        alpha = make_matting_sample(seed=seed).alpha
        fractional = (alpha > 0) & (alpha < 1)
        assert fractional.mean() > 0.03
        assert (alpha == 1).mean() > 0.05  # a solid core
        assert (alpha == 0).mean() > 0.3  # plenty of background
        assert ((alpha > 0) & (alpha < 0.5)).mean() > 0.01  # faint strands, not just edges
        # an 8-bit matte
        np.testing.assert_allclose(alpha * 255, np.round(alpha * 255), atol=1e-4)

    def test_trimap_matches_alpha(self) -> None:
        s = make_matting_sample(seed=0)
        np.testing.assert_array_equal(s.trimap, trimap_from_alpha(s.alpha, width=10))
        fractional = (s.alpha > 0) & (s.alpha < 1)
        assert (s.trimap[fractional] == 0.5).all()

    def test_foreground_differs_from_background(self) -> None:
        for seed in range(4):
            s = make_matting_sample(seed=seed)
            opaque = s.alpha == 1
            fg_mean = s.foreground[opaque].mean(0)
            bg_mean = s.background.reshape(-1, 3).mean(0)
            assert 0.1 < float(np.linalg.norm(fg_mean - bg_mean)) < 1.0

    def test_deterministic(self) -> None:
        a, b = make_matting_sample(seed=4), make_matting_sample(seed=4)
        for field in dataclasses.fields(MattingSample):
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
        c = make_matting_sample(seed=5)
        assert not np.array_equal(a.alpha, c.alpha)
        assert not np.array_equal(a.background, c.background)

    def test_background_has_texture(self) -> None:
        bg = make_background((128, 128), seed=0)
        _assert_image(bg, (128, 128))
        assert bg.std(axis=(0, 1)).min() > 0.02  # not a flat colour
        # neighbouring pixels are correlated (smooth, natural), not pure noise
        dx = np.abs(np.diff(bg, axis=1)).mean()
        assert dx < 0.5 * bg.std()

    def test_errors(self) -> None:
        with pytest.raises(ValueError, match=r"at least \(32, 32\), got \(16, 64\)"):
            make_matting_sample((16, 64))
        with pytest.raises(TypeError, match="size must be a tuple"):
            make_matting_sample(256)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="seed must be a non-negative int"):
            make_background((64, 64), seed=-1)


class TestInpaintingSample:
    @pytest.mark.parametrize("size", [(256, 256), (120, 200)])
    def test_shapes_and_ranges(self, size: tuple[int, int]) -> None:
        s = make_inpainting_sample(size, seed=1)
        assert isinstance(s, InpaintingSample)
        _assert_image(s.image, size)
        _assert_image(s.clean, size)
        assert s.mask.shape == size and s.mask.dtype == np.bool_
        assert 0.02 < s.mask.mean() < 0.4

    def test_image_equals_clean_outside_hole(self) -> None:
        for seed in range(3):
            s = make_inpainting_sample(seed=seed)
            np.testing.assert_array_equal(s.image[~s.mask], s.clean[~s.mask])
            # the hole really hides something
            assert np.abs(s.image[s.mask] - s.clean[s.mask]).mean() > 0.05

    def test_structure_crosses_hole(self) -> None:
        # strong edges in the clean picture inside the hole: something to continue
        s = make_inpainting_sample(seed=0)
        grad = np.abs(np.diff(s.clean, axis=1)).max(axis=2)  # (H, W-1)
        assert (grad[s.mask[:, 1:]] > 0.1).sum() > 20

    def test_deterministic(self) -> None:
        a, b = make_inpainting_sample(seed=2), make_inpainting_sample(seed=2)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.mask, b.mask)
        np.testing.assert_array_equal(a.clean, b.clean)
        assert not np.array_equal(a.mask, make_inpainting_sample(seed=3).mask)
