"""Cut-out quality and speed on alphamatting.com GT01-27: segmenters alone and refined.

For each of the 27 training photos of alphamatting.com (Rhemann et al., CVPR 2009; evaluation
only, never trained on), whole image at native resolution (~800 x 500-600), no trimap given:

- ``<segmenter> alone``: alpha = the segmenter's soft mask (by default the U²-Netp and MODNet
  ONNX files and mattepaint's shipped ``late_fusion_effnet_cutout``,
  :func:`mattepaint.segmentation.load_segmenter`);
- ``<segmenter> + auto trimap + <method>``: the cut-out pipeline
  :func:`mattepaint.segmentation.cutout` (automatic trimap from the soft mask, trimap matting on
  the unknown band only, foreground colour estimation) with ``closed_form`` (Levin et al. TPAMI
  2008) and ``knn`` (Chen et al. TPAMI 2013) by default, at the pipeline's default options.

Metrics over the WHOLE image (:mod:`mattepaint.metrics.matting`, ``region="all"``): IoU of
``alpha > 0.5`` (both mattes), SAD / 1000, MSE x 1e3, averaged over the images; seconds per image
(wall clock, ``time.perf_counter``, and CPU time of the process, ``time.process_time``, which
on a shared machine is the steadier of the two): the segmenter call for "alone" rows, the
segmenter plus the rest of the pipeline (trimap, matting, foreground colour) for refined rows; one untimed warm-up call of every
stage first (pymatting compiles with numba on first use). Threads: ``--threads`` (default 2) for
onnxruntime, and OMP / MKL / OpenBLAS / numba via the environment (set before importing numpy).

Outputs in ``--out`` (default results/cutout_eval): ``summary.json`` (arguments, machine, the
table rows, per-image rows), ``table.md`` (the markdown table, also printed), ``grid.png``
(rows: ``--grid`` images; columns: image | ground truth | each segmenter alone | each refined
row; each cell labelled with its SAD).

``--scenes composites`` scores the same rows on seed 001's trimap-free benchmark instead: part (b)
of ``benchmarks/matting_eval.py``, the 27 alphamatting.com foregrounds (estimated colour, true
alpha) composited on unseen BSDS500 test backgrounds, seed 0, longer side 480
(:class:`mattepaint.data.matting.RealForegroundComposites`, the same composites as that script's
defaults), so that a segmenter's IoU there can be compared with the late-fusion network's row.

``--gated LABEL=SPECIALIST,GENERAL`` adds a :class:`mattepaint.segmentation.GatedSegmenter` row
(the specialist's mask where the two agree, the general one's otherwise).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/cutout_eval.py --data ../shared/data \
        --out results/cutout_eval [--refine closed_form knn] [--limit N] [--overwrite] \
        [--gated "MODNet|ours=../shared/data/weights/modnet_photographic_portrait_matting.onnx,late_fusion_effnet_cutout"]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    _threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads or "2")  # before numpy / numba start their pools

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from mattepaint import io
from mattepaint.data.inpainting import find_images
from mattepaint.data.matting import AlphaMattingDataset, RealForegroundComposites
from mattepaint.metrics import matting as mm
from mattepaint.segmentation import (
    SHIPPED_SEGMENTER,
    GatedSegmenter,
    Segmenter,
    cutout,
    load_segmenter,
    segmenter_names,
)
from mattepaint.segmentation.gated import DEFAULT_MIN_IOU

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matting_eval import make_grid, thumbnail

ALPHAMATTING = "alphamatting/Training"
TEST_BACKGROUNDS = "images/bsds500/test"  # matting_eval.py's part (b) backgrounds
DEFAULT_SEGMENTERS = (
    ("U²-Netp", "weights/u2netp.onnx"),
    ("MODNet", "weights/modnet_photographic_portrait_matting.onnx"),
)
METRICS = ("iou", "sad", "mse")
DEFAULT_GRID = ("GT02", "GT04", "GT13", "GT18", "GT25")


@dataclass
class Row:
    """One table row: a segmenter, alone (``refine`` None) or with a refinement method."""

    key: str
    label: str
    short: str  # the grid's column title
    segmenter: str
    refine: str | None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("results/cutout_eval"))
    parser.add_argument(
        "--segmenter",
        action="append",
        metavar="LABEL=PATH|NAME",
        help="a segmenter to evaluate (repeatable): a file or a registered name; default: "
        "U²-Netp and MODNet from DATA/weights and the segmenter shipped in the package",
    )
    parser.add_argument(
        "--gated",
        action="append",
        default=[],
        metavar="LABEL=SPECIALIST,GENERAL",
        help="also evaluate a GatedSegmenter (repeatable): SPECIALIST's mask where it agrees "
        "with GENERAL's (IoU >= --min-agreement), GENERAL's otherwise; files or names",
    )
    parser.add_argument("--min-agreement", type=float, default=DEFAULT_MIN_IOU)
    parser.add_argument(
        "--refine",
        nargs="*",
        default=["closed_form", "knn"],
        help="trimap matting methods of the refined rows",
    )
    parser.add_argument(
        "--scenes",
        choices=("photos", "composites"),
        default="photos",
        help="photos: the GT01-27 photos; composites: their foregrounds on BSDS500 test "
        "backgrounds (matting_eval.py part b, seed 0, longer side 480)",
    )
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0 = all 27)")
    parser.add_argument(
        "--grid", nargs="*", default=list(DEFAULT_GRID), help="images shown in grid.png"
    )
    parser.add_argument("--cell", type=int, default=200, help="grid cell side in pixels")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads (pass as --threads=N to also set the BLAS/numba pools)",
    )
    parser.add_argument("--overwrite", action="store_true")
    return parser.parse_args(argv)


def load_segmenters(args: argparse.Namespace) -> dict[str, Segmenter]:
    specs = args.segmenter or [
        *(f"{label}={args.data / rel}" for label, rel in DEFAULT_SEGMENTERS),
        *(f"mattepaint={name}" for name in segmenter_names() if name == SHIPPED_SEGMENTER),
    ]
    out: dict[str, Segmenter] = {}
    for spec in specs:
        label, _, target = spec.rpartition("=")
        target = target or spec
        label = label or Path(target).stem
        if not Path(target).exists() and "/" in target:
            print(f"note: {target} not found: {label} skipped")
            continue
        out[label] = load_segmenter(target, threads=args.threads)
    for spec in args.gated:
        label, _, pair = spec.rpartition("=")
        parts = pair.split(",")
        if not label or len(parts) != 2:
            raise SystemExit(f"error: --gated takes LABEL=SPECIALIST,GENERAL, got {spec!r}")
        specialist, general = (load_segmenter(part, threads=args.threads) for part in parts)
        out[label] = GatedSegmenter(specialist, general, min_iou=args.min_agreement)
    if not out:
        raise SystemExit("error: no segmenter to evaluate")
    return out


def evaluate(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Whole-image IoU (alpha > 0.5), SAD / 1000, MSE x 1e3."""
    return {
        "iou": mm.alpha_iou(pred, gt),
        "sad": mm.sad(pred, gt, region="all"),
        "mse": mm.mse(pred, gt, region="all"),
    }


def warm_up(segmenters: dict[str, Segmenter], refines: list[str], image: np.ndarray) -> None:
    """One untimed call of every stage on a reduced image (numba compiles pymatting here)."""
    small = cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4), cv2.INTER_AREA)
    x = io.to_tensor(small)
    for seg in segmenters.values():
        soft = seg(io.to_tensor(image))
        soft_small = torch.from_numpy(
            cv2.resize(soft[0, 0].numpy(), (small.shape[1], small.shape[0]), cv2.INTER_AREA)
        )[None, None]
        for refine in refines:
            try:
                cutout(x, segmenter=None, soft_mask=soft_small, refine=refine)
            except ValueError:
                pass  # nothing found at this size: the timed run reports it


def markdown_table(summary: list[dict[str, Any]], n: int, scenes: str = "GT01-27") -> str:
    lines = [
        (
            f"| method ({scenes}, n={n}, whole image) | IoU (a>0.5) ^ | SAD/1000 v | MSE x1e3 v "
            "| s/img (wall) | CPU s/img |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for e in summary:
        lines.append(
            f"| {e['label']} | {e['iou']:.3f} | {e['sad']:.1f} | {e['mse']:.2f} | "
            f"{e['seconds']:.2f} | {e['cpu_seconds']:.2f} |"
        )
    return "\n".join(lines)


class _Composites:
    """matting_eval.py's part (b) composites with the ``load`` of AlphaMattingDataset:
    index -> (image (H, W, 3), None, alpha (H, W), name)."""

    def __init__(self, dataset: RealForegroundComposites) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def load(self, index: int) -> tuple[np.ndarray, None, np.ndarray, str]:
        sample = self.dataset[index]
        image = sample["comp"].permute(1, 2, 0).numpy()  # (H, W, 3)
        return image, None, sample["alpha"][0].numpy(), sample["name"]


def scenes(args: argparse.Namespace) -> AlphaMattingDataset | _Composites:
    """The images to cut out (``--scenes``)."""
    root = args.data / ALPHAMATTING
    if args.scenes == "photos":
        return AlphaMattingDataset(root)
    backgrounds = find_images(args.data / TEST_BACKGROUNDS)
    if not backgrounds:
        raise SystemExit(f"error: no image in {args.data / TEST_BACKGROUNDS}")
    return _Composites(
        RealForegroundComposites(
            root, backgrounds, seed=0, size=480, cache_dir=args.out / "fg_cache"
        )
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    root = args.data / ALPHAMATTING
    if not root.is_dir():
        raise SystemExit(f"error: {root} not found (alphamatting.com training set)")
    out: Path = args.out
    for name in ("summary.json", "table.md", "grid.png"):
        if (out / name).exists() and not args.overwrite:
            raise SystemExit(f"error: {out / name} exists; pass --overwrite")
    dataset = scenes(args)
    count = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    segmenters = load_segmenters(args)
    rows: list[Row] = []
    for label in segmenters:
        rows.append(Row(f"{label}", f"{label} alone", f"{label} alone", label, None))
        for refine in args.refine:
            long = f"{label} + auto trimap + {refine}"
            rows.append(Row(f"{label}+{refine}", long, f"{label} + {refine}", label, refine))

    first = dataset.load(0)[0]
    warm_up(segmenters, args.refine, first)

    per_image: list[dict[str, Any]] = []
    grid_rows: list[dict[str, Any]] = []
    for index in range(count):
        image, _, gt, name = dataset.load(index)
        x = io.to_tensor(image)
        cells = [thumbnail(image, args.cell), thumbnail(gt, args.cell)]
        notes = [f"{image.shape[1]}x{image.shape[0]}", "ground truth"]
        preds: dict[str, np.ndarray] = {}
        for row in rows:
            seg = segmenters[row.segmenter]
            start, cpu_start = time.perf_counter(), time.process_time()
            soft = seg(x)
            error = None
            if row.refine is None:
                pred = soft[0, 0].numpy()
            else:
                try:
                    result = cutout(x, segmenter=None, soft_mask=soft, refine=row.refine)
                    pred = result.alpha[0, 0].numpy()
                except ValueError as exc:  # nothing found: the soft mask stands, noted
                    pred, error = soft[0, 0].numpy(), str(exc)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            values = evaluate(pred, gt)
            per_image.append(
                {
                    "image": name,
                    "method": row.key,
                    **values,
                    "seconds": seconds,
                    "cpu_seconds": cpu,
                    "error": error,
                }
            )
            preds[row.key] = pred
        if name in args.grid:
            for row in rows:
                entry = next(r for r in per_image if r["image"] == name and r["method"] == row.key)
                cells.append(thumbnail(preds[row.key], args.cell))
                notes.append(f"SAD {entry['sad']:.1f}")
            grid_rows.append({"label": name, "cells": cells, "notes": notes})
        done = ", ".join(f"{r['method']} {r['sad']:.1f}" for r in per_image if r["image"] == name)
        print(f"{name}: SAD {done}", flush=True)

    summary = []
    for row in rows:
        entries = [r for r in per_image if r["method"] == row.key]
        summary.append(
            {
                "method": row.key,
                "label": row.label,
                "n": len(entries),
                **{m: float(np.mean([r[m] for r in entries])) for m in METRICS},
                "seconds": float(np.mean([r["seconds"] for r in entries])),
                "cpu_seconds": float(np.mean([r["cpu_seconds"] for r in entries])),
                "failures": sum(r["error"] is not None for r in entries),
            }
        )
    what = "GT01-27" if args.scenes == "photos" else "GT01-27 foregrounds on BSDS500 test"
    table = markdown_table(summary, count, what)
    print()
    print(table)

    out.mkdir(parents=True, exist_ok=True)
    info = {
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads_env": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")},
        },
        "segmenters": {label: repr(seg) for label, seg in segmenters.items()},
        "summary": summary,
        "per_image": per_image,
    }
    with io.atomic_path(out / "summary.json", overwrite=args.overwrite) as tmp:
        tmp.write_text(json.dumps(info, indent=2))
    with io.atomic_path(out / "table.md", overwrite=args.overwrite) as tmp:
        tmp.write_text(table + "\n")
    if grid_rows:
        columns = ["image", "ground truth"] + [r.short for r in rows]
        grid = make_grid(grid_rows, columns, args.cell)
        io.save_image(out / "grid.png", grid, overwrite=args.overwrite)
    print(
        f"\nwrote {out / 'summary.json'}, {out / 'table.md'}"
        + (f", {out / 'grid.png'}" if grid_rows else "")
    )


if __name__ == "__main__":
    main()
