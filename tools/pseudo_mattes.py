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

Usage:
    python tools/pseudo_mattes.py --data ../shared/data --out runs/pseudo_mattes [--copies 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from mattepaint.cli import main as cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("runs/pseudo_mattes"))
    parser.add_argument("--method", default="cf_knn_sm", help="the trimap matting method")
    parser.add_argument("--copies", type=int, default=3, help="files per cut-out (sampling weight)")
    args = parser.parse_args(argv)
    root = args.data / "alphamatting" / "Input"
    if not (root / "Images").is_dir():
        sys.exit(f"pseudo_mattes: error: alphamatting.com test photos not found: {root / 'Images'}")
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"pseudo_mattes: error: {args.out} is not empty; choose another --out")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for trimap in ("Trimap1", "Trimap2", "Trimap3"):
            folder = Path(tmp) / trimap
            argv = ["matte", "--input-dir", str(root / "Images"), "--trimap-dir",
                    str(root / trimap), "--output-dir", str(folder), "--method", args.method,
                    "--cutout", "--no-progress"]  # fmt: skip
            if cli(argv) != 0:
                sys.exit(f"pseudo_mattes: error: matting with {trimap} failed")
            for cutout in sorted(folder.glob("*_cutout.png")):
                stem = cutout.name[: -len("_cutout.png")]
                for copy in range(args.copies):
                    shutil.copyfile(cutout, args.out / f"{stem}_{trimap.lower()}_copy{copy}.png")
    print(f"wrote {len(list(args.out.glob('*.png')))} RGBA cut-outs to {args.out}")


if __name__ == "__main__":
    main()
