"""Picture of what the contextual-attention layer does, on raw pixels (no training involved).

A 256x256 Kodak24 crop gets a copy of one of its own 64x64 regions pasted elsewhere; that pasted
square is then declared a hole. :func:`mattepaint.models.layers.contextual_attention` matches the
hole (the "foreground", here the true pixels: an oracle coarse result) against every fully known
3x3 patch of the image and pastes back the attended background patches. Because the hole is a
copy, every hole position should attend to the matching position of the source square: the
colour-coded offsets (seed 002 Fig. 5: hue = direction, saturation = distance, white = itself)
are one flat colour pointing from the hole to the source, and the rebuilt hole matches it.

Writes OUT (default docs/images/attention_copy.png): masked input | rebuilt by attention |
attention offsets | the source square outlined; prints the hole PSNR of the rebuild and the
fraction of hole positions whose offset is exactly the copy shift.

Usage:
    python benchmarks/attention_demo.py --data ../shared/data [--out docs/images/attention_copy.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from mattepaint import io
from mattepaint.models.layers.contextual_attention import contextual_attention, offsets_to_color

SIZE, SIDE = 256, 64
SOURCE, TARGET = (32, 160), (144, 48)  # (top, left) of the copied square and of the hole


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--image", default="kodim13.png", help="file name in images/kodak24")
    parser.add_argument("--out", type=Path, default=Path("docs/images/attention_copy.png"))
    parser.add_argument(
        "--softmax-scale",
        type=float,
        default=50.0,
        help="softmax temperature factor lambda (DeepFill: 10 on learned features)",
    )
    args = parser.parse_args(argv)
    path = args.data / "images" / "kodak24" / args.image
    if not path.is_file():
        print(f"error: image not found: {path}", file=sys.stderr)
        return 1
    image = io.load_image(path)  # (H, W, 3)
    h, w = image.shape[:2]
    side = min(h, w)
    image = image[
        (h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side
    ]
    image = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    (sy, sx), (ty, tx) = SOURCE, TARGET
    image[ty : ty + SIDE, tx : tx + SIDE] = image[sy : sy + SIDE, sx : sx + SIDE]  # the copy
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[ty : ty + SIDE, tx : tx + SIDE] = 1

    x = io.to_tensor(image)  # (1, 3, S, S)
    m = io.to_tensor(mask)  # (1, 1, S, S)
    # Raw RGB patches all point the same way (every colour is positive), so their cosine
    # similarities are all close to 1; centring the colours (as learned features are) makes the
    # match selective.
    features = x - x.mean(dim=(2, 3), keepdim=True)  # (1, 3, S, S)
    with torch.no_grad():
        # every background position is a candidate (max_positions=None: 128 x 128 matching
        # grid, a 16384 x 16384 score matrix, ~1 GB); the default cap would subsample them
        y, offsets = contextual_attention(
            features,
            features,
            m,
            rate=2,
            fuse_k=3,
            softmax_scale=args.softmax_scale,
            max_positions=None,
        )
    # y pastes centred patches; the attention weights sum to 1, so adding the mean back gives
    # the paste of the raw colours
    y = y + x.mean(dim=(2, 3), keepdim=True)  # (1, 3, S, S)
    rebuilt = torch.where(m > 0.5, y, x)  # (1, 3, S, S)
    hole = m[0, 0] > 0.5
    err = (rebuilt - x)[0].permute(1, 2, 0)[hole]  # (N, 3)
    psnr = float(10 * torch.log10(1 / err.square().mean().clamp_min(1e-12)))
    # offsets inside the hole (matching grid, rate 2): the copy shift is (sy - ty, sx - tx)
    grid = torch.arange(0, SIZE, 2)
    own_y, own_x = torch.meshgrid(grid, grid, indexing="ij")
    inner = (
        (own_y >= ty + 2) & (own_y < ty + SIDE - 2) & (own_x >= tx + 2) & (own_x < tx + SIDE - 2)
    )
    dy = offsets[0, 0] - own_y
    dx = offsets[0, 1] - own_x
    exact = ((dy == sy - ty) & (dx == sx - tx))[inner].float().mean()
    colours = offsets_to_color(offsets, 2)[0]  # (S/2, S/2, 3)
    colours = cv2.resize(colours, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    colours[~hole.numpy()] = 255  # only the hole positions use the attention (white elsewhere)

    masked = image.copy()
    masked[hole.numpy()] = 1.0
    outlined = (rebuilt[0].permute(1, 2, 0).numpy()).copy()
    cv2.rectangle(outlined, (sx, sy), (sx + SIDE - 1, sy + SIDE - 1), (1.0, 1.0, 0.0), 2)
    cv2.rectangle(outlined, (tx, ty), (tx + SIDE - 1, ty + SIDE - 1), (1.0, 0.0, 1.0), 2)
    gap = np.ones((SIZE, 6, 3), np.float32)
    row = np.concatenate(
        [masked, gap, rebuilt[0].permute(1, 2, 0).numpy(), gap, colours / 255.0, gap, outlined], 1
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    io.save_image(args.out, row.astype(np.float32), overwrite=True)
    print(f"hole PSNR of the attention rebuild: {psnr:.2f} dB")
    print(f"hole positions attending exactly to the copy source: {100 * float(exact):.1f}%")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
