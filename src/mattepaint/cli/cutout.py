"""``mattepaint cutout``: cut the subject out of a photo with no trimap and no background plate
(:func:`mattepaint.batch.cutout_file`) or out of every photo of a folder
(:func:`mattepaint.batch.cutout_folder`).

``-`` as IMAGE reads the photo from standard input, ``-o -`` writes the PNG to standard output,
so the command works in a pipe: ``cat a.jpg | mattepaint cutout - -o - > b.png``. The bytes go
through temporary files, so standard input is decoded by the same rules as a file (EXIF
orientation, pixel limit) and standard output gets the complete PNG or nothing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mattepaint.cli.common import (
    UsageError,
    add_batch_folders,
    add_command,
    add_common,
    forbid,
    is_batch,
    paths_summary,
    progress,
    require,
)

#: The file name that means standard input (IMAGE) or standard output (-o).
STDIO = "-"

#: Pillow format name -> the suffix the photo read from standard input is stored under.
_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``cutout`` sub-command and its flags."""
    p = add_command(
        commands,
        "cutout",
        run,
        help="cut the subject out of a photo (no trimap needed): RGBA PNG",
        description=(
            "Cut the subject out of IMAGE: a segmenter finds it, an automatic trimap marks the "
            "uncertain band around its outline, trimap matting refines the band, and the "
            "foreground colour is estimated. Writes an RGBA PNG (alpha = the matte); "
            "--only-mask writes the matte alone, --bg-color / --background a composite. IMAGE "
            "'-' reads standard input, '-o -' writes standard output. Batch: --input-dir D "
            "--output-dir O writes O/<stem>.png for each photo."
        ),
    )
    p.add_argument(
        "image", nargs="?", metavar="IMAGE", help="the photo ('-': read it from standard input)"
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT.png",
        help="where to write the cut-out (single image; '-': standard output, as PNG)",
    )
    add_batch_folders(p, "photos", output="output folder (<stem>.png per photo)")
    p.add_argument(
        "--segmenter",
        metavar="NAME|FILE",
        help="the segmenter: a registered name (default: late_fusion_effnet_cutout, trained here "
        "and shipped in the package), a mattepaint model file (.safetensors, a trimap-free "
        "matting model), or a U2-Net-family or MODNet ONNX file as rembg and MODNet publish them "
        "(e.g. u2netp.onnx)",
    )
    p.add_argument(
        "--family",
        choices=("u2net", "modnet"),
        help="the ONNX family of a --segmenter file (default: detected from the graph)",
    )
    p.add_argument(
        "--check-with",
        metavar="NAME|FILE",
        help="a second segmenter that checks --segmenter: per photo, --segmenter's mask is used "
        "when the two find the same subject (IoU >= --min-agreement), this one's otherwise; "
        "meant for a specialist such as MODNet (portraits) checked by the shipped model",
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=None,
        metavar="IOU",
        help="the --check-with threshold, in [0, 1] (default 0.45)",
    )
    p.add_argument(
        "--refine",
        default="closed_form",
        metavar="METHOD",
        help="trimap matting on the uncertain band: closed_form (default), knn, another "
        "trimap method, auto (the default of 'matte' with a trimap: the shipped learned "
        "model), or none (the segmenter's mask is the matte)",
    )
    p.add_argument(
        "--only-mask", action="store_true", help="write the alpha matte alone (gray PNG)"
    )
    p.add_argument(
        "--bg-color",
        metavar="COLOR",
        help="composite onto a colour instead (white, black, '#RRGGBB', checkerboard): RGB",
    )
    p.add_argument(
        "--background",
        metavar="IMG",
        help="composite onto this picture instead (scaled to cover the photo): RGB; in batch "
        "mode one picture for all, or a folder matched by stem",
    )
    p.add_argument(
        "--save-trimap",
        nargs="?",
        const=True,
        default=None,
        metavar="TRIMAP.png",
        help="also write the automatic trimap (single image: to TRIMAP.png, or <OUT "
        "stem>_trimap.png; batch: <stem>_trimap.png)",
    )
    add_common(p)


def _stdin_suffix(data: bytes) -> str:
    """The suffix of the photo bytes read from standard input (by content; .png if unknown,
    so the loader's own message says what is wrong)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return _SUFFIXES.get(str(im.format), ".png")
    except Exception:  # noqa: BLE001 - not an image: the loader says so, naming standard input
        return ".png"


@contextmanager
def _named_standard_input(folder: Path) -> Iterator[Path]:
    """Write standard input to a file in ``folder``; messages naming it say "standard input"."""
    from mattepaint.errors import InputError

    data = sys.stdin.buffer.read()
    if not data:
        raise InputError("standard input is empty: pipe a photo in (cat photo.jpg | ...)")
    path = folder / f"stdin{_stdin_suffix(data)}"
    path.write_bytes(data)
    try:
        yield path
    except InputError as exc:
        message = str(exc).replace(f"image {path}", "the image on standard input")
        raise type(exc)(message.replace(str(path), "standard input")) from None


def _run_single(args: argparse.Namespace) -> int:
    from mattepaint import batch

    to_stdout = args.output == STDIO
    from_stdin = args.image == STDIO
    save_trimap = args.save_trimap
    if save_trimap is True:
        if to_stdout:
            raise UsageError("with -o - give --save-trimap a file name (TRIMAP.png)")
        out = Path(args.output)
        save_trimap = out.with_name(f"{out.stem}_trimap.png")
    with tempfile.TemporaryDirectory(prefix="mattepaint-cutout-") as tmp:
        folder = Path(tmp)
        output = folder / "out.png" if to_stdout else Path(args.output)
        with _standard_input_or(from_stdin, folder, args.image) as image:
            # overwrite: standard output goes through a fresh temp file
            written = batch.cutout_file(image, output, save_trimap=save_trimap, **_options(args))
        if to_stdout:
            with output.open("rb") as source:
                shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            written.pop("output")
    report = sys.stderr if to_stdout else sys.stdout  # standard output holds the PNG
    for path in written.values():
        print(f"wrote {path}", file=report)
    return 0


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The options :func:`mattepaint.batch.cutout_file` and ``cutout_folder`` share."""
    keys = ("segmenter", "family", "refine", "only_mask", "bg_color", "background", "overwrite")
    options = {key: getattr(args, key) for key in keys}
    if args.check_with is None:
        if args.min_agreement is not None:
            raise UsageError("--min-agreement is the threshold of --check-with: give both")
        return options
    from mattepaint.segmentation import GatedSegmenter, resolve_segmenter
    from mattepaint.segmentation.gated import DEFAULT_MIN_IOU

    minimum = DEFAULT_MIN_IOU if args.min_agreement is None else args.min_agreement
    if not 0.0 <= minimum <= 1.0:
        raise UsageError(f"--min-agreement must be in [0, 1], got {minimum}")
    specialist = resolve_segmenter(args.segmenter, family=args.family)
    options["segmenter"] = GatedSegmenter(
        specialist, resolve_segmenter(args.check_with), min_iou=minimum
    )
    options["family"] = None
    return options


@contextmanager
def _standard_input_or(from_stdin: bool, folder: Path, image: str) -> Iterator[Path]:
    """Yield the photo's path: standard input saved in ``folder``, or ``image`` itself."""
    if not from_stdin:
        yield Path(image)
        return
    with _named_standard_input(folder) as path:
        yield path


def run(args: argparse.Namespace) -> int:
    """One photo (cutout_file, standard input / output with '-') or a folder (cutout_folder);
    print what was written."""
    batch_mode = is_batch(args)
    if args.bg_color is not None and args.background is not None:
        raise UsageError("give --bg-color or --background, not both")
    if args.only_mask and (args.bg_color is not None or args.background is not None):
        raise UsageError("--only-mask writes the matte alone: drop --bg-color / --background")
    if batch_mode:
        forbid(args, "batch", output="-o/--output")
        require(args, "batch", output_dir="--output-dir")
        if args.save_trimap not in (None, True):
            raise UsageError(
                "in batch mode --save-trimap takes no file name: it writes OUT/<stem>_trimap.png"
            )
        from mattepaint import batch

        written = batch.cutout_folder(
            args.input_dir,
            args.output_dir,
            save_trimap=args.save_trimap is True,
            progress=progress(args),
            **_options(args),
        )
        print(paths_summary([p for outputs in written for p in outputs.values()], "files"))
        return 0
    forbid(args, "single-image", output_dir="--output-dir")
    require(args, "single-image", output="-o/--output")
    if args.image == STDIO and sys.stdin.isatty():
        raise UsageError("IMAGE '-' reads standard input, which is a terminal: pipe a photo in")
    if args.output == STDIO and sys.stdout.isatty():
        raise UsageError(
            "-o - writes PNG bytes to standard output, which is a terminal: redirect it"
        )
    return _run_single(args)
