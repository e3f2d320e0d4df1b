"""Real foregrounds with a self-consistent alpha for training ``dim_matte``: alphamatting.com's
8 *test* photos cut out by the classical default.

The synthetic foregrounds of the matting configs (hard-edged tuxpaint cut-outs, procedural
strands) do not look like real hair, fur, nets or plastic, and a network trained on them alone
made real mattes worse (docs/matting.md). This tool cuts out the 8 photos of
``alphamatting/Input`` (doll, donkey, elephant, net, pineapple, plant, plasticbag, troll: the
benchmark's test set, whose ground truth is withheld; NOT the GT01-27 training photos we evaluate
on) with ``mattepaint matte --method cf_knn_sm --cutout`` under each of their three trimaps, and
writes every RGBA cut-out (estimated foreground colours + alpha) ``--copies`` times into
``--out``, a foreground source ``{kind: rgba, path: ...}`` for ``dim_matte_sm``. Composited on a
new background, such a cut-out's alpha is the exact alpha of the composite, so the network
learns from real-looking structure with a true label (the label is the classical matte's
reading of the photo, not the photo's real alpha).

``--photos DIR`` matting more subjects: every RGBA photo of DIR whose alpha is a segmenter's soft
mask (``tools/pseudo_cutouts.py`` writes them: training photos where U²-Netp and MODNet agree)
gets the cut-out pipeline's automatic trimap (:func:`mattepaint.segmentation.auto_trimap`) and is
matted the same way, one cut-out per photo named by its stem.

Usage:
    python tools/pseudo_mattes.py --data ../shared/data --out runs/pseudo_mattes [--copies 3]
    python tools/pseudo_mattes.py --photos runs/pseudo_cutouts --out runs/pseudo_mattes_photos \
        --copies 1
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from mattepaint import io
from mattepaint.cli import main as cli
from mattepaint.segmentation import auto_trimap


def _matte(images: Path, trimaps: Path, folder: Path, method: str) -> list[Path]:
    """``mattepaint matte --cutout`` over a folder: the RGBA cut-outs, sorted."""
    argv = ["matte", "--input-dir", str(images), "--trimap-dir", str(trimaps),
            "--output-dir", str(folder), "--method", method, "--cutout", "--no-progress"]  # fmt: skip
    if cli(argv) != 0:
        sys.exit(f"pseudo_mattes: error: matting {images} with {trimaps} failed")
    return sorted(folder.glob("*_cutout.png"))


def _photo_trimaps(photos: Path, tmp: Path, band_fraction: float) -> tuple[Path, Path]:
    """The RGB of every RGBA photo of ``photos`` and the automatic trimap of its alpha, as two
    folders under ``tmp`` (same stems)."""
    images, trimaps = tmp / "photos", tmp / "photo_trimaps"
    images.mkdir()
    trimaps.mkdir()
    for path in io.list_images(photos):
        rgb, alpha = io.load_rgba(path)
        if alpha is None:
            print(f"pseudo_mattes: skipped {path.name}: no alpha channel", file=sys.stderr)
            continue
        trimap = auto_trimap(alpha.astype(np.float32), band_fraction=band_fraction, min_band=5)
        io.save_image(images / f"{path.stem}.png", rgb)
        io.save_trimap(trimaps / f"{path.stem}.png", trimap)
    return images, trimaps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/pseudo_mattes"))
    parser.add_argument("--method", default="cf_knn_sm", help="the trimap matting method")
    parser.add_argument("--copies", type=int, default=3, help="files per cut-out (sampling weight)")
    parser.add_argument("--photos", type=Path, default=None,
                        help="RGBA photos with a segmenter's soft alpha to matte instead")  # fmt: skip
    parser.add_argument("--band-fraction", type=float, default=0.03,
                        help="--photos: the automatic trimap's band (auto_trimap)")  # fmt: skip
    args = parser.parse_args(argv)
    root = args.data / "alphamatting" / "Input"
    if args.photos is None and not (root / "Images").is_dir():
        sys.exit(f"pseudo_mattes: error: alphamatting.com test photos not found: {root / 'Images'}")
    if args.photos is not None and not args.photos.is_dir():
        sys.exit(f"pseudo_mattes: error: --photos folder not found: {args.photos}")
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"pseudo_mattes: error: {args.out} is not empty; choose another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.photos is not None:
            images, trimaps = _photo_trimaps(args.photos, Path(tmp), args.band_fraction)
            runs = [(images, trimaps, "")]
        else:
            runs = [
                (root / "Images", root / t, f"_{t.lower()}")
                for t in ("Trimap1", "Trimap2", "Trimap3")
            ]
        for images, trimaps, suffix in runs:
            for cutout in _matte(images, trimaps, Path(tmp) / f"out{suffix}", args.method):
                stem = cutout.name[: -len("_cutout.png")]
                for copy in range(args.copies):
                    name = (
                        f"{stem}{suffix}_copy{copy}.png"
                        if args.copies > 1
                        else f"{stem}{suffix}.png"
                    )
                    shutil.copyfile(cutout, args.out / name)
    print(f"wrote {len(list(args.out.glob('*.png')))} RGBA cut-outs to {args.out}")


if __name__ == "__main__":
    main()
