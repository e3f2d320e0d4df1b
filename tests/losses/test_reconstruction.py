"""Tests for mattepaint.losses.reconstruction: golden values, gradcheck, empty masks, errors."""

from __future__ import annotations

import math

import pytest
import torch

from mattepaint import losses


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# ----------------------------------------------------------------------------- l1 / mse


def test_l1_mse_plain_golden() -> None:
    # |d| = 0, 1, 2, 3 -> L1 = 6 / 4 = 1.5; MSE = (0 + 1 + 4 + 9) / 4 = 3.5
    pred = _t([[[[0.0, 1.0]], [[2.0, 3.0]]]])  # (1, 2, 1, 2)
    target = torch.zeros_like(pred)
    assert losses.l1(pred, target).item() == pytest.approx(1.5)
    assert losses.mse(pred, target).item() == pytest.approx(3.5)


def test_l1_mse_weighted_golden() -> None:
    # weight (1, 1, 1, 2) = [1, 0] counts pixel 0 in both channels: |d| = 0 and 2
    # L1 = (0 + 2) / 2 = 1.0; MSE = (0 + 4) / 2 = 2.0
    pred = _t([[[[0.0, 1.0]], [[2.0, 3.0]]]])
    target = torch.zeros_like(pred)
    weight = _t([[[[1.0, 0.0]]]])
    assert losses.l1(pred, target, weight).item() == pytest.approx(1.0)
    assert losses.mse(pred, target, weight).item() == pytest.approx(2.0)
    # a soft weight [0.5, 0.25]: (0.5*0 + 0.25*1 + 0.5*2 + 0.25*3) / (2 * 0.75) = 2.0 / 1.5
    soft = _t([[[[0.5, 0.25]]]])
    assert losses.l1(pred, target, soft).item() == pytest.approx(2.0 / 1.5)


def test_l1_weight_all_zero_is_zero_no_nan() -> None:
    pred = torch.rand(2, 3, 4, 4, requires_grad=True)
    loss = losses.l1(pred, torch.zeros_like(pred), torch.zeros(2, 1, 4, 4))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(pred.grad, torch.zeros_like(pred))


# ----------------------------------------------------------------------------- masked


def test_masked_losses_golden_over_batch() -> None:
    # B=2, C=1, 1x2 images; target 0; hole values 0.5 | 0.0, 0.25 -> 0.75 / 3 = 0.25
    # valid values 1.0 -> 1.0; hole MSE (0.25 + 0 + 0.0625) / 3
    pred = _t([[[[0.5, 1.0]]], [[[0.0, 0.25]]]])  # (2, 1, 1, 2)
    target = torch.zeros_like(pred)
    mask = _t([[[[1.0, 0.0]]], [[[1.0, 1.0]]]])
    assert losses.masked_l1(pred, target, mask).item() == pytest.approx(0.25)
    assert losses.hole_l1(pred, target, mask).item() == pytest.approx(0.25)
    assert losses.valid_l1(pred, target, mask).item() == pytest.approx(1.0)
    assert losses.hole_mse(pred, target, mask).item() == pytest.approx(0.3125 / 3)


def test_masked_l1_counts_channels_and_bool_mask() -> None:
    # 3 channels, one hole pixel with |d| = 0.1, 0.2, 0.6 -> mean 0.3
    pred = torch.zeros(1, 3, 2, 2, dtype=torch.float64)
    pred[0, :, 0, 1] = _t([0.1, 0.2, 0.6])
    mask = torch.zeros(1, 1, 2, 2, dtype=torch.bool)
    mask[0, 0, 0, 1] = True
    assert losses.masked_l1(pred, torch.zeros_like(pred), mask).item() == pytest.approx(0.3)
    full = mask.expand(1, 3, 2, 2)
    assert losses.masked_l1(pred, torch.zeros_like(pred), full).item() == pytest.approx(0.3)


@pytest.mark.parametrize(
    "fn", [losses.masked_l1, losses.hole_l1, losses.hole_mse, losses.discounted_l1]
)
def test_empty_mask_gives_zero(fn) -> None:
    pred = torch.rand(2, 3, 5, 5, requires_grad=True)
    loss = fn(pred, torch.rand(2, 3, 5, 5), torch.zeros(2, 1, 5, 5))
    loss.backward()
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() == 0


def test_valid_l1_full_hole_gives_zero() -> None:
    pred = torch.rand(1, 3, 4, 4)
    assert losses.valid_l1(pred, torch.rand(1, 3, 4, 4), torch.ones(1, 1, 4, 4)).item() == 0.0


def test_hole_plus_valid_partition() -> None:
    gen = torch.Generator().manual_seed(0)
    pred, target = torch.rand(2, 3, 6, 6, generator=gen), torch.rand(2, 3, 6, 6, generator=gen)
    mask = (torch.rand(2, 1, 6, 6, generator=gen) > 0.5).float()
    n_hole, n_valid = mask.sum() * 3, (1 - mask).sum() * 3
    total = (
        losses.hole_l1(pred, target, mask) * n_hole + losses.valid_l1(pred, target, mask) * n_valid
    )
    torch.testing.assert_close(total / (n_hole + n_valid), losses.l1(pred, target))


# ----------------------------------------------------------------------------- total variation


def test_total_variation_golden() -> None:
    checker = _t([[[[0.0, 1.0], [1.0, 0.0]]]])
    assert losses.total_variation(checker).item() == pytest.approx(2.0)
    # [[0, 1, 3], [0, 0, 0]]: dx = 1, 2, 0, 0 -> 3/4; dy = 0, 1, 3 -> 4/3
    x = _t([[[[0.0, 1.0, 3.0], [0.0, 0.0, 0.0]]]])
    assert losses.total_variation(x).item() == pytest.approx(0.75 + 4 / 3)
    assert losses.total_variation(torch.full((2, 3, 4, 4), 0.3)).item() == 0.0


def test_total_variation_masked_uses_dilated_hole() -> None:
    # ramp x = (5 r + c) / 25: every dx = 1/25, every dy = 5/25. A one-pixel hole at (2, 2)
    # dilates to rows/cols 1..3: 6 horizontal + 6 vertical pairs inside -> 0.04 + 0.2.
    x = (torch.arange(25, dtype=torch.float64).reshape(1, 1, 5, 5)) / 25
    mask = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    mask[0, 0, 2, 2] = 1
    assert losses.total_variation(x, mask).item() == pytest.approx(0.24)
    spiked = x.clone()
    spiked[0, 0, 4, 4] += 1.0  # outside the dilated hole: ignored by the masked TV
    assert losses.total_variation(spiked, mask).item() == pytest.approx(0.24)
    assert losses.total_variation(spiked).item() > losses.total_variation(x).item()
    inside = x.clone()
    inside[0, 0, 1, 1] += 1.0  # inside the dilation ring: counted
    assert losses.total_variation(inside, mask).item() > 0.24
    assert losses.total_variation(x, torch.zeros_like(mask)).item() == 0.0


# ----------------------------------------------------------------------------- spatial discount


def test_spatial_discount_strip() -> None:
    # distance of each hole pixel to the nearest valid pixel: 1, 2, 3, 2, 1
    mask = _t([[[[0, 1, 1, 1, 1, 1, 0]]]], dtype=torch.float32)
    weights = losses.spatial_discount(mask, gamma=0.9)
    expected = torch.tensor([[[[0, 0.9, 0.81, 0.729, 0.81, 0.9, 0]]]])
    torch.testing.assert_close(weights, expected)
    assert weights.dtype == torch.float32 and weights.shape == mask.shape


def test_spatial_discount_euclidean_and_batch() -> None:
    mask = torch.ones(2, 1, 4, 4, dtype=torch.float64)
    mask[0, 0, 0, 0] = 0  # one valid pixel in the corner
    mask[1] = 0  # second image: no hole
    weights = losses.spatial_discount(mask, gamma=0.5)
    assert weights[0, 0, 0, 0] == 0
    assert weights[0, 0, 0, 1].item() == pytest.approx(0.5)  # l = 1
    assert weights[0, 0, 1, 1].item() == pytest.approx(0.5 ** math.sqrt(2))  # l = sqrt(2)
    assert weights[0, 0, 3, 3].item() == pytest.approx(0.5 ** math.sqrt(18))
    assert torch.equal(weights[1], torch.zeros(1, 4, 4, dtype=torch.float64))


def test_spatial_discount_all_hole_and_gamma_one() -> None:
    # no valid pixel: distance to a valid frame around the image: 1 at the border, 2 inside
    weights = losses.spatial_discount(torch.ones(1, 1, 3, 3), gamma=0.9)
    expected = torch.full((1, 1, 3, 3), 0.9)
    expected[0, 0, 1, 1] = 0.81
    torch.testing.assert_close(weights, expected)
    mask = (torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1)) > 0.4).float()
    torch.testing.assert_close(losses.spatial_discount(mask, gamma=1.0), mask)


def test_discounted_l1_golden_and_gamma_one() -> None:
    # strip weights 0.9, 0.81, 0.729, 0.81, 0.9 on |d| = 1, 2, 3, 4, 8:
    #   sum(w * d) / sum(w) = 3.650759219088937 (python: sum(a*b for a,b in zip(w,d))/sum(w))
    mask = _t([[[[0, 1, 1, 1, 1, 1, 0]]]])
    pred = _t([[[[9, 1, 2, 3, 4, 8, 9]]]])
    target = torch.zeros_like(pred)
    assert losses.discounted_l1(pred, target, mask).item() == pytest.approx(3.650759219088937)
    assert losses.discounted_l1(pred, target, mask, gamma=1.0).item() == pytest.approx(3.6)
    assert losses.hole_l1(pred, target, mask).item() == pytest.approx(3.6)


# ----------------------------------------------------------------------------- gradcheck


def test_gradcheck() -> None:
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 5, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    target = torch.rand(2, 3, 5, 5, dtype=torch.float64, generator=gen)
    mask = (torch.rand(2, 1, 5, 5, generator=gen) > 0.5).double()
    weight = torch.rand(2, 1, 5, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, w: losses.l1(p, target, w), (pred, weight))
    assert torch.autograd.gradcheck(lambda p, w: losses.mse(p, target, w), (pred, weight))
    assert torch.autograd.gradcheck(lambda p: losses.hole_l1(p, target, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: losses.valid_l1(p, target, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: losses.hole_mse(p, target, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: losses.discounted_l1(p, target, mask), (pred,))
    assert torch.autograd.gradcheck(lambda p: losses.total_variation(p), (pred,))
    assert torch.autograd.gradcheck(lambda p: losses.total_variation(p, mask), (pred,))


# ----------------------------------------------------------------------------- errors


def test_errors() -> None:
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r"got pred \(1, 3, 4, 4\) and target \(1, 3, 4, 5\)"):
        losses.l1(x, torch.rand(1, 3, 4, 5))
    with pytest.raises(ValueError, match=r"pred must be \(B, C, H, W\)"):
        losses.mse(x[0], x[0])
    with pytest.raises(TypeError, match="pred must be a torch.Tensor"):
        losses.l1(x.numpy(), x)
    with pytest.raises(TypeError, match="float tensor"):
        losses.l1(x.long(), x.long())
    with pytest.raises(ValueError, match="does not broadcast"):
        losses.l1(x, x, torch.ones(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\) like image"):
        losses.hole_l1(x, x, torch.ones(1, 4, 4))
    with pytest.raises(ValueError, match=r"gamma must be in \(0, 1\]"):
        losses.spatial_discount(torch.ones(1, 1, 4, 4), gamma=0.0)
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\)"):
        losses.spatial_discount(torch.ones(1, 3, 4, 4))
    with pytest.raises(ValueError, match="H, W >= 2"):
        losses.total_variation(torch.rand(1, 3, 1, 4))
