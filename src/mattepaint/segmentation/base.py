"""The segmenter interface, the registry of named segmenters, and the one loader.

A *segmenter* finds the subject of a photo and gives a soft foreground mask: the first stage of
the cut-out pipeline (:func:`mattepaint.segmentation.cutout`), before the automatic trimap and
trimap matting. Every segmenter, whatever its origin (a standard ONNX file such as rembg's
U²-Netp or MODNet, or a network trained here), is a :class:`Segmenter`::

    segmenter(image (B, 3, H, W) float in [0, 1]) -> soft mask (B, 1, H, W) float in [0, 1]

at the input's size, dtype and device (1 = subject). :func:`load_segmenter` turns a registered
name or a model file into one, so the CLI, the HTTP API and the benchmarks share one lookup.

Named segmenters (e.g. a model shipped inside the package) register a factory with
:func:`register_segmenter`; a file path is recognised by what the file holds (today: ONNX graphs
of the families in :mod:`mattepaint.segmentation.onnx`).

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

__all__ = [
    "DEFAULT_SEGMENTER",
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
    model file: an ONNX graph of a known family (:func:`mattepaint.segmentation.onnx.
    load_onnx_segmenter`, the family detected from the graph or given by ``family``).

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


#: The segmenter the cut-out uses when none is named: None until mattepaint ships its own model
#: (then its registered name). Read it through :func:`default_segmenter`.
DEFAULT_SEGMENTER: str | None = None


def default_segmenter() -> str:
    """The segmenter used when none is named: :data:`DEFAULT_SEGMENTER`.

    Outputs: a registered segmenter name (see :func:`mattepaint.segmentation.segmenter_names`).

    Raises:
        InputError: no segmenter ships with mattepaint yet; the message says to name a U2-Net or
            MODNet ONNX file.
    """
    if DEFAULT_SEGMENTER is None:
        raise InputError(
            "no segmenter given, and mattepaint does not ship one yet: pass --segmenter "
            "FILE.onnx (segmenter= in Python), a U2-Net or MODNet ONNX file as rembg and MODNet "
            "publish them (e.g. u2netp.onnx)"
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
        InputError: no segmenter given and none ships; an unknown name; a file that is not an
            ONNX model of a known family. InputNotFoundError: a missing file.
    """
    if segmenter is None:
        if family is not None:
            raise InputError("a segmenter family applies to a segmenter file; name the file too")
        segmenter = default_segmenter()
    if family is None:
        return load_segmenter(segmenter)
    return load_segmenter(segmenter, family=family)
