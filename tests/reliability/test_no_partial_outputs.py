"""Issue 13, item 2: a batch writes all its outputs or none.

Each case runs the command line in-process (``mattepaint.cli.main``) on a folder whose LAST input
is bad in a way only a full decode can see (the header is fine), or on an output name that cannot
hold what goes there, and checks: exit status 1, exactly one line on stderr naming the file, no
output written (nor a temporary file, nor the output folder), existing files unchanged; and that
the same command works once the file is fixed. The library-level cases check
:class:`mattepaint.io.StagedOutputs` and a method that fails half-way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli_checks import one_error, run  # tests/reliability/_cli_checks.py

from mattepaint import batch, io
from mattepaint.errors import InputError, OutputExistsError

SIZE = 32


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) -> sha256 of its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _disk(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """image (H, W, 3), hole mask (H, W) bool, trimap (H, W) in {0, 0.5, 1} of a soft disk."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
    alpha = np.clip(9.5 - radius, 0, 1)[..., None]
    image = alpha * np.array([0.9, 0.3, 0.1]) + (1 - alpha) * rng.random((SIZE, SIZE, 3)) * 0.5
    mask = np.zeros((SIZE, SIZE), bool)
    mask[10:20, 8:22] = True
    trimap = np.full((SIZE, SIZE), 0.5, np.float32)
    trimap[radius < 6] = 1.0
    trimap[radius > 12] = 0.0
    return image.astype(np.float32), mask, trimap


@pytest.fixture
def folders(tmp_path: Path, rng: np.random.Generator) -> Path:
    """tmp_path/images/{a,b,c}.jpg, masks/{a,b,c}.png, trimaps/{a,b,c}.png; all valid."""
    for stem in ("a", "b", "c"):
        image, mask, trimap = _disk(rng)
        io.save_image(tmp_path / "images" / f"{stem}.jpg", image)
        io.save_mask(tmp_path / "masks" / f"{stem}.png", mask)
        io.save_trimap(tmp_path / "trimaps" / f"{stem}.png", trimap)
    return tmp_path


def _truncate(path: Path) -> bytes:
    """Cut the end off ``path`` (its header intact); return the original bytes."""
    data = path.read_bytes()
    cut = 20 if path.suffix == ".png" else int(len(data) * 0.4)  # a PNG mask is ~100 bytes
    path.write_bytes(data[: len(data) - cut])
    assert io.read_image_size(path) == (SIZE, SIZE)  # the header alone still reads
    return data


INPAINT = ("inpaint", "--input-dir", "images", "--mask-dir", "masks", "--output-dir", "out")
MATTE = ("matte", "--input-dir", "images", "--trimap-dir", "trimaps", "--output-dir", "out")


@pytest.fixture
def workdir(folders: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(folders)
    return folders


# --------------------------------------------------------------------------- folders via the CLI


def test_truncated_jpeg_last_writes_nothing_and_rerun_works(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = _truncate(workdir / "images" / "c.jpg")
    code, out, err = run(capsys, *INPAINT, "--no-progress")
    assert code == 1 and out == ""
    one_error(err, "c.jpg", "truncated")
    assert not (workdir / "out").exists()  # not even the folder

    (workdir / "images" / "c.jpg").write_bytes(original)
    code, out, err = run(capsys, *INPAINT, "--no-progress")
    assert code == 0, err
    assert sorted(snapshot(workdir / "out")) == ["a.png", "b.png", "c.png"]


def test_bad_trimap_values_last_writes_nothing_and_rerun_works(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trimap_path = workdir / "trimaps" / "c.png"
    good = trimap_path.read_bytes()
    values = np.round(io.load_trimap(trimap_path) * 255).astype(np.uint8)
    values[:3, :3] = 60  # neither 0, 128 nor 255
    io.save_image(trimap_path, values[..., None], overwrite=True)
    code, out, err = run(capsys, *MATTE, "--foreground", "--cutout", "--no-progress")
    assert code == 1 and out == ""
    one_error(err, "c.png", "values other than 0/128/255")
    assert not (workdir / "out").exists()

    trimap_path.write_bytes(good)
    code, _, err = run(capsys, *MATTE, "--foreground", "--cutout", "--no-progress")
    assert code == 0, err
    assert len(snapshot(workdir / "out")) == 9  # alpha, _fg, _cutout for each of 3


@pytest.mark.parametrize(
    ("save", "folder", "value", "command", "message"),
    [
        (io.save_trimap, "trimaps", np.full((SIZE, SIZE), 0.5), MATTE, "all unknown"),
        (io.save_mask, "masks", np.ones((SIZE, SIZE), bool), INPAINT, "covers the whole image"),
    ],
    ids=["all_unknown_trimap", "whole_image_mask"],
)
def test_degenerate_last_input_writes_nothing(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    save: Callable[..., Path],
    folder: str,
    value: np.ndarray,
    command: tuple[str, ...],
    message: str,
) -> None:
    save(workdir / folder / "c.png", value, overwrite=True)
    code, _, err = run(capsys, *command, "--no-progress")
    assert code == 1
    one_error(err, "c.png", message)
    assert not (workdir / "out").exists()


def test_failure_with_overwrite_leaves_existing_outputs_unchanged(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *INPAINT, "--no-progress")
    assert code == 0, err
    before = snapshot(workdir / "out")
    (workdir / "out" / "notes.txt").write_text("mine")  # a file of the user's, in the folder
    before = snapshot(workdir / "out")
    _truncate(workdir / "images" / "c.jpg")
    code, _, err = run(capsys, *INPAINT, "--overwrite", "--no-progress")
    assert code == 1
    one_error(err, "c.jpg")
    assert snapshot(workdir / "out") == before  # a.png, b.png not replaced; no temporary left


def test_existing_output_refused_before_any_work(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "out").mkdir()
    (workdir / "out" / "c.png").write_bytes(b"precious")
    code, _, err = run(capsys, *INPAINT, "--no-progress")
    assert code == 1
    one_error(err, "already exist", "c.png", "--overwrite")
    assert snapshot(workdir / "out") == {"c.png": hashlib.sha256(b"precious").hexdigest()}


# --------------------------------------------------------------------------- one image via the CLI


def test_matte_checks_every_output_name_before_writing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("matte", "images/a.jpg", "--trimap", "trimaps/a.png", "-o", "alpha.png")
    code, _, err = run(capsys, *args, "--cutout", "cut.jpg")  # JPEG has no alpha channel
    assert code == 1
    one_error(err, "cut.jpg", "cannot store an alpha channel", ".png")
    code, _, err = run(capsys, *args, "--foreground", "fg.txt")
    assert code == 1
    one_error(err, "fg.txt", "unsupported suffix")
    (workdir / "afile").write_text("x")
    code, _, err = run(capsys, *args, "--cutout", "afile/cut.png")
    assert code == 1
    one_error(err, "afile", "not a folder")
    assert not (workdir / "alpha.png").exists()
    assert sorted(p.name for p in workdir.iterdir() if p.is_file()) == ["afile"]

    code, _out, err = run(capsys, *args, "--cutout", "cut.png", "--foreground", "fg.png")
    assert code == 0, err
    assert {"alpha.png", "cut.png", "fg.png"} <= {p.name for p in workdir.iterdir()}


def test_single_inpaint_truncated_mask_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _truncate(workdir / "masks" / "a.png")
    code, _, err = run(capsys, "inpaint", "images/a.jpg", "--mask", "masks/a.png", "-o", "o.png")
    assert code == 1
    one_error(err, "a.png")
    assert not (workdir / "o.png").exists()


# --------------------------------------------------------------------------- the library


class _FailsOnSecond:
    """An Inpainter that fills with grey and fails on its second call (a method error)."""

    name = "fails_on_second"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("out of memory (simulated)")
        return torch.where(mask > 0.5, torch.full_like(image, 0.5), image)


def test_method_failure_half_way_writes_nothing(folders: Path) -> None:
    out = folders / "nested" / "out"
    with pytest.raises(RuntimeError, match="simulated"):
        batch.inpaint_folder(
            folders / "images", folders / "masks", out, method=_FailsOnSecond(), progress=False
        )
    assert not (folders / "nested").exists()  # folders made for the outputs are removed too


def test_staged_outputs_all_or_nothing(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(KeyboardInterrupt), io.StagedOutputs() as staged:
        staged.save_image(tmp_path / "new" / "a.png", image)
        assert not (tmp_path / "new" / "a.png").exists()  # only at the end
        raise KeyboardInterrupt
    assert snapshot(tmp_path) == {} and not (tmp_path / "new").exists()

    with io.StagedOutputs() as staged:
        staged.save_image(tmp_path / "a.png", image)
        staged.save_image(tmp_path / "b.jpg", image)
    assert sorted(snapshot(tmp_path)) == ["a.png", "b.jpg"]
    assert (tmp_path / "a.png").stat().st_mode & 0o044  # readable by others, like a normal file

    with pytest.raises(OutputExistsError, match="a.png already exists"), io.StagedOutputs() as out:
        out.save_image(tmp_path / "a.png", image)
    with pytest.raises(InputError, match="unsupported suffix"), io.StagedOutputs() as staged:
        staged.save_image(tmp_path / "c.txt", image)
    assert sorted(snapshot(tmp_path)) == ["a.png", "b.jpg"]


def test_target_appearing_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    image = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(OutputExistsError, match="appeared while"), io.StagedOutputs() as staged:
        staged.save_image(tmp_path / "a.png", image)
        staged.save_image(tmp_path / "b.png", image)
        (tmp_path / "b.png").write_bytes(b"someone else's")
    assert snapshot(tmp_path) == {"b.png": hashlib.sha256(b"someone else's").hexdigest()}
