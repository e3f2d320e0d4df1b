"""A generic U-Net (Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical
Image Segmentation", MICCAI 2015), in the form of seed report 000's UNetMatte (section 3.2).

Layout for ``depth = 3`` and ``base = b`` (the seed's configuration), input (B, Cin, H, W)::

    enc0  ConvBlock(Cin -> b)                      (B, b,  H,   W)   ──────────────┐ skip
    enc1  maxpool, ConvBlock(b -> 2b)              (B, 2b, H/2, W/2) ────────┐     │
    enc2  maxpool, ConvBlock(2b -> 4b)             (B, 4b, H/4, W/4) ──┐     │     │
    mid   maxpool, ConvBlock(4b -> 8b)             (B, 8b, H/8, W/8)   │     │     │
    dec2  up(8b -> 4b), concat skip, ConvBlock(8b -> 4b)  (H/4) <──────┘     │     │
    dec1  up(4b -> 2b), concat skip, ConvBlock(4b -> 2b)  (H/2) <────────────┘     │
    dec0  up(2b -> b),  concat skip, ConvBlock(2b -> b)   (H)   <──────────────────┘
    head  conv1x1(b -> Cout), no activation               (B, Cout, H, W)

``ConvBlock`` = (conv3x3 -> norm -> ReLU) x 2. The skip connections hand the decoder the
encoder's full-resolution features, so edges need not be rebuilt from the bottleneck (seed 000,
section 2). H and W must be divisible by ``size_multiple = 2 ** depth``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor, nn

from mattepaint.checks import check_positive_int

__all__ = ["ConvBlock", "UNet", "bilinear_up_state", "grow_unet_state"]

Norm = Literal["batch", "none"]
Up = Literal["transpose", "bilinear"]


class ConvBlock(nn.Sequential):
    """(conv3x3 -> norm -> ReLU) x 2, keeping the spatial size.

    Inputs: (B, in_channels, H, W). Outputs: (B, out_channels, H, W), >= 0.
    ``norm="batch"`` uses BatchNorm2d (the convs then have no bias); ``"none"`` plain convs.
    """

    def __init__(self, in_channels: int, out_channels: int, norm: Norm = "batch") -> None:
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        layers: list[nn.Module] = []
        for cin in (in_channels, out_channels):
            layers.append(nn.Conv2d(cin, out_channels, 3, padding=1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class _Up(nn.Module):
    """Upsample x2 and halve the channels: ConvTranspose2d(k=2, s=2), or bilinear + conv1x1.

    The bilinear form is computed as conv1x1 first, then bilinear x2: the same values (both are
    linear, the 1x1 convolution acts on each pixel alone and the interpolation weights of each
    output pixel sum to 1, so the bias passes through), at a quarter of the convolution's cost
    and with half the channels to interpolate. The weights keep the ``up.1`` names of the
    ``Sequential(Upsample, Conv2d)`` that states it in that order.
    """

    def __init__(self, in_channels: int, out_channels: int, mode: Up) -> None:
        super().__init__()
        self.mode = mode
        if mode == "transpose":
            self.up: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                nn.Conv2d(in_channels, out_channels, 1),
            )

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "transpose":
            return self.up(x)  # (B, Cin, h, w) -> (B, Cout, 2h, 2w)
        upsample, conv = self.up
        return upsample(conv(x))  # (B, Cin, h, w) -> (B, Cout, h, w) -> (B, Cout, 2h, 2w)


class UNet(nn.Module):
    """Generic U-Net: ``depth`` max-pool levels, ``base * 2**i`` channels at level i.

    Args:
        in_channels, out_channels: input / output channels.
        base: channels of the first level (seed 000: 32 for matting, 16 for inpainting).
        depth: number of 2x poolings; the bottleneck has ``base * 2**depth`` channels.
        norm: "batch" (BatchNorm after every 3x3 conv) or "none".
        up: "transpose" (ConvTranspose2d 2x2 stride 2, as in the paper and seed 000) or
            "bilinear" (bilinear x2 then conv1x1, free of checkerboard artefacts).
        bottleneck: an optional module applied to the deepest features before the decoder,
            keeping their shape (e.g. Fourier-convolution blocks for image-wide context).

    Inputs: (B, in_channels, H, W), H and W divisible by ``size_multiple = 2**depth``.
    Outputs: (B, out_channels, H, W) raw scores (no activation; callers add e.g. a sigmoid).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base: int = 32,
        depth: int = 3,
        norm: Norm = "batch",
        up: Up = "transpose",
        bottleneck: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if bottleneck is not None and not isinstance(bottleneck, nn.Module):
            raise TypeError(f"bottleneck must be an nn.Module or None, got {bottleneck!r}")
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("base", base),
            ("depth", depth),
        ):
            check_positive_int(name, value)
        if norm not in ("batch", "none"):
            raise ValueError(f"norm must be 'batch' or 'none', got {norm!r}")
        if up not in ("transpose", "bilinear"):
            raise ValueError(f"up must be 'transpose' or 'bilinear', got {up!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depth = depth
        self.up_mode: Up = up
        self.size_multiple = 2**depth
        widths = [base * 2**i for i in range(depth + 1)]  # level i: base * 2**i channels

        self.pool = nn.MaxPool2d(2)
        # encoder[0] at full resolution, encoder[i] after i poolings; encoder[depth] = bottleneck
        self.encoder = nn.ModuleList(
            [ConvBlock(in_channels, widths[0], norm)]
            + [ConvBlock(widths[i - 1], widths[i], norm) for i in range(1, depth + 1)]
        )
        # decoder step i (i = depth-1 ... 0): up from level i+1 to level i, concat, ConvBlock
        self.ups = nn.ModuleList([_Up(widths[i + 1], widths[i], up) for i in range(depth)])
        self.decoder = nn.ModuleList(
            [ConvBlock(2 * widths[i], widths[i], norm) for i in range(depth)]
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)
        self.bottleneck = bottleneck  # applied to the deepest features, shape kept

    def forward(self, x: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> (B, out_channels, H, W); H, W divisible by size_multiple."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"input must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"input height and width must be divisible by {self.size_multiple} "
                f"(2**depth), got {h}x{w}; pad the input first"
            )
        skips: list[Tensor] = []
        for i, block in enumerate(self.encoder):
            if i > 0:
                x = self.pool(x)  # (B, C, h, w) -> (B, C, h/2, w/2)
            x = block(x)  # (B, base * 2**i, H / 2**i, W / 2**i)
            skips.append(x)
        skips.pop()  # the bottleneck output is x itself, not a skip
        if self.bottleneck is not None:
            x = self.bottleneck(x)  # (B, base * 2**depth, H / 2**depth, W / 2**depth)
        for i in reversed(range(self.depth)):
            x = self.ups[i](x)  # (B, base * 2**(i+1), h, w) -> (B, base * 2**i, 2h, 2w)
            x = torch.cat([x, skips[i]], dim=1)  # (B, 2 * base * 2**i, 2h, 2w)
            x = self.decoder[i](x)  # (B, base * 2**i, 2h, 2w)
        return self.head(x)  # (B, out_channels, H, W)


def _embed(new: Tensor, old: Tensor, out_index: Tensor, in_index: Tensor | None) -> Tensor:
    """``new`` with ``old`` copied to rows ``out_index`` (dim 0) and columns ``in_index`` (dim 1).

    With ``in_index``, every column of ``new`` outside it is zeroed first, so the new input
    channels contribute nothing to any output until training moves those weights.
    """
    result = new.detach().clone()
    if in_index is None:  # a vector: bias or BatchNorm entry
        result[out_index] = old.to(result.dtype)
        return result
    keep = torch.zeros(result.shape[1], dtype=torch.bool)
    keep[in_index] = True
    result[:, ~keep] = 0
    result[out_index.unsqueeze(1), in_index.unsqueeze(0)] = old.to(result.dtype)
    return result


def bilinear_up_state(
    unet: UNet, state: Mapping[str, Tensor], prefix: str = ""
) -> dict[str, Tensor]:
    """The weights of a U-Net with transposed-convolution up-sampling, converted for ``unet``'s
    bilinear up-sampling (``up="bilinear"``), so a trained model continues with a decoder that
    cannot draw a stride-2 checkerboard (Odena, Dumoulin & Olah, "Deconvolution and
    Checkerboard Artifacts", Distill 2016).

    A 2x2 stride-2 transposed convolution maps each input pixel x to a 2x2 output block whose
    pixel (a, b) is ``W[:, :, a, b]^T x + bias``. Bilinear x2 then a 1x1 convolution with weight
    ``mean_ab W[:, :, a, b]^T`` and the same bias gives, where x varies slowly, the mean of that
    block; what is dropped is the part that alternates from one output pixel to the next, which
    is the checkerboard itself. On the shipped ``unet_refine_wide`` the converted model's PSNR
    on the benchmark's 300 cases is 0.03 dB below the original's.

    Inputs: the U-Net to fill, a state dict holding a U-Net's tensors under ``prefix``. Outputs:
    a copy of ``state`` with every ``ups.i.up.weight`` / ``.bias`` pair of a transposed
    convolution replaced by the ``ups.i.up.1.weight`` / ``.bias`` of ``unet``'s 1x1 convolution
    (kept at float32 or wider). Returned unchanged when ``unet`` up-samples by transposed
    convolution or the state has no transposed weights. Raises ValueError for an up-sampling
    weight that is not a 2x2 transposed-convolution kernel.
    """
    out = dict(state)
    if unet.up_mode != "bilinear":
        return out
    for level in range(unet.depth):
        key = f"{prefix}ups.{level}.up."
        if key + "weight" not in state:  # already bilinear, or not a U-Net (the loader says)
            continue
        weight = state[key + "weight"]  # (in, out, 2, 2)
        if weight.ndim != 4 or tuple(weight.shape[2:]) != (2, 2):
            raise ValueError(
                f"{key}weight: expected a 2x2 transposed-convolution kernel, "
                f"got shape {tuple(weight.shape)}"
            )
        mean = weight.to(torch.promote_types(weight.dtype, torch.float32)).mean((2, 3))
        out[key + "1.weight"] = mean.t().contiguous()[..., None, None]  # (out, in, 1, 1)
        del out[key + "weight"]
        if key + "bias" in out:
            out[key + "1.bias"] = out.pop(key + "bias")
    return out


def grow_unet_state(unet: UNet, state: Mapping[str, Tensor], prefix: str = "") -> dict[str, Tensor]:
    """The weights of a narrower U-Net of the same depth, embedded into ``unet``'s shapes so that
    ``unet`` computes exactly what the narrower one did (Net2Net-style widening; Chen, Goodfellow
    & Shlens, ICLR 2016, with zero outgoing weights instead of Net2WiderNet's replicas).

    Each old channel keeps its index at its level (and, in the decoders' concatenated input,
    its index within each half); a new channel's incoming weights keep ``unet``'s random
    initialisation, its outgoing weights are zero, and its BatchNorm starts at the identity.
    So the output is unchanged, in training and eval mode, while the gradients reaching the
    zero weights are not zero: training grows the new channels from there. Used by
    ``model.init_from`` to continue a trained model at a larger ``base``.

    Inputs: the U-Net to fill (its own tensors are the template), a state dict holding the
    narrower U-Net's tensors under ``prefix`` (e.g. ``"unet."`` for a model that wraps it),
    possibly with other keys. Outputs: a copy of ``state`` whose U-Net tensors have ``unet``'s
    shapes. A state of the same width is returned unchanged. Raises ValueError when it is not a
    U-Net of this layout (another depth, norm or up-sampling), or is wider.
    """
    first = prefix + "encoder.0.0.weight"
    if first not in state:
        raise ValueError(f"not the weights of a U-Net: no {first!r}")
    old_base, new_base = int(state[first].shape[0]), unet.encoder[0][0].out_channels
    if old_base == new_base:
        return dict(state)
    if old_base > new_base:
        raise ValueError(f"cannot shrink a U-Net: base {old_base} -> {new_base}")
    unet_keys = {prefix + k for k in unet.state_dict() if not k.startswith("bottleneck.")}
    theirs = {k for k in state if k.startswith(prefix) and not k.startswith(prefix + "bottleneck.")}
    if theirs != unet_keys:
        extra = sorted(theirs ^ unet_keys)[:4]
        raise ValueError(
            f"the weights are not a U-Net of this depth, norm and up-sampling: {extra}"
        )

    def index(level: int) -> Tensor:
        return torch.arange(old_base * 2**level)

    def concat_index(level: int) -> Tensor:  # [up, skip] halves of a decoder's input
        old, new = old_base * 2**level, new_base * 2**level
        return torch.cat([torch.arange(old), new + torch.arange(old)])

    out = dict(state)
    for name, module in unet.named_modules():
        if not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)):
            continue
        parts = name.split(".")
        if parts[0] == "bottleneck":
            continue
        if parts[0] == "head":
            out_idx, in_idx = torch.arange(unet.out_channels), index(0)
        elif parts[0] == "encoder":
            level = int(parts[1])
            out_idx = index(level)
            first_conv = name == f"encoder.{level}.0"
            if level == 0 and first_conv:
                in_idx = torch.arange(unet.in_channels)
            else:
                in_idx = index(level - 1) if first_conv else out_idx
        elif parts[0] == "ups":  # level i+1 -> level i
            level = int(parts[1])
            out_idx, in_idx = index(level), index(level + 1)
        else:  # decoder
            level = int(parts[1])
            out_idx = index(level)
            in_idx = concat_index(level) if name == f"decoder.{level}.0" else out_idx
        for tensor_name, template in module.state_dict().items():
            key = f"{prefix}{name}.{tensor_name}"
            old = state[key]
            if template.ndim == 0:  # num_batches_tracked
                continue
            if template.ndim == 1:  # bias, BatchNorm weight / bias / running statistics
                out[key] = _embed(template, old, out_idx, None)
            elif isinstance(module, nn.ConvTranspose2d):  # weight (in, out, k, k)
                grown = _embed(template.transpose(0, 1), old.transpose(0, 1), out_idx, in_idx)
                out[key] = grown.transpose(0, 1).contiguous()
            else:  # Conv2d weight (out, in, k, k)
                out[key] = _embed(template, old, out_idx, in_idx)
    return out
