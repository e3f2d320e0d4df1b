"""Tests for mattepaint.classical.guided_filter (He, Sun, Tang 2010)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mattepaint.classical.guided_filter import guided_filter


def _slow_guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Line-by-line guided filter (He et al. 2010, Alg. 1 / Eq. 19-21): per pixel windows
    truncated at the border, centred covariances and np.linalg.solve (no box filters, no
    E[x^2] - E[x]^2 and no adjugate: an independent computation)."""
    h, w = src.shape
    g = guide.reshape(h, w, -1).astype(np.float64)  # (H, W, C)
    p = src.astype(np.float64)
    c = g.shape[2]
    a, b = np.zeros((h, w, c)), np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            gw, pw = g[win].reshape(-1, c), p[win].reshape(-1)
            mu, pm = gw.mean(0), pw.mean()
            cov = (gw - mu).T @ (gw - mu) / len(pw)
            cip = (gw - mu).T @ (pw - pm) / len(pw)
            a[y, x] = np.linalg.solve(cov + eps * np.eye(c), cip)
            b[y, x] = pm - a[y, x] @ mu
    q = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            win = (slice(max(0, y - r), y + r + 1), slice(max(0, x - r), x + r + 1))
            q[y, x] = a[win].reshape(-1, c).mean(0) @ g[y, x] + b[win].mean()
    return q


# --------------------------------------------------------------------------------------------
# guided filter
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("radius", "eps"), [(1, 1e-3), (2, 1e-2), (3, 1e-4)])
def test_guided_filter_matches_slow_reference(channels: int, radius: int, eps: float) -> None:
    rng = np.random.default_rng(channels * 10 + radius)
    guide = rng.random((9, 11, channels)).astype(np.float32)
    guide = guide[..., 0] if channels == 1 else guide
    src = rng.random((9, 11)).astype(np.float32)
    out = guided_filter(guide, src, radius, eps)
    assert out.shape == (9, 11) and out.dtype == np.float32
    np.testing.assert_allclose(out, _slow_guided(guide, src, radius, eps), atol=2e-5)


def test_guided_filter_tiles_are_exact() -> None:
    """Tiles with a 2r halo give the untiled result (tile 8 vs one 64 x 64 tile)."""
    rng = np.random.default_rng(1)
    guide = rng.random((40, 37, 3)).astype(np.float32)
    src = rng.random((40, 37)).astype(np.float32)
    whole = guided_filter(guide, src, 3, 1e-3, tile=64)
    tiled = guided_filter(guide, src, 3, 1e-3, tile=8)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
    active = np.zeros((40, 37), bool)
    active[:10, :10] = True  # only the first tile is computed, the rest keeps src
    part = guided_filter(guide, src, 3, 1e-3, tile=12, active=active)
    np.testing.assert_allclose(part[:12, :12], whole[:12, :12], atol=1e-6)
    np.testing.assert_array_equal(part[12:, :], src[12:, :])


@pytest.mark.parametrize("colour", [False, True])
def test_guided_filter_keeps_an_edge_and_smooths_noise(colour: bool) -> None:
    """eps -> 0, small radius: a noisy step guided by the clean step comes out as the step
    (each window fits p = a I + b exactly across the edge; flat windows are averaged)."""
    rng = np.random.default_rng(3)
    step = np.zeros((32, 32), np.float32)
    step[:, 16:] = 1.0
    guide = np.stack([step, 0.5 * step, 1 - step], axis=-1) if colour else step
    noisy = step + 0.05 * rng.standard_normal((32, 32)).astype(np.float32)
    out = guided_filter(guide, noisy, 2, 1e-6)
    # the edge is exactly where it was: columns 15 and 16 stay ~0 and ~1 (no blur)
    assert np.abs(out[:, 15]).max() < 0.1 and np.abs(out[:, 16] - 1).max() < 0.1
    # the noise is reduced, whereas a 5x5 box filter of the same size would smear the edge
    assert np.abs(out - step).mean() < 0.5 * np.abs(noisy - step).mean()
    box = cv2.blur(noisy, (5, 5))
    assert np.abs(box[:, 15]).max() > 0.3
    # identity: src == gray guide and eps -> 0 gives the guide back
    np.testing.assert_allclose(guided_filter(step, step, 2, 1e-8), step, atol=1e-4)


def test_guided_filter_errors() -> None:
    g, s = np.zeros((8, 8, 3), np.float32), np.zeros((8, 8), np.float32)
    with pytest.raises(ValueError, match=r"src must be \(H, W\)"):
        guided_filter(g, np.zeros((8, 8, 3), np.float32), 1, 1e-3)
    with pytest.raises(ValueError, match="guide must be"):
        guided_filter(np.zeros((8, 8, 2), np.float32), s, 1, 1e-3)
    with pytest.raises(ValueError, match="same"):
        guided_filter(g, np.zeros((8, 9), np.float32), 1, 1e-3)
    with pytest.raises(ValueError, match="radius must be an int >= 1"):
        guided_filter(g, s, 0, 1e-3)
    with pytest.raises(TypeError, match="radius"):
        guided_filter(g, s, 1.5, 1e-3)
    with pytest.raises(ValueError, match="eps must be"):
        guided_filter(g, s, 1, 0.0)
    with pytest.raises(TypeError, match="guide must be a numpy array"):
        guided_filter(torch.zeros(8, 8), s, 1, 1e-3)
    with pytest.raises(TypeError, match="float"):
        guided_filter(g, np.zeros((8, 8), np.int32), 1, 1e-3)
    with pytest.raises(ValueError, match=r"active must be an \(H, W\) = \(8, 8\) bool array"):
        guided_filter(g, s, 1, 1e-3, active=np.ones((8, 8), np.float32))
    with pytest.raises(ValueError, match="tile must be an int >= 1, got 0"):
        guided_filter(g, s, 1, 1e-3, tile=0)
