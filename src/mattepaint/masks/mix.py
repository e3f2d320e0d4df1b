"""A mixture of mask generators: each mask comes from one of several, chosen at random.

Used to train on more than one hole distribution at once, e.g. LaMa's thick strokes (what users
brush over an object) together with the NVIDIA irregular masks of the standard evaluation table
(Liu et al., ECCV 2018), so the model fits neither alone.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mattepaint.checks import check_rng, check_shape

__all__ = ["mix", "parse_components"]

_KEYS = frozenset({"name", "params", "weight"})


def parse_components(
    generators: object,
) -> list[tuple[str, dict[str, Any], float]]:
    """Check a ``mix`` component list and return ``(name, params, probability)`` triples.

    Inputs: ``generators``, a non-empty list of mappings with keys ``name`` (a generator of
    :data:`mattepaint.masks.GENERATORS` other than ``mix``), optional ``params`` (its keyword
    parameters) and optional ``weight`` (a number > 0, default 1). Outputs: the components with
    the weights normalised to probabilities. Raises ``TypeError`` / ``ValueError`` naming the
    offending entry (unknown keys, a bad weight, an unknown generator or parameter).
    """
    from mattepaint.masks.registry import check_generator_params

    if isinstance(generators, (str, bytes)) or not isinstance(generators, Sequence):
        raise TypeError(
            f"mix: generators must be a list of {{name, params, weight}}, got "
            f"{type(generators).__name__}"
        )
    if not generators:
        raise ValueError("mix: generators is empty")
    parsed: list[tuple[str, dict[str, Any], float]] = []
    for index, entry in enumerate(generators):
        if not isinstance(entry, Mapping):
            raise TypeError(f"mix: generators[{index}] must be a mapping, got {entry!r}")
        unknown = sorted(set(entry) - _KEYS)
        if unknown or "name" not in entry:
            raise ValueError(
                f"mix: generators[{index}] needs 'name' and may have 'params' and 'weight' "
                f"(got keys {sorted(entry)})"
            )
        name = entry["name"]
        if name == "mix":
            raise ValueError(f"mix: generators[{index}] may not be another mix")
        params = entry.get("params") or {}
        if not isinstance(params, Mapping):
            raise TypeError(f"mix: generators[{index}].params must be a mapping, got {params!r}")
        check_generator_params(name, params)
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight > 0:
            raise ValueError(f"mix: generators[{index}].weight must be > 0, got {weight!r}")
        parsed.append((name, dict(params), float(weight)))
    total = sum(weight for _, _, weight in parsed)
    return [(name, params, weight / total) for name, params, weight in parsed]


def mix(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    generators: Sequence[Mapping[str, Any]],
) -> np.ndarray:
    """A mask from one generator of ``generators``, picked with probability ∝ its weight.

    Inputs: shape (H, W); rng; ``generators`` as for :func:`parse_components`, e.g.
    ``[{"name": "lama_thick", "weight": 1}, {"name": "folder", "params": {"folder": "masks/"}}]``.
    Outputs: (H, W) bool, True = hole. The choice and the chosen generator both draw from
    ``rng``, so a seeded rng gives the same mask every time.

    Example:
        >>> import numpy as np
        >>> spec = [{"name": "center_square"}, {"name": "rectangles", "weight": 3}]
        >>> mix((32, 32), np.random.default_rng(0), generators=spec).shape
        (32, 32)
    """
    from mattepaint.masks.registry import generate_mask

    shape = check_shape(shape)
    check_rng(rng)
    components = parse_components(generators)
    probabilities = np.array([p for _, _, p in components])
    name, params, _ = components[int(rng.choice(len(components), p=probabilities))]
    return generate_mask(name, shape, rng, **params)
