"""The training side of the command line: ``mattepaint train`` (config, --set, --resume, errors)
and trained checkpoints used by ``inpaint --checkpoint`` and ``evaluate inpainting --checkpoint``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from mattepaint import io
from mattepaint.cli import main


def _images(folder: Path, n: int = 12, size: int = 40) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        blocks = rng.random((size // 8, size // 8, 3))
        image = np.kron(blocks, np.ones((8, 8, 1))) * 0.7 + 0.3 * rng.random((size, size, 3))
        io.save_image(folder / f"img_{i:02d}.png", image.astype(np.float32))
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny run trained through the CLI: 6 steps, then resumed to 8."""
    root = tmp_path_factory.mktemp("cli_train")
    images = _images(root / "images")
    config = {
        "description": "tiny CLI test run",
        "model": {"name": "unet_inpaint", "params": {"base": 4, "depth": 2, "norm": "none"}},
        "data": {"train_dirs": [str(images)], "image_size": 32, "batch_size": 2,
                 "val_fraction": 0.25, "max_val_images": 2, "mask": "rectangles",
                 "mask_params": {"min_size": 4}},
        "loss": {"weights": {"l1": 1.0}},
        "run": {"out_dir": str(root / "run"), "epochs": 0, "max_steps": 100, "log_every": 2,
                "val_every": 0, "ckpt_every": 3, "tensorboard": False},
    }
    path = root / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["train", str(path), "--set", "run.max_steps=6", "--set", "optim.lr=2e-3",
                 "--no-progress"]) == 0
    first = json.loads(json.dumps(yaml.safe_load((root / "run" / "config.yaml").read_text())))
    assert main(["train", "--resume", str(root / "run"), "--max-steps", "8",
                 "--no-progress"]) == 0
    return {"root": root, "images": images, "config": path, "run": root / "run",
            "first_config": first}


def test_train_writes_a_run_and_resumes(trained: dict[str, Path]) -> None:
    run = trained["run"]
    assert trained["first_config"]["optim"]["lr"] == pytest.approx(2e-3)  # --set applied
    rows = (run / "metrics.csv").read_text().splitlines()
    steps = [int(line.split(",")[0]) for line in rows[1:]]
    assert max(steps) == 8  # resumed past the first stop at 6
    assert (run / "checkpoints" / "last.pt").is_file()
    assert (run / "curves.png").is_file()


def test_inpaint_with_checkpoint(trained: dict[str, Path], tmp_path: Path) -> None:
    image_path = trained["images"] / "img_00.png"
    mask = np.zeros((40, 40), dtype=bool)
    mask[10:25, 12:30] = True
    io.save_mask(tmp_path / "mask.png", mask)
    out = tmp_path / "filled.png"
    checkpoint = trained["run"] / "checkpoints" / "last.pt"
    assert main(["inpaint", str(image_path), "--mask", str(tmp_path / "mask.png"), "-o", str(out),
                 "--checkpoint", str(checkpoint)]) == 0
    before, after = io.load_image(image_path), io.load_image(out)
    assert np.array_equal(before[~mask], after[~mask])  # outside the hole: unchanged
    assert not np.array_equal(before[mask], after[mask])  # inside: the model's prediction


def test_evaluate_with_checkpoint_and_method(
    trained: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masks = tmp_path / "masks"
    for path in io.list_images(trained["images"])[:4]:
        mask = np.zeros((40, 40), dtype=bool)
        mask[8:20, 8:30] = True
        io.save_mask(masks / f"{path.stem}.png", mask)
    gt = tmp_path / "gt"
    gt.mkdir()
    for path in io.list_images(trained["images"])[:4]:
        (gt / path.name).write_bytes(path.read_bytes())
    checkpoint = trained["run"] / "checkpoints" / "last.pt"
    report = tmp_path / "model.json"
    assert main(["evaluate", "inpainting", "--gt-dir", str(gt), "--mask-dir", str(masks),
                 "--checkpoint", str(checkpoint), "--json", str(report), "--no-progress"]) == 0
    data = json.loads(report.read_text())
    assert data["summary"][-1]["count"] == 4
    assert main(["evaluate", "inpainting", "--gt-dir", str(gt), "--mask-dir", str(masks),
                 "--method", "telea", "--pred-dir", str(tmp_path / "telea"),
                 "--no-progress"]) == 0
    assert len(io.list_images(tmp_path / "telea")) == 4
    assert "all" in capsys.readouterr().out


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


def test_config_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr: 1.0e-3, lrr: 2}\n")
    assert main(["train", str(bad)]) == 1
    assert "optim.lrr: unknown key" in _one_error_line(capsys)

    bad.write_text("run: {max_steps: many}\n")
    assert main(["train", str(bad)]) == 1
    assert "run.max_steps: expected int, got str 'many'" in _one_error_line(capsys)

    assert main(["train", str(tmp_path / "missing.yaml")]) == 1
    assert "config file not found" in _one_error_line(capsys)

    good = tmp_path / "good.yaml"
    good.write_text("run: {max_steps: 1}\n")
    assert main(["train", str(good), "--set", "optim.lr"]) == 1
    assert "expected KEY.PATH=VALUE" in _one_error_line(capsys)


def test_train_usage_errors(trained: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train"]) == 2
    assert "give a CONFIG" in _one_error_line(capsys)
    assert main(["train", str(trained["config"]), "--resume", str(trained["run"])]) == 2
    assert "do not give a CONFIG" in _one_error_line(capsys)
    # a second run into a folder that already holds one is refused, nothing overwritten
    assert main(["train", str(trained["config"]), "--no-progress"]) == 1
    assert "already holds a training run" in _one_error_line(capsys)


def test_checkpoint_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "a.png"
    io.save_image(image, np.zeros((16, 16, 3), np.float32))
    io.save_mask(tmp_path / "m.png", np.ones((16, 16), bool))
    not_a_checkpoint = tmp_path / "x.pt"
    not_a_checkpoint.write_text("hello")
    args = ["inpaint", str(image), "--mask", str(tmp_path / "m.png"), "-o", str(tmp_path / "o.png")]
    assert main(args + ["--checkpoint", str(not_a_checkpoint)]) == 1
    assert "not a mattepaint checkpoint" in _one_error_line(capsys)
    assert main(args + ["--checkpoint", str(tmp_path / "none.pt")]) == 1
    assert "checkpoint not found" in _one_error_line(capsys)
    assert main(args + ["--checkpoint", str(not_a_checkpoint), "--method", "ns"]) == 2
    assert "not both" in _one_error_line(capsys)
    assert not (tmp_path / "o.png").exists()
