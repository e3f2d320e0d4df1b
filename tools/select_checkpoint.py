"""Choose a segmenter checkpoint on held-out real photos, not on the evaluation images.

Scores each given checkpoint (any file :func:`mattepaint.segmentation.load_segmenter` reads:
a training ``.pt``, a ``.safetensors`` model file, an ONNX cut-out model) as a segmenter alone on
a folder of RGBA photos whose alpha is a reference mask (e.g. ``tools/pseudo_cutouts.py`` run on
photos that training never saw), whole image: mean IoU of ``alpha > 0.5`` and SAD / 1000
(:func:`mattepaint.metrics.matting.matting_metrics`). Prints one row per checkpoint and the best
by IoU. The shipped segmenter was chosen this way on 18 BSDS500-val photos pseudo-labelled where
U²-Netp and MODNet agree (IoU >= 0.8): BSDS500 val is only ever a source of validation
backgrounds, and the evaluation images (alphamatting.com, Kodak24, BSDS500 test) play no part.

Photos that come with a trimap but no public alpha (``--trimap-photos IMAGES TRIMAPS``, files
matched by stem; e.g. the 8 test images of alphamatting.com, whose true alpha is withheld) are
referenced by the default trimap method ``cf_knn`` run on their trimap: a close stand-in for the
true alpha (on GT01-27 it has IoU 0.98 against it), and a selection set of the kind of close-up
subject alphamatting.com photographs, disjoint from the GT01-27 images the cut-out is reported on.

``--refine METHOD`` scores the whole cut-out pipeline (:func:`mattepaint.segmentation.cutout`:
automatic trimap and METHOD on the band) instead of the segmenter alone.

Usage:
    python tools/pseudo_cutouts.py --data ../shared/data --min-iou 0.8 --out runs/select_photos \
        ../shared/data/images/bsds500/val
    python tools/select_checkpoint.py --photos runs/select_photos runs/RUN/checkpoints/step_*.pt
    python tools/select_checkpoint.py --refine closed_form --trimap-photos \
        ../shared/data/alphamatting/Input/Images ../shared/data/alphamatting/Input/Trimap1 \
        runs/RUN/checkpoints/step_*.pt
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from mattepaint import io
from mattepaint.classical import alpha_cf_knn
from mattepaint.metrics.matting import matting_metrics
from mattepaint.segmentation import cutout, load_segmenter


def rgba_photos(folder: Path) -> list[tuple[torch.Tensor, np.ndarray]]:
    """``(image (1, 3, H, W), alpha (H, W))`` of every RGBA photo in ``folder``."""
    photos = []
    for path in io.list_images(folder):
        rgb, alpha = io.load_rgba(path)
        if alpha is not None:
            photos.append((io.to_tensor(rgb), alpha))
    return photos


def trimap_photos(images: Path, trimaps: Path) -> list[tuple[torch.Tensor, np.ndarray]]:
    """``(image, cf_knn alpha from its trimap)`` of every photo of ``images`` with a trimap of
    the same stem in ``trimaps``."""
    paths = io.list_images(images)
    by_stem = io.match_by_stem([p.stem for p in paths], trimaps, "trimap")
    photos = []
    for image_path in paths:
        rgb = io.load_image(image_path)
        trimap = io.load_trimap(by_stem[image_path.stem], like=rgb)
        photos.append((io.to_tensor(rgb), alpha_cf_knn(rgb, trimap)))
    return photos


def cutout_metrics(
    image: torch.Tensor, reference: np.ndarray, refine: str, **options: object
) -> dict[str, float]:
    """Whole-image :func:`~mattepaint.metrics.matting.matting_metrics` of the cut-out of
    ``image`` (1, 3, H, W) refined by ``refine`` against ``reference`` (H, W); ``options``
    go to :func:`mattepaint.segmentation.cutout` (a segmenter or a soft mask, trimap options)."""
    alpha = cutout(image, refine=refine, estimate_fg=False, **options).alpha[0, 0].numpy()
    return matting_metrics(alpha, reference, region="all")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkpoints", nargs="+", help="segmenter files (or shipped segmenter names) to score"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--photos", type=Path, help="folder of RGBA photos")
    source.add_argument(
        "--trimap-photos",
        type=Path,
        nargs=2,
        metavar=("IMAGES", "TRIMAPS"),
        help="photos and their trimaps (matched by stem); reference: cf_knn on the trimap",
    )
    parser.add_argument("--refine", default=None, help="score the cut-out with this method")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.photos is not None:
        folder, photos = args.photos, rgba_photos(args.photos)
    else:
        folder, photos = args.trimap_photos[0], trimap_photos(*args.trimap_photos)
    if not photos:
        sys.exit(f"select_checkpoint: error: no RGBA photo (or photo with a trimap) in {folder}")
    what = f"cut-out refined by {args.refine}" if args.refine else "segmenter alone"
    print(f"{len(photos)} photos in {folder}; scoring the {what}")
    scores = {}
    for checkpoint in args.checkpoints:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "saved by a newer version" notes
            segmenter = load_segmenter(checkpoint)
        rows = []
        for image, reference in photos:
            if args.refine:
                values = cutout_metrics(image, reference, args.refine, segmenter=segmenter)
            else:
                values = matting_metrics(segmenter(image)[0, 0].numpy(), reference, region="all")
            rows.append((values["iou"], values["sad"]))
        scores[checkpoint] = np.mean(rows, axis=0)
        print(f"{checkpoint}: IoU {scores[checkpoint][0]:.4f}, SAD {scores[checkpoint][1]:.2f}")
    best = max(scores, key=lambda c: scores[c][0])
    print(f"best by IoU: {best}")


if __name__ == "__main__":
    main()
