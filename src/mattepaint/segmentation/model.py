"""Segmenters from mattepaint's own trimap-free matting networks (e.g. the shipped one).

A trimap-free matting model (``needs == "nothing"``, e.g. ``late_fusion``) predicts alpha from the
photo alone, so it is a segmenter: :class:`ModelSegmenter` runs it at a working resolution (the
longer side clamped to [192, 384] by default) and brings its alpha back to the photo's size. The cut-out pipeline then refines the boundary band at
full resolution with trimap matting.

:data:`SHIPPED_SEGMENTER` is the model trained here and shipped inside the package
(``mattepaint/weights/late_fusion_effnet_cutout.safetensors``); it is registered under that name
and is the default of ``mattepaint cutout`` when present.

Example:
    >>> from mattepaint.segmentation import load_segmenter
    >>> seg = load_segmenter("late_fusion_effnet_cutout")  # doctest: +SKIP
    >>> soft = seg(image)  # (1, 3, H, W) -> (1, 1, H, W)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_int
from mattepaint.errors import InputError
from mattepaint.models.memory_format import channels_last, use_channels_last
from mattepaint.segmentation.input import check_segmenter_input

__all__ = ["SHIPPED_SEGMENTER", "ModelSegmenter", "load_model_segmenter", "shipped_segmenter"]

#: The segmenter trained here and shipped as package data (see the README's shipped models).
SHIPPED_SEGMENTER = "late_fusion_effnet_cutout"

#: Longest working side: photos larger than this are shrunk to it (on alphamatting.com GT01-27 the
#: shipped model's IoU at longer sides 192 / 256 / 320 / 384 was 0.746 / 0.778 / 0.835 / 0.848).
DEFAULT_SIZE = 384
#: Shortest working side: smaller pictures are enlarged to it (the model trained on 192-px crops).
DEFAULT_MIN_SIZE = 192


class ModelSegmenter:
    """A trimap-free matting network as a :class:`~mattepaint.segmentation.Segmenter`.

    Args:
        model: a matting model with ``needs == "nothing"`` (``forward(image) -> {"alpha": ...}``)
            and ``size_multiple``; moved to ``device``, eval mode.
        name: reported in messages and tables.
        size, min_size: the network runs with the photo's longer side clamped to [min_size, size]
            (area averaging when shrinking, bilinear when enlarging), both sides rounded to
            multiples of ``size_multiple`` and the aspect ratio kept; the alpha is resized back
            bilinearly.
        device: where the model runs.

    Call: ``segmenter(image (B, 3, H, W) in [0, 1]) -> (B, 1, H, W) in [0, 1]`` at the input's
    dtype and device.
    """

    def __init__(
        self, model: nn.Module, *, name: str, size: int = DEFAULT_SIZE,
        min_size: int = DEFAULT_MIN_SIZE, device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
        if getattr(model, "needs", None) != "nothing":
            raise InputError(
                f"{name} is not a trimap-free matting model (it needs "
                f"{getattr(model, 'needs', 'an unknown input')!r}), so it cannot find a subject alone"
            )
        self.name = name
        self.size = check_int("size", size, minimum=32)
        self.min_size = check_int("min_size", min_size, minimum=32)
        if self.min_size > self.size:
            raise ValueError(f"min_size ({min_size}) must not exceed size ({size})")
        self.multiple = int(getattr(model, "size_multiple", 1))
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.channels_last = use_channels_last(self.model, self.device)  # faster on CPUs

    def __repr__(self) -> str:
        return f"ModelSegmenter(name={self.name!r}, size={self.size}, min_size={self.min_size})"

    def working_size(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) the network runs at: the longer side clamped to [min_size, size], both sides
        multiples of ``size_multiple``."""
        longer = max(height, width)
        scale = min(max(longer, self.min_size), self.size) / longer
        m = self.multiple
        return (max(m, round(height * scale / m) * m), max(m, round(width * scale / m) * m))

    @torch.inference_mode()
    def __call__(self, image: Tensor) -> Tensor:
        check_segmenter_input(image)
        height, width = image.shape[-2:]
        h, w = self.working_size(height, width)
        x = image.to(self.device, torch.float32)
        shrink = h < height or w < width
        x = F.interpolate(x, size=(h, w), mode="area" if shrink else "bilinear",
                          align_corners=None if shrink else False)
        alpha = self.model(channels_last(x) if self.channels_last else x)["alpha"].float()
        alpha = F.interpolate(alpha, size=(height, width), mode="bilinear", align_corners=False)
        alpha = alpha.contiguous()  # NCHW memory order again
        return alpha.clamp_(0.0, 1.0).to(image.device, image.dtype)


def load_model_segmenter(
    path: str | Path, *, size: int = DEFAULT_SIZE, min_size: int = DEFAULT_MIN_SIZE,
    device: str | torch.device = "cpu", threads: int | None = None, name: str | None = None,
) -> ModelSegmenter:
    """A :class:`ModelSegmenter` from a mattepaint model file (``.safetensors``) or training
    checkpoint (``.pt``) of a trimap-free matting model.

    Inputs: the file; ``size`` and ``min_size`` (working resolution, see
    :class:`ModelSegmenter`); ``device``; ``threads`` (sets
    ``torch.set_num_threads`` when given, like the ONNX segmenters' option); ``name`` (default:
    the file name).

    Raises: as :func:`mattepaint.models.checkpoint.load_model` (missing file, unsafe pickle, not
    a mattepaint checkpoint); InputError for a model that needs a trimap or a background.
    """
    from mattepaint.models.checkpoint import load_model

    if threads is not None:
        torch.set_num_threads(check_int("threads", threads, minimum=1))
    model, _ = load_model(path, device)
    return ModelSegmenter(
        model, name=name or Path(path).name, size=size, min_size=min_size, device=device
    )


def shipped_segmenter(**options: object) -> ModelSegmenter:
    """The segmenter shipped inside the package (:data:`SHIPPED_SEGMENTER`); ``options`` as
    :func:`load_model_segmenter`. Raises InputError when the package has no such file."""
    from mattepaint.models.checkpoint import shipped_model_path

    return load_model_segmenter(
        shipped_model_path(SHIPPED_SEGMENTER), name=SHIPPED_SEGMENTER, **options  # type: ignore[arg-type]
    )
