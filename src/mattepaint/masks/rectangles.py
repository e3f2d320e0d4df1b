"""Random rectangles until a coverage target is met (the "dynamic mask" of seed report 000).

Reference: the background-aware matting / self-supervised inpainting report (seed 000, section
4.2 "Dynamic Mask Generation"): rectangles with sides drawn uniformly in ``[min_size, H // 3]`` x
``[min_size, W // 3]`` at uniform positions, added until at least ``mask_ratio`` of the image is
a hole. Rectangles may overlap, so the coverage is measured on the union.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from mattepaint.checks import check_float, check_int, check_rng, check_shape

Box = tuple[int, int, int, int]  # (top, left, height, width)

DEFAULT_MIN_SIZE = 32


def rectangle_size_limits(
    shape: tuple[int, int], min_size: int | None = None
) -> tuple[int, int, int, int]:
    """Side limits used by :func:`rectangles` for an image of ``shape``.

    Inputs: ``shape`` (H, W); ``min_size`` the requested smallest side in pixels (None: the
    default 32).
    Outputs: ``(min_h, max_h, min_w, max_w)`` with ``max_h = max(1, H // 3)`` and
    ``min_h = min(min_size, max_h)`` (likewise for the width): rectangles are at most a third of
    the image, and on a small image the smallest side is clamped down to that third (a 64 x 64
    image gets sides in ``[21, 21]``, a 32 x 32 one ``[10, 10]``).
    Raises ``ValueError`` when an explicit ``min_size`` exceeds the image itself
    (``min_size > min(H, W)``): no rectangle of the requested size fits at all.
    """
    height, width = check_shape(shape)
    if min_size is None:
        min_size = DEFAULT_MIN_SIZE
    else:
        min_size = check_int("min_size", min_size, minimum=1)
        if min_size > min(height, width):
            raise ValueError(
                f"min_size {min_size} does not fit in an image of shape ({height}, {width}): "
                f"expected min_size <= {min(height, width)}"
            )
    max_h = max(1, height // 3)
    max_w = max(1, width // 3)
    return min(min_size, max_h), max_h, min(min_size, max_w), max_w


def random_rectangle_boxes(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    mask_ratio: float = 0.25,
    min_size: int | None = None,
    max_iterations: int = 1000,
) -> list[Box]:
    """The rectangles drawn by :func:`rectangles`, in drawing order.

    Inputs: ``shape`` (H, W); ``rng`` a numpy Generator; parameters as in :func:`rectangles`.
    Outputs: a list of ``(top, left, height, width)`` boxes, each inside the image with
    ``height`` in ``[min_h, max_h]`` and ``width`` in ``[min_w, max_w]``
    (:func:`rectangle_size_limits`). Painting them gives exactly ``rectangles(shape, rng', ...)``
    for a generator ``rng'`` in the same state.
    """
    height, width = check_shape(shape)
    check_rng(rng)
    mask_ratio = check_float("mask_ratio", mask_ratio, low=0.0, high=1.0, low_open=True)
    max_iterations = check_int("max_iterations", max_iterations, minimum=1)
    min_h, max_h, min_w, max_w = rectangle_size_limits((height, width), min_size)

    target = math.ceil(mask_ratio * height * width)  # covered / (H W) >= mask_ratio
    covered_mask = np.zeros((height, width), dtype=bool)
    covered = 0
    boxes: list[Box] = []
    while covered < target and len(boxes) < max_iterations:
        box_h = int(rng.integers(min_h, max_h + 1))
        box_w = int(rng.integers(min_w, max_w + 1))
        top = int(rng.integers(0, height - box_h + 1))
        left = int(rng.integers(0, width - box_w + 1))
        region = covered_mask[top : top + box_h, left : left + box_w]
        covered += box_h * box_w - int(region.sum())  # newly covered pixels only
        region[...] = True
        boxes.append((top, left, box_h, box_w))
    if covered < target:
        warnings.warn(
            f"rectangles: stopped after max_iterations={max_iterations} rectangles with hole ratio "
            f"{covered / (height * width):.4f} < mask_ratio {mask_ratio}",
            stacklevel=3,
        )
    return boxes


def rectangles(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    mask_ratio: float = 0.25,
    min_size: int | None = None,
    max_iterations: int = 1000,
) -> np.ndarray:
    """Union of random rectangles covering at least ``mask_ratio`` of the image.

    Inputs:
        shape: (H, W), positive ints.
        rng: numpy Generator (the only source of randomness).
        mask_ratio: target hole fraction in (0, 1]; rectangles are added until
            ``mask.sum() >= ceil(mask_ratio * H * W)``.
        min_size: smallest rectangle side in pixels, default 32 (clamped to a third of the
            image on small images, see :func:`rectangle_size_limits`; ``ValueError`` if an
            explicit value is larger than the image).
        max_iterations: at most this many rectangles; if the target is still not met a
            ``UserWarning`` is issued and the under-covered mask is returned.
    Outputs: (H, W) bool, True = hole.

    Each rectangle: ``h ~ U{min_h..max_h}``, ``w ~ U{min_w..max_w}``, ``top ~ U{0..H-h}``,
    ``left ~ U{0..W-w}`` (seed 000, Listing 4; written anew with an explicit Generator).
    """
    height, width = check_shape(shape)
    boxes = random_rectangle_boxes(
        (height, width),
        rng,
        mask_ratio=mask_ratio,
        min_size=min_size,
        max_iterations=max_iterations,
    )
    mask = np.zeros((height, width), dtype=bool)
    for top, left, box_h, box_w in boxes:
        mask[top : top + box_h, left : left + box_w] = True
    return mask
