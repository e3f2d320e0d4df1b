"""Helpers for the training tests, and a small script the subprocess tests run.

Imported by the test files as ``import _scripts as helpers`` (tests/conftest.py puts this folder
on ``sys.path``: pytest runs with ``--import-mode=importlib``, so the test folder is not a
package), by ``benchmarks/objective_identity.py`` the same way, and run as a script:

    python tests/train/_scripts.py train CONFIG.json [--delay S] [--hang-after N] [--threads N]
        train(config) in a fresh process, each forward slowed by S seconds, hanging after N
        forward passes (so a test can stop or kill it mid-run);
    python -m torch.distributed.run --nproc_per_node 2 --standalone tests/train/_scripts.py \
        ddp CONFIG.json OUT_DIR [RESUME_RUN_DIR]
        train(config) (or train(resume=RESUME_RUN_DIR)) under torchrun; every rank saves its
        final weights to OUT_DIR/rank{r}.pt.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


def make_images(folder: Path, n: int = 24, size: int = 40, seed: int = 0) -> Path:
    """``n`` random-texture RGB PNGs (size x size): blocky colour patches plus noise."""
    from mattepaint.io import save_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        blocks = rng.random((size // 8, size // 8, 3))
        image = np.kron(blocks, np.ones((8, 8, 1))) * 0.7 + 0.3 * rng.random((size, size, 3))
        save_image(folder / f"img_{i:02d}.png", image.astype(np.float32), overwrite=True)
    return folder


def random_vgg_file(folder: Path) -> Path:
    """``folder/vgg16.safetensors``: VGG16 feature weights drawn after ``torch.manual_seed(0)``,
    for the perceptual and style terms without the real weights."""
    import torch
    from safetensors.torch import save_file

    from mattepaint.models.backbones import VGG16Features

    torch.manual_seed(0)
    net = VGG16Features()
    path = folder / "vgg16.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def nan_total_on_calls(
    monkeypatch: Any, bad_calls: set[int] | None = None, from_call: int = 0
) -> None:
    """Make InpaintingTask.generator_loss return a nan total on the given (1-based) calls, or
    on every call from ``from_call`` on (``monkeypatch``: pytest's MonkeyPatch, undone with it)."""
    from mattepaint.train import tasks

    original = tasks.InpaintingTask.generator_loss
    calls = {"n": 0}

    def generator_loss(
        self: tasks.InpaintingTask, outputs: dict, batch: dict, critic: object = None
    ) -> dict:
        terms = original(self, outputs, batch, critic)
        calls["n"] += 1
        if (bad_calls and calls["n"] in bad_calls) or (from_call and calls["n"] >= from_call):
            terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(tasks.InpaintingTask, "generator_loss", generator_loss)


#: The ``run`` section of a run that logs every step and writes nothing else (no validation,
#: samples, checkpoints or TensorBoard): add ``max_steps`` (and ``out_dir``).
LOG_EVERY_STEP: dict[str, Any] = {
    "epochs": 0,
    "log_every": 1,
    "val_every": 0,
    "sample_every": 0,
    "ckpt_every": 0,
    "tensorboard": False,
    "progress": False,
}


def tiny_config_dict(images: Path, out_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A config dict for a tiny, fast run: unet_inpaint base 4 depth 2 (no batch norm) on 32x32
    crops, batch 2, 20 steps, no validation split unless asked; ``sections`` update it."""
    config: dict[str, Any] = {
        "model": {"name": "unet_inpaint", "params": {"base": 4, "depth": 2, "norm": "none"}},
        "data": {"train_dirs": [str(images)], "image_size": 32, "batch_size": 2,
                 "val_fraction": 0.0, "mask": "rectangles"},
        "loss": {"weights": {"l1": 1.0, "hole_l1": 0.5}},
        "optim": {"lr": 1e-3},
        "run": {"out_dir": str(out_dir), "max_steps": 20, "epochs": 0, "log_every": 5,
                "ckpt_every": 0, "keep_last": 2, "tensorboard": False, "progress": False},
    }
    for name, values in sections.items():
        config.setdefault(name, {})
        if isinstance(values, dict) and isinstance(config[name], dict):
            config[name].update(values)
        else:
            config[name] = values
    return config


def final_weights(run_dir: Path) -> dict[str, Any]:
    """The model weights of ``run_dir/checkpoints/last.pt``."""
    import torch

    return torch.load(Path(run_dir) / "checkpoints" / "last.pt", weights_only=True)["model_state"]


def _slow_forward(delay: float, hang_after: int) -> None:
    """Slow every forward pass down by ``delay`` seconds, and hang (sleep a minute) from forward
    number ``hang_after + 1`` on (0 = never), so a test can kill the process mid-run at a known
    point; weights are unaffected."""
    from mattepaint.train import tasks

    original = tasks.InpaintingTask.forward
    calls = {"n": 0}

    def forward(self, model, batch):
        calls["n"] += 1
        time.sleep(60 if hang_after and calls["n"] > hang_after else delay)
        return original(self, model, batch)

    tasks.InpaintingTask.forward = forward


def main(argv: list[str]) -> int:
    import torch

    from mattepaint.train import loop
    from mattepaint.train.config import config_from_dict

    mode, config_path = argv[0], Path(argv[1])
    options = dict(zip(argv[2::2], argv[3::2])) if mode == "train" else {}
    torch.set_num_threads(int(options.get("--threads", 1)))
    config = config_from_dict(json.loads(config_path.read_text()))
    if mode == "train":
        _slow_forward(float(options.get("--delay", 0)), int(options.get("--hang-after", 0)))
        loop.train(config)
        return 0
    if mode == "ddp":
        out = Path(argv[2])
        built = []
        build = loop.build_model

        def build_and_keep(name, **params):
            built.append(build(name, **params))
            return built[-1]

        loop.build_model = build_and_keep
        if len(argv) > 3:
            loop.train(resume=Path(argv[3]))
        else:
            loop.train(config)
        rank = int(os.environ["RANK"])
        torch.save(built[0].state_dict(), out / f"rank{rank}.pt")
        if len(built) > 1:  # the discriminator
            torch.save(built[1].state_dict(), out / f"rank{rank}_disc.pt")
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
