"""Square holes: the fixed centre square and the jittered random square ("hole").

References:
- Centre square: Context Encoders (Pathak et al., CVPR 2016) and the baselines of seed report 002
  (section IV: 256 x 256 inputs with a central 128 x 128 hole).
- Random square: the "hole" input of seed report 002 (section IV.D): "a random squared mask of
  size roughly (128x128), with minor variations", placed anywhere fully inside the image (as the
  local-discriminator crops of GLCIC, Iizuka et al., SIGGRAPH 2017).
"""

from __future__ import annotations

import numpy as np

from mattepaint.checks import check_int, check_rng, check_shape


def _default_size(size: int | None, height: int, width: int) -> int:
    if size is None:
        return max(1, min(height, width) // 2)
    size = check_int("size", size, minimum=1)
    if size > min(height, width):
        raise ValueError(
            f"size {size} does not fit in an image of shape ({height}, {width}): "
            f"expected size <= {min(height, width)}"
        )
    return size


def center_square(
    shape: tuple[int, int], rng: np.random.Generator, *, size: int | None = None
) -> np.ndarray:
    """A centred square hole.

    Inputs: ``shape`` (H, W); ``rng`` a numpy Generator (unused: the mask is deterministic; it
    is taken for the shared generator signature); ``size`` the side in pixels, default
    ``min(H, W) // 2`` (128 in a 256 x 256 image), at most ``min(H, W)``.
    Outputs: (H, W) bool, True on rows ``[top, top + size)`` and columns ``[left, left + size)``
    with ``top = (H - size) // 2`` and ``left = (W - size) // 2``.
    """
    height, width = check_shape(shape)
    check_rng(rng)
    size = _default_size(size, height, width)
    top = (height - size) // 2
    left = (width - size) // 2
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


def random_square(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    size: int | None = None,
    jitter: int | None = None,
) -> np.ndarray:
    """A roughly square hole of side about ``size`` at a uniform random position inside the image.

    Inputs:
        shape: (H, W).
        rng: numpy Generator.
        size: nominal side, default ``min(H, W) // 2``; at most ``min(H, W)``.
        jitter: the hole's height and width are drawn independently as
            ``size + U{-jitter..jitter}``, default ``size // 8``; each side is then clamped to
            ``[1, H]`` resp. ``[1, W]``.
    Outputs: (H, W) bool with one axis-aligned rectangle of True, ``top ~ U{0..H-h}``,
    ``left ~ U{0..W-w}`` (fully inside the image).
    """
    height, width = check_shape(shape)
    check_rng(rng)
    size = _default_size(size, height, width)
    jitter = size // 8 if jitter is None else check_int("jitter", jitter, minimum=0)
    box_h = int(np.clip(size + rng.integers(-jitter, jitter + 1), 1, height))
    box_w = int(np.clip(size + rng.integers(-jitter, jitter + 1), 1, width))
    top = int(rng.integers(0, height - box_h + 1))
    left = int(rng.integers(0, width - box_w + 1))
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + box_h, left : left + box_w] = True
    return mask
