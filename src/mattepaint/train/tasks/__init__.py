"""What the training loop trains: a task turns a config into data, outputs, named losses and
validation metrics, so the loop itself knows nothing about inpainting or matting.

A task owns the whole training objective; the loop only runs the updates (forward under
autocast, backward, clip, step). A task class provides:

    name, generator_terms, critic_terms,        the terms of its objective and its validation
    metric_names (class attributes)             metrics, declared: read without building a task
    check_config(config) (classmethod)          the task's config checks (ConfigError), reading
                                                 the declared terms only (no weights loaded)
    datasets() -> (train, val | None)          torch Datasets with ``set_epoch`` on train
    forward(model, batch) -> outputs            dict of float32 tensors
    generator_loss(outputs, batch, critic)      dict term -> 0-dim tensor, plus "total"
    discriminator_loss(outputs, batch, critic)  dict term -> 0-dim tensor, plus "d_total" (only
                                                 tasks with critic_terms: inpainting)
    validate(model, batches, autocast) -> dict  metric name -> float over the validation set
    sample_rows(model, outputs, batch, n)       images for the sample grid

``critic`` is a :class:`Critic` (the discriminator as the updates call it, and its autocast), or
None without a discriminator. :data:`TASKS` maps ``data.task`` to the task class.

The tasks live in :mod:`.inpainting` (its loss terms' table in that module's docstring) and
:mod:`.matting` (likewise); what they share in :mod:`.common`.
"""

from __future__ import annotations

from mattepaint.train.config import Config, ConfigError
from mattepaint.train.tasks.common import (
    Critic,
    check_known_keys,
    check_loss_weights,
    to_device,
    train_val_images,
)
from mattepaint.train.tasks.inpainting import CRITIC_TERMS, INPAINTING_TERMS, InpaintingTask
from mattepaint.train.tasks.matting import MATTING_TERMS, MattingTask

__all__ = [
    "CRITIC_TERMS",
    "INPAINTING_TERMS",
    "MATTING_TERMS",
    "TASKS",
    "Critic",
    "InpaintingTask",
    "MattingTask",
    "build_task",
    "check_known_keys",
    "check_loss_weights",
    "task_class",
    "to_device",
    "train_val_images",
]

TASKS: dict[str, type[InpaintingTask | MattingTask]] = {
    "inpainting": InpaintingTask,
    "matting": MattingTask,
}


def task_class(name: str) -> type[InpaintingTask | MattingTask]:
    """The task class of ``data.task`` ``name``, whose declared terms, metrics and
    ``check_config`` can be read without building a task (ConfigError listing the valid
    tasks otherwise)."""
    if name not in TASKS:
        raise ConfigError(f"data.task: no training task {name!r} yet; valid: {', '.join(TASKS)}")
    return TASKS[name]


def build_task(config: Config) -> InpaintingTask | MattingTask:
    """The task of ``config.data.task`` (ConfigError listing the valid tasks otherwise)."""
    return task_class(config.data.task)(config)
