"""Argument checks shared across mattepaint, in one public module (after kornia's ``core/check``).

Every public function validates its inputs at its boundary and raises ``TypeError`` (wrong type)
or ``ValueError`` (right type, bad value) with a message that says what was expected and what
was got (see the house style). The checks that more than one module needs live here; a check
used by a single function stays beside it.

- numbers: :func:`is_int`, :func:`check_int`, :func:`check_positive_int`,
  :func:`check_int_at_least`, :func:`check_float`, :func:`check_range`;
- choices and generators: :func:`check_choice`, :func:`check_rng`;
- sizes and tensors: :func:`check_shape` (an (H, W) size), :func:`check_same_shape` (two
  arrays or tensors), :func:`broadcasts_to` (a weight or mask shape against a tensor's),
  :func:`check_inpaint_model_inputs` (the ``forward(image, mask)`` of the inpainting networks).

Each ``check_*`` returns the checked value (converted to a plain Python type where it says so),
so a constructor can write ``self.base = check_positive_int("base", base)``. The module imports
numpy only (torch inside the tensor checks), so light modules such as the demo can use it.

Example:
    >>> check_int("seed", 3, minimum=0)
    3
    >>> check_int("seed", -1, minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: seed must be >= 0, got -1
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "broadcasts_to",
    "check_choice",
    "check_float",
    "check_inpaint_model_inputs",
    "check_int",
    "check_int_at_least",
    "check_positive_int",
    "check_range",
    "check_rng",
    "check_same_shape",
    "check_shape",
    "is_int",
]


# --------------------------------------------------------------------------------------------
# numbers
# --------------------------------------------------------------------------------------------


def is_int(value: object) -> bool:
    """True for Python and numpy integers, False for bools (``True`` is not a size) and the rest.

    Inputs: any object. Outputs: bool.
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, checking its type and an optional lower bound.

    Inputs:
        name: the argument's name, used in the message.
        value: a Python or numpy integer (``bool`` is refused).
        minimum: smallest allowed value, or None for no bound.
    Outputs: ``int(value)``.
    Raises:
        TypeError: ``"{name} must be an int, got {type} {value!r}"``;
        ValueError: ``"{name} must be >= {minimum}, got {value}"``.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:  # type: ignore[operator]
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)  # type: ignore[call-overload]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int >= 1 (a channel count, a depth, a number of layers).

    Same as ``check_int(name, value, minimum=1)``: TypeError ``"{name} must be an int, got
    ..."``, ValueError ``"{name} must be >= 1, got {value}"``.
    """
    return check_int(name, value, minimum=1)


def check_int_at_least(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``, with the bound in both messages.

    For options whose valid range is the message (a radius, a size limit).
    Raises: TypeError ``"{name} must be an int >= {minimum}, got {value!r}"`` for a non-int
    (``bool`` included), ValueError ``"{name} must be an int >= {minimum}, got {value}"`` for a
    smaller int.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:  # type: ignore[operator]
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)  # type: ignore[call-overload]


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in the interval given by ``low`` / ``high``.

    Inputs:
        name: the argument's name, used in the message.
        value: a real number (int, float, numpy scalar; ``bool`` is refused).
        low, high: bounds, None for unbounded; closed unless ``low_open`` / ``high_open``.
    Outputs: ``float(value)``.
    Raises:
        TypeError: ``"{name} must be a number, got {type} {value!r}"``;
        ValueError: ``"{name} must be finite, got {value}"`` or
        ``"{name} must be in [low, high], got {value}"`` (brackets as the interval is open).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be in {interval}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_range(name: str, low: float, high: float) -> None:
    """Raise ``ValueError`` unless ``low <= high`` (for ``min_x`` / ``max_x`` pairs).

    Message: ``"{name}: minimum must be <= maximum, got min {low} > max {high}"``.
    """
    if low > high:
        raise ValueError(f"{name}: minimum must be <= maximum, got min {low} > max {high}")


# --------------------------------------------------------------------------------------------
# choices and generators
# --------------------------------------------------------------------------------------------


def check_choice(name: str, value: object, valid: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``valid``.

    Raises: ValueError ``"{name} must be one of a, b, c, got {value!r}"`` (also for a non-str).
    """
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}, got {value!r}")
    return value


def check_rng(rng: object) -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator`` (explicit randomness), else TypeError
    ``"rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), got {type}"``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


# --------------------------------------------------------------------------------------------
# sizes and tensors
# --------------------------------------------------------------------------------------------


def check_shape(shape: object) -> tuple[int, int]:
    """Return an image size ``shape`` as ``(H, W)`` Python ints.

    Inputs: ``shape``, a tuple / list of two positive integers (numpy integers are accepted,
    ``bool`` is not). Outputs: ``(H, W)``.
    Raises: TypeError for a non-sequence or non-integer entries, ValueError for a wrong length or
    non-positive sizes.
    """
    if not isinstance(shape, (tuple, list)):
        raise TypeError(
            f"shape must be a tuple (H, W) of two positive ints, got {type(shape).__name__}"
        )
    if len(shape) != 2:
        raise ValueError(
            f"shape must be (H, W) with two entries, got {len(shape)} entries: {tuple(shape)}"
        )
    out = []
    for name, value in zip(("H", "W"), shape):
        if not is_int(value):
            raise TypeError(f"shape {name} must be an int, got {type(value).__name__} {value!r}")
        if value <= 0:
            raise ValueError(f"shape must be (H, W) with positive sizes, got {tuple(shape)}")
        out.append(int(value))
    return out[0], out[1]


def check_same_shape(a: Any, b: Any, names: tuple[str, str]) -> None:
    """Raise ValueError unless arrays / tensors ``a`` and ``b`` have the same shape.

    Inputs: two objects with a ``shape``; their names for the message. Raises: ValueError
    ``"{a} and {b} must have the same shape, got {a} (...) and {b} (...)"``.
    """
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got {names[0]} "
            f"{tuple(a.shape)} and {names[1]} {tuple(b.shape)}"
        )


def broadcasts_to(shape: Sequence[int], target: Sequence[int]) -> bool:
    """True when ``shape`` broadcasts to exactly ``target`` (torch / numpy broadcasting rules).

    Inputs: two shapes (tuples or ``torch.Size``). Outputs: bool; False when they do not
    broadcast together or when broadcasting would grow ``target``.

    Example:
        >>> broadcasts_to((2, 1, 4, 4), (2, 3, 4, 4)), broadcasts_to((2, 3, 4, 4), (2, 1, 4, 4))
        (True, False)
    """
    import torch  # here: importing the checks must not import torch

    try:
        return torch.broadcast_shapes(shape, target) == torch.Size(target)
    except RuntimeError:
        return False


def check_inpaint_model_inputs(
    image: object, mask: object, size_multiple: int = 1, *, reason: str | None = None
) -> None:
    """Check the ``forward(image, mask)`` inputs of an inpainting network.

    Inputs:
        image: must be a (B, 3, H, W) tensor; mask: a (B, 1, H, W) tensor like it.
        size_multiple: H and W must be divisible by it (the network's down-sampling factor).
        reason: where the multiple comes from (e.g. ``"2**depth"``), shown in brackets after the
            number in the message.
    Raises: ValueError ``"image must be (B, 3, H, W), got ..."``, ``"mask must be (B, 1, H, W)
    like image (...), got ..."`` or ``"image height and width must be divisible by {m}
    ({reason}), got {H}x{W}; pad the input first (ModelInpainter does)"``.
    """
    from torch import Tensor  # here: importing the checks must not import torch

    def _shape(x: object) -> object:
        return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__

    if not isinstance(image, Tensor) or image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {_shape(image)}")
    b, _, h, w = image.shape
    if not isinstance(mask, Tensor) or tuple(mask.shape) != (b, 1, h, w):
        raise ValueError(
            f"mask must be (B, 1, H, W) like image {tuple(image.shape)}, got {_shape(mask)}"
        )
    if h % size_multiple or w % size_multiple:
        why = f" ({reason})" if reason else ""
        raise ValueError(
            f"image height and width must be divisible by {size_multiple}{why}, got {h}x{w}; "
            "pad the input first (ModelInpainter does)"
        )
