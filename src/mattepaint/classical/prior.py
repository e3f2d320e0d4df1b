"""A classical matte as the starting point of a learned one (the *prior* of ``dim_matte``).

One function, used both by the training data (:class:`mattepaint.data.matting.CompositeDataset`
with ``prior=``) and at inference (:class:`mattepaint.models.matter.ModelMatter` for models with a
``prior`` attribute), so the network sees the same classical matte in training and in use.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

__all__ = ["PRIOR_METHODS", "classical_prior"]

#: Classical mattes a learned model can correct.
PRIOR_METHODS = ("closed_form", "knn", "cf_knn", "sm", "cf_knn_sm")


def classical_prior(
    image: np.ndarray, trimap: np.ndarray, method: str = "closed_form"
) -> np.ndarray:
    """The classical alpha matte of one image, robust to degenerate trimaps.

    Inputs:
        image: (H, W, 3) float in [0, 1].
        trimap: (H, W) float, 0 background / 0.5 unknown / 1 foreground.
        method: "closed_form" (Levin et al. 2008), "knn" (Chen et al. 2013), "cf_knn" (their
            blend), "sm" (shared matting, Gastal & Oliveira 2010: a sampling method, faster than
            closed-form) or "cf_knn_sm" (the classical default with a trimap), with the defaults of
            :func:`mattepaint.classical.pymatting_methods.alpha_closed_form` / ``alpha_knn`` /
            ``alpha_sm``, :func:`mattepaint.classical.cf_knn.alpha_cf_knn` / ``alpha_cf_knn_sm``.

    Outputs: (H, W) float32 alpha in [0, 1], equal to the trimap on its known pixels. A trimap
    without unknown pixels, or without any known foreground or background pixel (where the
    quadratic energy has no unique minimiser), gives the trimap itself (0.5 in the unknown region)
    instead of a solver failure: a training crop may legitimately hold no boundary.

    Raises: ValueError for an unknown method.
    """
    from mattepaint.classical.cf_knn import alpha_cf_knn, alpha_cf_knn_sm
    from mattepaint.classical.pymatting_methods import alpha_closed_form, alpha_knn, alpha_sm

    solvers = {
        "closed_form": alpha_closed_form,
        "knn": alpha_knn,
        "cf_knn": alpha_cf_knn,
        "sm": alpha_sm,
        "cf_knn_sm": alpha_cf_knn_sm,
    }
    if method not in PRIOR_METHODS:
        raise ValueError(f"prior method must be one of {', '.join(PRIOR_METHODS)}, got {method!r}")
    trimap = np.asarray(trimap, dtype=np.float32)
    # A composite can exceed 1 by a rounding error; the solvers would warn about it every sample.
    image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    unknown = (trimap > 0.25) & (trimap < 0.75)
    if not unknown.any() or not (trimap >= 0.75).any() or not (trimap <= 0.25).any():
        return np.where(unknown, np.float32(0.5), (trimap >= 0.75).astype(np.float32))
    # pymatting prints "PERFORMANCE WARNING" lines when its incomplete-Cholesky preconditioner
    # needs a retry: noise in a data loader, not a failure.
    with contextlib.redirect_stdout(io.StringIO()):
        alpha = solvers[method](image, trimap)
    return alpha.astype(np.float32)
