"""Tests of the scripts in tools/ (run as modules loaded from their files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mattepaint.io import save_image

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _photos(folder: Path, invert: bool) -> Path:
    yy, xx = np.mgrid[0:64, 0:96]
    red = (np.hypot(yy - 32, xx - 48) < 20).astype(np.float32)  # a disk: the subject
    rgb = np.stack([red, np.full_like(red, 0.3), np.full_like(red, 0.6)], axis=-1)
    alpha = 1.0 - red if invert else red
    for k in range(2):
        save_image(folder / f"p{k}.png", np.concatenate([rgb, alpha[..., None]], axis=-1))
    return folder


def test_select_checkpoint_scores_against_the_reference(
    segmenter_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    select = _tool("select_checkpoint")
    # the test segmenter returns the red channel: right where alpha = red, wrong where inverted
    for invert, low, high in ((False, 0.95, 1.0), (True, 0.0, 0.05)):
        photos = _photos(tmp_path / f"inv{invert}", invert)
        select.main(["--photos", str(photos), str(segmenter_file)])
        out = capsys.readouterr().out
        iou = float(out.split("IoU ")[1].split(",")[0])
        assert low <= iou <= high, out
        assert "2 photos" in out and f"best by IoU: {segmenter_file}" in out


def test_select_checkpoint_needs_rgba_photos(segmenter_file: Path, tmp_path: Path) -> None:
    select = _tool("select_checkpoint")
    save_image(tmp_path / "opaque.png", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(SystemExit, match="no RGBA photo"):
        select.main(["--photos", str(tmp_path), str(segmenter_file)])


def test_select_checkpoint_on_photos_with_trimaps(
    segmenter_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # photos without alpha, with a trimap: the reference is cf_knn's matte from the trimap
    select = _tool("select_checkpoint")
    yy, xx = np.mgrid[0:64, 0:96]
    distance = np.hypot(yy - 32, xx - 48)
    red = (distance < 20).astype(np.float32)
    rgb = np.stack([red, np.full_like(red, 0.3), np.full_like(red, 0.6)], axis=-1)
    trimap = np.where(distance < 16, 1.0, np.where(distance > 24, 0.0, 0.5)).astype(np.float32)
    for folder, picture in (("images", rgb), ("trimaps", trimap)):
        save_image(tmp_path / folder / "p0.png", picture)
    images, trimaps = str(tmp_path / "images"), str(tmp_path / "trimaps")
    for refine in ([], ["--refine", "closed_form"]):
        select.main(["--trimap-photos", images, trimaps, *refine, str(segmenter_file)])
        out = capsys.readouterr().out
        assert float(out.split("IoU ")[1].split(",")[0]) > 0.95, out
        assert ("refined by closed_form" in out) == bool(refine)
    (tmp_path / "trimaps" / "p0.png").unlink()
    save_image(tmp_path / "trimaps" / "other.png", trimap)
    with pytest.raises(Exception, match="have no trimap of the same name"):
        select.main(["--trimap-photos", images, trimaps, str(segmenter_file)])


def _trimap_photos(folder: Path) -> tuple[str, str, str]:
    """folder/{images,trimaps,alphas}/p0.png: a red disk (the subject, alpha = red) with a
    trimap of known inside / outside and an unknown ring."""
    yy, xx = np.mgrid[0:64, 0:96]
    distance = np.hypot(yy - 32, xx - 48)
    red = (distance < 20).astype(np.float32)
    rgb = np.stack([red, np.full_like(red, 0.3), np.full_like(red, 0.6)], axis=-1)
    trimap = np.where(distance < 16, 1.0, np.where(distance > 24, 0.0, 0.5)).astype(np.float32)
    for name, picture in (("images", rgb), ("trimaps", trimap), ("alphas", red)):
        save_image(folder / name / "p0.png", picture)
    return str(folder / "images"), str(folder / "trimaps"), str(folder / "alphas")


def test_select_trimap_scores_every_setting(
    segmenter_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    select = _tool("select_trimap")
    images, trimaps, alphas = _trimap_photos(tmp_path)
    table = tmp_path / "rows.csv"
    select.main([
        "--trimap-photos", images, trimaps, "--report", images, alphas,
        "--segmenter", str(segmenter_file), "--band-fraction", "0.02", "0.05",
        "--fg-threshold", "0.9", "--csv", str(table),
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("select_sad ") == 2 and "best by selection SAD" in out, out
    rows = table.read_text().splitlines()
    assert rows[0].split(",")[:2] == ["band_fraction", "fg_threshold"] and len(rows) == 3
    ious = [float(row.split(",")[-1]) for row in rows[1:]]  # report_iou: the segmenter is right
    assert min(ious) > 0.95, rows


def test_select_gate_with_two_agreeing_segmenters(
    segmenter_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    select = _tool("select_gate")
    images, trimaps, _ = _trimap_photos(tmp_path)
    seg = str(segmenter_file)
    select.main([seg, seg, "--trimap-photos", images, trimaps, "--grid", "0", "0.5", "1"])
    out = capsys.readouterr().out
    assert "agreement 1.000" in out
    assert "min_iou in [0.00, 1.00]; middle: 0.50" in out, out  # every threshold ties


def test_pseudo_mattes_cuts_out_the_test_photos_under_each_trimap(tmp_path: Path) -> None:
    from mattepaint.io import load_rgba
    from mattepaint.samples import make_matting_sample

    root = tmp_path / "data" / "alphamatting" / "Input"
    sample = make_matting_sample((40, 48), seed=0)
    save_image(root / "Images" / "toy.png", sample.image)
    for k in (1, 2, 3):
        save_image(root / f"Trimap{k}" / "toy.png", sample.trimap)
    out = tmp_path / "pseudo"
    _tool("pseudo_mattes").main(["--data", str(tmp_path / "data"), "--out", str(out),
                                 "--copies", "2", "--method", "closed_form"])
    files = sorted(p.name for p in out.iterdir())
    assert files == [f"toy_trimap{k}_copy{c}.png" for k in (1, 2, 3) for c in (0, 1)]
    _, alpha = load_rgba(out / files[0])
    assert alpha.shape == (40, 48)
    known = sample.trimap != 0.5
    np.testing.assert_allclose(alpha[known], sample.trimap[known], atol=1 / 255)
    with pytest.raises(SystemExit, match="not empty"):  # never writes into a used folder
        _tool("pseudo_mattes").main(["--data", str(tmp_path / "data"), "--out", str(out)])
    with pytest.raises(SystemExit, match="test photos not found"):
        _tool("pseudo_mattes").main(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "x")])


def test_pseudo_mattes_photos_get_an_automatic_trimap(tmp_path: Path) -> None:
    from mattepaint.io import load_rgba

    yy, xx = np.mgrid[:48, :56]
    soft = np.clip((14.0 - np.hypot(yy - 24, xx - 28)) / 3 + 0.5, 0, 1).astype(np.float32)
    rgb = np.where(soft[..., None] > 0.5, [0.9, 0.2, 0.1], [0.1, 0.3, 0.8]).astype(np.float32)
    photos = tmp_path / "photos"
    save_image(photos / "disc.png", np.concatenate([rgb, soft[..., None]], axis=-1))
    save_image(photos / "flat.png", rgb)  # no alpha: skipped with a message
    out = tmp_path / "pseudo"
    _tool("pseudo_mattes").main(["--photos", str(photos), "--out", str(out), "--copies", "1",
                                 "--method", "closed_form"])
    assert sorted(p.name for p in out.iterdir()) == ["disc.png"]
    _, alpha = load_rgba(out / "disc.png")
    # the centre and the corners are outside the automatic band: known, kept exactly
    assert alpha[24, 28] == 1 and alpha[0, 0] == 0
    assert ((alpha > 0.5) == (soft > 0.5)).mean() > 0.97
    with pytest.raises(SystemExit, match="--photos folder not found"):
        _tool("pseudo_mattes").main(["--photos", str(tmp_path / "none"), "--out", str(tmp_path / "y")])
