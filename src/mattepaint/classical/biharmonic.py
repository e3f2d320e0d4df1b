"""Biharmonic inpainting (scikit-image).

The hole is filled with the smooth function u that solves the biharmonic equation
``Δ²u = 0`` inside the hole, with the known pixels around it as boundary values, one channel at a
time (S. B. Damelin, N. S. Hoang, "On Surface Completion and Image Inpainting by Biharmonic
Functions: Numerical Aspects", International Journal of Mathematics and Mathematical Sciences,
2018; implemented by ``skimage.restoration.inpaint_biharmonic``).

Cost: one sparse linear system per channel with as many unknowns as hole pixels (plus a margin),
so it is fast for small holes but slow for large ones, growing faster than linearly with the hole
area: measured here (skimage 0.26, one process) about 0.2 s for a 100x100 hole, 1.4 s for 200x200
and 9 s for 400x400 (a 160,000-pixel hole). ``split_into_regions=True`` solves each connected hole
separately, which is faster when the mask is many small blobs.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from mattepaint.classical._common import (
    check_image,
    check_mask,
    inpaint_batch,
    to_float,
)
from mattepaint.interface import check_hole_coverage


def _inpaint_biharmonic(
    image: np.ndarray, hole: np.ndarray, split_into_regions: bool
) -> np.ndarray:
    """Validated (H, W, 3) uint8/float image and (H, W) bool hole -> (H, W, 3) float32."""
    from skimage.restoration import inpaint_biharmonic as sk_inpaint_biharmonic

    image64 = to_float(image, np.float64)
    if not hole.any():
        return image64.astype(np.float32)
    filled = sk_inpaint_biharmonic(
        image64, hole, split_into_regions=split_into_regions, channel_axis=-1
    )
    return np.where(hole[..., None], filled, image64).astype(np.float32)


def inpaint_biharmonic(
    image: np.ndarray, mask: np.ndarray, *, split_into_regions: bool = False
) -> np.ndarray:
    """Fill the hole of one image with biharmonic functions (scikit-image).

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255).
        mask: (H, W) bool, True = hole (numeric masks are thresholded at 0.5).
        split_into_regions: solve each connected hole region separately (faster for many small
            holes, same result up to solver precision).

    Outputs:
        (H, W, 3) float32 in [0, 1]: hole pixels are
        ``skimage.restoration.inpaint_biharmonic(image_f64, mask, channel_axis=-1)``, i.e. the
        solution of Δ²u = 0 in the hole with the surrounding pixels as boundary values; the other
        pixels are the input.

    Slow for large holes (a sparse solve per channel over all hole pixels): see the module doc.

    Raises InputError when the mask covers the whole image (nothing to fill from); warns when
    it has no hole.

    Reference: S. B. Damelin, N. S. Hoang, "On Surface Completion and Image Inpainting by
    Biharmonic Functions: Numerical Aspects", IJMMS 2018.
    """
    check_image(image)
    hole = check_mask(mask, image.shape)
    check_hole_coverage(hole)  # InputError when all hole; warns when there is none
    return _inpaint_biharmonic(image, hole, bool(split_into_regions))


class BiharmonicInpainter:
    """Biharmonic inpainting (:func:`inpaint_biharmonic`) for (B, 3, H, W) batches.

    Options: ``split_into_regions`` (bool, default False). Slow on large holes.
    """

    name = "biharmonic"

    def __init__(self, *, split_into_regions: bool = False) -> None:
        if not isinstance(split_into_regions, bool):
            raise TypeError(f"split_into_regions must be a bool, got {split_into_regions!r}")
        self.split_into_regions = split_into_regions

    def __repr__(self) -> str:
        return f"BiharmonicInpainter(split_into_regions={self.split_into_regions})"

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor:
        """image (B, 3, H, W) float in [0, 1], mask (B, 1, H, W) (1 = hole) -> (B, 3, H, W),
        the input's dtype and device; pixels outside the hole equal the input bit for bit."""
        return inpaint_batch(
            image, mask, lambda img, hole: _inpaint_biharmonic(img, hole, self.split_into_regions)
        )
