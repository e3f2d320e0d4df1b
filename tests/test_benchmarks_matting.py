"""Smoke test of benchmarks/trimap_composites_eval.py on a tiny alphamatting-shaped folder
(the real run lives in the benchmark), and matting_eval's working-size option."""

from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import pytest

from mattepaint import io
from mattepaint.samples import make_matting_sample

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str):
    if str(BENCHMARKS) not in sys.path:  # the scripts import their siblings, as when run
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _main(name: str):
    return _module(name).main


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


def test_matting_eval_scene_size_runs_the_model_at_that_longer_side() -> None:
    import torch
    from torch import nn

    class _Model(nn.Module):  # alpha = mean colour; records the size it ran at
        needs = "nothing"
        size_multiple = 8

        def __init__(self) -> None:
            super().__init__()
            self.seen: list[tuple[int, int]] = []

        def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
            self.seen.append(tuple(image.shape[-2:]))
            return {"alpha": image.mean(1, keepdim=True)}

    class _Matter:
        needs = "nothing"

        def __init__(self) -> None:
            self.model = _Model()

        def __call__(self, image: torch.Tensor):
            return type("R", (), {"alpha": self.model(image)["alpha"]})

    bench = _module("matting_eval")
    image = torch.rand(1, 3, 60, 100)
    native = bench.Method("m", "m", _Matter(), "test")
    alpha, _ = bench.run_matter(native, image)
    assert alpha.shape == (60, 100) and native.matter.model.seen[-1] == (60, 100)
    small = bench.Method("m", "m", _Matter(), "test", size=48)
    alpha, _ = bench.run_matter(small, image)
    assert alpha.shape == (60, 100)  # brought back to the input's size
    assert small.matter.model.seen[-1] == (32, 48)  # longer side 48, multiples of 8


def test_cutout_eval_scores_the_part_b_composites(tmp_path: Path) -> None:
    """``--scenes composites`` cuts out matting_eval's part (b) composites (the photos'
    foregrounds on the test backgrounds), not the photos themselves."""
    import json

    import numpy as np

    data = tmp_path / "data"
    root = data / "alphamatting" / "Training"
    sample = make_matting_sample((48, 64), seed=3)
    io.save_image(root / "Images" / "GT01.png", sample.image)
    io.save_image(root / "GroundTruth" / "GT01.png", sample.alpha)
    io.save_trimap(root / "Trimap1" / "GT01.png", sample.trimap)
    backgrounds = data / "images" / "bsds500" / "test"
    io.save_image(backgrounds / "b1.jpg", np.full((60, 80, 3), 0.2, np.float32))
    out = tmp_path / "out"
    shipped = "shipped=late_fusion_effnet_cutout"
    _main("cutout_eval")(["--data", str(data), "--scenes", "composites", "--segmenter", shipped,
                          "--refine", "--threads", "1", "--out", str(out)])  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["per_image"]
    assert [(r["image"], r["method"]) for r in rows] == [("GT01", "shipped")]
    assert summary["arguments"]["scenes"] == "composites"
    assert (out / "fg_cache" / "GT01_fg_64x48.png").is_file()  # part (b)'s foreground cache
