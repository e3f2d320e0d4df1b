"""Helpers shared by the model tests (tests/models) and the checkpoint reliability tests.

Imported as ``from _model_helpers import ...`` (tests/conftest.py puts this folder on ``sys.path``:
pytest runs with ``--import-mode=importlib``, so the test folder is not a package).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mattepaint.models.checkpoint import CHECKPOINT_FORMAT
from mattepaint.train.config import Config, config_to_dict

# Small parameters per model, so that each case takes well under a second on the CPU; a model
# not listed here (a new one) is built with its defaults and still covered.
SMALL_PARAMS: dict[str, dict[str, object]] = {
    "unet_inpaint": {"base": 4, "depth": 2},
    "patch_discriminator": {"base": 4, "n_layers": 2},
    "unet_matte": {"base": 4, "depth": 2},
    "late_fusion": {"base": 4, "depth": 2, "fusion_width": 4},
    "trimap_matte": {"base": 4, "depth": 2},
    "autoencoder": {"base": 4},
    "context_encoder": {"base": 4, "image_size": 32, "bottleneck": 16},
    "glcic": {"base": 4},
    "global_local_critic": {"base": 4, "local_size": 16},
    "deepfill_v1": {"base": 4},
    "pconv_unet": {"layout": "seed004", "base": 4},
    "gated_unet": {"base": 4},
    "ffc_inpaint": {"base": 4, "n_down": 2, "n_blocks": 1},
    "dim_matte": {"encoder": "scratch", "width": 4, "full_width": 4, "refine_width": 4},
}


def randomize_batchnorm_statistics(model: nn.Module) -> nn.Module:
    """Give every BatchNorm2d non-trivial running statistics (mean in [-0.1, 0.1], var in
    [0.5, 1.5], from torch's global generator), so that eval mode matters; returns ``model``."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model


def training_checkpoint(
    model: nn.Module,
    name: str,
    params: dict[str, Any],
    *,
    task: str = "inpainting",
    input_transform: str = "hole",
    **fields: Any,
) -> dict[str, Any]:
    """A checkpoint dict shaped like train/checkpoint.py's for ``model`` (``name(**params)``):
    its config (model and input transform), weights, a fresh Adam state, no critic, no scheduler
    or scaler; ``fields`` (rng, step, epoch, versions ...) add or replace entries."""
    cfg = Config()
    cfg.model.name, cfg.model.params = name, params
    cfg.data.input_transform = input_transform  # type: ignore[assignment]
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": name, "params": params},
        "task": task,
        "config": config_to_dict(cfg),
        "model_state": model.state_dict(),
        "disc_state": None,
        "optimizers": {"g": torch.optim.Adam(model.parameters()).state_dict()},
        "schedulers": {},
        "scaler": None,
        **fields,
    }


def assert_inpaints_with_gradients(model: nn.Module, size: tuple[int, int]) -> None:
    """``model`` (training mode) maps a (2, 3, H, W) image and a random (2, 1, H, W) hole mask
    to (2, 3, H, W) in [0, 1], and a loss on it gives every parameter a finite gradient."""
    image = torch.rand(2, 3, *size)
    mask = (torch.rand(2, 1, *size) > 0.7).float()
    out = model(image, mask)
    assert out.shape == (2, 3, *size)
    assert float(out.detach().min()) >= 0.0 and float(out.detach().max()) <= 1.0
    out.square().mean().backward()
    assert all(
        p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in model.parameters()
    )
