"""Evaluate folders of inpainting or matting results against the ground truth.

Files are matched by stem across the folders (``pred/a.png`` <-> ``gt/a.jpg`` <-> ``masks/a.png``);
every prediction needs a ground truth (and a mask / trimap when that folder is given), checked
before any metric is computed. The result is a report: one row per case, a summary (means), and
writers to JSON / CSV (atomic, refusing to overwrite unless asked) and a rich table.

- :func:`evaluate_inpainting`: per case MSE, L1, hole L1, PSNR, SSIM, TV (and LPIPS when a model
  is given), from :mod:`mattepaint.metrics.inpainting`, on [0, 1] images; plus the hole ratio and
  its bucket of the irregular-mask protocol (Liu et al., ECCV 2018; :mod:`mattepaint.masks`).
  The summary has one row per bucket ("0.01-0.1" ... "0.5-0.6", then "other" for ratios outside
  every bucket) and a last row "all".
- :func:`evaluate_matting`: per case SAD, MSE, Grad, Conn (Deep Image Matting evaluation code,
  scaled as papers print them: SAD/1000, MSE x 1e3, Grad/1000, Conn/1000; see
  :mod:`mattepaint.metrics.matting`) and alpha IoU at 0.5; summary row "all".

Example:
    >>> from mattepaint.evaluate import evaluate_inpainting
    >>> report = evaluate_inpainting("filled", "originals", "masks")  # doctest: +SKIP
    >>> report.to_json("eval.json"); rich.print(report.format_table())  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from mattepaint import io
from mattepaint._progress import track
from mattepaint.masks import HOLE_RATIO_BUCKETS, bucket_label, hole_ratio_bucket

if TYPE_CHECKING:  # pragma: no cover
    from rich.table import Table

    from mattepaint.metrics.lpips import LPIPS

__all__ = [
    "INPAINTING_METRICS",
    "MATTING_METRICS",
    "OTHER_BUCKET",
    "InpaintingReport",
    "MattingReport",
    "Report",
    "evaluate_inpainting",
    "evaluate_matting",
]

PathLike = str | Path

#: Per-case inpainting metrics, in report order ("lpips" is added when a model is given).
INPAINTING_METRICS: tuple[str, ...] = ("mse", "l1", "hole_l1", "psnr", "ssim", "tv")
#: Per-case matting metrics, in report order.
MATTING_METRICS: tuple[str, ...] = ("sad", "mse", "grad", "conn", "iou")
#: Bucket label of the cases whose hole ratio falls outside every bucket (<= 0.01 or > 0.6).
OTHER_BUCKET = "other"
#: Label of the summary row over every case.
ALL = "all"

# How format_table prints each column (a format spec for float values).
_FORMATS: dict[str, str] = {
    "hole_ratio": ".3f",
    "mse": ".5f",
    "l1": ".4f",
    "hole_l1": ".4f",
    "psnr": ".2f",
    "ssim": ".4f",
    "tv": ".4f",
    "lpips": ".4f",
    "sad": ".2f",
    "grad": ".2f",
    "conn": ".2f",
    "iou": ".4f",
}
# Matting MSE is x 1e3 (papers' scale), so two decimals are enough there.
_MATTING_FORMATS: dict[str, str] = {**_FORMATS, "mse": ".2f"}
_HEADERS: dict[str, str] = {
    "name": "case",
    "hole_ratio": "hole ratio",
    "bucket": "bucket",
    "count": "n",
    "mse": "MSE",
    "l1": "L1",
    "hole_l1": "hole L1",
    "psnr": "PSNR",
    "ssim": "SSIM",
    "tv": "TV",
    "lpips": "LPIPS",
    "sad": "SAD",
    "grad": "Grad",
    "conn": "Conn",
    "iou": "IoU",
}


# --------------------------------------------------------------------------- reports


def _json_value(value: Any) -> Any:
    """Strict JSON has no inf / nan: write them as the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _mean(values: Sequence[float]) -> float:
    """Mean that skips nan (e.g. hole L1 of an empty hole) but keeps inf (exact PSNR); nan when
    nothing is left."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return math.nan
    if any(math.isinf(v) for v in kept):
        return float(np.sum(kept))  # +inf (or nan for +inf and -inf), the honest mean
    return float(np.mean(kept))


@dataclass
class Report:
    """Per-case rows and summary rows of an evaluation.

    Attributes:
        rows: one dict per case: ``name`` (the file stem), then the case's values.
        summary: one dict per group (``bucket`` label, ``count``, the mean of every metric),
            ending with the group ``"all"``.
        metrics: the metric keys present in the rows and summary, in column order.
    """

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    metrics: tuple[str, ...]
    kind: ClassVar[str] = "report"
    _formats: ClassVar[dict[str, str]] = _FORMATS

    def to_dict(self) -> dict[str, Any]:
        """``{"kind", "metrics", "summary", "rows"}``, with floats as they are (inf / nan kept)."""
        return {
            "kind": self.kind,
            "metrics": list(self.metrics),
            "summary": [dict(row) for row in self.summary],
            "rows": [dict(row) for row in self.rows],
        }

    def to_json(self, path: PathLike, overwrite: bool = False) -> Path:
        """Write :meth:`to_dict` as strict JSON (inf / nan as the strings "inf" / "nan", which
        ``float()`` reads back). Atomic; FileExistsError if ``path`` exists and not ``overwrite``.

        Outputs: the path written.
        """
        data = self.to_dict()
        for key in ("summary", "rows"):
            data[key] = [{k: _json_value(v) for k, v in row.items()} for row in data[key]]
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
        with io.atomic_path(path, overwrite=overwrite) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        return Path(path)

    def to_csv(
        self,
        path: PathLike,
        overwrite: bool = False,
        *,
        table: Literal["rows", "summary"] = "rows",
    ) -> Path:
        """Write the per-case ``rows`` (default) or the ``summary`` as CSV with a header line.
        Floats are written in full precision (inf as "inf"). Atomic; FileExistsError if ``path``
        exists and not ``overwrite``.

        Outputs: the path written.
        """
        if table not in ("rows", "summary"):
            raise ValueError(f"table must be 'rows' or 'summary', got {table!r}")
        records = self.rows if table == "rows" else self.summary
        columns = self._columns(table)
        with (
            io.atomic_path(path, overwrite=overwrite) as tmp,
            open(tmp, "w", newline="", encoding="utf-8") as handle,
        ):
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(records)
        return Path(path)

    def _columns(self, table: str) -> list[str]:
        if table == "rows":
            extra = [k for k in ("hole_ratio", "bucket") if self.rows and k in self.rows[0]]
            return ["name", *extra, *self.metrics]
        return ["bucket", "count", *self.metrics]

    def format_table(
        self, table: Literal["rows", "summary"] = "summary", title: str | None = None
    ) -> Table:
        """A :class:`rich.table.Table` of the ``summary`` (default) or the per-case ``rows``.

        Numbers: PSNR with 2 decimals, SSIM / LPIPS / L1 / IoU with 4, MSE with 5 (inpainting,
        [0, 1] scale) or 2 (matting, x 1e3), SAD / Grad / Conn with 2; inf and nan as such.
        """
        from rich.table import Table

        if table not in ("rows", "summary"):
            raise ValueError(f"table must be 'rows' or 'summary', got {table!r}")
        records = self.rows if table == "rows" else self.summary
        if title is None:
            title = f"{self.kind} evaluation ({len(self.rows)} cases)"
        columns = self._columns(table)
        cells = [[self._format(col, record.get(col)) for col in columns] for record in records]
        out = Table(title=title, pad_edge=False)
        for index, column in enumerate(columns):
            numeric = column not in ("name", "bucket")
            # values are never cut: on a narrow console the headers wrap instead
            widest = max((len(row[index]) for row in cells), default=1)
            out.add_column(
                _HEADERS.get(column, column),
                justify="right" if numeric else "left",
                min_width=widest,
            )
        for row in cells:
            out.add_row(*row)
        return out

    def _format(self, column: str, value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, int):
            return str(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, self._formats.get(column, ".4g"))


@dataclass
class InpaintingReport(Report):
    """Report of :func:`evaluate_inpainting`: rows have ``name``, ``hole_ratio``, ``bucket`` and
    the metrics; summary rows are per bucket, then ``"all"``."""

    metrics: tuple[str, ...] = field(default=INPAINTING_METRICS)
    kind: ClassVar[str] = "inpainting"


@dataclass
class MattingReport(Report):
    """Report of :func:`evaluate_matting`: rows have ``name`` and the metrics; one summary row
    ``"all"``."""

    metrics: tuple[str, ...] = field(default=MATTING_METRICS)
    kind: ClassVar[str] = "matting"
    _formats: ClassVar[dict[str, str]] = _MATTING_FORMATS


def _summary_row(label: str, rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> dict:
    return {
        "bucket": label,
        "count": len(rows),
        **{key: _mean([float(row[key]) for row in rows]) for key in metrics},
    }


# --------------------------------------------------------------------------- matching


def _match_cases(
    pred_dir: PathLike, others: Sequence[tuple[PathLike, str]]
) -> tuple[dict[str, Path], list[dict[str, Path]]]:
    """The predictions by stem, and for each other folder the file of every prediction's stem.

    Raises ValueError when a folder lacks some stems (listing up to five) or there are no
    predictions; warns when a ground-truth folder has cases without a prediction.
    """
    preds = io.images_by_stem(pred_dir, "prediction")
    if not preds:
        raise ValueError(f"no images ({', '.join(io.IMAGE_SUFFIXES)}) found in {pred_dir}")
    matched: list[dict[str, Path]] = []
    for folder, what in others:
        files = io.match_by_stem(preds, folder, what, cases="prediction(s)")
        unused = sorted(set(files) - set(preds))
        if unused and what == "ground truth":
            warnings.warn(
                f"{len(unused)} ground-truth image(s) in {folder} have no prediction and are not "
                f"evaluated: {io.short_listing(unused)}",
                stacklevel=3,
            )
        matched.append({stem: files[stem] for stem in preds})
    return preds, matched


# --------------------------------------------------------------------------- inpainting


def _bucket(ratio: float) -> str:
    index = hole_ratio_bucket(ratio)
    return OTHER_BUCKET if index is None else bucket_label(index)


def evaluate_inpainting(
    pred_dir: PathLike,
    gt_dir: PathLike,
    mask_dir: PathLike,
    *,
    lpips: LPIPS | None = None,
    progress: bool = True,
) -> InpaintingReport:
    """Evaluate inpainted images against the originals, per case and per hole-ratio bucket.

    Inputs:
        pred_dir: inpainted images (RGB); every file is a case.
        gt_dir: the original images, matched by stem, same sizes.
        mask_dir: the hole masks used (white = hole), matched by stem, same sizes.
        lpips: an LPIPS model (:class:`mattepaint.metrics.lpips.LPIPS`) to add the ``lpips``
            column; None leaves it out.
        progress: draw a progress bar on stderr.

    Outputs:
        an :class:`InpaintingReport`. Each row: ``name``, ``hole_ratio`` = mean of the binary
        mask, ``bucket`` (:data:`mattepaint.masks.HOLE_RATIO_BUCKETS` label, e.g. "0.1-0.2", a
        bucket being ``(lo, hi]``; :data:`OTHER_BUCKET` outside all), and the metrics of
        :func:`mattepaint.metrics.inpainting.inpainting_metrics` on [0, 1] images: ``mse``,
        ``l1`` (whole image), ``hole_l1`` (hole pixels only), ``psnr`` (dB, data range 1; inf for
        identical images), ``ssim`` (Wang et al. 2004, Gaussian 11x11), ``tv`` (total variation
        of the prediction), ``lpips``. Summary: per non-empty bucket in bucket order, then
        "other" if any, then "all": ``count`` and the mean of each metric (nan values skipped;
        an inf PSNR makes the mean inf).

    Raises:
        FileNotFoundError: a folder is missing. ValueError: no predictions, predictions without a
        ground truth or mask (listing up to five stems), sizes that differ.
    """
    from mattepaint.metrics.inpainting import inpainting_metrics

    preds, (gts, masks) = _match_cases(pred_dir, [(gt_dir, "ground truth"), (mask_dir, "mask")])
    metrics = INPAINTING_METRICS + (("lpips",) if lpips is not None else ())
    rows: list[dict[str, Any]] = []
    for stem in track(preds, "evaluating", total=len(preds), enabled=progress):
        gt = io.load_image(gts[stem])  # (H, W, 3)
        pred = io.load_image(preds[stem])
        io.check_same_size(gt, pred, names=("ground truth", "prediction"))
        mask = io.load_mask(masks[stem], like=gt)  # (H, W) bool
        ratio = float(mask.mean())
        values = inpainting_metrics(pred, gt, mask, lpips_model=lpips)
        rows.append(
            {
                "name": stem,
                "hole_ratio": ratio,
                "bucket": _bucket(ratio),
                **{key: float(values[key]) for key in metrics},
            }
        )

    order = [bucket_label(i) for i in range(len(HOLE_RATIO_BUCKETS))] + [OTHER_BUCKET]
    summary = []
    for label in order:
        members = [row for row in rows if row["bucket"] == label]
        if members:
            summary.append(_summary_row(label, members, metrics))
    summary.append(_summary_row(ALL, rows, metrics))
    return InpaintingReport(rows=rows, summary=summary, metrics=metrics)


# --------------------------------------------------------------------------- matting


def evaluate_matting(
    pred_dir: PathLike,
    gt_dir: PathLike,
    trimap_dir: PathLike | None = None,
    *,
    progress: bool = True,
) -> MattingReport:
    """Evaluate predicted alpha mattes against the ground truth.

    Inputs:
        pred_dir: predicted mattes (gray, 8 or 16 bit); every file is a case.
        gt_dir: true mattes, matched by stem, same sizes.
        trimap_dir: trimaps (0 / 128 / 255) matched by stem: SAD, MSE, Grad and Conn are then
            summed over the unknown region (value 128), as in the Deep Image Matting evaluation
            code; None evaluates the whole image (for trimap-free methods).
        progress: draw a progress bar on stderr.

    Outputs:
        a :class:`MattingReport`. Rows: ``name``, ``sad`` (sum |pred - gt| / 1000), ``mse``
        (mean squared error x 1e3), ``grad`` (Gaussian-gradient error / 1000, sigma 1.4),
        ``conn`` (connectivity error / 1000, step 0.1), ``iou`` (binarised at 0.5, whole image);
        see :func:`mattepaint.metrics.matting.matting_metrics`. Summary: one row "all" with
        ``count`` and the means.

    Raises:
        FileNotFoundError: a folder is missing. ValueError: no predictions, predictions without a
        ground truth or trimap (listing up to five stems), sizes that differ, a trimap without an
        unknown region.
    """
    from mattepaint.metrics.matting import matting_metrics

    others: list[tuple[PathLike, str]] = [(gt_dir, "ground truth")]
    if trimap_dir is not None:
        others.append((trimap_dir, "trimap"))
    preds, matched = _match_cases(pred_dir, others)
    gts = matched[0]
    trimaps = matched[1] if trimap_dir is not None else None
    rows: list[dict[str, Any]] = []
    for stem in track(preds, "evaluating", total=len(preds), enabled=progress):
        gt = io.load_alpha(gts[stem])  # (H, W)
        pred = io.load_alpha(preds[stem], like=gt)
        trimap = None if trimaps is None else io.load_trimap(trimaps[stem], like=gt)
        try:
            values = matting_metrics(pred, gt, trimap)
        except ValueError as exc:
            raise ValueError(f"cannot evaluate {preds[stem].name}: {exc}") from None
        rows.append({"name": stem, **{key: float(values[key]) for key in MATTING_METRICS}})
    summary = [_summary_row(ALL, rows, MATTING_METRICS)]
    return MattingReport(rows=rows, summary=summary, metrics=MATTING_METRICS)
