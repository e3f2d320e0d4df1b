"""A self-contained before/after demo on procedural samples with known ground truth.

:func:`run_demo` makes one matting sample and one inpainting sample (:mod:`mattepaint.samples`,
no downloads), runs

- matting: ``closed_form`` with the trimap and ``background_difference`` with the clean
  background plate, each giving an alpha matte, a foreground colour estimate and an RGBA cut-out;
- inpainting: ``auto`` (the best shipped model, :func:`mattepaint.methods.auto_inpainter`),
  ``telea`` and ``ns`` (OpenCV's Telea 2004 and Navier-Stokes 2001 methods),
- the cut-out without trimap (:func:`mattepaint.segmentation.cutout` with the shipped segmenter)
  on the matting sample, or on a photo of your own (``photo=``, ``--photo``),

scores them against the ground truth, and writes every input, result and score plus one labelled
picture, ``before_after.png``::

    out_dir/
      before_after.png     row 1: image | trimap | alpha (closed_form) | cut-out on a checkerboard
                           row 2: cut-out without trimap: image | segmenter's mask |
                                  automatic trimap | cut-out (the matting sample, or --photo)
                           row 3: image, hole in red | auto | telea | ground truth
      metrics.json         {"matting": {method: {...}}, "inpainting": {method: {...}}, "units": ...}
      matting/             image, trimap, background, alpha_true,
                           <method>_alpha, <method>_fg, <method>_cutout   (PNG)
      inpainting/          image, mask, clean (ground truth), auto, telea, ns   (PNG)
      cutout/              image, soft_mask, trimap, rgba   (PNG; the shipped segmenter
                           + automatic trimap + closed_form on the band)

Scores (see ``metrics.json["units"]``):

- matting, over the trimap's unknown region (Xu et al., "Deep Image Matting", CVPR 2017):
  ``sad = sum |alpha - alpha_true| / 1000``, ``mse = mean (alpha - alpha_true)^2 * 1000``;
- inpainting, in the hole only: ``psnr_hole = 10 log10(1 / hole_mse)`` with
  ``hole_mse = sum_{hole, c} (pred - clean)^2 / (3 |hole|)``, and ``ssim_hole``, the SSIM
  (Wang et al. 2004) of the hole's bounding box grown by 5 px (so the 11 x 11 window sees the
  whole hole) -- it includes a few known pixels around the hole, which both methods copy
  exactly;
- cut-out, over the whole image: ``iou`` of ``alpha > 0.5``, ``sad_all`` and ``mse_all`` as
  ``sad`` / ``mse`` but over every pixel (none without ground truth, for ``photo=``);
- ``seconds``: wall-clock time of the method alone.

Every file is written atomically (temporary name, then rename). Existing demo files are never
replaced unless ``overwrite=True``; that check happens before any work.

Example:
    >>> from mattepaint.demo import run_demo
    >>> files = run_demo("results/demo", overwrite=True)  # doctest: +SKIP
    >>> files["before_after"]                              # doctest: +SKIP
    PosixPath('results/demo/before_after.png')
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from mattepaint.checks import is_int
from mattepaint.errors import OutputExistsError

__all__ = ["DEMO_FILES", "before_after_grid", "demo_paths", "run_demo"]

MATTING_METHODS = ("closed_form", "background_difference")
INPAINTING_METHODS = ("auto", "telea", "ns")
CUTOUT_PARTS = ("image", "soft_mask", "trimap", "rgba")

#: Every file the demo writes: key -> path relative to ``out_dir``.
DEMO_FILES: dict[str, str] = {
    "matting/image": "matting/image.png",
    "matting/trimap": "matting/trimap.png",
    "matting/background": "matting/background.png",
    "matting/alpha_true": "matting/alpha_true.png",
    **{
        f"matting/{method}_{part}": f"matting/{method}_{part}.png"
        for method in MATTING_METHODS
        for part in ("alpha", "fg", "cutout")
    },
    "inpainting/image": "inpainting/image.png",
    "inpainting/mask": "inpainting/mask.png",
    "inpainting/clean": "inpainting/clean.png",
    **{f"inpainting/{method}": f"inpainting/{method}.png" for method in INPAINTING_METHODS},
    **{f"cutout/{part}": f"cutout/{part}.png" for part in CUTOUT_PARTS},
    "metrics": "metrics.json",
    "before_after": "before_after.png",
}

UNITS: dict[str, str] = {
    "sad": "sum |alpha - alpha_true| over the trimap's unknown region / 1000 (DIM convention)",
    "mse": "mean (alpha - alpha_true)^2 over the trimap's unknown region x 1000 (DIM convention)",
    "psnr_hole": "10 log10(1 / MSE) over the hole pixels, dB, data range 1",
    "ssim_hole": "SSIM over the hole's bounding box grown by 5 px",
    "iou": "cut-out: IoU of alpha > 0.5 against the true alpha, whole image",
    "sad_all": "cut-out: sum |alpha - alpha_true| over the whole image / 1000",
    "mse_all": "cut-out: mean (alpha - alpha_true)^2 over the whole image x 1000",
    "seconds": "wall-clock seconds of the method call",
}

_SSIM_MARGIN = 5  # half the 11 x 11 SSIM window
_HOLE_RED = np.array([1.0, 0.1, 0.1], np.float32)


def _check_args(out_dir: Any, size: Any, seed: Any) -> tuple[Path, int, int]:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a str or a path, got {type(out_dir).__name__}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir must be a folder, got the file {out}")
    if not is_int(size):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels, got {size}")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return out, int(size), int(seed)


def demo_paths(out_dir: str | os.PathLike, *, overwrite: bool = False) -> dict[str, Path]:
    """The files :func:`run_demo` writes into ``out_dir`` (keys as in :data:`DEMO_FILES`).

    Raises FileExistsError, naming a few, when any exists and not ``overwrite`` (run_demo calls
    this first; the CLI calls it before it announces the run).
    """
    out = Path(out_dir)
    paths = {key: out / rel for key, rel in DEMO_FILES.items()}
    if not overwrite:
        _refuse_existing(paths, out)
    return paths


def _refuse_existing(paths: dict[str, Path], out: Path) -> None:
    existing = [p for p in paths.values() if p.exists()]
    if existing:
        shown = ", ".join(str(p.relative_to(out)) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise OutputExistsError(
            f"{out} already holds demo results ({shown}{more}); pass overwrite=True "
            f"(--overwrite on the command line) to replace them"
        )


# --------------------------------------------------------------------------------------------
# running the methods


def _run_matting(
    method: str, image: np.ndarray, trimap: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Run one matting method; return alpha (H, W), foreground (H, W, 3), seconds."""
    from mattepaint.compositing import estimate_foreground
    from mattepaint.io import to_numpy, to_tensor
    from mattepaint.methods import get_matter

    matter = get_matter(method)
    inputs: dict[str, Any] = {}
    if matter.needs == "trimap":
        inputs["trimap"] = to_tensor(trimap)  # (H, W) -> (1, 1, H, W)
    elif matter.needs == "background":
        inputs["background"] = to_tensor(background)  # (H, W, 3) -> (1, 3, H, W)
    start = time.perf_counter()
    result = matter(to_tensor(image), **inputs)
    seconds = time.perf_counter() - start
    alpha = np.clip(to_numpy(result.alpha), 0.0, 1.0).astype(np.float32)  # (1, 1, H, W) -> (H, W)
    if result.foreground is not None:
        foreground = np.clip(to_numpy(result.foreground), 0.0, 1.0).astype(np.float32)
    else:
        foreground = estimate_foreground(image, alpha)
    return alpha, foreground, seconds


def _run_cutout(
    image: np.ndarray, alpha_true: np.ndarray | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The cut-out pipeline with the shipped segmenter and closed_form on the band; its arrays
    (alpha, foreground, soft_mask, trimap) and scores (whole image, against ``alpha_true`` when
    given) with the segmenter's name and seconds."""
    from mattepaint.io import to_numpy, to_tensor
    from mattepaint.metrics.matting import matting_metrics
    from mattepaint.segmentation import cutout as cutout_pipeline
    from mattepaint.segmentation import default_segmenter

    segmenter = default_segmenter()
    start = time.perf_counter()
    result = cutout_pipeline(to_tensor(image), segmenter=segmenter, refine="closed_form")
    seconds = time.perf_counter() - start
    arrays = {
        "alpha": to_numpy(result.alpha),
        "foreground": to_numpy(result.foreground),
        "soft_mask": to_numpy(result.soft_mask),
        "trimap": to_numpy(result.trimap),
    }
    scores: dict[str, Any] = {"segmenter": segmenter, "seconds": seconds}
    if alpha_true is not None:
        whole = matting_metrics(arrays["alpha"], alpha_true, region="all")
        scores.update(iou=whole["iou"], sad_all=whole["sad"], mse_all=whole["mse"])
    return arrays, scores


def _fit(picture: np.ndarray, size: int) -> np.ndarray:
    """``picture`` scaled so its longer side is ``size`` and centred on a dark size x size tile
    (the grid's tiles are all the same size)."""
    import cv2

    h, w = picture.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))  # (w, h)
    if (h, w) != (new[1], new[0]):
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        picture = cv2.resize(np.ascontiguousarray(picture, np.float32), new,
                             interpolation=interpolation)
    tile = np.full((size, size, *picture.shape[2:]), 0.1, np.float32)
    top, left = (size - new[1]) // 2, (size - new[0]) // 2
    tile[top : top + new[1], left : left + new[0]] = picture
    return tile


def _run_inpainting(method: str, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """Run one inpainting method on the image with its hole blanked; return result, seconds."""
    from mattepaint.io import to_numpy, to_tensor
    from mattepaint.methods import resolve_inpainter

    inpainter = resolve_inpainter(method)  # "auto": the best shipped model
    blanked = image * ~mask[..., None]  # the method must not see what is in the hole
    start = time.perf_counter()
    filled = inpainter(to_tensor(blanked), to_tensor(mask.astype(np.float32)))
    seconds = time.perf_counter() - start
    return np.clip(to_numpy(filled), 0.0, 1.0).astype(np.float32), seconds


# --------------------------------------------------------------------------------------------
# scores


def _matting_scores(alpha: np.ndarray, alpha_true: np.ndarray, trimap: np.ndarray) -> dict:
    from mattepaint.metrics.matting import mse, sad

    return {"sad": sad(alpha, alpha_true, trimap), "mse": mse(alpha, alpha_true, trimap)}


def _hole_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of the True pixels grown by ``margin`` (at least 11 x 11, inside the image)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    y0, y1 = max(0, int(ys.min()) - margin), min(h, int(ys.max()) + 1 + margin)
    x0, x1 = max(0, int(xs.min()) - margin), min(w, int(xs.max()) + 1 + margin)
    if y1 - y0 < 11:
        y0, y1 = max(0, min(y0, h - 11)), max(0, min(y0, h - 11)) + 11
    if x1 - x0 < 11:
        x0, x1 = max(0, min(x0, w - 11)), max(0, min(x0, w - 11)) + 11
    return slice(y0, y1), slice(x0, x1)


def _inpainting_scores(pred: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> dict:
    from mattepaint.metrics.inpainting import hole_mse, ssim

    error = float(hole_mse(pred, clean, mask))
    psnr_hole = math.inf if error == 0.0 else -10.0 * math.log10(error)
    rows, cols = _hole_box(mask, _SSIM_MARGIN)
    return {"psnr_hole": psnr_hole, "ssim_hole": float(ssim(pred[rows, cols], clean[rows, cols]))}


# --------------------------------------------------------------------------------------------
# the before/after picture


def _label_strip(text: str, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8 dark strip with ``text`` in white, shrunk to fit when possible."""
    import cv2

    strip = np.full((height, width, 3), 32, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def fits(scale: float) -> bool:
        (text_w, text_h), base = cv2.getTextSize(text, font, scale, 1)
        return text_w <= width - 6 and text_h + base <= height - 2

    scale = height / 30.0
    while scale > 0.3 and not fits(scale):
        scale -= 0.05
    (_, text_h), base = cv2.getTextSize(text, font, scale, 1)
    baseline_y = (height - text_h - base) // 2 + text_h  # centre text + descenders vertically
    cv2.putText(strip, text, (3, baseline_y), font, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return strip  # drawn on its own strip: text that does not fit is clipped at the tile edge


def _to_rgb8(picture: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3) float [0, 1] -> (H, W, 3) uint8."""
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)  # (H, W) -> (H, W, 3)
    return np.round(np.clip(picture, 0.0, 1.0) * 255.0).astype(np.uint8)


def before_after_grid(rows: list[list[tuple[str, np.ndarray]]], *, gap: int = 4) -> np.ndarray:
    """Lay labelled pictures out in a grid.

    Inputs:
        rows: rows of (label, picture); pictures (H, W) or (H, W, 3) float in [0, 1], all the
            same (H, W); every row the same length.
        gap: pixels of background between tiles.

    Outputs:
        (R * (H + label + gap) + gap, C * (W + gap) + gap, 3) uint8 RGB, each tile with its label
        in a dark strip above it (label height ``max(14, H // 11)``).
    """
    h, w = rows[0][0][1].shape[:2]
    label_h = max(14, h // 11)
    n_cols = len(rows[0])
    grid_h = len(rows) * (label_h + h + gap) + gap
    grid_w = n_cols * (w + gap) + gap
    grid = np.full((grid_h, grid_w, 3), 16, np.uint8)
    for r, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(f"every row needs {n_cols} pictures, row {r} has {len(row)}")
        y = gap + r * (label_h + h + gap)
        for c, (label, picture) in enumerate(row):
            if picture.shape[:2] != (h, w):
                raise ValueError(
                    f"every picture must be {(h, w)}, got {picture.shape[:2]} for {label!r}"
                )
            x = gap + c * (w + gap)
            grid[y : y + label_h, x : x + w] = _label_strip(label, w, label_h)
            grid[y + label_h : y + label_h + h, x : x + w] = _to_rgb8(picture)
    return grid


def _show_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with its hole tinted red: ``0.35 image + 0.65 red`` inside the hole."""
    tinted = 0.35 * image + 0.65 * _HOLE_RED
    return np.where(mask[..., None], tinted, image).astype(np.float32)


# --------------------------------------------------------------------------------------------


def _json_ready(value: Any) -> Any:
    """Floats rounded to 6 significant digits; inf/nan as strings (JSON has neither)."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else str(value)
    return value


def run_demo(
    out_dir: str | os.PathLike = "results/demo",
    *,
    overwrite: bool = False,
    size: int = 256,
    seed: int = 0,
    photo: str | os.PathLike | None = None,
) -> dict[str, Path]:
    """Run matting and inpainting on procedural samples and write results, scores and a picture.

    See the module docstring for what is run, the file layout and the scores. Takes a few
    seconds at 256 x 256 on two CPU cores once pymatting's numba cache is warm (its first
    import compiles for about a minute).

    Inputs:
        out_dir: output folder (created).
        overwrite: replace existing demo files; otherwise FileExistsError, raised before any
            work when any of the files in :data:`DEMO_FILES` exists.
        size: side of the square samples in pixels (>= 32).
        seed: sample seed (non-negative int); the same seed gives the same samples.
        photo: a photo of your own for the automatic cut-out row (default: the matting sample,
            scored against its true alpha).

    Outputs:
        dict key -> Path of every file written (keys as in :data:`DEMO_FILES`, e.g.
        ``"before_after"``, ``"metrics"``, ``"matting/closed_form_alpha"``).
    """
    out, size, seed = _check_args(out_dir, size, seed)
    paths = demo_paths(out, overwrite=overwrite)
    from mattepaint.io import load_image

    own_photo = None if photo is None else load_image(photo)  # a bad file fails before any work

    from mattepaint.compositing import composite_onto, cutout
    from mattepaint.io import atomic_path, save_image, save_mask, save_trimap
    from mattepaint.samples import make_inpainting_sample, make_matting_sample

    def save(key: str, picture: np.ndarray) -> None:
        save_image(paths[key], picture, overwrite=overwrite)

    # matting ----------------------------------------------------------------------------------
    ms = make_matting_sample((size, size), seed)
    save("matting/image", ms.image)
    save_trimap(paths["matting/trimap"], ms.trimap, overwrite=overwrite)
    save("matting/background", ms.background)
    save("matting/alpha_true", ms.alpha)
    matting: dict[str, dict[str, float]] = {}
    mattes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for method in MATTING_METHODS:
        alpha, foreground, seconds = _run_matting(method, ms.image, ms.trimap, ms.background)
        mattes[method] = (alpha, foreground)
        save(f"matting/{method}_alpha", alpha)
        save(f"matting/{method}_fg", foreground)
        save(f"matting/{method}_cutout", cutout(ms.image, alpha, foreground))
        matting[method] = {**_matting_scores(alpha, ms.alpha, ms.trimap), "seconds": seconds}

    # inpainting -------------------------------------------------------------------------------
    ins = make_inpainting_sample((size, size), seed)
    save("inpainting/image", ins.image)
    save_mask(paths["inpainting/mask"], ins.mask, overwrite=overwrite)
    save("inpainting/clean", ins.clean)
    inpainting: dict[str, dict[str, float]] = {}
    filled: dict[str, np.ndarray] = {}
    for method in INPAINTING_METHODS:
        filled[method], seconds = _run_inpainting(method, ins.image, ins.mask)
        save(f"inpainting/{method}", filled[method])
        inpainting[method] = {**_inpainting_scores(filled[method], ins.clean, ins.mask),
                              "seconds": seconds}

    # automatic cut-out (no trimap) ------------------------------------------------------------
    cut_image = ms.image if own_photo is None else own_photo
    cut, cut_scores = _run_cutout(cut_image, None if own_photo is not None else ms.alpha)
    cut_alpha = np.clip(cut["alpha"], 0.0, 1.0)
    save("cutout/image", cut_image)
    save("cutout/soft_mask", cut["soft_mask"])
    save_trimap(paths["cutout/trimap"], cut["trimap"], overwrite=overwrite)
    save("cutout/rgba", cutout(cut_image, cut_alpha, cut["foreground"]))

    # scores and picture -----------------------------------------------------------------------
    metrics = {
        "size": size,
        "seed": seed,
        "matting": matting,
        "inpainting": inpainting,
        "cutout": cut_scores,
        "units": UNITS,
    }
    with atomic_path(paths["metrics"], overwrite=overwrite) as temp:
        temp.write_text(json.dumps(_json_ready(metrics), indent=2) + "\n")

    cf_alpha, cf_fg = mattes["closed_form"]
    grid = before_after_grid(
        [
            [
                ("matting: image", ms.image),
                ("trimap", ms.trimap),
                ("alpha (closed_form)", cf_alpha),
                ("cut-out (closed_form)", composite_onto(cf_fg, cf_alpha, "checkerboard")),
            ],
            [
                ("cut-out: no trimap" if own_photo is None else "cut-out: your photo",
                 _fit(cut_image, size)),
                ("segmenter's mask", _fit(cut["soft_mask"], size)),
                ("automatic trimap", _fit(cut["trimap"], size)),
                ("cut-out", _fit(composite_onto(cut["foreground"], cut_alpha, "checkerboard"),
                                 size)),
            ],
            [
                ("inpainting: hole in red", _show_hole(ins.image, ins.mask)),
                ("auto (shipped model)", filled["auto"]),
                ("telea", filled["telea"]),
                ("ground truth", ins.clean),
            ],
        ]
    )
    save("before_after", grid)
    return paths
