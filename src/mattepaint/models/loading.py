"""Load trained models from mattepaint checkpoints.

A checkpoint (written by ``mattepaint.train.checkpoint``) is a ``torch.save`` dict::

    {"format": "mattepaint-checkpoint-v1", "model": {"name": str, "params": dict},
     "task": str, "config": dict, "model_state": state_dict, ...}

:func:`load_model` rebuilds the model from the registry with the stored name and params and
loads the weights strictly; :func:`load_inpainter` wraps an inpainting checkpoint as a
:class:`~mattepaint.methods.Inpainter` using the input transform it was trained with, and
:func:`load_matter` a matting checkpoint as a :class:`~mattepaint.methods.Matter`.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mattepaint.models.inpainter import ModelInpainter
from mattepaint.models.matter import ModelMatter
from mattepaint.models.registry import build_model, model_task

__all__ = [
    "CHECKPOINT_FORMAT",
    "checkpoint_task",
    "export_checkpoint",
    "is_onnx",
    "load_checkpoint",
    "load_inpainter",
    "load_matter",
    "load_model",
]

# What an inference checkpoint keeps of a training checkpoint (optimiser, scheduler, scaler and
# RNG states, and the discriminator, are only needed to resume training).
_INFERENCE_KEYS = ("format", "model", "task", "config", "model_state", "step", "epoch", "best",
                   "versions")

CHECKPOINT_FORMAT = "mattepaint-checkpoint-v1"


def load_checkpoint(checkpoint_path: str | Path) -> dict[str, Any]:
    """Read and sanity-check a mattepaint checkpoint dict (tensors on the CPU).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a mattepaint checkpoint (not a torch file, not a dict, no or
            another "format", no "model" name / params or "model_state").
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "safe_globals" not in str(exc):  # not an allow-list refusal: a broken or foreign file
            raise _not_a_checkpoint(path, exc) from None
        # A valid pickle holding objects outside torch's weights-only allow list (e.g. a numpy
        # Generator in the RNG state). Checkpoints are files this package wrote or the user
        # trusts; a full unpickle can run code, so never point this at untrusted files.
        try:
            data = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc2:  # noqa: BLE001 - any unpickling failure means "not ours"
            raise _not_a_checkpoint(path, exc2) from None
    except Exception as exc:  # noqa: BLE001 - text files raise KeyError, zips RuntimeError, ...
        raise _not_a_checkpoint(path, exc) from None
    if not isinstance(data, dict) or "format" not in data:
        got = type(data).__name__
        if isinstance(data, dict):
            got += f" with keys {sorted(map(str, data))[:8]}"
        raise ValueError(
            f"{path} is not a mattepaint checkpoint: expected a dict with a 'format' key, got {got}"
        )
    if data["format"] != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path}: unsupported checkpoint format {data['format']!r} "
            f"(expected {CHECKPOINT_FORMAT!r})"
        )
    model = data.get("model")
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("name"), str)
        or not isinstance(model.get("params", {}), dict)
    ):
        raise ValueError(
            f"{path}: checkpoint has no valid 'model' entry {{'name': str, 'params': dict}}"
        )
    if not isinstance(data.get("model_state"), dict):
        raise ValueError(f"{path}: checkpoint has no 'model_state' weights")
    return data


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _not_a_checkpoint(path: Path, exc: BaseException) -> ValueError:
    return ValueError(f"{path} is not a mattepaint checkpoint (torch.load failed: {_short(exc)})")


def _build(path: Path, ckpt: dict[str, Any], device: str | torch.device) -> nn.Module:
    name, params = ckpt["model"]["name"], dict(ckpt["model"].get("params") or {})
    try:
        model = build_model(name, **params)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    try:
        model.load_state_dict(ckpt["model_state"], strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{path}: the weights do not fit model {name!r} with params {params}: {_short(exc)}"
        ) from None
    return model.to(device).eval()


def load_model(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint and load its weights.

    ``model = build_model(ckpt["model"]["name"], **ckpt["model"]["params"])``, then
    ``model.load_state_dict(ckpt["model_state"], strict=True)``, moved to ``device``, eval mode.

    Outputs: (model in eval mode on ``device``, the checkpoint dict).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a mattepaint checkpoint, unknown model name (lists the valid names), or
            weights that do not fit the model built from the stored params.
    """
    path = Path(checkpoint_path)
    ckpt = load_checkpoint(path)
    return _build(path, ckpt, device), ckpt


def _checkpoint_task(path: Path, ckpt: dict[str, Any]) -> str:
    """The checkpoint's "task" entry, or the registered task of its model when it is missing."""
    task = ckpt.get("task")
    if not isinstance(task, str):
        try:
            task = model_task(ckpt["model"]["name"])
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return task


def is_onnx(path: str | Path) -> bool:
    """Whether ``path`` names an ONNX model (by its ``.onnx`` suffix, any case)."""
    return Path(path).suffix.lower() == ".onnx"


def checkpoint_task(checkpoint_path: str | Path) -> str:
    """The task ("inpainting", "matting", ...) of a checkpoint (.pt) or exported ONNX model.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a mattepaint checkpoint / ONNX model, or an unknown model name.
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        from mattepaint.models.onnx_model import read_onnx_metadata

        return read_onnx_metadata(path)["task"]
    return _checkpoint_task(path, load_checkpoint(path))


def _load_onnx(path: Path, expected: str, device: str | torch.device) -> nn.Module:
    from mattepaint.models.onnx_model import OnnxModel

    if torch.device(device).type != "cpu":
        raise ValueError(f"{path}: ONNX models run on the CPU (onnxruntime), not on {device}")
    model = OnnxModel(path)
    if model.task != expected:
        raise ValueError(
            f"ONNX model {path} holds {article_of(model.task)} {model.task} model, not "
            f"{article_of(expected)} {expected} model"
        )
    return model


def _load_task_checkpoint(path: Path, expected: str) -> dict[str, Any]:
    """Read a checkpoint and check that it holds a model of the ``expected`` task (the
    checkpoint's "task" entry, or the registered task of its model when the entry is missing)."""
    ckpt = load_checkpoint(path)
    task = _checkpoint_task(path, ckpt)
    if task != expected:
        raise ValueError(
            f"checkpoint {path} holds {article_of(task)} {task} model, not {article_of(expected)} "
            f"{expected} model"
        )
    return ckpt


def article_of(word: str) -> str:
    """'an' before a vowel, else 'a'."""
    return "an" if word[:1] in ("a", "e", "i", "o", "u") else "a"


def load_inpainter(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> ModelInpainter:
    """Load an inpainting checkpoint as an :class:`~mattepaint.methods.Inpainter`.

    The input transform is the one the model was trained with (``config["data"]
    ["input_transform"]``, "hole" when the checkpoint has no config); the name is
    ``"checkpoint:<file name>"``. A ``.onnx`` file written by
    :func:`mattepaint.models.onnx_model.export_onnx` runs with onnxruntime (CPU only).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a mattepaint checkpoint, or it holds a model of another task.
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        model = _load_onnx(path, "inpainting", device)
        return ModelInpainter(
            model, name=f"checkpoint:{path.name}", input_transform=model.input_transform
        )
    ckpt = _load_task_checkpoint(path, "inpainting")
    model = _build(path, ckpt, device)
    transform = checkpoint_input_transform(ckpt)
    return ModelInpainter(
        model, name=f"checkpoint:{path.name}", device=device, input_transform=transform
    )


def checkpoint_input_transform(ckpt: dict[str, Any]) -> str:
    """The input transform an inpainting checkpoint was trained with (``config["data"]
    ["input_transform"]``), "hole" when the checkpoint has no config."""
    config = ckpt.get("config")
    data_config = config.get("data") if isinstance(config, dict) else None
    if isinstance(data_config, dict):
        return data_config.get("input_transform", "hole")
    return "hole"


def load_matter(checkpoint_path: str | Path, device: str | torch.device = "cpu") -> ModelMatter:
    """Load a matting checkpoint as a :class:`~mattepaint.methods.Matter`.

    The model is rebuilt as in :func:`load_model` and wrapped in
    :class:`~mattepaint.models.matter.ModelMatter` (padding, trimap clamping; ``needs`` comes from
    the model); the name is ``"checkpoint:<file name>"``. The task is the checkpoint's "task"
    entry, or the registered task of its model when the entry is missing. A ``.onnx`` file
    written by :func:`mattepaint.models.onnx_model.export_onnx` runs with onnxruntime (CPU only).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a mattepaint checkpoint, or it holds a model of another task.
    """
    path = Path(checkpoint_path)
    if is_onnx(path):
        return ModelMatter(_load_onnx(path, "matting", device), name=f"checkpoint:{path.name}")
    ckpt = _load_task_checkpoint(path, "matting")
    model = _build(path, ckpt, device)
    return ModelMatter(model, name=f"checkpoint:{path.name}", device=device)


def export_checkpoint(
    checkpoint_path: str | Path, output_path: str | Path, *, overwrite: bool = False
) -> Path:
    """Write the inference part of a training checkpoint: model name, params, weights, config.

    Drops what only resuming needs (optimisers, schedulers, scaler, RNG states, discriminator),
    which makes the file about a third of the size; the result loads with
    :func:`load_inpainter` / :func:`load_matter` / ``--checkpoint`` like the original, but cannot
    be resumed. Written atomically.

    Raises:
        FileNotFoundError / ValueError: as :func:`load_checkpoint`. FileExistsError: the output
        exists and ``overwrite`` is False.
    """
    from mattepaint.train.checkpoint import save_checkpoint

    data = load_checkpoint(checkpoint_path)
    out = Path(output_path)
    if out.exists() and not overwrite:
        raise FileExistsError(
            f"{out} already exists; pass overwrite=True (--overwrite on the command line) to "
            "replace it"
        )
    return save_checkpoint(out, {k: data[k] for k in _INFERENCE_KEYS if k in data})
