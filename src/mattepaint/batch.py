"""Run an inpainting or matting method over one file or a whole folder.

Library functions that the ``mattepaint`` CLI wraps one to one. They work through the shared
method interface (:mod:`mattepaint.methods`), so a classical method and a trained model are run
the same way, and through :mod:`mattepaint.io`, so an existing output is never overwritten unless
``overwrite=True``.

All or nothing. Before any work, every name is checked: missing files, images without a matching
mask / trimap / background (matched by file stem), sizes and pixel counts that do not agree or
are too large (read from the file headers), every output name (its suffix suits what is written
there, e.g. an RGBA cut-out needs .png / .tif / .webp; it is not a folder and lies in no file;
it does not exist yet). Then every input is decoded in full and run; all outputs are written to
temporary files beside their targets (:class:`mattepaint.io.StagedOutputs`) and renamed into
place only when every input has gone through. So a problem found only in the pixels (a truncated
JPEG whose header is intact, a trimap with bad values, a mask that covers the whole image) or a
failure of the method, even in the last file, leaves no output written and existing files
unchanged, and the same command works once the file is fixed.

A user mistake raises :class:`~mattepaint.errors.InputError` (or its kin
:class:`~mattepaint.errors.InputNotFoundError`, :class:`~mattepaint.errors.OutputExistsError`)
with one sentence that names the file and what to do.

Output names:

- inpainting: ``OUT/<image stem>.png``;
- matting: ``OUT/<stem>.png`` (alpha, 8-bit gray), ``OUT/<stem>_fg.png`` (foreground colour, RGB),
  ``OUT/<stem>_cutout.png`` (image colour with alpha, RGBA).
- cut-out (:func:`cutout_folder`): ``OUT/<stem>.png`` (RGBA; gray with ``only_mask``, RGB on a
  ``bg_color`` / ``background``), ``OUT/<stem>_trimap.png`` (the automatic trimap, with
  ``save_trimap``).

Example:
    >>> from mattepaint.batch import inpaint_folder
    >>> inpaint_folder("photos", "holes", "filled", method="telea")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from mattepaint import io
from mattepaint._progress import track
from mattepaint.errors import InputError, InputNotFoundError, OutputExistsError
from mattepaint.interface import check_hole_coverage, check_trimap_regions
from mattepaint.methods import Inpainter, Matter, resolve_inpainter, resolve_matter

if TYPE_CHECKING:
    from mattepaint.segmentation import Segmenter, SegmenterSpec

__all__ = [
    "cutout_file",
    "cutout_folder",
    "inpaint_file",
    "inpaint_folder",
    "matte_file",
    "matte_folder",
]

PathLike = str | Path


# --------------------------------------------------------------------------- helpers


def _require_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputNotFoundError(f"{what} {path} is a directory; give an image file")
    if not path.is_file():
        raise InputNotFoundError(f"{what} not found: {path}")
    return path


def _input_images(input_dir: PathLike) -> dict[str, Path]:
    """The images of a folder by stem (:func:`mattepaint.io.images_by_stem`); InputError when
    there are none."""
    images = io.images_by_stem(input_dir, "input")
    if not images:
        raise InputError(f"no images ({', '.join(io.IMAGE_SUFFIXES)}) found in {input_dir}")
    return images


def _match(stems: Iterable[str], source: PathLike | None, what: str) -> dict[str, Path] | None:
    """Map every stem to a file of ``source``: a folder (matched by stem) or one file for all.

    Raises InputError listing (up to five) stems that have no match in the folder.
    """
    if source is None:
        return None
    source = Path(source)
    stems = list(stems)
    if source.is_dir():
        fix = f"add a {what} with the same name for each"
        by_stem = io.match_by_stem(stems, source, what, fix=fix)
        return {stem: by_stem[stem] for stem in stems}
    _require_file(source, what)
    return {stem: source for stem in stems}


def _check_outputs(outputs: Sequence[Path], inputs: Iterable[Path], overwrite: bool) -> None:
    """Outputs must be distinct, must not be one of the inputs, and must not exist (unless
    ``overwrite``)."""
    resolved = [path.resolve() for path in outputs]
    if len(set(resolved)) != len(resolved):
        counts: dict[Path, int] = {}
        for path in resolved:
            counts[path] = counts.get(path, 0) + 1
        clashes = [str(path) for path, n in counts.items() if n > 1]
        raise InputError(
            f"several results would be written to the same file: {io.short_listing(clashes)}; "
            f"give each output its own name"
        )
    input_set = {path.resolve() for path in inputs}
    clobbered = [str(path) for path in resolved if path in input_set]
    if clobbered:
        raise InputError(
            f"an output would replace an input file: {io.short_listing(clobbered)}; write the "
            f"results elsewhere"
        )
    if not overwrite:
        existing = [str(path) for path in outputs if path.exists()]
        if existing:
            raise OutputExistsError(
                f"{len(existing)} output file(s) already exist (pass overwrite=True, or "
                f"--overwrite on the command line, to replace them): {io.short_listing(existing)}"
            )


def _check_sizes(pairs: Iterable[tuple[Path, Path, str]]) -> None:
    """Every (image, other, what) pair must have the same size, read from the headers
    (:func:`mattepaint.io.read_image_size`, which also applies the pixel limit)."""
    sizes: dict[tuple[Path, str], tuple[int, int]] = {}  # a shared mask is read once

    def size(path: Path, kind: str) -> tuple[int, int]:
        if (path, kind) not in sizes:
            sizes[path, kind] = io.read_image_size(path, kind=kind)
        return sizes[path, kind]

    bad: list[str] = []
    kinds: list[str] = []
    for image_path, other_path, what in pairs:
        size_a, size_b = size(image_path, "image"), size(other_path, what)
        if size_a != size_b:
            kinds.append(what)
            bad.append(
                f"{image_path.name} is {size_a[1]}x{size_a[0]} but its {what} "
                f"{other_path.name} is {size_b[1]}x{size_b[0]}"
            )
    if bad:
        raise InputError(
            f"sizes do not match (width x height): {io.short_listing(bad)}; give each image the "
            f"{kinds[0]} made for it"
        )


def _build_inpainter(method: str | Inpainter, options: Mapping[str, object] | None) -> Inpainter:
    """The method to run (:func:`mattepaint.methods.resolve_inpainter`)."""
    return resolve_inpainter(method, options=options)


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


def _load_inpaint_pair(image_path: Path, mask_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode image (H, W, 3) and mask (H, W) bool in full, and check the hole.

    InputError for a mask that covers the whole image (nothing to fill from); a warning that
    names the mask when it has no hole.
    """
    image = io.load_image(image_path)
    mask = io.load_mask(mask_path, like=image)
    check_hole_coverage(mask, f"mask {mask_path}")
    return image, mask


@torch.no_grad()
def _inpaint_one(inpainter: Inpainter, image_path: Path, mask_path: Path) -> np.ndarray:
    """Load, fill, return the (H, W, 3) float32 result in [0, 1] (the image for an empty mask,
    without running the method: its warning has been given, naming the mask)."""
    image, mask = _load_inpaint_pair(image_path, mask_path)
    if not mask.any():
        return image
    image_t = io.to_tensor(image)  # (1, 3, H, W)
    mask_t = io.to_tensor(mask.astype(np.float32))  # (1, 1, H, W), 1 = hole
    filled = inpainter(image_t, mask_t)  # (1, 3, H, W)
    return np.clip(io.to_numpy(filled), 0.0, 1.0)


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


# --------------------------------------------------------------------------- inpainting


def inpaint_file(
    image_path: PathLike,
    mask_path: PathLike,
    output_path: PathLike,
    *,
    method: str | Inpainter = "auto",
    options: Mapping[str, object] | None = None,
    overwrite: bool = False,
    attention_path: PathLike | None = None,
) -> Path:
    """Fill the holes of one image and save the result.

    Inputs:
        image_path: an RGB(A) image (alpha is dropped).
        mask_path: a mask of the same size, white (> 127) = hole.
        output_path: where to write the filled image (8-bit; PNG recommended).
        method: a registered inpainting method name (see ``methods.inpainter_names()``), a
            checkpoint / ONNX file (a ``Path``), or an already built
            :class:`~mattepaint.methods.Inpainter` (:func:`mattepaint.methods.resolve_inpainter`).
        options: keyword options of the method (only with a method name), e.g. ``{"radius": 5}``.
        overwrite: replace ``output_path`` (and ``attention_path``) if it exists.
        attention_path: also write the colour-coded contextual-attention map here (seed 002
            Fig. 5); only for a model with contextual attention (a deepfill_v1 checkpoint
            loaded with :func:`mattepaint.models.loading.load_inpainter`).

    Outputs:
        the path written. Outside the hole the output equals the input (up to 8-bit rounding).

    Raises:
        InputNotFoundError: image or mask missing. OutputExistsError: output exists. InputError:
        sizes differ, unknown method, bad options, an unreadable or truncated file, a mask that
        covers the whole image (nothing to fill from). No output is written in any case.
    """
    image_path = _require_file(image_path, "image")
    mask_path = _require_file(mask_path, "mask")
    output_path = io.check_image_output(output_path, what="inpainted image")
    outputs = [output_path]
    if attention_path is not None:
        outputs.append(io.check_image_output(attention_path, what="attention map"))
    _check_outputs(outputs, [image_path, mask_path], overwrite)
    _check_sizes([(image_path, mask_path, "mask")])
    inpainter = _build_inpainter(method, options)
    if attention_path is not None and not getattr(inpainter, "has_attention", False):
        raise InputError(  # before any work: a model without attention cannot draw the map
            f"an attention map needs a model with contextual attention (e.g. a deepfill_v1 "
            f"checkpoint), not {getattr(inpainter, 'name', inpainter)!r}"
        )
    with io.StagedOutputs(overwrite=overwrite) as staged:  # both files, or neither
        if attention_path is not None:
            image, mask = _load_inpaint_pair(image_path, mask_path)
            filled_t, picture = inpainter.fill_with_attention(
                io.to_tensor(image), io.to_tensor(mask.astype(np.float32))
            )  # one forward pass for both
            filled = np.clip(io.to_numpy(filled_t), 0.0, 1.0)
            staged.save_image(attention_path, picture.astype(np.float32) / 255)
        else:
            filled = _inpaint_one(inpainter, image_path, mask_path)
        staged.save_image(output_path, filled)
    return output_path


def inpaint_folder(
    input_dir: PathLike,
    mask: PathLike,
    output_dir: PathLike,
    *,
    method: str | Inpainter = "auto",
    options: Mapping[str, object] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Fill the holes of every image of a folder.

    Inputs:
        input_dir: a folder of images (``io.IMAGE_SUFFIXES``, not recursive).
        mask: a folder of masks matched to the images by file stem (``a.jpg`` <- ``a.png``), or one
            mask file used for every image. White (> 127) = hole.
        output_dir: created if needed; each result is ``output_dir/<image stem>.png``.
        method, options: as in :func:`inpaint_file`; the method is built once.
        overwrite: replace existing outputs.
        progress: draw a progress bar on stderr.

    Outputs:
        the written paths, in the (sorted) order of the input images.

    Raises (nothing is written when any is raised; see the module doc):
        InputNotFoundError: a folder or the mask file is missing. InputError: no images, images
        without a mask (the message lists up to five stems), sizes that differ, an unreadable or
        truncated file, a mask that covers its whole image, an unknown method.
        OutputExistsError: some outputs exist and ``overwrite`` is False.
    """
    images = _input_images(input_dir)
    masks = _match(images, mask, "mask") or {}
    output_dir = Path(output_dir)
    outputs = {
        stem: io.check_image_output(output_dir / f"{stem}.png", what="inpainted image")
        for stem in images
    }
    _check_outputs(list(outputs.values()), [*images.values(), *masks.values()], overwrite)
    _check_sizes((images[stem], masks[stem], "mask") for stem in images)
    inpainter = _build_inpainter(method, options)

    with io.StagedOutputs(overwrite=overwrite) as staged:  # all files appear at the end, or none
        for stem in track(images, "inpainting", total=len(images), enabled=progress):
            filled = _inpaint_one(inpainter, images[stem], masks[stem])
            staged.save_image(outputs[stem], filled)
    return list(outputs.values())


# --------------------------------------------------------------------------- matting


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
    image_path = _require_file(image_path, "image")
    trimap_path = None if trimap is None else _require_file(trimap, "trimap")
    background_path = None if background is None else _require_file(background, "background")
    outputs = _matte_outputs(alpha_path, foreground_path, cutout_path)
    inputs = [p for p in (image_path, trimap_path, background_path) if p is not None]
    _check_outputs(list(outputs.values()), inputs, overwrite)
    matter = _resolve_matter(method, options, trimap_path is not None, background_path is not None)
    _check_sizes(
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
    images = _input_images(input_dir)
    if trimap_dir is not None and not Path(trimap_dir).is_dir():
        if Path(trimap_dir).exists():
            raise InputError(f"trimap_dir must be a folder of trimaps, got the file {trimap_dir}")
        raise InputNotFoundError(f"trimap folder not found: {trimap_dir}")
    trimaps = _match(images, trimap_dir, "trimap")
    backgrounds = _match(images, background, "background")
    output_dir = Path(output_dir)
    outputs: dict[str, dict[str, Path]] = {}
    for stem in images:
        outputs[stem] = _matte_outputs(
            output_dir / f"{stem}.png",
            output_dir / f"{stem}_fg.png" if save_foreground else None,
            output_dir / f"{stem}_cutout.png" if save_cutout else None,
        )
    inputs = [*images.values(), *(trimaps or {}).values(), *(backgrounds or {}).values()]
    _check_outputs([p for out in outputs.values() for p in out.values()], inputs, overwrite)
    matter = _resolve_matter(method, options, trimaps is not None, backgrounds is not None)
    pairs: list[tuple[Path, Path, str]] = []
    for stem, image_path in images.items():
        if trimaps is not None:
            pairs.append((image_path, trimaps[stem], "trimap"))
        if backgrounds is not None:
            pairs.append((image_path, backgrounds[stem], "background"))
    _check_sizes(pairs)

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


# --------------------------------------------------------------------------- cut-out
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
    image_path = _require_file(image_path, "image")
    background_path = None if background is None else _require_file(background, "background")
    outputs = _cutout_outputs(
        output_path,
        only_mask=only_mask,
        composite=bg_color is not None or background is not None,
        trimap=save_trimap,
        alpha=save_alpha,
        foreground=save_foreground,
    )
    inputs = [p for p in (image_path, background_path) if p is not None]
    _check_outputs(list(outputs.values()), inputs, overwrite)
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
    images = _input_images(input_dir)
    backgrounds = _match(images, background, "background")
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
    _check_outputs([p for out in outputs.values() for p in out.values()], inputs, overwrite)
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
