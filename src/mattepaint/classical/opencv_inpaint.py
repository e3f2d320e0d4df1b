"""OpenCV's two classical inpainting methods: Telea's fast marching and Navier-Stokes.

- ``telea``: A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
  Journal of Graphics Tools 9(1), 2004. Pixels are filled in order of their distance to the hole
  boundary (fast marching), each as a weighted average of the known pixels within ``radius``
  (weights: direction, distance and level-set terms), extrapolated with the image gradient.
- ``ns``: M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and
  Video Inpainting", CVPR 2001. Isophotes are propagated into the hole by treating image
  intensity as a stream function of an incompressible fluid.

Both work on 8-bit images only (``cv2.inpaint``): float input is rounded to uint8 with
``np.round(x * 255)``, the result is divided by 255, and the pixels outside the hole are copied
from the input, so they are not quantized. Both are fast (milliseconds on a 512x512 image) and
good at thin holes (scratches, text); large holes come out blurred.
"""

from __future__ import annotations

import cv2
import numpy as np
from torch import Tensor

from mattepaint.checks import check_int_at_least
from mattepaint.classical._common import (
    check_image,
    check_mask,
    inpaint_batch,
    to_float,
    to_uint8,
)
from mattepaint.interface import check_hole_coverage

_FLAGS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def _inpaint_opencv(image: np.ndarray, hole: np.ndarray, radius: int, flag: int) -> np.ndarray:
    """Validated (H, W, 3) uint8/float image and (H, W) bool hole -> (H, W, 3) float32."""
    known = to_float(image, np.float32)  # outside-hole pixels, as float32
    if not hole.any():
        return known
    filled = cv2.inpaint(to_uint8(image), hole.astype(np.uint8) * 255, radius, flag)
    filled = filled.astype(np.float32) / np.float32(255)
    return np.where(hole[..., None], filled, known)


def _inpaint_checked(image: np.ndarray, mask: np.ndarray, radius: int, method: str) -> np.ndarray:
    check_image(image, stacklevel=4)  # warnings point at the caller of inpaint_*
    hole = check_mask(mask, image.shape)
    radius = check_int_at_least("radius", radius, 1)
    check_hole_coverage(hole)  # InputError when all hole; warns when there is none
    return _inpaint_opencv(image, hole, radius, _FLAGS[method])


def inpaint_telea(image: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Inpaint the hole of one image with Telea's fast marching method (OpenCV).

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8; any channel order (channels are independent).
        mask: (H, W) bool, True = hole (numeric masks are thresholded at 0.5).
        radius: int >= 1, radius in pixels of the neighbourhood averaged for each filled pixel.

    Outputs:
        (H, W, 3) float32 in [0, 1]. Hole pixels are
        ``cv2.inpaint(u8, mask_u8, radius, cv2.INPAINT_TELEA) / 255`` with
        ``u8 = np.round(image * 255).astype(np.uint8)`` (the uint8 image itself when given) and
        ``mask_u8`` 0/255; the other pixels are the input (divided by 255 for uint8 input).

    Raises InputError when the mask covers the whole image (nothing to fill from); warns when
    it has no hole.

    Reference: A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
    Journal of Graphics Tools 9(1), 2004.
    """
    return _inpaint_checked(image, mask, radius, "telea")


def inpaint_ns(image: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Inpaint the hole of one image with the Navier-Stokes based method (OpenCV).

    Inputs, outputs and errors as :func:`inpaint_telea`, with the flag ``cv2.INPAINT_NS``:
    hole pixels are ``cv2.inpaint(u8, mask_u8, radius, cv2.INPAINT_NS) / 255``, where
    ``radius`` (int >= 1) is the radius in pixels of the neighbourhood used around each filled
    pixel; the (H, W, 3) float32 output in [0, 1] equals the input outside the hole.

    Reference: M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image
    and Video Inpainting", CVPR 2001.
    """
    return _inpaint_checked(image, mask, radius, "ns")


class _OpenCVInpainter:
    """Batched wrapper over :func:`_inpaint_opencv` (the Inpainter protocol)."""

    name: str

    def __init__(self, *, radius: int = 3) -> None:
        self.radius = check_int_at_least("radius", radius, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(radius={self.radius})"

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor:
        """image (B, 3, H, W) float in [0, 1], mask (B, 1, H, W) (1 = hole) -> (B, 3, H, W),
        the input's dtype and device; pixels outside the hole equal the input bit for bit."""
        flag = _FLAGS[self.name]
        return inpaint_batch(
            image, mask, lambda img, hole: _inpaint_opencv(img, hole, self.radius, flag)
        )


class TeleaInpainter(_OpenCVInpainter):
    """Telea's fast marching inpainting (:func:`inpaint_telea`) for (B, 3, H, W) batches.

    Options: ``radius`` (int >= 1, default 3).
    """

    name = "telea"


class NSInpainter(_OpenCVInpainter):
    """Navier-Stokes inpainting (:func:`inpaint_ns`) for (B, 3, H, W) batches.

    Options: ``radius`` (int >= 1, default 3).
    """

    name = "ns"
