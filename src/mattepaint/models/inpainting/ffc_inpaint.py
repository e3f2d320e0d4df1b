"""Residual fast-Fourier-convolution generator: LaMa's layout, scaled down for the CPU.

The network refines a classical pre-fill (seed 002's ``hole_ns`` input: the hole filled by
Navier-Stokes before the network sees it) with global context: convolutions downsample the
image, residual blocks of fast Fourier convolutions (whose spectral branch sees the whole image
in every layer) work at the low resolution, transposed convolutions upsample back, and the
result is added to the input's logit. The last layer starts at zero, so an untrained model
returns its pre-fill and training only has to improve on it (like ``unet_inpaint`` with
``residual: true``).

References:
    R. Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier Convolutions"
    (LaMa), WACV 2022: the generator (``FFCResNetGenerator``: 7x7 conv, 3 strided convs, 9 or
    18 FFC residual blocks with ratio 0.75, 3 transposed convs, 7x7 conv; 64 base channels).
    L. Chi, B. Jiang, Y. Mu, "Fast Fourier Convolution", NeurIPS 2020.
    Seed report 002 (the ``hole_ns`` input transform).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mattepaint.checks import check_float, check_inpaint_model_inputs, check_positive_int
from mattepaint.models.layers.ffc import FFCResBlock
from mattepaint.models.registry import register_model

__all__ = ["FFCInpaint"]


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(
            cin, cout, kernel, stride, padding=kernel // 2, padding_mode="replicate", bias=False
        ),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


@register_model("ffc_inpaint", task="inpainting")
class FFCInpaint(nn.Module):
    """Residual FFC generator (LaMa, scaled for the CPU): refines a pre-filled hole, any size.

    Layout (``c = base``, ``n = n_down``)::

        cat(image, mask) (4 ch) -> 7x7 conv c, BN, ReLU                       (H, W)
        -> n x [3x3 conv stride 2, BN, ReLU], channels doubling              (H / 2^n, W / 2^n)
        -> n_blocks x FFCResBlock(c 2^n channels, global ratio ``ratio``)
        -> n x [3x3 transposed conv stride 2, BN, ReLU], channels halving    (H, W)
        -> 7x7 conv to 3 channels (``head``, initialised to zero)
        out = sigmoid(logit(clamp(image, 1e-3, 1 - 1e-3)) + head)

    LaMa's big model is ``base=64, n_down=3, n_blocks=18``; the CPU default here is 16 / 3 / 4
    (about 0.6 M parameters).

    Args:
        base: channels after the first convolution (>= 1).
        n_down: number of stride-2 downsamplings (>= 1); ``size_multiple = 2 ** n_down``.
        n_blocks: number of FFC residual blocks at the bottleneck (>= 1).
        ratio: fraction of the bottleneck channels in the global (spectral) branch, in [0, 1]
            (LaMa: 0.75; 0 gives a plain ResNet generator).

    Inputs:
        image: (B, 3, H, W) float in [0, 1], the hole already pre-filled by the input transform
            (``hole_ns``; with ``hole`` the hole is black and the network starts from black).
        mask: (B, 1, H, W) float, 1 = hole, 0 = known.
        H and W must be divisible by ``size_multiple`` (ModelInpainter pads for you); any size
        otherwise (the Fourier units work at any resolution).

    Outputs: (B, 3, H, W) float in [0, 1], the refined image everywhere (not composited with the
    known pixels); at initialisation exactly the input up to the logit clamp.
    """

    def __init__(
        self, base: int = 16, n_down: int = 3, n_blocks: int = 4, ratio: float = 0.75
    ) -> None:
        super().__init__()
        base = check_positive_int("base", base)
        n_down = check_positive_int("n_down", n_down)
        n_blocks = check_positive_int("n_blocks", n_blocks)
        ratio = check_float("ratio", ratio, low=0.0, high=1.0)
        self.size_multiple = 2**n_down
        layers: list[nn.Module] = [_conv_bn_relu(4, base, 7)]
        for i in range(n_down):
            layers.append(_conv_bn_relu(base * 2**i, base * 2 ** (i + 1), 3, stride=2))
        self.down = nn.Sequential(*layers)
        width = base * 2**n_down
        self.blocks = nn.Sequential(*(FFCResBlock(width, ratio) for _ in range(n_blocks)))
        ups: list[nn.Module] = []
        for i in range(n_down, 0, -1):
            cin, cout = base * 2**i, base * 2 ** (i - 1)
            ups += [
                nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.up = nn.Sequential(*ups)
        self.head = nn.Conv2d(base, 3, 7, padding=3, padding_mode="replicate")
        nn.init.zeros_(self.head.weight)  # start as the identity on the (pre-filled) input
        nn.init.zeros_(self.head.bias)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) pre-filled image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple, reason="2**n_down")
        x = torch.cat([image, mask.to(image.dtype)], dim=1)  # (B, 4, H, W)
        x = self.down(x)  # (B, base 2^n, H / 2^n, W / 2^n)
        x = self.blocks(x)  # same shape
        x = self.up(x)  # (B, base, H, W)
        logits = self.head(x) + torch.logit(image.clamp(1e-3, 1 - 1e-3))  # refine the input
        return torch.sigmoid(logits)  # (B, 3, H, W) in [0, 1]
