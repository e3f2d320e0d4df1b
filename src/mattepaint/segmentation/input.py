"""The input check every segmenter shares (its own module, so that the segmenter families and
the loader in :mod:`mattepaint.segmentation.base` both import it without an import cycle)."""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

__all__ = ["check_segmenter_input"]


def check_segmenter_input(image: Tensor) -> None:
    """Validate a Segmenter's input: a floating-point (B, 3, H, W) tensor, B >= 1.

    Raises TypeError (not a float tensor) or ValueError (shape); warns when values fall outside
    [0, 1] (they are clipped by the segmenters).
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch tensor (B, 3, H, W), got {type(image).__name__}")
    if not image.is_floating_point():
        raise TypeError(
            f"image must be a floating-point tensor in [0, 1], got {image.dtype}"
            + (" (divide uint8 images by 255)" if image.dtype == torch.uint8 else "")
        )
    if image.ndim != 4 or image.shape[1] != 3 or image.shape[0] < 1:
        raise ValueError(f"image must be (B, 3, H, W) with B >= 1, got {tuple(image.shape)}")
    if image.shape[2] < 1 or image.shape[3] < 1:
        raise ValueError(f"image must be non-empty, got {tuple(image.shape)}")
    lo, hi = float(image.min()), float(image.max())
    if lo < 0.0 or hi > 1.0:
        warnings.warn(
            f"image values should be in [0, 1], got [{lo:.4g}, {hi:.4g}]; clipping", stacklevel=3
        )
