"""The training loop: one function, :func:`train`, that reads top to bottom.

    setup:  config checks -> distributed -> seeding -> task, data -> model(s), optimisers,
            schedulers, scalers -> init_from or resume -> DDP wrappers -> run dir +
            config.yaml -> logger, checkpoints
    loop:   for each step (a generator step):
              n_critic times (only with a discriminator), each on its own batch:
                  forward G (no grad) -> task.discriminator_loss -> non-finite check ->
                  backward -> clip -> step D -> scheduler D
              one generator update on its own batch:
                  forward -> task.generator_loss -> non-finite check -> backward -> clip
                  -> step G -> scheduler G
              log / validate / sample / checkpoint when their cadence says so
    end:    validation, samples, final checkpoint, curves.png; returns the run dir

Steps count generator steps; ``run.max_steps`` and ``run.epochs`` both cap them (whichever comes
first). ``data.batch_size`` is per process: under torchrun the global batch is
``batch_size * world_size`` (see :mod:`mattepaint.train.distributed`).

Reproducibility: everything is seeded from ``run.seed``; at the start of every step the global
RNGs (Python, numpy, torch) are re-seeded from (seed, rank, step), and every sample is a pure
function of (seed, epoch, index), so the state of a run is fully described by the weights,
optimiser / scheduler / scaler states, the step and the position in the epoch. That is what a
checkpoint holds; resuming continues bit-exactly on the CPU (tests/train/test_resume.py; on a
GPU as exactly as its kernels are deterministic).

Start-up: the config is checked, then the task, data, models, optimisers (and a resumed
checkpoint) are built before anything is written; the run folder appears only then. A fresh run
that stops before its first step completes (a missing data folder, a model that rejects its
input, an interrupt) removes what it wrote there, so the same command can simply be run again.

Failure handling: a non-finite loss (or, without a GradScaler, a non-finite gradient norm)
skips that update; it is counted (``train/nonfinite`` in the logs) and warned about, and after
``run.max_nonfinite`` in a row the run stops with :class:`TrainingError`, leaving the last good
checkpoint in place. SIGTERM / SIGINT finish the current step, write a checkpoint and return.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from mattepaint.errors import OutputExistsError
from mattepaint.models.registry import build_model, model_task
from mattepaint.train import checkpoint as ckpt_io
from mattepaint.train.config import (
    Config,
    ConfigError,
    OptimConfig,
    config_from_dict,
    config_to_dict,
    expand_path,
    save_config,
)
from mattepaint.train.distributed import (
    DistInfo,
    ShardedBatchSampler,
    all_ranks_agree,
    barrier,
    cleanup_distributed,
    init_distributed,
)
from mattepaint.train.logger import MetricLogger, TrainProgress, make_grid, plot_curves, save_grid
from mattepaint.train.schedule import build_scheduler
from mattepaint.train.seeding import (
    configure_determinism,
    loader_generator,
    restore_determinism,
    rng_state,
    seed_everything,
    seed_worker,
    set_rng_state,
)
from mattepaint.train.tasks import Critic, build_task, task_class, to_device

__all__ = ["RESUMABLE_KEYS", "TrainingError", "train"]

log = logging.getLogger("mattepaint.train")

#: Config keys a resumed run may change (everything else must match the checkpoint).
RESUMABLE_KEYS: tuple[str, ...] = (
    "run.max_steps", "run.epochs", "run.out_dir", "run.device", "run.progress",
)


class TrainingError(RuntimeError):
    """Training cannot go on (e.g. too many non-finite losses in a row); a one-line message."""


# ============================================================================ the loop


def train(
    config: Config | None = None,
    *,
    resume: str | Path | None = None,
    device: str | None = None,
    max_steps: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Train the model of ``config`` (or continue the run in ``resume``); return the run dir.

    Inputs:
        config: the experiment. May be None when resuming (the checkpoint's config is used);
            when given with ``resume`` it must equal the checkpoint's except for
            :data:`RESUMABLE_KEYS`.
        resume: a run folder; training continues from ``<resume>/checkpoints/last.pt`` in that
            folder, exactly where it stopped (same batches, same random numbers).
        device: overrides ``run.device`` ("cpu", "cuda", "cuda:1", "mps").
        max_steps: overrides ``run.max_steps`` (e.g. to extend a finished run).
        progress: overrides ``run.progress`` (the bar is only drawn on a terminal).
    Outputs: the run folder:
        config.yaml, metrics.csv, metrics.jsonl, tb/, samples/step_NNNNNNN.png,
        checkpoints/{step_NNNNNNN,last,best}.pt, curves.png.
    A fresh run that fails before its first step completes leaves no run folder behind (see
    the module docstring).

    Raises:
        ConfigError: an invalid or inconsistent config (or a resume with a changed one).
        FileExistsError: ``run.out_dir`` already holds a run and ``resume`` was not given.
        FileNotFoundError: missing data folder or checkpoint.
        TrainingError: ``run.max_nonfinite`` non-finite updates in a row.
    """
    # ---------------------------------------------------------------- config and run folder
    checkpoint = None
    if resume is not None:
        run_dir = Path(resume)
        checkpoint = ckpt_io.load_resume_checkpoint(run_dir / "checkpoints" / "last.pt")
        config = _resumed_config(checkpoint, config, run_dir)
    elif config is None:
        raise ValueError("train() needs a config, or resume=RUN_DIR to continue a run")
    else:
        run_dir = expand_path(config.run.out_dir)
    run_cfg = config.run
    if max_steps is not None:
        run_cfg = dataclasses.replace(run_cfg, max_steps=int(max_steps))
    run_cfg = dataclasses.replace(run_cfg, out_dir=str(run_dir), device=device or run_cfg.device)
    config = dataclasses.replace(config, run=run_cfg)
    _check_config(config)
    show_progress = run_cfg.progress if progress is None else progress

    _fork_safe_numba()
    dist_info = init_distributed(run_cfg.device)
    previous_determinism = configure_determinism(run_cfg.deterministic)
    new_run = _NewRunFolder(run_dir) if checkpoint is None and dist_info.is_main else None
    try:
        with _StopSignals() as stop:
            return _train(config, run_dir, checkpoint, dist_info, show_progress, stop, new_run)
    except BaseException:
        if new_run is not None:
            new_run.discard()  # a failed start-up leaves nothing (no-op once a step completed)
        raise
    finally:
        restore_determinism(previous_determinism)
        cleanup_distributed(dist_info)


def _train(
    config: Config,
    run_dir: Path,
    checkpoint: dict[str, Any] | None,
    dist_info: DistInfo,
    show_progress: bool,
    stop: _StopSignals,
    new_run: _NewRunFolder | None,
) -> Path:
    run_cfg, optim_cfg = config.run, config.optim
    clip = optim_cfg.grad_clip  # max global gradient norm, 0 = off
    device = torch.device(dist_info.device)
    is_main = dist_info.is_main
    if checkpoint is None and _holds_a_run(run_dir):
        if (run_dir / "checkpoints" / "last.pt").is_file():
            hint = f"resume it (--resume {run_dir})"
        else:
            hint = "it wrote no checkpoint to resume from: delete that folder"
        raise OutputExistsError(
            f"{run_dir} already holds a training run; {hint} or choose another run.out_dir"
        )
    seed_everything(run_cfg.seed)

    # ---------------------------------------------------------------- task and data
    task = build_task(config)
    train_set, val_set = task.datasets()
    if val_set is None and checkpoint is None and is_main:
        log.warning("no validation images: no val metrics, no best.pt")
    sampler = ShardedBatchSampler(
        len(train_set), config.data.batch_size, rank=dist_info.rank,
        world_size=dist_info.world_size, seed=run_cfg.seed, shuffle=True, drop_last=True,
    )
    gan = config.discriminator is not None
    n_critic = optim_cfg.n_critic if gan else 0
    batches_per_step = n_critic + 1  # each discriminator update and the generator update
    steps_per_epoch = sampler.batches_per_epoch / batches_per_step
    total_steps = _total_steps(run_cfg.max_steps, run_cfg.epochs, steps_per_epoch)
    stream = _BatchStream(train_set, sampler, config.data.num_workers, run_cfg.seed, dist_info)

    # ---------------------------------------------------------------- models and optimisers
    pretrained = {"pretrained": config.model.pretrained} if config.model.pretrained else {}
    model = build_model(config.model.name, **config.model.params, **pretrained).to(device)
    multiple = getattr(model, "size_multiple", 1)
    if config.data.image_size % multiple:
        raise ConfigError(
            f"data.image_size must be a multiple of {multiple} for model {config.model.name!r}, "
            f"got {config.data.image_size}"
        )
    disc = None
    if gan:
        disc = build_model(config.discriminator.name, **config.discriminator.params).to(device)
    if run_cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
        disc = disc.to(memory_format=torch.channels_last) if gan else None
    opt_g = _build_optimizer(model.parameters(), optim_cfg, optim_cfg.lr)
    sched_g = build_scheduler(
        opt_g, config.schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps
    )
    opt_d = _build_optimizer(disc.parameters(), optim_cfg, optim_cfg.d_lr) if gan else None
    sched_d = build_scheduler(
        opt_d, config.schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps,
        updates_per_step=n_critic,
    ) if gan else None
    autocast, use_scaler = _autocast(device, run_cfg.amp)
    scaler_g = torch.amp.GradScaler(device.type) if use_scaler else None
    scaler_d = torch.amp.GradScaler(device.type) if use_scaler and gan else None

    # ---------------------------------------------------------------- init_from / resume
    if checkpoint is None and config.model.init_from:
        _init_from(model, config.model.init_from, is_main)
    step, best_value = 0, None
    guard = _NonFiniteGuard(run_cfg.max_nonfinite, run_dir / "checkpoints" / "last.pt")
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model_state"])
        opt_g.load_state_dict(checkpoint["optimizers"]["g"])
        sched_g.load_state_dict(checkpoint["schedulers"]["g"])
        if scaler_g is not None and checkpoint.get("scaler"):
            scaler_g.load_state_dict(checkpoint["scaler"]["g"])
        if gan:
            disc.load_state_dict(checkpoint["disc_state"])
            opt_d.load_state_dict(checkpoint["optimizers"]["d"])
            sched_d.load_state_dict(checkpoint["schedulers"]["d"])
            if scaler_d is not None and checkpoint.get("scaler"):
                scaler_d.load_state_dict(checkpoint["scaler"]["d"])
        step = int(checkpoint["step"])
        stream.seek(int(checkpoint["epoch"]), int(checkpoint["batch_in_epoch"]))
        guard.total = int(checkpoint["nonfinite"]["total"])
        guard.in_row = int(checkpoint["nonfinite"]["in_row"])
        best_value = checkpoint.get("best", {}).get("value")
        set_rng_state(checkpoint["rng"])
        if is_main:
            log.info("resumed %s at step %d (epoch %d, batch %d)", run_dir, step,
                     stream.epoch, stream.batch_in_epoch)

    # ---------------------------------------------------------------- distributed wrappers
    train_model, train_disc = model, disc  # what the updates call (DDP wrappers under torchrun)
    if dist_info.distributed:
        ids = [device.index] if device.type == "cuda" else None
        train_model = DistributedDataParallel(model, device_ids=ids)
        train_disc = DistributedDataParallel(disc, device_ids=ids) if gan else None
    critic = Critic(train_disc, autocast) if gan else None  # what the task's GAN terms call

    # ---------------------------------------------------------------- logs and checkpoints
    val_batches = sample_batch = None  # rank 0 validates and draws samples
    if is_main:
        val_batches = _val_loader(val_set, config.data.batch_size, device, run_cfg.channels_last)
        sample_batch = next(iter(val_batches)) if val_batches is not None else _first_batch(
            train_set, config.data.batch_size, device, run_cfg.channels_last
        )
    barrier(dist_info)  # every rank is set up before rank 0 writes anything: the run folder
    if is_main:
        save_config(config, run_dir / "config.yaml")
    manager = ckpt_io.CheckpointManager(
        run_dir / "checkpoints", keep_last=run_cfg.keep_last, best_metric=run_cfg.best_metric,
        best_mode=run_cfg.best_mode, best_value=best_value, enabled=is_main,
    )
    logger = MetricLogger(
        run_dir, tensorboard=run_cfg.tensorboard, enabled=is_main,
        resume_step=step if checkpoint is not None else None,
    )

    def state() -> dict[str, Any]:  # everything a checkpoint holds, at the current step
        return _checkpoint_state(
            config, task.name, model, disc, {"g": opt_g, "d": opt_d}, {"g": sched_g, "d": sched_d},
            {"g": scaler_g, "d": scaler_d}, step, stream, guard, manager,
        )

    def evaluate(validate: bool, samples: bool) -> None:  # val metrics + best.pt, sample grid
        if is_main and validate and val_batches is not None:
            values = task.validate(model, val_batches, autocast)
            logger.log(step, {f"val/{k}": v for k, v in values.items()} | {"epoch": stream.epoch})
            log.info("step %d: %s", step, ", ".join(f"{k} {v:.4g}" for k, v in values.items()))
            manager.update_best(values[run_cfg.best_metric.removeprefix("val/")], state)
        if is_main and samples:
            _save_samples(task, model, sample_batch, autocast, run_dir, step, logger)
        barrier(dist_info)

    # ---------------------------------------------------------------- the loop
    images_per_step = config.data.batch_size * dist_info.world_size * batches_per_step
    bar = TrainProgress(total_steps, step, enabled=show_progress and is_main)
    sums: dict[str, Tensor] = {}  # running sums of the logged terms since the last log
    counts: dict[str, int] = {}
    last_val = last_samples = last_ckpt = -1
    window_start, window_steps = time.perf_counter(), 0
    model.train()
    if gan:
        disc.train()
    try:
        while step < total_steps:
            _reseed(run_cfg.seed, dist_info.rank, step)

            # -- discriminator: n_critic updates, each on its own batch
            for _ in range(n_critic):
                batch = to_device(stream.next(), device, run_cfg.channels_last)
                with torch.no_grad(), autocast():
                    outputs = task.forward(train_model, batch)
                d_terms = task.discriminator_loss(outputs, batch, critic)
                norm = _update(d_terms["d_total"], opt_d, sched_d, scaler_d, disc, clip, dist_info)
                guard.check(norm, step, "discriminator", d_terms)
                _accumulate(sums, counts, d_terms | {"d_grad_norm": norm}, norm)

            # -- generator: one update on its own batch
            batch = to_device(stream.next(), device, run_cfg.channels_last)
            with autocast():
                outputs = task.forward(train_model, batch)
            terms = task.generator_loss(outputs, batch, critic)
            norm = _update(terms["total"], opt_g, sched_g, scaler_g, model, clip, dist_info)
            guard.check(norm, step, "generator", terms)
            _accumulate(sums, counts, terms | {"grad_norm": norm}, norm)
            step += 1
            if new_run is not None:
                new_run.started = True  # from here on the folder holds a real run
            window_steps += 1

            # -- logging
            if step % run_cfg.log_every == 0 or step == total_steps:
                elapsed = time.perf_counter() - window_start
                images_per_s = images_per_step * window_steps / max(elapsed, 1e-9)
                values = {f"train/{k}": float(sums[k]) / counts[k] for k in sums}
                values["train/lr"] = opt_g.param_groups[0]["lr"]
                if gan:
                    values["train/d_lr"] = opt_d.param_groups[0]["lr"]
                values["train/nonfinite"] = guard.total
                values["train/images_per_s"] = images_per_s
                values["epoch"] = stream.epoch
                logger.log(step, values)
                bar.update(step, loss=values.get("train/total"), images_per_s=images_per_s)
                sums.clear()
                counts.clear()
                window_start, window_steps = time.perf_counter(), 0
            else:
                bar.update(step)

            # -- validation, samples, checkpoints
            do_val = run_cfg.val_every > 0 and step % run_cfg.val_every == 0
            do_samples = run_cfg.sample_every > 0 and step % run_cfg.sample_every == 0
            if do_val or do_samples:
                evaluate(do_val, do_samples)
                last_val = step if do_val else last_val
                last_samples = step if do_samples else last_samples
            if run_cfg.ckpt_every and step % run_cfg.ckpt_every == 0:
                manager.save(state())
                last_ckpt = step
            if stop.requested(dist_info, device):
                if last_ckpt != step:
                    manager.save(state())
                if is_main:
                    log.warning("stopped by %s at step %d; checkpoint %s written, resume with "
                                "--resume %s", stop.name, step, manager.last_path, run_dir)
                return run_dir

        # ------------------------------------------------------------ end of training
        if last_val != step or last_samples != step:
            evaluate(last_val != step, last_samples != step)
        if last_ckpt != step:
            manager.save(state())
        if is_main:
            plot_curves(logger.rows, run_dir / "curves.png")
        return run_dir
    finally:
        bar.close()
        logger.close()
        stream.close()


# ============================================================================ the update


def _update(
    loss: Tensor,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
    module: nn.Module,
    grad_clip: float,
    dist_info: DistInfo,
) -> Tensor | None:
    """backward -> clip -> step -> scheduler step. Returns the gradient norm (a 0-dim tensor,
    before clipping), or None when the update was skipped because the loss (or, without a
    scaler, the gradient norm) was not finite on some rank. The scheduler steps either way
    (the lr is a function of the step)."""
    finite = all_ranks_agree(bool(torch.isfinite(loss.detach())), dist_info, loss.device)
    optimizer.zero_grad(set_to_none=True)
    if finite:
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        params = [p for p in module.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, grad_clip if grad_clip > 0 else math.inf)
        if scaler is not None:  # inf/nan gradients are the scaler's business: it skips the step
            scaler.step(optimizer)
            scaler.update()
        elif torch.isfinite(norm):  # identical on every rank after DDP's all-reduce
            optimizer.step()
        else:
            finite = False
            optimizer.zero_grad(set_to_none=True)
    with warnings.catch_warnings():  # "scheduler.step() before optimizer.step()" after a skip
        warnings.simplefilter("ignore", UserWarning)
        scheduler.step()
    return norm.detach() if finite else None


class _NonFiniteGuard:
    """Counts skipped (non-finite) updates; raises TrainingError after ``limit`` in a row."""

    def __init__(self, limit: int, last_checkpoint: Path) -> None:
        self.limit, self.last_checkpoint = limit, last_checkpoint
        self.total = self.in_row = 0

    def check(self, norm: Tensor | None, step: int, who: str, terms: dict[str, Tensor]) -> None:
        """``norm`` is what :func:`_update` returned: None for a skipped update."""
        if norm is not None:
            self.in_row = 0
            return
        self.total += 1
        self.in_row += 1
        values = ", ".join(f"{k}={v.item():.4g}" for k, v in terms.items())
        log.warning("step %d: non-finite %s update skipped (%s); %d in a row",
                    step + 1, who, values, self.in_row)
        if self.in_row >= self.limit:
            kept = self.last_checkpoint if self.last_checkpoint.exists() else "none written yet"
            raise TrainingError(
                f"{self.in_row} non-finite {who} updates in a row at step {step + 1} ({values}); "
                f"stopping (run.max_nonfinite={self.limit}); last good checkpoint: {kept}"
            )


def _accumulate(sums: dict[str, Tensor], counts: dict[str, int], terms: dict[str, Tensor],
                norm: Tensor | None) -> None:
    """Add the values of a finite update to the running sums for the next log row (on the
    device: read back only when the row is written)."""
    if norm is None:
        return
    for key, value in terms.items():
        sums[key] = sums[key] + value.detach() if key in sums else value.detach().clone()
        counts[key] = counts.get(key, 0) + 1


# ============================================================================ setup helpers


def _holds_a_run(run_dir: Path) -> bool:
    return (run_dir / "config.yaml").exists() or (run_dir / "checkpoints").exists()


class _NewRunFolder:
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


def _resumed_config(checkpoint: dict[str, Any], config: Config | None, run_dir: Path) -> Config:
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


def _check_config(config: Config) -> None:
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


def _init_from(model: nn.Module, path_text: str, is_main: bool) -> None:
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


def _total_steps(max_steps: int, epochs: int, steps_per_epoch: float) -> int:
    """Training steps: the smaller of max_steps and epochs * steps_per_epoch (0 = no limit)."""
    limits = []
    if max_steps > 0:
        limits.append(max_steps)
    if epochs > 0:
        limits.append(max(1, math.floor(epochs * steps_per_epoch + 1e-9)))
    return min(limits)


def _build_optimizer(
    params: Iterator[nn.Parameter], cfg: OptimConfig, lr: float
) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    raise ConfigError(f"optim.name: expected adam, adamw or sgd, got {cfg.name!r}")


def _autocast(
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


def _reseed(seed: int, rank: int, step: int) -> None:
    """Seed Python, numpy and torch from (seed, rank, step): dropout masks, gradient-penalty
    interpolation etc. then depend only on the step, which makes resume exact."""
    words = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint32)
    seed_everything(int(words[0]))
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))


# ============================================================================ data


class _BatchStream:
    """Endless training batches, epoch after epoch; knows (epoch, batch_in_epoch).

    ``batch_in_epoch`` counts the batches of this rank's current epoch already consumed: the
    position a checkpoint records and :meth:`seek` restores (the sampler starts there).
    """

    def __init__(self, dataset: Dataset, sampler: ShardedBatchSampler, num_workers: int,
                 seed: int, dist_info: DistInfo) -> None:
        self.dataset, self.sampler = dataset, sampler
        self.num_workers, self.seed, self.rank = num_workers, seed, dist_info.rank
        self.pin_memory = dist_info.device.startswith("cuda")
        self.epoch, self.batch_in_epoch = 0, 0
        self.iterator: Iterator | None = None

    def seek(self, epoch: int, batch_in_epoch: int) -> None:
        self.epoch, self.batch_in_epoch, self.iterator = epoch, batch_in_epoch, None

    def next(self) -> dict[str, Any]:
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:  # epoch done: next one
            self.epoch, self.batch_in_epoch, self.iterator = self.epoch + 1, 0, None
        if self.iterator is None:
            self.dataset.set_epoch(self.epoch)  # before the workers copy the dataset
            self.sampler.set_epoch(self.epoch, start_batch=self.batch_in_epoch)
            loader = DataLoader(
                self.dataset, batch_sampler=self.sampler, num_workers=self.num_workers,
                worker_init_fn=seed_worker,
                generator=loader_generator(self.seed, self.epoch, self.rank),
                pin_memory=self.pin_memory, persistent_workers=False,
            )
            self.iterator = iter(loader)
        batch = next(self.iterator)
        self.batch_in_epoch += 1
        return batch

    def close(self) -> None:
        self.iterator = None  # shuts the workers down


class _DeviceBatches:
    """Validation batches, re-iterable, moved to the device on the fly (rank 0 only)."""

    def __init__(self, loader: DataLoader, device: torch.device, channels_last: bool) -> None:
        self.loader, self.device, self.channels_last = loader, device, channels_last

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            yield to_device(batch, self.device, self.channels_last)


def _val_loader(val_set: Dataset | None, batch_size: int, device: torch.device,
                channels_last: bool) -> _DeviceBatches | None:
    if val_set is None:
        return None
    loader = DataLoader(val_set, batch_size=batch_size, shuffle=False, num_workers=0,
                        generator=loader_generator(0, 0, 0))
    return _DeviceBatches(loader, device, channels_last)


def _fork_safe_numba() -> None:
    """Make numba's parallel kernels (pymatting's shared matting, a ``dim_matte`` prior) safe in
    a process that later forks DataLoader workers: numba's GNU OpenMP threading layer aborts a
    child forked after the parent used it ("fork() called from a process already using GNU
    OpenMP"), which the validation priors computed in the main process trigger. Selects the
    fork-safe "workqueue" layer unless the user chose one (``NUMBA_THREADING_LAYER``)."""
    import os
    import sys

    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
    if "numba" in sys.modules:  # already imported: its config was read from the environment
        sys.modules["numba"].config.THREADING_LAYER = "workqueue"


def _first_batch(dataset: Dataset, batch_size: int, device: torch.device,
                 channels_last: bool) -> dict[str, Any]:
    """The first training samples (epoch 0), for the sample grid of a run without val set."""
    dataset.set_epoch(0)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        generator=loader_generator(0, 0, 0))
    return to_device(next(iter(loader)), device, channels_last)


# ============================================================================ outputs


def _save_samples(task: Any, model: nn.Module, batch: dict[str, Any],
                  autocast: Callable[[], contextlib.AbstractContextManager], run_dir: Path,
                  step: int, logger: MetricLogger) -> None:
    """samples/step_NNNNNNN.png: rows input | mask | prediction | ground truth (+ TensorBoard)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast():
            outputs = task.forward(model, batch)
    finally:
        model.train(was_training)
    grid = make_grid(task.sample_rows(model, outputs, batch, n=4))
    save_grid(run_dir / "samples" / f"step_{step:07d}.png", grid)
    logger.add_image("samples", grid, step)


def _checkpoint_state(config: Config, task_name: str, model: nn.Module, disc: nn.Module | None,
                      optimizers: dict, schedulers: dict, scalers: dict, step: int,
                      stream: _BatchStream, guard: _NonFiniteGuard,
                      manager: ckpt_io.CheckpointManager) -> dict[str, Any]:
    """The checkpoint dict (format in :mod:`mattepaint.train.checkpoint`), CPU tensors."""
    def present(table: dict[str, Any]) -> dict[str, Any]:
        return {k: v.state_dict() for k, v in table.items() if v is not None}

    return ckpt_io.to_cpu({
        "format": ckpt_io.CHECKPOINT_FORMAT,
        "model": {"name": config.model.name, "params": dict(config.model.params)},
        "discriminator": dataclasses.asdict(config.discriminator) if disc is not None else None,
        "task": task_name,
        "config": config_to_dict(config),
        "model_state": ckpt_io.unwrap(model).state_dict(),
        "disc_state": ckpt_io.unwrap(disc).state_dict() if disc is not None else None,
        "optimizers": present(optimizers),
        "schedulers": present(schedulers),
        "scaler": present(scalers) or None,
        "rng": rng_state(),
        "step": step,
        "epoch": stream.epoch,
        "batch_in_epoch": stream.batch_in_epoch,
        "best": {"metric": manager.best_metric, "value": manager.best_value},
        "nonfinite": {"total": guard.total, "in_row": guard.in_row},
        "versions": ckpt_io.versions(),
    })


# ============================================================================ signals


class _StopSignals:
    """Context manager: SIGTERM / SIGINT set a flag (the loop finishes its step, writes a
    checkpoint and returns); a second SIGINT interrupts at once. Handlers are only installed in
    the main thread and restored on exit."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.name = signal.Signals(signum).name

    def requested(self, dist_info: DistInfo, device: torch.device) -> bool:
        """True when any rank got a stop signal (all ranks then stop at the same step)."""
        return not all_ranks_agree(self.name is None, dist_info, device)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
