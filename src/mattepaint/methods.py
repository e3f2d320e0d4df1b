"""One interface for every inpainting and matting method, classical or learned.

The CLI, the batch runner, the evaluator and (later) the web app only see these two protocols,
so a method registered here is usable everywhere at once:

- :class:`Inpainter`: ``inpainter(image, mask) -> image``; image (B, 3, H, W) in [0, 1], mask
  (B, 1, H, W) with 1 = hole; the result equals the input outside the hole.
- :class:`Matter`: ``matter(image, trimap=..., background=...) -> MatteResult``; ``needs`` says
  which of trimap / background the method requires.

Methods are registered by name with :func:`register_inpainter` / :func:`register_matter` on a
factory (a class or a function taking keyword options) and built with :func:`get_inpainter` /
:func:`get_matter`. An unknown name fails with the list of valid names.

Example:
    >>> from mattepaint.methods import get_inpainter
    >>> telea = get_inpainter("telea", radius=5)  # doctest: +SKIP
    >>> out = telea(image, mask)                  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor

Needs = Literal["trimap", "background", "nothing"]


@dataclass
class MatteResult:
    """Output of a :class:`Matter`.

    Attributes:
        alpha: (B, 1, H, W) float in [0, 1].
        foreground: (B, 3, H, W) float in [0, 1], the estimated foreground colour, or None when
            the method does not estimate it.
    """

    alpha: Tensor
    foreground: Tensor | None = None


@runtime_checkable
class Inpainter(Protocol):
    """Fills the holes of an image: (B, 3, H, W) image, (B, 1, H, W) mask (1 = hole) -> image."""

    name: str

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor: ...


@runtime_checkable
class Matter(Protocol):
    """Estimates alpha (and possibly foreground) for (B, 3, H, W) images."""

    name: str
    needs: Needs

    def __call__(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> MatteResult: ...


_INPAINTERS: dict[str, Callable[..., Inpainter]] = {}
_MATTERS: dict[str, Callable[..., Matter]] = {}

F = TypeVar("F", bound=Callable[..., object])


def _register(table: dict[str, Callable], kind: str, name: str) -> Callable[[F], F]:
    def decorator(factory: F) -> F:
        if name in table:
            raise ValueError(f"{kind} {name!r} is already registered")
        table[name] = factory
        return factory

    return decorator


def register_inpainter(name: str) -> Callable[[F], F]:
    """Decorator registering an Inpainter factory (a class or function taking keyword options)."""
    return _register(_INPAINTERS, "inpainting method", name)


def register_matter(name: str) -> Callable[[F], F]:
    """Decorator registering a factory (class or function taking keyword options) of a Matter."""
    return _register(_MATTERS, "matting method", name)


def _ensure_builtin_methods() -> None:
    # The classical methods register themselves on import; importing here keeps `methods` free of
    # import cycles and keeps start-up fast (pymatting itself is imported only when used).
    import mattepaint.classical  # noqa: F401


def _lookup(table: dict[str, Callable], kind: str, name: str) -> Callable:
    _ensure_builtin_methods()
    if name not in table:
        valid = ", ".join(sorted(table))
        close = difflib.get_close_matches(name, list(table), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown {kind} {name!r}{hint}; valid names: {valid}")
    return table[name]


def inpainter_names() -> list[str]:
    """Names of the registered inpainting methods, sorted."""
    _ensure_builtin_methods()
    return sorted(_INPAINTERS)


def matter_names() -> list[str]:
    """Names of the registered matting methods, sorted."""
    _ensure_builtin_methods()
    return sorted(_MATTERS)


def get_inpainter(name: str, **options: object) -> Inpainter:
    """Build the inpainting method registered as ``name`` with keyword ``options``.

    Raises:
        ValueError: unknown name (the message lists the valid names) or bad options.
    """
    factory = _lookup(_INPAINTERS, "inpainting method", name)
    try:
        return factory(**options)
    except TypeError as exc:  # unexpected keyword: report it as a user error
        raise ValueError(f"bad options for inpainting method {name!r}: {exc}") from None


def get_matter(name: str, **options: object) -> Matter:
    """Build the matting method registered as ``name`` with keyword ``options``.

    Raises:
        ValueError: unknown name (the message lists the valid names) or bad options.
    """
    factory = _lookup(_MATTERS, "matting method", name)
    try:
        return factory(**options)
    except TypeError as exc:
        raise ValueError(f"bad options for matting method {name!r}: {exc}") from None


def check_inpaint_inputs(image: Tensor, mask: Tensor) -> None:
    """Validate an Inpainter's inputs: image (B, 3, H, W) and mask (B, 1, H, W), float tensors."""
    if not isinstance(image, Tensor) or not isinstance(mask, Tensor):
        raise TypeError(
            f"image and mask must be torch tensors, got {type(image).__name__} and "
            f"{type(mask).__name__}"
        )
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    b, _, h, w = image.shape
    if mask.shape != (b, 1, h, w):
        raise ValueError(
            f"mask must be (B, 1, H, W) like image {tuple(image.shape)}, got {tuple(mask.shape)}"
        )


def check_matte_inputs(
    image: Tensor, trimap: Tensor | None, background: Tensor | None, needs: Needs, name: str
) -> None:
    """Validate a Matter's inputs against what it ``needs``; shapes must match the image."""
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch tensor, got {type(image).__name__}")
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {tuple(image.shape)}")
    b, _, h, w = image.shape
    if needs == "trimap" and trimap is None:
        raise ValueError(f"matting method {name!r} needs a trimap")
    if needs == "background" and background is None:
        raise ValueError(f"matting method {name!r} needs a background image")
    if trimap is not None and tuple(trimap.shape) != (b, 1, h, w):
        raise ValueError(
            f"trimap must be (B, 1, H, W) like image {tuple(image.shape)}, "
            f"got {tuple(trimap.shape)}"
        )
    if background is not None and tuple(background.shape) != (b, 3, h, w):
        raise ValueError(
            f"background must be (B, 3, H, W) like image {tuple(image.shape)}, "
            f"got {tuple(background.shape)}"
        )


def keep_known(image: Tensor, mask: Tensor, filled: Tensor) -> Tensor:
    """Composite a prediction into the hole: ``mask * filled + (1 - mask) * image``, with the
    outside-hole pixels copied bit for bit (torch.where, not arithmetic)."""
    return torch.where(mask > 0.5, filled, image)


def apply_trimap(alpha: Tensor, trimap: Tensor | None) -> Tensor:
    """Fix the known trimap regions: alpha = 0 where trimap == 0, 1 where trimap == 1."""
    if trimap is None:
        return alpha
    alpha = torch.where(trimap <= 0.25, torch.zeros_like(alpha), alpha)
    return torch.where(trimap >= 0.75, torch.ones_like(alpha), alpha)
