"""Channels-last (NHWC) memory order for inference on the CPU.

PyTorch's CPU convolutions (oneDNN) run faster when activations and weights are stored
channels-last. Measured on the network alone: 2x for the base-16 residual U-Net inpainter at
512x512 (2 threads), 1.7x for the late-fusion segmenter at 320x320 (1 thread); the whole
inpainting call, Navier-Stokes pre-fill included, 1.2x (``benchmarks/onnx_speed.py``). The
values are the same; only the memory order changes. The inference wrappers
(:class:`~mattepaint.models.inpainter.ModelInpainter`,
:class:`~mattepaint.models.matter.ModelMatter`,
:class:`~mattepaint.segmentation.model.ModelSegmenter`) use the two functions below.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["channels_last", "use_channels_last"]


def use_channels_last(model: nn.Module, device: torch.device) -> bool:
    """Convert ``model`` to channels-last in place when it runs on the CPU and has 2-D
    convolution weights (4-D parameters); True when converted. A module without parameters
    (e.g. an ONNX session wrapper, which takes plain NCHW arrays) is left alone."""
    if device.type != "cpu" or not any(p.ndim == 4 for p in model.parameters()):
        return False
    model.to(memory_format=torch.channels_last)
    return True


def channels_last(x: Tensor) -> Tensor:
    """A 4-D tensor in channels-last memory order (same shape and values); others unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x
