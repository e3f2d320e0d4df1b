"""The ``mattepaint`` command line, run in-process through ``main([...])`` (plus two subprocess
calls for the real ``python -m mattepaint`` entry point).

Inputs are the procedural samples of :mod:`mattepaint.samples` at 64 x 64, so every command
runs in well under a second after the first.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _cli_checks import run  # tests/reliability/_cli_checks.py

from mattepaint import __version__, batch, cli, io
from mattepaint.cli import main
from mattepaint.metrics.matting import sad
from mattepaint.samples import make_inpainting_sample, make_matting_sample

SIZE = (64, 64)

Capsys = pytest.CaptureFixture[str]


#: What the fixtures save of a sample: files key -> (subfolder, sample attribute, io saver).
PARTS: dict[str, tuple[str, str, Callable[..., Path]]] = {
    "image": ("images", "image", io.save_image),
    "mask": ("masks", "mask", io.save_mask),
    "gt": ("gt", "clean", io.save_image),
    "trimap": ("trimaps", "trimap", io.save_trimap),
    "bg": ("backgrounds", "background", io.save_image),
    "alpha": ("alphas", "alpha", io.save_image),
}


def save_cases(folder: Path, make_sample: Callable[..., Any], parts: list[str]) -> dict[str, Path]:
    """Two cases (``a``, ``b``: the samples of seeds 0 and 1), each of ``parts`` saved as
    :data:`PARTS` says -> ``files[f"{part}_{stem}"]``."""
    files: dict[str, Path] = {}
    for seed, stem in enumerate(("a", "b")):
        sample = make_sample(SIZE, seed=seed)
        for part in parts:
            subfolder, attribute, save = PARTS[part]
            path = folder / subfolder / f"{stem}.png"
            files[f"{part}_{stem}"] = save(path, getattr(sample, attribute))
    return files


@pytest.fixture
def inpaint_files(tmp_path: Path) -> dict[str, Path]:
    """Two inpainting cases (``a``, ``b``): images/, masks/ and the clean ground truths gt/."""
    return save_cases(tmp_path, make_inpainting_sample, ["image", "mask", "gt"])


@pytest.fixture
def matte_files(tmp_path: Path) -> dict[str, Path]:
    """Two matting cases (``a``, ``b``): images/, trimaps/, backgrounds/, alphas/ (ground truth)."""
    return save_cases(tmp_path, make_matting_sample, ["image", "trimap", "bg", "alpha"])


# --------------------------------------------------------------------------- entry points


def test_version_in_process(capsys: Capsys) -> None:
    code, out, err = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"mattepaint {__version__}"
    assert err == ""


def test_help_in_process(capsys: Capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("inpaint", "matte", "evaluate", "masks", "methods", "demo"):
        assert command in out


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a fresh interpreter, its stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_python_dash_m_version_and_help() -> None:
    version = python("-m", "mattepaint", "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"mattepaint {__version__}"
    helped = python("-m", "mattepaint", "inpaint", "--help")
    assert helped.returncode == 0
    assert "--mask-dir" in helped.stdout and "--radius" in helped.stdout
    assert helped.stderr == ""


def test_help_does_not_import_torch() -> None:
    # --help / --version must stay fast: the heavy modules load only inside the commands
    code = (
        "import sys; from mattepaint.cli import main; main(['--version']); "
        "print(sorted(m for m in ('torch', 'cv2', 'pymatting') if m in sys.modules))"
    )
    result = python("-c", code)
    assert result.returncode == 0
    assert result.stdout.strip().splitlines()[-1] == "[]"


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command of the parser (``evaluate inpainting`` etc. for the tasks) -> its parser."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}"] = sub
                    walk(sub, f"{prefix}{name} ")

    walk(cli.build_parser(), "")
    return found


def test_each_command_lives_in_its_own_module() -> None:
    # a command's flags (add_parser) and its handler are in one module of mattepaint.cli
    commands = _commands()
    top = [name for name in commands if " " not in name]
    assert top == [module.__name__.rsplit(".", 1)[1] for module in cli.COMMANDS]
    for name, parser in commands.items():
        func = parser.get_default("func")
        if name == "evaluate":
            assert func is None  # a task is required
            continue
        module = name.split()[0]
        assert func.__module__ == f"mattepaint.cli.{module}", name
        assert func.__doc__, f"the handler of {name!r} needs a docstring"


def test_docstring_lists_every_command() -> None:
    for name in _commands():
        if name != "evaluate":
            assert f"``{name}" in cli.__doc__, name


def test_no_command_is_a_usage_error(capsys: Capsys) -> None:
    code, _, err = run(capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("mattepaint: error: a command is required")


# --------------------------------------------------------------------------- inpaint


def test_inpaint_single(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    out_path = tmp_path / "out" / "filled.png"
    code, out, err = run(
        capsys,
        "inpaint",
        inpaint_files["image_a"],
        "--mask",
        inpaint_files["mask_a"],
        "-o",
        out_path,
    )
    assert code == 0, err
    assert f"wrote {out_path}" in out
    image = io.load_image(inpaint_files["image_a"])
    mask = io.load_mask(inpaint_files["mask_a"])
    filled = io.load_image(out_path)
    assert filled.shape == image.shape
    np.testing.assert_array_equal(filled[~mask], image[~mask])  # known pixels kept bit for bit
    assert not np.array_equal(filled[mask], image[mask])  # the object in the hole is gone


def test_inpaint_single_method_and_radius(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    outputs = {}
    for method, radius in (("telea", 3), ("ns", 3), ("ns", 9)):
        outputs[method, radius] = tmp_path / f"{method}{radius}.png"
        code, _, err = run(
            capsys, "inpaint", inpaint_files["image_a"], "--mask", inpaint_files["mask_a"],
            "-o", outputs[method, radius], "--method", method, "--radius", radius,
        )  # fmt: skip
        assert code == 0, err
    images = {key: io.load_image(path) for key, path in outputs.items()}
    # the flags reach the method: another method or radius gives another fill
    assert not np.array_equal(images["telea", 3], images["ns", 3])
    assert not np.array_equal(images["ns", 3], images["ns", 9])


def test_inpaint_batch_mask_dir(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    out_dir = tmp_path / "filled"
    code, out, err = run(
        capsys, "inpaint", "--input-dir", tmp_path / "images", "--mask-dir", tmp_path / "masks",
        "--output-dir", out_dir, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png"]
    assert "wrote 2 inpainted images" in out
    for stem in ("a", "b"):  # each image got its own mask (matched by stem)
        mask = io.load_mask(inpaint_files[f"mask_{stem}"])
        image = io.load_image(inpaint_files[f"image_{stem}"])
        np.testing.assert_array_equal(io.load_image(out_dir / f"{stem}.png")[~mask], image[~mask])


def test_inpaint_batch_one_mask(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    out_dir = tmp_path / "filled"
    code, _, err = run(
        capsys, "inpaint", "--input-dir", tmp_path / "images", "--mask", inpaint_files["mask_a"],
        "--output-dir", out_dir, "--method", "ns",
    )  # fmt: skip
    assert code == 0, err
    mask = io.load_mask(inpaint_files["mask_a"])
    for stem in ("a", "b"):  # the one mask was used for both images
        image = io.load_image(inpaint_files[f"image_{stem}"])
        np.testing.assert_array_equal(io.load_image(out_dir / f"{stem}.png")[~mask], image[~mask])


# --------------------------------------------------------------------------- matte


def test_matte_single_trimap(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    alpha_path = tmp_path / "out" / "alpha.png"
    code, out, err = run(
        capsys, "matte", matte_files["image_a"], "--trimap", matte_files["trimap_a"],
        "-o", alpha_path, "--foreground", tmp_path / "out" / "fg.png", "--cutout",
    )  # fmt: skip
    assert code == 0, err
    cutout_path = tmp_path / "out" / "alpha_cutout.png"  # bare --cutout: named after the alpha
    for path in (alpha_path, tmp_path / "out" / "fg.png", cutout_path):
        assert path.is_file() and f"wrote {path}" in out
    trimap = io.load_trimap(matte_files["trimap_a"])
    alpha = io.load_alpha(alpha_path)
    truth = io.load_alpha(matte_files["alpha_a"])
    assert alpha.shape == SIZE
    assert np.all(alpha[trimap == 0] == 0) and np.all(alpha[trimap == 1] == 1)
    # closed-form matting beats the trivial "0.5 everywhere unknown" matte on the unknown region
    assert sad(alpha, truth, trimap) < sad(np.where(trimap == 0.5, 0.5, trimap), truth, trimap)
    rgb, cut_alpha = io.load_rgba(cutout_path)
    assert rgb.shape == (*SIZE, 3) and cut_alpha is not None
    np.testing.assert_allclose(cut_alpha, alpha, atol=1 / 255)


def test_matte_single_background(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    alpha_path = tmp_path / "alpha.png"
    code, out, err = run(
        capsys,
        "matte",
        matte_files["image_a"],
        "--background",
        matte_files["bg_a"],
        "-o",
        alpha_path,
    )
    assert code == 0, err
    assert out.strip() == f"wrote {alpha_path}"  # no foreground / cut-out asked for
    alpha = io.load_alpha(alpha_path)
    truth = io.load_alpha(matte_files["alpha_a"])
    assert alpha.shape == SIZE
    assert np.abs(alpha - truth).mean() < np.abs(0.5 - truth).mean()


def test_matte_method_flag(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "matte", matte_files["image_a"], "--trimap", matte_files["trimap_a"],
        "-o", tmp_path / "knn.png", "--method", "knn",
    )  # fmt: skip
    assert code == 0, err  # knn comes with pymatting, a hard dependency: never skipped
    assert io.load_alpha(tmp_path / "knn.png").shape == SIZE


def test_matte_batch_trimaps(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    out_dir = tmp_path / "mattes"
    code, out, err = run(
        capsys, "matte", "--input-dir", tmp_path / "images", "--trimap-dir", tmp_path / "trimaps",
        "--output-dir", out_dir, "--foreground", "--cutout", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    expected = sorted(f"{s}{suffix}.png" for s in "ab" for suffix in ("", "_fg", "_cutout"))
    assert sorted(p.name for p in out_dir.iterdir()) == expected
    assert "wrote 6 files" in out
    _, cut_alpha = io.load_rgba(out_dir / "b_cutout.png")
    assert cut_alpha is not None


def test_matte_batch_one_background(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    # one plate for every image (a smoke test: b's true background differs from a's)
    out_dir = tmp_path / "mattes"
    code, _, err = run(
        capsys, "matte", "--input-dir", tmp_path / "images", "--background", matte_files["bg_a"],
        "--output-dir", out_dir,
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == ["a.png", "b.png"]


def test_matte_batch_background_dir(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    out_dir = tmp_path / "mattes"
    code, _, err = run(
        capsys, "matte", "--input-dir", tmp_path / "images", "--background-dir",
        tmp_path / "backgrounds", "--output-dir", out_dir, "--cutout",
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "a.png",
        "a_cutout.png",
        "b.png",
        "b_cutout.png",
    ]
    truth = io.load_alpha(matte_files["alpha_b"])
    assert np.abs(io.load_alpha(out_dir / "b.png") - truth).mean() < np.abs(0.5 - truth).mean()


# --------------------------------------------------------------------------- evaluate


def test_evaluate_inpainting(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    pred_dir = tmp_path / "filled"
    batch.inpaint_folder(tmp_path / "images", tmp_path / "masks", pred_dir, progress=False)
    code, out, err = run(
        capsys, "evaluate", "inpainting", "--pred-dir", pred_dir, "--gt-dir", tmp_path / "gt",
        "--mask-dir", tmp_path / "masks",
    )  # fmt: skip
    assert code == 0, err
    assert "inpainting evaluation (2 cases)" in out and "PSNR" in out.upper()
    json_path, csv_path = tmp_path / "filled_eval.json", tmp_path / "filled_eval.csv"  # defaults
    assert f"wrote {json_path}" in out and f"wrote {csv_path}" in out
    report = json.loads(json_path.read_text())
    assert report["kind"] == "inpainting"
    assert [row["name"] for row in report["rows"]] == ["a", "b"]
    assert report["summary"][-1]["bucket"] == "all" and report["summary"][-1]["count"] == 2
    assert all(float(row["psnr"]) > 15 for row in report["rows"])
    with csv_path.open(newline="") as handle:
        assert [row["name"] for row in csv.DictReader(handle)] == ["a", "b"]


def test_evaluate_inpainting_explicit_paths(capsys: Capsys, inpaint_files, tmp_path: Path) -> None:
    # the ground truth as prediction: exact, PSNR inf; --no-save + --json: only the JSON
    json_path = tmp_path / "reports" / "r.json"
    code, _, err = run(
        capsys, "evaluate", "inpainting", "--pred-dir", tmp_path / "gt", "--gt-dir", tmp_path / "gt",
        "--mask-dir", tmp_path / "masks", "--json", json_path, "--no-save",
    )  # fmt: skip
    assert code == 0, err
    assert json_path.is_file() and not (tmp_path / "gt_eval.csv").exists()
    assert json.loads(json_path.read_text())["summary"][-1]["psnr"] == "inf"


def test_evaluate_matting(capsys: Capsys, matte_files, tmp_path: Path) -> None:
    pred_dir = tmp_path / "mattes"
    batch.matte_folder(
        tmp_path / "images", pred_dir, trimap_dir=tmp_path / "trimaps", progress=False
    )
    code, out, err = run(
        capsys, "evaluate", "matting", "--pred-dir", pred_dir, "--gt-dir", tmp_path / "alphas",
        "--trimap-dir", tmp_path / "trimaps", "--json", tmp_path / "unknown.json", "--csv",
        tmp_path / "unknown.csv",
    )  # fmt: skip
    assert code == 0, err
    assert "matting evaluation (2 cases)" in out and "SAD" in out
    unknown = json.loads((tmp_path / "unknown.json").read_text())
    assert (tmp_path / "unknown.csv").is_file()
    # whole-image evaluation (no --trimap-dir): SAD over all pixels >= over the unknown region
    code, _, err = run(
        capsys, "evaluate", "matting", "--pred-dir", pred_dir, "--gt-dir", tmp_path / "alphas",
        "--json", tmp_path / "all.json", "--no-save",
    )  # fmt: skip
    assert code == 0, err
    whole = json.loads((tmp_path / "all.json").read_text())
    for region_row, whole_row in zip(unknown["rows"], whole["rows"]):
        assert whole_row["sad"] >= region_row["sad"] - 1e-9
    assert unknown["summary"][-1]["sad"] > 0


# --------------------------------------------------------------------------- masks, methods


def test_masks(capsys: Capsys, tmp_path: Path) -> None:
    out_dir = tmp_path / "masks"
    code, out, err = run(
        capsys, "masks", out_dir, "--count", 2, "--size", 48, "--generators", "strokes,center_square",
        "--seed", 3,
    )  # fmt: skip
    assert code == 0, err
    manifest = out_dir / "manifest.csv"
    assert f"manifest: {manifest}" in out and "wrote 4 masks" in out
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["generator"] for row in rows] == [
        "strokes",
        "strokes",
        "center_square",
        "center_square",
    ]
    for row in rows:
        mask = io.load_mask(out_dir / row["file"])
        assert mask.shape == (48, 48) and mask.any()
    # same seed again into another folder: the same masks
    assert main(["masks", str(tmp_path / "again"), "--count", "2", "--size", "48",
                 "--generators", "strokes,center_square", "--seed", "3"]) == 0  # fmt: skip
    for row in rows:
        np.testing.assert_array_equal(
            io.load_mask(out_dir / row["file"]), io.load_mask(tmp_path / "again" / row["file"])
        )


def test_masks_from_folder(capsys: Capsys, tmp_path: Path) -> None:
    source = tmp_path / "nvidia"
    rng = np.random.default_rng(0)
    for i in range(3):
        io.save_mask(source / f"{i:05d}.png", rng.random((40, 40)) < 0.2)
    code, _, err = run(
        capsys, "masks", tmp_path / "out", "--folder", source, "--count", 2, "--size", 32
    )
    assert code == 0, err
    with (tmp_path / "out" / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["generator"] for row in rows] == ["folder", "folder"]
    assert io.load_mask(tmp_path / "out" / rows[0]["file"]).shape == (32, 32)


def test_methods(capsys: Capsys) -> None:
    code, out, err = run(capsys, "methods")
    assert code == 0, err
    lines = out.splitlines()
    for name, needs in (
        ("telea", "image + mask"),
        ("ns", "image + mask"),
        ("closed_form", "image + trimap"),
        ("background_difference", "image + clean background"),
        ("late_fusion_effnet_cutout", "image only"),  # the shipped segmenter of the cut-out
    ):
        assert any(f" {name} " in line and needs in line for line in lines), (name, out)
    assert any("cut-out" in line and "the default segmenter" in line for line in lines), out


@pytest.mark.shared_data
def test_evaluate_inpainting_with_lpips(
    capsys: Capsys, inpaint_files, tmp_path: Path, shared_data: Path
) -> None:
    weights = shared_data / "weights"
    if not (weights / "alexnet_imagenet_features.safetensors").is_file():
        pytest.skip(f"no AlexNet weights in {weights}")
    code, out, err = run(
        capsys, "evaluate", "inpainting", "--pred-dir", tmp_path / "images", "--gt-dir",
        tmp_path / "gt", "--mask-dir", tmp_path / "masks", "--lpips", "alex", "--weights-dir",
        weights, "--json", tmp_path / "lpips.json", "--no-save",
    )  # fmt: skip
    assert code == 0, err
    assert "LPIPS" in out.upper()
    rows = json.loads((tmp_path / "lpips.json").read_text())["rows"]
    # the unrepaired images (object still in the hole) are perceptually far from the originals
    assert all(0.0 < row["lpips"] < 1.0 for row in rows)
