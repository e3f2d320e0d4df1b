"""Deep Image Matting on a pretrained encoder that corrects a classical matte (``dim_matte``).

Deep Image Matting (Xu, Price, Cohen & Huang, CVPR 2017) regresses alpha from the RGB image plus
the trimap with an ImageNet-initialised encoder-decoder, then sharpens it with a small
full-resolution refinement stage. ``dim_matte`` keeps that layout and adds one input: a classical
matte (the *prior*, closed-form matting of Levin et al. 2008 by default), which the network
corrects as a residual::

    x          = concat(image, one_hot(trimap), prior)                  (B, 7, H, W)
    features   = encoder(x)                                             strides 2, 4, 8, 16, 32
    coarse     = prior + decoder(features, x)                           (B, 1, H, W)
    alpha      = coarse + refine(concat(image, coarse))                 (B, 1, H, W)

The last layer of the decoder and of the refinement stage start at zero, so an untrained model
returns the prior exactly: training can only move it away from closed-form where that lowers the
loss. The encoder's first convolution takes the extra 4 channels with zero weights, so an
ImageNet encoder starts from its pretrained RGB filters.

Known trimap regions are not forced here (:class:`~mattepaint.models.matter.ModelMatter` does it
at inference and computes the prior when the caller gives none); during training the dataset
supplies the prior (:class:`mattepaint.data.matting.CompositeDataset` with ``prior=``).

References:
    Xu, Price, Cohen & Huang, "Deep Image Matting", CVPR 2017 (encoder-decoder + refinement).
    Levin, Lischinski & Weiss, "A Closed-Form Solution to Natural Image Matting", TPAMI 2008.
    Tan & Le, "EfficientNet", ICML 2019 (the Lite0 variant as encoder).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_positive_int
from mattepaint.classical.prior import PRIOR_METHODS
from mattepaint.models.matting.trimap_matte import trimap_one_hot
from mattepaint.models.matting.unet_matte import check_guide, check_image
from mattepaint.models.registry import register_model

__all__ = ["DIMMatte"]

_PRIORS = (*PRIOR_METHODS, "none")


def _conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU (spatial size kept)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class _Up(nn.Module):
    """Bilinear 2x upsampling of ``x``, concatenation with the skip ``s``, two 3x3 conv blocks."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(cin + cskip, cout), _conv(cout, cout))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.body(torch.cat([x, skip], dim=1))  # (B, cout, Hs, Ws)


@register_model("dim_matte", task="matting")
class DIMMatte(nn.Module):
    """DIM-style trimap matting on a pretrained encoder, correcting a classical matte as a residual.

    Args:
        encoder: encoder name for :func:`mattepaint.models.encoders.build_encoder`
            ("efficientnet_lite0", "vgg16", "scratch"); the architecture only: weights come from
            the checkpoint, or from ``pretrained`` when training starts.
        pretrained: None (random encoder) or what ``build_encoder`` accepts as weights (a path,
            or True for the installed package); only training passes it.
        prior: the classical matte the network corrects: "closed_form" (default), "knn",
            "cf_knn", "sm", "cf_knn_sm" (:data:`mattepaint.classical.prior.PRIOR_METHODS`), or
            "none" (plain DIM: the prior input is 0.5 in the unknown region and the residual
            starts from the trimap value).
        width: decoder width at the finest encoder level (doubled at each coarser level, at
            most 8x).
        full_width: channels of the one full-resolution decoder layer (narrow: at 800 x 600 a
            3x3 convolution costs 9 GFLOP per 32 x 32 channels).
        refine: add DIM's full-resolution refinement stage (three 3x3 convolutions; DIM used
            four with 64 channels).
        refine_width: channels of the refinement stage.

    Attributes: ``needs = "trimap"``, ``size_multiple`` (the encoder's: 32 for
    EfficientNet-Lite0), ``prior`` (None for "none").

    Inputs:
        image: (B, 3, H, W) float in [0, 1]; trimap: (B, 1, H, W) in {0, 0.5, 1} (required);
        prior: (B, 1, H, W) in [0, 1], the classical matte (required unless prior == "none");
        background: ignored. H, W divisible by ``size_multiple``.

    Outputs: dict with "alpha" (B, 1, H, W) (unclamped; ModelMatter clamps and fixes the known
    regions) and "coarse" (B, 1, H, W), the decoder's alpha before refinement.

    Raises:
        ValueError: bad arguments, missing trimap / prior, shapes that do not match.
    """

    needs: Literal["trimap"] = "trimap"

    def __init__(
        self,
        encoder: str = "efficientnet_lite0",
        pretrained: object = None,
        prior: str = "closed_form",
        width: int = 32,
        full_width: int = 16,
        refine: bool = True,
        refine_width: int = 16,
    ) -> None:
        super().__init__()
        from mattepaint.models.encoders import build_encoder

        if prior not in _PRIORS:
            raise ValueError(f"prior must be one of {', '.join(_PRIORS)}, got {prior!r}")
        check_positive_int("width", width)
        check_positive_int("full_width", full_width)
        check_positive_int("refine_width", refine_width)
        self.prior = None if prior == "none" else prior
        self.encoder_name = encoder
        self.encoder = build_encoder(encoder, in_channels=7, pretrained=pretrained)
        self.size_multiple = int(self.encoder.size_multiple)
        skips = list(self.encoder.channels)  # finest first (strides 2 .. 32 for Lite0)
        widths = [min(width * 2**i, width * 8) for i in range(len(skips))]
        self.ups = nn.ModuleList()
        cin = skips[-1]
        for i in range(len(skips) - 2, -1, -1):  # stride 16 -> 2
            self.ups.append(_Up(cin, skips[i], widths[i]))
            cin = widths[i]
        self.full = _conv(cin + 7, full_width)  # full resolution: kept narrow (CPU cost)
        self.head = nn.Conv2d(full_width, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)  # start at the prior
        nn.init.zeros_(self.head.bias)
        self.refine: nn.Module | None = None
        if refine:
            last = nn.Conv2d(refine_width, 1, 3, padding=1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.refine = nn.Sequential(
                nn.Conv2d(4, refine_width, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.Conv2d(refine_width, refine_width, 3, padding=1),
                nn.ReLU(inplace=True),
                last,
            )

    def forward(
        self,
        image: Tensor,
        *,
        trimap: Tensor | None = None,
        prior: Tensor | None = None,
        background: Tensor | None = None,
    ) -> dict[str, Tensor]:
        check_image("dim_matte", image, self.size_multiple)
        check_guide("dim_matte", "trimap", trimap, image, 1)
        if self.prior is None:
            prior = trimap
        elif prior is None:
            raise ValueError(
                f"dim_matte corrects a {self.prior} matte: pass prior= (B, 1, H, W); "
                "ModelMatter computes it for you"
            )
        else:
            check_guide("dim_matte", "prior", prior, image, 1)
        x = torch.cat([image, trimap_one_hot(trimap), prior], dim=1)  # (B, 7, H, W)
        feats = self.encoder(x)  # strides 2 .. 32
        y = feats[-1]
        for up, skip in zip(self.ups, reversed(feats[:-1])):
            y = up(y, skip)  # ends at the finest feature's stride
        y = F.interpolate(y, size=image.shape[-2:], mode="bilinear", align_corners=False)
        y = self.full(torch.cat([y, x], dim=1))  # (B, full_width, H, W)
        coarse = prior + self.head(y)  # (B, 1, H, W)
        alpha = coarse
        if self.refine is not None:
            alpha = coarse + self.refine(torch.cat([image, coarse], dim=1))
        return {"alpha": alpha, "coarse": coarse}
