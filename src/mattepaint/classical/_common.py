"""Input checks and numpy <-> tensor conversions shared by the classical methods (private).

The classical methods do their work on one numpy image at a time; their registered classes loop
over the batch. The helpers here keep the validation and the conversions in one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from mattepaint.interface import check_inpaint_inputs, keep_known

# Trimap thresholds: the same as mattepaint.interface.apply_trimap (<= 0.25 background,
# >= 0.75 foreground, anything between unknown).
TRIMAP_BG = 0.25
TRIMAP_FG = 0.75


def check_image(image: np.ndarray, name: str = "image", *, stacklevel: int = 3) -> np.ndarray:
    """Validate an (H, W, 3) uint8 or float image and return it unchanged.

    Raises TypeError for a non-array or an integer dtype other than uint8, ValueError for a wrong
    shape; warns for float values outside [0, 1].
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3), got {image.shape}")
    if image.dtype != np.uint8 and not np.issubdtype(image.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 or float in [0, 1], got dtype {image.dtype}")
    if image.dtype != np.uint8 and image.size:
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            warnings.warn(
                f"{name} values should be in [0, 1], got [{lo:.4g}, {hi:.4g}]; clipping",
                stacklevel=stacklevel,
            )
    return image


def to_float(image: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """uint8 -> x / 255; float -> clipped to [0, 1]; both cast to ``dtype``."""
    if image.dtype == np.uint8:
        return image.astype(dtype) / dtype(255)
    return np.clip(image, 0.0, 1.0).astype(dtype)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 unchanged; float [0, 1] -> ``np.round(x * 255).astype(np.uint8)`` (clipped first)."""
    if image.dtype == np.uint8:
        return image
    return np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def _check_map(x: object, name: str, shape: tuple[int, ...]) -> None:
    """TypeError unless ``x`` is a numpy array, ValueError unless it is (H, W) = ``shape[:2]``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.shape != tuple(shape[:2]):
        raise ValueError(
            f"{name} must be (H, W) = {tuple(shape[:2])} like the image, got {x.shape}"
        )


def check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Validate an (H, W) hole mask matching ``shape[:2]``; return it as bool (True = hole).

    bool masks are taken as is; numeric masks are thresholded at 0.5 (so 0/1 floats work; a 0/255
    uint8 mask works too).
    """
    _check_map(mask, "mask", shape)
    if mask.dtype == np.bool_:
        return mask
    if not (np.issubdtype(mask.dtype, np.number)):
        raise TypeError(f"mask must be bool or numeric, got dtype {mask.dtype}")
    return mask > 0.5


def quantize_trimap(
    trimap: np.ndarray, shape: tuple[int, ...], *, stacklevel: int = 3
) -> np.ndarray:
    """Validate an (H, W) trimap and return it as float64 in exactly {0, 0.5, 1}.

    Accepts float in [0, 1] or uint8 0/128/255. Values <= 0.25 are background, >= 0.75 foreground,
    the rest unknown (the thresholds of :func:`mattepaint.interface.apply_trimap`). Warns when values
    other than 0, 0.5, 1 (within 1/255) occur, since they are quantized.
    """
    _check_map(trimap, "trimap", shape)
    if trimap.dtype == np.uint8:
        values = trimap.astype(np.float64) / 255.0
    elif np.issubdtype(trimap.dtype, np.floating):
        values = trimap.astype(np.float64)
    else:
        raise TypeError(f"trimap must be float in [0, 1] or uint8, got dtype {trimap.dtype}")
    levels = np.array([0.0, 0.5, 1.0])
    off = np.abs(values.reshape(-1, 1) - levels).min(axis=1) > 1.0 / 255 + 1e-9
    if off.any():
        odd = np.unique(values.reshape(-1)[off])[:5]
        warnings.warn(
            f"trimap should hold 0 / 0.5 / 1, found other values (e.g. {odd.tolist()}); "
            f"quantizing with thresholds {TRIMAP_BG} / {TRIMAP_FG}",
            stacklevel=stacklevel,
        )
    out = np.full(values.shape, 0.5)
    out[values <= TRIMAP_BG] = 0.0
    out[values >= TRIMAP_FG] = 1.0
    return out


def check_float_tensor(tensor: Tensor, name: str) -> None:
    """Raise TypeError unless ``tensor`` is floating point (the protocols take floats in [0, 1])."""
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [0, 1], got {tensor.dtype}")


def tensor_to_numpy(tensor: Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W, C) numpy array (float32, or float64 when the tensor is)."""
    t = tensor.detach().cpu()
    if t.dtype not in (torch.float32, torch.float64):
        t = t.float()
    return t.numpy().transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)


def numpy_to_tensor(arrays: list[np.ndarray], like: Tensor) -> Tensor:
    """Stack (H, W, C) or (H, W) arrays into a (B, C, H, W) tensor on ``like``'s device/dtype."""
    stacked = np.stack([a[..., None] if a.ndim == 2 else a for a in arrays])  # (B, H, W, C)
    out = torch.from_numpy(np.ascontiguousarray(stacked.transpose(0, 3, 1, 2)))  # (B, C, H, W)
    dtype = like.dtype if like.is_floating_point() else torch.float32
    return out.to(device=like.device, dtype=dtype)


def inpaint_batch(
    image: Tensor, mask: Tensor, fill_one: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> Tensor:
    """Run a one-image numpy inpainting function over a batch (the Inpainter protocol's body).

    Inputs:
        image: (B, 3, H, W) float in [0, 1]; mask: (B, 1, H, W), 1 = hole.
        fill_one: (image (H, W, 3) float32, hole (H, W) bool) -> (H, W, 3) float in [0, 1].
    Outputs:
        (B, 3, H, W) in the input's dtype and device; pixels outside the hole equal the input
        bit for bit (:func:`mattepaint.interface.keep_known`). Warns when no image has a hole and
        raises InputError when one is all hole (:func:`~mattepaint.interface.check_hole_coverage`).
    """
    check_inpaint_inputs(image, mask)
    check_float_tensor(image, "image")
    holes = (mask > 0.5).detach().cpu().numpy()[:, 0]  # (B, H, W) bool
    filled = [fill_one(tensor_to_numpy(img), hole) for img, hole in zip(image, holes)]
    return keep_known(image, mask, numpy_to_tensor(filled, like=image))
