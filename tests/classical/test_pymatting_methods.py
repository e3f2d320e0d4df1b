"""Tests of the pymatting-based matting methods (closed_form, knn, lkm, rw, lbdm, sm).

pymatting compiles its numba kernels on first use (about a minute in a fresh environment, cached
afterwards); the images here are small so the solves themselves take milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymatting
import pytest
import torch

from mattepaint import classical
from mattepaint.compositing import estimate_foreground
from mattepaint.errors import InputError
from mattepaint.methods import Matter, MatteResult, get_matter

# pymatting is a hard dependency (pyproject.toml): importing it plainly, not with importorskip,
# so that an environment without it fails here instead of silently skipping every test.

ALPHA_FUNCTIONS = {
    "closed_form": classical.alpha_closed_form,
    "knn": classical.alpha_knn,
    "lkm": classical.alpha_lkm,
    "rw": classical.alpha_rw,
    "lbdm": classical.alpha_lbdm,
    "sm": classical.alpha_sm,
}


def _soft_disk_scene(
    rng: np.random.Generator, size: int = 44
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A soft-edged disk composite: image (H, W, 3) float64, true alpha (H, W), trimap (H, W).

    Foreground: orange with mild texture; background: a blue-green gradient with noise. Alpha ramps
    from 1 to 0 over 3 pixels at radius ~size/4; the trimap marks a band of +-4 pixels as unknown.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dist = np.hypot(yy - size / 2 + 0.3, xx - size / 2 - 0.2)
    radius = size / 4
    alpha = np.clip((radius + 1.5 - dist) / 3.0, 0.0, 1.0)
    fg = np.array([0.9, 0.5, 0.1]) + 0.03 * rng.standard_normal((size, size, 3))
    bg = np.stack([0.1 + 0.2 * xx / size, 0.3 + 0.3 * yy / size, 0.7 * np.ones_like(xx)], -1)
    bg = bg + 0.03 * rng.standard_normal((size, size, 3))
    image = np.clip(alpha[..., None] * fg + (1 - alpha[..., None]) * bg, 0.0, 1.0)
    trimap = np.full((size, size), 0.5)
    trimap[dist < radius - 4] = 1.0
    trimap[dist > radius + 4] = 0.0
    return image, alpha, trimap


def test_closed_form_equals_pymatting(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    ours = classical.alpha_closed_form(image, trimap)
    reference = np.clip(pymatting.estimate_alpha_cf(image, trimap), 0, 1)
    assert ours.dtype == np.float32 and ours.shape == trimap.shape
    np.testing.assert_array_equal(ours, reference.astype(np.float32))


def test_closed_form_options_equal_pymatting(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    ours = classical.alpha_closed_form(image, trimap, epsilon=1e-4, radius=2)
    reference = pymatting.estimate_alpha_cf(
        image, trimap, laplacian_kwargs={"epsilon": 1e-4, "radius": 2}
    )
    np.testing.assert_array_equal(ours, np.clip(reference, 0, 1).astype(np.float32))


def test_registered_closed_form_equals_pymatting(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    image_t = torch.from_numpy(image).permute(2, 0, 1)[None]  # (1, 3, H, W) float64
    trimap_t = torch.from_numpy(trimap)[None, None]  # (1, 1, H, W)
    result = get_matter("closed_form")(image_t, trimap=trimap_t)
    reference = np.clip(pymatting.estimate_alpha_cf(image, trimap), 0, 1)
    np.testing.assert_array_equal(result.alpha[0, 0].numpy(), reference.astype(np.float32))


def test_closed_form_equals_pymatting_on_real_image(shared_data: Path) -> None:
    root = shared_data / "alphamatting" / "Training"
    image_path, trimap_path = root / "Images" / "GT01.png", root / "Trimap1" / "GT01.png"
    if not (image_path.is_file() and trimap_path.is_file()):
        pytest.skip(f"{image_path} or {trimap_path} not found")
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)[:, :, ::-1]  # BGR -> RGB
    trimap = cv2.imread(str(trimap_path), cv2.IMREAD_GRAYSCALE)  # uint8 0 / 128 / 255
    size = (image.shape[1] // 4, image.shape[0] // 4)  # (W, H) for cv2
    image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    trimap = cv2.resize(trimap, size, interpolation=cv2.INTER_NEAREST)
    ours = classical.alpha_closed_form(image, trimap)  # uint8 image and trimap, converted inside
    reference = np.clip(pymatting.estimate_alpha_cf(image / 255.0, trimap / 255.0), 0, 1)
    np.testing.assert_array_equal(ours, reference.astype(np.float32))
    assert 0.0 < ours[trimap == 128].mean() < 1.0


@pytest.mark.parametrize("name", ["closed_form", "knn", "lkm"])
def test_recovers_soft_disk(name: str, rng: np.random.Generator) -> None:
    image, alpha, trimap = _soft_disk_scene(rng)
    ours = ALPHA_FUNCTIONS[name](image, trimap)
    unknown = trimap == 0.5
    assert np.abs(ours - alpha)[unknown].mean() < 0.05
    assert np.all(ours[trimap == 1.0] == 1.0) and np.all(ours[trimap == 0.0] == 0.0)


def test_knn_and_lkm_equal_pymatting_in_unknown(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    unknown = trimap == 0.5
    knn = pymatting.estimate_alpha_knn(image, trimap)
    ours = classical.alpha_knn(image, trimap)
    np.testing.assert_array_equal(ours[unknown], knn[unknown].astype(np.float32))
    lkm = pymatting.estimate_alpha_lkm(image, trimap)
    ours = classical.alpha_lkm(image, trimap)
    np.testing.assert_array_equal(ours[unknown], lkm[unknown].astype(np.float32))


# Mean absolute alpha error over the unknown band of _soft_disk_scene(np.random.default_rng(0)),
# from pymatting 1.1.16 with its default options:
#     image, alpha, trimap = _soft_disk_scene(np.random.default_rng(0)); u = trimap == 0.5
#     np.abs(pymatting.estimate_alpha_rw(image, trimap) - alpha)[u].mean()    # 0.1163
#     np.abs(pymatting.estimate_alpha_lbdm(image, trimap) - alpha)[u].mean()  # 0.0144
#     np.abs(pymatting.estimate_alpha_sm(image, trimap) - alpha)[u].mean()    # 0.0214
#     np.abs(0.5 - alpha)[u].mean()                                          # 0.4067 (no matting)
# Random walk's edge weights exp(-900 |I_i - I_j|^2) blur the ramp over the whole band, hence
# its larger error; it is still far better than no matting.
GOLDEN_UNKNOWN_ERROR = {"rw": 0.1163, "lbdm": 0.0144, "sm": 0.0214}


@pytest.mark.parametrize("name", list(GOLDEN_UNKNOWN_ERROR))
def test_more_methods_quality_and_known_regions(name: str, rng: np.random.Generator) -> None:
    image, alpha, trimap = _soft_disk_scene(rng)
    ours = ALPHA_FUNCTIONS[name](image, trimap)
    assert ours.dtype == np.float32 and ours.shape == trimap.shape
    assert 0.0 <= ours.min() and ours.max() <= 1.0
    assert np.all(ours[trimap == 1.0] == 1.0) and np.all(ours[trimap == 0.0] == 0.0)
    unknown = trimap == 0.5
    error = float(np.abs(ours - alpha)[unknown].mean())
    assert error == pytest.approx(GOLDEN_UNKNOWN_ERROR[name], abs=2e-3)
    assert error < 0.3 * float(np.abs(0.5 - alpha)[unknown].mean())


def test_more_methods_equal_pymatting_in_unknown(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    unknown = trimap == 0.5
    references = {
        "rw": pymatting.estimate_alpha_rw(image, trimap),
        "lbdm": pymatting.estimate_alpha_lbdm(image, trimap),
        "sm": pymatting.estimate_alpha_sm(image, trimap),
    }
    for name, reference in references.items():
        ours = ALPHA_FUNCTIONS[name](image, trimap)
        expected = np.clip(reference, 0, 1).astype(np.float32)
        np.testing.assert_array_equal(ours[unknown], expected[unknown], err_msg=name)


def test_more_methods_options_and_errors(rng: np.random.Generator) -> None:
    image, alpha, trimap = _soft_disk_scene(rng)
    # options reach pymatting: a wider window / no trimap expansion change the result (for rw a
    # wider window also propagates across the blurry band: 0.064 instead of 0.116)
    unknown = trimap == 0.5
    wide = classical.alpha_rw(image, trimap, radius=2)
    assert np.abs(wide - alpha)[unknown].mean() < 0.08
    assert not np.array_equal(
        classical.alpha_lbdm(image, trimap, epsilon=1e-2),
        classical.alpha_lbdm(image, trimap, epsilon=1e-7),
    )
    assert not np.array_equal(
        classical.alpha_sm(image, trimap, trimap_expansion_radius=0),
        classical.alpha_sm(image, trimap),
    )
    # a non-contiguous (H, W, 3) view, as from a (3, H, W) tensor, works (sm's numba kernels
    # take C-contiguous arrays only)
    view = np.ascontiguousarray(image.transpose(2, 0, 1)).transpose(1, 2, 0)
    for fn in (classical.alpha_rw, classical.alpha_lbdm, classical.alpha_sm):
        np.testing.assert_array_equal(fn(view, trimap), fn(image, trimap))
    with pytest.raises(ValueError, match="radius must be an int >= 1"):
        classical.RandomWalkMatter(radius=0)
    with pytest.raises(ValueError, match="epsilon must be a number > 0"):
        classical.LBDMMatter(epsilon=0.0)
    with pytest.raises(ValueError, match="sample_gathering_angles must be >= 1, got 0"):
        classical.SharedMatter(sample_gathering_angles=0)
    with pytest.raises(TypeError, match="trimap_expansion_radius must be an int"):
        classical.SharedMatter(trimap_expansion_radius=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rw needs an image of at least 5x5"):
        classical.alpha_rw(image[:4, :4], trimap[:4, :4], radius=2)
    with pytest.raises(ValueError, match="lbdm needs an image of at least 3x3"):
        classical.alpha_lbdm(image[:2], trimap[:2])
    with pytest.raises(ValueError, match="needs a trimap"):
        get_matter("sm")(torch.rand(1, 3, 20, 20))


@pytest.mark.parametrize("name", list(ALPHA_FUNCTIONS))
def test_registered_batched(name: str, rng: np.random.Generator) -> None:
    scenes = [_soft_disk_scene(rng, 44) for _ in range(2)]
    image_t = torch.from_numpy(np.stack([s[0] for s in scenes])).permute(0, 3, 1, 2).float()
    trimap_t = torch.from_numpy(np.stack([s[2] for s in scenes]))[:, None].float()
    matter = get_matter(name)
    assert isinstance(matter, Matter) and matter.needs == "trimap" and matter.name == name
    result = matter(image_t, trimap=trimap_t)
    assert isinstance(result, MatteResult)
    assert result.alpha.shape == (2, 1, 44, 44) and result.alpha.dtype == torch.float32
    assert result.foreground is not None and result.foreground.shape == (2, 3, 44, 44)
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    assert torch.all(result.alpha[trimap_t == 1] == 1)
    assert torch.all(result.alpha[trimap_t == 0] == 0)
    for b in range(2):
        image_np = image_t[b].permute(1, 2, 0).numpy()
        alpha_np = ALPHA_FUNCTIONS[name](image_np, trimap_t[b, 0].numpy())
        np.testing.assert_array_equal(result.alpha[b, 0].numpy(), alpha_np)
        fg = estimate_foreground(image_np, alpha_np)
        np.testing.assert_array_equal(result.foreground[b].permute(1, 2, 0).numpy(), fg)


def test_foreground_option_and_reference(rng: np.random.Generator) -> None:
    image, alpha, trimap = _soft_disk_scene(rng)
    image_t = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    trimap_t = torch.from_numpy(trimap)[None, None].float()
    assert get_matter("closed_form", foreground=False)(image_t, trimap=trimap_t).foreground is None
    fg = estimate_foreground(image, alpha)
    expected = np.clip(pymatting.estimate_foreground_ml(image, alpha), 0, 1).astype(np.float32)
    np.testing.assert_array_equal(fg, expected)
    # Where alpha == 1 the foreground is the image itself (up to the method's smoothing).
    inside = alpha == 1.0
    assert np.abs(fg[inside] - image[inside]).mean() < 0.02


def test_degenerate_trimaps(rng: np.random.Generator) -> None:
    image = rng.random((16, 16, 3))
    no_bg = np.full((16, 16), 0.5)
    no_bg[:4] = 1.0
    no_fg = np.full((16, 16), 0.5)
    no_fg[:4] = 0.0
    known = np.zeros((16, 16))
    known[8:] = 1.0
    unknown = np.full((16, 16), 0.5)
    for fn in (classical.alpha_closed_form, classical.alpha_knn):
        # Without both known regions there is no constraint: a clear error, not a constant.
        with pytest.raises(InputError, match="has no background"):
            fn(image, no_bg)
        with pytest.raises(InputError, match="has no foreground"):
            fn(image, no_fg)
        with pytest.raises(InputError, match="is all unknown"):
            fn(image, unknown)
        np.testing.assert_array_equal(fn(image, known), known.astype(np.float32))


def test_odd_trimap_values_warn_and_quantize(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng)
    odd = trimap.copy()
    odd[odd == 0.5] = 0.4  # unknown coded as 0.4 (still unknown after quantizing)
    with pytest.warns(UserWarning, match="trimap should hold 0 / 0.5 / 1"):
        ours = classical.alpha_closed_form(image, odd)
    np.testing.assert_array_equal(ours, classical.alpha_closed_form(image, trimap))


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    image, _, trimap = _soft_disk_scene(rng, 20)
    with pytest.raises(ValueError, match=r"trimap must be \(H, W\) = \(20, 20\)"):
        classical.alpha_closed_form(image, trimap[:10])
    with pytest.raises(TypeError, match="trimap must be float"):
        classical.alpha_closed_form(image, trimap.astype(np.int64))
    with pytest.raises(ValueError, match="epsilon must be a number > 0"):
        classical.ClosedFormMatter(epsilon=0.0)
    with pytest.raises(ValueError, match="radius must be an int >= 1"):
        classical.LKMMatter(radius=0)
    with pytest.raises(ValueError, match="lkm needs an image of at least 41x41"):
        classical.alpha_lkm(image, trimap)
    with pytest.raises(ValueError, match="knn needs more pixels than n_neighbors"):
        classical.alpha_knn(image[:4, :4], trimap[:4, :4])
    with pytest.raises(ValueError, match="same length"):
        classical.KNNMatter(n_neighbors=(20, 10), distance_weights=(2.0,))
    with pytest.raises(TypeError, match="foreground must be a bool"):
        classical.KNNMatter(foreground=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a trimap"):
        get_matter("closed_form")(torch.rand(1, 3, 20, 20))
    with pytest.raises(ValueError, match=r"trimap must be \(B, 1, H, W\)"):
        get_matter("knn")(torch.rand(1, 3, 20, 20), trimap=torch.zeros(1, 20, 20))
