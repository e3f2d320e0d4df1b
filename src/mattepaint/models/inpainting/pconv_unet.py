"""Partial-convolution U-Net inpainters: seed report 004's CIFAR-10 table and Liu et al.'s net.

Every convolution is a :class:`~mattepaint.models.layers.partial_conv.PartialConv2d`, so the
network only ever convolves known pixels and the hole shrinks layer by layer; a validity mask
(1 = known) travels beside the features through the encoder, the nearest upsampling and the
skip concatenations. Two layouts share one forward pass:

``layout="seed004"`` (seed 004's 32x32 table, rows 1-34; widths for ``base = b = 32``)::

    input   image 3 + valid                                       3 x 32 x 32   ──────────┐
    enc1    PConv3+ReLU -> b,  PConv3 s2 -> b,  BN+ReLU            32 x 16 x 16  ────────┐ │
    enc2    PConv3+ReLU -> 2b, PConv3 s2 -> 2b, BN+ReLU            64 x  8 x  8  ──────┐ │ │
    enc3    PConv3+ReLU -> 4b, PConv3 s2 -> 4b, BN+ReLU           128 x  4 x  4  ────┐ │ │ │
    enc4    PConv3+ReLU -> 8b, PConv3 s2 -> 8b, BN+ReLU           256 x  2 x  2      │ │ │ │
    dec4    up, cat enc3, PConv3+ReLU -> 8b, PConv3 -> 4b, BN+ReLU 128 x  4 x  4  <──┘ │ │ │
    dec3    up, cat enc2, PConv3+ReLU -> 4b, PConv3 -> 2b, BN+ReLU  64 x  8 x  8  <────┘ │ │
    dec2    up, cat enc1, PConv3+ReLU -> 2b, PConv3 -> b,  BN+ReLU  32 x 16 x 16  <──────┘ │
    dec1    up, cat input, PConv3+ReLU -> b, PConv3 -> 3,  BN+ReLU   3 x 32 x 32  <────────┘
    head    PConv3 -> 3, sigmoid                                     3 x 32 x 32

(The table prints 128 channels on row 7, a BN after a 64-channel conv; BN keeps the width, so
it is 64 here. The table does not say what the last decoder block concatenates; we follow Liu
et al. and concatenate the input image and its mask, which lets the net copy known pixels.)
``depth`` (default 4) sets the number of such levels; ``size_multiple = 2**depth`` (16).

``layout="liu"`` (Liu et al. 2018, Section 3.3 and the supplementary table, 512 x 512 input):
``depth`` (default 8) stride-2 partial convs with kernels 7, 5, 5, 3, 3, ... and widths
``base * min(2**i, 8)`` (64, 128, 256, 512, 512, ...), BN after all but the first, ReLU; a
decoder of ``depth`` steps (nearest upsample x2, concatenate the encoder features and mask of
that resolution, or at full resolution the input image and mask, PConv3 -> the width of that
level, BN, LeakyReLU(0.2)); the last PConv3 outputs RGB with no BN and no activation.
Liu et al. put no activation on the output; this package needs predictions in [0, 1], so we
apply a sigmoid to it. ``size_multiple = 2**depth`` (256 at the default depth).

Masks at a concatenation: the upsampled features and the skip features have different holes,
so the partial conv after the concatenation gets one mask per input channel (each part's
single-channel mask repeated over its channels), as in NVIDIA's implementation; everywhere else
the (B, 1, H, W) mask is broadcast over the channels.

References:
    Liu, Reda, Shih, Wang, Tao & Catanzaro, "Image Inpainting for Irregular Holes Using Partial
    Convolutions", ECCV 2018.
    Seed report 004, "Simple image inpainting" (partial-conv U-Net on CIFAR-10, slides
    "Architecture": encoder rows 1-13, decoder rows 14-34).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.layers.partial_conv import PartialConv2d
from mattepaint.models.registry import register_model

__all__ = ["PConvBlock", "PConvUNet"]

Layout = Literal["seed004", "liu"]
Activation = Literal["relu", "leaky_relu", "none"]

_DEFAULTS: dict[str, dict[str, int]] = {
    "seed004": {"base": 32, "depth": 4},
    "liu": {"base": 64, "depth": 8},
}


class PConvBlock(nn.Module):
    """Partial conv -> optional BatchNorm -> activation, carrying the validity mask along.

    Args:
        in_channels, out_channels, kernel_size, stride: of the partial conv (padding
            ``kernel_size // 2``, so stride 1 keeps the size and stride 2 halves it).
        norm: BatchNorm2d after the conv (the conv then has no bias, as BN's shift replaces it).
        activation: "relu", "leaky_relu" (slope 0.2) or "none".

    Inputs: x (B, in_channels, H, W); valid (B, 1 or in_channels, H, W), 1 = known.
    Outputs: (x', valid'): (B, out_channels, H', W') and (B, 1, H', W').
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        norm: bool = False,
        activation: Activation = "relu",
    ) -> None:
        super().__init__()
        self.conv = PartialConv2d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=not norm
        )
        self.norm = nn.BatchNorm2d(out_channels) if norm else nn.Identity()
        if activation == "relu":
            self.act: nn.Module = nn.ReLU(inplace=True)
        elif activation == "leaky_relu":
            self.act = nn.LeakyReLU(0.2, inplace=True)
        elif activation == "none":
            self.act = nn.Identity()
        else:
            raise ValueError(
                f"activation must be 'relu', 'leaky_relu' or 'none', got {activation!r}"
            )

    def forward(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        x, valid = self.conv(x, valid)  # (B, Cout, H', W'), (B, 1, H', W')
        return self.act(self.norm(x)), valid


class _Stage(nn.ModuleList):
    """A chain of :class:`PConvBlock` threading (x, valid) through."""

    def forward(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        for layer in self:
            x, valid = layer(x, valid)
        return x, valid


def _concat(
    x_up: Tensor, valid_up: Tensor, x_skip: Tensor, valid_skip: Tensor
) -> tuple[Tensor, Tensor]:
    """Concatenate features and give each channel its own part's mask (B, Cu + Cs, H, W)."""
    x = torch.cat([x_up, x_skip], dim=1)  # (B, Cu + Cs, H, W)
    valid = torch.cat(
        [
            valid_up.expand(-1, x_up.shape[1], -1, -1),
            valid_skip.expand(-1, x_skip.shape[1], -1, -1),
        ],
        dim=1,
    )  # (B, Cu + Cs, H, W)
    return x, valid


@register_model("pconv_unet", task="inpainting")
class PConvUNet(nn.Module):
    """Partial-convolution U-Net (Liu et al. 2018): seed 004's CIFAR table or the paper's net.

    Args:
        layout: "seed004" (seed 004's 32x32 table: per level PConv+ReLU, strided PConv,
            BN+ReLU; 3x3 kernels) or "liu" (Liu et al.'s U-Net: stride-2 PConvs with kernels
            7, 5, 5, 3, ..., LeakyReLU decoder). See the module docstring for the layer tables.
        base: width multiplier; default 32 for "seed004" (the table: 32, 64, 128, 256) and 64
            for "liu" (64, 128, 256, 512, 512, ...).
        depth: number of stride-2 levels; default 4 for "seed004" (32x32 -> 2x2 bottleneck) and
            8 for "liu" (512x512 -> 2x2).

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform (the
            values there are ignored: partial convs multiply them by 0).
        mask: (B, 1, H, W) float, 1 = hole, 0 = known (the valid mask is ``1 - mask``; a mask
            covering the whole receptive field of a deep pixel just leaves it at 0, finite).
        H and W must be divisible by ``size_multiple = 2**depth``
        (:class:`~mattepaint.models.inpainter.ModelInpainter` pads for you).

    Outputs: (B, 3, H, W) float in [0, 1] (sigmoid), the prediction everywhere, not composited.

    Reference: Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions",
    ECCV 2018; seed report 004.
    """

    def __init__(
        self, layout: Layout = "seed004", base: int | None = None, depth: int | None = None
    ) -> None:
        super().__init__()
        if layout not in _DEFAULTS:
            raise ValueError(f"layout must be 'seed004' or 'liu', got {layout!r}")
        base = _DEFAULTS[layout]["base"] if base is None else check_positive_int("base", base)
        depth = _DEFAULTS[layout]["depth"] if depth is None else check_positive_int("depth", depth)
        self.layout, self.base, self.depth = layout, base, depth
        self.size_multiple = 2**depth
        if layout == "seed004":
            self._build_seed004(base, depth)
        else:
            self._build_liu(base, depth)

    def _build_seed004(self, b: int, depth: int) -> None:
        widths = [b * 2**i for i in range(depth)]  # encoder level i+1 outputs widths[i]
        skip_widths = [3, *widths[:-1]]  # what the decoder concatenates at level i
        self.encoder = nn.ModuleList(
            _Stage(
                [
                    PConvBlock(cin, w, 3, 1, norm=False, activation="relu"),
                    PConvBlock(w, w, 3, 2, norm=True, activation="relu"),
                ]
            )
            for cin, w in zip([3, *widths[:-1]], widths)
        )
        # decoder[i] works at level i (resolution H / 2**i), after upsampling from level i+1
        outs = [3, *widths[:-1]]  # dec1 ends at 3 channels (table row 32-33)
        self.decoder = nn.ModuleList(
            _Stage(
                [
                    PConvBlock(widths[i] + skip_widths[i], widths[i], 3, 1, norm=False),
                    PConvBlock(widths[i], outs[i], 3, 1, norm=True, activation="relu"),
                ]
            )
            for i in range(depth)
        )
        self.head: PartialConv2d | None = PartialConv2d(3, 3, 3, padding=1)  # row 34

    def _build_liu(self, b: int, depth: int) -> None:
        widths = [b * min(2**i, 8) for i in range(depth)]  # 64, 128, 256, 512, 512, ...
        kernels = [7 if i == 0 else 5 if i < 3 else 3 for i in range(depth)]
        self.encoder = nn.ModuleList(
            _Stage([PConvBlock(cin, w, k, 2, norm=i > 0, activation="relu")])
            for i, (cin, w, k) in enumerate(zip([3, *widths[:-1]], widths, kernels))
        )
        skip_widths = [3, *widths[:-1]]  # level 0 concatenates the input image
        decoder: list[_Stage] = []
        for i in range(depth):
            cin = widths[i] + skip_widths[i]  # upsampled level i+1 output + skip
            if i == 0:  # PConv16: RGB out, no BN, no activation (our sigmoid follows)
                last = PConvBlock(cin, 3, 3, 1, norm=False, activation="none")
            else:
                last = PConvBlock(cin, widths[i - 1], 3, 1, norm=True, activation="leaky_relu")
            decoder.append(_Stage([last]))
        self.decoder = nn.ModuleList(decoder)
        self.head = None

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask (1 = hole) -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple, reason="2**depth")
        x, valid = image, 1.0 - mask.to(image.dtype)  # (B, 3, H, W), (B, 1, H, W) 1 = known
        skips: list[tuple[Tensor, Tensor]] = [(x, valid)]  # level 0: the input itself
        for stage in self.encoder:
            x, valid = stage(x, valid)  # (B, C_i, H / 2**i, W / 2**i), (B, 1, ...)
            skips.append((x, valid))
        skips.pop()  # the bottleneck is x itself
        for i in reversed(range(self.depth)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (B, C, 2h, 2w)
            valid = F.interpolate(valid, scale_factor=2.0, mode="nearest")  # (B, 1, 2h, 2w)
            x, valid = _concat(x, valid, *skips[i])  # (B, C + C_skip, 2h, 2w), per-channel
            x, valid = self.decoder[i](x, valid)  # (B, C_i', 2h, 2w), (B, 1, 2h, 2w)
        if self.head is not None:
            x, valid = self.head(x, valid)  # (B, 3, H, W)
        return torch.sigmoid(x)  # (B, 3, H, W) in [0, 1]
