"""Checkpoints: atomic writes, keep-last-K, best by a metric (max / min), format checks, and the
self-describing content of a run's checkpoint (model, config, optimiser, RNG, position)."""

from __future__ import annotations

from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch

from mattepaint.models.loading import load_model
from mattepaint.train import checkpoint as ckpt_io
from mattepaint.train.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointManager,
    load_checkpoint,
    save_checkpoint,
)
from mattepaint.train.config import config_from_dict
from mattepaint.train.loop import train


def _state(step: int, value: float = 0.0) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": "unet_inpaint", "params": {}},
        "model_state": {"w": torch.full((2,), float(value))},
        "step": step,
    }


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_keep_last_k_step_files_and_last_is_a_real_copy(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path / "ckpt", keep_last=2)
    for step in range(1, 6):
        assert manager.save(_state(step, value=step)) == tmp_path / "ckpt" / "last.pt"
    assert _names(tmp_path / "ckpt") == ["last.pt", "step_0000004.pt", "step_0000005.pt"]
    last = tmp_path / "ckpt" / "last.pt"
    assert not last.is_symlink()
    assert torch.load(last, weights_only=True)["step"] == 5
    assert last.read_bytes() == (tmp_path / "ckpt" / "step_0000005.pt").read_bytes()
    assert [s for s, _ in manager.step_files()] == [4, 5]


def test_keep_last_zero_keeps_only_last(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last=0)
    manager.save(_state(1))
    manager.save(_state(2))
    assert _names(tmp_path) == ["last.pt"]


@pytest.mark.parametrize(
    ("mode", "values", "improved", "best"),
    [
        ("max", [20.0, 19.0, 25.0, float("nan"), 25.0], [True, False, True, False, False], 25.0),
        ("min", [0.3, 0.4, 0.1, float("nan")], [True, False, True, False], 0.1),
    ],
)
def test_best_tracks_the_metric(
    tmp_path: Path, mode: str, values: list, improved: list, best: float
) -> None:
    manager = CheckpointManager(tmp_path, best_metric="val/x", best_mode=mode)
    for step, (value, expected) in enumerate(zip(values, improved)):
        made = []
        assert manager.update_best(value, lambda: made.append(1) or _state(step, value)) is expected
        assert len(made) == int(expected)  # the state is only built when it improved
    assert manager.best_value == best
    assert torch.load(tmp_path / "best.pt", weights_only=True)["model_state"]["w"][0] == best


def test_best_resumes_from_a_previous_value(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, best_mode="max", best_value=30.0)
    assert not manager.update_best(29.0, lambda: _state(1))
    assert not (tmp_path / "best.pt").exists()


def test_disabled_manager_writes_nothing(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path / "ckpt", enabled=False)
    assert manager.save(_state(1)) is None
    assert manager.update_best(1.0, lambda: _state(1))  # value still tracked on every rank
    assert not (tmp_path / "ckpt").exists()


def test_failed_write_leaves_the_previous_checkpoint_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = CheckpointManager(tmp_path, keep_last=3)
    manager.save(_state(1, value=1))
    real_save = torch.save

    def broken_save(obj, f, *args, **kwargs):  # noqa: ANN001, ANN202
        real_save(obj, f, *args, **kwargs)
        Path(f).write_bytes(Path(f).read_bytes()[:50])  # a torn file, then the "crash"
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        manager.save(_state(2, value=2))
    assert _names(tmp_path) == ["last.pt", "step_0000001.pt"]  # no step 2, no temp files
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 1


def test_save_checkpoint_rejects_states_without_format_or_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format 'mattepaint-checkpoint-v1'"):
        save_checkpoint(tmp_path / "a.pt", {"model_state": {}})
    with pytest.raises(ValueError, match="'model' .* and 'model_state'"):
        save_checkpoint(tmp_path / "a.pt", {"format": CHECKPOINT_FORMAT})


def test_load_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a mattepaint checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_unwrap_and_to_cpu() -> None:
    inner = torch.nn.Linear(2, 2)
    wrapper = torch.nn.Module()
    wrapper.module = inner
    assert ckpt_io.unwrap(wrapper) is inner and ckpt_io.unwrap(inner) is inner
    moved = ckpt_io.to_cpu({"a": [torch.ones(1)], "b": (torch.zeros(1), 3)})
    assert moved["a"][0].device.type == "cpu" and moved["b"][1] == 3


def test_run_checkpoint_is_self_describing(tmp_path: Path) -> None:
    images = helpers.make_images(tmp_path / "images", n=8)
    data = helpers.tiny_config_dict(images, tmp_path / "run")
    data["run"].update(max_steps=3, seed=7)
    data["data"]["val_fraction"] = 0.25
    run_dir = train(config_from_dict(data))
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")  # weights_only load works
    assert set(ckpt) >= {
        "format", "model", "task", "config", "model_state", "disc_state", "optimizers",
        "schedulers", "scaler", "rng", "step", "epoch", "batch_in_epoch", "best", "versions",
    }
    assert ckpt["config"]["run"]["seed"] == 7
    assert ckpt["config"]["model"] == {**data["model"], "init_from": "", "pretrained": ""}
    assert ckpt["disc_state"] is None and ckpt["scaler"] is None
    assert set(ckpt["optimizers"]) == set(ckpt["schedulers"]) == {"g"}
    assert all(t.device.type == "cpu" for t in ckpt["model_state"].values())
    assert not any(k.startswith("module.") for k in ckpt["model_state"])
    assert ckpt["best"]["metric"] == "val/psnr" and ckpt["best"]["value"] > 0
    # 6 training images, batch 2: 3 batches an epoch, all used after 3 steps
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (3, 0, 3)
    model, same = load_model(run_dir / "checkpoints" / "best.pt")
    assert same["step"] == 3
    state = model.state_dict()
    assert all(torch.equal(state[k], ckpt["model_state"][k]) for k in state)


def test_resume_needs_a_training_checkpoint(tmp_path: Path) -> None:
    from mattepaint.errors import InputError
    from mattepaint.models.checkpoint import save_model
    from mattepaint.models.registry import build_model
    from mattepaint.train.checkpoint import RESUME_KEYS, load_resume_checkpoint

    tiny = {"base": 4, "depth": 2}
    model_file = save_model(tmp_path / "m.safetensors", build_model("unet_inpaint", **tiny),
                            name="unet_inpaint", params=tiny)
    with pytest.raises(InputError, match=r"m.safetensors holds no training state .*optimizers"):
        load_resume_checkpoint(model_file)
    state = {**_state(4, value=1.0), **{k: {} for k in RESUME_KEYS if k != "step"}}
    save_checkpoint(tmp_path / "last.pt", state)
    assert load_resume_checkpoint(tmp_path / "last.pt")["step"] == 4
    save_checkpoint(tmp_path / "bare.pt", _state(4))  # no optimiser or RNG state
    with pytest.raises(InputError, match=r"bare.pt holds no training state"):
        load_resume_checkpoint(tmp_path / "bare.pt")
