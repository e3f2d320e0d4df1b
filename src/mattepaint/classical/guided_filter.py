"""The guided filter (He, Sun, Tang 2010): edge-preserving smoothing that follows a guide image.

:func:`guided_filter` fits, in every (2r+1) x (2r+1) window, the output as a linear function of
the guide (gray or colour) by ridge regression and averages the fits of the windows that cover a
pixel. Its means are box filters, so the cost does not depend on the radius; it is computed in
float64 tiles with a 2r halo, so its memory does not grow with the image.

Uses in mattepaint: :func:`mattepaint.highres.matte_highres` refines an alpha upsampled from a
low-resolution matte with the full-resolution image as the guide (the joint-upsampling use of the
filter, Section 4 of the TPAMI paper).

Reference: K. He, J. Sun, X. Tang, "Guided Image Filtering", ECCV 2010 (and IEEE TPAMI 35(6),
2013); K. He, J. Sun, "Fast Guided Filter", arXiv:1505.00996, 2015.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mattepaint.checks import check_int_at_least

__all__ = ["guided_filter"]

_TILE = 512  # default core tile side of the tiled guided filter


def _box_sum(x: np.ndarray, radius: int) -> np.ndarray:
    """Sum over the (2r+1)^2 window, truncated at the border (zero padding); same shape."""
    k = 2 * radius + 1
    return cv2.boxFilter(x, -1, (k, k), normalize=False, borderType=cv2.BORDER_CONSTANT)


def _guided_window(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Guided filter of one float64 window: guide (h, w) or (h, w, 3), src (h, w) -> (h, w)."""
    count = _box_sum(np.ones(src.shape, np.float64), radius)  # (h, w) pixels per window

    def mean(x: np.ndarray) -> np.ndarray:
        return _box_sum(x, radius) / (count if x.ndim == 2 else count[..., None])

    mean_p = mean(src)
    if guide.ndim == 2:
        mean_i = mean(guide)
        cov_ip = mean(guide * src) - mean_i * mean_p
        var_i = mean(guide * guide) - mean_i * mean_i
        a = cov_ip / (var_i + eps)  # (h, w)
        b = mean_p - a * mean_i
        return mean(a) * guide + mean(b)
    mean_i = mean(guide)  # (h, w, 3)
    cov_ip = mean(guide * src[..., None]) - mean_i * mean_p[..., None]  # (h, w, 3)
    r, g, bl = guide[..., 0], guide[..., 1], guide[..., 2]
    mr, mg, mb = mean_i[..., 0], mean_i[..., 1], mean_i[..., 2]
    # Sigma + eps U, the 3x3 covariance of the guide in each window (symmetric: 6 entries)
    rr = mean(r * r) - mr * mr + eps
    rg = mean(r * g) - mr * mg
    rb = mean(r * bl) - mr * mb
    gg = mean(g * g) - mg * mg + eps
    gb = mean(g * bl) - mg * mb
    bb = mean(bl * bl) - mb * mb + eps
    # inverse by the adjugate (as in He's MATLAB code): inv = adj / det
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    det = rr * i_rr + rg * i_rg + rb * i_rb
    cr, cg, cb = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = (
        np.stack(
            [
                i_rr * cr + i_rg * cg + i_rb * cb,
                i_rg * cr + i_gg * cg + i_gb * cb,
                i_rb * cr + i_gb * cg + i_bb * cb,
            ],
            axis=-1,
        )
        / det[..., None]
    )  # (h, w, 3)
    b = mean_p - (a * mean_i).sum(axis=-1)
    return (mean(a) * guide).sum(axis=-1) + mean(b)


def _guided_tiled(
    guide: np.ndarray,
    src: np.ndarray,
    radius: int,
    eps: float,
    active: np.ndarray | None,
    tile: int,
) -> np.ndarray:
    """Exact tiled guided filter: each tile is computed with a 2r halo in float64.

    The output at a pixel depends on the guide and src within 2r (a, b within r, each from
    windows of radius r), so with the halo the tiles agree with the untiled filter up to
    rounding. Tiles where ``active`` (H, W) bool is all False keep ``src``. Returns float32.
    """
    h, w = src.shape
    out = np.array(src, dtype=np.float32, copy=True)
    halo = 2 * radius
    tile = max(tile, 4 * radius)  # keeps the halo overhead below (1 + 2 * 2r / tile)^2 = 4
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            if active is not None and not active[y0:y1, x0:x1].any():
                continue
            ya, yb = max(0, y0 - halo), min(h, y1 + halo)
            xa, xb = max(0, x0 - halo), min(w, x1 + halo)
            q = _guided_window(
                guide[ya:yb, xa:xb].astype(np.float64),
                src[ya:yb, xa:xb].astype(np.float64),
                radius,
                eps,
            )
            out[y0:y1, x0:x1] = q[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return out


def guided_filter(
    guide: np.ndarray,
    src: np.ndarray,
    radius: int,
    eps: float,
    *,
    active: np.ndarray | None = None,
    tile: int = _TILE,
) -> np.ndarray:
    """Edge-preserving smoothing of ``src`` that follows the edges of ``guide`` (He et al. 2010).

    In every (2r+1) x (2r+1) window w_k the output is a linear function of the guide,
    ``q_i = a_k^T I_i + b_k``, fitted to ``src`` by ridge regression:

        gray guide:   a_k = cov_k(I, p) / (var_k(I) + eps)
        colour guide: a_k = (Sigma_k + eps U)^-1 cov_k(I, p)   (Sigma_k: 3x3 colour covariance)
        b_k = mean_k(p) - a_k^T mean_k(I)
        q_i = mean_{k: i in w_k}(a_k)^T I_i + mean_{k: i in w_k}(b_k)

    Means are box filters over the window truncated at the image border (divided by the number
    of pixels in it, as the cumulative-sum box filter of the authors' code). Computed in float64
    on tiles of max(tile, 4r) pixels with a 2r halo: the output at a pixel depends on guide and
    src within 2r only, so the tiles agree with the untiled filter up to rounding, and memory is
    bounded by the tile size.

    Inputs:
        guide: (H, W) or (H, W, 3) (also (H, W, 1)) float, typically the image in [0, 1].
        src: (H, W) float, the map to filter (e.g. an alpha matte).
        radius: int >= 1, window radius r.
        eps: float > 0, the regulariser: edges with variance well above eps are kept, flatter
            regions are smoothed like a box filter (scale: squared intensities, e.g. 1e-4 =
            0.01^2).
        active: optional (H, W) bool; tiles where it is all False are not filtered and keep
            ``src`` (e.g. the unknown region of a trimap: the known regions need no refinement).
        tile: int >= 1, core tile side (raised to 4r when smaller).

    Outputs:
        (H, W) float32, not clipped (the local linear model can overshoot [0, 1] slightly); equal
        to ``src`` (as float32) on the tiles skipped by ``active``.

    Example:
        >>> step = np.zeros((16, 16), np.float32); step[:, 8:] = 1.0
        >>> out = guided_filter(step, step, 2, 1e-8)  # src == guide, eps -> 0: the identity
        >>> bool(np.abs(out - step).max() < 1e-4)
        True

    Reference: K. He, J. Sun, X. Tang, "Guided Image Filtering", ECCV 2010 / IEEE TPAMI 35(6),
    2013, Algorithm 1 and Eq. (19)-(21) (colour guide).
    """
    for name, x in (("guide", guide), ("src", src)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
        if not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.bool_):
            raise TypeError(f"{name} must be a float array, got dtype {x.dtype}")
    if src.ndim != 2:
        raise ValueError(f"src must be (H, W), got {src.shape}")
    if guide.ndim == 3 and guide.shape[2] == 1:
        guide = guide[..., 0]  # (H, W, 1) -> (H, W)
    if not (guide.ndim == 2 or (guide.ndim == 3 and guide.shape[2] == 3)):
        raise ValueError(f"guide must be (H, W) or (H, W, 3), got {guide.shape}")
    if guide.shape[:2] != src.shape:
        raise ValueError(f"guide {guide.shape} and src {src.shape} must have the same (H, W)")
    radius = check_int_at_least("radius", radius, 1)
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)):
        raise TypeError(f"eps must be a float > 0, got {eps!r}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a finite float > 0, got {eps}")
    if active is not None and (
        not isinstance(active, np.ndarray) or active.shape != src.shape or active.dtype != np.bool_
    ):
        got = (active.shape, active.dtype) if isinstance(active, np.ndarray) else type(active)
        raise ValueError(f"active must be an (H, W) = {src.shape} bool array or None, got {got}")
    tile = check_int_at_least("tile", tile, 1)
    return _guided_tiled(guide, src, radius, float(eps), active, tile)
