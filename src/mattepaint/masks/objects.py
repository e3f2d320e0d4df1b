"""Object-removal masks: object silhouettes, dilated like a user's brush stroke around them.

When people remove something from a photo they paint over a whole object (a person, a bin, a
bird) with a margin around it, not a random scribble. This generator draws such holes:

1. 1-3 silhouettes (``min_objects..max_objects``), each either the alpha channel
   (``alpha > 0.5``) of a random RGBA cut-out in ``folder`` (e.g. the real-photo stamps in
   ``foregrounds/tuxpaint_photo_stamps``), or without a folder a procedural shape: the union
   of 1-3 overlapping parts, each a wobbly blob (radial harmonics) or an ellipse;
2. each scaled so that its longer side is ``U(min_size, max_size) * min(H, W)``, mirrored with
   probability 1/2, and placed with its centre uniformly inside the image (it may be cut by the
   border, like an object at the edge of a photo);
3. the union dilated by a disk of radius ``U{min_dilation..max_dilation}`` pixels at 256 px
   (scaled by ``min(H, W) / 256``): the margin a brush leaves around the object;
4. redrawn (up to ``max_attempts`` draws) until the hole ratio is in ``(0, max_hole_ratio]``.

With probability ``mix`` the mask is instead a LaMa thick or medium mask (1/2 each,
:func:`mattepaint.masks.lama.lama_thick` / ``lama_medium``), the mixture issue 12 asks for.

References: Zeng et al., "High-Resolution Image Inpainting with Iterative Confidence
Feedback and Guided Upsampling", ECCV 2020 (object-shaped holes from instance silhouettes,
because real removal masks follow objects); Suvorov et al., "Resolution-robust Large Mask
Inpainting with Fourier Convolutions" (LaMa), WACV 2022 (the thick / medium masks of the mix).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from mattepaint.checks import check_float, check_int, check_range, check_rng, check_shape
from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.masks.lama import REFERENCE_SIDE, lama_medium, lama_thick

__all__ = ["load_silhouettes", "objects", "procedural_silhouette"]

#: Suffixes of the files read from a cut-out folder (formats that can hold an alpha channel).
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")
_MAX_SIDE = 512  # silhouettes are stored with their longer side at most this (memory)


# --------------------------------------------------------------------------------------------
# silhouettes


def _alpha_silhouette(path: Path) -> np.ndarray | None:
    """The ``alpha > 0.5`` region of an RGBA file, cropped to its bounding box and shrunk to at
    most _MAX_SIDE; None for a file without alpha, unreadable, or fully transparent."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None or image.ndim != 3 or image.shape[2] != 4:
        return None
    alpha = image[..., 3]
    solid = alpha.astype(np.float32) > 0.5 * np.iinfo(alpha.dtype).max  # (h, w) bool
    ys, xs = np.nonzero(solid)
    if ys.size == 0:
        return None
    solid = solid[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    scale = _MAX_SIDE / max(solid.shape)
    if scale < 1:
        size = (max(1, round(solid.shape[1] * scale)), max(1, round(solid.shape[0] * scale)))
        solid = cv2.resize(solid.astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
    return solid


@functools.lru_cache(maxsize=8)
def _cached_silhouettes(folder: str, mtime_ns: int) -> tuple[np.ndarray, ...]:
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in ALPHA_SUFFIXES)
    found = [s for s in map(_alpha_silhouette, files) if s is not None]
    if not found:
        raise InputError(
            f"{folder}: no image with an alpha channel ({', '.join(ALPHA_SUFFIXES)} files with "
            "a non-empty alpha) to take object silhouettes from"
        )
    for s in found:
        s.setflags(write=False)  # shared by every call: read-only
    return tuple(found)


def load_silhouettes(folder: str | os.PathLike[str]) -> tuple[np.ndarray, ...]:
    """The object silhouettes of a folder of RGBA cut-outs, loaded once per process.

    Inputs: ``folder``, a directory (``~`` and ``$VARS`` are expanded) holding .png / .webp /
    .tif files with an alpha channel; files without alpha are skipped.
    Outputs: a tuple of read-only (h, w) bool arrays, ``alpha > 0.5`` of each file (sorted by
    name), cropped to the object's bounding box, longer side at most 512 px.
    Raises: InputNotFoundError when the folder does not exist; InputError when it holds no
    usable cut-out. The result is cached by path and modification time.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}")
    path = Path(os.path.expandvars(os.path.expanduser(os.fspath(folder))))
    if not path.is_dir():
        raise InputNotFoundError(f"{path}: cut-out folder not found (folder= of 'objects')")
    return _cached_silhouettes(str(path.resolve()), path.stat().st_mtime_ns)


def procedural_silhouette(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A random object-like shape: the union of 1-3 overlapping wobbly blobs and ellipses.

    Inputs: ``rng``; ``size`` the canvas side (>= 16). Outputs: (size, size) bool, non-empty,
    the shape cropped to nothing (it fills most of the canvas). A blob's radius is
    ``r(t) = R (1 + sum_{k=2..5} a_k cos(k t + p_k))`` with ``a_k ~ U(0, 0.25 / k)``; an ellipse
    has semi-axes ``R`` and ``R U(0.35, 1)``, rotated by ``U(0, pi)``; parts after the first are
    centred on the rim of the first, ``R ~ U(0.12, 0.3) size``.
    """
    check_rng(rng)
    size = check_int("size", size, minimum=16)
    canvas = np.zeros((size, size), np.uint8)
    centre = np.array([size / 2, size / 2])
    first_radius = 0.0
    for part in range(1 + int(rng.integers(0, 3))):
        radius = float(rng.uniform(0.12, 0.3)) * size
        if part == 0:
            first_radius, c = radius, centre
        else:  # attached to the first part, like a head or a limb
            angle = rng.uniform(0, 2 * math.pi)
            c = centre + first_radius * np.array([math.cos(angle), math.sin(angle)])
        t = np.linspace(0, 2 * math.pi, 96, endpoint=False)  # (96,)
        if rng.random() < 0.5:  # wobbly blob
            r = np.ones_like(t)
            for k in range(2, 6):
                r += rng.uniform(0, 0.25 / k) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
            points = c + radius * r[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
        else:  # rotated ellipse
            a, b, rot = radius, radius * rng.uniform(0.35, 1.0), rng.uniform(0, math.pi)
            x, y = a * np.cos(t), b * np.sin(t)
            points = c + np.stack(
                [x * math.cos(rot) - y * math.sin(rot), x * math.sin(rot) + y * math.cos(rot)],
                axis=1,
            )
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)  # (96, 2) x, y
    return canvas.astype(bool)


# --------------------------------------------------------------------------------------------
# the generator


def _place(canvas: np.ndarray, shape: np.ndarray, side: int, rng: np.random.Generator) -> None:
    """OR ``shape`` (h, w) bool, scaled to longer side ``side`` and maybe mirrored, into
    ``canvas`` (H, W) bool with its centre at a uniform random pixel (cut by the border)."""
    ys, xs = np.nonzero(shape)
    shape = shape[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # tight bounding box
    scale = side / max(shape.shape)
    new_w = max(1, round(shape.shape[1] * scale))
    new_h = max(1, round(shape.shape[0] * scale))
    obj = cv2.resize(shape.astype(np.uint8) * 255, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    obj = obj > 127  # (new_h, new_w)
    if rng.random() < 0.5:
        obj = obj[:, ::-1]
    height, width = canvas.shape
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, left = cy - new_h // 2, cx - new_w // 2
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + new_h, height), min(left + new_w, width)
    if y1 > y0 and x1 > x0:
        canvas[y0:y1, x0:x1] |= obj[y0 - top : y1 - top, x0 - left : x1 - left]


def objects(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    folder: str | os.PathLike[str] | None = None,
    min_objects: int = 1,
    max_objects: int = 2,
    min_size: float = 0.25,
    max_size: float = 0.6,
    min_dilation: int = 3,
    max_dilation: int = 15,
    mix: float = 0.0,
    max_hole_ratio: float = 0.6,
    max_attempts: int = 20,
) -> np.ndarray:
    """Object-removal holes: silhouettes of cut-outs (or procedural shapes), dilated like a brush.

    Inputs:
        shape: (H, W) positive ints. rng: a numpy Generator (all randomness comes from it).
        folder: a folder of RGBA cut-outs whose alpha gives the silhouettes (see
            :func:`load_silhouettes`); None: procedural shapes (:func:`procedural_silhouette`).
        min_objects, max_objects: objects per mask, inclusive (>= 1).
        min_size, max_size: an object's longer side as a fraction of ``min(H, W)``, in (0, 2].
        min_dilation, max_dilation: brush margin radius in pixels at 256 px, inclusive (>= 0),
            scaled by ``min(H, W) / 256``; drawn after the objects are placed, so two calls with
            the same rng state and different dilations give nested masks (when the first draw
            is accepted).
        mix: probability in [0, 1] of a LaMa thick or medium mask instead (1/2 each).
        max_hole_ratio: masks with a larger hole fraction are redrawn, in (0, 1].
        max_attempts: draws at most (>= 1); the last is returned, with a warning, if none fits.

    Outputs: (H, W) bool, True = hole, non-empty, hole ratio <= ``max_hole_ratio`` (see the
    module docstring for the drawing steps).

    Raises: TypeError / ValueError for bad arguments; InputNotFoundError / InputError for a
    missing folder or one without RGBA cut-outs.
    """
    height, width = check_shape(shape)
    check_rng(rng)
    min_objects = check_int("min_objects", min_objects, minimum=1)
    max_objects = check_int("max_objects", max_objects, minimum=min_objects)
    min_size = check_float("min_size", min_size, low=0.0, high=2.0, low_open=True)
    max_size = check_float("max_size", max_size, low=0.0, high=2.0, low_open=True)
    check_range("object size", min_size, max_size)
    min_dilation = check_int("min_dilation", min_dilation, minimum=0)
    max_dilation = check_int("max_dilation", max_dilation, minimum=min_dilation)
    mix = check_float("mix", mix, low=0.0, high=1.0)
    max_hole_ratio = check_float("max_hole_ratio", max_hole_ratio, low=0.0, high=1.0, low_open=True)
    max_attempts = check_int("max_attempts", max_attempts, minimum=1)
    silhouettes = load_silhouettes(folder) if folder is not None else None

    if rng.random() < mix:
        lama = lama_thick if rng.random() < 0.5 else lama_medium
        return lama((height, width), rng)
    short = min(height, width)
    scale = short / REFERENCE_SIDE
    mask = np.zeros((height, width), bool)
    for _ in range(max_attempts):
        mask = np.zeros((height, width), bool)
        for _ in range(int(rng.integers(min_objects, max_objects + 1))):
            if silhouettes is not None:
                silhouette = silhouettes[int(rng.integers(0, len(silhouettes)))]
            else:
                silhouette = procedural_silhouette(rng)
            side = max(1, round(float(rng.uniform(min_size, max_size)) * short))
            _place(mask, silhouette, side, rng)
        radius = round(int(rng.integers(min_dilation, max_dilation + 1)) * scale)
        if radius > 0:
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
            mask = cv2.dilate(mask.astype(np.uint8), disk).astype(bool)
        if mask.any() and mask.mean() <= max_hole_ratio:
            return mask
    warnings.warn(
        f"objects mask: no draw in {max_attempts} attempts was non-empty with hole ratio "
        f"<= {max_hole_ratio}; returning the last one (ratio {mask.mean():.3f})",
        stacklevel=2,
    )
    return mask
