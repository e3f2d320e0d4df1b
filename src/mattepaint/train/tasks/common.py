"""What both training tasks share: moving a batch, the critic as a step calls it, weighted
totals, running metric means and the config checks of ``loss.weights`` and the image folders."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mattepaint.train.checkpoint import unwrap
from mattepaint.train.config import ConfigError, DataConfig, expand_path

__all__ = [
    "AutocastFactory",
    "Batch",
    "Critic",
    "MetricMeans",
    "Outputs",
    "check_known_keys",
    "check_loss_weights",
    "eval_mode",
    "no_autocast",
    "to_device",
    "train_val_images",
    "weighted_total",
]

Batch = dict[str, Any]
Outputs = dict[str, Tensor]
#: A factory of autocast contexts (``run.amp``), e.g. ``contextlib.nullcontext``.
AutocastFactory = Callable[[], AbstractContextManager]


def to_device(batch: Batch, device: str | torch.device, channels_last: bool = False) -> Batch:
    """Move the tensors of a batch to ``device`` (4-D ones to channels_last when asked)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.ndim == 4:
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


@dataclass(frozen=True)
class Critic:
    """The discriminator as a training step calls it: what a task's adversarial terms need.

    net: the module the updates call (a DistributedDataParallel wrapper under torchrun).
    autocast: a factory of autocast contexts for the critic's forward passes (``run.amp``,
        e.g. ``contextlib.nullcontext``); the WGAN-GP penalty always runs in float32.
    """

    net: nn.Module
    autocast: AutocastFactory = contextlib.nullcontext

    @property
    def module(self) -> nn.Module:
        """The critic itself, without a DDP wrapper: feature matching calls its
        ``forward_features`` directly (the critic's gradients of a generator step are
        discarded, so DDP's gradient hooks are not needed there)."""
        return unwrap(self.net)

    @property
    def in_channels(self) -> int:
        """Channels the critic takes (3 = image, 4 = image + mask); 3 when not declared."""
        return int(getattr(self.module, "in_channels", 3))


def no_autocast(device: torch.device) -> AbstractContextManager:
    """A context with autocast off on ``device`` (float32 inside an autocast region)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


def weighted_total(weights: dict[str, float], terms: dict[str, Tensor], like: Tensor) -> Tensor:
    """``sum_k weights[k] * terms[k]``, added left to right in the order of ``terms`` (the order
    is part of the result in floating point), starting from a 0-dim zero like ``like``."""
    return sum((weights[name] * value for name, value in terms.items()), start=like.new_zeros(()))


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode inside the block, back in its own mode after it (even on error)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class MetricMeans:
    """Running means of the named validation metrics: ``add`` a sum of values and their count;
    ``means()`` gives ``sum / count`` per name, nan for a metric that got no value."""

    def __init__(self, names: Sequence[str]) -> None:
        self.sums = dict.fromkeys(names, 0.0)
        self.counts = dict.fromkeys(names, 0)

    def add(self, name: str, total: float, count: int = 1) -> None:
        self.sums[name] += total
        self.counts[name] += count

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] if self.counts[k] else math.nan for k in self.sums}


def check_loss_weights(weights: dict[str, float], terms: Sequence[str], task: str) -> None:
    """loss.weights must name only ``terms`` of ``task``, be >= 0, and have one weight > 0.

    Raises ConfigError naming the first unknown term and listing the valid ones.
    """
    unknown = [k for k in weights if k not in terms]
    if unknown:
        raise ConfigError(
            f"loss.weights: unknown term {unknown[0]!r} for the {task} task; valid terms: "
            f"{', '.join(terms)}"
        )
    negative = {k: w for k, w in weights.items() if w < 0}
    if negative:
        raise ConfigError(f"loss.weights must be >= 0, got {negative}")
    if not any(w > 0 for w in weights.values()):
        raise ConfigError(f"loss.weights: at least one term needs a weight > 0, got {weights}")


def check_known_keys(given: Iterable[str], valid: Iterable[str], where: str, task: str) -> None:
    """Every key of the config section ``where`` (e.g. "loss.params") must be one of ``valid``.

    Raises ConfigError naming the first unknown key and listing the valid ones.
    """
    valid = list(valid)
    unknown = [k for k in given if k not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} for the {task} task; valid keys: "
            f"{', '.join(valid)}"
        )


def train_val_images(data: DataConfig, seed: int, what: str) -> tuple[list[Path], list[Path]]:
    """The training and validation image files of ``data``: ``train_dirs`` (at most
    ``max_images`` of them) and ``val_dirs``, or a ``val_fraction`` split of ``train_dirs``
    (chosen by ``seed``) when ``val_dirs`` is empty. ``what`` names the images in errors."""
    from mattepaint.data.inpainting import find_images, split_files

    if not data.train_dirs:
        raise ConfigError(f"data.train_dirs: list at least one {what} folder")
    files = find_images([expand_path(d) for d in data.train_dirs])
    if data.val_dirs:
        train_files, val_files = files, find_images([expand_path(d) for d in data.val_dirs])
    else:
        train_files, val_files = split_files(files, data.val_fraction, seed)
    if data.max_images > 0:
        train_files = train_files[: data.max_images]
    return train_files, val_files
