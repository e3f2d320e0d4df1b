"""KNN matting solved on the unknown region only, and its blends with closed-form and shared
matting.

Three methods that make KNN matting usable at native resolution:

- :func:`alpha_knn_local`: the KNN matting energy of Q. Chen, D. Li, C.-K. Tang, "KNN Matting",
  IEEE TPAMI 35(9), 2013 (each pixel joined to its nearest neighbours in (r, g, b, w*x, w*y)
  space, one search per entry of ``n_neighbors`` / ``distance_weights``, pymatting's defaults),
  with two changes that keep its quality and cut its cost: the neighbour searches are made only
  from the unknown pixels and a ``band`` of known pixels around them (the edges that touch no
  unknown pixel do not enter the system), and the known pixels are hard constraints, so the
  linear system has one row per unknown pixel (as closed-form matting solves it; pymatting's
  ``estimate_alpha_knn`` weights them with lambda = 100 in a system over every pixel). The
  system ``(D_U - W_UU) alpha_U = W_UF 1`` (W the symmetrised neighbour graph, D its degrees,
  U unknown, F foreground) is symmetric positive definite and solved by Jacobi-preconditioned
  conjugate gradients, optionally from a starting matte.
- :func:`alpha_cf_knn`: ``weight * closed_form + (1 - weight) * knn_local``, the KNN solve
  started from the closed-form matte. The two energies fail differently (closed-form smears
  colour lines across thin structures, KNN leaves blotches where colours repeat far away), and on
  alphamatting.com GT01-27 (Trimap1) the blend with weight 0.25 has a lower SAD, MSE, gradient
  and connectivity error than either alone (``benchmarks/matting_blend.py``, docs/matting.md).
- :func:`alpha_cf_knn_sm`: ``(1 - sm_weight) * cf_knn + sm_weight * sm``, the blend above
  averaged with shared matting (Gastal & Oliveira 2010, a *sampling* method: each unknown pixel
  picks the foreground / background colour pair that explains it best). Sampling and propagation
  (Laplacian) methods err in different places, and with ``sm_weight`` = 0.5 the average beats
  both on all four metrics of GT01-27 with Trimap1 and with the wider Trimap2; the default with a
  trimap (docs/matting.md).

pymatting (its numba k-d tree and conjugate-gradient solver) is imported inside the functions,
like in :mod:`mattepaint.classical.pymatting_methods`.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import scipy.sparse as sp

from mattepaint.checks import check_float, check_int
from mattepaint.classical.pymatting_methods import (
    _check_epsilon_radius,
    _check_knn,
    _check_sm,
    _prepare,
    _PymattingMatter,
    _solve,
    alpha_closed_form,
    alpha_sm,
    check_knn_pixels,
)

__all__ = ["CFKNNMatter", "CFKNNSMMatter", "alpha_cf_knn", "alpha_cf_knn_sm", "alpha_knn_local"]

#: Default band (pixels) of known pixels around the unknown region whose neighbour searches
#: are made too; 5 gives the metrics of the full graph on GT01-27 (0 loses ~0.1 SAD).
DEFAULT_BAND = 5


def _knn_system(
    image: np.ndarray,
    trimap: np.ndarray,
    n_neighbors: list[int],
    distance_weights: list[float],
    band: int,
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """``(A, b, diagonal, unknown)``: the SPD system ``A alpha_U = b`` of the KNN energy on the
    unknown pixels (flat indices ``unknown``) of an (H, W, 3) float image and (H, W) {0, 0.5, 1}
    trimap, with A's diagonal."""
    from pymatting.util.kdtree import knn

    from mattepaint.classical._knn_kernels import knn_system  # numba: lazily

    height, width = trimap.shape
    n = height * width
    is_unknown = (trimap > 0.25) & (trimap < 0.75)  # (H, W)
    if band > 0:
        kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
        searched = cv2.dilate(is_unknown.astype(np.uint8), kernel).astype(bool)
    else:
        searched = is_unknown
    queries = np.flatnonzero(searched)
    unknown = np.flatnonzero(is_unknown)
    position = np.full(n, -1, dtype=np.int64)  # flat index -> row of the system, -1: known
    position[unknown] = np.arange(unknown.size)
    # pymatting's features: colour and position scaled to [0, 1], position times the weight
    r, g, b = image.reshape(-1, 3).astype(np.float32).T
    x = np.tile(np.linspace(0, 1, width, dtype=np.float32), height)
    y = np.repeat(np.linspace(0, 1, height, dtype=np.float32), width)
    found = []
    for k, distance_weight in zip(n_neighbors, distance_weights):
        features = np.stack([r, g, b, distance_weight * x, distance_weight * y], axis=1)
        found.append(knn(features, features[queries], k=min(k, n))[1].astype(np.int64))
    indptr, indices, data, rhs, diagonal = knn_system(
        queries.astype(np.int64), tuple(found), position, trimap.ravel() >= 0.75
    )
    a = sp.csr_matrix((data, indices, indptr), shape=(unknown.size, unknown.size))
    a.sum_duplicates()  # about half the entries: each solver iteration ~2x faster
    return a, rhs, diagonal, unknown


def alpha_knn_local(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    n_neighbors: Sequence[int] = (20, 10),
    distance_weights: Sequence[float] = (2.0, 0.1),
    band: int = DEFAULT_BAND,
    initial: np.ndarray | None = None,
) -> np.ndarray:
    """KNN matting (Chen et al. 2013) solved on the unknown region only (see the module doc).

    Inputs:
        image: (H, W, 3) float in [0, 1] or uint8; trimap: (H, W) in {0, 0.5, 1} or uint8
            0/128/255 (as :func:`mattepaint.classical.alpha_closed_form`).
        n_neighbors, distance_weights: as :func:`mattepaint.classical.alpha_knn`.
        band: known pixels within this many pixels (a square window) of the unknown region
            search for neighbours too (>= 0).
        initial: optional (H, W) starting matte for the solver (e.g. closed-form's); changes the
            iterations needed, not the answer.

    Outputs: (H, W) float32 alpha in [0, 1], the trimap on the known pixels.

    Raises: InputError for a trimap without foreground or background; ValueError for bad
    options or an image with fewer pixels than the largest ``n_neighbors``.
    """
    n_neighbors, distance_weights = _check_knn(n_neighbors, distance_weights)
    band = check_int("band", band, minimum=0)
    image64, trimap64 = _prepare(image, trimap)
    check_knn_pixels(image64, n_neighbors)
    if initial is not None:
        initial = np.asarray(initial, dtype=np.float64)
        if initial.shape != trimap64.shape:
            raise ValueError(
                f"initial must have the trimap's shape {trimap64.shape}, got {initial.shape}"
            )

    def estimate(image_: np.ndarray, trimap_: np.ndarray) -> np.ndarray:
        from pymatting import cg

        a, b, diagonal, unknown = _knn_system(image_, trimap_, n_neighbors, distance_weights, band)
        start = None if initial is None else np.clip(initial.ravel()[unknown], 0.0, 1.0)
        alpha = trimap_.ravel().copy()
        inverse = 1.0 / diagonal  # Jacobi preconditioner

        def jacobi(residual: np.ndarray) -> np.ndarray:
            return inverse * residual

        alpha[unknown] = cg(a, b, x0=start, M=jacobi, rtol=1e-5, maxiter=10_000)
        return alpha.reshape(trimap_.shape)

    return _solve(estimate, image64, trimap64)


def alpha_cf_knn(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    weight: float = 0.25,
    epsilon: float = 1e-7,
    radius: int = 1,
    n_neighbors: Sequence[int] = (20, 10),
    distance_weights: Sequence[float] = (2.0, 0.1),
    band: int = DEFAULT_BAND,
) -> np.ndarray:
    """``weight * closed_form + (1 - weight) * knn_local`` of one image (see the module doc).

    Inputs: image, trimap as :func:`alpha_knn_local`; ``weight`` of the closed-form matte in
    [0, 1]; ``epsilon``, ``radius`` of :func:`mattepaint.classical.alpha_closed_form`;
    ``n_neighbors``, ``distance_weights``, ``band`` of :func:`alpha_knn_local`, whose solver
    starts from the closed-form matte.

    Outputs: (H, W) float32 alpha in [0, 1], the trimap on the known pixels.
    """
    weight = check_float("weight", weight, low=0.0, high=1.0)
    closed_form = alpha_closed_form(image, trimap, epsilon=epsilon, radius=radius)
    if weight == 1.0:
        return closed_form
    knn = alpha_knn_local(
        image,
        trimap,
        n_neighbors=n_neighbors,
        distance_weights=distance_weights,
        band=band,
        initial=closed_form,
    )
    return (weight * closed_form + (1.0 - weight) * knn).astype(np.float32)


class CFKNNMatter(_PymattingMatter):
    """Closed-form + KNN blend (:func:`alpha_cf_knn`), needs a trimap.

    Options: ``weight`` (of closed-form, default 0.25), ``epsilon`` (1e-7), ``radius`` (1),
    ``n_neighbors`` ((20, 10)), ``distance_weights`` ((2.0, 0.1)), ``band`` (5), ``foreground``
    (estimate F, default True).
    """

    name = "cf_knn"

    def __init__(
        self,
        *,
        weight: float = 0.25,
        epsilon: float = 1e-7,
        radius: int = 1,
        n_neighbors: Sequence[int] = (20, 10),
        distance_weights: Sequence[float] = (2.0, 0.1),
        band: int = DEFAULT_BAND,
        foreground: bool = True,
    ) -> None:
        super().__init__(foreground=foreground)
        epsilon, radius = _check_epsilon_radius(epsilon, radius)
        n_neighbors, distance_weights = _check_knn(n_neighbors, distance_weights)
        self.options = {  # checked here, so that a bad option fails before any image is read
            "weight": check_float("weight", weight, low=0.0, high=1.0),
            "epsilon": epsilon,
            "radius": radius,
            "n_neighbors": n_neighbors,
            "distance_weights": distance_weights,
            "band": check_int("band", band, minimum=0),
        }

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return alpha_cf_knn(image, trimap, **self.options)


def alpha_cf_knn_sm(
    image: np.ndarray,
    trimap: np.ndarray,
    *,
    sm_weight: float = 0.5,
    weight: float = 0.25,
    trimap_expansion_radius: int = 10,
    sample_gathering_angles: int = 4,
    **cf_knn_options: object,
) -> np.ndarray:
    """``(1 - sm_weight) * cf_knn + sm_weight * sm`` of one image (see the module doc).

    Inputs: image, trimap as :func:`alpha_knn_local`; ``sm_weight`` of the shared-matting matte
    in [0, 1] (0: :func:`alpha_cf_knn` exactly, 1: :func:`~mattepaint.classical.alpha_sm`
    exactly); ``weight`` and the other keyword options of :func:`alpha_cf_knn`;
    ``trimap_expansion_radius``, ``sample_gathering_angles`` of
    :func:`~mattepaint.classical.alpha_sm`.

    Outputs: (H, W) float32 alpha in [0, 1], the trimap on the known pixels.
    """
    sm_weight = check_float("sm_weight", sm_weight, low=0.0, high=1.0)
    expansion, angles = _check_sm(trimap_expansion_radius, sample_gathering_angles)
    cf_knn = alpha_cf_knn(image, trimap, weight=weight, **cf_knn_options) if sm_weight < 1 else 0.0
    sm = 0.0
    if sm_weight > 0:
        sm = alpha_sm(
            image, trimap, trimap_expansion_radius=expansion, sample_gathering_angles=angles
        )
    return ((1.0 - sm_weight) * cf_knn + sm_weight * sm).astype(np.float32)


class CFKNNSMMatter(CFKNNMatter):
    """Closed-form + KNN + shared matting (:func:`alpha_cf_knn_sm`), needs a trimap.

    The default with a trimap. Options: ``sm_weight`` (of shared matting, default 0.5),
    ``trimap_expansion_radius`` (10), ``sample_gathering_angles`` (4), and those of
    :class:`CFKNNMatter`.
    """

    name = "cf_knn_sm"

    def __init__(
        self,
        *,
        sm_weight: float = 0.5,
        trimap_expansion_radius: int = 10,
        sample_gathering_angles: int = 4,
        **cf_knn_options: object,
    ) -> None:
        super().__init__(**cf_knn_options)  # type: ignore[arg-type]
        expansion, angles = _check_sm(trimap_expansion_radius, sample_gathering_angles)
        self.options.update(
            sm_weight=check_float("sm_weight", sm_weight, low=0.0, high=1.0),
            trimap_expansion_radius=expansion,
            sample_gathering_angles=angles,
        )

    def _alpha(self, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return alpha_cf_knn_sm(image, trimap, **self.options)
