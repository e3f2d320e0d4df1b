"""Bad input to the ``mattepaint`` command line: ONE line on stderr, a non-zero exit, no traceback.

Each user mistake (corrupt image, size mismatch, bad trimap values, missing file, unknown method,
existing output, bad command line) must end as::

    mattepaint: error: <what is wrong, naming the file / values / valid names>

with exit status 1 (2 for a bad command line), and must not leave a new or changed output file.
A legal but suspicious input (a non-binary mask) gives one ``mattepaint: warning: ...`` line and
the command goes on. The commands run in-process through ``main([...])``; one case also runs
the real ``python -m mattepaint`` in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli_checks import one_error, run  # tests/reliability/_cli_checks.py

from mattepaint import io
from mattepaint.cli import main
from mattepaint.samples import make_inpainting_sample, make_matting_sample

SIZE = (64, 64)


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder (also the working directory) with good inputs: img.png + mask.png (inpainting),
    mimg.png + trimap.png + bg.png (matting)."""
    monkeypatch.chdir(tmp_path)
    sample = make_inpainting_sample(SIZE, seed=0)
    io.save_image(tmp_path / "img.png", sample.image)
    io.save_mask(tmp_path / "mask.png", sample.mask)
    matting = make_matting_sample(SIZE, seed=0)
    io.save_image(tmp_path / "mimg.png", matting.image)
    io.save_trimap(tmp_path / "trimap.png", matting.trimap)
    io.save_image(tmp_path / "bg.png", matting.background)
    return tmp_path


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("out"))


# --------------------------------------------------------------------------- bad files


def test_corrupt_image(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    (case / "broken.png").write_bytes(b"this is not a PNG file")
    code, out, err = run(capsys, "inpaint", "broken.png", "--mask", "mask.png", "-o", "out.png")
    assert code == 1
    one_error(err, "cannot read image", "broken.png")
    assert out == "" and _outputs(case) == []


def test_corrupt_trimap(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    (case / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    code, _, err = run(capsys, "matte", "mimg.png", "--trimap", "broken.png", "-o", "out.png")
    assert code == 1
    one_error(err, "broken.png")
    assert _outputs(case) == []


def test_size_mismatch(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    io.save_mask(case / "small.png", np.ones((32, 48), bool))
    code, _, err = run(capsys, "inpaint", "img.png", "--mask", "small.png", "-o", "out.png")
    assert code == 1
    # both sizes and both files are named (width x height)
    one_error(err, "img.png", "64x64", "small.png", "48x32")
    assert _outputs(case) == []


def test_size_mismatch_background(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    io.save_image(case / "bg_small.png", np.zeros((40, 64, 3), np.float32))
    code, _, err = run(capsys, "matte", "mimg.png", "--background", "bg_small.png", "-o", "out.png")
    assert code == 1
    one_error(err, "bg_small.png", "64x40")
    assert _outputs(case) == []


def test_non_binary_mask_warns_and_works(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    mask = io.load_mask(case / "mask.png").astype(np.uint8) * 255
    mask[0, :5] = 100  # five grey pixels: suspicious, still usable (binarised at 127)
    io.save_image(case / "grey_mask.png", mask)
    code, out, err = run(capsys, "inpaint", "img.png", "--mask", "grey_mask.png", "-o", "out.png")
    assert code == 0
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mattepaint: warning: "), err
    assert "grey_mask.png" in lines[0] and "not binary" in lines[0]
    assert (case / "out.png").is_file() and "wrote out.png" in out


def test_resource_warnings_are_not_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ResourceWarning raised during a command (an object of some library collected then)
    prints nothing, as under Python's default filters; a UserWarning still gets its line."""
    import warnings

    from mattepaint.cli import methods

    real = methods.print_table

    def noisy_table(*args: object, **kwargs: object) -> None:
        warnings.warn("unclosed event loop <loop>", ResourceWarning, stacklevel=1)
        warnings.warn("a suspicious input", UserWarning, stacklevel=1)
        real(*args, **kwargs)

    monkeypatch.setattr(methods, "print_table", noisy_table)
    code, _, err = run(capsys, "methods")
    assert code == 0
    assert err.splitlines() == ["mattepaint: warning: a suspicious input"], err


def test_bad_trimap_values(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    trimap = np.round(io.load_trimap(case / "trimap.png") * 255).astype(np.uint8)
    trimap[trimap == 255] = 254  # within the tolerance: fine
    trimap[0, 0], trimap[0, 1], trimap[1, 0] = 60, 200, 60  # not 0 / 128 / 255
    io.save_image(case / "bad_trimap.png", trimap)
    code, _, err = run(capsys, "matte", "mimg.png", "--trimap", "bad_trimap.png", "-o", "out.png")
    assert code == 1
    one_error(err, "bad_trimap.png", "60", "200")  # the offending values are named
    assert _outputs(case) == []


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (("inpaint", "nothere.png", "--mask", "mask.png", "-o", "out.png"), "nothere.png"),
        (("inpaint", "img.png", "--mask", "nomask.png", "-o", "out.png"), "nomask.png"),
        (("matte", "mimg.png", "--trimap", "notrimap.png", "-o", "out.png"), "notrimap.png"),
        (("matte", "mimg.png", "--background", "nobg.png", "-o", "out.png"), "nobg.png"),
        (("inpaint", "--input-dir", "nodir", "--mask", "mask.png", "--output-dir", "out"), "nodir"),
    ],
)
def test_missing_file(capsys: pytest.CaptureFixture[str], case: Path, args, missing: str) -> None:
    code, _, err = run(capsys, *args)
    assert code == 1
    one_error(err, "not found", missing)
    assert _outputs(case) == []


# --------------------------------------------------------------------------- bad choices


def test_unknown_inpainting_method(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    code, _, err = run(
        capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", "--method", "telia"
    )
    assert code == 1
    line = one_error(err, "telia", "valid names", "telea", "ns")
    assert "did you mean 'telea'" in line
    assert _outputs(case) == []


def test_unknown_matting_method(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    code, _, err = run(
        capsys, "matte", "mimg.png", "--trimap", "trimap.png", "-o", "out.png", "--method", "magic"
    )
    assert code == 1
    one_error(err, "magic", "valid names", "closed_form", "background_difference")
    assert _outputs(case) == []


def test_method_needs_other_input(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    code, _, err = run(
        capsys, "matte", "mimg.png", "--background", "bg.png", "-o", "out.png", "--method", "closed_form"
    )
    assert code == 1
    one_error(err, "closed_form", "trimap")
    assert _outputs(case) == []


def test_bad_method_option(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    # --radius means nothing to biharmonic: the option is rejected, naming the method
    code, _, err = run(
        capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png",
        "--method", "biharmonic", "--radius", "3",
    )  # fmt: skip
    assert code == 1
    one_error(err, "biharmonic", "radius")
    assert _outputs(case) == []


# --------------------------------------------------------------------------- existing outputs


def test_output_exists_is_refused(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    existing = case / "out.png"
    io.save_image(existing, np.full((8, 8, 3), 0.25, np.float32))
    before = existing.read_bytes()
    code, _, err = run(capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png")
    assert code == 1
    one_error(err, "out.png", "already exist", "overwrite")
    assert existing.read_bytes() == before  # untouched
    assert sorted(p.name for p in case.iterdir() if p.name.startswith(".")) == []  # no temp left
    # with --overwrite it is replaced
    code, _, err = run(capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", "--overwrite")
    assert code == 0, err
    assert io.load_image(existing).shape == (*SIZE, 3)


def test_matte_extra_output_exists_is_refused(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    io.save_image(case / "out_cutout.png", np.zeros((8, 8, 4), np.float32))
    before = (case / "out_cutout.png").read_bytes()
    code, _, err = run(capsys, "matte", "mimg.png", "--trimap", "trimap.png", "-o", "out.png", "--cutout")
    assert code == 1
    one_error(err, "out_cutout.png", "already exist")
    assert (case / "out_cutout.png").read_bytes() == before
    assert not (case / "out.png").exists()  # checked before the alpha was written


def test_batch_output_exists_is_refused_before_any_work(
    capsys: pytest.CaptureFixture[str], case: Path
) -> None:
    for stem in ("a", "b"):
        (case / "in").mkdir(exist_ok=True)
        (case / "in" / f"{stem}.png").write_bytes((case / "img.png").read_bytes())
    io.save_image(case / "out" / "b.png", np.zeros((8, 8, 3), np.float32))
    before = (case / "out" / "b.png").read_bytes()
    code, _, err = run(capsys, "inpaint", "--input-dir", "in", "--mask", "mask.png", "--output-dir", "out")
    assert code == 1
    one_error(err, "b.png", "already exist")
    assert sorted(p.name for p in (case / "out").iterdir()) == ["b.png"]  # a.png not written
    assert (case / "out" / "b.png").read_bytes() == before


def test_batch_missing_mask_names_the_stem(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    for stem in ("a", "b"):
        (case / "in").mkdir(exist_ok=True)
        (case / "in" / f"{stem}.png").write_bytes((case / "img.png").read_bytes())
    (case / "masks").mkdir()
    (case / "masks" / "a.png").write_bytes((case / "mask.png").read_bytes())
    code, _, err = run(capsys, "inpaint", "--input-dir", "in", "--mask-dir", "masks", "--output-dir", "out")
    assert code == 1
    one_error(err, "no mask", ": b")
    assert not (case / "out").exists()


def test_evaluate_report_exists_is_refused(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    for folder in ("pred", "gt", "masks"):
        (case / folder).mkdir()
    (case / "pred" / "a.png").write_bytes((case / "img.png").read_bytes())
    (case / "gt" / "a.png").write_bytes((case / "img.png").read_bytes())
    (case / "masks" / "a.png").write_bytes((case / "mask.png").read_bytes())
    (case / "pred_eval.json").write_text('{"old": true}\n')
    code, out, err = run(
        capsys, "evaluate", "inpainting", "--pred-dir", "pred", "--gt-dir", "gt", "--mask-dir", "masks"
    )
    assert code == 1
    one_error(err, "pred_eval.json", "--overwrite")
    assert out == ""  # refused before evaluating
    assert json.loads((case / "pred_eval.json").read_text()) == {"old": True}
    assert not (case / "pred_eval.csv").exists()


def test_evaluate_missing_ground_truth(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    for folder in ("pred", "gt"):
        (case / folder).mkdir()
    (case / "pred" / "a.png").write_bytes((case / "img.png").read_bytes())
    code, _, err = run(capsys, "evaluate", "matting", "--pred-dir", "pred", "--gt-dir", "gt", "--no-save")
    assert code == 1
    one_error(err, "a")


def test_evaluate_missing_lpips_weights(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    for folder in ("pred", "gt", "masks", "weights"):
        (case / folder).mkdir()
    code, _, err = run(
        capsys, "evaluate", "inpainting", "--pred-dir", "pred", "--gt-dir", "gt", "--mask-dir",
        "masks", "--lpips", "alex", "--weights-dir", "weights",
    )  # fmt: skip
    assert code == 1
    one_error(err, "LPIPS weights file not found", "weights")
    assert not (case / "pred_eval.json").exists()


# --------------------------------------------------------------------------- bad command lines


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", "--bogus"), "unrecognized"),
        (("inpaint", "img.png", "-o", "out.png"), "--mask"),
        (("inpaint", "img.png", "--mask", "mask.png"), "-o/--output"),
        (("inpaint", "img.png", "--input-dir", ".", "--mask", "mask.png"), "not both"),
        (("inpaint", "--input-dir", ".", "--output-dir", "out"), "--mask-dir"),
        (("inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", "--radius", "0"), "positive"),
        (("matte", "mimg.png", "--trimap", "trimap.png", "--background", "bg.png", "-o", "o.png"), "not both"),
        (("matte", "--input-dir", ".", "--output-dir", "out", "--cutout", "c.png"), "batch mode"),
        (("evaluate", "inpainting", "--pred-dir", "p"), "required"),
        (("evaluate",), "inpainting or matting"),
        (("masks", "out", "--count", "-3"), "positive"),
        (("masks", "out", "--generators", "folder"), "--folder"),
        (("frobnicate",), "invalid choice"),
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], case: Path, args, fragment: str) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2
    line = one_error(err, fragment)
    assert "--help" in line  # points to the help
    assert out == "" and not (case / "out").exists()


def test_unknown_mask_generator(capsys: pytest.CaptureFixture[str], case: Path) -> None:
    code, _, err = run(capsys, "masks", "out", "--generators", "strokes,blobs")
    assert code == 1
    one_error(err, "blobs", "strokes")
    assert not (case / "out").exists()


# --------------------------------------------------------------------------- interrupts and bugs


def test_keyboard_interrupt(
    capsys: pytest.CaptureFixture[str], case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mattepaint.batch

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mattepaint.batch, "inpaint_file", interrupted)
    code, _, err = run(capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png")
    assert code == 130
    assert err == "mattepaint: interrupted\n"


def test_bug_is_not_hidden(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an unexpected exception is a bug, not a user mistake: it propagates with its traceback
    import mattepaint.batch

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal failure")

    monkeypatch.setattr(mattepaint.batch, "inpaint_file", broken)
    with pytest.raises(RuntimeError, match="internal failure"):
        main(["inpaint", "img.png", "--mask", "mask.png", "-o", "out.png"])


def test_subprocess_error_is_one_line(case: Path) -> None:
    (case / "broken.png").write_bytes(b"garbage")
    result = subprocess.run(
        [sys.executable, "-m", "mattepaint", "inpaint", "broken.png", "--mask", "mask.png", "-o", "out.png"],
        capture_output=True,
        text=True,
        cwd=case,
        timeout=120,
    )
    assert result.returncode == 1
    one_error(result.stderr, "cannot read image", "broken.png")
    assert result.stdout == ""
    assert not (case / "out.png").exists()
