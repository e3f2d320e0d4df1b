"""What reading and writing share: path checks, the suffix tables, pixel-value helpers."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

PathLike = str | os.PathLike
SizeLike = tuple[int, int] | np.ndarray | torch.Tensor

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""File suffixes (lower case) that :func:`list_images` picks up and the savers accept."""

TIFF_SUFFIXES = (".tif", ".tiff")
SIXTEEN_BIT_SUFFIXES = (".png", *TIFF_SUFFIXES)  # where 16 bits per sample are kept
RANGE_TOLERANCE = 1e-4  # float values this far outside [0, 1] are clipped without a warning
MAX_LISTED_VALUES = 8  # distinct bad trimap values named in an error message


def as_path(path: object, what: str) -> Path:
    """``path`` (a str or os.PathLike) as a Path; TypeError ``"<what> must be a str or Path,
    got <type>"`` for anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or Path, got {type(path).__name__}")
    return Path(path)


def max_value(array: np.ndarray) -> float:
    """Full-scale value of a pixel array: 255, 65535 or 1.0."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)


def clip_unit(array: np.ndarray, what: str, stacklevel: int) -> np.ndarray:
    """Clip floats to [0, 1], warning when values lie beyond a tiny tolerance of the range."""
    if not np.isfinite(array).all():
        raise ValueError(f"{what} has NaN or infinite values")
    if array.size:
        low, high = float(array.min()), float(array.max())
        if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
            warnings.warn(
                f"{what} has values in {low:.4g}..{high:.4g}, outside [0, 1]; they are clipped",
                stacklevel=stacklevel,
            )
    return np.clip(array, 0, 1)


def short_listing(items: Sequence[str], limit: int = 5) -> str:
    """``'a, b, c'`` with at most ``limit`` items, then ``' and N more'`` (for error messages)."""
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown
