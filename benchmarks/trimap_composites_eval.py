"""Trimap matting on the 27 alphamatting.com foregrounds composited on BSDS500 *test* backgrounds.

A second look at the trimap methods beside ``learned_trimap_eval.py`` (the photos themselves):
the same subjects and their real Trimap1 / Trimap2, at full resolution, on backgrounds none of
the models trained on (:class:`mattepaint.data.matting.RealForegroundComposites`: foreground
colour estimated from the photo and its true alpha, so the composite's alpha is exact). DIM
metrics on the trimap's unknown region (SAD/1000, MSE x1e3, Grad/1000, Conn/1000), means over
the 27, and every image's SAD in ``--out/per_image.csv``.

Usage:
    python benchmarks/trimap_composites_eval.py --data ../shared/data --threads=2 \
        [--method sm closed_form knn cf_knn_sm] [--checkpoint NAME=FILE] [--trimap Trimap2]
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
from pathlib import Path

import numpy as np
import torch
from learned_trimap_eval import load_checkpoints
from matting_blend import METRICS

from mattepaint.data.matting import RealForegroundComposites
from mattepaint.methods import get_matter
from mattepaint.metrics.matting import matting_metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--method", nargs="*", default=["sm", "closed_form", "knn", "cf_knn_sm"])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=FILE",
                        help="a trimap model file or shipped model name (repeatable)")  # fmt: skip
    parser.add_argument("--trimap", default="Trimap1", choices=("Trimap1", "Trimap2"))
    parser.add_argument("--seed", type=int, default=0, help="chooses each image's background")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads (pass as --threads=N to also set the BLAS/numba pools)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results/trimap_composites"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root, bgs = args.data / "alphamatting" / "Training", args.data / "images" / "bsds500" / "test"
    if not root.is_dir() or not bgs.is_dir():
        sys.exit(f"trimap_composites_eval: error: {root} or {bgs} not found")
    methods = {name: get_matter(name) for name in args.method}
    methods.update(load_checkpoints(args.checkpoint, "trimap_composites_eval"))
    data = RealForegroundComposites(
        root, sorted(bgs.glob("*.jpg")), seed=args.seed, cache_dir=args.out / "fg_cache",
        trimap=args.trimap,
    )  # fmt: skip
    totals = {name: np.zeros(len(METRICS)) for name in methods}
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "per_image.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["image", "method", *METRICS])
        for i in range(len(data)):
            sample = data[i]
            image, trimap = sample["comp"][None], sample["trimap"][None]
            truth, unknown = sample["alpha"][0].numpy(), sample["trimap"][0].numpy()
            line = [sample["name"]]
            for name, matter in methods.items():
                alpha = matter(image, trimap=trimap).alpha[0, 0].numpy()
                values = matting_metrics(alpha, truth, unknown)
                totals[name] += [values[m] for m in METRICS]
                rows.writerow([sample["name"], name, *(values[m] for m in METRICS)])
                line.append(f"{name} {values['sad']:.2f}")
            print(", ".join(line), flush=True)
    print(f"\nGT01-27 foregrounds on BSDS500 test backgrounds, {args.trimap}, unknown region")
    print("| method | SAD | MSE | Grad | Conn |\n|---|---|---|---|---|")
    for name, total in totals.items():
        print(f"| {name} | " + " | ".join(f"{v / len(data):.2f}" for v in total) + " |")
    print(f"wrote {args.out / 'per_image.csv'}")


if __name__ == "__main__":
    main()
