"""Load and save images, alpha mattes, masks and trimaps, with validation.

Everything read from disk comes back as float32 in [0, 1] (masks as bool), whatever the file
held: 8-bit values are divided by 255, 16-bit values by 65535. Colour images are ``(H, W, 3)``,
single-channel maps ``(H, W)``. On disk a mask is white (255) where there is a hole, and a
trimap is 0 (background) / 128 (unknown) / 255 (foreground).

Reading goes through Pillow, which handles palette, grayscale, RGBA and EXIF orientation. Pillow
silently reduces 16-bit RGB(A) PNG and TIFF files to 8 bits, so those are decoded with OpenCV
(PNG) or tifffile (TIFF) instead, and the EXIF / TIFF orientation is applied by hand.

Writing is atomic: the encoder writes a temporary file in the target folder, which is renamed
over the target only once it is complete (:func:`atomic_path`). Existing files are never
replaced unless ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "IMAGE_SUFFIXES",
    "atomic_path",
    "check_same_size",
    "list_images",
    "load_alpha",
    "load_image",
    "load_mask",
    "load_rgba",
    "load_trimap",
    "save_image",
    "save_mask",
    "save_trimap",
    "to_numpy",
    "to_tensor",
]

PathLike = Union[str, os.PathLike]
SizeLike = Union[tuple[int, int], np.ndarray, torch.Tensor]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
"""File suffixes (lower case) that :func:`list_images` picks up and the savers accept."""

_TIFF_SUFFIXES = (".tif", ".tiff")
_SIXTEEN_BIT_SUFFIXES = (".png", *_TIFF_SUFFIXES)
_LOSSLESS_SUFFIXES = (".png", ".bmp", *_TIFF_SUFFIXES)  # where masks / trimaps may be saved
_JPEG_QUALITY = 95
_RANGE_TOLERANCE = 1e-4  # float values this far outside [0, 1] are clipped without a warning
_MAX_LISTED_VALUES = 8  # distinct bad trimap values named in an error message

# ITU-R BT.601 luma, the weights Pillow's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _check_file(path: PathLike, kind: str) -> Path:
    """Return ``path`` as a Path, raising FileNotFoundError / ValueError if it is no file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{kind} path must be a str or Path, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{kind} not found: {path}")
    if path.is_dir():
        raise ValueError(f"{kind} path {path} is a directory, expected an image file")
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


def _read(path: PathLike, kind: str) -> np.ndarray:
    """Decode an image file, EXIF orientation applied.

    Outputs: (H, W) or (H, W, C) with C in {2 (LA), 3 (RGB), 4 (RGBA)}; dtype uint8, uint16
    or float32 (32-bit float TIFF, values as stored).
    """
    path = _check_file(path, kind)
    try:
        with Image.open(path) as im:
            bits = _bits_per_sample(im)
            orientation = int(im.getexif().get(0x0112, 1))
            if bits > 8 and im.mode in ("RGB", "RGBA", "LA"):
                array = _read_wide(path, orientation)
            else:
                im.load()
                array = _pil_to_array(ImageOps.exif_transpose(im))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, cv2.error) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"cannot read image {path}: {error}") from error
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"cannot read image {path}: it is empty (shape {array.shape})")
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        raise ValueError(f"cannot read image {path}: unsupported pixel type {array.dtype}")
    return array


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
        raise ValueError(
            f"{names[1]} size {w}x{h} does not match {names[0]} size {ref_w}x{ref_h}"
        )


def _check_like(like: SizeLike | None, array: np.ndarray, kind: str, path: Path | str) -> None:
    if like is None:
        return
    try:
        check_same_size(like, array, names=("image", kind))
    except ValueError as error:
        raise ValueError(f"{error} ({path})") from None


def list_images(folder: PathLike) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name.

    Inputs: folder, a directory. Outputs: paths whose lower-case suffix is in IMAGE_SUFFIXES;
    sub-folders are not searched and hidden files (``.name``, e.g. temporary files that are
    still being written by :func:`atomic_path`) are skipped.
    """
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"image folder not found: {folder}")
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
        raise FileNotFoundError(f"{what} folder not found: {folder}")
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


def load_rgba(path: PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Load an image and its alpha channel, if it has one.

    Inputs: path of any image Pillow reads (8 or 16 bit; gray, palette, RGB, RGBA ...).
    Outputs: ``(rgb, alpha)``: rgb (H, W, 3) float32 in [0, 1]; alpha (H, W) float32 in [0, 1],
        or None when the file has no alpha channel (a palette with a transparent colour counts
        as one). Gray is replicated to RGB; 8-bit values are divided by 255, 16-bit by 65535;
        the EXIF orientation is applied.
    """
    array = _read(path, "image")
    pixels = _to_float(array, path)
    if pixels.ndim == 2:
        pixels = pixels[..., None]  # (H, W) -> (H, W, 1)
    channels = pixels.shape[2]
    alpha = pixels[..., -1] if channels in (2, 4) else None
    colour = pixels[..., :1] if channels in (1, 2) else pixels[..., :3]
    rgb = np.ascontiguousarray(np.broadcast_to(colour, (*colour.shape[:2], 3)))  # gray -> RGB
    return rgb, None if alpha is None else np.ascontiguousarray(alpha)


def load_image(path: PathLike) -> np.ndarray:
    """Load an image as RGB.

    Inputs: path of any image Pillow reads (8 or 16 bit; gray, palette, RGB, RGBA ...).
    Outputs: (H, W, 3) float32 in [0, 1]; an alpha channel is dropped (see :func:`load_rgba`),
        gray is replicated to RGB, 8-bit values are divided by 255 and 16-bit ones by 65535,
        and the EXIF orientation is applied.
    """
    return load_rgba(path)[0]


def load_alpha(path: PathLike, *, like: SizeLike | None = None) -> np.ndarray:
    """Load an alpha matte.

    Inputs:
        path: a gray image (8 or 16 bit). A colour file is reduced to gray by luma
            (0.299 R + 0.587 G + 0.114 B; exact when R = G = B); its alpha channel is ignored.
        like: optional (H, W) or array of the image the matte belongs to; a different size
            raises ValueError.
    Outputs: (H, W) float32 in [0, 1] (value / 255, or / 65535 for 16-bit files).
    """
    array = _to_gray(_read(path, "alpha matte"), "alpha matte", path)
    _check_like(like, array, "alpha matte", path)
    return _to_float(array, path)


def load_mask(
    path: PathLike, *, like: SizeLike | None = None, threshold: int = 127
) -> np.ndarray:
    """Load an inpainting mask: white marks the hole.

    Inputs:
        path: a gray (or colour, reduced to gray by luma) image, ideally holding only 0 and 255.
        like: optional (H, W) or array of the image the mask belongs to; a different size
            raises ValueError.
        threshold: on the 0..255 scale; ``hole = value > threshold`` (16-bit values are compared
            as value * 255 / 65535).
    Outputs: (H, W) bool, True = hole. Warns when the file holds values other than black and
        white (e.g. a JPEG mask or an anti-aliased brush), saying how many pixels and which range.
    """
    if not 0 <= threshold < 255:
        raise ValueError(f"threshold must be in 0..254 (0..255 scale), got {threshold}")
    gray = _to_gray(_read(path, "mask"), "mask", path)
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
    path: PathLike, *, like: SizeLike | None = None, tolerance: int = 10
) -> np.ndarray:
    """Load a trimap stored as 0 (background) / 128 (unknown) / 255 (foreground).

    Inputs:
        path: a gray (or colour, reduced to gray by luma) image; 16-bit values are first
            scaled to 0..255 (rounded).
        like: optional (H, W) or array of the image the trimap belongs to; a different size
            raises ValueError.
        tolerance: on the 0..255 scale. ``v <= tolerance`` -> 0, ``|v - 128| <= tolerance`` ->
            0.5, ``v >= 255 - tolerance`` -> 1. Must be in 0..63 so the classes do not overlap.
    Outputs: (H, W) float32 with values in {0, 0.5, 1}. Any other value raises ValueError
        naming (up to 8 of) the offending values and how many pixels hold them.
    """
    if not 0 <= tolerance <= 63:
        raise ValueError(f"tolerance must be in 0..63 (0..255 scale), got {tolerance}")
    gray = _to_gray(_read(path, "trimap"), "trimap", path)
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
        raise ValueError(
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
    if path.is_dir():
        raise ValueError(f"cannot write {path}: it is a directory")
    if path.exists() and not overwrite:
        raise FileExistsError(
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
            raise FileExistsError(
                f"{path} already exists; pass overwrite=True (--overwrite on the command line) "
                f"to replace it"
            )
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp creates files readable by the owner only
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(
            f"cannot save {what} {path}: unsupported suffix {suffix or '(none)'!r}, "
            f"expected one of {', '.join(allowed)}"
        )
    return suffix


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
    suffix = _check_suffix(path, IMAGE_SUFFIXES, "image")
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and suffix not in _SIXTEEN_BIT_SUFFIXES:
        raise ValueError(
            f"bit_depth 16 needs one of {', '.join(_SIXTEEN_BIT_SUFFIXES)}, got {suffix!r} ({path})"
        )
    hwc = _as_hwc(image, "image")
    if hwc.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must have 1, 3 or 4 channels, got shape {hwc.shape}")
    if hwc.shape[0] == 0 or hwc.shape[1] == 0:
        raise ValueError(f"cannot save an empty image (shape {hwc.shape}) to {path}")
    if hwc.shape[2] == 4 and suffix in (".jpg", ".jpeg"):
        raise ValueError(f"JPEG cannot store an alpha channel; save {path} as .png instead")
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
