"""The HTTP API: inpainting and matting over multipart uploads, PNG results.

Endpoints (interactive documentation at ``/docs``):

=======================  =====================================================================
``GET  /api/health``     ``{"status": "ok", "version", "running", "waiting", "limits"}``
``GET  /api/methods``    ``{"inpainting": [name, ...], "matting": [{"name", "needs"}, ...],
                         "segmenters": [name, ...]}``
``POST /api/inpaint``    form: ``image`` (file), ``mask`` (file, white = hole), ``method``
                         (default telea), ``dilate`` (pixels, default 0), ``strategy``
                         (auto | crop | resize | full) -> ``image/png`` (RGB)
``POST /api/matte``      form: ``image`` (file), ``trimap`` or ``background`` (file),
                         ``method`` (default: auto, the best shipped model for the input,
                         else cf_knn_sm / background_difference), ``output`` (rgba | alpha |
                         foreground, default rgba) -> ``image/png``
``POST /api/cutout``     form: ``image`` (file), ``segmenter`` (a name of /api/methods
                         ``segmenters``; default the first), ``refine`` (closed_form | auto |
                         knn | another trimap method | none, default closed_form), ``output``
                         (rgba | alpha | trimap, default rgba), optional ``foreground_scribbles`` /
                         ``background_scribbles`` (files, white = stroke) -> ``image/png``
=======================  =====================================================================

Errors are JSON ``{"detail": "..."}``: 400 bad input (unreadable file, sizes that differ,
unknown method, missing trimap ...), 413 an upload over the byte or pixel limit, 422 a missing
or malformed form field, 503 (with ``Retry-After``) when the queue is full.

A request whose client disconnects gives up its place: a job still waiting in the queue is
dropped without running, and a running one stops at its next check, so that its slot is freed
as soon as possible (the answer, 499, goes nowhere).

Example::

    curl -sf -F image=@photo.png -F mask=@mask.png -F method=telea \\
        http://127.0.0.1:7860/api/inpaint -o filled.png
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any, Literal

import anyio
import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mattepaint import __version__, io
from mattepaint.server.catalog import MethodCatalog
from mattepaint.server.services import (
    JobCancelledError,
    JobGate,
    QueueFullError,
    ServerLimits,
    TooLargeError,
    check_cancelled,
    check_upload_bytes,
    cutout_refiner,
    decode_upload,
    encode_png,
    inspect_upload,
    run_cutout,
    run_inpaint,
    run_matte,
    set_work_slots,
)

__all__ = ["create_api"]

#: Room for the multipart boundaries and the text fields, on top of the files themselves.
_FORM_OVERHEAD = 64 * 1024

#: Files each endpoint accepts (its body limit is this many times the per-file limit).
_FILES_PER_ENDPOINT = {"/api/inpaint": 2, "/api/matte": 3, "/api/cutout": 1}


#: The ``image`` form field of /api/inpaint and /api/matte.
_ImageUpload = Annotated[UploadFile, File(description="the image (PNG, JPEG, BMP, TIFF, WebP)")]


class _BodyLimit:
    """ASGI middleware refusing request bodies over a per-endpoint limit with 413.

    Checked twice: the Content-Length header before anything is read (so a huge upload is
    refused at once), and the bytes actually received (for chunked uploads without the header,
    or a header that lies).
    """

    def __init__(self, app: ASGIApp, limits: ServerLimits) -> None:
        self.app = app
        self.limits = limits

    def _too_large(self, path: str, size: int | None, limit: int) -> HTTPException:
        files = _FILES_PER_ENDPOINT[path]
        got = "" if size is None else f" ({size} bytes)"
        return HTTPException(
            413,
            f"the request body{got} is larger than the limit of {limit} bytes for {path} "
            f"({files} files of at most {self.limits.max_upload_bytes} bytes each)",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in _FILES_PER_ENDPOINT:
            await self.app(scope, receive, send)
            return
        limit = _FILES_PER_ENDPOINT[path] * self.limits.max_upload_bytes + _FORM_OVERHEAD
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            error = self._too_large(path, int(declared), limit)
            response = JSONResponse({"detail": error.detail}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # FastAPI turns this into a JSON 413 response
                    raise self._too_large(path, None, limit)
            return message

        await self.app(scope, counting_receive, send)


async def _read_upload(upload: UploadFile, kind: str, limits: ServerLimits) -> bytes:
    """The bytes of an uploaded file, reading at most limit + 1 bytes (413 beyond the limit)."""
    data = await upload.read(limits.max_upload_bytes + 1)
    check_upload_bytes(len(data), kind, limits)
    return data


def _client_gone(request: Request) -> Callable[[], Awaitable[None]]:
    """An async function that returns once the client of ``request`` has disconnected.

    Called after the form has been read, so the next ASGI message of the request is
    ``http.disconnect``: the server sends it when the connection closes (or, at the latest, when
    the response is complete). A server that fails to deliver it only means no early cancel.
    """

    async def gone() -> None:
        try:
            while (await request.receive())["type"] != "http.disconnect":
                pass
        except Exception:  # noqa: BLE001 - no news of a disconnect: never cancel
            await anyio.sleep_forever()

    return gone


def _png(data: bytes) -> Response:
    return Response(content=data, media_type="image/png")


@contextlib.contextmanager
def _http_errors() -> Iterator[None]:
    """A user error in the block as an HTTP error with its message as the detail:
    TooLargeError -> 413, any other ValueError -> 400."""
    try:
        yield
    except TooLargeError as exc:
        raise HTTPException(413, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def create_api(catalog: MethodCatalog | None = None, limits: ServerLimits | None = None) -> FastAPI:
    """Build the FastAPI application of the HTTP API (no web UI; see
    :func:`mattepaint.server.create_server` for both).

    Inputs:
        catalog: the methods offered (default: the registered methods only).
        limits: upload, pixel and queue limits (default :class:`ServerLimits`).
    Outputs: a FastAPI app with the routes listed in this module's docstring; ``app.state``
        holds ``catalog``, ``limits`` and ``gate`` (the :class:`JobGate`).
    """
    catalog = MethodCatalog() if catalog is None else catalog
    limits = ServerLimits() if limits is None else limits
    if not isinstance(limits, ServerLimits):
        raise TypeError(f"limits must be a ServerLimits, got {type(limits).__name__}")
    gate = JobGate(limits)
    set_work_slots(limits.max_concurrent)  # one process-wide limit, shared with the gradio UI
    app = FastAPI(
        title="mattepaint",
        version=__version__,
        description=(
            "Image inpainting and matting. Upload files as multipart form data; results come "
            'back as PNG. Errors are JSON {"detail": ...}: 400 bad input, 413 too large, '
            "422 missing field, 503 busy (see Retry-After)."
        ),
    )
    app.state.catalog, app.state.limits, app.state.gate = catalog, limits, gate
    app.add_middleware(_BodyLimit, limits=limits)

    @app.exception_handler(JobCancelledError)
    async def _cancelled(request: Request, exc: JobCancelledError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=499)  # nobody is listening

    @app.exception_handler(QueueFullError)
    async def _queue_full(request: Request, exc: QueueFullError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=503,
            headers={"Retry-After": str(exc.retry_after)},
        )

    async def _work(request: Request, func: Any) -> Any:
        """Run ``func(cancel=event)`` through the gate, cancelled when the client of ``request``
        disconnects; ValueError -> 400, TooLargeError -> 413."""
        with _http_errors():
            return await gate.run(func, client_gone=_client_gone(request))

    def _inspect(data: bytes, kind: str) -> tuple[int, int]:
        with _http_errors():
            return inspect_upload(data, kind, limits).size

    def _same_size(image: tuple[int, int], other: tuple[int, int], kind: str) -> None:
        with _http_errors():
            io.check_same_size(image, other, names=("image", kind))

    async def _read(upload: UploadFile, kind: str) -> bytes:
        with _http_errors():  # TooLargeError -> 413
            return await _read_upload(upload, kind, limits)

    def _png_route(path: str, description: str) -> Callable[[Any], Any]:
        """``app.post(path)`` for an endpoint whose answer is a PNG image (OpenAPI: image/png)."""
        return app.post(
            path,
            response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": description}},
        )

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        """Liveness and load: version, jobs running and waiting, and the limits in force."""
        return {
            "status": "ok",
            "version": __version__,
            "running": gate.running,
            "waiting": gate.waiting,
            "limits": {
                "max_upload_bytes": limits.max_upload_bytes,
                "max_pixels": limits.max_pixels,
                "max_concurrent": limits.max_concurrent,
                "max_queue": limits.max_queue,
            },
        }

    @app.get("/api/methods")
    async def methods() -> dict[str, list[Any]]:
        """The methods on offer: inpainting names, and matting names with what each needs
        ("trimap", "background" or "nothing"). Trained checkpoints appear as
        ``checkpoint:<file name>``."""
        return catalog.describe()

    @_png_route("/api/inpaint", "the filled image")
    async def inpaint(
        request: Request,
        image: _ImageUpload,
        mask: Annotated[UploadFile, File(description="the hole mask, same size; white = hole")],
        method: Annotated[
            str, Form(description="inpainting method, see /api/methods (auto: best shipped model)")
        ] = "auto",
        dilate: Annotated[int, Form(ge=0, le=256, description="grow the hole by N px")] = 0,
        strategy: Annotated[
            Literal["auto", "crop", "resize", "full"],
            Form(
                description="large images: auto (full up to 1024 px, else crops), crop, "
                "resize or full"
            ),
        ] = "auto",
    ) -> Response:
        """Fill the holes of ``image`` where ``mask`` is white; returns the result as an RGB PNG.

        Pixels outside the hole are returned unchanged. The mask is binarised at 127 (a
        non-binary mask is accepted). Errors: 400 unreadable file, sizes that differ, unknown
        method (the message lists the valid names); 413 a file over the byte or pixel limit.

        ``curl -sf -F image=@photo.png -F mask=@mask.png -F method=telea
        http://127.0.0.1:7860/api/inpaint -o filled.png``
        """
        image_bytes = await _read(image, "image")
        mask_bytes = await _read(mask, "mask")
        size = _inspect(image_bytes, "image")
        _same_size(size, _inspect(mask_bytes, "mask"), "mask")
        with _http_errors():
            catalog.inpainter(method)  # an unknown method fails before queueing

        def job(cancel: threading.Event) -> bytes:
            picture = decode_upload(image_bytes, "image", limits)
            hole = decode_upload(mask_bytes, "mask", limits)
            filled = run_inpaint(
                catalog, picture, hole, method, dilate=dilate, strategy=strategy, cancel=cancel
            )
            check_cancelled(cancel)
            return encode_png(filled)

        return _png(await _work(request, job))

    @_png_route("/api/matte", "the matting result")
    async def matte(
        request: Request,
        image: _ImageUpload,
        trimap: Annotated[
            UploadFile | None, File(description="trimap, 0 bg / 128 unknown / 255 fg")
        ] = None,
        background: Annotated[
            UploadFile | None, File(description="clean background plate, same size")
        ] = None,
        method: Annotated[
            str | None,
            Form(
                description="matting method (default: auto, the best shipped model for the "
                "input given, else cf_knn_sm with a trimap, background_difference with a "
                "background), see /api/methods"
            ),
        ] = None,
        output: Annotated[
            Literal["rgba", "alpha", "foreground"],
            Form(description="rgba: cut-out; alpha: gray matte; foreground: RGB colours"),
        ] = "rgba",
    ) -> Response:
        """Estimate the alpha matte of ``image`` from a ``trimap`` or a clean ``background``.

        ``output``: ``rgba`` (default) the cut-out, foreground colours with alpha as an RGBA
        PNG; ``alpha`` the matte as a gray PNG; ``foreground`` the estimated foreground colours
        as an RGB PNG (estimated with pymatting's multi-level method when the matting method
        gives none). Errors: 400 unreadable file, sizes that differ, unknown method (lists the
        valid names), a trimap missing for a trimap method (or a background for a background
        method); 413 a file over the byte or pixel limit.

        ``curl -sf -F image=@photo.png -F trimap=@trimap.png -F output=rgba
        http://127.0.0.1:7860/api/matte -o cutout.png``
        """
        image_bytes = await _read(image, "image")
        size = _inspect(image_bytes, "image")
        extra: dict[str, bytes] = {}
        for kind, upload in (("trimap", trimap), ("background", background)):
            if upload is not None:
                extra[kind] = await _read(upload, kind)
                _same_size(size, _inspect(extra[kind], kind), kind)
        chosen = method or None  # an empty form field means "pick by the input"
        if chosen is not None:
            with _http_errors():
                catalog.matter(chosen)  # an unknown method fails before queueing

        def job(cancel: threading.Event) -> bytes:
            picture = decode_upload(image_bytes, "image", limits)
            given = {kind: decode_upload(data, kind, limits) for kind, data in extra.items()}
            alpha, foreground = run_matte(catalog, picture, method=chosen, cancel=cancel, **given)
            check_cancelled(cancel)
            if output == "alpha":
                return encode_png(alpha)
            if foreground is None:
                from mattepaint.compositing import estimate_foreground

                foreground = np.clip(
                    np.asarray(estimate_foreground(picture, alpha), np.float32), 0.0, 1.0
                )
            if output == "foreground":
                return encode_png(foreground)
            from mattepaint.compositing import cutout

            return encode_png(cutout(picture, alpha, foreground))

        return _png(await _work(request, job))

    @_png_route("/api/cutout", "the cut-out")
    async def cutout(
        request: Request,
        image: Annotated[UploadFile, File(description="the photo (PNG, JPEG, BMP, TIFF, WebP)")],
        segmenter: Annotated[
            str | None,
            Form(description="segmenter, see /api/methods 'segmenters' (default: the first)"),
        ] = None,
        refine: Annotated[
            str,
            Form(
                description="matting of the uncertain band: closed_form, auto (the default "
                "with a trimap: the shipped learned model), knn, another trimap method of "
                "/api/methods, or none (the segmenter's mask is the matte)"
            ),
        ] = "closed_form",
        output: Annotated[
            Literal["rgba", "alpha", "trimap"],
            Form(description="rgba: cut-out; alpha: gray matte; trimap: the automatic trimap"),
        ] = "rgba",
        foreground_scribbles: Annotated[
            UploadFile | None,
            File(description="optional mask, same size: white strokes on what is the subject"),
        ] = None,
        background_scribbles: Annotated[
            UploadFile | None,
            File(description="optional mask, same size: white strokes on what is not"),
        ] = None,
    ) -> Response:
        """Cut the subject out of ``image`` with no trimap and no background plate.

        A segmenter of the server (the shipped one, or one it was started with: ``mattepaint
        serve --segmenter FILE``) finds the subject; an automatic trimap marks the uncertain band
        around its outline; ``refine`` mattes that band; the foreground colour is estimated. ``output``: ``rgba``
        (default) the cut-out as an RGBA PNG (alpha = the matte); ``alpha`` the matte as a gray
        PNG; ``trimap`` the automatic trimap (0 / 128 / 255). ``foreground_scribbles`` /
        ``background_scribbles``: optional masks (white = stroke) that correct the automatic
        trimap before matting, as the app's green / red brushes do. Errors: 400 unreadable file,
        sizes that differ, no segmenter on this server, unknown segmenter or refine method (the message lists the
        valid ones), a photo where the segmenter finds no subject; 413 over the byte or pixel
        limit.

        ``curl -sf -F image=@photo.jpg http://127.0.0.1:7860/api/cutout -o cutout.png``
        """
        image_bytes = await _read(image, "image")
        size = _inspect(image_bytes, "image")
        strokes: dict[str, bytes] = {}
        for key, upload in (
            ("foreground_scribbles", foreground_scribbles),
            ("background_scribbles", background_scribbles),
        ):
            if upload is not None:
                strokes[key] = await _read(upload, "mask")
                _same_size(size, _inspect(strokes[key], "mask"), key.replace("_", " "))
        chosen = segmenter or None  # an empty form field means the default
        with _http_errors():  # an unknown segmenter or refine method fails before queueing
            catalog.segmenter(chosen)
            cutout_refiner(catalog, refine)

        def job(cancel: threading.Event) -> bytes:
            picture = decode_upload(image_bytes, "image", limits)
            masks = {key: decode_upload(data, "mask", limits) for key, data in strokes.items()}
            result = run_cutout(
                catalog, picture, segmenter=chosen, refine=refine, cancel=cancel, **masks
            )
            check_cancelled(cancel)
            if output == "alpha":
                return encode_png(result.alpha)
            if output == "trimap":
                return encode_png(result.trimap)  # 0 / 0.5 / 1 -> 0 / 128 / 255
            return encode_png(result.rgba())

        return _png(await _work(request, job))

    return app
