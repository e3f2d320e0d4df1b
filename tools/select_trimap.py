"""Choose the cut-out's automatic-trimap options on held-out photos, not on the evaluation images.

Runs the cut-out pipeline (:func:`mattepaint.segmentation.cutout`, the shipped segmenter run once
per photo) with every combination of the given ``band_fraction`` / ``fg_threshold`` (the
background threshold is ``1 - fg_threshold``) / ``max_unknown_pixels`` values, and scores the
refined alpha, whole image, with SAD / 1000 and IoU of ``alpha > 0.5`` against a reference
(:func:`mattepaint.metrics.matting.matting_metrics`). The selection set is ``--trimap-photos``:
photos with a trimap but no public alpha (alphamatting.com's 8 test images), referenced by
``cf_knn`` on their trimap, as in ``tools/select_checkpoint.py``. The lowest mean SAD wins.

``--report IMAGES ALPHAS`` scores every setting on a second set with its true alpha too (e.g.
GT01-27) and prints it beside the selection score, so a reader can see whether the selection set
ranks the settings like the evaluation set; the choice never looks at it.

Usage:
    python tools/select_trimap.py --trimap-photos ../shared/data/alphamatting/Input/Images \
        ../shared/data/alphamatting/Input/Trimap1 --refine closed_form \
        --band-fraction 0.01 0.02 0.03 --fg-threshold 0.9 0.95 0.98 \
        [--report ../shared/data/alphamatting/Training/Images \
                  ../shared/data/alphamatting/Training/GroundTruth] [--csv OUT.csv]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from mattepaint import io
from mattepaint.segmentation import resolve_segmenter
from mattepaint.segmentation.cutout import DEFAULT_MAX_UNKNOWN_PIXELS
from mattepaint.segmentation.trimap import DEFAULT_BAND_FRACTION, DEFAULT_FG_THRESHOLD

sys.path.insert(0, str(Path(__file__).resolve().parent))
from select_checkpoint import cutout_metrics, trimap_photos


def alpha_photos(images: Path, alphas: Path) -> list[tuple[torch.Tensor, np.ndarray]]:
    """``(image (1, 3, H, W), true alpha (H, W))`` of every photo with an alpha of its stem."""
    paths = io.list_images(images)
    by_stem = io.match_by_stem([p.stem for p in paths], alphas, "alpha")
    return [(io.to_tensor(io.load_image(p)), io.load_alpha(by_stem[p.stem])) for p in paths]


def score(
    photos: list[tuple[torch.Tensor, np.ndarray]],
    soft: list[torch.Tensor],
    refine: str,
    options: dict[str, float | int],
) -> tuple[float, float]:
    """Mean (SAD / 1000, IoU) of the refined cut-outs over ``photos``."""
    rows = []
    for (image, reference), mask in zip(photos, soft):
        values = cutout_metrics(image, reference, refine, soft_mask=mask, **options)
        rows.append((values["sad"], values["iou"]))
    sad, iou = np.mean(rows, axis=0)
    return float(sad), float(iou)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--trimap-photos", type=Path, nargs=2, required=True, metavar=("IMAGES", "TRIMAPS")
    )
    parser.add_argument("--report", type=Path, nargs=2, metavar=("IMAGES", "ALPHAS"))
    parser.add_argument("--segmenter", default=None, help="name or file (default: shipped)")
    parser.add_argument("--refine", default="closed_form")
    parser.add_argument("--band-fraction", type=float, nargs="+", default=[DEFAULT_BAND_FRACTION])
    parser.add_argument("--fg-threshold", type=float, nargs="+", default=[DEFAULT_FG_THRESHOLD])
    parser.add_argument(
        "--max-unknown-pixels", type=int, nargs="+", default=[DEFAULT_MAX_UNKNOWN_PIXELS]
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None, help="write every row here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        segmenter = resolve_segmenter(args.segmenter)
    sets = {"select": trimap_photos(*args.trimap_photos)}
    if args.report:
        sets["report"] = alpha_photos(*args.report)
    soft = {key: [segmenter(image) for image, _ in photos] for key, photos in sets.items()}
    grid = list(itertools.product(args.band_fraction, args.fg_threshold, args.max_unknown_pixels))
    rows = []
    for band, fg, unknown in track(grid, description="settings"):
        options = {
            "band_fraction": band,
            "fg_threshold": fg,
            "bg_threshold": round(1.0 - fg, 6),
            "max_unknown_pixels": unknown,
        }
        row: dict[str, float | int] = dict(options)
        for key, photos in sets.items():
            row[f"{key}_sad"], row[f"{key}_iou"] = score(photos, soft[key], args.refine, options)
        rows.append(row)
        print(", ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
    best = min(rows, key=lambda r: r["select_sad"])
    print(f"best by selection SAD: {best}")
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
