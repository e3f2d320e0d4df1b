"""Tests for mattepaint.io: round trips, pixel formats, orientation, masks, trimaps, atomic writes.

Bad input (errors and warnings) is tested in test_io_errors.py.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageOps

from mattepaint.io import (
    atomic_path,
    check_same_size,
    list_images,
    load_alpha,
    load_image,
    load_mask,
    load_rgba,
    load_trimap,
    save_image,
    save_mask,
    save_trimap,
    to_numpy,
    to_tensor,
)
from mattepaint.io import read as io_read

EXIF_ORIENTATION = 0x0112


def _png_with_exif_orientation(png: bytes, orientation: int) -> bytes:
    """Insert an eXIf chunk holding the orientation tag before the first IDAT chunk."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    payload = exif.tobytes()
    payload = payload[6:] if payload.startswith(b"Exif\x00\x00") else payload
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF)
    at = png.index(b"IDAT") - 4  # the chunk starts with its 4-byte length
    return png[:at] + chunk + png[at:]


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------------------ images


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_round_trip_8bit_exact(tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    pixels = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    path = save_image(tmp_path / f"a{suffix}", pixels.astype(np.float32) / 255)
    assert path == tmp_path / f"a{suffix}"
    loaded = load_image(path)
    assert loaded.dtype == np.float32 and loaded.shape == (7, 9, 3)
    np.testing.assert_array_equal(np.round(loaded * 255).astype(np.uint8), pixels)
    # an independent reader sees the same pixels, in RGB order
    np.testing.assert_array_equal(np.asarray(Image.open(path).convert("RGB")), pixels)


def test_float_rounding_is_round_x_times_255(tmp_path: Path) -> None:
    image = np.array([[0.0, 0.5, 1.0, 0.2], [0.001, 0.999, 0.3, 0.7]], dtype=np.float32)
    save_image(tmp_path / "g.png", image)
    stored = np.asarray(Image.open(tmp_path / "g.png"))
    np.testing.assert_array_equal(stored, np.round(image * 255).astype(np.uint8))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_round_trip_16bit_rgb_exact(tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    pixels = rng.integers(0, 65536, size=(6, 5, 3), dtype=np.uint16)
    path = save_image(tmp_path / f"a{suffix}", pixels, bit_depth=16)
    # independent reader: OpenCV gives BGR uint16
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16
    np.testing.assert_array_equal(stored[..., ::-1], pixels)
    loaded = load_image(path)
    np.testing.assert_array_equal(loaded, pixels.astype(np.float32) / np.float32(65535))
    np.testing.assert_array_equal(np.round(loaded.astype(np.float64) * 65535), pixels)


def test_float_round_trip_16bit(tmp_path: Path, rng: np.random.Generator) -> None:
    image = rng.random((5, 4, 3), dtype=np.float32)
    loaded = load_image(save_image(tmp_path / "a.png", image, bit_depth=16))
    assert np.abs(loaded - image).max() <= 0.5 / 65535 + 1e-7


def test_load_16bit_rgb_tiff_from_tifffile(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 65536, size=(4, 6, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", pixels, photometric="rgb")
    np.testing.assert_array_equal(load_image(tmp_path / "a.tif") * 65535, pixels.astype(np.float32))


def test_load_16bit_planar_tiff(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 65536, size=(3, 4, 6), dtype=np.uint16)  # (C, H, W) on disk
    tifffile.imwrite(tmp_path / "a.tif", pixels, photometric="rgb", planarconfig="separate")
    loaded = load_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(np.round(loaded * 65535), np.moveaxis(pixels, 0, -1))


def test_load_16bit_rgba_png_keeps_alpha(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 65536, size=(4, 5, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA))
    rgb, alpha = load_rgba(tmp_path / "a.png")
    np.testing.assert_array_equal(np.round(rgb * 65535), pixels[..., :3])
    np.testing.assert_array_equal(np.round(alpha * 65535), pixels[..., 3])


def test_load_16bit_gray_replicated(tmp_path: Path, rng: np.random.Generator) -> None:
    gray = rng.integers(0, 65536, size=(5, 6), dtype=np.uint16)
    Image.fromarray(gray).save(tmp_path / "g.png")  # Pillow writes mode I;16
    image = load_image(tmp_path / "g.png")
    assert image.shape == (5, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(np.round(image[..., c] * 65535), gray)
    np.testing.assert_array_equal(np.round(load_alpha(tmp_path / "g.png") * 65535), gray)


def test_rgba_round_trip_keeps_alpha(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 256, size=(5, 7, 4), dtype=np.uint8)
    save_image(tmp_path / "a.png", pixels)
    rgb, alpha = load_rgba(tmp_path / "a.png")
    assert rgb.shape == (5, 7, 3) and alpha.shape == (5, 7)
    np.testing.assert_array_equal(np.round(rgb * 255), pixels[..., :3])
    np.testing.assert_array_equal(np.round(alpha * 255), pixels[..., 3])
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), rgb)  # alpha dropped


def test_rgb_file_has_no_alpha(tmp_path: Path) -> None:
    save_image(tmp_path / "a.png", np.zeros((3, 4, 3), np.float32))
    assert load_rgba(tmp_path / "a.png")[1] is None


@pytest.mark.parametrize("mode", ["L", "LA"])
def test_gray_to_rgb(tmp_path: Path, rng: np.random.Generator, mode: str) -> None:
    gray = rng.integers(0, 256, size=(4, 6), dtype=np.uint8)
    im = Image.fromarray(gray)
    if mode == "LA":
        im.putalpha(200)
    im.save(tmp_path / "g.png")
    image = load_image(tmp_path / "g.png")
    assert image.shape == (4, 6, 3)
    np.testing.assert_array_equal(np.round(image * 255), np.stack([gray] * 3, axis=-1))
    alpha = load_rgba(tmp_path / "g.png")[1]
    assert (alpha is None) == (mode == "L")


def test_palette_without_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (3, 2))
    im.putpalette([255, 0, 0, 0, 0, 255])  # index 0 red, 1 blue
    im.putdata([0, 1, 0, 1, 1, 0])
    im.save(tmp_path / "p.png")
    rgb, alpha = load_rgba(tmp_path / "p.png")
    assert alpha is None
    np.testing.assert_array_equal(rgb[0, 0], [1, 0, 0])
    np.testing.assert_array_equal(rgb[0, 1], [0, 0, 1])


def test_palette_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (3, 2))
    im.putpalette([255, 0, 0, 0, 255, 0])
    im.putdata([0, 1, 1, 1, 1, 0])
    im.save(tmp_path / "p.png", transparency=0)  # index 0 is transparent
    rgb, alpha = load_rgba(tmp_path / "p.png")
    np.testing.assert_array_equal(alpha, [[0, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(rgb[0, 1], [0, 1, 0])
    assert load_image(tmp_path / "p.png").shape == (2, 3, 3)


def test_exif_orientation_jpeg(tmp_path: Path) -> None:
    image = np.zeros((16, 32, 3), np.uint8)
    image[:, :16] = 255  # left half white
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # display needs a 90 degree clockwise turn
    Image.fromarray(image).save(tmp_path / "o.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "o.jpg")
    assert loaded.shape == (32, 16, 3)
    assert loaded[:16].mean() > 0.9 and loaded[16:].mean() < 0.1  # left half is now on top


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_transform_matches_pillow(orientation: int) -> None:
    pixels = np.arange(3 * 5, dtype=np.uint8).reshape(3, 5)
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[EXIF_ORIENTATION] = orientation
    im.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(im))
    np.testing.assert_array_equal(io_read._apply_orientation(pixels, orientation), expected)


def test_exif_orientation_16bit_png(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 65536, size=(4, 6, 3), dtype=np.uint16)
    ok, encoded = cv2.imencode(".png", pixels[..., ::-1])
    assert ok
    (tmp_path / "o.png").write_bytes(_png_with_exif_orientation(encoded.tobytes(), 6))
    loaded = load_image(tmp_path / "o.png")
    np.testing.assert_array_equal(np.round(loaded * 65535), np.rot90(pixels, k=-1))


def test_tiff_orientation_same_for_8_and_16_bit(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    tag = [(274, "H", 1, 6, False)]
    tifffile.imwrite(tmp_path / "a8.tif", pixels, photometric="rgb", extratags=tag)
    wide = pixels.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "a16.tif", wide, photometric="rgb", extratags=tag)
    eight = load_image(tmp_path / "a8.tif")  # decoded by Pillow
    sixteen = load_image(tmp_path / "a16.tif")  # decoded by tifffile
    assert eight.shape == (6, 4, 3)
    np.testing.assert_array_equal(np.round(eight * 255), np.rot90(pixels, k=-1))
    np.testing.assert_allclose(sixteen, eight, atol=1e-6)


def test_jpeg_quality(tmp_path: Path) -> None:
    y, x = np.mgrid[0:32, 0:32] / 31.0
    image = np.stack([x, y, (x + y) / 2], axis=-1).astype(np.float32)
    loaded = load_image(save_image(tmp_path / "a.jpg", image))
    assert np.abs(loaded - image).mean() < 0.01


def test_save_image_dtypes_and_tensors(tmp_path: Path) -> None:
    mask = np.array([[True, False], [False, True]])
    save_image(tmp_path / "b.png", mask)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), mask * 255)
    save_image(tmp_path / "u16.png", np.array([[0, 257 * 3, 65535]], np.uint16))  # 8-bit file
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "u16.png")), [[0, 3, 255]])
    save_image(tmp_path / "u8.png", np.array([[0, 3, 255]], np.uint8), bit_depth=16)
    assert cv2.imread(str(tmp_path / "u8.png"), cv2.IMREAD_UNCHANGED).tolist() == [[0, 771, 65535]]

    chw = torch.rand(3, 4, 5)
    save_image(tmp_path / "t3.png", chw)
    save_image(tmp_path / "t4.png", chw[None].requires_grad_())
    expected = np.round(chw.permute(1, 2, 0).numpy() * 255) / 255
    for name in ("t3.png", "t4.png"):
        np.testing.assert_allclose(load_image(tmp_path / name), expected, atol=1e-6)
    save_image(tmp_path / "t1.png", torch.rand(1, 1, 4, 5))
    assert load_alpha(tmp_path / "t1.png").shape == (4, 5)


def test_save_gray_shapes(tmp_path: Path) -> None:
    save_image(tmp_path / "a.png", np.full((3, 4, 1), 0.5, np.float32))
    with Image.open(tmp_path / "a.png") as im:
        assert im.mode == "L"
    save_image(tmp_path / "b.tif", np.full((3, 4), 0.5, np.float32), bit_depth=16)
    stored = cv2.imread(str(tmp_path / "b.tif"), cv2.IMREAD_UNCHANGED)
    assert stored.dtype == np.uint16 and stored.shape == (3, 4) and stored[0, 0] == 32768
    np.testing.assert_array_equal(load_alpha(tmp_path / "b.tif"), np.float32(32768 / 65535))


# ------------------------------------------------------------------ alpha, masks, trimaps


def test_load_alpha_from_rgb_and_like(tmp_path: Path) -> None:
    gray = np.array([[0, 64, 255]], np.uint8)
    Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "a.png")
    alpha = load_alpha(str(tmp_path / "a.png"), like=(1, 3))
    assert alpha.dtype == np.float32
    np.testing.assert_array_equal(alpha, gray / np.float32(255))


def test_mask_binarised_at_127_with_warning(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 127, 128, 255, 255]], np.uint8)).save(tmp_path / "m.png")
    with pytest.warns(UserWarning, match=r"not binary: 2 pixels .* 127\.\.128"):
        mask = load_mask(tmp_path / "m.png")
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, [[False, False, True, True, True]])
    with pytest.warns(UserWarning, match="not binary"):
        mask = load_mask(tmp_path / "m.png", threshold=200)
    np.testing.assert_array_equal(mask, [[False, False, False, True, True]])


def test_binary_mask_round_trip_without_warning(tmp_path: Path, no_warnings) -> None:
    mask = np.array([[True, False, True], [False, False, True]])
    save_mask(tmp_path / "sub" / "m.png", mask)  # parent folder created
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "sub" / "m.png")), mask * 255)
    np.testing.assert_array_equal(load_mask(tmp_path / "sub" / "m.png", like=mask), mask)
    save_mask(tmp_path / "m01.png", torch.tensor(mask, dtype=torch.float32)[None, None])
    np.testing.assert_array_equal(load_mask(tmp_path / "m01.png"), mask)


def test_rgb_mask_converted_to_gray(tmp_path: Path, no_warnings) -> None:
    mask = np.array([[0, 255], [255, 0]], np.uint8)
    Image.fromarray(np.stack([mask] * 3, axis=-1)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), mask == 255)


def test_16bit_mask(tmp_path: Path, no_warnings) -> None:
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(tmp_path / "m.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), [[False, True]])


def test_trimap_tolerance(tmp_path: Path) -> None:
    values = np.array([[0, 10, 118, 128, 138, 245, 255]], np.uint8)
    Image.fromarray(values).save(tmp_path / "t.png")
    trimap = load_trimap(tmp_path / "t.png")
    assert trimap.dtype == np.float32
    np.testing.assert_array_equal(trimap, [[0, 0, 0.5, 0.5, 0.5, 1, 1]])
    strict = np.array([[0, 128, 255]], np.uint8)
    Image.fromarray(strict).save(tmp_path / "s.png")
    np.testing.assert_array_equal(load_trimap(tmp_path / "s.png", tolerance=0), [[0, 0.5, 1]])


# 0 / unknown / 255 on each scale; the unknown band is stored as 128 * 257 or 128 * 256 in 16 bit.
_TRIMAP_EXPECTED = [[0, 0.5, 0.5, 1, 0, 0.5, 1]]


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_trimap_16bit_is_rescaled(tmp_path: Path, suffix: str, no_warnings) -> None:
    # On the 0..255 scale: 0, 128, 127.5, 255, 10 (tolerance), 136 (tolerance), 245.
    values = np.array([[0, 32896, 32768, 65535, 2570, 34952, 62965]], np.uint16)
    path = tmp_path / f"t{suffix}"
    if suffix == ".png":
        Image.fromarray(values).save(path)
    else:
        tifffile.imwrite(path, values)
    assert np.asarray(Image.open(path)).dtype == np.uint16  # really stored as 16 bit
    trimap = load_trimap(path)
    assert trimap.dtype == np.float32
    np.testing.assert_array_equal(trimap, _TRIMAP_EXPECTED)
    Image.fromarray(np.array([[0, 64 * 257]], np.uint16)).save(tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"values other than 0/128/255 \(tolerance 10\): 64 "):
        load_trimap(tmp_path / "bad.png")


def test_trimap_float_tiff_is_rescaled(tmp_path: Path, no_warnings) -> None:
    values = np.array([[0.0, 0.5, 0.502, 1.0, 0.03, 0.53, 0.97]], np.float32)
    tifffile.imwrite(tmp_path / "t.tif", values)
    trimap = load_trimap(tmp_path / "t.tif")
    assert trimap.dtype == np.float32
    np.testing.assert_array_equal(trimap, _TRIMAP_EXPECTED)


def test_trimap_round_trip(tmp_path: Path) -> None:
    trimap = np.array([[0, 0.5, 1], [1, 0.5, 0]], np.float32)
    save_trimap(tmp_path / "t.png", trimap)
    stored = np.asarray(Image.open(tmp_path / "t.png"))
    np.testing.assert_array_equal(stored, [[0, 128, 255], [255, 128, 0]])
    np.testing.assert_array_equal(load_trimap(tmp_path / "t.png", like=trimap), trimap)


def test_check_same_size_accepts_tuples_arrays_tensors() -> None:
    check_same_size((4, 5), np.zeros((4, 5, 3)))
    check_same_size(np.zeros((4, 5)), torch.zeros(1, 1, 4, 5))
    with pytest.raises(ValueError, match=r"^background size 5x3 does not match image size 5x4$"):
        check_same_size(np.zeros((4, 5, 3)), torch.zeros(1, 3, 3, 5), names=("image", "background"))


# ------------------------------------------------------------------------------ files


def test_list_images(tmp_path: Path) -> None:
    for name in ("b.png", "a.JPG", "c.tiff", "notes.txt", ".hidden.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "sub.png" / "d.png").write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "c.tiff"]
    assert list_images(str(tmp_path)) == list_images(tmp_path)


def test_atomic_path_renames_on_success(tmp_path: Path) -> None:
    target = tmp_path / "new" / "out.TXT"
    with atomic_path(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".txt" and temp != target
        temp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert list(target.parent.iterdir()) == [target]
    assert target.stat().st_mode & 0o044  # not the owner-only mode of mkstemp


def test_atomic_path_removes_temp_on_error(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_overwrite(tmp_path: Path) -> None:
    path = save_image(tmp_path / "a.png", np.zeros((2, 2), np.float32))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_image(path, np.ones((2, 2), np.float32))
    assert load_alpha(path).max() == 0  # untouched
    save_image(path, np.ones((2, 2), np.float32), overwrite=True)
    assert load_alpha(path).min() == 1
    assert list(tmp_path.iterdir()) == [path]


# ------------------------------------------------------------------------------ tensors


@pytest.mark.parametrize(
    ("shape", "tensor_shape", "back_shape"),
    [
        ((4, 5), (1, 1, 4, 5), (4, 5)),
        ((4, 5, 3), (1, 3, 4, 5), (4, 5, 3)),
        ((4, 5, 1), (1, 1, 4, 5), (4, 5)),
    ],
)
def test_to_tensor_to_numpy_shapes(
    shape, tensor_shape, back_shape, rng: np.random.Generator
) -> None:
    array = rng.random(shape)  # float64 in
    tensor = to_tensor(array)
    assert tensor.shape == tensor_shape and tensor.dtype == torch.float32
    back = to_numpy(tensor)
    assert back.shape == back_shape and back.dtype == np.float32
    np.testing.assert_allclose(back, array.reshape(back_shape), rtol=1e-6)
    assert to_numpy(tensor[0]).shape == back_shape  # (C, H, W) accepted too


def test_to_tensor_bool_and_channel_order() -> None:
    image = np.zeros((2, 3, 3), np.float32)
    image[..., 1] = 1  # green
    assert to_tensor(image)[0, 1].min() == 1 and to_tensor(image)[0, 0].max() == 0
    mask = to_tensor(np.array([[True, False]]))
    assert mask.tolist() == [[[[1.0, 0.0]]]]


def test_to_tensor_uint8_scaled_with_warning() -> None:
    with pytest.warns(UserWarning, match="uint8"):
        tensor = to_tensor(np.array([[0, 255]], np.uint8))
    assert tensor.tolist() == [[[[0.0, 1.0]]]]


def test_to_numpy_detaches() -> None:
    tensor = torch.rand(1, 3, 2, 2, requires_grad=True)
    assert to_numpy(tensor * 2).shape == (2, 2, 3)
