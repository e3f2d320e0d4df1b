"""The numba-compiled assembly of :mod:`mattepaint.classical.cf_knn`'s linear system (private).

Kept apart so that importing :mod:`mattepaint.classical` does not import numba; ``cf_knn``
imports this module on its first solve. ``cache=True``: compiled once per environment.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def knn_system(
    queries: np.ndarray,
    neighbours: tuple[np.ndarray, ...],
    position: np.ndarray,
    is_foreground: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The KNN energy's system on the unknown pixels, in CSR form.

    Inputs: ``queries`` (Q,) int64 flat pixel indices that searched; ``neighbours`` a tuple of
    one (Q, k) int64 array per search (flat indices found; a tuple, since numba deprecates
    Python lists as arguments); ``position`` (N,) int64 row of each pixel in the system, -1 for a
    known one; ``is_foreground`` (N,) bool.
    Every found pair is an edge of weight 1 both ways (duplicates add up).

    Outputs: ``indptr, indices, data`` of ``A = D_U - W_UU`` (U x U, duplicate entries not
    summed: a matrix-vector product is unaffected), ``b = W_UF 1`` (U,) float64, and the diagonal
    of A (U,) float64 (for a Jacobi preconditioner).
    """
    n_unknown = int((position >= 0).sum())
    degree = np.zeros(n_unknown, np.float64)
    b = np.zeros(n_unknown, np.float64)
    self_loops = np.zeros(n_unknown, np.float64)
    per_row = np.ones(n_unknown, np.int64)  # the diagonal entry
    for found in neighbours:  # pass 1: degrees, right-hand side, entries per row
        for i in range(found.shape[0]):
            s = queries[i]
            ps = position[s]
            for j in range(found.shape[1]):
                t = found[i, j]
                pt = position[t]
                for p, q, other in ((ps, pt, t), (pt, ps, s)):
                    if p >= 0:
                        degree[p] += 1.0
                        if q >= 0:
                            per_row[p] += 1
                            if q == p:
                                self_loops[p] += 1.0
                        elif is_foreground[other]:
                            b[p] += 1.0
    indptr = np.zeros(n_unknown + 1, np.int64)
    indptr[1:] = np.cumsum(per_row)
    indices = np.empty(indptr[-1], np.int64)
    data = np.empty(indptr[-1], np.float64)
    fill = indptr[:-1].copy()
    for p in range(n_unknown):  # the diagonal entries
        indices[fill[p]] = p
        data[fill[p]] = degree[p]
        fill[p] += 1
    for found in neighbours:  # pass 2: the -1 entries between unknown pixels
        for i in range(found.shape[0]):
            s = queries[i]
            ps = position[s]
            for j in range(found.shape[1]):
                pt = position[found[i, j]]
                if ps >= 0 and pt >= 0:
                    indices[fill[ps]] = pt
                    data[fill[ps]] = -1.0
                    fill[ps] += 1
                    indices[fill[pt]] = ps
                    data[fill[pt]] = -1.0
                    fill[pt] += 1
    return indptr, indices, data, b, degree - self_loops
