"""Partial convolution (Liu et al., ECCV 2018): a convolution that only looks at known pixels.

For every output position with window ``X`` (input features), ``M`` (validity, 1 = known) and
weights ``W``, bias ``b``::

    x' = W^T (X * M) * sum(1) / sum(M) + b    if sum(M) > 0
    x' = 0                                     otherwise
    m' = 1 if sum(M) > 0 else 0                (the updated validity mask)

``sum(1)`` is the number of entries in the window (zero padding counts as a window entry that
is *not* valid, so pixels at the image border are re-weighted too, as in NVIDIA's reference
implementation). Each layer fills the hole inwards by the kernel's reach, so after enough
layers every pixel is valid.

The validity mask here is 1 = known, the opposite of the package's inpainting mask (1 = hole);
the models convert at their boundary (``valid = 1 - mask``).

Reference: Liu, Reda, Shih, Wang, Tao & Catanzaro, "Image Inpainting for Irregular Holes Using
Partial Convolutions", ECCV 2018 (equations 1 and 2); NVIDIA/partialconv (``PartialConv2d``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PartialConv2d"]


class PartialConv2d(nn.Conv2d):
    """2-D partial convolution: a ``Conv2d`` renormalised over the valid part of each window.

    Computes ``out = conv(x * valid, W) * sum(1) / sum(valid) + b`` where the window holds at
    least one valid entry and ``0`` elsewhere, and the updated mask ``1[sum(valid) > 0]``
    (Liu et al. 2018, eq. 1-2). With an all-valid ``valid`` and no padding it equals
    ``nn.Conv2d`` with the same weights.

    The window count ``sum(valid)`` is a convolution of the mask with a ones kernel (same
    stride, padding and dilation), computed without gradient; the mask never receives one.

    Args: as ``nn.Conv2d`` (``in_channels, out_channels, kernel_size, stride, padding,
    dilation, bias``); zero padding only, no groups.

    Inputs:
        x: (B, in_channels, H, W) features.
        valid: binary validity mask, 1 = known, 0 = hole, either
            (B, 1, H, W): one mask broadcast over all input channels (the common case;
            ``sum(1) = kh * kw``), or
            (B, in_channels, H, W): one mask per input channel, for inputs concatenated from
            tensors with different holes (U-Net skips); ``sum`` then runs over channels too,
            ``sum(1) = in_channels * kh * kw`` (NVIDIA's ``multi_channel=True``).

    Outputs: ``(out, new_valid)``: out (B, out_channels, H', W'), exactly 0 wherever
    ``new_valid`` is 0; new_valid (B, 1, H', W') in {0, 1}, same dtype as ``x``. H', W' follow
    the usual ``Conv2d`` size formula.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bias,
        )
        if isinstance(self.padding, str):  # "same"/"valid": keep the window count explicit
            raise TypeError(f"padding must be an int or a pair of ints, got {padding!r}")
        self.window_size = self.kernel_size[0] * self.kernel_size[1]  # sum(1) per channel

    def forward(self, x: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """(B, Cin, H, W) features + (B, 1 or Cin, H, W) validity -> (out, new_valid)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must be (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        b, c, h, w = x.shape
        if valid.ndim != 4 or valid.shape[0] != b or valid.shape[1] not in (1, c):
            raise ValueError(
                f"valid must be (B, 1, H, W) or (B, {c}, H, W) like x {tuple(x.shape)}, "
                f"got {tuple(valid.shape)}"
            )
        if tuple(valid.shape[-2:]) != (h, w):
            raise ValueError(
                f"valid must have the spatial size of x {(h, w)}, got {tuple(valid.shape[-2:])}"
            )
        valid = valid.to(x.dtype)
        with torch.no_grad():
            # the ones kernel is identical for every channel: sum the channels first
            per_pixel = valid if valid.shape[1] == 1 else valid.sum(dim=1, keepdim=True)
            ones = per_pixel.new_ones(1, 1, *self.kernel_size)
            count = F.conv2d(
                per_pixel, ones, None, self.stride, self.padding, self.dilation
            )  # (B, 1, H', W') = sum(M) per window
            has_valid = count > 0  # (B, 1, H', W') bool
            sum_ones = float(self.window_size * valid.shape[1])
            # sum(1) / sum(M) where the window has a valid entry, 0 elsewhere (the clamp keeps
            # the discarded branch free of a division by zero)
            scale = torch.where(has_valid, sum_ones / count.clamp(min=1e-6), 0.0)
            new_valid = has_valid.to(x.dtype)  # (B, 1, H', W') in {0, 1}
        out = self._conv_forward(x * valid, self.weight, None)  # (B, Cout, H', W')
        out = out * scale.to(out.dtype)  # (under autocast, out is in the autocast dtype)
        if self.bias is not None:  # no bias in all-hole windows
            out = out + (self.bias.view(1, -1, 1, 1) * new_valid).to(out.dtype)
        return out, new_valid
