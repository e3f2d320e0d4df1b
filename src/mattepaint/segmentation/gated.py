"""A specialist segmenter checked by a general one: use the specialist only where they agree.

Standard cut-out models are often specialists: MODNet was trained on portraits and draws very
clean outlines around people, but on a subject it was not made for (a plant, a net, a toy) it
may pick another object entirely. A general segmenter (mattepaint's shipped one) is rougher but
rarely that wrong. :class:`GatedSegmenter` runs both and, per image, keeps the specialist's mask
when the two masks agree on the subject (IoU of ``p > 0.5`` at least ``min_iou``) and the
general one's otherwise::

    mask = specialist(x)  if  IoU(specialist(x) > 0.5, general(x) > 0.5) >= min_iou
           general(x)     otherwise

The gate only asks "do they find the same subject?", so a low threshold is the intent (0.45 by
default: chosen on alphamatting.com's 8 test photos, see docs/matting.md). The cost is both
segmenters' time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mattepaint.checks import check_float
from mattepaint.metrics.matting import alpha_iou
from mattepaint.segmentation.input import check_segmenter_input

__all__ = ["DEFAULT_MIN_IOU", "GatedSegmenter", "mask_iou"]

#: Default agreement threshold of :class:`GatedSegmenter`.
DEFAULT_MIN_IOU = 0.45


def mask_iou(a: Tensor, b: Tensor) -> Tensor:
    """Per-image IoU of ``a > 0.5`` and ``b > 0.5``: (B, 1, H, W) twice -> (B,) float
    (:func:`mattepaint.metrics.matting.alpha_iou` of each pair; two empty masks agree, IoU 1)."""
    if a.shape != b.shape:
        raise ValueError(
            f"masks must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    pairs = zip(a.detach().float().cpu().numpy()[:, 0], b.detach().float().cpu().numpy()[:, 0])
    return torch.tensor([alpha_iou(x, y) for x, y in pairs], dtype=torch.float32)


class GatedSegmenter:
    """The :class:`~mattepaint.segmentation.Segmenter` of the module docstring.

    Args:
        specialist: the segmenter whose mask is used when the two agree (e.g. MODNet's file).
        general: the segmenter that checks it and is used otherwise (e.g. the shipped one).
        min_iou: agreement threshold in [0, 1].

    After a call, :attr:`last_choice` says, per image, which segmenter's mask was returned
    (``"specialist"`` / ``"general"``) and :attr:`last_iou` their agreement.

    Example:
        >>> from mattepaint.segmentation import load_segmenter  # doctest: +SKIP
        >>> seg = GatedSegmenter(load_segmenter("modnet.onnx"), load_segmenter(  # doctest: +SKIP
        ...     "late_fusion_effnet_cutout"))
    """

    def __init__(self, specialist: object, general: object, *, min_iou: float = DEFAULT_MIN_IOU):
        for role, seg in (("specialist", specialist), ("general", general)):
            if not callable(seg):
                raise TypeError(f"{role} must be a Segmenter, got {type(seg).__name__}")
        self.specialist = specialist
        self.general = general
        self.min_iou = check_float("min_iou", min_iou, low=0.0, high=1.0)
        self.name = (
            f"{getattr(specialist, 'name', 'specialist')} checked by "
            f"{getattr(general, 'name', 'general')} (IoU >= {self.min_iou:g})"
        )
        self.last_choice: list[str] = []
        self.last_iou: list[float] = []

    def __repr__(self) -> str:
        return f"GatedSegmenter({self.name!r})"

    def __call__(self, image: Tensor) -> Tensor:
        check_segmenter_input(image)
        special = self.specialist(image)  # (B, 1, H, W)
        general = self.general(image)  # (B, 1, H, W)
        iou = mask_iou(special, general)  # (B,)
        keep = (iou >= self.min_iou).view(-1, 1, 1, 1)
        self.last_iou = [float(v) for v in iou]
        self.last_choice = ["specialist" if k else "general" for k in keep.flatten().tolist()]
        return torch.where(keep, special, general.to(special.dtype))
