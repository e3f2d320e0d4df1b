"""Tests for mattepaint.models.backbones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from mattepaint.models.backbones import (
    ALEXNET_LAYERS,
    VGG16_LAYERS,
    AlexNetFeatures,
    VGG16Features,
    load_backbone_weights,
    read_weights,
)

BACKBONES = {"alex": AlexNetFeatures, "vgg": VGG16Features}
FILES = {
    "alex": "alexnet_imagenet_features.safetensors",
    "vgg": "vgg16_imagenet_features_fp16.safetensors",
}


def _random_state(net: str, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return BACKBONES[net]().state_dict()


# ----------------------------------------------------------------------------- structure


def test_torchvision_layout() -> None:
    # conv layer indices of torchvision's vgg16().features / alexnet().features
    vgg_convs = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert sorted({int(k.split(".")[1]) for k in VGG16Features().state_dict()}) == vgg_convs
    alex_convs = [0, 3, 6, 8, 10]
    assert sorted({int(k.split(".")[1]) for k in AlexNetFeatures().state_dict()}) == alex_convs
    # parameter counts of torchvision's feature stacks
    assert sum(p.numel() for p in VGG16Features().parameters()) == 14_714_688
    assert sum(p.numel() for p in AlexNetFeatures().parameters()) == 2_469_696
    assert VGG16_LAYERS["relu1_2"] == 3 and VGG16_LAYERS["pool3"] == 16
    assert VGG16_LAYERS["relu5_3"] == 29 and len(VGG16Features().features) == 31
    assert ALEXNET_LAYERS["relu5"] == 11 and len(AlexNetFeatures().features) == 13


@pytest.mark.parametrize(
    ("net", "size", "expected"),
    [
        ("vgg", 32, [(64, 32), (128, 16), (256, 8), (512, 4), (512, 2)]),
        ("alex", 64, [(64, 15), (192, 7), (384, 3), (256, 3), (256, 3)]),
    ],
)
def test_default_taps_shapes(net: str, size: int, expected: list[tuple[int, int]]) -> None:
    out = BACKBONES[net]()(torch.rand(2, 3, size, size))
    assert [(t.shape[1], t.shape[2]) for t in out] == expected
    assert all(t.shape[0] == 2 and t.shape[2] == t.shape[3] for t in out)
    assert all(bool((t >= 0).all()) for t in out)  # ReLU outputs


def test_named_and_indexed_layers_in_order() -> None:
    model = VGG16Features()
    x = torch.rand(1, 3, 16, 16)
    pool3, relu1_1, conv1_1 = model(x, ["pool3", "relu1_1", 0])
    assert pool3.shape == (1, 256, 2, 2)
    assert torch.equal(relu1_1, conv1_1.clamp(min=0))  # ReLU is not in place
    assert (conv1_1 < 0).any()


def test_gradient_reaches_every_parameter() -> None:
    for cls, size in ((AlexNetFeatures, 64), (VGG16Features, 32)):
        model = cls()
        sum(t.mean() for t in model(torch.rand(1, 3, size, size))).backward()
        for name, param in model.named_parameters():
            assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_forward_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown layer 'relu6'.*valid names: conv1, relu1"):
        AlexNetFeatures()(torch.rand(1, 3, 64, 64), ["relu6"])
    with pytest.raises(ValueError, match=r"layer index must be in \[0, 30\], got 31"):
        VGG16Features()(torch.rand(1, 3, 32, 32), [31])
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\), got \(1, 1, 32, 32\)"):
        VGG16Features()(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="at least one layer"):
        VGG16Features()(torch.rand(1, 3, 32, 32), [])


# ----------------------------------------------------------------------------- loading


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_load_safetensors_fp16_cast_to_float32(net: str, tmp_path: Path) -> None:
    state = _random_state(net, seed=1)
    half = {k: v.half() for k, v in state.items()}
    save_file(half, tmp_path / "w.safetensors")
    model = load_backbone_weights(BACKBONES[net](), tmp_path / "w.safetensors")
    for key, value in model.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, half[key].float())


def test_load_torchvision_pth_ignores_classifier(tmp_path: Path) -> None:
    state = _random_state("alex", seed=2)
    full = dict(state)
    full["classifier.1.weight"] = torch.rand(4, 9216)
    full["classifier.1.bias"] = torch.rand(4)
    torch.save(full, tmp_path / "alexnet.pth")
    model = load_backbone_weights(AlexNetFeatures(), tmp_path / "alexnet.pth")
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    torch.save({"state_dict": full, "epoch": 3}, tmp_path / "wrapped.pt")
    model = load_backbone_weights(AlexNetFeatures(), tmp_path / "wrapped.pt")
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_load_errors(tmp_path: Path) -> None:
    state = _random_state("alex")
    with pytest.raises(FileNotFoundError, match=r"not found: .*absent\.safetensors"):
        load_backbone_weights(AlexNetFeatures(), tmp_path / "absent.safetensors")

    missing = {k: v for k, v in state.items() if k != "features.8.bias"}
    save_file(missing, tmp_path / "missing.safetensors")
    expected = r"does not fit AlexNetFeatures: missing keys \['features.8.bias'\]"
    with pytest.raises(ValueError, match=expected):
        load_backbone_weights(AlexNetFeatures(), tmp_path / "missing.safetensors")

    wrong = dict(state)
    wrong["features.3.weight"] = torch.rand(192, 64, 3, 3)
    torch.save(wrong, tmp_path / "wrong.pth")
    expected = r"features.3.weight: expected \(192, 64, 5, 5\), got \(192, 64, 3, 3\)"
    with pytest.raises(ValueError, match=expected):
        load_backbone_weights(AlexNetFeatures(), tmp_path / "wrong.pth")

    extra = dict(state)
    extra["features.13.weight"] = torch.rand(3)  # e.g. a batch-norm or deeper checkpoint
    save_file(extra, tmp_path / "extra.safetensors")
    with pytest.raises(ValueError, match=r"unexpected keys \['features.13.weight'\]"):
        load_backbone_weights(AlexNetFeatures(), tmp_path / "extra.safetensors")

    save_file(state, tmp_path / "alex.safetensors")
    with pytest.raises(ValueError, match="does not fit VGG16Features"):
        load_backbone_weights(VGG16Features(), tmp_path / "alex.safetensors")

    (tmp_path / "w.npz").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.safetensors, \.pth or \.pt file, got 'w.npz'"):
        read_weights(tmp_path / "w.npz")
    (tmp_path / "corrupt.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read weights file"):
        read_weights(tmp_path / "corrupt.safetensors")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="must hold a dict of tensors, got list"):
        read_weights(tmp_path / "list.pt")


# ----------------------------------------------------------------------------- real weights


@pytest.mark.shared_data
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_real_weights_load(shared_file: Callable[..., Path], net: str) -> None:
    path = shared_file("weights", FILES[net])
    model = load_backbone_weights(BACKBONES[net](), path)
    raw = load_file(str(path))
    for key, value in model.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.equal(value, raw[key].float())
    # ImageNet first-layer filters are far from a fresh random initialisation
    fresh = BACKBONES[net]().features[0].weight
    assert not torch.allclose(model.features[0].weight, fresh)
    out = model(torch.rand(1, 3, 64, 64))
    assert all(torch.isfinite(t).all() and t.abs().sum() > 0 for t in out)
