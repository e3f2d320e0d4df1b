"""Load and save images, alpha mattes, masks and trimaps, with validation.

Everything read from disk comes back as float32 in [0, 1] (masks as bool), whatever the file
held: 8-bit values are divided by 255, 16-bit values by 65535. Colour images are ``(H, W, 3)``,
single-channel maps ``(H, W)``. On disk a mask is white (255) where there is a hole, and a
trimap is 0 (background) / 128 (unknown) / 255 (foreground).

Reading goes through Pillow, which handles palette, grayscale, RGBA and EXIF orientation. Pillow
silently reduces 16-bit RGB(A) PNG and TIFF files to 8 bits, so those are decoded with OpenCV
(PNG) or tifffile (TIFF) instead, and the EXIF / TIFF orientation is applied by hand.

Reading checks the whole file, not just its header: a truncated file, a PNG chunk whose CRC
checksum fails (``Image.verify``) and any decoder error raise :class:`~mattepaint.errors.InputError`
naming the file (Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is never set). Images larger than
the pixel limit are refused from their header, before any pixel is decoded: the limit is
``max_pixels=`` of each loader, by default :func:`max_pixels_limit` (the environment variable
``MATTEPAINT_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS` = 4096 x 4096). The command line, the
batch runner and the server all read images through these loaders, so one limit holds for all.

Writing is atomic: the encoder writes a temporary file in the target folder, which is renamed
over the target only once it is complete (:func:`atomic_path`). Existing files are never
replaced unless ``overwrite=True``; :func:`check_image_output` checks an output name (suffix,
alpha support, folder) before any work is done, and :class:`StagedOutputs` writes many outputs
all or nothing (the batch commands: nothing appears unless every input went through).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps

from mattepaint.errors import InputError, InputNotFoundError, OutputExistsError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MAX_PIXELS_ENV",
    "StagedOutputs",
    "as_path",
    "atomic_path",
    "check_image_output",
    "check_pixel_count",
    "check_same_size",
    "list_images",
    "load_alpha",
    "load_image",
    "load_mask",
    "load_rgba",
    "load_trimap",
    "max_pixels_limit",
    "read_image_size",
    "save_image",
    "save_mask",
    "save_trimap",
    "to_numpy",
    "to_tensor",
]

PathLike = str | os.PathLike
SizeLike = tuple[int, int] | np.ndarray | torch.Tensor

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""File suffixes (lower case) that :func:`list_images` picks up and the savers accept."""

_TIFF_SUFFIXES = (".tif", ".tiff")
_SIXTEEN_BIT_SUFFIXES = (".png", *_TIFF_SUFFIXES)
_LOSSLESS_SUFFIXES = (".png", ".bmp", *_TIFF_SUFFIXES)  # where masks / trimaps may be saved
_JPEG_QUALITY = 95
_RANGE_TOLERANCE = 1e-4  # float values this far outside [0, 1] are clipped without a warning
_MAX_LISTED_VALUES = 8  # distinct bad trimap values named in an error message
_ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")  # where an RGBA image may be saved

DEFAULT_MAX_PIXELS: int = 4096 * 4096
"""Largest image (width x height) the loaders decode unless told otherwise: 16.7 MP, whose float
RGB copy takes 4096 * 4096 * 3 * 4 bytes = 201 MB."""

MAX_PIXELS_ENV = "MATTEPAINT_MAX_PIXELS"
"""Environment variable that replaces :data:`DEFAULT_MAX_PIXELS` for every entry point."""

# ITU-R BT.601 luma, the weights Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def max_pixels_limit() -> int:
    """The pixel limit the loaders use when ``max_pixels`` is not given.

    Outputs: the environment variable :data:`MAX_PIXELS_ENV` (``MATTEPAINT_MAX_PIXELS``, a
        positive int) when it is set, else :data:`DEFAULT_MAX_PIXELS` (4096 x 4096).
    Raises: InputError when the variable is set to something other than a positive int.
    """
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise InputError(
            f"environment variable {MAX_PIXELS_ENV}={text!r} must be a positive number of "
            f"pixels, e.g. {MAX_PIXELS_ENV}={DEFAULT_MAX_PIXELS}"
        )
    return value


def _resolve_max_pixels(max_pixels: int | None) -> int:
    if max_pixels is None:
        return max_pixels_limit()
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)):
        raise TypeError(f"max_pixels must be an int or None, got {max_pixels!r}")
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be > 0, got {max_pixels}")
    return int(max_pixels)


def check_pixel_count(
    width: int,
    height: int,
    what: str,
    *,
    max_pixels: int | None = None,
    how_to_raise: str | None = None,
    fix: str = "downscale it",
) -> None:
    """Raise InputError when a ``width`` x ``height`` image has more pixels than the limit.

    Inputs:
        width, height: the image size in pixels.
        what: the image named in the message, e.g. ``"image photo.jpg"``.
        max_pixels: the limit; None = :func:`max_pixels_limit` (``MATTEPAINT_MAX_PIXELS`` or
            :data:`DEFAULT_MAX_PIXELS`).
        how_to_raise: how the reader of the message changes the limit (default: the
            environment variable and the ``max_pixels`` argument); the server names its flag.
        fix: what else to do, e.g. ``"choose a smaller --size"``.
    Outputs: None. The message names the size, the limit and how to raise it, e.g.
        ``image a.png is 5000x5000 = 25000000 pixels, more than the limit of 16777216 pixels;
        downscale it, or raise the limit (environment variable MATTEPAINT_MAX_PIXELS=N,
        max_pixels=N in Python)``.
    """
    limit = _resolve_max_pixels(max_pixels)
    if how_to_raise is None:
        how_to_raise = f"environment variable {MAX_PIXELS_ENV}=N, max_pixels=N in Python"
    if width * height > limit:
        raise InputError(
            f"{what} is {width}x{height} = {width * height} pixels, more than the limit of "
            f"{limit} pixels; {fix}, or raise the limit ({how_to_raise})"
        )


def as_path(path: object, what: str) -> Path:
    """``path`` (a str or os.PathLike) as a Path; TypeError ``"<what> must be a str or Path,
    got <type>"`` for anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a str or Path, got {type(path).__name__}")
    return Path(path)


def _check_file(path: PathLike, kind: str) -> Path:
    """Return ``path`` as a Path, raising InputNotFoundError if it is missing or a folder."""
    path = as_path(path, f"{kind} path")
    if not path.exists():
        raise InputNotFoundError(f"{kind} not found: {path}")
    if path.is_dir():
        raise InputNotFoundError(f"{kind} path {path} is a directory; give an image file")
    return path


def _bits_per_sample(im: Image.Image) -> int:
    """Bits per sample stored in the file behind ``im`` (call before ``im.load()``)."""
    tags = getattr(im, "tag_v2", None)  # TIFF
    if tags is not None and 258 in tags:
        bits = tags[258]
        return int(max(bits) if isinstance(bits, tuple) else bits)
    for tile in im.tile:  # PNG: the raw mode of a 16-bit file is e.g. "RGB;16B"
        args = tile[3]
        rawmode = args[0] if isinstance(args, tuple) else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 8


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF / TIFF orientation tag (1..8) to an (H, W[, C]) array.

    Same transforms as ``PIL.ImageOps.exif_transpose``; np.rot90 with k=-1 turns clockwise.
    """
    transforms = {
        2: lambda a: a[:, ::-1],  # mirror left-right
        3: lambda a: a[::-1, ::-1],  # rotate 180
        4: lambda a: a[::-1],  # mirror top-bottom
        5: lambda a: a.swapaxes(0, 1),  # transpose
        6: lambda a: np.rot90(a, k=-1),  # rotate 90 clockwise
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),  # transverse
        8: lambda a: np.rot90(a, k=1),  # rotate 90 counter-clockwise
    }
    transform = transforms.get(orientation)
    return array if transform is None else np.ascontiguousarray(transform(array))


def _read_wide(path: Path, orientation: int) -> np.ndarray:
    """Decode a 16-bit colour PNG / TIFF that Pillow would reduce to 8 bits.

    TIFF: tifffile when installed (raw pixels, orientation applied here), else or when it lacks
    the codec, OpenCV (which applies the TIFF orientation itself). PNG: OpenCV, which ignores the
    EXIF orientation, so it is applied here.

    Outputs: (H, W) or (H, W, C) in RGB(A) channel order, the file's own dtype, oriented.
    """
    if path.suffix.lower() in _TIFF_SUFFIXES:
        try:
            import tifffile
        except ImportError:
            tifffile = None
        if tifffile is not None:
            try:
                with tifffile.TiffFile(path) as tif:
                    page = tif.pages[0]
                    array = page.asarray()
                    if page.axes.startswith("S"):  # planar: (C, H, W) -> (H, W, C)
                        array = np.moveaxis(array, 0, -1)
                    tag = page.tags.get(274)
                return _apply_orientation(array, int(tag.value) if tag is not None else 1)
            except ValueError:  # e.g. LZW (what OpenCV writes) needs imagecodecs: try OpenCV
                pass
    # cv2.imread cannot open non-ASCII paths on Windows; decoding the bytes can.
    array = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None:
        raise ValueError("OpenCV could not decode the 16-bit data")
    if array.ndim == 3 and array.shape[2] == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA)
    if path.suffix.lower() in _TIFF_SUFFIXES:
        return array  # OpenCV applies the TIFF orientation itself
    return _apply_orientation(array, orientation)


def _pil_to_array(im: Image.Image) -> np.ndarray:
    """Pixel array of an oriented Pillow image in one of the modes L, LA, RGB, RGBA, I;16, F."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("PA", "RGBa", "RGBX"):
        im = im.convert("RGBA" if im.mode != "RGBX" else "RGB")
    elif im.mode == "La":
        im = im.convert("LA")
    elif im.mode == "1":
        im = im.convert("L")
    elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    array = np.asarray(im)
    if im.mode.startswith("I;16"):
        return array.astype(np.uint16)  # also turns big-endian I;16B into native order
    if im.mode == "I":  # 32-bit integer; 16-bit gray files sometimes decode to this
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise ValueError(f"32-bit integer values {array.min()}..{array.max()} are not 16-bit")
        return array.astype(np.uint16)
    return array


def _decode(path: Path, kind: str, max_pixels: int) -> np.ndarray:
    """Decode ``path`` in full after checking its pixel count; decoder errors propagate as is.

    A PNG is first read chunk by chunk with ``Image.verify`` (Pillow's decoder does not check the
    CRC of the image data), then opened again to decode.
    """
    with Image.open(path) as im:
        width, height = im.size
        check_pixel_count(width, height, f"{kind} {path}", max_pixels=max_pixels)
        if im.format == "PNG":
            im.verify()  # every chunk's CRC, up to IEND; leaves ``im`` unusable
    with Image.open(path) as im:
        bits = _bits_per_sample(im)
        orientation = int(im.getexif().get(0x0112, 1))
        if bits > 8 and im.mode in ("RGB", "RGBA", "LA"):
            return _read_wide(path, orientation)
        im.load()  # raises on a truncated file: LOAD_TRUNCATED_IMAGES stays False
        return _pil_to_array(ImageOps.exif_transpose(im))


def _read(path: PathLike, kind: str, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file in full, EXIF orientation applied.

    Inputs: path; kind (named in messages: "image", "mask", ...); max_pixels (None: the default
        limit, :func:`max_pixels_limit`).
    Outputs: (H, W) or (H, W, C) with C in {2 (LA), 3 (RGB), 4 (RGBA)}; dtype uint8, uint16
        or float32 (32-bit float TIFF, values as stored).
    Raises: InputNotFoundError (missing, a directory); InputError for anything the decoders
        (Pillow, OpenCV, tifffile) reject, however they raise it: a truncated file, a failed PNG
        checksum, an image over the pixel limit. Warnings the decoders give for a file that
        does load are passed on with the file's name; for one that does not, only the error.
    """
    path = _check_file(path, kind)
    limit = _resolve_max_pixels(max_pixels)
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True, so truncated files would load "
            "silently; set it back to False"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            array = _decode(path, kind, limit)
        except InputError:
            raise
        except Image.DecompressionBombError:
            raise InputError(
                f"{kind} {path} has more than {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels "
                f"(Pillow's decompression-bomb limit), more than the limit of {limit} pixels; "
                f"downscale it"
            ) from None
        except Exception as error:  # noqa: BLE001 - decoders raise many types for bad files
            detail = str(error) or type(error).__name__
            raise InputError(
                f"cannot read {kind} {path}: {detail}; is it a complete, valid image file?"
            ) from None
    for warning in caught:
        if not issubclass(warning.category, Image.DecompressionBombWarning):
            warnings.warn(f"{kind} {path}: {warning.message}", warning.category, stacklevel=3)
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"cannot read {kind} {path}: it is empty (shape {array.shape})")
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        raise InputError(f"cannot read {kind} {path}: unsupported pixel type {array.dtype}")
    return array


def read_image_size(
    path: PathLike, *, kind: str = "image", max_pixels: int | None = None
) -> tuple[int, int]:
    """Size of an image read from its header, without decoding the pixels.

    Inputs:
        path: an image file.
        kind: what it is, named in messages ("image", "mask", "trimap", ...).
        max_pixels: the pixel limit, as in :func:`load_image`.
    Outputs: (H, W) after the EXIF orientation (a 90-degree rotation swaps them).
    Raises: InputNotFoundError / InputError as :func:`load_image`: a header Pillow cannot read
        is decoded in full, which either works or gives the loader's clear error. A header that
        reads is no proof that the pixels do: the loaders decode them in full.
    """
    path = _check_file(path, kind)
    limit = _resolve_max_pixels(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the loader reports what matters when it decodes
            with Image.open(path) as im:
                width, height = im.size
                orientation = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - Pillow cannot tell: the full loader decides, clearly
        array = _read(path, kind, limit)
        return int(array.shape[0]), int(array.shape[1])
    check_pixel_count(width, height, f"{kind} {path}", max_pixels=limit)
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: width and height swap
        width, height = height, width
    return int(height), int(width)


def _to_float(array: np.ndarray, path: Path | str) -> np.ndarray:
    """Integer pixels -> float32 in [0, 1]: uint8 / 255, uint16 / 65535; floats are clipped."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    return _clip_unit(array.astype(np.float32), f"image {path}", stacklevel=4)


def _max_value(array: np.ndarray) -> float:
    """Full-scale value of a pixel array: 255, 65535 or 1.0."""
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)


def _to_gray(array: np.ndarray, kind: str, path: Path | str) -> np.ndarray:
    """(H, W[, C]) pixels -> (H, W) gray, same dtype; colour via luma 0.299 R + 0.587 G + 0.114 B.

    An alpha channel is ignored, with a warning when it is not fully opaque.
    """
    if array.ndim == 2:
        return array
    channels = array.shape[2]
    if channels in (2, 4) and array[..., -1].min() < _max_value(array):
        warnings.warn(
            f"{kind} {path} has a transparent alpha channel, which is ignored; "
            f"only the {'gray' if channels == 2 else 'colour'} channels are read",
            stacklevel=3,
        )
    if channels in (1, 2):
        return array[..., 0]
    rgb = array[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0]  # already gray: exact
    gray = rgb.astype(np.float64) @ _LUMA
    if np.issubdtype(array.dtype, np.integer):
        gray = np.round(gray)
    return gray.astype(array.dtype)


def _size_of(x: SizeLike, name: str) -> tuple[int, int]:
    """(H, W) of a size tuple, a numpy array (first two dims) or a tensor (last two dims)."""
    if isinstance(x, torch.Tensor):
        if x.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dims, got shape {tuple(x.shape)}")
        return int(x.shape[-2]), int(x.shape[-1])
    if isinstance(x, np.ndarray):
        if x.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dims, got shape {x.shape}")
        return int(x.shape[0]), int(x.shape[1])
    if isinstance(x, Sequence) and len(x) == 2 and all(isinstance(v, (int, np.integer)) for v in x):
        return int(x[0]), int(x[1])
    raise TypeError(f"{name} must be an (H, W) tuple, a numpy array or a tensor, got {x!r:.80}")


def check_same_size(
    reference: SizeLike, other: SizeLike, *, names: tuple[str, str] = ("image", "mask")
) -> None:
    """Raise ValueError unless ``reference`` and ``other`` have the same height and width.

    Inputs:
        reference, other: each an (H, W) tuple, a numpy array (H, W, ...) or a tensor (..., H, W).
        names: what the two are called in the error message.
    Outputs: None. The error names both sizes as WxH, e.g.
        ``mask size 64x48 does not match image size 64x64``.
    """
    ref_h, ref_w = _size_of(reference, names[0])
    h, w = _size_of(other, names[1])
    if (h, w) != (ref_h, ref_w):
        raise ValueError(f"{names[1]} size {w}x{h} does not match {names[0]} size {ref_w}x{ref_h}")


def _check_like(like: SizeLike | None, array: np.ndarray, kind: str, path: Path | str) -> None:
    if like is None:
        return
    try:
        check_same_size(like, array, names=("image", kind))
    except ValueError as error:
        raise InputError(f"{error} ({path}); give the {kind} made for this image") from None


def list_images(folder: PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name.

    Inputs: folder, a directory. Outputs: paths whose lower-case suffix is in IMAGE_SUFFIXES;
    sub-folders are not searched and hidden files (``.name``, e.g. temporary files that are
    still being written by :func:`atomic_path`) are skipped.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputNotFoundError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"expected a folder of images, got the file {folder}")
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def short_listing(items: Sequence[str], limit: int = 5) -> str:
    """``'a, b, c'`` with at most ``limit`` items, then ``' and N more'`` (for error messages)."""
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def images_by_stem(folder: PathLike, what: str = "image") -> dict[str, Path]:
    """The images of ``folder`` (:func:`list_images`) keyed by file stem, for matching images,
    masks, trimaps and predictions by name.

    Raises:
        FileNotFoundError: no such folder. ValueError: ``folder`` is a file, or several images
        share a stem (``a.png`` and ``a.jpg``), so they cannot be matched by name.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputNotFoundError(f"{what} folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"expected a folder of {what} images, got the file {folder}")
    by_stem: dict[str, Path] = {}
    duplicates: list[str] = []
    for path in list_images(folder):
        if path.stem in by_stem:
            duplicates.append(f"{by_stem[path.stem].name}/{path.name}")
        by_stem[path.stem] = path
    if duplicates:
        raise ValueError(
            f"{what} folder {folder} has several images with the same stem, so they cannot be "
            f"matched by name: {short_listing(duplicates)}"
        )
    return by_stem


def match_by_stem(
    stems: Iterable[str], folder: PathLike, what: str, *, cases: str = "image(s)", fix: str = ""
) -> dict[str, Path]:
    """The images of ``folder`` by stem (:func:`images_by_stem`), checked to hold one for each
    of ``stems`` (the cases to match, e.g. the input images' stems).

    Raises:
        InputError: some stems have no image: ``"<n> <cases> have no <what> of the same name in
        <folder>: <up to five stems>"``, then ``"; <fix>"`` when ``fix`` is given. As
        :func:`images_by_stem` for a missing folder, a file or clashing stems.
    """
    by_stem = images_by_stem(folder, what)
    missing = [stem for stem in stems if stem not in by_stem]
    if missing:
        message = (
            f"{len(missing)} {cases} have no {what} of the same name in {folder}: "
            f"{short_listing(missing)}"
        )
        raise InputError(f"{message}; {fix}" if fix else message)
    return by_stem


def load_rgba(
    path: PathLike, *, max_pixels: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load an image and its alpha channel, if it has one.

    Inputs:
        path: any image Pillow reads (8 or 16 bit; gray, palette, RGB, RGBA ...).
        max_pixels: refuse (InputError) images with more pixels, read from the header before
            decoding; None = :func:`max_pixels_limit`. The same applies to every loader.
    Outputs: ``(rgb, alpha)``: rgb (H, W, 3) float32 in [0, 1]; alpha (H, W) float32 in [0, 1],
        or None when the file has no alpha channel (a palette with a transparent colour counts
        as one). Gray is replicated to RGB; 8-bit values are divided by 255, 16-bit by 65535;
        the EXIF orientation is applied.
    """
    array = _read(path, "image", max_pixels)
    pixels = _to_float(array, path)
    if pixels.ndim == 2:
        pixels = pixels[..., None]  # (H, W) -> (H, W, 1)
    channels = pixels.shape[2]
    alpha = pixels[..., -1] if channels in (2, 4) else None
    colour = pixels[..., :1] if channels in (1, 2) else pixels[..., :3]
    rgb = np.ascontiguousarray(np.broadcast_to(colour, (*colour.shape[:2], 3)))  # gray -> RGB
    return rgb, None if alpha is None else np.ascontiguousarray(alpha)


def load_image(path: PathLike, *, max_pixels: int | None = None) -> np.ndarray:
    """Load an image as RGB.

    Inputs:
        path: any image Pillow reads (8 or 16 bit; gray, palette, RGB, RGBA ...).
        max_pixels: the pixel limit (None = :func:`max_pixels_limit`, 4096 x 4096 unless
            ``MATTEPAINT_MAX_PIXELS`` says otherwise); a larger image raises InputError.
    Outputs: (H, W, 3) float32 in [0, 1]; an alpha channel is dropped (see :func:`load_rgba`),
        gray is replicated to RGB, 8-bit values are divided by 255 and 16-bit ones by 65535,
        and the EXIF orientation is applied.
    Raises: InputNotFoundError (missing file), InputError (unreadable, truncated, failed
        checksum, over the pixel limit), each naming the file.
    """
    return load_rgba(path, max_pixels=max_pixels)[0]


def load_alpha(
    path: PathLike, *, like: SizeLike | None = None, max_pixels: int | None = None
) -> np.ndarray:
    """Load an alpha matte.

    Inputs:
        path: a gray image (8 or 16 bit). A colour file is reduced to gray by luma
            (0.299 R + 0.587 G + 0.114 B; exact when R = G = B); its alpha channel is ignored.
        like: optional (H, W) or array of the image the matte belongs to; a different size
            raises InputError.
        max_pixels: the pixel limit, as in :func:`load_image`.
    Outputs: (H, W) float32 in [0, 1] (value / 255, or / 65535 for 16-bit files).
    """
    array = _to_gray(_read(path, "alpha matte", max_pixels), "alpha matte", path)
    _check_like(like, array, "alpha matte", path)
    return _to_float(array, path)


def load_mask(
    path: PathLike,
    *,
    like: SizeLike | None = None,
    threshold: int = 127,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load an inpainting mask: white marks the hole.

    Inputs:
        path: a gray (or colour, reduced to gray by luma) image, ideally holding only 0 and 255.
        like: optional (H, W) or array of the image the mask belongs to; a different size
            raises ValueError.
        threshold: on the 0..255 scale; ``hole = value > threshold`` (16-bit values are compared
            as value * 255 / 65535).
        max_pixels: the pixel limit, as in :func:`load_image`.
    Outputs: (H, W) bool, True = hole. Warns when the file holds values other than black and
        white (e.g. a JPEG mask or an anti-aliased brush), saying how many pixels and which range.
    """
    if not 0 <= threshold < 255:
        raise ValueError(f"threshold must be in 0..254 (0..255 scale), got {threshold}")
    gray = _to_gray(_read(path, "mask", max_pixels), "mask", path)
    _check_like(like, gray, "mask", path)
    full = _max_value(gray)
    grey_pixels = (gray != 0) & (gray != full)
    count = int(np.count_nonzero(grey_pixels))
    if count:
        values = gray[grey_pixels]
        warnings.warn(
            f"mask {path} is not binary: {count} pixels ({100 * count / gray.size:.2g}%) hold "
            f"values in {values.min():g}..{values.max():g} (expected 0 or {full:g}); "
            f"binarised as value > {threshold} on the 0..255 scale",
            stacklevel=2,
        )
    # value / full * 255 > threshold, without float rounding at the boundary.
    return gray.astype(np.float64) * 255 > threshold * full


def load_trimap(
    path: PathLike,
    *,
    like: SizeLike | None = None,
    tolerance: int = 10,
    max_pixels: int | None = None,
) -> np.ndarray:
    """Load a trimap stored as 0 (background) / 128 (unknown) / 255 (foreground).

    Inputs:
        path: a gray (or colour, reduced to gray by luma) image; 16-bit values are first
            scaled to 0..255 (rounded).
        like: optional (H, W) or array of the image the trimap belongs to; a different size
            raises ValueError.
        tolerance: on the 0..255 scale. ``v <= tolerance`` -> 0, ``|v - 128| <= tolerance`` ->
            0.5, ``v >= 255 - tolerance`` -> 1. Must be in 0..63 so the classes do not overlap.
        max_pixels: the pixel limit, as in :func:`load_image`.
    Outputs: (H, W) float32 with values in {0, 0.5, 1}. Any other value raises InputError
        naming (up to 8 of) the offending values and how many pixels hold them.
    """
    if not 0 <= tolerance <= 63:
        raise ValueError(f"tolerance must be in 0..63 (0..255 scale), got {tolerance}")
    gray = _to_gray(_read(path, "trimap", max_pixels), "trimap", path)
    _check_like(like, gray, "trimap", path)
    values = np.round(gray.astype(np.float64) * (255 / _max_value(gray)))  # 0..255 scale
    background = values <= tolerance
    unknown = np.abs(values - 128) <= tolerance
    foreground = values >= 255 - tolerance
    bad = ~(background | unknown | foreground)
    if bad.any():
        distinct = np.unique(values[bad]).astype(int)
        listed = ", ".join(str(v) for v in distinct[:_MAX_LISTED_VALUES])
        if len(distinct) > _MAX_LISTED_VALUES:
            listed += f", ... ({len(distinct)} distinct values)"
        raise InputError(
            f"trimap {path} has values other than 0/128/255 (tolerance {tolerance}): "
            f"{listed} ({int(bad.sum())} pixels)"
        )
    trimap = np.zeros(gray.shape, dtype=np.float32)
    trimap[unknown] = 0.5
    trimap[foreground] = 1.0
    return trimap


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Context manager yielding a temporary path to write ``path`` through.

    Inputs:
        path: the final file. Its parent folders are created.
        overwrite: replace an existing file; otherwise FileExistsError is raised before
            anything is written.
    Outputs: yields a Path in the same folder with the same (lower-case) suffix, so encoders
        that pick the format from the name still work. When the block ends normally, the
        temporary file is renamed onto ``path`` (``os.replace``: readers see the old file or the
        complete new one, never a partial one); when it raises, the temporary file is deleted.
    """
    path = Path(path)
    _check_output_folder(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; pass overwrite=True (--overwrite on the command line) "
            f"to replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        suffix=path.suffix.lower(), prefix=f".{path.stem}.", dir=path.parent
    )
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        if path.exists() and not overwrite:  # appeared while we were writing
            raise OutputExistsError(
                f"{path} already exists; pass overwrite=True (--overwrite on the command line) "
                f"to replace it"
            )
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp creates files readable by the owner only
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


class StagedOutputs:
    """Write several outputs all or nothing: each under a temporary name beside its target, all
    renamed into place by :meth:`commit`, or all deleted by :meth:`discard`.

    Used as a context manager, it commits when the block ends normally and discards when it
    raises (an error, Ctrl-C), so a batch that fails on its last input leaves no output behind,
    existing files unchanged, and folders it created removed. A crash (SIGKILL) can leave hidden
    ``.name.*`` temporary files, which :func:`list_images` skips.

    Example:
        >>> with StagedOutputs(overwrite=False) as out:  # doctest: +SKIP
        ...     out.save_image("results/a.png", image_a)
        ...     out.save_image("results/b.png", image_b)  # a.png appears only with b.png
    """

    def __init__(self, *, overwrite: bool = False) -> None:
        self.overwrite = overwrite
        self._staged: list[tuple[Path, Path]] = []  # (temporary file, target)
        self._created: list[Path] = []  # folders made for the outputs, outermost first

    def _stage(self, path: PathLike) -> Path:
        """A new temporary file beside ``path`` (its folders created and remembered)."""
        path = Path(path)
        _check_output_folder(path)
        if path.exists() and not self.overwrite:
            raise OutputExistsError(
                f"{path} already exists; pass overwrite=True (--overwrite on the command line) "
                f"to replace it"
            )
        missing = [p for p in reversed(path.parents) if not p.exists()]
        path.parent.mkdir(parents=True, exist_ok=True)
        self._created.extend(missing)
        fd, name = tempfile.mkstemp(
            suffix=path.suffix.lower(), prefix=f".{path.stem}.", dir=path.parent
        )
        os.close(fd)
        self._staged.append((Path(name), path))
        return Path(name)

    def save_image(self, path: PathLike, image: np.ndarray | torch.Tensor, **options: Any) -> Path:
        """:func:`save_image` to a temporary file that :meth:`commit` renames onto ``path``.

        Inputs: as :func:`save_image` (``options``: ``bit_depth``). Outputs: ``path``.
        """
        check_image_output(path)  # the suffix, before a temporary file is made
        temp = self._stage(path)
        save_image(temp, image, overwrite=True, **options)
        return Path(path)

    def commit(self) -> list[Path]:
        """Rename every staged file onto its target; return the targets in the order staged.

        Raises OutputExistsError (and renames nothing) when a target appeared meanwhile and
        ``overwrite`` is False.
        """
        if not self.overwrite:
            existing = [str(path) for _, path in self._staged if path.exists()]
            if existing:
                raise OutputExistsError(
                    f"{len(existing)} output file(s) appeared while they were being computed: "
                    f"{short_listing(existing)}; pass overwrite=True (--overwrite) to replace them"
                )
        for temp, path in self._staged:
            os.replace(temp, path)
        targets = [path for _, path in self._staged]
        self._staged, self._created = [], []
        return targets

    def discard(self) -> None:
        """Delete every staged file and the folders made for them (when left empty)."""
        for temp, _ in self._staged:
            temp.unlink(missing_ok=True)
        for folder in reversed(self._created):  # innermost first
            with contextlib.suppress(OSError):  # not empty (someone else wrote there): keep it
                folder.rmdir()
        self._staged, self._created = [], []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


def _check_output_folder(path: Path) -> None:
    """InputError unless ``path`` could be created: not a directory, no file among its parents."""
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory; give a file name")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    f"cannot write {path}: {parent} is a file, not a folder; choose another path"
                )
            if not os.access(parent, os.W_OK | os.X_OK):  # no permission, read-only file system
                raise InputError(
                    f"cannot write {path}: the folder {parent} is not writable; choose another path"
                )
            break


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"cannot save {what} {path}: unsupported suffix {suffix or '(none)'!r}, "
            f"expected one of {', '.join(allowed)}"
        )
    return suffix


def check_image_output(
    path: PathLike, *, what: str = "image", channels: int = 3, bit_depth: int = 8
) -> Path:
    """Check that :func:`save_image` can write an image to ``path``, before any work is done.

    Inputs:
        path: the output file.
        what: what is written there, named in messages ("alpha matte", "cut-out", ...).
        channels: 1 (gray), 3 (RGB) or 4 (RGBA: needs .png, .tif, .tiff or .webp).
        bit_depth: 8, or 16 (needs .png, .tif or .tiff).
    Outputs: ``path`` as a Path.
    Raises: InputError naming the file and the fix: unsupported suffix, an RGBA image to a
        format without alpha (JPEG, BMP), 16 bit to a format without it, ``path`` is a directory
        or lies under a file. Whether the file exists is the caller's check (``overwrite``).
    """
    path = Path(path)
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1, 3 or 4, got {channels}")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    suffix = _check_suffix(path, IMAGE_SUFFIXES, what)
    if channels == 4 and suffix not in _ALPHA_SUFFIXES:
        kind = "JPEG" if suffix in (".jpg", ".jpeg") else suffix[1:].upper()
        raise InputError(
            f"cannot save {what} {path}: {kind} cannot store an alpha channel; use one of "
            f"{', '.join(_ALPHA_SUFFIXES)} (e.g. {path.with_suffix('.png').name})"
        )
    if bit_depth == 16 and suffix not in _SIXTEEN_BIT_SUFFIXES:
        raise InputError(
            f"cannot save {what} {path}: bit_depth 16 needs one of "
            f"{', '.join(_SIXTEEN_BIT_SUFFIXES)}, got {suffix!r}"
        )
    _check_output_folder(path)
    return path


def _clip_unit(array: np.ndarray, what: str, stacklevel: int) -> np.ndarray:
    """Clip floats to [0, 1], warning when values lie beyond a tiny tolerance of the range."""
    if not np.isfinite(array).all():
        raise ValueError(f"{what} has NaN or infinite values")
    if array.size:
        low, high = float(array.min()), float(array.max())
        if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
            warnings.warn(
                f"{what} has values in {low:.4g}..{high:.4g}, outside [0, 1]; they are clipped",
                stacklevel=stacklevel,
            )
    return np.clip(array, 0, 1)


def _as_hwc(image: Any, what: str) -> np.ndarray:
    """numpy (H, W) / (H, W, C) or torch (C, H, W) / (1, C, H, W) -> numpy (H, W, C)."""
    if isinstance(image, torch.Tensor):
        if image.ndim not in (3, 4):
            raise ValueError(
                f"{what} tensor must be (C, H, W) or (1, C, H, W), got {tuple(image.shape)}"
            )
        image = image.detach().cpu()
        image = image[0] if image.ndim == 4 and image.shape[0] == 1 else image
        if image.ndim == 4:
            raise ValueError(f"{what} tensor must hold one image, got batch {tuple(image.shape)}")
        return image.permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, C)
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"{what} must be a numpy array or a torch tensor, got {type(image).__name__}"
        )
    if image.ndim == 2:
        return image[..., None]  # (H, W) -> (H, W, 1)
    if image.ndim != 3:
        raise ValueError(f"{what} must be (H, W) or (H, W, C), got shape {image.shape}")
    return image


def _quantise(image: np.ndarray, bit_depth: int, what: str) -> np.ndarray:
    """float [0, 1] / bool / uint8 / uint16 -> uint8 or uint16, e.g. round(x * 255)."""
    full = 255 if bit_depth == 8 else 65535
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    if image.dtype == np.bool_:
        return image.astype(dtype) * dtype(full)
    if image.dtype == np.uint8:
        return image if bit_depth == 8 else image.astype(np.uint16) * np.uint16(257)
    if image.dtype == np.uint16:
        return image if bit_depth == 16 else np.round(image / 257).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        image = _clip_unit(image, what, stacklevel=4)
        image = image.astype(np.promote_types(image.dtype, np.float32))  # float16 overflows
        return np.round(image * full).astype(dtype)  # in the input's precision, as documented
    raise TypeError(f"{what} must be float in [0, 1], bool, uint8 or uint16, got {image.dtype}")


def _write(path: Path, pixels: np.ndarray, overwrite: bool) -> Path:
    """Write (H, W, C) uint8/uint16 pixels (C = 1, 3 or 4) atomically; format from the suffix."""
    with atomic_path(path, overwrite=overwrite) as temp:
        if pixels.dtype == np.uint16:  # Pillow cannot write 16-bit colour; OpenCV can
            if pixels.shape[2] == 3:
                pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
            elif pixels.shape[2] == 4:
                pixels = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA)
            ok, encoded = cv2.imencode(temp.suffix, np.ascontiguousarray(pixels))
            if not ok:
                raise ValueError(f"OpenCV could not encode {path}")
            encoded.tofile(temp)
        else:
            im = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
            options = {"quality": _JPEG_QUALITY} if temp.suffix in (".jpg", ".jpeg") else {}
            im.save(temp, **options)
    return path


def save_image(
    path: PathLike, image: np.ndarray | torch.Tensor, *, overwrite: bool = False, bit_depth: int = 8
) -> Path:
    """Save an image atomically.

    Inputs:
        path: target file; the format follows the suffix (one of IMAGE_SUFFIXES). Parent
            folders are created.
        image: numpy (H, W) or (H, W, C), or torch (C, H, W) / (1, C, H, W), with C in 1, 3, 4
            (gray, RGB, RGBA). dtype float in [0, 1] (clipped, with a warning when values lie
            outside), bool, uint8 or uint16.
        overwrite: replace an existing file (otherwise FileExistsError).
        bit_depth: 8, or 16 for .png / .tif / .tiff.
    Outputs: the Path written. Floats are stored as ``round(x * 255)`` (``round(x * 65535)`` at
        16 bit); uint16 is stored at 8 bit as ``round(x / 257)``; JPEG quality is 95.
    """
    path = Path(path)
    _check_suffix(path, IMAGE_SUFFIXES, "image")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    hwc = _as_hwc(image, "image")
    if hwc.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels, got shape {hwc.shape}")
    if hwc.shape[0] == 0 or hwc.shape[1] == 0:
        raise ValueError(f"cannot save an empty image (shape {hwc.shape}) to {path}")
    check_image_output(path, channels=hwc.shape[2], bit_depth=bit_depth)
    return _write(path, _quantise(hwc, bit_depth, f"image for {path}"), overwrite)


def _single_channel(array: Any, what: str) -> np.ndarray:
    """numpy (H, W) / (H, W, 1) or torch (1, H, W) / (1, 1, H, W) -> numpy (H, W)."""
    hwc = _as_hwc(array, what)
    if hwc.shape[2] != 1:
        raise ValueError(f"{what} must have one channel, got shape {tuple(np.shape(array))}")
    if hwc.shape[0] == 0 or hwc.shape[1] == 0:
        raise ValueError(f"cannot save an empty {what} (shape {tuple(np.shape(array))})")
    if hwc.dtype != np.bool_ and not np.issubdtype(hwc.dtype, np.number):
        raise TypeError(f"{what} must be bool or numeric, got {hwc.dtype}")
    return hwc[..., 0]


def save_mask(path: PathLike, mask: np.ndarray | torch.Tensor, *, overwrite: bool = False) -> Path:
    """Save a hole mask atomically as an 8-bit gray image: True / 1 -> 255, False / 0 -> 0.

    Inputs:
        path: a lossless format (.png, .bmp, .tif, .tiff); JPEG would blur the mask.
        mask: numpy (H, W) / (H, W, 1) or torch (1, H, W) / (1, 1, H, W); bool, or numbers that
            are all 0 or 1 (anything else raises ValueError).
        overwrite: replace an existing file (otherwise FileExistsError).
    Outputs: the Path written.
    """
    path = Path(path)
    _check_suffix(path, _LOSSLESS_SUFFIXES, "mask")
    mask = _single_channel(mask, "mask")
    if mask.dtype != np.bool_:
        bad = (mask != 0) & (mask != 1)
        if bad.any():
            raise ValueError(
                f"mask must be bool or hold only 0 and 1, got {int(bad.sum())} pixels with other "
                f"values (range {mask.min():g}..{mask.max():g})"
            )
    pixels = np.where(mask != 0, np.uint8(255), np.uint8(0))
    return _write(path, pixels[..., None], overwrite)


def save_trimap(
    path: PathLike, trimap: np.ndarray | torch.Tensor, *, overwrite: bool = False
) -> Path:
    """Save a trimap atomically as an 8-bit gray image: 0 -> 0, 0.5 -> 128, 1 -> 255.

    Inputs:
        path: a lossless format (.png, .bmp, .tif, .tiff).
        trimap: numpy (H, W) / (H, W, 1) or torch (1, H, W) / (1, 1, H, W) with values in
            {0, 0.5, 1} (within 1e-3); other values raise ValueError naming them.
        overwrite: replace an existing file (otherwise FileExistsError).
    Outputs: the Path written.
    """
    path = Path(path)
    _check_suffix(path, _LOSSLESS_SUFFIXES, "trimap")
    values = _single_channel(trimap, "trimap").astype(np.float64)
    levels = np.array([0.0, 0.5, 1.0])
    nearest = np.abs(values[..., None] - levels).argmin(axis=-1)  # (H, W) index into levels
    bad = np.abs(values - levels[nearest]) > 1e-3
    if bad.any():
        distinct = np.unique(values[bad])
        listed = ", ".join(f"{v:g}" for v in distinct[:_MAX_LISTED_VALUES])
        raise ValueError(
            f"trimap must hold only 0, 0.5 and 1, got {listed}"
            f"{', ...' if len(distinct) > _MAX_LISTED_VALUES else ''} ({int(bad.sum())} pixels)"
        )
    pixels = np.array([0, 128, 255], dtype=np.uint8)[nearest]
    return _write(path, pixels[..., None], overwrite)


# --------------------------------------------------------------------------------------------
# numpy <-> torch
# --------------------------------------------------------------------------------------------


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """numpy image -> batched float32 tensor.

    Inputs: (H, W) or (H, W, C) array; float, bool (-> 0 / 1), or uint8 / uint16 (scaled by
        1/255 or 1/65535, with a warning since floats in [0, 1] were expected).
    Outputs: (1, 1, H, W) or (1, C, H, W) float32, a copy.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"to_tensor expects a numpy array, got {type(array).__name__}")
    if array.ndim not in (2, 3):
        raise ValueError(f"to_tensor expects an (H, W) or (H, W, C) array, got shape {array.shape}")
    if array.dtype in (np.uint8, np.uint16):
        warnings.warn(
            f"to_tensor got {array.dtype}, expected float in [0, 1]; "
            f"scaling by 1/{_max_value(array):g}",
            stacklevel=2,
        )
        array = array.astype(np.float32) / np.float32(_max_value(array))
    elif array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"to_tensor expects float, bool, uint8 or uint16, got {array.dtype}")
    chw = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)  # -> (C, H, W)
    return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32))[None]  # (1, C, H, W)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """Tensor image -> numpy float32.

    Inputs: (1, C, H, W) or (C, H, W) tensor (any device, float or bool).
    Outputs: (H, W, C) float32, or (H, W) when C == 1; a copy detached from autograd.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"to_numpy expects a torch tensor, got {type(tensor).__name__}")
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(
                f"to_numpy expects one image, got a batch of {tensor.shape[0]} "
                f"(shape {tuple(tensor.shape)}); index it first"
            )
        tensor = tensor[0]
    elif tensor.ndim != 3:
        raise ValueError(f"to_numpy expects (C, H, W) or (1, C, H, W), got {tuple(tensor.shape)}")
    array = tensor.detach().cpu().to(torch.float32).permute(1, 2, 0).numpy()  # (H, W, C)
    array = array[..., 0] if array.shape[2] == 1 else array
    return np.ascontiguousarray(array)
