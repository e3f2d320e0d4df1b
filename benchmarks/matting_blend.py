"""Closed-form, KNN and their fixed blends on alphamatting.com GT01-27: quality and time.

Why it exists: the learned trimap default of issue 11 must beat *both* closed_form (Levin et al.
TPAMI 2008) and knn (Chen et al. TPAMI 2013) on all four DIM metrics while running at most twice
as long as closed_form. A fixed per-pixel blend ``w * closed_form + (1 - w) * knn`` is the
cheapest candidate for the starting point of a residual refiner, so this script measures, on the
27 training photos of alphamatting.com (Trimap1, native resolution; evaluation only):

- each method's SAD / 1000, MSE x 1e3, Grad / 1000, Conn / 1000 on the trimap's unknown region
  (:func:`mattepaint.metrics.matting.matting_metrics`), averaged over the images, for the blend
  weights ``--weights`` (w = 1 is closed_form, w = 0 is knn);
- the same for the blends with ``knn_local`` (:func:`mattepaint.classical.cf_knn.alpha_knn_local`,
  KNN matting solved on the unknown region and started from the closed-form matte), which is
  what the ``cf_knn`` method computes;
- the wall-clock seconds of each solver per image (``--threads``, default 2, for numba / BLAS).

The alphas are cached in ``--cache`` (``GTxx_<solver>.npy`` with their seconds in
``GTxx_<solver>.json``), so the table can be reprinted without solving again (knn takes ~15 s
per image). Delete a solver's files to time it again.

Usage:
    python benchmarks/matting_blend.py --data ../shared/data --cache results/matting_blend \
        [--weights 1 0.75 0.5 0.25 0] [--limit N]
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
import time
from pathlib import Path

import numpy as np

from mattepaint.classical.cf_knn import alpha_knn_local
from mattepaint.classical.pymatting_methods import alpha_closed_form, alpha_knn
from mattepaint.data.matting import AlphaMattingDataset
from mattepaint.metrics.matting import matting_metrics

SOLVERS = {"closed_form": alpha_closed_form, "knn": alpha_knn, "knn_local": alpha_knn_local}
METRICS = ("sad", "mse", "grad", "conn")


def solve_cached(
    name: str, image: np.ndarray, trimap: np.ndarray, cache: Path, stem: str, **options
):
    """(alpha (H, W) float32, seconds) of solver ``name``, from ``cache`` when computed before."""
    alpha_path, meta_path = cache / f"{stem}_{name}.npy", cache / f"{stem}_{name}.json"
    if alpha_path.exists() and meta_path.exists():
        return np.load(alpha_path), json.loads(meta_path.read_text())["seconds"]
    start = time.perf_counter()
    alpha = SOLVERS[name](image, trimap, **options)
    seconds = time.perf_counter() - start
    np.save(alpha_path, alpha)
    meta_path.write_text(json.dumps({"seconds": seconds}))
    return alpha, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("results/matting_blend"))
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.25, 0.0])
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all 27)")
    parser.add_argument("--threads", default="2", help="numba / BLAS threads (set at start)")
    args = parser.parse_args(argv)
    root = args.data / "alphamatting" / "Training"
    if not root.is_dir():
        sys.exit(f"matting_blend: error: alphamatting.com data not found: {root}")
    args.cache.mkdir(parents=True, exist_ok=True)
    dataset = AlphaMattingDataset(root, trimap="Trimap1")
    count = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    variants = ("knn", "knn_local")  # the KNN matte that is blended with closed_form
    scores = {(v, w): [] for v in variants for w in args.weights}  # per-image metric rows
    seconds = {name: [] for name in SOLVERS}
    for index in range(count):
        image, trimap, gt, stem = dataset.load(index)  # (H, W, 3), (H, W), (H, W) in [0, 1]
        alphas = {}
        for name in SOLVERS:
            options = {"initial": alphas["closed_form"]} if name == "knn_local" else {}
            alphas[name], took = solve_cached(name, image, trimap, args.cache, stem, **options)
            seconds[name].append(took)
        for variant, w in scores:
            blend = w * alphas["closed_form"] + (1.0 - w) * alphas[variant]  # (H, W)
            values = matting_metrics(blend, gt, trimap)
            scores[variant, w].append([values[m] for m in METRICS])
        print(f"{stem}: " + ", ".join(f"{n} {seconds[n][-1]:.2f} s" for n in SOLVERS), flush=True)
    print(f"\nGT01-{count:02d}, Trimap1, unknown region (SAD/1000, MSE x1e3, Grad/1000, Conn/1000)")
    print("| KNN matte | w (closed_form weight) | SAD | MSE | Grad | Conn |")
    print("|---|---|---|---|---|---|")
    for (variant, w), rows in scores.items():
        mean = np.mean(rows, axis=0)
        print(f"| {variant} | {w:g} | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    for name, values in seconds.items():
        print(f"{name}: {np.mean(values):.2f} s per image (median {np.median(values):.2f})")
    both = np.add(seconds["closed_form"], seconds["knn_local"])
    print(
        f"cf_knn (closed_form, then knn_local started from it): {np.mean(both):.2f} s per image, "
        f"{np.mean(both) / np.mean(seconds['closed_form']):.2f}x closed_form"
    )

if __name__ == "__main__":
    main()
