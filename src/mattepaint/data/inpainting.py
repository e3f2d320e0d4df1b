"""Inpainting training data: image folders + a mask generator + a seed-002 input transform.

:func:`find_images` lists the training images, :func:`split_files` holds out a validation set and
:class:`InpaintingDataset` turns each image into a square crop, a hole mask and the network input.

Reproducibility: every random choice of a sample (crop position, flip, mask) comes from
``np.random.default_rng([seed, epoch, index])`` in training mode and from
``np.random.default_rng([seed, index])`` in validation mode. A sample therefore depends only on
(seed, epoch, index): not on the number of DataLoader workers, the order in which samples are
read, or whether the run was resumed, and the validation set is the same at every evaluation.

Reference: the three input variants ("hole", "mosaic", "hole_ns") are those of seed report 002
(Deep Learning for Image Inpainting, section IV.D); see :mod:`mattepaint.masks.transforms`.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mattepaint.checks import check_int, is_int
from mattepaint.errors import InputNotFoundError
from mattepaint.io import IMAGE_SUFFIXES, as_path, load_image
from mattepaint.masks import INPUT_TRANSFORMS, generate_mask
from mattepaint.masks.registry import check_generator_params

__all__ = ["InpaintingDataset", "find_images", "resize_shorter_side", "split_files"]

PathLike = str | os.PathLike


def _is_image_file(path: Path) -> bool:
    suffix_ok = path.suffix.lower() in IMAGE_SUFFIXES
    return suffix_ok and path.is_file() and not path.name.startswith(".")


def find_images(dirs: Sequence[PathLike] | PathLike, recursive: bool = True) -> list[Path]:
    """All image files in the folders ``dirs``, sorted by path.

    Inputs:
        dirs: folders to search (a single folder is accepted too).
        recursive: also search sub-folders (hidden files and hidden sub-folders, whose name
            starts with ".", are skipped).
    Outputs:
        sorted list of unique paths whose lower-case suffix is in ``io.IMAGE_SUFFIXES``.
    Raises:
        FileNotFoundError for a folder that does not exist; ValueError for a path that is a file
        or when no image is found (the message names the folders); TypeError for a bad type.
    """
    if isinstance(dirs, (str, os.PathLike)):
        dirs = [dirs]
    if not isinstance(dirs, Sequence) or isinstance(dirs, bytes):
        raise TypeError(f"dirs must be a list of folders, got {type(dirs).__name__}")
    if len(dirs) == 0:
        raise ValueError("dirs must name at least one image folder, got an empty list")
    found: set[Path] = set()
    folders = []
    for entry in dirs:
        folder = as_path(entry, "image folder")
        if not folder.exists():
            raise InputNotFoundError(f"image folder not found: {folder}")
        if not folder.is_dir():
            raise ValueError(f"expected a folder of images, got the file {folder}")
        folders.append(folder)
        candidates = folder.rglob("*") if recursive else folder.iterdir()
        for path in candidates:
            hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
            if not hidden and _is_image_file(path):
                found.add(path)
    if not found:
        names = ", ".join(str(f) for f in folders)
        raise ValueError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {names}"
            + (" (searched recursively)" if recursive else "")
        )
    return sorted(found)


def split_files(
    files: Sequence[PathLike], val_fraction: float, seed: int
) -> tuple[list[Path], list[Path]]:
    """Hold out a random ``val_fraction`` of ``files`` as a validation set, deterministically.

    The files are sorted first, then ``n_val = max(1, round(n * val_fraction))`` of them (0 when
    ``val_fraction == 0``) are chosen by ``np.random.default_rng(seed).permutation(n)``; so the
    split depends only on the set of files and the seed, not on their order.

    Inputs: files (at least 2 when val_fraction > 0); val_fraction in [0, 1); seed >= 0.
    Outputs: ``(train, val)``, disjoint, each sorted, together all the files.
    """
    if isinstance(files, (str, os.PathLike)) or not isinstance(files, Sequence):
        raise TypeError(f"files must be a list of paths, got {type(files).__name__}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise TypeError(f"val_fraction must be a float, got {type(val_fraction).__name__}")
    if not 0.0 <= float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    seed = check_int("seed", seed, minimum=0)
    paths = sorted({Path(f) for f in files})
    n = len(paths)
    if val_fraction == 0:
        return paths, []
    n_val = max(1, round(n * float(val_fraction)))
    if n - n_val < 1:
        raise ValueError(
            f"cannot hold out {val_fraction:.3g} of {n} file(s) for validation and keep at least "
            "one for training; add files or lower val_fraction"
        )
    order = np.random.default_rng(seed).permutation(n)
    val_idx = set(order[:n_val].tolist())
    train = [p for i, p in enumerate(paths) if i not in val_idx]
    val = [p for i, p in enumerate(paths) if i in val_idx]
    return train, val


def resize_shorter_side(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``image`` so that its shorter side is ``size`` pixels, keeping the aspect ratio.

    Inputs: image (H, W, C) float in [0, 1]; size >= 1. Outputs: (H', W', C) float32 in [0, 1]
    with ``min(H', W') == size`` and ``H' = max(size, round(H * size / min(H, W)))`` (W'
    likewise). Upscaling is bicubic (clipped to [0, 1]), downscaling area-averaged
    (``cv2.INTER_AREA``); an image whose shorter side already is ``size`` is returned unchanged.
    """
    height, width = image.shape[:2]
    short = min(height, width)
    if short == size:
        return image
    scale = size / short
    new_h = max(size, round(height * scale))
    new_w = max(size, round(width * scale))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    out = cv2.resize(image.astype(np.float32), (new_w, new_h), interpolation=interp)  # (w, h)
    if out.ndim == 2:  # cv2 drops a single channel
        out = out[..., None]
    return np.clip(out, 0.0, 1.0)


def _check_scale_range(scale_range: Sequence[float] | None) -> tuple[float, float] | None:
    if scale_range is None:
        return None
    if isinstance(scale_range, (str, bytes)) or not isinstance(scale_range, Sequence):
        raise TypeError(f"scale_range must be a pair (lo, hi) or None, got {scale_range!r}")
    if len(scale_range) != 2 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale_range
    ):
        raise ValueError(f"scale_range must be a pair of numbers (lo, hi), got {scale_range!r}")
    low, high = float(scale_range[0]), float(scale_range[1])
    if not 0.0 < low <= high:
        raise ValueError(f"scale_range must satisfy 0 < lo <= hi, got ({low}, {high})")
    return low, high


class InpaintingDataset(Dataset):
    """Square crops of images with generated hole masks and the masked network input.

    ``dataset[i]`` is a dict:
        "image": (3, S, S) float32 in [0, 1], the ground truth crop;
        "mask": (1, S, S) float32 in {0, 1}, 1 = hole;
        "input": (3, S, S) float32 in [0, 1], ``INPUT_TRANSFORMS[input_transform](image, mask)``
            (equal to "image" outside the hole);
        "index": int, ``i``.

    Training mode (``train=True``): an image whose shorter side is below S is first resized up
    (shorter side to S); then a uniformly random S x S crop, a horizontal flip with probability
    1/2 and a mask from the generator ``mask``, all drawn in that order from
    ``np.random.default_rng([seed, epoch, i])``. Call :meth:`set_epoch` at the start of every
    epoch to get new crops and masks. The epoch is read when a sample is made, so call it before
    iterating the DataLoader; DataLoader workers get a copy of the dataset each time iteration
    starts, unless ``persistent_workers=True``, which would freeze the epoch they see.

    Validation mode (``train=False``): shorter side resized to S (up or down), centre crop, no
    flip, mask from ``np.random.default_rng([seed, i])``: the same samples at every epoch.

    Inputs:
        files: image paths (e.g. from :func:`find_images`).
        size: crop side S in pixels (>= 1).
        mask: a mask generator name of ``mattepaint.masks.GENERATORS``; ``mask_params`` its
            keyword parameters (checked here).
        input_transform: "hole", "mosaic" or "hole_ns" (seed 002); ``input_params`` its keyword
            options (e.g. ``{"unit_size": 12}`` for mosaic, ``{"radius": 3}`` for hole_ns).
        seed: >= 0, the root of all randomness.
        train: training (random) or validation (fixed) samples.
        scale_range: ``(lo, hi)`` with ``0 < lo <= hi``, or None: when training, each image is
            first resized by a factor drawn uniformly from it (its shorter side kept >= S), so
            the crops see photos at the scales of a downsized evaluation set; None: native
            resolution. Unused for validation.
    Raises at construction: ValueError / TypeError for bad arguments (unknown mask or transform
    names list the valid ones). At ``__getitem__``: FileNotFoundError for a missing file,
    ValueError naming the file for an unreadable (corrupt) image, IndexError out of range.
    """

    def __init__(
        self,
        files: Sequence[PathLike],
        *,
        size: int,
        mask: str,
        mask_params: Mapping[str, Any] | None = None,
        input_transform: str = "hole",
        seed: int = 0,
        train: bool = True,
        input_params: Mapping[str, Any] | None = None,
        scale_range: Sequence[float] | None = None,
    ) -> None:
        if isinstance(files, (str, os.PathLike)) or not isinstance(files, Sequence):
            raise TypeError(f"files must be a list of image paths, got {type(files).__name__}")
        if len(files) == 0:
            raise ValueError("files is empty: the dataset needs at least one image")
        for f in files:
            if not isinstance(f, (str, os.PathLike)):
                raise TypeError(f"files must hold str or Path entries, got {type(f).__name__}")
        self.files = [Path(f) for f in files]
        self.size = check_int("size", size, minimum=1)
        if mask_params is not None and not isinstance(mask_params, Mapping):
            raise TypeError(f"mask_params must be a dict, got {type(mask_params).__name__}")
        self.mask_params = dict(mask_params or {})
        check_generator_params(mask, self.mask_params)  # unknown name / params -> error now
        self.mask = mask
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(
                f"unknown input_transform {input_transform!r}; valid: "
                f"{', '.join(sorted(INPUT_TRANSFORMS))}"
            )
        self.input_transform = input_transform
        if input_params is not None and not isinstance(input_params, Mapping):
            raise TypeError(f"input_params must be a dict, got {type(input_params).__name__}")
        self.input_params = dict(input_params or {})
        self.seed = check_int("seed", seed, minimum=0)
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"train must be a bool, got {type(train).__name__}")
        self.train = bool(train)
        self.scale_range = _check_scale_range(scale_range)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.files)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops / flips / masks training samples use (epoch >= 0)."""
        self.epoch = check_int("epoch", epoch, minimum=0)

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index``: ``default_rng([seed, epoch, index])`` when training,
        ``default_rng([seed, index])`` for validation."""
        key = [self.seed, self.epoch, index] if self.train else [self.seed, index]
        return np.random.default_rng(key)

    def _index(self, index: object) -> int:
        if isinstance(index, torch.Tensor) and index.numel() == 1:
            index = index.item()
        if not is_int(index):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        n = len(self.files)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} images")
        return int(index) % n

    def __getitem__(self, index: int) -> dict[str, Any]:
        i = self._index(index)
        rng = self.rng(i)
        path = self.files[i]
        image = load_image(path)  # (H, W, 3) float32; ValueError naming the file if corrupt
        s = self.size
        if self.train:
            if self.scale_range is not None:  # photos seen at a random reduced scale
                factor = float(rng.uniform(*self.scale_range))
                shorter = max(s, round(min(image.shape[:2]) * factor))
                image = resize_shorter_side(image, shorter)
            if min(image.shape[:2]) < s:
                image = resize_shorter_side(image, s)
            height, width = image.shape[:2]
            top = int(rng.integers(0, height - s + 1))
            left = int(rng.integers(0, width - s + 1))
            crop = image[top : top + s, left : left + s]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]  # horizontal flip
        else:
            image = resize_shorter_side(image, s)
            height, width = image.shape[:2]
            top, left = (height - s) // 2, (width - s) // 2
            crop = image[top : top + s, left : left + s]
        crop = np.ascontiguousarray(crop, dtype=np.float32)  # (S, S, 3)
        hole = generate_mask(self.mask, (s, s), rng, **self.mask_params)  # (S, S) bool
        net_input = INPUT_TRANSFORMS[self.input_transform](crop, hole, **self.input_params)
        return {
            "image": torch.from_numpy(crop.transpose(2, 0, 1).copy()),  # (S,S,3) -> (3,S,S)
            "mask": torch.from_numpy(hole[None].astype(np.float32)),  # (1, S, S)
            "input": torch.from_numpy(
                np.ascontiguousarray(net_input.transpose(2, 0, 1), dtype=np.float32)
            ),
            "index": i,
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self)} images, size={self.size}, mask={self.mask!r}, "
            f"input_transform={self.input_transform!r}, seed={self.seed}, train={self.train}, "
            f"epoch={self.epoch})"
        )
