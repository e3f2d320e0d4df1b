"""``mattepaint masks``: write a set of procedural (or NVIDIA) hole masks with a manifest
(:func:`mattepaint.masks.write_mask_set`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mattepaint.cli.common import UsageError, add_command, add_common, positive_int, progress


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``masks`` sub-command and its flags."""
    p = add_command(
        commands,
        "masks",
        run,
        help="write a set of procedural (or NVIDIA) hole masks with a manifest",
        description="Write COUNT hole masks (white = hole) as PNGs plus OUT_DIR/manifest.csv.",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="output folder")
    p.add_argument(
        "--count-per-generator",
        "--count",
        dest="count_per_generator",
        type=positive_int,
        default=10,
        metavar="N",
        help="masks per generator (default: 10)",
    )
    p.add_argument(
        "--size", type=positive_int, default=256, help="mask side in pixels (default: 256)"
    )
    p.add_argument(
        "--generators",
        metavar="A,B,C",
        help="comma-separated generator names "
        "(default: rectangles, center_square, random_square, strokes, lama_thin, "
        "lama_medium, lama_thick)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--folder",
        type=Path,
        metavar="NVIDIA_DIR",
        help="also draw masks from this "
        "folder of mask images (e.g. the NVIDIA irregular mask set), resized to "
        "--size; alone (without --generators) only from it",
    )
    add_common(p)


def run(args: argparse.Namespace) -> int:
    """Write a mask set (PNGs + manifest.csv) with write_mask_set; print where."""
    generators: list[str] | None = None
    if args.generators is not None:
        generators = [name.strip() for name in args.generators.split(",") if name.strip()]
        if not generators:
            raise UsageError("--generators needs at least one name, e.g. strokes,lama_thin")
    params = None
    if args.folder is not None:
        # --folder alone: masks from that folder only; with --generators: folder masks too
        generators = ["folder"] if generators is None else generators
        if "folder" not in generators:
            generators.append("folder")
        params = {"folder": {"folder": args.folder}}
    elif generators is not None and "folder" in generators:
        raise UsageError("generator 'folder' needs --folder NVIDIA_DIR")
    options: dict[str, object] = {}
    if generators is not None:  # else write_mask_set's default set
        options["generators"] = generators

    from mattepaint.masks import write_mask_set

    manifest = write_mask_set(
        args.out_dir,
        count_per_generator=args.count_per_generator,
        size=(args.size, args.size),
        seed=args.seed,
        overwrite=args.overwrite,
        params=params,
        progress=None if progress(args) else False,  # None: a bar for more than 200 masks
        **options,
    )
    n_masks = len(Path(manifest).read_text(encoding="utf-8").splitlines()) - 1  # minus header
    print(f"wrote {n_masks} masks to {args.out_dir}")
    print(f"manifest: {manifest}")
    return 0
