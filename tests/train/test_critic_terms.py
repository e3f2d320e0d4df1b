"""The critic-side options of the inpainting GAN loop: the feature-matching term (through the
discriminators' ``forward_features``) and the WGAN-GP penalty restricted to the hole; the task
owns every term of the objective (generator and critic), the loop imports no loss."""

from __future__ import annotations

import ast
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch

from mattepaint.losses import adversarial
from mattepaint.losses.perceptual import feature_matching_loss
from mattepaint.models.registry import build_model
from mattepaint.train import loop
from mattepaint.train.config import ConfigError, config_from_dict
from mattepaint.train.logger import read_metrics
from mattepaint.train.loop import train
from mattepaint.train.tasks import (
    INPAINTING_TERMS,
    MATTING_TERMS,
    Critic,
    InpaintingTask,
    MattingTask,
)

CRITICS = [
    ("patch_discriminator", {"in_channels": 4, "base": 4, "n_layers": 2}, 3),
    # local_size 16: 2 local convs, 3 global; "concat" adds each branch's feature layer
    ("global_local_critic", {"base": 4, "local_size": 16, "mode": "concat"}, 3 + 1 + 2 + 1),
    ("global_local_critic", {"base": 4, "local_size": 16, "mode": "separate"}, 3 + 2),
]


@pytest.mark.parametrize(("name", "params", "n_feats"), CRITICS)
def test_forward_features_matches_forward(name: str, params: dict, n_feats: int) -> None:
    torch.manual_seed(0)
    critic = build_model(name, **params).eval()
    x = torch.rand(2, 4, 32, 32)
    x[:, 3:] = (torch.rand(2, 1, 32, 32) > 0.7).float()
    logits, feats = critic.forward_features(x)
    assert torch.equal(logits, critic(x))
    assert len(feats) == n_feats
    assert all(f.shape[0] == 2 and torch.isfinite(f).all() for f in feats)
    # identical inputs match exactly; a changed image does not, and the loss reaches its pixels
    assert feature_matching_loss(feats, critic.forward_features(x)[1]).item() == 0
    fake = x.clone().requires_grad_(True)
    loss = feature_matching_loss(feats, critic.forward_features(fake + 0.1 * (fake[:, :1] > 0))[1])
    loss.backward()
    assert loss.item() > 0 and fake.grad[:, :3].abs().sum() > 0


def _gan_config(tmp_path: Path, weights: dict[str, float], **loss: object) -> dict:
    images = helpers.make_images(tmp_path / "images", n=6, size=32)
    data = helpers.tiny_config_dict(images, tmp_path / "run")
    data["discriminator"] = {
        "name": "global_local_critic",
        "params": {"base": 4, "local_size": 16, "mode": "separate"},
    }
    data["loss"] = {"weights": weights, "gan": "wgan_gp", **loss}
    data["optim"].update({"n_critic": 1, "d_lr": 1e-3})
    data["run"].update({"max_steps": 2, "log_every": 1})
    return data


def _first_row(run_dir: Path) -> dict:
    return next(r for r in read_metrics(run_dir / "metrics.jsonl") if "train/total" in r)


def test_feature_matching_is_logged_and_in_the_total(tmp_path: Path) -> None:
    weights = {"l1": 1.0, "adv": 0.01, "feature_matching": 2.0}
    row = _first_row(train(config_from_dict(_gan_config(tmp_path, weights))))
    assert row["train/feature_matching"] > 0
    expected = row["train/l1"] + 0.01 * row["train/adv"] + 2.0 * row["train/feature_matching"]
    assert row["train/total"] == pytest.approx(expected, rel=1e-5)


def test_feature_matching_alone_trains_the_generator(tmp_path: Path) -> None:
    row = _first_row(
        train(config_from_dict(_gan_config(tmp_path, {"l1": 1.0, "feature_matching": 1.0})))
    )
    assert "train/adv" not in row and row["train/feature_matching"] > 0


def test_gp_on_the_hole_changes_the_penalty(tmp_path: Path) -> None:
    weights = {"l1": 1.0, "adv": 0.01}
    full = _first_row(train(config_from_dict(_gan_config(tmp_path / "a", weights))))
    hole = _first_row(
        train(config_from_dict(_gan_config(tmp_path / "b", weights, gp_region="hole")))
    )
    # same seed and batches: the first critic step differs only in the penalty's region, and a
    # gradient kept on fewer pixels has a smaller norm, so (||g|| - 1)^2 grows towards 1
    assert full["train/d_loss"] == pytest.approx(hole["train/d_loss"], rel=1e-6)
    assert hole["train/gp"] != pytest.approx(full["train/gp"], rel=1e-3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"discriminator": None, "loss.gan": "none"}, "feature_matching > 0 needs a discriminator"),
        ({"loss.gan": "hinge", "loss.gp_region": "hole"}, "gp_region: 'hole' is for inpainting"),
        ({"loss.gp_region": "middle"}, "gp_region"),
    ],
)
def test_bad_critic_options_fail_at_start(tmp_path: Path, change: dict, message: str) -> None:
    data = _gan_config(tmp_path, {"l1": 1.0, "feature_matching": 1.0})
    for key, value in change.items():
        if "." in key:
            section, name = key.split(".")
            data[section][name] = value
        else:
            data.pop(key)
    with pytest.raises(ConfigError, match=message):
        train(config_from_dict(data))


# ----------------------------------------------------------------------------- the task's objective


def _gan_task(tmp_path: Path, weights: dict[str, float], **loss: object) -> InpaintingTask:
    data = _gan_config(tmp_path, weights, **loss)
    data["discriminator"] = {"name": "patch_discriminator",
                             "params": {"in_channels": 4, "base": 4, "n_layers": 2}}
    return InpaintingTask(config_from_dict(data))


def _outputs_and_batch() -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 32, 32, generator=g)
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    pred = torch.rand(2, 3, 32, 32, generator=g).requires_grad_(True)
    batch = {"image": image, "mask": mask, "input": image * (1 - mask)}
    return {"pred": pred, "comp": mask * pred + (1 - mask) * image}, batch


def test_generator_loss_owns_the_adversarial_terms(tmp_path: Path) -> None:
    weights = {"l1": 1.0, "adv": 0.01, "feature_matching": 2.0}
    task = _gan_task(tmp_path, weights, gan="hinge")
    torch.manual_seed(0)
    net = build_model("patch_discriminator", in_channels=4, base=4, n_layers=2)
    outputs, batch = _outputs_and_batch()
    terms = task.generator_loss(outputs, batch, Critic(net))
    assert list(terms) == ["l1", "feature_matching", "adv", "total"]  # the documented order
    real = torch.cat([batch["image"], batch["mask"]], 1)  # a 4-channel critic sees the mask
    fake = torch.cat([outputs["comp"], batch["mask"]], 1)
    fake_logits, fake_feats = net.forward_features(fake)
    _, real_feats = net.forward_features(real)
    expected = {
        "l1": (outputs["pred"] - batch["image"]).abs().mean(),
        "feature_matching": feature_matching_loss(real_feats, fake_feats),
        "adv": adversarial.g_loss(fake_logits, "hinge"),
    }
    for name, value in expected.items():
        assert torch.equal(terms[name], value), name
    # summed left to right in that order: bit-identical to the loop's former inline sum
    total = torch.zeros(()) + expected["l1"] + 2.0 * expected["feature_matching"]
    assert torch.equal(terms["total"], total + 0.01 * expected["adv"])
    terms["total"].backward()
    assert outputs["pred"].grad.abs().sum() > 0


def test_generator_loss_adv_only_uses_the_critic_forward(tmp_path: Path) -> None:
    task = _gan_task(tmp_path, {"hole_l1": 1.0, "adv": 0.5}, gan="nsgan")
    net = build_model("patch_discriminator", in_channels=4, base=4, n_layers=2)
    calls = []
    net.register_forward_hook(lambda *_: calls.append("forward"))
    outputs, batch = _outputs_and_batch()
    terms = task.generator_loss(outputs, batch, Critic(net))
    assert list(terms) == ["hole_l1", "adv", "total"] and calls == ["forward"]
    with pytest.raises(ValueError, match="need the discriminator: pass critic"):
        task.generator_loss(outputs, batch)


@pytest.mark.parametrize(("gan", "region"), [("hinge", "all"), ("wgan_gp", "all"),
                                             ("wgan_gp", "hole")])
def test_discriminator_loss_terms(tmp_path: Path, gan: str, region: str) -> None:
    task = _gan_task(tmp_path, {"l1": 1.0, "adv": 0.1}, gan=gan, gp_region=region)
    net = build_model("patch_discriminator", in_channels=4, base=4, n_layers=2)
    outputs, batch = _outputs_and_batch()
    torch.manual_seed(3)
    terms = task.discriminator_loss(outputs, batch, Critic(net))
    assert set(terms) == ({"d_loss", "gp", "d_total"} if gan == "wgan_gp" else
                          {"d_loss", "d_total"})
    real = torch.cat([batch["image"], batch["mask"]], 1)
    fake = torch.cat([outputs["comp"], batch["mask"]], 1).detach()
    real_logits, fake_logits = net(torch.cat([real, fake])).chunk(2)
    assert torch.equal(terms["d_loss"], adversarial.d_loss(real_logits, fake_logits, gan))
    if gan == "wgan_gp":
        torch.manual_seed(3)
        gp = adversarial.gradient_penalty(
            net, real, fake, weight=10.0, mask=batch["mask"] if region == "hole" else None
        )
        assert torch.equal(terms["gp"], gp)
    assert terms["d_total"].item() == pytest.approx(terms["d_loss"].item()
                                                   + terms.get("gp", torch.zeros(())).item())
    terms["d_total"].backward()
    assert all(p.grad is not None for p in net.parameters())
    assert outputs["pred"].grad is None  # the critic's update does not reach the generator


def test_terms_are_declared_on_the_task_classes() -> None:
    assert InpaintingTask.generator_terms == INPAINTING_TERMS
    assert InpaintingTask.critic_terms == ("d_loss", "gp")
    assert MattingTask.generator_terms == MATTING_TERMS and MattingTask.critic_terms == ()
    assert not hasattr(MattingTask, "discriminator_loss")
    assert not hasattr(MattingTask, "critic_inputs")


def test_the_loop_imports_no_loss_module() -> None:
    source = Path(loop.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert imported and not [m for m in imported if m.startswith("mattepaint.losses")]
