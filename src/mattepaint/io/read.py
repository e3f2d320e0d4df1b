"""Reading images, alpha mattes, masks and trimaps (the package docstring says what comes back),
the pixel limit, and listing / pairing the image files of folders."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, ImageFile, ImageOps

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.io._formats import (
    IMAGE_SUFFIXES,
    MAX_LISTED_VALUES,
    TIFF_SUFFIXES,
    PathLike,
    SizeLike,
    as_path,
    clip_unit,
    max_value,
    short_listing,
)

DEFAULT_MAX_PIXELS: int = 4096 * 4096
"""Largest image (width x height) the loaders decode unless told otherwise: 16.7 MP, whose float
RGB copy takes 4096 * 4096 * 3 * 4 bytes = 201 MB."""

MAX_PIXELS_ENV = "MATTEPAINT_MAX_PIXELS"
"""Environment variable that replaces :data:`DEFAULT_MAX_PIXELS` for every entry point."""

# ITU-R BT.601 luma, the weights Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


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
    if path.suffix.lower() in TIFF_SUFFIXES:
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
    if path.suffix.lower() in TIFF_SUFFIXES:
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
    return clip_unit(array.astype(np.float32), f"image {path}", stacklevel=4)


def _to_gray(array: np.ndarray, kind: str, path: Path | str) -> np.ndarray:
    """(H, W[, C]) pixels -> (H, W) gray, same dtype; colour via luma 0.299 R + 0.587 G + 0.114 B.

    An alpha channel is ignored, with a warning when it is not fully opaque.
    """
    if array.ndim == 2:
        return array
    channels = array.shape[2]
    if channels in (2, 4) and array[..., -1].min() < max_value(array):
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
    full = max_value(gray)
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
    values = np.round(gray.astype(np.float64) * (255 / max_value(gray)))  # 0..255 scale
    background = values <= tolerance
    unknown = np.abs(values - 128) <= tolerance
    foreground = values >= 255 - tolerance
    bad = ~(background | unknown | foreground)
    if bad.any():
        distinct = np.unique(values[bad]).astype(int)
        listed = ", ".join(str(v) for v in distinct[:MAX_LISTED_VALUES])
        if len(distinct) > MAX_LISTED_VALUES:
            listed += f", ... ({len(distinct)} distinct values)"
        raise InputError(
            f"trimap {path} has values other than 0/128/255 (tolerance {tolerance}): "
            f"{listed} ({int(bad.sum())} pixels)"
        )
    trimap = np.zeros(gray.shape, dtype=np.float32)
    trimap[unknown] = 0.5
    trimap[foreground] = 1.0
    return trimap
