"""``mattepaint inpaint``: fill the holes of one image (:func:`mattepaint.batch.inpaint_file`) or
of a folder of images (:func:`mattepaint.batch.inpaint_folder`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mattepaint.cli.common import (
    PROG,
    UsageError,
    add_batch_folders,
    add_command,
    add_common,
    add_method_flags,
    forbid,
    inpaint_method,
    is_batch,
    paths_summary,
    positive_int,
    progress,
    require,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``inpaint`` sub-command and its flags."""
    p = add_command(
        commands,
        "inpaint",
        run,
        help="fill the holes of an image (or of a folder of images)",
        description=(
            "Fill the masked holes (white = hole) of IMAGE, or of every image in --input-dir. "
            "Batch: masks are matched to images by file stem (--mask-dir), or one --mask is used "
            "for every image; outputs are OUTPUT_DIR/<stem>.png."
        ),
    )
    p.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="the image to inpaint")
    p.add_argument(
        "--mask",
        type=Path,
        help="the hole mask (white = hole); in batch mode: one mask for all images",
    )
    p.add_argument("-o", "--output", type=Path, help="where to write the result (single image)")
    add_method_flags(
        p,
        method=f"inpainting method (default: auto = the best shipped model; see '{PROG} methods')",
        checkpoint="use a model trained with 'mattepaint train' (a checkpoint .pt, or .onnx from "
        "export) instead of a named method",
    )
    p.add_argument(
        "--attention-map",
        type=Path,
        metavar="PNG",
        help="single image, "
        "--checkpoint of a contextual-attention model (deepfill_v1): also save the "
        "colour-coded attention map (hue = direction, saturation = distance of the "
        "background patch each pixel copies from; white = itself)",
    )
    p.add_argument(
        "--radius",
        type=positive_int,
        help="neighbourhood radius in pixels for telea / ns (method default when omitted)",
    )
    add_batch_folders(
        p,
        "images",
        ("--mask-dir", "folder of masks, matched by file stem"),
    )
    add_common(p)


def run(args: argparse.Namespace) -> int:
    """One image (inpaint_file) or a folder (inpaint_folder); print what was written."""
    batch_mode = is_batch(args)
    if args.attention_map is not None and args.checkpoint is None:
        raise UsageError(
            "--attention-map needs --checkpoint (a model with contextual attention, "
            "e.g. one trained from seed002_deepfill_hole_small)"
        )
    if batch_mode:
        forbid(args, "batch", output="-o/--output", attention_map="--attention-map")
        require(args, "batch", output_dir="--output-dir")
        if args.mask is not None and args.mask_dir is not None:
            raise UsageError("give --mask-dir DIR or --mask FILE, not both")
        if args.mask is None and args.mask_dir is None:
            raise UsageError(
                "batch mode needs --mask-dir DIR (masks matched by file stem) or --mask FILE "
                "(one mask for every image)"
            )
    else:
        forbid(args, "single-image", output_dir="--output-dir", mask_dir="--mask-dir")
        require(args, "single-image", mask="--mask", output="-o/--output")

    from mattepaint import batch

    method, options = inpaint_method(args)
    if batch_mode:
        written = batch.inpaint_folder(
            args.input_dir,
            args.mask_dir if args.mask_dir is not None else args.mask,
            args.output_dir,
            method=method,
            options=options,
            overwrite=args.overwrite,
            progress=progress(args),
        )
        print(paths_summary(written, "inpainted images"))
        return 0
    path = batch.inpaint_file(
        args.image,
        args.mask,
        args.output,
        method=method,
        options=options,
        overwrite=args.overwrite,
        attention_path=args.attention_map,
    )
    print(f"wrote {path}")
    if args.attention_map is not None:
        print(f"wrote {args.attention_map}")
    return 0
