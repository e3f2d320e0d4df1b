"""Issue 13: property test of the image, mask, trimap and alpha loaders.

Whatever bytes a file holds (random bytes; the magic number of PNG, JPEG, TIFF, BMP or WebP
followed by garbage; a valid PNG header with any size and garbage data; a real image cut short or
with flipped bytes), each loader either returns what its contract says or raises the project's
own :class:`~mattepaint.errors.InputError`: never another exception type, never a crash.
"""

from __future__ import annotations

import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mattepaint import io
from mattepaint.errors import InputError

MAGIC: dict[str, bytes] = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    ".tif": b"II*\x00",
    ".tiff": b"MM\x00*",
    ".bmp": b"BM",
    ".webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
}

LOADERS: dict[str, Callable[[Path], object]] = {
    "image": io.load_image,
    "mask": io.load_mask,
    "trimap": io.load_trimap,
    "alpha": io.load_alpha,
}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@st.composite
def png_with_header(draw: st.DrawFn) -> bytes:
    """A PNG with a valid IHDR (any size, depth and colour type) and garbage after it."""
    width = draw(st.integers(1, 70000))
    height = draw(st.integers(1, 70000))
    depth, colour = draw(
        st.sampled_from([(8, 0), (16, 0), (8, 2), (16, 2), (8, 6), (1, 0), (8, 3)])
    )
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    body = draw(st.binary(max_size=300))
    if draw(st.booleans()):  # garbage inside an IDAT chunk with a correct CRC
        body = _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    return MAGIC[".png"] + _chunk(b"IHDR", ihdr) + body


@st.composite
def damaged_real_image(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real small image file (suffix, bytes), cut short and/or with a few bytes flipped."""
    suffix = draw(st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp"]))
    data = bytearray(_real_images()[suffix])
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    keep = draw(st.integers(0, len(data)))
    return suffix, bytes(data[:keep])


_REAL: dict[str, bytes] = {}


def _real_images() -> dict[str, bytes]:
    """One small valid file of each format, written by mattepaint.io (made once)."""
    if not _REAL:
        rng = np.random.default_rng(0)
        image = rng.random((12, 10, 3)).astype(np.float32)
        with tempfile.TemporaryDirectory() as folder:
            for suffix in (".png", ".jpg", ".tif", ".bmp", ".webp"):
                path = io.save_image(Path(folder) / f"x{suffix}", image)
                _REAL[suffix] = path.read_bytes()
    return _REAL


contents = st.one_of(
    st.tuples(st.sampled_from(sorted(MAGIC)), st.binary(max_size=400)),
    st.builds(
        lambda suffix, tail: (suffix, MAGIC[suffix] + tail),
        st.sampled_from(sorted(MAGIC)),
        st.binary(max_size=400),
    ),
    st.tuples(st.just(".png"), png_with_header()),
    damaged_real_image(),
)


def _check_contract(kind: str, result: object) -> None:
    assert isinstance(result, np.ndarray)
    if kind == "image":
        assert result.ndim == 3 and result.shape[2] == 3 and result.dtype == np.float32
    elif kind == "mask":
        assert result.ndim == 2 and result.dtype == np.bool_
    else:
        assert result.ndim == 2 and result.dtype == np.float32
    if kind == "trimap":
        assert set(np.unique(result)) <= {0.0, 0.5, 1.0}
    if result.dtype == np.float32:
        assert np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1


@settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree; a failure prints its example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(kind=st.sampled_from(sorted(LOADERS)), content=contents)
def test_loaders_load_or_raise_input_error(kind: str, content: tuple[str, bytes]) -> None:
    suffix, data = content
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "mask is not binary": legal, only a warning
            try:
                result = LOADERS[kind](path)
            except InputError as error:
                message = str(error)
                assert "\n" not in message and str(path) in message  # one line, names the file
                return
    _check_contract(kind, result)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".bmp", ".webp"])
def test_the_undamaged_files_load(suffix: str, tmp_path: Path) -> None:
    """The fuzzed files start from good ones: they must load (so the property is not vacuous)."""
    path = tmp_path / f"x{suffix}"
    path.write_bytes(_real_images()[suffix])
    assert io.load_image(path).shape == (12, 10, 3)
