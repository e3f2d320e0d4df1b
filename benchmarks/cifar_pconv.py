"""Seed 004's CIFAR-10 comparison: a trained model against the mean fill and Telea.

Data: ``DATA/images/cifar10_test/<class>/*.jpg`` (10,000 32x32 photos). The files are listed by
:func:`mattepaint.data.inpainting.find_images` (recursive, sorted) and split by
:func:`mattepaint.data.inpainting.split_files` with ``val_fraction`` 0.1 and seed 0 into 9,000
training and 1,000 held-out images: exactly what ``mattepaint train`` does for a config with
``data.train_dirs: [${MATTEPAINT_DATA}/images/cifar10_test]``, no ``val_dirs``,
``data.val_fraction: 0.1`` and ``run.seed: 0`` (``train.tasks.train_val_images``), e.g.
``configs/seed004_pconv_cifar.yaml``. The first ``--eval-count`` held-out images are evaluated.

Masks: the training config's validation masks. The images go through
:class:`mattepaint.data.inpainting.InpaintingDataset` in validation mode (``size`` 32, mask
generator ``random_square`` with ``size`` 16 = the generator's default ``min(H, W) // 2`` and
jitter ``16 // 8 = 2``, ``seed`` 0), so held-out image i gets the hole drawn from
``np.random.default_rng([seed, i])``: a ~16x16 square (each side 14-18 px) fully inside the image,
the same at every run and the same as the training run's validation. A checkpoint whose config
says otherwise (another mask, split or seed) is reported with a note.

Methods, each returning the composited image (pixels outside the hole are the input's):

- ``mean_fill``: seed 004's "comparison with the mean": every hole pixel gets the mean colour of
  the known pixels of the same image, per channel, ``m_c = sum_{known} I_c / #known``;
- ``telea``: OpenCV's fast-marching inpainting (Telea 2004), radius 3;
- each ``--checkpoint [NAME=]PATH``: the model through
  :func:`mattepaint.methods.resolve_inpainter` (its training input transform, composited).

Metrics per image, then averaged over the images, images in [0, 1] (seed 004 normalised to
[-1, 1] for training; the metrics here are on the [0, 1] scale):

- ``MSE`` = mean over the 3 x 32 x 32 values of (pred - gt)^2 (seed 004's formula, whole image);
- ``hole MSE`` = the same over the hole pixels only (what the model was trained on);
- ``PSNR`` = 10 log10(1 / MSE) in dB;
- ``Dice`` = 2 sum(A B) / (sum A + sum B), A = pred, B = gt, sums over all pixels and channels
  (seed 004's formula, :func:`mattepaint.metrics.inpainting.dice`); it is < 1 even for a
  perfect grey image and close to 1 here because most of the image is known, so compare rows;
- ``hole Dice`` = the same with both sums restricted to the hole pixels.

Writes ``OUT/table.md``, ``OUT/results.json`` (arguments, split, masks, per-method means, timings,
versions, notes), ``OUT/per_image.csv`` and ``OUT/grid.png`` (``--grid`` images: original |
masked | mean fill | telea | each model).

Usage:
    python benchmarks/cifar_pconv.py --data ../shared/data \
        --checkpoint pconv=runs/seed004_pconv_cifar/checkpoints/best.pt \
        [--eval-count 1000] [--out results/cifar_pconv] [--device cpu] [--overwrite]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

import mattepaint
from mattepaint import io

CIFAR_DIR = "images/cifar10_test"
IMAGE_SIZE = 32
MASK = "random_square"
#: (key, header, format) of the table columns, in order.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("mse", "MSE", ".5f"),
    ("hole_mse", "hole MSE", ".4f"),
    ("psnr", "PSNR (dB)", ".2f"),
    ("dice", "Dice", ".4f"),
    ("hole_dice", "hole Dice", ".4f"),
)


sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
import deep_inpainting as deep

_fail = deep._fail


# --------------------------------------------------------------------------- methods


def mean_fill(image: Tensor, mask: Tensor) -> Tensor:
    """Fill every hole pixel with the mean colour of the known pixels of its image.

    Inputs: image (B, 3, H, W) in [0, 1]; mask (B, 1, H, W), > 0.5 = hole.
    Outputs: (B, 3, H, W): ``where(hole, m, image)`` with ``m[b, c] = sum_{known} image[b, c] /
    #known`` (0.5 for an image without a known pixel).
    """
    hole = mask > 0.5  # (B, 1, H, W)
    known = (~hole).to(image.dtype)  # (B, 1, H, W)
    count = known.sum(dim=(2, 3), keepdim=True)  # (B, 1, 1, 1)
    total = (image * known).sum(dim=(2, 3), keepdim=True)  # (B, 3, 1, 1)
    mean = torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, 0.5))
    return torch.where(hole, mean.expand_as(image), image)  # (B, 3, H, W)


def image_metrics(pred: Tensor, gt: Tensor, mask: Tensor) -> dict[str, Tensor]:
    """Per-image MSE, hole MSE, PSNR, Dice and hole Dice ((B,) each) of [0, 1] images."""
    from mattepaint.metrics.inpainting import dice, hole_mse, mse, psnr

    hole = (mask > 0.5).to(pred.dtype)  # (B, 1, H, W)
    return {
        "mse": mse(pred, gt),
        "hole_mse": hole_mse(pred, gt, hole),
        "psnr": psnr(pred, gt),
        "dice": dice(pred, gt),
        "hole_dice": dice(pred * hole, gt * hole),  # sums over the hole pixels only
    }


# --------------------------------------------------------------------------- data


def eval_files(
    data: Path, val_fraction: float, seed: int, count: int
) -> tuple[list[Path], dict[str, Any]]:
    """The first ``count`` held-out CIFAR images and a description of the split."""
    from mattepaint.data.inpainting import find_images, split_files

    folder = data / CIFAR_DIR
    if not folder.is_dir():
        _fail(f"CIFAR-10 folder not found: {folder} (expected {CIFAR_DIR}/<class>/*.jpg)")
    files = find_images([folder])
    train, val = split_files(files, val_fraction, seed)
    if count > len(val):
        _fail(f"--eval-count {count} is more than the {len(val)} held-out images")
    chosen = val[:count]
    names = [p.relative_to(folder).as_posix() for p in val]
    split = {
        "folder": str(folder),
        "images": len(files),
        "train": len(train),
        "held_out": len(val),
        "evaluated": len(chosen),
        "val_fraction": val_fraction,
        "seed": seed,
        "held_out_sha256": hashlib.sha256("\n".join(names).encode()).hexdigest(),
        "first_held_out": names[:5],
    }
    return chosen, split


def config_notes(
    name: str, ckpt: dict[str, Any], val_fraction: float, seed: int, mask_size: int
) -> list[str]:
    """Where a checkpoint's training config differs from this benchmark's split or masks."""
    config = ckpt.get("config")
    if not isinstance(config, dict):
        return [f"{name}: the checkpoint has no config; its held-out split is unknown"]
    data, run = config.get("data") or {}, config.get("run") or {}
    notes = []
    expected = {
        "data.val_fraction": (data.get("val_fraction"), val_fraction),
        "run.seed": (run.get("seed"), seed),
        "data.mask": (data.get("mask"), MASK),
        "data.mask_params.size": (
            (data.get("mask_params") or {}).get("size", 16),
            mask_size,
        ),
        "data.image_size": (data.get("image_size"), IMAGE_SIZE),
    }
    for key, (got, want) in expected.items():
        if got != want:
            notes.append(f"{name}: trained with {key} = {got!r}, evaluated with {want!r}")
    dirs = [str(d).rstrip("/") for d in data.get("train_dirs") or []]
    if dirs != [] and not (len(dirs) == 1 and dirs[0].endswith(CIFAR_DIR)):
        notes.append(f"{name}: trained on {dirs}, not on {CIFAR_DIR} alone")
    if data.get("val_dirs"):
        notes.append(f"{name}: validated on {data['val_dirs']}, not on a held-out split")
    return notes


# --------------------------------------------------------------------------- grid


def make_grid(
    path: Path,
    images: Tensor,
    masks: Tensor,
    outputs: dict[str, Tensor],
    cell: int,
) -> Path:
    """Rows = images, columns original | masked (holes white) | each method, nearest upscaling."""
    from PIL import Image, ImageDraw

    columns = {
        "original": images,
        "masked": torch.where(masks > 0.5, 1.0, images),
        **outputs,
    }
    pad, header = 4, 34
    width = len(columns) * (cell + pad) + pad
    height = header + images.shape[0] * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, (title, batch) in enumerate(columns.items()):
        lines, font = deep._fit_title(draw, title, cell, 14)
        for k, line in enumerate(lines):
            x = pad + j * (cell + pad) + (cell - draw.textlength(line, font=font)) / 2
            draw.text((x, 4 + k * 14 if len(lines) > 1 else 10), line, fill="black", font=font)
        for i, one in enumerate(batch):
            array = one.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()  # (H, W, 3)
            tile = Image.fromarray(array).resize((cell, cell), Image.Resampling.NEAREST)
            canvas.paste(tile, (pad + j * (cell + pad), header + pad + i * (cell + pad)))
    with io.atomic_path(path, overwrite=True) as tmp:
        canvas.save(tmp, format="PNG", optimize=True)
    return path


# --------------------------------------------------------------------------- main


def load_methods(
    checkpoints: list[str], device: str, val_fraction: float, seed: int, mask_size: int
) -> tuple[dict[str, Callable[[Tensor, Tensor], Tensor]], dict[str, Any], list[str]]:
    """mean_fill, telea and every checkpoint (built before any work starts).

    Outputs: name -> method, name -> description, notes on the checkpoints' training configs.
    """
    from mattepaint.methods import resolve_inpainter

    methods: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
        "mean_fill": mean_fill,
        "telea": resolve_inpainter("telea"),
    }
    info: dict[str, Any] = {
        "mean_fill": {
            "kind": "baseline",
            "what": "hole = mean colour of the known pixels",
        },
        "telea": {"kind": "classical", "method": "telea", "radius": 3},
    }
    notes: list[str] = []
    for spec in checkpoints:
        name, path = deep.parse_checkpoint(spec)
        if name in methods or not deep._NAME.match(name):
            _fail(f"bad or repeated method name {name!r} in --checkpoint {spec}; use NAME=PATH")
        if not path.is_file():
            _fail(f"checkpoint not found: {path}")
        inpainter, ckpt = deep.load_checkpoint_inpainter(path, device)
        methods[name] = inpainter
        info[name] = {"kind": "checkpoint", **deep.checkpoint_info(path, ckpt, inpainter)}
        notes += config_notes(name, ckpt, val_fraction, seed, mask_size)
    return methods, info, notes


@dataclass
class Evaluation:
    """Per-image metric values (method -> metric -> list), seconds per method, hole ratios, and
    the first images, masks and results for the grid."""

    values: dict[str, dict[str, list[float]]]
    seconds: dict[str, float]
    hole_ratios: list[float] = field(default_factory=list)
    shown: dict[str, Tensor] = field(default_factory=dict)

    def means(self) -> dict[str, dict[str, float]]:
        return {
            name: {key: float(np.mean(v)) for key, v in per_key.items()}
            for name, per_key in self.values.items()
        }

    def keep(self, key: str, batch: Tensor, picked: Tensor) -> None:
        """Append the items ``picked`` (a bool (B,) tensor) of ``batch`` to the grid's ``key``."""
        have = self.shown.get(key, batch[:0])
        self.shown[key] = torch.cat([have, batch[picked]])


@torch.no_grad()
def evaluate(
    dataset: Any,
    methods: dict[str, Callable[[Tensor, Tensor], Tensor]],
    batch_size: int,
    grid: int,
    progress: bool,
) -> Evaluation:
    """Run every method on every held-out image (in batches) and measure it; keep ``grid``
    images spread evenly over the evaluation set (so over the classes) for the picture."""
    from mattepaint._progress import track

    ev = Evaluation(
        values={name: {key: [] for key, _, _ in COLUMNS} for name in methods},
        seconds=dict.fromkeys(methods, 0.0),
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    n = len(dataset)
    wanted = torch.tensor(sorted({k * n // grid for k in range(grid)}) if grid else [])
    n_batches = -(-n // batch_size)
    for batch in track(loader, "evaluating", total=n_batches, enabled=progress):
        image, mask = batch["image"], batch["mask"]  # (B, 3, 32, 32), (B, 1, 32, 32)
        picked = torch.isin(batch["index"], wanted)  # (B,) bool
        ev.hole_ratios += mask.mean(dim=(1, 2, 3)).tolist()
        ev.keep("image", image, picked)
        ev.keep("mask", mask, picked)
        for name, method in methods.items():
            start = time.perf_counter()
            pred = method(image, mask).clamp(0, 1)  # (B, 3, 32, 32)
            ev.seconds[name] += time.perf_counter() - start
            for key, value in image_metrics(pred, image, mask).items():
                ev.values[name][key] += value.tolist()
            ev.keep(name, pred, picked)
    return ev


def write_per_image(
    path: Path, files: list[Path], folder: Path, ev: Evaluation, overwrite: bool
) -> None:
    """One CSV row per (image, method): image, hole_ratio, method, the metrics."""
    keys = [key for key, _, _ in COLUMNS]
    with (
        io.atomic_path(path, overwrite=overwrite) as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.writer(handle)
        writer.writerow(["image", "hole_ratio", "method", *keys])
        for i, file in enumerate(files):
            for name, per_key in ev.values.items():
                row = [file.relative_to(folder).as_posix(), ev.hole_ratios[i], name]
                writer.writerow(row + [per_key[key][i] for key in keys])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="real data")
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="a trained inpainting checkpoint (repeatable; none: the baselines only)",
    )
    parser.add_argument(
        "--eval-count",
        type=int,
        default=1000,
        help="held-out images to use (default 1000)",
    )
    parser.add_argument("--out", type=Path, default=Path("results/cifar_pconv"))
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="the config's data.val_fraction"
    )
    parser.add_argument("--seed", type=int, default=0, help="the config's run.seed (default 0)")
    parser.add_argument("--mask-size", type=int, default=16, help="random_square side (16)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="device of the models")
    parser.add_argument("--grid", type=int, default=8, help="rows of OUT/grid.png (0: none)")
    parser.add_argument("--grid-cell", type=int, default=96, help="grid cell side in pixels")
    deep.classical.add_output_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    wall_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    deep.classical.check_data_dir(args.data)
    if args.eval_count < 1 or args.batch_size < 1 or args.grid < 0:
        _fail("--eval-count and --batch-size must be >= 1, --grid >= 0")
    if not 1 <= args.mask_size <= IMAGE_SIZE:
        _fail(f"--mask-size must be in [1, {IMAGE_SIZE}]")
    outputs = [args.out / n for n in ("table.md", "results.json", "per_image.csv", "grid.png")]
    existing = [str(p) for p in outputs if p.exists()]
    if existing and not args.overwrite:
        _fail(f"output exists: {existing[0]} (use --overwrite to replace it)")

    from rich.console import Console
    from rich.table import Table

    from mattepaint.data.inpainting import InpaintingDataset

    files, split = eval_files(args.data, args.val_fraction, args.seed, args.eval_count)
    mask_params = {"size": args.mask_size}
    dataset = InpaintingDataset(
        files,
        size=IMAGE_SIZE,
        mask=MASK,
        mask_params=mask_params,
        input_transform="hole",
        seed=args.seed,
        train=False,
    )
    methods, info, notes = load_methods(
        args.checkpoint, args.device, args.val_fraction, args.seed, args.mask_size
    )
    console = Console(width=max(Console().width, 100))
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    console.print(
        f"{split['evaluated']} of the {split['held_out']} held-out CIFAR-10 images "
        f"({split['train']} train; val_fraction {args.val_fraction}, seed {args.seed}), "
        f"{MASK} holes of side {args.mask_size}",
        highlight=False,
    )

    ev = evaluate(dataset, methods, args.batch_size, args.grid, args.progress)
    n = len(dataset)
    means = ev.means()
    timings = {name: {"seconds": s, "ms_per_image": 1000 * s / n} for name, s in ev.seconds.items()}

    headers = ["method", *[h for _, h, _ in COLUMNS], "ms / image"]
    rows = [
        [name, *[format(means[name][key], fmt) for key, _, fmt in COLUMNS]]
        + [f"{timings[name]['ms_per_image']:.2f}"]
        for name in methods
    ]
    title = (
        f"Seed 004 comparison: {n} held-out CIFAR-10 images, 32x32, {MASK} holes "
        f"(side {args.mask_size}, mean hole ratio {np.mean(ev.hole_ratios):.3f}), [0, 1] scale"
    )
    table = Table(title=title)
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)

    args.out.mkdir(parents=True, exist_ok=True)
    legend = (
        "mean_fill: hole pixels = the mean colour of the image's known pixels (seed 004's "
        "comparison with the mean). MSE over the whole image, hole MSE over the hole pixels; "
        "Dice = 2 sum(AB) / (sum A + sum B) over the whole image, hole Dice over the hole."
    )
    md = [f"**{title}**", "", "| " + " | ".join(headers) + " |"]
    md += ["|" + "|".join("---" for _ in headers) + "|"]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    md += ["", legend, *[f"\nNote: {note}" for note in notes]]
    with io.atomic_path(args.out / "table.md", overwrite=args.overwrite) as tmp:
        Path(tmp).write_text("\n".join(md) + "\n", encoding="utf-8")
    write_per_image(args.out / "per_image.csv", files, Path(split["folder"]), ev, args.overwrite)
    grid_path = None
    if args.grid > 0:
        shown = {name: ev.shown[name] for name in methods}
        grid_path = make_grid(
            args.out / "grid.png",
            ev.shown["image"],
            ev.shown["mask"],
            shown,
            args.grid_cell,
        )

    results = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "split": split,
        "masks": {
            "generator": MASK,
            "params": mask_params,
            "rng": f"np.random.default_rng([{args.seed}, i]) for held-out image i",
            "mean_hole_ratio": float(np.mean(ev.hole_ratios)),
        },
        "methods": info,
        "means": means,
        "timings": timings,
        "notes": notes,
        "grid": None if grid_path is None else str(grid_path),
        "versions": {
            "mattepaint": mattepaint.__version__,
            "torch": str(torch.__version__),
            "python": platform.python_version(),
            "machine": platform.platform(),
            "device": args.device,
        },
        "wall_s": time.perf_counter() - wall_start,
    }
    text = json.dumps(deep._strict_json(results), indent=2, default=str) + "\n"
    with io.atomic_path(args.out / "results.json", overwrite=args.overwrite) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    grid_note = ", grid.png" if grid_path is not None else ""
    print(f"wrote {args.out}/table.md, results.json, per_image.csv{grid_note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
