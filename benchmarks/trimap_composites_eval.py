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

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from mattepaint.data.matting import RealForegroundComposites
from mattepaint.methods import get_matter
from mattepaint.metrics.matting import matting_metrics
from mattepaint.models.loading import load_matter

METRICS = ("sad", "mse", "grad", "conn")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--method", nargs="*", default=["sm", "closed_form", "knn", "cf_knn_sm"])
    parser.add_argument("--checkpoint", action="append", default=[], metavar="NAME=FILE",
                        help="a trimap model file or shipped model name (repeatable)")  # fmt: skip
    parser.add_argument("--trimap", default="Trimap1", choices=("Trimap1", "Trimap2"))
    parser.add_argument("--seed", type=int, default=0, help="chooses each image's background")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("results/trimap_composites"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root, bgs = args.data / "alphamatting" / "Training", args.data / "images" / "bsds500" / "test"
    if not root.is_dir() or not bgs.is_dir():
        sys.exit(f"trimap_composites_eval: error: {root} or {bgs} not found")
    methods = {name: get_matter(name) for name in args.method}
    for spec in args.checkpoint:
        name, sep, file = spec.partition("=")
        if not sep:
            sys.exit(f"trimap_composites_eval: error: --checkpoint takes NAME=FILE, got {spec!r}")
        methods[name] = load_matter(file)
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
