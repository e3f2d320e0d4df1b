"""Tests of mattepaint.evaluate: folder evaluation, bucket summary, report writers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from rich.table import Table

from mattepaint import evaluate, io

SIZE = 40  # 1600 pixels, so hole ratios such as 0.1 are exact


def _raster_mask(n_holes: int, size: int = SIZE) -> np.ndarray:
    """The first ``n_holes`` pixels in raster order are holes."""
    mask = np.zeros(size * size, dtype=bool)
    mask[:n_holes] = True
    return mask.reshape(size, size)


def _render(table: Table) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def _folders(root: Path, *names: str) -> dict[str, Path]:
    """``{"root": root, name: root / name, ...}``: the folders of a fixture."""
    return {"root": root, **{name: root / name for name in names}}


def _evaluate_inpainting(
    folders: dict[str, Path], pred: str = "pred", **options: object
) -> evaluate.InpaintingReport:
    """``evaluate_inpainting`` of ``folders[pred]`` against gt/ with masks/, no progress bar."""
    return evaluate.evaluate_inpainting(
        folders[pred], folders["gt"], folders["masks"], progress=False, **options
    )


def _evaluate_matting(
    folders: dict[str, Path], pred: str = "pred", trimaps: str | None = "trimaps"
) -> evaluate.MattingReport:
    """``evaluate_matting`` of ``folders[pred]`` against gt/, over the unknown region of
    ``folders[trimaps]`` (the whole image when ``trimaps`` is None), no progress bar."""
    trimap_dir = None if trimaps is None else folders[trimaps]
    return evaluate.evaluate_matting(folders[pred], folders["gt"], trimap_dir, progress=False)


# Hole pixels of 1600 -> ratio -> expected bucket ((lo, hi] intervals of Liu et al. 2018).
CASES = {
    "c0": (8, 0.005, "other"),  # below the first bucket
    "c1": (160, 0.1, "0.01-0.1"),  # upper bound belongs to the bucket
    "c2": (161, 0.100625, "0.1-0.2"),
    "c3": (240, 0.15, "0.1-0.2"),
    "c4": (880, 0.55, "0.5-0.6"),
    "c5": (1120, 0.7, "other"),  # above the last bucket
}


@pytest.fixture
def inpaint_eval(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """gt/, masks/ and pred/ (pred = gt with noise in the hole) for CASES."""
    for stem, (n_holes, _, _) in CASES.items():
        gt = rng.random((SIZE, SIZE, 3)).astype(np.float32)
        mask = _raster_mask(n_holes)
        pred = gt.copy()
        pred[mask] = 0.5
        io.save_image(tmp_path / "gt" / f"{stem}.png", gt)
        io.save_mask(tmp_path / "masks" / f"{stem}.png", mask)
        io.save_image(tmp_path / "pred" / f"{stem}.png", pred)
    return _folders(tmp_path, "gt", "masks", "pred")


def test_identical_images(inpaint_eval: dict[str, Path]) -> None:
    report = _evaluate_inpainting(inpaint_eval, "gt")
    assert len(report.rows) == len(CASES)
    for row in report.rows:
        assert row["psnr"] == math.inf
        assert row["mse"] == 0.0 and row["l1"] == 0.0 and row["hole_l1"] == 0.0
        assert row["ssim"] == pytest.approx(1.0, abs=1e-12)
    assert report.summary[-1]["psnr"] == math.inf
    assert "inf" in _render(report.format_table())


def test_buckets_and_summary(inpaint_eval: dict[str, Path]) -> None:
    report = _evaluate_inpainting(inpaint_eval)
    assert report.metrics == ("mse", "l1", "hole_l1", "psnr", "ssim", "tv")
    for row in report.rows:
        _, ratio, bucket = CASES[row["name"]]
        assert row["hole_ratio"] == ratio
        assert row["bucket"] == bucket
    # buckets in order, empty ones left out, then "other", then "all"
    assert [(s["bucket"], s["count"]) for s in report.summary] == [
        ("0.01-0.1", 1),
        ("0.1-0.2", 2),
        ("0.5-0.6", 1),
        ("other", 2),
        ("all", 6),
    ]
    by_name = {row["name"]: row for row in report.rows}
    bucket_1 = report.summary[1]
    assert bucket_1["psnr"] == pytest.approx((by_name["c2"]["psnr"] + by_name["c3"]["psnr"]) / 2)
    assert report.summary[-1]["mse"] == pytest.approx(np.mean([r["mse"] for r in report.rows]))
    # pred differs from gt only in the hole: MSE = hole ratio * mean over the hole of (gt-0.5)^2
    gt = io.load_image(inpaint_eval["gt"] / "c3.png")
    mask = _raster_mask(240)
    expected = float(np.sum((gt[mask] - np.float32(128 / 255)).astype(np.float64) ** 2) / gt.size)
    assert by_name["c3"]["mse"] == pytest.approx(expected, rel=1e-6)
    text = _render(report.format_table())
    assert "0.5-0.6" in text and "all" in text
    psnr = report.summary[-1]["psnr"]
    assert f"{psnr:.2f}" in text and f"{psnr:.3f}" not in text  # PSNR with two decimals


def test_report_files(inpaint_eval: dict[str, Path]) -> None:
    report = _evaluate_inpainting(inpaint_eval, "gt")
    root = inpaint_eval["root"]
    assert report.to_json(root / "r.json") == root / "r.json"
    data = json.loads((root / "r.json").read_text())  # strict JSON: inf is the string "inf"
    assert data["kind"] == "inpainting"
    assert len(data["rows"]) == 6 and data["summary"][-1]["bucket"] == "all"
    assert float(data["rows"][0]["psnr"]) == math.inf
    report.to_csv(root / "rows.csv")
    report.to_csv(root / "summary.csv", table="summary")
    with open(root / "rows.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == list(CASES)
    assert list(rows[0]) == ["name", "hole_ratio", "bucket", *report.metrics]
    assert float(rows[1]["hole_ratio"]) == 0.1 and float(rows[1]["psnr"]) == math.inf
    with open(root / "summary.csv", newline="") as handle:
        summary = list(csv.DictReader(handle))
    assert [int(r["count"]) for r in summary] == [1, 2, 1, 2, 6]
    for writer, name in ((report.to_json, "r.json"), (report.to_csv, "rows.csv")):
        with pytest.raises(FileExistsError, match="already exists"):
            writer(root / name)
        writer(root / name, overwrite=True)
    with pytest.raises(ValueError, match="table must be"):
        report.to_csv(root / "x.csv", table="cases")  # type: ignore[arg-type]


def test_inpainting_input_errors(inpaint_eval: dict[str, Path]) -> None:
    (inpaint_eval["masks"] / "c4.png").unlink()
    with pytest.raises(ValueError, match=r"1 prediction\(s\) have no mask .*: c4"):
        _evaluate_inpainting(inpaint_eval)
    with pytest.raises(FileNotFoundError, match="ground truth folder not found"):
        evaluate.evaluate_inpainting(
            inpaint_eval["pred"],
            inpaint_eval["root"] / "nope",
            inpaint_eval["masks"],
            progress=False,
        )
    io.save_image(inpaint_eval["pred"] / "c1.png", np.zeros((SIZE, 32, 3)), overwrite=True)
    io.save_mask(inpaint_eval["masks"] / "c4.png", _raster_mask(4))
    with pytest.raises(ValueError, match="prediction size 32x40 does not match"):
        _evaluate_inpainting(inpaint_eval)


def test_unmatched_ground_truth_warns(inpaint_eval: dict[str, Path]) -> None:
    (inpaint_eval["pred"] / "c5.png").unlink()
    with pytest.warns(UserWarning, match="1 ground-truth image.*not evaluated: c5"):
        report = _evaluate_inpainting(inpaint_eval)
    assert report.summary[-1]["count"] == 5


def test_inpainting_lpips(inpaint_eval: dict[str, Path], shared_data: Path) -> None:
    from mattepaint.metrics.lpips import LPIPS

    model = LPIPS.from_dir("alex", shared_data / "weights")
    report = _evaluate_inpainting(inpaint_eval, lpips=model)
    assert report.metrics[-1] == "lpips"
    values = [row["lpips"] for row in report.rows]
    assert all(v > 0 for v in values)
    # more hole, more perceptual distance: c4 (55 %) vs c1 (10 %)
    by_name = {row["name"]: row["lpips"] for row in report.rows}
    assert by_name["c4"] > by_name["c1"]


# --------------------------------------------------------------------------- matting


@pytest.fixture
def matte_eval(tmp_path: Path) -> dict[str, Path]:
    """gt/{a,b}.png mattes, trimaps/{a,b}.png (unknown band), pred/ = gt except 100 pixels."""
    gt = np.zeros((SIZE, SIZE), np.float32)
    gt[10:30, 10:30] = 1.0
    trimap = np.zeros((SIZE, SIZE), np.float32)
    trimap[5:35, 5:35] = 0.5
    trimap[15:25, 15:25] = 1.0
    for stem in "ab":
        io.save_image(tmp_path / "gt" / f"{stem}.png", gt)
        io.save_trimap(tmp_path / "trimaps" / f"{stem}.png", trimap)
    pred = gt.copy()
    pred[0:10, 0:10] = 0.5  # 100 wrong pixels, 25 of them (rows/cols 5..9) in the unknown band
    io.save_image(tmp_path / "pred" / "a.png", gt)
    io.save_image(tmp_path / "pred" / "b.png", pred)
    return _folders(tmp_path, "gt", "trimaps", "pred")


def test_matting_identical_is_zero(matte_eval: dict[str, Path]) -> None:
    for trimaps in ("trimaps", None):
        report = _evaluate_matting(matte_eval, "gt", trimaps)
        assert report.metrics == ("sad", "mse", "grad", "conn", "iou")
        for row in report.rows:
            assert (row["sad"], row["mse"], row["grad"], row["conn"]) == (0, 0, 0, 0)
            assert row["iou"] == 1.0
        assert report.summary == [
            {
                "bucket": "all",
                "count": 2,
                "sad": 0.0,
                "mse": 0.0,
                "grad": 0.0,
                "conn": 0.0,
                "iou": 1.0,
            }
        ]


def test_matting_sad_known_value(matte_eval: dict[str, Path]) -> None:
    whole = _evaluate_matting(matte_eval, trimaps=None)
    unknown = _evaluate_matting(matte_eval)
    err = 128 / 255  # 0.5 stored as 8-bit
    # whole image: 100 wrong pixels; unknown band (trimap rows/cols 5..34): 25 of them
    assert whole.rows[1]["sad"] == pytest.approx(100 * err / 1000)
    assert unknown.rows[1]["sad"] == pytest.approx(25 * err / 1000)
    assert whole.rows[1]["mse"] == pytest.approx(100 * err**2 / SIZE**2 * 1e3)
    assert whole.rows[1]["iou"] == pytest.approx(400 / 500)  # 100 extra pixels > 0.5
    assert whole.summary[0]["sad"] == pytest.approx(50 * err / 1000)
    root = matte_eval["root"]
    unknown.to_json(root / "m.json")
    assert json.loads((root / "m.json").read_text())["kind"] == "matting"
    unknown.to_csv(root / "m.csv")
    with open(root / "m.csv", newline="") as handle:
        assert [r["name"] for r in csv.DictReader(handle)] == ["a", "b"]
    assert "SAD" in _render(unknown.format_table("rows"))


def test_matting_input_errors(matte_eval: dict[str, Path]) -> None:
    (matte_eval["trimaps"] / "a.png").unlink()
    with pytest.raises(ValueError, match=r"no trimap of the same name .*: a$"):
        _evaluate_matting(matte_eval)
    with pytest.raises(FileNotFoundError, match="prediction folder not found"):
        evaluate.evaluate_matting(matte_eval["root"] / "nope", matte_eval["gt"], progress=False)
    # a trimap without an unknown region: the case is named in the error
    io.save_trimap(matte_eval["trimaps"] / "a.png", np.ones((SIZE, SIZE)))
    with pytest.raises(ValueError, match=r"cannot evaluate a\.png"):
        _evaluate_matting(matte_eval)
