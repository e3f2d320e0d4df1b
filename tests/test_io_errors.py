"""Bad input to mattepaint.io: every case raises (or warns) with a message saying what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mattepaint import io


def _png(path: Path, values: np.ndarray) -> Path:
    Image.fromarray(values).save(path)
    return path


# ------------------------------------------------------------------------------ reading


@pytest.mark.parametrize("loader", [io.load_image, io.load_alpha, io.load_mask, io.load_trimap])
def test_missing_file(tmp_path: Path, loader) -> None:
    with pytest.raises(FileNotFoundError, match=r"not found: .*nope\.png"):
        loader(tmp_path / "nope.png")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        io.load_image(tmp_path)


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_text("this is text")
    with pytest.raises(ValueError, match=r"cannot read image .*a\.jpg"):
        io.load_image(tmp_path / "a.jpg")


def test_truncated_png(tmp_path: Path, rng: np.random.Generator) -> None:
    path = _png(tmp_path / "a.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*a\.png"):
        io.load_image(path)


def test_corrupt_16bit_tiff(tmp_path: Path) -> None:
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.zeros((32, 32, 3), np.uint16), photometric="rgb")
    data = (tmp_path / "a.tif").read_bytes()
    (tmp_path / "a.tif").write_bytes(data[:300])  # header intact, pixel data cut off
    with pytest.raises(ValueError, match="cannot read image"):
        io.load_image(tmp_path / "a.tif")


def test_list_images_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        io.list_images(tmp_path / "missing")
    (tmp_path / "f.png").write_bytes(b"")
    with pytest.raises(ValueError, match="expected a folder"):
        io.list_images(tmp_path / "f.png")


def test_path_type() -> None:
    with pytest.raises(TypeError, match="str or Path"):
        io.load_image(123)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ sizes


def test_size_mismatch_message() -> None:
    with pytest.raises(ValueError, match=r"^mask size 64x48 does not match image size 64x64$"):
        io.check_same_size(np.zeros((64, 64, 3)), np.zeros((48, 64)))


@pytest.mark.parametrize(
    ("loader", "kind"),
    [(io.load_mask, "mask"), (io.load_trimap, "trimap"), (io.load_alpha, "alpha matte")],
)
def test_like_mismatch(tmp_path: Path, loader, kind: str) -> None:
    path = _png(tmp_path / "m.png", np.zeros((48, 64), np.uint8))
    expected = rf"{kind} size 64x48 does not match image size 64x64 \(.*m\.png\)"
    with pytest.raises(ValueError, match=expected):
        loader(path, like=np.zeros((64, 64, 3)))


def test_check_same_size_bad_input() -> None:
    with pytest.raises(TypeError, match=r"\(H, W\) tuple"):
        io.check_same_size((1, 2, 3), (1, 2))
    with pytest.raises(ValueError, match="at least 2 dims"):
        io.check_same_size(np.zeros(3), (1, 2))


# ------------------------------------------------------------------------------ masks and trimaps


def test_trimap_bad_values_named(tmp_path: Path) -> None:
    values = np.zeros((10, 10), np.uint8)
    values[0, :3] = 37
    values[1, :4] = 200
    values[2, 0] = 138  # within tolerance 10 of 128: fine
    path = _png(tmp_path / "t.png", values)
    with pytest.raises(
        ValueError,
        match=r"trimap .*t\.png has values other than 0/128/255 \(tolerance 10\): "
        r"37, 200 \(7 pixels\)",
    ):
        io.load_trimap(path)
    with pytest.raises(ValueError, match=r"\(tolerance 5\): 37, 138, 200 \(8 pixels\)"):
        io.load_trimap(path, tolerance=5)


def test_trimap_lists_at_most_eight_values(tmp_path: Path) -> None:
    path = _png(tmp_path / "t.png", np.arange(30, 50, dtype=np.uint8)[None])
    expected = r": 30, 31, 32, 33, 34, 35, 36, 37, \.\.\. \(20 distinct values\) \(20 pixels\)$"
    with pytest.raises(ValueError, match=expected):
        io.load_trimap(path)


def test_bad_threshold_and_tolerance(tmp_path: Path) -> None:
    path = _png(tmp_path / "m.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="threshold must be in 0..254"):
        io.load_mask(path, threshold=255)
    with pytest.raises(ValueError, match="tolerance must be in 0..63"):
        io.load_trimap(path, tolerance=64)


def test_transparent_mask_alpha_warns(tmp_path: Path) -> None:
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = 255
    Image.fromarray(la, mode="LA").save(tmp_path / "m.png")
    with pytest.warns(UserWarning, match="alpha channel, which is ignored"):
        assert io.load_mask(tmp_path / "m.png").all()


def test_save_mask_rejects_non_binary_and_lossy(tmp_path: Path) -> None:
    expected = r"only 0 and 1, got 1 pixels with other values \(range 0\.\.255\)"
    with pytest.raises(ValueError, match=expected):
        io.save_mask(tmp_path / "m.png", np.array([[0, 1, 255]], np.uint8))
    with pytest.raises(ValueError, match=r"unsupported suffix '\.jpg'"):
        io.save_mask(tmp_path / "m.jpg", np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="one channel"):
        io.save_mask(tmp_path / "m.png", np.zeros((2, 2, 3), bool))
    assert list(tmp_path.iterdir()) == []


def test_save_trimap_rejects_other_values(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"only 0, 0.5 and 1, got 0.25, 128 \(2 pixels\)"):
        io.save_trimap(tmp_path / "t.png", np.array([[0, 0.25, 0.5, 128]]))
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ saving


def test_unsupported_suffix_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unsupported suffix '\.xyz'"):
        io.save_image(tmp_path / "a.xyz", np.zeros((2, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_failure_inside_encoder_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_save(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        io.save_image(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_path(path, overwrite=True) as temp:
        temp.write_text("new, half")
        raise RuntimeError
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError, match=r"already exists; pass overwrite=True \(--overwrite"):
        io.save_image(path, np.zeros((2, 2), np.float32))
    with pytest.raises(FileExistsError, match="overwrite"):
        io.save_mask(path, np.zeros((2, 2), bool))
    assert path.read_bytes() == b"keep"
    assert list(tmp_path.iterdir()) == [path]


def test_save_into_directory(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        io.save_image(tmp_path / "d.png", np.zeros((2, 2), np.float32), overwrite=True)


def test_bit_depth_errors(tmp_path: Path) -> None:
    image = np.zeros((2, 2, 3), np.float32)
    expected = r"bit_depth 16 needs one of .png, .tif, .tiff, got '\.jpg'"
    with pytest.raises(ValueError, match=expected):
        io.save_image(tmp_path / "a.jpg", image, bit_depth=16)
    with pytest.raises(ValueError, match="bit_depth must be 8 or 16, got 12"):
        io.save_image(tmp_path / "a.png", image, bit_depth=12)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (np.zeros((2, 2, 2), np.float32), ValueError, r"1, 3 or 4 channels, got shape \(2, 2, 2\)"),
        (np.zeros((1, 2, 2, 3)), ValueError, r"\(H, W\) or \(H, W, C\), got shape \(1, 2, 2, 3\)"),
        (np.zeros((0, 4, 3), np.float32), ValueError, "empty image"),
        (np.zeros((2, 2), np.int64), TypeError, r"bool, uint8 or uint16, got int64"),
        (np.full((2, 2), np.nan, np.float32), ValueError, "NaN"),
        (torch.zeros(2, 3, 4, 4), ValueError, "one image, got batch"),
        (torch.zeros(4, 4), ValueError, r"\(C, H, W\) or \(1, C, H, W\)"),
        ([[0.0, 1.0]], TypeError, "numpy array or a torch tensor, got list"),
    ],
)
def test_save_image_bad_arrays(tmp_path: Path, image, error, match) -> None:
    with pytest.raises(error, match=match):
        io.save_image(tmp_path / "a.png", image)
    assert list(tmp_path.iterdir()) == []


def test_jpeg_alpha(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JPEG cannot store an alpha channel"):
        io.save_image(tmp_path / "a.jpg", np.zeros((2, 2, 4), np.float32))


def test_out_of_range_floats_warn_and_clip(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"values in -0.5..1.5, outside \[0, 1\]"):
        io.save_image(tmp_path / "a.png", np.array([[-0.5, 0.5, 1.5]], np.float32))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), [[0, 128, 255]])


def test_tiny_overshoot_does_not_warn(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    io.save_image(tmp_path / "a.png", np.array([[-1e-6, 1 + 1e-6]], np.float32))
    assert len(recwarn) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), [[0, 255]])


# ------------------------------------------------------------------------------ tensors


def test_to_tensor_errors() -> None:
    with pytest.raises(ValueError, match=r"\(H, W, C\) array, got shape \(1, 2, 3, 4\)"):
        io.to_tensor(np.zeros((1, 2, 3, 4)))
    with pytest.raises(TypeError, match="numpy array, got Tensor"):
        io.to_tensor(torch.zeros(2, 2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got int64"):
        io.to_tensor(np.zeros((2, 2), np.int64))


def test_to_numpy_errors() -> None:
    with pytest.raises(ValueError, match="batch of 2"):
        io.to_numpy(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"got \(4, 4\)"):
        io.to_numpy(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="torch tensor, got ndarray"):
        io.to_numpy(np.zeros((1, 3, 2, 2)))  # type: ignore[arg-type]
