"""Input transforms that turn (image, mask) into the network input: hole, mosaic, hole_ns.

Reference: seed report 002 (section IV.D), which trains Contextual Attention with three inputs:
"hole" (hole pixels blanked), "mosaic" (hole pixels replaced by a bilinear downsample-upsample
of the image, mosaic unit size 12) and "hole_ns" (the hole pre-filled with the Navier-Stokes
inpainting of Bertalmio, Bertozzi and Sapiro, CVPR 2001, via ``cv2.inpaint``).

All take a numpy image (H, W, 3) float in [0, 1] and a mask (H, W) bool (True = hole) and
return a new (H, W, 3) image of the input's float dtype whose pixels outside the hole are
bit-identical to the input.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from mattepaint.checks import check_int


def _check_pair(image: object, mask: object) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"image must be float in [0, 1], got dtype {image.dtype}")
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"mask must be a numpy array (H, W), got {type(mask).__name__}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask must be (H, W) like image {image.shape[:2]}, got {mask.shape}")
    if mask.dtype != bool:
        values = np.unique(mask)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"mask must be bool or 0/1, got values {values[:6].tolist()}")
        mask = mask.astype(bool)
    if image.size and (image.min() < 0.0 or image.max() > 1.0):
        warnings.warn(
            f"image values outside [0, 1] (min {image.min():.3g}, max {image.max():.3g})",
            stacklevel=3,
        )
    return image, mask


def hole(image: np.ndarray, mask: np.ndarray, fill: float | Sequence[float] = 0.0) -> np.ndarray:
    """Blank the hole: ``out = mask ? fill : image``.

    Inputs: image (H, W, 3) float [0, 1]; mask (H, W) bool, True = hole; ``fill`` a value or an
    RGB triple. Outputs: (H, W, 3), image's dtype.
    """
    image, mask = _check_pair(image, mask)
    if isinstance(fill, numbers.Real):
        fill_value = np.full(3, float(fill), dtype=image.dtype)
    else:
        fill_value = np.asarray(fill, dtype=image.dtype)
        if fill_value.shape != (3,):
            raise ValueError(
                f"fill must be a number or 3 values (R, G, B), got shape {fill_value.shape}"
            )
    out = image.copy()
    out[mask] = fill_value
    return out


def mosaic_image(image: np.ndarray, unit_size: int = 12) -> np.ndarray:
    """Whole-image mosaic: bilinear downsample by ``1 / unit_size`` then bilinear upsample back.

    Inputs: image (H, W, 3) float; ``unit_size`` >= 1. Outputs: (H, W, 3) float32
    ``resize(resize(image, (max(1, W // u), max(1, H // u))), (W, H))``, both with
    ``cv2.INTER_LINEAR``.
    """
    unit_size = check_int("unit_size", unit_size, minimum=1)
    height, width = image.shape[:2]
    small_size = (max(1, width // unit_size), max(1, height // unit_size))  # cv2 takes (w, h)
    small = cv2.resize(image.astype(np.float32), small_size, interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def mosaic(image: np.ndarray, mask: np.ndarray, *, unit_size: int = 12) -> np.ndarray:
    """Mosaic the hole: ``out = mask ? mosaic_image(image, unit_size) : image``.

    Inputs: image (H, W, 3) float [0, 1]; mask (H, W) bool; ``unit_size`` the mosaic cell size in
    pixels (seed 002 uses 12). Outputs: (H, W, 3), image's dtype. Note that the mosaic is computed
    from the whole image, so it leaks the coarse colours of the hole (the report's point:
    "this is not really inpainting").
    """
    image, mask = _check_pair(image, mask)
    coarse = mosaic_image(image, unit_size).astype(image.dtype)
    return np.where(mask[..., None], coarse, image)


def hole_ns(image: np.ndarray, mask: np.ndarray, *, radius: int = 3) -> np.ndarray:
    """Pre-fill the hole with Navier-Stokes inpainting (``cv2.inpaint``, ``cv2.INPAINT_NS``).

    Inputs: image (H, W, 3) float [0, 1]; mask (H, W) bool; ``radius`` the inpainting
    neighbourhood radius (pixels). Outputs: (H, W, 3), image's dtype:
    ``mask ? inpaint(u8, mask, radius, NS) / 255 : image`` with ``u8 = round(clip(image) * 255)``
    (the 8-bit round trip touches only the hole).
    """
    image, mask = _check_pair(image, mask)
    radius = check_int("radius", radius, minimum=1)
    as_u8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    filled = cv2.inpaint(as_u8, mask.astype(np.uint8) * 255, float(radius), cv2.INPAINT_NS)
    return np.where(mask[..., None], (filled.astype(np.float64) / 255.0).astype(image.dtype), image)


#: Name -> transform(image, mask, **options), the three inputs of seed report 002.
INPUT_TRANSFORMS: dict[str, Callable[..., np.ndarray]] = {
    "hole": hole,
    "mosaic": mosaic,
    "hole_ns": hole_ns,
}
