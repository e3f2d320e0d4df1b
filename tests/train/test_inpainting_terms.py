"""The inpainting task's deep-inpainting loss terms: two-stage ("coarse_*") terms, the VGG
perceptual / style terms of Liu et al. (weights from a local file), and the Dice metric."""

from __future__ import annotations

import contextlib
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch
from torch import Tensor, nn

from mattepaint.losses import perceptual
from mattepaint.train.config import ConfigError, config_from_dict
from mattepaint.train.loop import train
from mattepaint.train.tasks import INPAINTING_TERMS, InpaintingTask


class _TwoStage(nn.Module):
    """A minimal two-stage inpainter: coarse = sigmoid(a), pred = sigmoid(b) everywhere."""

    stages = ("coarse",)
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(0.0))
        self.b = nn.Parameter(torch.tensor(1.0))

    def forward(self, image: Tensor, mask: Tensor, return_stages: bool = False):
        coarse = torch.sigmoid(self.a).expand_as(image)
        pred = torch.sigmoid(self.b).expand_as(image)
        return {"pred": pred, "coarse": coarse, "offsets": None} if return_stages else pred


def _task(tmp_path: Path, weights: dict[str, float], **loss_params: object) -> InpaintingTask:
    data = helpers.tiny_config_dict(tmp_path / "images", tmp_path / "run")
    data["loss"] = {"weights": weights, "params": dict(loss_params)}
    return InpaintingTask(config_from_dict(data))


def _batch() -> dict[str, Tensor]:
    image = torch.full((2, 3, 8, 8), 0.25)
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1
    return {"image": image, "mask": mask, "input": image * (1 - mask)}


def _random_batch(size: int) -> dict[str, Tensor]:
    """Two random size x size photos with a centred square hole of half the side."""
    image = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(2, 1, size, size)
    mask[..., size // 4 : size * 3 // 4, size // 4 : size * 3 // 4] = 1
    return {"image": image, "mask": mask, "input": image * (1 - mask)}


def test_coarse_terms_apply_to_the_first_stage(tmp_path: Path) -> None:
    task = _task(tmp_path, {"hole_l1": 1.0, "coarse_hole_l1": 2.0, "coarse_valid_l1": 1.0})
    batch = _batch()
    outputs = task.forward(_TwoStage(), batch)
    assert set(outputs) == {"pred", "comp", "coarse"}
    terms = task.generator_loss(outputs, batch)
    # pred = sigmoid(1) everywhere, coarse = 0.5 everywhere, image = 0.25
    assert terms["hole_l1"].item() == pytest.approx(float(torch.sigmoid(torch.tensor(1.0))) - 0.25)
    assert terms["coarse_hole_l1"].item() == pytest.approx(0.25)
    assert terms["coarse_valid_l1"].item() == pytest.approx(0.25)
    expected = terms["hole_l1"].item() + 2 * 0.25 + 0.25
    assert terms["total"].item() == pytest.approx(expected)


def test_coarse_terms_need_a_two_stage_model(tmp_path: Path) -> None:
    task = _task(tmp_path, {"coarse_l1": 1.0})

    class OneStage(nn.Module):
        def forward(self, image: Tensor, mask: Tensor) -> Tensor:
            return image

    batch = _batch()
    with pytest.raises(ConfigError, match="coarse_\\* terms need a two-stage model"):
        task.generator_loss(task.forward(OneStage(), batch), batch)


def test_every_pixel_term_has_a_coarse_twin() -> None:
    for name in ("l1", "mse", "hole_l1", "valid_l1", "hole_mse", "tv", "discounted_l1"):
        assert name in INPAINTING_TERMS and f"coarse_{name}" in INPAINTING_TERMS
    for name in ("perceptual", "style_out", "style_comp", "adv"):
        assert name in INPAINTING_TERMS and f"coarse_{name}" not in INPAINTING_TERMS


def test_perceptual_terms_without_weights_fail_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vgg_weights"):
        _task(tmp_path, {"hole_l1": 1.0, "perceptual": 0.05})
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        _task(tmp_path, {"style_out": 120.0}, vgg_weights=str(missing))


def test_alex_perceptual_term(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from mattepaint.models.backbones import AlexNetFeatures

    with pytest.raises(FileNotFoundError, match="alex_weights"):
        _task(tmp_path, {"hole_l1": 1.0, "perceptual_alex": 0.25})
    torch.manual_seed(0)
    path = tmp_path / "alex.safetensors"
    save_file(AlexNetFeatures().state_dict(), str(path))
    weights = {"hole_l1": 6.0, "perceptual_alex": 0.25}
    assert _task(tmp_path, weights, alex_weights=str(path)).alex.jitter == 4  # the default
    task = _task(tmp_path, weights, alex_weights=str(path), alex_jitter=0)
    _check_distance_term(task, "perceptual_alex", task.alex, 0.25)


def test_effnet_perceptual_term(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from mattepaint.models.encoders.efficientnet_lite import EfficientNetLite0

    with pytest.raises(FileNotFoundError, match="nope.pth"):
        _task(tmp_path, {"hole_l1": 1.0, "perceptual_effnet": 0.1}, effnet_weights="nope.pth")
    torch.manual_seed(0)
    path = tmp_path / "effnet.safetensors"
    save_file(EfficientNetLite0().state_dict(), str(path))
    weights = {"hole_l1": 6.0, "perceptual_effnet": 0.1, "perceptual_alex": 0.0}
    task = _task(tmp_path, weights, effnet_weights=str(path))
    assert task.alex is None  # a zero weight builds nothing
    _check_distance_term(task, "perceptual_effnet", task.effnet, 0.1)


def _check_distance_term(task: InpaintingTask, name: str, net: torch.nn.Module, weight: float):
    """``name`` (weighted ``weight`` beside hole_l1 6) is ``net(comp, image)``, enters the total
    and passes gradients to the model, none to the frozen network."""
    assert task.term_order == ("hole_l1", name)
    batch = _random_batch(40)
    model = _Constant()
    outputs = task.forward(model, batch)
    terms = task.generator_loss(outputs, batch)
    comp = batch["mask"] * outputs["pred"] + (1 - batch["mask"]) * batch["image"]
    assert terms[name].item() == pytest.approx(net(comp, batch["image"]).item(), rel=1e-6)
    assert terms[name].item() > 0
    total = 6.0 * terms["hole_l1"] + weight * terms[name]
    assert terms["total"].item() == pytest.approx(total.item(), rel=1e-5)
    terms["total"].backward()
    assert model.value.grad is not None and torch.isfinite(model.value.grad)
    assert all(p.grad is None for p in net.parameters())


def test_liu_total_terms(tmp_path: Path) -> None:
    liu = {
        "valid_l1": 1.0,
        "hole_l1": 6.0,
        "perceptual": 0.05,
        "style_out": 120.0,
        "style_comp": 120.0,
        "tv": 0.1,
    }
    task = _task(tmp_path, liu, vgg_weights=str(helpers.random_vgg_file(tmp_path)))
    batch = _random_batch(16)
    model = _Constant()
    terms = task.generator_loss(task.forward(model, batch), batch)
    assert set(terms) == set(liu) | {"total"}
    assert all(bool(torch.isfinite(v)) for v in terms.values())
    assert terms["perceptual"].item() > 0 and terms["style_out"].item() > 0
    total = sum(liu[k] * terms[k] for k in liu)
    assert terms["total"].item() == pytest.approx(total.item(), rel=1e-5)
    terms["total"].backward()
    assert model.value.grad is not None and torch.isfinite(model.value.grad)
    # the VGG itself is frozen
    assert all(p.grad is None for p in task.vgg.parameters())


class _Constant(nn.Module):
    size_multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(0.3))

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        return self.value.clamp(0, 1).expand_as(image)


def test_validation_reports_dice(tmp_path: Path) -> None:
    task = _task(tmp_path, {"l1": 1.0})
    batch = _batch()
    batch = {k: torch.nn.functional.interpolate(v, size=(16, 16)) for k, v in batch.items()}
    values = task.validate(_Constant(), [batch], autocast=contextlib.nullcontext)
    assert "dice" in values and 0 < values["dice"] <= 1


def test_two_stage_model_with_perceptual_loss_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []

    class CountedVGG(perceptual.VGGFeatures):
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(perceptual, "VGGFeatures", CountedVGG)
    images = helpers.make_images(tmp_path / "images", n=6, size=32)
    data = helpers.tiny_config_dict(images, tmp_path / "run")
    data["model"] = {"name": "deepfill_v1", "params": {"base": 4}}
    data["data"].update({"image_size": 32, "batch_size": 2})
    data["loss"] = {
        "weights": {
            "discounted_l1": 1.2,
            "coarse_discounted_l1": 1.44,
            "valid_l1": 1.2,
            "coarse_valid_l1": 1.44,
            "perceptual": 0.05,
        },
        "params": {"vgg_weights": str(helpers.random_vgg_file(tmp_path))},
    }
    data["run"].update({"max_steps": 2, "val_every": 0, "sample_every": 0, "ckpt_every": 0})
    run_dir = train(config_from_dict(data))
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    # the config check reads the task's declared terms: the VGG weights are loaded once
    assert len(built) == 1
