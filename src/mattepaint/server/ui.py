"""The browser UI of ``mattepaint serve``: a gradio app with an Inpaint tab and a Matte tab.

:func:`build_ui` returns a :class:`gradio.Blocks`; :func:`mattepaint.server.create_server` mounts
it at ``/`` beside the HTTP API. The callbacks call the same functions as the API
(:func:`mattepaint.server.services.run_inpaint` / :func:`~mattepaint.server.services.run_matte`),
so a method behaves identically from the page, the API, the CLI and Python.

- **Inpaint**: upload a picture into the editor and paint over what should disappear (brush with
  an adjustable size, eraser; every painted pixel of the drawing layer is part of the mask, whatever
  its colour), or upload a ready mask (white = hole), which then takes precedence over the
  painting. The mask can be grown by a few pixels (dilation). The result is shown in a before /
  after slider and offered as a PNG download.
- **Matte**: upload a picture plus a trimap (0 / 128 / 255) or a clean background plate; the
  method defaults to ``auto`` (the best shipped model for the input given, else the classical
  method). Shows the alpha matte, the estimated foreground and the cut-out over a checkerboard, and
  offers the RGBA cut-out as a PNG download. **Automatic (no trimap)**: with the segmenter shipped
  in the package (or the files of ``mattepaint serve --segmenter FILE``), "Cut out automatically"
  runs the cut-out pipeline
  (:func:`mattepaint.server.services.run_cutout`) on the picture alone and also shows the
  segmenter's soft mask and the automatic trimap. To correct a wrong region, paint green
  (subject) or red (not the subject) scribbles on the photo and cut out again: the strokes
  correct the automatic trimap (:mod:`mattepaint.segmentation.scribbles`) before matting.

User mistakes (no image, nothing painted, sizes that differ, an unreadable or too large file, a
missing trimap / background) are raised as :class:`gradio.Error` with one sentence, which gradio
shows in the page as a toast; no traceback reaches the page.
"""

from __future__ import annotations

import functools
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np

from mattepaint import compositing, io
from mattepaint.server import services
from mattepaint.server.catalog import MethodCatalog
from mattepaint.server.services import ServerLimits

__all__ = ["AUTO_METHOD", "DEFAULT_BRUSH_SIZE", "build_ui"]

AUTO_METHOD = "auto (from the inputs)"
"""Matte tab dropdown entry meaning: the best shipped model for the input given, else cf_knn_sm
with a trimap and background_difference with a background (``method=None`` for
:func:`mattepaint.server.services.run_matte`)."""

DEFAULT_BRUSH_SIZE = 20
"""Initial brush and eraser radius, in image pixels (adjustable in the editor's brush menu)."""

_BRUSH_COLOURS = ["#ffffff", "#ff2d55", "#00e676", "#2979ff", "#000000"]
_SCRIBBLE_COLOURS = ("#00e676", "#ff2d55")  # green: subject, red: not the subject
_DOWNLOAD_TTL_S = 3600.0  # result PNGs older than this are deleted from the UI's temp folder
_CONCURRENCY_ID = "mattepaint-work"  # inpaint and matte share one concurrency limit

_T = TypeVar("_T")


def build_ui(catalog: MethodCatalog, limits: ServerLimits) -> gr.Blocks:
    """Build the gradio app (title "mattepaint") with an Inpaint and a Matte tab.

    Inputs:
        catalog: the methods offered (``catalog.inpainting_methods()``,
            ``catalog.matting_methods()``) and their cached instances.
        limits: ``limits.max_pixels`` bounds the size of every image; ``limits.max_concurrent``
            and ``limits.max_queue`` bound the work the page may start (both tabs share one
            concurrency limit).

    Outputs:
        A :class:`gradio.Blocks`, not launched; mount it with ``gradio.mount_gradio_app``.
        Elements carry ``elem_id`` values for tests: ``inpaint-editor``, ``inpaint-mask``,
        ``inpaint-dilate``, ``inpaint-method``, ``inpaint-run``, ``inpaint-result``,
        ``inpaint-download``, ``matte-image``, ``matte-trimap``, ``matte-background``,
        ``matte-method``, ``matte-run``, ``matte-alpha``, ``matte-foreground``, ``matte-cutout``,
        ``matte-download``; automatic mode: ``matte-segmenter``, ``matte-refine``,
        ``matte-auto-run``, ``matte-soft-mask``, ``matte-auto-trimap`` (the results go to the
        same alpha / foreground / cut-out / download elements).
    """
    if not isinstance(limits, ServerLimits):
        raise TypeError(f"limits must be a ServerLimits, got {type(limits).__name__}")
    inpaint_methods = list(catalog.inpainting_methods())
    matte_methods = list(catalog.matting_methods())
    if not inpaint_methods:
        raise ValueError("the catalog offers no inpainting method; expected at least 'telea'")
    default_inpaint = "auto" if "auto" in inpaint_methods else inpaint_methods[0]
    segmenters = list(catalog.segmenter_names())
    edge_methods = ("closed_form", "sm", "cf_knn_sm", "cf_knn", "knn")
    refiners = [m for m in edge_methods if m in matte_methods] + ["auto", "none"]
    downloads = _DownloadFolder()

    def inpaint(
        editor: dict[str, Any] | None, mask_path: str | None, dilate: float, method: str
    ) -> tuple[tuple[np.ndarray, np.ndarray], str]:
        def work() -> tuple[tuple[np.ndarray, np.ndarray], str]:
            image, painted = _editor_image_and_mask(editor, limits)
            if mask_path:
                mask = _decode_file(mask_path, "mask", limits)
            else:
                mask = painted
            if not mask.any():
                raise ValueError(
                    "the mask is empty: paint over the region to remove, or upload a mask "
                    "(white = hole)"
                )
            result = services.run_inpaint(catalog, image, mask, method, dilate=int(dilate))
            path = downloads.save("inpainted.png", result)
            return (_to_uint8(image), _to_uint8(result)), str(path)

        return _user_errors(work)

    def matte(
        image_path: str | None,
        trimap_path: str | None,
        background_path: str | None,
        method: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        def work() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
            if not image_path:
                raise ValueError("upload an image to matte first")
            image = _decode_file(image_path, "image", limits)
            trimap = background = None
            if trimap_path:
                trimap = _decode_file(trimap_path, "trimap", limits)
            if background_path:
                background = _decode_file(background_path, "background", limits)
                io.check_same_size(image, background, names=("image", "background"))
            chosen = None if method == AUTO_METHOD else method
            if chosen is None and trimap is None and background is None:
                raise ValueError(
                    "upload a trimap (0 / 128 / 255) or a clean background image: "
                    "the matting methods need one of them"
                )
            alpha, foreground = services.run_matte(
                catalog, image, trimap=trimap, background=background, method=chosen
            )
            alpha = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)
            if foreground is None:
                foreground = compositing.estimate_foreground(image, alpha)
            foreground = np.clip(np.asarray(foreground, np.float32), 0.0, 1.0)
            rgba = compositing.cutout(image, alpha, foreground)
            on_checkerboard = compositing.composite_onto(foreground, alpha, "checkerboard")
            path = downloads.save("cutout.png", rgba)
            return _to_uint8(alpha), _to_uint8(foreground), _to_uint8(on_checkerboard), str(path)

        return _user_errors(work)

    def matte_auto(
        image_path: str | None,
        segmenter: str | None,
        refine: str,
        scribbles: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
        def work() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
            if not image_path:
                raise ValueError("upload an image to cut out first")
            image = _decode_file(image_path, "image", limits)
            fg, bg = _scribble_strokes(scribbles, image.shape[:2])
            result = services.run_cutout(
                catalog, image, segmenter=segmenter or None, refine=refine,
                foreground_scribbles=fg, background_scribbles=bg,
            )
            on_checkerboard = compositing.composite_onto(
                result.foreground, result.alpha, "checkerboard"
            )
            path = downloads.save("cutout.png", result.rgba())
            return (
                _to_uint8(result.soft_mask),
                _to_uint8(result.trimap),  # 0 / 0.5 / 1 -> 0 / 128 / 255
                _to_uint8(result.alpha),
                _to_uint8(result.foreground),
                _to_uint8(on_checkerboard),
                str(path),
            )

        return _user_errors(work)

    with gr.Blocks(title="mattepaint", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# mattepaint\n"
            "Remove objects from a picture (**Inpaint**) or cut out a foreground with its soft "
            "edges (**Matte**). Nothing leaves this server."
        )
        with gr.Tabs():
            with gr.Tab("Inpaint", id="inpaint", elem_id="tab-inpaint"):
                with gr.Row():
                    with gr.Column():
                        editor = _painting_editor(
                            "Image: paint over what should disappear", _BRUSH_COLOURS,
                            sources=("upload", "clipboard"), color_mode="defaults",
                            elem_id="inpaint-editor",
                        )
                        mask_file = gr.Image(
                            label="Or upload a mask (white = hole; used instead of the painting)",
                            type="filepath",
                            image_mode=None,  # keep the file as uploaded (16-bit, gray)
                            sources=("upload",),
                            format="png",
                            height=160,
                            elem_id="inpaint-mask",
                        )
                        dilate = gr.Slider(
                            0, 64, value=0, step=1, label="Grow the mask by (pixels)",
                            elem_id="inpaint-dilate",
                        )
                        inpaint_method = gr.Dropdown(
                            inpaint_methods, value=default_inpaint, label="Method",
                            elem_id="inpaint-method",
                        )
                        inpaint_run = gr.Button("Run", variant="primary", elem_id="inpaint-run")
                    with gr.Column():
                        inpaint_result = gr.ImageSlider(
                            label="Before / after",
                            type="numpy",
                            format="png",
                            interactive=False,
                            elem_id="inpaint-result",
                        )
                        inpaint_download = gr.File(
                            label="Download the result (PNG)", interactive=False,
                            elem_id="inpaint-download",
                        )
            with gr.Tab("Matte", id="matte", elem_id="tab-matte"):
                with gr.Row():
                    with gr.Column():
                        matte_image = gr.Image(
                            label="Image", type="filepath", image_mode=None,
                            sources=("upload", "clipboard"), format="png", elem_id="matte-image",
                        )
                        with gr.Row():
                            matte_trimap = gr.Image(
                                label="Trimap (black bg / grey unknown / white fg)",
                                type="filepath", image_mode=None, sources=("upload",),
                                format="png", height=200, elem_id="matte-trimap",
                            )
                            matte_background = gr.Image(
                                label="Or: the clean background (same camera, no subject)",
                                type="filepath", image_mode=None, sources=("upload",),
                                format="png", height=200, elem_id="matte-background",
                            )
                        matte_method = gr.Dropdown(
                            [AUTO_METHOD, *matte_methods], value=AUTO_METHOD, label="Method",
                            elem_id="matte-method",
                        )
                        matte_run = gr.Button("Run", variant="primary", elem_id="matte-run")
                        with gr.Group(elem_id="matte-auto"):
                            gr.Markdown(
                                "**Automatic (no trimap)**: a segmenter finds the subject, an "
                                "automatic trimap marks the uncertain edge, matting refines it."
                                if segmenters
                                else "**Automatic (no trimap)**: this server has no segmenter; "
                                "start it with `mattepaint serve --segmenter FILE.onnx` (a "
                                "U2-Net or MODNet ONNX file)."
                            )
                            with gr.Row():
                                matte_segmenter = gr.Dropdown(
                                    segmenters, value=segmenters[0] if segmenters else None,
                                    label="Segmenter", interactive=bool(segmenters),
                                    elem_id="matte-segmenter",
                                )
                                matte_refine = gr.Dropdown(
                                    refiners, value=refiners[0], label="Refine the edge with",
                                    elem_id="matte-refine",
                                )
                            matte_scribbles = _painting_editor(
                                "Correct it: paint green on what belongs to the subject, red "
                                "on what does not, then cut out again", list(_SCRIBBLE_COLOURS),
                                sources=(), color_mode="fixed", elem_id="matte-scribbles",
                            )
                            matte_auto_run = gr.Button(
                                "Cut out automatically", interactive=bool(segmenters),
                                elem_id="matte-auto-run",
                            )
                    with gr.Column():
                        matte_alpha = gr.Image(
                            label="Alpha matte", type="numpy", format="png", image_mode="L",
                            interactive=False, elem_id="matte-alpha",
                        )
                        with gr.Row():
                            matte_foreground = gr.Image(
                                label="Estimated foreground", type="numpy", format="png",
                                interactive=False, elem_id="matte-foreground",
                            )
                            matte_cutout = gr.Image(
                                label="Cut-out on a checkerboard", type="numpy", format="png",
                                interactive=False, elem_id="matte-cutout",
                            )
                        matte_download = gr.File(
                            label="Download the cut-out (RGBA PNG)", interactive=False,
                            elem_id="matte-download",
                        )
                        with gr.Row():
                            matte_soft = gr.Image(
                                label="Automatic: the segmenter's mask", type="numpy",
                                format="png", image_mode="L", interactive=False,
                                elem_id="matte-soft-mask",
                            )
                            matte_auto_trimap = gr.Image(
                                label="Automatic: the trimap", type="numpy", format="png",
                                image_mode="L", interactive=False, elem_id="matte-auto-trimap",
                            )

        common = {
            "concurrency_limit": limits.max_concurrent,
            "concurrency_id": _CONCURRENCY_ID,
            "show_progress": "full",
        }
        inpaint_run.click(
            inpaint,
            inputs=[editor, mask_file, dilate, inpaint_method],
            outputs=[inpaint_result, inpaint_download],
            api_name="inpaint",
            **common,
        )
        matte_run.click(
            matte,
            inputs=[matte_image, matte_trimap, matte_background, matte_method],
            outputs=[matte_alpha, matte_foreground, matte_cutout, matte_download],
            api_name="matte",
            **common,
        )
        matte_image.change(
            functools.partial(_scribble_canvas, limits=limits),
            inputs=[matte_image],
            outputs=[matte_scribbles],
            show_progress="hidden",
            queue=False,  # a quick decode: never waits behind a running job
        )
        matte_auto_run.click(
            matte_auto,
            inputs=[matte_image, matte_segmenter, matte_refine, matte_scribbles],
            outputs=[
                matte_soft,
                matte_auto_trimap,
                matte_alpha,
                matte_foreground,
                matte_cutout,
                matte_download,
            ],
            api_name="cutout",
            **common,
        )
    demo.queue(max_size=limits.max_queue, default_concurrency_limit=limits.max_concurrent)
    return demo


def _painting_editor(
    label: str, colours: Sequence[str], *, sources: tuple[str, ...], color_mode: str,
    elem_id: str,
) -> gr.ImageEditor:
    """An RGBA image editor with one brush (``colours``, the first by default) and an eraser of
    :data:`DEFAULT_BRUSH_SIZE`, no layers and no transforms: a canvas to paint strokes on."""
    return gr.ImageEditor(
        label=label,
        type="numpy",
        image_mode="RGBA",
        sources=sources,
        brush=gr.Brush(
            default_size=DEFAULT_BRUSH_SIZE,
            colors=list(colours),
            default_color=colours[0],
            color_mode=color_mode,
        ),
        eraser=gr.Eraser(default_size=DEFAULT_BRUSH_SIZE),
        layers=False,
        transforms=(),
        format="png",
        elem_id=elem_id,
    )


def _user_errors(work: Callable[[], _T]) -> _T:
    """Run ``work``; a library error about the user's input becomes one ``gr.Error`` sentence."""
    try:
        return work()
    except gr.Error:
        raise
    except (ValueError, TypeError, OSError) as exc:
        message = str(exc).strip() or type(exc).__name__
        message = message[:1].upper() + message[1:]
        if not message.endswith((".", "!", "?")):
            message += "."
        raise gr.Error(message, print_exception=False) from exc


def _check_pixels(shape: Sequence[int], what: str, limits: ServerLimits) -> None:
    pixels = int(shape[0]) * int(shape[1])
    if pixels > limits.max_pixels:
        raise ValueError(
            f"the {what} is too large: {shape[1]} x {shape[0]} = {pixels} pixels, "
            f"the limit is {limits.max_pixels} pixels"
        )


def _editor_image_and_mask(
    editor: dict[str, Any] | None, limits: ServerLimits
) -> tuple[np.ndarray, np.ndarray]:
    """Split the ImageEditor value into the picture and the painted mask.

    Inputs:
        editor: gradio's value ``{"background": (H, W, 4) uint8, "layers": [(H, W, 4) uint8],
            "composite": ...}`` (``image_mode="RGBA"``).

    Outputs:
        image (H, W, 3) float32 in [0, 1] (the background, alpha dropped); mask (H, W) bool, True
        where any layer has a painted pixel (alpha > 0), whatever the brush colour.
    """
    background = None if editor is None else editor.get("background")
    if background is None:
        raise ValueError("upload an image into the editor first")
    background = np.asarray(background)
    _check_pixels(background.shape, "image", limits)
    image = _to_float_rgb(background)
    mask = np.zeros(image.shape[:2], bool)
    for layer in editor.get("layers") or []:
        layer = np.asarray(layer)
        if layer.shape[:2] != image.shape[:2]:
            raise ValueError(
                f"the painted layer is {layer.shape[1]} x {layer.shape[0]} but the image is "
                f"{image.shape[1]} x {image.shape[0]}; reload the image and paint again"
            )
        if layer.ndim == 3 and layer.shape[2] in (2, 4):
            mask |= layer[..., -1] > 0  # any painted pixel, whatever its colour
        else:
            mask |= (layer.reshape(*layer.shape[:2], -1) > 0).any(axis=2)
    return image, mask


def _scribble_canvas(image_path: str | None, *, limits: ServerLimits) -> dict[str, Any] | None:
    """The scribble editor's value for a newly chosen photo: the photo, nothing painted."""
    if not image_path:
        return None
    try:
        image = _to_uint8(_decode_file(image_path, "image", limits))
    except (ValueError, OSError):
        return None  # the Run buttons report a bad file
    return {"background": image, "layers": [], "composite": image}


def _scribble_strokes(
    editor: dict[str, Any] | None, shape: tuple[int, int]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(foreground, background) stroke masks (H, W) bool painted in the scribble editor: painted
    pixels (alpha > 0) where green outweighs red are foreground, the others background; None for
    a kind with no stroke. Raises ValueError when the painting does not fit the photo."""
    layers = [np.asarray(layer) for layer in (editor or {}).get("layers") or []]
    painted = [layer for layer in layers if layer.ndim == 3 and layer.shape[2] == 4
               and (layer[..., 3] > 0).any()]
    if not painted:
        return None, None
    fg = np.zeros(shape, bool)
    bg = np.zeros(shape, bool)
    for layer in painted:
        if layer.shape[:2] != tuple(shape):
            raise ValueError(
                f"the scribbles are {layer.shape[1]} x {layer.shape[0]} but the image is "
                f"{shape[1]} x {shape[0]}; upload the image again and repaint"
            )
        on = layer[..., 3] > 0
        green = layer[..., 1].astype(np.int32) > layer[..., 0].astype(np.int32)
        fg |= on & green
        bg |= on & ~green
    return (fg if fg.any() else None), (bg if bg.any() else None)


def _to_float_rgb(array: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) uint8/uint16/float -> (H, W, 3) float32 in [0, 1], alpha dropped."""
    if array.dtype == np.uint8:
        out = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        out = array.astype(np.float32) / 65535.0
    else:
        out = np.clip(array.astype(np.float32), 0.0, 1.0)
    if out.ndim == 2:
        out = out[..., None]
    if out.shape[2] in (2, 4):
        out = out[..., :-1]  # drop alpha
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)  # (H, W, 1) -> (H, W, 3)
    return out


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 with rounding (what ``io.save_image`` writes)."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _decode_file(path: str, kind: str, limits: ServerLimits) -> np.ndarray:
    """Read an uploaded file with the API's checks (size in bytes and pixels, readable image)."""
    data = Path(path).read_bytes()
    return services.decode_upload(data, kind, limits)


class _DownloadFolder:
    """A private temp folder for result PNGs; files older than an hour are removed on save."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mattepaint-ui-"))

    def save(self, name: str, image: np.ndarray) -> Path:
        now = time.time()
        for old in self.root.glob("*/*.png"):
            try:
                if now - old.stat().st_mtime > _DOWNLOAD_TTL_S:
                    old.unlink()
                    old.parent.rmdir()
            except OSError:
                pass
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(parents=True)
        return io.save_image(folder / name, image)
