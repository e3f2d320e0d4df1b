"""The one interface of every inpainting and matting method, classical or learned.

- :class:`Inpainter`: ``inpainter(image, mask) -> image``; image (B, 3, H, W) in [0, 1], mask
  (B, 1, H, W) with 1 = hole; the result equals the input outside the hole.
- :class:`Matter`: ``matter(image, trimap=..., background=...) -> MatteResult``; ``needs`` says
  which of trimap / background the method requires.

Beside the two protocols are the helpers every implementation uses: the input checks
(:func:`check_inpaint_inputs`, :func:`check_matte_inputs`, and the content checks they run,
:func:`check_hole_coverage` and :func:`check_trimap_regions`), :func:`keep_known` and
:func:`apply_trimap`. This module imports no implementation: the classical methods
(:mod:`mattepaint.classical`) and the model wrappers (:mod:`mattepaint.models.inpainter`,
:mod:`mattepaint.models.matter`) import it, and :mod:`mattepaint.methods` (which re-exports
everything here) turns a method name or a checkpoint file into one of these objects.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "Inpainter",
    "MatteResult",
    "Matter",
    "Needs",
    "apply_trimap",
    "check_hole_coverage",
    "check_inpaint_inputs",
    "check_matte_inputs",
    "check_trimap_regions",
    "keep_known",
]

Needs = Literal["trimap", "background", "nothing"]


@dataclass
class MatteResult:
    """Output of a :class:`Matter`.

    Attributes:
        alpha: (B, 1, H, W) float in [0, 1].
        foreground: (B, 3, H, W) float in [0, 1], the estimated foreground colour, or None when
            the method does not estimate it.
    """

    alpha: Tensor
    foreground: Tensor | None = None


@runtime_checkable
class Inpainter(Protocol):
    """Fills the holes of an image: (B, 3, H, W) image, (B, 1, H, W) mask (1 = hole) -> image."""

    name: str

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor: ...


@runtime_checkable
class Matter(Protocol):
    """Estimates alpha (and possibly foreground) for (B, 3, H, W) images."""

    name: str
    needs: Needs

    def __call__(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> MatteResult: ...


def check_inpaint_inputs(image: Tensor, mask: Tensor) -> None:
    """Validate an Inpainter's inputs: image (B, 3, H, W) and mask (B, 1, H, W), float tensors.

    Also :func:`check_hole_coverage`: InputError for a mask that covers a whole image, a warning
    for a mask with no hole. Every inpainter (classical, model, ONNX) calls this first.
    """
    if not isinstance(image, Tensor) or not isinstance(mask, Tensor):
        raise TypeError(
            f"image and mask must be torch tensors, got {type(image).__name__} and "
            f"{type(mask).__name__}"
        )
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    b, _, h, w = image.shape
    if mask.shape != (b, 1, h, w):
        raise ValueError(
            f"mask must be (B, 1, H, W) like image {tuple(image.shape)}, got {tuple(mask.shape)}"
        )
    check_hole_coverage(mask)


def _per_image(x: Tensor | np.ndarray) -> Tensor:
    """(H, W) or (B, 1, H, W), numpy or torch -> (B, H*W) tensor on the CPU (no copy if it can)."""
    t = torch.as_tensor(x).detach()
    return t.reshape(1, -1) if t.ndim <= 2 else t.reshape(t.shape[0], -1)


def _which(what: str, index: int, count: int) -> str:
    return f"{what} of image {index} of the batch" if count > 1 else what


def check_hole_coverage(mask: Tensor | np.ndarray, what: str = "the mask") -> None:
    """Refuse a hole mask that leaves nothing to fill from; warn about one with no hole.

    Inputs:
        mask: (H, W) or (B, 1, H, W), numpy or torch; hole where ``mask > 0.5`` (bool: True).
        what: the mask as named in messages, e.g. ``"mask masks/a.png"``.
    Outputs: None. Warns (UserWarning) ``the mask is empty (no hole): returning the image
        unchanged`` when no image of the batch has a hole.
    Raises: InputError when the hole covers every pixel of an image: an inpainter fills the
        hole from the known pixels around it, and there are none.
    """
    from mattepaint.errors import InputError

    holes = _per_image(mask) > 0.5  # (B, H*W)
    full = holes.all(dim=1)  # (B,)
    if bool(full.any()):
        index = int(full.nonzero()[0, 0])
        raise InputError(
            f"{_which(what, index, len(full))} covers the whole image: there is no known pixel to "
            f"fill the hole from; leave part of the image outside the hole (black in the mask)"
        )
    if not bool(holes.any()):
        warnings.warn(f"{what} is empty (no hole): returning the image unchanged", stacklevel=3)


def check_trimap_regions(
    trimap: Tensor | np.ndarray, what: str = "the trimap", *, warn: bool = True
) -> None:
    """Refuse a trimap without known foreground or background; warn about one with no unknown.

    Inputs:
        trimap: (H, W) or (B, 1, H, W), numpy or torch, values in {0, 0.5, 1}: background where
            ``<= 0.25``, foreground where ``>= 0.75``, unknown between (as :func:`apply_trimap`).
        what: the trimap as named in messages, e.g. ``"trimap trimaps/a.png"``.
        warn: warn (UserWarning) when an image has no unknown pixel, so that its alpha is the
            trimap itself (legal, but rarely what was meant).
    Outputs: None.
    Raises: InputError when an image's trimap is all unknown, or has no foreground, or no
        background: trimap-based matting (closed-form and its kin) propagates alpha from the
        known regions, and without both there is no constraint to solve for.
    """
    from mattepaint.errors import InputError

    values = _per_image(trimap)  # (B, H*W)
    has_fg = (values >= 0.75).any(dim=1)  # (B,)
    has_bg = (values <= 0.25).any(dim=1)
    has_unknown = ((values > 0.25) & (values < 0.75)).any(dim=1)
    for index in range(values.shape[0]):
        name = _which(what, index, values.shape[0])
        if not has_fg[index] and not has_bg[index]:
            raise InputError(
                f"{name} is all unknown (128): matting has no known foreground or background to "
                f"start from; mark sure foreground white (255) and sure background black (0)"
            )
        for present, region, value in ((has_fg, "foreground", 255), (has_bg, "background", 0)):
            if not present[index]:
                raise InputError(
                    f"{name} has no {region} ({value}) pixels: matting needs both known regions "
                    f"to solve for alpha; mark some sure {region} with {value}"
                )
    if warn and not bool(has_unknown.all()):
        warnings.warn(
            f"{what} has no unknown (128) pixels: the alpha matte is the trimap itself",
            stacklevel=3,
        )


def check_matte_inputs(
    image: Tensor, trimap: Tensor | None, background: Tensor | None, needs: Needs, name: str
) -> None:
    """Validate a Matter's inputs against what it ``needs``; shapes must match the image.

    For a method that needs a trimap, also :func:`check_trimap_regions`: InputError for a trimap
    without known foreground or background (all unknown included), a warning for one without
    unknown pixels.
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    b, _, h, w = image.shape
    if needs == "trimap" and trimap is None:
        raise ValueError(f"matting method {name!r} needs a trimap")
    if needs == "background" and background is None:
        raise ValueError(f"matting method {name!r} needs a background image")
    if trimap is not None and tuple(trimap.shape) != (b, 1, h, w):
        raise ValueError(
            f"trimap must be (B, 1, H, W) like image {tuple(image.shape)}, "
            f"got {tuple(trimap.shape)}"
        )
    if needs == "trimap" and trimap is not None:
        check_trimap_regions(trimap)
    if background is not None and tuple(background.shape) != (b, 3, h, w):
        raise ValueError(
            f"background must be (B, 3, H, W) like image {tuple(image.shape)}, "
            f"got {tuple(background.shape)}"
        )


def keep_known(image: Tensor, mask: Tensor, filled: Tensor) -> Tensor:
    """Put a prediction into the hole and keep every other pixel of the input bit for bit.

    Inputs:
        image: (B, 3, H, W) the input; mask: (B, 1, H, W), 1 = hole; filled: (B, 3, H, W) the
            prediction.
    Outputs:
        (B, 3, H, W): ``filled`` where ``mask > 0.5``, ``image`` elsewhere (``torch.where``, so
        the known pixels are copied exactly). A soft mask is thresholded at 0.5, not blended.
    """
    return torch.where(mask > 0.5, filled, image)


def apply_trimap(alpha: Tensor, trimap: Tensor | None) -> Tensor:
    """Fix the known trimap regions: alpha = 0 where trimap <= 0.25, 1 where trimap >= 0.75.

    Inputs: alpha (B, 1, H, W) in [0, 1]; trimap (B, 1, H, W) in {0, 0.5, 1}, or None (alpha is
    returned unchanged). Outputs: (B, 1, H, W).
    """
    if trimap is None:
        return alpha
    alpha = torch.where(trimap <= 0.25, torch.zeros_like(alpha), alpha)
    return torch.where(trimap >= 0.75, torch.ones_like(alpha), alpha)
