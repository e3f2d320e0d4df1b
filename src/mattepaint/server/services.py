"""The work behind the HTTP API and the web UI: limits, decoding uploads, running methods.

Plain functions shared by :mod:`mattepaint.server.api` and :mod:`mattepaint.server.ui`, so both
answer the same inputs with the same results and the same error messages:

- :class:`ServerLimits`: upload size (bytes), image size (pixels), how many jobs run at once and
  how many may wait.
- :func:`inspect_upload` / :func:`decode_upload`: uploaded bytes -> numpy array, decoded by
  :mod:`mattepaint.io` (same rules as files on disk: EXIF orientation, RGBA, 16 bit, masks
  binarised at 127, trimaps 0/128/255 with tolerance). The byte count and the pixel count (read
  from the header, before decoding) are checked first; breaking a limit raises
  :class:`TooLargeError` (HTTP 413), any other bad input ``ValueError`` (HTTP 400).
- :func:`run_inpaint` / :func:`run_matte`: run a method of a
  :class:`~mattepaint.server.catalog.MethodCatalog` on numpy arrays, through
  :mod:`mattepaint.highres` for large images.
- :func:`encode_png`: numpy image -> PNG bytes, written by :func:`mattepaint.io.save_image`.
- :class:`JobGate`: at most ``max_concurrent`` jobs run (each in a worker thread), at most
  ``max_queue`` wait; more raise :class:`QueueFullError` (HTTP 503 with Retry-After).
"""

from __future__ import annotations

import contextlib
import io as _bytes_io
import math
import threading
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch

from mattepaint import io
from mattepaint.highres import inpaint_highres, matte_highres
from mattepaint.server.catalog import MethodCatalog

__all__ = [
    "DEFAULT_MATTER_FOR",
    "UPLOAD_KINDS",
    "JobGate",
    "QueueFullError",
    "ServerLimits",
    "TooLargeError",
    "UploadInfo",
    "decode_upload",
    "encode_png",
    "inspect_upload",
    "run_inpaint",
    "run_matte",
]

MiB = 1024 * 1024

#: What an upload may be, and the :mod:`mattepaint.io` loader that decodes it.
UPLOAD_KINDS: tuple[str, ...] = ("image", "background", "mask", "trimap", "alpha")

#: Pillow format name -> file suffix :mod:`mattepaint.io` reads it under.
_FORMAT_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}

#: The matting method chosen when none is named, by the input that was given.
DEFAULT_MATTER_FOR: dict[str, str] = {"trimap": "closed_form", "background": "background_difference"}

Strategy = Literal["auto", "crop", "resize", "full"]
STRATEGIES: tuple[str, ...] = ("auto", "crop", "resize", "full")

T = TypeVar("T")


class TooLargeError(ValueError):
    """An upload breaks a size limit (bytes or pixels); the API answers 413."""


class QueueFullError(RuntimeError):
    """Too many requests are already waiting; the API answers 503 with Retry-After.

    Attributes:
        retry_after: suggested wait in whole seconds (>= 1).
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _megabytes(n: int) -> str:
    return f"{n / MiB:.3g} MiB ({n} bytes)"


@dataclass(frozen=True)
class ServerLimits:
    """Limits that keep one server from running out of memory.

    Attributes:
        max_upload_bytes: largest uploaded file, in bytes (default 20 MiB).
        max_pixels: largest image, width x height (default 4096 x 4096 = 16.7 MP). A float
            RGB copy of such an image takes 4096 * 4096 * 3 * 4 bytes = 201 MB.
        max_concurrent: jobs that run at the same time (default 1).
        max_queue: jobs that may wait for a free slot (default 8); more get HTTP 503.
    """

    max_upload_bytes: int = 20 * MiB
    max_pixels: int = 4096 * 4096
    max_concurrent: int = 1
    max_queue: int = 8

    def __post_init__(self) -> None:
        for field, low in (
            ("max_upload_bytes", 1),
            ("max_pixels", 1),
            ("max_concurrent", 1),
            ("max_queue", 0),
        ):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{field} must be an int, got {value!r}")
            if value < low:
                raise ValueError(f"{field} must be >= {low}, got {value}")


# --------------------------------------------------------------------------------------------
# uploads


@dataclass(frozen=True)
class UploadInfo:
    """What the header of an upload says: Pillow format name and (H, W) after EXIF rotation."""

    format: str
    size: tuple[int, int]


def _check_kind(kind: str) -> None:
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"unknown upload kind {kind!r}; valid kinds: {', '.join(UPLOAD_KINDS)}")


def check_upload_bytes(n_bytes: int, kind: str, limits: ServerLimits) -> None:
    """Raise :class:`TooLargeError` when an upload of ``n_bytes`` exceeds the byte limit."""
    if n_bytes > limits.max_upload_bytes:
        raise TooLargeError(
            f"the {kind} upload is larger than the limit of "
            f"{_megabytes(limits.max_upload_bytes)} per file"
        )


def inspect_upload(data: bytes, kind: str, limits: ServerLimits) -> UploadInfo:
    """Check an upload's byte and pixel counts from its header, without decoding the pixels.

    Inputs:
        data: the uploaded file's bytes.
        kind: one of :data:`UPLOAD_KINDS` (used in messages).
        limits: the byte and pixel limits.
    Outputs: :class:`UploadInfo` (format, (H, W) with the EXIF rotation applied).

    Raises:
        TooLargeError: more bytes than ``limits.max_upload_bytes`` or more pixels than
            ``limits.max_pixels`` (the message names the size and the limit).
        ValueError: empty, not an image, or a format :mod:`mattepaint.io` does not read.
    """
    from PIL import Image, UnidentifiedImageError

    _check_kind(kind)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{kind} upload must be bytes, got {type(data).__name__}")
    check_upload_bytes(len(data), kind, limits)
    if len(data) == 0:
        raise ValueError(f"the {kind} upload is empty")
    try:
        with Image.open(_bytes_io.BytesIO(data)) as im:
            width, height = im.size
            fmt = str(im.format)
            orientation = int(im.getexif().get(0x0112, 1))
    except Image.DecompressionBombError as exc:  # beyond Pillow's own safety limit
        raise TooLargeError(
            f"the {kind} is too large: {exc}; the limit is {limits.max_pixels} pixels"
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"cannot read the {kind} upload: it is not an image file "
            f"(expected {', '.join(_FORMAT_SUFFIX)})"
        ) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken headers
        raise ValueError(f"cannot read the {kind} upload: {type(exc).__name__}: {exc}") from None
    if fmt not in _FORMAT_SUFFIX:
        raise ValueError(
            f"cannot read the {kind} upload: format {fmt} is not supported; use one of "
            f"{', '.join(_FORMAT_SUFFIX)}"
        )
    if width * height > limits.max_pixels:
        raise TooLargeError(
            f"the {kind} is {width}x{height} = {width * height} pixels, more than the "
            f"limit of {limits.max_pixels} pixels"
        )
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: width and height swap
        width, height = height, width
    return UploadInfo(format=fmt, size=(height, width))


def decode_upload(data: bytes, kind: str, limits: ServerLimits) -> np.ndarray:
    """Decode an uploaded file with :mod:`mattepaint.io`'s rules, after checking the limits.

    The bytes are written to a private temporary file and read by the loader for ``kind``:
    ``image`` / ``background``: :func:`mattepaint.io.load_image`; ``mask``:
    :func:`~mattepaint.io.load_mask` (white = hole, binarised at 127); ``trimap``:
    :func:`~mattepaint.io.load_trimap`; ``alpha``: :func:`~mattepaint.io.load_alpha`.

    Inputs: data (bytes), kind (one of :data:`UPLOAD_KINDS`), limits.
    Outputs: image / background (H, W, 3) float32 in [0, 1]; mask (H, W) bool; trimap (H, W)
        float32 in {0, 0.5, 1}; alpha (H, W) float32 in [0, 1].

    Raises:
        TooLargeError: over the byte or pixel limit. ValueError: unreadable or invalid content
            (e.g. a trimap with values other than 0/128/255); messages name the upload, not the
            temporary file.
    """
    info = inspect_upload(data, kind, limits)
    loaders: dict[str, Callable[[Path], np.ndarray]] = {
        "image": io.load_image,
        "background": io.load_image,
        "mask": io.load_mask,
        "trimap": io.load_trimap,
        "alpha": io.load_alpha,
    }
    with tempfile.TemporaryDirectory(prefix="mattepaint-upload-") as folder:
        path = Path(folder) / f"{kind}{_FORMAT_SUFFIX[info.format]}"
        path.write_bytes(data)
        try:
            return loaders[kind](path)
        except ValueError as exc:
            message = str(exc).replace(f"{kind} {path}", f"the {kind} upload")
            raise ValueError(message.replace(str(path), f"the {kind} upload")) from None


def encode_png(image: np.ndarray) -> bytes:
    """numpy image -> PNG bytes, written by :func:`mattepaint.io.save_image` (8 bit).

    Inputs: (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA; float in [0, 1] (stored as
        ``round(x * 255)``), bool or uint8.
    Outputs: the bytes of the PNG file.
    """
    with tempfile.TemporaryDirectory(prefix="mattepaint-result-") as folder:
        path = io.save_image(Path(folder) / "result.png", image)
        return path.read_bytes()


# --------------------------------------------------------------------------------------------
# running methods


def dilate_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow the hole by ``pixels`` (a disk of radius ``pixels``; 0 returns the mask unchanged).

    Useful when a painted or segmented mask misses the soft edge of an object.
    """
    if isinstance(pixels, bool) or not isinstance(pixels, (int, np.integer)):
        raise TypeError(f"dilate must be an int >= 0, got {pixels!r}")
    if pixels < 0:
        raise ValueError(f"dilate must be >= 0 pixels, got {pixels}")
    if pixels == 0:
        return mask
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


# One process-wide limit on heavy work, shared by the HTTP API and the gradio UI (each also
# queues requests its own way): ``create_server`` sets it to ``limits.max_concurrent``.
_WORK_SLOTS: threading.BoundedSemaphore | None = None


def set_work_slots(n: int | None) -> None:
    """At most ``n`` inpainting / matting jobs run at once in this process (None: no limit)."""
    global _WORK_SLOTS
    _WORK_SLOTS = None if n is None else threading.BoundedSemaphore(n)


@contextlib.contextmanager
def _work_slot() -> Iterator[None]:
    slots = _WORK_SLOTS
    if slots is None:
        yield
        return
    with slots:
        yield


@torch.no_grad()
def run_inpaint(
    catalog: MethodCatalog,
    image: np.ndarray,
    mask: np.ndarray,
    method: str = "telea",
    *,
    dilate: int = 0,
    strategy: Strategy = "auto",
) -> np.ndarray:
    """Fill the holes of one image with a method of ``catalog``.

    Large images go through :func:`mattepaint.highres.inpaint_highres` (``strategy``: "auto" runs
    the method on the whole image up to 1024 px and on crops around each hole above; "crop",
    "resize", "full" force one way).

    Inputs:
        image: (H, W, 3) float32 in [0, 1].
        mask: (H, W) bool, True = hole.
        method: a name from ``catalog.inpainting_methods()``.
        dilate: grow the hole by this many pixels first (0: as given).
        strategy: "auto", "crop", "resize" or "full".
    Outputs: (H, W, 3) float32 in [0, 1]; pixels outside the (dilated) hole equal the input.

    Raises:
        ValueError: unknown method (lists the valid names), shapes that do not match, an empty
            mask, a bad ``strategy`` / ``dilate``.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) array, got {np.shape(image)}")
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError(f"mask must be an (H, W) array, got {np.shape(mask)}")
    io.check_same_size(image, mask, names=("image", "mask"))
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    inpainter = catalog.inpainter(method)
    image = np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
    hole = dilate_mask(mask.astype(bool), dilate)
    if not hole.any():
        return image.copy()  # nothing to fill
    with _work_slot():
        filled = inpaint_highres(inpainter, image, hole, strategy=strategy)  # (H, W, 3)
    return np.clip(np.asarray(filled, np.float32), 0.0, 1.0)


@torch.no_grad()
def run_matte(
    catalog: MethodCatalog,
    image: np.ndarray,
    *,
    trimap: np.ndarray | None = None,
    background: np.ndarray | None = None,
    method: str | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Estimate the alpha matte (and foreground, when the method gives one) of one image.

    With ``method=None`` the method follows the input: closed_form for a trimap,
    background_difference for a background (:data:`DEFAULT_MATTER_FOR`). Large images go
    through :func:`mattepaint.highres.matte_highres` (run at a reduced size, alpha upsampled with
    a guided filter, known trimap regions kept exactly).

    Inputs:
        image: (H, W, 3) float32 in [0, 1].
        trimap: (H, W) float32 in {0, 0.5, 1}, or None.
        background: (H, W, 3) float32 in [0, 1] (the clean plate), or None.
        method: a name from ``catalog.matting_methods()`` or None.
    Outputs: ``(alpha, foreground)``: alpha (H, W) float32 in [0, 1]; foreground (H, W, 3)
        float32 in [0, 1] or None when the method does not estimate it.

    Raises:
        ValueError: unknown method (lists the valid names); a trimap / background missing for
            a method that needs it, or given to one that does not use it; sizes that differ.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) array, got {np.shape(image)}")
    if trimap is not None:
        io.check_same_size(image, trimap, names=("image", "trimap"))
    if background is not None:
        io.check_same_size(image, background, names=("image", "background"))
    if method is None:
        if trimap is not None and background is not None:
            raise ValueError("give a trimap or a background, not both, or name the method")
        if trimap is None and background is None:
            raise ValueError(
                "give a trimap (0 / 128 / 255) or a clean background image, or name a method "
                "that needs neither"
            )
        method = DEFAULT_MATTER_FOR["trimap" if trimap is not None else "background"]
    matter = catalog.matter(method)
    needs = matter.needs
    if needs == "trimap" and trimap is None:
        raise ValueError(f"matting method {method!r} needs a trimap, and none was given")
    if needs == "background" and background is None:
        raise ValueError(f"matting method {method!r} needs a background image, and none was given")
    if needs != "trimap" and trimap is not None:
        raise ValueError(f"matting method {method!r} does not use a trimap (it needs {needs})")
    if needs != "background" and background is not None:
        raise ValueError(
            f"matting method {method!r} does not use a background image (it needs {needs})"
        )
    image = np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)
    with _work_slot():
        alpha, foreground = matte_highres(matter, image, trimap=trimap, background=background)
    alpha = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
    if foreground is not None:
        foreground = np.clip(np.asarray(foreground, np.float32), 0.0, 1.0)
    return alpha, foreground


# --------------------------------------------------------------------------------------------
# queueing


class JobGate:
    """Run blocking jobs in worker threads, at most ``max_concurrent`` at once, at most
    ``max_queue`` waiting; a job arriving when the queue is full raises :class:`QueueFullError`.

    Use from one asyncio event loop (the server's). The waiting / running counters are only
    touched from that loop, between awaits, so they need no lock.

    Retry-After estimate: ``ceil(mean job seconds * (waiting + 1) / max_concurrent)``, at least
    1 s, with the mean an exponential moving average (weight 0.2) of finished jobs.
    """

    def __init__(self, limits: ServerLimits) -> None:
        self.limits = limits
        self.waiting = 0
        self.running = 0
        self.mean_seconds = 1.0
        self._semaphore: Any = None  # anyio.Semaphore, made inside the event loop on first use

    def retry_after(self) -> int:
        """Suggested seconds before trying again."""
        estimate = self.mean_seconds * (self.waiting + 1) / self.limits.max_concurrent
        return max(1, math.ceil(estimate))

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Wait for a free slot, then run ``func(*args)`` in a worker thread; return its result."""
        import anyio
        from starlette.concurrency import run_in_threadpool

        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.limits.max_concurrent)
        busy = self.running + self.waiting >= self.limits.max_concurrent
        if busy and self.waiting >= self.limits.max_queue:
            raise QueueFullError(
                f"the server is busy: {self.running} job(s) running and {self.waiting} waiting "
                f"(limit {self.limits.max_queue}); try again later",
                self.retry_after(),
            )
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        start = time.perf_counter()
        try:
            return await run_in_threadpool(func, *args)
        finally:
            self.running -= 1
            self.mean_seconds = 0.8 * self.mean_seconds + 0.2 * (time.perf_counter() - start)
            self._semaphore.release()
