"""Tests for mattepaint.losses.matting: hand-computed golden values, gradcheck, errors."""

from __future__ import annotations

import math

import pytest
import torch

from mattepaint.losses.matting import (
    charbonnier,
    composition_loss,
    fusion_loss,
    gradient_l1,
    laplacian_loss,
    laplacian_pyramid,
    lf_branch_loss,
    lf_difference,
    transition_mask,
    weighted_bce,
)


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def _row(values) -> torch.Tensor:
    """(1, 1, 1, N) float64 from a list."""
    return _t([[[values]]])


# ----------------------------------------------------------------------------- charbonnier


def test_charbonnier_golden() -> None:
    # eps 0.4: sqrt(0 + 0.16) = 0.4, sqrt(0.09 + 0.16) = 0.5 -> mean 0.45
    pred, target = _row([0.0, 0.3]), _row([0.0, 0.0])
    assert charbonnier(pred, target, eps=0.4).item() == pytest.approx(0.45)
    # weights [1, 3]: (0.4 + 3 * 0.5) / 4 = 0.475
    weighted = charbonnier(pred, target, eps=0.4, weight=_row([1.0, 3.0]))
    assert weighted.item() == pytest.approx(0.475)
    # eps 0 is L1: (0 + 0.3) / 2
    assert charbonnier(pred, target, eps=0).item() == pytest.approx(0.15)


def test_charbonnier_eps_zero_gradient_finite_at_zero() -> None:
    pred = torch.zeros(1, 1, 2, 2, requires_grad=True)
    charbonnier(pred, torch.zeros(1, 1, 2, 2), eps=0).backward()
    assert torch.isfinite(pred.grad).all()


def test_charbonnier_errors() -> None:
    with pytest.raises(ValueError, match="same shape"):
        charbonnier(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3))
    with pytest.raises(ValueError, match="eps must be"):
        charbonnier(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), eps=-1.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        charbonnier([0.0], torch.zeros(1, 1, 2, 2))


# ----------------------------------------------------------------------------- composition


def test_composition_loss_golden() -> None:
    # F = 1, B = 0: C(a) = a. pred [1, .5], gt [0, .5] -> |d| = [1, 0] in all 3 channels
    pred, gt = _row([1.0, 0.5]), _row([0.0, 0.5])
    fg = torch.ones(1, 3, 1, 2, dtype=torch.float64)
    bg = torch.zeros(1, 3, 1, 2, dtype=torch.float64)
    assert composition_loss(pred, gt, fg, bg, eps=0).item() == pytest.approx(0.5)  # 3 / 6
    # eps 0.75: sqrt(1 + .5625) = 1.25, sqrt(.5625) = .75 -> mean 1.0
    assert composition_loss(pred, gt, fg, bg, eps=0.75).item() == pytest.approx(1.0)
    # F == B: no signal at all (only eps remains)
    assert composition_loss(pred, gt, bg, bg, eps=0).item() == 0.0


def test_composition_loss_shape_errors() -> None:
    a = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        rgb = torch.zeros(1, 3, 4, 4)
        composition_loss(rgb, a, rgb, rgb)
    with pytest.raises(ValueError, match="like alpha"):
        composition_loss(a, a, torch.zeros(1, 3, 4, 5), torch.zeros(1, 3, 4, 5))


# ----------------------------------------------------------------------------- Laplacian


def test_laplacian_pyramid_shapes() -> None:
    pyr = laplacian_pyramid(torch.rand(2, 1, 33, 40), levels=3)
    assert [tuple(p.shape[-2:]) for p in pyr] == [(33, 40), (16, 20), (8, 10), (4, 5)]


def test_laplacian_loss_golden_one_level() -> None:
    # x = [[1, 0], [0, 0]], target 0, levels 1 (2x2: replicate padding). 1-D weights of the
    # binomial [1,4,6,4,1]/16 folded by replicate padding: centre 0 -> (11, 5)/16, centre 1 ->
    # (5, 11)/16. blur = [[121, 55], [55, 25]] / 256; band = x - blur = [[135, -55], [-55, -25]]
    # / 256, mean |band| = 270 / 1024; rest = avgpool(blur) = 256 / 1024 = 0.25 (weight 2).
    x = _t([[[[1.0, 0.0], [0.0, 0.0]]]])
    expected = 270 / 1024 + 2 * 0.25
    assert laplacian_loss(x, torch.zeros_like(x), levels=1).item() == pytest.approx(expected)


def test_laplacian_loss_constant_offset_only_hits_the_rest() -> None:
    # band-pass levels of a constant are 0, so an offset c shows only in the low-pass rest,
    # weighted 2**levels: 32 * 0.1
    target = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    loss = laplacian_loss(target + 0.1, target, levels=5)
    assert loss.item() == pytest.approx(3.2)
    assert laplacian_loss(target, target).item() == 0.0


def test_laplacian_loss_too_small() -> None:
    with pytest.raises(ValueError, match="needs H, W >= 32"):
        laplacian_loss(torch.zeros(1, 1, 16, 64), torch.zeros(1, 1, 16, 64), levels=5)
    with pytest.raises(ValueError, match="levels must be"):
        laplacian_loss(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16), levels=0)


# ----------------------------------------------------------------------------- late fusion


def test_transition_mask() -> None:
    alpha = _row([0.0, 0.2 / 255, 1 / 255, 0.5, 254 / 255, 1 - 0.2 / 255, 1.0]).float()
    expected = [False, False, True, True, True, False, False]
    assert transition_mask(alpha)[0, 0, 0].tolist() == expected
    assert transition_mask(alpha, tolerance=0)[0, 0, 0].tolist() == [
        False, True, True, True, True, True, False,
    ]
    with pytest.raises(ValueError, match="tolerance"):
        transition_mask(alpha, tolerance=0.6)


def test_lf_difference_golden() -> None:
    # alpha 0 and 1: L2 -> 0.25, 0.25; alpha 0.6 (transition): L1 -> 0.4; mean 0.3
    assert lf_difference(_row([0.5, 0.5, 0.2]), _row([0.0, 1.0, 0.6])).item() == pytest.approx(0.3)


def test_gradient_l1_golden() -> None:
    # pred [[0, 1], [2, 4]], target 0: d_x = [1, 2] -> 1.5; d_y = [2, 3] -> 2.5; sum 4.0
    pred = _t([[[[0.0, 1.0], [2.0, 4.0]]]])
    assert gradient_l1(pred, torch.zeros_like(pred)).item() == pytest.approx(4.0)
    # a constant offset has no gradient
    assert gradient_l1(pred + 3, pred).item() == 0.0
    with pytest.raises(ValueError, match="H, W >= 2"):
        gradient_l1(torch.zeros(1, 1, 1, 4), torch.zeros(1, 1, 1, 4))


def test_weighted_bce_golden() -> None:
    # pixel 0: alpha 1 (w 1), p .5 -> ln 2; pixel 1: alpha .5 (w .5), p .25 ->
    # .5 * -(.5 ln .25 + .5 ln .75) = .25 (ln 4 + ln 4/3); mean over 2 pixels
    expected = (math.log(2) + 0.25 * (math.log(4) + math.log(4 / 3))) / 2
    assert weighted_bce(_row([0.5, 0.25]), _row([1.0, 0.5])).item() == pytest.approx(expected)
    # saturated probabilities stay finite
    assert math.isfinite(weighted_bce(_row([0.0, 1.0]), _row([1.0, 0.0])).item())


def test_fusion_loss_golden() -> None:
    # alpha 0 -> w .1 * .5 = .05; alpha .5 -> w 1 * .4 = .4; mean .225
    assert fusion_loss(_row([0.5, 0.9]), _row([0.0, 0.5])).item() == pytest.approx(0.225)


def test_lf_branch_loss_is_mean_over_side_outputs() -> None:
    torch.manual_seed(0)
    alpha = torch.rand(2, 1, 8, 8, dtype=torch.float64).round()
    alpha[:, :, 2:4] = 0.3
    probs = [torch.rand(2, 1, 8, 8, dtype=torch.float64) for _ in range(3)]
    parts = [
        weighted_bce(p, alpha) + lf_difference(p, alpha) + gradient_l1(p, alpha) for p in probs
    ]
    assert lf_branch_loss(probs, alpha).item() == pytest.approx(float(sum(parts) / 3))
    assert lf_branch_loss(probs[0], alpha).item() == pytest.approx(parts[0].item())
    with pytest.raises(ValueError, match="non-empty"):
        lf_branch_loss([], alpha)


# ----------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize(
    "fn",
    [
        lambda p, a, f, b: charbonnier(p, a, eps=1e-2),
        lambda p, a, f, b: charbonnier(p, a, weight=a + 0.5),
        lambda p, a, f, b: composition_loss(p, a, f, b),
        lambda p, a, f, b: laplacian_loss(p, a, levels=2),
        lambda p, a, f, b: lf_difference(p, a),
        lambda p, a, f, b: gradient_l1(p, a),
        lambda p, a, f, b: weighted_bce(p, a),
        lambda p, a, f, b: lf_branch_loss([p, p * 0.5], a),
        lambda p, a, f, b: fusion_loss(p, a),
    ],
)
def test_gradcheck(fn) -> None:
    gen = torch.Generator().manual_seed(1)
    pred = (torch.rand(1, 1, 4, 4, generator=gen, dtype=torch.float64) * 0.8 + 0.1)
    pred.requires_grad_(True)
    alpha = torch.rand(1, 1, 4, 4, generator=gen, dtype=torch.float64)
    alpha[0, 0, 0] = 0.0
    alpha[0, 0, 1, :2] = 1.0
    fg = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64)
    bg = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: fn(p, alpha, fg, bg), (pred,))
