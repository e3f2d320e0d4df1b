"""Gated-convolution U-Net inpainter (DeepFill v2's coarse network with U-Net skips).

Why this model: seed report 003 lists the newer inpainting methods after partial convolution
(Contextual Transformer Network, Mask-aware Transformer (MAT), T-former, TransCNN-HAE, CoordFill,
Continuous Mask-aware Transformer). The transformer ones attend across many tokens, have large
models and were trained on big high-resolution data sets with GPUs: too heavy to train or even
run comfortably on a laptop CPU, which this package must support. Gated convolution (Yu et al.,
ICCV 2019, DeepFill v2) is the learnable generalisation of partial convolution: instead of
Liu et al.'s hard rule (a window is valid if it holds one known pixel, for all channels alike)
every layer learns a soft gate per channel and location, so it also handles soft or free-form
masks. It costs one convolution with twice the outputs per layer, i.e. it runs wherever a plain
U-Net runs, and the mask handling is learned end to end.

Layout (``base = b``, ``depth = d``, default d = 2 as DeepFill v2's coarse network; all gated
convs with ELU; input (B, 5, H, W) = image with holes filled, mask, ones)::

    stem    GConv5 5 -> b                                       (B, b,        H,       W)  ─┐
    down i  GConv3 s2 -> b*2**i, GConv3                         (B, b*2**i,   H/2**i,  W/2**i)
    middle  GConv3 dilation 2, 4, 8, 16, then GConv3 x2         (B, b*2**d,   H/2**d,  W/2**d)
    up i    nearest x2, GConv3 -> b*2**i, concat skip i, GConv3 (B, b*2**i,   H/2**i,  W/2**i)
    head    Conv3 b -> 3 (no gate, no activation), sigmoid      (B, 3,        H,       W)

It is DeepFill v2's coarse generator (5x5 stem, two stride-2 gated convs, dilated gated convs
with rates 2, 4, 8, 16 at 1/4 resolution, nearest-upsample + gated conv decoder) plus U-Net
skip concatenations at every level, which hand the decoder the known pixels' full-resolution
features. DeepFill v2's refinement stage (contextual attention) and its SN-PatchGAN critic are
not part of this module. The "ones" input channel tells the net where zero padding begins
(DeepFill's trick). DeepFill v2 uses tanh on [-1, 1] images; we use a sigmoid for [0, 1].
``size_multiple = 2**depth`` (4 by default).

References:
    Yu, Lin, Yang, Shen, Lu & Huang, "Free-Form Image Inpainting with Gated Convolution",
    ICCV 2019 (DeepFill v2); code: JiahuiYu/generative_inpainting (v2 model).
    Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions", ECCV 2018.
    Seed report 003 (survey of inpainting methods and losses).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.layers.gated_conv import GateActivation, GatedConv2d
from mattepaint.models.registry import register_model

__all__ = ["GatedUNet"]


@register_model("gated_unet", task="inpainting")
class GatedUNet(nn.Module):
    """Gated-convolution U-Net (DeepFill v2 coarse net + skips): image + mask -> RGB.

    Args:
        base: width of the full-resolution level; level i has ``base * 2**i`` channels
            (default 32: 32, 64, 128).
        depth: number of stride-2 gated convs (DeepFill v2: 2); ``size_multiple = 2**depth``.
        dilations: dilation rates of the middle gated convs (DeepFill v2: 2, 4, 8, 16; an empty
            sequence leaves just the two plain middle convs).
        activation: the gated convs' feature activation, "elu" (DeepFill v2) or "leaky_relu".

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform.
        mask: (B, 1, H, W) float, 1 = hole, 0 = known (may be soft: the gates learn from it).
        H and W must be divisible by ``size_multiple = 2**depth``
        (:class:`~mattepaint.models.inpainter.ModelInpainter` pads for you).

    Outputs: (B, 3, H, W) float in [0, 1] (sigmoid), the prediction everywhere, not composited.

    Reference: Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019.
    """

    def __init__(
        self,
        base: int = 32,
        depth: int = 2,
        dilations: Sequence[int] = (2, 4, 8, 16),
        activation: GateActivation = "elu",
    ) -> None:
        super().__init__()
        check_positive_int("base", base)
        check_positive_int("depth", depth)
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence):
            raise TypeError(f"dilations must be a sequence of ints, got {dilations!r}")
        for rate in dilations:
            check_positive_int("each dilation", rate)
        if activation not in ("elu", "leaky_relu"):
            raise ValueError(f"activation must be 'elu' or 'leaky_relu', got {activation!r}")
        self.depth = depth
        self.size_multiple = 2**depth
        widths = [base * 2**i for i in range(depth + 1)]
        act = activation

        self.stem = GatedConv2d(5, widths[0], 5, activation=act)
        self.down = nn.ModuleList(
            nn.Sequential(
                GatedConv2d(widths[i - 1], widths[i], 3, stride=2, activation=act),
                GatedConv2d(widths[i], widths[i], 3, activation=act),
            )
            for i in range(1, depth + 1)
        )
        w = widths[depth]
        self.middle = nn.Sequential(
            *(GatedConv2d(w, w, 3, dilation=rate, activation=act) for rate in dilations),
            GatedConv2d(w, w, 3, activation=act),
            GatedConv2d(w, w, 3, activation=act),
        )
        # up[i] goes from level i+1 to level i
        self.up = nn.ModuleList(
            GatedConv2d(widths[i + 1], widths[i], 3, activation=act) for i in range(depth)
        )
        self.fuse = nn.ModuleList(
            GatedConv2d(2 * widths[i], widths[i], 3, activation=act) for i in range(depth)
        )
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask (1 = hole) -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple, reason="2**depth")
        mask = mask.to(image.dtype)
        x = torch.cat([image, mask, torch.ones_like(mask)], dim=1)  # (B, 5, H, W)
        x = self.stem(x)  # (B, b, H, W)
        skips = [x]
        for block in self.down:
            x = block(x)  # (B, b * 2**i, H / 2**i, W / 2**i)
            skips.append(x)
        skips.pop()  # the deepest level continues through the middle
        x = self.middle(x)  # (B, b * 2**d, H / 2**d, W / 2**d)
        for i in reversed(range(self.depth)):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (B, C, 2h, 2w)
            x = self.up[i](x)  # (B, b * 2**i, 2h, 2w)
            x = torch.cat([x, skips[i]], dim=1)  # (B, 2 * b * 2**i, 2h, 2w)
            x = self.fuse[i](x)  # (B, b * 2**i, 2h, 2w)
        return torch.sigmoid(self.head(x))  # (B, 3, H, W) in [0, 1]
