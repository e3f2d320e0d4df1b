"""Load trained models as the methods the rest of the package uses (Inpainter / Matter).

:func:`load_inpainter` wraps an inpainting model file as a :class:`~mattepaint.methods.Inpainter`
with the input transform it was trained with, and :func:`load_matter` a matting model file as a
:class:`~mattepaint.methods.Matter`. A model file is a ``.safetensors`` file written by
``mattepaint export`` (or shipped in the package), a training checkpoint ``.pt`` written by
``mattepaint train``, or an ``.onnx`` file from ``mattepaint export -o model.onnx`` (run with
onnxruntime).

The checkpoint format itself (reading, writing, building the model, export, the metadata) lives
in :mod:`mattepaint.models.checkpoint`; its names ``CHECKPOINT_FORMAT``, ``load_checkpoint``,
``load_model``, ``export_checkpoint`` and ``checkpoint_input_transform`` are re-exported here for
older imports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from mattepaint.errors import InputError
from mattepaint.models.checkpoint import (
    CHECKPOINT_FORMAT,
    build_checkpoint_model,
    checkpoint_input_transform,
    export_checkpoint,
    load_checkpoint,
    load_model,
    read_checkpoint_metadata,
)
from mattepaint.models.checkpoint import checkpoint_task as _task_of
from mattepaint.models.inpainter import ModelInpainter
from mattepaint.models.matter import ModelMatter
from mattepaint.models.onnx_model import OnnxModel, read_onnx_metadata

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_input_transform",
    "checkpoint_task",
    "export_checkpoint",
    "is_onnx",
    "load_checkpoint",
    "load_inpainter",
    "load_matter",
    "load_model",
]


def is_onnx(path: str | Path) -> bool:
    """Whether ``path`` names an ONNX model (by its ``.onnx`` suffix, any case)."""
    return Path(path).suffix.lower() == ".onnx"


def checkpoint_task(checkpoint_path: str | Path) -> str:
    """The task ("inpainting", "matting", ...) of a model file, training checkpoint or exported
    ONNX model (a model file's header only is read).

    Raises:
        InputNotFoundError: no such file.
        UnsafeCheckpointError: a pickle that needs Python globals (never unpickled).
        InputError: not a mattepaint checkpoint / ONNX model, or an unknown model name.
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        return read_onnx_metadata(path)["task"]
    return _task_of(read_checkpoint_metadata(path), path)


def _load_onnx(path: Path, expected: str, device: str | torch.device) -> nn.Module:
    if torch.device(device).type != "cpu":
        raise InputError(f"{path}: ONNX models run on the CPU (onnxruntime), not on {device}")
    model = OnnxModel(path)
    if model.task != expected:
        raise InputError(
            f"ONNX model {path} holds {article_of(model.task)} {model.task} model, not "
            f"{article_of(expected)} {expected} model"
        )
    return model


def _load_task_model(
    path: Path, expected: str, device: str | torch.device
) -> tuple[nn.Module, dict[str, Any]]:
    """Read a checkpoint, check that it holds a model of the ``expected`` task (the checkpoint's
    "task" entry, or the registered task of its model when the entry is missing) and build it."""
    ckpt = load_checkpoint(path)
    task = _task_of(ckpt, path)
    if task != expected:
        raise InputError(
            f"checkpoint {path} holds {article_of(task)} {task} model, not {article_of(expected)} "
            f"{expected} model"
        )
    return build_checkpoint_model(ckpt, device, source=path), ckpt


def article_of(word: str) -> str:
    """'an' before a vowel, else 'a'."""
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def load_inpainter(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> ModelInpainter:
    """Load an inpainting model file as an :class:`~mattepaint.methods.Inpainter`.

    Inputs: a ``.safetensors`` model file, a ``.pt`` training checkpoint or an ``.onnx`` export
    (run with onnxruntime, CPU only); the device for the PyTorch model.
    Outputs: a :class:`~mattepaint.models.inpainter.ModelInpainter` named
    ``"checkpoint:<file name>"`` with the input transform the model was trained with (the
    checkpoint's ``input_transform``, else ``config["data"]["input_transform"]``, else "hole").

    Raises:
        InputNotFoundError: no such file.
        UnsafeCheckpointError: a pickle that needs Python globals (never unpickled).
        InputError: not a mattepaint checkpoint, it holds a model of another task, or it names an
            input transform this version does not know.
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        model = _load_onnx(path, "inpainting", device)
        return ModelInpainter(
            model, name=f"checkpoint:{path.name}", input_transform=model.input_transform
        )
    model, ckpt = _load_task_model(path, "inpainting", device)
    transform = checkpoint_input_transform(ckpt, path)
    return ModelInpainter(
        model, name=f"checkpoint:{path.name}", device=device, input_transform=transform
    )


def load_matter(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> ModelMatter:
    """Load a matting model file as a :class:`~mattepaint.methods.Matter`.

    Inputs: a ``.safetensors`` model file, a ``.pt`` training checkpoint or an ``.onnx`` export
    (run with onnxruntime, CPU only); the device for the PyTorch model.
    Outputs: the model rebuilt as in :func:`load_model`, wrapped in
    :class:`~mattepaint.models.matter.ModelMatter` (padding, trimap clamping; ``needs`` comes from
    the model), named ``"checkpoint:<file name>"``. The task is the checkpoint's "task" entry, or
    the registered task of its model when the entry is missing.

    Raises:
        InputNotFoundError, UnsafeCheckpointError, InputError: as :func:`load_inpainter` (no
        such file; a pickle that needs Python globals; not a mattepaint checkpoint, or it holds
        a model of another task).
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        return ModelMatter(_load_onnx(path, "matting", device), name=f"checkpoint:{path.name}")
    model, _ = _load_task_model(path, "matting", device)
    return ModelMatter(model, name=f"checkpoint:{path.name}", device=device)
