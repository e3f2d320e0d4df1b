"""``mattepaint cutout`` (and ``matte`` without a trimap) through ``main([...])``, the real
``python -m mattepaint`` in a pipe, and the library functions behind them
(:func:`mattepaint.batch.cutout_file` / :func:`~mattepaint.batch.cutout_folder`).

The segmenter is a tiny ONNX graph in MODNet's published format, exported here: its soft mask is
the photo's red channel. The photos are a red disc with a soft edge on a blue background, so the
soft mask is the true alpha and every output can be checked against it.
"""

from __future__ import annotations

import io as bytes_io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli_checks import one_error, run  # tests/reliability/_cli_checks.py
from PIL import Image

from mattepaint import batch, io
from mattepaint.cli import main
from mattepaint.errors import InputError, OutputExistsError
from mattepaint.segmentation import base as segmentation_base

SIZE = (72, 96)  # (H, W)


def disc(shape: tuple[int, int] = SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(photo (H, W, 3), alpha (H, W)): a red disc with a 3-pixel soft edge on noisy blue; the
    red channel equals alpha."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    radius = np.hypot(yy - h / 2 - seed, xx - w / 2 + 2 * seed)
    alpha = np.clip((0.3 * min(h, w) - radius) / 3.0 + 0.5, 0.0, 1.0)
    photo = np.empty((h, w, 3), np.float32)
    photo[..., 0] = alpha
    photo[..., 1] = 0.1 + 0.05 * rng.random((h, w))
    photo[..., 2] = (1 - alpha) * 0.8 + alpha * 0.1
    return photo, alpha


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """tmp_path/photos/{a,b}.png: two discs."""
    for seed, stem in enumerate(("a", "b")):
        io.save_image(tmp_path / "photos" / f"{stem}.png", disc(seed=seed)[0])
    return tmp_path / "photos"


def read(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def refused(code: int, err: str, *needles: str, unwritten: Path) -> None:
    """A user mistake refused before any output: exit status 1, one error line holding every
    needle, and nothing at ``unwritten``."""
    assert code == 1
    one_error(err, *needles)
    assert not unwritten.exists()


def uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


# --------------------------------------------------------------------------- one photo


def test_cutout_writes_rgba_with_the_matte(capsys, photos: Path, segmenter_file: Path) -> None:
    out = photos.parent / "cut.png"
    code, stdout, err = run(
        capsys, "cutout", photos / "a.png", "-o", out, "--segmenter", segmenter_file
    )
    assert code == 0, err
    assert stdout.strip() == f"wrote {out}"
    rgba = read(out)
    _, alpha = disc(seed=0)
    assert rgba.shape == (*SIZE, 4) and rgba.dtype == np.uint8
    # the band matting recovers the disc's alpha (the segmenter already gives it)
    assert np.abs(rgba[..., 3].astype(int) - uint8(alpha).astype(int)).max() <= 26
    assert np.abs(rgba[..., 3] / 255 - alpha).mean() < 0.01
    opaque = rgba[..., 3] == 255  # F = the photo where alpha is 1
    assert opaque.sum() > 1000
    diff = rgba[..., :3][opaque].astype(int) - read(photos / "a.png")[opaque]
    assert np.abs(diff).max() <= 1  # (exactly the photo where alpha is 1 before rounding)
    # library function, same output: the CLI maps its flags one to one
    again = batch.cutout_file(photos / "a.png", photos.parent / "lib.png", segmenter=segmenter_file)
    assert again == {"output": photos.parent / "lib.png"}
    np.testing.assert_array_equal(read(again["output"]), rgba)


def test_only_mask_bg_color_background_and_trimap(
    capsys, photos: Path, segmenter_file: Path
) -> None:
    folder = photos.parent
    seg = ("--segmenter", segmenter_file)
    assert run(capsys, "cutout", photos / "a.png", "-o", folder / "rgba.png", *seg)[0] == 0
    rgba = read(folder / "rgba.png")

    code, _, err = run(
        capsys, "cutout", photos / "a.png", "-o", folder / "m.png", "--only-mask", *seg
    )
    assert code == 0, err
    mask = read(folder / "m.png")
    assert mask.shape == SIZE  # one gray channel
    np.testing.assert_array_equal(mask, rgba[..., 3])

    for name in ("w.png", "w.jpg"):  # RGB: a JPEG is fine
        code, _, err = run(
            capsys, "cutout", photos / "a.png", "-o", folder / name, "--bg-color", "#FFFFFF", *seg
        )
        assert code == 0, err
        assert read(folder / name).shape == (*SIZE, 3)
    white = read(folder / "w.png").astype(int)
    assert (white[mask == 0] == 255).all()  # the background is now white
    assert (np.abs(white[mask == 255] - rgba[..., :3][mask == 255]) <= 12).all()

    plate = np.zeros((36, 48, 3), np.float32)
    plate[..., 1] = 1.0  # green, half the photo's size: scaled up to cover it
    io.save_image(folder / "plate.png", plate)
    code, _, err = run(
        capsys, "cutout", photos / "a.png", "-o", folder / "g.png", "--background",
        folder / "plate.png", "--save-trimap", *seg,
    )  # fmt: skip
    assert code == 0, err
    green = read(folder / "g.png")
    assert green.shape == (*SIZE, 3)
    np.testing.assert_array_equal(green[mask == 0], [[0, 255, 0]] * int((mask == 0).sum()))
    expected = (rgba[..., :3] * (mask[..., None] / 255.0)) + np.array([0, 255, 0]) * (
        1 - mask[..., None] / 255.0
    )
    assert np.abs(green - expected).max() <= 2  # C = alpha F + (1 - alpha) B

    trimap = read(folder / "g_trimap.png")  # a bare --save-trimap: beside the output
    assert trimap.shape == SIZE and set(np.unique(trimap)) == {0, 128, 255}
    _, alpha = disc(seed=0)
    assert (trimap[alpha == 0] != 255).all() and (trimap[alpha == 1] != 0).all()
    assert trimap[SIZE[0] // 2, SIZE[1] // 2] == 255 and trimap[0, 0] == 0


def test_refine_none_and_a_named_trimap(capsys, photos: Path, segmenter_file: Path) -> None:
    folder = photos.parent
    code, _, err = run(
        capsys, "cutout", photos / "b.png", "-o", folder / "raw.png", "--refine", "none",
        "--only-mask", "--save-trimap", folder / "t.bmp", "--segmenter", segmenter_file,
    )  # fmt: skip
    assert code == 0, err
    _, alpha = disc(seed=1)
    # without refinement the matte is the segmenter's soft mask: here the red channel
    # (up to MODNet's resizing to 512 px and back)
    assert np.abs(read(folder / "raw.png").astype(int) - uint8(alpha)).max() <= 16
    assert np.abs(read(folder / "raw.png") / 255 - alpha).mean() < 0.005
    assert set(np.unique(read(folder / "t.bmp"))) <= {0, 128, 255}

    code, _, err = run(
        capsys, "cutout", photos / "b.png", "-o", folder / "x.png", "--refine", "magic",
        "--segmenter", segmenter_file,
    )  # fmt: skip
    assert code == 1
    one_error(err, "magic", "closed_form")
    code, _, err = run(
        capsys, "cutout", photos / "b.png", "-o", folder / "x.png", "--save-trimap", folder / "t.jpg",
        "--segmenter", segmenter_file,
    )  # fmt: skip
    refused(code, err, "t.jpg", "lossless", unwritten=folder / "x.png")


def test_check_with_keeps_an_agreeing_specialist(capsys, photos: Path, segmenter_file) -> None:
    folder = photos.parent
    common = ("--refine", "none", "--only-mask", "--segmenter", segmenter_file)
    assert run(capsys, "cutout", photos / "a.png", "-o", folder / "plain.png", *common)[0] == 0
    code, _, err = run(
        capsys, "cutout", photos / "a.png", "-o", folder / "gated.png", *common,
        "--check-with", segmenter_file, "--min-agreement", "0.9",
    )  # fmt: skip
    assert code == 0, err
    np.testing.assert_array_equal(read(folder / "gated.png"), read(folder / "plain.png"))


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--min-agreement", "0.5"), "--check-with"),
        (("--check-with", "late_fusion_effnet_cutout", "--min-agreement", "1.5"), "[0, 1]"),
    ],
)
def test_check_with_mistakes_are_usage_errors(capsys, photos: Path, args, needle: str) -> None:
    out = photos.parent / "x.png"
    code, _, err = run(capsys, "cutout", photos / "a.png", "-o", out, *args)
    assert code == 2
    one_error(err, needle)
    assert not out.exists()


# --------------------------------------------------------------------------- folders


def test_folder_writes_one_rgba_per_photo(capsys, photos: Path, segmenter_file: Path) -> None:
    out = photos.parent / "out"
    code, stdout, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", out, "--save-trimap",
        "--segmenter", segmenter_file, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert stdout.strip() == f"wrote 4 files to {out}"
    assert sorted(p.name for p in out.iterdir()) == [
        "a.png",
        "a_trimap.png",
        "b.png",
        "b_trimap.png",
    ]
    single = photos.parent / "single.png"
    batch.cutout_file(photos / "b.png", single, segmenter=segmenter_file)
    np.testing.assert_array_equal(read(out / "b.png"), read(single))
    assert read(out / "a.png").shape == (*SIZE, 4)


def test_folder_backgrounds_matched_by_stem(capsys, photos: Path, segmenter_file: Path) -> None:
    plates = photos.parent / "plates"
    for stem, colour in (("a", (1.0, 0.0, 0.0)), ("b", (0.0, 0.0, 1.0))):
        plate = np.empty((30, 200, 3), np.float32)  # another aspect ratio: scaled, middle kept
        plate[...] = colour
        io.save_image(plates / f"{stem}.png", plate)
    out = photos.parent / "out"
    code, _, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", out, "--background", plates,
        "--segmenter", segmenter_file, "--only-mask",
    )  # fmt: skip
    assert code == 2
    one_error(err, "--only-mask")
    code, _, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", out, "--background", plates,
        "--segmenter", segmenter_file,
    )  # fmt: skip
    assert code == 0, err
    a, b = read(out / "a.png"), read(out / "b.png")
    assert a.shape == b.shape == (*SIZE, 3)
    np.testing.assert_array_equal(a[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(b[0, 0], [0, 0, 255])
    (plates / "b.png").unlink()
    code, _, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", photos.parent / "o2",
        "--background", plates, "--segmenter", segmenter_file,
    )  # fmt: skip
    refused(code, err, "no background", "b", unwritten=photos.parent / "o2")


def test_folder_with_a_bad_last_photo_writes_nothing(
    capsys, photos: Path, segmenter_file: Path
) -> None:
    data = (photos / "b.png").read_bytes()
    (photos / "z.png").write_bytes(data[: len(data) // 2])  # truncated: the header is intact
    out = photos.parent / "out"
    code, _, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", out, "--segmenter", segmenter_file
    )
    refused(code, err, "z.png", unwritten=out)  # the folder made for the outputs removed too


def test_folder_photo_without_a_subject_writes_nothing(
    capsys, photos: Path, segmenter_file: Path
) -> None:
    empty = np.zeros((*SIZE, 3), np.float32)
    empty[..., 2] = 0.7  # no red: the segmenter finds nothing
    io.save_image(photos / "c.png", empty)
    out = photos.parent / "out"
    out.mkdir()
    code, _, err = run(
        capsys, "cutout", "--input-dir", photos, "--output-dir", out, "--segmenter", segmenter_file
    )
    assert code == 1
    one_error(err, "found no subject")
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- pipes


def test_standard_input_to_standard_output(photos: Path, segmenter_file: Path) -> None:
    reference = photos.parent / "ref.png"
    batch.cutout_file(photos / "a.png", reference, segmenter=segmenter_file)
    buffer = bytes_io.BytesIO()
    Image.fromarray(uint8(disc(seed=0)[0])).save(buffer, "JPEG", quality=100)
    jpeg = buffer.getvalue()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mattepaint", "cutout", "-", "-o", "-"]
    result = subprocess.run(
        [*command, "--segmenter", str(segmenter_file)],
        check=False, input=jpeg, capture_output=True, cwd=photos.parent, env=env, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    with Image.open(bytes_io.BytesIO(result.stdout)) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.size == (SIZE[1], SIZE[0])
        alpha = np.asarray(im)[..., 3].astype(int)
    assert np.abs(alpha - read(reference)[..., 3]).mean() < 3  # a JPEG of the same photo

    # a PNG file in, the PNG bytes out: the same as writing the file
    result = subprocess.run(
        [*command, "--segmenter", str(segmenter_file)],
        input=(photos / "a.png").read_bytes(), capture_output=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    np.testing.assert_array_equal(read(bytes_io.BytesIO(result.stdout)), read(reference))

    # garbage in: one line naming standard input, nothing on standard output
    result = subprocess.run(
        [*command, "--segmenter", str(segmenter_file)],
        input=b"not an image", capture_output=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == b""
    one_error(result.stderr.decode(), "standard input")
    assert "/tmp" not in result.stderr.decode() and "stdin." not in result.stderr.decode()


def test_standard_output_with_a_trimap_file(
    capsys, photos: Path, segmenter_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = bytes_io.BytesIO()

    class FakeStdout:
        buffer = sink

        def isatty(self) -> bool:
            return False

        def write(self, text: str) -> int:
            raise AssertionError(f"text on standard output: {text!r}")

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", FakeStdout())
    code = main(
        ["cutout", str(photos / "a.png"), "-o", "-", "--save-trimap", str(photos.parent / "t.png"),
         "--segmenter", str(segmenter_file)]
    )  # fmt: skip
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert code == 0, err
    assert err.strip() == f"wrote {photos.parent / 't.png'}"  # on stderr: stdout holds the PNG
    assert read(bytes_io.BytesIO(sink.getvalue())).shape == (*SIZE, 4)
    assert read(photos.parent / "t.png").shape == SIZE


# --------------------------------------------------------------------------- errors


def test_no_segmenter_uses_the_shipped_one(capsys, photos: Path) -> None:
    code, _, err = run(
        capsys, "cutout", photos / "a.png", "-o", photos.parent / "x.png", "--refine", "none"
    )
    assert code == 0, err
    assert read(photos.parent / "x.png").shape == (*SIZE, 4)


def test_no_default_segmenter_is_one_clear_line(capsys, photos: Path, monkeypatch) -> None:
    monkeypatch.setattr(segmentation_base, "_SEGMENTERS", {})  # an install without the model
    code, out, err = run(capsys, "cutout", photos / "a.png", "-o", photos.parent / "x.png")
    assert out == ""
    refused(code, err, "--segmenter FILE", "U2-Net", "MODNet", unwritten=photos.parent / "x.png")
    with pytest.raises(InputError, match="segmenter="):
        batch.cutout_file(photos / "a.png", photos.parent / "x.png")


def test_bad_onnx_file_is_one_line(capsys, photos: Path) -> None:
    bad = photos.parent / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a model" * 10)
    out = photos.parent / "x.png"
    code, _, err = run(capsys, "cutout", photos / "a.png", "-o", out, "--segmenter", bad)
    assert code == 1
    one_error(err, "bad.onnx")
    code, _, err = run(capsys, "cutout", photos / "a.png", "-o", out, "--segmenter", "nope.onnx")
    refused(code, err, "nope.onnx", "not found", unwritten=out)


def test_existing_output_is_refused_and_unchanged(
    capsys, photos: Path, segmenter_file: Path
) -> None:
    out = photos.parent / "cut.png"
    out.write_bytes(b"keep me")
    args = ("cutout", photos / "a.png", "-o", out, "--segmenter", segmenter_file)
    code, _, err = run(capsys, *args)
    assert code == 1
    one_error(err, "cut.png", "--overwrite")
    assert out.read_bytes() == b"keep me"
    with pytest.raises(OutputExistsError):
        batch.cutout_file(photos / "a.png", out, segmenter=segmenter_file)
    assert run(capsys, *args, "--overwrite")[0] == 0
    assert read(out).shape == (*SIZE, 4)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--only-mask", "--bg-color", "white"), "--only-mask"),
        (("--bg-color", "white", "--background", "p.png"), "not both"),
        (("--output-dir", "o"), "single-image"),
    ],
)
def test_conflicting_flags_are_usage_errors(capsys, photos: Path, args, needle: str) -> None:
    code, _, err = run(capsys, "cutout", photos / "a.png", "-o", photos.parent / "x.png", *args)
    assert code == 2
    one_error(err, needle)


def test_bad_colour_and_rgba_to_jpeg(capsys, photos: Path, segmenter_file: Path) -> None:
    folder = photos.parent
    seg = ("--segmenter", segmenter_file)
    code, _, err = run(
        capsys, "cutout", photos / "a.png", "-o", folder / "x.png", "--bg-color", "mauvish", *seg
    )
    assert code == 1
    one_error(err, "mauvish")
    code, _, err = run(capsys, "cutout", photos / "a.png", "-o", folder / "x.jpg", *seg)
    assert code == 1
    one_error(err, "x.jpg", "alpha channel")


# --------------------------------------------------------------------------- matte


def test_matte_without_trimap_runs_the_cutout(
    capsys, photos: Path, segmenter_file: Path, monkeypatch
) -> None:
    folder = photos.parent
    code, _, err = run(capsys, "matte", photos / "a.png", "-o", folder / "shipped.png")
    assert code == 0, err  # the shipped segmenter
    assert read(folder / "shipped.png").shape == SIZE
    with monkeypatch.context() as patch:
        patch.setattr(segmentation_base, "_SEGMENTERS", {})  # an install without the model
        code, _, err = run(capsys, "matte", photos / "a.png", "-o", folder / "alpha.png")
    assert code == 1
    one_error(err, "--segmenter")
    code, out, err = run(
        capsys, "matte", photos / "a.png", "-o", folder / "alpha.png", "--segmenter",
        segmenter_file, "--cutout",
    )  # fmt: skip
    assert code == 0, err
    assert out.split() == [
        "wrote",
        str(folder / "alpha.png"),
        "wrote",
        str(folder / "alpha_cutout.png"),
    ]
    batch.cutout_file(photos / "a.png", folder / "ref.png", segmenter=segmenter_file)
    reference = read(folder / "ref.png")
    np.testing.assert_array_equal(read(folder / "alpha.png"), reference[..., 3])
    np.testing.assert_array_equal(read(folder / "alpha_cutout.png"), reference)
    # --method names the matting of the band
    code, _, err = run(
        capsys, "matte", photos / "a.png", "-o", folder / "knn.png", "--segmenter",
        segmenter_file, "--method", "knn",
    )  # fmt: skip
    assert code == 0, err
    assert read(folder / "knn.png").shape == SIZE
    # folders go through the cutout command; a trimap and a segmenter do not mix
    code, _, err = run(
        capsys, "matte", "--input-dir", photos, "--output-dir", folder / "o", "--segmenter",
        segmenter_file,
    )  # fmt: skip
    assert code == 2
    one_error(err, "cutout --input-dir")
    code, _, err = run(
        capsys, "matte", photos / "a.png", "--trimap", photos / "b.png", "-o", folder / "t.png",
        "--segmenter", segmenter_file,
    )  # fmt: skip
    assert code == 2
    one_error(err, "neither --trimap nor --background")


# --------------------------------------------------------------------------- real model


def test_real_u2netp_on_gt01(capsys, shared_data: Path, tmp_path: Path) -> None:
    weights = shared_data / "weights" / "u2netp.onnx"
    image = shared_data / "alphamatting" / "Training" / "Images" / "GT01.png"
    truth = shared_data / "alphamatting" / "Training" / "GroundTruth" / "GT01.png"
    if not (weights.is_file() and image.is_file() and truth.is_file()):
        pytest.skip("u2netp.onnx or alphamatting GT01 not found")
    code, _, err = run(
        capsys, "cutout", image, "-o", tmp_path / "gt01.png", "--segmenter", weights,
        "--save-trimap",
    )  # fmt: skip
    assert code == 0, err
    alpha = read(tmp_path / "gt01.png")[..., 3] / 255.0
    true = io.load_alpha(truth)
    found, wanted = alpha > 0.5, true > 0.5
    iou = (found & wanted).sum() / (found | wanted).sum()
    assert iou > 0.85, iou
    assert set(np.unique(read(tmp_path / "gt01_trimap.png"))) == {0, 128, 255}
