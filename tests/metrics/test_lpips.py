"""Tests for mattepaint.metrics.lpips.

Core tests use random weights written to tmp_path (right keys and shapes); the tests on the real
ImageNet / LPIPS v0.1 weights take the ``shared_data`` fixture and skip without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file
from scipy.ndimage import gaussian_filter

from mattepaint.metrics.lpips import LPIPS, LPIPS_FILES, WEIGHTS_ENV
from mattepaint.models.backbones import AlexNetFeatures, VGG16Features

CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}
MIN_SIZE = {"alex": 31, "vgg": 16}


def _write_random_weights(folder: Path, net: str, seed: int = 0) -> Path:
    """Random backbone + lin files with the real names, keys and shapes (vgg stored fp16)."""
    torch.manual_seed(seed)
    backbone = AlexNetFeatures() if net == "alex" else VGG16Features()
    state = backbone.state_dict()
    if net == "vgg":
        state = {k: v.half() for k, v in state.items()}
    backbone_name, lin_name = LPIPS_FILES[net]
    save_file(state, folder / backbone_name)
    lins = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(CHANNELS[net])}
    save_file(lins, folder / lin_name)
    return folder


@pytest.fixture(params=["alex", "vgg"])
def random_model(request, tmp_path) -> LPIPS:
    return LPIPS.from_dir(request.param, _write_random_weights(tmp_path, request.param))


def _reference_lpips(
    backbone: dict[str, torch.Tensor],
    lins: dict[str, torch.Tensor],
    net: str,
    x: torch.Tensor,
    y: torch.Tensor,
) -> torch.Tensor:
    """Independent LPIPS v0.1 in float64 with plain functional calls on the raw state dicts.

    Written from the paper and the reference repository's description (richzhang/
    PerceptualSimilarity lpips/lpips.py, pretrained_networks.py); shares no code with the package.
    """
    w = {k: v.double() for k, v in backbone.items()}
    shift = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)

    def conv_relu(v: torch.Tensor, i: int, **kw) -> torch.Tensor:
        return F.relu(F.conv2d(v, w[f"features.{i}.weight"], w[f"features.{i}.bias"], **kw))

    def taps(v: torch.Tensor) -> list[torch.Tensor]:
        v = (2 * v.double() - 1 - shift) / scale
        out = []
        if net == "alex":
            v = conv_relu(v, 0, stride=4, padding=2)
            out.append(v)
            v = conv_relu(F.max_pool2d(v, 3, 2), 3, padding=2)
            out.append(v)
            v = conv_relu(F.max_pool2d(v, 3, 2), 6, padding=1)
            out.append(v)
            v = conv_relu(v, 8, padding=1)
            out.append(v)
            v = conv_relu(v, 10, padding=1)
            out.append(v)
        else:
            blocks = [(0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28)]
            for b, block in enumerate(blocks):
                if b:
                    v = F.max_pool2d(v, 2, 2)
                for i in block:
                    v = conv_relu(v, i, padding=1)
                out.append(v)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
        return out

    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for k, (a, b) in enumerate(zip(taps(x), taps(y))):
        a = a / (torch.sqrt((a**2).sum(dim=1, keepdim=True)) + 1e-10)
        b = b / (torch.sqrt((b**2).sum(dim=1, keepdim=True)) + 1e-10)
        weight = lins[f"lin{k}.model.1.weight"].double().view(1, -1, 1, 1)
        total += ((a - b) ** 2 * weight).sum(dim=1).mean(dim=(1, 2))
    return total


# ----------------------------------------------------------------------------- core


def test_shapes_zero_and_frozen(random_model: LPIPS) -> None:
    x = torch.rand(2, 3, 40, 33, generator=torch.Generator().manual_seed(1))
    y = torch.rand(2, 3, 40, 33, generator=torch.Generator().manual_seed(2))
    d = random_model(x, y)
    assert d.shape == (2,)
    assert torch.all(d > 0)
    assert torch.equal(random_model(x, x), torch.zeros(2))
    assert not random_model.training
    assert all(not p.requires_grad for p in random_model.parameters())
    assert all(p.dtype == torch.float32 for p in random_model.parameters())  # vgg file is fp16


def test_matches_independent_reference(random_model: LPIPS, tmp_path: Path) -> None:
    net = random_model.net_name
    backbone = load_file(str(tmp_path / LPIPS_FILES[net][0]))
    lins = load_file(str(tmp_path / LPIPS_FILES[net][1]))
    gen = torch.Generator().manual_seed(3)
    x, y = torch.rand(2, 3, 48, 40, generator=gen), torch.rand(2, 3, 48, 40, generator=gen)
    expected = _reference_lpips(backbone, lins, net, x, y)
    assert torch.allclose(random_model(x, y).double(), expected, rtol=1e-5, atol=1e-6)


def test_minimum_size(random_model: LPIPS) -> None:
    size = MIN_SIZE[random_model.net_name]
    assert random_model(torch.rand(1, 3, size, size), torch.rand(1, 3, size, size)).shape == (1,)
    with pytest.raises(ValueError, match=f"at least {size}x{size}, got {size - 1}x{size}"):
        random_model(torch.rand(1, 3, size - 1, size), torch.rand(1, 3, size - 1, size))


def test_differentiable_wrt_inputs(tmp_path: Path) -> None:
    model = LPIPS.from_dir("alex", _write_random_weights(tmp_path, "alex")).double()
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(1, 3, 32, 32, generator=gen, dtype=torch.float64)
    y = torch.rand(1, 3, 32, 32, generator=gen, dtype=torch.float64)
    direction = torch.randn(1, 3, 32, 32, generator=gen, dtype=torch.float64)
    # directional gradcheck: d/dt LPIPS(x + t * direction, y), cheap enough for a unit test
    t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: model(x + s * 0.01 * direction, y), (t,))
    x = x.clone().requires_grad_(True)
    model(x, y).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_random_weights(tmp_path, "alex")
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    from_env = LPIPS("alex")
    explicit = LPIPS(
        "alex",
        backbone_weights=tmp_path / LPIPS_FILES["alex"][0],
        lin_weights=tmp_path / LPIPS_FILES["alex"][1],
    )
    x, y = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    assert torch.equal(from_env(x, y), explicit(x, y))


def test_missing_file_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    _write_random_weights(tmp_path, "alex")
    missing = tmp_path / "nope.safetensors"
    expected = r"nope\.safetensors.*lin_weights=.*MATTEPAINT_WEIGHTS"
    with pytest.raises(FileNotFoundError, match=expected):
        LPIPS("alex", backbone_weights=tmp_path / LPIPS_FILES["alex"][0], lin_weights=missing)
    expected = r"alexnet_imagenet.*backbone_weights=.*MATTEPAINT_WEIGHTS"
    with pytest.raises(FileNotFoundError, match=expected):
        LPIPS("alex")  # no path and no environment variable
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "empty"))
    expected = r"empty.vgg16_imagenet.*backbone_weights=.*MATTEPAINT_WEIGHTS"
    with pytest.raises(FileNotFoundError, match=expected):
        LPIPS("vgg")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (_write_random_weights(other, "vgg") / LPIPS_FILES["vgg"][1]).unlink()
    with pytest.raises(FileNotFoundError, match=r"elsewhere.lpips_v0\.1_vgg_lin.*lin_weights="):
        LPIPS.from_dir("vgg", other)


def test_wrong_shapes(tmp_path: Path) -> None:
    folder = _write_random_weights(tmp_path, "alex")
    bad_lin = tmp_path / "bad_lin.safetensors"
    lins = load_file(str(folder / LPIPS_FILES["alex"][1]))
    lins["lin2.model.1.weight"] = torch.rand(1, 256, 1, 1)
    del lins["lin4.model.1.weight"]
    save_file(lins, bad_lin)
    backbone = folder / LPIPS_FILES["alex"][0]
    expected = r"lin2.*expected \(1, 384, 1, 1\), got \(1, 256, 1, 1\).*missing key lin4"
    with pytest.raises(ValueError, match=expected):
        LPIPS("alex", backbone_weights=backbone, lin_weights=bad_lin)
    # vgg lin weights do not fit alex
    _write_random_weights(tmp_path, "vgg")
    with pytest.raises(ValueError, match="does not fit LPIPS-alex"):
        LPIPS("alex", backbone_weights=backbone, lin_weights=folder / LPIPS_FILES["vgg"][1])
    # vgg backbone does not fit alex
    with pytest.raises(ValueError, match="does not fit AlexNetFeatures"):
        LPIPS("alex", backbone_weights=folder / LPIPS_FILES["vgg"][0], lin_weights=bad_lin)


def test_torchvision_style_pth(tmp_path: Path) -> None:
    folder = _write_random_weights(tmp_path, "alex")
    state = load_file(str(folder / LPIPS_FILES["alex"][0]))
    state["classifier.1.weight"] = torch.rand(10, 9216)  # torchvision's head, to be ignored
    state["classifier.1.bias"] = torch.rand(10)
    torch.save(state, tmp_path / "alexnet-owt.pth")
    lins = load_file(str(folder / LPIPS_FILES["alex"][1]))
    torch.save(lins, tmp_path / "alex.pth")  # the reference repository's lin file format
    from_pth = LPIPS("alex", backbone_weights=tmp_path / "alexnet-owt.pth",
                     lin_weights=tmp_path / "alex.pth")  # fmt: skip
    from_st = LPIPS.from_dir("alex", folder)
    x, y = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    assert torch.equal(from_pth(x, y), from_st(x, y))


def test_input_errors(random_model: LPIPS) -> None:
    with pytest.raises(ValueError, match="unknown LPIPS net 'squeeze'; valid: alex, vgg"):
        LPIPS("squeeze")
    expected = r"x and y must have the same shape.*\(1, 3, 32, 32\).*\(1, 3, 32, 40\)"
    with pytest.raises(ValueError, match=expected):
        random_model(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40))
    with pytest.raises(ValueError, match=r"x must be \(B, 3, H, W\), got \(1, 1, 32, 32\)"):
        random_model(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(TypeError, match="uint8"):
        random_model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 3, 32, 32))
    with pytest.warns(UserWarning, match=r"should be in \[0, 1\]"):
        random_model(torch.full((1, 3, 32, 32), 2.0), torch.zeros(1, 3, 32, 32))


# ----------------------------------------------------------------------------- real weights


def _real_image(shared_file: Callable[..., Path], size: tuple[int, int]) -> np.ndarray:
    path = shared_file("images", "kodak24", "kodim05.png")
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return image[128 : 128 + size[0], 160 : 160 + size[1]]  # (H, W, 3) crop with texture


def _weights_dir(shared_data: Path, net: str) -> Path:
    folder = shared_data / "weights"
    if not all((folder / name).is_file() for name in LPIPS_FILES[net]):
        pytest.skip(f"LPIPS-{net} weights not found in {folder}")
    return folder


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]  # (1, 3, H, W)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([gaussian_filter(image[..., c], sigma) for c in range(3)], axis=-1)


@pytest.mark.shared_data
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_real_weights(shared_data: Path, shared_file: Callable[..., Path], net: str) -> None:
    folder = _weights_dir(shared_data, net)
    model = LPIPS.from_dir(net, folder)
    image = _real_image(shared_file, (96, 128) if net == "alex" else (64, 64))  # vgg is slow
    ref = _to_tensor(image)
    blur1, blur3 = _to_tensor(_blur(image, 1.0)), _to_tensor(_blur(image, 3.0))
    noise = 0.1 * np.random.default_rng(0).standard_normal(image.shape)
    noisy = _to_tensor(np.clip(image + noise, 0, 1).astype(np.float32))

    x = torch.cat([ref, ref, ref, ref])
    y = torch.cat([ref, blur1, blur3, noisy])
    d = model(x, y)
    assert d.shape == (4,)
    assert float(d[0]) == 0.0
    assert 0 < float(d[1]) < float(d[2])  # heavier blur, larger distance

    backbone = load_file(str(folder / LPIPS_FILES[net][0]))
    lins = load_file(str(folder / LPIPS_FILES[net][1]))
    expected = _reference_lpips(backbone, lins, net, x, y)
    assert torch.allclose(d.double(), expected, rtol=0, atol=1e-5)


# The published numbers of the reference implementation (richzhang/PerceptualSimilarity, LPIPS
# v0.1) on its official example images imgs/ex_ref.png, ex_p0.png, ex_p1.png (copied to
# shared data lpips_examples/, whose README records these values): the distances of
# (ex_ref, ex_p0) and (ex_ref, ex_p1), to 3 decimals.
PUBLISHED_LPIPS = {"alex": (0.722, 0.138), "vgg": (0.569, 0.422)}


@pytest.mark.shared_data
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_published_numbers_on_the_official_examples(shared_data: Path, net: str) -> None:
    folder = shared_data / "lpips_examples"
    paths = [folder / f"{name}.png" for name in ("ex_ref", "ex_p0", "ex_p1")]
    if not all(path.is_file() for path in paths):
        pytest.skip(f"the official LPIPS example images are not in {folder}")
    ref, p0, p1 = (
        _to_tensor(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255)
        for path in paths
    )  # each (1, 3, 64, 64) in [0, 1]
    model = LPIPS.from_dir(net, _weights_dir(shared_data, net))
    with torch.no_grad():
        d = model(torch.cat([ref, ref]), torch.cat([p0, p1]))  # (2,)
    assert d.shape == (2,)
    assert (round(float(d[0]), 3), round(float(d[1]), 3)) == PUBLISHED_LPIPS[net]
