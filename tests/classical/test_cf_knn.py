"""Tests of :mod:`mattepaint.classical.cf_knn`: KNN matting solved on the unknown region, its
blend with closed-form matting, and that blend averaged with shared matting (the default trimap
method).

The reference for ``alpha_knn_local`` is pymatting's own KNN Laplacian (``knn_laplacian``) with the
known pixels as hard constraints, solved exactly with scipy: when every pixel searches for
neighbours (a band wider than the image), the two systems are the same.
"""

from __future__ import annotations

import numpy as np
import pymatting
import pytest
import scipy.sparse.linalg as spla
import torch

from mattepaint import classical
from mattepaint.errors import InputError
from mattepaint.methods import default_matter, get_matter

from .test_pymatting_methods import _soft_disk_scene


def _knn_hard_constraints(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """pymatting's KNN Laplacian L = I - D^-1 W, the reduced system L_UU a_U = -L_UK a_K solved
    directly: the answer alpha_knn_local must give with every pixel searching."""
    laplacian = pymatting.knn_laplacian(image).tocsr()  # default (20, 10) / (2.0, 0.1)
    flat = trimap.ravel()
    unknown, known = np.flatnonzero(flat == 0.5), np.flatnonzero(flat != 0.5)
    rhs = -laplacian[unknown][:, known] @ flat[known]
    alpha = flat.copy()
    alpha[unknown] = spla.spsolve(laplacian[unknown][:, unknown].tocsc(), rhs)
    return np.clip(alpha, 0, 1).reshape(trimap.shape)


def test_knn_local_with_full_band_is_knn_with_hard_constraints(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    ours = classical.alpha_knn_local(image, trimap, band=image.shape[0])
    reference = _knn_hard_constraints(image, trimap)
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert 0.1 < ours[trimap == 0.5].mean() < 0.9  # a real matte, not the trimap


def test_knn_local_default_band_close_to_full_and_to_pymatting(rng: np.random.Generator) -> None:
    image, alpha, trimap = _soft_disk_scene(rng)
    unknown = trimap == 0.5
    local = classical.alpha_knn_local(image, trimap)  # band 5
    full = classical.alpha_knn_local(image, trimap, band=image.shape[0])
    assert np.abs(local - full)[unknown].mean() < 0.01
    pym = classical.alpha_knn(image, trimap)  # soft constraints over every pixel
    assert np.abs(local - pym)[unknown].mean() < 0.02
    assert np.abs(local - alpha)[unknown].mean() < 0.05
    assert np.all(local[trimap == 1.0] == 1.0) and np.all(local[trimap == 0.0] == 0.0)


def test_knn_local_start_does_not_change_the_answer(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    plain = classical.alpha_knn_local(image, trimap)
    started = classical.alpha_knn_local(image, trimap, initial=np.full(trimap.shape, 0.9))
    np.testing.assert_allclose(plain, started, atol=1e-4)
    with pytest.raises(ValueError, match="initial must have the trimap's shape"):
        classical.alpha_knn_local(image, trimap, initial=np.zeros((3, 3)))


def test_cf_knn_is_the_weighted_blend(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    cf = classical.alpha_closed_form(image, trimap)
    knn = classical.alpha_knn_local(image, trimap)
    np.testing.assert_array_equal(classical.alpha_cf_knn(image, trimap, weight=1.0), cf)
    np.testing.assert_allclose(classical.alpha_cf_knn(image, trimap, weight=0.0), knn, atol=1e-4)
    blend = classical.alpha_cf_knn(image, trimap)  # weight 0.25
    np.testing.assert_allclose(blend, 0.25 * cf + 0.75 * knn, atol=1e-4)
    with pytest.raises(ValueError, match="weight"):
        classical.alpha_cf_knn(image, trimap, weight=1.5)


def test_cf_knn_sm_is_the_weighted_blend(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    cf_knn = classical.alpha_cf_knn(image, trimap)
    sm = classical.alpha_sm(image, trimap)
    assert np.abs(cf_knn - sm).max() > 1e-3  # two different mattes, so the blend is tested
    np.testing.assert_array_equal(classical.alpha_cf_knn_sm(image, trimap, sm_weight=0.0), cf_knn)
    np.testing.assert_array_equal(classical.alpha_cf_knn_sm(image, trimap, sm_weight=1.0), sm)
    blend = classical.alpha_cf_knn_sm(image, trimap)  # sm_weight 0.5, cf_knn's weight 0.25
    assert blend.dtype == np.float32
    np.testing.assert_allclose(blend, 0.5 * cf_knn + 0.5 * sm, atol=1e-6)
    cf_only = classical.alpha_cf_knn_sm(image, trimap, weight=1.0, sm_weight=0.25)
    np.testing.assert_allclose(
        cf_only, 0.75 * classical.alpha_closed_form(image, trimap) + 0.25 * sm, atol=1e-6
    )
    for bad in ({"sm_weight": -0.1}, {"trimap_expansion_radius": -1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            classical.alpha_cf_knn_sm(image, trimap, **bad)
    with pytest.raises(ValueError, match="sm_weight"):  # checked before any image is read
        get_matter("cf_knn_sm", sm_weight=2.0)


@pytest.mark.parametrize("name", ["cf_knn_sm", "cf_knn"])
def test_blends_through_the_matter_interface(name: str, rng: np.random.Generator) -> None:
    assert default_matter(has_trimap=True, has_background=False) == "cf_knn_sm"
    image, alpha, trimap = _soft_disk_scene(rng)
    matter = get_matter(name)
    image_t = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    trimap_t = torch.from_numpy(trimap)[None, None].float()
    result = matter(image_t, trimap=trimap_t)
    assert result.alpha.shape == (1, 1, *trimap.shape) and result.foreground is not None
    unknown = torch.from_numpy(trimap == 0.5)
    error = (result.alpha[0, 0] - torch.from_numpy(alpha).float()).abs()[unknown].mean()
    assert error < 0.05


def test_trimap_regions_and_bad_options() -> None:
    image = np.random.default_rng(0).random((12, 12, 3))
    with pytest.raises(InputError, match="the trimap is all unknown"):
        classical.alpha_cf_knn(image, np.full((12, 12), 0.5))
    known = np.zeros((12, 12))
    known[:, :6] = 1.0
    np.testing.assert_array_equal(classical.alpha_knn_local(image, known), known)
    with pytest.raises(ValueError, match="band"):
        classical.alpha_knn_local(image, known, band=-1)
    with pytest.raises(ValueError, match="knn needs more pixels"):
        classical.alpha_knn_local(
            image[:4, :4], known[:4, :4], n_neighbors=(20,), distance_weights=(2.0,)
        )
