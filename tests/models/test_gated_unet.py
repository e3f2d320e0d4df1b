"""Tests for mattepaint.models.layers.gated_conv and the "gated_unet" model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _model_helpers import assert_inpaints_with_gradients
from torch import nn

from mattepaint.models.layers.gated_conv import GatedConv2d
from mattepaint.models.registry import build_model

# ----------------------------------------------------------------------------- GatedConv2d


def test_gated_conv_formula_and_gate_range() -> None:
    torch.manual_seed(0)
    layer = GatedConv2d(3, 4, 3, activation="elu")
    x = torch.randn(2, 3, 8, 8)
    feature, gate = layer.feature_and_gate(x)
    assert feature.shape == gate.shape == (2, 4, 8, 8)
    assert bool((gate > 0).all()) and bool((gate < 1).all())
    # Yu et al. eq. 2 with the two convs as the halves of the single conv's weights
    w_f, w_g = layer.conv.weight[:4], layer.conv.weight[4:]
    b_f, b_g = layer.conv.bias[:4], layer.conv.bias[4:]
    expected = F.elu(F.conv2d(x, w_f, b_f, padding=1)) * torch.sigmoid(
        F.conv2d(x, w_g, b_g, padding=1)
    )
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize(
    ("stride", "dilation", "size_in", "size_out"), [(1, 1, 8, 8), (2, 1, 8, 4), (1, 4, 8, 8)]
)
def test_gated_conv_sizes(stride: int, dilation: int, size_in: int, size_out: int) -> None:
    layer = GatedConv2d(2, 3, 3, stride=stride, dilation=dilation, activation="leaky_relu")
    assert layer(torch.randn(1, 2, size_in, size_in)).shape == (1, 3, size_out, size_out)


def test_gated_conv_gradcheck() -> None:
    torch.manual_seed(0)
    layer = GatedConv2d(2, 2, 3).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_gated_conv_rejects_bad_activation() -> None:
    with pytest.raises(ValueError, match="activation must be 'elu', 'leaky_relu' or 'none'"):
        GatedConv2d(2, 2, activation="gelu")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- gated_unet


@pytest.mark.parametrize("size", [(32, 32), (64, 96)])
def test_gated_unet_any_size_range_and_gradients(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_model("gated_unet", base=4)
    assert model.size_multiple == 4
    assert_inpaints_with_gradients(model, size)


def test_gated_unet_default_layout() -> None:
    model = build_model("gated_unet")
    convs = [m for m in model.modules() if isinstance(m, GatedConv2d)]
    # stem 1 + down 2 x 2 + middle 4 dilated + 2 + decoder 2 x (up, fuse) = 15 gated convs
    assert len(convs) == 15
    assert model.stem.conv.in_channels == 5 and model.stem.conv.kernel_size == (5, 5)
    assert [m.conv.dilation[0] for m in model.middle] == [2, 4, 8, 16, 1, 1]
    assert [m.out_channels for m in model.middle] == [128] * 6  # base 32 * 2**2
    assert isinstance(model.head, nn.Conv2d) and model.head.out_channels == 3
    other = build_model("gated_unet", base=4, depth=3, dilations=[2])
    assert other.size_multiple == 8 and len(other.middle) == 3


def test_gated_unet_uses_the_mask() -> None:
    torch.manual_seed(0)
    model = build_model("gated_unet", base=4).eval()
    image = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1.0
    with torch.no_grad():
        assert not torch.allclose(model(image, mask), model(image, torch.zeros_like(mask)))


def test_gated_unet_rejects_bad_input() -> None:
    model = build_model("gated_unet", base=4)
    with pytest.raises(ValueError, match="divisible by 4 .*got 30x32"):
        model(torch.rand(1, 3, 30, 32), torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\) like image"):
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="base must be >= 1, got 0"):
        build_model("gated_unet", base=0)
    with pytest.raises(ValueError, match="dilations must be a sequence of ints"):
        build_model("gated_unet", dilations=2)
    with pytest.raises(ValueError, match="activation must be 'elu' or 'leaky_relu'"):
        build_model("gated_unet", activation="relu")
