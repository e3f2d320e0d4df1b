"""Choose the agreement threshold of a GatedSegmenter on held-out photos, not on the evaluation set.

:class:`mattepaint.segmentation.GatedSegmenter` keeps a specialist's mask (e.g. MODNet's, made
for portraits) when it agrees with a general segmenter's (IoU of ``p > 0.5`` at least the
threshold), the general one's otherwise. This tool runs the whole cut-out
(:func:`mattepaint.segmentation.cutout`, ``--refine`` on the automatic trimap's band) once with
each segmenter's mask per photo, then for every threshold of ``--grid`` scores the gated result:
mean SAD / 1000 and IoU of ``alpha > 0.5``, whole image, against the reference. Photos and
reference as in ``tools/select_checkpoint.py --trimap-photos`` (alphamatting.com's 8 test
photos, true alpha withheld, referenced by ``cf_knn`` on their trimap). The lowest SAD wins; ties
go to the middle of the tied range (printed).

Usage:
    python tools/select_gate.py ../shared/data/weights/modnet_photographic_portrait_matting.onnx \
        late_fusion_effnet_cutout --trimap-photos ../shared/data/alphamatting/Input/Images \
        ../shared/data/alphamatting/Input/Trimap1
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from mattepaint.segmentation import load_segmenter
from mattepaint.segmentation.gated import mask_iou

sys.path.insert(0, str(Path(__file__).resolve().parent))
from select_checkpoint import cutout_metrics, trimap_photos


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specialist", help="segmenter file or name used where the two agree")
    parser.add_argument("general", help="segmenter file or name that checks it")
    parser.add_argument(
        "--trimap-photos", type=Path, nargs=2, required=True, metavar=("IMAGES", "TRIMAPS")
    )
    parser.add_argument("--refine", default="closed_form")
    parser.add_argument(
        "--grid", type=float, nargs="+", default=[round(0.05 * k, 2) for k in range(21)]
    )
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        segmenters = [load_segmenter(args.specialist), load_segmenter(args.general)]
    photos = trimap_photos(*args.trimap_photos)
    # per photo: agreement, and (SAD, IoU) of the specialist's and of the general cut-out
    agreement, scores = [], []
    for index, (image, reference) in enumerate(photos):
        masks = [seg(image) for seg in segmenters]
        agreement.append(float(mask_iou(*masks)[0]))
        row = []
        for mask in masks:
            values = cutout_metrics(image, reference, args.refine, soft_mask=mask)
            row.append((values["sad"], values["iou"]))
        scores.append(row)
        print(
            f"photo {index}: agreement {agreement[-1]:.3f}, SAD specialist {row[0][0]:.2f}, "
            f"general {row[1][0]:.2f}",
            flush=True,
        )
    table = []
    for threshold in args.grid:
        picked = [row[0] if a >= threshold else row[1] for a, row in zip(agreement, scores)]
        sad, iou = np.mean(picked, axis=0)
        table.append((threshold, float(sad), float(iou)))
        print(f"min_iou {threshold:.2f}: SAD {sad:.2f}, IoU {iou:.4f}")
    best_sad = min(sad for _, sad, _ in table)
    tied = [t for t, sad, _ in table if sad <= best_sad + 1e-9]
    print(
        f"lowest SAD {best_sad:.2f} for min_iou in [{min(tied):.2f}, {max(tied):.2f}]; "
        f"middle: {float(np.median(tied)):.2f}"
    )


if __name__ == "__main__":
    main()
