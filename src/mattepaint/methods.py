"""Every inpainting and matting method by name, and the one resolver "a method name or a
checkpoint file -> an Inpainter / Matter" that every entry point uses.

The interface itself (:class:`Inpainter`, :class:`Matter`, :class:`MatteResult` and the helpers
every implementation uses) is defined in :mod:`mattepaint.interface` and re-exported here. The
CLI, the batch runner, the server, the evaluator and the benchmarks only see these protocols, so
a method listed here is usable everywhere at once.

Where the methods come from:

- the classical methods, listed in the tables :data:`mattepaint.classical.INPAINTERS` /
  :data:`mattepaint.classical.MATTERS` (``telea``, ``closed_form``, ...). The classical modules
  import only :mod:`mattepaint.interface`; this module imports :mod:`mattepaint.classical` lazily
  in one place (:func:`_tables`), so there is no import cycle and start-up stays fast;
- methods added at run time with :func:`register_inpainter` / :func:`register_matter` (a class
  or a function taking keyword options), e.g. an experiment in a notebook;
- trained models: a model file or training checkpoint, or an exported ONNX model (``.onnx``),
  in any format :mod:`mattepaint.models.loading` reads (it loads them).

Resolving:

- :func:`resolve_inpainter` / :func:`resolve_matter`: ``None`` (the default method for the inputs,
  :func:`default_inpainter` / :func:`default_matter`), a registered name (``str``), a checkpoint
  or ONNX file (a ``Path``), or an already built method object -> a ready method.
- :func:`get_inpainter` / :func:`get_matter`: a registered name with keyword options.

An unknown name fails with the list of valid names.

Example:
    >>> from pathlib import Path
    >>> from mattepaint.methods import resolve_inpainter
    >>> telea = resolve_inpainter("telea", options={"radius": 5})  # doctest: +SKIP
    >>> model = resolve_inpainter(Path("model.safetensors"))       # doctest: +SKIP
    >>> out = telea(image, mask)                                    # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from mattepaint.errors import InputError
from mattepaint.interface import (
    Inpainter,
    Matter,
    MatteResult,
    Needs,
    apply_trimap,
    check_inpaint_inputs,
    check_matte_inputs,
    keep_known,
)

__all__ = [
    "AUTO",
    "DEFAULT_INPAINTER",
    "DEFAULT_MATTER_FOR",
    "Inpainter",
    "MatteResult",
    "Matter",
    "MethodSpec",
    "Needs",
    "apply_trimap",
    "auto_inpainter",
    "auto_matter",
    "check_inpaint_inputs",
    "check_matte_inputs",
    "check_matter_fits",
    "default_inpainter",
    "default_matter",
    "get_inpainter",
    "get_matter",
    "inpainter_names",
    "keep_known",
    "matter_names",
    "register_inpainter",
    "register_matter",
    "resolve_inpainter",
    "resolve_matter",
]

#: What names a method: a registered name (``str``) or a checkpoint / ONNX file (a path object).
MethodSpec: TypeAlias = str | os.PathLike[str]

#: The method name that picks the best shipped model for the job (:func:`auto_inpainter`,
#: :func:`auto_matter`); it is the default when no method is named.
AUTO: str = "auto"

#: The inpainting method used when none is named: "auto" (the best shipped model, else telea).
DEFAULT_INPAINTER: str = AUTO

#: What "auto" falls back to when no shipped model fits (a wheel built without weights).
FALLBACK_INPAINTER: str = "telea"

#: Shipped trained models (``mattepaint/weights/NAME.safetensors``) that "auto" picks, best
#: first. ``unet_refine_wide_bilinear_effnet`` (``unet_refine_wide`` with bilinear up-sampling,
#: fine-tuned with a squared-error hole term and an EfficientNet-Lite0 perceptual term) beats
#: ``unet_refine_wide`` on PSNR in the five larger hole-ratio buckets and on LPIPS in every one,
#: at 0.002-0.005 lower SSIM, with no periodic texture (``benchmarks/texture_period.py``);
#: ``unet_refine_wide`` (``unet_refine_mixed_masks`` widened from base 16 to 24 and trained
#: on) beats ``unet_refine_mixed_masks`` on PSNR, SSIM and LPIPS in every hole-ratio bucket;
#: ``unet_refine_mixed_masks`` (``unet_refine_large_holes`` fine-tuned on LaMa and NVIDIA
#: irregular masks) beats ``unet_refine_large_holes`` (``unet_refine_small`` fine-tuned on larger
#: holes and downsized photos) on PSNR and SSIM in every hole-ratio bucket of the 300-case
#: benchmark, which beats ``unet_refine_small``, which beats Telea in every bucket
#: (docs/inpainting.md, ``benchmarks/deep_inpainting.py``).
AUTO_INPAINTERS: tuple[str, ...] = (
    "unet_refine_wide_bilinear_effnet",
    "unet_refine_wide",
    "unet_refine_mixed_masks",
    "unet_refine_large_holes",
    "unet_refine_small",
)

#: The same for matting, by the input given. A model is listed here only once it measures
#: better than the classical method of :data:`DEFAULT_MATTER_FOR` (docs/matting.md):
#: ``unet_matte_rgb_small`` (seed 000's UNetMatte, RGB background) reaches IoU 0.961 / SAD 4.97
#: against background_difference's 0.910 / 8.61 on the real-foreground composites
#: (``benchmarks/matting_eval.py --parts b``). ``dim_matte_sm_real`` (DIM on EfficientNet-Lite0
#: correcting shared matting) beats closed_form, knn and sm on SAD, MSE, Grad and Conn on
#: alphamatting.com GT01-27 (Trimap1) at half closed-form's time, and cf_knn_sm on SAD at a
#: quarter of its time (cf_knn_sm keeps a lower MSE, Grad and Conn; it is one flag away:
#: ``benchmarks/learned_trimap_eval.py``).
AUTO_MATTERS_FOR: dict[str, tuple[str, ...]] = {
    "trimap": ("dim_matte_sm_real",),
    "background": ("unet_matte_rgb_small",),
}

#: The matting method used when none is named, by the input that was given.
#: ``cf_knn_sm`` (closed-form + KNN blend, averaged with shared matting) has a lower SAD, MSE, Grad
#: and Conn than closed_form, knn, sm and cf_knn on alphamatting.com GT01-27 with Trimap1 and with
#: Trimap2 (``benchmarks/matting_blend.py``, docs/matting.md).
DEFAULT_MATTER_FOR: dict[str, str] = {
    "trimap": "cf_knn_sm",
    "background": "background_difference",
}

_NEEDS: tuple[str, ...] = ("trimap", "background", "nothing")

#: Methods registered at run time (the classical ones are in mattepaint.classical's tables).
_INPAINTERS: dict[str, Callable[..., Inpainter]] = {}
_MATTERS: dict[str, Callable[..., Matter]] = {}

F = TypeVar("F", bound=Callable[..., object])


# --------------------------------------------------------------------------------------------
# the tables of methods by name


def _tables() -> tuple[dict[str, Callable[..., Inpainter]], dict[str, Callable[..., Matter]]]:
    """(inpainters, matters): the classical methods plus those registered at run time."""
    # the one place the methods layer imports the classical methods (lazily: OpenCV, scipy)
    from mattepaint import classical

    return {**classical.INPAINTERS, **_INPAINTERS}, {**classical.MATTERS, **_MATTERS}


def _register(
    table: dict[str, Callable], builtin: Mapping[str, Callable], kind: str, name: str
) -> Callable[[F], F]:
    def decorator(factory: F) -> F:
        if name in table or name in builtin:
            raise ValueError(f"{kind} {name!r} is already registered")
        table[name] = factory
        return factory

    return decorator


def register_inpainter(name: str) -> Callable[[F], F]:
    """Decorator registering an Inpainter factory (a class or function taking keyword options)
    under ``name``; a name that is already taken raises ValueError."""
    return _register(_INPAINTERS, _tables()[0], "inpainting method", name)


def register_matter(name: str) -> Callable[[F], F]:
    """Decorator registering a Matter factory (a class or function taking keyword options)
    under ``name``; a name that is already taken raises ValueError."""
    return _register(_MATTERS, _tables()[1], "matting method", name)


def _lookup(table: Mapping[str, Callable], kind: str, name: str) -> Callable:
    if not isinstance(name, str) or name not in table:
        valid = ", ".join(sorted(table))
        close = difflib.get_close_matches(name, list(table), n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InputError(f"unknown {kind} {name!r}{hint}; valid names: {valid}")
    return table[name]


def _build(
    table: Mapping[str, Callable], kind: str, name: str, options: Mapping[str, object]
) -> Any:
    """``table[name](**options)`` (:func:`_lookup`); InputError for bad options too."""
    factory = _lookup(table, kind, name)
    try:
        return factory(**options)
    except TypeError as exc:  # unexpected keyword: report it as a user error
        raise InputError(f"bad options for {kind} {name!r}: {exc}") from None


def inpainter_names() -> list[str]:
    """Names of the inpainting methods (classical and registered), sorted."""
    return sorted(_tables()[0])


def matter_names() -> list[str]:
    """Names of the matting methods (classical and registered), sorted."""
    return sorted(_tables()[1])


def get_inpainter(name: str, **options: object) -> Inpainter:
    """Build the inpainting method called ``name`` with keyword ``options``.

    Raises:
        InputError (a ValueError): unknown name (the message lists the valid names) or bad
            options.
    """
    return _build(_tables()[0], "inpainting method", name, options)


def get_matter(name: str, **options: object) -> Matter:
    """Build the matting method called ``name`` with keyword ``options``.

    Raises:
        InputError (a ValueError): unknown name (the message lists the valid names) or bad
            options.
    """
    return _build(_tables()[1], "matting method", name, options)


# --------------------------------------------------------------------------------------------
# the default method for the inputs given


def default_inpainter() -> str:
    """The inpainting method used when none is named: :data:`DEFAULT_INPAINTER` ("auto")."""
    return DEFAULT_INPAINTER


def _first_shipped(names: tuple[str, ...]) -> Path | None:
    """The file of the first of ``names`` shipped inside the package, or None."""
    from mattepaint.models.checkpoint import shipped_model_names, shipped_model_path

    shipped = set(shipped_model_names())
    for name in names:
        if name in shipped:
            return shipped_model_path(name)
    return None


def auto_inpainter() -> MethodSpec:
    """What "auto" runs for inpainting: the file of the best shipped model
    (:data:`AUTO_INPAINTERS`, a ``Path``), or :data:`FALLBACK_INPAINTER` when none is shipped."""
    return _first_shipped(AUTO_INPAINTERS) or FALLBACK_INPAINTER


def auto_matter(*, has_trimap: bool, has_background: bool) -> MethodSpec:
    """What "auto" runs for matting with the inputs given: the best shipped model for that input
    (:data:`AUTO_MATTERS_FOR`, a ``Path``), else the classical :func:`default_matter`.

    Raises: InputError as :func:`default_matter` (both or neither input given)."""
    classical_default = default_matter(has_trimap=has_trimap, has_background=has_background)
    shipped = _first_shipped(AUTO_MATTERS_FOR["trimap" if has_trimap else "background"])
    return shipped or classical_default


def default_matter(*, has_trimap: bool, has_background: bool) -> str:
    """The matting method used when none is named, chosen by the input given.

    Inputs:
        has_trimap, has_background: whether a trimap / a clean background plate was given.
    Outputs:
        :data:`DEFAULT_MATTER_FOR` of that input: ``cf_knn_sm`` for a trimap,
        ``background_difference`` for a background.
    Raises:
        InputError: both or neither were given (no method fits without a name).
    """
    if has_trimap and has_background:
        raise InputError("give a trimap or a background, not both, or name the method to use")
    if not has_trimap and not has_background:
        raise InputError("give a trimap or a background (or name a method that needs neither)")
    return DEFAULT_MATTER_FOR["trimap" if has_trimap else "background"]


# --------------------------------------------------------------------------------------------
# name, file or object -> a ready method


def _is_file_spec(method: object) -> bool:
    return isinstance(method, os.PathLike)


def _check_no_options(options: Mapping[str, object] | None, what: str) -> None:
    if options:
        raise InputError(
            f"options ({', '.join(sorted(options))}) can only be given with a method name, not "
            f"with {what}"
        )


def resolve_inpainter(
    method: MethodSpec | Inpainter | None = None,
    *,
    options: Mapping[str, object] | None = None,
    device: str = "cpu",
) -> Inpainter:
    """Turn a method name, a checkpoint file or a built method into a ready Inpainter.

    Inputs:
        method: None (the default, :func:`default_inpainter`); a registered name (``str``, see
            :func:`inpainter_names`); a trained model file, training checkpoint or exported
            ``.onnx`` model (a ``pathlib.Path`` or other path object), loaded with
            :func:`mattepaint.models.loading.load_inpainter`; or a built :class:`Inpainter`
            (returned as it is).
        options: keyword options of a named method (e.g. ``{"radius": 5}`` for telea / ns).
        device: where a checkpoint model runs ("cpu", "cuda"); unused for the others.
    Outputs:
        an :class:`Inpainter`: (B, 3, H, W) image, (B, 1, H, W) mask -> (B, 3, H, W).

    Raises:
        InputError: unknown name (lists the valid names), bad options, options with a file or
            a built method; a checkpoint that is missing (InputNotFoundError) or not one of
            ours (as :func:`mattepaint.models.loading.load_inpainter`).
        TypeError: ``method`` is of another type (a programming error).
    """
    if method is None:
        method = default_inpainter()
    if method == AUTO:
        method = auto_inpainter()
        if options and not isinstance(method, str):
            raise InputError(
                f"options ({', '.join(sorted(options))}) belong to a named method such as telea "
                f"or ns; 'auto' runs the shipped model {Path(method).stem}: name the method"
            )
    if isinstance(method, str):
        return get_inpainter(method, **dict(options or {}))
    if _is_file_spec(method):
        _check_no_options(options, "a checkpoint file")
        from mattepaint.models.loading import load_inpainter

        return load_inpainter(method, device=device)
    if not callable(method):
        raise TypeError(
            f"method must be a method name, a checkpoint path or an Inpainter, got "
            f"{type(method).__name__}"
        )
    _check_no_options(options, "a built method")
    return method


def check_matter_fits(matter: Matter, *, has_trimap: bool, has_background: bool) -> None:
    """Check that the inputs given are what ``matter.needs``: a trimap, a background or neither.

    Raises:
        InputError: a needed input is missing, or an input the method does not use was given;
            ``needs`` is not one of "trimap", "background", "nothing".
    """
    needs = getattr(matter, "needs", None)
    name = getattr(matter, "name", type(matter).__name__)
    if needs == "trimap":
        if not has_trimap:
            raise InputError(f"matting method {name!r} needs a trimap, and none was given")
        if has_background:
            raise InputError(f"matting method {name!r} uses a trimap, not a background")
    elif needs == "background":
        if not has_background:
            raise InputError(
                f"matting method {name!r} needs a background image, and none was given"
            )
        if has_trimap:
            raise InputError(f"matting method {name!r} uses a background image, not a trimap")
    elif needs not in _NEEDS:
        raise InputError(
            f"matting method {name!r} has needs={needs!r}; expected 'trimap', 'background' or "
            "'nothing'"
        )


def resolve_matter(
    method: MethodSpec | Matter | None = None,
    *,
    has_trimap: bool | None = None,
    has_background: bool | None = None,
    options: Mapping[str, object] | None = None,
    device: str = "cpu",
) -> Matter:
    """Turn a method name, a checkpoint file or a built method into a ready Matter, and check
    that it fits the inputs given.

    Inputs:
        method: None (the default for the inputs, :func:`default_matter`); a registered name
            (``str``, see :func:`matter_names`); a trained model file, training checkpoint or
            exported ``.onnx`` model (a ``pathlib.Path`` or other path object), loaded with
            :func:`mattepaint.models.loading.load_matter`; or a built :class:`Matter`.
        has_trimap, has_background: whether a trimap / a background plate was given. When both
            are None nothing is checked (and ``method`` must not be None).
        options: keyword options of a named method (e.g. ``{"radius": 5}`` for lkm).
        device: where a checkpoint model runs ("cpu", "cuda"); unused for the others.
    Outputs:
        a :class:`Matter` whose ``needs`` fits the inputs given (:func:`check_matter_fits`).

    Raises:
        InputError: no method fits (both or neither input, with ``method=None``), unknown name,
            bad options, options with a file or a built method, a method that needs another
            input; a checkpoint that is missing or not one of ours.
        TypeError: ``method`` is of another type (a programming error).
    """
    check = has_trimap is not None or has_background is not None
    has_trimap, has_background = bool(has_trimap), bool(has_background)
    if method is None:
        method = AUTO  # the best shipped model for the inputs, else the classical default
    if method == AUTO:
        method = auto_matter(has_trimap=has_trimap, has_background=has_background)
        if options and not isinstance(method, str):
            raise InputError(
                f"options ({', '.join(sorted(options))}) belong to a named method; 'auto' runs "
                f"the shipped model {Path(method).stem}: name the method"
            )
    if isinstance(method, str):
        matter = get_matter(method, **dict(options or {}))
    elif _is_file_spec(method):
        _check_no_options(options, "a checkpoint file")
        from mattepaint.models.loading import load_matter

        matter = load_matter(method, device=device)
    elif callable(method):
        _check_no_options(options, "a built method")
        matter = method
    else:
        raise TypeError(
            f"method must be a method name, a checkpoint path or a Matter, got "
            f"{type(method).__name__}"
        )
    if check:
        check_matter_fits(matter, has_trimap=has_trimap, has_background=has_background)
    return matter
