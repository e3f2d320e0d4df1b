"""The automatic trimap: from a segmenter's soft mask to a trimap for trimap-based matting.

A segmenter is sure of most pixels and wrong, or unsure, near the subject's outline (hair, fur,
see-through parts). Trimap matting (closed-form, KNN, a learned trimap model) recovers the fine
alpha there, given which pixels are surely foreground and surely background. The trimap built
here marks as unknown:

1. a band around the outline of the binary mask ``M = p > 0.5`` whose radius follows the size of
   the subject, ``r = clamp(round(band_fraction * sqrt(area)), min_band, max_band)`` with
   ``area = #M`` in pixels (so the band is the same fraction of a small or a large subject,
   whatever the resolution: ``sqrt(area)`` is the side of a square of the same area), and
2. every pixel where the segmenter is unsure, ``bg_threshold < p < fg_threshold`` (a wide soft
   transition, a semi-transparent region, a second object the model half-believes in).

Formula (``erode`` / ``dilate`` with an elliptical kernel of radius ``r``)::

    foreground = (erode(M, r) | S(M)) & (p >= fg_threshold)
    background = ~(dilate(M, r) & ~S(~M)) & (p <= bg_threshold)
    trimap     = 1 on foreground, 0 on background, 0.5 elsewhere

``S(R)`` (with ``thin_seeds``, the default) is the skeleton (medial axis, scikit-image's
``skeletonize``) of a region ``R`` where it lies at least ``SEED_DEPTH`` = 2 pixels inside ``R``:
a part of the subject thinner than the band (a pencil, a stem) or a gap in it (between leaves,
the holes of a mesh) keeps a line of known pixels along its middle instead of vanishing into the
unknown band, where matting, with no constraint of that kind nearby, would fill it with the
other label. Known pixels always agree with the segmenter (foreground has ``p >= fg_threshold``,
background ``p <= bg_threshold``); the unknown region contains every uncertain pixel and the band
``dilate(M, r) \\ erode(M, r)`` except those seed lines.

The band follows the trimap-from-segmentation recipe of Deep Image Matting (Xu et al., CVPR 2017,
dilated/eroded ground truth) and of rembg's alpha matting (erosion of confident regions); the
radius proportional to the subject's size and the uncertainty term are this module's choices.
"""

from __future__ import annotations

import math
import warnings
from typing import TypeVar

import cv2
import numpy as np
import torch
from torch import Tensor

from mattepaint.checks import check_float, check_int, check_range

__all__ = ["auto_trimap", "band_radius"]

ArrayT = TypeVar("ArrayT", np.ndarray, Tensor)

#: Defaults of :func:`auto_trimap` (also the keyword defaults of ``cutout``).
DEFAULT_BAND_FRACTION = 0.02
DEFAULT_MIN_BAND = 3
DEFAULT_MAX_BAND = 40
DEFAULT_FG_THRESHOLD = 0.95
DEFAULT_BG_THRESHOLD = 0.05
#: Skeleton pixels at least this deep inside a region become seeds (``thin_seeds``).
SEED_DEPTH = 2.0


def band_radius(
    area: float,
    *,
    band_fraction: float = DEFAULT_BAND_FRACTION,
    min_band: int = DEFAULT_MIN_BAND,
    max_band: int = DEFAULT_MAX_BAND,
) -> int:
    """Radius in pixels of the unknown band for a subject of ``area`` pixels.

    ``r = clamp(round(band_fraction * sqrt(area)), min_band, max_band)``.

    Inputs:
        area: the subject's area in pixels (>= 0).
        band_fraction: radius as a fraction of ``sqrt(area)`` (>= 0).
        min_band, max_band: the clamp, ints with ``0 <= min_band <= max_band``.

    Outputs:
        int radius.

    Example:
        >>> band_radius(400 * 400)  # 0.02 * 400 = 8
        8
        >>> band_radius(10 * 10), band_radius(4000 * 4000)  # clamped to [3, 40]
        (3, 40)
    """
    area = check_float("area", area, low=0.0)
    band_fraction = check_float("band_fraction", band_fraction, low=0.0)
    min_band = check_int("min_band", min_band, minimum=0)
    max_band = check_int("max_band", max_band, minimum=0)
    check_range("band", min_band, max_band)
    return int(min(max(round(band_fraction * math.sqrt(area)), min_band), max_band))


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _trimap_one(
    p: np.ndarray,
    band_fraction: float,
    min_band: int,
    max_band: int,
    fg_threshold: float,
    bg_threshold: float,
    thin_seeds: bool,
) -> np.ndarray:
    """(H, W) float soft mask -> (H, W) float32 trimap in {0, 0.5, 1} (the module's formula)."""
    m = (p > 0.5).astype(np.uint8)
    r = band_radius(
        float(m.sum()), band_fraction=band_fraction, min_band=min_band, max_band=max_band
    )
    inner, outer = m.astype(bool), m.astype(bool)
    if r > 0:
        # replicated border: a subject touching the image edge is not eroded from the edge
        inner = cv2.erode(m, _disk(r), borderType=cv2.BORDER_REPLICATE).astype(bool)
        outer = cv2.dilate(m, _disk(r), borderType=cv2.BORDER_REPLICATE).astype(bool)
        if thin_seeds:
            inner |= _medial_seeds(m)
            outer &= ~_medial_seeds(1 - m)
    trimap = np.full(p.shape, 0.5, np.float32)
    trimap[~outer & (p <= bg_threshold)] = 0.0
    trimap[inner & (p >= fg_threshold)] = 1.0
    return trimap


def _medial_seeds(region: np.ndarray) -> np.ndarray:
    """(H, W) bool: the skeleton (medial axis) of a uint8 {0, 1} region where it lies at least
    ``SEED_DEPTH`` pixels inside the region (parts at least ~2 * SEED_DEPTH pixels thick)."""
    from skimage.morphology import skeletonize  # lazy: scikit-image is slow to import

    depth = cv2.distanceTransform(region, cv2.DIST_L2, 3)  # distance to the nearest 0 pixel
    return skeletonize(region.astype(bool)) & (depth >= SEED_DEPTH)


def auto_trimap(
    soft_mask: ArrayT,
    *,
    band_fraction: float = DEFAULT_BAND_FRACTION,
    min_band: int = DEFAULT_MIN_BAND,
    max_band: int = DEFAULT_MAX_BAND,
    fg_threshold: float = DEFAULT_FG_THRESHOLD,
    bg_threshold: float = DEFAULT_BG_THRESHOLD,
    thin_seeds: bool = True,
) -> ArrayT:
    """Trimap from a segmenter's soft mask: confident regions known, a size-adaptive band and
    every uncertain pixel unknown (the formula in the module docstring).

    Inputs:
        soft_mask: (B, 1, H, W) float tensor or (H, W) float array, probabilities in [0, 1]
            (1 = subject), e.g. the output of a :class:`~mattepaint.segmentation.Segmenter`.
        band_fraction: band radius as a fraction of ``sqrt(subject area)`` (default 0.02: 8 px
            for a 400 x 400 subject; chosen on alphamatting GT01-27 among 0.01-0.07, where 0.02
            gave the lowest SAD for both U²-Netp and MODNet, see benchmarks/cutout_eval.py).
        min_band, max_band: clamp of the radius in pixels (default 3 and 40).
        fg_threshold: foreground needs ``p >= fg_threshold`` (default 0.95).
        bg_threshold: background needs ``p <= bg_threshold`` (default 0.05);
            ``0 <= bg_threshold <= 0.5 <= fg_threshold <= 1``.
        thin_seeds: keep the medial axis of parts thinner than the band as known (see the
            module docstring), so that a pencil or a gap between leaves keeps a constraint.

    Outputs:
        the trimap in the input's kind: (B, 1, H, W) tensor (input dtype and device) or (H, W)
        float32 array, values in {0 (background), 0.5 (unknown), 1 (foreground)}. Each image of
        a batch gets its own radius. A mask with no pixel above 0.5 gives no foreground (and a
        warning).

    Example:
        >>> p = np.zeros((64, 64), np.float32); p[16:48, 16:48] = 1
        >>> t = auto_trimap(p, min_band=2)  # area 1024: r = round(0.02 * 32) = 1 -> 2
        >>> float(t[32, 32]), float(t[16, 32]), float(t[2, 2])
        (1.0, 0.5, 0.0)
    """
    band_fraction = check_float("band_fraction", band_fraction, low=0.0)
    min_band = check_int("min_band", min_band, minimum=0)
    max_band = check_int("max_band", max_band, minimum=0)
    check_range("band", min_band, max_band)
    fg_threshold = check_float("fg_threshold", fg_threshold, low=0.5, high=1.0)
    bg_threshold = check_float("bg_threshold", bg_threshold, low=0.0, high=0.5)
    if not isinstance(thin_seeds, bool):
        raise TypeError(f"thin_seeds must be a bool, got {thin_seeds!r}")
    options = (band_fraction, min_band, max_band, fg_threshold, bg_threshold, thin_seeds)

    if isinstance(soft_mask, Tensor):
        if soft_mask.ndim != 4 or soft_mask.shape[1] != 1:
            raise ValueError(f"soft_mask must be (B, 1, H, W), got {tuple(soft_mask.shape)}")
        if not soft_mask.is_floating_point():
            raise TypeError(f"soft_mask must be a float tensor in [0, 1], got {soft_mask.dtype}")
        masks = soft_mask.detach().float().cpu().numpy()[:, 0]  # (B, H, W)
    elif isinstance(soft_mask, np.ndarray):
        if soft_mask.ndim != 2:
            raise ValueError(f"soft_mask must be an (H, W) array, got shape {soft_mask.shape}")
        if not np.issubdtype(soft_mask.dtype, np.floating):
            raise TypeError(f"soft_mask must be a float array in [0, 1], got {soft_mask.dtype}")
        masks = soft_mask[None].astype(np.float32, copy=False)  # (1, H, W)
    else:
        raise TypeError(
            f"soft_mask must be a (B, 1, H, W) tensor or an (H, W) array, got "
            f"{type(soft_mask).__name__}"
        )
    if masks.size == 0:
        raise ValueError(f"soft_mask must not be empty, got shape {tuple(soft_mask.shape)}")
    if not np.isfinite(masks).all():
        raise ValueError("soft_mask must be finite, got NaN or inf values")
    if not (masks > 0.5).any(axis=(1, 2)).all():
        warnings.warn(
            "soft_mask has no pixel above 0.5 (no subject): the trimap has no foreground",
            stacklevel=2,
        )
    trimaps = np.stack([_trimap_one(m, *options) for m in masks])  # (B, H, W)
    if isinstance(soft_mask, Tensor):
        out = torch.from_numpy(trimaps[:, None])  # (B, H, W) -> (B, 1, H, W)
        return out.to(device=soft_mask.device, dtype=soft_mask.dtype)
    return trimaps[0]
