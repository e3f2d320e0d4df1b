"""Exemplar-based inpainting: PatchMatch nearest-neighbour fields and patch voting, coarse to fine.

The hole is filled by copying patches from the known part of the same image (the "search for
similar patches in the valid region" family that seed 002 contrasts with learned inpainting).
It restores repeated texture (brick, grass, stripes) sharply where diffusion methods such as
Telea blur, but it cannot invent structure that is not in the image.

Algorithm (Wexler, Shechtman & Irani 2007, with the PatchMatch search of Barnes et al. 2009):

1. Pyramid: the image is halved (2x2 mean) until its short side would drop below ``min_size``
   or too few hole-free source patches would remain; a coarse pixel is a hole when any of its
   four children is. The coarsest hole is pre-filled with Telea (OpenCV).

   ``min_size`` is 256 by default, so a 256 px image is filled at one level, 512 px at two,
   1024 px at three. Deeper pyramids (Wexler et al. go down to patch-sized images) measured
   worse here: on 24 cases of ``benchmarks/deep_inpainting.py`` (256 px, NVIDIA masks) PSNR /
   SSIM / LPIPS-alex were 23.04 / 0.793 / 0.206 with ``min_size=32`` and 25.04 / 0.820 / 0.180
   with 256 (Telea: 24.92 / 0.820 / 0.199); on 8 Kodak images at 512 px (25 % NVIDIA holes)
   24.52 / 0.868 / 0.175 with 32 and 27.02 / 0.880 / 0.152 with 256 (Telea 27.02 / 0.883 /
   0.169): patch votes on tiny images lose the structure that the Telea start gives.
2. At every level, from coarse to fine, ``em_iterations`` times:

   a. Nearest-neighbour field (NNF) by PatchMatch: every *target* patch (a ``p x p`` patch
      centred within ``p // 2`` of the hole, so it overlaps the hole) gets the *source* patch
      (entirely inside the image and entirely outside the hole) with the least sum of squared
      differences over the target's in-image pixels, the hole pixels at their current estimate.
      Random initialisation (or the coarser level's field, doubled), then ``pm_iterations``
      sweeps of propagation (try the shifted match of the left / upper neighbour, right / lower
      on odd sweeps) and random search (candidates ``s + U(-R, R)^2`` for ``R = max(H, W)``
      halved down to 1).
   b. Vote: every hole pixel becomes the weighted mean of the pixels that the source patches of
      all target patches covering it put there, with weight ``exp(-d / (2 sigma^2))`` for the
      patch's mean squared distance ``d`` and ``sigma^2`` the 75th percentile of ``d`` over the
      targets (Wexler et al.'s similarity weight).

3. The filled level is upsampled (bilinear) into the hole of the next finer level, the NNF
   upsampled with it (``2 s + (y mod 2, x mod 2)``).

The known pixels are never changed: the output equals the input outside the hole exactly. The
inner loops are numba-compiled (``cache=True``: the first call in a fresh environment compiles
them, about 5-10 s; later runs load the cache); they live in :mod:`._patchmatch_kernels`,
imported on the first fill, so importing :mod:`mattepaint.classical` does not import numba.
Randomness comes from ``seed`` only (a xorshift generator inside the compiled loops), so a seed
gives the same result on every run.

References:
    C. Barnes, E. Shechtman, A. Finkelstein, D. B. Goldman, "PatchMatch: A Randomized
    Correspondence Algorithm for Structural Image Editing", SIGGRAPH 2009.
    Y. Wexler, E. Shechtman, M. Irani, "Space-Time Completion of Video", IEEE TPAMI 29(3), 2007.
"""

from __future__ import annotations

import cv2
import numpy as np
from torch import Tensor

from mattepaint.checks import check_int, check_int_at_least
from mattepaint.classical._common import check_image, check_mask, inpaint_batch, to_float
from mattepaint.errors import InputError
from mattepaint.interface import check_hole_coverage

__all__ = ["PatchMatchInpainter", "inpaint_patchmatch"]

_MIN_SOURCES = 32  # a coarser level is used only if it keeps at least this many source patches


# --------------------------------------------------------------------------------------------
# one level and the pyramid


def _downsample(image: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 mean of the image (edge-padded to even size) and 2x2 "any" of the hole:
    (H, W, C), (H, W) -> (ceil(H/2), ceil(W/2), C), (ceil(H/2), ceil(W/2))."""
    h, w = hole.shape
    pad = ((0, h % 2), (0, w % 2))
    img = np.pad(image, (*pad, (0, 0)), mode="edge")
    msk = np.pad(hole, pad, mode="edge")
    h2, w2 = msk.shape[0] // 2, msk.shape[1] // 2
    img = img.reshape(h2, 2, w2, 2, -1).mean(axis=(1, 3), dtype=np.float32)  # (h2, w2, C)
    msk = msk.reshape(h2, 2, w2, 2).any(axis=(1, 3))  # (h2, w2)
    return img.astype(np.float32), msk


def _source_map(hole: np.ndarray, r: int) -> np.ndarray:
    """(H, W) bool: True where a (2r+1)^2 patch centred there lies inside the image and outside
    the hole."""
    h, w = hole.shape
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    near = cv2.dilate(hole.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    valid = near == 0
    valid[:r, :] = False
    valid[h - r :, :] = False
    valid[:, :r] = False
    valid[:, w - r :] = False
    return valid


def _target_list(hole: np.ndarray, r: int) -> np.ndarray:
    """(T, 2) int32 centres of the patches that overlap the hole, in raster order."""
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    near = cv2.dilate(hole.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return np.argwhere(near > 0).astype(np.int32)  # (T, 2) as (y, x)


def _fill_level(
    img: np.ndarray,
    hole: np.ndarray,
    nnf: np.ndarray,
    r: int,
    em_iterations: int,
    pm_iterations: int,
    state: np.ndarray,
) -> None:
    """Fill the hole of one pyramid level in place (img (H, W, C) float32, nnf (H, W, 2) int32)."""
    from mattepaint.classical._patchmatch_kernels import patchmatch_nnf, vote  # numba: lazily

    valid = _source_map(hole, r)
    sources = np.argwhere(valid).astype(np.int32)  # (S, 2)
    targets = _target_list(hole, r)  # (T, 2)
    dist = np.zeros(hole.shape, np.float64)
    for _ in range(em_iterations):
        patchmatch_nnf(img, targets, valid, sources, nnf, dist, r, pm_iterations, state)
        count = np.zeros(hole.shape, np.float64)  # in-image pixels per target patch
        ys, xs = targets[:, 0], targets[:, 1]
        h, w = hole.shape
        rows = np.minimum(ys + r, h - 1) - np.maximum(ys - r, 0) + 1
        cols = np.minimum(xs + r, w - 1) - np.maximum(xs - r, 0) + 1
        count[ys, xs] = rows * cols * img.shape[2]
        mean_d = dist[ys, xs] / count[ys, xs]  # (T,) mean squared difference per value
        sigma2 = max(float(np.percentile(mean_d, 75)), 1e-6)
        weight = np.exp(-mean_d / (2.0 * sigma2))  # (T,) Wexler et al.'s similarity weight
        vote(img, hole, targets, nnf, weight, r)


def _levels(hole: np.ndarray, r: int, min_size: int) -> list[np.ndarray]:
    """The hole masks of the pyramid, finest first; a coarser level is added while its short
    side stays >= min_size and it keeps at least _MIN_SOURCES source patches."""
    holes = [hole]
    while min(holes[-1].shape) // 2 >= min_size:
        h, w = holes[-1].shape
        coarse = _downsample(np.zeros((h, w, 1), np.float32), holes[-1])[1]
        if int(_source_map(coarse, r).sum()) < _MIN_SOURCES:
            break
        holes.append(coarse)
    return holes


def _patchmatch_fill(
    image: np.ndarray,
    hole: np.ndarray,
    patch_size: int,
    em_iterations: int,
    pm_iterations: int,
    min_size: int,
    seed: int,
) -> np.ndarray:
    """Validated (H, W, 3) image and (H, W) bool hole -> (H, W, 3) float32, known pixels kept."""
    known = to_float(image, np.float32)
    if not hole.any():
        return known
    r = patch_size // 2
    if int(_source_map(hole, r).sum()) == 0:
        raise InputError(
            f"patchmatch: no {patch_size}x{patch_size} patch of the image lies entirely outside "
            f"the hole (image {hole.shape[0]}x{hole.shape[1]}, hole ratio {hole.mean():.2f}); "
            "use a smaller patch_size or another method"
        )
    holes = _levels(hole, r, min_size)
    images = [known]
    for finer in holes[:-1]:
        images.append(_downsample(images[-1], finer)[0])  # pyramid of the known pixels
    mixed = (seed * 2654435761 + 88172645463325252) % 2**64  # xorshift needs a non-zero state
    state = np.array([mixed or 1], dtype=np.uint64)
    nnf = np.full((*holes[-1].shape, 2), -1, np.int32)
    current = images[-1].copy()
    coarsest = holes[-1]
    prefill = cv2.inpaint(
        np.round(np.clip(current, 0, 1) * 255).astype(np.uint8),
        coarsest.astype(np.uint8) * 255,
        3,
        cv2.INPAINT_TELEA,
    )
    current[coarsest] = prefill[coarsest].astype(np.float32) / np.float32(255)
    for level in range(len(holes) - 1, -1, -1):
        level_hole = holes[level]
        if level < len(holes) - 1:  # upsample the coarser result and field into this level
            h, w = level_hole.shape
            up = cv2.resize(current, (w, h), interpolation=cv2.INTER_LINEAR)
            current = images[level].copy()
            current[level_hole] = up.reshape(h, w, -1)[level_hole]
            ys, xs = np.mgrid[0:h, 0:w]
            parent = nnf[ys // 2, xs // 2]  # (h, w, 2)
            fine = np.stack([2 * parent[..., 0] + ys % 2, 2 * parent[..., 1] + xs % 2], axis=-1)
            nnf = np.where(parent >= 0, fine, -1).astype(np.int32)
        _fill_level(current, level_hole, nnf, r, em_iterations, pm_iterations, state)
    return np.where(hole[..., None], current, known)


# --------------------------------------------------------------------------------------------
# public API


def _check_options(
    patch_size: object, em_iterations: object, pm_iterations: object, min_size: object, seed: object
) -> tuple[int, int, int, int, int]:
    patch_size = check_int_at_least("patch_size", patch_size, 3)
    if patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd (a centred patch), got {patch_size}")
    return (
        patch_size,
        check_int_at_least("em_iterations", em_iterations, 1),
        check_int_at_least("pm_iterations", pm_iterations, 1),
        check_int_at_least("min_size", min_size, patch_size),
        check_int("seed", seed, minimum=0),
    )


def inpaint_patchmatch(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    patch_size: int = 7,
    em_iterations: int = 3,
    pm_iterations: int = 2,
    min_size: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """Fill the hole of one image with patches copied from its known part (PatchMatch + voting).

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (channels are compared together, any order).
        mask: (H, W) bool, True = hole (numeric masks are thresholded at 0.5).
        patch_size: odd side ``p >= 3`` of the square patches compared and copied (default 7).
        em_iterations: search + vote rounds per pyramid level (>= 1, default 3).
        pm_iterations: PatchMatch sweeps per round (>= 1, default 2).
        min_size: the pyramid stops before the short side falls below this (>= patch_size,
            default 256, see the module docstring); fewer levels if a coarser level would have
            under 32 hole-free patches.
        seed: int >= 0; the random initialisation and search are a function of it only.

    Outputs:
        (H, W, 3) float32 in [0, 1]; outside the hole exactly the input (divided by 255 for
        uint8). Each hole pixel is the Wexler et al. vote ``sum_i w_i S_i(p) / sum_i w_i`` over
        the target patches i covering it, ``S_i`` the best-matching hole-free source patch found
        by PatchMatch and ``w_i = exp(-d_i / (2 sigma^2))`` (see the module docstring).

    Raises:
        InputError: the mask covers the whole image (nothing to copy from); warns (and returns
            the input) when it has no hole.
        InputError: no ``p x p`` patch lies entirely outside the hole (too little is known).
        ValueError: bad shapes or options.
        TypeError: non-array inputs or option types.

    Speed: about 1-1.5 s for 512x512 with a 10-30 % hole on one core (numba; the first call in a
    fresh environment adds the compilation, about 5-10 s, cached afterwards).

    References: Barnes et al., "PatchMatch", SIGGRAPH 2009; Wexler, Shechtman & Irani,
    "Space-Time Completion of Video", TPAMI 2007.
    """
    check_image(image, stacklevel=3)
    hole = check_mask(mask, image.shape)
    options = _check_options(patch_size, em_iterations, pm_iterations, min_size, seed)
    check_hole_coverage(hole)
    return _patchmatch_fill(image, hole, *options)


class PatchMatchInpainter:
    """PatchMatch exemplar inpainting (:func:`inpaint_patchmatch`) for (B, 3, H, W) batches.

    Options: ``patch_size`` (odd int >= 3, default 7), ``em_iterations`` (default 3),
    ``pm_iterations`` (default 2), ``min_size`` (default 256), ``seed`` (int >= 0, default 0).
    """

    name = "patchmatch"

    def __init__(
        self,
        *,
        patch_size: int = 7,
        em_iterations: int = 3,
        pm_iterations: int = 2,
        min_size: int = 256,
        seed: int = 0,
    ) -> None:
        (
            self.patch_size,
            self.em_iterations,
            self.pm_iterations,
            self.min_size,
            self.seed,
        ) = _check_options(patch_size, em_iterations, pm_iterations, min_size, seed)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(patch_size={self.patch_size}, "
            f"em_iterations={self.em_iterations}, pm_iterations={self.pm_iterations}, "
            f"min_size={self.min_size}, seed={self.seed})"
        )

    def __call__(self, image: Tensor, mask: Tensor) -> Tensor:
        """image (B, 3, H, W) float in [0, 1], mask (B, 1, H, W) (1 = hole) -> (B, 3, H, W),
        the input's dtype and device; pixels outside the hole equal the input bit for bit."""
        options = (self.patch_size, self.em_iterations, self.pm_iterations, self.min_size)
        return inpaint_batch(
            image, mask, lambda img, hole: _patchmatch_fill(img, hole, *options, self.seed)
        )
