"""Tests of mattepaint.segmentation.trimap (auto_trimap, band_radius)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mattepaint.segmentation import auto_trimap, band_radius


def disc(size: int, radius: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    """(size, size) float32 mask: 1 inside a disc, 0 outside."""
    cy, cx = centre if centre is not None else (size / 2, size / 2)
    yy, xx = np.mgrid[:size, :size]
    return (((yy - cy) ** 2 + (xx - cx) ** 2) <= radius**2).astype(np.float32)


def unknown_run(trimap: np.ndarray, row: int) -> int:
    """Length of the first run of unknown pixels along ``row`` (the band's width there)."""
    line = trimap[row] == 0.5
    start = int(np.argmax(line))
    end = start + int(np.argmax(~line[start:]))
    return end - start


def test_band_radius_golden() -> None:
    assert band_radius(400 * 400) == 8  # 0.02 * 400
    assert band_radius(400 * 400, band_fraction=0.04) == 16
    assert band_radius(300 * 300) == 6
    assert band_radius(0) == 3 and band_radius(10) == 3  # min_band
    assert band_radius(10_000 * 10_000) == 40  # max_band
    assert band_radius(900, band_fraction=0.1, min_band=0, max_band=100) == 3
    assert band_radius(1e6, band_fraction=0.0, min_band=5) == 5


def test_band_radius_bad_options() -> None:
    with pytest.raises(ValueError, match="minimum must be <= maximum"):
        band_radius(100, min_band=5, max_band=2)
    with pytest.raises(ValueError, match="band_fraction must be in \\[0.0, inf\\]"):
        band_radius(100, band_fraction=-0.1)
    with pytest.raises(TypeError, match="min_band must be an int"):
        band_radius(100, min_band=2.5)  # type: ignore[arg-type]


def test_band_width_grows_with_object_size() -> None:
    small, large = disc(400, 30), disc(400, 150)
    t_small, t_large = auto_trimap(small), auto_trimap(large)  # r = 3 (clamped) and 5
    r_small = band_radius(small.sum())
    r_large = band_radius(large.sum())
    assert r_small < r_large
    # along the centre row the band spans about 2r + 1 pixels on each side of the outline
    for trimap, r in ((t_small, r_small), (t_large, r_large)):
        assert abs(unknown_run(trimap, 200) - (2 * r + 1)) <= 2
    assert unknown_run(t_large, 200) >= unknown_run(t_small, 200) + 4
    # the same object at twice the resolution gets twice the band
    kwargs = {"band_fraction": 0.04}
    full = auto_trimap(large, **kwargs)  # r = round(0.04 * 265.9) = 11
    half = auto_trimap(cv2.resize(large, (200, 200), interpolation=cv2.INTER_AREA), **kwargs)
    assert abs(unknown_run(full, 200) - 2 * unknown_run(half, 100)) <= 3


def test_uncertain_pixels_become_unknown() -> None:
    p = disc(200, 60)
    p[95:105, 95:105] = 0.7  # inside the subject, but unsure
    p[10:20, 10:20] = 0.3  # far in the background, unsure
    p[180:190, 10:20] = 0.04  # almost sure background
    trimap = auto_trimap(p)
    assert np.all(trimap[95:105, 95:105] == 0.5)
    assert np.all(trimap[10:20, 10:20] == 0.5)
    assert np.all(trimap[180:190, 10:20] == 0.0)
    assert trimap[100, 80] == 1.0 and trimap[2, 100] == 0.0
    # stricter thresholds make more of it unknown
    strict = auto_trimap(p, bg_threshold=0.01)
    assert np.all(strict[180:190, 10:20] == 0.5)


def test_known_regions_are_consistent(rng: np.random.Generator) -> None:
    p = cv2.GaussianBlur(disc(160, 50, (70, 90)), (0, 0), 4) * 0.9 + 0.05
    p = np.clip(p + rng.normal(0, 0.02, p.shape), 0, 1).astype(np.float32)
    trimap = auto_trimap(p, fg_threshold=0.9, bg_threshold=0.1)
    assert set(np.unique(trimap).tolist()) == {0.0, 0.5, 1.0}
    assert np.all(p[trimap == 1.0] >= 0.9)
    assert np.all(p[trimap == 0.0] <= 0.1)
    # the whole band around the binary outline is unknown
    m = (p > 0.5).astype(np.uint8)
    r = band_radius(m.sum())
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    band = (cv2.dilate(m, kernel) == 1) & (cv2.erode(m, kernel) == 0)
    assert np.all(trimap[band] == 0.5)
    # foreground and background never touch: the band separates them
    fg = (trimap == 1.0).astype(np.uint8)
    assert not np.any(cv2.dilate(fg, np.ones((3, 3), np.uint8)).astype(bool) & (trimap == 0.0))


def test_thin_parts_keep_a_seed_line() -> None:
    p = disc(300, 100)
    p[140:148, :] = 1.0  # a bar 8 pixels thick
    p[60:66, 120:180] = 0.0  # a gap 6 pixels wide inside the subject
    r = band_radius((p > 0.5).sum(), band_fraction=0.04)
    assert r > 4  # both are thinner than the band
    plain = auto_trimap(p, thin_seeds=False, band_fraction=0.04)
    seeded = auto_trimap(p, band_fraction=0.04)
    # without seeds the bar and the gap vanish into the band
    assert np.all(plain[140:148, 5:30] == 0.5) and np.all(plain[60:66, 135:165] == 0.5)
    # with seeds their middle lines stay known, with the right label
    assert np.any(seeded[140:148, 5:30] == 1.0, axis=0).all()
    assert np.any(seeded[60:66, 135:165] == 0.0, axis=0).all()
    assert not np.any(seeded[140:148, 5:30] == 0.0) and not np.any(seeded[60:66, 135:165] == 1.0)
    # seeds never touch the other label, and only add known pixels
    fg = (seeded == 1.0).astype(np.uint8)
    assert not np.any(cv2.dilate(fg, np.ones((3, 3), np.uint8)).astype(bool) & (seeded == 0.0))
    assert np.all(seeded[plain != 0.5] == plain[plain != 0.5])


def test_tensor_batch_matches_numpy() -> None:
    a, b = disc(128, 20), disc(128, 55)
    batch = torch.from_numpy(np.stack([a, b]))[:, None].double()  # (2, 1, 128, 128)
    out = auto_trimap(batch)
    assert out.shape == (2, 1, 128, 128) and out.dtype == torch.float64
    np.testing.assert_array_equal(out[0, 0].numpy(), auto_trimap(a))
    np.testing.assert_array_equal(out[1, 0].numpy(), auto_trimap(b))  # its own radius


def test_subject_touching_the_border_keeps_its_core() -> None:
    p = np.zeros((100, 100), np.float32)
    p[:, :60] = 1.0  # fills the left of the frame
    trimap = auto_trimap(p, min_band=5)
    assert np.all(trimap[:, :50] == 1.0)  # not eroded from the image edge
    assert np.all(trimap[:, 55:65] == 0.5)  # r = 5 on both sides of column 59.5
    assert np.all(trimap[:, 65:] == 0.0)


def test_no_subject_warns() -> None:
    with pytest.warns(UserWarning, match="no pixel above 0.5"):
        trimap = auto_trimap(np.full((32, 32), 0.01, np.float32))
    assert np.all(trimap == 0.0)


@pytest.mark.parametrize(
    ("soft", "kwargs", "error", "message"),
    [
        (np.zeros((2, 8, 8), np.float32), {}, ValueError, "must be an \\(H, W\\) array"),
        (torch.zeros(1, 3, 8, 8), {}, ValueError, "must be \\(B, 1, H, W\\)"),
        (np.zeros((8, 8), np.uint8), {}, TypeError, "float array"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.uint8), {}, TypeError, "float tensor"),
        ([[0.0]], {}, TypeError, "got list"),
        (np.full((8, 8), np.nan, np.float32), {}, ValueError, "finite"),
        (np.zeros((8, 8), np.float32), {"fg_threshold": 0.4}, ValueError, "fg_threshold"),
        (np.zeros((8, 8), np.float32), {"bg_threshold": 0.6}, ValueError, "bg_threshold"),
        (np.zeros((8, 8), np.float32), {"min_band": 9, "max_band": 3}, ValueError, "minimum"),
        (np.zeros((8, 8), np.float32), {"thin_seeds": 1}, TypeError, "thin_seeds must be a bool"),
    ],
)
def test_bad_input(soft, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        auto_trimap(soft, **kwargs)
