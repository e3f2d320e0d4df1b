"""``mattepaint evaluate inpainting|matting``: score a folder of predictions against ground truth
(:func:`mattepaint.evaluate.evaluate_inpainting`, :func:`mattepaint.evaluate.evaluate_matting`),
print the summary table and write the report as JSON and CSV."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mattepaint.cli.common import (
    Parser,
    UsageError,
    add_command,
    add_common,
    inpaint_method,
    positive_int,
    print_table,
    progress,
    refuse_existing,
)

if TYPE_CHECKING:
    from mattepaint.evaluate import Report


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` sub-command with its two tasks and their flags."""
    p = add_command(
        commands,
        "evaluate",
        None,
        help="score predictions against ground truth (prints a table, writes JSON + CSV)",
        description=(
            "Score a folder of predictions against ground truth (files matched by stem). Prints "
            "a per-bucket table and writes the report as JSON and CSV: to --json / --csv, or by "
            "default beside the prediction folder as <pred-dir-name>_eval.json / .csv "
            "(--no-save: print only)."
        ),
    )
    tasks = p.add_subparsers(dest="task", metavar="TASK", parser_class=Parser)
    for task in ("inpainting", "matting"):
        t = tasks.add_parser(task, help=f"evaluate {task} predictions")
        t.add_argument(
            "--pred-dir",
            type=Path,
            required=task == "matting",
            help="folder of predictions"
            + (
                "; with --method/--checkpoint: where to write them (default: a temporary folder)"
                if task == "inpainting"
                else ""
            ),
        )
        t.add_argument("--gt-dir", type=Path, required=True, help="folder of ground truths")
        if task == "inpainting":
            t.add_argument(
                "--method",
                help="inpaint the ground-truth images with this method "
                "first (see 'mattepaint methods'), then evaluate",
            )
            t.add_argument(
                "--checkpoint",
                type=Path,
                help="inpaint the ground-truth images with this trained model first, then evaluate",
            )
            t.add_argument("--radius", type=positive_int, help="radius for --method telea / ns")
            t.add_argument("--device", default="cpu", help="device for --checkpoint (default cpu)")
            t.add_argument("--mask-dir", type=Path, required=True, help="folder of hole masks")
            t.add_argument(
                "--lpips",
                choices=("alex", "vgg"),
                help="also compute LPIPS with this backbone (needs --weights-dir)",
            )
            t.add_argument(
                "--weights-dir",
                type=Path,
                help="folder holding the LPIPS weight files (default: $MATTEPAINT_WEIGHTS)",
            )
            t.set_defaults(func=run_inpainting)
        else:
            t.add_argument(
                "--trimap-dir",
                type=Path,
                help="folder of trimaps: scores on the unknown region (default: the whole image)",
            )
            t.set_defaults(func=run_matting)
        t.add_argument(
            "--json",
            type=Path,
            help="JSON report path (default: <pred-dir>/../<pred-dir-name>_eval.json)",
        )
        t.add_argument(
            "--csv",
            type=Path,
            help="CSV report path (default: <pred-dir>/../<pred-dir-name>_eval.csv)",
        )
        t.add_argument(
            "--no-save",
            action="store_true",
            help="only write the reports asked for with --json / --csv",
        )
        add_common(t)


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
    report: Report, json_path: Path | None, csv_path: Path | None, overwrite: bool
) -> None:
    """Print the report's summary table, then write the JSON (summary + rows) and the CSV
    (one row per case)."""
    print_table(report.format_table())
    if json_path is not None:
        print(f"wrote {report.to_json(json_path, overwrite=overwrite)}")
    if csv_path is not None:
        print(f"wrote {report.to_csv(csv_path, overwrite=overwrite)}")


def run_inpainting(args: argparse.Namespace) -> int:
    """``evaluate inpainting``: inpaint first when --method / --checkpoint is given, then
    evaluate_inpainting; print and save the report."""
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
    refuse_existing([json_path, csv_path], args.overwrite)

    import tempfile

    from mattepaint import batch

    with tempfile.TemporaryDirectory(prefix="mattepaint_eval_") as scratch:
        pred_dir = args.pred_dir
        if predict:
            method, options = inpaint_method(args)
            pred_dir = pred_dir if pred_dir is not None else Path(scratch) / "pred"
            batch.inpaint_folder(
                args.gt_dir,
                args.mask_dir,
                pred_dir,
                method=method,
                options=options,
                overwrite=args.overwrite,
                progress=progress(args),
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
            files = {
                "backbone_weights": args.weights_dir / backbone,
                "lin_weights": args.weights_dir / lin,
            }
        lpips = LPIPS(args.lpips, **files)
    report = evaluate.evaluate_inpainting(
        pred_dir, args.gt_dir, args.mask_dir, lpips=lpips, progress=progress(args)
    )
    _finish_report(report, json_path, csv_path, args.overwrite)


def run_matting(args: argparse.Namespace) -> int:
    """``evaluate matting``: evaluate_matting, then print and save the report."""
    json_path, csv_path = _report_paths(args, args.pred_dir)
    refuse_existing([json_path, csv_path], args.overwrite)

    from mattepaint import evaluate

    report = evaluate.evaluate_matting(
        args.pred_dir, args.gt_dir, args.trimap_dir, progress=progress(args)
    )
    _finish_report(report, json_path, csv_path, args.overwrite)
    return 0
