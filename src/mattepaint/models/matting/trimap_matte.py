"""Trimap-guided encoder-decoder matting (after Xu, Price, Cohen & Huang, "Deep Image Matting",
CVPR 2017), with a U-Net as the encoder-decoder.

Deep Image Matting feeds the RGB image plus the trimap to a VGG16 encoder-decoder and regresses
alpha in the unknown region. Here the encoder-decoder is :class:`mattepaint.models.layers.UNet`
trained from scratch (skip connections at every level instead of unpooling indices), and the
trimap is given either one-hot (3 channels: background / unknown / foreground, the encoding later
trimap networks such as FBA Matting use) or as its value (1 channel in {0, 0.5, 1}).

Known trimap regions are NOT forced onto the prediction here: the model's output is the raw
network alpha everywhere, and :class:`~mattepaint.models.matter.ModelMatter` sets the known
background / foreground pixels at inference (so training losses see the network's own output).

References:
    Xu, Price, Cohen & Huang, "Deep Image Matting", CVPR 2017 (RGB + trimap encoder-decoder).
    Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015.
    Forte & Pitie, "F, B, Alpha Matting", arXiv 2003.07711, 2020 (one-hot trimap input).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from mattepaint.models.encoders import EncoderName, Pretrained
from mattepaint.models.layers.unet import Norm, Up
from mattepaint.models.matting.unet_matte import GuidedUNetMatting, build_matting_unet
from mattepaint.models.registry import register_model

__all__ = ["TrimapMatte", "trimap_one_hot"]


def trimap_one_hot(trimap: Tensor) -> Tensor:
    """One-hot encoding of a trimap: channels background, unknown, foreground.

    Inputs: (B, 1, H, W) float, 0 background / 0.5 unknown / 1 foreground.
    Outputs: (B, 3, H, W) float in {0, 1}, exactly one channel set per pixel:
    ``bg = t < 0.25``, ``fg = t > 0.75``, ``unknown`` otherwise (so values off the three levels,
    e.g. from resizing, fall to the nearest one).
    """
    bg = (trimap < 0.25).to(trimap.dtype)
    fg = (trimap > 0.75).to(trimap.dtype)
    return torch.cat([bg, 1 - bg - fg, fg], dim=1)  # (B, 3, H, W)


@register_model("trimap_matte", task="matting")
class TrimapMatte(GuidedUNetMatting):
    """Trimap-guided U-Net matting (after Deep Image Matting, Xu et al. 2017): RGB + trimap -> alpha.

    ``alpha = sigmoid(UNet(concat(image, encode(trimap))))``; ``encode`` is
    :func:`trimap_one_hot` (``trimap_input="one_hot"``, 6 input channels) or the trimap value
    itself (``trimap_input="value"``, 4 input channels).

    Args:
        base: first-level width of the U-Net.
        depth: number of 2x poolings; ``size_multiple = 2**depth``.
        trimap_input: "one_hot" (3 channels bg / unknown / fg) or "value" (1 channel).
        norm, up, encoder, pretrained: see
            :func:`~mattepaint.models.matting.unet_matte.build_matting_unet`.

    Attributes: ``needs = "trimap"``, ``size_multiple`` (2**depth, or the pretrained
        encoder's), ``in_channels`` (6 or 4).

    Inputs:
        image: (B, 3, H, W) float in [0, 1].
        trimap: (B, 1, H, W) float in {0, 0.5, 1} (required).
        background: ignored (accepted for the common matting signature).
        H and W must be divisible by ``size_multiple`` (the model does not pad;
        :class:`~mattepaint.models.matter.ModelMatter` does).

    Outputs: dict with "alpha" (B, 1, H, W) in [0, 1], the network's prediction everywhere
    (the known trimap regions are not clamped here; ModelMatter does it at inference).

    Raises:
        ValueError: no trimap, or image/trimap shapes that do not match.
    """

    model_name = "trimap_matte"
    needs: Literal["trimap"] = "trimap"
    guide_channels = 1

    def __init__(
        self,
        base: int = 32,
        depth: int = 4,
        trimap_input: Literal["one_hot", "value"] = "one_hot",
        norm: Norm = "batch",
        up: Up = "transpose",
        encoder: EncoderName = "scratch",
        pretrained: Pretrained = False,
    ) -> None:
        if trimap_input not in ("one_hot", "value"):
            raise ValueError(f"trimap_input must be 'one_hot' or 'value', got {trimap_input!r}")
        in_channels = 6 if trimap_input == "one_hot" else 4
        unet = build_matting_unet(in_channels, 1, base, depth, norm, up, encoder, pretrained)
        super().__init__(unet, encoder)
        self.trimap_input = trimap_input

    def forward(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> dict[str, Tensor]:
        """(B, 3, H, W) image + (B, 1, H, W) trimap -> {"alpha": (B, 1, H, W) in [0, 1]}."""
        return {"alpha": torch.sigmoid(self.scores(image, trimap))}  # (B, 1, H, W)

    def encode_guide(self, guide: Tensor) -> Tensor:
        """(B, 1, H, W) trimap -> :func:`trimap_one_hot` (B, 3, H, W) for "one_hot", else itself."""
        return trimap_one_hot(guide) if self.trimap_input == "one_hot" else guide
