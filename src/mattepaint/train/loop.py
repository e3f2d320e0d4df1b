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

What runs before the first step lives beside it: the config checks, the run folder a failed
start-up removes, ``model.init_from`` and the optimisers in :mod:`mattepaint.train.setup`; the
batch stream, validation batches and per-step re-seeding in :mod:`mattepaint.train.batches`.

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
import signal
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from mattepaint.errors import OutputExistsError
from mattepaint.models.registry import build_model
from mattepaint.train import checkpoint as ckpt_io
from mattepaint.train.batches import (
    BatchStream,
    first_batch,
    fork_safe_numba,
    reseed,
    val_loader,
)
from mattepaint.train.config import (
    Config,
    ConfigError,
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
    restore_determinism,
    rng_state,
    seed_everything,
    set_rng_state,
)
from mattepaint.train.setup import (
    RESUMABLE_KEYS,
    NewRunFolder,
    autocast_factory,
    build_optimizer,
    check_config,
    count_steps,
    holds_a_run,
    init_from_checkpoint,
    resumed_config,
)
from mattepaint.train.tasks import Critic, build_task, to_device

__all__ = ["RESUMABLE_KEYS", "TrainingError", "train"]

log = logging.getLogger("mattepaint.train")


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
        config = resumed_config(checkpoint, config, run_dir)
    elif config is None:
        raise ValueError("train() needs a config, or resume=RUN_DIR to continue a run")
    else:
        run_dir = expand_path(config.run.out_dir)
    run_cfg = config.run
    if max_steps is not None:
        run_cfg = dataclasses.replace(run_cfg, max_steps=int(max_steps))
    run_cfg = dataclasses.replace(run_cfg, out_dir=str(run_dir), device=device or run_cfg.device)
    config = dataclasses.replace(config, run=run_cfg)
    check_config(config)
    show_progress = run_cfg.progress if progress is None else progress

    fork_safe_numba()
    dist_info = init_distributed(run_cfg.device)
    previous_determinism = configure_determinism(run_cfg.deterministic)
    new_run = NewRunFolder(run_dir) if checkpoint is None and dist_info.is_main else None
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
    new_run: NewRunFolder | None,
) -> Path:
    run_cfg, optim_cfg = config.run, config.optim
    clip = optim_cfg.grad_clip  # max global gradient norm, 0 = off
    device = torch.device(dist_info.device)
    is_main = dist_info.is_main
    if checkpoint is None and holds_a_run(run_dir):
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
    total_steps = count_steps(run_cfg.max_steps, run_cfg.epochs, steps_per_epoch)
    stream = BatchStream(train_set, sampler, config.data.num_workers, run_cfg.seed, dist_info)

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
    opt_g = build_optimizer(model.parameters(), optim_cfg, optim_cfg.lr)
    sched_g = build_scheduler(
        opt_g, config.schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps
    )
    opt_d = build_optimizer(disc.parameters(), optim_cfg, optim_cfg.d_lr) if gan else None
    sched_d = build_scheduler(
        opt_d, config.schedule, steps_per_epoch=steps_per_epoch, total_steps=total_steps,
        updates_per_step=n_critic,
    ) if gan else None
    autocast, use_scaler = autocast_factory(device, run_cfg.amp)
    scaler_g = torch.amp.GradScaler(device.type) if use_scaler else None
    scaler_d = torch.amp.GradScaler(device.type) if use_scaler and gan else None

    # ---------------------------------------------------------------- init_from / resume
    if checkpoint is None and config.model.init_from:
        init_from_checkpoint(model, config.model.init_from, is_main)
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
        val_batches = val_loader(val_set, config.data.batch_size, device, run_cfg.channels_last)
        sample_batch = next(iter(val_batches)) if val_batches is not None else first_batch(
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
            reseed(run_cfg.seed, dist_info.rank, step)

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
                      stream: BatchStream, guard: _NonFiniteGuard,
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
