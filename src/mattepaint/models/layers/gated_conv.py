"""Gated convolution (Yu et al., ICCV 2019, DeepFill v2): a convolution with a learned soft mask.

Two convolutions read the same input; one gives features, the other a gate in (0, 1) per
channel and location::

    Gating  = W_g * I
    Feature = W_f * I
    O       = phi(Feature) * sigmoid(Gating)        (phi: ELU, or LeakyReLU, or identity)

A partial convolution (Liu et al. 2018) is the special case where the gate is a fixed rule
(1 where the window holds a known pixel, else 0) shared by all channels; the gated convolution
learns it, so it can also follow a soft or user-drawn mask and adapt it per channel and layer.
As in the reference code (``gen_conv`` in JiahuiYu/generative_inpainting, branch v2.0.0), both
convolutions are one ``Conv2d`` with ``2 * out_channels`` outputs split in two.

Reference: Yu, Lin, Yang, Shen, Lu & Huang, "Free-Form Image Inpainting with Gated
Convolution", ICCV 2019 (equation 2).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["GatedConv2d"]

GateActivation = Literal["elu", "leaky_relu", "none"]


class GatedConv2d(nn.Module):
    """Gated convolution: ``phi(W_f * x) * sigmoid(W_g * x)`` (Yu et al. 2019, eq. 2).

    Args:
        in_channels, out_channels: input channels, output channels (features after gating).
        kernel_size, stride, dilation: of both convolutions.
        padding: zero padding; default ``dilation * (kernel_size - 1) // 2`` (keeps the size
            at stride 1, halves it at stride 2 for even sizes).
        activation: phi, "elu" (DeepFill v2's default), "leaky_relu" (slope 0.2) or "none".
        bias: add a bias to both convolutions.

    Inputs: (B, in_channels, H, W). Outputs: (B, out_channels, H', W') with the usual
    ``Conv2d`` size formula; see :meth:`feature_and_gate` for the two factors.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        activation: GateActivation = "elu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if activation not in ("elu", "leaky_relu", "none"):
            raise ValueError(
                f"activation must be 'elu', 'leaky_relu' or 'none', got {activation!r}"
            )
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        self.out_channels = out_channels
        # one conv computes both the features (first half) and the gate logits (second half)
        self.conv = nn.Conv2d(
            in_channels, 2 * out_channels, kernel_size, stride, padding, dilation, bias=bias
        )
        self.act: nn.Module
        if activation == "elu":
            self.act = nn.ELU()
        elif activation == "leaky_relu":
            self.act = nn.LeakyReLU(0.2)
        else:
            self.act = nn.Identity()

    def feature_and_gate(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, Cin, H, W) -> (phi(feature), gate): both (B, Cout, H', W'), gate in (0, 1)."""
        feature, gating = self.conv(x).split(self.out_channels, dim=1)  # 2 x (B, Cout, H', W')
        return self.act(feature), torch.sigmoid(gating)

    def forward(self, x: Tensor) -> Tensor:
        """(B, Cin, H, W) -> (B, Cout, H', W') = phi(feature) * gate."""
        feature, gate = self.feature_and_gate(x)
        return feature * gate
