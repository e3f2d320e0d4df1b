"""numpy <-> torch conversion of single images (HWC arrays <-> NCHW tensors)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from mattepaint.io._formats import max_value


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """numpy image -> batched float32 tensor.

    Inputs: (H, W) or (H, W, C) array; float, bool (-> 0 / 1), or uint8 / uint16 (scaled by
        1/255 or 1/65535, with a warning since floats in [0, 1] were expected).
    Outputs: (1, 1, H, W) or (1, C, H, W) float32, a copy.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"to_tensor expects a numpy array, got {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ValueError(f"to_tensor expects an (H, W) or (H, W, C) array, got shape {array.shape}")
    if array.dtype in (np.uint8, np.uint16):
        warnings.warn(
            f"to_tensor got {array.dtype}, expected float in [0, 1]; "
            f"scaling by 1/{max_value(array):g}",
            stacklevel=2,
        )
        array = array.astype(np.float32) / np.float32(max_value(array))
    elif array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"to_tensor expects float, bool, uint8 or uint16, got {array.dtype}")
    chw = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)  # -> (C, H, W)
    return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]  # (1, C, H, W)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Tensor image -> numpy float32.

    Inputs: (1, C, H, W) or (C, H, W) tensor (any device, float or bool).
    Outputs: (H, W, C) float32, or (H, W) when C == 1; a copy detached from autograd.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"to_numpy expects a torch tensor, got {type(tensor).__name__}")
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(
                f"to_numpy expects one image, got a batch of {tensor.shape[0]} "
                f"(shape {tuple(tensor.shape)}); index it first"
            )
        tensor = tensor[0]
    elif tensor.ndim != 3:
        raise ValueError(f"to_numpy expects (C, H, W) or (1, C, H, W), got {tuple(tensor.shape)}")
    array = tensor.detach().cpu().to(torch.float32).permute(1, 2, 0).numpy()  # (H, W, C)
    array = array[..., 0] if array.shape[2] == 1 else array
    return np.ascontiguousarray(array)
