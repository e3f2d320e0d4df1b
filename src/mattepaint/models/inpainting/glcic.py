"""GLCIC completion network (Iizuka, Simo-Serra & Ishikawa, SIGGRAPH 2017).

A fully convolutional encoder-decoder that downsamples only twice (to keep detail) and gets a
large receptive field from four dilated convolutions (rates 2, 4, 8, 16) at quarter resolution:
each output pixel sees a window of about 300 x 300 input pixels (the paper counts 307 x 307), so
large holes are filled from their surroundings. Trained with an L2 loss plus the global and local context
discriminators of :class:`mattepaint.models.discriminators.GlobalLocalCritic`.

References:
    Iizuka, Simo-Serra & Ishikawa, "Globally and Locally Consistent Image Completion", ACM
    Transactions on Graphics (SIGGRAPH) 36(4), 2017, Table 1 (completion network).
    Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions", ICLR 2016.
    Seed report 002, sections II.B and III.B (GLCIC and its stable variant).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.registry import register_model

__all__ = ["GLCIC"]

DILATIONS: tuple[int, ...] = (2, 4, 8, 16)  # GLCIC Table 1


def _conv_bn_relu(
    cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1
) -> list[nn.Module]:
    """conv (size-keeping padding ``dilation * (kernel - 1) / 2``) -> BatchNorm -> ReLU."""
    padding = dilation * (kernel - 1) // 2
    conv = nn.Conv2d(cin, cout, kernel, stride, padding, dilation=dilation, bias=False)
    return [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _deconv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """4x4 transposed conv with stride 2 (exactly doubles the size) -> BatchNorm -> ReLU."""
    deconv = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False)
    return [deconv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register_model("glcic", task="inpainting")
class GLCIC(nn.Module):
    """GLCIC completion network (Iizuka et al. 2017): RGB-with-holes + mask -> RGB.

    Layout (the paper's Table 1 with ``base = b = 64``; every layer but the output is followed
    by BatchNorm and ReLU), input (B, 4, H, W) = concat(image, mask)::

        conv 5x5            4 -> b                      (B, b,  H,   W)
        conv 3x3 stride 2   b -> 2b                     (B, 2b, H/2, W/2)
        conv 3x3            2b -> 2b
        conv 3x3 stride 2   2b -> 4b                    (B, 4b, H/4, W/4)
        conv 3x3            4b -> 4b          (x 2)
        dilated conv 3x3    4b -> 4b, rates 2, 4, 8, 16 (padding = rate, size kept)
        conv 3x3            4b -> 4b          (x 2)
        deconv 4x4 stride 2 4b -> 2b                    (B, 2b, H/2, W/2)
        conv 3x3            2b -> 2b
        deconv 4x4 stride 2 2b -> b                     (B, b,  H,   W)
        conv 3x3            b -> b/2
        output conv 3x3     b/2 -> 3, sigmoid           (B, 3,  H,   W)

    Args:
        base: width of the first layer (paper: 64; widths b, 2b, 4b and b/2, at least 1).

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform (the
            paper fills them with the training set's mean pixel value).
        mask: (B, 1, H, W) float, 1 = hole, 0 = known.
        H and W must be divisible by ``size_multiple = 4`` (two stride-2 convs;
        :class:`~mattepaint.models.inpainter.ModelInpainter` pads for you).

    Outputs: (B, 3, H, W) float in [0, 1], the predicted image everywhere (not composited; the
    paper composites and then applies Poisson blending as post-processing).

    Reference: Iizuka, Simo-Serra & Ishikawa, "Globally and Locally Consistent Image
    Completion", SIGGRAPH 2017.
    """

    size_multiple = 4

    def __init__(self, base: int = 64) -> None:
        super().__init__()
        check_positive_int("base", base)
        b1, b2, b4, half = base, 2 * base, 4 * base, max(base // 2, 1)
        layers: list[nn.Module] = []
        layers += _conv_bn_relu(4, b1, 5)
        layers += _conv_bn_relu(b1, b2, 3, stride=2)  # H/2
        layers += _conv_bn_relu(b2, b2, 3)
        layers += _conv_bn_relu(b2, b4, 3, stride=2)  # H/4
        layers += _conv_bn_relu(b4, b4, 3) + _conv_bn_relu(b4, b4, 3)
        for rate in DILATIONS:
            layers += _conv_bn_relu(b4, b4, 3, dilation=rate)
        layers += _conv_bn_relu(b4, b4, 3) + _conv_bn_relu(b4, b4, 3)
        layers += _deconv_bn_relu(b4, b2)  # H/2
        layers += _conv_bn_relu(b2, b2, 3)
        layers += _deconv_bn_relu(b2, b1)  # H
        layers += _conv_bn_relu(b1, half, 3)
        layers.append(nn.Conv2d(half, 3, 3, padding=1))  # output layer, sigmoid in forward
        self.net = nn.Sequential(*layers)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple)
        x = torch.cat([image, mask.to(image.dtype)], dim=1)  # (B, 4, H, W)
        return torch.sigmoid(self.net(x))  # (B, 3, H, W) in [0, 1]
