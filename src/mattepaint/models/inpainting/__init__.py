"""Learned inpainting models; importing this package registers them (task "inpainting").

Contract (see :mod:`mattepaint.models.registry`): ``forward(image (B, 3, H, W) with the holes
filled by the input transform, mask (B, 1, H, W) 1 = hole) -> (B, 3, H, W)`` in [0, 1], not
composited; attribute ``size_multiple``. Wrap one in
:class:`mattepaint.models.inpainter.ModelInpainter` to get a :class:`mattepaint.methods.Inpainter`.
"""

import importlib

from mattepaint.models.inpainting.unet_inpaint import UNetInpaint

_SUBMODULES = ("autoencoder", "context_encoder", "glcic", "deepfill_v1", "pconv_unet", "gated_unet")
for _name in _SUBMODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{__name__}.{_name}":
            raise

__all__ = ["UNetInpaint"]
