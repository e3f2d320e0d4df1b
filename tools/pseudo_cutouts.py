"""Pseudo-labelled cut-outs for training a segmenter: photos cut out where two teachers agree.

Runs two standard cut-out models (U²-Netp and MODNet, the ONNX files in ../shared/data/weights,
both Apache-2.0) on every photo of the given folders and keeps a photo only where they agree
(IoU of their masks at 0.5 >= ``--min-iou``) and the subject covers ``--min-cover`` to
``--max-cover`` of it. Each kept photo is written as an RGBA PNG (alpha = the mean of the two
soft masks), a foreground source for ``{kind: rgba, path: ...}`` in a matting config
(``late_fusion_effnet_cutout`` reads ``runs/pseudo_cutouts``). Never point it at evaluation
images (alphamatting.com, kodak24, BSDS500 test).

Usage:
    python tools/pseudo_cutouts.py --data ../shared/data --out runs/pseudo_cutouts \
        ../shared/data/images/imagenet_sample_500 ../shared/data/images/bsds500/train
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from mattepaint import io
from mattepaint.segmentation import load_segmenter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of photos to label")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/pseudo_cutouts"))
    parser.add_argument("--min-iou", type=float, default=0.9)
    parser.add_argument("--min-cover", type=float, default=0.05)
    parser.add_argument("--max-cover", type=float, default=0.85)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    weights = args.data / "weights"
    teachers = [
        load_segmenter(weights / "u2netp.onnx", threads=args.threads),
        load_segmenter(weights / "modnet_photographic_portrait_matting.onnx", threads=args.threads),
    ]
    paths = [p for folder in args.folders for p in io.list_images(folder)]
    args.out.mkdir(parents=True, exist_ok=True)
    kept = 0
    for i, path in enumerate(paths):
        target = args.out / f"{path.stem}.png"
        if target.exists():  # resumable: labelled by an earlier run
            kept += 1
            continue
        image = io.load_image(path)
        masks = [t(io.to_tensor(image))[0, 0].numpy() for t in teachers]
        a, b = masks[0] > 0.5, masks[1] > 0.5
        iou = (a & b).sum() / max(1, (a | b).sum())
        if iou >= args.min_iou and args.min_cover <= a.mean() <= args.max_cover:
            alpha = (masks[0] + masks[1]) / 2
            io.save_image(target, np.concatenate([image, alpha[..., None]], axis=-1))
            kept += 1
        if i % 50 == 0:
            print(f"{i}/{len(paths)} photos, {kept} kept", flush=True)
    print(f"{kept} of {len(paths)} photos kept in {args.out}")


if __name__ == "__main__":
    main()
