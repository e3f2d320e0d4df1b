"""Peak memory and time of mattepaint.highres on a 4096 x 4096 image.

Inputs (procedural, deterministic, no files needed):

- inpainting: an 8 x 8 mosaic of :func:`mattepaint.samples.make_inpainting_sample` pictures
  (512 px each, seeds 0-63, the clean pictures), with a mask of a few thick random strokes and
  blobs covering well under 1 % of the image;
- matting: :func:`mattepaint.samples.make_matting_sample` at 512 px upscaled 8x (bicubic
  foreground / background, bilinear alpha), composited again, with the trimap
  ``trimap_from_alpha(alpha, width=40)`` and the clean background plate.

Each case runs in a fresh Python process (``subprocess``), so peak resident memory (``ru_maxrss``
of that process) is per case. The child loads the inputs from ``.npy`` files, warms the method up
on a 64 x 64 input (imports, numba compilation), records its peak RSS so far as the baseline, then
runs the case under ``tracemalloc`` (which counts numpy's allocations, not OpenCV's or torch's).
Reported: wall time, peak RSS, peak RSS increase over the baseline (the inputs themselves are
in the baseline: image 192 MiB, mask 16 MiB), the tracemalloc peak, the number of changed
pixels, and whether every pixel outside the hole is bit for bit the input (inpainting) or the
known trimap regions are exactly 0 / 1 (matting), plus the unknown-region SAD against the
upscaled ground truth.

Usage:
    python benchmarks/highres_memory.py [--size 4096] [--with-full] [--matting-max-size 512]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

MIB = 1024 * 1024


def _status_mib(field: str) -> float | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the peak RSS (VmHWM) of this process: Linux >= 4.0, ``echo 5 > clear_refs``."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_peak_mib() -> float:
    hwm = _status_mib("VmHWM")
    if hwm is not None:
        return hwm
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --------------------------------------------------------------------------------------------
# inputs (parent process)
# --------------------------------------------------------------------------------------------


def make_inpainting_input(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(size, size, 3) float32 mosaic of sample pictures and a (size, size) bool stroke mask."""
    from mattepaint.samples import make_inpainting_sample

    tile = 512
    n = -(-size // tile)
    image = np.empty((n * tile, n * tile, 3), np.float32)
    for i in range(n):
        for j in range(n):
            sample = make_inpainting_sample((tile, tile), seed=i * n + j)
            image[i * tile : (i + 1) * tile, j * tile : (j + 1) * tile] = sample.clean
    image = np.ascontiguousarray(image[:size, :size])
    rng = np.random.default_rng(0)
    mask = np.zeros((size, size), np.uint8)
    for _ in range(6):  # random-walk strokes, 6-16 px thick
        points = [rng.uniform(0.1, 0.9, 2) * size]
        for _ in range(5):
            points.append(np.clip(points[-1] + rng.normal(0, 0.06 * size, 2), 0, size - 1))
        pts = np.round(np.array(points)).astype(np.int32)
        cv2.polylines(mask, [pts], False, 1, int(rng.integers(6, 17)))
    for _ in range(3):  # blobs (objects to remove)
        centre = tuple(int(v) for v in rng.uniform(0.05, 0.95, 2) * size)
        cv2.circle(mask, centre, int(rng.integers(20, 60)), 1, -1)
    return image, mask.astype(bool)


def make_matting_input(size: int) -> dict[str, np.ndarray]:
    """A matting sample upscaled to (size, size): image, background, trimap, alpha (gt)."""
    from mattepaint.compositing import composite, trimap_from_alpha
    from mattepaint.samples import make_matting_sample

    s = make_matting_sample((512, 512), seed=0)
    shape = (size, size)

    def up(x: np.ndarray, interpolation: int) -> np.ndarray:
        return np.clip(cv2.resize(x, shape[::-1], interpolation=interpolation), 0, 1)

    fg, bg = up(s.foreground, cv2.INTER_CUBIC), up(s.background, cv2.INTER_CUBIC)
    alpha = up(s.alpha, cv2.INTER_LINEAR)
    image = composite(fg, bg, alpha).astype(np.float32)
    trimap = trimap_from_alpha(alpha, width=40)
    return {"image": image, "background": bg, "trimap": trimap, "alpha": alpha}


# --------------------------------------------------------------------------------------------
# one case (child process)
# --------------------------------------------------------------------------------------------


def _warm_up_inpaint(inpainter: object) -> None:
    from mattepaint.highres import inpaint_highres

    mask = np.zeros((64, 64), bool)
    mask[20:30, 20:40] = True
    inpaint_highres(inpainter, np.full((64, 64, 3), 0.5, np.float32), mask)


def _baseline() -> float:
    """RSS now, with the peak reset to it; without clear_refs, the peak so far (conservative:
    then an increase can only be under-reported when an earlier transient was higher)."""
    if _reset_peak():
        return _status_mib("VmRSS") or _rss_peak_mib()
    return _rss_peak_mib()


def run_case(case: dict, workdir: Path) -> dict:
    from mattepaint.highres import inpaint_highres, matte_highres
    from mattepaint.methods import resolve_inpainter, resolve_matter

    if case["task"] == "inpaint":
        image = np.load(workdir / "image.npy")
        mask = np.load(workdir / "mask.npy")
        inpainter = resolve_inpainter(case["method"])
        _warm_up_inpaint(inpainter)
        base = _baseline()
        tracemalloc.start()
        t0 = time.perf_counter()
        out = inpaint_highres(
            inpainter, image, mask, strategy=case["strategy"], max_size=case.get("max_size")
        )
        seconds = time.perf_counter() - t0
        peak = _rss_peak_mib()  # before the checks below, which make their own copies
        traced = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
        changed = (out != image).any(axis=-1)
        check = bool(np.array_equal(out[~mask], image[~mask])) and not changed[~mask].any()
        extra = f"{int(changed.sum()):,} changed / {int(mask.sum()):,} hole px"
    else:
        data = {k: np.load(workdir / f"matte_{k}.npy") for k in ("image", "background", "trimap")}
        matter = resolve_matter(case["method"])
        kwargs = (
            {"trimap": data["trimap"]}
            if matter.needs == "trimap"
            else {"background": data["background"]}
        )
        small = {
            k: cv2.resize(v, (64, 64), interpolation=cv2.INTER_NEAREST) for k, v in data.items()
        }
        small_kwargs = {k: small[k] for k in kwargs}
        matte_highres(matter, small["image"], **small_kwargs)  # warm-up: imports, numba
        base = _baseline()
        tracemalloc.start()
        t0 = time.perf_counter()
        alpha, fg = matte_highres(matter, data["image"], max_size=case["max_size"], **kwargs)
        seconds = time.perf_counter() - t0
        peak = _rss_peak_mib()  # before the checks below, which make their own copies
        traced = tracemalloc.get_traced_memory()[1] / MIB
        tracemalloc.stop()
        trimap = data["trimap"]
        check = bool(np.all(np.isfinite(alpha)) and alpha.min() >= 0 and alpha.max() <= 1)
        if "trimap" in kwargs:
            check = check and bool(
                np.all(alpha[trimap == 0] == 0) and np.all(alpha[trimap == 1] == 1)
            )
        gt = np.load(workdir / "matte_alpha.npy")
        unknown = trimap == 0.5
        sad = float(np.abs(alpha - gt)[unknown].sum() / 1000)
        extra = f"SAD(unknown) {sad:.1f}; fg {'yes' if fg is not None else 'no'}"
    return {
        "seconds": seconds,
        "rss_base_mib": base,
        "rss_peak_mib": peak,
        "rss_increase_mib": peak - base,
        "tracemalloc_peak_mib": traced,
        "check": check,
        "extra": extra,
    }


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=4096, help="image side (default 4096)")
    parser.add_argument("--with-full", action="store_true", help="also run strategy 'full'")
    parser.add_argument("--matting-max-size", type=int, default=512)
    parser.add_argument("--child", help=argparse.SUPPRESS)  # JSON case, run in this process
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_case(json.loads(args.child), args.workdir)))
        return 0

    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    cases = [
        {"task": "inpaint", "method": "telea", "strategy": "auto"},
        {"task": "inpaint", "method": "telea", "strategy": "crop", "max_size": 512},
        {"task": "inpaint", "method": "telea", "strategy": "resize", "max_size": 1024},
    ]
    if args.with_full:
        cases.append({"task": "inpaint", "method": "telea", "strategy": "full"})
    for method in ("background_difference", "closed_form"):
        cases.append({"task": "matte", "method": method, "max_size": args.matting_max_size})

    with tempfile.TemporaryDirectory(prefix="highres_bench_") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        image, mask = make_inpainting_input(args.size)
        np.save(workdir / "image.npy", image)
        np.save(workdir / "mask.npy", mask)
        coverage = mask.mean()
        del image, mask
        for key, value in make_matting_input(args.size).items():
            np.save(workdir / f"matte_{key}.npy", value)
        console.print(
            f"inputs {args.size}x{args.size} built in {time.perf_counter() - t0:.1f} s; "
            f"hole coverage {100 * coverage:.2f} %"
        )
        table = Table(title=f"mattepaint.highres at {args.size}x{args.size} (one process per case)")
        for column in (
            "task",
            "method",
            "strategy / max_size",
            "time (s)",
            "peak RSS (MiB)",
            "RSS increase (MiB)",
            "tracemalloc peak (MiB)",
            "check",
            "result",
        ):
            table.add_column(column, justify="right" if "(" in column else "left")
        for case in cases:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(case), "--workdir", str(workdir)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                console.print(f"[red]case {case} failed:[/red]\n{proc.stderr[-2000:]}")
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            label = case.get("strategy", "matte")
            if case.get("max_size"):
                label += f" / {case['max_size']}"
            table.add_row(
                case["task"],
                case["method"],
                label,
                f"{r['seconds']:.2f}",
                f"{r['rss_peak_mib']:.0f}",
                f"{r['rss_increase_mib']:.0f}",
                f"{r['tracemalloc_peak_mib']:.0f}",
                "[green]ok[/green]" if r["check"] else "[red]FAIL[/red]",
                r["extra"],
            )
        console.print(table)
        console.print(
            "check: inpainting = pixels outside the hole bit-identical and only hole pixels "
            "changed; matting = alpha in [0, 1] and (with a trimap) known trimap pixels exactly "
            "0 / 1. RSS increase = peak RSS during the call minus RSS after loading the inputs "
            "and a 64x64 warm-up (peak reset through /proc/self/clear_refs). tracemalloc counts "
            "numpy allocations, including ones never touched (not resident)."
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
