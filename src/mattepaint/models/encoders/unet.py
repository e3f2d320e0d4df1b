"""U-Net parts over the shared encoders: the from-scratch U-Net encoder
(``build_encoder("scratch")``), the decoder step over an encoder's skips and a U-Net on any
encoder (:class:`EncoderUNet`, what ``unet_matte`` / ``trimap_matte`` use with a pretrained
encoder).

The scratch encoder's layout for ``depth = d`` and ``base = b`` (the encoder half of
:class:`mattepaint.models.layers.unet.UNet` and of seed 001's late-fusion network)::

    level 0   ConvBlock(in -> b)                    stride 1
    level i   maxpool 2x2, ConvBlock(b 2**(i-1) -> b 2**i)   stride 2**i, i = 1 .. d

``ConvBlock`` = (conv3x3 -> norm -> ReLU) x 2. The module is an ``nn.ModuleList`` of the
ConvBlocks, so its state-dict keys are ``0.*``, ``1.*``, ... (what ``LateFusionMatte`` stored as
``encoder.N.*`` before the encoders were shared: old checkpoints still load).

References:
    Ronneberger, Fischer & Brox, "U-Net", MICCAI 2015.
    Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017 (lateral skips).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_int, check_positive_int
from mattepaint.models.layers.unet import ConvBlock, Norm

__all__ = ["EncoderUNet", "SkipUpBlock", "UNetEncoder", "decoder_widths"]


class UNetEncoder(nn.ModuleList):
    """U-Net encoder trained from scratch: image -> ``depth + 1`` feature maps, strides 1..2**depth.

    Args:
        in_channels: input channels (3 = RGB; no normalisation: inputs in [0, 1] go in as is).
        base: channels at full resolution; level i has ``base * 2**i``.
        depth: number of 2x max-pools.
        norm: "batch" or "none" (see :class:`~mattepaint.models.layers.unet.ConvBlock`).

    Attributes: ``channels`` (base * 2**i for i = 0..depth), ``strides`` (2**i),
        ``size_multiple`` 2**depth, ``in_channels``.

    Inputs: x (B, in_channels, H, W) float in [0, 1].
    Outputs: list of ``depth + 1`` tensors (B, base * 2**i, H / 2**i, W / 2**i).
    """

    def __init__(self, in_channels: int = 3, base: int = 32, depth: int = 4, norm: Norm = "batch"):
        check_int("in_channels", in_channels, minimum=1)
        check_positive_int("base", base)
        check_positive_int("depth", depth)
        widths = [base * 2**i for i in range(depth + 1)]
        super().__init__(
            [ConvBlock(in_channels, widths[0], norm)]
            + [ConvBlock(widths[i - 1], widths[i], norm) for i in range(1, depth + 1)]
        )
        self.in_channels = in_channels
        self.channels: tuple[int, ...] = tuple(widths)
        self.strides: tuple[int, ...] = tuple(2**i for i in range(depth + 1))
        self.size_multiple = 2**depth

    def forward(self, x: Tensor) -> list[Tensor]:
        """(B, in_channels, H, W) -> ``depth + 1`` feature maps (see the class doc)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"scratch encoder: input must be (B, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        features: list[Tensor] = []
        for i, block in enumerate(self):
            if i > 0:
                x = F.max_pool2d(x, 2)  # (B, C, h, w) -> (B, C, h/2, w/2)
            x = block(x)  # (B, base * 2**i, H / 2**i, W / 2**i)
            features.append(x)
        return features


class SkipUpBlock(nn.Module):
    """One decoder step of a U-Net / feature-pyramid decoder over an encoder's skips.

    ``x -> bilinear resize to the skip's size -> conv1x1 (in -> out) -> concat skip ->
    ConvBlock(out + skip -> out)`` (the lateral connection of Lin et al.'s FPN, with a U-Net
    ConvBlock after the merge).

    Inputs: x (B, in_channels, h, w), skip (B, skip_channels, H', W') (usually 2h x 2w).
    Outputs: (B, out_channels, H', W'), >= 0.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, norm: Norm):
        super().__init__()
        self.reduce = nn.Conv2d(in_channels, out_channels, 1)
        self.block = ConvBlock(out_channels + skip_channels, out_channels, norm)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = self.reduce(x)  # (B, out, H', W')
        return self.block(torch.cat([x, skip], dim=1))  # (B, out + skip, H', W') -> (B, out, ..)


def decoder_widths(skip_channels: list[int] | tuple[int, ...], base: int) -> list[int]:
    """Decoder widths over a pretrained encoder's skips: ``min(max(c_i, base), 256)`` per level.

    Inputs: channels of the skip levels, finest first, the bottleneck last; ``base`` the minimum.
    Outputs: one width per decoder level (all but the bottleneck).
    """
    return [min(max(c, base), 256) for c in skip_channels[:-1]]


class EncoderUNet(nn.Module):
    """A U-Net whose encoder is any :func:`~mattepaint.models.encoders.build_encoder` encoder.

    Layout: features = encoder(x) (finest first, strides s_0 < ... < s_n); when s_0 > 1 a
    full-resolution ConvBlock(in_channels -> base) on the raw input is prepended as the finest
    skip (so fine detail is not lost to the encoder's stride-2 stem); then one
    :class:`SkipUpBlock` per skip level from coarse to fine, widths
    :func:`decoder_widths`; head conv1x1 (w_0 -> out_channels), no activation.

    Args:
        in_channels, out_channels: input channels (RGB first) and output channels.
        encoder: an encoder name ("efficientnet_lite0", "vgg16", "scratch").
        pretrained: the encoder's weights (see :func:`build_encoder`); False = random.
        base: width of the full-resolution stem and the minimum decoder width (also the scratch
            encoder's base width).
        depth: the scratch encoder's number of poolings (ignored by the pretrained encoders).
        norm: "batch" or "none".

    Attributes: ``size_multiple`` (the encoder's), ``in_channels``, ``out_channels``.

    Inputs: (B, in_channels, H, W) float, RGB in [0, 1] first; H, W divisible by size_multiple.
    Outputs: (B, out_channels, H, W) raw scores.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        encoder: str,
        pretrained: bool | str | Path | None = False,
        base: int = 32,
        depth: int = 4,
        norm: Norm = "batch",
    ) -> None:
        from mattepaint.models.encoders import build_encoder

        super().__init__()
        check_positive_int("out_channels", out_channels)
        check_positive_int("base", base)
        self.encoder = build_encoder(
            encoder,  # type: ignore[arg-type]
            pretrained=pretrained,
            in_channels=in_channels,
            base=base,
            depth=depth,
            norm=norm,
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.size_multiple = int(self.encoder.size_multiple)
        skips = list(self.encoder.channels)
        self.stem = ConvBlock(in_channels, base, norm) if self.encoder.strides[0] > 1 else None
        if self.stem is not None:
            skips.insert(0, base)
        widths = decoder_widths(skips, base)
        inputs = [*widths[1:], skips[-1]]  # level i is fed by level i + 1 (the last: bottleneck)
        # ups[k] runs coarsest to finest: level i = len(widths) - 1 - k
        self.ups = nn.ModuleList(
            [
                SkipUpBlock(inputs[i], skips[i], widths[i], norm)
                for i in reversed(range(len(widths)))
            ]
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W) (see the class doc)."""
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"input height and width must be divisible by {self.size_multiple} "
                f"(size_multiple), got {h}x{w}; pad the input first"
            )
        skips = self.encoder(x)  # (B, c_i, H / s_i, W / s_i), finest first
        if self.stem is not None:
            skips.insert(0, self.stem(x))  # (B, base, H, W)
        y = skips[-1]  # the bottleneck
        for k, up in enumerate(self.ups):
            y = up(y, skips[len(skips) - 2 - k])  # (B, w_i, H / s_i, W / s_i)
        return self.head(y)  # (B, out_channels, H, W)
