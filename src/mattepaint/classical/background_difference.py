"""Background difference matting: a baseline for background-aware matting.

Given a photo C of a scene and a photo B of the same scene without the subject (a static camera),
the subject is where the two differ. Per pixel:

    d     = ||C - B||_2 over RGB                         (0 .. sqrt(3))
    alpha = clip((d - low) / (high - low), 0, 1)         (a soft threshold, then speckle cleanup)
    F     = clip(B + (C - B) / alpha, 0, 1) where alpha > eps, else C

F inverts the compositing equation C = alpha F + (1 - alpha) B. The method assumes exactly aligned
photos with the same exposure; it fails where the subject has the background's colour (holes in
alpha) and on shadows and noise (false foreground), which ``low`` / ``high`` trade off against each
other. It is the non-learned reference point for background matting models (Sengupta et al.,
"Background Matting", CVPR 2020; Lin et al., "Real-Time High-Resolution Background Matting",
CVPR 2021); the thresholded difference itself goes back to e.g. R. J. Qian, M. I. Sezan, "Video
background replacement without a blue screen", ICIP 1999.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage
from torch import Tensor

from mattepaint.checks import check_choice, is_int
from mattepaint.classical._common import (
    check_float_tensor,
    check_image,
    numpy_to_tensor,
    tensor_to_numpy,
    to_float,
)
from mattepaint.interface import MatteResult, Needs, check_matte_inputs

Cleanup = Literal["median", "open_close", "none"]
CLEANUPS: tuple[str, ...] = ("median", "open_close", "none")


def _check_options(low: float, high: float, cleanup: str, size: int, eps: float) -> None:
    for name, value in (("low", low), ("high", high), ("eps", eps)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
            raise TypeError(f"{name} must be a number, got {value!r}")
    if not 0.0 <= low < high:
        raise ValueError(f"need 0 <= low < high, got low={low}, high={high}")
    check_choice("cleanup", cleanup, CLEANUPS)
    if not is_int(size) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd int >= 1, got {size!r}")
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps}")


def _matte(
    image: np.ndarray,
    background: np.ndarray,
    low: float,
    high: float,
    cleanup: str,
    size: int,
    eps: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Validated (H, W, 3) image and background -> alpha (H, W), foreground (H, W, 3), float32."""
    c, b = to_float(image, np.float64), to_float(background, np.float64)
    d = np.sqrt(((c - b) ** 2).sum(axis=-1))  # (H, W), 0 .. sqrt(3)
    alpha = np.clip((d - low) / (high - low), 0.0, 1.0)
    if size > 1 and cleanup == "median":
        alpha = ndimage.median_filter(alpha, size=size, mode="nearest")
    elif size > 1 and cleanup == "open_close":
        alpha = ndimage.grey_opening(alpha, size=(size, size), mode="nearest")  # drop specks
        alpha = ndimage.grey_closing(alpha, size=(size, size), mode="nearest")  # fill pinholes
    safe = np.maximum(alpha, eps)[..., None]  # (H, W, 1)
    fg = np.where((alpha > eps)[..., None], np.clip(b + (c - b) / safe, 0.0, 1.0), c)
    return alpha.astype(np.float32), fg.astype(np.float32)


def matte_background_difference(
    image: np.ndarray,
    background: np.ndarray,
    *,
    low: float = 0.05,
    high: float = 0.25,
    cleanup: Cleanup = "median",
    size: int = 3,
    eps: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and foreground of one image from its difference with a clean background plate.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8, the photo C with the subject.
        background: (H, W, 3) like ``image``, the photo B of the same scene without it.
        low, high: the RGB distance below which a pixel is background (alpha 0) and above which it
            is foreground (alpha 1), linear in between; tunable: raise ``low`` for noisy or
            compressed photos (the defaults 0.05 / 0.25 suit clean 8-bit images), lower ``high``
            for subjects close to the background's colour.
        cleanup: speckle removal on alpha: "median" (median filter, default), "open_close"
            (grey opening then closing: removes specks, then fills pinholes) or "none".
        size: odd window size of the cleanup filter (1 = no cleanup).
        eps: alpha below which F is not solved for (F = C there).

    Outputs:
        alpha: (H, W) float32 in [0, 1], ``clip((||C - B||_2 - low) / (high - low), 0, 1)`` then
            cleaned; 0 wherever C == B over the whole cleanup window (with "none": wherever
            C == B).
        foreground: (H, W, 3) float32 in [0, 1], ``clip(B + (C - B) / alpha, 0, 1)`` where
            alpha > eps, else C.

    Reference: see the module docstring (background subtraction; Qian & Sezan, ICIP 1999).
    """
    check_image(image)
    check_image(background, "background")
    if background.shape != image.shape:
        raise ValueError(
            f"background must be (H, W, 3) like image {image.shape}, got {background.shape}"
        )
    _check_options(low, high, cleanup, size, eps)
    return _matte(image, background, float(low), float(high), cleanup, int(size), float(eps))


class BackgroundDifferenceMatter:
    """Background difference matting (:func:`matte_background_difference`), needs a background.

    Options: ``low`` (default 0.05), ``high`` (default 0.25), ``cleanup`` ("median",
    "open_close" or "none"; default "median"), ``size`` (odd, default 3), ``eps`` (default 1e-3).
    """

    name = "background_difference"
    needs: Needs = "background"

    def __init__(
        self,
        *,
        low: float = 0.05,
        high: float = 0.25,
        cleanup: Cleanup = "median",
        size: int = 3,
        eps: float = 1e-3,
    ) -> None:
        _check_options(low, high, cleanup, size, eps)
        self.low, self.high, self.cleanup = float(low), float(high), cleanup
        self.size, self.eps = int(size), float(eps)

    def __repr__(self) -> str:
        return (
            f"BackgroundDifferenceMatter(low={self.low}, high={self.high}, "
            f"cleanup={self.cleanup!r}, size={self.size}, eps={self.eps})"
        )

    def __call__(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> MatteResult:
        """image and background (B, 3, H, W) float in [0, 1] -> MatteResult(alpha (B, 1, H, W),
        foreground (B, 3, H, W)), in the image's dtype and device. ``trimap`` is ignored."""
        check_matte_inputs(image, trimap, background, self.needs, self.name)
        check_float_tensor(image, "image")
        check_float_tensor(background, "background")  # type: ignore[arg-type]  # not None: checked
        alphas, foregrounds = [], []
        for img, bg in zip(image, background):  # type: ignore[arg-type]
            alpha, fg = _matte(
                tensor_to_numpy(img),
                tensor_to_numpy(bg),
                self.low,
                self.high,
                self.cleanup,
                self.size,
                self.eps,
            )
            alphas.append(alpha)
            foregrounds.append(fg)
        return MatteResult(
            alpha=numpy_to_tensor(alphas, like=image),
            foreground=numpy_to_tensor(foregrounds, like=image),
        )
