"""Matting training and evaluation data: foreground sources, synthetic composites, benchmarks.

Foreground sources give ``(fg (H, W, 3), alpha (H, W))`` pairs through ``__len__`` and
``load(i)``:

- :class:`DIMFolderSource`: a Deep-Image-Matting-style folder (``fg/`` and ``alpha/``, matched
  by file stem);
- :class:`RGBACutoutSource`: a folder of RGBA cut-outs (RGB = foreground, A = alpha);
- :class:`mattepaint.data.procedural.ProceduralForegrounds`: procedural objects with soft alpha.

:class:`CompositeDataset` composites them on random background crops,
``C = alpha F + (1 - alpha) B`` (Porter & Duff 1984), the synthetic-data recipe of Xu et al.,
"Deep Image Matting", CVPR 2017 (and seed report 000, section 3.1), with a random-width trimap
(Li & Lu, GCA Matting, AAAI 2020).

:class:`AlphaMattingDataset` reads the alphamatting.com training set (Rhemann et al., CVPR 2009;
evaluation only) and :class:`RealForegroundComposites` puts its real foregrounds (F estimated
with Germer et al.'s multi-level method) on new backgrounds.

Reproducibility: as in :mod:`mattepaint.data.inpainting`, every random choice of a training
sample comes from ``np.random.default_rng([seed, epoch, index])`` (validation:
``default_rng([seed, index])``), so a sample depends only on (seed, epoch, index).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from mattepaint.checks import check_float, check_int, is_int
from mattepaint.compositing import composite, estimate_foreground, trimap_from_alpha
from mattepaint.data.inpainting import resize_shorter_side
from mattepaint.errors import InputNotFoundError
from mattepaint.io import (
    as_path,
    list_images,
    load_alpha,
    load_image,
    load_rgba,
    load_trimap,
    save_image,
)

__all__ = [
    "AlphaMattingDataset",
    "CompositeDataset",
    "DIMFolderSource",
    "ForegroundSource",
    "PhotoSource",
    "RGBACutoutSource",
    "RealForegroundComposites",
]

PathLike = str | os.PathLike

_HUE_SHIFT = 8.0  # degrees, +- (colour jitter)
_SAT_SCALE = (0.8, 1.2)
_VAL_SCALE = (0.85, 1.15)
_SCALE_RANGE = (0.7, 1.3)  # object size relative to fitting its bounding box into the crop
_MAX_ROTATION = 15.0  # degrees
_BLUR_SIGMA = (0.005, 0.03)  # background defocus, Gaussian sigma as a fraction of the crop side


class ForegroundSource(Protocol):
    """What :class:`CompositeDataset` needs from a foreground source. An optional attribute
    ``composite = False`` marks items that are whole photos to crop rather than foregrounds to
    composite (:class:`PhotoSource`)."""

    def __len__(self) -> int: ...

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fg (H, W, 3) float32 in [0, 1], alpha (H, W) float32 in [0, 1])``."""
        ...


def _check_folder(path: object, what: str) -> Path:
    folder = as_path(path, what)
    if not folder.exists():
        raise InputNotFoundError(f"{what} not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"{what} must be a folder, got the file {folder}")
    return folder


def _item_index(index: object, n: int, what: str) -> int:
    if isinstance(index, torch.Tensor) and index.numel() == 1:
        index = index.item()
    if not is_int(index):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"index {index} out of range for {n} {what}")
    return int(index) % n


def _chw(array: np.ndarray) -> torch.Tensor:
    """(H, W) -> (1, H, W); (H, W, C) -> (C, H, W); float32, contiguous."""
    if array.ndim == 2:
        array = array[..., None]
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1), dtype=np.float32))


# --------------------------------------------------------------------------------------------
# Foreground sources
# --------------------------------------------------------------------------------------------


class DIMFolderSource:
    """Foregrounds in the Deep Image Matting layout: ``root/fg/*`` and ``root/alpha/*``.

    Files are matched by stem (``fg/cat.jpg`` with ``alpha/cat.png``); stems present on one
    side only are skipped with a warning. ``load(i)`` returns ``(fg (H, W, 3), alpha (H, W))``
    float32 in [0, 1] for the i-th stem in sorted order.

    Raises: FileNotFoundError when root, fg/ or alpha/ is missing; ValueError when no pair
    matches. At ``load``: ValueError naming the file when the sizes differ or a file is corrupt.
    """

    def __init__(self, root: PathLike) -> None:
        self.root = _check_folder(root, "DIM foreground folder")
        fg_dir = _check_folder(self.root / "fg", "DIM fg/ folder")
        alpha_dir = _check_folder(self.root / "alpha", "DIM alpha/ folder")
        fgs = {p.stem: p for p in list_images(fg_dir)}
        alphas = {p.stem: p for p in list_images(alpha_dir)}
        common = sorted(set(fgs) & set(alphas))
        unmatched = sorted(set(fgs) ^ set(alphas))
        if not common:
            raise ValueError(
                f"no foreground in {fg_dir} has an alpha with the same stem in {alpha_dir} "
                f"({len(fgs)} fg, {len(alphas)} alpha files)"
            )
        if unmatched:
            warnings.warn(
                f"{len(unmatched)} file(s) in {self.root} have no partner and are skipped: "
                f"{', '.join(unmatched[:5])}" + (" ..." if len(unmatched) > 5 else ""),
                stacklevel=2,
            )
        self.pairs = [(fgs[s], alphas[s]) for s in common]

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fg (H, W, 3), alpha (H, W))`` float32 in [0, 1] of pair ``index``."""
        fg_path, alpha_path = self.pairs[_item_index(index, len(self.pairs), "DIM foregrounds")]
        fg = load_image(fg_path)
        return fg, load_alpha(alpha_path, like=fg)

    def __repr__(self) -> str:
        return f"DIMFolderSource({str(self.root)!r}, {len(self)} pairs)"


def _has_alpha(path: Path) -> bool:
    """Whether an image file has an alpha channel (header only, no decoding)."""
    try:
        with Image.open(path) as im:
            return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    except (OSError, ValueError):
        return False


class RGBACutoutSource:
    """Foregrounds from RGBA cut-outs: RGB = foreground colour, A = alpha.

    All images of ``folder`` (non-recursive, :func:`mattepaint.io.list_images`) are listed;
    those without an alpha channel (or unreadable) are skipped with one warning at
    construction. ``load(i)`` reads with :func:`mattepaint.io.load_rgba`.

    Raises: FileNotFoundError for a missing folder; ValueError when no file has alpha.
    """

    def __init__(self, folder: PathLike) -> None:
        self.folder = _check_folder(folder, "RGBA cut-out folder")
        files = list_images(self.folder)
        self.files = [p for p in files if _has_alpha(p)]
        kept = set(self.files)
        skipped = [p.name for p in files if p not in kept]
        if not self.files:
            raise ValueError(
                f"no image with an alpha channel in {self.folder} ({len(files)} image(s) found); "
                "RGBACutoutSource needs RGBA (or LA / transparent palette) files"
            )
        if skipped:
            warnings.warn(
                f"{len(skipped)} image(s) in {self.folder} have no alpha channel and are "
                f"skipped: {', '.join(skipped[:5])}" + (" ..." if len(skipped) > 5 else ""),
                stacklevel=2,
            )

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fg (H, W, 3), alpha (H, W))`` float32 in [0, 1] of file ``index``."""
        path = self.files[_item_index(index, len(self.files), "RGBA cut-outs")]
        rgb, alpha = load_rgba(path)
        if alpha is None:  # e.g. the file changed since construction
            raise ValueError(f"image {path} has no alpha channel")
        return rgb, alpha

    def __repr__(self) -> str:
        return f"RGBACutoutSource({str(self.folder)!r}, {len(self)} files)"


class PhotoSource(RGBACutoutSource):
    """Whole photos with an alpha of their subject (e.g. pseudo-labels written by
    ``tools/pseudo_cutouts.py``), used as they are: :class:`CompositeDataset` crops such a photo
    instead of compositing it onto another background, so the network also sees real
    backgrounds, lighting and depth of field rather than only pasted cut-outs. The same folder
    format as :class:`RGBACutoutSource` (RGBA files: the photo and its alpha)."""

    #: Marks the source's items as photos to crop, not foregrounds to composite.
    composite = False

    def __repr__(self) -> str:
        return f"PhotoSource({str(self.folder)!r}, {len(self)} files)"


def _photo_crop(
    photo: np.ndarray, alpha: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The same random size x size crop of a photo and its alpha (:func:`_random_crop` with
    the shorter side resized to U(size, 1.25 size) and a flip with probability 1/2).
    Returns ((S, S, 3), (S, S)) float32 in [0, 1]."""
    stacked = np.concatenate([photo, alpha[..., None]], axis=2).astype(np.float32)  # (H, W, 4)
    crop = np.clip(_random_crop(stacked, size, rng, max_zoom=1.25, flip=True), 0.0, 1.0)
    return crop[..., :3], crop[..., 3]


# --------------------------------------------------------------------------------------------
# Synthetic composites
# --------------------------------------------------------------------------------------------


def _colour_jitter(fg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small random hue shift (+-8 deg), saturation (x0.8-1.2) and brightness (x0.85-1.15)."""
    hsv = cv2.cvtColor(np.ascontiguousarray(fg, dtype=np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-_HUE_SHIFT, _HUE_SHIFT)) % 360.0  # H in [0, 360)
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*_SAT_SCALE), 0.0, 1.0)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(*_VAL_SCALE), 0.0, 1.0)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0.0, 1.0)


def _place_foreground(
    fg: np.ndarray,
    alpha: np.ndarray,
    size: int,
    rng: np.random.Generator,
    scale_range: tuple[float, float] = _SCALE_RANGE,
    edge_crops: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Random flip, scale, rotation and placement of (fg, alpha) into a size x size crop.

    The object's bounding box (alpha > 0) is first fitted into the crop (``fit = size /
    max(box_h, box_w)``), then scaled by U(*scale_range) (default U(0.7, 1.3)), rotated by
    U(-15, 15) degrees, flipped with probability 1/2 and centred at ``size/2 + U(-1/2, 1/2) *
    |size - extent|`` per axis (anywhere inside the crop when smaller, a random part of it when
    larger). With ``edge_crops``, an object larger than the crop is instead placed so that a
    random pixel of its edge (0 < alpha < 1, or the outline of alpha > 1/2) lands in the crop's
    central half: Deep Image Matting's crops around the unknown region of a full-size composite,
    so the network sees boundaries at the scale of real photos. fg is warped premultiplied
    (``alpha F`` and ``alpha`` bilinearly, then divided) so transparent pixels do not bleed into
    the edge; both use the same matrix."""
    ys, xs = np.nonzero(alpha > 0)
    if len(ys) == 0:
        y0, y1, x0, x1 = 0, alpha.shape[0], 0, alpha.shape[1]
    else:
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box_h, box_w = float(y1 - y0), float(x1 - x0)
    scale = size / max(box_h, box_w) * rng.uniform(*scale_range)
    angle = rng.uniform(-_MAX_ROTATION, _MAX_ROTATION)
    flip = rng.random() < 0.5
    cx_out = size / 2 + rng.uniform(-0.5, 0.5) * abs(size - box_w * scale)
    cy_out = size / 2 + rng.uniform(-0.5, 0.5) * abs(size - box_h * scale)

    # Downscale with area averaging first, so the warp never subsamples more than 1.25x.
    pre = 1.0
    if scale < 0.8:
        pre = scale
        h, w = alpha.shape
        new = (max(1, round(w * pre)), max(1, round(h * pre)))  # (w, h)
        fg = cv2.resize(fg, new, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, new, interpolation=cv2.INTER_AREA)
        pre_x, pre_y = new[0] / w, new[1] / h
        x0, x1, y0, y1 = x0 * pre_x, x1 * pre_x, y0 * pre_y, y1 * pre_y
    if flip:
        width = alpha.shape[1]
        fg, alpha = fg[:, ::-1], alpha[:, ::-1]
        x0, x1 = width - x1, width - x0
    # Matrix: translate box centre to 0, rotate + scale, translate to (cx_out, cy_out).
    matrix = cv2.getRotationMatrix2D(((x0 + x1) / 2, (y0 + y1) / 2), angle, scale / pre)
    matrix[:, 2] += np.array([cx_out - (x0 + x1) / 2, cy_out - (y0 + y1) / 2])
    if edge_crops and max(box_h, box_w) * scale > size:
        anchor = _edge_pixel(alpha, rng)  # (x, y) in the (pre-scaled, flipped) source
        if anchor is not None:
            target = size / 2 + rng.uniform(-0.25, 0.25, size=2) * size
            matrix[:, 2] += target - matrix @ np.array([anchor[0], anchor[1], 1.0])
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    premult = np.ascontiguousarray(fg * alpha[..., None], dtype=np.float32)
    warp = {"dsize": (size, size), "flags": cv2.INTER_LINEAR, "borderMode": cv2.BORDER_CONSTANT}
    alpha_out = cv2.warpAffine(alpha, matrix, **warp)
    premult_out = cv2.warpAffine(premult, matrix, **warp)
    plain_out = cv2.warpAffine(
        np.ascontiguousarray(fg, dtype=np.float32),
        matrix,
        dsize=(size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    safe = alpha_out > 1e-3
    fg_out = np.where(
        safe[..., None], premult_out / np.maximum(alpha_out, 1e-3)[..., None], plain_out
    )
    return np.clip(fg_out, 0.0, 1.0).astype(np.float32), np.clip(alpha_out, 0.0, 1.0)


def _edge_pixel(alpha: np.ndarray, rng: np.random.Generator) -> tuple[float, float] | None:
    """A uniformly drawn (x, y) among the pixels of ``alpha`` (H, W) that are partly transparent
    or on the outline of ``alpha > 1/2``; None when there is none."""
    hard = (alpha > 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    outline = cv2.dilate(hard, kernel) != cv2.erode(hard, kernel)
    ys, xs = np.nonzero(outline | ((alpha > 0.02) & (alpha < 0.98)))
    if len(ys) == 0:
        return None
    k = int(rng.integers(len(ys)))
    return float(xs[k]), float(ys[k])


def _random_crop(
    image: np.ndarray, size: int, rng: np.random.Generator, *, max_zoom: float, flip: bool
) -> np.ndarray:
    """A random size x size crop of ``image`` (H, W, C): its shorter side is resized to
    U(size, min(short, max_zoom * size)) (up to ``size`` when smaller), then cropped uniformly,
    then flipped horizontally with probability 1/2 when ``flip``. Float32, contiguous."""
    short = min(image.shape[:2])
    target = size if short <= size else round(rng.uniform(size, min(short, max_zoom * size)))
    image = resize_shorter_side(image, target)
    h, w = image.shape[:2]
    top, left = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    crop = image[top : top + size, left : left + size]
    if flip and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop, dtype=np.float32)


def _background_crop(path: Path, size: int, rng: np.random.Generator, *, flip: bool) -> np.ndarray:
    """A random size x size crop of the image at ``path`` (:func:`_random_crop`, the shorter
    side resized to U(size, min(short, 1.5 size)))."""
    return _random_crop(load_image(path), size, rng, max_zoom=1.5, flip=flip)


def _check_backgrounds(backgrounds: object) -> list[Path]:
    if isinstance(backgrounds, (str, os.PathLike)) or not isinstance(backgrounds, Sequence):
        raise TypeError(
            "backgrounds must be a list of image paths (e.g. from data.inpainting.find_images), "
            f"got {type(backgrounds).__name__}"
        )
    if len(backgrounds) == 0:
        raise ValueError("backgrounds is empty: at least one background image is needed")
    for b in backgrounds:
        if not isinstance(b, (str, os.PathLike)):
            raise TypeError(f"backgrounds must hold str or Path entries, got {type(b).__name__}")
    return [Path(b) for b in backgrounds]


def _check_width_range(trimap_width: object) -> tuple[int, int]:
    if not isinstance(trimap_width, (tuple, list)) or len(trimap_width) != 2:
        raise TypeError(f"trimap_width must be a pair (min, max), got {trimap_width!r}")
    lo = check_int("trimap_width[0]", trimap_width[0], minimum=0)
    hi = check_int("trimap_width[1]", trimap_width[1], minimum=0)
    if lo > hi:
        raise ValueError(f"trimap_width must be (min, max) with min <= max, got {trimap_width}")
    return lo, hi


def _check_scale_range(scale_range: object) -> tuple[float, float]:
    if (
        not isinstance(scale_range, (tuple, list))
        or len(scale_range) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale_range)
    ):
        raise TypeError(f"scale_range must be a pair of numbers (low, high), got {scale_range!r}")
    lo, hi = float(scale_range[0]), float(scale_range[1])
    if not 0 < lo <= hi:
        raise ValueError(f"scale_range must satisfy 0 < low <= high, got {scale_range!r}")
    return lo, hi


class CompositeDataset(Dataset):
    """Synthetic matting samples: foregrounds composited on random background crops.

    Index ``i`` runs over the concatenated sources (``i < len(sources[0])`` is item ``i`` of the
    first source, and so on). ``dataset[i]`` is a dict of float32 tensors in [0, 1]:
        "comp": (3, S, S), ``composite(fg, bg, alpha) = alpha fg + (1 - alpha) bg``;
        "bg": (3, S, S); "fg": (3, S, S) (unpremultiplied); "alpha": (1, S, S);
        "trimap": (1, S, S) in {0, 0.5, 1}, ``trimap_from_alpha`` with a radius drawn
        uniformly from ``trimap_width`` (inclusive);
    and "index": int.

    Per sample, from ``np.random.default_rng([seed, epoch, i])`` (training) in this order: the
    foreground geometry (the same for fg and alpha: bounding box fitted into S x S, scale
    U(0.7, 1.3), rotation U(-15, 15) deg, horizontal flip p=1/2, random placement), the colour
    jitter of fg (hue +-8 deg, saturation x0.8-1.2, brightness x0.85-1.15) when
    ``colour_jitter``, the background (uniform choice; shorter side resized to >= S, random
    crop, flip p=1/2), the trimap width. Call :meth:`set_epoch` each epoch (see
    :class:`mattepaint.data.inpainting.InpaintingDataset` about DataLoader workers).

    Validation (``train=False``): the same recipe with ``default_rng([seed, i])`` and no colour
    jitter, so every evaluation sees the same composites.

    Items of a source whose ``composite`` attribute is False (:class:`PhotoSource`: whole photos
    with their subject's alpha) are not composited: the photo and its alpha are cropped together
    (:func:`_photo_crop`), colour-jittered in training, and "comp" = "fg" = "bg" = the crop.

    Inputs:
        sources: foreground sources (``__len__`` and ``load(i) -> (fg, alpha)``), at least one
            non-empty.
        backgrounds: background image paths (e.g. ``data.inpainting.find_images(dirs)``).
        size: crop side S (>= 8); seed >= 0; train: random or fixed samples;
        trimap_width: (min, max) radius of the unknown band in pixels;
        colour_jitter: jitter fg colours in training.
        prior: None, or a name of :data:`mattepaint.classical.prior.PRIOR_METHODS`: add "prior" (1, S, S), that classical matte of
            the composite under the trimap (:func:`mattepaint.classical.prior.classical_prior`),
            for models that correct it (``dim_matte``).
        scale_range: (low, high) of the object's scale relative to fitting its bounding box
            into the crop (default (0.7, 1.3)); a high above 1 shows parts of large objects.
        edge_crops: place an object larger than the crop with one of its edge pixels in the
            crop's central half (:func:`_place_foreground`), as DIM crops around the unknown
            region; applies to validation too.
        background_blur: in training, the probability (in [0, 1]) of defocusing the background
            with a Gaussian blur of sigma U(0.5, 3) % of S, as a shallow depth of field does
            (alphamatting.com's photos and most portraits have out-of-focus backgrounds). Drawn
            after the background, and only when > 0, so 0 leaves the samples unchanged.
    Raises: TypeError / ValueError for bad arguments; at ``__getitem__`` IndexError, and the
    loaders' FileNotFoundError / ValueError naming the file.
    """

    def __init__(
        self,
        sources: Sequence[ForegroundSource],
        backgrounds: Sequence[PathLike],
        *,
        size: int,
        seed: int = 0,
        train: bool = True,
        trimap_width: tuple[int, int] = (1, 30),
        colour_jitter: bool = True,
        prior: str | None = None,
        background_blur: float = 0.0,
        scale_range: tuple[float, float] = _SCALE_RANGE,
        edge_crops: bool = False,
    ) -> None:
        if not isinstance(sources, Sequence) or isinstance(sources, (str, bytes)):
            raise TypeError(
                f"sources must be a list of foreground sources, got {type(sources).__name__}"
            )
        if len(sources) == 0:
            raise ValueError("sources is empty: at least one foreground source is needed")
        for s in sources:
            if not (hasattr(s, "load") and hasattr(s, "__len__")):
                raise TypeError(
                    f"each source needs __len__ and load(i) -> (fg, alpha), got {type(s).__name__}"
                )
        self.sources = list(sources)
        self.offsets = np.cumsum([0] + [len(s) for s in self.sources])  # (n_sources + 1,)
        if self.offsets[-1] == 0:
            raise ValueError("all foreground sources are empty")
        self.backgrounds = _check_backgrounds(backgrounds)
        self.size = check_int("size", size, minimum=8)
        self.seed = check_int("seed", seed, minimum=0)
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"train must be a bool, got {type(train).__name__}")
        self.train = bool(train)
        self.trimap_width = _check_width_range(trimap_width)
        self.colour_jitter = bool(colour_jitter)
        from mattepaint.classical.prior import PRIOR_METHODS

        if prior is not None and prior not in PRIOR_METHODS:
            raise ValueError(
                f"prior must be None or one of {', '.join(PRIOR_METHODS)}, got {prior!r}"
            )
        self.prior = prior
        self.background_blur = check_float("background_blur", background_blur, low=0.0, high=1.0)
        self.scale_range = _check_scale_range(scale_range)
        if not isinstance(edge_crops, (bool, np.bool_)):
            raise TypeError(f"edge_crops must be a bool, got {type(edge_crops).__name__}")
        self.edge_crops = bool(edge_crops)
        self.epoch = 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random geometry / backgrounds training samples use (>= 0)."""
        self.epoch = check_int("epoch", epoch, minimum=0)

    def rng(self, index: int) -> np.random.Generator:
        """``default_rng([seed, epoch, index])`` when training, ``[seed, index]`` otherwise."""
        key = [self.seed, self.epoch, index] if self.train else [self.seed, index]
        return np.random.default_rng(key)

    def locate(self, index: int) -> tuple[int, int]:
        """``(source number, item number)`` of dataset index ``index``."""
        i = _item_index(index, len(self), "composite samples")
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        return k, i - int(self.offsets[k])

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = _item_index(index, len(self), "composite samples")
        k, j = self.locate(i)
        rng = self.rng(i)
        fg, alpha = self.sources[k].load(j)
        if not getattr(self.sources[k], "composite", True):  # a photo: cropped, not composited
            comp, alpha = _photo_crop(fg, alpha, self.size, rng)
            if self.train and self.colour_jitter:
                comp = _colour_jitter(comp, rng)
            fg = bg = comp  # no separate layers: the composition loss is 0 for any alpha
        else:
            fg, alpha = _place_foreground(
                fg, alpha, self.size, rng, self.scale_range, self.edge_crops
            )
            if self.train and self.colour_jitter:
                fg = _colour_jitter(fg, rng)
            bg_path = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            bg = _background_crop(bg_path, self.size, rng, flip=True)
            if self.train and self.background_blur > 0 and rng.random() < self.background_blur:
                sigma = rng.uniform(*_BLUR_SIGMA) * self.size
                bg = cv2.GaussianBlur(bg, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
            comp = composite(fg, bg, alpha).astype(np.float32)
        lo, hi = self.trimap_width
        trimap = trimap_from_alpha(alpha, rng=rng, min_width=lo, max_width=hi)
        sample = {
            "comp": _chw(comp),
            "bg": _chw(bg),
            "fg": _chw(fg),
            "alpha": _chw(alpha),
            "trimap": _chw(trimap),
            "index": i,
        }
        if self.prior is not None:
            from mattepaint.classical.prior import classical_prior

            sample["prior"] = _chw(classical_prior(comp, trimap, self.prior))  # (1, S, S)
        return sample

    def __repr__(self) -> str:
        return (
            f"CompositeDataset({len(self)} foregrounds from {len(self.sources)} source(s), "
            f"{len(self.backgrounds)} backgrounds, size={self.size}, seed={self.seed}, "
            f"train={self.train}, epoch={self.epoch})"
        )


# --------------------------------------------------------------------------------------------
# alphamatting.com
# --------------------------------------------------------------------------------------------


class AlphaMattingDataset(Dataset):
    """The alphamatting.com training set (Rhemann et al., CVPR 2009): EVALUATION ONLY.

    ``root`` is ``.../alphamatting/Training`` with ``Images/``, ``GroundTruth/`` and the trimap
    folder ``trimap`` (``Trimap1``, ``Trimap2`` ...), files matched by name (GT01.png ...).
    ``dataset[i]`` is a dict: "image" (3, H, W), "trimap" (1, H, W) in {0, 0.5, 1}, "alpha"
    (1, H, W), float32 tensors in [0, 1], and "name" (the stem, e.g. "GT01"). Images differ in
    size: batch with ``batch_size=1``.

    Raises: FileNotFoundError for a missing folder; ValueError when no image has both a trimap
    and a ground truth.
    """

    def __init__(self, root: PathLike, trimap: str = "Trimap1") -> None:
        self.root = _check_folder(root, "alphamatting Training folder")
        if not isinstance(trimap, str):
            raise TypeError(
                f"trimap must be a folder name like 'Trimap1', got {type(trimap).__name__}"
            )
        image_dir = _check_folder(self.root / "Images", "alphamatting Images/ folder")
        trimap_dir = _check_folder(self.root / trimap, f"alphamatting {trimap}/ folder")
        gt_dir = _check_folder(self.root / "GroundTruth", "alphamatting GroundTruth/ folder")
        images = {p.stem: p for p in list_images(image_dir)}
        trimaps = {p.stem: p for p in list_images(trimap_dir)}
        alphas = {p.stem: p for p in list_images(gt_dir)}
        names = sorted(set(images) & set(trimaps) & set(alphas))
        if not names:
            raise ValueError(
                f"no image of {image_dir} has both a trimap in {trimap_dir} and a ground truth "
                f"in {gt_dir}"
            )
        self.trimap = trimap
        self.names = names
        self.items = [(images[n], trimaps[n], alphas[n]) for n in names]

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``(image (H, W, 3), trimap (H, W), alpha (H, W), name)`` as numpy float32."""
        i = _item_index(index, len(self), "alphamatting images")
        image_path, trimap_path, alpha_path = self.items[i]
        image = load_image(image_path)
        return (
            image,
            load_trimap(trimap_path, like=image),
            load_alpha(alpha_path, like=image),
            self.names[i],
        )

    def __getitem__(self, index: int) -> dict[str, Any]:
        image, trimap, alpha, name = self.load(index)
        return {"image": _chw(image), "trimap": _chw(trimap), "alpha": _chw(alpha), "name": name}

    def __repr__(self) -> str:
        root, n = str(self.root), len(self)
        return f"AlphaMattingDataset({root!r}, trimap={self.trimap!r}, {n} images)"


def _resize_longer_side(
    image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Downscale so the longer side is ``size`` (area for image / alpha, nearest for the
    trimap); images already that small are returned unchanged."""
    h, w = alpha.shape
    if max(h, w) <= size:
        return image, trimap, alpha
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))  # (w, h)
    return (
        np.clip(cv2.resize(image, new, interpolation=cv2.INTER_AREA), 0.0, 1.0),
        cv2.resize(trimap, new, interpolation=cv2.INTER_NEAREST),
        np.clip(cv2.resize(alpha, new, interpolation=cv2.INTER_AREA), 0.0, 1.0),
    )


class RealForegroundComposites(Dataset):
    """Real foregrounds (alphamatting.com photos + true alpha) on new backgrounds.

    For each ground-truth image, the foreground colour is estimated from the photo and its true
    alpha with :func:`mattepaint.compositing.estimate_foreground` (Germer et al., ICPR 2020),
    then composited on a background chosen with ``np.random.default_rng([seed, i])`` (resized so
    it covers the image, then randomly cropped to it)::

        comp = alpha * F_est + (1 - alpha) * B

    The same (seed, i) always gives the same sample (evaluation data: pass held-out
    backgrounds). ``dataset[i]``: "comp", "bg", "fg" (3, H, W), "alpha", "trimap" (the real
    trimap, ``trimap`` folder) (1, H, W), float32 tensors in [0, 1]; "name"; "index".

    Inputs:
        alphamatting_root: ``.../alphamatting/Training`` (see :class:`AlphaMattingDataset`).
        backgrounds: background image paths.
        seed: >= 0.
        size: None (full resolution) or the longer side to downscale to (image and alpha by
            area averaging, trimap by nearest neighbour) before F is estimated.
        cache_dir: when given, estimated foregrounds are stored there as 16-bit PNG
            (``<name>_fg_<W>x<H>.png``) and reused; they are also kept in memory.
        trimap: the trimap folder name.
    """

    def __init__(
        self,
        alphamatting_root: PathLike,
        backgrounds: Sequence[PathLike],
        *,
        seed: int = 0,
        size: int | None = None,
        cache_dir: PathLike | None = None,
        trimap: str = "Trimap1",
    ) -> None:
        self.images = AlphaMattingDataset(alphamatting_root, trimap=trimap)
        self.backgrounds = _check_backgrounds(backgrounds)
        self.seed = check_int("seed", seed, minimum=0)
        self.size = None if size is None else check_int("size", size, minimum=8)
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(
                f"cache_dir must be a str, Path or None, got {type(cache_dir).__name__}"
            )
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._memory: dict[tuple[str, int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.images)

    def foreground(self, image: np.ndarray, alpha: np.ndarray, name: str) -> np.ndarray:
        """Estimated F (H, W, 3) float32 for ``image`` / ``alpha``, from the caches if present."""
        h, w = alpha.shape
        key = (name, w, h)
        if key in self._memory:
            return self._memory[key]
        path = None if self.cache_dir is None else self.cache_dir / f"{name}_fg_{w}x{h}.png"
        if path is not None and path.is_file():
            fg = load_image(path)
        else:
            fg = estimate_foreground(image, alpha)
            if path is not None:
                save_image(path, fg, overwrite=True, bit_depth=16)
                fg = load_image(path)  # the same 16-bit values whether cached or not
        self._memory[key] = fg
        return fg

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = _item_index(index, len(self), "alphamatting images")
        image, trimap, alpha, name = self.images.load(i)
        if self.size is not None:
            image, trimap, alpha = _resize_longer_side(image, trimap, alpha, self.size)
        fg = self.foreground(image, alpha, name)
        rng = np.random.default_rng([self.seed, i])
        bg_image = load_image(self.backgrounds[int(rng.integers(len(self.backgrounds)))])
        h, w = alpha.shape
        bh, bw = bg_image.shape[:2]
        cover = max(h / bh, w / bw)  # resize so the background covers H x W
        new = (max(w, int(np.ceil(bw * cover))), max(h, int(np.ceil(bh * cover))))
        interp = cv2.INTER_CUBIC if cover > 1 else cv2.INTER_AREA
        bg_image = np.clip(cv2.resize(bg_image, new, interpolation=interp), 0.0, 1.0)
        top = int(rng.integers(0, new[1] - h + 1))
        left = int(rng.integers(0, new[0] - w + 1))
        bg = np.ascontiguousarray(bg_image[top : top + h, left : left + w], dtype=np.float32)
        comp = composite(fg, bg, alpha).astype(np.float32)
        return {
            "comp": _chw(comp),
            "bg": _chw(bg),
            "fg": _chw(fg),
            "alpha": _chw(alpha),
            "trimap": _chw(trimap),
            "name": name,
            "index": i,
        }

    def __repr__(self) -> str:
        return (
            f"RealForegroundComposites({len(self)} images, {len(self.backgrounds)} backgrounds, "
            f"seed={self.seed}, size={self.size})"
        )
