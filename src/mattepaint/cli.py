"""The ``mattepaint`` command line: a thin shell over the importable library functions.

Every command maps its flags one to one onto the keyword arguments of one library function:

=========================  ======================================================================
command                    library function
=========================  ======================================================================
``inpaint IMAGE``          :func:`mattepaint.batch.inpaint_file`
``inpaint --input-dir``    :func:`mattepaint.batch.inpaint_folder`
``matte IMAGE``            :func:`mattepaint.batch.matte_file` (``--checkpoint``: load_matter)
``matte --input-dir``      :func:`mattepaint.batch.matte_folder`
``evaluate inpainting``    :func:`mattepaint.evaluate.evaluate_inpainting`
``evaluate matting``       :func:`mattepaint.evaluate.evaluate_matting`
``masks OUT_DIR``          :func:`mattepaint.masks.write_mask_set`
``methods``                :func:`mattepaint.methods.inpainter_names` / ``matter_names``
``export CKPT -o OUT``     :func:`mattepaint.models.loading.export_checkpoint` (.onnx: ONNX)
``demo``                   :func:`mattepaint.demo.run_demo`
``serve``                  :func:`mattepaint.server.serve`
=========================  ======================================================================

Flags worth knowing:

- ``--overwrite`` (every writing command): replace existing outputs; without it an existing
  output is refused before any work, and the file stays as it was.
- ``--progress / --no-progress`` (batch and evaluate): a rich progress bar on stderr; by default
  only when stderr is a terminal.
- ``evaluate``: prints the summary table (one row per hole-ratio bucket plus "all") and writes
  the report to ``--json`` / ``--csv``; by default beside the prediction folder as
  ``<pred-dir-name>_eval.json`` (summary + per-case rows) and ``<pred-dir-name>_eval.csv``
  (per-case rows). ``--no-save`` writes only the files named with --json / --csv.

Errors: a user mistake (bad or missing file, wrong size, unknown method, existing output, bad
flag) prints ONE line ``mattepaint: error: ...`` on stderr and exits with status 1 (2 for a bad
command line), never a traceback. Ctrl-C exits with status 130. Warnings (a non-binary mask, ...)
print as one line ``mattepaint: warning: ...`` and the command goes on.

Heavy modules (torch, pymatting, OpenCV) are imported inside the command functions, so
``mattepaint --help`` and ``mattepaint --version`` start fast.

Example:
    $ mattepaint inpaint photo.png --mask hole.png -o filled.png --method telea
    $ mattepaint matte photo.png --trimap trimap.png -o alpha.png --cutout cutout.png
    $ mattepaint evaluate inpainting --pred-dir out --gt-dir gt --mask-dir masks
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from mattepaint import __version__

PROG = "mattepaint"

#: Exceptions that mean "the user gave bad input": one line on stderr, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    FileNotFoundError,
    FileExistsError,
    OSError,
)


class UsageError(Exception):
    """A bad command line (unknown flag, missing argument, conflicting options)."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors raise :class:`UsageError` instead of printing usage + exiting,
    so :func:`main` can print them as one line."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --------------------------------------------------------------------------------------------
# output helpers


def _one_line(text: str) -> str:
    """Collapse a (possibly multi-line) message to one line."""
    return " ".join(str(text).split())


def _print_error(message: str, stream: TextIO | None = None) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=stream or sys.stderr)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """warnings.showwarning replacement: one line ``mattepaint: warning: ...`` on stderr."""
    print(f"{PROG}: warning: {_one_line(str(message))}", file=file or sys.stderr)


def _print_table(table: object) -> None:
    """Print a rich renderable on stdout (plain text when stdout is not a terminal)."""
    from rich.console import Console

    # not a terminal (a pipe, a file): wide enough that no column is squeezed or wrapped
    width = None if sys.stdout.isatty() else 200
    Console(file=sys.stdout, width=width, soft_wrap=False).print(table)


def _paths_summary(paths: Sequence[Path], what: str) -> str:
    if not paths:
        return f"no {what} written"
    folders = sorted({str(Path(p).parent) for p in paths})
    return f"wrote {len(paths)} {what} to {', '.join(folders)}"


# --------------------------------------------------------------------------------------------
# commands


def _is_batch(args: argparse.Namespace) -> bool:
    """True for batch mode (--input-dir), False for one IMAGE; reject both or neither."""
    if args.image is not None and args.input_dir is not None:
        raise UsageError("give either an IMAGE or --input-dir, not both")
    if args.image is None and args.input_dir is None:
        raise UsageError("give an IMAGE or --input-dir DIR")
    return args.input_dir is not None


def _require(args: argparse.Namespace, mode: str, **flags: str) -> None:
    """Every ``dest=flag`` must be set in this mode."""
    missing = [flag for dest, flag in flags.items() if getattr(args, dest) is None]
    if missing:
        raise UsageError(f"{mode} mode needs {', '.join(missing)}")


def _forbid(args: argparse.Namespace, mode: str, **flags: str) -> None:
    """No ``dest=flag`` may be set in this mode."""
    given = [flag for dest, flag in flags.items() if getattr(args, dest) not in (None, False)]
    if given:
        raise UsageError(f"{', '.join(given)} cannot be used in {mode} mode")


def _progress(args: argparse.Namespace) -> bool:
    """--progress / --no-progress, else a bar only when stderr is a terminal (a pipe or a log
    file would get a stray line from the bar)."""
    return sys.stderr.isatty() if args.progress is None else args.progress


def _inpaint_options(args: argparse.Namespace) -> dict[str, object] | None:
    options: dict[str, object] = {}
    if args.radius is not None:
        options["radius"] = args.radius
    return options or None


def _inpaint_method(args: argparse.Namespace) -> tuple[Any, dict[str, object] | None]:
    """The method to run: a registered name with its options, or a trained checkpoint."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        return args.method or "telea", _inpaint_options(args)
    if args.method is not None:
        raise UsageError("give --method NAME or --checkpoint FILE, not both")
    if getattr(args, "radius", None) is not None:
        raise UsageError("--radius applies to telea / ns, not to a --checkpoint model")
    from mattepaint.models.loading import load_inpainter

    return load_inpainter(checkpoint, device=getattr(args, "device", "cpu")), None


def _matte_method(args: argparse.Namespace) -> Any:
    """The matting method to run: a registered name (None = the default for the inputs given),
    or a trained matting checkpoint (mattepaint.models.loading.load_matter)."""
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is None:
        return args.method
    if args.method is not None:
        raise UsageError("give --method NAME or --checkpoint FILE, not both")
    from mattepaint.models.loading import load_matter

    return load_matter(checkpoint, device=getattr(args, "device", "cpu"))


def cmd_inpaint(args: argparse.Namespace) -> int:
    """``mattepaint inpaint``: one image (inpaint_file) or a folder (inpaint_folder)."""
    batch_mode = _is_batch(args)
    if args.attention_map is not None and args.checkpoint is None:
        raise UsageError("--attention-map needs --checkpoint (a model with contextual attention, "
                         "e.g. one trained from seed002_deepfill_hole_small)")
    if batch_mode:
        _forbid(args, "batch", output="-o/--output", attention_map="--attention-map")
        _require(args, "batch", output_dir="--output-dir")
        if args.mask is not None and args.mask_dir is not None:
            raise UsageError("give --mask-dir DIR or --mask FILE, not both")
        if args.mask is None and args.mask_dir is None:
            raise UsageError(
                "batch mode needs --mask-dir DIR (masks matched by file stem) or --mask FILE "
                "(one mask for every image)"
            )
    else:
        _forbid(args, "single-image", output_dir="--output-dir", mask_dir="--mask-dir")
        _require(args, "single-image", mask="--mask", output="-o/--output")

    from mattepaint import batch

    method, options = _inpaint_method(args)
    if batch_mode:
        written = batch.inpaint_folder(
            args.input_dir,
            args.mask_dir if args.mask_dir is not None else args.mask,
            args.output_dir,
            method=method,
            options=options,
            overwrite=args.overwrite,
            progress=_progress(args),
        )
        print(_paths_summary(written, "inpainted images"))
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


def cmd_matte(args: argparse.Namespace) -> int:
    """``mattepaint matte``: one image (matte_file) or a folder (matte_folder)."""
    batch_mode = _is_batch(args)
    if batch_mode:
        _forbid(args, "batch", output="-o/--output", trimap="--trimap")
        _require(args, "batch", output_dir="--output-dir")
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
    else:
        _forbid(
            args,
            "single-image",
            output_dir="--output-dir",
            trimap_dir="--trimap-dir",
            background_dir="--background-dir",
        )
        _require(args, "single-image", output="-o/--output")
        if args.trimap is not None and args.background is not None:
            raise UsageError("give --trimap or --background, not both")

    from mattepaint import batch

    method = _matte_method(args)
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
            progress=_progress(args),
        )
        print(_paths_summary([p for outputs in written for p in outputs.values()], "files"))
        return 0
    alpha_path = Path(args.output)
    # a bare --foreground / --cutout writes next to the alpha, named like the batch outputs
    foreground = args.foreground
    if foreground is True:
        foreground = alpha_path.with_name(f"{alpha_path.stem}_fg.png")
    cutout = args.cutout
    if cutout is True:
        cutout = alpha_path.with_name(f"{alpha_path.stem}_cutout.png")
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


def _report_paths(args: argparse.Namespace, pred_dir: Path) -> tuple[Path | None, Path | None]:
    """Where the report goes: the --json/--csv given, else ``<pred-dir-name>_eval.json/.csv``
    beside the prediction folder; ``--no-save`` writes nothing."""
    if args.no_save:
        return args.json, args.csv
    base = pred_dir.resolve()
    json_path = args.json or base.with_name(f"{base.name}_eval.json")
    csv_path = args.csv or base.with_name(f"{base.name}_eval.csv")
    return json_path, csv_path


def _finish_report(
    report: Any, json_path: Path | None, csv_path: Path | None, overwrite: bool
) -> None:
    """Print the report's summary table, then write the JSON (summary + rows) and the CSV
    (one row per case)."""
    _print_table(report.format_table())
    if json_path is not None:
        print(f"wrote {report.to_json(json_path, overwrite=overwrite)}")
    if csv_path is not None:
        print(f"wrote {report.to_csv(csv_path, overwrite=overwrite)}")


def _refuse_existing(paths: Sequence[Path | None], overwrite: bool) -> None:
    """Fail before any work when an output exists and --overwrite was not given."""
    if overwrite:
        return
    for path in paths:
        if path is not None and Path(path).exists():
            raise FileExistsError(f"output exists: {path} (use --overwrite to replace it)")


def cmd_evaluate_inpainting(args: argparse.Namespace) -> int:
    """``mattepaint evaluate inpainting``: evaluate_inpainting, then print and save the report."""
    if args.weights_dir is not None and args.lpips is None:
        raise UsageError("--weights-dir is only used with --lpips alex|vgg")
    predict = args.method is not None or args.checkpoint is not None
    if not predict and args.pred_dir is None:
        raise UsageError(
            "give --pred-dir (a folder of predictions), or --method NAME / --checkpoint FILE to "
            "inpaint the ground-truth images with the masks first"
        )
    if args.pred_dir is not None:
        json_path, csv_path = _report_paths(args, args.pred_dir)
    else:  # predictions go to a temporary folder: reports only where asked
        json_path, csv_path = args.json, args.csv
    _refuse_existing([json_path, csv_path], args.overwrite)

    import tempfile

    from mattepaint import batch

    with tempfile.TemporaryDirectory(prefix="mattepaint_eval_") as scratch:
        pred_dir = args.pred_dir
        if predict:
            method, options = _inpaint_method(args)
            pred_dir = pred_dir if pred_dir is not None else Path(scratch) / "pred"
            batch.inpaint_folder(
                args.gt_dir, args.mask_dir, pred_dir, method=method, options=options,
                overwrite=args.overwrite, progress=_progress(args),
            )
        _evaluate_inpainting_dir(args, pred_dir, json_path, csv_path)
    return 0


def _evaluate_inpainting_dir(
    args: argparse.Namespace, pred_dir: Path, json_path: Path | None, csv_path: Path | None
) -> None:
    from mattepaint import evaluate

    lpips = None
    if args.lpips is not None:
        from mattepaint.metrics.lpips import LPIPS, LPIPS_FILES

        files: dict[str, Path | None] = {"backbone_weights": None, "lin_weights": None}
        if args.weights_dir is not None:  # else LPIPS reads $MATTEPAINT_WEIGHTS
            backbone, lin = LPIPS_FILES[args.lpips]
            files = {"backbone_weights": args.weights_dir / backbone,
                     "lin_weights": args.weights_dir / lin}
        lpips = LPIPS(args.lpips, **files)
    report = evaluate.evaluate_inpainting(
        pred_dir, args.gt_dir, args.mask_dir, lpips=lpips, progress=_progress(args)
    )
    _finish_report(report, json_path, csv_path, args.overwrite)


def cmd_evaluate_matting(args: argparse.Namespace) -> int:
    """``mattepaint evaluate matting``: evaluate_matting, then print and save the report."""
    json_path, csv_path = _report_paths(args, args.pred_dir)
    _refuse_existing([json_path, csv_path], args.overwrite)

    from mattepaint import evaluate

    report = evaluate.evaluate_matting(
        args.pred_dir, args.gt_dir, args.trimap_dir, progress=_progress(args)
    )
    _finish_report(report, json_path, csv_path, args.overwrite)
    return 0


def cmd_masks(args: argparse.Namespace) -> int:
    """``mattepaint masks``: write a mask set (PNGs + manifest.csv) with write_mask_set."""
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
        progress=None if _progress(args) else False,  # None: a bar for more than 200 masks
        **options,
    )
    n_masks = len(Path(manifest).read_text(encoding="utf-8").splitlines()) - 1  # minus header
    print(f"wrote {n_masks} masks to {args.out_dir}")
    print(f"manifest: {manifest}")
    return 0


_NEEDS_TEXT = {
    "trimap": "image + trimap",
    "background": "image + clean background",
    "nothing": "image only",
}


def cmd_export(args: argparse.Namespace) -> int:
    """``mattepaint export``: :func:`mattepaint.models.loading.export_checkpoint`, or
    :func:`mattepaint.models.onnx_model.export_onnx` for a ``.onnx`` output."""
    from mattepaint.models.loading import export_checkpoint, is_onnx

    if is_onnx(args.output):
        from mattepaint.models.onnx_model import export_onnx

        path = export_onnx(args.checkpoint, args.output, overwrite=args.overwrite)
    else:
        path = export_checkpoint(args.checkpoint, args.output, overwrite=args.overwrite)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    """``mattepaint methods``: list the registered methods and what each needs."""
    from rich.table import Table

    from mattepaint import methods

    table = Table(title="registered methods")
    table.add_column("task")
    table.add_column("name")
    table.add_column("needs")
    table.add_column("description")
    for name in methods.inpainter_names():
        doc = _first_line(methods.get_inpainter(name))
        table.add_row("inpainting", name, "image + mask", doc)
    for name in methods.matter_names():
        matter = methods.get_matter(name)
        needs = _NEEDS_TEXT.get(matter.needs, matter.needs)
        table.add_row("matting", name, needs, _first_line(matter))
    _print_table(table)
    return 0


def _first_line(obj: object) -> str:
    """First line of the method class's docstring, Sphinx roles (:func:`x`) reduced to x."""
    import re

    doc = (type(obj).__doc__ or "").strip()
    line = doc.splitlines()[0] if doc else ""
    return re.sub(r":\w+:`([^`]*)`", r"\1", line)


def cmd_demo(args: argparse.Namespace) -> int:
    """``mattepaint demo``: run the procedural before/after demo and print its metrics."""
    from rich.table import Table

    from mattepaint.demo import demo_paths, run_demo

    demo_paths(args.out, overwrite=args.overwrite)  # refuse existing results before announcing
    print("running the demo (the first run compiles pymatting with numba, about a minute) ...",
          file=sys.stderr)
    files = run_demo(args.out, overwrite=args.overwrite, size=args.size, seed=args.seed)
    import json

    metrics = json.loads(Path(files["metrics"]).read_text())
    table = Table(title="demo metrics (procedural samples, known ground truth)")
    for column in ("task", "method", "metric", "value"):
        table.add_column(column)
    for task in ("matting", "inpainting"):
        for method, values in metrics[task].items():
            for metric, value in values.items():
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                table.add_row(task, method, metric, text)
    _print_table(table)
    print(f"before/after picture: {files['before_after']}")
    print(f"metrics: {files['metrics']}")
    print(f"all {len(files)} files in: {Path(args.out)}")
    return 0


# --------------------------------------------------------------------------------------------
# parser


def cmd_train(args: argparse.Namespace) -> int:
    """``mattepaint train``: load (or resume) a config and run mattepaint.train.loop.train."""
    from mattepaint.train.config import load_config, resolve_config_path
    from mattepaint.train.loop import TrainingError, train

    if args.resume is None and args.config is None:
        raise UsageError("give a CONFIG (a YAML file or a packaged config name) or --resume DIR")
    if args.resume is not None and (args.config is not None or args.set):
        raise UsageError(
            "--resume continues a run with the config stored in its checkpoint; do not give a "
            "CONFIG or --set with it (--max-steps may extend the run)"
        )
    import logging

    logging.basicConfig(level=logging.INFO, format="mattepaint: %(message)s")
    config = None
    if args.config is not None:
        overrides = list(args.set)
        if args.device is not None:
            overrides.append(f"run.device={args.device}")
        config = load_config(resolve_config_path(args.config), overrides)
    try:
        run_dir = train(
            config,
            resume=args.resume,
            device=args.device,
            max_steps=args.max_steps,
            progress=_progress(args),
        )
    except TrainingError as exc:
        raise ValueError(str(exc)) from None
    if os.environ.get("RANK", "0") == "0":  # under torchrun, only rank 0 reports
        print(f"run folder: {run_dir}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``mattepaint serve``: run the HTTP API and the web UI (mattepaint.server.serve)."""
    if args.max_upload_mb <= 0:
        raise UsageError(f"--max-upload-mb must be > 0, got {args.max_upload_mb}")
    if args.max_queue < 0:
        raise UsageError(f"--max-queue must be >= 0, got {args.max_queue}")
    import logging

    from mattepaint.server import serve
    from mattepaint.server.services import ServerLimits

    logging.basicConfig(level=logging.INFO, format="mattepaint: %(message)s")
    # gradio leaves a few never-used event loops behind while building the page: harmless noise
    warnings.filterwarnings("ignore", "unclosed event loop", ResourceWarning)
    limits = ServerLimits(
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        max_pixels=args.max_pixels,
        max_concurrent=args.max_concurrent,
        max_queue=args.max_queue,
    )
    serve(
        host=args.host,
        port=args.port,
        checkpoints=args.checkpoint,
        models_dir=args.models_dir,
        limits=limits,
        ui=not args.no_ui,
        device=args.device,
    )
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_common(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing output files (default: refuse)"
    )
    if progress:
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="draw a progress bar on stderr (default: only when stderr is a terminal)",
        )


def build_parser() -> argparse.ArgumentParser:
    """The ``mattepaint`` argument parser (one sub-parser a command)."""
    parser = _Parser(
        prog=PROG,
        description="Image matting and inpainting: classical methods, exact metrics, batch tools.",
        epilog=f"Run '{PROG} COMMAND --help' for the flags of one command.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # inpaint ----------------------------------------------------------------------------------
    p = commands.add_parser(
        "inpaint",
        help="fill the holes of an image (or of a folder of images)",
        description=(
            "Fill the masked holes (white = hole) of IMAGE, or of every image in --input-dir. "
            "Batch: masks are matched to images by file stem (--mask-dir), or one --mask is used "
            "for every image; outputs are OUTPUT_DIR/<stem>.png."
        ),
    )
    p.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="the image to inpaint")
    p.add_argument("--mask", type=Path, help="the hole mask (white = hole); in batch mode: one "
                   "mask for all images")
    p.add_argument("-o", "--output", type=Path, help="where to write the result (single image)")
    p.add_argument("--method", default=None, help="inpainting method (default: telea; see "
                   f"'{PROG} methods')")
    p.add_argument("--checkpoint", type=Path, help="use a model trained with 'mattepaint "
                   "train' (a checkpoint .pt, or .onnx from export) instead of a named method")
    p.add_argument("--device", default="cpu", help="device for --checkpoint models (cpu, cuda; "
                   "default: cpu)")
    p.add_argument("--attention-map", type=Path, metavar="PNG", help="single image, "
                   "--checkpoint of a contextual-attention model (deepfill_v1): also save the "
                   "colour-coded attention map (hue = direction, saturation = distance of the "
                   "background patch each pixel copies from; white = itself)")
    p.add_argument("--radius", type=_positive_int, help="neighbourhood radius in pixels for "
                   "telea / ns (method default when omitted)")
    p.add_argument("--input-dir", type=Path, help="batch: folder of images")
    p.add_argument("--mask-dir", type=Path, help="batch: folder of masks, matched by file stem")
    p.add_argument("--output-dir", type=Path, help="batch: output folder")
    _add_common(p)
    p.set_defaults(func=cmd_inpaint)

    # matte ------------------------------------------------------------------------------------
    p = commands.add_parser(
        "matte",
        help="estimate the alpha matte of an image (or of a folder of images)",
        description=(
            "Estimate the alpha matte of IMAGE from a trimap (default method closed_form) or a "
            "clean background plate (default method background_difference); optionally write the "
            "foreground colours and an RGBA cut-out. Batch: trimaps / backgrounds are matched by "
            "file stem; outputs are OUTPUT_DIR/<stem>.png, <stem>_fg.png, <stem>_cutout.png."
        ),
    )
    p.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="the image to matte")
    p.add_argument("--trimap", type=Path, help="trimap (0 bg / 128 unknown / 255 fg)")
    p.add_argument("--background", type=Path, help="clean background plate; in batch mode: one "
                   "background for all images")
    p.add_argument("-o", "--output", type=Path, metavar="ALPHA", help="where to write the alpha "
                   "matte (single image)")
    p.add_argument("--method", default=None, help="matting method (default: closed_form with a "
                   "trimap, background_difference with a background; see "
                   f"'{PROG} methods')")
    p.add_argument("--checkpoint", type=Path, help="use a matting model trained with "
                   "'mattepaint train' (a checkpoint .pt, or .onnx from export) instead of a "
                   "named method; give what it needs (--trimap or --background)")
    p.add_argument("--device", default="cpu", help="device for --checkpoint models (cpu, cuda; "
                   "default: cpu)")
    p.add_argument("--foreground", nargs="?", const=True, default=None, metavar="F.png",
                   help="also write the estimated foreground colours (single image: to F.png, "
                   "or <ALPHA stem>_fg.png when no name is given; batch: <stem>_fg.png)")
    p.add_argument("--cutout", nargs="?", const=True, default=None, metavar="RGBA.png",
                   help="also write an RGBA cut-out (single image: to RGBA.png, or "
                   "<ALPHA stem>_cutout.png; batch: <stem>_cutout.png)")
    p.add_argument("--input-dir", type=Path, help="batch: folder of images")
    p.add_argument("--trimap-dir", type=Path, help="batch: folder of trimaps, matched by stem")
    p.add_argument("--background-dir", type=Path, help="batch: folder of backgrounds, matched "
                   "by stem")
    p.add_argument("--output-dir", type=Path, help="batch: output folder")
    _add_common(p)
    p.set_defaults(func=cmd_matte)

    # evaluate ---------------------------------------------------------------------------------
    p = commands.add_parser(
        "evaluate",
        help="score predictions against ground truth (prints a table, writes JSON + CSV)",
        description=(
            "Score a folder of predictions against ground truth (files matched by stem). Prints "
            "a per-bucket table and writes the report as JSON and CSV: to --json / --csv, or by "
            "default beside the prediction folder as <pred-dir-name>_eval.json / .csv "
            "(--no-save: print only)."
        ),
    )
    tasks = p.add_subparsers(dest="task", metavar="TASK", parser_class=_Parser)
    for task in ("inpainting", "matting"):
        t = tasks.add_parser(task, help=f"evaluate {task} predictions")
        t.add_argument("--pred-dir", type=Path, required=task == "matting",
                       help="folder of predictions" + (
                           "; with --method/--checkpoint: where to write them (default: a "
                           "temporary folder)" if task == "inpainting" else ""))
        t.add_argument("--gt-dir", type=Path, required=True, help="folder of ground truths")
        if task == "inpainting":
            t.add_argument("--method", help="inpaint the ground-truth images with this method "
                           "first (see 'mattepaint methods'), then evaluate")
            t.add_argument("--checkpoint", type=Path, help="inpaint the ground-truth images with "
                           "this trained model first, then evaluate")
            t.add_argument("--radius", type=_positive_int, help="radius for --method telea / ns")
            t.add_argument("--device", default="cpu", help="device for --checkpoint (default cpu)")
            t.add_argument("--mask-dir", type=Path, required=True, help="folder of hole masks")
            t.add_argument("--lpips", choices=("alex", "vgg"), help="also compute LPIPS with this "
                           "backbone (needs --weights-dir)")
            t.add_argument("--weights-dir", type=Path, help="folder holding the LPIPS weight "
                           "files (default: $MATTEPAINT_WEIGHTS)")
            t.set_defaults(func=cmd_evaluate_inpainting)
        else:
            t.add_argument("--trimap-dir", type=Path, help="folder of trimaps: scores on the "
                           "unknown region (default: the whole image)")
            t.set_defaults(func=cmd_evaluate_matting)
        t.add_argument("--json", type=Path, help="JSON report path (default: "
                       "<pred-dir>/../<pred-dir-name>_eval.json)")
        t.add_argument("--csv", type=Path, help="CSV report path (default: "
                       "<pred-dir>/../<pred-dir-name>_eval.csv)")
        t.add_argument("--no-save", action="store_true", help="only write the reports asked "
                       "for with --json / --csv")
        _add_common(t)

    # train ------------------------------------------------------------------------------------
    p = commands.add_parser(
        "train",
        help="train a registered model from a YAML config (or resume a run)",
        description=(
            "Train the model a config describes. CONFIG is a YAML file or the name of a packaged "
            "config (e.g. seed000_unet_inpaint_small). Outputs go to run.out_dir: config.yaml, "
            "metrics.csv/.jsonl, tb/ (TensorBoard), samples/, checkpoints/, curves.png. "
            "Several processes: torchrun --nproc_per_node N -m mattepaint train CONFIG."
        ),
    )
    p.add_argument("config", nargs="?", metavar="CONFIG", help="YAML config or packaged name")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=2e-4 (repeatable)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR "
                   "exactly where its last checkpoint left off")
    p.add_argument("--device", help="cpu or cuda (overrides run.device)")
    p.add_argument("--max-steps", type=_positive_int, help="stop after this many generator "
                   "steps (overrides run.max_steps; extends a resumed run)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="draw a progress bar (default: only when stderr is a terminal)")
    p.set_defaults(func=cmd_train)

    # masks ------------------------------------------------------------------------------------
    p = commands.add_parser(
        "masks",
        help="write a set of procedural (or NVIDIA) hole masks with a manifest",
        description="Write COUNT hole masks (white = hole) as PNGs plus OUT_DIR/manifest.csv.",
    )
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="output folder")
    p.add_argument("--count-per-generator", "--count", dest="count_per_generator",
                   type=_positive_int, default=10, metavar="N",
                   help="masks per generator (default: 10)")
    p.add_argument("--size", type=_positive_int, default=256, help="mask side in pixels "
                   "(default: 256)")
    p.add_argument("--generators", metavar="A,B,C", help="comma-separated generator names "
                   "(default: rectangles, center_square, random_square, strokes, lama_thin, "
                   "lama_medium, lama_thick)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--folder", type=Path, metavar="NVIDIA_DIR", help="also draw masks from this "
                   "folder of mask images (e.g. the NVIDIA irregular mask set), resized to "
                   "--size; alone (without --generators) only from it")
    _add_common(p)
    p.set_defaults(func=cmd_masks)

    # export -----------------------------------------------------------------------------------
    p = commands.add_parser(
        "export",
        help="write the inference part of a training checkpoint (.pt), or an ONNX model (.onnx)",
        description=(
            "To a .pt file: drop what only resuming needs (optimisers, schedulers, RNG states, "
            "discriminator); the result is about a third of the size. To a .onnx file: the "
            "network as an ONNX graph (dynamic batch and size, checked against PyTorch at two "
            "sizes) that runs with onnxruntime, faster on a CPU. Both work with --checkpoint "
            "everywhere."
        ),
    )
    p.add_argument("checkpoint", type=Path, help="a checkpoint written by 'mattepaint train'")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write it; a .onnx "
                   "suffix exports to ONNX")
    _add_common(p, progress=False)
    p.set_defaults(func=cmd_export)

    # methods ----------------------------------------------------------------------------------
    p = commands.add_parser("methods", help="list the registered inpainting and matting methods")
    p.set_defaults(func=cmd_methods)

    # demo -------------------------------------------------------------------------------------
    p = commands.add_parser(
        "demo",
        help="run matting + inpainting on procedural samples; write a before/after picture",
        description=(
            "Make procedural samples with known ground truth, run closed_form + "
            "background_difference matting and telea + ns inpainting, write every result, "
            "metrics.json and before_after.png into --out, and print the metrics."
        ),
    )
    p.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder "
                   "(default: results/demo)")
    p.add_argument("--size", type=_positive_int, default=256, help="sample side in pixels "
                   "(default: 256)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_common(p, progress=False)
    p.set_defaults(func=cmd_demo)

    # serve ------------------------------------------------------------------------------------
    p = commands.add_parser(
        "serve",
        help="run the web app and the HTTP API (inpaint and matte in the browser or with curl)",
        description=(
            "Serve the web UI at / and the HTTP API at /api (POST /api/inpaint, POST /api/matte, "
            "GET /api/methods, GET /api/health; documentation at /docs). Trained checkpoints "
            "given with --checkpoint or found in --models-dir appear as checkpoint:<file name>. "
            "No authentication: binds to 127.0.0.1 unless --host says otherwise."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: "
                   "127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    p.add_argument("--checkpoint", type=Path, action="append", default=[], metavar="CKPT",
                   help="offer a trained checkpoint (.pt or exported .onnx); repeatable")
    p.add_argument("--models-dir", type=Path, metavar="DIR", help="offer every *.pt / *.onnx "
                   "checkpoint in DIR")
    p.add_argument("--device", default="cpu", help="device for checkpoint models (cpu, cuda; "
                   "default: cpu)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, metavar="MB",
                   help="largest uploaded file in MiB (default: 20)")
    p.add_argument("--max-pixels", type=_positive_int, default=4096 * 4096, metavar="N",
                   help="largest image, width x height (default: 16777216 = 4096x4096)")
    p.add_argument("--max-concurrent", type=_positive_int, default=1, metavar="N",
                   help="jobs running at the same time (default: 1)")
    p.add_argument("--max-queue", type=int, default=8, metavar="N",
                   help="jobs waiting for a slot before requests get 503 (default: 8)")
    p.add_argument("--no-ui", action="store_true", help="serve the HTTP API only, no web UI")
    p.set_defaults(func=cmd_serve)
    return parser


# --------------------------------------------------------------------------------------------
# entry point


def main(argv: list[str] | None = None) -> int:
    """Run the ``mattepaint`` command line; return the exit status (0 = success).

    Inputs:
        argv: the arguments without the program name (default: ``sys.argv[1:]``).

    Outputs:
        0 on success, 1 for a user error (bad input file, existing output, unknown method, ...),
        2 for a bad command line, 130 when interrupted. The console script calls
        ``sys.exit(main())``.
    """
    parser = build_parser()
    command = ""
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version print and exit 0
            return exc.code if isinstance(exc.code, int) else 0
        command = " ".join(
            part for part in (args.command, getattr(args, "task", None)) if part is not None
        )
        func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
        if func is None:
            what = "task (inpainting or matting)" if args.command == "evaluate" else "command"
            raise UsageError(f"a {what} is required")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return func(args)
    except UsageError as exc:
        message = str(exc)
        if "--help" not in message:
            message += f" (see '{' '.join(filter(None, (PROG, command)))} --help')"
        _print_error(message)
        return 2
    except USER_ERRORS as exc:
        _print_error(str(exc) or type(exc).__name__)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
