"""Matting over one file or a folder: :func:`matte_file`, :func:`matte_folder`."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from mattepaint import io
from mattepaint._progress import track
from mattepaint.batch.common import (
    PathLike,
    check_outputs,
    check_sizes,
    input_images,
    match_inputs,
    require_file,
)
from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.interface import check_trimap_regions
from mattepaint.methods import Matter, resolve_matter


def _resolve_matter(
    method: str | Matter | None,
    options: Mapping[str, object] | None,
    has_trimap: bool,
    has_background: bool,
) -> Matter:
    """Pick and build the matting method, and check that the inputs given are what it needs
    (:func:`mattepaint.methods.resolve_matter`)."""
    return resolve_matter(
        method, has_trimap=has_trimap, has_background=has_background, options=options
    )


@torch.no_grad()
def _matte_one(
    matter: Matter,
    image_path: Path,
    trimap_path: Path | None,
    background_path: Path | None,
    want_foreground: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Load, matte; return image (H, W, 3), alpha (H, W) and foreground (H, W, 3) or None.

    A trimap for a trimap method is checked first, naming the file
    (:func:`~mattepaint.interface.check_trimap_regions`): InputError without known foreground or
    background, a warning without unknown pixels (the method's own copy of it is silenced).
    """
    image = io.load_image(image_path)
    trimap_t = background_t = None
    if trimap_path is not None:
        trimap = io.load_trimap(trimap_path, like=image)  # (H, W) in {0, 0.5, 1}
        if getattr(matter, "needs", None) == "trimap":
            check_trimap_regions(trimap, f"trimap {trimap_path}")
        trimap_t = io.to_tensor(trimap)  # (1, 1, H, W)
    if background_path is not None:
        background = io.load_image(background_path)
        try:
            io.check_same_size(image, background, names=("image", "background"))
        except ValueError as exc:
            raise InputError(
                f"{exc} ({background_path}); give the background of this image"
            ) from None
        background_t = io.to_tensor(background)  # (1, 3, H, W)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".* has no unknown \(128\) pixels")
        result = matter(io.to_tensor(image), trimap=trimap_t, background=background_t)
    alpha = np.clip(io.to_numpy(result.alpha), 0.0, 1.0)  # (H, W)
    foreground = None
    if result.foreground is not None:
        foreground = np.clip(io.to_numpy(result.foreground), 0.0, 1.0)  # (H, W, 3)
    elif want_foreground:
        from mattepaint.compositing import estimate_foreground

        foreground = np.clip(np.asarray(estimate_foreground(image, alpha), np.float32), 0.0, 1.0)
    return image, alpha, foreground


def _save_matte(
    staged: io.StagedOutputs,
    image: np.ndarray,
    alpha: np.ndarray,
    foreground: np.ndarray | None,
    outputs: Mapping[str, Path],
) -> dict[str, Path]:
    """Stage the alpha (and foreground / cut-out, when asked for); they appear on commit."""
    written = {"alpha": staged.save_image(outputs["alpha"], alpha)}
    if "foreground" in outputs and foreground is not None:  # always set when asked for
        written["foreground"] = staged.save_image(outputs["foreground"], foreground)
    if "cutout" in outputs:
        from mattepaint.compositing import cutout

        rgba = cutout(image, alpha, foreground)  # (H, W, 4)
        written["cutout"] = staged.save_image(outputs["cutout"], rgba)
    return written


def _matte_outputs(
    alpha: PathLike, foreground: PathLike | None, cutout: PathLike | None
) -> dict[str, Path]:
    """The output names of one matte, each checked for what is written there (before any work):
    alpha gray, foreground RGB, cut-out RGBA (.png / .tif / .webp, not .jpg / .bmp)."""
    outputs = {"alpha": io.check_image_output(alpha, what="alpha matte", channels=1)}
    if foreground is not None:
        outputs["foreground"] = io.check_image_output(foreground, what="foreground", channels=3)
    if cutout is not None:
        outputs["cutout"] = io.check_image_output(cutout, what="cut-out", channels=4)
    return outputs


def matte_file(
    image_path: PathLike,
    alpha_path: PathLike,
    *,
    trimap: PathLike | None = None,
    background: PathLike | None = None,
    method: str | Matter | None = None,
    options: Mapping[str, object] | None = None,
    foreground_path: PathLike | None = None,
    cutout_path: PathLike | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Estimate the alpha matte of one image and save it (and optionally foreground and cutout).

    Inputs:
        image_path: an RGB(A) image (alpha is dropped).
        alpha_path: where to write the alpha matte, 8-bit gray (0 = background, 255 = foreground).
        trimap: a trimap file of the same size (0 / 128 / 255), for trimap-based methods.
        background: a photo of the same scene without the subject, for background methods.
        method: a registered matting method name, a checkpoint / ONNX file (a ``Path``), a built
            :class:`~mattepaint.methods.Matter` (:func:`mattepaint.methods.resolve_matter`), or
            None to choose by input (:func:`mattepaint.methods.auto_matter`: the best shipped
            model for it, :data:`mattepaint.methods.AUTO_MATTERS_FOR`, else ``"cf_knn_sm"`` with
            a trimap and ``"background_difference"`` with a background).
        options: keyword options of the method (only with a method name).
        foreground_path: where to write the foreground colour F (RGB); the method's own estimate
            when it gives one, else ``compositing.estimate_foreground`` (multilevel, Germer 2020).
        cutout_path: where to write the cut-out, RGBA = (F, alpha).
        overwrite: replace existing outputs.

    Outputs:
        ``{"alpha": path}`` plus ``"foreground"`` / ``"cutout"`` entries when those were asked for.

    Raises:
        InputError: both or neither of trimap / background without a method, inputs that do not
        match what the method needs, sizes that differ, unknown method, an output name that
        cannot hold what goes there (e.g. a cut-out to .jpg), an unreadable or truncated file, a
        trimap with bad values or without known foreground / background. InputNotFoundError: an
        input is missing. OutputExistsError: an output exists and ``overwrite`` is False. In every
        case no output is written (they appear together at the end).
    """
    image_path = require_file(image_path, "image")
    trimap_path = None if trimap is None else require_file(trimap, "trimap")
    background_path = None if background is None else require_file(background, "background")
    outputs = _matte_outputs(alpha_path, foreground_path, cutout_path)
    inputs = [p for p in (image_path, trimap_path, background_path) if p is not None]
    check_outputs(list(outputs.values()), inputs, overwrite)
    matter = _resolve_matter(method, options, trimap_path is not None, background_path is not None)
    check_sizes(
        (image_path, other, what)
        for other, what in ((trimap_path, "trimap"), (background_path, "background"))
        if other is not None
    )
    want_foreground = len(outputs) > 1
    with io.StagedOutputs(overwrite=overwrite) as staged:  # alpha, foreground, cut-out: all or none
        image, alpha, foreground = _matte_one(
            matter, image_path, trimap_path, background_path, want_foreground
        )
        written = _save_matte(staged, image, alpha, foreground, outputs)
    return written


def matte_folder(
    input_dir: PathLike,
    output_dir: PathLike,
    *,
    trimap_dir: PathLike | None = None,
    background: PathLike | None = None,
    method: str | Matter | None = None,
    options: Mapping[str, object] | None = None,
    save_foreground: bool = False,
    save_cutout: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> list[dict[str, Path]]:
    """Estimate the alpha matte of every image of a folder.

    Inputs:
        input_dir: a folder of images.
        output_dir: created if needed; writes ``<stem>.png`` (alpha), ``<stem>_fg.png`` (with
            ``save_foreground``), ``<stem>_cutout.png`` (RGBA, with ``save_cutout``).
        trimap_dir: a folder of trimaps matched to the images by file stem.
        background: a folder of background photos matched by stem, or one file for all images.
        method, options: as in :func:`matte_file`; the method is built once.
        save_foreground, save_cutout: also write the foreground colour / the RGBA cut-out.
        overwrite: replace existing outputs.
        progress: draw a progress bar on stderr.

    Outputs:
        one dict per image (sorted by name), as returned by :func:`matte_file`.

    Raises (all before anything is written): as :func:`matte_file`; a missing trimap or
    background for some images is a ValueError listing up to five stems.
    """
    images = input_images(input_dir)
    if trimap_dir is not None and not Path(trimap_dir).is_dir():
        if Path(trimap_dir).exists():
            raise InputError(f"trimap_dir must be a folder of trimaps, got the file {trimap_dir}")
        raise InputNotFoundError(f"trimap folder not found: {trimap_dir}")
    trimaps = match_inputs(images, trimap_dir, "trimap")
    backgrounds = match_inputs(images, background, "background")
    output_dir = Path(output_dir)
    outputs: dict[str, dict[str, Path]] = {}
    for stem in images:
        outputs[stem] = _matte_outputs(
            output_dir / f"{stem}.png",
            output_dir / f"{stem}_fg.png" if save_foreground else None,
            output_dir / f"{stem}_cutout.png" if save_cutout else None,
        )
    inputs = [*images.values(), *(trimaps or {}).values(), *(backgrounds or {}).values()]
    check_outputs([p for out in outputs.values() for p in out.values()], inputs, overwrite)
    matter = _resolve_matter(method, options, trimaps is not None, backgrounds is not None)
    pairs: list[tuple[Path, Path, str]] = []
    for stem, image_path in images.items():
        if trimaps is not None:
            pairs.append((image_path, trimaps[stem], "trimap"))
        if backgrounds is not None:
            pairs.append((image_path, backgrounds[stem], "background"))
    check_sizes(pairs)

    written: list[dict[str, Path]] = []
    with io.StagedOutputs(overwrite=overwrite) as staged:  # all files appear at the end, or none
        for stem in track(images, "matting", total=len(images), enabled=progress):
            image, alpha, foreground = _matte_one(
                matter,
                images[stem],
                None if trimaps is None else trimaps[stem],
                None if backgrounds is None else backgrounds[stem],
                save_foreground or save_cutout,
            )
            written.append(_save_matte(staged, image, alpha, foreground, outputs[stem]))
    return written
