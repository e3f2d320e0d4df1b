"""DDP on the CPU: 2 processes launched by torchrun (gloo) end with identical weights, equal
(within float rounding) to one process trained on the same global batch, and a DDP run resumed
from a mid-run checkpoint by both ranks continues exactly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import _scripts as helpers  # tests/train/_scripts.py, on sys.path by tests/conftest.py
import pytest
import torch

from mattepaint.train.config import config_from_dict
from mattepaint.train.distributed import ShardedBatchSampler
from mattepaint.train.loop import train

SCRIPT = Path(__file__).with_name("_scripts.py")

# l1 + mse are means over equal per-rank batches, so DDP's gradient average equals the gradient
# of the mean over the global batch (hole_l1 is normalised by each batch's hole area: not so).
SECTIONS = {
    "loss": {"weights": {"l1": 1.0, "mse": 1.0}},
    "schedule": {"name": "step", "step_epochs": 1, "gamma": 0.5},
}


def _torchrun(config: dict, tmp_path: Path, name: str, resume: Path | None = None) -> Path:
    config_path = tmp_path / f"{name}.json"
    config_path.write_text(json.dumps(config))
    out = tmp_path / f"{name}_weights"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
         str(SCRIPT), "ddp", str(config_path), str(out), *([str(resume)] if resume else [])],
        check=False, capture_output=True, text=True, timeout=120, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_sampler_shards_are_disjoint_and_match_one_process_batches() -> None:
    # batch k of the two ranks together == batch k of one process with twice the batch
    single = ShardedBatchSampler(24, 4, seed=3)
    ranks = [ShardedBatchSampler(24, 2, rank=r, world_size=2, seed=3) for r in (0, 1)]
    for epoch in (0, 1):
        for sampler in (single, *ranks):
            sampler.set_epoch(epoch)
        merged = [sorted(a + b) for a, b in zip(*ranks)]
        assert merged == [sorted(b) for b in single]
        seen = [{i for batch in rank_batches for i in batch} for rank_batches in ranks]
        assert not seen[0] & seen[1]
    # resumable: starting at batch 2 yields the tail of the same epoch
    ranks[1].set_epoch(1, start_batch=2)
    full = ShardedBatchSampler(24, 2, rank=1, world_size=2, seed=3)
    full.set_epoch(1)
    assert list(ranks[1]) == list(full)[2:] and len(ranks[1]) == 4


def test_sampler_rejects_too_few_samples() -> None:
    with pytest.raises(ValueError, match="less than one batch of 8"):
        ShardedBatchSampler(10, 8, rank=0, world_size=2)


def test_ddp_two_processes_match_single_process_on_global_batch(tmp_path: Path) -> None:
    images = helpers.make_images(tmp_path / "images")
    # 24 images, global batch 4: 6 steps an epoch; 8 steps cross into epoch 1
    ddp = helpers.tiny_config_dict(images, tmp_path / "ddp_run", **SECTIONS)
    ddp["run"].update(max_steps=8, ckpt_every=4)
    weights = _torchrun(ddp, tmp_path, "ddp")
    rank0 = torch.load(weights / "rank0.pt", weights_only=True)
    rank1 = torch.load(weights / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # only rank 0 wrote files, and its checkpoint holds the trained weights
    saved = helpers.final_weights(tmp_path / "ddp_run")
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)
    ckpt = torch.load(tmp_path / "ddp_run" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 8 and (ckpt["epoch"], ckpt["batch_in_epoch"]) == (1, 2)

    single = helpers.tiny_config_dict(images, tmp_path / "single_run", **SECTIONS)
    single["run"].update(max_steps=8)
    single["data"]["batch_size"] = 4  # = 2 per process x 2 processes
    reference = helpers.final_weights(train(config_from_dict(single)))
    for key in rank0:
        assert torch.allclose(rank0[key], reference[key], rtol=0, atol=1e-5), key

    # resume under DDP: both ranks load the step-4 checkpoint and continue to step 8 exactly
    resumed_dir = tmp_path / "ddp_resumed"
    (resumed_dir / "checkpoints").mkdir(parents=True)
    shutil.copyfile(tmp_path / "ddp_run" / "checkpoints" / "step_0000004.pt",
                    resumed_dir / "checkpoints" / "last.pt")
    resumed = _torchrun(ddp, tmp_path, "resumed", resume=resumed_dir)
    for rank in (0, 1):
        again = torch.load(resumed / f"rank{rank}.pt", weights_only=True)
        assert all(torch.equal(again[k], rank0[k]) for k in rank0), rank


def test_ddp_gan_ranks_stay_identical(tmp_path: Path) -> None:
    """WGAN-GP under DDP (critic steps with a gradient penalty through the DDP wrapper, then the
    generator step through the critic): generator and critic identical on both ranks."""
    images = helpers.make_images(tmp_path / "images", n=16)
    config = helpers.tiny_config_dict(
        images, tmp_path / "gan_run",
        discriminator={"name": "patch_discriminator", "params": {"base": 4, "n_layers": 2}},
        loss={"weights": {"l1": 1.0, "adv": 0.01}, "gan": "wgan_gp"},
        optim={"n_critic": 2},
    )
    config["run"].update(max_steps=3)
    weights = _torchrun(config, tmp_path, "gan")
    for suffix in ("", "_disc"):
        a = torch.load(weights / f"rank0{suffix}.pt", weights_only=True)
        b = torch.load(weights / f"rank1{suffix}.pt", weights_only=True)
        assert all(torch.equal(a[k], b[k]) for k in a), suffix
    ckpt = torch.load(tmp_path / "gan_run" / "checkpoints" / "last.pt", weights_only=True)
    assert int(ckpt["optimizers"]["d"]["state"][0]["step"]) == 6
