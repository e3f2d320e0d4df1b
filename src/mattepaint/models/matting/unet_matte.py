"""UNetMatte: background-aware U-Net matting network of seed report 000 (section 3.2).

The network sees the composite together with the clean background plate, which turns matting
into a learned, non-linear background subtraction: where the composite equals the background,
alpha is 0; elsewhere the network has to explain the difference with ``alpha F + (1 - alpha) B``.

References:
    Seed report 000, "Deep Image Matting and Semantic Image Inpainting", section 3.2
    ("Network Architecture: UNetMatte": RGB composite + grayscale background, 4 input channels,
    32 base filters, 3 poolings, sigmoid alpha).
    Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015.

This module also holds the input checks and the encoder-decoder builder shared by the matting
models (:func:`check_image`, :func:`check_guide`, :func:`build_matting_unet`) and the base class
of the two U-Net matting models (:class:`GuidedUNetMatting`).
"""

from __future__ import annotations

import abc
from typing import ClassVar, Literal, get_args

import torch
from torch import Tensor, nn

from mattepaint.models.encoders import EncoderName, Pretrained
from mattepaint.models.encoders.unet import EncoderUNet
from mattepaint.models.layers.unet import Norm, UNet, Up
from mattepaint.models.registry import register_model

__all__ = [
    "BACKGROUND_INPUTS",
    "LUMA_WEIGHTS",
    "BackgroundInput",
    "GuidedUNetMatting",
    "UNetMatte",
    "build_matting_unet",
    "check_guide",
    "check_image",
    "rgb_to_luma",
]

BackgroundInput = Literal["gray", "rgb"]
BACKGROUND_INPUTS: tuple[str, ...] = get_args(BackgroundInput)
"""How ``unet_matte`` sees the background plate: its luma (1 channel) or RGB (3 channels)."""

LUMA_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights for R, G, B."""


def rgb_to_luma(rgb: Tensor) -> Tensor:
    """Grayscale of an RGB batch with the ITU-R BT.601 luma weights.

    Inputs: (B, 3, H, W) in [0, 1]. Outputs: (B, 1, H, W) in [0, 1],
    ``Y = 0.299 R + 0.587 G + 0.114 B``.
    """
    weights = rgb.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)  # (1, 3, 1, 1)
    return (rgb * weights).sum(dim=1, keepdim=True)  # (B, 1, H, W)


def check_image(model: str, image: Tensor, size_multiple: int) -> None:
    """Raise ValueError unless ``image`` is (B, 3, H, W) with H, W divisible by ``size_multiple``."""
    if not isinstance(image, Tensor):
        raise TypeError(f"{model}: image must be a torch.Tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"{model}: image must be (B, 3, H, W), got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    if h % size_multiple or w % size_multiple:
        raise ValueError(
            f"{model}: image height and width must be divisible by {size_multiple} "
            f"(size_multiple), got {h}x{w}; pad the input first (ModelMatter does)"
        )


def check_guide(
    model: str, name: str, guide: Tensor | None, image: Tensor, channels: int
) -> Tensor:
    """Raise ValueError unless the needed input ``name`` is given as (B, channels, H, W) like image.

    Outputs: ``guide`` cast to the image's dtype.
    """
    if guide is None:
        raise ValueError(
            f"{model} needs a {name}: call model(image, {name}=...) with a "
            f"(B, {channels}, H, W) tensor, got {name}=None"
        )
    if not isinstance(guide, Tensor):
        raise TypeError(f"{model}: {name} must be a torch.Tensor, got {type(guide).__name__}")
    b, _, h, w = image.shape
    if tuple(guide.shape) != (b, channels, h, w):
        raise ValueError(
            f"{model}: {name} must be (B, {channels}, H, W) like image {tuple(image.shape)}, "
            f"got {tuple(guide.shape)}"
        )
    return guide.to(image.dtype)


def build_matting_unet(
    in_channels: int,
    out_channels: int,
    base: int,
    depth: int,
    norm: Norm,
    up: Up,
    encoder: EncoderName,
    pretrained: Pretrained,
) -> UNet | EncoderUNet:
    """The encoder-decoder of the U-Net matting models (``unet_matte``, ``trimap_matte``).

    Args:
        in_channels, out_channels: channels of the network's input and raw output.
        base, depth, norm, up: see :class:`~mattepaint.models.layers.UNet`.
        encoder: "scratch" (default: the U-Net, trained from scratch; its checkpoints load
            unchanged), or a pretrained encoder "efficientnet_lite0" / "vgg16"
            (:mod:`mattepaint.models.encoders`) under a U-Net decoder
            (:class:`~mattepaint.models.encoders.unet.EncoderUNet`; ``depth`` and ``up`` are then
            unused, ``size_multiple`` is the encoder's: 32 / 16). The extra input channels
            enter the pretrained stem with zero weights.
        pretrained: the encoder's ImageNet weights, loaded at construction: True or
            "imagenet" (the default file, see
            :func:`~mattepaint.models.encoders.build_encoder`), a path, or False.
            Only training passes it; a checkpoint holds the weights and is rebuilt without it.

    Outputs: a module (B, in_channels, H, W) -> (B, out_channels, H, W) raw scores, with a
    ``size_multiple`` attribute.

    Raises:
        ValueError: ``pretrained`` weights asked for the "scratch" encoder.
    """
    if encoder == "scratch":
        if pretrained:
            raise ValueError("encoder 'scratch' has no pretrained weights; use pretrained=False")
        return UNet(in_channels, out_channels, base=base, depth=depth, norm=norm, up=up)
    return EncoderUNet(in_channels, out_channels, encoder, pretrained, base=base, norm=norm)


class GuidedUNetMatting(nn.Module, abc.ABC):
    """Base of the U-Net matting models ``unet_matte`` and ``trimap_matte``: the image and one
    guide input (the model's ``needs``), encoded by the subclass, concatenated and fed to an
    encoder-decoder of :func:`build_matting_unet`.

    Args:
        unet: the encoder-decoder (its ``in_channels`` = 3 + the encoded guide's channels).
        encoder: its encoder's name ("scratch" or a pretrained one), kept as ``encoder_name``.

    Subclasses set the class attributes ``model_name`` (the registry name, for error messages),
    ``needs`` ("background" or "trimap": the guide's keyword) and ``guide_channels`` (its
    channels as given), and implement :meth:`encode_guide`.

    Attributes: ``in_channels``, ``encoder_name``, ``unet``, ``size_multiple`` (the
    encoder-decoder's).
    """

    model_name: ClassVar[str]
    needs: str
    guide_channels: ClassVar[int]

    def __init__(self, unet: UNet | EncoderUNet, encoder: EncoderName) -> None:
        super().__init__()
        self.in_channels = unet.in_channels
        self.encoder_name = encoder
        self.unet = unet
        self.size_multiple = unet.size_multiple

    @abc.abstractmethod
    def encode_guide(self, guide: Tensor) -> Tensor:
        """(B, guide_channels, H, W) guide -> (B, in_channels - 3, H, W) network input."""

    def scores(self, image: Tensor, guide: Tensor | None) -> Tensor:
        """Check the inputs, then ``UNet(concat(image, encode_guide(guide)))``.

        Inputs: image (B, 3, H, W), H and W divisible by ``size_multiple``; guide
        (B, guide_channels, H, W) (ValueError when None or of another shape).
        Outputs: (B, out_channels, H, W) raw scores.
        """
        check_image(self.model_name, image, self.size_multiple)
        guide = check_guide(self.model_name, self.needs, guide, image, self.guide_channels)
        x = torch.cat([image, self.encode_guide(guide)], dim=1)  # (B, in_channels, H, W)
        return self.unet(x)  # (B, out_channels, H, W)


@register_model("unet_matte", task="matting")
class UNetMatte(GuidedUNetMatting):
    """Background-aware U-Net matting (seed 000 section 3.2): composite + background -> alpha.

    ``alpha = sigmoid(UNet(concat(image, bg'))[:, :1])`` with :class:`mattepaint.models.layers.UNet`,
    where ``bg'`` is the background's ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B``
    (``background="gray"``, 4 input channels, as in the seed) or the RGB background itself
    (``background="rgb"``, 6 input channels). With ``predict_foreground=True`` the network has
    3 more output channels, ``foreground = sigmoid(...)``.

    Args:
        base: first-level width (seed 000: 32).
        depth: number of 2x poolings (seed 000: 3); ``size_multiple = 2**depth``.
        background: "gray" (4 input channels) or "rgb" (6 input channels).
        predict_foreground: also predict the foreground colours F.
        norm, up, encoder, pretrained: see :func:`build_matting_unet`.

    Attributes: ``needs = "background"``, ``size_multiple`` (2**depth, or the pretrained
        encoder's), ``in_channels`` (4 or 6).

    Inputs:
        image: (B, 3, H, W) float in [0, 1], the composite ``alpha F + (1 - alpha) B``.
        background: (B, 3, H, W) float in [0, 1], the clean background plate B (required).
        trimap: ignored (accepted for the common matting signature).
        H and W must be divisible by ``size_multiple`` (the model does not pad;
        :class:`~mattepaint.models.matter.ModelMatter` does).

    Outputs: dict with "alpha" (B, 1, H, W) in [0, 1] and, with ``predict_foreground``,
    "foreground" (B, 3, H, W) in [0, 1].

    Raises:
        ValueError: no background, or image/background shapes that do not match.
    """

    needs: Literal["background"] = "background"
    guide_channels = 3
    model_name = "unet_matte"

    def __init__(
        self,
        base: int = 32,
        depth: int = 3,
        background: BackgroundInput = "gray",
        predict_foreground: bool = False,
        norm: Norm = "batch",
        up: Up = "transpose",
        encoder: EncoderName = "scratch",
        pretrained: Pretrained = False,
    ) -> None:
        if background not in BACKGROUND_INPUTS:
            raise ValueError(f"background must be 'gray' or 'rgb', got {background!r}")
        if not isinstance(predict_foreground, bool):
            raise TypeError(
                f"predict_foreground must be a bool, got {type(predict_foreground).__name__}"
            )
        in_channels = 4 if background == "gray" else 6
        out_channels = 4 if predict_foreground else 1
        unet = build_matting_unet(
            in_channels, out_channels, base, depth, norm, up, encoder, pretrained
        )
        super().__init__(unet, encoder)
        self.background = background
        self.predict_foreground = predict_foreground

    def forward(
        self, image: Tensor, *, background: Tensor | None = None, trimap: Tensor | None = None
    ) -> dict[str, Tensor]:
        """(B, 3, H, W) composite + (B, 3, H, W) background -> {"alpha" (B, 1, H, W), ...}."""
        out = self.scores(image, background)  # (B, 1 or 4, H, W) raw scores
        result = {"alpha": torch.sigmoid(out[:, :1])}  # (B, 1, H, W)
        if self.predict_foreground:
            result["foreground"] = torch.sigmoid(out[:, 1:])  # (B, 3, H, W)
        return result

    def encode_guide(self, guide: Tensor) -> Tensor:
        """(B, 3, H, W) background -> its luma (B, 1, H, W) for "gray", else itself."""
        return rgb_to_luma(guide) if self.background == "gray" else guide
