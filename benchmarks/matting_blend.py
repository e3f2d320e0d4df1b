"""Closed-form, KNN, shared matting and their blends on alphamatting.com GT01-27: quality, time.

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
  what the ``cf_knn`` method computes, and a leave-one-out row: each image blended with the
  weight that is best (lowest sum of the four metrics relative to closed_form's) on the other
  26, an estimate of the blend's quality on images its weight was not chosen on;
- the blends of that ``cf_knn`` matte with shared matting (``sm``, Gastal & Oliveira 2010),
  ``(1 - s) * cf_knn + s * sm`` for the weights ``--sm-weights`` (s = 0.5 is the default trimap
  method ``cf_knn_sm``), with their own leave-one-out row;
- the wall-clock seconds of each solver per image (``--threads``, default 2, for numba / BLAS).

``--trimap Trimap2`` scores everything with the benchmark's second, wider trimaps instead.

The alphas are cached in ``--cache`` (``GTxx_<solver>.npy`` with their seconds in
``GTxx_<solver>.json``; ``GTxx_Trimap2_<solver>.*`` for the second trimaps), so the table can be
reprinted without solving again (knn takes ~15 s per image). Delete a solver's files to time it
again.

Outputs in ``--out`` (default: the cache folder): ``per_image.csv`` (every image's four
metrics for closed_form, knn, sm, cf_knn and the default ``cf_knn_sm``), and ``hardest.png``,
the ``--grid`` images where the default has the largest SAD, cropped to the trimap's unknown
region: image | trimap | closed_form | knn | cf_knn_sm | ground truth, each matte with its SAD.

Usage:
    python benchmarks/matting_blend.py --data ../shared/data --cache results/matting_blend \
        [--weights 1 0.75 0.5 0.25 0] [--sm-weights 0 0.25 0.5 0.75 1] [--trimap Trimap2] \
        [--limit N] [--grid 6] [--threads=2] \
        [--synthetic dim_matte_small [--synthetic-size 320]]
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    _threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), None)
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(_var, _threads or "2")  # before numpy / numba start their pools

import argparse
import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
from matting_eval import make_grid, thumbnail

from mattepaint.classical.cf_knn import alpha_knn_local
from mattepaint.classical.pymatting_methods import alpha_closed_form, alpha_knn, alpha_sm
from mattepaint.data.matting import AlphaMattingDataset
from mattepaint.metrics.matting import matting_metrics
from mattepaint.segmentation.cutout import _box  # the cut-out's bounding box of a region

SOLVERS = {
    "closed_form": alpha_closed_form,
    "knn": alpha_knn,
    "knn_local": alpha_knn_local,
    "sm": alpha_sm,
}
METRICS = ("sad", "mse", "grad", "conn")
#: ``cf_knn``: this weight of closed_form, the rest knn_local.
DEFAULT_WEIGHT = 0.25
#: The default trimap method ``cf_knn_sm``: this weight of sm, the rest cf_knn.
DEFAULT_SM_WEIGHT = 0.5


def unknown_box(trimap: np.ndarray, margin: int = 20) -> tuple[slice, slice]:
    """Rows and columns of the trimap's unknown region's bounding box, ``margin`` pixels wider
    (the whole image when nothing is unknown)."""
    unknown = (trimap > 0.25) & (trimap < 0.75)
    return _box(unknown, margin) if unknown.any() else (slice(None), slice(None))


def synthetic_table(config: str, size: int, weights: list[float], sm_weights: list[float]) -> None:
    """Print the blends' metrics on the held-out composites of a training config's generator
    (its validation items at ``size`` px, trimaps from the true alpha; composites without a
    foreground, background or unknown region are skipped): how the blend does on data unlike
    alphamatting.com's photos. ``config``: a packaged config name or YAML file with a matting
    ``data`` section."""
    from mattepaint.train.config import load_config, resolve_config_path
    from mattepaint.train.tasks import build_task

    overrides = [f"data.image_size={size}", "data.max_val_images=100000"]  # every held-out item
    task = build_task(load_config(resolve_config_path(config), overrides))
    _, val = task.datasets()
    if val is None:
        sys.exit(f"matting_blend: error: {config} has no validation composites")
    val.prior = None  # the blend computes its own mattes
    rows: dict[float, list[list[float]]] = {w: [] for w in weights}
    sm_rows: dict[float, list[list[float]]] = {s: [] for s in sm_weights}
    for index in range(len(val)):
        sample = val[index]
        image = sample["comp"].permute(1, 2, 0).numpy()  # (S, S, 3)
        trimap, gt = sample["trimap"][0].numpy(), sample["alpha"][0].numpy()
        if not ((trimap > 0.25) & (trimap < 0.75)).any() or trimap.min() > 0 or trimap.max() < 1:
            continue
        cf = alpha_closed_form(image, trimap)
        knn = alpha_knn_local(image, trimap, initial=cf)
        for w in weights:
            values = matting_metrics(w * cf + (1 - w) * knn, gt, trimap)
            rows[w].append([values[m] for m in METRICS])
        cf_knn, sm = DEFAULT_WEIGHT * cf + (1 - DEFAULT_WEIGHT) * knn, alpha_sm(image, trimap)
        for s in sm_weights:
            values = matting_metrics((1 - s) * cf_knn + s * sm, gt, trimap)
            sm_rows[s].append([values[m] for m in METRICS])
    print(f"\nheld-out composites of {config} ({len(rows[weights[0]])}, {size} px), knn_local")
    print("| w (closed_form weight) | SAD | MSE | Grad | Conn |\n|---|---|---|---|---|")
    for w, values in rows.items():
        print(f"| {w:g} | " + " | ".join(f"{v:.2f}" for v in np.mean(values, axis=0)) + " |")
    print("| s (sm weight, with cf_knn) | SAD | MSE | Grad | Conn |\n|---|---|---|---|---|")
    for s, values in sm_rows.items():
        print(f"| {s:g} | " + " | ".join(f"{v:.2f}" for v in np.mean(values, axis=0)) + " |")


def leave_one_out(
    rows: dict[float, list[list[float]]], reference: float = 1.0
) -> tuple[np.ndarray, list[float]]:
    """Leave-one-out choice of the blend weight: for each image, the weight with the lowest
    sum of the four metrics relative to those of weight ``reference`` (closed_form's w = 1 by
    default) on the *other* images, applied to it. Outputs: the mean metrics of those choices
    (4,) and the weight chosen for each image. ``rows``: weight -> per-image metric rows (the
    weights must include ``reference``)."""
    weights = sorted(rows)
    table = np.array([rows[w] for w in weights])  # (n_weights, n_images, 4)
    n = table.shape[1]
    chosen, picked = [], []
    for i in range(n):
        others = np.delete(table, i, axis=1).mean(axis=1)  # (n_weights, 4)
        score = (others / others[weights.index(reference)]).sum(axis=1)
        best = int(np.argmin(score))
        chosen.append(table[best, i])
        picked.append(weights[best])
    return np.mean(chosen, axis=0), picked


def default_blends(alphas: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(cf_knn, cf_knn_sm)`` from the "closed_form", "knn_local" and "sm" mattes of one image,
    blended with the methods' default weights."""
    cf_knn = DEFAULT_WEIGHT * alphas["closed_form"] + (1 - DEFAULT_WEIGHT) * alphas["knn_local"]
    return cf_knn, (1 - DEFAULT_SM_WEIGHT) * cf_knn + DEFAULT_SM_WEIGHT * alphas["sm"]


def write_outputs(
    out: Path, per_image: list[dict], shown: list[dict], cell: int, third: str = "cf_knn_sm"
) -> None:
    """``per_image.csv`` and ``hardest.png`` (see the module doc) in ``out``; ``third`` is the
    method shown beside closed_form and knn."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "per_image.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["image", "method", *METRICS])
        writer.writeheader()
        writer.writerows(per_image)
    columns = ["image", "trimap", "closed_form", "knn", third, "ground truth"]
    rows = []
    for case in shown:
        box = unknown_box(case["trimap"])
        cells = [thumbnail(case[c][box], cell) for c in ("image", "trimap")]
        notes = ["", ""]
        for method in ("closed_form", "knn", third):
            cells.append(thumbnail(case[method][box], cell))
            notes.append(f"SAD {case['sad'][method]:.2f}")
        rows.append(
            {
                "label": case["name"],
                "cells": [*cells, thumbnail(case["gt"][box], cell)],
                "notes": [*notes, ""],
            }
        )
    grid = make_grid(rows, columns, cell)
    cv2.imwrite(str(out / "hardest.png"), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


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
    parser.add_argument(
        "--sm-weights",
        type=float,
        nargs="+",
        default=[0.0, 0.25, 0.5, 0.75, 1.0],
        help="weights of sm in its blends with cf_knn",
    )
    parser.add_argument("--trimap", choices=("Trimap1", "Trimap2"), default="Trimap1")
    parser.add_argument("--limit", type=int, default=0, help="first N images only (0: all 27)")
    parser.add_argument("--threads", default="2", help="numba / BLAS threads (set at start)")
    parser.add_argument("--out", type=Path, default=None, help="per_image.csv, hardest.png")
    parser.add_argument("--grid", type=int, default=6, help="hardest images shown (0: none)")
    parser.add_argument("--cell", type=int, default=220, help="grid cell side in pixels")
    parser.add_argument(
        "--synthetic",
        default=None,
        metavar="CONFIG",
        help="also score the blends on this training config's held-out composites "
        "(e.g. dim_matte_small; needs MATTEPAINT_DATA or --data for its folders)",
    )
    parser.add_argument("--synthetic-size", type=int, default=320)
    args = parser.parse_args(argv)
    root = args.data / "alphamatting" / "Training"
    if not root.is_dir():
        sys.exit(f"matting_blend: error: alphamatting.com data not found: {root}")
    args.cache.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MATTEPAINT_DATA", str(args.data.resolve()))  # the configs' folders
    dataset = AlphaMattingDataset(root, trimap=args.trimap)
    suffix = "" if args.trimap == "Trimap1" else f"_{args.trimap}"  # cache file names
    count = len(dataset) if args.limit <= 0 else min(args.limit, len(dataset))
    variants = ("knn", "knn_local")  # the KNN matte that is blended with closed_form
    scores = {(v, w): [] for v in variants for w in args.weights}  # per-image metric rows
    sm_scores: dict[float, list[list[float]]] = {s: [] for s in args.sm_weights}
    seconds = {name: [] for name in SOLVERS}
    per_image: list[dict] = []
    cases: list[dict] = []
    for index in range(count):
        image, trimap, gt, stem = dataset.load(index)  # (H, W, 3), (H, W), (H, W) in [0, 1]
        alphas = {}
        for name in SOLVERS:
            options = {"initial": alphas["closed_form"]} if name == "knn_local" else {}
            alphas[name], took = solve_cached(
                name, image, trimap, args.cache, stem + suffix, **options
            )
            seconds[name].append(took)
        for (variant, w), rows in scores.items():
            blend = w * alphas["closed_form"] + (1.0 - w) * alphas[variant]  # (H, W)
            values = matting_metrics(blend, gt, trimap)
            rows.append([values[m] for m in METRICS])
        cf_knn, default = default_blends(alphas)
        for s, rows in sm_scores.items():
            values = matting_metrics((1.0 - s) * cf_knn + s * alphas["sm"], gt, trimap)
            rows.append([values[m] for m in METRICS])
        shown = {
            "closed_form": alphas["closed_form"],
            "knn": alphas["knn"],
            "sm": alphas["sm"],
            "cf_knn": cf_knn,
            "cf_knn_sm": default,
        }
        sads = {}
        for method, alpha in shown.items():
            values = matting_metrics(alpha, gt, trimap)
            per_image.append({"image": stem, "method": method, **{m: values[m] for m in METRICS}})
            sads[method] = values["sad"]
        if args.grid > 0:
            cases.append(
                {"name": stem, "image": image, "trimap": trimap, "gt": gt, "sad": sads, **shown}
            )
            cases = sorted(cases, key=lambda c: -c["sad"]["cf_knn_sm"])[: args.grid]
        print(f"{stem}: " + ", ".join(f"{n} {seconds[n][-1]:.2f} s" for n in SOLVERS), flush=True)
    print(
        f"\nGT01-{count:02d}, {args.trimap}, unknown region "
        "(SAD/1000, MSE x1e3, Grad/1000, Conn/1000)"
    )
    print("| KNN matte | w (closed_form weight) | SAD | MSE | Grad | Conn |")
    print("|---|---|---|---|---|---|")
    for (variant, w), rows in scores.items():
        mean = np.mean(rows, axis=0)
        print(f"| {variant} | {w:g} | " + " | ".join(f"{v:.2f}" for v in mean) + " |")
    if 1.0 in args.weights and count > 1:
        mean, picked = leave_one_out({w: scores["knn_local", w] for w in args.weights})
        print(
            f"| knn_local | leave-one-out (w chosen on the other images: "
            f"{', '.join(f'{w:g}' for w in sorted(set(picked)))}) | "
            + " | ".join(f"{v:.2f}" for v in mean)
            + " |"
        )
    print(
        "\n| sm weight s in (1 - s) cf_knn + s sm | SAD | MSE | Grad | Conn |"
        "\n|---|---|---|---|---|"
    )
    for s, rows in sm_scores.items():
        print(f"| {s:g} | " + " | ".join(f"{v:.2f}" for v in np.mean(rows, axis=0)) + " |")
    if 0.0 in args.sm_weights and count > 1:
        mean, picked = leave_one_out(sm_scores, reference=0.0)
        print(
            f"| leave-one-out (s chosen on the other images: "
            f"{', '.join(f'{s:g}' for s in sorted(set(picked)))}) | "
            + " | ".join(f"{v:.2f}" for v in mean)
            + " |"
        )
    default_rows = np.array(
        [[r[m] for m in METRICS] for r in per_image if r["method"] == "cf_knn_sm"]
    )
    for method in ("cf_knn", "closed_form", "knn"):
        other = np.array([[r[m] for m in METRICS] for r in per_image if r["method"] == method])
        wins = ", ".join(f"{m} {int(n)}" for m, n in zip(METRICS, (default_rows < other).sum(0)))
        print(f"images where cf_knn_sm beats {method} (of {len(other)}): {wins}")
    for name, values in seconds.items():
        print(f"{name}: {np.mean(values):.2f} s per image (median {np.median(values):.2f})")
    write_outputs(args.out or args.cache, per_image, cases, args.cell)
    if args.synthetic:
        synthetic_table(args.synthetic, args.synthetic_size, args.weights, args.sm_weights)
    print(f"wrote {(args.out or args.cache) / 'per_image.csv'} and hardest.png")
    both = np.add(seconds["closed_form"], seconds["knn_local"])
    print(
        f"cf_knn (closed_form, then knn_local started from it): {np.mean(both):.2f} s per image, "
        f"{np.mean(both) / np.mean(seconds['closed_form']):.2f}x closed_form"
    )
    three = both + np.asarray(seconds["sm"])
    print(
        f"cf_knn_sm (cf_knn and sm): {np.mean(three):.2f} s per image, "
        f"{np.mean(three) / np.mean(seconds['closed_form']):.2f}x closed_form"
    )


if __name__ == "__main__":
    main()
