"""Training logs and pictures: metrics.csv + metrics.jsonl + TensorBoard, sample grids, curves,
and a progress bar.

- :class:`MetricLogger`: every call ``log(step, {"train/l1": 0.12, ...})`` appends one row to
  ``<run>/metrics.jsonl`` (one JSON object a line) and ``<run>/metrics.csv`` (one column per
  name ever logged, ``step`` first; when a new name appears the CSV is rewritten with the wider
  header), and writes the scalars to TensorBoard under ``<run>/tb``. Resuming at step s drops
  the rows logged after s by the interrupted run (and purges TensorBoard events after s), so the
  files describe one continuous run.
- :func:`make_grid` / :func:`save_grid`: image rows laid side by side into one PNG.
- :func:`plot_curves`: one panel per logged name against the step, saved as ``curves.png``
  (matplotlib's Agg canvas, imported lazily; pyplot is never touched).
- :class:`TrainProgress`: a rich progress bar with ETA, loss and images/s (only on a terminal).

Only rank 0 writes: build these with ``enabled=False`` on other ranks.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mattepaint.io import atomic_path, save_image

__all__ = ["MetricLogger", "TrainProgress", "make_grid", "plot_curves", "read_metrics", "save_grid"]


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` file (missing file: empty list; a torn last line, left
    by a killed process, is ignored)."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _json_value(value: float) -> float | str:
    # JSON has no nan/inf: keep them readable for humans and for read_metrics (float("nan")).
    return value if math.isfinite(value) else str(value)


class MetricLogger:
    """Scalars to CSV, JSONL and TensorBoard (see the module docstring).

    Inputs:
        run_dir: the run folder.
        tensorboard: also write TensorBoard events to ``run_dir/tb``.
        enabled: False writes nothing (ranks other than 0).
        resume_step: when resuming, the checkpoint's step: rows with a larger step are dropped.
    """

    def __init__(
        self,
        run_dir: str | Path,
        *,
        tensorboard: bool = True,
        enabled: bool = True,
        resume_step: int | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.csv_path = self.run_dir / "metrics.csv"
        self.jsonl_path = self.run_dir / "metrics.jsonl"
        self.rows: list[dict[str, Any]] = []
        self.columns: list[str] = ["step"]
        self.writer = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            self.rows = [
                r for r in read_metrics(self.jsonl_path) if r.get("step", 0) <= resume_step
            ]
            for row in self.rows:
                self.columns += [k for k in row if k not in self.columns]
        self._rewrite()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = None if resume_step is None else resume_step + 1
            self.writer = SummaryWriter(log_dir=str(self.run_dir / "tb"), purge_step=purge)

    def _rewrite(self) -> None:
        """Write both files from ``self.rows`` (atomically)."""
        with atomic_path(self.jsonl_path, overwrite=True) as tmp:
            tmp.write_text("".join(json.dumps(r) + "\n" for r in self.rows), encoding="utf-8")
        buffer = _io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        with atomic_path(self.csv_path, overwrite=True) as tmp:
            tmp.write_text(buffer.getvalue(), encoding="utf-8")

    def log(self, step: int, values: dict[str, float]) -> None:
        """Record ``values`` (name -> number) at ``step``: one row in each file, one scalar per
        name in TensorBoard."""
        if not self.enabled:
            return
        row: dict[str, Any] = {"step": int(step)}
        row.update({k: _json_value(float(v)) for k, v in values.items()})
        self.rows.append(row)
        new = [k for k in row if k not in self.columns]
        if new:
            self.columns += new
            self._rewrite()
        else:
            with self.jsonl_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            with self.csv_path.open("a", encoding="utf-8", newline="") as f:
                csv.DictWriter(f, fieldnames=self.columns, lineterminator="\n").writerow(row)
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(key, float(value), int(step))
            self.writer.flush()

    def add_image(self, tag: str, image: Tensor, step: int) -> None:
        """Write a (3, H, W) image in [0, 1] to TensorBoard (no-op without TensorBoard)."""
        if self.enabled and self.writer is not None:
            self.writer.add_image(tag, image.clamp(0, 1), int(step))
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def make_grid(rows: Sequence[Sequence[Tensor]], pad: int = 2, fill: float = 1.0) -> Tensor:
    """Lay images out in a grid: ``rows[i][j]`` at row i, column j, ``pad`` pixels apart.

    Inputs: rows of (C, H, W) tensors in [0, 1], C in {1, 3} (1 is repeated to RGB), all the same
        H, W; every row the same length. Outputs: (3, R*H + (R+1)*pad, K*W + (K+1)*pad) float32
        on the CPU, background ``fill``.
    """
    if not rows or not rows[0]:
        raise ValueError("make_grid needs at least one row with one image")
    n_cols = len(rows[0])
    height, width = rows[0][0].shape[-2:]
    grid = torch.full(
        (3, len(rows) * (height + pad) + pad, n_cols * (width + pad) + pad), fill
    )
    for i, row in enumerate(rows):
        if len(row) != n_cols:
            raise ValueError(f"row {i} has {len(row)} images, row 0 has {n_cols}")
        for j, image in enumerate(row):
            image = image.detach().float().cpu().clamp(0, 1)
            shape_ok = image.ndim == 3 and image.shape[0] in (1, 3)
            if not shape_ok or image.shape[1:] != (height, width):
                raise ValueError(f"image ({i}, {j}) must be (1 or 3, {height}, {width}), "
                                 f"got {tuple(image.shape)}")
            top, left = pad + i * (height + pad), pad + j * (width + pad)
            grid[:, top : top + height, left : left + width] = image.expand(3, -1, -1)
    return grid


def save_grid(path: str | Path, grid: Tensor) -> Path:
    """Save a (3, H, W) grid in [0, 1] as a PNG (atomically, replacing an existing file)."""
    return save_image(path, grid.clamp(0, 1), overwrite=True)


def plot_curves(
    rows: Sequence[dict[str, Any]], path: str | Path, *, max_panels: int = 24
) -> Path | None:
    """Plot every logged name against the step, one panel each, and save a PNG.

    Inputs: rows as written by :class:`MetricLogger` (dicts with "step"); ``path`` the PNG.
    Outputs: the path, or None when there is nothing to plot. Non-finite values are skipped;
    a name whose values are all positive and span more than two decades gets a log y axis.
    """
    series: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        for key, value in row.items():
            if key in ("step", "epoch"):
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                xs, ys = series.setdefault(key, ([], []))
                xs.append(float(row["step"]))
                ys.append(value)
    names = list(series)[:max_panels]
    if not names:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n_cols = min(4, len(names))
    n_rows = math.ceil(len(names) / n_cols)
    figure = Figure(figsize=(3.6 * n_cols, 2.6 * n_rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    for k, name in enumerate(names):
        axes = figure.add_subplot(n_rows, n_cols, k + 1)
        xs, ys = series[name]
        axes.plot(xs, ys, marker="o" if len(xs) < 20 else None, markersize=3, linewidth=1.2)
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if min(ys) > 0 and max(ys) / min(ys) > 100:
            axes.set_yscale("log")
        else:
            axes.ticklabel_format(axis="y", useOffset=False)  # no "+1.86e1" offset labels
    path = Path(path)
    with atomic_path(path, overwrite=True) as tmp:
        figure.savefig(tmp, format="png")
    return path


class TrainProgress:
    """A rich progress bar over training steps: ETA, the last loss and images/s.

    Drawn on stderr only when ``enabled`` and stderr is a terminal; otherwise every method is a
    no-op (``print`` falls back to stderr).
    """

    def __init__(self, total: int, start: int = 0, *, enabled: bool = True) -> None:
        self.progress = None
        if not (enabled and sys.stderr.isatty()):
            return
        from rich.console import Console
        from rich.progress import Progress, TextColumn

        from mattepaint._progress import bar_columns

        self.progress = Progress(
            *bar_columns(),
            TextColumn("loss {task.fields[loss]:.4g}  {task.fields[ips]:.1f} img/s"),
            console=Console(stderr=True),
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "training", total=total, completed=start, loss=math.nan, ips=0.0
        )

    def update(
        self, step: int, *, loss: float | None = None, images_per_s: float | None = None
    ) -> None:
        """Move the bar to ``step``; ``loss`` / ``images_per_s`` replace the shown values."""
        if self.progress is None:
            return
        fields = {}
        if loss is not None:
            fields["loss"] = loss
        if images_per_s is not None:
            fields["ips"] = images_per_s
        self.progress.update(self.task, completed=step, **fields)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
