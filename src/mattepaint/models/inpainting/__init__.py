"""Learned inpainting models; importing this package registers them (task "inpainting").

Contract (see :mod:`mattepaint.models.registry`): ``forward(image (B, 3, H, W) with the holes
filled by the input transform, mask (B, 1, H, W) 1 = hole) -> (B, 3, H, W)`` in [0, 1], not
composited; attribute ``size_multiple``. Two-stage models (attribute ``stages``, DeepFill v1)
also take ``return_stages=True`` and then return ``{"pred", "coarse", "offsets"}``. Wrap one in
:class:`mattepaint.models.inpainter.ModelInpainter` to get a :class:`mattepaint.methods.Inpainter`.

=================  ==============================================  =========================
name               what                                            reference
=================  ==============================================  =========================
unet_inpaint       lightweight U-Net, base 16                      seed 000, Ronneberger 2015
autoencoder        8 conv blocks + 4 pools, 4 transposed convs      seed 002 baseline
context_encoder    encoder, channel-wise FC, decoder               Pathak et al. CVPR 2016
glcic              completion network with dilated convs           Iizuka et al. SIGGRAPH 2017
deepfill_v1        coarse + refinement with contextual attention   Yu et al. CVPR 2018
pconv_unet         partial-convolution U-Net (seed 004 / Liu)      Liu et al. ECCV 2018
gated_unet         gated-convolution U-Net                         Yu et al. ICCV 2019
ffc_inpaint        residual fast-Fourier-convolution generator     Suvorov et al. WACV 2022
=================  ==============================================  =========================
"""

from mattepaint.models.inpainting.autoencoder import Autoencoder
from mattepaint.models.inpainting.context_encoder import ContextEncoder
from mattepaint.models.inpainting.deepfill_v1 import DeepFillV1
from mattepaint.models.inpainting.ffc_inpaint import FFCInpaint
from mattepaint.models.inpainting.gated_unet import GatedUNet
from mattepaint.models.inpainting.glcic import GLCIC
from mattepaint.models.inpainting.pconv_unet import PConvUNet
from mattepaint.models.inpainting.unet_inpaint import UNetInpaint

__all__ = [
    "GLCIC",
    "Autoencoder",
    "ContextEncoder",
    "DeepFillV1",
    "FFCInpaint",
    "GatedUNet",
    "PConvUNet",
    "UNetInpaint",
]
