"""Matting losses: Charbonnier alpha + composition loss (seed 000), the Laplacian pyramid loss,
and the late-fusion losses (seed 001: L_d, L_g, weighted cross-entropy, fusion loss).

Inputs everywhere: alphas, probabilities and trimaps are (B, 1, H, W) float tensors in [0, 1];
colour images are (B, 3, H, W) float in [0, 1]. Every function returns a 0-dim tensor (one
number for the batch, a mean over all pixels of the batch unless said otherwise), differentiable
w.r.t. the prediction. The papers write sums over pixels; the means here differ only by the
constant pixel count, which keeps the loss weights independent of the crop size.

References:
    Seed report 000 (U-Net matting), eq. 6-8: L = l1 L_alpha + l2 L_comp, L_alpha Charbonnier,
        L_comp = ||C(alpha_hat) - C(alpha)||_1.
    Xu et al., "Deep Image Matting", CVPR 2017 (alpha prediction and compositional losses,
        sqrt(d^2 + eps^2)).
    Zhang et al., "A Late Fusion CNN for Digital Matting", CVPR 2019 (seed report 001: L_d, L_g,
        CE with weights w_p, the fusion loss L_u).
    Hou & Liu, "Context-Aware Image Matting for Simultaneous Foreground and Alpha Estimation",
        ICCV 2019, and Forte & Pitie, "F, B, Alpha Matting" (FBA), 2020: Laplacian loss
        sum_i 2^i ||L_i(alpha_hat) - L_i(alpha)||_1 over a 5-level Laplacian pyramid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mattepaint.losses.reconstruction import _check_pair, _check_weight, _weighted_mean

__all__ = [
    "charbonnier",
    "composition_loss",
    "fusion_loss",
    "gradient_l1",
    "laplacian_loss",
    "lf_branch_loss",
    "lf_difference",
    "transition_mask",
    "weighted_bce",
]

#: Default tolerance of :func:`transition_mask`: half an 8-bit step.
TRANSITION_TOLERANCE = 0.5 / 255

_BCE_CLAMP = 1e-6  # probabilities are clamped to [eps, 1 - eps] before the log


# ----------------------------------------------------------------------------- checks


def _check_eps(eps: object) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(f"eps must be a number >= 0, got {type(eps).__name__}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    return float(eps)


def _check_alpha_pair(
    pred: object, target: object, names: tuple[str, str]
) -> tuple[Tensor, Tensor]:
    """Two (B, 1, H, W) float tensors of the same shape."""
    for value, name in zip((pred, target), names):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor (B, 1, H, W), got {type(value).__name__}"
            )
        if value.ndim != 4 or value.shape[1] != 1:
            raise ValueError(f"{name} must be (B, 1, H, W), got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise TypeError(f"{name} must be a float tensor, got dtype {value.dtype}")
    if pred.shape != target.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(target.shape)}"
        )
    return pred, target


def _robust_abs(diff: Tensor, eps: float) -> Tensor:
    """sqrt(d^2 + eps^2); |d| for eps == 0 (sqrt would have a nan gradient at d = 0)."""
    if eps == 0:
        return diff.abs()
    return torch.sqrt(diff.square() + eps * eps)


# ----------------------------------------------------------------------------- seed 000


def charbonnier(
    pred: Tensor, target: Tensor, eps: float = 1e-3, weight: Tensor | None = None
) -> Tensor:
    """Charbonnier loss, a differentiable L1 (seed 000 eq. 7; DIM's alpha prediction loss).

    ``L = sum w sqrt((pred - target)^2 + eps^2) / sum w`` with ``w`` broadcast to pred's shape;
    the plain mean ``mean sqrt((pred - target)^2 + eps^2)`` when ``weight`` is None; 0 when all
    weights are 0. ``eps = 0`` gives the L1 loss (``|pred - target|``, subgradient 0 at 0).
    A perfect prediction gives ``eps``, not 0.

    Inputs:
        pred, target: (B, C, H, W) float, same shape (alpha: C = 1).
        eps: >= 0.
        weight: None or a float tensor >= 0 broadcastable to pred, e.g. (B, 1, H, W).
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. pred.
    """
    pred, target = _check_pair(pred, target)
    eps = _check_eps(eps)
    if weight is not None:
        weight = _check_weight(weight, pred)
    return _weighted_mean(_robust_abs(pred - target, eps), weight)


def composition_loss(
    pred_alpha: Tensor, gt_alpha: Tensor, fg: Tensor, bg: Tensor, eps: float = 1e-3
) -> Tensor:
    """Composition loss: Charbonnier between the images composited with the predicted and the
    true alpha (seed 000 eq. 8, which uses L1: ``eps = 0``; DIM uses eps = 1e-6 on 0..255).

    ``C(a) = a F + (1 - a) B``;
    ``L = mean_{b,c,y,x} sqrt((C(pred_alpha) - C(gt_alpha))^2 + eps^2)``.
    Since ``C(p) - C(a) = (p - a)(F - B)``, pixels where F == B carry no signal.

    Inputs:
        pred_alpha, gt_alpha: (B, 1, H, W) float in [0, 1].
        fg, bg: (B, 3, H, W) float in [0, 1], the true foreground and background colours.
        eps: >= 0.
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. pred_alpha.
    """
    pred_alpha, gt_alpha = _check_alpha_pair(pred_alpha, gt_alpha, ("pred_alpha", "gt_alpha"))
    fg, bg = _check_pair(fg, bg)
    b, _, h, w = pred_alpha.shape
    if fg.shape[0] != b or fg.shape[2:] != (h, w):
        raise ValueError(
            f"fg and bg must be (B, C, H, W) like alpha {tuple(pred_alpha.shape)}, got "
            f"{tuple(fg.shape)}"
        )
    eps = _check_eps(eps)
    comp_pred = pred_alpha * fg + (1 - pred_alpha) * bg  # (B, 3, H, W)
    comp_true = gt_alpha * fg + (1 - gt_alpha) * bg
    return _robust_abs(comp_pred - comp_true, eps).mean()


# ----------------------------------------------------------------------------- Laplacian


def _gauss_kernel(channels: int, like: Tensor) -> Tensor:
    """The 5x5 binomial Gaussian outer([1, 4, 6, 4, 1]) / 256, one per channel: (C, 1, 5, 5)."""
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=like.dtype, device=like.device) / 16
    return torch.outer(k1, k1).expand(channels, 1, 5, 5).contiguous()


def _blur(x: Tensor, kernel: Tensor) -> Tensor:
    h, w = x.shape[-2:]
    mode = "reflect" if min(h, w) > 2 else "replicate"  # reflect needs the pad < the side
    padded = F.pad(x, (2, 2, 2, 2), mode=mode)  # (B, C, H + 4, W + 4)
    return F.conv2d(padded, kernel, groups=x.shape[1])  # (B, C, H, W)


def laplacian_pyramid(x: Tensor, levels: int = 5) -> list[Tensor]:
    """The Laplacian pyramid of FBA matting: ``levels`` band-pass images and the low-pass rest.

    ``L_i = G_i - blur(G_i)``, ``G_{i+1} = avgpool2(blur(G_i))``, ``G_0 = x``; the list is
    ``[L_0, ..., L_{levels-1}, G_levels]`` (``levels + 1`` tensors, halving in size; odd sides
    are floored). blur: the 5x5 binomial Gaussian, reflect padding (replicate for sides <= 2).

    Inputs: x (B, C, H, W) float with H, W >= 2**levels; levels >= 1.
    Outputs: list of (B, C, H / 2**i, W / 2**i) tensors.
    """
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be an int >= 1, got {levels!r}")
    h, w = x.shape[-2:]
    if min(h, w) < 2**levels:
        raise ValueError(
            f"a {levels}-level Laplacian pyramid needs H, W >= {2**levels}, got {h}x{w}"
        )
    kernel = _gauss_kernel(x.shape[1], x)
    pyramid, current = [], x
    for _ in range(levels):
        filtered = _blur(current, kernel)
        pyramid.append(current - filtered)
        current = F.avg_pool2d(filtered, 2)  # (B, C, h // 2, w // 2)
    pyramid.append(current)
    return pyramid


def laplacian_loss(pred: Tensor, target: Tensor, levels: int = 5) -> Tensor:
    """Laplacian pyramid loss (Hou & Liu, ICCV 2019; FBA matting's ``LapLoss``).

    ``L = sum_{i=0}^{levels} 2^i mean |P_i(pred) - P_i(target)|`` with ``P`` the pyramid of
    :func:`laplacian_pyramid` (band-pass levels 0..levels-1, then the low-pass rest at weight
    2^levels): coarse structure is weighted more, fine detail still counts at full resolution.

    Inputs: pred, target (B, C, H, W) float (alpha: C = 1), same shape, H, W >= 2**levels.
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. pred.
    """
    pred, target = _check_pair(pred, target)
    pyr_pred = laplacian_pyramid(pred, levels)
    pyr_target = laplacian_pyramid(target, levels)
    return sum(
        (2**i * (a - b).abs().mean() for i, (a, b) in enumerate(zip(pyr_pred, pyr_target))),
        start=pred.new_zeros(()),
    )


# ----------------------------------------------------------------------------- seed 001


def transition_mask(alpha: Tensor, tolerance: float = TRANSITION_TOLERANCE) -> Tensor:
    """The transition (soft) region of a matte: ``(alpha > tol) & (alpha < 1 - tol)``.

    The late-fusion paper's ``0 < alpha_p < 1``; with the default tolerance of half an 8-bit step
    (0.5 / 255) the 8-bit values 1/255 .. 254/255 are transition pixels and round-off noise near
    0 or 1 is not. ``tolerance = 0`` gives the exact definition.

    Inputs: alpha (B, 1, H, W) (any shape works) float in [0, 1]; 0 <= tolerance < 0.5.
    Outputs: bool tensor of alpha's shape.
    """
    if not isinstance(alpha, Tensor) or not alpha.is_floating_point():
        raise TypeError(f"alpha must be a float torch.Tensor, got {type(alpha).__name__}")
    if not 0 <= tolerance < 0.5:
        raise ValueError(f"tolerance must be in [0, 0.5), got {tolerance}")
    return (alpha > tolerance) & (alpha < 1 - tolerance)


def lf_difference(prob: Tensor, alpha: Tensor) -> Tensor:
    """Late-fusion difference loss L_d (seed 001): L1 in the transition, L2 elsewhere.

    ``d_p = |prob_p - alpha_p|`` where ``0 < alpha_p < 1`` (:func:`transition_mask`), else
    ``(prob_p - alpha_p)^2``; ``L_d = mean_p d_p`` over all pixels of the batch.

    Inputs: prob, alpha (B, 1, H, W) float in [0, 1]. Outputs: 0-dim tensor >= 0.
    """
    prob, alpha = _check_alpha_pair(prob, alpha, ("prob", "alpha"))
    diff = prob - alpha
    soft = transition_mask(alpha)
    return torch.where(soft, diff.abs(), diff.square()).mean()


def gradient_l1(pred: Tensor, target: Tensor) -> Tensor:
    """Gradient L1 loss L_g (seed 001): ``|d_x pred - d_x target| + |d_y pred - d_y target|``.

    Forward differences ``d_x a = a[..., :, 1:] - a[..., :, :-1]`` (d_y likewise on rows);
    ``L_g = mean |d_x pred - d_x target| + mean |d_y pred - d_y target|`` (each mean over its
    B*C*H*(W-1) resp. B*C*(H-1)*W differences).

    Inputs: pred, target (B, C, H, W) float, same shape, H, W >= 2. Outputs: 0-dim tensor >= 0.
    """
    pred, target = _check_pair(pred, target)
    if min(pred.shape[-2:]) < 2:
        raise ValueError(f"gradient_l1 needs H, W >= 2, got shape {tuple(pred.shape)}")
    diff = pred - target  # the difference of gradients = the gradient of the difference
    dx = diff[..., :, 1:] - diff[..., :, :-1]  # (B, C, H, W - 1)
    dy = diff[..., 1:, :] - diff[..., :-1, :]  # (B, C, H - 1, W)
    return dx.abs().mean() + dy.abs().mean()


def weighted_bce(prob: Tensor, alpha: Tensor) -> Tensor:
    """Weighted binary cross-entropy CE of the late-fusion classification branches (seed 001).

    ``CE_p = w_p (-alpha_p log prob_p - (1 - alpha_p) log(1 - prob_p))``, ``w_p = 1`` where
    alpha_p is 0 or 1 and 0.5 in the transition (:func:`transition_mask`);
    ``L = mean_p CE_p`` over all pixels. prob is clamped to [1e-6, 1 - 1e-6] before the log.

    Inputs: prob (B, 1, H, W) float in [0, 1] (a sigmoid output); alpha (B, 1, H, W) in [0, 1]
        (the soft target). Outputs: 0-dim tensor >= 0 (minimal where prob == alpha at 0/1).
    """
    prob, alpha = _check_alpha_pair(prob, alpha, ("prob", "alpha"))
    p = prob.clamp(_BCE_CLAMP, 1 - _BCE_CLAMP)
    ce = -(alpha * torch.log(p) + (1 - alpha) * torch.log1p(-p))  # (B, 1, H, W)
    weight = torch.where(transition_mask(alpha), 0.5, 1.0).to(ce.dtype)
    return (weight * ce).mean()


def lf_branch_loss(probs: Sequence[Tensor] | Tensor, alpha: Tensor) -> Tensor:
    """Loss of one late-fusion classification branch, over its side outputs (seed 001).

    ``L = mean_k (CE(p_k) + L_d(p_k) + L_g(p_k))`` over the side outputs ``p_k`` (each already
    upsampled to the alpha's size) with :func:`weighted_bce`, :func:`lf_difference`,
    :func:`gradient_l1`. The foreground branch uses ``alpha``; the background branch
    ``1 - alpha`` (the caller passes it).

    Inputs: probs a (B, 1, H, W) tensor or a non-empty list of them, in [0, 1]; alpha
        (B, 1, H, W) in [0, 1]. Outputs: 0-dim tensor >= 0.
    """
    if isinstance(probs, Tensor):
        probs = [probs]
    if not isinstance(probs, Sequence) or len(probs) == 0:
        raise ValueError(f"probs must be a tensor or a non-empty list of tensors, got {probs!r}")
    terms = [
        weighted_bce(p, alpha) + lf_difference(p, alpha) + gradient_l1(p, alpha) for p in probs
    ]
    return torch.stack(terms).mean()


def fusion_loss(alpha_pred: Tensor, alpha: Tensor) -> Tensor:
    """Fusion loss L_u of late-fusion matting (seed 001): weighted L1 of the final alpha.

    ``L_u = mean_p w_p |alpha_pred_p - alpha_p|`` with ``w_p = 1`` in the transition
    (:func:`transition_mask`) and 0.1 elsewhere; alpha_pred is the fused
    ``beta F + (1 - beta)(1 - B)``. Mean over all pixels (not over the weights).

    Inputs: alpha_pred, alpha (B, 1, H, W) float in [0, 1]. Outputs: 0-dim tensor >= 0.
    """
    alpha_pred, alpha = _check_alpha_pair(alpha_pred, alpha, ("alpha_pred", "alpha"))
    weight = torch.where(transition_mask(alpha), 1.0, 0.1).to(alpha_pred.dtype)
    return (weight * (alpha_pred - alpha).abs()).mean()
