"""Inference speed: PyTorch eager vs onnxruntime, through the same wrappers.

For each model (an inpainting checkpoint, by default the shipped model that ``--method auto``
runs, a freshly
built ``ffc_inpaint``, and freshly built matting models of the default recipe sizes, whose speed
does not depend on their weights) the script exports an ONNX file with
:func:`mattepaint.models.onnx_model.export_onnx`, then times the whole wrapper call (input
transform, padding, model, compositing / trimap fixing) of
:class:`~mattepaint.models.inpainter.ModelInpainter` / ``ModelMatter`` for the PyTorch model and
for the ONNX one, one image at a time, on the CPU, and prints a table: median ms per image,
speed-up, and the largest |difference| of the results. Telea's classical fill (OpenCV) is timed
the same way as the yardstick (no ONNX column). PyTorch models run in channels-last memory order
on the CPU, as the wrappers always do (:mod:`mattepaint.models.memory_format`).

    python benchmarks/onnx_speed.py                      # 256, 512, 1024 px
    python benchmarks/onnx_speed.py --sizes 512 --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from mattepaint.methods import auto_inpainter, resolve_inpainter, resolve_matter
from mattepaint.models.checkpoint import save_model, shipped_model_path
from mattepaint.models.onnx_model import export_onnx
from mattepaint.models.registry import build_model

_AUTO = auto_inpainter()
#: the default inpainting model file: what ``--method auto`` runs
SHIPPED = _AUTO if isinstance(_AUTO, Path) else shipped_model_path("unet_refine_small")
#: classical inpainters timed beside the models (no ONNX export)
CLASSICAL = ("telea",)
# matting models at their packaged recipes' sizes (configs/seed000_unet_matte.yaml,
# trimap_matte.yaml): untrained weights time the same as trained ones
MATTING = {
    "unet_matte (gray bg)": ("unet_matte", {"base": 32, "depth": 3}),
    "trimap_matte": ("trimap_matte", {"base": 32, "depth": 4}),
}
# inpainting models at their packaged recipes' sizes, untrained (configs/ffc_refine_small.yaml)
FRESH_INPAINTING = {
    "ffc_inpaint (untrained)": ("ffc_inpaint", {"base": 16, "n_down": 3, "n_blocks": 4}),
}


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (allocations, onnxruntime's first-run graph work)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _matting_checkpoint(folder: Path, name: str, params: dict) -> Path:
    torch.manual_seed(0)
    model = build_model(name, **params)
    return save_model(folder / f"{name}.safetensors", model, name=name, params=params)


def _inpainting_case(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random (1, 3, size, size) image and a (1, 1, size, size) mask with one 1/4 x 1/3 hole."""
    g = torch.Generator().manual_seed(size)
    image = torch.rand(1, 3, size, size, generator=g)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2, size // 3 : 2 * size // 3] = 1
    return image, mask


def run(
    checkpoint: Path, sizes: Sequence[int], repeats: int, threads: int
) -> list[dict[str, object]]:
    """Rows {model, size, torch_ms, onnx_ms, speedup, max_diff}; the classical rows first, with
    their time in ``torch_ms`` and None in the ONNX fields."""
    import onnxruntime  # noqa: F401 - fail early, before any export, when it is missing

    torch.set_num_threads(threads)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs: list[tuple[str, Path, str]] = [(checkpoint.stem, checkpoint, "inpainting")]
        jobs += [
            (label, _matting_checkpoint(folder, *spec), "inpainting")
            for label, spec in FRESH_INPAINTING.items()
        ]
        jobs += [
            (label, _matting_checkpoint(folder, *spec), "matting")
            for label, spec in MATTING.items()
        ]
        for name in CLASSICAL:
            method = resolve_inpainter(name)
            for size in sizes:
                image, mask = _inpainting_case(size)
                ms = _median_ms(lambda m=method, x=image, k=mask: m(x, k), repeats)
                rows.append({"model": name, "size": size, "torch_ms": ms,
                             "onnx_ms": None, "speedup": None, "max_diff": None})
        for label, ckpt, task in jobs:
            onnx_path = export_onnx(ckpt, folder / f"{ckpt.stem}.onnx")
            load = resolve_inpainter if task == "inpainting" else resolve_matter
            pair = (load(ckpt), load(onnx_path))
            for size in sizes:
                image, mask = _inpainting_case(size)
                g = torch.Generator().manual_seed(size + 1)
                trimap = torch.full((1, 1, size, size), 0.5)
                trimap[..., : size // 4] = 0
                trimap[..., 3 * size // 4 :] = 1
                background = torch.rand(1, 3, size, size, generator=g)
                if task == "inpainting":
                    calls = [lambda m=m, x=image, k=mask: m(x, k) for m in pair]
                else:
                    calls = [
                        lambda m=m, x=image, t=trimap, b=background: (
                            m(x, trimap=t, background=b).alpha
                        )
                        for m in pair
                    ]
                with torch.no_grad():
                    torch_ms, onnx_ms = (_median_ms(c, repeats) for c in calls)
                    diff = float((calls[0]() - calls[1]()).abs().max())
                rows.append(
                    {
                        "model": label,
                        "size": size,
                        "torch_ms": torch_ms,
                        "onnx_ms": onnx_ms,
                        "speedup": torch_ms / onnx_ms,
                        "max_diff": diff,
                    }
                )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=SHIPPED,
        help=f"inpainting model file (default: what --method auto runs, {SHIPPED.name})",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per cell (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch intra-op threads (onnxruntime uses its default)",
    )
    args = parser.parse_args(argv)
    if not args.checkpoint.is_file():
        print(f"error: checkpoint not found: {args.checkpoint}", file=sys.stderr)
        return 2
    rows = run(args.checkpoint, args.sizes, args.repeats, args.threads)
    table = Table(
        title=f"inference, one image, CPU ({args.threads} torch threads), median of {args.repeats}"
    )
    for column in ("model", "size", "torch eager ms", "onnxruntime ms", "speed-up", "max |diff|"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        classical = r["onnx_ms"] is None
        table.add_row(
            str(r["model"]) + (" (classical)" if classical else ""),
            f"{r['size']}",
            f"{r['torch_ms']:.1f}",
            "-" if classical else f"{r['onnx_ms']:.1f}",
            "-" if classical else f"{r['speedup']:.2f}x",
            "-" if classical else f"{r['max_diff']:.1e}",
        )
    Console(width=120).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
