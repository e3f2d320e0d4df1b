"""Tests for mattepaint.models.registry and, through it, every registered model.

Each registered model is built with small parameters (``SMALL_PARAMS`` of _model_helpers.py;
models not listed there use their defaults) and checked for: forward shape, finite output, a
finite gradient for every parameter (non-zero, so a layer cut off from the output is caught;
ZERO_INIT_LAYERS lists the layers zero-initialised on purpose), and the output range of its task. A new model is covered
the day it is registered.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import torch
from _model_helpers import SMALL_PARAMS  # tests/models/_model_helpers.py
from torch import Tensor, nn

from mattepaint.models import registry
from mattepaint.models.registry import (
    build_model,
    model_entry,
    model_names,
    model_task,
    register_model,
)

# Extra variants of the built-in models (other code paths than the defaults).
VARIANTS: list[tuple[str, dict[str, object]]] = [
    ("unet_inpaint", {"base": 4, "depth": 3, "norm": "none", "up": "bilinear"}),
    ("unet_inpaint", {"base": 4, "depth": 1}),
    ("unet_inpaint", {"base": 4, "depth": 2, "residual": True}),
    ("ffc_inpaint", {"base": 4, "n_down": 1, "n_blocks": 2, "ratio": 0.5}),
    ("patch_discriminator", {"base": 4, "n_layers": 3, "spectral_norm": True}),
    ("patch_discriminator", {"base": 4, "n_layers": 2, "norm": "instance"}),
    ("unet_matte", {"base": 4, "depth": 2, "background": "rgb", "predict_foreground": True}),
    ("late_fusion", {"base": 4, "depth": 3, "fusion_width": 4, "freeze": ["encoder"]}),
    ("trimap_matte", {"base": 4, "depth": 3, "trimap_input": "value"}),
    ("global_local_critic", {"base": 4, "local_size": 16, "mode": "separate"}),
    ("pconv_unet", {"layout": "liu", "base": 4, "depth": 5}),
    ("dim_matte", {"encoder": "scratch", "width": 4, "prior": "none", "refine": False}),
]
SIZE = 32  # input side; divisible by 2**depth of the U-Nets above, >= 3 * 2**n_layers

# Layers that a model zero-initialises on purpose, by model name -> module names. A residual
# model starts as the identity on its input: its last layer is all zeros, so every parameter
# upstream of it gets an exactly zero gradient at initialisation. The gradient test gives these
# layers random weights first (when they are still all zeros), so that it can demand a non-zero
# gradient for EVERY parameter, the upstream ones included. Keep this list explicit and short.
ZERO_INIT_LAYERS: dict[str, tuple[str, ...]] = {
    "unet_inpaint": ("unet.head",),  # residual=True: nn.init.zeros_ on the output conv
    "dim_matte": ("head", "refine.4"),  # a correction of the prior matte, starting at zero
    "ffc_inpaint": ("head",),  # always residual: nn.init.zeros_ on the output conv
}

CASES = [(name, SMALL_PARAMS.get(name, {})) for name in model_names()] + VARIANTS


def _case_id(case: tuple[str, dict[str, object]]) -> str:
    name, params = case
    return name + "".join(f"-{k}={v}" for k, v in params.items())


# Forward argument name -> channels; other names fall back to the model's in_channels.
_ARG_CHANNELS = {"image": 3, "background": 3, "bg": 3, "mask": 1, "trimap": 1, "alpha": 1}


def _example_inputs_named(
    name: str, batch: int, gen: torch.Generator, default_channels: int = 3
) -> dict[str, Tensor]:
    x = torch.rand(batch, _ARG_CHANNELS.get(name, default_channels), SIZE, SIZE, generator=gen)
    if name == "mask":
        x = (x > 0.7).float()  # binary, 1 = hole
    elif name == "trimap":
        x = torch.round(x * 2) / 2  # {0, 0.5, 1}
    return {name: x}


def _example_inputs(model: nn.Module, task: str, batch: int = 2) -> dict[str, Tensor]:
    """Inputs for ``model.forward`` built from its parameter names (image (B,3,S,S), mask ...)."""
    gen = torch.Generator().manual_seed(0)
    names = [
        p.name
        for p in inspect.signature(model.forward).parameters.values()
        if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    ]
    inputs = {}
    for name in names:
        inputs.update(_example_inputs_named(name, batch, gen, getattr(model, "in_channels", 3)))
    if task == "matting" and getattr(model, "needs", "nothing") != "nothing":
        inputs.update(_example_inputs_named(model.needs, batch, gen))  # keyword-only input
    if task == "matting" and isinstance(getattr(model, "prior", None), str):
        inputs["prior"] = torch.rand(batch, 1, SIZE, SIZE, generator=gen)  # a classical matte
    if task == "discriminator" and len(inputs) == 1:  # discriminators judge C-channel images
        (key,) = inputs
        inputs[key] = torch.rand(batch, getattr(model, "in_channels", 3), SIZE, SIZE, generator=gen)
    return inputs


def _tensors(output: object) -> Iterator[Tensor]:
    """All tensors in a model output (a tensor, a tuple/list/dict of them, or a dataclass)."""
    if isinstance(output, Tensor):
        yield output
    elif isinstance(output, dict):
        for value in output.values():
            yield from _tensors(value)
    elif isinstance(output, (list, tuple)):
        for value in output:
            yield from _tensors(value)
    elif hasattr(output, "__dataclass_fields__"):
        for key in output.__dataclass_fields__:
            yield from _tensors(getattr(output, key))


@pytest.fixture
def temporary_names() -> Iterator[list[str]]:
    """Names registered by a test; removed from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        registry._MODELS.pop(name, None)


# ----------------------------------------------------------------------------- every model


def test_builtin_models_registered() -> None:
    assert {"unet_inpaint", "patch_discriminator"} <= set(model_names())
    assert "unet_inpaint" in model_names("inpainting")
    assert model_names("discriminator") == sorted(model_names("discriminator"))
    assert "patch_discriminator" not in model_names("inpainting")
    assert model_task("unet_inpaint") == "inpainting"
    assert model_task("patch_discriminator") == "discriminator"
    entry = model_entry("unet_inpaint")
    assert entry.name == "unet_inpaint" and entry.task == "inpainting"
    assert entry.description.startswith("Lightweight U-Net inpainter")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_forward_shape_and_finite(case: tuple[str, dict[str, object]]) -> None:
    name, params = case
    task = model_task(name)
    torch.manual_seed(0)
    model = build_model(name, **params)
    assert isinstance(model, nn.Module)
    inputs = _example_inputs(model, task)
    model.eval()
    with torch.no_grad():
        output = model(**inputs)
    tensors = list(_tensors(output))
    assert tensors, f"{name} returned no tensor"
    assert all(bool(torch.isfinite(t).all()) for t in tensors)
    if task == "inpainting":
        assert isinstance(output, Tensor) and output.shape == (2, 3, SIZE, SIZE)
        assert float(output.min()) >= 0.0 and float(output.max()) <= 1.0
        assert isinstance(model.size_multiple, int) and SIZE % model.size_multiple == 0
    elif task == "discriminator":
        assert isinstance(output, Tensor) and output.shape[:2] == (2, 1)
        assert output.ndim in (2, 4)
    else:  # matting: a dict with "alpha" (B, 1, H, W) in [0, 1]
        assert all(t.shape[0] == 2 for t in tensors)
        assert isinstance(output, dict) and output["alpha"].shape == (2, 1, SIZE, SIZE)
        assert all(float(t.min()) >= 0.0 and float(t.max()) <= 1.0 for t in tensors)
        assert model.needs in ("background", "trimap", "nothing")
        assert isinstance(model.size_multiple, int) and SIZE % model.size_multiple == 0


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_every_parameter_gets_a_gradient(case: tuple[str, dict[str, object]]) -> None:
    name, params = case
    torch.manual_seed(0)
    model = build_model(name, **params).train()
    modules = dict(model.named_modules())
    for layer in ZERO_INIT_LAYERS.get(name, ()):
        if layer not in modules:  # not built with these options (dim_matte without refine)
            continue
        weights = list(modules[layer].parameters())
        if all(not bool(w.any()) for w in weights):  # zero-initialised: make it pass gradients
            with torch.no_grad():
                for w in weights:
                    w.normal_(0.0, 0.1)
    inputs = _example_inputs(model, model_task(name))
    loss = sum(t.float().square().mean() for t in _tensors(model(**inputs)))
    loss.backward()
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trained, f"{name} has no trainable parameter"
    without = [n for n, p in trained if p.grad is None]
    assert not without, f"no gradient for {without}"
    nonfinite = [n for n, p in trained if not bool(torch.isfinite(p.grad).all())]
    assert not nonfinite, f"non-finite gradient for {nonfinite}"
    zero = [n for n, p in trained if not bool(p.grad.any())]
    assert not zero, f"an all-zero gradient (a layer disconnected from the output?) for {zero}"


def test_zero_init_layers_are_zero_initialised() -> None:
    # The exemption list above stays true: the residual U-Net's head starts at zero, so the
    # model starts as the identity on its input; without residual it does not.
    residual = build_model("unet_inpaint", base=4, depth=2, residual=True)
    plain = build_model("unet_inpaint", base=4, depth=2)
    head = dict(residual.named_modules())["unet.head"]
    assert all(not bool(p.any()) for p in head.parameters())
    assert any(bool(p.any()) for p in dict(plain.named_modules())["unet.head"].parameters())


# ----------------------------------------------------------------------------- registry errors


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(
        ValueError,
        match=r"unknown model 'unet_inpant' \(did you mean 'unet_inpaint'\?\);"
        r" valid names: .*patch_discriminator.*unet_inpaint",
    ):
        build_model("unet_inpant")
    with pytest.raises(ValueError, match="valid names: .*unet_inpaint"):
        model_task("nope")


def test_bad_params_name_the_model() -> None:
    with pytest.raises(
        ValueError,
        match=r"bad params for model"
        r" 'unet_inpaint'.*'bsae'.*accepts: base, depth",
    ):
        build_model("unet_inpaint", bsae=8)
    with pytest.raises(
        ValueError,
        match=r"bad params for model 'unet_inpaint':"
        r" base must be >= 1, got 0",
    ):
        build_model("unet_inpaint", base=0)
    with pytest.raises(ValueError, match=r"bad params for model 'unet_inpaint': norm must be"):
        build_model("unet_inpaint", norm="layer")
    with pytest.raises(
        ValueError,
        match=r"bad params for model"
        r" 'patch_discriminator': n_layers must be an int",
    ):
        build_model("patch_discriminator", n_layers=2.0)


def test_bad_task_in_model_names() -> None:
    with pytest.raises(ValueError, match="task must be one of inpainting, matting, discriminator"):
        model_names("segmentation")  # type: ignore[arg-type]


def test_register_and_duplicate(temporary_names: list[str]) -> None:
    @register_model("_test_identity", task="inpainting")
    class Identity(nn.Module):
        """Returns the image unchanged (test model).

        More text that is not the description.
        """

        size_multiple = 1

        def forward(self, image: Tensor, mask: Tensor) -> Tensor:
            return image

    temporary_names.append("_test_identity")
    assert "_test_identity" in model_names("inpainting")
    assert model_entry("_test_identity").description == "Returns the image unchanged (test model)."
    assert isinstance(build_model("_test_identity"), Identity)
    with pytest.raises(ValueError, match="model '_test_identity' is already registered"):
        register_model("_test_identity", task="matting")(Identity)
    assert model_task("_test_identity") == "inpainting"  # the first registration stands


def test_register_bad_task_and_non_module(temporary_names: list[str]) -> None:
    with pytest.raises(ValueError, match="task must be one of .* got 'segmentation'"):
        register_model("_test_bad", task="segmentation")  # type: ignore[arg-type]

    @register_model("_test_not_module", task="matting")
    def factory() -> object:
        return object()

    temporary_names.append("_test_not_module")
    with pytest.raises(
        TypeError,
        match="model '_test_not_module' built a"
        " object, not an nn.Module",
    ):
        build_model("_test_not_module")


# ----------------------------------------------------------------------------- architectures


def _unet_param_count(cin: int, cout: int, base: int, depth: int) -> int:
    """Independent count for layers.UNet with norm="batch", up="transpose":
    ConvBlock(a -> b) = 9ab + 9bb (no bias) + 2 * 2b (BatchNorm weight and bias);
    ConvTranspose2d(a -> b, 2x2) = 4ab + b; head conv1x1 = base * cout + cout."""

    def block(a: int, b: int) -> int:
        return 9 * a * b + 9 * b * b + 4 * b

    widths = [base * 2**i for i in range(depth + 1)]
    total = block(cin, widths[0])
    total += sum(block(widths[i - 1], widths[i]) for i in range(1, depth + 1))  # encoder
    total += sum(4 * widths[i + 1] * widths[i] + widths[i] for i in range(depth))  # ups
    total += sum(block(2 * widths[i], widths[i]) for i in range(depth))  # decoder
    return total + widths[0] * cout + cout


@pytest.mark.parametrize(("base", "depth"), [(16, 3), (8, 2), (4, 1)])
def test_unet_inpaint_parameter_count(base: int, depth: int) -> None:
    model = build_model("unet_inpaint", base=base, depth=depth)
    assert sum(p.numel() for p in model.parameters()) == _unet_param_count(4, 3, base, depth)
    assert model.size_multiple == 2**depth
    # seed 000 section 4.3: 4 input channels, base 16, 3 poolings, bottleneck 8 * base
    if (base, depth) == (16, 3):
        assert model.unet.encoder[0][0].in_channels == 4
        assert model.unet.encoder[-1][0].out_channels == 128


def test_unet_inpaint_rejects_bad_sizes() -> None:
    model = build_model("unet_inpaint", base=4, depth=3)
    with pytest.raises(ValueError, match="divisible by 8 .*got 36x40"):
        model(torch.rand(1, 3, 36, 40), torch.zeros(1, 1, 36, 40))
    with pytest.raises(
        ValueError,
        match=r"mask must be \(B, 1, H, W\) like image \(1, 3,"
        r" 32, 32\), got \(1, 32, 32\)",
    ):
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\), got \(1, 4, 32, 32\)"):
        model(torch.rand(1, 4, 32, 32), torch.zeros(1, 1, 32, 32))


def test_unet_skip_connections_carry_full_resolution() -> None:
    # Zero every level below the first: only the full-resolution skip path is left
    # (enc0: two 3x3 convs, dec0: two 3x3 convs, head 1x1), so perturbing one input pixel changes
    # the output exactly within +-4 pixels of it, and nowhere else.
    torch.manual_seed(0)
    model = build_model("unet_inpaint", base=4, depth=2, norm="none").eval()
    with torch.no_grad():
        for p in model.unet.encoder[1:].parameters():
            p.zero_()
        image, mask = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)
        image2 = image.clone()
        image2[0, :, 8, 8] += 0.5
        diff = (model(image2, mask) - model(image, mask)).abs().sum(dim=1)[0]  # (16, 16)
    changed = torch.nonzero(diff > 0)
    assert float(diff[8, 8]) > 0
    assert int(changed.min()) >= 4 and int(changed.max()) <= 12


@pytest.mark.parametrize(
    ("n_layers", "size", "receptive"), [(3, 128, 70), (2, 64, 34), (1, 32, 16)]
)
def test_patch_discriminator_output_size_and_receptive_field(
    n_layers: int, size: int, receptive: int
) -> None:
    # pix2pix's receptive fields: n_layers=3 -> 70x70, 2 -> 34x34, 1 -> 16x16
    torch.manual_seed(0)
    model = build_model("patch_discriminator", base=4, n_layers=n_layers)
    image = torch.rand(1, 3, size, size, requires_grad=True)
    logits = model(image)
    side = model.output_size(size)
    assert logits.shape == (1, 1, side, side) and side == size // 2**n_layers - 2
    logits[0, 0, side // 2, side // 2].backward()  # LeakyReLU: the gradient is never exactly 0
    touched = image.grad.abs().sum(dim=(0, 1)) > 0  # (size, size)
    rows = torch.nonzero(touched.any(dim=1)).flatten()
    cols = torch.nonzero(touched.any(dim=0)).flatten()
    assert int(rows[-1] - rows[0]) + 1 == receptive
    assert int(cols[-1] - cols[0]) + 1 == receptive


def test_patch_discriminator_has_no_batchnorm_by_default() -> None:
    model = build_model("patch_discriminator")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert leaky and all(m.negative_slope == 0.2 for m in leaky)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert all(c.kernel_size == (4, 4) for c in convs)
    assert [c.out_channels for c in convs] == [32, 64, 128, 256, 1]


def test_patch_discriminator_rejects_small_input() -> None:
    model = build_model("patch_discriminator", base=4, n_layers=3)
    assert model.min_size() == 24
    assert model(torch.rand(1, 3, 24, 24)).shape == (1, 1, 1, 1)
    with pytest.raises(ValueError, match="at least 24x24 for n_layers=3, got 23x40"):
        model(torch.rand(1, 3, 23, 40))
    with pytest.raises(ValueError, match=r"input must be \(B, 3, H, W\), got \(1, 4, 32, 32\)"):
        model(torch.rand(1, 4, 32, 32))
