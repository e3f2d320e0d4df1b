"""VGG16 (ImageNet) as a multi-scale feature encoder: the encoder of Deep Image Matting.

The convolutional part of VGG16 (configuration D) in torchvision's ``features.N`` layout
(:class:`mattepaint.models.backbones.VGG16Features`), tapped after the last ReLU of each of the
five blocks (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)::

    block  convs  channels  tap stride
      1      2       64         1
      2      2      128         2
      3      3      256         4
      4      3      512         8
      5      3      512        16

Input convention: NCHW float RGB in [0, 1]; normalised inside with torchvision's ImageNet mean
and std, ``(x - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)``.

References:
    Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition",
    ICLR 2015.
    Xu, Price, Cohen & Huang, "Deep Image Matting", CVPR 2017 (VGG16 encoder with a 4th input
    channel for the trimap, its first-conv weights initialised to zero).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from mattepaint.checks import check_int
from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.models.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_LAYERS,
    VGG16Features,
    load_backbone_weights,
)

__all__ = ["VGG16_WEIGHTS_FILE", "VGG16Encoder", "load_vgg16_encoder_weights"]

VGG16_WEIGHTS_FILE = "vgg16_imagenet_features_fp16.safetensors"
"""File name of the VGG16 ImageNet feature weights in ``$MATTEPAINT_DATA/weights``."""

_TAPS: tuple[str, ...] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")


class VGG16Encoder(VGG16Features):
    """VGG16 feature encoder (Simonyan & Zisserman 2015): image -> 5 feature maps, strides 1..16.

    State-dict keys are torchvision's ``features.N.weight`` / ``features.N.bias`` (conv layers at
    0, 2, 5, ..., 28; pool5 is never run). Weights are random until
    :func:`load_vgg16_encoder_weights` (or :func:`mattepaint.models.encoders.build_encoder`
    ``("vgg16", pretrained=...)``).

    Args:
        in_channels: 3 = RGB; more widens conv1_1 (extra input channels in [0, 1] enter as
            ``2 x - 1``; their weights are zero after loading ImageNet weights, as Deep Image
            Matting initialised its trimap channel).

    Attributes: ``channels`` (64, 128, 256, 512, 512), ``strides`` (1, 2, 4, 8, 16),
        ``size_multiple`` 16.

    Inputs: x (B, in_channels, H, W) float, RGB in [0, 1] first.
    Outputs: list of 5 tensors (B, channels[i], H // strides[i], W // strides[i]).
    """

    channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    strides: tuple[int, ...] = (1, 2, 4, 8, 16)
    size_multiple: int = 16

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=3)
        if in_channels != 3:
            self.features[0] = nn.Conv2d(in_channels, 64, 3, padding=1)
        last = VGG16_LAYERS[_TAPS[-1]]
        self.features = self.features[: last + 1]  # drop pool5 (no weights, never used)
        self._tap_indices = tuple(VGG16_LAYERS[name] for name in _TAPS)

    def forward(self, x: Tensor) -> list[Tensor]:  # type: ignore[override]
        """(B, in_channels, H, W) in [0, 1] -> 5 feature maps (see the class doc)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"vgg16: input must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        h = (x[:, :3] - mean) / std  # (B, 3, H, W)
        if self.in_channels > 3:
            h = torch.cat([h, 2.0 * x[:, 3:] - 1.0], dim=1)  # (B, in_channels, H, W)
        taps: list[Tensor] = []
        for index, module in enumerate(self.features):
            h = module(h)
            if index in self._tap_indices:
                taps.append(h)  # (B, channels[i], H / strides[i], W / strides[i])
        return taps


def load_vgg16_encoder_weights(model: VGG16Encoder, path: str | Path) -> VGG16Encoder:
    """Load VGG16 ImageNet conv weights into ``model`` (in place).

    Inputs:
        model: a :class:`VGG16Encoder` (any ``in_channels``).
        path: the safetensors file of ``$MATTEPAINT_DATA/weights`` (:data:`VGG16_WEIGHTS_FILE`,
            fp16, cast to float32) or a torchvision ``vgg16`` state dict (``.pth``; its
            classifier is ignored), as :func:`mattepaint.models.backbones.load_backbone_weights`
            reads them.
    Outputs: ``model``; with ``in_channels > 3`` conv1_1's RGB weights are copied and the extra
        channels' weights set to 0.
    Raises:
        InputError: missing file, unreadable file, or weights that do not fit VGG16.
    """
    file = Path(path)
    if not file.is_file():
        raise InputNotFoundError(f"VGG16 weights file not found: {file}")
    reference = VGG16Features()
    try:
        load_backbone_weights(reference, file)
    except (ValueError, FileNotFoundError) as error:
        raise InputError(str(error)) from None
    state = {k: v for k, v in reference.state_dict().items() if k in model.state_dict()}
    if model.in_channels > 3:
        stem = state["features.0.weight"]  # (64, 3, 3, 3)
        extra = stem.new_zeros(64, model.in_channels - 3, 3, 3)
        state["features.0.weight"] = torch.cat([stem, extra], dim=1)  # (64, in_channels, 3, 3)
    model.load_state_dict(state, strict=True)
    return model
