"""What :func:`mattepaint.train.loop.train` does before its first step, besides building the
task and data: the config checks (:func:`check_config`; a resumed run's :func:`resumed_config`,
which may change only :data:`RESUMABLE_KEYS`), the run folder a failed start-up removes again
(:class:`NewRunFolder`), ``model.init_from`` (:func:`init_from_checkpoint`), the step count, the
optimisers and the autocast context of ``run.amp``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mattepaint.models.registry import model_task
from mattepaint.train import checkpoint as ckpt_io
from mattepaint.train.config import (
    Config,
    ConfigError,
    OptimConfig,
    config_from_dict,
    config_to_dict,
    expand_path,
)
from mattepaint.train.tasks import task_class

__all__ = [
    "RESUMABLE_KEYS",
    "NewRunFolder",
    "autocast_factory",
    "build_optimizer",
    "check_config",
    "count_steps",
    "holds_a_run",
    "init_from_checkpoint",
    "resumed_config",
]


log = logging.getLogger("mattepaint.train")

#: Config keys a resumed run may change (everything else must match the checkpoint).
RESUMABLE_KEYS: tuple[str, ...] = (
    "run.max_steps", "run.epochs", "run.out_dir", "run.device", "run.progress",
)


def holds_a_run(run_dir: Path) -> bool:
    return (run_dir / "config.yaml").exists() or (run_dir / "checkpoints").exists()


class NewRunFolder:
    """What a fresh run writes into its folder, removed again by :meth:`discard` when the run
    stops before ``started`` is set (after its first step): a failed start-up leaves nothing
    behind, so a retry is not refused as "already holds a training run".

    Made before anything is written: entries of ``run_dir`` that existed then are never
    touched; a ``run_dir`` that did not exist is removed whole, with the parent folders created
    for it when they are empty again (another run may live beside it).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.started = False
        self.existing: set[str] | None = None  # None: run_dir does not exist yet
        if run_dir.is_dir():
            self.existing = {entry.name for entry in run_dir.iterdir()}
        elif run_dir.exists():
            self.existing = set()  # a file: nothing of ours can be in it
        self.new_parents: list[Path] = []  # folders above run_dir that do not exist, deepest first
        folder = run_dir.parent
        while not folder.exists() and folder != folder.parent:
            self.new_parents.append(folder)
            folder = folder.parent

    def discard(self) -> None:
        """Remove what the run wrote, unless it started (then keep everything)."""
        if self.started:
            return
        if self.existing is None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            for folder in self.new_parents:
                try:
                    folder.rmdir()
                except OSError:  # not empty (or gone): leave it and what is above
                    break
            return
        if not self.run_dir.is_dir():
            return
        for entry in self.run_dir.iterdir():
            if entry.name in self.existing:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key not in ("params", "mask_params", "weights"):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def resumed_config(checkpoint: dict[str, Any], config: Config | None, run_dir: Path) -> Config:
    """The checkpoint's config, with the given config's :data:`RESUMABLE_KEYS` values; any other
    difference is a ConfigError naming the keys."""
    saved = config_from_dict(checkpoint["config"])
    if config is None:
        return saved
    old, new = _flatten(config_to_dict(saved)), _flatten(config_to_dict(config))
    changed = [k for k in sorted(old.keys() | new.keys())
               if old.get(k) != new.get(k) and k not in RESUMABLE_KEYS]
    if changed:
        details = "; ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:5])
        raise ConfigError(
            f"cannot resume {run_dir} with a different config ({details}); only "
            f"{', '.join(RESUMABLE_KEYS)} may change"
        )
    return dataclasses.replace(saved, run=dataclasses.replace(
        saved.run, max_steps=config.run.max_steps, epochs=config.run.epochs,
        device=config.run.device, progress=config.run.progress,
    ))


def check_config(config: Config) -> None:
    """Cross-field checks the typed loader cannot do (ConfigError naming the key)."""
    run, optim, loss = config.run, config.optim, config.loss
    if run.max_steps < 0 or run.epochs < 0 or (run.max_steps == 0 and run.epochs == 0):
        raise ConfigError(
            f"run.max_steps and run.epochs must be >= 0 and one of them > 0, got "
            f"max_steps={run.max_steps}, epochs={run.epochs}"
        )
    for key in ("log_every", "max_nonfinite"):
        if getattr(run, key) < 1:
            raise ConfigError(f"run.{key} must be >= 1, got {getattr(run, key)}")
    for key in ("val_every", "sample_every", "ckpt_every", "keep_last"):
        if getattr(run, key) < 0:
            raise ConfigError(f"run.{key} must be >= 0 (0 = off), got {getattr(run, key)}")
    if optim.n_critic < 1:
        raise ConfigError(f"optim.n_critic must be >= 1, got {optim.n_critic}")
    if optim.grad_clip < 0:
        raise ConfigError(f"optim.grad_clip must be >= 0 (0 = off), got {optim.grad_clip}")
    for key in ("lr", "d_lr"):
        if not getattr(optim, key) > 0:  # also catches nan
            raise ConfigError(f"optim.{key} must be > 0, got {getattr(optim, key)}")
    for key in ("weight_decay", "momentum"):
        if not getattr(optim, key) >= 0:
            raise ConfigError(f"optim.{key} must be >= 0, got {getattr(optim, key)}")
    if not all(0 <= b < 1 for b in optim.betas):
        raise ConfigError(f"optim.betas must both be in [0, 1), got {list(optim.betas)}")
    if not loss.gp_weight >= 0:
        raise ConfigError(f"loss.gp_weight must be >= 0, got {loss.gp_weight}")
    if config.data.batch_size < 1:
        raise ConfigError(f"data.batch_size must be >= 1, got {config.data.batch_size}")
    if config.data.num_workers < 0:
        raise ConfigError(f"data.num_workers must be >= 0, got {config.data.num_workers}")
    task = model_task(config.model.name)  # unknown model: ValueError listing the names
    if task != config.data.task:
        raise ConfigError(
            f"model.name: {config.model.name!r} is a {task} model, but data.task is "
            f"{config.data.task!r}"
        )
    if config.discriminator is not None:
        if model_task(config.discriminator.name) != "discriminator":
            raise ConfigError(
                f"discriminator.name: {config.discriminator.name!r} is not a discriminator"
            )
        if loss.gan == "none":
            raise ConfigError("a discriminator needs loss.gan: nsgan, hinge or wgan_gp (got none)")
    elif loss.gan != "none":
        raise ConfigError(f"loss.gan is {loss.gan!r} but there is no discriminator section")
    # the objective's checks, from the task's declared terms (no task built, no weights loaded)
    task_cls = task_class(config.data.task)
    task_cls.check_config(config)
    valid_best = [f"val/{m}" for m in task_cls.metric_names]
    if run.best_metric not in valid_best:
        raise ConfigError(
            f"run.best_metric: expected one of {', '.join(valid_best)}, got {run.best_metric!r}"
        )


def init_from_checkpoint(model: nn.Module, path_text: str, is_main: bool) -> None:
    """Load the "model_state" of the checkpoint ``model.init_from`` into ``model`` before
    training (not when resuming): ``load_state_dict(strict=False)``; weights whose shape does not
    fit are skipped; a model with an ``adapt_state`` method (``unet_inpaint``) first converts a
    related version of itself into its own layout (a narrower one embedded into its shapes,
    transposed up-sampling turned bilinear), so a larger ``base`` or another decoder continues a
    trained model with (about) the same output. Missing, unexpected and skipped keys are logged (a warning), not
    fatal, so a stage of a multi-stage training (e.g. seed 001's late fusion) can start from the
    last.
    A bare name of a model shipped in the package (e.g. ``late_fusion_effnet_cutout``) reads that
    model, as :func:`mattepaint.models.checkpoint.load_checkpoint` does for any name."""
    path = expand_path(path_text)
    state = ckpt_io.load_checkpoint(path)["model_state"]
    adapt = getattr(model, "adapt_state", None)
    if callable(adapt):  # e.g. a narrower U-Net of the same depth, widened in place
        try:
            state = adapt(state)
        except ValueError as exc:  # not a related version: load what fits, as for any model
            if is_main:
                log.info("model.init_from: the weights are not adapted (%s)", exc)
    own = model.state_dict()
    mismatched = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    state = {k: v for k, v in state.items() if k not in mismatched}
    result = model.load_state_dict(state, strict=False)
    if not is_main:
        return
    loaded = len(state) - len(result.unexpected_keys)
    log.info("model.init_from: loaded %d weight tensors from %s", loaded, path)
    missing = [k for k in result.missing_keys if k not in mismatched]
    for what, keys in (("missing (kept at their initial values)", missing),
                       ("unexpected (ignored)", result.unexpected_keys),
                       ("of another shape (skipped)", mismatched)):
        if keys:
            shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
            log.warning("model.init_from %s: %d keys %s: %s", path, len(keys), what, shown)


def count_steps(max_steps: int, epochs: int, steps_per_epoch: float) -> int:
    """Training steps: the smaller of max_steps and epochs * steps_per_epoch (0 = no limit)."""
    limits = []
    if max_steps > 0:
        limits.append(max_steps)
    if epochs > 0:
        limits.append(max(1, math.floor(epochs * steps_per_epoch + 1e-9)))
    return min(limits)


def build_optimizer(
    params: Iterator[nn.Parameter], cfg: OptimConfig, lr: float
) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"optim.name: expected adam, adamw or sgd, got {cfg.name!r}")


def autocast_factory(
    device: torch.device, amp: str
) -> tuple[Callable[[], contextlib.AbstractContextManager], bool]:
    """(a factory of autocast contexts, whether a GradScaler is needed) for ``run.amp``.

    bf16: autocast to bfloat16 where the device supports it; fp16: float16 autocast with a
    GradScaler, CUDA only. Unsupported combinations warn and train in float32.
    """
    if amp == "none":
        return contextlib.nullcontext, False
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    supported = torch.amp.is_autocast_available(device.type)
    if amp == "fp16" and device.type != "cuda":
        supported = False
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        supported = False
    if not supported:
        warnings.warn(
            f"run.amp={amp} is not supported on {device}; training in float32", stacklevel=3
        )
        return contextlib.nullcontext, False
    return (lambda: torch.autocast(device_type=device.type, dtype=dtype)), amp == "fp16"
