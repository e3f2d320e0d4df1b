"""Cut-outs over one file or a folder: :func:`cutout_file`, :func:`cutout_folder`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from mattepaint import io
from mattepaint._progress import track
from mattepaint.batch.common import (
    PathLike,
    check_outputs,
    input_images,
    match_inputs,
    require_file,
)
from mattepaint.errors import InputError
from mattepaint.methods import Matter

if TYPE_CHECKING:
    from mattepaint.segmentation import Segmenter, SegmenterSpec


#
# Cut the subject out of photos with no trimap and no background plate: the pipeline of
# :func:`mattepaint.segmentation.cutout` (segment -> automatic trimap -> matting on the band ->
# foreground colour) run over files, with the checks and the all-or-nothing writing above.

#: Where a trimap may be written (lossless: JPEG / WebP would blur the three levels).
_TRIMAP_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")


def _cutout_refiner(refine: str | Matter | None) -> Matter | None:
    """The trimap matting method of a cut-out (None / "none": the segmenter's soft mask)."""
    from mattepaint.methods import get_matter, matter_names
    from mattepaint.segmentation import refine_matter

    if refine is None or (isinstance(refine, str) and refine.strip().lower() == "none"):
        return None
    if isinstance(refine, str) and refine not in matter_names():
        valid = ["none"]
        for name in matter_names():  # the error path only: list the trimap methods
            try:
                if get_matter(name).needs == "trimap":
                    valid.append(name)
            except Exception:  # noqa: BLE001, S112 - a method that cannot be built is not offered
                continue
        raise InputError(f"unknown refine method {refine!r}; valid: {', '.join(valid)}")
    return refine_matter(refine)


def _cutout_methods(
    refine: str | Matter | None, segmenter: SegmenterSpec | None, family: str | None
) -> tuple[Matter | None, Segmenter]:
    """The trimap matting method (:func:`_cutout_refiner`), then the segmenter
    (:func:`mattepaint.segmentation.resolve_segmenter`) of a cut-out."""
    matter = _cutout_refiner(refine)
    from mattepaint.segmentation import resolve_segmenter

    return matter, resolve_segmenter(segmenter, family=family)


def _check_cutout_options(only_mask: bool, bg_color: object, background: PathLike | None) -> None:
    """What the main output is: RGBA, the matte alone, or a composite onto one new background."""
    if not isinstance(only_mask, bool):
        raise TypeError(f"only_mask must be a bool, got {only_mask!r}")
    if bg_color is not None and background is not None:
        raise InputError("give a background colour or a background image, not both")
    if only_mask and (bg_color is not None or background is not None):
        raise InputError(
            "only_mask writes the matte alone; a background colour or image does not apply to it"
        )
    if bg_color is not None:
        from mattepaint.compositing import parse_colour

        if not (isinstance(bg_color, str) and bg_color.strip().lower() == "checkerboard"):
            parse_colour(bg_color)  # type: ignore[arg-type]  # ValueError naming the colour


def _cutout_outputs(
    output: PathLike,
    *,
    only_mask: bool,
    composite: bool,
    trimap: PathLike | None = None,
    alpha: PathLike | None = None,
    foreground: PathLike | None = None,
) -> dict[str, Path]:
    """The output names of one cut-out, each checked for what is written there (before any
    work): the main output (RGBA cut-out, gray matte, or RGB composite), then the optional
    trimap (lossless), alpha matte and foreground colour."""
    if only_mask:
        outputs = {"output": io.check_image_output(output, what="alpha matte", channels=1)}
    elif composite:
        outputs = {"output": io.check_image_output(output, what="composite", channels=3)}
    else:
        outputs = {"output": io.check_image_output(output, what="cut-out", channels=4)}
    if trimap is not None:
        path = io.check_image_output(trimap, what="trimap", channels=1)
        if path.suffix.lower() not in _TRIMAP_SUFFIXES:
            raise InputError(
                f"cannot save trimap {path}: a trimap needs a lossless format, one of "
                f"{', '.join(_TRIMAP_SUFFIXES)} (e.g. {path.with_suffix('.png').name})"
            )
        outputs["trimap"] = path
    if alpha is not None:
        outputs["alpha"] = io.check_image_output(alpha, what="alpha matte", channels=1)
    if foreground is not None:
        outputs["foreground"] = io.check_image_output(foreground, what="foreground", channels=3)
    return outputs


def _fit_background(background: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale a background (h, w, 3) to cover (height, width), keeping its aspect ratio, and
    crop the middle: ``s = max(height / h, width / w)``; area interpolation when shrinking,
    bilinear when enlarging. Outputs (height, width, 3) float32 in [0, 1]."""
    import cv2

    h, w = background.shape[:2]
    if (h, w) == (height, width):
        return background
    scale = max(height / h, width / w)
    new_h, new_w = max(height, round(h * scale)), max(width, round(w * scale))
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(background, (new_w, new_h), interpolation=method)  # (new_h, new_w, 3)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    return np.clip(resized[top : top + height, left : left + width], 0.0, 1.0).astype(np.float32)


@torch.no_grad()
def _cutout_one(
    segmenter: Segmenter,
    matter: Matter | None,
    image_path: Path,
    want_trimap: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Load one photo and cut it out: image (H, W, 3), alpha (H, W), foreground (H, W, 3) and
    the automatic trimap (H, W) in {0, 0.5, 1} (made from the soft mask with the default
    options when ``matter`` is None and it is asked for; else None without refinement)."""
    from mattepaint.segmentation import auto_trimap, cutout

    image = io.load_image(image_path)
    result = cutout(io.to_tensor(image), segmenter=segmenter, refine=matter)
    alpha = np.clip(io.to_numpy(result.alpha), 0.0, 1.0)  # (H, W)
    foreground = np.clip(io.to_numpy(result.foreground), 0.0, 1.0)  # (H, W, 3)
    trimap = None
    if result.trimap is not None:
        trimap = io.to_numpy(result.trimap)  # (H, W)
    elif want_trimap:
        trimap = auto_trimap(io.to_numpy(result.soft_mask))
    return image, alpha, foreground, trimap


def _save_cutout(
    staged: io.StagedOutputs,
    outputs: Mapping[str, Path],
    image: np.ndarray,
    alpha: np.ndarray,
    foreground: np.ndarray,
    trimap: np.ndarray | None,
    *,
    only_mask: bool,
    bg_color: object,
    background: np.ndarray | None,
) -> dict[str, Path]:
    """Stage the outputs of one cut-out: the main one (the matte alone, a composite
    ``alpha * F + (1 - alpha) * B`` onto the colour / picture B, or RGBA ``(F, alpha)``), then
    the trimap, alpha and foreground when asked for. They appear on commit."""
    from mattepaint.compositing import composite_onto, cutout

    if only_mask:
        main = alpha
    elif bg_color is not None:
        main = composite_onto(foreground, alpha, bg_color)  # type: ignore[arg-type]  # (H, W, 3)
    elif background is not None:
        h, w = alpha.shape
        main = composite_onto(foreground, alpha, _fit_background(background, h, w))
    else:
        main = cutout(image, alpha, foreground)  # (H, W, 4)
    written = {"output": staged.save_image(outputs["output"], main)}
    if "trimap" in outputs and trimap is not None:
        written["trimap"] = staged.save_image(outputs["trimap"], trimap)  # 0 / 128 / 255
    if "alpha" in outputs:
        written["alpha"] = staged.save_image(outputs["alpha"], alpha)
    if "foreground" in outputs:
        written["foreground"] = staged.save_image(outputs["foreground"], foreground)
    return written


def _stage_cutout(
    staged: io.StagedOutputs,
    outputs: Mapping[str, Path],
    segmenter: Segmenter,
    matter: Matter | None,
    image_path: Path,
    background_path: Path | None,
    plates: dict[Path, np.ndarray],
    only_mask: bool,
    bg_color: object,
) -> dict[str, Path]:
    """Cut one photo out (:func:`_cutout_one`, the trimap when ``outputs`` has one) and stage
    its outputs (:func:`_save_cutout`) over the background picture at ``background_path``, if
    any. ``plates`` caches the last decoded background (at most one kept in memory)."""
    image, alpha, foreground, trimap = _cutout_one(
        segmenter, matter, image_path, want_trimap="trimap" in outputs
    )
    plate = None
    if background_path is not None:
        if background_path not in plates:
            plates.clear()  # keep at most one in memory
            plates[background_path] = io.load_image(background_path)
        plate = plates[background_path]
    return _save_cutout(
        staged,
        outputs,
        image,
        alpha,
        foreground,
        trimap,
        only_mask=only_mask,
        bg_color=bg_color,
        background=plate,
    )


def cutout_file(
    image_path: PathLike,
    output_path: PathLike,
    *,
    segmenter: SegmenterSpec | None = None,
    family: str | None = None,
    refine: str | Matter | None = "closed_form",
    only_mask: bool = False,
    bg_color: str | tuple[float, float, float] | None = None,
    background: PathLike | None = None,
    save_trimap: PathLike | None = None,
    save_alpha: PathLike | None = None,
    save_foreground: PathLike | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Cut the subject out of one photo, with no trimap and no background plate, and save it.

    The pipeline is :func:`mattepaint.segmentation.cutout`: segment -> automatic trimap ->
    trimap matting on the unknown band -> foreground colour F (Germer et al. 2020).

    Inputs:
        image_path: an RGB(A) photo (alpha is dropped).
        output_path: the cut-out, RGBA ``(F, alpha)`` (.png / .tif / .webp); with ``only_mask``
            the matte alone (8-bit gray); with ``bg_color`` / ``background`` the composite
            ``alpha * F + (1 - alpha) * B`` (RGB, any image format).
        segmenter: a :class:`~mattepaint.segmentation.Segmenter`, a registered name, a
            trimap-free matting model file (.safetensors), an ONNX file (U2-Net family as rembg
            publishes it, MODNet), or None for the shipped default
            (:func:`mattepaint.segmentation.default_segmenter`).
        family: force the ONNX family of a segmenter file (``"u2net"``, ``"modnet"``).
        refine: the trimap matting method on the band (``"closed_form"``, ``"knn"``, a trimap
            :class:`~mattepaint.methods.Matter`), or None / ``"none"``: the segmenter's soft
            mask is the matte.
        only_mask: write the matte alone.
        bg_color: composite onto a colour: a name (``"white"``), ``"#rrggbb"``, an (r, g, b)
            tuple in [0, 1], or ``"checkerboard"``.
        background: composite onto this picture, scaled to cover the photo (aspect ratio kept,
            the middle cropped).
        save_trimap: also write the automatic trimap here (0 / 128 / 255; lossless format).
            Without refinement it is made from the soft mask with the default options.
        save_alpha: also write the matte here (8-bit gray).
        save_foreground: also write the foreground colour F here (RGB).
        overwrite: replace existing outputs.

    Outputs:
        ``{"output": path}`` plus ``"trimap"`` / ``"alpha"`` / ``"foreground"`` entries when
        asked for.

    Raises:
        InputError: no segmenter given and this install has no default (says to pass a
            segmenter file), a segmenter file that cannot be loaded, an unknown
            refine method or colour, conflicting options, an output name that cannot hold what
            goes there (e.g. RGBA to .jpg), an unreadable photo, a photo where the segmenter
            finds no subject. InputNotFoundError: an input is missing. OutputExistsError: an
            output exists and ``overwrite`` is False. In every case nothing is written.
    """
    _check_cutout_options(only_mask, bg_color, background)
    image_path = require_file(image_path, "image")
    background_path = None if background is None else require_file(background, "background")
    outputs = _cutout_outputs(
        output_path,
        only_mask=only_mask,
        composite=bg_color is not None or background is not None,
        trimap=save_trimap,
        alpha=save_alpha,
        foreground=save_foreground,
    )
    inputs = [p for p in (image_path, background_path) if p is not None]
    check_outputs(list(outputs.values()), inputs, overwrite)
    io.read_image_size(image_path, kind="image")  # the pixel limit, before the model loads
    matter, seg = _cutout_methods(refine, segmenter, family)
    with io.StagedOutputs(overwrite=overwrite) as staged:  # every output, or none
        written = _stage_cutout(
            staged, outputs, seg, matter, image_path, background_path, {}, only_mask, bg_color
        )
    return written


def cutout_folder(
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    segmenter: SegmenterSpec | None = None,
    family: str | None = None,
    refine: str | Matter | None = "closed_form",
    only_mask: bool = False,
    bg_color: str | tuple[float, float, float] | None = None,
    background: PathLike | None = None,
    save_trimap: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Path]]:
    """Cut the subject out of every photo of a folder (see :func:`cutout_file`).

    Inputs:
        input_dir: a folder of photos (``io.IMAGE_SUFFIXES``, not recursive).
        output_dir: created if needed; each result is ``output_dir/<stem>.png`` (RGBA; gray
            with ``only_mask``; RGB on a ``bg_color`` / ``background``).
        segmenter, family, refine, only_mask, bg_color: as in :func:`cutout_file`; the
            segmenter and the matting method are built once.
        background: one picture for every photo, or a folder of pictures matched by file stem;
            each is scaled to cover its photo.
        save_trimap: also write each automatic trimap to ``output_dir/<stem>_trimap.png``.
        overwrite: replace existing outputs.
        progress: draw a progress bar on stderr.

    Outputs:
        one dict per photo (sorted by name), as returned by :func:`cutout_file`.

    Raises (nothing is written when any is raised, even for a problem in the last photo):
        as :func:`cutout_file`; InputError for a folder without photos, photos without a
        background of the same stem, or two outputs with the same name.
    """
    _check_cutout_options(only_mask, bg_color, background)
    if not isinstance(save_trimap, bool):
        raise TypeError(
            f"save_trimap must be a bool in a folder (<stem>_trimap.png), got {save_trimap!r}"
        )
    images = input_images(input_dir)
    backgrounds = match_inputs(images, background, "background")
    output_dir = Path(output_dir)
    composite = bg_color is not None or background is not None
    outputs = {
        stem: _cutout_outputs(
            output_dir / f"{stem}.png",
            only_mask=only_mask,
            composite=composite,
            trimap=output_dir / f"{stem}_trimap.png" if save_trimap else None,
        )
        for stem in images
    }
    inputs = [*images.values(), *(backgrounds or {}).values()]
    check_outputs([p for out in outputs.values() for p in out.values()], inputs, overwrite)
    for path in images.values():  # the pixel limit, from the headers, before any work
        io.read_image_size(path, kind="image")
    matter, seg = _cutout_methods(refine, segmenter, family)

    written: list[dict[str, Path]] = []
    plates: dict[Path, np.ndarray] = {}  # one shared background is decoded once
    with io.StagedOutputs(overwrite=overwrite) as staged:  # all files appear at the end, or none
        for stem in track(images, "cutting out", total=len(images), enabled=progress):
            background_path = None if backgrounds is None else backgrounds[stem]
            written.append(
                _stage_cutout(
                    staged,
                    outputs[stem],
                    seg,
                    matter,
                    images[stem],
                    background_path,
                    plates,
                    only_mask,
                    bg_color,
                )
            )
    return written
