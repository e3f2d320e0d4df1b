"""PNG bytes in and out, for the server tests (uploads and responses)."""

from __future__ import annotations

import io as bytes_io

import numpy as np
from PIL import Image


def png_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8 / uint16, gray or RGB(A)) encoded as a PNG file."""
    buffer = bytes_io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The pixels of a response, which must be a PNG."""
    with Image.open(bytes_io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im)
