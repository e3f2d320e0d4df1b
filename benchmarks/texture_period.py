"""Periodic texture that an inpainting model adds: the spectrum of its fill minus a reference's.

A perceptual loss can teach a generator a regular dot / grid texture that the loss network reads
as detail (docs/inpainting.md). This script measures it without looking at pictures: over the
cases of ``benchmarks/deep_inpainting.py`` (its ``OUT/cases`` folder: ``manifest.csv``,
``images/``, ``masks/``) whose hole covers at least ``--min-hole`` of the image, it runs the
reference (by default the shipped default, ``--method auto``'s model) and each model on the masked
image, takes the difference of their raw outputs averaged over the colour channels, inside the
hole only, and averages its 2-D power spectrum ``|FFT2(d)|^2`` over the cases. A texture repeating
every ``p`` pixels along the rows / columns / diagonal puts power at frequency ``1 / p`` there;
the table gives that power for p = 2 ... 16 as a multiple of the spectrum's median (a smooth
difference stays near the median's few multiples; a grid stands out by orders of magnitude).

    python benchmarks/texture_period.py --cases results/bench/cases \\
        --model perceptual=runs/unet_refine_wide_effnet/checkpoints/last.pt [--model ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import torch

from mattepaint.io import load_image, load_mask, to_tensor
from mattepaint.methods import auto_inpainter, resolve_inpainter
from mattepaint.models.checkpoint import shipped_model_names, shipped_model_path

PERIODS = (2, 3, 4, 5, 6, 8, 16)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=Path, required=True, help="deep_inpainting.py's OUT/cases")
    parser.add_argument(
        "--model", action="append", required=True, metavar="LABEL=PATH|NAME",
        help="an inpainting checkpoint or shipped model name (repeatable)",
    )  # fmt: skip
    parser.add_argument("--reference", default="auto", help="model the fills are compared with")
    parser.add_argument("--min-hole", type=float, default=0.4, help="smallest hole ratio used")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def _method(spec: str):
    """"auto", a file, or the name of a shipped model (else a registered method name)."""
    path = Path(spec)
    if spec == "auto":
        return resolve_inpainter(auto_inpainter())
    if not path.exists() and spec in shipped_model_names():
        path = shipped_model_path(spec)
    return resolve_inpainter(path if path.exists() else spec)


def mean_spectrum(model, reference, cases: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Mean |FFT2|^2 of the hole-masked channel-mean difference of the two models' outputs.

    Inputs: cases of (image (H, W, 3), mask (H, W) float, 1 = hole), all the same size.
    Outputs: (H, W) float64 power spectrum (numpy's FFT frequency order).
    """
    total = None
    for image, mask in cases:
        x, m = to_tensor(image), to_tensor(mask)  # (1, 3, H, W), (1, 1, H, W)
        with torch.no_grad():
            diff = model(x * (1 - m), m) - reference(x * (1 - m), m)  # (1, 3, H, W)
        d = diff[0].mean(0).double().numpy() * mask  # (H, W), zero outside the hole
        power = np.abs(np.fft.fft2(d)) ** 2
        total = power if total is None else total + power
    return total / len(cases)


def period_table(spectrum: np.ndarray) -> dict[int, tuple[float, float, float]]:
    """period -> (row, column, diagonal) power at frequency 1/period, over the median."""
    h, w = spectrum.shape
    median = max(float(np.median(spectrum)), np.finfo(np.float64).tiny)  # 0 for no difference
    table = {}
    for p in PERIODS:
        ky, kx = round(h / p), round(w / p)
        table[p] = tuple(
            float(v) / median for v in (spectrum[0, kx], spectrum[ky, 0], spectrum[ky, kx])
        )
    return table


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    manifest = args.cases / "manifest.csv"
    if not manifest.is_file():
        sys.exit(f"error: {manifest} not found (run benchmarks/deep_inpainting.py first)")
    cases = []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            mask = load_mask(args.cases / "masks" / f"{row['case']}.png").astype(np.float32)
            if mask.mean() >= args.min_hole:
                cases.append((load_image(args.cases / "images" / f"{row['case']}.png"), mask))
    if not cases:
        sys.exit(f"error: no case with a hole of at least {args.min_hole} in {args.cases}")
    reference = _method(args.reference)
    print(f"{len(cases)} cases with hole >= {args.min_hole}; reference {args.reference}")
    print("power at 1/period over the spectrum's median: rows / columns / diagonal")
    print("| model | " + " | ".join(f"{p} px" for p in PERIODS) + " |")
    print("|---|" + "---|" * len(PERIODS))
    for spec in args.model:
        label, _, source = spec.partition("=")
        table = period_table(mean_spectrum(_method(source or label), reference, cases))
        cells = [" / ".join(f"{v:.0f}" for v in table[p]) for p in PERIODS]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
