"""Learned matting models; importing this package registers them (task "matting").

Contract (all three models)::

    forward(image (B, 3, H, W) in [0, 1], *, background (B, 3, H, W) | None = None,
            trimap (B, 1, H, W) in {0, 0.5, 1} | None = None) -> dict[str, Tensor]

always with "alpha" (B, 1, H, W) in [0, 1]; optionally "foreground" (B, 3, H, W) in [0, 1]
(``unet_matte`` with ``predict_foreground=True``); ``late_fusion`` adds "fg_prob" / "bg_prob"
(lists of (B, 1, H, W) side outputs, coarsest to finest, upsampled to H x W) and "beta".
Attributes: ``needs`` ("background", "trimap" or "nothing": the input the model requires;
the other one is ignored) and ``size_multiple`` (H and W must be divisible by it; models do not
pad). Wrap a model in :class:`mattepaint.models.matter.ModelMatter` to get a
:class:`mattepaint.methods.Matter` (padding, trimap clamping).

Models:
    ``unet_matte``   :class:`UNetMatte`, composite + background plate (seed report 000, sec. 3.2).
    ``late_fusion``  :class:`LateFusionMatte`, image only (Zhang et al., CVPR 2019).
    ``trimap_matte`` :class:`TrimapMatte`, image + trimap (after Xu et al., CVPR 2017).
    ``dim_matte``    :class:`DIMMatte`, image + trimap + a classical matte it corrects, on a
                     pretrained encoder (Xu et al., CVPR 2017, with a residual on Levin 2008).
"""

from mattepaint.models.matting.dim_matte import DIMMatte
from mattepaint.models.matting.late_fusion import LateFusionMatte
from mattepaint.models.matting.trimap_matte import TrimapMatte
from mattepaint.models.matting.unet_matte import UNetMatte

__all__ = ["DIMMatte", "LateFusionMatte", "TrimapMatte", "UNetMatte"]
