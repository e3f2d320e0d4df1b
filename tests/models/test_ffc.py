"""Tests of the fast Fourier convolution layers (models/layers/ffc.py) and the ffc_inpaint model.

The registry test already checks ffc_inpaint at 32x32 for shape, range and a gradient for every
parameter; here: the transforms against torch.fft (the reference), the DFT-matrix path used for
ONNX export against the FFT path, the channel split, gradcheck, the global receptive field, the
residual start (an untrained model returns its pre-fill), other sizes, errors, ONNX export.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mattepaint.models.inpainting.ffc_inpaint import FFCInpaint
from mattepaint.models.layers.ffc import (
    FFC,
    FFCBlock,
    FFCResBlock,
    FourierUnit,
    SpectralTransform,
    irfft2_ortho,
    rfft2_ortho,
)
from mattepaint.models.registry import build_model, model_task

SIZES = [(8, 8), (7, 10), (5, 9), (16, 3)]


# ----------------------------------------------------------------------------- transforms


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_rfft2_matches_torch_fft_both_paths(h: int, w: int) -> None:
    x = torch.randn(2, 3, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(h))
    ref = torch.fft.rfftn(x, dim=(-2, -1), norm="ortho")  # (2, 3, h, w // 2 + 1)
    real, imag = rfft2_ortho(x, use_dft=False)
    assert real.shape == (2, 3, h, w // 2 + 1) and real.dtype == torch.float64
    torch.testing.assert_close(torch.complex(real, imag), ref)
    real_d, imag_d = rfft2_ortho(x, use_dft=True)  # full width, the first w // 2 + 1 columns
    assert real_d.shape == (2, 3, h, w)
    torch.testing.assert_close(torch.complex(real_d, imag_d)[..., : w // 2 + 1], ref)
    # Parseval with the orthonormal scaling: the full spectrum has the energy of the signal
    energy = (real_d.square() + imag_d.square()).sum(dim=(-2, -1))
    torch.testing.assert_close(energy, x.square().sum(dim=(-2, -1)))


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_irfft2_inverts_and_both_paths_agree_through_a_pointwise_op(h: int, w: int) -> None:
    x = torch.randn(1, 2, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(w))
    for use_dft in (False, True):
        real, imag = rfft2_ortho(x, use_dft=use_dft)
        torch.testing.assert_close(irfft2_ortho(real, imag, (h, w), use_dft=use_dft), x)

    def pointwise(t: torch.Tensor) -> torch.Tensor:  # what FourierUnit does between the two
        return torch.relu(1.3 * t + 0.2)

    fft = irfft2_ortho(*map(pointwise, rfft2_ortho(x, use_dft=False)), (h, w), use_dft=False)
    dft = irfft2_ortho(*map(pointwise, rfft2_ortho(x, use_dft=True)), (h, w), use_dft=True)
    torch.testing.assert_close(dft, fft)
    ref = torch.fft.irfftn(
        torch.complex(*map(pointwise, rfft2_ortho(x))), s=(h, w), dim=(-2, -1), norm="ortho"
    )
    torch.testing.assert_close(fft, ref)


def test_half_precision_input_is_transformed_in_float32() -> None:
    x = torch.rand(1, 1, 6, 6).to(torch.bfloat16)
    real, imag = rfft2_ortho(x)
    assert real.dtype == torch.bfloat16
    out = irfft2_ortho(real, imag, (6, 6))
    assert out.dtype == torch.bfloat16 and (out.float() - x.float()).abs().max() < 0.05


# ----------------------------------------------------------------------------- layers


@pytest.mark.parametrize(
    ("cin", "cout", "gin", "gout", "split_in", "split_out"),
    [
        (8, 8, 0.75, 0.75, (2, 6), (2, 6)),
        (8, 4, 0.0, 0.5, (8, 0), (2, 2)),
        (4, 8, 0.5, 0.0, (2, 2), (8, 0)),
        (6, 6, 1.0, 1.0, (0, 6), (0, 6)),
    ],
)
def test_ffc_channel_split_and_shapes(
    cin: int, cout: int, gin: float, gout: float, split_in: tuple, split_out: tuple
) -> None:
    layer = FFC(cin, cout, gin, gout)
    assert (layer.in_local, layer.in_global) == split_in
    assert (layer.out_local, layer.out_global) == split_out
    assert (layer.g2g is not None) == (split_in[1] > 0 and split_out[1] > 0)
    for h, w in ((9, 12), (16, 16), (5, 7)):
        assert layer(torch.rand(2, cin, h, w)).shape == (2, cout, h, w)


def test_blocks_keep_shape() -> None:
    x = torch.rand(2, 8, 11, 6)
    assert FourierUnit(8, 4)(x).shape == (2, 4, 11, 6)
    assert SpectralTransform(8, 6)(x).shape == (2, 6, 11, 6)
    assert FFCBlock(8, 12)(x).shape == (2, 12, 11, 6)
    assert FFCResBlock(8)(x).shape == (2, 8, 11, 6)


def test_ffc_gradcheck() -> None:
    torch.manual_seed(0)
    layer = FFC(4, 4, 0.5, 0.5).double().eval()  # eval: BatchNorm uses its running statistics
    x = torch.rand(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,), eps=1e-6, atol=1e-5)


def test_global_branch_sees_the_whole_image_in_one_layer() -> None:
    """A change in one corner changes the output in the opposite corner through the spectral
    path; with ratio 0 (3x3 convolutions only) it cannot."""
    torch.manual_seed(0)
    x = torch.rand(1, 4, 16, 16)
    y = x.clone()
    y[..., 0, 0] += 1.0
    for ratio, reaches in ((0.5, True), (0.0, False)):
        layer = FFC(4, 4, ratio, ratio).eval()
        with torch.no_grad():
            far = (layer(x) - layer(y))[..., 8:, 8:].abs().max()
        assert bool(far > 1e-6) == reaches


def test_bad_layer_params_raise() -> None:
    with pytest.raises(ValueError, match=r"ratio_gin must be in \[0.0, 1.0\], got 1.5"):
        FFC(4, 4, ratio_gin=1.5)
    with pytest.raises(ValueError, match="kernel_size must be odd, got 2"):
        FFC(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match="in_channels must be >= 1, got 0"):
        FourierUnit(0, 4)


# ----------------------------------------------------------------------------- the model


def test_registered_and_untrained_model_returns_its_prefill() -> None:
    assert model_task("ffc_inpaint") == "inpainting"
    model = build_model("ffc_inpaint", base=4, n_down=2, n_blocks=1).eval()
    assert isinstance(model, FFCInpaint) and model.size_multiple == 4
    assert not model.head.weight.any() and not model.head.bias.any()
    image = torch.rand(2, 3, 24, 36) * 0.9 + 0.05
    mask = torch.zeros(2, 1, 24, 36)
    mask[..., 5:15, 10:30] = 1
    with torch.no_grad():
        out = model(image, mask)
    torch.testing.assert_close(out, image)


@pytest.mark.parametrize(("h", "w"), [(32, 32), (24, 40), (8, 64)])
def test_model_shapes_any_multiple(h: int, w: int) -> None:
    torch.manual_seed(0)
    model = build_model("ffc_inpaint", base=4, n_down=3, n_blocks=1)
    nn.init.normal_(model.head.weight, std=0.1)
    image, mask = torch.rand(2, 3, h, w), (torch.rand(2, 1, h, w) > 0.7).float()
    out = model(image, mask).detach()  # training mode
    assert out.shape == (2, 3, h, w) and float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.allclose(out, image, atol=1e-3)  # the head now changes the input


def test_model_input_and_param_errors() -> None:
    model = build_model("ffc_inpaint", base=4, n_down=2, n_blocks=1)
    with pytest.raises(ValueError, match=r"divisible by 4 \(2\*\*n_down\), got 30x32"):
        model(torch.rand(1, 3, 30, 32), torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\)"):
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="bad params for model 'ffc_inpaint': n_blocks must be"):
        build_model("ffc_inpaint", n_blocks=0)
    with pytest.raises(ValueError, match="bad params for model 'ffc_inpaint': ratio must be"):
        build_model("ffc_inpaint", ratio=-0.1)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("ffc_inpaint", {"base": 4, "n_down": 2, "n_blocks": 1}),
        ("unet_inpaint", {"base": 4, "depth": 2, "residual": True, "global_blocks": 1}),
    ],
)
def test_onnx_export_matches_torch_at_other_sizes(
    name: str, params: dict[str, object], tmp_path: Path
) -> None:
    """The exporter has no FFT; the DFT-matrix path is traced instead and must agree."""
    from mattepaint.models.loading import CHECKPOINT_FORMAT, load_inpainter
    from mattepaint.models.onnx_model import export_onnx

    torch.manual_seed(0)
    model = build_model(name, **params)
    with torch.no_grad():
        for param in model.parameters():  # not the identity: zero convolutions moved too
            param.add_(torch.randn_like(param) * 0.05)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    ckpt = tmp_path / "model.pt"
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "model": {"name": name, "params": params},
            "model_state": model.state_dict(),
            "config": {"data": {"input_transform": "hole_ns"}},
        },
        ckpt,
    )
    onnx_path = export_onnx(ckpt, tmp_path / "model.onnx")  # checks two sizes itself
    image = torch.rand(1, 3, 29, 43, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1, 29, 43)
    mask[..., 8:20, 10:30] = 1
    want, got = load_inpainter(ckpt)(image, mask), load_inpainter(onnx_path)(image, mask)
    assert (got - want).abs().max() < 1e-4


# ----------------------------------------------------------------------------- zero-initialised blocks


def test_zero_init_block_starts_as_the_identity_and_learns() -> None:
    """With zero_init the branch ends in a zero-initialised 1x1 convolution: the block returns
    its input, that convolution gets a gradient in every weight row (the branch does not, until
    it moves), and after one optimiser step the block changes its input."""
    torch.manual_seed(0)
    block = FFCResBlock(8, zero_init=True)
    x = torch.rand(2, 8, 6, 10)
    out = block(x)
    torch.testing.assert_close(out, x)
    out.sub(0.3).square().mean().backward()
    assert block.out is not None and bool((block.out.weight.grad.abs().sum(1) > 0).all())
    torch.optim.SGD(block.parameters(), lr=0.1).step()
    assert not torch.allclose(block(x), x)
    assert FFCResBlock(8).out is None  # the default keeps LaMa's block (and its keys)
    with pytest.raises(TypeError, match="zero_init must be a bool"):
        FFCResBlock(8, zero_init=1)  # type: ignore[arg-type]


def test_unet_with_global_blocks_loads_plain_unet_weights_unchanged() -> None:
    """unet_inpaint(global_blocks=N) puts N zero-initialised FFC blocks on the bottleneck: a plain trained
    U-Net's weights load into it (only the blocks are missing) and give the same output."""
    torch.manual_seed(0)
    plain = build_model("unet_inpaint", base=4, depth=2, residual=True)
    with torch.no_grad():  # a "trained" refiner: weights far from the identity's
        for param in plain.parameters():
            param.normal_(0.0, 0.5)
    plain.eval()
    wide = build_model("unet_inpaint", base=4, depth=2, residual=True, global_blocks=2).eval()
    result = wide.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(
        k.startswith("unet.bottleneck.") for k in result.missing_keys
    )
    image = torch.rand(2, 3, 16, 20) * 0.9 + 0.05
    mask = (torch.rand(2, 1, 16, 20) > 0.5).float()
    with torch.no_grad():
        want = plain(image, mask)
        torch.testing.assert_close(wide(image, mask), want)
        wide.unet.bottleneck[0].out.weight.normal_(0.0, 0.5)  # a trained block changes the fill
        assert not torch.allclose(wide(image, mask), want)
    with pytest.raises(ValueError, match="global_blocks must be >= 0"):
        build_model("unet_inpaint", global_blocks=-1)
