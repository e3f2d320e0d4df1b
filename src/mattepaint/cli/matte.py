"""``mattepaint matte``: the alpha matte of one image (:func:`mattepaint.batch.matte_file`) or of
a folder of images (:func:`mattepaint.batch.matte_folder`)."""

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
    is_batch,
    matte_method,
    paths_summary,
    progress,
    require,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``matte`` sub-command and its flags."""
    p = add_command(
        commands,
        "matte",
        run,
        help="estimate the alpha matte of an image (or of a folder of images)",
        description=(
            "Estimate the alpha matte of IMAGE from a trimap or a clean background plate (the "
            "default method 'auto' runs the best shipped model for the input, else the classical "
            "one: see 'mattepaint methods'), or, with neither, automatically (the 'cutout' "
            "pipeline, with the shipped segmenter or --segmenter); optionally write the "
            "foreground colours and an RGBA cut-out. Batch: trimaps / backgrounds are matched by "
            "file stem; outputs are OUTPUT_DIR/<stem>.png, <stem>_fg.png, <stem>_cutout.png."
        ),
    )
    p.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="the image to matte")
    p.add_argument("--trimap", type=Path, help="trimap (0 bg / 128 unknown / 255 fg)")
    p.add_argument(
        "--background",
        type=Path,
        help="clean background plate; in batch mode: one background for all images",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="ALPHA",
        help="where to write the alpha matte (single image)",
    )
    add_method_flags(
        p,
        method="matting method (default: auto, the best shipped model for the input given, else "
        f"cf_knn_sm with a trimap, background_difference with a background; see '{PROG} "
        "methods')",
        checkpoint="use a matting model trained with 'mattepaint train' (a checkpoint .pt, or "
        ".onnx from export) instead of a named method; give what it needs (--trimap or "
        "--background)",
    )
    p.add_argument(
        "--segmenter",
        metavar="NAME|FILE",
        help="with neither --trimap nor --background the subject is cut out automatically (the "
        "pipeline of 'mattepaint cutout'): the segmenter to use instead of the shipped one (a "
        "name, a .safetensors model or a U2-Net / MODNet ONNX file); --method then names the "
        "matting of the uncertain band (default closed_form)",
    )
    p.add_argument(
        "--foreground",
        nargs="?",
        const=True,
        default=None,
        metavar="F.png",
        help="also write the estimated foreground colours (single image: to F.png, "
        "or <ALPHA stem>_fg.png when no name is given; batch: <stem>_fg.png)",
    )
    p.add_argument(
        "--cutout",
        nargs="?",
        const=True,
        default=None,
        metavar="RGBA.png",
        help="also write an RGBA cut-out (single image: to RGBA.png, or "
        "<ALPHA stem>_cutout.png; batch: <stem>_cutout.png)",
    )
    add_batch_folders(
        p,
        "images",
        ("--trimap-dir", "folder of trimaps, matched by stem"),
        ("--background-dir", "folder of backgrounds, matched by stem"),
    )
    add_common(p)


def run(args: argparse.Namespace) -> int:
    """One image (matte_file) or a folder (matte_folder); print what was written."""
    batch_mode = is_batch(args)
    if batch_mode:
        forbid(args, "batch", output="-o/--output", trimap="--trimap")
        require(args, "batch", output_dir="--output-dir")
        for flag, value in (("--foreground", args.foreground), ("--cutout", args.cutout)):
            if value not in (None, True):
                raise UsageError(
                    f"in batch mode {flag} takes no file name: it writes OUT/<stem>_fg.png or "
                    f"OUT/<stem>_cutout.png"
                )
        if args.background is not None and args.background_dir is not None:
            raise UsageError("give --background-dir DIR or --background FILE, not both")
        if args.trimap_dir is not None and (args.background or args.background_dir) is not None:
            raise UsageError("give --trimap-dir or --background / --background-dir, not both")
        if args.segmenter is not None:
            raise UsageError(
                "--segmenter works on one image; for a folder use "
                f"'{PROG} cutout --input-dir DIR --output-dir OUT --only-mask'"
            )
    else:
        forbid(
            args,
            "single-image",
            output_dir="--output-dir",
            trimap_dir="--trimap-dir",
            background_dir="--background-dir",
        )
        require(args, "single-image", output="-o/--output")
        if args.trimap is not None and args.background is not None:
            raise UsageError("give --trimap or --background, not both")
        if args.segmenter is not None and (args.trimap or args.background) is not None:
            raise UsageError("--segmenter is for an image with neither --trimap nor --background")
        if args.segmenter is not None and args.checkpoint is not None:
            raise UsageError("give --segmenter (automatic cut-out) or --checkpoint, not both")
        automatic = args.trimap is None and args.background is None and args.checkpoint is None
        if automatic and (args.method is None or args.segmenter is not None):
            return _run_automatic(args)

    from mattepaint import batch

    method = matte_method(args)
    if batch_mode:
        written = batch.matte_folder(
            args.input_dir,
            args.output_dir,
            trimap_dir=args.trimap_dir,
            background=args.background_dir if args.background_dir is not None else args.background,
            method=method,
            save_foreground=args.foreground is True,
            save_cutout=args.cutout is True,
            overwrite=args.overwrite,
            progress=progress(args),
        )
        print(paths_summary([p for outputs in written for p in outputs.values()], "files"))
        return 0
    alpha_path = Path(args.output)
    foreground, cutout = _side_outputs(args, alpha_path)
    outputs = batch.matte_file(
        args.image,
        alpha_path,
        trimap=args.trimap,
        background=args.background,
        method=method,
        foreground_path=foreground,
        cutout_path=cutout,
        overwrite=args.overwrite,
    )
    for path in outputs.values():
        print(f"wrote {path}")
    return 0


def _side_outputs(args: argparse.Namespace, alpha_path: Path) -> tuple[object, object]:
    """(foreground, cutout) outputs of --foreground / --cutout: None, a named file, or for a bare
    flag a file next to the alpha named like the batch outputs (``<stem>_fg.png``,
    ``<stem>_cutout.png``)."""
    foreground, cutout = args.foreground, args.cutout
    if foreground is True:
        foreground = alpha_path.with_name(f"{alpha_path.stem}_fg.png")
    if cutout is True:
        cutout = alpha_path.with_name(f"{alpha_path.stem}_cutout.png")
    return foreground, cutout


def _run_automatic(args: argparse.Namespace) -> int:
    """No trimap and no background: the cut-out pipeline (:func:`mattepaint.batch.cutout_file`)
    writes the alpha to -o, and the foreground / RGBA cut-out when asked for; --method names the
    matting of the uncertain band."""
    from mattepaint import batch
    from mattepaint.errors import InputError
    from mattepaint.segmentation import default_segmenter

    if args.segmenter is None:
        try:
            default_segmenter()
        except InputError:
            raise InputError(
                "give --trimap FILE or --background FILE, or --segmenter FILE (this install has no "
                "default segmenter) to cut the subject out automatically"
            ) from None
    alpha_path = Path(args.output)
    foreground, cutout = _side_outputs(args, alpha_path)
    written = batch.cutout_file(
        args.image,
        cutout if cutout is not None else alpha_path,
        segmenter=args.segmenter,
        refine=args.method if args.method is not None else "closed_form",
        only_mask=cutout is None,
        save_alpha=alpha_path if cutout is not None else None,
        save_foreground=foreground,
        overwrite=args.overwrite,
    )
    names = {"output": "cutout" if cutout is not None else "alpha"}
    outputs = {names.get(key, key): path for key, path in written.items()}
    for key in ("alpha", "foreground", "cutout"):
        if key in outputs:
            print(f"wrote {outputs[key]}")
    return 0
