"""Contextual attention (Yu et al., CVPR 2018, "DeepFill v1"): fill a hole by copying features.

Every foreground position (typically inside the hole) looks for the known background patches
that resemble its own neighbourhood and takes a softmax-weighted average of them, so texture can
be borrowed from far away in the image (seed report 002, section III.C, "Match and Attend" and
"Attention Propagation"). Steps, for foreground ``f`` and background ``b`` of shape (B, C, H, W):

1. Matching runs on a grid ``rate`` times coarser: ``f[..., ::rate, ::rate]`` and likewise
   ``b``, giving an ``h x w`` grid with ``h = ceil(H / rate)``, ``w = ceil(W / rate)``.
2. Background patches (``ksize x ksize`` around each candidate position) become filters. Both
   the foreground and the background patches are L2-normalised, so the score is the cosine
   similarity of the paper's (and seed 002's) equation
   ``s[x, y, x', y'] = <f_xy / |f_xy|, b_x'y' / |b_x'y'|>``. (The reference TensorFlow code
   normalises only the background patch; the foreground norm then acts as a per-position
   softmax temperature.)
3. Attention propagation (``fuse_k``): the scores are summed along diagonals, first left-right
   then top-down, ``s'[x, y, x', y'] = sum_i s[x, y + i, x', y' + i]`` and
   ``s''[x, y, x', y'] = sum_j s'[x + j, y, x' + j, y']`` for ``i, j in -k//2 .. k//2``, so a
   match is rewarded when its neighbours match the neighbouring background patches too. As in
   the reference code this happens on the scores, before the softmax (the weights still sum to
   one); unlike the reference code, which convolves the flattened (h*w) x (h*w) score matrix
   with an identity kernel and so wraps around at row ends, the sums here stop at the borders.
4. Background patches that touch the hole (any hole pixel under the ``ksize x ksize`` window,
   mask reduced with a max so a cell counts as hole if any of its pixels is one) are excluded:
   they get weight exactly 0, and the weights over the valid patches sum to 1 (scaled softmax,
   ``softmax(softmax_scale * s'')``). A sample whose every patch touches the hole attends over
   all patches instead (there is nothing better to copy).
5. Reconstruction pastes full-resolution ``2 rate x 2 rate`` background patches (a transposed
   convolution with stride ``rate``) weighted by the attention and divides by the number of
   pasted patches that cover each pixel: 4 in the interior, as the reference code's ``/ 4``,
   and exact at the borders too.

Memory: the score tensor has ``B * (h * w) * (hb * wb)`` entries at the matching resolution,
where ``hb * wb`` is the number of background candidates; a few float32 copies of it are alive
at once (scores, the propagation sums, the softmax). When ``h * w`` exceeds ``max_positions``
the background candidates are subsampled with the smallest stride that brings their number to
at most ``max_positions``, so the scores take at most ``B * h * w * max_positions * 4`` bytes:
a 512 x 512 image in :class:`~mattepaint.models.inpainting.deepfill_v1.DeepFillV1` (features
128 x 128, matching grid 64 x 64 = 4096 positions) is at the default limit of 4096, i.e.
64 MiB per sample and copy; 1024 x 1024 gets a background stride of 2 and the same per-copy
size times 4 (the foreground is never subsampled).

References:
    Yu, Lin, Yang, Shen, Lu & Huang, "Generative Image Inpainting with Contextual Attention",
    CVPR 2018 (reference code: github.com/JiahuiYu/generative_inpainting, ``inpaint_ops.py``).
    Seed report 002, "Deep Learning for Image Inpainting", section III.C and Table I (fuse_k 3).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mattepaint.checks import check_positive_int

__all__ = [
    "AttentionWeights",
    "ContextualAttention",
    "attention_weights",
    "background_stride",
    "contextual_attention",
    "offsets_to_color",
]

DEFAULT_MAX_POSITIONS = 4096  # background candidates; 64 x 64 matching grid = 512 px DeepFill


class AttentionWeights(NamedTuple):
    """Output of :func:`attention_weights`.

    weights: (B, h, w, hb, wb) float, the attention of each matching-grid foreground position
        (i, j) on each background candidate (i', j'), which sits at matching-grid position
        ``(i' * stride, j' * stride)``; sums to 1 over the candidates.
    valid: (B, hb, wb) bool, candidates that do not touch the hole (all True for a sample with
        no valid candidate, see :func:`attention_weights`).
    stride: the background stride on the matching grid (``>= stride`` argument, larger when
        ``max_positions`` subsampled the candidates).
    """

    weights: Tensor
    valid: Tensor
    stride: int


def _check_options(
    ksize: object,
    stride: object,
    rate: object,
    fuse_k: object,
    softmax_scale: object,
    max_positions: object,
) -> None:
    for name, value in (("ksize", ksize), ("stride", stride), ("rate", rate), ("fuse_k", fuse_k)):
        check_positive_int(name, value)
    for name, value in (("ksize", ksize), ("fuse_k", fuse_k)):
        if value % 2 == 0:  # type: ignore[operator]
            raise ValueError(f"{name} must be odd (centred window), got {value}")
    if isinstance(softmax_scale, bool) or not isinstance(softmax_scale, (int, float)):
        raise TypeError(f"softmax_scale must be a number, got {type(softmax_scale).__name__}")
    if not softmax_scale > 0 or not math.isfinite(softmax_scale):
        raise ValueError(f"softmax_scale must be a positive finite number, got {softmax_scale}")
    if max_positions is not None:
        check_positive_int("max_positions", max_positions)


def _check_inputs(foreground: Tensor, background: Tensor, mask: Tensor | None) -> None:
    for name, x in (("foreground", foreground), ("background", background)):
        if not isinstance(x, Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name} must be (B, C, H, W), got {shape}")
    if background.shape != foreground.shape:
        raise ValueError(
            f"background must be (B, C, H, W) like foreground {tuple(foreground.shape)}, "
            f"got {tuple(background.shape)}"
        )
    if mask is not None:
        b = foreground.shape[0]
        if not isinstance(mask, Tensor) or mask.ndim != 4 or mask.shape[:2] != (b, 1):
            shape = tuple(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(f"mask must be (B, 1, h, w) with B = {b} (any h, w), got {shape}")


def background_stride(h: int, w: int, stride: int = 1, max_positions: int | None = None) -> int:
    """Smallest background stride ``s >= stride`` with ``ceil(h/s) * ceil(w/s) <= max_positions``.

    ``h x w`` is the matching grid; ``max_positions=None`` means no limit (returns ``stride``).
    """
    s = stride
    if max_positions is not None:
        while math.ceil(h / s) * math.ceil(w / s) > max_positions:
            s += 1
    return s


def _hole_grid(mask: Tensor | None, shape: tuple[int, int], rate: int, like: Tensor) -> Tensor:
    """(B, 1, Hm, Wm) mask -> (B, 1, h, w) float 0/1 on the matching grid, 1 = any hole pixel."""
    b = like.shape[0]
    height, width = shape
    h, w = math.ceil(height / rate), math.ceil(width / rate)
    if mask is None:
        return like.new_zeros(b, 1, h, w)
    holes = (mask.detach() > 0.5).to(like.dtype)  # (B, 1, Hm, Wm)
    if holes.shape[-2:] != (height, width):  # any hole pixel in a feature cell makes it a hole
        holes = F.adaptive_max_pool2d(holes, (height, width))  # (B, 1, H, W)
    holes = F.pad(holes, (0, w * rate - width, 0, h * rate - height))  # (B, 1, h*rate, w*rate)
    return F.max_pool2d(holes, rate, stride=rate)  # (B, 1, h, w)


def _normalized_patches(x: Tensor, ksize: int) -> Tensor:
    """(B, C, h, w) -> (B, C * ksize**2, h * w) zero-padded patches with unit L2 norm."""
    patches = F.unfold(x, ksize, padding=ksize // 2)  # (B, C*k*k, h*w)
    return patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-4)


def _shift_add(out: Tensor, src: Tensor, dims: tuple[int, int], shift: int, stride: int) -> None:
    """In place: ``out[.., y, .., y', ..] += src[.., y + shift*stride, .., y' + shift, ..]``.

    ``dims`` = (foreground dim, background dim); terms falling outside ``src`` are zero.
    """
    terms = []
    for dim, step in zip(dims, (shift * stride, shift), strict=True):
        n = src.shape[dim]
        start, length = max(0, -step), n - abs(step)
        if length <= 0:
            return
        terms.append((dim, start, step, length))
    target, source = out, src
    for dim, start, step, length in terms:
        target = target.narrow(dim, start, length)
        source = source.narrow(dim, start + step, length)
    target.add_(source)


def _propagate(scores: Tensor, fuse_k: int, stride: int) -> Tensor:
    """Sum the scores along diagonals: left-right then top-down (attention propagation).

    scores: (B, h, w, hb, wb) -> same shape. A foreground step of ``stride`` goes with a
    background candidate step of 1 (candidates are ``stride`` apart); zero beyond the borders.
    """
    p = fuse_k // 2
    for dims in ((2, 4), (1, 3)):  # left-right: (w, wb); then top-down: (h, hb)
        out = scores.clone()  # the i = 0 term
        for i in range(-p, p + 1):
            if i != 0:
                _shift_add(out, scores, dims, i, stride)  # (B, h, w, hb, wb)
        scores = out
    return scores


def attention_weights(
    foreground: Tensor,
    background: Tensor,
    mask: Tensor | None,
    *,
    ksize: int = 3,
    stride: int = 1,
    rate: int = 2,
    fuse_k: int = 3,
    softmax_scale: float = 10.0,
    max_positions: int | None = DEFAULT_MAX_POSITIONS,
) -> AttentionWeights:
    """Attention of every foreground position on the background patches (steps 1-4 above).

    Inputs: foreground, background (B, C, H, W) features; mask (B, 1, Hm, Wm) of any size,
    > 0.5 = hole (reduced to the matching grid with a max), or None (no hole). Options as in
    :func:`contextual_attention`.

    Outputs: :class:`AttentionWeights` with ``weights`` (B, h, w, hb, wb),
    ``h = ceil(H / rate)``, ``hb = ceil(h / s)`` (s = the background stride), float32 or the
    input's dtype if wider, ``softmax(softmax_scale * propagate(cosine scores))`` over the valid
    candidates (exactly 0 on the others).
    """
    _check_inputs(foreground, background, mask)
    _check_options(ksize, stride, rate, fuse_k, softmax_scale, max_positions)
    batch, _, height, width = foreground.shape
    f = foreground[..., ::rate, ::rate]  # (B, C, h, w)
    b = background[..., ::rate, ::rate]  # (B, C, h, w)
    h, w = f.shape[-2:]
    s = background_stride(h, w, stride, max_positions)

    holes = _hole_grid(mask, (height, width), rate, f)  # (B, 1, h, w)
    touches = F.max_pool2d(holes, ksize, stride=1, padding=ksize // 2)  # (B, 1, h, w)
    valid = touches[:, 0, ::s, ::s] == 0  # (B, hb, wb)
    hb, wb = valid.shape[-2:]
    valid = valid | ~valid.flatten(1).any(dim=1)[:, None, None]  # nothing valid: use them all

    f_patches = _normalized_patches(f, ksize)  # (B, C*k*k, h*w)
    b_patches = _normalized_patches(b, ksize)  # (B, C*k*k, h*w)
    b_patches = b_patches.reshape(batch, -1, h, w)[..., ::s, ::s].reshape(batch, -1, hb * wb)
    # softmax_scale * cosine, the scale applied to the (smaller) foreground patch matrix
    scores = torch.bmm(softmax_scale * f_patches.transpose(1, 2), b_patches)  # (B, h*w, hb*wb)
    scores = scores.reshape(batch, h, w, hb, wb)
    scores = scores.to(torch.promote_types(scores.dtype, torch.float32))  # softmax in >= fp32
    if fuse_k > 1:
        scores = _propagate(scores, fuse_k, s)  # (B, h, w, hb, wb)
    # in place (scores is a fresh tensor whose values no backward needs): it is the big one
    scores.masked_fill_(~valid[:, None, None], float("-inf"))
    weights = torch.softmax(scores.reshape(batch, h, w, hb * wb), dim=-1)
    return AttentionWeights(weights.reshape(batch, h, w, hb, wb), valid, s)


def contextual_attention(
    foreground: Tensor,
    background: Tensor,
    mask: Tensor | None,
    *,
    ksize: int = 3,
    stride: int = 1,
    rate: int = 2,
    fuse_k: int = 3,
    softmax_scale: float = 10.0,
    return_offsets: bool = True,
    max_positions: int | None = DEFAULT_MAX_POSITIONS,
) -> tuple[Tensor, Tensor | None]:
    """Contextual attention (Yu et al. 2018): rebuild the foreground from background patches.

    ``y = fold(raw_patches(background) @ weights^T) / coverage`` with the weights of
    :func:`attention_weights` (module docstring: matching on a ``rate``-times coarser grid,
    cosine scores of ``ksize`` patches, propagation with ``fuse_k``, softmax with
    ``softmax_scale`` over the patches that do not touch the hole) and ``2 rate x 2 rate``
    full-resolution background patches pasted with stride ``rate``. Batched (bmm / fold).

    Args:
        foreground: (B, C, H, W) features to rebuild (DeepFill passes the same tensor twice).
        background: (B, C, H, W) features to copy from.
        mask: (B, 1, Hm, Wm), > 0.5 = hole, any resolution (reduced to the feature grid with a
            max: a cell is a hole if any of its pixels is), or None for no hole.
        ksize: matching patch size on the matching grid (odd; paper 3).
        stride: background candidate stride on the matching grid (paper 1).
        rate: matching grid = every ``rate``-th feature pixel (paper 2).
        fuse_k: attention propagation window (odd; 1 switches it off; Table I of seed 002: 3).
        softmax_scale: softmax temperature factor lambda (paper 10).
        return_offsets: also return the argmax offsets (else None).
        max_positions: at most this many background candidates (larger grids get a larger
            background stride, see :func:`background_stride`); None = no limit. Bounds the
            score tensor at ``B * ceil(H/rate) * ceil(W/rate) * max_positions`` floats.

    Returns:
        y: (B, C, H, W), the attention-weighted paste of background patches (every position,
            the caller decides where to use it).
        offsets: (B, 2, h, w) int64 with ``h = ceil(H / rate)``, ``w = ceil(W / rate)``: for
            matching-grid position (i, j), whose own pixel is ``(i * rate, j * rate)``, the
            (row, col) pixel of its most attended background patch on the (H, W) feature grid.
            ``offsets - own position`` is the relative offset drawn by :func:`offsets_to_color`
            (zero where a position attends on itself).
    """
    weights, _, s = attention_weights(
        foreground,
        background,
        mask,
        ksize=ksize,
        stride=stride,
        rate=rate,
        fuse_k=fuse_k,
        softmax_scale=softmax_scale,
        max_positions=max_positions,
    )
    batch, _, height, width = background.shape
    _, h, w, hb, wb = weights.shape
    kernel, top = 2 * rate, rate // 2
    # background padded so that patch (i, j) covers rows i*rate - top .. i*rate - top + 2 rate
    padded = F.pad(
        background, (top, (w + 1) * rate - width - top, top, (h + 1) * rate - height - top)
    )  # (B, C, (h+1) rate, (w+1) rate)
    raw = F.unfold(padded, kernel, stride=rate)  # (B, C * 4 rate^2, h*w)
    raw = raw.reshape(batch, -1, h, w)[..., ::s, ::s].reshape(batch, -1, hb * wb)
    attn = weights.reshape(batch, h * w, hb * wb).to(raw.dtype)  # (B, h*w, hb*wb)
    columns = torch.bmm(raw, attn.transpose(1, 2))  # (B, C * 4 rate^2, h*w)
    size = ((h + 1) * rate, (w + 1) * rate)
    y = F.fold(columns, size, kernel, stride=rate)  # (B, C, (h+1) rate, (w+1) rate)
    ones = columns.new_ones(1, kernel * kernel, h * w)
    coverage = F.fold(ones, size, kernel, stride=rate)  # (1, 1, ...): 4 inside, 1-2 at edges
    y = (y / coverage)[..., top : top + height, top : top + width]  # (B, C, H, W)

    offsets = None
    if return_offsets:
        best = weights.detach().reshape(batch, h, w, hb * wb).argmax(dim=-1)  # (B, h, w)
        rows = torch.div(best, wb, rounding_mode="floor") * (s * rate)  # (B, h, w)
        cols = (best % wb) * (s * rate)  # (B, h, w)
        offsets = torch.stack([rows, cols], dim=1).long()  # (B, 2, h, w)
    return y.contiguous(), offsets


class ContextualAttention(nn.Module):
    """:func:`contextual_attention` as a module (no parameters; the options become attributes).

    Inputs: foreground, background (B, C, H, W); mask (B, 1, Hm, Wm), > 0.5 = hole, or None.
    Outputs: ``(y (B, C, H, W), offsets (B, 2, ceil(H/rate), ceil(W/rate)) int64 or None)``.
    Reference: Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018.
    """

    def __init__(
        self,
        ksize: int = 3,
        stride: int = 1,
        rate: int = 2,
        fuse_k: int = 3,
        softmax_scale: float = 10.0,
        return_offsets: bool = True,
        max_positions: int | None = DEFAULT_MAX_POSITIONS,
    ) -> None:
        super().__init__()
        _check_options(ksize, stride, rate, fuse_k, softmax_scale, max_positions)
        self.ksize, self.stride, self.rate = ksize, stride, rate
        self.fuse_k, self.softmax_scale = fuse_k, float(softmax_scale)
        self.return_offsets, self.max_positions = return_offsets, max_positions

    def extra_repr(self) -> str:
        return (
            f"ksize={self.ksize}, stride={self.stride}, rate={self.rate}, fuse_k={self.fuse_k}, "
            f"softmax_scale={self.softmax_scale}, max_positions={self.max_positions}"
        )

    def forward(
        self, foreground: Tensor, background: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        return contextual_attention(
            foreground,
            background,
            mask,
            ksize=self.ksize,
            stride=self.stride,
            rate=self.rate,
            fuse_k=self.fuse_k,
            softmax_scale=self.softmax_scale,
            return_offsets=self.return_offsets,
            max_positions=self.max_positions,
        )


# ----------------------------------------------------------------------------- visualisation


def _color_wheel() -> np.ndarray:
    """The Middlebury optical-flow colour wheel (Baker et al., IJCV 2011): (55, 3) in [0, 255].

    Red -> yellow -> green -> cyan -> blue -> magenta -> red in 15, 6, 4, 11, 13, 6 steps.
    """
    # (steps, channel held at 255, channel ramped, ramp rises) for RY, YG, GC, CB, BM, MR
    segments = (
        (15, 0, 1, True),
        (6, 1, 0, False),
        (4, 1, 2, True),
        (11, 2, 1, False),
        (13, 2, 0, True),
        (6, 0, 2, False),
    )
    rows = []
    for n, full, ramp, rising in segments:
        block = np.zeros((n, 3))
        block[:, full] = 255
        step = np.floor(255 * np.arange(n) / n)
        block[:, ramp] = step if rising else 255 - step
        rows.append(block)
    return np.concatenate(rows)  # (55, 3)


def offsets_to_color(
    offsets: Tensor, step: int | tuple[int, int], *, max_radius: float | None = None
) -> np.ndarray:
    """Colour-code attention offsets (seed 002 Fig. 5; Yu et al. 2018 Fig. 4).

    The relative offset ``(dy, dx) = offsets[:, :, i, j] - (i * step_y, j * step_x)`` of each
    position (where its most attended patch lies, relative to itself) is drawn with the
    Middlebury flow colour wheel: the hue gives the direction, the saturation the length
    ``sqrt(dx**2 + dy**2) / max_radius``; zero offset (a position attending on itself) is white.
    Right (+x) is red, down (+y) orange-yellow, left light blue-cyan, up violet-blue.

    Inputs:
        offsets: (B, 2, h, w) integer (row, col) positions on a pixel grid, e.g. from
            :func:`contextual_attention` (step = rate) or DeepFillV1 (step = its
            ``offset_step``).
        step: pixels between neighbouring offset cells on that grid (int or (step_y, step_x)).
        max_radius: the length drawn fully saturated; None = each image's longest offset (as
            the reference code's ``flow_to_image``; an all-zero image stays white).

    Outputs: (B, h, w, 3) uint8 RGB.
    """
    if not isinstance(offsets, Tensor) or offsets.ndim != 4 or offsets.shape[1] != 2:
        shape = tuple(offsets.shape) if isinstance(offsets, Tensor) else type(offsets).__name__
        raise ValueError(f"offsets must be (B, 2, h, w), got {shape}")
    step_y, step_x = (step, step) if isinstance(step, int) else step
    check_positive_int("step", step_y)
    check_positive_int("step", step_x)
    if max_radius is not None and not max_radius > 0:
        raise ValueError(f"max_radius must be > 0 or None, got {max_radius}")
    pos = offsets.detach().cpu().double().numpy()  # (B, 2, h, w)
    _, _, h, w = pos.shape
    dy = pos[:, 0] - (np.arange(h) * step_y)[None, :, None]  # (B, h, w)
    dx = pos[:, 1] - (np.arange(w) * step_x)[None, None, :]  # (B, h, w)
    radius = np.hypot(dx, dy)  # (B, h, w)
    if max_radius is None:
        scale = radius.reshape(len(radius), -1).max(axis=1, initial=0.0)[:, None, None]  # (B,1,1)
        scale = np.where(scale > 0, scale, 1.0)
    else:
        scale = np.full((1, 1, 1), float(max_radius))
    u, v, rad = dx / scale, dy / scale, radius / scale  # (B, h, w), rad in [0, 1] if per image

    wheel = _color_wheel() / 255.0  # (55, 3)
    n = len(wheel)
    angle = np.arctan2(-v, -u) / np.pi  # (B, h, w) in [-1, 1]
    fk = (angle + 1) / 2 * (n - 1)  # position on the wheel
    k0 = np.floor(fk).astype(np.int64)
    k1 = (k0 + 1) % n
    frac = (fk - k0)[..., None]  # (B, h, w, 1)
    color = (1 - frac) * wheel[k0] + frac * wheel[k1]  # (B, h, w, 3)
    inside = (rad <= 1)[..., None]
    color = np.where(inside, 1 - rad[..., None] * (1 - color), color * 0.75)  # white at zero
    return np.clip(np.floor(255 * color), 0, 255).astype(np.uint8)  # (B, h, w, 3)
