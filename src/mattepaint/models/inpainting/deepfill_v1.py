"""DeepFill v1 (Yu et al., CVPR 2018): coarse network + refinement with contextual attention.

Seed report 002 replicates it as the "stable variant of GLCIC" plus contextual attention
(sections III.B-C, Figs. 3-5): no batch normalisation, ELU activations, outputs clipped instead
of squashed by tanh/sigmoid, a coarse network trained with a (spatially discounted) L1 loss
and a refinement network whose two parallel encoders, a dilated-convolution branch that
hallucinates and a contextual-attention branch that copies, are concatenated and decoded. The
losses (discounted L1, WGAN-GP with global and local critics) live with the training task; this
module is the generator only.

Layout (the reference ``build_inpaint_net``; c = ``base``, "C(k, s, d) n" a k x k conv with
stride s and dilation d to n channels, ELU after every conv but the last; "U" nearest x2 then
C(3) (``gen_deconv``)), input image x in [-1, 1] (mapped from [0, 1]) and mask m::

    coarse:  [x, 1, m] -> C5 c -> C3s2 2c -> C3 2c -> C3s2 4c -> C3 4c -> C3 4c
             -> C3d2 4c -> C3d4 4c -> C3d8 4c -> C3d16 4c -> C3 4c -> C3 4c
             -> U 2c -> C3 2c -> U c -> C3 c/2 -> C3 3 (no activation) -> clip [-1, 1]
    refine input: x' = coarse * m + x * (1 - m), [x', 1, m]
      conv branch:      C5 c -> C3s2 c -> C3 2c -> C3s2 2c -> C3 4c -> C3 4c
                        -> C3d2 4c -> C3d4 4c -> C3d8 4c -> C3d16 4c
      attention branch: C5 c -> C3s2 c -> C3 2c -> C3s2 4c -> C3 4c -> C3 4c (ReLU)
                        -> contextual attention (mask at H/4) -> C3 4c -> C3 4c
      decoder: concat (8c) -> C3 4c -> C3 4c -> U 2c -> C3 2c -> U c -> C3 c/2 -> C3 3
               -> clip [-1, 1]

Output in [0, 1] is ``(clip(raw, -1, 1) + 1) / 2``: the network runs in the reference's
[-1, 1] range, so at initialisation the raw outputs sit near 0, i.e. mid-grey, well inside the
clip, and every parameter gets a gradient; a pixel whose raw value leaves [-1, 1] gets none
(the clip of the paper), which the L1 losses pull back into range. Channel widths: the
reference uses c = 32 for v1 (``cnum``).

References:
    Yu, Lin, Yang, Shen, Lu & Huang, "Generative Image Inpainting with Contextual Attention",
    CVPR 2018 (reference code: github.com/JiahuiYu/generative_inpainting, ``inpaint_model.py``,
    v1 branch).
    Seed report 002, "Deep Learning for Image Inpainting", sections III.B-C, Table I
    (fuse_k 3; the loss weights are the training task's).
    Iizuka, Simo-Serra & Ishikawa, "Globally and Locally Consistent Image Completion",
    SIGGRAPH 2017 (the dilated middle layers).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_inpaint_model_inputs, check_positive_int
from mattepaint.models.layers.contextual_attention import (
    DEFAULT_MAX_POSITIONS,
    ContextualAttention,
    offsets_to_color,
)
from mattepaint.models.registry import register_model

__all__ = ["DeepFillV1", "attention_picture", "offsets_picture"]

_DOWNSAMPLING = 4  # two stride-2 convs: the contextual attention runs at H/4 x W/4


def _conv(
    cin: int,
    cout: int,
    k: int = 3,
    stride: int = 1,
    dilation: int = 1,
    act: nn.Module | None = None,
) -> nn.Sequential:
    """``gen_conv``: k x k conv with 'same' zero padding, then ELU (or ``act``)."""
    pad = dilation * (k - 1) // 2
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dilation)
    return nn.Sequential(conv, nn.ELU() if act is None else act)


def _up(cin: int, cout: int) -> nn.Sequential:
    """``gen_deconv``: nearest-neighbour x2 upsampling, then a 3x3 conv + ELU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), *_conv(cin, cout))


def _refine_stem(c: int) -> list[nn.Module]:
    """The first three layers of both refinement branches, 5 -> c -> c (stride 2) -> 2c."""
    return [_conv(5, c, 5), _conv(c, c, stride=2), _conv(c, 2 * c)]


def _dilated(c: int) -> list[nn.Module]:
    """The four dilated 3x3 convs at H/4 (rates 2, 4, 8, 16), GLCIC's middle layers."""
    return [_conv(c, c, dilation=d) for d in (2, 4, 8, 16)]


def _decoder(cin: int, c: int) -> nn.Sequential:
    """C3 4c -> C3 4c -> U 2c -> C3 2c -> U c -> C3 c/2 -> C3 3 (raw, no activation)."""
    half = max(1, c // 2)
    return nn.Sequential(
        _conv(cin, 4 * c),
        _conv(4 * c, 4 * c),
        _up(4 * c, 2 * c),
        _conv(2 * c, 2 * c),
        _up(2 * c, c),
        _conv(c, half),
        nn.Conv2d(half, 3, 3, padding=1),
    )


@register_model("deepfill_v1", task="inpainting")
class DeepFillV1(nn.Module):
    """DeepFill v1 generator (Yu et al. 2018): coarse net + refinement with contextual attention.

    Seed 002's "stable variant" with the contextual-attention branch (Fig. 5). Layout in the
    module docstring: 5-channel input (image in [-1, 1], a ones channel, the mask) as in the
    reference code, two stride-2 convs to H/4, dilated convs (rates 2, 4, 8, 16), ELU, no batch
    norm, outputs clipped to [-1, 1] and mapped to [0, 1]. The refinement network sees the
    coarse result pasted into the hole and runs a dilated branch and a contextual-attention
    branch (:func:`~mattepaint.models.layers.contextual_attention.contextual_attention` at H/4
    with the mask) side by side, concatenated and decoded.

    Args:
        base: channel width c (the reference ``cnum``: 32); widths c, 2c, 4c (c/2 before RGB).
        attention_rate: contextual attention matching stride at H/4 (paper 2: matching at H/8).
        fuse_k: attention propagation window (seed 002 Table I: 3).
        softmax_scale: contextual attention softmax factor (paper 10).
        attention_max_positions: cap on the background patches the attention compares with;
            bounds its score tensor to ``B * (H*W / (16 rate^2)) * cap`` floats (the default,
            4096, is a full 64 x 64 matching grid: 512 x 512 images at rate 2; larger images
            compare with a strided subset of the background). None = no cap.

    Inputs:
        image: (B, 3, H, W) float in [0, 1], holes already filled by the input transform.
        mask: (B, 1, H, W) float, 1 = hole, 0 = known.
        return_stages: also return the coarse result and the attention offsets.
        H and W must be divisible by ``size_multiple = 4`` (the two stride-2 convs; the
        contextual attention handles any feature size, ``ceil`` on its matching grid).

    Outputs: (B, 3, H, W) float in [0, 1], the refined prediction everywhere (not composited);
    with ``return_stages=True`` a dict ``{"pred": (B, 3, H, W), "coarse": (B, 3, H, W) in
    [0, 1], "offsets": (B, 2, h, w) int64}``, ``h = ceil(H / (4 * attention_rate))``:
    for each matching cell (i, j), whose own pixel is ``(i, j) * offset_step``, the image
    pixel (row, col) of its most attended background patch (draw with
    :func:`attention_picture`).

    Reference: Yu, Lin, Yang, Shen, Lu & Huang, "Generative Image Inpainting with Contextual
    Attention", CVPR 2018; seed report 002, sections III.B-C.
    """

    stages = ("coarse",)

    def __init__(
        self,
        base: int = 32,
        attention_rate: int = 2,
        fuse_k: int = 3,
        softmax_scale: float = 10.0,
        attention_max_positions: int | None = DEFAULT_MAX_POSITIONS,
    ) -> None:
        super().__init__()
        check_positive_int("base", base)
        check_positive_int("attention_rate", attention_rate)
        check_positive_int("fuse_k", fuse_k)
        if attention_max_positions is not None:
            check_positive_int("attention_max_positions", attention_max_positions)
        self.attention = ContextualAttention(
            ksize=3,
            stride=1,
            rate=attention_rate,
            fuse_k=fuse_k,
            softmax_scale=softmax_scale,
            max_positions=attention_max_positions,
        )  # validates fuse_k (odd) and softmax_scale (> 0)
        self.size_multiple = _DOWNSAMPLING
        self.offset_step = _DOWNSAMPLING * attention_rate  # image pixels between offset cells
        c = base

        self.coarse = nn.Sequential(
            _conv(5, c, 5),
            _conv(c, 2 * c, stride=2),
            _conv(2 * c, 2 * c),
            _conv(2 * c, 4 * c, stride=2),
            _conv(4 * c, 4 * c),
            _conv(4 * c, 4 * c),
            *_dilated(4 * c),
            _decoder(4 * c, c),
        )
        self.refine_conv = nn.Sequential(
            *_refine_stem(c),
            _conv(2 * c, 2 * c, stride=2),
            _conv(2 * c, 4 * c),
            _conv(4 * c, 4 * c),
            *_dilated(4 * c),
        )
        self.refine_attention_in = nn.Sequential(
            *_refine_stem(c),
            _conv(2 * c, 4 * c, stride=2),
            _conv(4 * c, 4 * c),
            _conv(4 * c, 4 * c, act=nn.ReLU()),
        )
        self.refine_attention_out = nn.Sequential(_conv(4 * c, 4 * c), _conv(4 * c, 4 * c))
        self.refine_decoder = _decoder(8 * c, c)

    def forward(
        self, image: Tensor, mask: Tensor, return_stages: bool = False
    ) -> Tensor | dict[str, Tensor | None]:
        """(B, 3, H, W) image + (B, 1, H, W) mask -> (B, 3, H, W) in [0, 1] (or the stages)."""
        check_inpaint_model_inputs(image, mask, self.size_multiple)
        m = mask.to(image.dtype)  # (B, 1, H, W)
        x = 2 * image - 1  # (B, 3, H, W) in [-1, 1], the reference's range
        ones = torch.ones_like(m)  # (B, 1, H, W): lets the convs see the zero-padded border

        coarse = self.coarse(torch.cat([x, ones, m], dim=1)).clamp(-1, 1)  # (B, 3, H, W)
        x_refine = coarse * m + x * (1 - m)  # (B, 3, H, W) coarse pasted into the hole
        x_refine = torch.cat([x_refine, ones, m], dim=1)  # (B, 5, H, W)
        hallucinated = self.refine_conv(x_refine)  # (B, 4c, H/4, W/4)
        features = self.refine_attention_in(x_refine)  # (B, 4c, H/4, W/4)
        copied, offsets = self.attention(features, features, m)  # (B, 4c, H/4, W/4)
        copied = self.refine_attention_out(copied)  # (B, 4c, H/4, W/4)
        merged = torch.cat([hallucinated, copied], dim=1)  # (B, 8c, H/4, W/4)
        pred = self.refine_decoder(merged).clamp(-1, 1)  # (B, 3, H, W)

        pred = (pred + 1) / 2  # (B, 3, H, W) in [0, 1]
        if not return_stages:
            return pred
        if offsets is not None:
            offsets = offsets * _DOWNSAMPLING  # (B, 2, h', w') feature pixels -> image pixels
        return {"pred": pred, "coarse": (coarse + 1) / 2, "offsets": offsets}


def attention_picture(model: nn.Module, image: Tensor, mask: Tensor) -> np.ndarray:
    """Colour-coded contextual attention of a DeepFill model (seed 002 Fig. 5, paper Fig. 4).

    Runs ``model(image, mask, return_stages=True)`` under ``torch.no_grad`` on the model's
    device (padding the bottom/right by replication to ``model.size_multiple``), draws its
    offsets with :func:`~mattepaint.models.layers.contextual_attention.offsets_to_color` (hue =
    direction of the most attended patch relative to the pixel, saturation = distance; white =
    the pixel attends on itself) and upsamples that to the image size with nearest neighbour.

    Inputs: model, e.g. :class:`DeepFillV1` (needs ``return_stages``, ``size_multiple`` and
    ``offset_step``); image (1, 3, H, W) in [0, 1] as the model sees it (holes filled by the
    input transform, :func:`mattepaint.models.inpainter.apply_input_transform`); mask
    (1, 1, H, W), 1 = hole. The model's train/eval mode is left as it is.

    Outputs: (H, W, 3) uint8 RGB.
    """
    if not isinstance(image, Tensor) or image.ndim != 4 or tuple(image.shape[:2]) != (1, 3):
        shape = tuple(image.shape) if isinstance(image, Tensor) else type(image).__name__
        raise ValueError(f"image must be (1, 3, H, W), got {shape}")
    height, width = image.shape[-2:]
    if not isinstance(mask, Tensor) or tuple(mask.shape) != (1, 1, height, width):
        shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(f"mask must be (1, 1, H, W) like image {tuple(image.shape)}, got {shape}")
    step = getattr(model, "offset_step", None)
    if not getattr(model, "stages", ()) or step is None:
        raise ValueError(
            f"{type(model).__name__} has no attention offsets "
            "(needs return_stages and offset_step, e.g. deepfill_v1)"
        )
    multiple = int(getattr(model, "size_multiple", 1))
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    param = next(model.parameters(), None)
    device = param.device if param is not None else image.device
    x = F.pad(image.float().to(device), (0, pad_w, 0, pad_h), mode="replicate")  # (1, 3, H', W')
    m = F.pad(mask.float().to(device), (0, pad_w, 0, pad_h), mode="replicate")  # (1, 1, H', W')
    with torch.no_grad():
        offsets = model(x, m, return_stages=True)["offsets"]  # (1, 2, h, w)
    if offsets is None:
        raise ValueError(f"{type(model).__name__} returned no attention offsets")
    return offsets_picture(offsets, step, height, width)


def offsets_picture(offsets: Tensor, step: int, height: int, width: int) -> np.ndarray:
    """Draw attention offsets (1, 2, h, w) of a grid with ``step`` image pixels per cell as the
    colour code of :func:`attention_picture`, upsampled by nearest neighbour to (H, W) =
    (``height``, ``width``) (cells beyond h, w repeat the last one).

    Outputs: (H, W, 3) uint8 RGB.
    """
    colors = offsets_to_color(offsets, step)[0]  # (h, w, 3) uint8
    h, w = colors.shape[:2]
    rows = np.minimum(np.arange(height) // step, h - 1)  # nearest cell of every image row
    cols = np.minimum(np.arange(width) // step, w - 1)
    return np.ascontiguousarray(colors[rows[:, None], cols[None, :]])  # (H, W, 3)
