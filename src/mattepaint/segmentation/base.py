"""The segmenter interface, the registry of named segmenters, and the one loader.

A *segmenter* finds the subject of a photo and gives a soft foreground mask: the first stage of
the cut-out pipeline (:func:`mattepaint.segmentation.cutout`), before the automatic trimap and
trimap matting. Every segmenter, whatever its origin (a standard ONNX file such as rembg's
U²-Netp or MODNet, or a network trained here), is a :class:`Segmenter`::

    segmenter(image (B, 3, H, W) float in [0, 1]) -> soft mask (B, 1, H, W) float in [0, 1]

at the input's size, dtype and device (1 = subject). :func:`load_segmenter` turns a registered
name or a model file into one, so the CLI, the HTTP API and the benchmarks share one lookup.

Named segmenters (e.g. a model shipped inside the package) register a factory with
:func:`register_segmenter`; the shipped ``late_fusion_effnet_cutout`` is registered here and is
the default. A file path is read by its suffix: ``.safetensors`` / ``.pt`` as a mattepaint
trimap-free matting model (:mod:`mattepaint.segmentation.model`), anything else as an ONNX graph
of the families in :mod:`mattepaint.segmentation.onnx`.

Example:
    >>> from mattepaint.segmentation import load_segmenter
    >>> seg = load_segmenter("../shared/data/weights/u2netp.onnx")  # doctest: +SKIP
    >>> soft = seg(image)  # (1, 3, H, W) -> (1, 1, H, W)          # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from torch import Tensor

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.segmentation.input import check_segmenter_input
from mattepaint.segmentation.model import (
    SHIPPED_SEGMENTER,
    load_model_segmenter,
    shipped_segmenter,
)

__all__ = [
    "DEFAULT_SEGMENTER",
    "MODEL_FILE_SUFFIXES",
    "Segmenter",
    "SegmenterSpec",
    "check_segmenter_input",
    "default_segmenter",
    "load_segmenter",
    "register_segmenter",
    "resolve_segmenter",
    "segmenter_names",
]


@runtime_checkable
class Segmenter(Protocol):
    """Finds the subject: image (B, 3, H, W) in [0, 1] -> soft mask (B, 1, H, W) in [0, 1].

    The mask has the input's height, width, dtype and device; 1 means subject, 0 background,
    values between are the model's confidence (or its alpha, for a matting network). ``name``
    names the model in messages and tables.
    """

    name: str

    def __call__(self, image: Tensor) -> Tensor: ...


#: What :func:`load_segmenter` accepts: a Segmenter, a registered name, or a model file path.
SegmenterSpec = Segmenter | str | os.PathLike

_SEGMENTERS: dict[str, Callable[..., Segmenter]] = {}

F = TypeVar("F", bound=Callable[..., object])


def register_segmenter(name: str) -> Callable[[F], F]:
    """Decorator registering a named segmenter factory (a class or function taking keyword
    options and returning a :class:`Segmenter`), e.g. a model shipped as package data.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorator(factory: F) -> F:
        if name in _SEGMENTERS:
            raise ValueError(f"segmenter {name!r} is already registered")
        _SEGMENTERS[name] = factory  # type: ignore[assignment]
        return factory

    return decorator


def segmenter_names() -> list[str]:
    """Names of the registered segmenters, sorted (files are accepted besides these)."""
    return sorted(_SEGMENTERS)


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or Path(text).suffix != ""


def load_segmenter(
    name_or_path: SegmenterSpec, *, family: str | None = None, **options: object
) -> Segmenter:
    """Build a segmenter from a registered name or a model file.

    Lookup order: a :class:`Segmenter` instance is returned as is; a registered name (see
    :func:`segmenter_names`) builds that factory with ``options``; an existing file is opened as a
    model file: a mattepaint model file (``.safetensors``) or training checkpoint (``.pt``) of a
    trimap-free matting model (:func:`mattepaint.segmentation.model.load_model_segmenter`), else
    an ONNX graph of a known family (:func:`mattepaint.segmentation.onnx.load_onnx_segmenter`,
    the family detected from the graph or given by ``family``).

    Inputs:
        name_or_path: a Segmenter, a registered name, or the path of a model file.
        family: for files only: force the ONNX family (``"u2net"``, ``"modnet"``) instead of
            detecting it from the graph's inputs and outputs.
        options: keyword options of the registered factory, or of the ONNX segmenter
            (e.g. ``threads=1``).

    Outputs:
        a :class:`Segmenter`.

    Raises:
        InputNotFoundError: a path that does not exist.
        InputError: neither a registered name nor a file; a file that is not an ONNX model, or
            an ONNX graph of no known family (one line naming the file).
        ValueError: bad options of a registered factory.
    """
    if isinstance(name_or_path, Segmenter) and not isinstance(name_or_path, (str, os.PathLike)):
        if family is not None or options:
            raise ValueError("family and options only apply when loading a name or a file")
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            "segmenter must be a Segmenter, a registered name or a file path, got "
            f"{type(name_or_path).__name__}"
        )
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, str) and text in _SEGMENTERS:
        if family is not None:
            raise ValueError(f"family only applies to model files, not to segmenter {text!r}")
        try:
            return _SEGMENTERS[text](**options)
        except TypeError as exc:
            raise ValueError(f"bad options for segmenter {text!r}: {exc}") from None
    path = Path(text).expanduser()
    if path.is_file():
        if path.suffix.lower() in MODEL_FILE_SUFFIXES:
            if family is not None:
                raise InputError(f"family only applies to ONNX files, not to {path.name}")
            return load_model_segmenter(path, **options)  # type: ignore[arg-type]
        from mattepaint.segmentation.onnx import load_onnx_segmenter

        return load_onnx_segmenter(path, family=family, **options)  # type: ignore[arg-type]
    names = segmenter_names()
    valid = ", ".join(names) if names else "(none registered)"
    if path.exists():
        raise InputError(f"segmenter {text!r} is a folder, not a model file")
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(text):
        raise InputNotFoundError(f"segmenter file not found: {text}")
    close = difflib.get_close_matches(text, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InputError(
        f"unknown segmenter {text!r}{hint}: not a registered name (valid names: {valid}) and not "
        "an existing model file (.onnx)"
    )


#: Files read as mattepaint model files (a trimap-free matting network) rather than ONNX graphs.
MODEL_FILE_SUFFIXES = (".safetensors", ".pt")

#: The segmenter the cut-out uses when none is named: the one trained here and shipped inside the
#: package. Read it through :func:`default_segmenter`.
DEFAULT_SEGMENTER: str | None = SHIPPED_SEGMENTER


def _register_shipped() -> None:
    """Register the shipped segmenter when this install carries its file."""
    from mattepaint.models.checkpoint import shipped_model_names

    if SHIPPED_SEGMENTER in shipped_model_names():
        register_segmenter(SHIPPED_SEGMENTER)(shipped_segmenter)


_register_shipped()


def default_segmenter() -> str:
    """The segmenter used when none is named: :data:`DEFAULT_SEGMENTER`.

    Outputs: a registered segmenter name (see :func:`mattepaint.segmentation.segmenter_names`).

    Raises:
        InputError: no default (``DEFAULT_SEGMENTER`` set to None), or its file is missing from
            this install; the message says to name a segmenter file instead.
    """
    if DEFAULT_SEGMENTER is None or DEFAULT_SEGMENTER not in _SEGMENTERS:
        raise InputError(
            "no segmenter given, and this install has no default segmenter (the package file "
            f"{SHIPPED_SEGMENTER}.safetensors is missing): pass --segmenter FILE (segmenter= in "
            "Python), e.g. a U2-Net or MODNet ONNX file as rembg and MODNet publish them"
        )
    return DEFAULT_SEGMENTER


def resolve_segmenter(segmenter: SegmenterSpec | None, *, family: str | None = None) -> Segmenter:
    """The segmenter of a cut-out: ``segmenter`` loaded by
    :func:`mattepaint.segmentation.load_segmenter` (a Segmenter, a registered name or an ONNX
    file), or :func:`default_segmenter` when it is None.

    Inputs:
        segmenter: a :class:`~mattepaint.segmentation.Segmenter`, a name, a file path, or None.
        family: for a file only: force its ONNX family (``"u2net"``, ``"modnet"``) instead of
            detecting it from the graph.
    Outputs: a :class:`~mattepaint.segmentation.Segmenter`.

    Raises:
        InputError: no segmenter given and this install has no default; an unknown name; a file
            that cannot be loaded as a segmenter. InputNotFoundError: a missing file.
    """
    if segmenter is None:
        if family is not None:
            raise InputError("a segmenter family applies to a segmenter file; name the file too")
        segmenter = default_segmenter()
    if family is None:
        return load_segmenter(segmenter)
    return load_segmenter(segmenter, family=family)
