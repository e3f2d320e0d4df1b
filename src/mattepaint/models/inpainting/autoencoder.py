"""Plain convolutional autoencoder inpainter: the deep-learning baseline of seed report 002.

The network sees the image with its holes blanked plus the mask, squeezes it through a 16x
downsampled bottleneck and decodes the whole RGB image from that alone. There are no skip
connections: that is the point of the baseline, it shows how much a bottleneck-only decoder
loses (seed 002 reports blurry, colour-shifted fills and overfitting) compared with U-Nets,
GLCIC and DeepFill.

References:
    Seed report 002, "Deep Learning for Image Inpainting", section III.A.2 ("The encoder uses 8
    convolutional blocks and 4 pool blocks while the decoder uses 4 transpose convolution
    blocks"; trained with an L2 reconstruction loss).
    Pathak, Krahenbuhl, Donahue, Darrell & Efros, "Context Encoders: Feature Learning by
    Inpainting", CVPR 2016 (the encoder-decoder set-up for inpainting).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.layers.unet import ConvBlock
from mattepaint.models.registry import register_model

__all__ = ["Autoencoder"]


@register_model("autoencoder", task="inpainting")
class Autoencoder(nn.Module):
    """Convolutional autoencoder inpainter (seed 002 baseline): RGB-with-holes + mask -> RGB.

    Layout for ``base = b``, input (B, 4, H, W) = concat(image, mask)::

        enc0  ConvBlock(4 -> b),   maxpool      (B, b,  H/2,  W/2)
        enc1  ConvBlock(b -> 2b),  maxpool      (B, 2b, H/4,  W/4)
        enc2  ConvBlock(2b -> 4b), maxpool      (B, 4b, H/8,  W/8)
        enc3  ConvBlock(4b -> 8b), maxpool      (B, 8b, H/16, W/16)   bottleneck
        dec3  ConvT(8b -> 4b) + BN + ReLU       (B, 4b, H/8,  W/8)
        dec2  ConvT(4b -> 2b) + BN + ReLU       (B, 2b, H/4,  W/4)
        dec1  ConvT(2b -> b)  + BN + ReLU       (B, b,  H/2,  W/2)
        dec0  ConvT(b -> 3), sigmoid            (B, 3,  H,    W)

    ``ConvBlock`` = (conv3x3 -> BatchNorm -> ReLU) x 2, so the encoder has the seed's 8 conv
    blocks and 4 pools; ``ConvT`` is a 4x4 transposed conv with stride 2 (padding 1), exactly
    doubling the size, so the decoder has the seed's 4 transposed-conv blocks. No skip
    connections.

    Args:
        base: width of the first scale (widths b, 2b, 4b, 8b); default 32.

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform.
        mask: (B, 1, H, W) float, 1 = hole, 0 = known.
        H and W must be divisible by ``size_multiple = 16``
        (:class:`~mattepaint.models.inpainter.ModelInpainter` pads for you).

    Outputs: (B, 3, H, W) float in [0, 1], the predicted image everywhere (not composited).

    Reference: seed report 002, section III.A.2 (autoencoder baseline).
    """

    def __init__(self, base: int = 32) -> None:
        super().__init__()
        check_positive_int("base", base)
        widths = [base, 2 * base, 4 * base, 8 * base]
        self.size_multiple = 2 ** len(widths)  # 4 max-pools: 16
        encoder: list[nn.Module] = []
        cin = 4
        for width in widths:
            encoder += [ConvBlock(cin, width, norm="batch"), nn.MaxPool2d(2)]
            cin = width
        self.encoder = nn.Sequential(*encoder)
        decoder: list[nn.Module] = []
        for cin, cout in zip(widths[:0:-1], widths[-2::-1], strict=True):  # 8b->4b, 4b->2b, 2b->b
            decoder += [
                nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        decoder.append(nn.ConvTranspose2d(widths[0], 3, 4, stride=2, padding=1))  # b -> RGB
        self.decoder = nn.Sequential(*decoder)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple)
        x = torch.cat([image, mask.to(image.dtype)], dim=1)  # (B, 4, H, W)
        z = self.encoder(x)  # (B, 8b, H/16, W/16)
        return torch.sigmoid(self.decoder(z))  # (B, 3, H, W) in [0, 1]
