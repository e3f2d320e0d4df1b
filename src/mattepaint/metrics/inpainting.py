"""Inpainting metrics: pure functions comparing a prediction with the ground truth.

Inputs everywhere:
    torch tensors (B, C, H, W) float in [0, 1], C = 1 or 3 -> a tensor (B,) of per-image values
    (same dtype and device, differentiable where the formula is);
    or numpy arrays (H, W, C) / (H, W) float in [0, 1] -> a Python float (computed in float64).
    ``pred`` and ``gt`` must be the same kind and shape. Hole masks are (B, 1, H, W) for tensors,
    (H, W) or (H, W, 1) for numpy, 1 / True = hole, binarised at 0.5.

Scale: images are in [0, 1], so by default MSE is in [0, 1] and L1 / TV in [0, 1]. Papers often
report them on a 0-255 scale (e.g. seed 002's Table II: MSE 821.73, L1 9.66): pass ``scale=255``
to ``mse`` / ``l1`` / ``hole_mse`` / ``hole_l1`` / ``total_variation`` (the images are multiplied by
``scale`` before the formula, so MSE grows by ``scale**2``, L1 and TV by ``scale``). PSNR, SSIM and
Dice do not depend on the scale (data range 1 for [0, 1] images).
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:  # pragma: no cover
    from mattepaint.metrics.lpips import LPIPS

__all__ = [
    "dice",
    "hole_l1",
    "hole_mse",
    "inpainting_metrics",
    "l1",
    "mse",
    "psnr",
    "ssim",
    "total_variation",
]

ArrayOrTensor = np.ndarray | Tensor

# SSIM constants (Wang et al. 2004), matching skimage's gaussian_weights=True defaults.
_SSIM_SIGMA = 1.5
_SSIM_RADIUS = 5  # int(truncate * sigma + 0.5) with skimage's truncate 3.5 -> 11x11 window
_SSIM_K1, _SSIM_K2 = 0.01, 0.03


# ----------------------------------------------------------------------------- input checks


def _as_batch(x: object, name: str, stacklevel: int = 3) -> tuple[Tensor, bool]:
    """Return ``x`` as a float (B, C, H, W) tensor and whether it came as numpy."""
    if isinstance(x, np.ndarray):
        if x.ndim == 2:
            x = x[:, :, None]
        if x.ndim != 3:
            raise ValueError(f"{name} must be a numpy (H, W, C) or (H, W) array, got {x.shape}")
        if x.dtype != np.bool_ and not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"{name} must be float in [0, 1] (or bool), got dtype {x.dtype}; "
                "divide uint8 images by 255"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
        tensor = tensor.permute(2, 0, 1)[None]  # (H, W, C) -> (1, C, H, W)
        is_numpy = True
    elif isinstance(x, Tensor):
        if x.ndim != 4:
            raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {tuple(x.shape)}")
        if x.dtype == torch.bool:
            x = x.to(torch.get_default_dtype())
        elif not x.is_floating_point():
            raise TypeError(
                f"{name} must be float in [0, 1] (or bool), got dtype {x.dtype}; "
                "divide uint8 images by 255"
            )
        tensor = x
        is_numpy = False
    else:
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if tensor.shape[1] not in (1, 3):
        raise ValueError(
            f"{name} must have 1 or 3 channels (grayscale or RGB), got {tensor.shape[1]} "
            f"(shape {tuple(x.shape)}; numpy images are (H, W, C), tensors (B, C, H, W))"
        )
    if tensor.numel() == 0:
        raise ValueError(f"{name} is empty, shape {tuple(x.shape)}")
    with torch.no_grad():
        low, high = float(tensor.min()), float(tensor.max())
    if low < -1e-6 or high > 1 + 1e-6:
        warnings.warn(
            f"{name} values should be in [0, 1], got [{low:.4g}, {high:.4g}]",
            stacklevel=stacklevel,
        )
    return tensor, is_numpy


def _as_pair(pred: object, gt: object) -> tuple[Tensor, Tensor, bool]:
    """Check ``pred`` and ``gt`` are the same kind and shape; return them as (B, C, H, W)."""
    if isinstance(pred, np.ndarray) != isinstance(gt, np.ndarray):
        raise TypeError(
            f"pred and gt must both be numpy arrays or both tensors, got "
            f"{type(pred).__name__} and {type(gt).__name__}"
        )
    p, is_numpy = _as_batch(pred, "pred", stacklevel=4)
    g, _ = _as_batch(gt, "gt", stacklevel=4)
    if p.shape != g.shape:
        shapes = tuple(pred.shape), tuple(gt.shape)  # type: ignore[attr-defined]
        raise ValueError(
            f"pred and gt must have the same shape, got pred {shapes[0]} and gt {shapes[1]}"
        )
    return p, g, is_numpy


def _as_mask(mask: object, like: Tensor, is_numpy: bool) -> Tensor:
    """Return the hole mask as a (B, 1, H, W) tensor of 0/1 in ``like``'s dtype and device."""
    b, c, h, w = like.shape
    if is_numpy:
        if not isinstance(mask, np.ndarray):
            raise TypeError(
                f"mask must be a numpy array like the images, got {type(mask).__name__}"
            )
        if mask.ndim == 3 and mask.shape[2] == 1:
            mask = mask[:, :, 0]
        if mask.shape != (h, w):
            raise ValueError(
                f"mask must be (H, W) or (H, W, 1) like the image ({h}, {w}, {c}), "
                f"got {mask.shape}"
            )
        m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float64))[None, None]
    else:
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a tensor like the images, got {type(mask).__name__}")
        if tuple(mask.shape) != (b, 1, h, w):
            raise ValueError(
                f"mask must be (B, 1, H, W) like image {tuple(like.shape)}, i.e. "
                f"{(b, 1, h, w)}, got {tuple(mask.shape)}"
            )
        m = mask
    return (m > 0.5).to(dtype=like.dtype, device=like.device)


def _out(value: Tensor, is_numpy: bool) -> Tensor | float:
    return float(value[0]) if is_numpy else value


# ----------------------------------------------------------------------------- metrics


def mse(pred: ArrayOrTensor, gt: ArrayOrTensor, *, scale: float = 1.0) -> Tensor | float:
    """Mean squared error per image.

    ``MSE = mean_{c,y,x} (scale * (pred - gt))^2``

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1].
        scale: multiply the images by this first (255 for the 0-255 scale of most papers).
    Outputs:
        (B,) tensor (differentiable), or a float for numpy input; in [0, scale**2].
    """
    p, g, is_numpy = _as_pair(pred, gt)
    return _out(((p - g) * scale).square().mean(dim=(1, 2, 3)), is_numpy)


def l1(pred: ArrayOrTensor, gt: ArrayOrTensor, *, scale: float = 1.0) -> Tensor | float:
    """Mean absolute error per image.

    ``L1 = mean_{c,y,x} |scale * (pred - gt)|``

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1].
        scale: multiply the images by this first (255 for the 0-255 scale).
    Outputs:
        (B,) tensor (differentiable), or a float for numpy input; in [0, scale].
    """
    p, g, is_numpy = _as_pair(pred, gt)
    return _out(((p - g) * scale).abs().mean(dim=(1, 2, 3)), is_numpy)


def _hole_mean(
    pred: ArrayOrTensor, gt: ArrayOrTensor, mask: ArrayOrTensor, power: int, scale: float
) -> Tensor | float:
    p, g, is_numpy = _as_pair(pred, gt)
    m = _as_mask(mask, p, is_numpy)
    err = ((p - g) * scale).abs().pow(power)
    count = m.sum(dim=(1, 2, 3)) * p.shape[1]  # hole pixels x channels, (B,)
    total = (err * m).sum(dim=(1, 2, 3))
    empty = count == 0
    if bool(empty.any()):
        warnings.warn(
            f"mask has no hole pixels for image(s) {empty.nonzero().flatten().tolist()}; "
            "their hole error is nan",
            stacklevel=3,
        )
    value = torch.where(empty, torch.full_like(total, math.nan), total / count.clamp(min=1))
    return _out(value, is_numpy)


def hole_l1(
    pred: ArrayOrTensor, gt: ArrayOrTensor, mask: ArrayOrTensor, *, scale: float = 1.0
) -> Tensor | float:
    """Mean absolute error over the hole pixels only.

    ``hole_L1 = sum_{c,y,x} M |scale * (pred - gt)| / (C * sum_{y,x} M)``, with M the mask
    binarised at 0.5. An image whose mask has no hole gives nan (and a warning), not an error,
    so that one empty mask in a batch does not stop an evaluation; use ``torch.nanmean`` to
    average.

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1].
        mask: (B, 1, H, W) tensor (numpy: (H, W) or (H, W, 1)), 1 / True = hole.
        scale: multiply the images by this first (255 for the 0-255 scale).
    Outputs:
        (B,) tensor, or a float for numpy input; in [0, scale] or nan.
    """
    return _hole_mean(pred, gt, mask, 1, scale)


def hole_mse(
    pred: ArrayOrTensor, gt: ArrayOrTensor, mask: ArrayOrTensor, *, scale: float = 1.0
) -> Tensor | float:
    """Mean squared error over the hole pixels only (see :func:`hole_l1`).

    ``hole_MSE = sum_{c,y,x} M (scale * (pred - gt))^2 / (C * sum_{y,x} M)``; an empty hole gives
    nan with a warning.

    Inputs / Outputs: as :func:`hole_l1`; values in [0, scale**2] or nan.
    """
    return _hole_mean(pred, gt, mask, 2, scale)


def psnr(pred: ArrayOrTensor, gt: ArrayOrTensor) -> Tensor | float:
    """Peak signal-to-noise ratio per image, in dB, for a data range of 1.

    ``PSNR = 10 log10(1 / MSE)`` with MSE over all channels and pixels of [0, 1] images (the
    same value as ``10 log10(255^2 / MSE_255)``). Identical images give ``inf``.

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1].
    Outputs:
        (B,) tensor, or a float for numpy input; >= 0 for [0, 1] images, possibly inf.
    """
    p, g, is_numpy = _as_pair(pred, gt)
    return _out(-10.0 * torch.log10((p - g).square().mean(dim=(1, 2, 3))), is_numpy)


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The normalised 1-D Gaussian (11 taps, sigma 1.5), as scipy.ndimage.gaussian_filter's."""
    x = torch.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / _SSIM_SIGMA) ** 2)
    return (g / g.sum()).to(dtype=dtype, device=device)


def _filter_valid(x: Tensor, g: Tensor) -> Tensor:
    """Separable Gaussian filter, valid region only: (B, C, H, W) -> (B, C, H - 10, W - 10)."""
    c = x.shape[1]
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)  # along W
    return F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)  # along H


def ssim(pred: ArrayOrTensor, gt: ArrayOrTensor) -> Tensor | float:
    """Structural similarity (Wang et al., "Image Quality Assessment: From Error Visibility to
    Structural Similarity", IEEE TIP 2004), per image.

    Local statistics use an 11x11 Gaussian window (sigma 1.5), population (co)variances:
    ``mu_x = G * x``, ``s_x^2 = G * x^2 - mu_x^2``, ``s_xy = G * (x y) - mu_x mu_y``;
    ``SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))`` with
    ``C1 = (0.01)^2``, ``C2 = (0.03)^2`` (data range 1). The map is averaged over the valid region
    (5 pixels cropped from each border, where the window fits inside the image), then over the
    channels. This equals ``skimage.metrics.structural_similarity(pred, gt, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=-1)``: skimage filters
    with reflect padding and then crops ``(win_size - 1) // 2 = 5`` pixels, which leaves exactly
    the unpadded region.

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1],
            H and W at least 11.
    Outputs:
        (B,) tensor (differentiable), or a float for numpy input; in [-1, 1], 1 for identical
        images.
    """
    p, g, is_numpy = _as_pair(pred, gt)
    size = 2 * _SSIM_RADIUS + 1
    if p.shape[2] < size or p.shape[3] < size:
        raise ValueError(
            f"ssim needs images of at least {size}x{size} pixels, got {p.shape[2]}x{p.shape[3]}"
        )
    window = _gaussian_window(p.dtype, p.device)
    c1, c2 = _SSIM_K1**2, _SSIM_K2**2
    mu_p, mu_g = _filter_valid(p, window), _filter_valid(g, window)
    var_p = _filter_valid(p * p, window) - mu_p * mu_p
    var_g = _filter_valid(g * g, window) - mu_g * mu_g
    cov = _filter_valid(p * g, window) - mu_p * mu_g
    s_map = ((2 * mu_p * mu_g + c1) * (2 * cov + c2)) / (
        (mu_p * mu_p + mu_g * mu_g + c1) * (var_p + var_g + c2)
    )  # (B, C, H - 10, W - 10)
    return _out(s_map.mean(dim=(1, 2, 3)), is_numpy)


def total_variation(image: ArrayOrTensor, *, scale: float = 1.0) -> Tensor | float:
    """Anisotropic total variation of one image, mean-normalised, per image.

    ``TV = mean_{c,y,x} |I[c,y,x+1] - I[c,y,x]| + mean_{c,y,x} |I[c,y+1,x] - I[c,y,x]|``
    (the horizontal mean runs over C*H*(W-1) differences, the vertical one over C*(H-1)*W), on
    ``scale * image``. So a constant image gives 0 and a one-pixel checkerboard of 0/1 gives 2,
    independent of the image size. Reported as "TV" in seed 002 (Table II), whose exact
    normalisation is not stated; compare trends, not absolute numbers.

    Inputs:
        image: (B, C, H, W) tensor or (H, W, C) / (H, W) numpy array, float in [0, 1], H, W >= 2.
        scale: multiply the image by this first (255 for the 0-255 scale).
    Outputs:
        (B,) tensor (differentiable), or a float for numpy input; in [0, 2 * scale].
    """
    x, is_numpy = _as_batch(image, "image")
    if x.shape[2] < 2 or x.shape[3] < 2:
        raise ValueError(f"total_variation needs H, W >= 2, got {x.shape[2]}x{x.shape[3]}")
    x = x * scale
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return _out(dx + dy, is_numpy)


def dice(pred: ArrayOrTensor, gt: ArrayOrTensor, *, squared: bool = False) -> Tensor | float:
    """Soft Dice coefficient of two [0, 1] images, per image (seed 004, after Dice 1945).

    ``Dice = 2 sum_{c,y,x} A B / (sum_{c,y,x} A + sum_{c,y,x} B)``, with A = pred, B = gt as they
    are (not thresholded); 1 when both images are all zero. This is seed 004's formula. It reaches
    1 only for identical *binary* images: for identical grey images it equals
    ``sum A^2 / sum A`` (< 1), so compare it between methods on the same data, not with 1.

    ``squared=True`` gives the squared-denominator form ``2 sum A B / (sum A^2 + sum B^2)``
    (Milletari et al. 2016, V-Net), which is 1 exactly when A == B.

    Inputs:
        pred, gt: (B, C, H, W) tensors or (H, W, C) / (H, W) numpy arrays, float in [0, 1]
            (bool accepted).
        squared: use the squared denominator.
    Outputs:
        (B,) tensor (differentiable), or a float for numpy input; in [0, 1] for [0, 1] inputs.
    """
    p, g, is_numpy = _as_pair(pred, gt)
    num = 2 * (p * g).sum(dim=(1, 2, 3))
    if squared:
        den = (p * p).sum(dim=(1, 2, 3)) + (g * g).sum(dim=(1, 2, 3))
    else:
        den = p.sum(dim=(1, 2, 3)) + g.sum(dim=(1, 2, 3))
    both_zero = den == 0
    value = torch.where(both_zero, torch.ones_like(num), num / torch.where(both_zero, 1, den))
    return _out(value, is_numpy)


def inpainting_metrics(
    pred: ArrayOrTensor,
    gt: ArrayOrTensor,
    mask: ArrayOrTensor,
    *,
    lpips_model: LPIPS | None = None,
    scale: float = 1.0,
) -> dict[str, float]:
    """All inpainting metrics at once, averaged over the batch.

    Keys: ``mse``, ``l1``, ``hole_l1`` (scaled by ``scale``), ``psnr``, ``ssim``, ``tv`` (of
    ``pred``, scaled by ``scale``), ``dice``, and ``lpips`` when ``lpips_model`` is given. Each is
    the mean of the per-image values (so ``psnr`` is the mean PSNR, inf if any image is exact);
    ``hole_l1`` ignores images with an empty hole (nan if all are empty).

    Inputs:
        pred, gt: (B, 3, H, W) tensors or (H, W, 3) numpy arrays, float in [0, 1], H, W >= 11.
        mask: (B, 1, H, W) tensor (numpy: (H, W) / (H, W, 1)), 1 = hole.
        lpips_model: a :class:`mattepaint.metrics.lpips.LPIPS`; the images are moved to its device.
        scale: 1 for [0, 1] values, 255 to report MSE / L1 / hole L1 / TV on the 0-255 scale.
    Outputs:
        dict metric name -> float.
    """
    with torch.no_grad():
        p, g, is_numpy = _as_pair(pred, gt)
        m = _as_mask(mask, p, is_numpy)
        results = {
            "mse": mse(p, g, scale=scale),
            "l1": l1(p, g, scale=scale),
            "hole_l1": torch.nanmean(hole_l1(p, g, m, scale=scale)),  # type: ignore[arg-type]
            "psnr": psnr(p, g),
            "ssim": ssim(p, g),
            "tv": total_variation(p, scale=scale),
            "dice": dice(p, g),
        }
        if lpips_model is not None:
            param = next(lpips_model.parameters())
            results["lpips"] = lpips_model(
                p.to(device=param.device, dtype=param.dtype),
                g.to(device=param.device, dtype=param.dtype),
            )
    return {key: float(torch.as_tensor(value).mean()) for key, value in results.items()}
