"""Pixel reconstruction losses for inpainting: (weighted) L1 / MSE, hole / valid L1, TV, and
DeepFill's spatially discounted L1.

Inputs everywhere: ``pred`` and ``target`` are (B, C, H, W) float tensors of the same shape;
masks and weights are (B, 1, H, W) (or (B, C, H, W)) float tensors with 1 = hole. Every function
returns a 0-dim tensor (one number for the whole batch, differentiable w.r.t. ``pred``), so the
loss is a mean over all weighted elements of the batch, not a mean of per-image means: a batch
element with a larger hole counts for more in ``hole_l1``.

Empty masks give 0 (never nan), with the graph kept, so ``loss.backward()`` always works.

References:
    Pathak et al., "Context Encoders: Feature Learning by Inpainting", CVPR 2016 (masked L2).
    Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions", ECCV 2018
        (L_hole, L_valid, total variation on the 1-pixel dilation of the hole).
    Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018 (DeepFill v1:
        spatially discounted L1, gamma = 0.9; seed report 002, Table I).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from mattepaint.checks import broadcasts_to, check_same_shape

__all__ = [
    "discounted_l1",
    "hole_l1",
    "hole_mse",
    "l1",
    "masked_l1",
    "mse",
    "spatial_discount",
    "total_variation",
    "valid_l1",
]


# ----------------------------------------------------------------------------- input checks


def _check_image(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (B, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must be (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got dtype {x.dtype}")
    return x


def _check_pair(pred: object, target: object) -> tuple[Tensor, Tensor]:
    pred = _check_image(pred, "pred")
    target = _check_image(target, "target")
    check_same_shape(pred, target, ("pred", "target"))
    return pred, target


def _check_weight(weight: object, like: Tensor, name: str = "weight") -> Tensor:
    """A float tensor broadcastable to ``like`` (bool is converted); ValueError otherwise."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dtype == torch.bool:
        weight = weight.to(like.dtype)
    elif not weight.is_floating_point():
        raise TypeError(f"{name} must be a float (or bool) tensor, got dtype {weight.dtype}")
    if not broadcasts_to(weight.shape, like.shape):
        raise ValueError(
            f"{name} of shape {tuple(weight.shape)} does not broadcast to the image shape "
            f"{tuple(like.shape)}; expected e.g. (B, 1, H, W)"
        )
    return weight


def _check_mask(mask: object, like: Tensor) -> Tensor:
    """A (B, 1, H, W) or (B, C, H, W) mask matching ``like``, as ``like``'s dtype."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor (B, 1, H, W), got {type(mask).__name__}")
    b, c, h, w = like.shape
    ok = mask.ndim == 4 and mask.shape[0] == b and mask.shape[1] in (1, c)
    if not ok or mask.shape[2:] != (h, w):
        raise ValueError(
            f"mask must be (B, 1, H, W) like image {tuple(like.shape)}, got {tuple(mask.shape)}"
        )
    if mask.dtype == torch.bool:
        return mask.to(like.dtype)
    if not mask.is_floating_point():
        raise TypeError(f"mask must be a float (or bool) tensor, got dtype {mask.dtype}")
    return mask.to(like.dtype)


def _weighted_mean(values: Tensor, weight: Tensor | None) -> Tensor:
    """``sum(w * v) / sum(w * 1)`` over all elements (w broadcast to v); 0 when sum(w) == 0."""
    if weight is None:
        return values.mean()
    num = (weight * values).sum()
    den = weight.expand_as(values).sum()
    # all-zero weights: num is exactly 0, so dividing by 1 instead returns 0 with the graph kept
    # (zero gradients, no nan, no host sync)
    return num / torch.where(den > 0, den, torch.ones_like(den))


# ----------------------------------------------------------------------------- L1 / MSE


def l1(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean absolute error, optionally weighted per pixel.

    ``L1 = sum_{b,c,y,x} w |pred - target| / sum_{b,c,y,x} w`` with ``w`` broadcast to the image
    shape (so a (B, 1, H, W) weight counts once per channel); ``w = 1`` gives the plain mean
    ``mean |pred - target|``. Returns 0 when all weights are 0.

    Inputs:
        pred, target: (B, C, H, W) float, same shape.
        weight: None, or a float tensor >= 0 broadcastable to (B, C, H, W), e.g. (B, 1, H, W).
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. ``pred`` (and ``target``, ``weight``).
    """
    pred, target = _check_pair(pred, target)
    if weight is not None:
        weight = _check_weight(weight, pred)
    return _weighted_mean((pred - target).abs(), weight)


def mse(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean squared error, optionally weighted per pixel (the Context Encoders L2, Pathak 2016).

    ``MSE = sum w (pred - target)^2 / sum w`` with ``w`` broadcast to (B, C, H, W); plain mean
    when ``weight`` is None; 0 when all weights are 0.

    Inputs: as :func:`l1`. Outputs: 0-dim tensor >= 0, differentiable.
    """
    pred, target = _check_pair(pred, target)
    if weight is not None:
        weight = _check_weight(weight, pred)
    return _weighted_mean((pred - target).square(), weight)


def masked_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean absolute error over the masked pixels (all channels).

    ``sum_{b,c,y,x} m |pred - target| / (C * sum_{b,y,x} m)`` for a (B, 1, H, W) mask ``m``
    (a soft mask weights the pixels); 0 when the mask is empty. Equal to
    ``l1(pred, target, weight=mask)``.

    Inputs: pred, target (B, C, H, W) float; mask (B, 1, H, W) or (B, C, H, W) in [0, 1]
        (bool accepted). Outputs: 0-dim tensor >= 0, differentiable w.r.t. ``pred``.
    """
    pred, target = _check_pair(pred, target)
    mask = _check_mask(mask, pred)
    return _weighted_mean((pred - target).abs(), mask)


def hole_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L1 inside the hole: ``masked_l1(pred, target, mask)`` (Liu et al. 2018's L_hole, but a
    mean over the hole pixels instead of over all pixels). mask 1 = hole. See :func:`masked_l1`.
    """
    return masked_l1(pred, target, mask)


def valid_l1(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """L1 outside the hole: ``masked_l1(pred, target, 1 - mask)`` (Liu et al. 2018's L_valid,
    as a mean over the valid pixels). mask 1 = hole. See :func:`masked_l1`.
    """
    pred, target = _check_pair(pred, target)
    mask = _check_mask(mask, pred)
    return masked_l1(pred, target, 1 - mask)


def hole_mse(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error inside the hole (Context Encoders' masked L2, Pathak et al. 2016).

    ``sum m (pred - target)^2 / (C * sum m)``; 0 for an empty mask.
    Inputs: as :func:`masked_l1`. Outputs: 0-dim tensor >= 0, differentiable.
    """
    pred, target = _check_pair(pred, target)
    mask = _check_mask(mask, pred)
    return _weighted_mean((pred - target).square(), mask)


# ----------------------------------------------------------------------------- total variation


def total_variation(x: Tensor, mask: Tensor | None = None) -> Tensor:
    """Anisotropic total variation, as a mean over neighbouring pixel pairs.

    Without a mask:
    ``TV = mean |x[..., y, x+1] - x[..., y, x]| + mean |x[..., y+1, x] - x[..., y, x]|``
    (the means over B*C*H*(W-1) horizontal and B*C*(H-1)*W vertical differences), so a constant
    image gives 0 and a one-pixel 0/1 checkerboard gives 2.

    With a mask (1 = hole): only the pairs whose two pixels both lie in P, the hole dilated by one
    pixel (3 x 3 square), count, as in Liu et al. 2018 (Partial Convolutions), eq. 6:
    ``TV = sum_{pairs in P} |dx| / (C * #horizontal pairs in P) + (same for dy)``; 0 when the
    mask is empty. (Liu et al. divide by the number of image elements instead; the mean over
    the pairs keeps the term independent of the hole size.) Typically applied to the composited
    output ``mask * pred + (1 - mask) * target``.

    Inputs: x (B, C, H, W) float, H, W >= 2; mask None or (B, 1, H, W), binarised at 0.5.
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. ``x``.
    """
    x = _check_image(x, "x")
    if x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"total_variation needs H, W >= 2, got {x.shape[2]}x{x.shape[3]}")
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs()  # (B, C, H, W-1)
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs()  # (B, C, H-1, W)
    if mask is None:
        return dx.mean() + dy.mean()
    mask = _check_mask(mask, x)
    if mask.shape[1] != 1:
        mask = mask.amax(dim=1, keepdim=True)  # (B, C, H, W) -> (B, 1, H, W)
    region = F.max_pool2d((mask.detach() > 0.5).to(x.dtype), 3, stride=1, padding=1)  # dilate
    wx = region[..., :, 1:] * region[..., :, :-1]  # both pixels of the pair in P
    wy = region[..., 1:, :] * region[..., :-1, :]
    return _weighted_mean(dx, wx) + _weighted_mean(dy, wy)


# ----------------------------------------------------------------------------- spatial discount


def spatial_discount(mask: Tensor, gamma: float = 0.9) -> Tensor:
    """DeepFill v1's spatial discounting weights: ``gamma ** l`` in the hole, 0 outside.

    ``l`` is the Euclidean distance (pixels) from a hole pixel to the nearest valid pixel
    (``scipy.ndimage.distance_transform_edt``), so hole pixels next to a valid pixel (4-neighbours)
    get ``l = 1`` and weight ``gamma``, and pixels deep inside the hole, whose content is the
    most ambiguous, count less (Yu et al. 2018, section 3.1; gamma = 0.9). Yu et al. compute it
    for a rectangular hole from the distance to the rectangle's edge; the distance transform is
    the same idea for any hole shape. An image that has no valid pixel at all is treated as if
    surrounded by valid pixels (distance to the image border, border pixels l = 1).

    Inputs: mask (B, 1, H, W) float (binarised at 0.5) or bool, 1 = hole; gamma in (0, 1].
    Outputs: (B, 1, H, W) in [0, gamma], mask's float dtype (float32 for bool) and device; not
        differentiable (a constant weight map).
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor (B, 1, H, W), got {type(mask).__name__}")
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be (B, 1, H, W), got shape {tuple(mask.shape)}")
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a float, got {type(gamma).__name__}")
    if not 0.0 < float(gamma) <= 1.0:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    dtype = mask.dtype if mask.is_floating_point() else torch.float32
    holes = (mask.detach() > 0.5).cpu().numpy()[:, 0]  # (B, H, W) bool
    weights = np.zeros(holes.shape, dtype=np.float64)
    for b, hole in enumerate(holes):
        if not hole.any():
            continue
        if hole.all():  # no valid pixel: measure to a valid frame around the image
            framed = np.pad(hole, 1, constant_values=False)  # (H+2, W+2)
            dist = ndimage.distance_transform_edt(framed)[1:-1, 1:-1]
        else:
            dist = ndimage.distance_transform_edt(hole)  # 0 outside, >= 1 inside the hole
        weights[b] = np.where(hole, float(gamma) ** dist, 0.0)
    return torch.from_numpy(weights[:, None]).to(device=mask.device, dtype=dtype)  # (B, 1, H, W)


def discounted_l1(pred: Tensor, target: Tensor, mask: Tensor, gamma: float = 0.9) -> Tensor:
    """Spatially discounted L1 in the hole (Yu et al. 2018, DeepFill v1).

    ``sum_{b,c,y,x} d |pred - target| / (C * sum_{b,y,x} d)`` with ``d = spatial_discount(mask,
    gamma)``; so ``gamma = 1`` gives :func:`hole_l1`. (DeepFill's code divides by the number of
    all elements instead; here the weighted mean keeps the scale of :func:`hole_l1`.)
    0 for an empty mask.

    Inputs: pred, target (B, C, H, W) float; mask (B, 1, H, W), 1 = hole; gamma in (0, 1].
    Outputs: 0-dim tensor >= 0, differentiable w.r.t. ``pred``.
    """
    pred, target = _check_pair(pred, target)
    mask = _check_mask(mask, pred)
    if mask.shape[1] != 1:
        raise ValueError(f"mask must be (B, 1, H, W), got shape {tuple(mask.shape)}")
    weight = spatial_discount(mask, gamma).to(pred.dtype)
    return _weighted_mean((pred - target).abs(), weight)
