"""Benchmark trained inpainting models against Telea / NS on the classical benchmark's cases.

The cases are those of ``benchmarks/classical_inpainting.py`` (same builder, same ``--seed`` 0,
``--cases`` 300 and ``--size`` 256 by default), so the numbers line up with the README's classical
table: Kodak24 + BSDS500 test photos, centre-cropped and resized to 256x256, each with an NVIDIA
irregular mask (Liu et al., ECCV 2018), 50 per hole-ratio bucket. They are written to
``OUT/cases/`` (reused when already there).

``--masks square`` keeps the same images (case i shows the same crop as with ``--masks nvidia``,
for any ``--cases``) but gives each case one square hole instead, the "hole" that seed 002's
autoencoder, GLCIC and DeepFill v1 were trained on: :func:`mattepaint.masks.random_square` with
side ``--square-size`` (default ``--size // 2``, 128 at 256) and its default jitter (height and
width each ``side + U{-side//8..side//8}``, so 112..144 at 128), at a uniform random position
fully inside the image. Case i's square is drawn from ``numpy.random.default_rng([SEED, i])``
(``SEED`` = ``--seed``), so it depends only on the seed and the case index. The manifest
``OUT/cases/manifest.csv`` then says ``mask`` = ``square`` and gives the square's ``top``,
``left``, ``height`` and ``width``. Seed 002's own Table II uses a *central* 128x128 square; the holes here
are of that size but placed at random (as in its training). All holes are ~25% of the image, so
the per-metric tables (a) and (c) have a single "all" column.

Each ``--method`` (a registered classical method) and each ``--checkpoint NAME=PATH`` (a model
trained with ``mattepaint train``, loaded by :func:`mattepaint.methods.resolve_inpainter`, so
the checkpoint's input transform, e.g. "hole_ns", is applied as in training and pixels outside
the hole are copied from the input) inpaints every case into ``OUT/NAME/``, and the results are
evaluated by :func:`mattepaint.evaluate.evaluate_inpainting` (whole-image metrics of the
composited output against the original).

Printed, and written to ``OUT/tables.md`` as markdown (its header names the mask kind and the
exact command):

(a) per metric (PSNR, SSIM, hole L1, LPIPS), rows = methods, columns = the six hole-ratio buckets
    and "all" (``--masks square``: "all" only). PSNR in dB (data range 1), SSIM (Wang et al.
    2004, 11x11 Gaussian), hole L1 = mean |pred - gt| over the hole pixels on the [0, 1] scale,
    LPIPS v0.1 (``--lpips`` backbone).
(b) the columns of seed 002's Table II (MSE, L1, PSNR, LPIPS, TV) over all cases. MSE, L1 and TV
    are on the **0-255 scale** like seed 002 (Telea there: MSE 821.73, L1 9.66, TV 7.97):
    ``MSE_255 = 255^2 * MSE_[0,1]``, ``L1_255 = 255 * L1_[0,1]``, ``TV_255 = 255 * TV_[0,1]``, means
    over the whole 256x256 image (3 channels). TV is mattepaint's mean-normalised anisotropic
    total variation of the output (:func:`mattepaint.metrics.inpainting.total_variation`); seed
    002 does not state its normalisation, so compare TV between rows, not with the paper.
(c) "beats telea?": for every other method and bucket (``--masks square``: all cases), whether
    its PSNR is higher, its SSIM higher and its LPIPS lower than Telea's on the same cases.
(d) ``OUT/grid.png``: ``--grid`` cases spread over the hole ratios (rows), columns masked input
    (holes white) | telea | the other classical methods | each checkpoint | ground truth.

Also written: ``OUT/<name>_eval.json`` / ``_eval.csv`` (per case) / ``_summary.csv`` (per bucket)
for every method, and ``OUT/run.json`` (arguments, the methods and their checkpoints, wall time
per method, the tables' numbers, library versions).

Usage:
    python benchmarks/deep_inpainting.py --data ../shared/data --cases 300 --size 256 \
        --out results/bench_deep --method telea --method ns \
        --checkpoint unet=runs/unet_hole_ns_irregular_small/checkpoints/best.pt \
        [--masks nvidia|square] [--square-size 128] \
        [--lpips alex] [--grid 6] [--grid-cell 128] [--overwrite] [--device cpu]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np

import mattepaint
from mattepaint import io
from mattepaint.evaluate import OTHER_BUCKET, InpaintingReport
from mattepaint.masks import HOLE_RATIO_BUCKETS, bucket_label, random_square

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is not a package
import classical_inpainting as classical

_fail = classical._fail

#: Per-bucket tables (a): (metric key, title, format, higher is better).
BUCKET_METRICS: tuple[tuple[str, str, str, bool], ...] = (
    ("psnr", "PSNR (dB)", ".2f", True),
    ("ssim", "SSIM", ".4f", True),
    ("hole_l1", "hole L1 ([0, 1] scale)", ".4f", False),
    ("lpips", "LPIPS", ".4f", False),
)
#: Table II columns (b): (column, report key, factor to the 0-255 scale, format).
TABLE2_COLUMNS: tuple[tuple[str, str, float, str], ...] = (
    ("MSE", "mse", 255.0**2, ".2f"),
    ("L1", "l1", 255.0, ".2f"),
    ("PSNR", "psnr", 1.0, ".2f"),
    ("LPIPS", "lpips", 1.0, ".4f"),
    ("TV", "tv", 255.0, ".2f"),
)
RESERVED_NAMES = {"cases", "grid", "tables", "run"}
#: ``--masks`` choices: the classical benchmark's NVIDIA irregular masks, or one random square.
MASK_KINDS = ("nvidia", "square")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- square cases


def square_mask(size: int, square_size: int, seed: int, index: int) -> np.ndarray:
    """The (size, size) bool hole of case ``index`` in ``--masks square`` mode:
    :func:`mattepaint.masks.random_square` (default jitter ``square_size // 8``) drawn from
    ``np.random.default_rng([seed, index])``, so it depends on nothing but these arguments."""
    rng = np.random.default_rng([seed, index])
    return random_square((size, size), rng, size=square_size)


def plan_square_cases(
    data: Path, n_cases: int, size: int, seed: int, square_size: int
) -> list[dict[str, Any]]:
    """The classical plan's images (same image for every case index) with one square each.

    Outputs: one row per case: ``case``, ``image`` (relative to ``data``), ``mask`` = "square",
    ``square_size`` (nominal side), ``top``, ``left``, ``height``, ``width`` (the drawn hole),
    ``size``.
    """
    plan = classical.plan_cases(data, n_cases, seed)
    rows = []
    for index, row in enumerate(plan):
        mask = square_mask(size, square_size, seed, index)
        ys, xs = np.nonzero(mask)
        rows.append(
            {
                "case": row["case"],
                "image": row["image"],
                "mask": "square",
                "square_size": square_size,
                "top": int(ys.min()),
                "left": int(xs.min()),
                "height": int(ys.max() - ys.min() + 1),
                "width": int(xs.max() - xs.min() + 1),
                "size": size,
            }
        )
    return rows


def build_square_cases(
    data: Path,
    out: Path,
    n_cases: int,
    size: int,
    seed: int,
    square_size: int,
    overwrite: bool,
) -> tuple[Path, Path]:
    """Write ``out/cases/{images,masks}/case_NNNN.png`` and ``manifest.csv`` for ``--masks
    square`` (images as :func:`classical_inpainting.build_cases`); reuse a complete case folder
    built with the same plan, refuse another one without ``overwrite``."""
    plan = plan_square_cases(data, n_cases, size, seed, square_size)
    buffer = StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(plan[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(plan)

    def case_mask(index: int, row: dict[str, Any]) -> np.ndarray:
        return square_mask(size, square_size, seed, index)

    description = f"{size}x{size}, square holes of side ~{square_size}"
    return classical.write_cases(
        data, out, plan, buffer.getvalue(), size, case_mask, overwrite, description
    )


# --------------------------------------------------------------------------- methods


@dataclass
class Method:
    """One row of the benchmark: a classical method name or a loaded checkpoint."""

    name: str
    kind: str  # "classical" or "checkpoint"
    inpainter: Any  # the method name (classical) or a ModelInpainter
    info: dict[str, Any] = field(default_factory=dict)


def parse_checkpoint(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` -> (NAME, PATH); a bare PATH is named after its run folder
    (``runs/<run>/checkpoints/best.pt`` -> ``<run>``) or else the file stem."""
    left, sep, right = spec.partition("=")
    if sep and _NAME.match(left) and right:
        return left, Path(right)
    path = Path(spec)
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return path.parent.parent.name, path
    return path.stem, path


def load_checkpoint_inpainter(path: Path, device: str) -> tuple[Any, dict[str, Any]]:
    """The inpainter of the checkpoint file ``path`` on ``device``, and the checkpoint's dict;
    a file that does not load stops the run with one line (also used by cifar_pconv.py)."""
    from mattepaint.methods import resolve_inpainter
    from mattepaint.models.loading import load_checkpoint

    try:
        inpainter = resolve_inpainter(path, device=device)
        ckpt = load_checkpoint(path)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        _fail(f"cannot load checkpoint {path}: {exc}")
    return inpainter, ckpt


def checkpoint_info(path: Path, ckpt: dict[str, Any], inpainter: Any) -> dict[str, Any]:
    """What the results say of a checkpoint method: its file, model name and parameters, input
    transform, and the training position it was saved at (also used by cifar_pconv.py)."""
    return {
        "checkpoint": str(path),
        "model": ckpt["model"]["name"],
        "params": ckpt["model"].get("params") or {},
        "input_transform": inpainter.input_transform,
        "step": ckpt.get("step"),
        "epoch": ckpt.get("epoch"),
        "best": ckpt.get("best"),
    }


def load_methods(
    names: list[str], checkpoints: list[str], device: str
) -> tuple[list[Method], dict[str, float]]:
    """Build every method before any work starts; a bad name or checkpoint stops the run.

    Outputs: the methods in order (classical first) and the load time of each checkpoint (s).
    """
    from mattepaint.methods import resolve_inpainter
    from mattepaint.models.checkpoint import resolve_checkpoint_path

    methods: list[Method] = []
    load_s: dict[str, float] = {}
    for name in names:
        try:
            resolve_inpainter(name)
        except ValueError as exc:
            _fail(str(exc))
        methods.append(Method(name, "classical", name, {"method": name}))
    for spec in checkpoints:
        name, path = parse_checkpoint(spec)
        if not _NAME.match(name) or name in RESERVED_NAMES:
            _fail(
                f"bad checkpoint name {name!r} in --checkpoint {spec}: use NAME=PATH with "
                f"letters, digits, '_', '.', '-' (not {', '.join(sorted(RESERVED_NAMES))})"
            )
        if name in {m.name for m in methods}:
            _fail(f"two methods are named {name!r}; give --checkpoint NAME=PATH another NAME")
        try:  # a file, or the bare name of a model shipped in the package (unet_refine_small)
            path = resolve_checkpoint_path(path)
        except (FileNotFoundError, ValueError) as exc:
            _fail(str(exc))
        start = time.perf_counter()
        inpainter, ckpt = load_checkpoint_inpainter(path, device)
        load_s[name] = time.perf_counter() - start
        config = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
        info = {
            **checkpoint_info(path, ckpt, inpainter),
            "train_mask": (config.get("data") or {}).get("mask"),
            "train_image_size": (config.get("data") or {}).get("image_size"),
            "n_parameters": sum(p.numel() for p in inpainter.model.parameters()),
        }
        methods.append(Method(name, "checkpoint", inpainter, info))
    return methods, load_s


# --------------------------------------------------------------------------- tables


@dataclass
class TextTable:
    """A table of already formatted cells, printable with rich and writable as markdown."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    #: print at least as wide as the title and note (up to 100 columns), for narrow tables
    fit_text: bool = False

    def markdown(self) -> str:
        lines = [f"**{self.title}**", ""]
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join("---" for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines) + "\n"

    def rich(self) -> Any:
        from rich.table import Table

        width = min(100, max(len(self.title), len(self.note))) if self.fit_text else None
        table = Table(title=self.title, caption=self.note or None, min_width=width)
        for index, header in enumerate(self.headers):
            table.add_column(header, justify="left" if index == 0 else "right")
        for row in self.rows:
            table.add_row(*row)
        return table


def bucket_labels(reports: dict[str, InpaintingReport]) -> list[str]:
    """The summary groups present in any report, in order: buckets, "other", "all"."""
    present = {row["bucket"] for report in reports.values() for row in report.summary}
    order = [bucket_label(i) for i in range(len(HOLE_RATIO_BUCKETS))] + [
        OTHER_BUCKET,
        "all",
    ]
    return [label for label in order if label in present]


def _summary(report: InpaintingReport) -> dict[str, dict[str, Any]]:
    return {row["bucket"]: row for row in report.summary}


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, fmt)


def hole_ratio_note(report: InpaintingReport) -> str:
    """``"N cases, hole ratio LO-HI (mean M)"`` over the report's cases."""
    ratios = [float(row["hole_ratio"]) for row in report.rows]
    return (
        f"{len(ratios)} cases, hole ratio {min(ratios):.3f}-{max(ratios):.3f} "
        f"(mean {float(np.mean(ratios)):.3f})"
    )


def bucket_tables(reports: dict[str, InpaintingReport], per_bucket: bool = True) -> list[TextTable]:
    """(a) one table per metric: rows = methods, columns = buckets + all (``per_bucket``) or
    "all" only (for masks of a single hole ratio, e.g. ``--masks square``)."""
    first_report = next(iter(reports.values()))
    labels = bucket_labels(reports) if per_bucket else ["all"]
    first = _summary(first_report)
    if per_bucket:
        counts = ", ".join(
            f"{label}: {first[label]['count']}" for label in labels if label in first
        )
        where, note = "per hole-ratio bucket", f"cases per bucket: {counts}"
    else:
        where, note = "over all cases", hole_ratio_note(first_report)
    tables = []
    for key, title, fmt, higher in BUCKET_METRICS:
        if not all(key in report.metrics for report in reports.values()):
            continue
        rows = []
        for name, report in reports.items():
            summary = _summary(report)
            rows.append([name] + [_cell(summary.get(label, {}).get(key), fmt) for label in labels])
        better = "higher" if higher else "lower"
        tables.append(
            TextTable(
                f"{title} {where} ({better} is better)",
                ["method", *labels],
                rows,
                note=note,
                fit_text=not per_bucket,
            )
        )
    return tables


def table2_values(reports: dict[str, InpaintingReport]) -> dict[str, dict[str, float]]:
    """(b) seed 002 Table II numbers over all cases: MSE, L1, TV on the 0-255 scale."""
    values: dict[str, dict[str, float]] = {}
    for name, report in reports.items():
        overall = _summary(report)["all"]
        values[name] = {
            column: float(overall[key]) * factor
            for column, key, factor, _ in TABLE2_COLUMNS
            if key in overall
        }
    return values


def table2(
    reports: dict[str, InpaintingReport],
    n_cases: int,
    size: int,
    square_size: int | None = None,
) -> TextTable:
    """(b) as a table; ``square_size``: the cases have random squares of that side
    (``--masks square``), named in the note."""
    if square_size is None:
        holes = "~128x128 square holes, so compare the rows here with each other"
    else:
        holes = (
            f"a central 128x128 hole; here ~{square_size}x{square_size} squares at random "
            f"positions, so compare the rows here with each other"
        )
    values = table2_values(reports)
    columns = [c for c in TABLE2_COLUMNS if all(c[0] in v for v in values.values())]
    rows = [
        [name] + [_cell(values[name][column], fmt) for column, _, _, fmt in columns]
        for name in reports
    ]
    return TextTable(
        f"Seed 002 Table II columns, all {n_cases} cases ({size}x{size})",
        ["method", *[c[0] for c in columns]],
        rows,
        note=(
            "MSE, L1 and TV on the 0-255 scale (seed 002's Telea: MSE 821.73, L1 9.66, "
            f"PSNR 19.61, LPIPS 0.17, TV 7.97, on its own test images and {holes})."
        ),
    )


def beats_telea(
    reports: dict[str, InpaintingReport], reference: str = "telea", per_bucket: bool = True
) -> dict[str, dict[str, dict[str, bool]]]:
    """(c) ``{method: {bucket: {"psnr": bool, "ssim": bool, "lpips": bool}}}``: True where the
    method is better than ``reference`` (PSNR, SSIM higher; LPIPS lower); buckets + "all", or
    "all" only without ``per_bucket``. Empty without the reference."""
    if reference not in reports:
        return {}
    ref = _summary(reports[reference])
    labels = bucket_labels(reports) if per_bucket else ["all"]
    out: dict[str, dict[str, dict[str, bool]]] = {}
    for name, report in reports.items():
        if name == reference:
            continue
        summary = _summary(report)
        out[name] = {}
        for label in labels:
            if label not in summary or label not in ref:
                continue
            mine, theirs = summary[label], ref[label]
            result = {
                "psnr": bool(mine["psnr"] > theirs["psnr"]),
                "ssim": bool(mine["ssim"] > theirs["ssim"]),
            }
            if "lpips" in mine and "lpips" in theirs:
                result["lpips"] = bool(mine["lpips"] < theirs["lpips"])
            out[name][label] = result
    return out


def beats_table(
    reports: dict[str, InpaintingReport], reference: str = "telea", per_bucket: bool = True
) -> TextTable | None:
    beats = beats_telea(reports, reference, per_bucket)
    if not beats:
        return None
    labels = bucket_labels(reports) if per_bucket else ["all"]
    keys = [k for k in ("psnr", "ssim", "lpips") if k in next(iter(beats.values()))["all"]]
    names = {"psnr": "PSNR higher", "ssim": "SSIM higher", "lpips": "LPIPS lower"}
    rows = []
    for name, by_bucket in beats.items():
        cells = []
        for label in labels:
            result = by_bucket.get(label)
            cells.append(
                "-" if result is None else " ".join("✓" if result[k] else "✗" for k in keys)
            )
        rows.append([name, *cells])
    legend = " / ".join(names[k] for k in keys)
    return TextTable(
        f"Beats {reference}? ({legend})",
        ["method", *labels],
        rows,
        note=f"Each cell: {legend} than {reference} on the same cases (✓ yes, ✗ no).",
        fit_text=not per_bucket,
    )


# --------------------------------------------------------------------------- grid


def pick_grid_cases(report: InpaintingReport, n: int) -> list[dict[str, Any]]:
    """``n`` cases spread over the hole ratios: the cases sorted by hole ratio, taken at the
    quantiles ``(k + 0.5) / n`` (one per bucket for n = 6 and equal bucket sizes)."""
    rows = sorted(report.rows, key=lambda row: (row["hole_ratio"], row["name"]))
    n = min(n, len(rows))
    picks = [rows[min(len(rows) - 1, int((k + 0.5) * len(rows) / n))] for k in range(n)]
    seen: set[str] = set()
    return [row for row in picks if not (row["name"] in seen or seen.add(row["name"]))]


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _fit_title(draw: Any, text: str, width: int, size: int) -> tuple[list[str], Any]:
    """Lines and font for a column title: one line at the largest size (>= 10 px) that fits,
    else two lines broken at a '_' / '-' / ' ' (>= 8 px), else one line cut with '…'."""
    for s in range(size, 9, -1):
        font = _font(s)
        if draw.textlength(text, font=font) <= width:
            return [text], font
    cuts = [i + 1 for i, ch in enumerate(text[:-1]) if ch in "_- "]
    if cuts:
        cut = min(cuts, key=lambda i: abs(2 * i - len(text)))  # the most even split
        lines = [text[:cut], text[cut:]]
        for s in range(size - 2, 7, -1):
            font = _font(s)
            if all(draw.textlength(line, font=font) <= width for line in lines):
                return lines, font
    font = _font(8)
    while len(text) > 1 and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return [text + "…"], font


def _thumb(image: np.ndarray, cell: int) -> Any:
    from PIL import Image

    array = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    return Image.fromarray(array).resize((cell, cell), Image.Resampling.LANCZOS)


def make_grid(
    out: Path,
    images_dir: Path,
    masks_dir: Path,
    cases: list[dict[str, Any]],
    columns: list[str],
    cell: int,
) -> Path:
    """Write ``out/grid.png``: rows = ``cases``, columns = masked input (holes white) | each of
    ``columns`` (folders ``out/<name>/``) | ground truth, titled."""
    from PIL import Image, ImageDraw

    titles = ["masked input", *columns, "ground truth"]
    pad, header = 4, 34
    width = len(titles) * (cell + pad) + pad
    height = header + len(cases) * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(titles):
        lines, font = _fit_title(draw, title, cell, 14)
        for k, line in enumerate(lines):
            x = pad + j * (cell + pad) + (cell - draw.textlength(line, font=font)) / 2
            y = 4 + k * 14 if len(lines) > 1 else 10
            draw.text((x, y), line, fill="black", font=font)
    label_font = _font(11)
    gts = io.images_by_stem(images_dir, "ground truth")
    masks = io.images_by_stem(masks_dir, "mask")
    results = {c: io.images_by_stem(out / c, "result") for c in columns}
    for i, case in enumerate(cases):
        name = case["name"]
        gt = io.load_image(gts[name])  # (H, W, 3)
        mask = io.load_mask(masks[name], like=gt)  # (H, W) bool
        masked = np.where(mask[..., None], 1.0, gt)  # holes white
        tiles = [masked, *(io.load_image(results[c][name]) for c in columns), gt]
        y = header + pad + i * (cell + pad)
        for j, tile in enumerate(tiles):
            canvas.paste(_thumb(tile, cell), (pad + j * (cell + pad), y))
        label = f"{name}: {100 * case['hole_ratio']:.0f}% hole"
        box = draw.textbbox((pad + 2, y + 2), label, font=label_font)
        draw.rectangle(box, fill="black")
        draw.text((pad + 2, y + 2), label, fill="white", font=label_font)
    path = out / "grid.png"
    with io.atomic_path(path, overwrite=True) as tmp:
        canvas.save(tmp, format="PNG", optimize=True)
    return path


# --------------------------------------------------------------------------- main


def _strict_json(value: Any) -> Any:
    """``value`` with inf / nan floats as the strings "inf", "-inf", "nan" (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(v) for v in value]
    return value


def _versions(device: str) -> dict[str, Any]:
    import cv2
    import torch

    info: dict[str, Any] = {
        "mattepaint": mattepaint.__version__,
        "torch": str(torch.__version__),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="real data")
    parser.add_argument("--cases", type=int, default=300, help="number of cases (default 300)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="case selection seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("results/bench_deep"))
    parser.add_argument(
        "--method",
        action="append",
        default=None,
        metavar="NAME",
        help="a classical method (repeatable; default: telea and ns)",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a trained inpainting checkpoint, labelled NAME (repeatable)",
    )
    parser.add_argument(
        "--lpips",
        choices=("alex", "vgg", "none"),
        default="alex",
        help="LPIPS backbone, weights from DATA/weights (default alex)",
    )
    parser.add_argument(
        "--grid",
        type=int,
        default=6,
        help="rows of OUT/grid.png (0: no grid; default 6)",
    )
    parser.add_argument(
        "--grid-cell",
        type=int,
        default=128,
        help="grid thumbnail side in pixels (default 128)",
    )
    parser.add_argument(
        "--masks",
        choices=MASK_KINDS,
        default="nvidia",
        help="holes: the NVIDIA irregular masks, 50 per hole-ratio bucket (default), or one "
        "random square per case (mattepaint random_square, seed 002's 'hole')",
    )
    parser.add_argument(
        "--square-size",
        type=int,
        default=None,
        metavar="PX",
        help="nominal side of the --masks square holes (default: --size // 2)",
    )
    parser.add_argument("--device", default="cpu", help="device of the models and LPIPS")
    classical.add_output_options(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    wall_start = time.perf_counter()
    args = build_parser().parse_args(argv)
    classical.check_data_dir(args.data)
    if args.cases < 1 or args.size < 32:
        _fail("--cases must be >= 1 and --size >= 32")
    if args.grid < 0 or args.grid_cell < 16:
        _fail("--grid must be >= 0 and --grid-cell >= 16")
    square = args.masks == "square"
    if square:
        if args.square_size is None:
            args.square_size = args.size // 2
        if not 1 <= args.square_size <= args.size:
            _fail(f"--square-size must be in 1..--size ({args.size}), got {args.square_size}")
    elif args.square_size is not None:
        _fail("--square-size needs --masks square")
    names = args.method if args.method is not None else ["telea", "ns"]
    if len(set(names)) != len(names):
        _fail(f"a --method is given twice: {names}")
    methods, load_s = load_methods(names, args.checkpoint, args.device)

    from rich.console import Console

    console = Console(width=max(Console().width, 120))  # keep the tables unwrapped in logs
    lpips = None
    reports: dict[str, InpaintingReport] = {}
    timings: dict[str, dict[str, float]] = {}
    try:
        if args.lpips != "none":
            from mattepaint.metrics.lpips import LPIPS

            lpips = LPIPS.from_dir(args.lpips, args.data / "weights").to(args.device)
        if square:
            images_dir, masks_dir = build_square_cases(
                args.data,
                args.out,
                args.cases,
                args.size,
                args.seed,
                args.square_size,
                args.overwrite,
            )
        else:
            images_dir, masks_dir = classical.build_cases(
                args.data, args.out, args.cases, args.size, args.seed, args.overwrite
            )
        for method in methods:
            console.print(f"[bold]{method.name}[/bold] ({method.kind})")
            report, timing = classical.run_method(
                method.name,
                method.inpainter,
                images_dir,
                masks_dir,
                args.out,
                lpips=lpips,
                overwrite=args.overwrite,
                progress=args.progress,
            )
            if method.name in load_s:
                timing["load_s"] = load_s[method.name]
            timing["total_s"] = sum(
                timing[k] for k in ("inpaint_s", "evaluate_s", "load_s") if k in timing
            )
            timings[method.name], reports[method.name] = timing, report
            console.print(
                f"{method.name}: inpainting {timing['inpaint_s']:.1f} s "
                f"({timing['inpaint_ms_per_image']:.1f} ms per image), "
                f"evaluation {timing['evaluate_s']:.1f} s\n"
            )
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        _fail(str(exc))

    tables = bucket_tables(reports, per_bucket=not square)
    tables.append(table2(reports, args.cases, args.size, args.square_size if square else None))
    beats = beats_table(reports, per_bucket=not square)
    if beats is not None:
        tables.append(beats)
    for table in tables:
        console.print(table.rich())

    grid_path = None
    if args.grid > 0:
        named = [m.name for m in methods if m.kind == "classical"]
        shown = sorted(named, key=lambda name: name != "telea")  # telea first
        shown += [m.name for m in methods if m.kind == "checkpoint"]
        cases = pick_grid_cases(next(iter(reports.values())), args.grid)
        grid_path = make_grid(args.out, images_dir, masks_dir, cases, shown, args.grid_cell)
        size_mb = grid_path.stat().st_size / 1e6
        console.print(f"grid: {grid_path} ({size_mb:.2f} MB)")
        if size_mb > 2:
            console.print("[yellow]note:[/yellow] the grid is over 2 MB; lower --grid-cell")

    lpips_text = "no LPIPS" if args.lpips == "none" else "LPIPS-" + args.lpips
    if square:
        side, jitter = args.square_size, args.square_size // 8
        what = (
            f"(Kodak24 + BSDS500 test, seed {args.seed}), one square hole per case "
            f"(mattepaint random_square: side {side} ± {jitter}, uniform random position, "
            f"drawn from default_rng([{args.seed}, case index])), {lpips_text}"
        )
    else:
        what = f"(Kodak24 + BSDS500 test, NVIDIA irregular masks, seed {args.seed}), {lpips_text}"
    header = (
        f"# Deep inpainting benchmark\n\n{args.cases} cases of {args.size}x{args.size} {what}. "
        "Command:\n\n```bash\npython benchmarks/deep_inpainting.py "
        + " ".join(sys.argv[1:] if argv is None else argv)
        + "\n```\n"
    )
    timing_rows = [
        [
            name,
            f"{t['inpaint_ms_per_image']:.1f}",
            f"{t['inpaint_s']:.1f}",
            f"{t['evaluate_s']:.1f}",
        ]
        for name, t in timings.items()
    ]
    timing_table = TextTable(
        f"Wall time ({args.device})",
        ["method", "ms / image", "inpainting (s)", "evaluation (s)"],
        timing_rows,
    )
    text = header + "\n" + "\n".join(t.markdown() for t in [*tables, timing_table])
    with io.atomic_path(args.out / "tables.md", overwrite=True) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")

    run = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "methods": {m.name: {"kind": m.kind, **m.info} for m in methods},
        "timings": timings,
        "table2": table2_values(reports),
        "beats_telea": beats_telea(reports, per_bucket=not square),
        "summary": {name: report.summary for name, report in reports.items()},
        "grid": None if grid_path is None else str(grid_path),
        "versions": _versions(args.device),
        "wall_s": time.perf_counter() - wall_start,
    }
    text = json.dumps(_strict_json(run), indent=2, default=str, allow_nan=False) + "\n"
    with io.atomic_path(args.out / "run.json", overwrite=True) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}/tables.md, run.json, <method>_eval.json/.csv, _summary.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
