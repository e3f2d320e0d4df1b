"""Tests for mattepaint.metrics.matting.

The metrics are pinned to the Deep Image Matting MATLAB evaluation code (Xu et al. 2017). The
``ref_*`` functions below are an independent, deliberately literal transcription of
``compute_sad_loss.m``, ``compute_mse_loss.m``, ``compute_gradient_loss.m`` (+ ``mat2gray`` and
``gaussgradient.m``) and ``compute_connectivity_error.m``: loops instead of scipy, an explicit
replicate-padded 2-D convolution, a breadth-first flood fill that numbers components in
MATLAB's column-major order, MATLAB's colon operator for ``0:0.1:1`` and single precision where
the MATLAB code casts to ``single``. Like the MATLAB code they take mattes on the 0..255 scale
and a 0/128/255 trimap and return the raw (unscaled, except SAD / 1000) numbers.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from mattepaint.metrics.matting import (
    REPORT_SCALE,
    alpha_iou,
    connectivity_error,
    gradient_error,
    matting_metrics,
    mse,
    sad,
)

METRICS = {"sad": sad, "mse": mse, "grad": gradient_error, "conn": connectivity_error}


# ---------------------------------------------------------------------------------------------
# literal reference (MATLAB line by line)
# ---------------------------------------------------------------------------------------------


def ref_sad(pred, target, trimap):
    """compute_sad_loss.m (already divided by 1000 there)."""
    error_map = np.abs(np.float32(pred) - np.float32(target)) / np.float32(255)
    loss = np.sum(error_map * np.float32(trimap == 128), dtype=np.float64)
    return loss / 1000


def ref_mse(pred, target, trimap):
    """compute_mse_loss.m (unscaled mean)."""
    error_map = (np.float32(pred) - np.float32(target)) / np.float32(255)
    unknown = np.float32(trimap == 128)
    return np.sum(error_map**2 * unknown, dtype=np.float64) / np.sum(unknown, dtype=np.float64)


def ref_mat2gray(a):
    a = np.asarray(a, dtype=np.float64)
    low, high = a.min(), a.max()
    if high == low:  # "Constant Image"
        out = a.copy()
    else:
        out = (a - low) / (high - low)
    return np.maximum(0, np.minimum(out, 1))


def ref_gaussgradient(im, sigma):
    """gaussgradient.m: kernel built by a double loop, imfilter(IM, h, 'replicate', 'conv')."""

    def gauss(x, s):
        return math.exp(-(x**2) / (2 * s**2)) / (s * math.sqrt(2 * math.pi))

    def dgauss(x, s):
        return -x * gauss(x, s) / s**2

    epsilon = 1e-2
    halfsize = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    size = 2 * halfsize + 1
    hx = np.zeros((size, size))
    for i in range(1, size + 1):
        for j in range(1, size + 1):
            u = (i - halfsize - 1, j - halfsize - 1)
            hx[i - 1, j - 1] = gauss(u[0], sigma) * dgauss(u[1], sigma)
    hx = hx / math.sqrt(np.sum(np.abs(hx) * np.abs(hx)))
    hy = hx.T

    def imfilter_replicate_conv(image, kernel):
        height, width = image.shape
        padded = np.pad(image, halfsize, mode="edge")  # 'replicate'
        out = np.zeros_like(image)
        for i in range(size):  # out(y, x) = sum_{k,l} image(y - k, x - l) kernel(k, l)
            for j in range(size):
                k, l = i - halfsize, j - halfsize
                rows = slice(halfsize - k, halfsize - k + height)
                cols = slice(halfsize - l, halfsize - l + width)
                out += kernel[i, j] * padded[rows, cols]
        return out

    return imfilter_replicate_conv(im, hx), imfilter_replicate_conv(im, hy)


def ref_gradient(pred, target, trimap):
    """compute_gradient_loss.m (unscaled)."""
    pred = ref_mat2gray(pred)
    target = ref_mat2gray(target)
    pred_x, pred_y = ref_gaussgradient(pred, 1.4)
    target_x, target_y = ref_gaussgradient(target, 1.4)
    pred_amp = np.sqrt(pred_x**2 + pred_y**2)
    target_amp = np.sqrt(target_x**2 + target_y**2)
    error_map = (np.float32(pred_amp) - np.float32(target_amp)) ** 2
    return np.sum(error_map * np.float32(trimap == 128), dtype=np.float64)


def ref_bwconncomp4(mask):
    """bwconncomp(mask, 4).PixelIdxList: components numbered in column-major scan order."""
    height, width = mask.shape
    seen = np.zeros_like(mask, dtype=bool)
    components = []
    for x in range(width):  # MATLAB scans column by column
        for y in range(height):
            if mask[y, x] and not seen[y, x]:
                pixels = []
                queue = deque([(y, x)])
                seen[y, x] = True
                while queue:
                    cy, cx = queue.popleft()
                    pixels.append((cy, cx))
                    for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                        inside = 0 <= ny < height and 0 <= nx < width
                        if inside and mask[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
                components.append(pixels)
    return components


def ref_colon(a, d, b):
    """MATLAB a:d:b (first half a + k d, second half b - (n - k) d)."""
    n = int(math.floor((b - a) / d + 1e-10))
    return [a + k * d if k <= n / 2 else b - (n - k) * d for k in range(n + 1)]


def ref_connectivity(pred, target, trimap, step=0.1):
    """compute_connectivity_error.m (unscaled), in single precision like the original."""
    pred = np.float32(pred) / np.float32(255)
    target = np.float32(target) / np.float32(255)
    dimy, dimx = pred.shape
    thresh_steps = ref_colon(0, step, 1)
    l_map = np.ones((dimy, dimx)) * (-1)
    for ii in range(1, len(thresh_steps)):  # MATLAB ii = 2:numel
        t = np.float32(thresh_steps[ii])  # single >= double compares in single
        pred_alpha_thresh = pred >= t
        target_alpha_thresh = target >= t
        cc = ref_bwconncomp4(pred_alpha_thresh & target_alpha_thresh)
        omega = np.zeros((dimy, dimx))
        if cc:
            size_vec = [len(c) for c in cc]
            max_id = size_vec.index(max(size_vec))  # first maximum
            for y, x in cc[max_id]:
                omega[y, x] = 1
        flag = (l_map == -1) & (omega == 0)
        l_map[flag] = thresh_steps[ii - 1]
    l_map[l_map == -1] = 1
    pred_d = pred - np.float32(l_map)  # single - double -> single
    target_d = target - np.float32(l_map)
    pred_phi = 1 - pred_d * np.float32(pred_d >= np.float32(0.15))
    target_phi = 1 - target_d * np.float32(target_d >= np.float32(0.15))
    return np.sum(np.abs(pred_phi - target_phi) * np.float32(trimap == 128), dtype=np.float64)


def reference_metrics(pred01, gt01, trimap01):
    """The reference on our conventions: mattes in [0, 1] and a {0, 0.5, 1} trimap."""
    pred, target = pred01 * 255.0, gt01 * 255.0
    trimap01 = np.asarray(trimap01)
    trimap = np.select([trimap01 == 0.5, trimap01 == 1.0], [128, 255], 0).astype(np.uint8)
    return {
        "sad": ref_sad(pred, target, trimap) * 1000.0,  # raw
        "mse": ref_mse(pred, target, trimap),
        "grad": ref_gradient(pred, target, trimap),
        "conn": ref_connectivity(pred, target, trimap),
    }


def assert_matches_reference(pred, gt, trimap, rel=1e-5, abs_=1e-6):
    expected = reference_metrics(np.asarray(pred, np.float64), np.asarray(gt, np.float64), trimap)
    for name, fn in METRICS.items():
        got = fn(pred, gt, trimap, scaled=False)
        assert got == pytest.approx(expected[name], rel=rel, abs=abs_), name


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


def disk_pair(n: int = 64):
    """A disk matte with a soft edge, a smaller, sharper, wavy prediction with a detached blob,
    and a trimap whose unknown band covers the edge."""
    y, x = np.mgrid[:n, :n].astype(np.float64)
    r = np.hypot(y - 30.3, x - 33.7)
    gt = np.clip((20.0 - r) / 6.0 + 0.5, 0.0, 1.0)
    pred = np.clip((18.5 - r) / 4.0 + 0.5 + 0.08 * np.sin(x / 3.0) * np.cos(y / 5.0), 0.0, 1.0)
    pred[4:8, 4:9] = 0.9  # an island that is not in gt
    trimap = np.where(r < 14.0, 1.0, 0.0)
    trimap[(r >= 14.0) & (r <= 26.0)] = 0.5
    trimap[2:10, 2:11] = 0.5  # the island is evaluated
    return pred, gt, trimap


def random_trimap(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.choice(np.array([0.0, 0.5, 1.0]), size=shape, p=[0.3, 0.4, 0.3])


# ---------------------------------------------------------------------------------------------
# feature: hand-computed values
# ---------------------------------------------------------------------------------------------


def test_sad_constant_error_over_1000_unknown_pixels():
    gt = np.full((50, 40), 0.3)
    pred = gt + 0.1
    trimap = np.zeros((50, 40))
    trimap[:25, :] = 0.5  # 25 * 40 = 1000 unknown pixels
    pred[30:, :] = 1.0  # errors outside the unknown region do not count
    assert sad(pred, gt, trimap) == pytest.approx(0.1)  # 1000 * 0.1 / 1000
    assert sad(pred, gt, trimap, scaled=False) == pytest.approx(100.0)
    trimap_u8 = np.where(trimap == 0.5, 128, 0).astype(np.uint8)
    assert sad(pred, gt, trimap_u8) == pytest.approx(0.1)


def test_mse_constant_error():
    gt = np.full((50, 40), 0.3)
    pred = gt + 0.1
    trimap = np.zeros((50, 40))
    trimap[:25, :] = 0.5
    pred[30:, :] = 1.0  # outside the unknown region: ignored (MMagic would count it)
    assert mse(pred, gt, trimap, scaled=False) == pytest.approx(0.01)
    assert mse(pred, gt, trimap) == pytest.approx(10.0)  # x 1e3


def test_uint8_inputs_are_divided_by_255():
    gt = np.full((10, 10), 100, np.uint8)
    pred = np.full((10, 10), 151, np.uint8)  # error 51 / 255 = 0.2
    assert sad(pred, gt, scaled=False) == pytest.approx(100 * 0.2)
    assert mse(pred, gt, scaled=False) == pytest.approx(0.04)


def test_gradient_kernel_half_size_is_4_for_sigma_1_4():
    # halfsize = ceil(1.4 sqrt(-2 log(sqrt(2 pi) 1.4 0.01))) = ceil(3.62) = 4 -> 9 x 9 kernel
    assert math.ceil(1.4 * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * 1.4 * 0.01))) == 4
    # an isolated step: the gradient is non-zero only within 4 pixels of the edge
    gt = np.zeros((40, 40))
    gt[:, 20:] = 1.0
    pred = np.zeros((40, 40))
    trimap = np.zeros((40, 40))
    trimap[:, :15] = 0.5  # 5+ pixels from the edge: no gradient of gt there
    assert gradient_error(pred, gt, trimap, scaled=False) == 0.0
    trimap[:, 16] = 0.5  # 4 pixels from the edge (column 20): inside the kernel's reach
    assert gradient_error(pred, gt, trimap, scaled=False) > 0.0


def test_gradient_error_zero_and_affine_invariance():
    pred, gt, trimap = disk_pair()
    assert gradient_error(gt, gt, trimap) == 0.0
    # mat2gray: a*gt + b (a > 0) normalises back to gt
    assert gradient_error(0.5 * gt + 0.2, gt, trimap) == pytest.approx(0.0, abs=1e-12)
    # constant mattes have no gradient (mat2gray of a constant is the clipped constant)
    assert gradient_error(np.full((20, 20), 0.3), np.full((20, 20), 0.7)) == 0.0


def test_connectivity_single_pixel_dropping_out():
    gt = np.ones((9, 9))
    pred = np.ones((9, 9))
    pred[4, 4] = 0.5
    # pixel leaves the largest component at t = 0.6 -> l = 0.5; other pixels stay (l = 1).
    # pred: d = 0 -> phi 1; gt: d = 0.5 >= 0.15 -> phi 0.5; error 0.5.
    assert connectivity_error(pred, gt, scaled=False) == pytest.approx(0.5)
    assert connectivity_error(pred, gt) == pytest.approx(0.5e-3)
    assert connectivity_error(gt, gt) == 0.0


def test_connectivity_missing_island():
    gt = np.zeros((20, 20))
    gt[2:12, 2:12] = 1.0
    gt[15:17, 15:17] = 1.0  # a 2 x 2 island, in gt only
    pred = gt.copy()
    pred[15:17, 15:17] = 0.0
    # island pixels: l = 0 (not in the largest component at t = 0.1); gt d = 1 -> phi 0,
    # pred d = 0 -> phi 1: error 1 per pixel.
    assert connectivity_error(pred, gt, scaled=False) == pytest.approx(4.0)


def test_connectivity_ties_broken_in_column_major_order():
    # Two equal 2 x 2 components: A top-right, B bottom-left. MATLAB's bwconncomp numbers B
    # first (column-major), max keeps the first: B is omega while both exist (t <= 0.7).
    gt = np.zeros((10, 10))
    gt[1:3, 7:9] = 1.0  # A
    gt[6:8, 1:3] = 1.0  # B
    pred = gt.copy()
    pred[6:8, 1:3] = 0.75
    # B leaves at t = 0.8 -> l = 0.7: pred d = 0.05 -> phi 1, gt d = 0.3 -> phi 0.7: 4 * 0.3.
    # (Row-major labelling, as cv2/MMagic do, would pick A and give 4 * 0.25 = 1.0.)
    assert connectivity_error(pred, gt, scaled=False) == pytest.approx(1.2)
    assert ref_connectivity(pred * 255, gt * 255, np.full(gt.shape, 128)) == pytest.approx(1.2)


@pytest.mark.parametrize("value", [0.6, np.uint8(153)])
def test_connectivity_threshold_is_inclusive_at_exact_decimals(value):
    # gt = 0.6 passes ">= 0.6" (as single(153)/255 >= 0.6 in MATLAB) and leaves at 0.7 -> l = 0.6.
    # pred = 1: d = 0.4 -> phi 0.6; gt: d = 0 -> phi 1; error 0.4.
    # (np.arange(0, 1.1, 0.1)[6] = 0.6000000000000001 would drop it at 0.6 and give 0.5.)
    if isinstance(value, np.uint8):
        gt = np.full((5, 5), 255, np.uint8)
        pred = gt.copy()
    else:
        gt = np.ones((5, 5))
        pred = gt.copy()
    gt[2, 2] = value
    assert connectivity_error(pred, gt, scaled=False) == pytest.approx(0.4)


def test_alpha_iou_hand_computed():
    gt = np.zeros((4, 4))
    gt[:2, :] = 1.0  # 8 pixels
    pred = np.zeros((4, 4))
    pred[:3, :2] = 0.8  # 6 pixels, 4 shared
    assert alpha_iou(pred, gt) == pytest.approx(4 / 10)
    assert alpha_iou(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0  # both empty
    assert alpha_iou(np.full((3, 3), 0.5), np.ones((3, 3))) == 0.0  # 0.5 is not > 0.5
    assert alpha_iou(np.full((3, 3), 0.5), np.ones((3, 3)), threshold=0.4) == 1.0


# ---------------------------------------------------------------------------------------------
# feature: against the literal reference, and golden numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_uint8_mattes_match_reference(seed):
    rng = np.random.default_rng(seed)
    shape = (23, 31)
    gt = rng.integers(0, 256, shape).astype(np.uint8)
    noise = rng.integers(-60, 61, shape)
    pred = np.clip(gt.astype(int) + noise, 0, 255).astype(np.uint8)
    trimap = random_trimap(rng, shape)
    assert_matches_reference(pred / 255.0, gt / 255.0, trimap)
    # the uint8 path gives the same numbers as the float path
    for name, fn in METRICS.items():
        assert fn(pred, gt, trimap) == pytest.approx(fn(pred / 255.0, gt / 255.0, trimap)), name


def test_random_float_mattes_match_reference(rng):
    shape = (30, 26)
    gt = rng.random(shape) ** 2
    pred = np.clip(gt + 0.2 * rng.standard_normal(shape), 0.0, 1.0)
    pred[rng.random(shape) < 0.2] = 1.0  # saturated pixels create ties and big components
    assert_matches_reference(pred, gt, random_trimap(rng, shape))


def test_disk_matches_reference_and_golden_numbers():
    pred, gt, trimap = disk_pair()
    assert_matches_reference(pred, gt, trimap)
    # Golden numbers, computed once with the reference above:
    #   pred, gt, trimap = disk_pair(); r = reference_metrics(pred, gt, trimap)
    #   {k: r[k] * REPORT_SCALE[k] for k in r}
    golden = {"sad": GOLDEN_DISK_SAD, "mse": GOLDEN_DISK_MSE, "grad": GOLDEN_DISK_GRAD,
              "conn": GOLDEN_DISK_CONN}
    got = matting_metrics(pred, gt, trimap)
    for name, value in golden.items():
        assert got[name] == pytest.approx(value, rel=1e-5), name
    assert got["iou"] == pytest.approx(GOLDEN_DISK_IOU)
    assert alpha_iou(pred, gt) == pytest.approx(
        ((pred > 0.5) & (gt > 0.5)).sum() / ((pred > 0.5) | (gt > 0.5)).sum()
    )


GOLDEN_DISK_SAD = 0.214046715007
GOLDEN_DISK_MSE = 47.4704573390
GOLDEN_DISK_GRAD = 0.651059175260
GOLDEN_DISK_CONN = 0.222909237206
GOLDEN_DISK_IOU = 1062 / 1278  # counted: 1062 pixels > 0.5 in both, 1278 in either


def _load_gray(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"))
    return array[..., 0]  # the alphamatting PNGs store gray in RGB / palette form


def test_real_alphamatting_pair_matches_reference(shared_data):
    from scipy.ndimage import gaussian_filter

    root = shared_data / "alphamatting" / "Training"
    gt_path = root / "GroundTruth" / "GT01.png"
    trimap_path = root / "Trimap1" / "GT01.png"
    if not gt_path.is_file() or not trimap_path.is_file():
        pytest.skip(f"alphamatting GT01 not found under {root}")
    gt = _load_gray(gt_path)  # (497, 800) uint8
    trimap = _load_gray(trimap_path)  # 0/128/255
    assert set(np.unique(trimap).tolist()) <= {0, 128, 255}
    # the prediction: the ground truth blurred and re-quantised to 8 bits
    pred = np.clip(np.round(gaussian_filter(gt.astype(np.float64), 2.0)), 0, 255).astype(np.uint8)

    expected = {
        "sad": ref_sad(pred, gt, trimap) * 1000.0,
        "mse": ref_mse(pred, gt, trimap),
        "grad": ref_gradient(pred, gt, trimap),
        "conn": ref_connectivity(pred, gt, trimap),
    }
    for name, fn in METRICS.items():
        assert fn(pred, gt, trimap, scaled=False) == pytest.approx(expected[name], rel=1e-5), name
    # Golden numbers (scaled), computed once with the reference: the ``expected`` dict above
    # times REPORT_SCALE (sad already / 1000 in ref_sad, so ``expected["sad"] / 1000``).
    got = matting_metrics(pred, gt, trimap)
    for name, value in GOLDEN_GT01.items():
        assert got[name] == pytest.approx(value, rel=1e-5), name


GOLDEN_GT01 = {
    "sad": 2.70397654515,
    "mse": 12.9785045010,
    "grad": 5.44519992478,
    "conn": 2.49379606658,
    "iou": 0.997362035291,  # from alpha_iou itself (regression value)
}


def test_gradient_equals_correlation_with_replicate_border_as_in_mmagic():
    # MMagic uses cv2.filter2D (correlation) with BORDER_REPLICATE; the kernel is odd, so the
    # magnitudes, and therefore the error, equal MATLAB's convolution.
    import cv2

    pred, gt, trimap = disk_pair(40)

    def magnitude_cv2(a):
        g = ref_mat2gray(a)
        h = 4
        u = np.arange(-h, h + 1, dtype=np.float64)
        gauss = np.exp(-(u**2) / (2 * 1.4**2)) / (1.4 * np.sqrt(2 * np.pi))
        hx = np.outer(gauss, -u * gauss / 1.4**2)
        hx /= np.sqrt((hx**2).sum())
        gx = cv2.filter2D(g, -1, hx, borderType=cv2.BORDER_REPLICATE)
        gy = cv2.filter2D(g, -1, hx.T, borderType=cv2.BORDER_REPLICATE)
        return np.sqrt(gx**2 + gy**2)

    expected = (((magnitude_cv2(pred) - magnitude_cv2(gt)) ** 2) * (trimap == 0.5)).sum()
    assert gradient_error(pred, gt, trimap, scaled=False) == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# smoke / cardinality: regions, scaling, containers
# ---------------------------------------------------------------------------------------------


def test_matting_metrics_keys_and_consistency():
    pred, gt, trimap = disk_pair(32)
    result = matting_metrics(pred, gt, trimap)
    assert set(result) == {"sad", "mse", "grad", "conn", "iou"}
    assert all(isinstance(v, float) for v in result.values())
    for name, fn in METRICS.items():
        assert result[name] == pytest.approx(fn(pred, gt, trimap)), name
        assert fn(pred, gt, trimap) == pytest.approx(
            fn(pred, gt, trimap, scaled=False) * REPORT_SCALE[name]
        ), name
    assert result["iou"] == alpha_iou(pred, gt)


def test_region_defaults_and_all():
    pred, gt, trimap = disk_pair(32)
    everywhere = np.full(gt.shape, 0.5)
    for name, fn in METRICS.items():
        whole = fn(pred, gt)  # no trimap: every pixel
        assert whole == pytest.approx(fn(pred, gt, everywhere)), name
        assert whole == pytest.approx(fn(pred, gt, trimap, region="all")), name
        assert fn(pred, gt, trimap) == pytest.approx(fn(pred, gt, trimap, region="unknown")), name
    half = trimap.copy()
    half[:, :16] = 0.0  # drop the left half of the unknown band, where pred != gt
    assert sad(pred, gt) > sad(pred, gt, half) > 0.0


def test_torch_and_float32_inputs():
    torch = pytest.importorskip("torch")
    pred, gt, trimap = disk_pair(32)
    expected = matting_metrics(pred, gt, trimap)
    got = matting_metrics(
        torch.from_numpy(pred).float(), torch.from_numpy(gt).float(), torch.from_numpy(trimap)
    )
    for name in expected:
        assert got[name] == pytest.approx(expected[name], rel=1e-4, abs=1e-6), name


def test_empty_unknown_region():
    pred, gt, _ = disk_pair(16)
    trimap = np.zeros(gt.shape)
    assert sad(pred, gt, trimap) == 0.0
    assert gradient_error(pred, gt, trimap) == 0.0
    assert connectivity_error(pred, gt, trimap) == 0.0
    with pytest.raises(ValueError, match="empty region"):
        mse(pred, gt, trimap)
    with pytest.raises(ValueError, match="empty region"):
        matting_metrics(pred, gt, trimap)


# ---------------------------------------------------------------------------------------------
# exceptions and warnings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [sad, mse, gradient_error, connectivity_error, matting_metrics])
def test_shape_mismatch(fn):
    with pytest.raises(ValueError, match=r"pred \(4, 5\) and gt \(4, 6\)"):
        fn(np.zeros((4, 5)), np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"shape \(4, 5\), got trimap \(5, 4\)"):
        fn(np.zeros((4, 5)), np.zeros((4, 5)), np.zeros((5, 4)))


def test_iou_shape_mismatch():
    with pytest.raises(ValueError, match=r"pred \(4, 5\) and gt \(5, 5\)"):
        alpha_iou(np.zeros((4, 5)), np.zeros((5, 5)))


@pytest.mark.parametrize(
    "trimap",
    [
        np.array([[0.0, 0.25], [0.5, 1.0]]),
        np.array([[0, 127], [128, 255]], np.uint8),
        np.array([[0, 1], [2, 0]], np.uint8),
        np.array([[0.0, 0.5], [255.0, 1.0]]),
    ],
)
def test_bad_trimap_values(trimap):
    with pytest.raises(ValueError, match="trimap values must be"):
        sad(np.zeros((2, 2)), np.zeros((2, 2)), trimap)


def test_accepted_trimap_encodings_agree():
    pred, gt, trimap = disk_pair(24)
    as_u8 = np.select([trimap == 0.5, trimap == 1.0], [128, 255], 0).astype(np.uint8)
    expected = sad(pred, gt, trimap)
    assert sad(pred, gt, as_u8) == expected
    assert sad(pred, gt, as_u8.astype(np.float32)) == expected
    assert sad(pred, gt, as_u8.astype(np.int64)) == expected


def test_bad_arguments():
    a = np.zeros((4, 4))
    with pytest.raises(TypeError, match="trimap must be float"):
        sad(a, a, np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match='region="unknown" needs a trimap'):
        sad(a, a, region="unknown")
    with pytest.raises(ValueError, match='region must be "unknown" or "all", got \'fg\''):
        sad(a, a, np.zeros((4, 4)), region="fg")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pred must be a single-channel \(H, W\) array"):
        sad(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(TypeError, match="gt must be float in"):
        sad(a, np.zeros((4, 4), np.int64))
    with pytest.raises(ValueError, match="pred must be finite"):
        sad(np.full((4, 4), np.nan), a)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        gradient_error(a, a, sigma=0.0)
    with pytest.raises(ValueError, match=r"step must be in \(0, 1\]"):
        connectivity_error(a, a, step=1.5)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        alpha_iou(a, a, threshold=2.0)


def test_warns_on_floats_outside_unit_range():
    with pytest.warns(UserWarning, match=r"pred has values outside \[0, 1\]") as record:
        sad(np.full((3, 3), 255.0), np.zeros((3, 3)))
    assert record[0].filename == __file__  # points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sad(np.full((3, 3), 1.0), np.zeros((3, 3)))  # in range: silent
