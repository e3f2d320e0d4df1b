"""Writing images, masks and trimaps: atomic, never over an existing file unless asked, and all
or nothing for many outputs (:class:`StagedOutputs`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import cv2
import numpy as np
import torch
from PIL import Image

from mattepaint.errors import InputError, OutputExistsError
from mattepaint.io._formats import (
    IMAGE_SUFFIXES,
    MAX_LISTED_VALUES,
    SIXTEEN_BIT_SUFFIXES,
    TIFF_SUFFIXES,
    PathLike,
    clip_unit,
    short_listing,
)

_LOSSLESS_SUFFIXES = (".png", ".bmp", *TIFF_SUFFIXES)  # where masks / trimaps may be saved
_ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")  # where an RGBA image may be saved
_JPEG_QUALITY = 95


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
    if bit_depth == 16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        raise InputError(
            f"cannot save {what} {path}: bit_depth 16 needs one of "
            f"{', '.join(SIXTEEN_BIT_SUFFIXES)}, got {suffix!r}"
        )
    _check_output_folder(path)
    return path


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
        image = clip_unit(image, what, stacklevel=4)
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
        listed = ", ".join(f"{v:g}" for v in distinct[:MAX_LISTED_VALUES])
        raise ValueError(
            f"trimap must hold only 0, 0.5 and 1, got {listed}"
            f"{', ...' if len(distinct) > MAX_LISTED_VALUES else ''} ({int(bad.sum())} pixels)"
        )
    pixels = np.array([0, 128, 255], dtype=np.uint8)[nearest]
    return _write(path, pixels[..., None], overwrite)
