"""The model registry: one dict, filled by a decorator (after timm's ``_registry.py``).

A model is registered by name with its task on an ``nn.Module`` subclass or a factory taking
keyword parameters, and built from a name plus keyword parameters (what a config's
``model: {name, params}`` section holds and what a checkpoint stores):

    >>> from mattepaint.models.registry import build_model, model_names
    >>> model_names("inpainting")                           # doctest: +SKIP
    ['unet_inpaint']
    >>> net = build_model("unet_inpaint", base=16, depth=3)  # doctest: +SKIP

Tasks and their forward contracts:

- ``"inpainting"``: ``forward(image (B, 3, H, W) with the holes already filled by the input
  transform, mask (B, 1, H, W) 1 = hole) -> (B, 3, H, W)`` raw prediction in [0, 1] (not
  composited); attribute ``size_multiple: int`` (H and W must be divisible by it).
- ``"discriminator"``: ``forward(image (B, C, H, W)) -> logits (B, 1) or (B, 1, h, w)``.
- ``"matting"``: see the matting models' own docstrings.

The built-in model modules register themselves when imported; this module imports them lazily
inside the lookup functions (as :mod:`mattepaint.methods` does for the classical methods), so
``import mattepaint.models.registry`` stays cheap and free of import cycles.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from torch import nn

Task = Literal["inpainting", "matting", "discriminator"]
TASKS: tuple[str, ...] = get_args(Task)

__all__ = [
    "ModelEntry",
    "Task",
    "build_model",
    "model_entry",
    "model_names",
    "model_task",
    "register_model",
]

# Modules whose import registers the built-in models (imported on the first lookup).
_BUILTIN_MODULES: tuple[str, ...] = (
    "mattepaint.models.inpainting",
    "mattepaint.models.discriminators",
    "mattepaint.models.matting",
)


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, task, builder and the first line of its docstring."""

    name: str
    task: str
    builder: Callable[..., nn.Module]
    description: str


_MODELS: dict[str, ModelEntry] = {}

F = TypeVar("F", bound=Callable[..., nn.Module])


def _first_doc_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def register_model(name: str, *, task: Task) -> Callable[[F], F]:
    """Decorator registering an ``nn.Module`` subclass or a keyword-parameter factory as ``name``.

    Inputs: ``name`` a unique model name; ``task`` one of "inpainting", "matting",
    "discriminator". Outputs: the decorator, which returns the builder unchanged.

    Raises:
        ValueError: the name is already registered, or the task is unknown.
        TypeError: the decorated object is not callable.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"model name must be a non-empty string, got {name!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")

    def decorator(builder: F) -> F:
        if not callable(builder):
            raise TypeError(f"register_model({name!r}) needs a class or function, got {builder!r}")
        if name in _MODELS:
            raise ValueError(
                f"model {name!r} is already registered (by {_MODELS[name].builder.__module__})"
            )
        _MODELS[name] = ModelEntry(name, task, builder, _first_doc_line(builder))
        return builder

    return decorator


def _ensure_builtin_models() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def _lookup(name: str) -> ModelEntry:
    _ensure_builtin_models()
    if name not in _MODELS:
        close = difflib.get_close_matches(str(name), list(_MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown model {name!r}{hint}; valid names: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def model_names(task: Task | None = None) -> list[str]:
    """Names of the registered models, sorted; only those of ``task`` when given.

    Raises:
        ValueError: unknown task.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)} or None, got {task!r}")
    _ensure_builtin_models()
    return sorted(name for name, entry in _MODELS.items() if task is None or entry.task == task)


def model_entry(name: str) -> ModelEntry:
    """The :class:`ModelEntry` of ``name`` (unknown name: ValueError listing the valid names)."""
    return _lookup(name)


def model_task(name: str) -> str:
    """The task ("inpainting", "matting" or "discriminator") of the model registered as ``name``."""
    return _lookup(name).task


def build_model(name: str, **params: object) -> nn.Module:
    """Build the model registered as ``name`` with keyword ``params``.

    Outputs: a freshly initialised ``nn.Module`` (training mode, on the CPU).

    Raises:
        ValueError: unknown name (the message lists the valid names), or parameters the builder
            does not accept or rejects (the message names the model and its parameters).
    """
    entry = _lookup(name)
    try:
        signature = inspect.signature(entry.builder)
    except (TypeError, ValueError):  # builtins without a signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(**params)
        except TypeError as exc:
            accepted = ", ".join(
                p.name for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD
            )
            raise ValueError(
                f"bad params for model {name!r}: {exc} (it accepts: {accepted or 'no params'})"
            ) from None
    try:
        model = entry.builder(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad params for model {name!r}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise TypeError(f"model {name!r} built a {type(model).__name__}, not an nn.Module")
    return model
