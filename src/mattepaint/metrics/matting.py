"""Alpha-matting metrics exactly as the Deep Image Matting evaluation code defines them.

Reference: N. Xu, B. Price, S. Cohen, T. Huang, "Deep Image Matting", CVPR 2017, and its MATLAB
evaluation package (Ning Xu, 2018): ``compute_sad_loss.m``, ``compute_mse_loss.m``,
``compute_gradient_loss.m`` (with Guanglei Xiong's ``gaussgradient.m``) and
``compute_connectivity_error.m``. The gradient and connectivity errors were introduced by
Rhemann et al., "A Perceptually Motivated Online Benchmark for Image Matting", CVPR 2009.

Conventions (shared by every function here):

- ``pred`` and ``gt`` are (H, W) mattes: float in [0, 1] (computed in float64), or uint8
  0..255 / uint16 0..65535 (divided by 255 / 65535), or bool. Floats outside [0, 1] are used
  unchanged with a warning (the MATLAB code does not clip either).
- ``trimap`` is (H, W): float {0, 0.5, 1} (this package's convention) or 0/128/255 (uint8 as on
  disk, any integer dtype, or float). The evaluated "unknown" region is ``trimap == 0.5``
  (``== 128``), as ``single(trimap==128)`` in the MATLAB code. Any other value is a ValueError.
- ``region``: ``"unknown"`` (sum over the trimap's unknown region; needs a trimap) or ``"all"``
  (every pixel; for trimap-free models). Default: ``"unknown"`` when a trimap is given, else
  ``"all"``. With ``region="all"`` a given trimap is validated and then ignored.
- ``scaled=True`` (default) reports the numbers papers print: SAD / 1000, MSE x 1e3,
  gradient error / 1000, connectivity error / 1000 (:data:`REPORT_SCALE`). The MATLAB code
  divides SAD by 1000 itself and reports MSE, gradient and connectivity unscaled; the /1000 for
  gradient and connectivity and the x1e3 for MSE follow the tables of DIM and later papers
  (IndexNet, GCA, MMagic). ``scaled=False`` returns the raw sums (raw MSE is the plain mean).
- The whole image is filtered / thresholded (gradient, connectivity); only the final sum is
  restricted to the region, as in the original.
- The MATLAB code computes in single precision; we use float64, so results agree with it to
  about 1e-6 relative. Thresholds ``0:step:1`` are exact decimals (``i * step`` rounded), so an
  8-bit value such as 153/255 = 0.6 passes ``>= 0.6`` as it does in MATLAB (single(153)/255 is
  single(0.6)); ``np.arange(0, 1.1, 0.1)`` would give 0.6000000000000001 and drop it.

Differences from the MMagic / MMEval Python ports (``mmeval/metrics/gradient_error.py`` etc.):

- Gradient: MMagic filters with ``cv2.filter2D`` (a correlation) with BORDER_REPLICATE; the
  MATLAB code uses ``imfilter(IM, h, 'replicate', 'conv')`` (a convolution). The kernel is odd
  (h(-u, -v) = -h(u, v)), so the two differ only in sign and the magnitudes agree; we convolve
  with replicate borders as the original does. MMagic min-max normalises with
  ``cv2.normalize(NORM_MINMAX)``; we follow ``mat2gray`` (a constant matte is clipped to [0, 1]
  instead of normalised; its gradient is zero either way).
- MSE: MMagic sums the squared error over *all* pixels and divides by the unknown count (it
  requires pred to equal gt outside the unknown region, ``_assert_masked``) and returns 0 for an
  empty region; MATLAB (and we) sum over the unknown region only; an empty region is a
  ValueError here (MATLAB would give 0/0 = NaN).
- Connectivity: MMagic labels with ``cv2.connectedComponentsWithStats`` (row-major label order)
  and thresholds with ``np.arange``; MATLAB's ``bwconncomp`` numbers components in column-major
  order and ``max`` keeps the first maximum, so among equally large components the one whose
  first pixel comes first column by column wins. We label the transposed mask to reproduce that
  tie-break, and use exact decimal thresholds (see above).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from mattepaint.checks import check_same_shape

__all__ = [
    "REPORT_SCALE",
    "Region",
    "alpha_iou",
    "connectivity_error",
    "gradient_error",
    "matting_metrics",
    "mse",
    "sad",
]

Region = Literal["unknown", "all"]

#: Factor applied to each raw metric when ``scaled=True`` (the numbers papers report).
REPORT_SCALE: dict[str, float] = {"sad": 1e-3, "mse": 1e3, "grad": 1e-3, "conn": 1e-3}

_NUMBER = (int, float, np.integer, np.floating)
_CROSS = ndimage.generate_binary_structure(2, 1)  # 4-connectivity, as bwconncomp(..., 4)


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _to_numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        array = np.asarray(x)
    except Exception as error:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be an array, got {type(x).__name__}") from error
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a single-channel (H, W) array, got shape {tuple(array.shape)}"
        )
    return array


def _as_matte(x: Any, name: str, stacklevel: int = 4) -> np.ndarray:
    """(H, W) float64 matte from float [0, 1], uint8, uint16 or bool input."""
    array = _to_numpy(x, name)
    if array.dtype == np.bool_:
        return array.astype(np.float64)
    if array.dtype == np.uint8:
        return array.astype(np.float64) / 255.0
    if array.dtype == np.uint16:
        return array.astype(np.float64) / 65535.0
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"{name} must be float in [0, 1], uint8 (0..255), uint16 or bool, "
            f"got dtype {array.dtype}"
        )
    matte = array.astype(np.float64)
    if not np.isfinite(matte).all():
        bad = int((~np.isfinite(matte)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN/inf values")
    low, high = float(matte.min()), float(matte.max())
    if low < 0.0 or high > 1.0:
        warnings.warn(
            f"{name} has values outside [0, 1] (min {low:.4g}, max {high:.4g}); "
            "they are used unchanged",
            stacklevel=stacklevel,  # 4: user -> alpha_iou/... -> _prepare -> _as_matte
        )
    return matte


def _unknown_region(trimap: Any, shape: tuple[int, ...]) -> np.ndarray:
    """(H, W) bool, True where the trimap is unknown (0.5 or 128)."""
    array = _to_numpy(trimap, "trimap")
    if array.shape != shape:
        raise ValueError(
            f"trimap must have the mattes' shape {shape}, got trimap {tuple(array.shape)}"
        )
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(
            "trimap must be float {0, 0.5, 1} or integer {0, 128, 255}, "
            f"got dtype {array.dtype}"
        )
    values = np.unique(array)
    if np.issubdtype(array.dtype, np.floating) and np.isin(values, (0.0, 0.5, 1.0)).all():
        return array == 0.5
    if np.isin(values, (0, 128, 255)).all():
        return array == 128
    bad = values[~np.isin(values, (0.0, 0.5, 1.0, 128.0, 255.0))]
    if bad.size == 0:  # a float trimap mixing both conventions, e.g. {0.5, 255}
        bad = values
    shown = ", ".join(f"{v:g}" for v in bad[:6].tolist()) + (", ..." if bad.size > 6 else "")
    raise ValueError(
        "trimap values must be {0, 0.5, 1} (float) or {0, 128, 255}, "
        f"got unexpected values {shown}"
    )


def _prepare(
    pred: Any, gt: Any, trimap: Any, region: Region | None, stacklevel: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Checked float64 mattes and the evaluation mask (None means every pixel); ``stacklevel``
    of the out-of-range warnings: 4 points at the caller of the function calling this one."""
    pred_m = _as_matte(pred, "pred", stacklevel)
    gt_m = _as_matte(gt, "gt", stacklevel)
    check_same_shape(pred_m, gt_m, ("pred", "gt"))
    if region is None:
        region = "unknown" if trimap is not None else "all"
    if region not in ("unknown", "all"):
        raise ValueError(f'region must be "unknown" or "all", got {region!r}')
    unknown = None if trimap is None else _unknown_region(trimap, pred_m.shape)
    if region == "all":
        return pred_m, gt_m, None
    if unknown is None:
        raise ValueError('region="unknown" needs a trimap, got trimap=None')
    return pred_m, gt_m, unknown


def _region_sum(error_map: np.ndarray, mask: np.ndarray | None) -> float:
    return float(error_map.sum() if mask is None else error_map[mask].sum())


def _check_positive(name: str, value: float, *, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0.0 and math.isfinite(value)) or (high is not None and value > high):
        limit = f"in (0, {high:g}]" if high is not None else "> 0"
        raise ValueError(f"{name} must be {limit}, got {value}")
    return value


# ---------------------------------------------------------------------------------------------
# the four DIM metrics (raw, on prepared inputs)
# ---------------------------------------------------------------------------------------------


def _sad_raw(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
    return _region_sum(np.abs(pred - gt), mask)


def _mse_raw(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
    count = pred.size if mask is None else int(mask.sum())
    if count == 0:
        raise ValueError(
            "MSE is undefined on an empty region: the trimap has no unknown (0.5 / 128) pixel; "
            'pass region="all" to evaluate the whole image'
        )
    return _region_sum((pred - gt) ** 2, mask) / count


def _mat2gray(image: np.ndarray) -> np.ndarray:
    """MATLAB ``mat2gray``: (x - min) / (max - min) clipped to [0, 1]; constant -> clip(x)."""
    low, high = float(image.min()), float(image.max())
    if high == low:
        return np.clip(image, 0.0, 1.0)
    return np.clip((image - low) / (high - low), 0.0, 1.0)


def _gauss_gradient_filters(sigma: float, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """The two 1-D factors of ``gaussgradient.m``'s normalised kernel hx = outer(g, dg).

    ``halfsize = ceil(sigma sqrt(-2 log(sqrt(2 pi) sigma epsilon)))`` (4 for sigma = 1.4),
    ``g(u) = exp(-u^2 / 2 sigma^2) / (sigma sqrt(2 pi))``, ``dg(u) = -u g(u) / sigma^2``, and
    hx is divided by its Frobenius norm, which for an outer product is ``|g| |dg|``.
    Rows (axis 0) carry g, columns (axis 1) carry dg; hy = hx'.
    """
    halfsize = math.ceil(
        sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon))
    )
    u = np.arange(-halfsize, halfsize + 1, dtype=np.float64)
    g = np.exp(-(u**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dg = -u * g / sigma**2
    return g / np.linalg.norm(g), dg / np.linalg.norm(dg)


def _gauss_gradient_magnitude(image: np.ndarray, sigma: float) -> np.ndarray:
    """sqrt(gx^2 + gy^2) with gx = imfilter(image, hx, 'replicate', 'conv'), gy likewise (hy).

    The 2-D convolution with the separable kernel is done as two 1-D convolutions; with
    replicate ('nearest') borders on each axis this equals the 2-D convolution of the
    replicate-padded image exactly.
    """
    g, dg = _gauss_gradient_filters(sigma)
    rows_dg = ndimage.convolve1d(image, dg, axis=1, mode="nearest")  # d/dx along each row
    gx = ndimage.convolve1d(rows_dg, g, axis=0, mode="nearest")  # then smooth down columns
    rows_g = ndimage.convolve1d(image, g, axis=1, mode="nearest")
    gy = ndimage.convolve1d(rows_g, dg, axis=0, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def _gradient_raw(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None, sigma: float
) -> float:
    pred_amp = _gauss_gradient_magnitude(_mat2gray(pred), sigma)
    gt_amp = _gauss_gradient_magnitude(_mat2gray(gt), sigma)
    return _region_sum((pred_amp - gt_amp) ** 2, mask)


def _thresholds(step: float) -> np.ndarray:
    """MATLAB ``0:step:1`` as exact decimals (i * step rounded to 12 places)."""
    count = int(math.floor(1.0 / step + 1e-9)) + 1
    return np.round(np.arange(count) * step, 12)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """Largest 4-connected component of a bool mask; ties go to the component whose first
    pixel comes first in column-major order (MATLAB ``bwconncomp`` numbering + ``max``)."""
    labels_t, count = ndimage.label(mask.T, structure=_CROSS)  # raster order on mask.T
    if count == 0:  # no component: omega stays all zeros
        return np.zeros_like(mask)
    sizes = np.bincount(labels_t.ravel(), minlength=count + 1)[1:]
    return (labels_t == int(np.argmax(sizes)) + 1).T


def _connectivity_raw(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None, step: float
) -> float:
    thresholds = _thresholds(step)
    l_map = np.full(pred.shape, -1.0)  # first threshold (minus step) where a pixel drops out
    for i in range(1, thresholds.size):
        omega = _largest_component((pred >= thresholds[i]) & (gt >= thresholds[i]))
        l_map[(l_map == -1.0) & ~omega] = thresholds[i - 1]
    l_map[l_map == -1.0] = 1.0
    pred_d = pred - l_map
    gt_d = gt - l_map
    pred_phi = 1.0 - pred_d * (pred_d >= 0.15)
    gt_phi = 1.0 - gt_d * (gt_d >= 0.15)
    return _region_sum(np.abs(pred_phi - gt_phi), mask)


def _iou_raw(pred: np.ndarray, gt: np.ndarray, threshold: float) -> float:
    pred_b = pred > threshold
    gt_b = gt > threshold
    union = int((pred_b | gt_b).sum())
    if union == 0:  # both mattes empty: a perfect match
        return 1.0
    return int((pred_b & gt_b).sum()) / union


def _region_metric(
    name: str,
    raw: Callable[..., float],
    pred: Any,
    gt: Any,
    trimap: Any,
    region: Region | None,
    scaled: bool,
    *args: float,
) -> float:
    """``raw(pred, gt, mask, *args)`` on the prepared inputs (:func:`_prepare`), times
    ``REPORT_SCALE[name]`` when ``scaled``: the body of :func:`sad`, :func:`mse`,
    :func:`gradient_error` and :func:`connectivity_error`."""
    pred_m, gt_m, mask = _prepare(pred, gt, trimap, region, stacklevel=5)  # 5: their caller
    value = raw(pred_m, gt_m, mask, *args)
    return value * REPORT_SCALE[name] if scaled else value


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------


def sad(
    pred: Any,
    gt: Any,
    trimap: Any = None,
    *,
    region: Region | None = None,
    scaled: bool = True,
) -> float:
    """Sum of absolute differences (``compute_sad_loss.m``).

    Inputs: ``pred``, ``gt`` (H, W) mattes in [0, 1] (or uint8); ``trimap`` (H, W) or None;
    ``region`` / ``scaled`` as in the module docstring.
    Output: ``sum_{p in region} |pred_p - gt_p|``, divided by 1000 when ``scaled``.
    An empty region gives 0.
    """
    return _region_metric("sad", _sad_raw, pred, gt, trimap, region, scaled)


def mse(
    pred: Any,
    gt: Any,
    trimap: Any = None,
    *,
    region: Region | None = None,
    scaled: bool = True,
) -> float:
    """Mean squared error over the region (``compute_mse_loss.m``).

    Inputs: as :func:`sad`.
    Output: ``sum_{p in region} (pred_p - gt_p)^2 / |region|``, multiplied by 1000 when
    ``scaled`` (the "MSE x 1e3" of matting papers; MATLAB returns the unscaled mean).
    Raises ValueError when the region is empty (0 / 0).
    """
    return _region_metric("mse", _mse_raw, pred, gt, trimap, region, scaled)


def gradient_error(
    pred: Any,
    gt: Any,
    trimap: Any = None,
    *,
    region: Region | None = None,
    scaled: bool = True,
    sigma: float = 1.4,
) -> float:
    """Gradient error (``compute_gradient_loss.m`` with ``gaussgradient.m``).

    Inputs: as :func:`sad`; ``sigma`` the Gaussian's standard deviation (1.4 in DIM).
    Output: ``sum_{p in region} (|grad pred|_p - |grad gt|_p)^2``, divided by 1000 when
    ``scaled``, where each matte is first min-max normalised (``mat2gray``) and
    ``|grad a| = sqrt((a * hx)^2 + (a * hy)^2)``: convolution (``*``) with replicate borders by
    the Gaussian-derivative kernel ``hx(i, j) = g(i) dg(j) / ||g dg'||_F`` of half size
    ``ceil(sigma sqrt(-2 log(sqrt(2 pi) sigma 1e-2)))`` (9 x 9 for sigma 1.4), ``hy = hx'``.
    Because of the min-max normalisation the error is invariant to an affine rescaling
    ``a * matte + b`` (a > 0) of either matte.
    """
    sigma = _check_positive("sigma", sigma)
    return _region_metric("grad", _gradient_raw, pred, gt, trimap, region, scaled, sigma)


def connectivity_error(
    pred: Any,
    gt: Any,
    trimap: Any = None,
    *,
    region: Region | None = None,
    scaled: bool = True,
    step: float = 0.1,
) -> float:
    """Connectivity error (``compute_connectivity_error.m``; Rhemann et al. 2009).

    Inputs: as :func:`sad`; ``step`` the threshold step (0.1).
    Output: ``sum_{p in region} |phi(pred)_p - phi(gt)_p|``, divided by 1000 when ``scaled``.
    For each threshold ``t_i`` in ``0:step:1`` (i >= 1), omega_i is the largest 4-connected
    component of ``(pred >= t_i) & (gt >= t_i)``; ``l_p`` is ``t_{i-1}`` for the first i whose
    omega_i misses pixel p, and 1 if every omega_i contains p. With ``d = matte - l``,
    ``phi = 1 - d * [d >= 0.15]``. The whole image is thresholded; only the sum is restricted
    to the region. Among equally large components the first in column-major order is taken,
    as MATLAB's ``bwconncomp`` + ``max`` do.
    """
    step = _check_positive("step", step, high=1.0)
    return _region_metric("conn", _connectivity_raw, pred, gt, trimap, region, scaled, step)


def alpha_iou(pred: Any, gt: Any, *, threshold: float = 0.5) -> float:
    """Intersection over union of the binarised mattes, over the whole image.

    Inputs: ``pred``, ``gt`` (H, W) mattes in [0, 1] (or uint8); ``threshold`` in [0, 1].
    Output: ``|P & G| / |P | G|`` with ``P = pred > threshold``, ``G = gt > threshold``
    (strictly greater: a matte exactly at 0.5 counts as background); 1.0 when both are empty.
    Seed report 000 reports validation IoU with threshold 0.5.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, _NUMBER):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    pred_m, gt_m, _ = _prepare(pred, gt, None, "all")
    return _iou_raw(pred_m, gt_m, float(threshold))


def matting_metrics(
    pred: Any,
    gt: Any,
    trimap: Any = None,
    *,
    region: Region | None = None,
) -> dict[str, float]:
    """All matting metrics at once, scaled as papers report them.

    Inputs: as :func:`sad`.
    Output: ``{"sad": SAD/1000, "mse": MSE x 1e3, "grad": gradient error/1000,
    "conn": connectivity error/1000, "iou": alpha_iou(pred, gt)}``; the first four over
    ``region`` (default: unknown when a trimap is given, else all), IoU (threshold 0.5) always
    over the whole image. Raises ValueError when the region is empty (MSE is undefined).
    """
    pred_m, gt_m, mask = _prepare(pred, gt, trimap, region)
    return {
        "sad": _sad_raw(pred_m, gt_m, mask) * REPORT_SCALE["sad"],
        "mse": _mse_raw(pred_m, gt_m, mask) * REPORT_SCALE["mse"],
        "grad": _gradient_raw(pred_m, gt_m, mask, 1.4) * REPORT_SCALE["grad"],
        "conn": _connectivity_raw(pred_m, gt_m, mask, 0.1) * REPORT_SCALE["conn"],
        "iou": _iou_raw(pred_m, gt_m, 0.5),
    }
