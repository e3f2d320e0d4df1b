"""Issue 13, item 6: the command line's messages say what is wrong and what to do, in the
command line's own words, and only user mistakes are one-line errors.

For each misleading message of the issue (``[Errno 17] File exists``, "image not found" for a
folder, a binary config, a bad ``--set`` key blamed on the YAML file, "pass overwrite=True"), a
case checks the exit status, that stderr is exactly one ``mattepaint: error: ...`` line with the
expected words (and without the old ones), and that no file was written or changed. A bug in
the library (a TypeError, an unexpected OSError) is not a user mistake: it keeps its traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _cli_checks import one_error, run  # tests/reliability/_cli_checks.py

from mattepaint import cli, io
from mattepaint.cli.common import command_line_message
from mattepaint.errors import InputError, OutputExistsError
from mattepaint.samples import make_inpainting_sample, make_matting_sample
from mattepaint.train.config import ConfigError

SIZE = (32, 32)
PACKAGED_CONFIG = "seed000_unet_inpaint_small"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` (relative path -> content, mtime in ns): what "nothing was
    written or changed" compares."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused(
    capsys: pytest.CaptureFixture[str],
    case: Path,
    args: list[str],
    *fragments: str,
    absent: tuple[str, ...] = (),
) -> str:
    """``mattepaint ARGS`` run in ``case`` exits with 1, says so in one error line holding every
    fragment and none of ``absent`` (see ``one_error``), and writes or changes no file in
    ``case``; returns the line."""
    before = snapshot(case)
    code, _, err = run(capsys, *args)
    assert code == 1
    line = one_error(err, *fragments, absent=absent)
    assert snapshot(case) == before
    return line


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working directory, with img.png + mask.png (inpainting), mimg.png + trimap.png
    (matting), a folder in/ holding img.png, and a plain file ``afile``."""
    monkeypatch.chdir(tmp_path)
    sample = make_inpainting_sample(SIZE, seed=0)
    io.save_image(tmp_path / "img.png", sample.image)
    io.save_mask(tmp_path / "mask.png", sample.mask)
    io.save_image(tmp_path / "in" / "img.png", sample.image)
    matting = make_matting_sample(SIZE, seed=0)
    io.save_image(tmp_path / "mimg.png", matting.image)
    io.save_trimap(tmp_path / "trimap.png", matting.trimap)
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


# --------------------------------------------------------------------------- existing outputs


EXISTING_OUTPUT_CASES = {
    "inpaint": (["inpaint", "img.png", "--mask", "mask.png", "-o", "out.png"], "out.png"),
    "inpaint batch": (
        ["inpaint", "--input-dir", "in", "--mask", "mask.png", "--output-dir", "outdir"],
        "outdir/img.png",
    ),
    "matte": (["matte", "mimg.png", "--trimap", "trimap.png", "-o", "alpha.png"], "alpha.png"),
    "masks": (["masks", "maskdir", "--count", "1", "--generators", "strokes"], "maskdir"),
    "demo": (["demo", "--out", "demo_out"], "demo_out"),
}


@pytest.mark.parametrize("name", sorted(EXISTING_OUTPUT_CASES))
def test_existing_output_gives_the_overwrite_flag(
    case: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    args, output = EXISTING_OUTPUT_CASES[name]
    if name == "demo":  # a demo result already there (the demo itself takes a while)
        (case / "demo_out").mkdir()
        (case / "demo_out" / "metrics.json").write_text("{}\n")
    else:
        code, _, err = run(capsys, *args)
        assert code == 0, err
    before = snapshot(case)
    code, out, err = run(capsys, *args)
    assert code == 1
    one_error(err, "--overwrite", output)
    assert out == ""
    assert snapshot(case) == before


def test_evaluate_report_exists_gives_the_overwrite_flag(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (case / "alphas").mkdir()
    io.save_image(case / "alphas" / "a.png", make_matting_sample(SIZE, seed=0).alpha)
    (case / "report.json").write_text("{}\n")
    args = ["evaluate", "matting", "--pred-dir", "alphas", "--gt-dir", "alphas",
            "--json", "report.json", "--no-save"]  # fmt: skip
    refused(capsys, case, args, "--overwrite", "report.json")


@pytest.mark.parametrize(
    "args",
    [
        ["masks", "afile", "--count", "1", "--generators", "strokes"],
        ["inpaint", "--input-dir", "in", "--mask", "mask.png", "--output-dir", "afile"],
    ],
    ids=["masks", "inpaint batch"],
)
def test_output_folder_that_is_a_file(
    case: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    # was: "[Errno 17] File exists: 'afile'"
    refused(capsys, case, args, "afile")


def test_unwritable_output_folder_is_one_line(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an OSError is no longer a user error as such: the library says what is wrong instead
    # (the tests run as root, for whom every folder is writable: the check is simulated)
    (case / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(  # the os module that mattepaint.io's writer checks with
        io.write.os, "access", lambda p, mode: Path(p).name != "locked" and real_access(p, mode)
    )
    args = ["inpaint", "img.png", "--mask", "mask.png", "-o", "locked/o.png"]
    refused(capsys, case, args, "locked", "not writable")


# --------------------------------------------------------------------------- inputs of the wrong kind


@pytest.mark.parametrize(
    "args",
    [
        ["inpaint", "in", "--mask", "mask.png", "-o", "out.png"],
        ["inpaint", "img.png", "--mask", "in", "-o", "out.png"],
        ["matte", "mimg.png", "--trimap", "in", "-o", "alpha.png"],
    ],
    ids=["image", "mask", "trimap"],
)
def test_a_folder_given_as_a_file_is_called_a_folder(
    case: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    # was: "image not found: in", though it exists
    line = refused(capsys, case, args, "in", absent=("not found",))
    assert "directory" in line or "folder" in line, line


def test_binary_config_names_the_file(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # was: "'utf-8' codec can't decode byte 0x8f in position 0: invalid start byte"
    (case / "weights.yaml").write_bytes(bytes(range(128, 256)) * 8)
    refused(capsys, case, ["train", "weights.yaml"], "weights.yaml", absent=("codec",))  # no run


@pytest.mark.parametrize("override", ["optim.lrr=0.1", "nonsense=1", "run.max_steps=many"])
def test_bad_set_key_is_not_blamed_on_the_yaml_file(
    case: Path, capsys: pytest.CaptureFixture[str], override: str
) -> None:
    # was: "/.../configs/seed000_unet_inpaint_small.yaml: optim.lrr: unknown key (...)"
    args = ["train", PACKAGED_CONFIG, "--set", override]
    key = override.split("=")[0]
    refused(capsys, case, args, key, override, absent=(f"{PACKAGED_CONFIG}.yaml",))


def test_a_bad_key_in_the_yaml_file_is_blamed_on_the_file(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (case / "mine.yaml").write_text("optim:\n  lrr: 0.1\n")
    code, _, err = run(capsys, "train", "mine.yaml", "--set", "optim.lr=0.01")
    assert code == 1
    one_error(err, "mine.yaml", "optim.lrr", absent=("optim.lr=0.01",))


# --------------------------------------------------------------------------- library wording


@pytest.mark.parametrize(
    "message",
    [
        (
            "3 output file(s) already exist (pass overwrite=True, or --overwrite on the command "
            "line, to replace them): a.png"
        ),
        "out.png already exists; pass overwrite=True (--overwrite on the command line) to replace it",
        "m.onnx already exists; use --overwrite (overwrite=True in Python) to replace it",
        "mask set files already exist: m/0.png; pass overwrite=True to replace them",
    ],
)
def test_python_spelling_becomes_the_flag(message: str) -> None:
    line = command_line_message(OutputExistsError(message))
    assert "overwrite=True" not in line and "in Python" not in line
    assert line.count("--overwrite") == 1, line


def test_an_os_error_17_names_the_folder() -> None:
    line = command_line_message(FileExistsError(17, "File exists", "results"))
    assert "[Errno" not in line and "results" in line and "folder" in line


# --------------------------------------------------------------------------- bugs are not user errors


def test_only_the_projects_own_errors_are_one_line() -> None:
    assert InputError in cli.USER_ERRORS
    assert issubclass(ConfigError, InputError)
    for bug in (TypeError, OSError, RuntimeError, KeyError, AttributeError):
        assert not any(issubclass(bug, caught) for caught in cli.USER_ERRORS), bug


@pytest.mark.parametrize(
    "error",
    [TypeError("unsupported operand type(s) for +: 'int' and 'str'"), PermissionError(13, "x")],
    ids=["TypeError", "OSError"],
)
def test_a_bug_in_the_library_keeps_its_traceback(
    case: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    from mattepaint import methods

    def broken(name: str, **options: object) -> object:
        raise error

    monkeypatch.setattr(methods, "get_inpainter", broken)  # what the resolver calls
    before = snapshot(case)
    with pytest.raises(type(error)):
        cli.main(["inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", "--method", "telea"])
    assert snapshot(case) == before


def test_user_errors_still_exit_1_without_a_traceback(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the narrower USER_ERRORS still catch the library's own errors for bad input
    code, _, err = run(capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "o.png",
                       "--method", "nope")  # fmt: skip
    assert code == 1
    one_error(err, "unknown inpainting method 'nope'", "telea")
    code, _, err = run(capsys, "inpaint", "missing.png", "--mask", "mask.png", "-o", "o.png")
    assert code == 1
    one_error(err, "missing.png")
    assert not os.path.exists(case / "o.png")
