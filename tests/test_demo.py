"""``mattepaint.demo.run_demo`` and ``mattepaint demo``: files, picture, sensible scores, refusal
to overwrite. The demo runs once per module at 96 x 96 (about a second once pymatting's numba
cache is warm)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mattepaint import io
from mattepaint.cli import main
from mattepaint.demo import DEMO_FILES, before_after_grid, run_demo
from mattepaint.metrics.inpainting import hole_mse
from mattepaint.metrics.matting import sad

SIZE = 96


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    out = tmp_path_factory.mktemp("demo") / "results"
    return out, run_demo(out, size=SIZE, seed=0)


def test_every_file_is_written(demo) -> None:
    out, files = demo
    assert set(files) == set(DEMO_FILES)
    for key, path in files.items():
        assert path == out / DEMO_FILES[key] and path.is_file(), key
    # nothing else: no temporary files left behind
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == set(DEMO_FILES.values())


def test_before_after_picture(demo) -> None:
    _, files = demo
    grid = io.load_image(files["before_after"])
    label = max(14, SIZE // 11)
    gap = 4
    # 3 rows x 4 columns of (label strip + SIZE x SIZE tile), gaps around every tile
    assert grid.shape == (3 * (label + SIZE + gap) + gap, 4 * (SIZE + gap) + gap, 3)
    # the alpha tile (row 0, column 2) is the closed_form alpha written to disk
    y0, x0 = gap + label, gap + 2 * (SIZE + gap)
    alpha = io.load_alpha(files["matting/closed_form_alpha"])
    np.testing.assert_allclose(grid[y0 : y0 + SIZE, x0 : x0 + SIZE, 0], alpha, atol=1 / 255 + 1e-6)
    # the labels are drawn: the strips hold white text pixels
    strip = grid[gap : gap + label, gap : gap + SIZE]
    assert strip.max() > 0.9


def test_outputs_have_the_right_shapes(demo) -> None:
    _, files = demo
    for method in ("closed_form", "background_difference"):
        assert io.load_alpha(files[f"matting/{method}_alpha"]).shape == (SIZE, SIZE)
        assert io.load_image(files[f"matting/{method}_fg"]).shape == (SIZE, SIZE, 3)
        rgb, alpha = io.load_rgba(files[f"matting/{method}_cutout"])
        assert rgb.shape == (SIZE, SIZE, 3) and alpha is not None and alpha.shape == (SIZE, SIZE)
    for method in ("auto", "telea", "ns"):
        assert io.load_image(files[f"inpainting/{method}"]).shape == (SIZE, SIZE, 3)
    rgb, alpha = io.load_rgba(files["cutout/rgba"])
    assert rgb.shape == (SIZE, SIZE, 3) and alpha is not None and alpha.shape == (SIZE, SIZE)
    assert set(np.unique(io.load_trimap(files["cutout/trimap"]))) <= {0.0, 0.5, 1.0}


def test_cutout_scores_are_sensible(demo) -> None:
    _, files = demo
    scores = json.loads(files["metrics"].read_text())["cutout"]
    assert scores["segmenter"] == "late_fusion_effnet_cutout"
    truth = io.load_alpha(files["matting/alpha_true"])
    _, alpha = io.load_rgba(files["cutout/rgba"])
    assert abs(sad(alpha, truth, region="all") - scores["sad_all"]) < SIZE * SIZE * 0.5 / 255 / 1000
    # the cut-out finds the furry subject of the matting sample, without any trimap
    assert scores["iou"] > 0.8, scores


def test_cutout_of_your_own_photo(tmp_path: Path) -> None:
    photo = io.save_image(tmp_path / "photo.png", io.load_image(
        run_demo(tmp_path / "first", size=64, seed=1)["matting/image"]))
    files = run_demo(tmp_path / "second", size=64, seed=1, photo=photo)
    scores = json.loads(files["metrics"].read_text())["cutout"]
    assert "iou" not in scores  # no ground truth for a photo of your own
    with pytest.raises(FileNotFoundError):
        run_demo(tmp_path / "third", size=64, photo=tmp_path / "missing.png")
    assert not (tmp_path / "third").exists()  # failed before writing anything


def test_matting_scores_are_sensible(demo) -> None:
    _, files = demo
    metrics = json.loads(files["metrics"].read_text())
    assert metrics["size"] == SIZE and metrics["seed"] == 0
    trimap = io.load_trimap(files["matting/trimap"])
    truth = io.load_alpha(files["matting/alpha_true"])
    trivial = np.where(trimap == 0.5, 0.5, trimap)  # 0.5 everywhere unknown
    trivial_sad = sad(trivial, truth, trimap)
    for method in ("closed_form", "background_difference"):
        scores = metrics["matting"][method]
        assert 0 < scores["sad"] < trivial_sad, (method, scores, trivial_sad)
        assert scores["mse"] > 0 and scores["seconds"] >= 0
    # the JSON matches the alpha written to disk (8-bit rounding: at most 0.5/255 a pixel)
    cf_alpha = io.load_alpha(files["matting/closed_form_alpha"])
    unknown = int((trimap == 0.5).sum())
    assert abs(sad(cf_alpha, truth, trimap) - metrics["matting"]["closed_form"]["sad"]) <= (
        unknown * 0.5 / 255 / 1000 + 1e-6
    )


def test_inpainting_scores_are_sensible(demo) -> None:
    _, files = demo
    metrics = json.loads(files["metrics"].read_text())
    clean = io.load_image(files["inpainting/clean"])
    mask = io.load_mask(files["inpainting/mask"])
    image = io.load_image(files["inpainting/image"])
    # doing nothing (keeping the object and scratches in the hole) scores this:
    baseline = -10 * math.log10(hole_mse(image, clean, mask))
    for method in ("auto", "telea", "ns"):
        scores = metrics["inpainting"][method]
        assert scores["psnr_hole"] > 15.0, (method, scores)
        assert scores["psnr_hole"] > baseline
        assert 0.0 < scores["ssim_hole"] <= 1.0
        filled = io.load_image(files[f"inpainting/{method}"])
        np.testing.assert_array_equal(filled[~mask], image[~mask])  # outside the hole: untouched


def test_refuses_to_overwrite(demo) -> None:
    out, files = demo
    before = files["metrics"].read_bytes()
    with pytest.raises(FileExistsError, match="already holds demo results"):
        run_demo(out, size=SIZE)
    assert files["metrics"].read_bytes() == before


def test_overwrite_and_seed(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    first = run_demo(out, size=48, seed=1)
    alpha_1 = io.load_alpha(first["matting/alpha_true"])
    again = run_demo(out, size=48, seed=2, overwrite=True)
    assert json.loads(again["metrics"].read_text())["seed"] == 2
    assert not np.array_equal(io.load_alpha(again["matting/alpha_true"]), alpha_1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"size": 16}, ValueError, "at least 32"),
        ({"size": 64.0}, TypeError, "size must be an int"),
        ({"seed": -1}, ValueError, "seed"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        run_demo(tmp_path / "demo", **kwargs)
    assert not (tmp_path / "demo").exists()


def test_out_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="must be a folder"):
        run_demo(tmp_path / "file", size=48)


def test_grid_checks_its_input() -> None:
    tile = np.zeros((40, 40), np.float32)
    with pytest.raises(ValueError, match="every picture must be"):
        before_after_grid([[("a", tile), ("b", np.zeros((30, 40), np.float32))]])
    with pytest.raises(ValueError, match="every row needs 2"):
        before_after_grid([[("a", tile), ("b", tile)], [("c", tile)]])
    grid = before_after_grid([[("a", tile), ("b", np.ones((40, 40, 3), np.float32))]], gap=2)
    assert grid.shape == (2 + 14 + 40 + 2, 2 * 42 + 2, 3) and grid.dtype == np.uint8


def test_cli_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "cli_demo"
    assert main(["demo", "--out", str(out), "--size", "48"]) == 0
    captured = capsys.readouterr()
    for fragment in ("closed_form", "background_difference", "telea", "psnr_hole", "sad"):
        assert fragment in captured.out
    assert f"before/after picture: {out / 'before_after.png'}" in captured.out
    assert (out / "before_after.png").is_file()
    # a second run is refused (one error line, before the "running" notice) ...
    assert main(["demo", "--out", str(out), "--size", "48"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mattepaint: error: ") and "--overwrite" in err
    # ... unless --overwrite is given
    assert main(["demo", "--out", str(out), "--size", "48", "--overwrite"]) == 0
