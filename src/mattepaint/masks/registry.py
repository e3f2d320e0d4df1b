"""The mask-generator table and the name-based entry point.

Every generator has the signature ``fn(shape: tuple[int, int], rng: np.random.Generator,
**params) -> np.ndarray`` returning an (H, W) bool mask with True = hole.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import numpy as np

from mattepaint.checks import check_rng, check_shape
from mattepaint.masks.folder import folder_mask
from mattepaint.masks.lama import _FIELDS as _LAMA_FIELDS
from mattepaint.masks.lama import lama_medium, lama_thick, lama_thin
from mattepaint.masks.mix import mix
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
    "mix": mix,
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
