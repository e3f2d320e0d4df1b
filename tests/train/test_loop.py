"""The training loop: outputs of a run, the non-finite guard, GAN alternation, config checks,
stop conditions, precision options and data-loader determinism."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch
import yaml

from mattepaint.io import load_image
from mattepaint.models.loading import load_inpainter, load_model
from mattepaint.train.config import ConfigError, config_from_dict, config_to_dict
from mattepaint.train.logger import read_metrics
from mattepaint.train.loop import TrainingError, train


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return helpers.make_images(tmp_path_factory.mktemp("images"))


def _config(images: Path, out_dir: Path, **sections: dict):
    run = sections.pop("run", {})
    data = helpers.tiny_config_dict(images, out_dir, **sections)
    data["run"].update(run)
    return config_from_dict(data)


def _load(path: Path) -> dict:
    return torch.load(path, weights_only=True)


# ----------------------------------------------------------------------------- outputs


def test_run_writes_logs_pictures_checkpoints_and_curves(images: Path, tmp_path: Path) -> None:
    config = _config(
        images, tmp_path / "run",
        data={"val_fraction": 0.25, "max_val_images": 3},
        loss={"weights": {"l1": 1.0, "hole_l1": 1.0, "valid_l1": 0.5, "tv": 0.1,
                          "discounted_l1": 0.5, "mse": 0.0}},
        run={"max_steps": 10, "val_every": 5, "sample_every": 5, "ckpt_every": 5,
             "keep_last": 1, "tensorboard": True},
    )
    run_dir = train(config)
    assert run_dir == tmp_path / "run"

    # config.yaml is the resolved config
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved == config_to_dict(config)

    # metrics.csv: a column for every named loss term (weight != 0) and every val metric
    with (run_dir / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    for term in ("l1", "hole_l1", "valid_l1", "tv", "discounted_l1", "total", "lr", "grad_norm",
                 "nonfinite", "images_per_s"):
        assert f"train/{term}" in columns, term
    assert "train/mse" not in columns  # weight 0: not computed
    for metric in ("psnr", "ssim", "hole_l1", "mse"):
        assert f"val/{metric}" in columns
    train_rows = [r for r in rows if r["train/total"]]
    val_rows = [r for r in rows if r["val/psnr"]]
    assert [int(r["step"]) for r in train_rows] == [5, 10]
    assert [int(r["step"]) for r in val_rows] == [5, 10]
    assert all(math.isfinite(float(r["train/total"])) for r in train_rows)
    assert 5 < float(val_rows[-1]["val/psnr"]) < 60 and 0 < float(val_rows[-1]["val/ssim"]) <= 1
    # total = weighted sum of the terms (means over the same updates)
    last = train_rows[-1]
    weights = {"l1": 1, "hole_l1": 1, "valid_l1": 0.5, "tv": 0.1, "discounted_l1": 0.5}
    weighted = sum(w * float(last[f"train/{k}"]) for k, w in weights.items())
    assert float(last["train/total"]) == pytest.approx(weighted, rel=1e-5)
    assert read_metrics(run_dir / "metrics.jsonl")[-1]["step"] == 10

    # TensorBoard, sample grids (rows input | mask | prediction | truth), curves
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))
    for step in (5, 10):
        grid = load_image(run_dir / "samples" / f"step_{step:07d}.png")
        assert grid.shape == (2 * 34 + 2, 4 * 34 + 2, 3)  # batch 2, 32 px + 2 px padding
    assert load_image(run_dir / "curves.png").shape[0] > 100

    # checkpoints: keep_last=1 step file, last.pt, best.pt; self-describing and loadable
    ckpt_dir = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["best.pt", "last.pt", "step_0000010.pt"]
    last_ckpt = _load(ckpt_dir / "last.pt")
    assert last_ckpt["format"] == "mattepaint-checkpoint-v1"
    assert last_ckpt["model"] == {
        "name": "unet_inpaint", "params": {"base": 4, "depth": 2, "norm": "none"}
    }
    assert last_ckpt["task"] == "inpainting" and last_ckpt["config"] == config_to_dict(config)
    assert last_ckpt["step"] == 10 and set(last_ckpt["optimizers"]) == {"g"}
    assert last_ckpt["best"]["metric"] == "val/psnr"
    best_psnr = max(float(r["val/psnr"]) for r in val_rows)
    assert last_ckpt["best"]["value"] == pytest.approx(best_psnr)
    assert {"python", "numpy", "torch"} <= set(last_ckpt["rng"])
    assert set(last_ckpt["versions"]) == {"mattepaint", "torch", "python"}
    model, _ = load_model(ckpt_dir / "best.pt")
    assert not model.training
    inpainter = load_inpainter(ckpt_dir / "last.pt")
    image, mask = torch.rand(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)
    mask[..., 8:16, 8:16] = 1
    out = inpainter(image, mask)
    known = mask.expand_as(image) == 0
    assert out.shape == image.shape and torch.equal(out[known], image[known])


def test_existing_run_dir_is_not_overwritten(images: Path, tmp_path: Path) -> None:
    config = _config(images, tmp_path / "run", run={"max_steps": 1})
    train(config)
    with pytest.raises(FileExistsError, match="already holds a training run; resume it"):
        train(config)


def test_epochs_stop_condition(images: Path, tmp_path: Path) -> None:
    # 24 images, batch 2: 12 steps an epoch
    run_dir = train(_config(images, tmp_path / "run", run={"max_steps": 0, "epochs": 1}))
    ckpt = _load(run_dir / "checkpoints" / "last.pt")
    assert ckpt["step"] == 12 and (ckpt["epoch"], ckpt["batch_in_epoch"]) == (0, 12)


# ----------------------------------------------------------------------------- non-finite guard


def test_nonfinite_losses_are_skipped_counted_and_logged(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    helpers.nan_total_on_calls(monkeypatch, {3, 4, 7})
    run_dir = train(_config(images, tmp_path / "run", run={"max_steps": 10, "max_nonfinite": 3}))
    assert sum("non-finite generator update skipped" in r.message for r in caplog.records) == 3
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "train/nonfinite" in r]
    assert [(r["step"], r["train/nonfinite"]) for r in rows] == [(5, 2), (10, 3)]
    assert all(math.isfinite(r["train/total"]) for r in rows)  # means over finite updates only
    ckpt = _load(run_dir / "checkpoints" / "last.pt")
    assert ckpt["nonfinite"] == {"total": 3, "in_row": 0}
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())
    # skipped updates did not step Adam: 10 steps, 7 updates
    assert int(ckpt["optimizers"]["g"]["state"][0]["step"]) == 7
    assert ckpt["schedulers"]["g"]["last_epoch"] == 10  # the lr follows the step count


def test_too_many_nonfinite_in_a_row_stops_and_keeps_last_good_checkpoint(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helpers.nan_total_on_calls(monkeypatch, from_call=8)
    config = _config(images, tmp_path / "run", run={"max_steps": 20, "max_nonfinite": 3,
                                                      "ckpt_every": 5})
    with pytest.raises(TrainingError, match=r"3 non-finite generator updates in a row at step 10 "
                                            r".*last good checkpoint: .*last\.pt") as info:
        train(config)
    assert isinstance(info.value, RuntimeError) and "\n" not in str(info.value)
    ckpt_dir = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["last.pt", "step_0000005.pt"]
    ckpt = _load(ckpt_dir / "last.pt")
    assert ckpt["step"] == 5
    assert all(torch.isfinite(v).all() for v in ckpt["model_state"].values())


# ----------------------------------------------------------------------------- GAN


@pytest.mark.parametrize("gan", ["wgan_gp", "hinge"])
def test_gan_alternation_n_critic_discriminator_steps_per_generator_step(
    images: Path, tmp_path: Path, gan: str
) -> None:
    config = _config(
        images, tmp_path / "run",
        discriminator={"name": "patch_discriminator", "params": {"base": 4, "n_layers": 2}},
        loss={"weights": {"l1": 1.0, "adv": 0.1}, "gan": gan},
        optim={"n_critic": 5, "d_lr": 2e-4},
        run={"max_steps": 3, "log_every": 1},
    )
    run_dir = train(config)
    ckpt = _load(run_dir / "checkpoints" / "last.pt")
    assert int(ckpt["optimizers"]["g"]["state"][0]["step"]) == 3
    assert int(ckpt["optimizers"]["d"]["state"][0]["step"]) == 15  # 5 x 3
    assert ckpt["schedulers"]["d"]["last_epoch"] == 15
    assert ckpt["disc_state"] is not None and ckpt["discriminator"]["name"] == "patch_discriminator"
    # 6 batches a step (5 critic + 1 generator): 18 batches = epoch 1, batch 6
    assert (ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 6)
    row = read_metrics(run_dir / "metrics.jsonl")[-1]
    for key in ("train/adv", "train/d_loss", "train/d_total", "train/d_lr", "train/d_grad_norm"):
        assert key in row and math.isfinite(row[key]), key
    assert ("train/gp" in row) == (gan == "wgan_gp")
    assert row["train/total"] == pytest.approx(row["train/l1"] + 0.1 * row["train/adv"], rel=1e-5)


# ----------------------------------------------------------------------------- config checks


@pytest.mark.parametrize(
    ("sections", "match"),
    [
        ({"loss": {"weights": {"l1": 1.0, "perceptuel": 1.0}}},
         (r"unknown term 'perceptuel'.*valid terms: l1, mse, hole_l1, valid_l1, hole_mse, tv, "
          r"discounted_l1, perceptual, style_out, style_comp, perceptual_alex, perceptual_effnet, "
          r"adv, feature_matching, coarse_l1")),
        ({"loss": {"weights": {"l1": 1.0}, "gan": "hinge"}}, "no discriminator section"),
        ({"discriminator": {"name": "patch_discriminator"}}, "needs loss.gan"),
        ({"loss": {"weights": {"l1": 1.0, "adv": 1.0}}}, "adv > 0 needs a discriminator"),
        ({"discriminator": {"name": "unet_inpaint"}, "loss": {"gan": "hinge"}},
         "'unet_inpaint' is not a discriminator"),
        ({"run": {"best_metric": "val/lpips"}}, r"best_metric: expected one of val/psnr"),
        ({"run": {"max_steps": 0, "epochs": 0}}, "one of them > 0"),
        ({"optim": {"n_critic": 0}}, "n_critic must be >= 1"),
        ({"data": {"image_size": 30}}, "multiple of 4"),
        ({"loss": {"weights": {"l1": 1.0}, "params": {"gamma": 0.5}}}, "unknown key 'gamma'"),
    ],
)
def test_config_mistakes_fail_before_training(
    images: Path, tmp_path: Path, sections: dict, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        train(_config(images, tmp_path / "run", **sections))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_unknown_model_lists_valid_names(images: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model 'unet_inpant'.*valid names:.*unet_inpaint"):
        train(_config(images, tmp_path / "run", model={"name": "unet_inpant", "params": {}}))


def test_train_needs_config_or_resume() -> None:
    with pytest.raises(ValueError, match="needs a config, or resume=RUN_DIR"):
        train()


# ----------------------------------------------------------------------------- precision, data


def test_bf16_autocast_and_channels_last_on_cpu(images: Path, tmp_path: Path) -> None:
    run = {"max_steps": 3, "amp": "bf16", "channels_last": True, "log_every": 3}
    run_dir = train(_config(images, tmp_path / "run", run=run))
    row = read_metrics(run_dir / "metrics.jsonl")[-1]
    assert math.isfinite(row["train/total"]) and row["train/nonfinite"] == 0
    weights = _load(run_dir / "checkpoints" / "last.pt")["model_state"]
    assert all(v.dtype == torch.float32 for v in weights.values())  # autocast, not a bf16 model


def test_fp16_on_cpu_warns_and_trains_in_float32(images: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="run.amp=fp16 is not supported on cpu"):
        run_dir = train(_config(images, tmp_path / "run", run={"max_steps": 2, "amp": "fp16"}))
    assert _load(run_dir / "checkpoints" / "last.pt")["scaler"] is None


def test_worker_processes_give_the_same_training(images: Path, tmp_path: Path) -> None:
    # samples depend only on (seed, epoch, index): worker count does not change the weights
    a = train(_config(images, tmp_path / "a", run={"max_steps": 4}))
    b = train(_config(images, tmp_path / "b", data={"num_workers": 2}, run={"max_steps": 4}))
    wa, wb = helpers.final_weights(a), helpers.final_weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
