"""Tests for mattepaint.compositing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mattepaint.compositing import (
    COLOURS,
    checkerboard,
    composite,
    composite_onto,
    cutout,
    estimate_foreground,
    parse_colour,
    trimap_from_alpha,
    trimap_from_mask,
)


def _random_fba(rng: np.random.Generator, h: int = 8, w: int = 10):
    fg = rng.random((h, w, 3), dtype=np.float32)
    bg = rng.random((h, w, 3), dtype=np.float32)
    alpha = rng.random((h, w), dtype=np.float32)
    return fg, bg, alpha


# --------------------------------------------------------------------------------------------
# composite
# --------------------------------------------------------------------------------------------


class TestComposite:
    def test_golden_pixel(self) -> None:
        # 0.25 * (0.8, 0.4, 0.0) + 0.75 * (0.0, 0.4, 1.0) = (0.2, 0.4, 0.75)
        fg = np.array([[[0.8, 0.4, 0.0]]], np.float32)
        bg = np.array([[[0.0, 0.4, 1.0]]], np.float32)
        out = composite(fg, bg, np.array([[0.25]], np.float32))
        np.testing.assert_allclose(out[0, 0], [0.2, 0.4, 0.75], atol=1e-7)
        assert out.dtype == np.float32

    def test_extremes(self, rng: np.random.Generator) -> None:
        fg, bg, _ = _random_fba(rng)
        np.testing.assert_array_equal(composite(fg, bg, np.ones(fg.shape[:2], np.float32)), fg)
        np.testing.assert_array_equal(composite(fg, bg, np.zeros(fg.shape[:2], np.float32)), bg)

    def test_numpy_alpha_shapes_agree(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        a = composite(fg, bg, alpha)
        b = composite(fg, bg, alpha[..., None])
        assert a.shape == (8, 10, 3)
        np.testing.assert_array_equal(a, b)

    def test_numpy_bool_alpha(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        hard = alpha > 0.5
        out = composite(fg, bg, hard)
        np.testing.assert_array_equal(out[hard], fg[hard])
        np.testing.assert_array_equal(out[~hard], bg[~hard])

    def test_numpy_grey_background(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        grey = bg[..., :1]
        out = composite(fg, grey, alpha)
        np.testing.assert_allclose(out, composite(fg, np.repeat(grey, 3, 2), alpha), atol=0)

    def test_numpy_and_torch_agree(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        ref = composite(fg, bg, alpha)
        out = composite(
            torch.from_numpy(fg).permute(2, 0, 1)[None],  # (H, W, 3) -> (1, 3, H, W)
            torch.from_numpy(bg).permute(2, 0, 1)[None],
            torch.from_numpy(alpha)[None, None],  # (H, W) -> (1, 1, H, W)
        )
        assert out.shape == (1, 3, 8, 10)
        np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), ref, atol=1e-7)

    @pytest.mark.parametrize(
        "bg_shape", [(2, 3, 4, 5), (1, 3, 4, 5), (2, 1, 4, 5), (1, 1, 4, 5)]
    )
    @pytest.mark.parametrize("alpha_shape", [(2, 1, 4, 5), (1, 1, 4, 5)])
    def test_torch_broadcasting(self, bg_shape, alpha_shape) -> None:
        g = torch.Generator().manual_seed(0)
        fg = torch.rand(2, 3, 4, 5, generator=g)
        bg = torch.rand(bg_shape, generator=g)
        alpha = torch.rand(alpha_shape, generator=g)
        out = composite(fg, bg, alpha)
        assert out.shape == (2, 3, 4, 5)
        a, b = alpha.expand(2, 1, 4, 5), bg.expand(2, 3, 4, 5)
        expected = a * fg + (1 - a) * b
        torch.testing.assert_close(out, expected)

    @pytest.mark.parametrize(
        ("seed", "bg_shape"), [(0, (2, 3, 3, 4)), (1, (1, 1, 3, 4))], ids=["full", "broadcast"]
    )
    def test_gradcheck(self, seed: int, bg_shape: tuple[int, ...]) -> None:
        g = torch.Generator().manual_seed(seed)
        fg = torch.rand(2, 3, 3, 4, dtype=torch.float64, generator=g, requires_grad=True)
        bg = torch.rand(bg_shape, dtype=torch.float64, generator=g, requires_grad=True)
        alpha = torch.rand(2, 1, 3, 4, dtype=torch.float64, generator=g, requires_grad=True)
        assert torch.autograd.gradcheck(composite, (fg, bg, alpha))

    def test_gradient_values(self) -> None:
        # dC/dalpha = F - B, summed over channels by .sum()
        fg = torch.tensor([0.9, 0.5, 0.1]).view(1, 3, 1, 1)
        bg = torch.tensor([0.1, 0.5, 0.2]).view(1, 3, 1, 1)
        alpha = torch.full((1, 1, 1, 1), 0.3, requires_grad=True)
        composite(fg, bg, alpha).sum().backward()
        assert alpha.grad is not None
        assert alpha.grad.item() == pytest.approx(0.8 + 0.0 - 0.1)

    def test_mixing_numpy_and_torch(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.raises(TypeError, match="all numpy arrays or all torch tensors"):
            composite(torch.from_numpy(fg), bg, alpha)

    def test_not_arrays(self) -> None:
        with pytest.raises(TypeError, match="numpy arrays or torch tensors"):
            composite([0.5], [0.5], [0.5])  # type: ignore[arg-type]

    def test_integer_input(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.raises(TypeError, match="fg must be a floating-point array.*uint8"):
            composite((fg * 255).astype(np.uint8), bg, alpha)

    def test_numpy_shape_mismatch_names_both(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.raises(ValueError, match=r"alpha must be .*\(8, 10, 3\).*got alpha \(8, 9\)"):
            composite(fg, bg, alpha[:, :9])
        with pytest.raises(ValueError, match=r"bg must be .*\(8, 10, 3\).*got bg \(7, 10, 3\)"):
            composite(fg, bg[:7], alpha)
        with pytest.raises(ValueError, match=r"fg must be \(H, W, C\)"):
            composite(fg[..., 0], bg, alpha)

    def test_torch_shape_mismatch_names_both(self) -> None:
        fg = torch.rand(2, 3, 4, 5)
        expected = r"alpha must be \(B, 1, H, W\) like fg \(2, 3, 4, 5\)"
        with pytest.raises(ValueError, match=expected):
            composite(fg, fg, fg)
        with pytest.raises(ValueError, match=r"bg .*got bg \(3, 3, 4, 5\)"):
            composite(fg, torch.rand(3, 3, 4, 5), torch.rand(2, 1, 4, 5))
        with pytest.raises(ValueError, match=r"alpha .*got alpha \(2, 1, 4\)"):
            composite(fg, fg, torch.rand(2, 1, 4))
        with pytest.raises(ValueError, match=r"fg must be \(B, C, H, W\)"):
            composite(fg[0], fg[0], torch.rand(1, 4, 5))

    def test_warns_alpha_out_of_range(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.warns(UserWarning, match="outside \\[0, 1\\]"):
            composite(fg, bg, alpha * 2)


# --------------------------------------------------------------------------------------------
# trimaps
# --------------------------------------------------------------------------------------------


def _soft_disk(h: int = 64, w: int = 64) -> np.ndarray:
    """A disk of radius 16 with a 6-pixel linear ramp, quantised to 1/255 like a PNG matte."""
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((22 - r) / 6, 0, 1)
    return (np.round(alpha * 255) / 255).astype(np.float32)


class TestTrimapFromAlpha:
    def test_values_and_dtype(self) -> None:
        trimap = trimap_from_alpha(_soft_disk(), width=3)
        assert trimap.shape == (64, 64) and trimap.dtype == np.float32
        assert set(np.unique(trimap).tolist()) == {0.0, 0.5, 1.0}

    @pytest.mark.parametrize("width", [0, 1, 5, 12])
    def test_unknown_covers_fractional(self, width: int) -> None:
        alpha = _soft_disk()
        trimap = trimap_from_alpha(alpha, width=width)
        fractional = (alpha > 0) & (alpha < 1)
        assert fractional.any()
        assert (trimap[fractional] == 0.5).all()
        # definite regions are correct: fg only where alpha == 1, bg only where alpha == 0
        assert (alpha[trimap == 1] == 1).all()
        assert (alpha[trimap == 0] == 0).all()

    def test_width_zero_is_exact(self) -> None:
        alpha = _soft_disk()
        trimap = trimap_from_alpha(alpha, width=0)
        np.testing.assert_array_equal(trimap == 0.5, (alpha > 0) & (alpha < 1))

    def test_golden_single_pixel(self) -> None:
        # One fractional pixel; width 2 -> the unknown region is cv2's 5x5 ellipse:
        # cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)).sum() == 17
        #   0 0 1 0 0 / 1 1 1 1 1 / 1 1 1 1 1 / 1 1 1 1 1 / 0 0 1 0 0
        alpha = np.zeros((11, 11), np.float32)
        alpha[5, 5] = 0.5
        trimap = trimap_from_alpha(alpha, width=2)
        expected = np.zeros((11, 11), np.float32)
        expected[3:8, 3:8] = 0.5 * np.array(
            [[0, 0, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]]
        )
        np.testing.assert_array_equal(trimap, expected)
        assert int((trimap == 0.5).sum()) == 17

    def test_width_monotone(self) -> None:
        alpha = _soft_disk()
        unknown = [int((trimap_from_alpha(alpha, width=w) == 0.5).sum()) for w in (0, 2, 4, 8, 12)]
        assert all(a < b for a, b in zip(unknown, unknown[1:])), unknown

    def test_thresholds_uint8_rounding(self) -> None:
        # 254.6/255 rounds to 255 -> foreground; 0.4/255 rounds to 0 -> background
        alpha = np.array([[254.6 / 255, 0.4 / 255, 254.4 / 255, 0.6 / 255]], np.float32)
        np.testing.assert_array_equal(trimap_from_alpha(alpha, width=0), [[1.0, 0.0, 0.5, 0.5]])

    def test_custom_thresholds(self) -> None:
        alpha = np.array([[0.97, 0.03, 0.5]], np.float32)
        trimap = trimap_from_alpha(alpha, width=0, fg_threshold=0.95, bg_threshold=0.05)
        np.testing.assert_array_equal(trimap, [[1.0, 0.0, 0.5]])

    def test_accepts_hw1(self) -> None:
        alpha = _soft_disk()
        np.testing.assert_array_equal(
            trimap_from_alpha(alpha[..., None], width=3), trimap_from_alpha(alpha, width=3)
        )

    def test_random_width_deterministic(self) -> None:
        alpha = _soft_disk()
        a = [trimap_from_alpha(alpha, rng=np.random.default_rng(7)) for _ in range(2)]
        np.testing.assert_array_equal(a[0], a[1])
        # the drawn width is rng.integers(1, 30, endpoint=True)
        width = int(np.random.default_rng(7).integers(1, 30, endpoint=True))
        np.testing.assert_array_equal(a[0], trimap_from_alpha(alpha, width=width))

    def test_random_width_range(self) -> None:
        alpha = _soft_disk()
        rng = np.random.default_rng(0)
        sizes = {
            int((trimap_from_alpha(alpha, rng=rng, min_width=2, max_width=4) == 0.5).sum())
            for _ in range(30)
        }
        allowed = {int((trimap_from_alpha(alpha, width=w) == 0.5).sum()) for w in (2, 3, 4)}
        assert sizes == allowed

    def test_width_none_needs_rng(self) -> None:
        with pytest.raises(ValueError, match="needs rng"):
            trimap_from_alpha(_soft_disk())

    def test_bad_arguments(self) -> None:
        alpha = _soft_disk()
        with pytest.raises(ValueError, match="width must be >= 0, got -1"):
            trimap_from_alpha(alpha, width=-1)
        with pytest.raises(TypeError, match="width must be an int"):
            trimap_from_alpha(alpha, width=2.5)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="min_width must be <= max_width"):
            trimap_from_alpha(alpha, rng=np.random.default_rng(0), min_width=5, max_width=2)
        with pytest.raises(ValueError, match="bg_threshold < fg_threshold"):
            trimap_from_alpha(alpha, width=1, fg_threshold=0.2, bg_threshold=0.5)
        with pytest.raises(ValueError, match=r"\(H, W\).*got \(64, 64, 3\)"):
            trimap_from_alpha(np.zeros((64, 64, 3), np.float32), width=1)
        with pytest.raises(TypeError, match="numpy array"):
            trimap_from_alpha(torch.zeros(8, 8), width=1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="float array"):
            trimap_from_alpha(np.zeros((8, 8), np.uint8), width=1)


class TestTrimapFromMask:
    def test_band(self) -> None:
        mask = np.zeros((40, 40), bool)
        mask[10:30, 10:30] = True
        trimap = trimap_from_mask(mask, width=3)
        assert trimap.dtype == np.float32 and trimap.shape == (40, 40)
        # Square of side 20: eroded by 3 -> 14x14 fg; dilated by 3 (ellipse, corners rounded)
        assert (trimap[13:27, 13:27] == 1).all() and int((trimap == 1).sum()) == 14 * 14
        assert (trimap[7:33, 10:30] > 0).all() and (trimap[10:30, 7:33] > 0).all()
        assert (trimap[:7] == 0).all() and (trimap[33:] == 0).all()
        # The band straddles the boundary: unknown on both sides of it
        assert trimap[10, 20] == 0.5 and trimap[9, 20] == 0.5 and trimap[12, 20] == 0.5
        # golden count: cv2.dilate(m, ellipse 7x7).sum() - 14*14 with m the 20x20 square
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
        outer = int(cv2.dilate(mask.astype(np.uint8), kernel).sum())
        assert int((trimap == 0.5).sum()) == outer - 196

    def test_width_monotone_and_zero(self) -> None:
        mask = np.zeros((40, 40), bool)
        mask[8:32, 12:28] = True
        np.testing.assert_array_equal(trimap_from_mask(mask, width=0), mask.astype(np.float32))
        counts = [int((trimap_from_mask(mask, width=w) == 0.5).sum()) for w in (1, 2, 4)]
        assert counts[0] < counts[1] < counts[2]

    def test_numeric_mask(self) -> None:
        mask = np.zeros((20, 20), np.float32)
        mask[5:15, 5:15] = 1
        expected = trimap_from_mask(mask > 0, width=2)
        np.testing.assert_array_equal(trimap_from_mask(mask, width=2), expected)

    def test_warnings(self) -> None:
        with pytest.warns(UserWarning, match="no foreground"):
            trimap_from_mask(np.zeros((8, 8), bool))
        with pytest.warns(UserWarning, match="not binary"):
            trimap_from_mask(np.full((8, 8), 0.7, np.float32), width=1)

    def test_errors(self) -> None:
        with pytest.raises(ValueError, match=r"\(H, W\).*got \(4, 4, 3\)"):
            trimap_from_mask(np.zeros((4, 4, 3), bool))
        with pytest.raises(ValueError, match="width must be >= 0"):
            trimap_from_mask(np.ones((4, 4), bool), width=-2)


# --------------------------------------------------------------------------------------------
# foreground estimation, cutout, composite_onto
# --------------------------------------------------------------------------------------------


def _synthetic_fba(h: int = 48, w: int = 48):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fg = np.stack([0.2 + 0.6 * xx / w, 0.7 - 0.3 * yy / h, np.full_like(xx, 0.3)], 2)
    bg = np.stack([0.1 + 0.2 * yy / h, 0.3 + 0.4 * xx / w, np.full_like(xx, 0.8)], 2)
    r = np.hypot(yy - h / 2, xx - w / 2)
    alpha = np.clip((16 - r) / 8, 0, 1).astype(np.float32)
    return fg.astype(np.float32), bg.astype(np.float32), alpha


class TestEstimateForeground:
    def test_recovers_foreground(self) -> None:
        fg, bg, alpha = _synthetic_fba()
        image = composite(fg, bg, alpha)
        est = estimate_foreground(image, alpha)
        assert est.shape == (48, 48, 3) and est.dtype == np.float32
        assert est.min() >= 0 and est.max() <= 1
        region = alpha > 0.1
        err = np.abs(est - fg)[region]
        # naive "F = image" is far off in the soft band; the estimate must beat it clearly
        naive = np.abs(image - fg)[region]
        assert err.mean() < 0.02, err.mean()
        assert np.percentile(err, 99) < 0.1
        assert err.mean() < 0.5 * naive.mean()
        # composite of the estimate reproduces the image
        np.testing.assert_allclose(composite(est, bg, alpha)[region], image[region], atol=0.06)

    def test_size_mismatch(self) -> None:
        fg, _, alpha = _synthetic_fba(16, 16)
        expected = r"alpha must be \(H, W\) like image \(16, 16, 3\), got alpha \(15, 16\)"
        with pytest.raises(ValueError, match=expected):
            estimate_foreground(fg, alpha[:15])
        with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
            estimate_foreground(fg[..., :2], alpha)
        with pytest.raises(TypeError, match="torch tensor"):
            estimate_foreground(torch.from_numpy(fg), alpha)  # type: ignore[arg-type]


class TestCutout:
    def test_shapes_and_channels(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        rgba = cutout(bg, alpha)
        assert rgba.shape == (8, 10, 4) and rgba.dtype == np.float32
        np.testing.assert_array_equal(rgba[..., :3], bg)
        np.testing.assert_array_equal(rgba[..., 3], alpha)
        rgba = cutout(bg, alpha[..., None], foreground=fg)
        np.testing.assert_array_equal(rgba[..., :3], fg)
        np.testing.assert_array_equal(rgba[..., 3], alpha)

    def test_errors(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.raises(ValueError, match="like image"):
            cutout(bg, alpha[:4])
        with pytest.raises(ValueError, match=r"\(H, W\) like image \(8, 9, 3\)"):
            cutout(bg, alpha, foreground=fg[:, :9])


class TestCompositeOnto:
    def test_white_equals_composite_with_ones(self, rng: np.random.Generator) -> None:
        fg, _, alpha = _random_fba(rng)
        out = composite_onto(fg, alpha, "white")
        assert out.shape == (8, 10, 3) and out.dtype == np.float32
        np.testing.assert_array_equal(out, composite(fg, np.ones_like(fg), alpha))

    @pytest.mark.parametrize(
        ("colour", "rgb"),
        [
            ("black", (0, 0, 0)),
            ("#00ff00", (0, 1, 0)),
            ("green", (0, 1, 0)),
            ("#F00", (1, 0, 0)),
            (" Blue ", (0, 0, 1)),
            ((0.2, 0.4, 0.6), (0.2, 0.4, 0.6)),
        ],
    )
    def test_colours(self, colour, rgb) -> None:
        fg = np.full((4, 4, 3), 0.5, np.float32)
        alpha = np.zeros((4, 4), np.float32)
        alpha[0, 0] = 1.0
        out = composite_onto(fg, alpha, colour)
        np.testing.assert_allclose(out[1, 1], rgb, atol=1e-6)
        np.testing.assert_allclose(out[0, 0], 0.5, atol=1e-6)

    def test_background_image(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        out = composite_onto(fg, alpha, bg)
        np.testing.assert_allclose(out, composite(fg, bg, alpha), atol=1e-7)

    def test_checkerboard(self) -> None:
        fg = np.zeros((40, 40, 3), np.float32)
        out = composite_onto(fg, np.zeros((40, 40), np.float32), "checkerboard")
        np.testing.assert_array_equal(out, checkerboard((40, 40)))

    def test_errors(self, rng: np.random.Generator) -> None:
        fg, bg, alpha = _random_fba(rng)
        with pytest.raises(ValueError, match="unknown colour 'chartreuse'.*checkerboard"):
            composite_onto(fg, alpha, "chartreuse")
        with pytest.raises(ValueError, match="3 floats in \\[0, 1\\]"):
            composite_onto(fg, alpha, (0, 128, 255))
        expected = r"background must be \(H, W, 3\) like foreground \(8, 10, 3\)"
        with pytest.raises(ValueError, match=expected):
            composite_onto(fg, alpha, bg[:4])
        with pytest.raises(TypeError, match="colour must be"):
            composite_onto(fg, alpha, 3)  # type: ignore[arg-type]


def test_parse_colour() -> None:
    assert parse_colour("#ff8000") == pytest.approx((1.0, 128 / 255, 0.0))
    assert parse_colour("white") == COLOURS["white"] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="unknown colour"):
        parse_colour("#12345")


def test_checkerboard() -> None:
    board = checkerboard((20, 40), tile=16)
    assert board.shape == (20, 40, 3) and board.dtype == np.float32
    assert board[0, 0, 0] == pytest.approx(0.8) and board[0, 16, 0] == pytest.approx(0.6)
    assert board[16, 0, 0] == pytest.approx(0.6) and board[16, 16, 0] == pytest.approx(0.8)
    assert (board[..., 0] == board[..., 2]).all()
    np.testing.assert_array_equal(np.unique(board), np.array([0.6, 0.8], np.float32))
    with pytest.raises(ValueError, match="tile must be an int >= 1"):
        checkerboard((4, 4), tile=0)
