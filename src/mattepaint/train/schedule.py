"""Learning-rate schedules: constant, step decay, cosine with linear warm-up.

The schedule is a function of the training step (generator steps, counted from 0), so the
generator and the discriminator follow the same curve, each at its own base learning rate:
``lr(step) = base_lr * lr_factor(step)``. A discriminator making ``n_critic`` updates per step
gets its scheduler stepped once per update and reads the factor at ``update / n_critic``.

- ``constant``: factor 1.
- ``step``: ``gamma ** floor(epoch / step_epochs)`` with ``epoch = floor(step / steps_per_epoch)``
  (seed 004 and the Liu et al. partial-convolution recipe: lr x0.1 every 10 epochs).
- ``cosine``: linear warm-up ``(step + 1) / warmup_steps`` for ``step < warmup_steps``, then
  ``min_lr_ratio + (1 - min_lr_ratio) * (1 + cos(pi * t)) / 2`` with
  ``t = (step - warmup_steps) / (total_steps - warmup_steps)`` clamped to [0, 1]
  (SGDR, Loshchilov and Hutter, ICLR 2017, without restarts; warm-up as in Goyal et al. 2017).

The torch scheduler is a ``LambdaLR`` over a closure, so its state_dict holds only the step
count and base learning rates: a run resumed with a larger ``max_steps`` uses the new total.
"""

from __future__ import annotations

import math

import torch

from mattepaint.train.config import ConfigError, ScheduleConfig

__all__ = ["build_scheduler", "check_schedule", "lr_factor"]


def lr_factor(
    step: float, config: ScheduleConfig, *, steps_per_epoch: float, total_steps: int
) -> float:
    """The learning-rate multiplier at ``step`` (see the module docstring for the formulas).

    Inputs:
        step: training steps done so far (>= 0; fractional for discriminator updates).
        config: the schedule section of the run config.
        steps_per_epoch: training steps in one pass over the data (> 0; used by "step").
        total_steps: the step the run ends at (> 0; used by "cosine").
    Outputs: a float in (0, 1] for "constant"/"cosine" warm-up, [min_lr_ratio, 1] after it,
        gamma**k for "step".
    """
    if config.name == "constant":
        return 1.0
    if config.name == "step":
        epoch = math.floor(step / steps_per_epoch + 1e-9)
        return config.gamma ** (epoch // config.step_epochs)
    if config.name == "cosine":
        if step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, total_steps - config.warmup_steps)
        t = min(1.0, max(0.0, (step - config.warmup_steps) / span))
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
    raise ConfigError(
        f"schedule.name: expected 'constant', 'step' or 'cosine', got {config.name!r}"
    )


def check_schedule(config: ScheduleConfig, *, steps_per_epoch: float, total_steps: int) -> None:
    """Raise ConfigError for a schedule that cannot run (bad counts, gamma, ratios)."""
    if config.name == "step":
        if config.step_epochs < 1:
            raise ConfigError(f"schedule.step_epochs must be >= 1, got {config.step_epochs}")
        if not 0 < config.gamma <= 1:
            raise ConfigError(f"schedule.gamma must be in (0, 1], got {config.gamma}")
        if steps_per_epoch <= 0:
            raise ConfigError(f"step decay needs steps_per_epoch > 0, got {steps_per_epoch}")
    if config.name == "cosine":
        if config.warmup_steps < 0:
            raise ConfigError(f"schedule.warmup_steps must be >= 0, got {config.warmup_steps}")
        if not 0 <= config.min_lr_ratio <= 1:
            raise ConfigError(
                f"schedule.min_lr_ratio must be in [0, 1], got {config.min_lr_ratio}"
            )
        if total_steps <= 0:
            raise ConfigError(f"cosine schedule needs total_steps > 0, got {total_steps}")


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    config: ScheduleConfig,
    *,
    steps_per_epoch: float,
    total_steps: int,
    updates_per_step: int = 1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR following :func:`lr_factor`, to be stepped after every optimiser update.

    Inputs:
        optimizer: its param groups' ``lr`` are the base learning rates.
        config, steps_per_epoch, total_steps: as in :func:`lr_factor`.
        updates_per_step: optimiser updates per training step (``n_critic`` for the
            discriminator), so update ``u`` reads the factor at step ``u / updates_per_step``.
    Outputs: the scheduler; ``scheduler.step()`` once per update (also for updates skipped
        because the loss was not finite, so the lr stays a function of the step count).
    """
    check_schedule(config, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
    if updates_per_step < 1:
        raise ValueError(f"updates_per_step must be >= 1, got {updates_per_step}")

    def factor(update: int) -> float:
        return lr_factor(
            update / updates_per_step, config,
            steps_per_epoch=steps_per_epoch, total_steps=total_steps,
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
