"""Tests for mattepaint.losses.adversarial: GAN losses and the WGAN-GP gradient penalty."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mattepaint.losses import GAN_KINDS, d_loss, g_loss, gradient_penalty

REAL = torch.tensor([[2.0], [0.5], [-1.0]])  # (B, 1) logits
FAKE = torch.tensor([[-2.0], [0.0], [1.0]])


def _softplus(t: float) -> float:
    return math.log1p(math.exp(t))


# ----------------------------------------------------------------------------- values


def test_nsgan_values() -> None:
    # d = mean softplus(-real) + mean softplus(fake); g = mean softplus(-fake), by hand:
    expected_d = sum(_softplus(-r) for r in (2.0, 0.5, -1.0)) / 3 + sum(
        _softplus(f) for f in (-2.0, 0.0, 1.0)
    ) / 3
    expected_g = sum(_softplus(-f) for f in (-2.0, 0.0, 1.0)) / 3
    assert d_loss(REAL, FAKE, "nsgan").item() == pytest.approx(expected_d, rel=1e-6)
    assert g_loss(FAKE, "nsgan").item() == pytest.approx(expected_g, rel=1e-6)
    # the same as BCE with logits (labels 1 real / 0 fake), an independent implementation
    bce = F.binary_cross_entropy_with_logits
    reference = bce(REAL, torch.ones_like(REAL)) + bce(FAKE, torch.zeros_like(FAKE))
    torch.testing.assert_close(d_loss(REAL, FAKE, "nsgan"), reference)
    torch.testing.assert_close(g_loss(FAKE, "nsgan"), bce(FAKE, torch.ones_like(FAKE)))


def test_hinge_values() -> None:
    # relu(1 - real) = 0, 0.5, 2 -> 5/6; relu(1 + fake) = 0, 1, 2 -> 1;
    # g = -mean(fake) = -(-2 + 0 + 1) / 3 = 1/3
    assert d_loss(REAL, FAKE, "hinge").item() == pytest.approx(5 / 6 + 1.0)
    assert g_loss(FAKE, "hinge").item() == pytest.approx(1 / 3)
    assert g_loss(torch.tensor([1.0, 3.0]), "hinge").item() == pytest.approx(-2.0)
    # confident, correct discriminator: zero hinge loss
    assert d_loss(torch.full((4, 1), 1.5), torch.full((4, 1), -1.5), "hinge").item() == 0.0


def test_wgan_values() -> None:
    # mean fake - mean real: fake mean (-2 + 0 + 1) / 3 = -1/3, real mean (2 + 0.5 - 1) / 3 = 0.5
    assert d_loss(REAL, FAKE, "wgan_gp").item() == pytest.approx(-1 / 3 - 0.5)
    assert g_loss(FAKE, "wgan_gp").item() == pytest.approx(1 / 3)


def test_patch_logits_and_different_sizes() -> None:
    real = torch.randn(2, 1, 4, 4)
    fake = torch.randn(3, 1, 2, 2)
    for kind in GAN_KINDS:
        assert d_loss(real, fake, kind).shape == ()
        assert g_loss(fake, kind).shape == ()


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind 'lsgan'; valid kinds: nsgan, hinge, wgan_gp"):
        d_loss(REAL, FAKE, "lsgan")
    with pytest.raises(ValueError, match="valid kinds"):
        g_loss(FAKE, "none")


def test_logit_errors() -> None:
    with pytest.raises(TypeError, match="real_logits must be a torch.Tensor"):
        d_loss([1.0], FAKE, "hinge")
    with pytest.raises(ValueError, match="fake_logits is empty"):
        g_loss(torch.zeros(0, 1), "hinge")


@pytest.mark.parametrize("kind", GAN_KINDS)
def test_gradcheck_losses(kind: str) -> None:
    real = torch.randn(3, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    fake = torch.randn(3, 1, 2, 2, dtype=torch.float64, requires_grad=True) * 0.5
    fake = fake.detach().requires_grad_(True)  # keep away from the hinge kinks at +-1
    assert torch.autograd.gradcheck(lambda r, f: d_loss(r, f, kind), (real, fake))
    assert torch.autograd.gradcheck(lambda f: g_loss(f, kind), (fake,))


@pytest.mark.parametrize("kind", GAN_KINDS)
def test_g_loss_reaches_generator(kind: str) -> None:
    torch.manual_seed(0)
    generator = nn.Conv2d(3, 3, 3, padding=1)
    critic = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3))
    fake = generator(torch.rand(2, 3, 8, 8))
    loss = g_loss(critic(fake), kind)
    loss.backward()
    assert generator.weight.grad is not None and generator.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- gradient penalty


class LinearCritic(nn.Module):
    """critic(x) = sum_j w_j x_j per sample: the input gradient is w for every x."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.w * x).flatten(1).sum(1, keepdim=True)  # (B, C, H, W) -> (B, 1)


def _norm_two_critic() -> LinearCritic:
    u = torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return LinearCritic(2 * u / u.norm())  # ||w|| = 2


def test_gp_linear_critic_value() -> None:
    # ||grad|| = ||w|| = 2 for every interpolate -> penalty = weight * (2 - 1)^2
    critic = _norm_two_critic()
    real = torch.rand(5, 3, 4, 4, dtype=torch.float64)
    fake = torch.rand(5, 3, 4, 4, dtype=torch.float64)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx(10.0)
    assert gradient_penalty(critic, real, fake, weight=3.0).item() == pytest.approx(3.0)
    assert gradient_penalty(critic, real, fake, weight=0.0).item() == 0.0


def test_gp_gradient_to_critic_params() -> None:
    # GP = weight (||w|| - 1)^2 -> dGP/dw = 2 weight (||w|| - 1) w / ||w|| = 10 w for ||w|| = 2
    critic = _norm_two_critic()
    real = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    penalty = gradient_penalty(critic, real, torch.rand_like(real))
    penalty.backward()
    torch.testing.assert_close(critic.w.grad, 10 * critic.w.detach())


def test_gp_masked() -> None:
    # w = 1 everywhere; mask keeps 3 pixels x 3 channels -> ||grad * mask|| = 3 -> 10 * (3-1)^2
    critic = LinearCritic(torch.ones(3, 4, 4, dtype=torch.float64))
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    mask[:, :, 0, :3] = 1
    real = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    value = gradient_penalty(critic, real, torch.rand_like(real), mask=mask)
    assert value.item() == pytest.approx(40.0)
    # unmasked: ||w|| = sqrt(48)
    unmasked = gradient_penalty(critic, real, torch.rand_like(real))
    assert unmasked.item() == pytest.approx(10 * (math.sqrt(48) - 1) ** 2)


def test_gp_eps_per_sample_from_generator() -> None:
    # critic(x) = 0.5 sum x^2 -> grad = x_hat = eps (real = 1, fake = 0) -> ||grad|| = eps sqrt(D)
    def critic(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.square().flatten(1).sum(1)

    real = torch.ones(4, 1, 2, 2, dtype=torch.float64)
    fake = torch.zeros_like(real)
    value = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    eps = torch.rand((4, 1, 1, 1), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = 10 * ((eps.flatten() * 2.0 - 1) ** 2).mean()  # sqrt(D) = sqrt(4) = 2
    torch.testing.assert_close(value, expected)
    again = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
    other = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(6))
    assert torch.equal(value, again) and not torch.equal(value, other)


def test_gp_gradcheck_wrt_critic_weights() -> None:
    # double backward through create_graph: gradcheck the penalty as a function of w
    real = torch.rand(2, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fake = torch.rand(2, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    w = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)

    def penalty(weights: torch.Tensor) -> torch.Tensor:
        def critic(x: torch.Tensor) -> torch.Tensor:
            return (torch.tanh(x) * weights).flatten(1).sum(1)

        return gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))

    assert torch.autograd.gradcheck(penalty, (w,))


def test_gp_does_not_backprop_into_fake() -> None:
    critic = _norm_two_critic()
    fake = torch.rand(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    gradient_penalty(critic, torch.rand(2, 3, 4, 4, dtype=torch.float64), fake).backward()
    assert fake.grad is None


def test_gp_conv_critic_smoke() -> None:
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.LazyLinear(1))
    real, fake = torch.rand(3, 3, 8, 8), torch.rand(3, 3, 8, 8)
    critic(real)  # materialise the lazy layer
    penalty = gradient_penalty(critic, real, fake, mask=torch.ones(3, 1, 8, 8))
    penalty.backward()
    assert penalty.shape == () and torch.isfinite(penalty)
    # the input gradient depends on the weights, not on the biases (piecewise-linear critic)
    weights = [critic[0].weight, critic[3].weight]
    for w in weights:
        assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_gp_errors() -> None:
    critic = _norm_two_critic()
    real = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"got real \(2, 3, 4, 4\) and fake \(2, 3, 4, 5\)"):
        gradient_penalty(critic, real, torch.rand(2, 3, 4, 5))
    with pytest.raises(ValueError, match="weight must be a number >= 0"):
        gradient_penalty(critic, real, real, weight=-1.0)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        gradient_penalty(critic, real, real, generator=0)
    with pytest.raises(ValueError, match="does not broadcast"):
        gradient_penalty(critic, real, real, mask=torch.ones(2, 2, 4, 4))
    with pytest.raises(TypeError, match="critic must be callable"):
        gradient_penalty("critic", real, real)
