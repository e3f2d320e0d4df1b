"""Benchmark the classical inpainting methods on real photos with the NVIDIA irregular masks.

Builds a reproducible case folder from the real data (``../shared/data``):

- images: ``images/kodak24`` and ``images/bsds500/test``, centre-cropped to a square and resized
  to SIZE x SIZE (area interpolation); with more cases than images they are reused, each time
  with another mask;
- masks: ``masks/nvidia_irregular_test`` (Liu et al., "Image Inpainting for Irregular Holes Using
  Partial Convolutions", ECCV 2018), resized to SIZE with nearest neighbour. The file number //
  2000 is the mask's hole-ratio bucket in that data set; case i takes a random mask of bucket
  i mod 6, so every bucket is represented (the evaluation re-measures the ratio after resizing,
  so a few cases can land in a neighbouring bucket);
- a ``manifest.csv`` naming the source image and mask of every case.

Then, for each method, runs :func:`mattepaint.batch.inpaint_folder`, evaluates the results with
:func:`mattepaint.evaluate.evaluate_inpainting` (MSE, L1, hole L1, PSNR, SSIM, TV, LPIPS-alex),
prints the per-bucket table and the wall time, and writes ``OUT/<method>/`` (the images),
``OUT/<method>_eval.json``, ``OUT/<method>_eval.csv`` (per case), ``OUT/<method>_summary.csv``
and ``OUT/run.json`` (arguments, timings, versions).

Usage:
    python benchmarks/classical_inpainting.py --data ../shared/data --cases 300 \
        --out results/bench_classical [--with-biharmonic] [--lpips none] [--overwrite]
"""

from __future__ import annotations

import argparse
import csv
import io as text_io
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

import mattepaint
from mattepaint import io
from mattepaint.batch import inpaint_folder
from mattepaint.evaluate import InpaintingReport, evaluate_inpainting
from mattepaint.masks import HOLE_RATIO_BUCKETS, resize_mask

if TYPE_CHECKING:  # pragma: no cover
    from mattepaint.methods import Inpainter
    from mattepaint.metrics.lpips import LPIPS

IMAGE_SOURCES = ("images/kodak24", "images/bsds500/test")
MASK_SOURCE = "masks/nvidia_irregular_test"
MASKS_PER_BUCKET_FILE_RANGE = 2000  # NVIDIA test set: file number // 2000 = bucket


def _fail(message: str, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an (H, W, 3) image to a square of side min(H, W), resize to (size, size, 3)."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    resized = cv2.resize(crop, (size, size), interpolation=interpolation)
    return np.clip(resized, 0.0, 1.0)


def plan_cases(data: Path, n_cases: int, seed: int) -> list[dict[str, object]]:
    """Pick (image, mask, bucket) for every case, reproducibly from ``seed``."""
    images = [p for source in IMAGE_SOURCES for p in io.list_images(data / source)]
    masks = io.list_images(data / MASK_SOURCE)
    n_buckets = len(HOLE_RATIO_BUCKETS)
    by_bucket: list[list[Path]] = [[] for _ in range(n_buckets)]
    for path in masks:
        if path.stem.isdigit():
            bucket = int(path.stem) // MASKS_PER_BUCKET_FILE_RANGE
            if bucket < n_buckets:
                by_bucket[bucket].append(path)
    if not images or any(not files for files in by_bucket):
        _fail(
            f"{data} lacks images or masks of some bucket "
            f"(expected {', '.join(IMAGE_SOURCES)} and {MASK_SOURCE})"
        )
    per_bucket = -(-n_cases // n_buckets)  # ceil
    if any(len(files) < per_bucket for files in by_bucket):
        _fail(f"--cases {n_cases} needs {per_bucket} masks per bucket; the data has fewer")

    rng = np.random.default_rng(seed)
    image_order: list[Path] = []
    while len(image_order) < n_cases:  # every image once before any is reused
        image_order += [images[i] for i in rng.permutation(len(images))]
    mask_order = [[files[i] for i in rng.permutation(len(files))] for files in by_bucket]
    return [
        {
            "case": f"case_{i:04d}",
            "image": image_order[i].relative_to(data).as_posix(),
            "mask": mask_order[i % n_buckets][i // n_buckets].relative_to(data).as_posix(),
            "source_bucket": i % n_buckets,
        }
        for i in range(n_cases)
    ]


def remove_stale_cases(folder: Path, keep: set[str]) -> None:
    """Delete this script's own ``case_NNNN.png`` files that are not in ``keep`` (left by an
    earlier run with more cases), so that a rebuilt folder holds exactly the planned cases."""
    if folder.is_dir():
        for path in folder.glob("case_[0-9][0-9][0-9][0-9].png"):
            if path.stem not in keep:
                path.unlink()


def _manifest_text(plan: list[dict[str, object]], size: int) -> str:
    buffer = text_io.StringIO()
    fields = ["case", "image", "mask", "source_bucket", "size"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "size": size} for row in plan)
    return buffer.getvalue()


def check_data_dir(data: Path) -> None:
    """Exit with an error unless the real-data folder ``data`` exists."""
    if not data.is_dir():
        _fail(
            f"data folder not found: {data} (the real data lives in ../shared/data beside "
            f"the repository; pass --data PATH)"
        )


def write_cases(
    data: Path,
    out: Path,
    plan: list[dict[str, object]],
    manifest_text: str,
    size: int,
    case_mask: Callable[[int, dict[str, object]], np.ndarray],
    overwrite: bool,
    description: str,
) -> tuple[Path, Path]:
    """Write the cases of ``plan`` to ``out/cases/{images,masks}/case_NNNN.png`` and
    ``manifest_text`` to ``out/cases/manifest.csv``; reuse a complete case folder built with the
    same manifest, refuse another one without ``overwrite``.

    Each case's image is ``data / row["image"]`` through :func:`square_resize` to ``size``; its
    (size, size) bool mask is ``case_mask(index, row)``. ``description`` goes in the
    "built N cases (...)" line.
    """
    n_cases = len(plan)
    cases = out / "cases"
    images_dir, masks_dir, manifest = (
        cases / "images",
        cases / "masks",
        cases / "manifest.csv",
    )
    if (
        manifest.is_file()
        and manifest.read_text() == manifest_text
        and not overwrite
        and len(io.list_images(images_dir)) == n_cases
        and len(io.list_images(masks_dir)) == n_cases
    ):
        print(f"reusing the {n_cases} cases in {cases}")
        return images_dir, masks_dir
    if cases.exists() and not overwrite:
        _fail(f"{cases} exists and was built with other settings; pass --overwrite to rebuild it")
    keep = {str(row["case"]) for row in plan}
    for folder in (images_dir, masks_dir):
        remove_stale_cases(folder, keep)
    for index, row in enumerate(plan):
        image = square_resize(io.load_image(data / str(row["image"])), size)
        mask = case_mask(index, row)
        io.save_image(images_dir / f"{row['case']}.png", image, overwrite=overwrite)
        io.save_mask(masks_dir / f"{row['case']}.png", mask, overwrite=overwrite)
    with io.atomic_path(manifest, overwrite=True) as tmp:
        tmp.write_text(manifest_text)
    print(f"built {n_cases} cases ({description}) in {cases}")
    return images_dir, masks_dir


def build_cases(
    data: Path, out: Path, n_cases: int, size: int, seed: int, overwrite: bool
) -> tuple[Path, Path]:
    """Write ``out/cases/{images,masks}/case_NNNN.png`` and ``manifest.csv`` (NVIDIA masks);
    reuse a complete case folder built with the same plan."""
    plan = plan_cases(data, n_cases, seed)

    def case_mask(index: int, row: dict[str, object]) -> np.ndarray:
        return resize_mask(io.load_mask(data / str(row["mask"])), (size, size))

    text = _manifest_text(plan, size)
    return write_cases(data, out, plan, text, size, case_mask, overwrite, f"{size}x{size}")


def run_method(
    name: str,
    method: str | Inpainter,
    images_dir: Path,
    masks_dir: Path,
    out: Path,
    *,
    options: dict[str, object] | None = None,
    lpips: LPIPS | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> tuple[InpaintingReport, dict[str, float]]:
    """Inpaint every case with ``method`` into ``out/<name>/``, then evaluate the results.

    Inputs:
        name: the label of the method (folder and file names).
        method: a registered method name or an :class:`~mattepaint.methods.Inpainter` (e.g. a
            checkpoint loaded by :func:`mattepaint.methods.resolve_inpainter`).
        images_dir, masks_dir: the cases of :func:`build_cases`.
        out: the benchmark's output folder.
        options: the method's keyword options (only with a method name).
        lpips: an LPIPS model for the ``lpips`` column, or None.
        overwrite: replace earlier results (stale ``case_NNNN.png`` files are removed first).
        progress: draw progress bars on stderr.

    Outputs:
        (the report, timings ``{"inpaint_s", "inpaint_ms_per_image", "evaluate_s"}``); writes
        ``out/<name>_eval.json``, ``out/<name>_eval.csv`` (per case) and ``out/<name>_summary.csv``.
    """
    n_cases = len(io.list_images(images_dir))
    if overwrite:
        remove_stale_cases(out / name, {p.stem for p in io.list_images(images_dir)})
    start = time.perf_counter()
    inpaint_folder(
        images_dir,
        masks_dir,
        out / name,
        method=method,
        options=options,
        overwrite=overwrite,
        progress=progress,
    )
    inpaint_s = time.perf_counter() - start
    start = time.perf_counter()
    report = evaluate_inpainting(out / name, images_dir, masks_dir, lpips=lpips, progress=progress)
    eval_s = time.perf_counter() - start
    report.to_json(out / f"{name}_eval.json", overwrite=overwrite)
    report.to_csv(out / f"{name}_eval.csv", overwrite=overwrite)
    report.to_csv(out / f"{name}_summary.csv", overwrite=overwrite, table="summary")
    timings = {
        "inpaint_s": inpaint_s,
        "inpaint_ms_per_image": 1000 * inpaint_s / max(n_cases, 1),
        "evaluate_s": eval_s,
    }
    return report, timings


def _comparison(reports: dict[str, InpaintingReport], key: str, fmt: str) -> object:
    from rich.table import Table

    labels = [row["bucket"] for row in next(iter(reports.values())).summary]
    table = Table(title=f"{key.upper()} per hole-ratio bucket")
    table.add_column("method")
    for label in labels:
        table.add_column(str(label), justify="right")
    for method, report in reports.items():
        values = {row["bucket"]: row[key] for row in report.summary}
        cells = (format(values[label], fmt) if label in values else "-" for label in labels)
        table.add_row(method, *cells)
    return table


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """The options of every inpainting benchmark (this one, deep_inpainting.py, cifar_pconv.py)
    on its outputs: --overwrite and --no-progress (``args.progress``)."""
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/data"), help="real data folder"
    )
    parser.add_argument("--cases", type=int, default=300, help="number of cases (default 300)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case selection")
    parser.add_argument("--out", type=Path, default=Path("results/bench_classical"))
    parser.add_argument("--methods", default="telea,ns", help="comma-separated (default telea,ns)")
    parser.add_argument("--with-biharmonic", action="store_true", help="also run biharmonic (slow)")
    parser.add_argument("--radius", type=int, default=None, help="telea / ns radius option")
    parser.add_argument(
        "--lpips",
        choices=("alex", "vgg", "none"),
        default="alex",
        help="LPIPS backbone, weights from DATA/weights (default alex)",
    )
    add_output_options(parser)
    args = parser.parse_args(argv)

    check_data_dir(args.data)
    if args.cases < 1 or args.size < 32:
        _fail("--cases must be >= 1 and --size >= 32")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.with_biharmonic and "biharmonic" not in methods:
        methods.append("biharmonic")

    from rich.console import Console

    console = Console()
    try:
        lpips = None
        if args.lpips != "none":
            from mattepaint.metrics.lpips import LPIPS

            lpips = LPIPS.from_dir(args.lpips, args.data / "weights")
        images_dir, masks_dir = build_cases(
            args.data, args.out, args.cases, args.size, args.seed, args.overwrite
        )
        timings: dict[str, dict[str, float]] = {}
        reports: dict[str, InpaintingReport] = {}
        for method in methods:
            options = None
            if args.radius is not None and method != "biharmonic":
                options = {"radius": args.radius}
            report, timings[method] = run_method(
                method,
                method,
                images_dir,
                masks_dir,
                args.out,
                options=options,
                lpips=lpips,
                overwrite=args.overwrite,
                progress=args.progress,
            )
            reports[method] = report
            inpaint_s, eval_s = (
                timings[method]["inpaint_s"],
                timings[method]["evaluate_s"],
            )
            title = f"{method}: {args.cases} cases, {args.size}x{args.size}"
            console.print(report.format_table(title=title))
            console.print(
                f"{method}: inpainting {inpaint_s:.1f} s ({1000 * inpaint_s / args.cases:.1f} ms "
                f"per image), evaluation {eval_s:.1f} s\n"
            )
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        _fail(str(exc))

    if len(reports) > 1:
        console.print(_comparison(reports, "psnr", ".2f"))
        console.print(_comparison(reports, "ssim", ".4f"))
        if lpips is not None:
            console.print(_comparison(reports, "lpips", ".4f"))
    run = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "methods": methods,
        "timings": timings,
        "mattepaint": mattepaint.__version__,
        "opencv": cv2.__version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
    }
    with io.atomic_path(args.out / "run.json", overwrite=True) as tmp:
        tmp.write_text(json.dumps(run, indent=2) + "\n")
    print(f"wrote {args.out}/<method>_eval.json, _eval.csv, _summary.csv and run.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
