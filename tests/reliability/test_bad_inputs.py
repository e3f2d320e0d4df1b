"""Issue 13, items 4 and 5: bad or degenerate inputs get one clear line, never a traceback or a
silent wrong result.

Each command-line case checks the exit status, that stderr is exactly one line (an error, or a
warning for legal but suspicious input) naming the file and the fix, and what is on disk after:
nothing written (existing files unchanged) for an error, the right result for a warning. Library
cases check that the same rule holds without the command line: the loaders' pixel limit, the
whole-image mask, the trimap regions.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli_checks import run  # tests/reliability/_cli_checks.py

from mattepaint import io
from mattepaint.errors import InputError
from mattepaint.methods import get_inpainter, get_matter

SIZE = 32


def one_line(err: str, kind: str, *fragments: str) -> str:
    """stderr is exactly one line ``mattepaint: <kind>: ...`` holding every fragment."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"mattepaint: {kind}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` gray pixels, with one tiny IDAT chunk:
    what a decompression bomb looks like to a reader of the header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> Path:
    """Working directory with img.png, mask.png, trimap.png (a disk: all three regions)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(io.MAX_PIXELS_ENV, raising=False)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
    io.save_image(tmp_path / "img.png", rng.random((SIZE, SIZE, 3)).astype(np.float32))
    mask = np.zeros((SIZE, SIZE), bool)
    mask[8:16, 8:20] = True
    io.save_mask(tmp_path / "mask.png", mask)
    trimap = np.full((SIZE, SIZE), 0.5)
    trimap[radius < 6] = 1.0
    trimap[radius > 12] = 0.0
    io.save_trimap(tmp_path / "trimap.png", trimap)
    return tmp_path


def inpaint(capsys: pytest.CaptureFixture[str], *extra: object) -> tuple[int, str, str]:
    return run(capsys, "inpaint", "img.png", "--mask", "mask.png", "-o", "out.png", *extra)


def matte(capsys: pytest.CaptureFixture[str], *extra: object) -> tuple[int, str, str]:
    return run(capsys, "matte", "img.png", "--trimap", "trimap.png", "-o", "alpha.png", *extra)


# --------------------------------------------------------------------------- pixel limits (item 4)


@pytest.mark.parametrize(
    ("width", "height", "fragments"),
    [
        (5000, 5000, ("25000000 pixels", "limit of 16777216", "MATTEPAINT_MAX_PIXELS")),
        (10000, 10000, ("limit of 16777216",)),  # where Pillow only warns
        (20000, 20000, ("decompression-bomb", "limit of 16777216")),  # where Pillow raises
    ],
)
def test_oversized_image_is_one_line(
    case: Path, capsys: pytest.CaptureFixture[str], width: int, height: int, fragments: tuple
) -> None:
    (case / "img.png").write_bytes(png_header_only(width, height))
    before = files(case)
    code, out, err = inpaint(capsys)
    assert code == 1 and out == ""
    one_line(err, "error", "img.png", *fragments)
    assert files(case) == before


def test_oversized_mask_and_trimap_too(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (case / "mask.png").write_bytes(png_header_only(5000, 4000))
    code, _, err = inpaint(capsys)
    assert code == 1
    one_line(err, "error", "mask", "mask.png", "limit of 16777216")
    (case / "trimap.png").write_bytes(png_header_only(20000, 20000))
    code, _, err = matte(capsys)
    assert code == 1
    one_line(err, "error", "trimap.png", "limit of 16777216")
    assert not (case / "out.png").exists() and not (case / "alpha.png").exists()


def test_pixel_limit_is_one_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mattepaint.server.services import ServerLimits

    monkeypatch.delenv(io.MAX_PIXELS_ENV, raising=False)
    path = tmp_path / "wide.png"
    io.save_mask(path, np.zeros((1, io.DEFAULT_MAX_PIXELS + 1), bool))  # 1 x 16777217
    assert io.max_pixels_limit() == io.DEFAULT_MAX_PIXELS == ServerLimits().max_pixels
    with pytest.raises(InputError, match=r"16777217x1 = 16777217 pixels, more than the limit"):
        io.load_mask(path)
    assert io.load_mask(path, max_pixels=io.DEFAULT_MAX_PIXELS + 1).shape == (1, 16777217)
    monkeypatch.setenv(io.MAX_PIXELS_ENV, str(io.DEFAULT_MAX_PIXELS + 1))
    assert io.load_mask(path).shape == (1, 16777217)  # every loader, every entry point
    assert ServerLimits().max_pixels == io.DEFAULT_MAX_PIXELS + 1
    with pytest.raises(InputError, match=r"limit of 100 pixels.*--max-pixels"):
        from mattepaint.server.services import decode_upload

        decode_upload(path.read_bytes(), "mask", ServerLimits(max_pixels=100))
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "lots")
    with pytest.raises(InputError, match="MATTEPAINT_MAX_PIXELS='lots' must be a positive"):
        io.load_mask(path)


def test_masks_absurd_size_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "set"
    code, _, err = run(capsys, "masks", out, "--size", 100000)
    assert code == 1
    one_line(err, "error", "100000x100000", "limit of 16777216", "smaller size")
    assert not out.exists()


# --------------------------------------------------------------------------- masks (item 5)


def test_whole_image_mask_is_refused(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    io.save_mask(case / "mask.png", np.ones((SIZE, SIZE), bool), overwrite=True)
    (case / "out.png").write_bytes(b"old result")
    code, out, err = inpaint(capsys, "--overwrite")
    assert code == 1 and out == ""
    one_line(err, "error", "mask.png", "covers the whole image", "no known pixel to fill")
    assert (case / "out.png").read_bytes() == b"old result"


def test_empty_mask_warns_and_returns_the_image(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    io.save_mask(case / "mask.png", np.zeros((SIZE, SIZE), bool), overwrite=True)
    code, out, err = inpaint(capsys)
    assert code == 0 and "wrote" in out
    one_line(err, "warning", "mask.png", "is empty (no hole)")
    np.testing.assert_array_equal(io.load_image(case / "out.png"), io.load_image(case / "img.png"))


def test_library_whole_and_empty_mask() -> None:
    image = torch.rand(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[0, :, 2:4, 2:4] = 1
    mask[1] = 1  # the second image is all hole
    for name in ("telea", "ns", "biharmonic"):
        with pytest.raises(InputError, match="of image 1 of the batch covers the whole image"):
            get_inpainter(name)(image, mask)
        with pytest.warns(UserWarning, match="mask is empty"):
            out = get_inpainter(name)(image, torch.zeros(2, 1, 8, 8))
        assert torch.equal(out, image)
    from mattepaint.classical import inpaint_telea

    with pytest.raises(InputError, match="covers the whole image"):
        inpaint_telea(np.zeros((8, 8, 3), np.float32), np.ones((8, 8), bool))


def test_server_path_gives_the_same_errors() -> None:
    """The API runs the same checks (it answers a ValueError with HTTP 400, its message)."""
    from mattepaint.server.catalog import MethodCatalog
    from mattepaint.server.services import run_inpaint, run_matte

    catalog = MethodCatalog()
    image = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    with pytest.raises(InputError, match="covers the whole image"):
        run_inpaint(catalog, image, np.ones((16, 16), bool), "telea")
    with pytest.raises(InputError, match="is all unknown"):
        run_matte(catalog, image, trimap=np.full((16, 16), 0.5, np.float32))


# --------------------------------------------------------------------------- trimaps (item 5)


@pytest.mark.parametrize(
    ("fill", "fragment"),
    [
        (lambda t: np.full_like(t, 0.5), "is all unknown (128)"),
        (lambda t: np.where(t == 1.0, 0.5, t), "has no foreground (255)"),
        (lambda t: np.where(t == 0.0, 0.5, t), "has no background (0)"),
    ],
)
def test_degenerate_trimap_is_refused(
    case: Path, capsys: pytest.CaptureFixture[str], fill, fragment: str
) -> None:
    trimap = io.load_trimap(case / "trimap.png")
    io.save_trimap(case / "trimap.png", fill(trimap), overwrite=True)
    code, out, err = matte(capsys, "--cutout")
    assert code == 1 and out == ""
    one_line(err, "error", "trimap.png", fragment)
    assert sorted(files(case)) == ["img.png", "mask.png", "trimap.png"]


def test_trimap_without_unknown_warns_and_writes_the_known_alpha(
    case: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trimap = io.load_trimap(case / "trimap.png")
    known = np.where(trimap == 0.5, 1.0, trimap)
    io.save_trimap(case / "trimap.png", known, overwrite=True)
    code, out, err = matte(capsys)
    assert code == 0 and "wrote" in out
    one_line(err, "warning", "trimap.png", "has no unknown (128) pixels")
    np.testing.assert_array_equal(io.load_alpha(case / "alpha.png"), known)


def test_library_trimap_regions() -> None:
    image = torch.rand(1, 3, 8, 8)
    unknown = torch.full((1, 1, 8, 8), 0.5)
    for name in ("closed_form", "knn"):
        with pytest.raises(InputError, match="the trimap is all unknown"):
            get_matter(name)(image, trimap=unknown)
    known = torch.zeros(1, 1, 8, 8)
    known[..., :4] = 1.0
    with pytest.warns(UserWarning, match="has no unknown"):
        result = get_matter("closed_form")(image, trimap=known)
    assert torch.equal(result.alpha, known)


# --------------------------------------------------------------------------- damaged files (item 5)


def _png_with_bad_crc(path: Path) -> None:
    """Flip the stored CRC of the first IDAT chunk (the pixel data itself is intact)."""
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT")
    length = struct.unpack(">I", data[start - 4 : start])[0]
    data[start + 4 + length] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["img.png", "mask.png"])
def test_png_failing_its_checksum_is_refused(
    case: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    _png_with_bad_crc(case / name)
    code, _, err = inpaint(capsys)
    assert code == 1
    one_line(err, "error", name, "checksum")
    assert not (case / "out.png").exists()


@pytest.mark.parametrize("name", ["img.png", "trimap.png"])
def test_truncated_file_is_refused(
    case: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    data = (case / name).read_bytes()
    (case / name).write_bytes(data[: len(data) - 20])  # IEND and the end of the pixel data
    code, _, err = matte(capsys)
    assert code == 1
    one_line(err, "error", name)
    assert not (case / "alpha.png").exists()


def test_truncated_jpeg_is_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    path = io.save_image(tmp_path / "a.jpg", rng.random((64, 64, 3)).astype(np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert io.read_image_size(path) == (64, 64)  # the header reads
    with pytest.raises(InputError, match=r"cannot read image .*a\.jpg: image file is truncated"):
        io.load_image(path)


def test_truncated_images_are_never_loaded() -> None:
    from PIL import ImageFile

    import mattepaint.io  # noqa: F401  - importing the package must not switch it on

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
