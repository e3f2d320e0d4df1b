"""The input check shared by the inpainting models' ``forward(image, mask)``."""

from __future__ import annotations

from torch import Tensor

__all__ = ["check_inpaint_model_inputs"]


def _shape(x: object) -> object:
    return tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__


def check_inpaint_model_inputs(
    image: object, mask: object, size_multiple: int = 1, *, reason: str | None = None
) -> None:
    """Raise ValueError unless image is (B, 3, H, W), mask (B, 1, H, W) like it, and H and W
    are divisible by ``size_multiple``.

    ``reason`` (e.g. ``"2**depth"``) says where the multiple comes from; it is shown in
    brackets after the number in the error message.
    """
    if not isinstance(image, Tensor) or image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (B, 3, H, W), got {_shape(image)}")
    b, _, h, w = image.shape
    if not isinstance(mask, Tensor) or tuple(mask.shape) != (b, 1, h, w):
        raise ValueError(
            f"mask must be (B, 1, H, W) like image {tuple(image.shape)}, got {_shape(mask)}"
        )
    if h % size_multiple or w % size_multiple:
        why = f" ({reason})" if reason else ""
        raise ValueError(
            f"image height and width must be divisible by {size_multiple}{why}, got {h}x{w}; "
            "pad the input first (ModelInpainter does)"
        )
