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
- :func:`run_cutout`: the cut-out pipeline (:func:`mattepaint.segmentation.cutout`: segmenter ->
  automatic trimap -> matting on the band -> foreground colour) with a segmenter of the catalog.
- :func:`encode_png`: numpy image -> PNG bytes, written by :func:`mattepaint.io.save_image`.
- :class:`JobGate`: at most ``max_concurrent`` jobs run (each in a worker thread), at most
  ``max_queue`` wait; more raise :class:`QueueFullError` (HTTP 503 with Retry-After). A job whose
  client has gone never starts (its place in the queue is freed at once), and a running one stops
  at its next check (:class:`JobCancelledError`), so that its slot is freed as soon as possible.
"""

from __future__ import annotations

import contextlib
import functools
import io as _bytes_io
import math
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch

from mattepaint import io
from mattepaint.errors import InputError
from mattepaint.highres import inpaint_highres, matte_highres
from mattepaint.server.catalog import MethodCatalog

__all__ = [
    "CUTOUT_OUTPUTS",
    "UPLOAD_KINDS",
    "CutoutArrays",
    "JobCancelledError",
    "JobGate",
    "QueueFullError",
    "ServerLimits",
    "TooLargeError",
    "UploadInfo",
    "cutout_refiner",
    "decode_upload",
    "encode_png",
    "inspect_upload",
    "run_cutout",
    "run_inpaint",
    "run_matte",
]

MiB = 1024 * 1024

#: What an upload may be, and the :mod:`mattepaint.io` loader that decodes it.
UPLOAD_KINDS: tuple[str, ...] = ("image", "background", "mask", "trimap", "alpha")

#: Pillow format name -> file suffix :mod:`mattepaint.io` reads it under.
_FORMAT_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}

Strategy = Literal["auto", "crop", "resize", "full"]
STRATEGIES: tuple[str, ...] = ("auto", "crop", "resize", "full")

T = TypeVar("T")


class TooLargeError(InputError):
    """An upload breaks a size limit (bytes or pixels); the API answers 413. An
    :class:`~mattepaint.errors.InputError` (so a ``ValueError``) like the loaders' pixel limit."""


class QueueFullError(RuntimeError):
    """Too many requests are already waiting; the API answers 503 with Retry-After.

    Attributes:
        retry_after: suggested wait in whole seconds (>= 1).
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobCancelledError(RuntimeError):
    """A job was cancelled (its client disconnected): it stopped before finishing, or never
    started. The API answers 499 (nginx's "client closed request"), which nobody reads."""


def check_cancelled(cancel: threading.Event | None, what: str = "the job") -> None:
    """Raise :class:`JobCancelledError` when ``cancel`` is set (None: never cancelled).

    Long jobs call this between their stages, so that a cancelled job frees its slot at its
    next check instead of running to the end.
    """
    if cancel is not None and cancel.is_set():
        raise JobCancelledError(f"{what} was cancelled: the client disconnected")


def _megabytes(n: int) -> str:
    return f"{n / MiB:.3g} MiB ({n} bytes)"


@dataclass(frozen=True)
class ServerLimits:
    """Limits that keep one server from running out of memory.

    Attributes:
        max_upload_bytes: largest uploaded file, in bytes (default 20 MiB).
        max_pixels: largest image, width x height (default :func:`mattepaint.io.max_pixels_limit`:
            ``MATTEPAINT_MAX_PIXELS`` or 4096 x 4096 = 16.7 MP, the limit of every loader). A
            float RGB copy of a 4096 x 4096 image takes 4096 * 4096 * 3 * 4 bytes = 201 MB.
        max_concurrent: jobs that run at the same time (default 1).
        max_queue: jobs that may wait for a free slot (default 8); more get HTTP 503.
    """

    max_upload_bytes: int = 20 * MiB
    max_pixels: int = dataclass_field(default_factory=io.max_pixels_limit)
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
    except Image.DecompressionBombError:  # beyond Pillow's own safety limit
        raise TooLargeError(
            f"the {kind} has more than {2 * (Image.MAX_IMAGE_PIXELS or 0)} pixels (Pillow's "
            f"decompression-bomb limit), more than the limit of {limits.max_pixels} pixels"
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
    try:  # the rule of every loader, with the server's limit and flag in the message
        io.check_pixel_count(
            width,
            height,
            f"the {kind}",
            max_pixels=limits.max_pixels,
            how_to_raise="the server's --max-pixels",
        )
    except InputError as exc:
        raise TooLargeError(str(exc)) from None
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
    loaders: dict[str, Callable[..., np.ndarray]] = {
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
            return loaders[kind](path, max_pixels=limits.max_pixels)
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
def _work_slot(cancel: threading.Event | None = None) -> Iterator[None]:
    """Hold one of the process-wide work slots; while waiting for one, give up (raise
    :class:`JobCancelledError`) as soon as ``cancel`` is set."""
    slots = _WORK_SLOTS
    check_cancelled(cancel)
    if slots is None:
        yield
        return
    while not slots.acquire(timeout=0.05):  # poll, so that a cancelled job stops waiting
        check_cancelled(cancel)
    try:
        check_cancelled(cancel)  # cancelled while the last poll took the slot
        yield
    finally:
        slots.release()


class _CheckBeforeEachCall:
    """A method (inpainter or matter) that checks ``cancel`` before each call, so that the
    crops of a large image stop at the first check after the client has gone."""

    def __init__(self, method: Any, cancel: threading.Event) -> None:
        self._method = method
        self._cancel = cancel

    def __getattr__(self, name: str) -> Any:  # name, needs, ... of the wrapped method
        return getattr(self._method, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        check_cancelled(self._cancel)
        return self._method(*args, **kwargs)


@torch.no_grad()
def run_inpaint(
    catalog: MethodCatalog,
    image: np.ndarray,
    mask: np.ndarray,
    method: str = "auto",
    *,
    dilate: int = 0,
    strategy: Strategy = "auto",
    cancel: threading.Event | None = None,
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
        cancel: when set (by another thread), the job stops at its next check: while waiting for
            a work slot, and before each call of the method (large images make several).
    Outputs: (H, W, 3) float32 in [0, 1]; pixels outside the (dilated) hole equal the input.

    Raises:
        ValueError: unknown method (lists the valid names), shapes that do not match, an empty
            mask, a bad ``strategy`` / ``dilate``.
        JobCancelledError: ``cancel`` was set.
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
    if cancel is not None:
        inpainter = _CheckBeforeEachCall(inpainter, cancel)
    with _work_slot(cancel):
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
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Estimate the alpha matte (and foreground, when the method gives one) of one image.

    With ``method=None`` the method follows the input (:func:`mattepaint.methods.auto_matter`:
    the best shipped model for that input, else cf_knn_sm for a trimap and
    background_difference for a background). Large
    images go through :func:`mattepaint.highres.matte_highres` (run at a reduced size, alpha
    upsampled with a guided filter, known trimap regions kept exactly).

    Inputs:
        image: (H, W, 3) float32 in [0, 1].
        trimap: (H, W) float32 in {0, 0.5, 1}, or None.
        background: (H, W, 3) float32 in [0, 1] (the clean plate), or None.
        method: a name from ``catalog.matting_methods()`` or None.
        cancel: as for :func:`run_inpaint`: when set, the job stops at its next check.
    Outputs: ``(alpha, foreground)``: alpha (H, W) float32 in [0, 1]; foreground (H, W, 3)
        float32 in [0, 1] or None when the method does not estimate it.

    Raises:
        ValueError: unknown method (lists the valid names); a trimap / background missing for
            a method that needs it, or given to one that does not use it; sizes that differ.
        JobCancelledError: ``cancel`` was set.
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
        matter = catalog.auto_matter(  # the best shipped model for the input, else classical
            has_trimap=trimap is not None, has_background=background is not None
        )
        method = matter.name
    else:
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
    if cancel is not None:
        matter = _CheckBeforeEachCall(matter, cancel)
    with _work_slot(cancel):
        alpha, foreground = matte_highres(matter, image, trimap=trimap, background=background)
    alpha = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
    if foreground is not None:
        foreground = np.clip(np.asarray(foreground, np.float32), 0.0, 1.0)
    return alpha, foreground


#: What ``POST /api/cutout`` can return: the RGBA cut-out, the alpha matte, the automatic trimap.
CUTOUT_OUTPUTS: tuple[str, ...] = ("rgba", "alpha", "trimap")


@dataclass(frozen=True)
class CutoutArrays:
    """The stages of one cut-out, as numpy arrays (what :func:`run_cutout` returns).

    Attributes:
        alpha: (H, W) float32 in [0, 1], the matte.
        foreground: (H, W, 3) float32 in [0, 1], the estimated foreground colour F.
        soft_mask: (H, W) float32 in [0, 1], the segmenter's output.
        trimap: (H, W) float32 in {0, 0.5, 1}, the automatic trimap (made from the soft mask
            with the default options when there was no refinement).
    """

    alpha: np.ndarray
    foreground: np.ndarray
    soft_mask: np.ndarray
    trimap: np.ndarray

    def rgba(self) -> np.ndarray:
        """The cut-out ``(F, alpha)``: (H, W, 4) float32 in [0, 1]."""
        return np.concatenate([self.foreground, self.alpha[..., None]], axis=2)


def cutout_refiner(catalog: MethodCatalog, refine: str | None) -> Any:
    """The matting method of a cut-out's uncertain band: a trimap method of ``catalog``
    (``closed_form``, ``knn``, a trimap checkpoint), ``"auto"`` (the catalog's default with a
    trimap: the shipped learned model, else cf_knn_sm), or None for ``None`` / ``"none"`` (the
    segmenter's soft mask is the matte).

    Raises:
        ValueError: an unknown name (lists the valid ones) or a method that needs no trimap.
    """
    if refine is None or refine.strip().lower() == "none":
        return None
    from mattepaint.methods import AUTO, matter_names
    from mattepaint.segmentation import refine_matter

    if refine.strip().lower() == AUTO:
        return refine_matter(catalog.auto_matter(has_trimap=True, has_background=False))
    if refine not in catalog.matting_methods():
        trimap = [n for n in catalog.matting_methods() if catalog.needs(n) == "trimap"]
        raise InputError(
            f"unknown refine method {refine!r}; valid: none, {AUTO}, {', '.join(trimap)}"
        )
    if refine in matter_names() and catalog.checkpoint_path(refine) is None:
        return refine_matter(refine)  # built without its own foreground step (done once after)
    return refine_matter(catalog.matter(refine))


@torch.no_grad()
def run_cutout(
    catalog: MethodCatalog,
    image: np.ndarray,
    *,
    segmenter: str | None = None,
    refine: str | None = "closed_form",
    cancel: threading.Event | None = None,
    foreground_scribbles: np.ndarray | None = None,
    background_scribbles: np.ndarray | None = None,
) -> CutoutArrays:
    """Cut the subject out of one photo with a segmenter of ``catalog``: segment, automatic
    trimap, matting of the uncertain band, foreground colour
    (:func:`mattepaint.segmentation.cutout`; the band is downscaled there for large photos).

    Inputs:
        image: (H, W, 3) float32 in [0, 1].
        segmenter: a name from ``catalog.segmenter_names()``; None: the first one.
        refine: a trimap matting method of the catalog (default closed_form), or None /
            ``"none"``.
        cancel: when set, the job stops at its next check (waiting for a work slot, after the
            segmenter, before the matting).
        foreground_scribbles, background_scribbles: optional (H, W) bool user strokes that
            correct the automatic trimap (:mod:`mattepaint.segmentation.scribbles`).
    Outputs: :class:`CutoutArrays`.

    Raises:
        ValueError: the server has no segmenter, an unknown segmenter or refine method, a photo
            where the segmenter finds no subject (InputError).
        JobCancelledError: ``cancel`` was set.
    """
    from mattepaint.segmentation import auto_trimap, cutout

    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) array, got {np.shape(image)}")
    seg = catalog.segmenter(segmenter)
    matter = cutout_refiner(catalog, refine)
    tensor = io.to_tensor(np.clip(image.astype(np.float32, copy=False), 0.0, 1.0))
    with _work_slot(cancel):
        soft = seg(tensor)  # (1, 1, H, W)
        check_cancelled(cancel)
        strokes = {
            key: torch.from_numpy(np.asarray(value, dtype=np.float32))[None, None]
            for key, value in (
                ("foreground_scribbles", foreground_scribbles),
                ("background_scribbles", background_scribbles),
            )
            if value is not None
        }
        result = cutout(tensor, segmenter=seg, soft_mask=soft, refine=matter, **strokes)
    soft_mask = np.clip(io.to_numpy(result.soft_mask), 0.0, 1.0)
    trimap = auto_trimap(soft_mask) if result.trimap is None else io.to_numpy(result.trimap)
    return CutoutArrays(
        alpha=np.clip(io.to_numpy(result.alpha), 0.0, 1.0),
        foreground=np.clip(io.to_numpy(result.foreground), 0.0, 1.0),
        soft_mask=soft_mask,
        trimap=trimap.astype(np.float32),
    )


# --------------------------------------------------------------------------------------------
# queueing


class JobGate:
    """Run blocking jobs in worker threads, at most ``max_concurrent`` at once, at most
    ``max_queue`` waiting; a job arriving when the queue is full raises :class:`QueueFullError`.

    Use from one asyncio event loop (the server's). The waiting / running counters are only
    touched from that loop, between awaits, so they need no lock.

    Retry-After estimate: ``ceil(mean job seconds * (waiting + 1) / max_concurrent)``, at least
    1 s, with the mean an exponential moving average (weight 0.2) of finished jobs.

    Cancellation: when the awaitable given as ``client_gone`` completes (the client of the
    request disconnected), a waiting job leaves the queue at once and never runs; a running job
    is told through its ``cancel`` event and stops at its next :func:`check_cancelled` (a
    worker thread cannot be killed), and its slot is released the moment it returns.
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

    async def run(
        self,
        func: Callable[..., T],
        *args: Any,
        client_gone: Callable[[], Awaitable[object]] | None = None,
    ) -> T:
        """Wait for a free slot, then run ``func(*args, cancel=event)`` in a worker thread.

        Inputs:
            func: the blocking job; it receives a ``threading.Event`` as ``cancel``, set when
                the client has gone, and should pass it on (e.g. to :func:`run_inpaint`) or
                call :func:`check_cancelled` between its stages.
            args: positional arguments of ``func``.
            client_gone: an async function that returns once the client has disconnected
                (None: never), e.g. one that waits for ASGI's ``http.disconnect``.
        Outputs: what ``func`` returns.

        Raises:
            QueueFullError: ``max_queue`` jobs are already waiting.
            JobCancelledError: the client went away before the job finished.
        """
        import anyio

        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self.limits.max_concurrent)
        busy = self.running + self.waiting >= self.limits.max_concurrent
        if busy and self.waiting >= self.limits.max_queue:
            raise QueueFullError(
                f"the server is busy: {self.running} job(s) running and {self.waiting} waiting "
                f"(limit {self.limits.max_queue}); try again later",
                self.retry_after(),
            )
        cancel = threading.Event()

        async def watch(gone: Callable[[], Awaitable[object]], scope: anyio.CancelScope) -> None:
            await gone()
            cancel.set()  # a running job stops at its next check
            scope.cancel()  # a waiting job leaves the queue now

        outcome: list[T] = []
        failure: list[Exception] = []
        async with anyio.create_task_group() as group:
            if client_gone is not None:
                group.start_soon(watch, client_gone, group.cancel_scope)
            try:
                outcome.append(await self._run_in_slot(func, args, cancel))
            except Exception as exc:  # noqa: BLE001 - re-raised below, not in an ExceptionGroup
                failure.append(exc)
            group.cancel_scope.cancel()  # the job is over: stop watching
        if failure:
            raise failure[0]
        if not outcome or cancel.is_set():
            raise JobCancelledError("the job was cancelled: the client disconnected")
        return outcome[0]

    async def _run_in_slot(
        self, func: Callable[..., T], args: tuple[Any, ...], cancel: threading.Event
    ) -> T:
        """Queue for a slot (cancellable), then run the job in a worker thread (not cancellable:
        a cancelled job is told through ``cancel``, and its slot is released when it returns)."""
        import anyio

        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        start = time.perf_counter()
        try:
            result = await anyio.to_thread.run_sync(functools.partial(func, *args, cancel=cancel))
        finally:
            self.running -= 1
            self._semaphore.release()
        self.mean_seconds = 0.8 * self.mean_seconds + 0.2 * (time.perf_counter() - start)
        return result
