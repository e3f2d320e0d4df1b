"""Hole-ratio buckets of the irregular-mask evaluation protocol.

Reference: Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
ECCV 2018: the 12,000 test masks are grouped by hole-to-image area ratio into six buckets
(0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6], 2,000 masks each; results are reported per bucket.
The evaluation table of mattepaint reuses these buckets.
"""

from __future__ import annotations

import numbers

import numpy as np

from mattepaint.checks import is_int

#: Half-open intervals ``(lo, hi]`` of hole ratio, index = bucket number.
HOLE_RATIO_BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1),
    (0.1, 0.2),
    (0.2, 0.3),
    (0.3, 0.4),
    (0.4, 0.5),
    (0.5, 0.6),
)


def hole_ratio(mask: np.ndarray) -> float:
    """Fraction of hole pixels: ``mask.sum() / mask.size``.

    Inputs: ``mask`` (H, W) bool (or 0/1 numeric; nonzero counts as hole).
    Outputs: float in [0, 1].
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    if mask.size == 0:
        raise ValueError("mask must not be empty (size 0)")
    return float(np.count_nonzero(mask)) / mask.size


def hole_ratio_bucket(ratio: float) -> int | None:
    """Bucket index ``k`` with ``lo_k < ratio <= hi_k`` (:data:`HOLE_RATIO_BUCKETS`), or None.

    Inputs: ``ratio`` in [0, 1]. Outputs: 0..5, or None when the ratio is <= 0.01 or > 0.6.
    Example: 0.1 -> 0, 0.10001 -> 1, 0.6 -> 5, 0.005 -> None.
    """
    if isinstance(ratio, (bool, np.bool_)) or not isinstance(ratio, numbers.Real):
        raise TypeError(f"ratio must be a number, got {type(ratio).__name__}")
    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    for index, (low, high) in enumerate(HOLE_RATIO_BUCKETS):
        if low < ratio <= high:
            return index
    return None


def bucket_label(index: int) -> str:
    """Printable label of bucket ``index``: 0 -> "0.01-0.1", 1 -> "0.1-0.2", ..., 5 -> "0.5-0.6"."""
    if not is_int(index):
        raise TypeError(f"bucket index must be an int, got {type(index).__name__}")
    if not 0 <= index < len(HOLE_RATIO_BUCKETS):
        raise ValueError(f"bucket index must be in 0..{len(HOLE_RATIO_BUCKETS) - 1}, got {index}")
    low, high = HOLE_RATIO_BUCKETS[index]
    return f"{low:g}-{high:g}"
