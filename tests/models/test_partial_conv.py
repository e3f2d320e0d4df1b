"""Tests for mattepaint.models.layers.partial_conv and the "pconv_unet" model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from _model_helpers import assert_inpaints_with_gradients
from torch import Tensor, nn

from mattepaint.models.inpainting.pconv_unet import PConvUNet
from mattepaint.models.layers.partial_conv import PartialConv2d
from mattepaint.models.registry import build_model


def _reference(
    conv: PartialConv2d, x: Tensor, valid: Tensor, stride: int, padding: int, dilation: int
) -> tuple[Tensor, Tensor]:
    """Liu et al. eq. 1-2 evaluated window by window (plain loops over the output positions)."""
    k = conv.kernel_size[0]
    xp = F.pad(x * valid, [padding] * 4)  # (B, C, H + 2p, W + 2p)
    vp = F.pad(valid.expand_as(x), [padding] * 4)  # one mask entry per feature entry
    b, c, hp, wp = xp.shape
    span = dilation * (k - 1) + 1
    ho, wo = (hp - span) // stride + 1, (wp - span) // stride + 1
    out = torch.zeros(b, conv.out_channels, ho, wo, dtype=x.dtype)
    new_valid = torch.zeros(b, 1, ho, wo, dtype=x.dtype)
    sum_ones = c * k * k if valid.shape[1] > 1 else k * k
    for n in range(b):
        for i in range(ho):
            for j in range(wo):
                rows = slice(i * stride, i * stride + span, dilation)
                cols = slice(j * stride, j * stride + span, dilation)
                window_x, window_m = xp[n, :, rows, cols], vp[n, :, rows, cols]  # (C, k, k)
                sum_m = window_m.sum() if valid.shape[1] > 1 else window_m[0].sum()
                if sum_m > 0:
                    raw = (conv.weight * window_x).sum(dim=(1, 2, 3))  # (Cout,)
                    out[n, :, i, j] = raw * sum_ones / sum_m + conv.bias
                    new_valid[n, 0, i, j] = 1.0
    return out, new_valid


# ----------------------------------------------------------------------------- PartialConv2d


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "per_channel"),
    [(1, 1, 1, False), (2, 1, 1, False), (1, 2, 2, False), (1, 0, 1, False), (1, 1, 1, True)],
)
def test_matches_per_window_reference(
    stride: int, padding: int, dilation: int, per_channel: bool
) -> None:
    torch.manual_seed(0)
    conv = PartialConv2d(3, 4, 3, stride=stride, padding=padding, dilation=dilation).double()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    valid = (torch.rand(2, 3 if per_channel else 1, 5, 5) > 0.5).double()
    valid[0, :, :3, :3] = 0.0  # an all-hole window at the top-left corner
    out, new_valid = conv(x, valid)
    ref_out, ref_valid = _reference(conv, x, valid, stride, padding, dilation)
    assert out.shape == ref_out.shape and new_valid.shape == ref_valid.shape
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(new_valid, ref_valid)


def test_all_valid_equals_conv2d() -> None:
    torch.manual_seed(0)
    pconv = PartialConv2d(3, 5, 3, stride=2, padding=0)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=0)
    conv.load_state_dict(pconv.state_dict())
    x = torch.randn(2, 3, 9, 9)
    out, new_valid = pconv(x, torch.ones(2, 1, 9, 9))
    torch.testing.assert_close(out, conv(x))
    assert bool((new_valid == 1).all())


def test_hole_shrinks_by_kernel_radius_and_holes_give_zero() -> None:
    torch.manual_seed(0)
    layers = [PartialConv2d(2, 2, 3, padding=1), PartialConv2d(2, 2, 3, padding=1)]
    x = torch.randn(1, 2, 15, 15)
    valid = torch.ones(1, 1, 15, 15)
    valid[..., 3:12, 3:12] = 0.0  # a 9x9 hole
    for side in (7, 5):  # a 3x3 kernel fills one pixel of the hole per side per layer
        x, valid = layers.pop(0)(x, valid)
        lo = (15 - side) // 2
        expected = torch.ones(1, 1, 15, 15)
        expected[..., lo : lo + side, lo : lo + side] = 0.0
        torch.testing.assert_close(valid, expected)
        assert bool((x[..., lo : lo + side, lo : lo + side] == 0).all())  # no bias in holes
        assert bool((x[..., :lo, :] != 0).all())


def test_mask_update_with_stride() -> None:
    conv = PartialConv2d(1, 1, 3, stride=2, padding=1)
    valid = torch.ones(1, 1, 8, 8)
    valid[..., 1:6, 1:6] = 0.0  # hole rows/cols 1..5
    _, new_valid = conv(torch.randn(1, 1, 8, 8), valid)
    # output row i reads input rows 2i-1 .. 2i+1: all inside the hole for i = 1, 2 only
    expected = torch.ones(1, 1, 4, 4)
    expected[..., 1:3, 1:3] = 0.0
    torch.testing.assert_close(new_valid, expected)


def test_all_hole_input_is_finite_and_zero() -> None:
    conv = PartialConv2d(3, 4, 3, padding=1)
    out, new_valid = conv(torch.randn(1, 3, 6, 6), torch.zeros(1, 1, 6, 6))
    assert bool((out == 0).all()) and bool((new_valid == 0).all())


def test_gradcheck() -> None:
    torch.manual_seed(0)
    conv = PartialConv2d(2, 2, 3, padding=1).double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    valid = (torch.rand(1, 1, 4, 4) > 0.4).double()
    assert torch.autograd.gradcheck(lambda t: conv(t, valid)[0], (x,))


def test_partial_conv_rejects_bad_shapes() -> None:
    conv = PartialConv2d(3, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r"x must be \(B, 3, H, W\), got \(1, 2, 5, 5\)"):
        conv(torch.randn(1, 2, 5, 5), torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"valid must be \(B, 1, H, W\) or \(B, 3, H, W\)"):
        conv(torch.randn(1, 3, 5, 5), torch.ones(1, 2, 5, 5))
    with pytest.raises(ValueError, match="spatial size of x"):
        conv(torch.randn(1, 3, 5, 5), torch.ones(1, 1, 4, 5))
    with pytest.raises(TypeError, match="padding must be an int"):
        PartialConv2d(3, 4, 3, padding="same")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- pconv_unet


def _record_shapes(model: nn.Module, names: list[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    for name in names:
        modules[name].register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out[0].shape[1:]))
        )
    return shapes


def test_seed004_layout_matches_the_table() -> None:
    # seed 004's slides, rows 2-13 (encoder) and 16-34 (decoder), input 3 x 32 x 32
    model = build_model("pconv_unet", layout="seed004").eval()
    assert model.size_multiple == 16
    rows = {
        "encoder.0.0": (32, 32, 32),  # row 2: PConv + ReLU
        "encoder.0.1": (32, 16, 16),  # rows 3-4: PConv s2, BN + ReLU
        "encoder.1.0": (64, 16, 16),
        "encoder.1.1": (64, 8, 8),
        "encoder.2.0": (128, 8, 8),
        "encoder.2.1": (128, 4, 4),
        "encoder.3.0": (256, 4, 4),
        "encoder.3.1": (256, 2, 2),  # rows 12-13: the bottleneck
        "decoder.3.0": (256, 4, 4),  # row 16
        "decoder.3.1": (128, 4, 4),  # rows 17-18
        "decoder.2.0": (128, 8, 8),
        "decoder.2.1": (64, 8, 8),
        "decoder.1.0": (64, 16, 16),
        "decoder.1.1": (32, 16, 16),
        "decoder.0.0": (32, 32, 32),  # row 31
        "decoder.0.1": (3, 32, 32),  # rows 32-33
        "head": (3, 32, 32),  # row 34 (then the sigmoid)
    }
    shapes = _record_shapes(model, list(rows))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    assert shapes == rows
    assert out.shape == (1, 3, 32, 32)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 8  # one BN + ReLU per level, encoder and decoder


def test_seed004_base_scales_widths() -> None:
    model = build_model("pconv_unet", layout="seed004", base=4).eval()
    shapes = _record_shapes(model, ["encoder.3.1", "decoder.0.0"])
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32))
    assert shapes == {"encoder.3.1": (32, 2, 2), "decoder.0.0": (4, 32, 32)}


def test_liu_layout_structure() -> None:
    model = PConvUNet(layout="liu")  # the paper's 512x512 net
    assert model.size_multiple == 256
    enc = [stage[0].conv for stage in model.encoder]
    assert [c.kernel_size[0] for c in enc] == [7, 5, 5, 3, 3, 3, 3, 3]
    assert [c.out_channels for c in enc] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert all(c.stride == (2, 2) for c in enc)
    assert isinstance(model.encoder[0][0].norm, nn.Identity)  # no BN on the first layer
    assert all(isinstance(s[0].norm, nn.BatchNorm2d) for s in model.encoder[1:])
    dec = [stage[0] for stage in model.decoder]
    # decoder[i] at level i: up(level i+1) + skip(level i) -> width of level i (PConv9-16)
    assert [d.conv.in_channels for d in dec] == [64 + 3, 128 + 64, 256 + 128, 512 + 256] + [
        1024
    ] * 4
    assert [d.conv.out_channels for d in dec] == [3, 64, 128, 256, 512, 512, 512, 512]
    assert all(isinstance(d.act, nn.LeakyReLU) and d.act.negative_slope == 0.2 for d in dec[1:])
    assert isinstance(dec[0].act, nn.Identity) and isinstance(dec[0].norm, nn.Identity)


@pytest.mark.parametrize("size", [(32, 32), (64, 96)])
def test_liu_any_size_range_and_gradients(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = build_model("pconv_unet", layout="liu", base=4, depth=5)
    assert model.size_multiple == 32
    assert_inpaints_with_gradients(model, size)


@pytest.mark.parametrize("layout", ["seed004", "liu"])
def test_huge_holes_stay_finite(layout: str) -> None:
    # the whole image but one corner pixel is hole (and one sample is all hole): deep pixels
    # see no known pixel at all in the first layers, yet the output and gradients are finite
    torch.manual_seed(0)
    model = build_model("pconv_unet", layout=layout, base=4, depth=4)
    mask = torch.ones(2, 1, 32, 32)
    mask[0, :, 0, 0] = 0.0
    out = model(torch.rand(2, 3, 32, 32), mask)
    assert bool(torch.isfinite(out).all())
    out.mean().backward()
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())


def test_image_values_under_the_hole_are_ignored() -> None:
    torch.manual_seed(0)
    model = build_model("pconv_unet", layout="seed004", base=4).eval()
    image = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 10:24] = 1.0
    other = torch.where(mask.bool(), torch.rand(1, 3, 32, 32), image)
    with torch.no_grad():
        torch.testing.assert_close(model(image, mask), model(other, mask))


def test_pconv_unet_rejects_bad_input() -> None:
    model = build_model("pconv_unet", layout="seed004", base=4)
    with pytest.raises(ValueError, match="divisible by 16 .*got 24x32"):
        model(torch.rand(1, 3, 24, 32), torch.zeros(1, 1, 24, 32))
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\) like image"):
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\)"):
        model(torch.rand(1, 4, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="layout must be 'seed004' or 'liu', got 'nvidia'"):
        build_model("pconv_unet", layout="nvidia")
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        build_model("pconv_unet", layout="liu", depth=0)
