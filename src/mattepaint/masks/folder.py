"""Masks drawn from a folder of mask files (e.g. the NVIDIA irregular-hole test set).

Reference: Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018 (12,000 test masks, 512 x 512, grouped in hole-ratio buckets, see
:mod:`mattepaint.masks.buckets`). Files are read with :func:`mattepaint.io.load_mask`
(white > threshold = hole).
"""

from __future__ import annotations

import functools
import numbers
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from mattepaint.checks import check_int, check_rng, check_shape
from mattepaint.errors import InputNotFoundError
from mattepaint.masks.buckets import HOLE_RATIO_BUCKETS, hole_ratio

# (resolved path, mtime_ns, size, threshold) -> hole ratio; shared by every MaskFolder, so a
# folder is scanned once per process however many selections are made from it.
_RATIO_CACHE: dict[tuple[str, int, int, int], float] = {}
_RATIO_LOCK = threading.Lock()


def _cache_key(path: Path, threshold: int) -> tuple[str, int, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size, threshold)


def _load(path: Path, threshold: int) -> np.ndarray:
    from mattepaint.io import load_mask

    return load_mask(path, threshold=threshold)


def _ratio_of(path: Path, threshold: int) -> float:
    key = _cache_key(path, threshold)
    with _RATIO_LOCK:
        cached = _RATIO_CACHE.get(key)
    if cached is not None:
        return cached
    ratio = hole_ratio(_load(path, threshold))
    with _RATIO_LOCK:
        _RATIO_CACHE[key] = ratio
    return ratio


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a bool mask to ``shape``.

    Inputs: ``mask`` (h, w) bool; ``shape`` (H, W). Outputs: (H, W) bool; output pixel
    ``(i, j)`` takes input ``(floor((i + 0.5) h / H), floor((j + 0.5) w / W))``
    (``cv2.INTER_NEAREST_EXACT``, pixel-centre aligned like PIL's NEAREST). The hole ratio is
    kept approximately, not exactly.
    """
    height, width = check_shape(shape)
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if mask.shape == (height, width):
        return mask.astype(bool, copy=True)
    resized = cv2.resize(
        mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT
    )
    return resized.astype(bool)


class MaskFolder:
    """A random-mask source backed by a folder of mask images, optionally one hole-ratio bucket.

    ``MaskFolder(folder, bucket=k)`` keeps the files whose hole ratio lies in
    ``HOLE_RATIO_BUCKETS[k] = (lo, hi]``; ``ratio_range=(lo, hi)`` selects any half-open range.
    With neither, every file is used (and no ratio is computed).

    Inputs:
        folder: a directory of mask images (``mattepaint.io.list_images``: non-recursive,
            image suffixes only, sorted by name); ``FileNotFoundError`` if missing,
            ``ValueError`` if it holds no image.
        bucket: int index into :data:`HOLE_RATIO_BUCKETS`, or None.
        ratio_range: ``(lo, hi)`` with ``0 <= lo < hi <= 1``, or None (exclusive with bucket).
        threshold: gray level above which a pixel is a hole (``load_mask``).
        workers: threads used to compute the hole ratios the first time they are needed.
        exclude: file names (e.g. ``"00255.png"``) to leave out, such as the masks an evaluation
            uses, so a model can train on the rest of the folder; a name that is not in the
            folder is an error (a typo would otherwise silently exclude nothing).

    Each file's hole ratio is computed once per process (cached by path, mtime and size) on first
    use of :attr:`ratios` / :attr:`selected` / ``len()`` / a call, not in the constructor.

    ``mask_folder(shape, rng)`` picks a file uniformly among the selected ones and returns it as an
    (H, W) bool mask, resized with nearest neighbour to ``shape`` (resize rather than crop: the
    whole hole pattern is kept, so the hole ratio stays close to the file's, at the price of
    stretching when the aspect ratios differ).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        bucket: int | None = None,
        ratio_range: tuple[float, float] | None = None,
        threshold: int = 127,
        workers: int | None = None,
        exclude: Sequence[str] = (),
    ) -> None:
        from mattepaint.io import list_images

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputNotFoundError(f"mask folder not found: {self.folder}")
        if bucket is not None and ratio_range is not None:
            raise ValueError(
                "give bucket or ratio_range, not both "
                f"(got bucket={bucket}, ratio_range={ratio_range})"
            )
        if bucket is not None:
            bucket = check_int("bucket", bucket, minimum=0)
            if bucket >= len(HOLE_RATIO_BUCKETS):
                raise ValueError(
                    f"bucket must be in 0..{len(HOLE_RATIO_BUCKETS) - 1}, got {bucket}"
                )
            ratio_range = HOLE_RATIO_BUCKETS[bucket]
        if ratio_range is not None:
            ratio_range = _check_ratio_range(ratio_range)
        self.bucket = bucket
        self.ratio_range = ratio_range
        self.threshold = check_int("threshold", threshold, minimum=0)
        self.workers = workers if workers is not None else min(8, os.cpu_count() or 1)
        self.exclude = _check_exclude(exclude)
        listed = list_images(self.folder)
        unknown = sorted(self.exclude - {path.name for path in listed})
        if unknown:
            raise ValueError(
                f"exclude names {len(unknown)} file(s) that are not in {self.folder}, "
                f"e.g. {unknown[0]!r}"
            )
        self.files: list[Path] = [path for path in listed if path.name not in self.exclude]
        if not self.files:
            besides = f" besides the {len(self.exclude)} excluded" if self.exclude else ""
            raise ValueError(f"mask folder {self.folder} holds no image files{besides}")
        self._ratios: np.ndarray | None = None
        self._selected: list[Path] | None = None

    @property
    def ratios(self) -> np.ndarray:
        """Hole ratio of every file in :attr:`files` (float64, same order), computed once."""
        if self._ratios is None:
            threshold = self.threshold
            with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                values = list(pool.map(lambda p: _ratio_of(p, threshold), self.files))
            self._ratios = np.asarray(values, dtype=np.float64)
        return self._ratios

    @property
    def selected(self) -> list[Path]:
        """The files used by calls: all files, or those with ratio in ``(lo, hi]``."""
        if self._selected is None:
            if self.ratio_range is None:
                self._selected = list(self.files)
            else:
                low, high = self.ratio_range
                keep = (self.ratios > low) & (self.ratios <= high)
                self._selected = [path for path, flag in zip(self.files, keep) if flag]
        return self._selected

    def __len__(self) -> int:
        return len(self.selected)

    def __repr__(self) -> str:
        return (
            f"MaskFolder({str(self.folder)!r}, ratio_range={self.ratio_range}, "
            f"files={len(self.files)})"
        )

    def load(self, index: int, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Selected mask number ``index`` as (h, w) bool, resized to ``shape`` if given."""
        index = check_int("index", index, minimum=0)
        if index >= len(self.selected):
            raise IndexError(f"index {index} out of range for {len(self.selected)} selected masks")
        mask = _load(self.selected[index], self.threshold)
        return mask if shape is None else resize_mask(mask, shape)

    def __call__(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        """A uniformly chosen selected mask, resized (nearest) to ``shape``: (H, W) bool."""
        shape = check_shape(shape)
        check_rng(rng)
        if not self.selected:
            raise ValueError(
                f"no mask in {self.folder} has a hole ratio in (lo, hi] = {self.ratio_range} "
                f"({len(self.files)} files scanned)"
            )
        return self.load(int(rng.integers(0, len(self.selected))), shape)


def _check_exclude(exclude: object) -> frozenset[str]:
    if isinstance(exclude, (str, bytes)) or not isinstance(exclude, Sequence):
        raise TypeError(f"exclude must be a list of file names, got {type(exclude).__name__}")
    for name in exclude:
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ValueError(f"exclude entries must be bare file names, got {name!r}")
    return frozenset(exclude)


def _check_ratio_range(ratio_range: object) -> tuple[float, float]:
    if not isinstance(ratio_range, Sequence) or len(ratio_range) != 2:
        raise TypeError(f"ratio_range must be a pair (lo, hi), got {ratio_range!r}")
    low, high = ratio_range
    for value in (low, high):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"ratio_range entries must be numbers, got {ratio_range!r}")
    low, high = float(low), float(high)
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(f"ratio_range must satisfy 0 <= lo < hi <= 1, got ({low}, {high})")
    return low, high


@functools.lru_cache(maxsize=16)
def _cached_folder(
    folder: str,
    bucket: int | None,
    ratio_range: tuple[float, float] | None,
    exclude: frozenset[str],
) -> MaskFolder:
    return MaskFolder(folder, bucket=bucket, ratio_range=ratio_range, exclude=sorted(exclude))


def folder_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    folder: str | os.PathLike[str],
    bucket: int | None = None,
    ratio_range: tuple[float, float] | None = None,
    exclude: Sequence[str] = (),
) -> np.ndarray:
    """Generator-signature wrapper of :class:`MaskFolder` (the "folder" entry of GENERATORS).

    Inputs: shape (H, W); rng; ``folder``, ``bucket``, ``ratio_range``, ``exclude`` as for
    :class:`MaskFolder`. Outputs: (H, W) bool. The folder is listed once per
    (folder, bucket, ratio_range, exclude) per process; build a :class:`MaskFolder` yourself to
    re-list.
    """
    check_shape(shape)
    check_rng(rng)
    if ratio_range is not None:
        ratio_range = _check_ratio_range(ratio_range)
    if bucket is not None:
        bucket = check_int("bucket", bucket, minimum=0)
    key = str(Path(folder).resolve())
    return _cached_folder(key, bucket, ratio_range, _check_exclude(exclude))(shape, rng)
