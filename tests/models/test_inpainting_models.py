"""Tests for the baseline inpainting networks: autoencoder, context_encoder and glcic, and the
residual U-Net's refinement and widening.

The registry test (tests/models/test_registry.py) already checks each at 32x32 for shape,
finiteness, range and a gradient for every parameter; here: other sizes, the architectures the
papers describe, the channel-wise fully connected layer, resizing, and input errors.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.models.inpainting.context_encoder import ChannelWiseLinear
from mattepaint.models.inpainting.glcic import DILATIONS
from mattepaint.models.registry import build_model, model_task

SMALL = {
    "autoencoder": {"base": 4},
    "context_encoder": {"base": 4, "image_size": 32, "bottleneck": 16},
    "glcic": {"base": 4},
}
SIZE_MULTIPLE = {"autoencoder": 16, "context_encoder": 1, "glcic": 4}


def _inputs(b: int, h: int, w: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, 1, h, w)
    mask[:, :, h // 4 : h // 2, w // 3 : w // 2] = 1.0  # a rectangular hole
    image = torch.rand(b, 3, h, w, generator=gen) * (1 - mask)  # holes blanked
    return image, mask


# ----------------------------------------------------------------------------- all three


@pytest.mark.parametrize("name", sorted(SMALL))
def test_registered_as_inpainting_with_size_multiple(name: str) -> None:
    assert model_task(name) == "inpainting"
    model = build_model(name, **SMALL[name])
    assert model.size_multiple == SIZE_MULTIPLE[name]


@pytest.mark.parametrize("size", [(32, 32), (64, 96), (48, 16)])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_shapes_and_range(name: str, size: tuple[int, int]) -> None:
    h, w = size
    if h % SIZE_MULTIPLE[name] or w % SIZE_MULTIPLE[name]:
        pytest.skip("size not allowed for this model")
    torch.manual_seed(0)
    model = build_model(name, **SMALL[name])
    image, mask = _inputs(2, h, w)
    out = model(image, mask).detach()  # training mode
    assert out.shape == (2, 3, h, w)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    with torch.no_grad():
        out = model.eval()(image, mask)
    assert out.shape == (2, 3, h, w) and bool(torch.isfinite(out).all())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_bad_inputs(name: str) -> None:
    model = build_model(name, **SMALL[name])
    image, mask = _inputs(1, 32, 32)
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\), got \(1, 4, 32, 32\)"):
        model(torch.cat([image, mask], 1), mask)
    with pytest.raises(
        ValueError,
        match=r"mask must be \(B, 1, H, W\) like image \(1, 3, 32, 32\), got \(1, 32, 32\)",
    ):
        model(image, mask[:, 0])
    with pytest.raises(ValueError, match=r"mask must be .* got \(1, 1, 16, 32\)"):
        model(image, mask[:, :, :16])


@pytest.mark.parametrize(("name", "size"), [("autoencoder", (40, 32)), ("glcic", (32, 30))])
def test_size_not_divisible(name: str, size: tuple[int, int]) -> None:
    model = build_model(name, **SMALL[name])
    image, mask = _inputs(1, *size)
    with pytest.raises(
        ValueError,
        match=rf"divisible by {SIZE_MULTIPLE[name]}, got {size[0]}x{size[1]}",
    ):
        model(image, mask)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("autoencoder", {"base": 0}, "base must be >= 1, got 0"),
        ("glcic", {"base": 2.0}, "base must be an int"),
        ("context_encoder", {"image_size": 4}, "image_size must be >= 8, got 4"),
        (
            "context_encoder",
            {"image_size": 100},
            r"image_size must be divisible by 2\*\*4 = 16 .* got 100",
        ),
        ("context_encoder", {"bottleneck": 0}, "bottleneck must be >= 1"),
    ],
)
def test_bad_params(name: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"bad params for model '{name}': {message}"):
        build_model(name, **params)


# ----------------------------------------------------------------------------- autoencoder


def test_autoencoder_layout_seed002() -> None:
    """8 conv blocks and 4 pools, 4 transposed-conv blocks, widths b..8b, no skips."""
    model = build_model("autoencoder")  # base 32
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 32, 64, 64, 128, 128, 256, 256]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.encoder.modules()) == 4
    ups = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [128, 64, 32, 3]
    assert all(u.stride == (2, 2) for u in ups)
    assert not any(isinstance(m, nn.Conv2d) for m in model.decoder.modules())


def test_autoencoder_bottleneck_is_the_only_path() -> None:
    """No skip connections: the decoder sees only the (B, 8b, H/16, W/16) code."""
    model = build_model("autoencoder", base=4).eval()
    image, mask = _inputs(1, 32, 64)
    with torch.no_grad():
        code = model.encoder(torch.cat([image, mask], 1))
        assert code.shape == (1, 32, 2, 4)
        assert torch.equal(model(image, mask), torch.sigmoid(model.decoder(code)))


# ----------------------------------------------------------------------------- context encoder


def test_channel_wise_linear_matches_loop_reference() -> None:
    torch.manual_seed(0)
    layer = ChannelWiseLinear(5, 3, 4)
    assert layer.weight.shape == (5, 12, 12) and layer.bias.shape == (5, 12)
    x = torch.randn(2, 5, 3, 4)
    out = layer(x)
    for c in range(5):  # each channel its own nn.Linear-style map over its 12 locations
        ref = x[:, c].flatten(1) @ layer.weight[c].T + layer.bias[c]  # (2, 12)
        torch.testing.assert_close(out[:, c].flatten(1), ref)


def test_channel_wise_linear_is_per_channel() -> None:
    """Changing channel k's input changes channel k's output only."""
    torch.manual_seed(0)
    layer = ChannelWiseLinear(4, 4, 4)
    x = torch.randn(1, 4, 4, 4)
    x2 = x.clone()
    x2[:, 2, 1, 3] += 1.0  # one location of channel 2
    changed = (layer(x2) - layer(x)).abs().sum(dim=(0, 2, 3)) > 0  # (4,)
    assert changed.tolist() == [False, False, True, False]
    # ... while within channel 2 every location is connected to that one input
    assert bool(((layer(x2) - layer(x))[0, 2].abs() > 0).all())


def test_channel_wise_linear_rejects_wrong_shape() -> None:
    layer = ChannelWiseLinear(4, 4, 4)
    with pytest.raises(ValueError, match=r"input must be \(B, 4, 4, 4\), got \(1, 4, 8, 8\)"):
        layer(torch.zeros(1, 4, 8, 8))


def test_context_encoder_layout_pathak() -> None:
    """Defaults: 128 input, 5 stride-2 4x4 convs (64, 64, 128, 256, 512) down to 4x4,
    channel-wise FC (512 x 16 x 16) then a 1x1 conv, 5 up-convs back to 128."""
    model = build_model("context_encoder")
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 64, 128, 256, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    leaky = [m for m in model.encoder.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 5 and all(m.negative_slope == 0.2 for m in leaky)
    assert model.channel_fc.weight.shape == (512, 16, 16)
    mix = model.channel_mix[0]
    assert isinstance(mix, nn.Conv2d) and mix.kernel_size == (1, 1) and mix.out_channels == 512
    ups = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [u.out_channels for u in ups] == [256, 128, 64, 64, 3]


def test_context_encoder_native_size_shapes() -> None:
    model = build_model("context_encoder", base=4, image_size=32, bottleneck=16).eval()
    image, mask = _inputs(2, 32, 32)
    with torch.no_grad():
        z = model.encoder(torch.cat([image, mask], 1))
    assert z.shape == (2, 16, 4, 4)
    assert model.channel_fc.weight.shape == (16, 16, 16)


def test_context_encoder_non_power_of_two_image_size() -> None:
    model = build_model("context_encoder", base=4, image_size=48, bottleneck=8).eval()
    assert model.channel_fc.weight.shape == (8, 36, 36)  # 48 -> 24 -> 12 -> 6
    image, mask = _inputs(1, 48, 48)
    with torch.no_grad():
        assert model(image, mask).shape == (1, 3, 48, 48)


def test_context_encoder_resizes_other_sizes() -> None:
    """Any size: resize the input to image_size, run, resize the prediction back."""
    torch.manual_seed(0)
    model = build_model("context_encoder", base=4, image_size=32, bottleneck=16).eval()
    image, mask = _inputs(2, 64, 96)
    with torch.no_grad():
        out = model(image, mask)  # (2, 3, 64, 96)
        small_image = F.interpolate(image, size=(32, 32), mode="bilinear", antialias=True)
        small_mask = F.adaptive_max_pool2d(mask, (32, 32))
        ref = F.interpolate(
            model(small_image, small_mask), size=(64, 96), mode="bilinear", antialias=True
        )
    assert out.shape == (2, 3, 64, 96)
    torch.testing.assert_close(out, ref)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    with torch.no_grad():  # odd sizes too (size_multiple = 1), smaller than image_size too
        assert model(*_inputs(1, 17, 45)).shape == (1, 3, 17, 45)


def test_context_encoder_keeps_thin_holes_when_downsizing() -> None:
    """The mask is max-pooled: a 1-pixel hole still marks its low-resolution pixel a hole."""
    model = build_model("context_encoder", base=4, image_size=32, bottleneck=16).eval()
    seen: list[Tensor] = []
    model.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    image = torch.rand(1, 3, 128, 128)
    mask = torch.zeros(1, 1, 128, 128)
    mask[0, 0, 65, 33] = 1.0
    with torch.no_grad():
        model(image, mask)
    (x,) = seen
    assert x.shape == (1, 4, 32, 32)
    assert torch.nonzero(x[0, 3]).tolist() == [[16, 8]]


# ----------------------------------------------------------------------------- glcic


def test_glcic_layout_iizuka_table1() -> None:
    model = build_model("glcic")  # base 64
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(layers) == 17  # Table 1: 15 convs (6 dilated ...) and 2 deconvs
    assert [m.out_channels for m in layers[:6]] == [64, 128, 128, 256, 256, 256]
    assert [m.out_channels for m in layers[6:]] == [256] * 6 + [128, 128, 64, 32, 3]
    assert layers[0].kernel_size == (5, 5)
    assert [m.stride[0] for m in layers[:4]] == [1, 2, 1, 2]
    dilated = [m for m in layers if m.dilation != (1, 1)]
    assert tuple(m.dilation[0] for m in dilated) == DILATIONS == (2, 4, 8, 16)
    assert all(m.padding == m.dilation and m.kernel_size == (3, 3) for m in dilated)
    deconvs = [m for m in layers if isinstance(m, nn.ConvTranspose2d)]
    assert [(d.kernel_size, d.stride) for d in deconvs] == [((4, 4), (2, 2))] * 2
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 16
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 16


def test_glcic_receptive_field() -> None:
    """Each output pixel sees 299 x 299 input pixels (the paper counts 307 x 307 for its
    network; the difference is in how the deconvolutions are counted). Golden value from:
    the gradient of one output pixel of a base-2 network (eval mode) w.r.t. a 352x352 input."""
    torch.manual_seed(0)
    model = build_model("glcic", base=2).eval()
    image = torch.rand(1, 3, 352, 352, requires_grad=True)
    model(image, torch.zeros(1, 1, 352, 352))[0, :, 176, 176].sum().backward()
    touched = image.grad.abs().sum(dim=(0, 1)) > 0  # (352, 352)
    rows = torch.nonzero(touched.any(dim=1)).flatten()
    cols = torch.nonzero(touched.any(dim=0)).flatten()
    assert int(rows[-1] - rows[0]) + 1 == 299
    assert int(cols[-1] - cols[0]) + 1 == 299


def test_glcic_small_base_has_at_least_one_channel() -> None:
    model = build_model("glcic", base=1)
    image, mask = _inputs(1, 16, 16)
    assert model(image, mask).shape == (1, 3, 16, 16)


def test_residual_unet_starts_as_the_identity_and_learns() -> None:
    from mattepaint.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("unet_inpaint", base=4, depth=2, residual=True)
    image = torch.rand(2, 3, 16, 16) * 0.9 + 0.05
    mask = (torch.rand(2, 1, 16, 16) > 0.5).float()
    out = model(image, mask)
    assert torch.allclose(out, image, atol=1e-5)  # an untrained refiner returns its input
    out.sub(0.5).square().mean().backward()
    assert float(model.unet.head.weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="residual must be a bool"):
        build_model("unet_inpaint", residual="yes")


def _trained_like(model: nn.Module, seed: int) -> nn.Module:
    """Random weights everywhere, BatchNorm statistics included (as after training)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=gen)
                tensor.copy_(values + 0.5 if "running_var" in name else values - 0.5)
    return model


@pytest.mark.parametrize("norm,up", [("batch", "transpose"), ("none", "bilinear")])
def test_a_widened_unet_starts_with_the_narrow_ones_output_and_learns(norm: str, up: str) -> None:
    params = {"depth": 2, "residual": True, "norm": norm, "up": up}
    narrow = _trained_like(build_model("unet_inpaint", base=4, **params), seed=1)
    torch.manual_seed(2)
    wide = build_model("unet_inpaint", base=6, **params)
    grown = wide.adapt_state(narrow.state_dict())
    assert set(grown) == set(wide.state_dict())
    wide.load_state_dict(grown)  # every shape fits
    image, mask = _inputs(2, 16, 16, seed=3)
    for mode in ("eval", "train"):  # training-mode BatchNorm too: statistics are per channel
        narrow.train(mode == "train")
        wide.train(mode == "train")
        with torch.no_grad():
            torch.testing.assert_close(wide(image, mask), narrow(image, mask), atol=2e-6, rtol=0)
    # the zero outgoing weights of the new channels get gradients, so training grows them
    wide.train()
    wide(image, mask).sub(0.3).square().mean().backward()
    head = wide.unet.head.weight  # (3, 6, 1, 1): columns 4, 5 come from new channels
    assert torch.equal(head.detach()[:, 4:], torch.zeros_like(head[:, 4:]))
    assert float(head.grad[:, 4:].abs().sum()) > 0


def test_growing_a_unet_refuses_what_does_not_fit() -> None:
    wide = build_model("unet_inpaint", base=6, depth=2)
    same = wide.state_dict()
    assert all(torch.equal(same[k], v) for k, v in wide.adapt_state(same).items())
    with pytest.raises(ValueError, match="cannot shrink"):
        build_model("unet_inpaint", base=4, depth=2).adapt_state(same)
    with pytest.raises(ValueError, match="not a U-Net of this depth"):
        wide.adapt_state(build_model("unet_inpaint", base=4, depth=3).state_dict())
    with pytest.raises(ValueError, match="not the weights of a U-Net"):
        wide.adapt_state({"head.weight": torch.zeros(3)})


def test_init_from_widens_a_narrower_checkpoint(tmp_path) -> None:
    from mattepaint.models.checkpoint import save_model
    from mattepaint.train.setup import init_from_checkpoint

    params = {"depth": 2, "residual": True}
    narrow = _trained_like(build_model("unet_inpaint", base=4, **params), seed=4).eval()
    path = save_model(tmp_path / "narrow.safetensors", narrow, name="unet_inpaint",
                      params={"base": 4, **params})
    wide = build_model("unet_inpaint", base=8, **params).eval()
    init_from_checkpoint(wide, str(path), is_main=True)
    image, mask = _inputs(1, 16, 16, seed=5)
    with torch.no_grad():
        torch.testing.assert_close(wide(image, mask), narrow(image, mask), atol=2e-6, rtol=0)


def test_bilinear_up_state_keeps_the_mean_of_each_transposed_block() -> None:
    from mattepaint.models.layers.unet import UNet, bilinear_up_state

    transposed = _trained_like(UNet(4, 3, base=4, depth=1, up="transpose"), seed=6)
    bilinear = UNet(4, 3, base=4, depth=1, up="bilinear")
    bilinear.load_state_dict(bilinear_up_state(bilinear, transposed.state_dict()))  # strict
    # on features constant in space, bilinear x2 + conv1x1 gives the mean of each 2x2 block
    # the transposed convolution drew: the checkerboard part is what is dropped
    x = torch.rand(2, 8, 1, 1).expand(2, 8, 5, 7)  # (B, 2 * base, h, w), one value per channel
    with torch.no_grad():
        blocks = transposed.ups[0](x)  # (2, 4, 10, 14), periodic with period 2
        smooth = bilinear.ups[0](x)
    assert blocks[..., 0::2, 0::2].sub(blocks[..., 1::2, 1::2]).abs().max() > 1e-2
    torch.testing.assert_close(smooth, nn.functional.avg_pool2d(blocks, 2).repeat_interleave(
        2, dim=-2).repeat_interleave(2, dim=-1), atol=1e-6, rtol=0)
    # computed conv1x1-then-upsample for speed: the same values as the declared order
    varied = torch.rand(2, 8, 5, 7)
    with torch.no_grad():
        upsample, conv = bilinear.ups[0].up
        torch.testing.assert_close(bilinear.ups[0](varied), conv(upsample(varied)))
    # a bilinear model and a transposed one keep their weights as they are
    same = bilinear.state_dict()
    assert bilinear_up_state(bilinear, same).keys() == same.keys()
    kept = bilinear_up_state(transposed, transposed.state_dict())
    assert kept.keys() == transposed.state_dict().keys()
    assert {"ups.0.up.weight", "ups.0.up.1.weight"} & kept.keys() == {"ups.0.up.weight"}
    bad = dict(transposed.state_dict(), **{"ups.0.up.weight": torch.zeros(8, 4, 3, 3)})
    with pytest.raises(ValueError, match="2x2 transposed-convolution kernel"):
        bilinear_up_state(bilinear, bad)


def test_init_from_turns_a_narrow_transposed_model_into_a_wide_bilinear_one(tmp_path) -> None:
    from mattepaint.models.checkpoint import save_model
    from mattepaint.train.setup import init_from_checkpoint

    params = {"depth": 2, "residual": True}
    narrow = _trained_like(build_model("unet_inpaint", base=4, **params), seed=7).eval()
    path = save_model(tmp_path / "narrow.safetensors", narrow, name="unet_inpaint",
                      params={"base": 4, **params})
    # the same conversion at the same width, then widened: exactly the narrow bilinear model
    narrow_bilinear = build_model("unet_inpaint", base=4, up="bilinear", **params).eval()
    narrow_bilinear.load_state_dict(narrow_bilinear.adapt_state(narrow.state_dict()))
    wide = build_model("unet_inpaint", base=6, up="bilinear", **params).eval()
    init_from_checkpoint(wide, str(path), is_main=True)
    image, mask = _inputs(1, 16, 16, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(wide(image, mask), narrow_bilinear(image, mask), atol=2e-6,
                                   rtol=0)
        # and close to the transposed original: the checkerboard part is all that is dropped
        torch.testing.assert_close(wide(image, mask), narrow(image, mask), atol=1e-3, rtol=0)
    # bilinear weights do not go back into a transposed model
    with pytest.raises(ValueError, match="depth, norm and up-sampling"):
        build_model("unet_inpaint", base=6, **params).adapt_state(narrow_bilinear.state_dict())
