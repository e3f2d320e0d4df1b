"""Adversarial losses: non-saturating GAN, hinge, Wasserstein, and the WGAN-GP gradient penalty.

Logits are raw discriminator outputs (no sigmoid), any shape: (B, 1) for a global critic or
(B, 1, h, w) for a patch discriminator; every loss averages over all their elements. The real and
the fake logits are averaged separately, so they may have different numbers of elements.

Kinds (:data:`GAN_KINDS`), with ``softplus(t) = log(1 + exp(t))``:

=========  ===============================================  ========================
kind       discriminator loss                               generator loss
=========  ===============================================  ========================
nsgan      mean softplus(-D(x)) + mean softplus(D(G(z)))    mean softplus(-D(G(z)))
hinge      mean relu(1 - D(x)) + mean relu(1 + D(G(z)))     -mean D(G(z))
wgan_gp    mean D(G(z)) - mean D(x)  (+ gradient_penalty)   -mean D(G(z))
=========  ===============================================  ========================

References:
    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014 (nsgan: BCE with logits,
        the non-saturating generator loss).
    Lim & Ye, "Geometric GAN", 2017; Miyato et al., "Spectral Normalization for GANs", ICLR 2018
        (hinge).
    Arjovsky et al., "Wasserstein GAN", ICML 2017; Gulrajani et al., "Improved Training of
        Wasserstein GANs", NeurIPS 2017 (gradient penalty, lambda = 10).
    Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018 (DeepFill v1:
        WGAN-GP with the penalty restricted to the hole; seed report 002, wgan_gp_lambda 10).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mattepaint.checks import broadcasts_to, check_same_shape

__all__ = ["GAN_KINDS", "d_loss", "g_loss", "gradient_penalty"]

#: Adversarial loss kinds accepted by :func:`d_loss` and :func:`g_loss`.
GAN_KINDS: tuple[str, ...] = ("nsgan", "hinge", "wgan_gp")


def _check_kind(kind: object) -> str:
    if kind not in GAN_KINDS:
        raise ValueError(f"unknown GAN loss kind {kind!r}; valid kinds: {', '.join(GAN_KINDS)}")
    return kind  # type: ignore[return-value]


def _check_logits(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of logits, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got dtype {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty, shape {tuple(x.shape)}")
    return x


def d_loss(real_logits: Tensor, fake_logits: Tensor, kind: str) -> Tensor:
    """Discriminator (critic) loss, to be minimised by the discriminator.

    nsgan:   ``mean softplus(-real) + mean softplus(fake)``, i.e. BCE-with-logits with label 1 for
             real and 0 for fake, summed;
    hinge:   ``mean relu(1 - real) + mean relu(1 + fake)``;
    wgan_gp: ``mean fake - mean real`` (add :func:`gradient_penalty` for WGAN-GP).

    Inputs: real_logits = D(x), fake_logits = D(G(z)) (detach G(z) for the D step): float
        tensors of any shape, e.g. (B, 1) or (B, 1, h, w); kind in :data:`GAN_KINDS`.
    Outputs: 0-dim tensor, differentiable w.r.t. both logits.
    """
    kind = _check_kind(kind)
    real = _check_logits(real_logits, "real_logits")
    fake = _check_logits(fake_logits, "fake_logits")
    if kind == "nsgan":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return fake.mean() - real.mean()


def g_loss(fake_logits: Tensor, kind: str) -> Tensor:
    """Generator loss, to be minimised by the generator.

    nsgan: ``mean softplus(-fake)`` (the non-saturating loss, -log sigmoid(D(G(z))));
    hinge and wgan_gp: ``-mean fake``.

    Inputs: fake_logits = D(G(z)) (not detached, so the gradient reaches G), any shape;
        kind in :data:`GAN_KINDS`.
    Outputs: 0-dim tensor, differentiable w.r.t. ``fake_logits``.
    """
    kind = _check_kind(kind)
    fake = _check_logits(fake_logits, "fake_logits")
    if kind == "nsgan":
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """WGAN-GP gradient penalty on random interpolates of real and fake samples.

    ``x_hat = eps * real + (1 - eps) * fake`` with ``eps ~ U(0, 1)`` per sample (both inputs
    detached), ``g = d critic(x_hat).sum() / d x_hat`` (``create_graph=True``, so the penalty
    back-propagates into the critic's parameters), optionally ``g = g * mask`` (DeepFill v1's
    penalty on the hole only), and

        ``GP = weight * mean_b (||g_b||_2 - 1)^2``

    with the norm over all non-batch dimensions (Gulrajani et al. 2017, eq. 3, lambda = 10).

    Inputs:
        critic: a callable (e.g. an nn.Module) mapping (B, ...) to logits (B, ...).
        real, fake: float tensors of the same shape (B, ...), e.g. (B, 3, H, W).
        weight: lambda >= 0.
        generator: torch.Generator for eps (on any device; eps is moved to ``real``'s device),
            or None for the global RNG.
        mask: None or a tensor broadcastable to ``real`` (e.g. (B, 1, H, W), 1 = hole).
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. the critic's parameters.
    """
    if not callable(critic):
        raise TypeError(f"critic must be callable (an nn.Module), got {type(critic).__name__}")
    real = _check_logits(real, "real")
    fake = _check_logits(fake, "fake")
    check_same_shape(real, fake, ("real", "fake"))
    if real.ndim < 2:
        raise ValueError(f"real must be batched (B, ...), got shape {tuple(real.shape)}")
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or weight < 0:
        raise ValueError(f"weight must be a number >= 0, got {weight!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if not broadcasts_to(mask.shape, real.shape):
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to real {tuple(real.shape)}"
            )
        mask = mask.detach().to(real.dtype)
    batch = real.shape[0]
    eps_shape = (batch,) + (1,) * (real.ndim - 1)  # (B, 1, 1, 1): one eps per sample
    eps_device = generator.device if generator is not None else real.device
    eps = torch.rand(eps_shape, generator=generator, device=eps_device, dtype=real.dtype)
    eps = eps.to(real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    with torch.enable_grad():
        out = critic(x_hat)
        (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    if mask is not None:
        grad = grad * mask
    norm = grad.flatten(1).norm(2, dim=1)  # (B, ...) -> (B,)
    return weight * (norm - 1).square().mean()
