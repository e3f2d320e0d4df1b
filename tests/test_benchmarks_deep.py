"""Smoke tests of benchmarks/deep_inpainting.py, cifar_pconv.py and onnx_speed.py on tiny
synthetic data with an untrained tiny checkpoint (the real runs live in the benchmarks)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from mattepaint import io
from mattepaint.models.loading import CHECKPOINT_FORMAT
from mattepaint.models.registry import build_model
from mattepaint.train.config import Config, config_to_dict

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _module(name: str) -> ModuleType:
    """Import benchmarks/<name>.py by path (benchmarks/ is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fake_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder shaped like ../shared/data, with a few tiny images and masks."""
    root = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for folder, n in (("images/kodak24", 2), ("images/bsds500/test", 2)):
        for i in range(n):
            io.save_image(root / folder / f"{i:02d}.png", rng.random((40, 48, 3)))
    # one mask per NVIDIA bucket (file number // 2000), hole ratio about 0.05 + 0.1 * bucket
    for bucket in range(6):
        mask = rng.random((64, 64)) < 0.05 + 0.1 * bucket
        io.save_mask(root / "masks/nvidia_irregular_test" / f"{2000 * bucket:05d}.png", mask)
    for label in ("cat", "dog"):
        for i in range(5):
            image = np.clip(rng.random((32, 32, 3)) * 0.5 + 0.25, 0, 1)
            io.save_image(root / "images/cifar10_test" / label / f"{i:04d}.jpg", image)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny unet_inpaint checkpoint whose config is the CIFAR benchmark's."""
    params = {"base": 4, "depth": 2}
    torch.manual_seed(0)
    model = build_model("unet_inpaint", **params)
    cfg = Config()
    cfg.model.name, cfg.model.params = "unet_inpaint", params
    cfg.data.train_dirs = ["${MATTEPAINT_DATA}/images/cifar10_test"]
    cfg.data.val_fraction = 0.3
    cfg.data.image_size = 32
    cfg.data.mask, cfg.data.mask_params = "random_square", {"size": 16}
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": "unet_inpaint", "params": params},
        "task": "inpainting",
        "config": config_to_dict(cfg),
        "model_state": model.state_dict(),
        "step": 3,
    }
    path = tmp_path_factory.mktemp("run") / "checkpoints" / "best.pt"
    path.parent.mkdir()
    torch.save(ckpt, path)
    return path


def test_deep_inpainting_smoke(fake_data: Path, checkpoint: Path, tmp_path: Path) -> None:
    deep = _module("deep_inpainting")
    out = tmp_path / "bench"
    argv = [
        "--data", str(fake_data), "--cases", "6", "--size", "32", "--out", str(out),
        "--method", "telea", "--method", "ns", "--checkpoint", f"tiny={checkpoint}",
        "--lpips", "none", "--grid", "2", "--grid-cell", "32", "--no-progress",
    ]  # fmt: skip
    assert deep.main(argv) == 0

    for name in ("telea", "ns", "tiny"):
        assert len(io.list_images(out / name)) == 6
        assert (out / f"{name}_eval.json").is_file() and (out / f"{name}_summary.csv").is_file()
    tables = (out / "tables.md").read_text(encoding="utf-8")
    for title in ("PSNR (dB) per", "SSIM per", "hole L1", "Table II", "Beats telea?"):
        assert title in tables
    assert "LPIPS per" not in tables  # --lpips none
    # rows: PSNR, SSIM, hole L1, Table II, beats telea (not telea itself), wall time
    assert tables.count("| tiny |") == 6
    assert tables.count("| telea |") == 5
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["methods"]["tiny"]["model"] == "unet_inpaint"
    assert set(run["timings"]) == {"telea", "ns", "tiny"} and "load_s" in run["timings"]["tiny"]
    assert set(run["table2"]["tiny"]) == {"MSE", "L1", "PSNR", "TV"}
    # Table II is on the 0-255 scale: MSE = 255^2 x the [0, 1] MSE of the evaluation
    all_row = next(r for r in run["summary"]["tiny"] if r["bucket"] == "all")
    assert run["table2"]["tiny"]["MSE"] == pytest.approx(255**2 * all_row["mse"])
    assert set(run["beats_telea"]) == {"ns", "tiny"}
    assert set(run["beats_telea"]["tiny"]["all"]) == {"psnr", "ssim"}
    assert (out / "grid.png").is_file()

    # same cases as the classical benchmark (same builder and seed)
    classical = _module("classical_inpainting")
    plan = classical.plan_cases(fake_data, 6, 0)
    manifest = (out / "cases" / "manifest.csv").read_text()
    assert all(str(row["mask"]) in manifest for row in plan)


def test_deep_inpainting_square_masks(
    fake_data: Path, checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = _module("deep_inpainting")
    out = tmp_path / "bench"
    argv = [
        "--data", str(fake_data), "--cases", "5", "--size", "32", "--out", str(out),
        "--masks", "square", "--square-size", "16", "--method", "telea", "--method", "ns",
        "--checkpoint", f"tiny={checkpoint}", "--lpips", "none", "--grid", "2",
        "--grid-cell", "32", "--no-progress",
    ]  # fmt: skip
    assert deep.main(argv) == 0

    # every mask is one axis-aligned rectangle of side 16 +- 16 // 8 (random_square's jitter),
    # the one drawn from default_rng([seed, case index]) and described in the manifest
    manifest = list(csv.DictReader((out / "cases" / "manifest.csv").open()))
    assert len(manifest) == 5 and {row["mask"] for row in manifest} == {"square"}
    masks = sorted((out / "cases" / "masks").glob("case_*.png"))
    assert len(masks) == 5
    for index, (path, row) in enumerate(zip(masks, manifest, strict=True)):
        mask = io.load_mask(path)
        assert mask.shape == (32, 32)
        ys, xs = np.nonzero(mask)
        top, left = ys.min(), xs.min()
        height, width = ys.max() - top + 1, xs.max() - left + 1
        assert mask.sum() == height * width  # a filled rectangle
        assert 14 <= height <= 18 and 14 <= width <= 18
        assert (int(row["top"]), int(row["left"]), int(row["height"]), int(row["width"])) == (
            top, left, height, width,
        )  # fmt: skip
        np.testing.assert_array_equal(mask, deep.square_mask(32, 16, 0, index))
    # the same image per case index as the NVIDIA cases
    classical = _module("classical_inpainting")
    plan = classical.plan_cases(fake_data, 5, 0)
    assert [row["image"] for row in manifest] == [row["image"] for row in plan]

    tables = (out / "tables.md").read_text(encoding="utf-8")
    assert "one square hole per case" in tables and "NVIDIA" not in tables
    assert "--masks square" in tables  # the command
    for title in ("PSNR (dB) over all cases", "SSIM over all", "Table II", "Beats telea?"):
        assert title in tables
    assert "per hole-ratio bucket" not in tables and "0.1-0.2" not in tables
    assert "| method | all |" in tables
    # rows: PSNR, SSIM, hole L1, Table II, beats telea (not telea itself), wall time
    for name in ("ns", "tiny"):
        assert tables.count(f"| {name} |") == 6
    assert tables.count("| telea |") == 5
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["args"]["masks"] == "square" and run["args"]["square_size"] == 16
    assert set(run["beats_telea"]["tiny"]) == {"all"}
    assert (out / "grid.png").is_file()

    # NVIDIA cases in the same folder need --overwrite; --square-size needs --masks square
    nvidia = [*argv[:8], *argv[12:]]  # without --masks square --square-size 16
    with pytest.raises(SystemExit):
        deep.main(nvidia)
    assert "built with other settings" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        deep.main([*nvidia, "--square-size", "16"])
    assert "--square-size needs --masks square" in capsys.readouterr().err


def test_deep_inpainting_missing_checkpoint(
    fake_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = _module("deep_inpainting")
    argv = [
        "--data",
        str(fake_data),
        "--out",
        str(tmp_path),
        "--checkpoint",
        "x=nope.pt",
    ]
    with pytest.raises(SystemExit) as exc:
        deep.main(argv)
    assert exc.value.code == 1
    assert capsys.readouterr().err.strip() == "error: checkpoint not found: nope.pt"
    with pytest.raises(SystemExit) as exc:
        deep.main(["--data", str(tmp_path / "missing")])
    assert exc.value.code == 1
    assert "data folder not found" in capsys.readouterr().err


def test_cifar_pconv_smoke(fake_data: Path, checkpoint: Path, tmp_path: Path) -> None:
    cifar = _module("cifar_pconv")
    out = tmp_path / "cifar"
    argv = [
        "--data", str(fake_data), "--checkpoint", str(checkpoint), "--eval-count", "3",
        "--val-fraction", "0.3", "--out", str(out), "--grid", "2", "--no-progress",
    ]  # fmt: skip
    assert cifar.main(argv) == 0

    table = (out / "table.md").read_text(encoding="utf-8")
    name = checkpoint.parent.parent.name  # runs/<name>/checkpoints/best.pt
    for method in ("mean_fill", "telea", name):
        assert f"| {method} |" in table
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["split"]["images"] == 10 and results["split"]["held_out"] == 3
    assert results["notes"] == []  # the checkpoint's config matches the split and masks
    for method in ("mean_fill", "telea", name):
        means = results["means"][method]
        assert set(means) == {"mse", "hole_mse", "psnr", "dice", "hole_dice"}
        assert 0 <= means["mse"] <= means["hole_mse"] <= 1
    assert len((out / "per_image.csv").read_text().splitlines()) == 1 + 3 * 3
    assert (out / "grid.png").is_file()


def test_mean_fill() -> None:
    cifar = _module("cifar_pconv")
    image = torch.zeros(1, 3, 4, 4)
    image[:, 0, :, :2] = 1.0  # red left half
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 0, 0] = 1.0  # one hole pixel (on the red side)
    out = cifar.mean_fill(image, mask)
    # known pixels: 7 red of 15 -> red mean 7/15, green and blue 0
    torch.testing.assert_close(out[0, :, 0, 0], torch.tensor([7 / 15, 0.0, 0.0]))
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])


def test_onnx_speed_smoke(checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/onnx_speed.py at one tiny size: a row per model, equal results."""
    onnx_speed = _module("onnx_speed")
    rows = onnx_speed.run(checkpoint, sizes=[32], repeats=1, threads=1)
    assert [r["model"] for r in rows] == [*onnx_speed.CLASSICAL, "best",
                                          *onnx_speed.FRESH_INPAINTING, *onnx_speed.MATTING]
    assert rows[0]["onnx_ms"] is None and rows[0]["torch_ms"] > 0  # telea, the yardstick
    models = rows[len(onnx_speed.CLASSICAL):]
    assert all(r["max_diff"] < 1e-4 and r["torch_ms"] > 0 and r["onnx_ms"] > 0 for r in models)
    assert onnx_speed.main(["--checkpoint", str(checkpoint), "--sizes", "32", "--repeats", "1",
                            "--threads", "1"]) == 0
    assert "onnxruntime ms" in capsys.readouterr().out
    assert onnx_speed.main(["--checkpoint", str(checkpoint.with_name("none.pt"))]) == 2


def test_texture_period_finds_a_grid_the_model_adds() -> None:
    """A "model" that adds a 4-px grid in the hole stands out at 4 px, not at the others."""
    texture = _module("texture_period")
    yy, xx = np.mgrid[:64, :64]
    grid = torch.from_numpy(0.05 * ((yy % 4 == 0) | (xx % 4 == 0))).float()  # (64, 64)

    def reference(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return image + mask * 0.5  # a flat fill

    def gridded(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return reference(image, mask) + mask * grid

    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.float32)
    mask[8:56, 8:56] = 1
    cases = [(rng.random((64, 64, 3), dtype=np.float32), mask) for _ in range(2)]
    table = texture.period_table(texture.mean_spectrum(gridded, reference, cases))
    assert min(table[4][:2]) > 100 * max(max(table[p]) for p in (3, 5, 6))
    flat = texture.period_table(texture.mean_spectrum(reference, reference, cases))
    assert all(v == 0 for p in flat for v in flat[p])  # no difference at all


def test_texture_period_takes_a_shipped_name_a_method_or_auto() -> None:
    texture = _module("texture_period")
    assert texture._method("unet_refine_small").name.endswith("unet_refine_small.safetensors")
    assert texture._method("telea").name == "telea"
    assert texture._method("auto").name.startswith("checkpoint:")
