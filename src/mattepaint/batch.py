"""Run an inpainting or matting method over one file or a whole folder.

Library functions that the ``mattepaint`` CLI wraps one to one. They work through the shared
method interface (:mod:`mattepaint.methods`), so a classical method and a trained model are run
the same way, and through :mod:`mattepaint.io`, so every output is written atomically (a temp name
renamed on success) and an existing output is never overwritten unless ``overwrite=True``.

Every input is checked before the first output is written: missing files, images without a
matching mask / trimap / background (matched by file stem), sizes that do not agree (read from the
file headers), outputs that already exist. A user mistake raises FileNotFoundError, ValueError or
FileExistsError with one sentence saying what is wrong.

Output names:

- inpainting: ``OUT/<image stem>.png``;
- matting: ``OUT/<stem>.png`` (alpha, 8-bit gray), ``OUT/<stem>_fg.png`` (foreground colour, RGB),
  ``OUT/<stem>_cutout.png`` (image colour with alpha, RGBA).

Example:
    >>> from mattepaint.batch import inpaint_folder
    >>> inpaint_folder("photos", "holes", "filled", method="telea")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from mattepaint import io
from mattepaint._progress import track
from mattepaint.methods import Inpainter, Matter, get_inpainter, get_matter

__all__ = [
    "DEFAULT_MATTER_FOR",
    "inpaint_file",
    "inpaint_folder",
    "matte_file",
    "matte_folder",
]

PathLike = str | Path

#: The matting method chosen when ``method`` is None, by the input that was given.
DEFAULT_MATTER_FOR: dict[str, str] = {
    "trimap": "closed_form",
    "background": "background_difference",
}



# --------------------------------------------------------------------------- helpers


def _require_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _match(
    stems: Iterable[str], source: PathLike | None, what: str
) -> dict[str, Path] | None:
    """Map every stem to a file of ``source``: a folder (matched by stem) or one file for all.

    Raises ValueError listing (up to five) stems that have no match in the folder.
    """
    if source is None:
        return None
    source = Path(source)
    stems = list(stems)
    if source.is_dir():
        by_stem = io.images_by_stem(source, what)
        missing = [stem for stem in stems if stem not in by_stem]
        if missing:
            raise ValueError(
                f"{len(missing)} image(s) have no {what} of the same name in {source}: "
                f"{io.short_listing(missing)}"
            )
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
        raise ValueError(
            f"several results would be written to the same file: {io.short_listing(clashes)}"
        )
    input_set = {path.resolve() for path in inputs}
    clobbered = [str(path) for path in resolved if path in input_set]
    if clobbered:
        raise ValueError(f"an output would replace an input file: {io.short_listing(clobbered)}")
    if not overwrite:
        existing = [str(path) for path in outputs if path.exists()]
        if existing:
            raise FileExistsError(
                f"{len(existing)} output file(s) already exist (pass overwrite=True, or "
                f"--overwrite on the command line, to replace them): {io.short_listing(existing)}"
            )


def _header_size(path: Path) -> tuple[int, int] | None:
    """(H, W) of an image read from its header, after EXIF rotation.

    When PIL cannot read the header, the file is decoded in full with the project's loader, which
    either succeeds (a format only OpenCV/tifffile reads) or raises the clear "cannot read image"
    error now, before any output is written.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:
            width, height = img.size
            orientation = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - PIL cannot tell: let the real loader decide
        return io.load_rgba(path)[0].shape[:2]
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: width and height swap
        width, height = height, width
    return height, width


def _check_sizes(pairs: Iterable[tuple[Path, Path, str]]) -> None:
    """Every (image, other, what) pair must have the same size, read from the headers."""
    bad: list[str] = []
    for image_path, other_path, what in pairs:
        size_a, size_b = _header_size(image_path), _header_size(other_path)
        if size_a is not None and size_b is not None and size_a != size_b:
            bad.append(
                f"{image_path.name} is {size_a[1]}x{size_a[0]} but its {what} "
                f"{other_path.name} is {size_b[1]}x{size_b[0]}"
            )
    if bad:
        raise ValueError(f"sizes do not match (width x height): {io.short_listing(bad)}")


def _build_inpainter(method: str | Inpainter, options: Mapping[str, object] | None) -> Inpainter:
    if isinstance(method, str):
        return get_inpainter(method, **dict(options or {}))
    if not callable(method):
        raise TypeError(
            f"method must be a method name or an Inpainter, got {type(method).__name__}"
        )
    if options:
        raise ValueError("options can only be given with a method name, not with a built method")
    return method


def _resolve_matter(
    method: str | Matter | None,
    options: Mapping[str, object] | None,
    has_trimap: bool,
    has_background: bool,
) -> Matter:
    """Pick and build the matting method, and check that the inputs given are what it needs."""
    if method is None:
        if has_trimap and has_background:
            raise ValueError(
                "give a trimap or a background, not both, or name the method to use"
            )
        if not has_trimap and not has_background:
            raise ValueError(
                "give a trimap or a background (or name a method that needs neither)"
            )
        method = DEFAULT_MATTER_FOR["trimap" if has_trimap else "background"]
    if isinstance(method, str):
        matter = get_matter(method, **dict(options or {}))
    else:
        if not callable(method):
            raise TypeError(
                f"method must be a method name or a Matter, got {type(method).__name__}"
            )
        if options:
            raise ValueError(
                "options can only be given with a method name, not with a built method"
            )
        matter = method
    needs = getattr(matter, "needs", None)
    name = getattr(matter, "name", str(method))
    if needs == "trimap":
        if not has_trimap:
            raise ValueError(f"matting method {name!r} needs a trimap, and none was given")
        if has_background:
            raise ValueError(f"matting method {name!r} uses a trimap, not a background")
    elif needs == "background":
        if not has_background:
            raise ValueError(
                f"matting method {name!r} needs a background image, and none was given"
            )
        if has_trimap:
            raise ValueError(f"matting method {name!r} uses a background image, not a trimap")
    elif needs != "nothing":
        raise ValueError(
            f"matting method {name!r} has needs={needs!r}; expected 'trimap', 'background' or "
            "'nothing'"
        )
    return matter


@torch.no_grad()
def _inpaint_one(inpainter: Inpainter, image_path: Path, mask_path: Path) -> np.ndarray:
    """Load, fill, return the (H, W, 3) float32 result in [0, 1]."""
    image = io.load_image(image_path)
    mask = io.load_mask(mask_path, like=image)
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
    """Load, matte; return image (H, W, 3), alpha (H, W) and foreground (H, W, 3) or None."""
    image = io.load_image(image_path)
    trimap_t = background_t = None
    if trimap_path is not None:
        trimap_t = io.to_tensor(io.load_trimap(trimap_path, like=image))  # (1, 1, H, W)
    if background_path is not None:
        background = io.load_image(background_path)
        io.check_same_size(image, background, names=("image", "background"))
        background_t = io.to_tensor(background)  # (1, 3, H, W)
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
    image: np.ndarray,
    alpha: np.ndarray,
    foreground: np.ndarray | None,
    outputs: Mapping[str, Path],
    overwrite: bool,
) -> dict[str, Path]:
    written = {"alpha": io.save_image(outputs["alpha"], alpha, overwrite=overwrite)}
    if "foreground" in outputs and foreground is not None:  # always set when asked for
        written["foreground"] = io.save_image(
            outputs["foreground"], foreground, overwrite=overwrite
        )
    if "cutout" in outputs:
        from mattepaint.compositing import cutout

        rgba = cutout(image, alpha, foreground)  # (H, W, 4)
        written["cutout"] = io.save_image(outputs["cutout"], rgba, overwrite=overwrite)
    return written


# --------------------------------------------------------------------------- inpainting


def inpaint_file(
    image_path: PathLike,
    mask_path: PathLike,
    output_path: PathLike,
    *,
    method: str | Inpainter = "telea",
    options: Mapping[str, object] | None = None,
    overwrite: bool = False,
    attention_path: PathLike | None = None,
) -> Path:
    """Fill the holes of one image and save the result.

    Inputs:
        image_path: an RGB(A) image (alpha is dropped).
        mask_path: a mask of the same size, white (> 127) = hole.
        output_path: where to write the filled image (8-bit; PNG recommended).
        method: a registered inpainting method name (see ``methods.inpainter_names()``), or an
            already built :class:`~mattepaint.methods.Inpainter`.
        options: keyword options of the method (only with a method name), e.g. ``{"radius": 5}``.
        overwrite: replace ``output_path`` (and ``attention_path``) if it exists.
        attention_path: also write the colour-coded contextual-attention map here (seed 002
            Fig. 5); only for a model with contextual attention (a deepfill_v1 checkpoint
            loaded with :func:`mattepaint.models.loading.load_inpainter`).

    Outputs:
        the path written. Outside the hole the output equals the input (up to 8-bit rounding).

    Raises:
        FileNotFoundError: image or mask missing. FileExistsError: output exists. ValueError:
        sizes differ, unknown method, bad options, unreadable file.
    """
    image_path = _require_file(image_path, "image")
    mask_path = _require_file(mask_path, "mask")
    output_path = Path(output_path)
    outputs = [output_path] + ([Path(attention_path)] if attention_path is not None else [])
    _check_outputs(outputs, [image_path, mask_path], overwrite)
    _check_sizes([(image_path, mask_path, "mask")])
    inpainter = _build_inpainter(method, options)
    picture = None
    if attention_path is not None:  # before writing anything: a model without attention fails
        if not getattr(inpainter, "has_attention", False):
            raise ValueError(
                f"an attention map needs a model with contextual attention (e.g. a deepfill_v1 "
                f"checkpoint), not {getattr(inpainter, 'name', inpainter)!r}"
            )
        image = io.load_image(image_path)
        mask = io.load_mask(mask_path, like=image).astype(np.float32)
        filled_t, picture = inpainter.fill_with_attention(io.to_tensor(image), io.to_tensor(mask))
        filled = np.clip(io.to_numpy(filled_t), 0.0, 1.0)  # one forward pass for both
    else:
        filled = _inpaint_one(inpainter, image_path, mask_path)
    written = io.save_image(output_path, filled, overwrite=overwrite)
    if picture is not None:
        io.save_image(Path(attention_path), picture.astype(np.float32) / 255, overwrite=overwrite)
    return written


def inpaint_folder(
    input_dir: PathLike,
    mask: PathLike,
    output_dir: PathLike,
    *,
    method: str | Inpainter = "telea",
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

    Raises (all before anything is written):
        FileNotFoundError: a folder or the mask file is missing. ValueError: no images, images
        without a mask (the message lists up to five stems), sizes that differ, unknown method.
        FileExistsError: some outputs exist and ``overwrite`` is False.
    """
    images = io.images_by_stem(input_dir, "input")
    if not images:
        raise ValueError(f"no images ({', '.join(io.IMAGE_SUFFIXES)}) found in {input_dir}")
    masks = _match(images, mask, "mask") or {}
    output_dir = Path(output_dir)
    outputs = {stem: output_dir / f"{stem}.png" for stem in images}
    _check_outputs(list(outputs.values()), [*images.values(), *masks.values()], overwrite)
    _check_sizes((images[stem], masks[stem], "mask") for stem in images)
    inpainter = _build_inpainter(method, options)

    output_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem in track(images, "inpainting", total=len(images), enabled=progress):
        filled = _inpaint_one(inpainter, images[stem], masks[stem])
        written.append(io.save_image(outputs[stem], filled, overwrite=overwrite))
    return written


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
        method: a registered matting method name, a built :class:`~mattepaint.methods.Matter`, or
            None to choose by input: ``"closed_form"`` with a trimap, ``"background_difference"``
            with a background (:data:`DEFAULT_MATTER_FOR`).
        options: keyword options of the method (only with a method name).
        foreground_path: where to write the foreground colour F (RGB); the method's own estimate
            when it gives one, else ``compositing.estimate_foreground`` (multilevel, Germer 2020).
        cutout_path: where to write the cut-out, RGBA = (F, alpha).
        overwrite: replace existing outputs.

    Outputs:
        ``{"alpha": path}`` plus ``"foreground"`` / ``"cutout"`` entries when those were asked for.

    Raises:
        ValueError: both or neither of trimap / background without a method, inputs that do not
        match what the method needs, sizes that differ, unknown method. FileNotFoundError: an input
        is missing. FileExistsError: an output exists and ``overwrite`` is False.
    """
    image_path = _require_file(image_path, "image")
    trimap_path = None if trimap is None else _require_file(trimap, "trimap")
    background_path = None if background is None else _require_file(background, "background")
    outputs = {"alpha": Path(alpha_path)}
    if foreground_path is not None:
        outputs["foreground"] = Path(foreground_path)
    if cutout_path is not None:
        outputs["cutout"] = Path(cutout_path)
    inputs = [p for p in (image_path, trimap_path, background_path) if p is not None]
    _check_outputs(list(outputs.values()), inputs, overwrite)
    matter = _resolve_matter(method, options, trimap_path is not None, background_path is not None)
    _check_sizes(
        (image_path, other, what)
        for other, what in ((trimap_path, "trimap"), (background_path, "background"))
        if other is not None
    )
    want_foreground = len(outputs) > 1
    image, alpha, foreground = _matte_one(
        matter, image_path, trimap_path, background_path, want_foreground
    )
    return _save_matte(image, alpha, foreground, outputs, overwrite)


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
    images = io.images_by_stem(input_dir, "input")
    if not images:
        raise ValueError(f"no images ({', '.join(io.IMAGE_SUFFIXES)}) found in {input_dir}")
    if trimap_dir is not None and not Path(trimap_dir).is_dir():
        if Path(trimap_dir).exists():
            raise ValueError(f"trimap_dir must be a folder of trimaps, got the file {trimap_dir}")
        raise FileNotFoundError(f"trimap folder not found: {trimap_dir}")
    trimaps = _match(images, trimap_dir, "trimap")
    backgrounds = _match(images, background, "background")
    output_dir = Path(output_dir)
    outputs: dict[str, dict[str, Path]] = {}
    for stem in images:
        outputs[stem] = {"alpha": output_dir / f"{stem}.png"}
        if save_foreground:
            outputs[stem]["foreground"] = output_dir / f"{stem}_fg.png"
        if save_cutout:
            outputs[stem]["cutout"] = output_dir / f"{stem}_cutout.png"
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

    output_dir.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Path]] = []
    for stem in track(images, "matting", total=len(images), enabled=progress):
        image, alpha, foreground = _matte_one(
            matter,
            images[stem],
            None if trimaps is None else trimaps[stem],
            None if backgrounds is None else backgrounds[stem],
            save_foreground or save_cutout,
        )
        written.append(_save_matte(image, alpha, foreground, outputs[stem], overwrite))
    return written
