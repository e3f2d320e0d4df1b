"""The cut-out pipeline: cut the subject out of a photo with no trimap and no background plate.

    image -> segmenter -> soft mask p -> auto_trimap(p) -> trimap matting on the unknown band
          -> foreground colour F -> RGBA = (F, alpha)

1. **Segment**: a :class:`~mattepaint.segmentation.Segmenter` (a standard ONNX file such as
   U²-Netp or MODNet, or a registered model) gives the soft mask ``p`` (B, 1, H, W).
2. **Automatic trimap**: :func:`~mattepaint.segmentation.auto_trimap`: known where the segmenter
   is confident, unknown on a band around the outline whose radius follows the subject's size and
   on every uncertain pixel.
3. **Matting on the band only**: the trimap matting method (a
   :class:`~mattepaint.methods.Matter` that needs a trimap: ``closed_form``, Levin et al. TPAMI
   2008; ``knn``, Chen et al. TPAMI 2013; or a learned trimap model) runs on the bounding box of
   the unknown pixels plus a margin of ``MARGIN`` pixels, downscaled so that the box holds at
   most ``max_matting_pixels`` pixels and at most ``max_unknown_pixels`` unknown ones (alpha is
   then upsampled bilinearly; the trimap is downscaled keeping a pixel known only when all it
   covers is known). Outside the unknown
   region alpha is the trimap's 0 / 1 exactly. Without refinement (``refine=None``) alpha is the
   segmenter's soft mask; so is it on the unknown pixels, with a warning, when the trimap has no
   sure foreground or no sure background (nothing for the matting to propagate). User strokes
   (``foreground_scribbles`` / ``background_scribbles``) correct the automatic trimap first
   (:mod:`mattepaint.segmentation.scribbles`), as closed-form matting was designed for.
4. **Foreground colour**: :func:`mattepaint.compositing.estimate_foreground` (Germer et al.,
   ICPR 2020) on the bounding box of the fractional alpha (``0 < alpha < 1``) plus ``MARGIN``;
   elsewhere, and wherever alpha is 1, ``F`` is the image (``I = F`` where alpha is 1; F is
   irrelevant where alpha is 0).

:meth:`CutoutResult.rgba` packs ``(F, alpha)`` as (B, 4, H, W) RGBA (see also
:func:`mattepaint.compositing.cutout` for one numpy image).

Example:
    >>> from mattepaint.segmentation import cutout
    >>> result = cutout(image)  # the shipped segmenter, closed_form on the band  # doctest: +SKIP
    >>> rgba = result.rgba()  # (1, 4, H, W)                                   # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import Tensor

from mattepaint.checks import check_int
from mattepaint.compositing import estimate_foreground
from mattepaint.errors import InputError
from mattepaint.methods import AUTO, Matter, get_matter, resolve_matter
from mattepaint.segmentation.base import SegmenterSpec, check_segmenter_input, resolve_segmenter
from mattepaint.segmentation.scribbles import apply_scribbles
from mattepaint.segmentation.trimap import (
    DEFAULT_BAND_FRACTION,
    DEFAULT_BG_THRESHOLD,
    DEFAULT_FG_THRESHOLD,
    DEFAULT_MAX_BAND,
    DEFAULT_MIN_BAND,
    auto_trimap,
)

__all__ = ["MARGIN", "CutoutResult", "cutout", "refine_matter"]

#: Margin in pixels around the unknown (matting) and fractional (foreground) bounding boxes.
MARGIN = 16
#: Default cap on the pixels of the box matting runs on (larger boxes are downscaled).
DEFAULT_MAX_MATTING_PIXELS = 1_000_000
#: Default cap on the unknown pixels matting solves for (the cost of closed-form grows with them).
#: 50,000 halves the matting time of the shipped segmenter's bands on alphamatting GT01-27 with
#: the same IoU / SAD as 100,000 (0.875 / 31.0 against 0.874 / 31.0; docs/matting.md).
DEFAULT_MAX_UNKNOWN_PIXELS = 50_000
_EPS = 0.5 / 255.0  # alpha within half an 8-bit step of 0 or 1 counts as opaque / transparent


@dataclass
class CutoutResult:
    """Output of :func:`cutout` (all tensors in the input's dtype and device).

    Attributes:
        alpha: (B, 1, H, W) in [0, 1], the matte.
        foreground: (B, 3, H, W) in [0, 1], the unpremultiplied foreground colour (the image
            itself where it was not estimated).
        soft_mask: (B, 1, H, W) in [0, 1], the segmenter's output.
        trimap: (B, 1, H, W) in {0, 0.5, 1}, the automatic trimap; None without refinement.
        seconds: wall-clock seconds per stage (``segment``, ``trimap``, ``matting``,
            ``foreground``), summed over the batch.
    """

    alpha: Tensor
    foreground: Tensor
    soft_mask: Tensor
    trimap: Tensor | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def rgba(self) -> Tensor:
        """The cut-out as RGBA: ``cat(F, alpha)`` -> (B, 4, H, W) in [0, 1], unpremultiplied."""
        return torch.cat([self.foreground, self.alpha], dim=1)


def refine_matter(refine: str | os.PathLike[str] | Matter) -> Matter:
    """The trimap matting method for ``refine``: a registered name (built without its own
    foreground estimation when it has that option, since the pipeline estimates F once at full
    resolution), ``"auto"`` (the default with a trimap: the best shipped trimap model, else
    cf_knn_sm; :func:`mattepaint.methods.auto_matter`), a trimap model file (a path object) or
    a :class:`~mattepaint.methods.Matter`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones), or a method that does
            not take a trimap.
    """
    if isinstance(refine, str) and refine.lower() == AUTO:
        refine = AUTO
    if refine == AUTO or isinstance(refine, os.PathLike):
        matter = resolve_matter(refine, has_trimap=True, has_background=False)
    elif isinstance(refine, str):
        try:
            matter = get_matter(refine, foreground=False)
        except ValueError:  # no `foreground` option (or an unknown name: raised again below)
            matter = get_matter(refine)
    elif isinstance(refine, Matter):
        matter = refine
    else:
        raise TypeError(
            f"refine must be a method name, a Matter or None, got {type(refine).__name__}"
        )
    if matter.needs != "trimap":
        raise ValueError(
            f"refine needs a trimap matting method (closed_form, knn, ...), got {matter.name!r} "
            f"which needs {matter.needs!r}"
        )
    return matter


def _box(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of the True pixels of an (H, W) bool map, grown by ``margin``, clipped."""
    ys, xs = np.nonzero(region.any(axis=1))[0], np.nonzero(region.any(axis=0))[0]
    h, w = region.shape
    return (
        slice(max(int(ys[0]) - margin, 0), min(int(ys[-1]) + 1 + margin, h)),
        slice(max(int(xs[0]) - margin, 0), min(int(xs[-1]) + 1 + margin, w)),
    )


def _downscale_trimap(trimap: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-downscale a {0, 0.5, 1} trimap, keeping a pixel known only if all it covers is (a
    label that would vanish, e.g. present only as thin seed lines, is kept by nearest neighbour)."""
    fg = cv2.resize((trimap == 1.0).astype(np.float32), (width, height), cv2.INTER_AREA)
    bg = cv2.resize((trimap == 0.0).astype(np.float32), (width, height), cv2.INTER_AREA)
    small = np.full((height, width), 0.5, np.float32)
    small[fg >= 1.0 - 1e-4] = 1.0
    small[bg >= 1.0 - 1e-4] = 0.0
    nearest = cv2.resize(trimap, (width, height), interpolation=cv2.INTER_NEAREST)
    for value in (0.0, 1.0):  # a label only present in thin lines: keep it by nearest neighbour
        if not (small == value).any():
            small[nearest == value] = value
    return small


def _run_matter(matter: Matter, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """alpha (H, W) float32 of a Matter on one (H, W, 3) image and (H, W) trimap."""
    img = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]  # (1, 3, H, W)
    tri = torch.from_numpy(np.ascontiguousarray(trimap))[None, None]  # (1, 1, H, W)
    alpha = matter(img, trimap=tri).alpha  # (1, 1, H, W)
    return alpha[0, 0].detach().float().cpu().numpy()


def _matte_band(
    matter: Matter,
    image: np.ndarray,
    trimap: np.ndarray,
    soft: np.ndarray,
    max_pixels: int,
    max_unknown: int,
) -> np.ndarray:
    """alpha (H, W): the trimap on known pixels, the matter's alpha on the unknown ones (the soft
    mask ``soft`` there, with a warning, when the trimap has no foreground or no background)."""
    unknown = trimap == 0.5
    alpha = trimap.copy()
    if not unknown.any():
        return alpha
    rows, cols = _box(unknown, MARGIN)
    crop_img, crop_tri = image[rows, cols], trimap[rows, cols]  # (h, w, 3), (h, w)
    h, w = crop_tri.shape
    scale = min(1.0, math.sqrt(max_pixels / (h * w)), math.sqrt(max_unknown / unknown.sum()))
    small_img, small_tri = crop_img, crop_tri
    if scale < 1.0:
        hs, ws = max(8, round(h * scale)), max(8, round(w * scale))
        small_img = cv2.resize(crop_img, (ws, hs), interpolation=cv2.INTER_AREA).clip(0.0, 1.0)
        small_tri = _downscale_trimap(crop_tri, hs, ws)
    if not (small_tri == 1.0).any() or not (small_tri == 0.0).any():
        missing = "foreground" if not (small_tri == 1.0).any() else "background"
        warnings.warn(
            f"the automatic trimap has no sure {missing} (the segmenter is unsure everywhere): "
            "matting skipped, alpha is the segmenter's soft mask",
            stacklevel=3,
        )
        return np.where(unknown, soft, trimap).astype(np.float32)
    crop_alpha = _run_matter(matter, small_img, small_tri)
    if scale < 1.0:
        crop_alpha = cv2.resize(crop_alpha, (w, h), interpolation=cv2.INTER_LINEAR)
    alpha[rows, cols] = np.where(unknown[rows, cols], np.clip(crop_alpha, 0.0, 1.0), crop_tri)
    return alpha


def _foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """F (H, W, 3): estimated on the box of fractional alpha, the image where alpha is 1
    (``I = F`` there) and outside the box."""
    fractional = (alpha > _EPS) & (alpha < 1.0 - _EPS)
    fg = image.copy()
    if fractional.any():
        rows, cols = _box(fractional, MARGIN)
        estimate = estimate_foreground(image[rows, cols], alpha[rows, cols])
        fg[rows, cols] = np.where(alpha[rows, cols, None] >= 1.0, image[rows, cols], estimate)
    return fg


def _scribble_masks(strokes: Tensor | None, image: Tensor, name: str) -> np.ndarray | None:
    """(B, 1, H, W) strokes -> (B, H, W) bool, or None."""
    if strokes is None:
        return None
    b, _, h, w = image.shape
    if not isinstance(strokes, Tensor) or tuple(strokes.shape) != (b, 1, h, w):
        got = tuple(strokes.shape) if isinstance(strokes, Tensor) else type(strokes).__name__
        raise ValueError(f"{name} must be (B, 1, H, W) = {(b, 1, h, w)}, got {got}")
    marked = strokes.detach().float().cpu().numpy()[:, 0] > 0.5
    if not marked.any():
        raise InputError(f"{name} mark no pixel (none above 0.5): paint a stroke or leave them out")
    return marked


def cutout(
    image: Tensor,
    *,
    segmenter: SegmenterSpec | None = None,
    refine: str | os.PathLike[str] | Matter | None = "closed_form",
    soft_mask: Tensor | None = None,
    band_fraction: float = DEFAULT_BAND_FRACTION,
    min_band: int = DEFAULT_MIN_BAND,
    max_band: int = DEFAULT_MAX_BAND,
    fg_threshold: float = DEFAULT_FG_THRESHOLD,
    bg_threshold: float = DEFAULT_BG_THRESHOLD,
    thin_seeds: bool = True,
    max_matting_pixels: int = DEFAULT_MAX_MATTING_PIXELS,
    max_unknown_pixels: int = DEFAULT_MAX_UNKNOWN_PIXELS,
    estimate_fg: bool = True,
    foreground_scribbles: Tensor | None = None,
    background_scribbles: Tensor | None = None,
    scribble_radius: int | None = None,
) -> CutoutResult:
    """Cut the subject out of photos: segment, automatic trimap, band matting, foreground colour.

    The stages and their formulas are in the module docstring.

    Inputs:
        image: (B, 3, H, W) float tensor in [0, 1].
        segmenter: a :class:`~mattepaint.segmentation.Segmenter`, a registered name or a model
            file (see :func:`~mattepaint.segmentation.load_segmenter`); None: the shipped
            default (:func:`~mattepaint.segmentation.default_segmenter`). Not used when
            ``soft_mask`` is given.
        refine: the trimap matting method: a registered name (``"closed_form"``, ``"knn"``,
            ...), ``"auto"`` (the default with a trimap, e.g. the shipped learned model), a
            trimap model file (path object), a :class:`~mattepaint.methods.Matter` that needs a
            trimap, or None / ``"none"`` for the segmenter's soft mask as the matte.
        soft_mask: optional (B, 1, H, W) segmenter output computed earlier (the segmenter is
            then not run, e.g. when only the trimap options change).
        band_fraction, min_band, max_band, fg_threshold, bg_threshold, thin_seeds: the
            automatic trimap's options (:func:`~mattepaint.segmentation.auto_trimap`).
        max_matting_pixels: the matting box is downscaled to hold at most this many pixels
            (>= 64; the cost of KNN matting grows with the box).
        max_unknown_pixels: ... and to hold at most this many unknown pixels (>= 64; the cost
            of closed-form matting grows with them). Scale: ``min(1, sqrt(max_matting_pixels /
            box pixels), sqrt(max_unknown_pixels / unknown pixels))``.
        estimate_fg: estimate the foreground colour (else ``foreground`` is the image).
        foreground_scribbles, background_scribbles: optional (B, 1, H, W) user strokes (> 0.5
            = stroked) that correct the automatic trimap before matting
            (:func:`~mattepaint.segmentation.scribbles.apply_scribbles`: strokes become known,
            the opposite sure label within ``scribble_radius`` pixels of them unknown); they need
            a ``refine`` method, and must mark at least one pixel. An image with foreground
            strokes needs no subject from the segmenter.
        scribble_radius: reach of a stroke in pixels (default
            :func:`~mattepaint.segmentation.scribbles.scribble_radius` of the image size).

    Outputs:
        :class:`CutoutResult` with alpha (B, 1, H, W), foreground (B, 3, H, W), soft_mask
        (B, 1, H, W), trimap (B, 1, H, W) or None, and per-stage seconds.

    Raises:
        InputError: the segmenter finds no subject in an image (no pixel with ``p > 0.5``), or a
            segmenter name / file that cannot be loaded.
        ValueError / TypeError: bad shapes, options or refine method.
    """
    check_segmenter_input(image)
    max_matting_pixels = check_int("max_matting_pixels", max_matting_pixels, minimum=64)
    max_unknown_pixels = check_int("max_unknown_pixels", max_unknown_pixels, minimum=64)
    if not isinstance(estimate_fg, bool):
        raise TypeError(f"estimate_fg must be a bool, got {estimate_fg!r}")
    if isinstance(refine, str) and refine.lower() == "none":
        refine = None
    matter = refine_matter(refine) if refine is not None else None
    scribbles = [
        _scribble_masks(s, image, name)
        for s, name in (
            (foreground_scribbles, "foreground_scribbles"),
            (background_scribbles, "background_scribbles"),
        )
    ]
    if matter is None and any(s is not None for s in scribbles):
        raise ValueError("scribbles correct the trimap of the matting: give a refine method")
    trimap_options = {
        "band_fraction": band_fraction,
        "min_band": min_band,
        "max_band": max_band,
        "fg_threshold": fg_threshold,
        "bg_threshold": bg_threshold,
        "thin_seeds": thin_seeds,
    }
    seconds = {"segment": 0.0, "trimap": 0.0, "matting": 0.0, "foreground": 0.0}
    b, _, h, w = image.shape

    start = time.perf_counter()
    if soft_mask is None:
        seg = resolve_segmenter(segmenter)  # None: the shipped default
        soft_mask = seg(image)
        name = seg.name
    else:
        name = getattr(segmenter, "name", "the given soft mask")
    if not isinstance(soft_mask, Tensor) or tuple(soft_mask.shape) != (b, 1, h, w):
        got = tuple(soft_mask.shape) if isinstance(soft_mask, Tensor) else type(soft_mask)
        raise ValueError(f"soft mask must be (B, 1, H, W) = {(b, 1, h, w)}, got {got}")
    seconds["segment"] = time.perf_counter() - start
    masks = soft_mask.detach().float().cpu().numpy()[:, 0].clip(0.0, 1.0)  # (B, H, W)
    fg_strokes, bg_strokes = (s if s is not None else [None] * b for s in scribbles)
    for i, m in enumerate(masks):
        if not (m > 0.5).any() and not (fg_strokes[i] is not None and fg_strokes[i].any()):
            which = f" image {i} of the batch" if b > 1 else " the image"
            raise InputError(
                f"segmenter {name!r} found no subject in{which} (highest score {m.max():.2f}, "
                "needs > 0.5): nothing to cut out; try another segmenter"
            )

    pixels = image.detach().float().cpu().numpy().transpose(0, 2, 3, 1).clip(0.0, 1.0)
    alphas, trimaps, foregrounds = [], [], []
    for img, m, fg_s, bg_s in zip(pixels, masks, fg_strokes, bg_strokes):  # (H, W, 3), (H, W)
        if matter is None:
            alpha = m
        else:
            start = time.perf_counter()
            with warnings.catch_warnings():
                if fg_s is not None and fg_s.any():  # the strokes give the subject
                    warnings.filterwarnings("ignore", "soft_mask has no pixel above")
                trimap = auto_trimap(m, **trimap_options)
            if fg_s is not None or bg_s is not None:
                trimap = apply_scribbles(trimap, fg_s, bg_s, radius=scribble_radius)
            seconds["trimap"] += time.perf_counter() - start
            start = time.perf_counter()
            alpha = _matte_band(matter, img, trimap, m, max_matting_pixels, max_unknown_pixels)
            seconds["matting"] += time.perf_counter() - start
            trimaps.append(trimap)
        start = time.perf_counter()
        foregrounds.append(_foreground(img, alpha) if estimate_fg else img)
        seconds["foreground"] += time.perf_counter() - start
        alphas.append(alpha)

    def to_tensor(arrays: list[np.ndarray]) -> Tensor:
        stacked = np.stack([a[..., None] if a.ndim == 2 else a for a in arrays])  # (B, H, W, C)
        out = torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)))
        return out.to(device=image.device, dtype=image.dtype)  # (B, C, H, W)

    return CutoutResult(
        alpha=to_tensor(alphas),
        foreground=to_tensor(foregrounds),
        soft_mask=to_tensor(list(masks)),
        trimap=to_tensor(trimaps) if trimaps else None,
        seconds=seconds,
    )
