"""Exact resume: 20 steps straight == 10 steps + stop + resume + 10 steps (torch.equal), on the
CPU, for a plain run, a WGAN-GP run, a run killed by SIGKILL mid-epoch and one stopped by
SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch

from mattepaint.train.config import ConfigError, config_from_dict
from mattepaint.train.logger import read_metrics
from mattepaint.train.loop import train

SCRIPT = Path(__file__).with_name("_scripts.py")

# 24 images, batch 2 -> 12 batches an epoch: step 10 is mid-epoch, step 20 is in epoch 1.
PLAIN = {"schedule": {"name": "step", "step_epochs": 1, "gamma": 0.5}}
GAN = {
    "discriminator": {"name": "patch_discriminator", "params": {"base": 4, "n_layers": 2}},
    "loss": {"weights": {"l1": 1.0, "adv": 0.01}, "gan": "wgan_gp", "gp_weight": 10.0},
    "optim": {"lr": 1e-3, "d_lr": 1e-3, "n_critic": 2},
    "schedule": {"name": "cosine", "warmup_steps": 3},
}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return helpers.make_images(tmp_path_factory.mktemp("images"))


def _config(images: Path, out_dir: Path, sections: dict, **run: object):
    data = helpers.tiny_config_dict(images, out_dir, **sections)
    data["run"].update(run)
    return config_from_dict(data)


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = helpers.final_weights(a), helpers.final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


@pytest.fixture(scope="module")
def straight_plain(images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "run"
    return train(_config(images, out, PLAIN, max_steps=20))


@pytest.mark.parametrize("sections", [PLAIN, GAN], ids=["plain", "wgan_gp"])
def test_resume_in_process_is_exact(images: Path, tmp_path: Path, sections: dict) -> None:
    straight = train(_config(images, tmp_path / "straight", sections, max_steps=20))
    first = _config(images, tmp_path / "resumed", sections, max_steps=20)
    if sections is PLAIN:  # step decay does not depend on the total: a 10-step run, extended
        half = train(first, max_steps=10)
    else:  # cosine does: same total, stopped after step 10 through the signal path
        half = _train_until(first, 10)
    ckpt = torch.load(half / "checkpoints" / "last.pt", weights_only=True)
    consumed = 10 * (1 + (2 if sections is GAN else 0))  # n_critic + 1 batches a step
    assert ckpt["step"] == 10
    position = ((consumed - 1) // 12, (consumed - 1) % 12 + 1)  # 12 batches an epoch
    assert (ckpt["epoch"], ckpt["batch_in_epoch"]) == position
    assert 0 < ckpt["batch_in_epoch"] < 12  # mid-epoch
    resumed = train(resume=half, max_steps=20)
    assert resumed == half
    _assert_same_weights(straight, resumed)
    if sections is GAN:
        da = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)["disc_state"]
        db = torch.load(resumed / "checkpoints" / "last.pt", weights_only=True)["disc_state"]
        assert all(torch.equal(da[k], db[k]) for k in da)


def _train_until(config, stop_step: int) -> Path:
    """Run ``config`` in this process and stop it at ``stop_step`` through the SIGTERM path."""
    from mattepaint.train import loop

    original = loop._StopSignals.requested
    state = {"calls": 0}

    def requested(self, dist_info, device):
        state["calls"] += 1
        return state["calls"] >= stop_step or original(self, dist_info, device)

    loop._StopSignals.requested = requested
    try:
        return train(config)
    finally:
        loop._StopSignals.requested = original


def test_resume_after_sigkill_mid_epoch(images: Path, tmp_path: Path, straight_plain: Path) -> None:
    run_dir = tmp_path / "killed"
    config = helpers.tiny_config_dict(images, run_dir, **PLAIN)
    config["run"].update(ckpt_every=1, keep_last=3)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "train", str(config_path), "--hang-after", "11",
         "--threads", str(torch.get_num_threads())],  # forward 12 = step 12 never ends
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        # step_0000011.pt is written before last.pt is updated to step 11, so last.pt is at step
        # 10 or 11 here, and step 12 (the end of epoch 0) never ends: the kill is mid-epoch however
        # late it lands
        while not any(int(p.stem[5:]) >= 11 for p in (run_dir / "checkpoints").glob("step_*.pt")):
            if proc.poll() is not None:
                pytest.fail(f"training script ended early:\n{proc.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint at step >= 10 within 60 s")
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert 10 <= killed_at["step"] < 20, "the kill must land mid-run"
    assert 0 < killed_at["batch_in_epoch"] < 12, "the kill must land mid-epoch"
    train(resume=run_dir, max_steps=20)
    _assert_same_weights(straight_plain, run_dir)
    # the metrics files hold one continuous run: every step logged once
    rows = [r for r in read_metrics(run_dir / "metrics.jsonl") if "train/total" in r]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]


def test_sigterm_writes_a_checkpoint_and_resumes_exactly(
    images: Path, tmp_path: Path, straight_plain: Path
) -> None:
    run_dir = tmp_path / "terminated"
    config = helpers.tiny_config_dict(images, run_dir, **PLAIN)
    config["run"].update(ckpt_every=5)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "train", str(config_path), "--delay", "0.25",
         "--threads", str(torch.get_num_threads())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "checkpoints" / "step_0000005.pt").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "stopped by SIGTERM" in output
    stopped = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert 5 <= stopped["step"] < 20
    assert (run_dir / "checkpoints" / f"step_{stopped['step']:07d}.pt").exists()
    train(resume=run_dir, max_steps=20)
    _assert_same_weights(straight_plain, run_dir)


def test_resume_with_a_changed_config_is_refused(images: Path, tmp_path: Path) -> None:
    run_dir = train(_config(images, tmp_path / "run", PLAIN, max_steps=2))
    changed = _config(images, tmp_path / "run", PLAIN, max_steps=4)
    changed.optim.lr = 5e-4
    with pytest.raises(ConfigError, match=r"optim.lr: 0.001 -> 0.0005.*only run.max_steps"):
        train(changed, resume=run_dir)
    # max_steps / epochs may change: extending works and continues from step 2
    train(_config(images, tmp_path / "run", PLAIN, max_steps=4), resume=run_dir)
    assert torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["step"] == 4


def test_resume_without_checkpoint_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        train(resume=tmp_path / "nothing")
