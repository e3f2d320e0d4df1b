"""Argument checks shared by the mask generators (private).

Every generator validates its inputs at the public boundary with ``ValueError`` / ``TypeError``
whose message says what was expected and what was got (see the house style).
"""

from __future__ import annotations

import numbers

import numpy as np


def check_shape(shape: object) -> tuple[int, int]:
    """Return ``shape`` as ``(H, W)`` Python ints.

    Inputs: ``shape``, a tuple/list of two positive integers (numpy integers are accepted,
    ``bool`` is not). Outputs: ``(H, W)``.
    Raises ``TypeError`` for a non-sequence or non-integer entries and ``ValueError`` for a
    wrong length or non-positive sizes.
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
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"shape {name} must be an int, got {type(value).__name__} {value!r}")
        if value <= 0:
            raise ValueError(f"shape must be (H, W) with positive sizes, got {tuple(shape)}")
        out.append(int(value))
    return out[0], out[1]


def check_rng(rng: object) -> np.random.Generator:
    """Return ``rng`` if it is a ``np.random.Generator``, else raise ``TypeError``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (e.g. np.random.default_rng(0)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, checking its type and an optional lower bound."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float in the interval given by ``low``/``high`` (closed by default)."""
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


def check_range(name: str, low: int, high: int) -> None:
    """Raise ``ValueError`` unless ``low <= high`` (for ``min_x`` / ``max_x`` pairs)."""
    if low > high:
        raise ValueError(f"{name}: minimum must be <= maximum, got min {low} > max {high}")
