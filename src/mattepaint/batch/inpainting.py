"""Inpainting over one file or a folder: :func:`inpaint_file`, :func:`inpaint_folder`."""

from __future__ import annotations

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
from mattepaint.errors import InputError
from mattepaint.interface import check_hole_coverage
from mattepaint.methods import Inpainter, resolve_inpainter


def _build_inpainter(method: str | Inpainter, options: Mapping[str, object] | None) -> Inpainter:
    """The method to run (:func:`mattepaint.methods.resolve_inpainter`)."""
    return resolve_inpainter(method, options=options)


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
    image_path = require_file(image_path, "image")
    mask_path = require_file(mask_path, "mask")
    output_path = io.check_image_output(output_path, what="inpainted image")
    outputs = [output_path]
    if attention_path is not None:
        outputs.append(io.check_image_output(attention_path, what="attention map"))
    check_outputs(outputs, [image_path, mask_path], overwrite)
    check_sizes([(image_path, mask_path, "mask")])
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
    images = input_images(input_dir)
    masks = match_inputs(images, mask, "mask") or {}
    output_dir = Path(output_dir)
    outputs = {
        stem: io.check_image_output(output_dir / f"{stem}.png", what="inpainted image")
        for stem in images
    }
    check_outputs(list(outputs.values()), [*images.values(), *masks.values()], overwrite)
    check_sizes((images[stem], masks[stem], "mask") for stem in images)
    inpainter = _build_inpainter(method, options)

    with io.StagedOutputs(overwrite=overwrite) as staged:  # all files appear at the end, or none
        for stem in track(images, "inpainting", total=len(images), enabled=progress):
            filled = _inpaint_one(inpainter, images[stem], masks[stem])
            staged.save_image(outputs[stem], filled)
    return list(outputs.values())
