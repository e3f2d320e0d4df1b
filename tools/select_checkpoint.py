"""Choose a segmenter checkpoint on held-out real photos, not on the evaluation images.

Scores each given checkpoint (any file :func:`mattepaint.segmentation.load_segmenter` reads:
a training ``.pt``, a ``.safetensors`` model file, an ONNX cut-out model) as a segmenter alone on
a folder of RGBA photos whose alpha is a reference mask (e.g. ``tools/pseudo_cutouts.py`` run on
photos that training never saw), whole image: mean IoU of ``alpha > 0.5`` and SAD / 1000
(:func:`mattepaint.metrics.matting.matting_metrics`). Prints one row per checkpoint and the best
by IoU. The shipped segmenter was chosen this way on 18 BSDS500-val photos pseudo-labelled where
U²-Netp and MODNet agree (IoU >= 0.8): BSDS500 val is only ever a source of validation
backgrounds, and the evaluation images (alphamatting.com, Kodak24, BSDS500 test) play no part.

Usage:
    python tools/pseudo_cutouts.py --data ../shared/data --min-iou 0.8 --out runs/select_photos \
        ../shared/data/images/bsds500/val
    python tools/select_checkpoint.py --photos runs/select_photos runs/RUN/checkpoints/step_*.pt
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from mattepaint import io
from mattepaint.metrics.matting import matting_metrics
from mattepaint.segmentation import load_segmenter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path, help="segmenter files to score")
    parser.add_argument("--photos", type=Path, required=True, help="folder of RGBA photos")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    photos = []
    for path in io.list_images(args.photos):
        rgb, alpha = io.load_rgba(path)
        if alpha is not None:
            photos.append((io.to_tensor(rgb), alpha))  # (1, 3, H, W), (H, W)
    if not photos:
        sys.exit(f"select_checkpoint: error: no RGBA photo in {args.photos}")
    print(f"{len(photos)} photos in {args.photos}")
    scores = {}
    for checkpoint in args.checkpoints:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "saved by a newer version" notes
            segmenter = load_segmenter(checkpoint)
        rows = []
        for image, reference in photos:
            soft = segmenter(image)[0, 0].numpy()  # (H, W)
            values = matting_metrics(soft, reference, region="all")
            rows.append((values["iou"], values["sad"]))
        scores[checkpoint] = np.mean(rows, axis=0)
        print(f"{checkpoint}: IoU {scores[checkpoint][0]:.4f}, SAD {scores[checkpoint][1]:.2f}")
    best = max(scores, key=lambda c: scores[c][0])
    print(f"best by IoU: {best}")


if __name__ == "__main__":
    main()
