"""The checkpoint format: the one module that reads, writes, builds and exports mattepaint models.

A checkpoint is data, never code. Two kinds of file exist, and nothing else is ever loaded:

- **Model files** (``.safetensors``; what ``mattepaint export`` writes, what ships in
  ``mattepaint/weights/``): the weights as safetensors tensors named like the model's
  ``state_dict`` keys, and the header's ``__metadata__`` holding ``{"format":
  "mattepaint-weights-v1", "mattepaint": JSON}``, where the JSON object is
  :func:`inference_metadata`: ``model {name, params}``, ``task``, ``size_multiple``,
  ``input_transform`` (inpainting) or ``needs`` (matting), ``config`` (the training config as a
  plain dict, or null), ``step``, ``epoch``, ``best``, ``versions`` (at training time),
  ``exported_with`` (versions at export) and ``source`` (the file it was exported from). Reading
  one parses a JSON header and copies tensors; it cannot run code.
- **Training checkpoints** (``.pt``; ``<run>/checkpoints/{step_*,last,best}.pt``, needed to resume:
  optimiser, scheduler, scaler and RNG states): one ``torch.save`` dict of format
  "mattepaint-checkpoint-v1" (keys in :mod:`mattepaint.train.checkpoint`) holding only dicts,
  lists, tuples, tensors, numbers, strings and None (:func:`check_plain`, enforced when saving),
  read back **only** with ``torch.load(weights_only=True)``.

Anything else (a pickle that names Python globals, a foreign or truncated file) is refused with
one line naming the file and the fix (:class:`~mattepaint.errors.UnsafeCheckpointError` /
:class:`~mattepaint.errors.InputError`). Nothing is retried with a full unpickle, except in the
explicit, trusted migration of an old file: :func:`migrate_legacy_checkpoint` (``mattepaint
export OLD.pt -o NEW.safetensors --from-legacy``).

Also here: :func:`load_model` / :func:`build_checkpoint_model` (the registry model with the
stored weights), :func:`save_model` (a model built in Python), :func:`export_checkpoint` (the
inference part of a training checkpoint), :func:`onnx_metadata` (what ONNX export stores), and
:func:`shipped_model_path` (the trained models inside the package).

This module imports nothing from ``mattepaint.train``, ``loading`` or ``onnx_model``.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import platform
import re
from collections import OrderedDict
from importlib import resources
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from torch import nn

import mattepaint
from mattepaint.errors import (
    InputError,
    InputNotFoundError,
    OutputExistsError,
    UnsafeCheckpointError,
)
from mattepaint.io import atomic_path
from mattepaint.models.registry import build_model, model_task

__all__ = [
    "CHECKPOINT_FORMAT",
    "EXPORT_SUFFIXES",
    "ONNX_FORMAT",
    "WEIGHTS_FORMAT",
    "build_checkpoint_model",
    "check_plain",
    "checkpoint_input_transform",
    "checkpoint_task",
    "export_checkpoint",
    "inference_metadata",
    "known_input_transform",
    "load_checkpoint",
    "load_model",
    "migrate_legacy_checkpoint",
    "onnx_metadata",
    "read_checkpoint_metadata",
    "resolve_checkpoint_path",
    "save_checkpoint",
    "save_model",
    "shipped_model_names",
    "shipped_model_path",
    "versions",
]

#: ``format`` of a training checkpoint (.pt, a weights-only ``torch.save`` dict).
CHECKPOINT_FORMAT = "mattepaint-checkpoint-v1"
#: ``format`` entry of the safetensors header of a model file.
WEIGHTS_FORMAT = "mattepaint-weights-v1"
#: Value of the ``mattepaint_format`` metadata entry of the ONNX files export writes.
ONNX_FORMAT = "mattepaint-onnx-v1"
#: What ``mattepaint export`` can write: a model file, or an ONNX graph.
EXPORT_SUFFIXES = (".safetensors", ".onnx")

_META_KEY = "mattepaint"  # the header entry holding the JSON metadata
_SHIPPED_PACKAGE = "mattepaint"
_SHIPPED_FOLDER = "weights"
_FIX = (
    "expected a .safetensors model file from 'mattepaint export' or a .pt checkpoint written by "
    "'mattepaint train'"
)
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")  # in torch's weights-only refusal message
_WEIGHTS_ONLY_DETAIL = re.compile(r"WeightsUnpickler error: ([^\n]*)")


# ============================================================================ small helpers


def versions() -> dict[str, str]:
    """The library versions recorded in every checkpoint and model file:
    ``{"mattepaint", "torch", "python"}``."""
    return {
        "mattepaint": mattepaint.__version__,
        "torch": str(torch.__version__),
        "python": platform.python_version(),
    }


def _short(exc: BaseException) -> str:
    """The first line of an exception as ``Type: text``, at most 160 characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _already_exists(out: Path) -> OutputExistsError:
    return OutputExistsError(
        f"{out} already exists; use --overwrite (overwrite=True in Python) to replace it"
    )


# Exact types only: a subclass (numpy.float64 is a float, torch's TorchVersion a str) pickles as
# a global that a weights-only load refuses.
_PLAIN_SCALARS = (str, int, float, bool, type(None), torch.dtype)
_PLAIN_MAPPINGS = (dict, OrderedDict)
_PLAIN_SEQUENCES = (list, tuple, torch.Size)


def check_plain(value: Any, where: str = "checkpoint") -> None:
    """Check that ``value`` holds only what a weights-only ``torch.load`` reads back.

    Allowed (exact types, not subclasses): dicts and OrderedDicts with str / int keys, lists,
    tuples, tensors, str, int, float, bool, None and torch dtypes, nested to any depth.
    Dataclasses, numpy arrays and generators, paths and any other object must be converted
    first (``dataclasses.asdict``, ``.tolist()``, ``str``).

    Raises:
        TypeError: naming the key path of the first value of another type,
            e.g. ``checkpoint["rng"]["numpy"] is a numpy.ndarray; ...``.
    """
    if isinstance(value, torch.Tensor) or type(value) in _PLAIN_SCALARS:
        return
    if type(value) in _PLAIN_MAPPINGS:
        for key, item in value.items():
            if type(key) not in (str, int):
                raise TypeError(
                    f"{where} has a key {key!r} of type {type(key).__name__}; checkpoint keys "
                    "must be str or int"
                )
            check_plain(item, f"{where}[{key!r}]")
        return
    if type(value) in _PLAIN_SEQUENCES:
        for i, item in enumerate(value):
            check_plain(item, f"{where}[{i}]")
        return
    kind = type(value)
    raise TypeError(
        f"{where} is a {kind.__module__}.{kind.__qualname__}; checkpoints hold only dicts, lists, "
        "tuples, tensors, numbers, strings and None (convert it: dataclasses.asdict, .tolist(), "
        "str)"
    )


def _to_json_value(value: Any, where: str) -> Any:
    """``value`` as JSON-compatible Python (dict with str keys, list, str, int, float, bool,
    None): tuples become lists, dataclasses dicts, numpy scalars / arrays numbers / lists, paths
    strings. Raises InputError for anything else (naming the key path)."""
    if isinstance(value, str | bool | int | float | type(None)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _to_json_value(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    raise InputError(
        f"{where} is a {type(value).__name__}, which a model file's JSON metadata cannot hold"
    )


# ============================================================================ reading


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputNotFoundError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise InputNotFoundError(f"{path} is a folder, not a checkpoint file")


def resolve_checkpoint_path(checkpoint: str | Path) -> Path:
    """The file a checkpoint argument names: the path itself when it exists, else the shipped
    model of that name (a bare name such as ``unet_refine_small``, see :func:`shipped_model_path`).

    Raises:
        InputNotFoundError: neither a file nor a shipped model's name (the message lists the
            shipped names), or a folder.
    """
    path = Path(checkpoint)
    if not path.exists() and not path.suffix and path.name == str(checkpoint):
        if path.name in shipped_model_names():
            return shipped_model_path(path.name)
        names = ", ".join(shipped_model_names())
        if names:
            raise InputNotFoundError(
                f"checkpoint not found: {path} (neither a file nor a shipped model: {names})"
            )
    _check_file(path)
    return path


def _looks_like_safetensors(path: Path) -> bool:
    """A safetensors file starts with an 8-byte little-endian header length and ``{``."""
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size - 8


def _read_safetensors(path: Path, *, weights: bool) -> dict[str, Any]:
    """The normalised checkpoint dict of a model file (``model_state`` only when ``weights``)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            header = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()} if weights else None  # noqa: SIM118
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise InputError(
            f"{path} is not a readable safetensors file ({_short(exc)}); {_FIX}"
        ) from None
    if header.get("format") != WEIGHTS_FORMAT or _META_KEY not in header:
        raise InputError(
            f"{path} is a safetensors file without mattepaint metadata (format "
            f"{header.get('format')!r}, expected {WEIGHTS_FORMAT!r}); {_FIX}"
        )
    try:
        meta = json.loads(header[_META_KEY])
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: broken mattepaint metadata ({_short(exc)})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: broken mattepaint metadata (not a JSON object)")
    meta.pop("model_state", None)  # the weights come from the tensors, never from the header
    data = {**meta, "format": WEIGHTS_FORMAT}
    if weights:
        data["model_state"] = state
    _check_entries(path, data, weights=weights)
    return data


def _read_pt(path: Path) -> dict[str, Any]:
    """A training checkpoint, read with ``torch.load(weights_only=True)`` only."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        if found is None:  # not a refused global: a broken or foreign pickle
            detail = _WEIGHTS_ONLY_DETAIL.search(str(exc))
            reason = detail.group(1).strip() if detail else _short(exc)
            raise InputError(
                f"{path} is not a mattepaint checkpoint ({reason[:160]}); {_FIX}"
            ) from None
        raise UnsafeCheckpointError(
            f"refused {path}: it is a pickle that needs {found.group(1)} to load, and loading "
            "it could run code; if you made it with an older mattepaint and trust it, convert "
            f"it once with 'mattepaint export {path} -o {path.stem}.safetensors --from-legacy'"
        ) from None
    except Exception as exc:  # noqa: BLE001 - text files raise KeyError, zips RuntimeError, ...
        raise InputError(f"{path} is not a mattepaint checkpoint ({_short(exc)}); {_FIX}") from None
    if not isinstance(data, dict) or "format" not in data:
        got = type(data).__name__
        if isinstance(data, dict):
            got += f" with keys {sorted(map(str, data))[:8]}"
        raise InputError(
            f"{path} is not a mattepaint checkpoint: expected a dict with a 'format' key, got {got}"
        )
    if data["format"] != CHECKPOINT_FORMAT:
        raise InputError(
            f"{path}: unsupported checkpoint format {repr(data['format'])[:60]} "
            f"(expected {CHECKPOINT_FORMAT!r})"
        )
    _check_entries(path, data, weights=True)
    return data


def _check_entries(path: Path, data: dict[str, Any], *, weights: bool) -> None:
    model = data.get("model")
    if (
        not isinstance(model, dict)
        or not isinstance(model.get("name"), str)
        or not isinstance(model.get("params", {}), dict)
    ):
        raise InputError(
            f"{path}: checkpoint has no valid 'model' entry {{'name': str, 'params': dict}}"
        )
    if "task" in data and not isinstance(data["task"], str | type(None)):
        raise InputError(
            f"{path}: checkpoint 'task' must be a string, got {repr(data['task'])[:60]}"
        )
    state = data.get("model_state")
    if weights and (
        not isinstance(state, dict)
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise InputError(f"{path}: checkpoint has no 'model_state' weights")


def load_checkpoint(checkpoint_path: str | Path) -> dict[str, Any]:
    """Read a model file (.safetensors) or a training checkpoint (.pt); tensors on the CPU.

    Outputs: a dict with at least ``format``, ``model`` ``{"name": str, "params": dict}`` and
    ``model_state`` (name -> tensor); usually also ``task``, ``config``, ``step``, ``epoch``,
    ``best``, ``versions``; a training checkpoint adds ``optimizers``, ``schedulers``, ``rng``...
    (see the module docstring). Which kind the file is comes from its first bytes, not its name.
    A bare name of a shipped model (``unet_refine_small``) reads that model.

    Raises:
        InputNotFoundError: no such file (or a folder).
        UnsafeCheckpointError: a pickle that needs Python globals to load (never unpickled).
        InputError: not a mattepaint checkpoint (foreign, truncated, wrong format or entries).
    """
    path = resolve_checkpoint_path(checkpoint_path)
    if path.suffix.lower() == ".safetensors" or _looks_like_safetensors(path):
        return _read_safetensors(path, weights=True)
    return _read_pt(path)


def read_checkpoint_metadata(checkpoint_path: str | Path) -> dict[str, Any]:
    """The checkpoint dict of :func:`load_checkpoint` without ``model_state`` (for a model file
    only the header is read, which is fast). Raises as :func:`load_checkpoint`."""
    path = resolve_checkpoint_path(checkpoint_path)
    if path.suffix.lower() == ".safetensors" or _looks_like_safetensors(path):
        return _read_safetensors(path, weights=False)
    data = _read_pt(path)
    return {k: v for k, v in data.items() if k != "model_state"}


def checkpoint_task(ckpt: dict[str, Any], source: str | Path = "checkpoint") -> str:
    """The task of a loaded checkpoint: its ``task`` entry, else the registered task of its
    model. Raises InputError for an unknown model name (the message lists the valid names)."""
    task = ckpt.get("task")
    if isinstance(task, str):
        return task
    try:
        return model_task(ckpt["model"]["name"])
    except ValueError as exc:
        raise InputError(f"{source}: {exc}") from None


def checkpoint_input_transform(ckpt: dict[str, Any], source: str | Path = "checkpoint") -> str:
    """The input transform an inpainting checkpoint was trained with: the model file's
    ``input_transform`` entry, else ``config["data"]["input_transform"]``, else "hole".
    Raises InputError naming ``source`` for a name this version does not know."""
    transform = "hole"
    config = ckpt.get("config")
    data_config = config.get("data") if isinstance(config, dict) else None
    if isinstance(ckpt.get("input_transform"), str):
        transform = ckpt["input_transform"]
    elif isinstance(data_config, dict) and isinstance(data_config.get("input_transform"), str):
        transform = data_config["input_transform"]
    return known_input_transform(transform, source)


def known_input_transform(name: object, source: str | Path) -> str:
    """``name`` if it is one of :data:`mattepaint.masks.INPUT_TRANSFORMS`, else InputError naming
    ``source`` (a damaged or foreign header must not surface as a ValueError deeper down)."""
    from mattepaint.masks import INPUT_TRANSFORMS

    if not isinstance(name, str) or name not in INPUT_TRANSFORMS:
        raise InputError(
            f"{source}: the model file names an unknown input transform {name!r} (valid: "
            f"{', '.join(sorted(INPUT_TRANSFORMS))}); the file is damaged or from another program"
        )
    return name


# ============================================================================ building


def build_checkpoint_model(
    ckpt: dict[str, Any], device: str | torch.device = "cpu", *, source: str | Path = "checkpoint"
) -> nn.Module:
    """The registry model of a loaded checkpoint with its weights, in eval mode on ``device``.

    ``model = build_model(ckpt["model"]["name"], **ckpt["model"]["params"])``, then
    ``model.load_state_dict(ckpt["model_state"], strict=True)``.

    Raises:
        InputError: unknown model name (lists the valid names), bad params, or weights that do
            not fit the model (``source`` names the file in the message).
    """
    name, params = ckpt["model"]["name"], dict(ckpt["model"].get("params") or {})
    try:
        model = build_model(name, **params)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{source}: {exc}") from None
    try:
        model.load_state_dict(ckpt["model_state"], strict=True)
    except RuntimeError as exc:
        raise InputError(
            f"{source}: the weights do not fit model {name!r} with params {params}: {_short(exc)}"
        ) from None
    return model.to(device).eval()


def load_model(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint (model file or training checkpoint) with its weights.

    Outputs: (model in eval mode on ``device``, the checkpoint dict of :func:`load_checkpoint`).

    Raises: as :func:`load_checkpoint` and :func:`build_checkpoint_model`.
    """
    path = Path(checkpoint_path)
    ckpt = load_checkpoint(path)
    return build_checkpoint_model(ckpt, device, source=path), ckpt


# ============================================================================ writing


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a training checkpoint ``state`` to ``path`` atomically (temporary file +
    ``os.replace``), replacing an existing file.

    Raises:
        ValueError: ``state`` lacks the format tag, the model entry or ``model_state``.
        TypeError: ``state`` holds a value a weights-only load refuses (see :func:`check_plain`).
    """
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"state must have format {CHECKPOINT_FORMAT!r}, got {state.get('format')!r}"
        )
    if not isinstance(state.get("model"), dict) or "model_state" not in state:
        raise ValueError("state must hold 'model' {'name', 'params'} and 'model_state'")
    check_plain(state)
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        torch.save(state, tmp)
    return path


def inference_metadata(
    ckpt: dict[str, Any], model: nn.Module, *, source: str | Path | None = None
) -> dict[str, Any]:
    """What a model file (and an ONNX export) records besides the weights, as JSON values.

    Inputs: a checkpoint dict (:func:`load_checkpoint`) and the model built from it.
    Outputs: ``{"model": {"name", "params"}, "task", "size_multiple": int, "input_transform"
    (inpainting) | "needs" (matting), "config": dict | None, "step", "epoch", "best",
    "versions", "exported_with", "source"}``.

    Raises:
        InputError: an entry that is not JSON-compatible after conversion.
    """
    task = checkpoint_task(ckpt, source or "checkpoint")
    meta: dict[str, Any] = {
        "model": {
            "name": ckpt["model"]["name"],
            "params": dict(ckpt["model"].get("params") or {}),
        },
        "task": task,
        "size_multiple": int(getattr(model, "size_multiple", 1)),
    }
    if task == "inpainting":
        meta["input_transform"] = checkpoint_input_transform(ckpt)
    elif task == "matting":
        meta["needs"] = str(getattr(model, "needs", "nothing"))
    for key in ("config", "step", "epoch", "best", "versions"):
        meta[key] = ckpt.get(key)
    meta["exported_with"] = versions()
    meta["source"] = None if source is None else Path(source).name
    return _to_json_value(meta, "metadata")


def _write_model_file(
    out: Path, state: dict[str, torch.Tensor], meta: dict[str, Any], *, overwrite: bool
) -> Path:
    """Write the weights and metadata as safetensors, atomically."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, value in state.items():
        tensor = value.detach().to("cpu").contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen and tensor.numel():  # safetensors refuses shared storage
            tensor = tensor.clone()
        seen.add(pointer)
        tensors[key] = tensor
    header = {"format": WEIGHTS_FORMAT, _META_KEY: json.dumps(meta, sort_keys=True)}
    with atomic_path(out, overwrite=overwrite) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return out


def _check_model_output(out: Path, overwrite: bool) -> None:
    if out.suffix.lower() != ".safetensors":
        raise InputError(
            f"{out}: a model file must end in .safetensors (or export to .onnx); got "
            f"{out.suffix or 'no suffix'!r}"
        )
    if out.is_dir():
        raise InputError(f"cannot write {out}: it is a folder")
    if out.exists() and not overwrite:
        raise _already_exists(out)


def _save_inference(
    source: Path | None, ckpt: dict[str, Any], out: Path, *, overwrite: bool, half: bool = False
) -> Path:
    """Build the model (the weights must fit), then write it with its metadata to ``out``;
    ``half`` stores the float32 tensors as float16 (loading converts them back)."""
    model = build_checkpoint_model(ckpt, "cpu", source=source or out)
    meta = inference_metadata(ckpt, model, source=source)
    state = model.state_dict()
    if half:
        state = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    return _write_model_file(out, state, meta, overwrite=overwrite)


def save_model(
    path: str | Path,
    model: nn.Module,
    *,
    name: str,
    params: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a model built in Python (``build_model(name, **params)``) as a model file.

    Inputs: ``path`` ending in .safetensors; the model and the registry name and params it was
    built with; optionally the training config (a plain dict, e.g. ``config_to_dict(cfg)``).
    Outputs: ``path``; it loads with :func:`load_model` / ``load_inpainter`` / ``load_matter``.

    Raises:
        InputError: a suffix other than .safetensors, params or config that are not JSON
            values, or a model whose weights do not fit ``build_model(name, **params)``.
        OutputExistsError: ``path`` exists and ``overwrite`` is False.
    """
    out = Path(path)
    _check_model_output(out, overwrite)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    ckpt = {
        "model": {"name": name, "params": dict(params or {})},
        "config": config,
        "model_state": state,
        "versions": versions(),
    }
    return _save_inference(None, ckpt, out, overwrite=overwrite)


def export_checkpoint(
    checkpoint_path: str | Path,
    output_path: str | Path,
    *,
    overwrite: bool = False,
    half: bool = False,
) -> Path:
    """Write the inference part of a checkpoint as a model file (.safetensors).

    Keeps the weights and the metadata (:func:`inference_metadata`); drops what only resuming
    needs (optimisers, schedulers, scaler, RNG states, discriminator), about a third of the size.
    ``half`` stores the float32 weights as float16 (half the size again; loading converts them
    back to float32, so outputs change by float16 rounding only: measure the exported file).
    The result loads with ``load_inpainter`` / ``load_matter`` / ``--checkpoint`` like the
    original, but cannot be resumed. Written atomically. (ONNX: :func:`mattepaint.models.
    onnx_model.export_onnx`.)

    Raises:
        InputError: ``output_path`` does not end in .safetensors; errors of :func:`load_model`.
        OutputExistsError: the output exists and ``overwrite`` is False.
    """
    source, out = Path(checkpoint_path), Path(output_path)
    _check_model_output(out, overwrite)
    return _save_inference(source, load_checkpoint(source), out, overwrite=overwrite, half=half)


def migrate_legacy_checkpoint(
    checkpoint_path: str | Path,
    output_path: str | Path,
    *,
    trust: bool = False,
    overwrite: bool = False,
) -> Path:
    """Convert an old checkpoint (a pickled ``torch.save`` dict of format
    "mattepaint-checkpoint-v1") into a model file (.safetensors).

    Old files could hold Python objects (a numpy Generator in the RNG state, ...) that only a
    full unpickle reads; a full unpickle can run any code the file contains, so it happens only
    here and only with ``trust=True``: use it on files you made yourself. A file that a
    weights-only load reads is converted without unpickling anything.

    Raises:
        UnsafeCheckpointError: the file needs a full unpickle and ``trust`` is False.
        InputError / OutputExistsError: as :func:`export_checkpoint`.
    """
    source, out = Path(checkpoint_path), Path(output_path)
    _check_model_output(out, overwrite)
    _check_file(source)
    try:
        ckpt = load_checkpoint(source)
    except UnsafeCheckpointError:
        if not trust:
            raise
        try:
            data = torch.load(source, map_location="cpu", weights_only=False)  # trusted by caller
        except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not ours"
            raise InputError(
                f"{source} is not a mattepaint checkpoint ({_short(exc)}); {_FIX}"
            ) from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise InputError(
                f"{source} is not an old mattepaint checkpoint (no format {CHECKPOINT_FORMAT!r})"
            ) from None
        _check_entries(source, data, weights=True)
        ckpt = data
    return _save_inference(source, ckpt, out, overwrite=overwrite)


# ============================================================================ ONNX metadata


def onnx_metadata(
    ckpt: dict[str, Any], model: nn.Module, *, source: str | Path, outputs: list[str]
) -> dict[str, str]:
    """The ``metadata_props`` an ONNX export stores (strings, as ONNX requires).

    Keys: ``mattepaint_format`` (:data:`ONNX_FORMAT`), ``task``, ``model_name``, ``model_params``
    (JSON), ``size_multiple``, ``outputs`` (comma-separated), ``source``, ``input_transform``
    (inpainting) or ``needs`` (matting), ``prior`` (a matting model that corrects a classical
    matte: its method), and ``mattepaint`` (the JSON of
    :func:`inference_metadata`, as in a model file).

    Raises: as :func:`inference_metadata`.
    """
    meta = inference_metadata(ckpt, model, source=source)
    props = {
        "mattepaint_format": ONNX_FORMAT,
        "task": meta["task"],
        "model_name": meta["model"]["name"],
        "model_params": json.dumps(meta["model"]["params"], sort_keys=True),
        "size_multiple": str(meta["size_multiple"]),
        "source": str(meta["source"]),
        "outputs": ",".join(outputs),
        _META_KEY: json.dumps(meta, sort_keys=True),
    }
    for key in ("input_transform", "needs"):
        if key in meta:
            props[key] = str(meta[key])
    prior = getattr(model, "prior", None)
    if isinstance(prior, str):  # a model that corrects a classical matte (dim_matte)
        props["prior"] = prior
    return props


# ============================================================================ shipped models


def shipped_model_names() -> list[str]:
    """Names of the trained models inside the package (``mattepaint/weights/*.safetensors``)."""
    folder = resources.files(_SHIPPED_PACKAGE).joinpath(_SHIPPED_FOLDER)
    if not folder.is_dir():
        return []
    return sorted(
        entry.name[: -len(".safetensors")]
        for entry in folder.iterdir()
        if entry.name.endswith(".safetensors")
    )


def shipped_model_path(name: str = "unet_refine_small") -> Path:
    """The file of a trained model shipped inside the package, e.g. ``unet_refine_small``
    (a residual U-Net inpainter; load it with ``load_inpainter(shipped_model_path())``).

    Raises:
        InputError: no shipped model of that name (the message lists the names).
    """
    names = shipped_model_names()
    if name not in names:
        raise InputError(
            f"no shipped model called {name!r}; shipped models: {', '.join(names) or 'none'}"
        )
    entry = resources.files(_SHIPPED_PACKAGE).joinpath(_SHIPPED_FOLDER, f"{name}.safetensors")
    path = Path(str(entry))
    if not path.is_file():  # a zipped install: the package files are not on disk
        raise InputError(f"shipped model {name!r} is not a file on disk ({entry})")
    return path
