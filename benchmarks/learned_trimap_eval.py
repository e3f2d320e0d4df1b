"""Learned trimap mattes against the classical ones on alphamatting.com GT01-27: quality, time.

Why it exists: issue 11's done-means. The learned trimap default must beat *both* closed_form
(Levin et al. 2008) and knn (Chen et al. 2013) on all four DIM metrics (SAD / 1000, MSE x 1e3,
Grad / 1000, Conn / 1000 on the trimap's unknown region, :func:`mattepaint.metrics.matting.
matting_metrics`), at native resolution, and run at most twice as long as closed_form. This script
scores each ``--checkpoint NAME=FILE`` (a ``.pt`` training checkpoint or a ``.safetensors`` /
``.onnx`` model file, run through :func:`mattepaint.models.loading.load_matter`, as ``mattepaint
matte --checkpoint`` runs it: the classical prior of a ``dim_matte`` model is computed inside,
and counted in its time) beside closed_form, knn, sm and the classical default ``cf_knn_sm``
(their mattes cached by ``benchmarks/matting_blend.py`` in ``--cache``, solved here when missing).

Printed: the mean table, per checkpoint the number of images where it beats closed_form, knn,
sm and cf_knn_sm on each metric, and seconds per image (the checkpoint's end to end; the
classical solvers' from the cache, i.e. from whenever they were solved: compare speeds with
``mattepaint matte --input-dir`` runs one after the other on an idle machine).

Outputs in ``--out``: ``per_image.csv`` (every image's metrics for every method) and
``hardest.png``, the ``--grid`` images where the first checkpoint has the largest SAD, cropped to
the unknown region: image | trimap | closed_form | knn | first checkpoint | ground truth, each
matte with its SAD.

Usage:
    python benchmarks/learned_trimap_eval.py --data ../shared/data --cache results/matting_blend \
        --checkpoint dim_matte_sm=src/mattepaint/weights/dim_matte_sm.safetensors \
        [--trimap Trimap2] [--limit N] [--grid 6] [--out results/learned_trimap] [--threads=2]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    _threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads or "2")  # before numpy / numba start their pools

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from matting_blend import METRICS, default_blends, solve_cached, write_outputs

from mattepaint.data.matting import AlphaMattingDataset
from mattepaint.metrics.matting import matting_metrics
from mattepaint.models.loading import load_matter

CLASSICAL = ("closed_form", "knn", "sm", "cf_knn_sm")


def load_checkpoints(specs: list[str], prog: str) -> dict:
    """``{NAME: Matter}`` for each ``--checkpoint NAME=FILE`` (a model file, a training
    checkpoint or a shipped model's name); exits with one line on a malformed spec."""
    models = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            sys.exit(f"{prog}: error: --checkpoint wants NAME=FILE, got {spec!r}")
        models[name] = load_matter(path)
    return models


def classical_mattes(
    image: np.ndarray, trimap: np.ndarray, cache: Path, stem: str
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """The classical mattes of one image (cached solves) and the solvers' seconds."""
    alphas, seconds = {}, {}
    for name in ("closed_form", "knn", "knn_local", "sm"):
        options = {"initial": alphas["closed_form"]} if name == "knn_local" else {}
        alphas[name], seconds[name] = solve_cached(name, image, trimap, cache, stem, **options)
    alphas["cf_knn_sm"] = default_blends(alphas)[1]
    seconds["cf_knn_sm"] = seconds["closed_form"] + seconds["knn_local"] + seconds["sm"]
    return {n: alphas[n] for n in CLASSICAL}, {n: seconds[n] for n in CLASSICAL}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("results/matting_blend"))
    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="NAME=FILE",
        help="a learned trimap matting model to score (repeatable)",
    )
    parser.add_argument("--trimap", choices=("Trimap1", "Trimap2"), default="Trimap1")
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all 27)")
    parser.add_argument("--threads", default="2", help="numba / BLAS / torch threads")
    parser.add_argument("--out", type=Path, default=Path("results/learned_trimap"))
    parser.add_argument("--grid", type=int, default=6, help="hardest images shown (0: none)")
    parser.add_argument("--cell", type=int, default=220, help="grid cell side in pixels")
    args = parser.parse_args(argv)
    root = args.data / "alphamatting" / "Training"
    if not root.is_dir():
        sys.exit(f"learned_trimap_eval: error: alphamatting.com data not found: {root}")
    models = load_checkpoints(args.checkpoint, "learned_trimap_eval")
    first = next(iter(models))
    args.cache.mkdir(parents=True, exist_ok=True)
    dataset = AlphaMattingDataset(root, trimap=args.trimap)
    suffix = "" if args.trimap == "Trimap1" else f"_{args.trimap}"  # matting_blend's cache names
    count = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    methods = (*CLASSICAL, *models)
    metrics = {m: [] for m in methods}  # per-image metric rows
    seconds = {m: [] for m in methods}
    per_image: list[dict] = []
    cases: list[dict] = []
    for index in range(count):
        image, trimap, gt, stem = dataset.load(index)  # (H, W, 3), (H, W), (H, W) in [0, 1]
        alphas, took = classical_mattes(image, trimap, args.cache, stem + suffix)
        for method, value in took.items():
            seconds[method].append(value)
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None]  # (1, 3, H, W)
        t = torch.from_numpy(np.array(trimap))[None, None]  # (1, 1, H, W)
        for name, matter in models.items():
            start = time.perf_counter()
            alphas[name] = matter(x, trimap=t).alpha[0, 0].numpy()  # prior + network
            seconds[name].append(time.perf_counter() - start)
        sads = {}
        for method in methods:
            values = matting_metrics(alphas[method], gt, trimap)
            metrics[method].append([values[m] for m in METRICS])
            per_image.append({"image": stem, "method": method, **{m: values[m] for m in METRICS}})
            sads[method] = values["sad"]
        if args.grid > 0:
            case = {"name": stem, "image": image, "trimap": trimap, "gt": gt, "sad": sads}
            cases.append({**case, **alphas})
            cases = sorted(cases, key=lambda c: -c["sad"][first])[: args.grid]
        print(
            f"{stem}: "
            + ", ".join(f"{n} SAD {sads[n]:.2f} ({seconds[n][-1]:.2f} s)" for n in models),
            flush=True,
        )
    print(
        f"\nGT01-{count:02d}, {args.trimap}, unknown region (SAD/1000, MSE x1e3, Grad/1000, "
        "Conn/1000); seconds per image"
    )
    print("| method | SAD | MSE | Grad | Conn | s/img |\n|---|---|---|---|---|---|")
    for method in methods:
        mean = np.mean(metrics[method], axis=0)
        print(
            f"| {method} | "
            + " | ".join(f"{v:.2f}" for v in mean)
            + f" | {np.mean(seconds[method]):.2f} |"
        )
    for name in models:
        ours = np.array(metrics[name])
        for method in CLASSICAL:
            wins = (ours < np.array(metrics[method])).sum(axis=0)
            print(
                f"images where {name} beats {method} (of {count}): "
                + ", ".join(f"{m} {int(n)}" for m, n in zip(METRICS, wins))
            )
    write_outputs(args.out, per_image, cases, args.cell, third=first)
    print(f"wrote {args.out / 'per_image.csv'} and {args.out / 'hardest.png'}")


if __name__ == "__main__":
    main()
