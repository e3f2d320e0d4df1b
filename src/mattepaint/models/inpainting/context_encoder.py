"""Context Encoder (Pathak et al., CVPR 2016): encoder, channel-wise fully connected bottleneck,
decoder.

A convolutional encoder alone only connects neighbouring locations, so information cannot travel
from one side of the hole to the other; a fully connected layer between encoder and decoder
would, but costs (C s^2)^2 weights. The paper's channel-wise fully connected layer connects every
location to every other location *within* each channel (C s^4 weights), and a following 1x1
(stride-1) convolution mixes the channels.

The fully connected layer fixes the bottleneck size, so the network runs at one native
resolution (``image_size``, 128 in the paper); inputs of other sizes are resized to it and the
prediction is resized back (see :class:`ContextEncoder`).

References:
    Pathak, Krahenbuhl, Donahue, Darrell & Efros, "Context Encoders: Feature Learning by
    Inpainting", CVPR 2016 (section 3.1: encoder, channel-wise fully connected layer, decoder;
    the DCGAN-style encoder of the inpainting experiments: 4x4 stride-2 convs, BatchNorm,
    LeakyReLU 0.2; decoder: up-convolutions, BatchNorm, ReLU).
    Seed report 002, section II.A (summary of the Context Encoder).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.registry import register_model

__all__ = ["ChannelWiseLinear", "ContextEncoder"]

_BOTTLENECK_SIDE = 4  # the encoder halves until the map is 4..7 pixels on a side (paper: 4)


class ChannelWiseLinear(nn.Module):
    """Channel-wise fully connected layer (Pathak et al. 2016, section 3.1).

    Each channel ``c`` has its own fully connected layer over its ``h * w`` locations:
    ``y[b, c] = W[c] @ x[b, c].flatten() + bias[c]``, with ``W`` of shape (C, hw, hw); no weight
    connects different channels. Computed for all channels at once with one einsum.

    Args:
        channels: C. height, width: the (fixed) spatial size h, w of the input.

    Inputs: (B, C, h, w). Outputs: (B, C, h, w).
    """

    def __init__(self, channels: int, height: int, width: int) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("height", height), ("width", width)):
            check_positive_int(name, value)
        self.channels, self.height, self.width = channels, height, width
        n = height * width
        bound = 1.0 / math.sqrt(n)  # nn.Linear's default initialisation, per channel
        self.weight = nn.Parameter(torch.empty(channels, n, n).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(channels, n).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, h, w) -> (B, C, h, w), one h*w -> h*w linear map per channel."""
        expected = (self.channels, self.height, self.width)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"input must be (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        flat = x.flatten(2)  # (B, C, h*w)
        out = torch.einsum("cij,bcj->bci", self.weight, flat) + self.bias  # (B, C, h*w)
        return out.view_as(x)  # (B, C, h, w)


@register_model("context_encoder", task="inpainting")
class ContextEncoder(nn.Module):
    """Context Encoder inpainter (Pathak et al. 2016): encoder, channel-wise FC, decoder.

    Layout for ``image_size = 128``, ``base = b`` (the paper's inpainting network, b = 64), input
    (B, 4, 128, 128) = concat(image, mask) resized to ``image_size``::

        conv4x4 s2 (4 -> b),           LeakyReLU       (B, b,   64, 64)
        conv4x4 s2 (b -> b),      BN,  LeakyReLU       (B, b,   32, 32)
        conv4x4 s2 (b -> 2b),     BN,  LeakyReLU       (B, 2b,  16, 16)
        conv4x4 s2 (2b -> 4b),    BN,  LeakyReLU       (B, 4b,  8,  8)
        conv4x4 s2 (4b -> C),     BN,  LeakyReLU       (B, C,   4,  4)    C = bottleneck
        channel-wise FC (C x 16 -> 16), conv1x1 (C -> C), BN, ReLU       (B, C, 4, 4)
        convT4x4 s2 (C -> 4b),    BN,  ReLU            (B, 4b,  8,  8)
        ... mirroring the encoder ...
        convT4x4 s2 (b -> 3), sigmoid                  (B, 3,  128, 128)

    In general the encoder has ``n = floor(log2(image_size / 4))`` stride-2 convs (widths b, b,
    2b, 4b, 8b, 8b, ..., the last one ``bottleneck``), the bottleneck map has side
    ``s = image_size / 2**n`` (4 to 7) and the decoder mirrors the encoder. LeakyReLU slope 0.2.
    Unlike the paper, which predicts only the central 64x64 region, the decoder predicts the
    whole image (this package's inpainting contract; the caller composites).

    Any input size: an input whose size is not ``image_size x image_size`` is resized to it
    first (image: bilinear, antialiased; mask: adaptive max-pooling, so a pixel of the small mask
    is a hole if any pixel it covers is), and the prediction is resized back to (H, W)
    (bilinear, antialiased; a convex combination, so it stays in [0, 1]). The detail of the fill
    is then that of ``image_size``, and non-square inputs are stretched.

    Args:
        base: width of the first conv (paper: 64).
        image_size: native side the channel-wise FC layer is built for (paper: 128); must be
            >= 8 and divisible by 2**n (n as above), e.g. 32, 64, 96, 128, 256.
        bottleneck: channels C of the bottleneck map (paper: 512 = 8 * 64).

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform.
        mask: (B, 1, H, W) float, 1 = hole, 0 = known. Any H, W >= 1 (``size_multiple = 1``).

    Outputs: (B, 3, H, W) float in [0, 1], the predicted image everywhere (not composited).

    Reference: Pathak, Krahenbuhl, Donahue, Darrell & Efros, "Context Encoders: Feature Learning
    by Inpainting", CVPR 2016.
    """

    size_multiple = 1

    def __init__(self, base: int = 64, image_size: int = 128, bottleneck: int = 512) -> None:
        super().__init__()
        for name, value in (("base", base), ("image_size", image_size), ("bottleneck", bottleneck)):
            check_positive_int(name, value)
        if image_size < 2 * _BOTTLENECK_SIDE:
            raise ValueError(f"image_size must be >= {2 * _BOTTLENECK_SIDE}, got {image_size}")
        n_down = math.floor(math.log2(image_size / _BOTTLENECK_SIDE))
        if image_size % 2**n_down:
            raise ValueError(
                f"image_size must be divisible by 2**{n_down} = {2**n_down} (the encoder halves "
                f"it {n_down} times down to 4..7 pixels), got {image_size}"
            )
        self.image_size, self.n_down = image_size, n_down
        side = image_size // 2**n_down  # bottleneck side s, 4..7
        # widths after each stride-2 conv: b, b, 2b, 4b, 8b, 8b, ... and the bottleneck last
        widths = [base * min(2 ** max(i - 1, 0), 8) for i in range(n_down - 1)] + [bottleneck]

        encoder: list[nn.Module] = []
        cin = 4
        for i, width in enumerate(widths):
            encoder.append(nn.Conv2d(cin, width, 4, stride=2, padding=1, bias=i == 0))
            if i > 0:  # no BatchNorm on the first layer (DCGAN, as the paper's encoder)
                encoder.append(nn.BatchNorm2d(width))
            encoder.append(nn.LeakyReLU(0.2, inplace=True))
            cin = width
        self.encoder = nn.Sequential(*encoder)
        self.channel_fc = ChannelWiseLinear(bottleneck, side, side)
        self.channel_mix = nn.Sequential(  # stride-1 conv propagating across channels
            nn.Conv2d(bottleneck, bottleneck, 1, bias=False),
            nn.BatchNorm2d(bottleneck),
            nn.ReLU(inplace=True),
        )
        decoder: list[nn.Module] = []
        outs = widths[-2::-1] + [3]  # mirror: ..., 2b, b, b, then RGB
        for i, cout in enumerate(outs):
            last = i == len(outs) - 1
            decoder.append(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=last))
            if not last:
                decoder += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.decoder = nn.Sequential(*decoder)

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple)
        h, w = image.shape[-2:]
        size = (self.image_size, self.image_size)
        mask = mask.to(image.dtype)
        resize = (h, w) != size
        if resize:
            image = F.interpolate(image, size=size, mode="bilinear", antialias=True)  # (B, 3, S, S)
            mask = F.adaptive_max_pool2d(mask, size)  # (B, 1, S, S), a hole if any pixel was
        x = torch.cat([image, mask], dim=1)  # (B, 4, S, S)
        z = self.encoder(x)  # (B, C, s, s)
        z = self.channel_mix(self.channel_fc(z))  # (B, C, s, s)
        out = torch.sigmoid(self.decoder(z))  # (B, 3, S, S) in [0, 1]
        if resize:
            out = F.interpolate(out, size=(h, w), mode="bilinear", antialias=True)  # (B, 3, H, W)
        return out
