"""Smoke test of benchmarks/trimap_composites_eval.py on a tiny alphamatting-shaped folder
(the real run lives in the benchmark)."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from mattepaint import io
from mattepaint.samples import make_matting_sample

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _main(name: str):
    if str(BENCHMARKS) not in sys.path:  # the scripts import their siblings, as when run
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_trimap_composites_eval_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data" / "alphamatting" / "Training"
    for k in (1, 2):
        sample = make_matting_sample((40, 48), seed=k)
        io.save_image(root / "Images" / f"GT0{k}.png", sample.image)
        io.save_image(root / "GroundTruth" / f"GT0{k}.png", sample.alpha)
        io.save_trimap(root / "Trimap1" / f"GT0{k}.png", sample.trimap)
        io.save_image(tmp_path / "data" / "images" / "bsds500" / "test" / f"b{k}.jpg",
                      sample.background)  # fmt: skip
    out = tmp_path / "out"
    _main("trimap_composites_eval")(["--data", str(tmp_path / "data"), "--method", "closed_form",
                                     "sm", "--threads", "1", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert "| closed_form |" in printed and "| sm |" in printed
    with open(out / "per_image.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["image"], r["method"]) for r in rows] == [
        ("GT01", "closed_form"), ("GT01", "sm"), ("GT02", "closed_form"), ("GT02", "sm")
    ]
    assert all(0 <= float(r["sad"]) < 1 for r in rows)
    with pytest.raises(SystemExit, match="NAME=FILE"):
        _main("trimap_composites_eval")(["--data", str(tmp_path / "data"), "--checkpoint", "x",
                                         "--method", "sm", "--out", str(out)])  # fmt: skip
    with pytest.raises(SystemExit, match="not found"):
        _main("trimap_composites_eval")(["--data", str(tmp_path / "none"), "--out", str(out)])
