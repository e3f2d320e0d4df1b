"""Trimap-based classical matting through pymatting: closed-form, KNN, large-kernel, random-walk,
learning-based and shared matting.

All but shared matting minimise a quadratic smoothness energy ``alpha^T L alpha`` over the
unknown trimap region with the known pixels as constraints, and differ in the Laplacian L:

- ``closed_form``: the matting Laplacian of A. Levin, D. Lischinski, Y. Weiss, "A Closed-Form
  Solution to Natural Image Matting", IEEE TPAMI 30(2), 2008 (local colour-line model in
  (2r+1)^2 windows, regulariser epsilon). Known pixels are hard constraints.
- ``knn``: Q. Chen, D. Li, C.-K. Tang, "KNN Matting", IEEE TPAMI 35(9), 2013 (a graph joining each
  pixel to its nearest neighbours in colour + position space). Known pixels are soft constraints
  (pymatting's ``make_linear_system``); they are fixed to 0 / 1 afterwards.
- ``lkm``: K. He, J. Sun, X. Tang, "Fast Matting Using Large Kernel Matting Laplacian Matrices",
  CVPR 2010 (the matting Laplacian with a large window, applied through box filters). Known pixels
  are soft constraints, fixed to 0 / 1 afterwards.
- ``rw``: L. Grady, T. Schiwietz, S. Aharon, R. Westermann, "Random Walks for Interactive
  Alpha-Matting", VIIP 2005 (the graph Laplacian of colour-similarity weights between
  neighbours). Known pixels are soft constraints, fixed to 0 / 1 afterwards.
- ``lbdm``: Y. Zheng, C. Kambhamettu, "Learning Based Digital Matting", ICCV 2009 (alpha
  predicted in each window by kernel ridge regression on the colours). Known pixels are soft
  constraints, fixed to 0 / 1 afterwards.

``sm`` is a sampling method instead: E. S. L. Gastal, M. M. Oliveira, "Shared Sampling for
Real-Time Alpha Matting", Eurographics 2010 (each unknown pixel picks the foreground /
background colour pair that best explains it; neighbours share their samples).

pymatting is imported inside the functions: its numba kernels compile on first import (about a
minute in a fresh environment, cached afterwards), which should not slow down importing mattepaint.

The foreground colour is estimated with pymatting's multi-level method (M. Germer, T. Uelwer,
S. Conrad, S. Harmeling, "Fast Multi-Level Foreground Estimation", ICPR 2020), through
:func:`mattepaint.compositing.estimate_foreground`, unless disabled.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

import numpy as np
from torch import Tensor

from mattepaint.checks import check_int, is_int
from mattepaint.classical._common import (
    check_float_tensor,
    check_image,
    numpy_to_tensor,
    quantize_trimap,
    tensor_to_numpy,
    to_float,
)
from mattepaint.compositing import estimate_foreground
from mattepaint.interface import (
    MatteResult,
    Needs,
    apply_trimap,
    check_matte_inputs,
    check_trimap_regions,
)


def _solve(
    estimate: Callable[..., np.ndarray], image: np.ndarray, trimap: np.ndarray, **kwargs: object
) -> np.ndarray:
    """Run a pymatting estimator on a float64 (H, W, 3) image and a {0, 0.5, 1} float64 trimap.

    A trimap without foreground or without background (all unknown included) raises InputError
    (:func:`mattepaint.interface.check_trimap_regions`): the only minimum-energy alpha would be a
    constant, which is not a matte. Without unknown pixels alpha is the trimap. Returns (H, W)
    float32 in [0, 1] with the known pixels fixed.
    """
    check_trimap_regions(trimap, warn=False)  # the Matter path has warned already
    is_fg, is_bg = trimap == 1.0, trimap == 0.0
    if (is_fg | is_bg).all():
        return trimap.astype(np.float32)
    alpha = np.clip(estimate(image, trimap, **kwargs), 0.0, 1.0)
    alpha[is_fg] = 1.0
    alpha[is_bg] = 0.0
    return alpha.astype(np.float32)


def _prepare(
    image: np.ndarray, trimap: np.ndarray, *, stacklevel: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    check_image(image, stacklevel=stacklevel)  # warnings point at the caller of alpha_*
    return to_float(image, np.float64), quantize_trimap(trimap, image.shape, stacklevel=stacklevel)


def _solve_windowed(
    method: str,
    estimator: str,
    image: np.ndarray,
    trimap: np.ndarray,
    scale: int,
    laplacian_kwargs: dict[str, object],
) -> np.ndarray:
    """The body of the window-based methods (closed_form, lkm, rw, lbdm), options already checked.

    Prepares the inputs (:func:`_prepare`), requires an image of at least
    ``scale * radius + 1`` pixels a side (``radius = laplacian_kwargs["radius"]``), and solves with
    ``pymatting.<estimator>(image, trimap, laplacian_kwargs=laplacian_kwargs)`` (:func:`_solve`).
    """
    image64, trimap64 = _prepare(image, trimap, stacklevel=5)  # 5: the caller of alpha_*
    radius = laplacian_kwargs["radius"]
    _check_size(image, scale * radius + 1, method, f"{scale} * radius + 1 with radius {radius}")
    import pymatting

    estimate = getattr(pymatting, estimator)
    return _solve(estimate, image64, trimap64, laplacian_kwargs=laplacian_kwargs)


def _check_epsilon_radius(epsilon: float, radius: int) -> tuple[float, int]:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
    return float(epsilon), _check_radius(radius)


def _epsilon_radius_kwargs(epsilon: float, radius: int) -> dict[str, object]:
    """The checked ``laplacian_kwargs`` of the methods with a regulariser and a window radius."""
    epsilon, radius = _check_epsilon_radius(epsilon, radius)
    return {"epsilon": epsilon, "radius": radius}


def _check_radius(radius: int) -> int:
    if not is_int(radius) or radius < 1:
        raise ValueError(f"radius must be an int >= 1, got {radius!r}")
    return int(radius)


def _check_sm(trimap_expansion_radius: int, sample_gathering_angles: int) -> tuple[int, int]:
    return (
        check_int("trimap_expansion_radius", trimap_expansion_radius, minimum=0),
        check_int("sample_gathering_angles", sample_gathering_angles, minimum=1),
    )


def _check_size(image: np.ndarray, min_side: int, method: str, why: str) -> None:
    if min(image.shape[:2]) < min_side:
        raise ValueError(
            f"{method} needs an image of at least {min_side}x{min_side} pixels ({why}), "
            f"got {image.shape[0]}x{image.shape[1]}"
        )


def _check_knn(
    n_neighbors: Sequence[int], distance_weights: Sequence[float]
) -> tuple[list[int], list[float]]:
    n_neighbors, distance_weights = list(n_neighbors), list(distance_weights)
    if not n_neighbors or len(n_neighbors) != len(distance_weights):
        raise ValueError(
            "n_neighbors and distance_weights must be non-empty and of the same length, got "
            f"{n_neighbors} and {distance_weights}"
        )
    if not all(is_int(k) and k >= 1 for k in n_neighbors):
        raise ValueError(f"n_neighbors must be ints >= 1, got {n_neighbors}")
    return [int(k) for k in n_neighbors], [float(d) for d in distance_weights]


def check_knn_pixels(image: np.ndarray, n_neighbors: Sequence[int]) -> None:
    """``ValueError`` unless the (H, W, ...) image has more pixels than the largest neighbour
    count (the nearest-neighbour searches of KNN matting need that many other pixels)."""
    if image.shape[0] * image.shape[1] <= max(n_neighbors):
        raise ValueError(
            f"knn needs more pixels than n_neighbors {n_neighbors}, got an image of "
            f"{image.shape[0]}x{image.shape[1]}"
        )


def alpha_closed_form(
    image: np.ndarray, trimap: np.ndarray, *, epsilon: float = 1e-7, radius: int = 1
) -> np.ndarray:
    """Closed-form matting (Levin et al. 2008) of one image, via ``pymatting.estimate_alpha_cf``.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255); computed in float64.
        trimap: (H, W) float in {0, 0.5, 1} (0 background, 0.5 unknown, 1 foreground) or uint8
            0/128/255; other values are quantized (<= 0.25 background, >= 0.75 foreground).
        epsilon: regulariser of the local colour-line model (larger: smoother alpha).
        radius: window radius r of the matting Laplacian (windows of (2r+1)^2 pixels); the
            image must be at least (2r+1) x (2r+1).

    Outputs:
        (H, W) float32 alpha in [0, 1], equal to
        ``np.clip(estimate_alpha_cf(image, trimap, laplacian_kwargs={"epsilon": epsilon,
        "radius": radius}), 0, 1)``: alpha_U solves ``L_U alpha_U = -R alpha_K`` (L the matting
        Laplacian, U unknown and K known pixels), alpha = trimap on the known pixels.

    Reference: A. Levin, D. Lischinski, Y. Weiss, "A Closed-Form Solution to Natural Image
    Matting", IEEE TPAMI 30(2), 2008.
    """
    kwargs = _epsilon_radius_kwargs(epsilon, radius)
    return _solve_windowed("closed_form", "estimate_alpha_cf", image, trimap, 2, kwargs)


def alpha_knn(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    n_neighbors: Sequence[int] = (20, 10),
    distance_weights: Sequence[float] = (2.0, 0.1),
) -> np.ndarray:
    """KNN matting (Chen et al. 2013) of one image, via ``pymatting.estimate_alpha_knn``.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255); computed in float64.
        trimap: (H, W) in {0, 0.5, 1} or uint8 0/128/255 (see :func:`alpha_closed_form`).
        n_neighbors: neighbours per pixel of each nearest-neighbour search, one search per entry.
        distance_weights: weight of the pixel position in each search's feature vector
            (r, g, b, w*x, w*y); same length as ``n_neighbors``. The image needs more pixels
            than the largest ``n_neighbors``.

    Outputs:
        (H, W) float32 alpha in [0, 1]: the minimiser of ``alpha^T L alpha + lambda * sum over
        known pixels (alpha - trimap)^2`` with L the KNN Laplacian (pymatting, lambda = 100),
        clipped to [0, 1], then set to 0 / 1 on the known pixels.

    Reference: Q. Chen, D. Li, C.-K. Tang, "KNN Matting", IEEE TPAMI 35(9), 2013.
    """
    n_neighbors, distance_weights = _check_knn(n_neighbors, distance_weights)
    image64, trimap64 = _prepare(image, trimap)
    check_knn_pixels(image64, n_neighbors)
    from pymatting import estimate_alpha_knn

    kwargs = {"n_neighbors": n_neighbors, "distance_weights": distance_weights}
    return _solve(estimate_alpha_knn, image64, trimap64, laplacian_kwargs=kwargs)


def alpha_lkm(
    image: np.ndarray, trimap: np.ndarray, *, epsilon: float = 1e-7, radius: int = 10
) -> np.ndarray:
    """Large-kernel matting (He et al. 2010) of one image, via ``pymatting.estimate_alpha_lkm``.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255); computed in float64.
        trimap: (H, W) in {0, 0.5, 1} or uint8 0/128/255 (see :func:`alpha_closed_form`).
        epsilon: regulariser of the local colour-line model.
        radius: window radius r (windows of (2r+1)^2 pixels, applied with box filters, so the
            cost does not grow with r); the image must be at least (4r+1) x (4r+1) (41 x 41 for
            the default r = 10).

    Outputs:
        (H, W) float32 alpha in [0, 1]: the minimiser of ``alpha^T L alpha + 100 * sum over known
        pixels (alpha - trimap)^2`` with L the large-kernel matting Laplacian, clipped to [0, 1],
        then set to 0 / 1 on the known pixels.

    Reference: K. He, J. Sun, X. Tang, "Fast Matting Using Large Kernel Matting Laplacian
    Matrices", CVPR 2010.
    """
    kwargs = _epsilon_radius_kwargs(epsilon, radius)
    return _solve_windowed("lkm", "estimate_alpha_lkm", image, trimap, 4, kwargs)


def alpha_rw(image: np.ndarray, trimap: np.ndarray, *, radius: int = 1) -> np.ndarray:
    """Random-walk matting (Grady et al. 2005) of one image, via ``pymatting.estimate_alpha_rw``.

    Each pixel is joined to the pixels of its (2r+1)^2 window by an edge of weight
    ``w_ij = exp(-900 |I_i - I_j|^2)`` (pymatting's fixed ``1 / 0.033^2``: its ``sigma`` option
    is ignored by pymatting 1.1, so it is not offered here); alpha is the probability that a
    random walker leaving the pixel reaches the foreground first, i.e. the minimiser of
    ``alpha^T L alpha + 100 * sum over known pixels (alpha - trimap)^2`` with ``L = D - W`` the
    graph Laplacian (+ 1e-8 I), solved by conjugate gradients with a Jacobi preconditioner.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255); computed in float64.
        trimap: (H, W) in {0, 0.5, 1} or uint8 0/128/255 (see :func:`alpha_closed_form`).
        radius: window radius r (r = 1: the 8 neighbours); the image must be at least
            (2r+1) x (2r+1).

    Outputs:
        (H, W) float32 alpha in [0, 1], clipped, then set to 0 / 1 on the known pixels.

    Reference: L. Grady, T. Schiwietz, S. Aharon, R. Westermann, "Random Walks for Interactive
    Alpha-Matting", VIIP 2005.
    """
    kwargs = {"radius": _check_radius(radius)}
    return _solve_windowed("rw", "estimate_alpha_rw", image, trimap, 2, kwargs)


def alpha_lbdm(
    image: np.ndarray, trimap: np.ndarray, *, epsilon: float = 1e-7, radius: int = 1
) -> np.ndarray:
    """Learning-based digital matting (Zheng & Kambhamettu 2009) of one image, via
    ``pymatting.estimate_alpha_lbdm``.

    In every (2r+1)^2 window alpha is predicted from the colours of the window by kernel ridge
    regression (a Gaussian kernel, regulariser epsilon); the prediction matrices of all windows
    make a Laplacian L, and alpha minimises ``alpha^T L alpha + 100 * sum over known pixels
    (alpha - trimap)^2`` (conjugate gradients, incomplete-Cholesky preconditioner).

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255); computed in float64.
        trimap: (H, W) in {0, 0.5, 1} or uint8 0/128/255 (see :func:`alpha_closed_form`).
        epsilon: ridge regulariser (larger: smoother alpha).
        radius: window radius r; the image must be at least (2r+1) x (2r+1).

    Outputs:
        (H, W) float32 alpha in [0, 1], clipped, then set to 0 / 1 on the known pixels.

    Reference: Y. Zheng, C. Kambhamettu, "Learning Based Digital Matting", ICCV 2009.
    """
    kwargs = _epsilon_radius_kwargs(epsilon, radius)
    return _solve_windowed("lbdm", "estimate_alpha_lbdm", image, trimap, 2, kwargs)


def alpha_sm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    trimap_expansion_radius: int = 10,
    sample_gathering_angles: int = 4,
) -> np.ndarray:
    """Shared matting (Gastal & Oliveira 2010) of one image, via ``pymatting.estimate_alpha_sm``.

    A sampling method, not a Laplacian one: the trimap is first grown into unknown pixels whose
    colour is within 0.02 of a known pixel at most ``trimap_expansion_radius`` away; each
    unknown pixel then searches ``sample_gathering_angles`` directions for foreground and
    background samples, keeps the pair (F, B) that best explains its colour through
    ``alpha = (I - B) . (F - B) / |F - B|^2`` (with spatial and photometric costs), refines it
    with the pairs of its neighbours and smooths the result locally (pymatting's defaults for
    the other parameters). Computed in float32.

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8 (divided by 255).
        trimap: (H, W) in {0, 0.5, 1} or uint8 0/128/255 (see :func:`alpha_closed_form`).
        trimap_expansion_radius: int >= 0, pixels (0: no expansion).
        sample_gathering_angles: int >= 1, search directions per pixel.

    Outputs:
        (H, W) float32 alpha in [0, 1], clipped, then set to 0 / 1 on the known pixels.

    Reference: E. S. L. Gastal, M. M. Oliveira, "Shared Sampling for Real-Time Alpha Matting",
    Computer Graphics Forum 29(2), Eurographics 2010.
    """
    expansion, angles = _check_sm(trimap_expansion_radius, sample_gathering_angles)
    image64, trimap64 = _prepare(image, trimap)
    from pymatting import estimate_alpha_sm

    return _solve(
        estimate_alpha_sm,
        np.ascontiguousarray(image64),  # its numba kernels take C-contiguous arrays only
        trimap64,
        trimap_expansion_radius=expansion,
        sample_gathering_angles=angles,
    )


class _PymattingMatter(abc.ABC):
    """Batched wrapper: runs ``self._alpha(image, trimap)`` per image (the Matter protocol)."""

    name: str
    needs: Needs = "trimap"

    def __init__(self, *, foreground: bool = True) -> None:
        if not isinstance(foreground, bool):
            raise TypeError(f"foreground must be a bool, got {foreground!r}")
        self.foreground = foreground

    @abc.abstractmethod
    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        """alpha (H, W) float64 of one image (H, W, 3) and trimap (H, W) {0, 0.5, 1}."""

    def __call__(
        self, image: Tensor, *, trimap: Tensor | None = None, background: Tensor | None = None
    ) -> MatteResult:
        """image (B, 3, H, W) float in [0, 1], trimap (B, 1, H, W) in {0, 0.5, 1} ->
        MatteResult(alpha (B, 1, H, W), foreground (B, 3, H, W) or None), in the input's dtype
        and device. ``background`` is ignored."""
        check_matte_inputs(image, trimap, background, self.needs, self.name)
        check_float_tensor(image, "image")
        check_float_tensor(trimap, "trimap")  # type: ignore[arg-type]  # not None: checked
        alphas, foregrounds = [], []
        for img, tri in zip(image, trimap):
            img_np = tensor_to_numpy(img)  # (H, W, 3)
            tri_np = tensor_to_numpy(tri)[..., 0]  # (H, W)
            alpha = self._alpha(img_np, tri_np)
            alphas.append(alpha)
            if self.foreground:
                foregrounds.append(estimate_foreground(to_float(img_np, np.float64), alpha))
        alpha_t = apply_trimap(numpy_to_tensor(alphas, like=image), trimap.to(image.dtype))
        fg_t = numpy_to_tensor(foregrounds, like=image) if self.foreground else None
        return MatteResult(alpha=alpha_t, foreground=fg_t)


class _EpsilonRadiusMatter(_PymattingMatter):
    """A method with options ``epsilon`` and ``radius``: ``alpha_fn(image, trimap, epsilon=...,
    radius=...)`` per image (closed_form, lkm, lbdm)."""

    alpha_fn: Callable[..., np.ndarray]  # a staticmethod in each subclass

    def __init__(self, *, epsilon: float = 1e-7, radius: int = 1, foreground: bool = True) -> None:
        super().__init__(foreground=foreground)
        self.epsilon, self.radius = _check_epsilon_radius(epsilon, radius)

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return self.alpha_fn(image, trimap, epsilon=self.epsilon, radius=self.radius)


class ClosedFormMatter(_EpsilonRadiusMatter):
    """Closed-form matting (:func:`alpha_closed_form`), needs a trimap.

    Options: ``epsilon`` (default 1e-7), ``radius`` (default 1), ``foreground`` (estimate F,
    default True).
    """

    name = "closed_form"
    alpha_fn = staticmethod(alpha_closed_form)


class KNNMatter(_PymattingMatter):
    """KNN matting (:func:`alpha_knn`), needs a trimap.

    Options: ``n_neighbors`` (default (20, 10)), ``distance_weights`` (default (2.0, 0.1)),
    ``foreground`` (default True).
    """

    name = "knn"

    def __init__(
        self,
        *,
        n_neighbors: Sequence[int] = (20, 10),
        distance_weights: Sequence[float] = (2.0, 0.1),
        foreground: bool = True,
    ) -> None:
        super().__init__(foreground=foreground)
        self.n_neighbors, self.distance_weights = _check_knn(n_neighbors, distance_weights)

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return alpha_knn(
            image, trimap, n_neighbors=self.n_neighbors, distance_weights=self.distance_weights
        )


class LKMMatter(_EpsilonRadiusMatter):
    """Large-kernel matting (:func:`alpha_lkm`), needs a trimap.

    Options: ``epsilon`` (default 1e-7), ``radius`` (default 10), ``foreground`` (default True).
    """

    name = "lkm"
    alpha_fn = staticmethod(alpha_lkm)

    def __init__(self, *, epsilon: float = 1e-7, radius: int = 10, foreground: bool = True) -> None:
        super().__init__(epsilon=epsilon, radius=radius, foreground=foreground)


class RandomWalkMatter(_PymattingMatter):
    """Random-walk matting (:func:`alpha_rw`), needs a trimap.

    Options: ``radius`` (default 1), ``foreground`` (default True).
    """

    name = "rw"

    def __init__(self, *, radius: int = 1, foreground: bool = True) -> None:
        super().__init__(foreground=foreground)
        self.radius = _check_radius(radius)

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return alpha_rw(image, trimap, radius=self.radius)


class LBDMMatter(_EpsilonRadiusMatter):
    """Learning-based digital matting (:func:`alpha_lbdm`), needs a trimap.

    Options: ``epsilon`` (default 1e-7), ``radius`` (default 1), ``foreground`` (default True).
    """

    name = "lbdm"
    alpha_fn = staticmethod(alpha_lbdm)


class SharedMatter(_PymattingMatter):
    """Shared matting (:func:`alpha_sm`), needs a trimap.

    Options: ``trimap_expansion_radius`` (default 10), ``sample_gathering_angles`` (default 4),
    ``foreground`` (default True).
    """

    name = "sm"

    def __init__(
        self,
        *,
        trimap_expansion_radius: int = 10,
        sample_gathering_angles: int = 4,
        foreground: bool = True,
    ) -> None:
        super().__init__(foreground=foreground)
        self.trimap_expansion_radius, self.sample_gathering_angles = _check_sm(
            trimap_expansion_radius, sample_gathering_angles
        )

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return alpha_sm(
            image,
            trimap,
            trimap_expansion_radius=self.trimap_expansion_radius,
            sample_gathering_angles=self.sample_gathering_angles,
        )


__all__ = [
    "ClosedFormMatter",
    "KNNMatter",
    "LBDMMatter",
    "LKMMatter",
    "RandomWalkMatter",
    "SharedMatter",
    "alpha_closed_form",
    "alpha_knn",
    "alpha_lbdm",
    "alpha_lkm",
    "alpha_rw",
    "alpha_sm",
]
