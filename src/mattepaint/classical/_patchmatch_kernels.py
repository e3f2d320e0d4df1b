"""The numba-compiled inner loops of :mod:`mattepaint.classical.patchmatch` (private).

Kept apart so that importing :mod:`mattepaint.classical` does not import numba; the patchmatch
module imports this one on its first fill. ``cache=True``: compiled once per environment.

References: Barnes et al., "PatchMatch", SIGGRAPH 2009 (:func:`patchmatch_nnf`); Wexler,
Shechtman & Irani, "Space-Time Completion of Video", TPAMI 2007 (:func:`vote`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["patchmatch_nnf", "vote"]


@njit(cache=True)
def _xorshift(state: np.ndarray) -> np.uint64:  # pragma: no cover - compiled
    """Advance the 64-bit xorshift state (array of one uint64) and return the new value."""
    x = state[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    state[0] = x
    return x


@njit(cache=True)
def _randint(state: np.ndarray, n: int) -> int:  # pragma: no cover - compiled
    """A pseudo-random int in [0, n)."""
    return int(_xorshift(state) % np.uint64(n))


@njit(cache=True)
def _inside(centre: int, r: int, size: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """The offsets ``d`` in [-r, r] with ``0 <= centre + d < size``, as ``range(*_inside(...))``
    bounds: the part of a patch of radius r around ``centre`` inside an axis of ``size`` pixels."""
    return max(-r, -centre), min(r, size - 1 - centre) + 1


@njit(cache=True)
def _patch_distance(
    img: np.ndarray, ty: int, tx: int, sy: int, sx: int, r: int, limit: float
) -> float:  # pragma: no cover - compiled
    """Sum of squared differences between the patches centred at (ty, tx) and (sy, sx), over the
    offsets where the target patch is inside the image (the source patch always is); stops early
    and returns a value >= ``limit`` once the partial sum exceeds it."""
    h, w, c = img.shape
    total = 0.0
    dy0, dy1 = _inside(ty, r, h)
    dx0, dx1 = _inside(tx, r, w)
    for dy in range(dy0, dy1):
        for dx in range(dx0, dx1):
            for k in range(c):
                diff = img[ty + dy, tx + dx, k] - img[sy + dy, sx + dx, k]
                total += diff * diff
        if total >= limit:
            return total
    return total


@njit(cache=True)
def patchmatch_nnf(
    img: np.ndarray,
    targets: np.ndarray,
    valid: np.ndarray,
    sources: np.ndarray,
    nnf: np.ndarray,
    dist: np.ndarray,
    r: int,
    iterations: int,
    state: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Improve the NNF in place by PatchMatch (Barnes et al. 2009).

    img (H, W, C) float32; targets (T, 2) int32 target centres in raster order; valid (H, W)
    bool, True where a source patch may be centred; sources (S, 2) the valid centres (for
    random re-initialisation); nnf (H, W, 2) int32 source centre per target (-1 elsewhere;
    invalid entries are re-drawn); dist (H, W) float64 the SSD of each target's match (output).
    """
    h, w, _ = img.shape
    n_targets = targets.shape[0]
    n_sources = sources.shape[0]
    for i in range(n_targets):  # initial matches: keep valid ones, re-draw the others
        ty, tx = targets[i, 0], targets[i, 1]
        sy, sx = nnf[ty, tx, 0], nnf[ty, tx, 1]
        if sy < 0 or sy >= h or sx < 0 or sx >= w or not valid[sy, sx]:
            j = _randint(state, n_sources)
            sy, sx = sources[j, 0], sources[j, 1]
            nnf[ty, tx, 0], nnf[ty, tx, 1] = sy, sx
        dist[ty, tx] = _patch_distance(img, ty, tx, sy, sx, r, np.inf)
    big = max(h, w)
    for it in range(iterations):
        step = 1 if it % 2 == 0 else -1
        for n in range(n_targets):
            i = n if step == 1 else n_targets - 1 - n
            ty, tx = targets[i, 0], targets[i, 1]
            best_y, best_x, best = nnf[ty, tx, 0], nnf[ty, tx, 1], dist[ty, tx]
            # propagation: the neighbour's match, shifted back by one pixel
            for a in range(2):
                ny = ty - step if a == 0 else ty
                nx = tx if a == 0 else tx - step
                if ny < 0 or ny >= h or nx < 0 or nx >= w or nnf[ny, nx, 0] < 0:
                    continue
                cy = nnf[ny, nx, 0] + (ty - ny)
                cx = nnf[ny, nx, 1] + (tx - nx)
                if cy < 0 or cy >= h or cx < 0 or cx >= w or not valid[cy, cx]:
                    continue
                d = _patch_distance(img, ty, tx, cy, cx, r, best)
                if d < best:
                    best_y, best_x, best = cy, cx, d
            # random search in windows of halving radius around the current best match
            radius = big
            while radius >= 1:
                cy = best_y + _randint(state, 2 * radius + 1) - radius
                cx = best_x + _randint(state, 2 * radius + 1) - radius
                if 0 <= cy < h and 0 <= cx < w and valid[cy, cx]:
                    d = _patch_distance(img, ty, tx, cy, cx, r, best)
                    if d < best:
                        best_y, best_x, best = cy, cx, d
                radius //= 2
            nnf[ty, tx, 0], nnf[ty, tx, 1], dist[ty, tx] = best_y, best_x, best


@njit(cache=True)
def vote(
    img: np.ndarray,
    hole: np.ndarray,
    targets: np.ndarray,
    nnf: np.ndarray,
    weight: np.ndarray,
    r: int,
) -> None:  # pragma: no cover - compiled
    """Set every hole pixel of img (in place) to the weighted mean of what the matched source
    patches of the target patches covering it put there (weight (T,) per target)."""
    h, w, c = img.shape
    acc = np.zeros((h, w, c), dtype=np.float64)
    total = np.zeros((h, w), dtype=np.float64)
    for i in range(targets.shape[0]):
        ty, tx = targets[i, 0], targets[i, 1]
        sy, sx = nnf[ty, tx, 0], nnf[ty, tx, 1]
        wt = weight[i]
        dy0, dy1 = _inside(ty, r, h)
        dx0, dx1 = _inside(tx, r, w)
        for dy in range(dy0, dy1):
            y = ty + dy
            for dx in range(dx0, dx1):
                x = tx + dx
                if not hole[y, x]:
                    continue
                for k in range(c):
                    acc[y, x, k] += wt * img[sy + dy, sx + dx, k]
                total[y, x] += wt
    for y in range(h):
        for x in range(w):
            if hole[y, x] and total[y, x] > 0:
                for k in range(c):
                    img[y, x, k] = acc[y, x, k] / total[y, x]
