"""Training state: keep-last-K and best checkpoints of a run, and reading one back to resume.

The file format belongs to :mod:`mattepaint.models.checkpoint` (``save_checkpoint`` writes it,
``load_checkpoint`` reads it with ``torch.load(weights_only=True)`` only; both are re-exported
here). A training checkpoint is one ``torch.save`` dict (format "mattepaint-checkpoint-v1")::

    {"format", "model": {"name", "params"}, "discriminator": {"name", "params"} | None,
     "task", "config": config_to_dict(cfg), "model_state", "disc_state" | None,
     "optimizers": {"g": ..., "d": ...}, "schedulers": {"g": ..., "d": ...},
     "scaler": {"g": ..., "d": ...} | None, "rng": seeding.rng_state(),
     "step", "epoch", "batch_in_epoch", "best": {"metric", "value"},
     "nonfinite": {"total", "in_row"}, "versions": {"mattepaint", "torch", "python"}}

Everything is saved on the CPU (weights from the unwrapped module: no DDP "module." prefix)
and only in plain types (dicts, lists, tuples, tensors, numbers, strings, None), which saving
checks. Files are written to a temporary name and renamed (``mattepaint.io.atomic_path``), so a
run killed mid-write never leaves a truncated checkpoint: readers see the previous file or the
new one.

Layout under ``<run>/checkpoints/``: ``step_0000100.pt`` (the newest ``keep_last`` are kept),
``last.pt`` (a real copy of the newest, what ``resume`` reads) and ``best.pt`` (the state with
the best validation metric so far).
"""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mattepaint.errors import InputError
from mattepaint.io import atomic_path
from mattepaint.models.checkpoint import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    save_checkpoint,
    versions,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "RESUME_KEYS",
    "CheckpointManager",
    "load_checkpoint",
    "load_resume_checkpoint",
    "save_checkpoint",
    "to_cpu",
    "unwrap",
    "versions",
]

#: What a checkpoint must hold to be resumed (a model file from ``export`` holds none of these).
RESUME_KEYS = (
    "config",
    "optimizers",
    "schedulers",
    "rng",
    "step",
    "epoch",
    "batch_in_epoch",
    "nonfinite",
)

_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel / DataParallel wrapper (else ``model``)."""
    inner = getattr(model, "module", None)
    return inner if isinstance(inner, nn.Module) else model


def to_cpu(value: Any) -> Any:
    """``value`` with every tensor (in nested dicts / lists / tuples) moved to the CPU."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: to_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_cpu(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_cpu(v) for v in value)
    return value


def load_resume_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint to resume from (``<run>/checkpoints/last.pt``).

    Outputs: the checkpoint dict (see the module docstring), tensors on the CPU.
    Raises:
        InputNotFoundError / UnsafeCheckpointError / InputError: as
            :func:`mattepaint.models.checkpoint.load_checkpoint` (a pickle that needs Python
            globals is refused, never unpickled).
        InputError: a checkpoint without training state (e.g. a model file from ``export``).
    """
    ckpt = load_checkpoint(path)
    missing = [key for key in RESUME_KEYS if key not in ckpt]
    if missing:
        raise InputError(
            f"{path} holds no training state to resume from (missing {', '.join(missing)}); "
            "start a new run with model.init_from set to it instead"
        )
    return ckpt


class CheckpointManager:
    """Writes ``step_NNNNNNN.pt`` + ``last.pt``, prunes to the newest ``keep_last`` step files,
    and keeps ``best.pt`` for the best value of one validation metric.

    Inputs:
        folder: ``<run>/checkpoints`` (created on the first write).
        keep_last: step files to keep (>= 0; 0 keeps only ``last.pt`` and ``best.pt``).
        best_metric: the metric name (e.g. "val/psnr"); best_mode "max" or "min".
        best_value: the best value so far (from a resumed checkpoint), None when none yet.
        enabled: False on ranks other than 0: nothing is written.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        keep_last: int = 3,
        best_metric: str = "val/psnr",
        best_mode: Literal["max", "min"] = "max",
        best_value: float | None = None,
        enabled: bool = True,
    ) -> None:
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0:
            raise ValueError(f"keep_last must be an int >= 0, got {keep_last!r}")
        if best_mode not in ("max", "min"):
            raise ValueError(f"best_mode must be 'max' or 'min', got {best_mode!r}")
        self.folder = Path(folder)
        self.keep_last = keep_last
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.best_value = best_value
        self.enabled = enabled

    @property
    def last_path(self) -> Path:
        return self.folder / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.folder / "best.pt"

    def step_path(self, step: int) -> Path:
        return self.folder / f"step_{step:07d}.pt"

    def step_files(self) -> list[tuple[int, Path]]:
        """The ``step_*.pt`` files present, as (step, path) sorted by step."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _STEP_FILE.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def save(self, state: dict[str, Any]) -> Path | None:
        """Write ``state`` as ``step_<state['step']>.pt`` and ``last.pt``; prune old step files.
        Returns the path of ``last.pt`` (None when disabled)."""
        if not self.enabled:
            return None
        step_path = self.step_path(int(state["step"]))
        save_checkpoint(step_path, state)
        with atomic_path(self.last_path, overwrite=True) as tmp:
            shutil.copyfile(step_path, tmp)
        self._prune()
        return self.last_path

    def _prune(self) -> None:
        files = self.step_files()
        stale = files[: max(0, len(files) - self.keep_last)]
        for _, path in stale:
            path.unlink(missing_ok=True)

    def is_better(self, value: float) -> bool:
        """Whether ``value`` beats the best so far (nan never does; the first finite one does)."""
        if value is None or math.isnan(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.best_mode == "max" else value < self.best_value

    def update_best(self, value: float, make_state: Any) -> bool:
        """If ``value`` is better than the best so far, record it and write ``best.pt`` from
        ``make_state()`` (called only then, after ``best_value`` is updated, so the file holds
        the new best). Returns whether it improved. Every rank updates ``best_value``."""
        if not self.is_better(value):
            return False
        self.best_value = float(value)
        if self.enabled:
            save_checkpoint(self.best_path, make_state())
        return True
