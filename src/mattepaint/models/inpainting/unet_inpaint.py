"""Lightweight U-Net inpainting network of seed report 000 (section 4.3).

The network sees the image with its holes blanked plus the mask as a fourth channel and predicts
the whole RGB image; it is trained self-supervised, Context-Encoder style (Pathak et al.): random
holes are cut out of ordinary photos and the network learns to put the pixels back.

References:
    Seed report 000, "Deep Image Matting and Semantic Image Inpainting", section 4.3
    ("Lightweight U-Net for Inpainting": 4 input channels, 16 base filters, 3 RGB outputs).
    Ronneberger, Fischer & Brox, "U-Net: Convolutional Networks for Biomedical Image
    Segmentation", MICCAI 2015.
    Pathak, Krahenbuhl, Donahue, Darrell & Efros, "Context Encoders: Feature Learning by
    Inpainting", CVPR 2016 (the self-supervised set-up).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_int, check_positive_int
from mattepaint.models.layers.ffc import FFCResBlock
from mattepaint.models.layers.unet import Norm, UNet, Up, bilinear_up_state, grow_unet_state
from mattepaint.models.registry import register_model

__all__ = ["UNetInpaint"]


@register_model("unet_inpaint", task="inpainting")
class UNetInpaint(nn.Module):
    """Lightweight U-Net inpainter (seed 000 section 4.3): RGB-with-holes + mask -> RGB.

    ``out = sigmoid(UNet(concat(image, mask)))`` with :class:`mattepaint.models.layers.UNet`
    (in 4 channels, out 3; ``base`` channels at full resolution, ``depth`` 2x poolings, skip
    connections at every level).

    Args:
        base: first-level width (seed 000 uses 16, down from the matting model's 32).
        depth: number of poolings (seed 000: 3); the bottleneck has ``base * 2**depth`` channels.
        norm: "batch" or "none" (see :class:`~mattepaint.models.layers.UNet`).
        up: "transpose" (seed 000) or "bilinear".
        residual: refine the input instead of predicting from scratch:
            ``out = sigmoid(logit(image) + UNet(...))`` with the last layer initialised to zero,
            so an untrained network returns its input. Meant for the seed 002 "hole_ns" input,
            where the hole is already pre-filled by Navier-Stokes and the network only has to
            improve on it (default False: seed 000's plain prediction).
        global_blocks: number of Fourier-convolution residual blocks (LaMa's
            :class:`~mattepaint.models.layers.ffc.FFCResBlock`, global ratio 0.75, each ending
            in a zero-initialised 1x1 convolution) on the bottleneck features, for image-wide
            context on large holes (default 0: none). Because of the zero convolutions, weights
            of the same U-Net without the blocks load into it (``model.init_from``) and give the
            same output.

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform
            (zeros for "hole").
        mask: (B, 1, H, W) float, 1 = hole, 0 = known (note: the seed's prose describes the
            mask channel the other way round; this package uses 1 = hole everywhere).
        H and W must be divisible by ``size_multiple = 2**depth``
        (:class:`~mattepaint.models.inpainter.ModelInpainter` pads for you).

    Outputs: (B, 3, H, W) float in [0, 1], the predicted image everywhere (not composited with
    the known pixels).
    """

    def __init__(
        self,
        base: int = 16,
        depth: int = 3,
        norm: Norm = "batch",
        up: Up = "transpose",
        residual: bool = False,
        global_blocks: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(residual, bool):
            raise TypeError(f"residual must be a bool, got {residual!r}")
        global_blocks = check_int("global_blocks", global_blocks, minimum=0)
        bottleneck = None
        if global_blocks:
            width = check_positive_int("base", base) * 2 ** check_positive_int("depth", depth)
            bottleneck = nn.Sequential(
                *(FFCResBlock(width, 0.75, zero_init=True) for _ in range(global_blocks))
            )
        self.unet = UNet(4, 3, base=base, depth=depth, norm=norm, up=up, bottleneck=bottleneck)
        self.size_multiple = self.unet.size_multiple
        self.residual = residual
        if residual:  # start as the identity on the (pre-filled) input
            nn.init.zeros_(self.unet.head.weight)
            nn.init.zeros_(self.unet.head.bias)

    def adapt_state(self, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The weights of a related ``unet_inpaint`` in this model's layout, computing (about)
        the same output: transposed up-sampling converted to this model's bilinear one
        (:func:`~mattepaint.models.layers.unet.bilinear_up_state`), then a narrower model of the
        same depth (smaller ``base``) embedded into this model's shapes
        (:func:`~mattepaint.models.layers.unet.grow_unet_state`, exact). ``model.init_from``
        calls it, so training can continue a shipped model at a larger width or with bilinear
        up-sampling. Raises ValueError for weights of another layout (depth, norm, or bilinear
        weights into a transposed model)."""
        state = bilinear_up_state(self.unet, state, prefix="unet.")
        return grow_unet_state(self.unet, state, prefix="unet.")

    def forward(self, image: Tensor, mask: Tensor) -> Tensor:
        """(B, 3, H, W) image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1]."""
        check_inpaint_model_inputs(image, mask, self.size_multiple, reason="2**depth")
        x = torch.cat([image, mask.to(image.dtype)], dim=1)  # (B, 4, H, W)
        logits = self.unet(x)  # (B, 3, H, W)
        if self.residual:
            logits = logits + torch.logit(image.clamp(1e-3, 1 - 1e-3))  # refine the input
        return torch.sigmoid(logits)  # (B, 3, H, W) in [0, 1]
