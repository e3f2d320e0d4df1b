"""``mattepaint demo``: matting + inpainting on procedural samples with known ground truth, a
before/after picture and the metrics (:func:`mattepaint.demo.run_demo`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mattepaint.cli.common import add_command, add_common, positive_int, print_table


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command and its flags."""
    p = add_command(
        commands,
        "demo",
        run,
        help="run matting + inpainting on procedural samples; write a before/after picture",
        description=(
            "Make procedural samples with known ground truth, run closed_form + "
            "background_difference matting, the automatic cut-out (no trimap; on --photo if "
            "given) and auto + telea + ns inpainting, write every result, metrics.json and "
            "before_after.png into --out, and print the metrics."
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("results/demo"),
        help="output folder (default: results/demo)",
    )
    p.add_argument(
        "--size", type=positive_int, default=256, help="sample side in pixels (default: 256)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--photo",
        type=Path,
        metavar="FILE",
        help="a photo of your own for the automatic cut-out row (default: the matting sample)",
    )
    add_common(p, progress=False)


def run(args: argparse.Namespace) -> int:
    """Run the procedural before/after demo and print its metrics."""
    from rich.table import Table

    from mattepaint.demo import demo_paths, run_demo

    demo_paths(args.out, overwrite=args.overwrite)  # refuse existing results before announcing
    print(
        "running the demo (the first run compiles pymatting with numba, about a minute) ...",
        file=sys.stderr,
    )
    files = run_demo(
        args.out, overwrite=args.overwrite, size=args.size, seed=args.seed, photo=args.photo
    )
    metrics = json.loads(Path(files["metrics"]).read_text())
    table = Table(title="demo metrics (procedural samples, known ground truth)")
    for column in ("task", "method", "metric", "value"):
        table.add_column(column)
    cut = dict(metrics["cutout"])
    tasks = {
        **{t: metrics[t] for t in ("matting", "inpainting")},
        "cut-out": {f"{cut.pop('segmenter')} + closed_form": cut},
    }
    for task, results in tasks.items():
        for method, values in results.items():
            for metric, value in values.items():
                text = f"{value:.4g}" if isinstance(value, float) else str(value)
                table.add_row(task, method, metric, text)
    print_table(table)
    print(f"before/after picture: {files['before_after']}")
    print(f"metrics: {files['metrics']}")
    print(f"all {len(files)} files in: {Path(args.out)}")
    return 0
