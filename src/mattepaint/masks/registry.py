"""The mask-generator table, the name-based entry point, and ``mix`` (a generator of generators).

Every generator has the signature ``fn(shape: tuple[int, int], rng: np.random.Generator,
**params) -> np.ndarray`` returning an (H, W) bool mask with True = hole.

``mix`` draws each mask from one of several generators, chosen at random by weight: e.g. LaMa's
thick strokes (what users brush over an object) together with the NVIDIA irregular masks of the
standard evaluation table (Liu et al., ECCV 2018), so a model fits neither alone. It lives here
because it looks its components up in :data:`GENERATORS`.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mattepaint.checks import check_rng, check_shape
from mattepaint.masks.folder import folder_mask
from mattepaint.masks.lama import _FIELDS as _LAMA_FIELDS
from mattepaint.masks.lama import lama_medium, lama_thick, lama_thin
from mattepaint.masks.objects import objects
from mattepaint.masks.rectangles import rectangles
from mattepaint.masks.squares import center_square, random_square
from mattepaint.masks.strokes import strokes

MaskGenerator = Callable[..., np.ndarray]

#: Name -> generator. Plain dict: add an entry to register a generator.
GENERATORS: dict[str, MaskGenerator] = {
    "rectangles": rectangles,
    "center_square": center_square,
    "random_square": random_square,
    "strokes": strokes,
    "lama_thin": lama_thin,
    "lama_medium": lama_medium,
    "lama_thick": lama_thick,
    "folder": folder_mask,
    "objects": objects,
}


def get_generator(name: str) -> MaskGenerator:
    """The generator called ``name``; ``ValueError`` listing the valid names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"generator name must be a str, got {type(name).__name__}")
    try:
        return GENERATORS[name]
    except KeyError:
        raise ValueError(
            f"unknown mask generator {name!r}; valid names: {', '.join(sorted(GENERATORS))}"
        ) from None


def generator_params(name: str) -> tuple[str, ...]:
    """Names of the keyword parameters generator ``name`` accepts."""
    fn = get_generator(name)
    params = [
        p.name
        for p in list(inspect.signature(fn).parameters.values())[2:]
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if fn in (lama_thin, lama_medium, lama_thick):
        params.extend(_LAMA_FIELDS)
    return tuple(params)


def check_generator_params(name: str, params: Mapping[str, object]) -> MaskGenerator:
    """Check that ``params`` names only parameters of generator ``name`` and all required ones.

    Outputs: the generator. Raises ``ValueError`` for an unknown name, ``TypeError`` for an
    unknown or a missing parameter (the message lists the valid parameters). Values are checked
    by the generator itself when it runs.
    """
    fn = get_generator(name)
    valid = generator_params(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"mask generator {name!r} got unexpected parameter(s) {unknown}; "
            f"valid: {', '.join(valid) or 'none'}"
        )
    signature = inspect.signature(fn)
    missing = [
        p.name
        for p in list(signature.parameters.values())[2:]
        if p.default is inspect.Parameter.empty
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.name not in params
    ]
    if missing:
        raise TypeError(f"mask generator {name!r} needs parameter(s) {missing}")
    return fn


def generate_mask(
    name: str, shape: tuple[int, int], rng: np.random.Generator, **params: object
) -> np.ndarray:
    """Draw one mask with the generator called ``name``.

    Inputs: ``name`` a key of :data:`GENERATORS`; ``shape`` (H, W) positive ints; ``rng`` a numpy
    Generator; ``params`` the generator's keyword parameters.
    Outputs: (H, W) bool, True = hole.
    Raises ``ValueError`` for an unknown name (listing the valid ones) or bad values,
    ``TypeError`` for a bad shape type, a non-Generator rng, or unknown/missing parameters.
    """
    fn = check_generator_params(name, params)
    shape = check_shape(shape)
    check_rng(rng)
    mask = fn(shape, rng, **params)
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.shape != shape:
        got = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise RuntimeError(
            f"mask generator {name!r} must return a bool array of shape {shape}, got {got}"
        )
    return mask


_MIX_KEYS = frozenset({"name", "params", "weight"})


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
        unknown = sorted(set(entry) - _MIX_KEYS)
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
    shape = check_shape(shape)
    check_rng(rng)
    components = parse_components(generators)
    probabilities = np.array([p for _, _, p in components])
    name, params, _ = components[int(rng.choice(len(components), p=probabilities))]
    return GENERATORS[name](shape, rng, **params)  # checked by parse_components


GENERATORS["mix"] = mix
