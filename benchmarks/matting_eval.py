"""Evaluate the deep matting models against classical baselines on data they never saw.

Three parts (``--skip-alphamatting`` runs only the first):

(a) "held-out composites": ``--cases`` synthetic composites ``C = alpha F + (1 - alpha) B``
    (Porter & Duff 1984; the Deep Image Matting recipe, Xu et al. CVPR 2017) at ``--size`` x
    ``--size``, built by :class:`mattepaint.data.matting.CompositeDataset` with ``train=False``
    (every random choice from ``default_rng([--seed, i])``, no colour jitter), so the same
    arguments always give the same cases. Nothing in them was used in training:

    - tuxpaint RGBA cut-outs: only the items that NO evaluated checkpoint trained on. They are
      found with the training code itself: each checkpoint's stored config is rebuilt into a
      :class:`mattepaint.train.tasks.MattingTask` and its ``datasets()`` is called; the tuxpaint
      items of the *training* dataset (``_split_items(n, data.val_fraction, run.seed, key)``
      of :mod:`mattepaint.train.tasks.matting`, inside the task) are collected over all
      checkpoints (including the late-fusion stages 1 and 2, ancestors of stage 3) and removed.
      With the shipped configs (val_fraction 0.1, seed 0) that leaves exactly the task's 26
      validation items of the 264 cut-outs;
    - procedural foregrounds (:class:`~mattepaint.data.procedural.ProceduralForegrounds`, size
      as in training, 192) drawn with ``--procedural-seed`` (default 1000), which must differ from
      every training procedural seed (checked): item i is ``make_foreground(192,
      default_rng([seed, i]))``, so a different seed gives different objects;
    - backgrounds: BSDS500 *test* (training used imagenet_sample_500 + bsds500/train, validation
      bsds500/val; the overlap with the checkpoints' background lists is checked to be empty).

    The first ``min(#held-out cut-outs, ceil(cases / 2))`` cases are the tuxpaint cut-outs, the
    rest procedural objects; metrics are reported for each subset and overall.
    Methods: unet_matte with gray background (4 input channels, seed000_unet_matte_small),
    unet_matte with RGB background (6 channels, seed000_unet_matte_rgb_small), the classical
    ``background_difference`` (also given the clean background) and the trimap-free late fusion
    networks (seed001_late_fusion_stage3_small, encoder from scratch, and
    late_fusion_effnet_cutout, the ImageNet EfficientNet-Lite0 one shipped as the cut-out's
    segmenter, here run at the composite's native size, or with ``--scene-size N`` at longer
    side N as the cut-out runs it (384), the alpha resized back; image only).
    Metrics over the WHOLE image: IoU of ``alpha > 0.5`` (strictly greater, both mattes), SAD / 1000,
    MSE x 1e3 (:mod:`mattepaint.metrics.matting`, ``region="all"``).

(b) "real foregrounds on new backgrounds": the 27 alphamatting.com training photos (GT01-27,
    evaluation only, never trained on) with their true alpha, downscaled to ``--real-size``
    (longer side, default 480), foreground colour estimated by Germer et al.'s multi-level
    method (cached in ``OUT/fg_cache``), composited on BSDS500 test backgrounds
    (:class:`~mattepaint.data.matting.RealForegroundComposites`, ``seed=--seed``). Same methods
    and metrics as (a).

(c) alphamatting.com GT01-27 with Trimap1 at full resolution: the trained ``trimap_matte``
    (known trimap regions fixed) against closed-form (Levin et al. 2008) and KNN (Chen et al.
    2013) matting. DIM metrics on the trimap's unknown region: SAD / 1000, MSE x 1e3, Grad / 1000,
    Conn / 1000, plus whole-image IoU, averaged over the 27 images. ``--classical-dir D`` reuses
    ``D/<method>/GTxx.png`` alphas (8-bit; no timing) when all 27 exist.

Every method is timed per image (``time.perf_counter`` around the Matter call, after one
untimed warm-up call per method and part; 2 threads by default; model weights in channels_last
memory format unless ``--no-channels-last``).

Checkpoints: ``RUNS/<name>/checkpoints/best.pt``, else ``last.pt``; missing runs are skipped with
a printed note.

Outputs in ``--out`` (default results/matting_eval): ``summary.json`` (arguments, checkpoints,
held-out items, per-part means), ``<part>_cases.csv`` (one row per case and method),
``<part>_summary.csv``, ``grids/<part>*.png`` (rows = cases; columns: image | [trimap |] ground
truth | one alpha per method, labelled), ``alphamatting_pred/<method>/GTxx.png`` (part c
predictions, reusable with ``--classical-dir``) and ``fg_cache/`` (kept between runs).

Usage:
    python benchmarks/matting_eval.py --data ../shared/data --runs runs \
        --out results/matting_eval --cases 100 --size 256 --seed 0 [--skip-alphamatting] \
        [--classical-dir DIR] [--overwrite]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # before numpy / torch / numba start their pools

import argparse
import csv
import json
import math
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import mattepaint
from mattepaint import io
from mattepaint.data.inpainting import find_images
from mattepaint.data.matting import (
    AlphaMattingDataset,
    CompositeDataset,
    RealForegroundComposites,
    RGBACutoutSource,
)
from mattepaint.data.procedural import ProceduralForegrounds
from mattepaint.methods import Matter, resolve_matter
from mattepaint.metrics import matting as mm
from mattepaint.models.loading import load_checkpoint

console = Console(width=160)

TUXPAINT = "foregrounds/tuxpaint_photo_stamps"
TEST_BACKGROUNDS = "images/bsds500/test"
ALPHAMATTING = "alphamatting/Training"
PROCEDURAL_SIZE = 192  # procedural canvas size when no training config names one

# (key, label, run name) of the models of parts (a) and (b)
SCENE_MODELS = (
    ("unet_matte_gray", "unet_matte 4ch", "seed000_unet_matte_small"),
    ("unet_matte_rgb", "unet_matte 6ch", "seed000_unet_matte_rgb_small"),
    ("late_fusion", "late_fusion s3", "seed001_late_fusion_stage3_small"),
    ("late_fusion_effnet", "late_fusion effnet", "late_fusion_effnet_cutout"),
)
# (key, label, run name) of the trimap models of part (c)
TRIMAP_MODELS = (
    ("trimap_matte", "trimap_matte", "trimap_matte_small"),
    ("dim_matte", "dim_matte", "dim_matte_small"),
)
# runs whose weights an evaluated model descends from: their training items are excluded too
ANCESTOR_RUNS = ("seed001_late_fusion_stage1_small", "seed001_late_fusion_stage2_small")
CLASSICAL_TRIMAP = ("closed_form", "knn", "rw", "lbdm", "sm")

SCENE_METRICS = ("iou", "sad", "mse")
DIM_METRICS = ("sad", "mse", "grad", "conn", "iou")
HEADERS = {
    "iou": "IoU (a>0.5) ^",
    "sad": "SAD/1000 v",
    "mse": "MSE x1e3 v",
    "grad": "Grad/1000 v",
    "conn": "Conn/1000 v",
}


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise SystemExit(1)


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------


@dataclass
class Method:
    """A matting method under test: ``matter`` plus where it came from."""

    key: str
    label: str
    matter: Matter
    source: str  # checkpoint path, or "classical"
    step: int | None = None
    config: dict[str, Any] | None = None
    size: int = 0  # > 0: run at this longer side (area down / bilinear up), alpha resized back

    @property
    def needs(self) -> str:
        return self.matter.needs


def find_checkpoint(runs: Path, name: str) -> Path | None:
    """``runs/name/checkpoints/best.pt``, else ``last.pt``, else None."""
    for file in ("best.pt", "last.pt"):
        path = runs / name / "checkpoints" / file
        if path.is_file():
            return path
    return None


def load_model_method(
    runs: Path, key: str, label: str, name: str, *, channels_last: bool = True
) -> Method | None:
    """The checkpoint of run ``name`` as a Method, or None (with a printed note). With
    ``channels_last`` the weights are stored NHWC (1.3-1.5x faster convolutions on CPU; the
    same results up to float rounding)."""
    path = find_checkpoint(runs, name)
    if path is None:
        console.print(f"[yellow]note:[/yellow] no checkpoint in {runs / name}: {label} skipped")
        return None
    try:
        ckpt = load_checkpoint(path)
        matter = resolve_matter(path)
        if channels_last:
            matter.model.to(memory_format=torch.channels_last)
    except (ValueError, OSError, RuntimeError) as exc:
        console.print(f"[yellow]note:[/yellow] cannot load {path} ({exc}): {label} skipped")
        return None
    return Method(key, label, matter, str(path), int(ckpt.get("step", 0)), ckpt.get("config"))


def run_matter(method: Method, image: torch.Tensor, *, trimap=None, background=None):
    """(alpha (H, W) float32, seconds) of one call; inputs are (1, C, H, W)."""
    kwargs: dict[str, torch.Tensor] = {}
    if method.needs == "trimap":
        kwargs["trimap"] = trimap
    elif method.needs == "background":
        kwargs["background"] = background
    start = time.perf_counter()
    height, width = image.shape[-2:]
    if method.size > 0 and method.needs == "nothing" and max(height, width) != method.size:
        from mattepaint.segmentation.model import ModelSegmenter

        segmenter = ModelSegmenter(method.matter.model, name=method.key, size=method.size,
                                   min_size=method.size)  # the cut-out's own resizing
        alpha = segmenter(image)
    else:
        alpha = method.matter(image, **kwargs).alpha
    seconds = time.perf_counter() - start
    return alpha[0, 0].float().numpy().astype(np.float32), seconds


# --------------------------------------------------------------------------------------------
# held-out data
# --------------------------------------------------------------------------------------------


class HeldOutItems:
    """The items ``indices`` of a foreground source (``__len__`` / ``load(i)``)."""

    def __init__(self, source: Any, indices: list[int]) -> None:
        self.source, self.indices = source, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.source.load(self.indices[index])


def _base(source: Any) -> tuple[Any, list[int] | None]:
    """(underlying source, item indices or None = all) of a possibly subset source."""
    if hasattr(source, "source") and hasattr(source, "indices"):
        return source.source, list(source.indices)
    return source, None


def training_usage(configs: dict[str, dict], tux_folder: Path) -> dict[str, Any]:
    """What the checkpoints trained on, computed by the training task itself.

    For each stored config: ``MattingTask(config).datasets()`` -> the tuxpaint item indices of
    its training and validation sets, its procedural seeds, its background files.
    """
    from mattepaint.train.config import config_from_dict
    from mattepaint.train.tasks import MattingTask

    used: set[int] = set()
    val_items: dict[str, list[int]] = {}
    proc_seeds: set[int] = set()
    proc_sizes: set[int] = set()
    backgrounds: set[Path] = set()
    for run, config in configs.items():
        train, val = MattingTask(config_from_dict(config)).datasets()
        val_ds = getattr(val, "dataset", val)  # a Subset when max_val_images cuts it
        for dataset, role in ((train, "train"), (val_ds, "val")):
            if dataset is None:
                continue
            backgrounds.update(p.resolve() for p in dataset.backgrounds)
            for source in dataset.sources:
                base, indices = _base(source)
                if isinstance(base, RGBACutoutSource) and base.folder.resolve() == tux_folder:
                    items = list(range(len(base))) if indices is None else indices
                    if role == "train":
                        used.update(items)
                    else:
                        val_items[run] = items
                elif isinstance(base, ProceduralForegrounds) and role == "train":
                    proc_seeds.add(base.seed)
                    proc_sizes.add(base.size)
    return {
        "used": used,
        "val_items": val_items,
        "procedural_seeds": proc_seeds,
        "procedural_sizes": proc_sizes,
        "backgrounds": backgrounds,
    }


# --------------------------------------------------------------------------------------------
# picture grids
# --------------------------------------------------------------------------------------------


def _to_rgb_u8(array: np.ndarray) -> np.ndarray:
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.clip(np.round(array * 255.0), 0, 255).astype(np.uint8)


def thumbnail(array: np.ndarray, cell: int) -> np.ndarray:
    """An image (H, W, 3) or matte (H, W) in [0, 1] fitted into cell x cell (uint8, gray border)."""
    rgb = _to_rgb_u8(array)
    h, w = rgb.shape[:2]
    scale = cell / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(rgb, new, interpolation=interp)
    canvas = np.full((cell, cell, 3), 64, np.uint8)
    top, left = (cell - new[1]) // 2, (cell - new[0]) // 2
    canvas[top : top + new[1], left : left + new[0]] = small
    return canvas


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float = 0.4) -> None:
    """White text with a black outline (cv2.putText), in place."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, text, org, font, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, font, scale, (255, 255, 255), 1, cv2.LINE_AA)


def make_grid(
    rows: list[dict[str, Any]], columns: list[str], cell: int
) -> np.ndarray:
    """A labelled grid (uint8 RGB): a header with ``columns``, then one row per case.

    Each row is ``{"label": str, "cells": [thumbnail per column], "notes": [str per column]}``.
    """
    header, gap = 24, 2
    width = len(columns) * (cell + gap) + gap
    height = header + len(rows) * (cell + gap) + gap
    grid = np.full((height, width, 3), 255, np.uint8)
    for c, name in enumerate(columns):
        x = gap + c * (cell + gap)
        cv2.putText(grid, name[: cell // 8], (x + 3, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    for r, row in enumerate(rows):
        y = header + gap + r * (cell + gap)
        for c, (tile, note) in enumerate(zip(row["cells"], row["notes"])):
            x = gap + c * (cell + gap)
            tile = tile.copy()
            if c == 0:  # darkened strips keep the labels readable on white mattes
                tile[:18] = (tile[:18] * 0.4).astype(np.uint8)
                _text(tile, row["label"][: cell // 7], (3, 13))
            if note:
                tile[-18:] = (tile[-18:] * 0.4).astype(np.uint8)
                _text(tile, note, (3, cell - 6))
            grid[y : y + cell, x : x + cell] = tile
    return grid


def save_grids(
    out: Path, part: str, rows: list[dict[str, Any]], columns: list[str], *, cell: int,
    per_file: int, overwrite: bool,
) -> list[Path]:
    """Save ``rows`` as one or more PNG grids of at most ``per_file`` rows."""
    paths = []
    chunks = [rows[i : i + per_file] for i in range(0, len(rows), per_file)] or [[]]
    for k, chunk in enumerate(chunks):
        if not chunk:
            continue
        suffix = "" if len(chunks) == 1 else f"_{k + 1}"
        path = out / "grids" / f"{part}{suffix}.png"
        io.save_image(path, make_grid(chunk, columns, cell), overwrite=overwrite)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------------------------
# bookkeeping
# --------------------------------------------------------------------------------------------


@dataclass
class PartResult:
    name: str
    metrics: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)  # one per case and method
    grids: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self, methods: list[Method], subsets: tuple[str, ...] = ("all",)) -> list[dict]:
        out = []
        for method in methods:
            for subset in subsets:
                rows = [
                    r for r in self.rows
                    if r["method"] == method.key and subset in ("all", r.get("subset"))
                ]
                if not rows:
                    continue
                entry: dict[str, Any] = {
                    "method": method.key, "label": method.label, "subset": subset, "n": len(rows),
                }
                for m in self.metrics:
                    entry[m] = float(np.mean([r[m] for r in rows]))
                times = [r["ms"] for r in rows if r["ms"] is not None]
                entry["ms_mean"] = float(np.mean(times)) if times else None
                entry["ms_median"] = float(np.median(times)) if times else None
                entry["source"] = method.source
                entry["step"] = method.step
                out.append(entry)
        return out


def write_csv(path: Path, rows: list[dict[str, Any]], *, overwrite: bool) -> None:
    if not rows:
        return
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    with io.atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _plain(v) for k, v in row.items()})


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value


def print_table(title: str, summary: list[dict], metrics: tuple[str, ...]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("method")
    table.add_column("checkpoint (run@step) / source", no_wrap=True)
    with_subsets = len({e["subset"] for e in summary}) > 1
    if with_subsets:
        table.add_column("subset")
    table.add_column("n", justify="right")
    for m in metrics:
        table.add_column(HEADERS[m], justify="right")
    table.add_column("ms/img (mean)", justify="right")
    table.add_column("ms/img (median)", justify="right")
    last = None
    for entry in summary:
        if last is not None and entry["method"] != last:
            table.add_section()
        first = entry["method"] != last
        last = entry["method"]
        source = entry["source"]
        if source.endswith(".pt"):  # run name @ step (the JSON has the path)
            which = "" if Path(source).name == "best.pt" else f" ({Path(source).name})"
            source = f"{Path(source).parent.parent.name}@{entry['step']}{which}"
        table.add_row(
            entry["label"] if first else "",
            source if first else "",
            *([entry["subset"]] if with_subsets else []),
            str(entry["n"]),
            *[f"{entry[m]:.4f}" if m == "iou" else f"{entry[m]:.3f}" for m in metrics],
            "-" if entry["ms_mean"] is None else f"{entry['ms_mean']:.1f}",
            "-" if entry["ms_median"] is None else f"{entry['ms_median']:.1f}",
        )
    console.print(table)


# --------------------------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------------------------


def scene_metrics(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Whole-image IoU (alpha > 0.5), SAD / 1000, MSE x 1e3."""
    return {
        "iou": mm.alpha_iou(pred, gt, threshold=0.5),
        "sad": mm.sad(pred, gt, region="all"),
        "mse": mm.mse(pred, gt, region="all"),
    }


def warm_up(methods: list[Method], sample: dict[str, Any], image_key: str) -> None:
    """One untimed call per method (first-call allocations, oneDNN primitive creation)."""
    image = sample[image_key][None]
    for method in methods:
        run_matter(method, image, trimap=sample["trimap"][None], background=sample["bg"][None])


def part_composites(
    args: argparse.Namespace, methods: list[Method], tux: RGBACutoutSource, held: list[int],
    test_bgs: list[Path], proc_size: int,
) -> tuple[PartResult, dict[str, Any]]:
    """(a): held-out foregrounds on BSDS500 test backgrounds."""
    n_tux = min(len(held), math.ceil(args.cases / 2))
    n_proc = args.cases - n_tux
    sources: list[Any] = [HeldOutItems(tux, held[:n_tux])] if n_tux else []
    if n_proc:
        sources.append(ProceduralForegrounds(n_proc, size=proc_size, seed=args.procedural_seed))
    dataset = CompositeDataset(sources, test_bgs, size=args.size, seed=args.seed, train=False)
    info = {
        "n_tuxpaint": n_tux,
        "n_procedural": n_proc,
        "tuxpaint_items": [tux.files[i].name for i in held[:n_tux]],
        "procedural": f"ProceduralForegrounds({n_proc}, size={proc_size}, "
                      f"seed={args.procedural_seed})",
        "dataset": repr(dataset),
    }
    part = PartResult("held_out_composites", SCENE_METRICS)
    grid_ids = set(np.linspace(0, len(dataset) - 1, min(args.grid_cases, len(dataset))).round()
                   .astype(int).tolist())
    grid_rows = []
    cell = args.cell
    warm_up(methods, dataset[0], "comp")
    for i in range(len(dataset)):
        sample = dataset[i]
        subset = "tuxpaint" if i < n_tux else "procedural"
        item = tux.files[held[i]].name if i < n_tux else f"procedural[{i - n_tux}]"
        gt = sample["alpha"][0].numpy()
        image, bg = sample["comp"][None], sample["bg"][None]
        cells = [thumbnail(sample["comp"].permute(1, 2, 0).numpy(), cell), thumbnail(gt, cell)]
        notes = ["", "ground truth"]
        for method in methods:
            pred, seconds = run_matter(method, image, background=bg)
            values = scene_metrics(pred, gt)
            part.rows.append({
                "case": i, "subset": subset, "item": item, "method": method.key,
                **values, "ms": seconds * 1000.0,
            })
            if i in grid_ids:
                cells.append(thumbnail(pred, cell))
                notes.append(f"IoU {values['iou']:.2f} SAD {values['sad']:.2f}")
        if i in grid_ids:
            grid_rows.append({"label": f"#{i} {item}", "cells": cells, "notes": notes})
    columns = ["image", "ground truth"] + [m.label for m in methods]
    part.grids = save_grids(args.out, part.name, grid_rows, columns, cell=cell,
                            per_file=max(1, args.grid_cases), overwrite=args.overwrite)
    return part, info


def part_real(
    args: argparse.Namespace, methods: list[Method], test_bgs: list[Path]
) -> tuple[PartResult, dict[str, Any]]:
    """(b): alphamatting.com foregrounds (estimated F, true alpha) on BSDS500 test backgrounds."""
    dataset = RealForegroundComposites(
        args.data / ALPHAMATTING, test_bgs, seed=args.seed, size=args.real_size,
        cache_dir=args.out / "fg_cache",
    )
    part = PartResult("real_foregrounds", SCENE_METRICS)
    grid_rows = []
    start = time.perf_counter()
    count = len(dataset) if args.limit_alphamatting <= 0 else min(args.limit_alphamatting, len(dataset))
    samples = [dataset[i] for i in range(count)]  # foreground estimation (cached)
    fg_seconds = time.perf_counter() - start
    warm_up(methods, samples[0], "comp")
    for i, sample in enumerate(samples):
        gt = sample["alpha"][0].numpy()
        image, bg = sample["comp"][None], sample["bg"][None]
        h, w = gt.shape
        cells = [thumbnail(sample["comp"].permute(1, 2, 0).numpy(), args.cell),
                 thumbnail(gt, args.cell)]
        notes = [f"{w}x{h}", "ground truth"]
        for method in methods:
            pred, seconds = run_matter(method, image, background=bg)
            values = scene_metrics(pred, gt)
            part.rows.append({
                "case": i, "name": sample["name"], "width": w, "height": h,
                "method": method.key, **values, "ms": seconds * 1000.0,
            })
            cells.append(thumbnail(pred, args.cell))
            notes.append(f"IoU {values['iou']:.2f} SAD {values['sad']:.2f}")
        grid_rows.append({"label": sample["name"], "cells": cells, "notes": notes})
    columns = ["image", "ground truth"] + [m.label for m in methods]
    part.grids = save_grids(args.out, part.name, grid_rows, columns, cell=args.cell,
                            per_file=9, overwrite=args.overwrite)
    info = {"dataset": repr(dataset), "foreground_estimation_s": fg_seconds}
    return part, info


def part_alphamatting(
    args: argparse.Namespace, methods: list[Method]
) -> tuple[PartResult, dict[str, Any]]:
    """(c): alphamatting.com GT01-27, Trimap1, full resolution, DIM metrics on the unknown region."""
    dataset = AlphaMattingDataset(args.data / ALPHAMATTING, trimap="Trimap1")
    part = PartResult("alphamatting", DIM_METRICS)
    loaded: dict[str, dict[str, Path]] = {}
    if args.classical_dir is not None:
        for method in methods:
            if method.source != "classical":
                continue
            names = dataset.names[: args.limit_alphamatting or None]
            files = {n: args.classical_dir / method.key / f"{n}.png" for n in names}
            if all(p.is_file() for p in files.values()):
                loaded[method.key] = files
                method.source = f"loaded from {args.classical_dir / method.key}"
                part.notes.append(f"{method.key}: alphas loaded from {args.classical_dir}")
            else:
                console.print(f"[yellow]note:[/yellow] {args.classical_dir / method.key} lacks "
                              f"some of GT01-27: {method.key} is recomputed")
    count = len(dataset) if args.limit_alphamatting <= 0 else min(args.limit_alphamatting, len(dataset))
    samples = [dataset.load(i) for i in range(count)]
    # Untimed warm-up: the models on the first image; pymatting (numba compilation or cache
    # loading on its first call) on that image reduced 4x (trimap by nearest neighbour).
    image0, trimap0 = samples[0][0], samples[0][1]
    small = (image0.shape[1] // 4, image0.shape[0] // 4)  # (w, h)
    image_s = cv2.resize(image0, small, interpolation=cv2.INTER_AREA)
    trimap_s = cv2.resize(trimap0, small, interpolation=cv2.INTER_NEAREST)
    for method in methods:
        if method.key in loaded:
            continue
        if method.source == "classical":
            run_matter(method, io.to_tensor(image_s), trimap=io.to_tensor(trimap_s))
        else:
            run_matter(method, io.to_tensor(image0), trimap=io.to_tensor(trimap0))
    grid_rows = []
    method_seconds = {m.key: 0.0 for m in methods}
    for image, trimap, gt, name in samples:
        image_t, trimap_t = io.to_tensor(image), io.to_tensor(trimap)
        cells = [thumbnail(image, args.cell), thumbnail(trimap, args.cell),
                 thumbnail(gt, args.cell)]
        notes = [f"{image.shape[1]}x{image.shape[0]}", "Trimap1", "ground truth"]
        for method in methods:
            if method.key in loaded:
                pred, ms = io.load_alpha(loaded[method.key][name], like=image), None
            else:
                pred, seconds = run_matter(method, image_t, trimap=trimap_t)
                ms = seconds * 1000.0
                method_seconds[method.key] += seconds
                io.save_image(args.out / "alphamatting_pred" / method.key / f"{name}.png", pred,
                              overwrite=args.overwrite)
            values = mm.matting_metrics(pred, gt, trimap)  # unknown region; iou whole image
            part.rows.append({"case": name, "method": method.key, **values, "ms": ms})
            cells.append(thumbnail(pred, args.cell))
            notes.append(f"SAD {values['sad']:.2f} MSE {values['mse']:.1f}")
        console.print(f"  {name} done", highlight=False)
        grid_rows.append({"label": name, "cells": cells, "notes": notes})
    columns = ["image", "trimap", "ground truth"] + [m.label for m in methods]
    part.grids = save_grids(args.out, part.name, grid_rows, columns, cell=args.cell,
                            per_file=9, overwrite=args.overwrite)
    return part, {"dataset": repr(dataset), "total_seconds": method_seconds}


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--out", type=Path, default=Path("results/matting_eval"))
    parser.add_argument("--cases", type=int, default=100, help="composites in part (a)")
    parser.add_argument("--size", type=int, default=256, help="composite side in part (a)")
    parser.add_argument("--seed", type=int, default=0, help="fixes the composites of (a) and (b)")
    parser.add_argument("--procedural-seed", type=int, default=1000,
                        help="procedural foregrounds of (a); must differ from training's")
    parser.add_argument("--real-size", type=int, default=480,
                        help="longer side of the part (b) composites")
    parser.add_argument("--scene-size", type=int, default=0,
                        help="run the trimap-free models of (a) and (b) at this longer side, as "
                             "the cut-out's segmenter does (384), not at the native size (0)")
    parser.add_argument("--classical", nargs="+", default=list(CLASSICAL_TRIMAP),
                        choices=CLASSICAL_TRIMAP, help="classical trimap methods of part (c)")
    parser.add_argument("--parts", default="abc",
                        help="which parts to run, e.g. 'c' for alphamatting GT01-27 only")
    parser.add_argument("--skip-alphamatting", action="store_true",
                        help="skip parts (b) and (c), which use the alphamatting.com data")
    parser.add_argument("--limit-alphamatting", type=int, default=0,
                        help="use only the first N of GT01-27 in (b) and (c) (smoke tests; 0 = all)")
    parser.add_argument("--classical-dir", type=Path, default=None,
                        help="reuse DIR/<closed_form|knn>/GTxx.png alphas in part (c)")
    parser.add_argument("--grid-cases", type=int, default=10, help="rows of the part (a) grid")
    parser.add_argument("--cell", type=int, default=160, help="grid cell side in pixels")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                        help="run the models with NHWC weights (faster on CPU)")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.size < 32 or args.real_size < 32 or args.threads < 1:
        parser.error("--cases >= 1, --size >= 32, --real-size >= 32, --threads >= 1")
    if args.scene_size != 0 and args.scene_size < 32:
        parser.error("--scene-size must be 0 (native size) or >= 32")
    if args.seed < 0 or args.procedural_seed < 0:
        parser.error("--seed and --procedural-seed must be >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    t_start = time.perf_counter()
    data = args.data.resolve()
    args.data = data
    for needed in (TUXPAINT, TEST_BACKGROUNDS) + (() if args.skip_alphamatting else (ALPHAMATTING,)):
        if not (data / needed).is_dir():
            fail(f"{data / needed} not found (--data {args.data})")
    if (args.out / "summary.json").exists() and not args.overwrite:
        fail(f"{args.out} already holds results; pass --overwrite to replace them")
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ["MATTEPAINT_DATA"] = str(data)  # the checkpoints' configs use ${MATTEPAINT_DATA}

    # ---- methods
    cl = args.channels_last
    loaded = {spec[0]: load_model_method(args.runs, *spec, channels_last=cl) for spec in SCENE_MODELS}
    loaded["background_difference"] = Method(
        "background_difference", "background_diff", resolve_matter("background_difference"), "classical"
    )
    order = ("unet_matte_gray", "unet_matte_rgb", "background_difference", "late_fusion",
             "late_fusion_effnet")
    scene_methods = [loaded[k] for k in order if loaded[k] is not None]
    for method in scene_methods:
        if args.scene_size > 0 and method.needs == "nothing":
            method.size = args.scene_size
            method.label += f" @{args.scene_size}"
    trimap_methods: list[Method] = []
    if not args.skip_alphamatting:
        models_c = [load_model_method(args.runs, *spec, channels_last=cl) for spec in TRIMAP_MODELS]
        trimap_methods = [m for m in models_c if m is not None] + [
            Method(name, name, resolve_matter(name), "classical") for name in args.classical
        ]
    models = [m for m in scene_methods + trimap_methods if m.config is not None]

    # ---- what training used (from the checkpoints' own configs, via the training task)
    configs = {Path(m.source).parent.parent.name: m.config for m in models}
    for name in ANCESTOR_RUNS:
        path = find_checkpoint(args.runs, name)
        if path is not None and "seed001_late_fusion_stage3_small" in configs:
            configs[name] = load_checkpoint(path)["config"]
    tux_folder = (data / TUXPAINT).resolve()
    if not configs:
        console.print("[yellow]note:[/yellow] no checkpoint found; the held-out split is taken "
                      "from the packaged config seed000_unet_matte_small")
        from mattepaint.train.config import (
            config_to_dict,
            load_config,
            resolve_config_path,
        )

        configs["packaged:seed000_unet_matte_small"] = config_to_dict(
            load_config(resolve_config_path("seed000_unet_matte_small")))
    usage = training_usage(configs, tux_folder)
    tux = RGBACutoutSource(tux_folder)
    held = sorted(set(range(len(tux))) - usage["used"])
    if not held:
        fail("every tuxpaint cut-out was used in training by some checkpoint")
    if args.procedural_seed in usage["procedural_seeds"]:
        fail(f"--procedural-seed {args.procedural_seed} was used in training "
             f"(training seeds: {sorted(usage['procedural_seeds'])}); pick another")
    test_bgs = find_images(data / TEST_BACKGROUNDS)
    # the training distribution's procedural canvas size (192 in the shipped configs)
    proc_size = max(usage["procedural_sizes"], default=PROCEDURAL_SIZE)
    overlap = {p.resolve() for p in test_bgs} & usage["backgrounds"]
    if overlap:
        fail(f"{len(overlap)} BSDS500 test backgrounds were used in training/validation")
    val_sets = {tuple(v) for v in usage["val_items"].values()}
    console.print(
        f"held out: {len(held)} of {len(tux)} tuxpaint cut-outs (not in the training set of any "
        f"of {', '.join(configs)}; "
        + ("equal to the task's validation items" if val_sets == {tuple(held)}
           else f"task validation items: {usage['val_items']}")
        + f"); procedural seed {args.procedural_seed} (training: "
        f"{sorted(usage['procedural_seeds'])}); {len(test_bgs)} BSDS500 test backgrounds "
        f"(no overlap with the {len(usage['backgrounds'])} training/validation backgrounds)",
        highlight=False,
    )

    report: dict[str, Any] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": {
            "mattepaint": mattepaint.__version__, "torch": torch.__version__,
            "python": platform.python_version(), "threads": args.threads,
            "machine": platform.machine(),
        },
        "methods": {m.key: {"label": m.label, "source": m.source, "step": m.step, "needs": m.needs}
                    for m in scene_methods + trimap_methods},
        "held_out": {
            "tuxpaint_held_out": [tux.files[i].name for i in held],
            "tuxpaint_used_in_training": len(usage["used"]),
            "task_validation_items": usage["val_items"],
            "procedural_seed": args.procedural_seed,
            "training_procedural_seeds": sorted(usage["procedural_seeds"]),
            "backgrounds": str(data / TEST_BACKGROUNDS),
            "configs_checked": list(configs),
        },
        "parts": {},
    }
    parts: list[tuple[PartResult, list[Method], tuple[str, ...]]] = []

    with torch.no_grad():
        if "a" in args.parts:
            console.rule("(a) held-out composites")
            t0 = time.perf_counter()
            part, info = part_composites(
                args, scene_methods, tux, held, test_bgs, proc_size
            )
            info["seconds"] = time.perf_counter() - t0
            parts.append((part, scene_methods, ("all", "tuxpaint", "procedural")))
            report["parts"][part.name] = info
        if not args.skip_alphamatting and "b" in args.parts:
            console.rule("(b) real foregrounds on new backgrounds")
            t0 = time.perf_counter()
            part, info = part_real(args, scene_methods, test_bgs)
            info["seconds"] = time.perf_counter() - t0
            parts.append((part, scene_methods, ("all",)))
            report["parts"][part.name] = info
        if not args.skip_alphamatting and "c" in args.parts:
            console.rule("(c) alphamatting.com GT01-27, Trimap1, full resolution")
            t0 = time.perf_counter()
            part, info = part_alphamatting(args, trimap_methods)
            info["seconds"] = time.perf_counter() - t0
            parts.append((part, trimap_methods, ("all",)))
            report["parts"][part.name] = info

    titles = {
        "held_out_composites": f"(a) held-out composites: {args.cases} cases at {args.size}x"
        f"{args.size}, BSDS500 test backgrounds; whole image",
        "real_foregrounds": f"(b) alphamatting.com foregrounds (true alpha) on BSDS500 test "
        f"backgrounds, longer side {args.real_size}; whole image",
        "alphamatting": "(c) alphamatting.com GT01-27, Trimap1, full resolution; SAD/MSE/Grad/Conn "
        "on the unknown region, IoU whole image",
    }
    for part, methods, subsets in parts:
        summary = part.summary(methods, subsets)
        print_table(titles[part.name], summary, part.metrics)
        report["parts"][part.name].update({
            "summary": summary, "grids": [str(p) for p in part.grids], "notes": part.notes,
        })
        write_csv(args.out / f"{part.name}_cases.csv", part.rows, overwrite=args.overwrite)
        write_csv(args.out / f"{part.name}_summary.csv", summary, overwrite=args.overwrite)
    report["total_seconds"] = time.perf_counter() - t_start
    with io.atomic_path(args.out / "summary.json", overwrite=args.overwrite) as tmp:
        tmp.write_text(json.dumps(report, indent=2, default=str))
    console.print("IoU binarises both mattes at alpha > 0.5 (strictly greater).")
    console.print(f"grids: {', '.join(str(p) for part, _, _ in parts for p in part.grids)}",
                  highlight=False)
    console.print(f"wrote {args.out}/summary.json and per-part CSVs in "
                  f"{report['total_seconds']:.0f} s", highlight=False)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
