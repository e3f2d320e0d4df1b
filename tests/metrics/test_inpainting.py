"""Tests for mattepaint.metrics.inpainting."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from mattepaint.metrics.inpainting import (
    dice,
    hole_l1,
    hole_mse,
    inpainting_metrics,
    l1,
    mse,
    psnr,
    ssim,
    total_variation,
)

# Golden values for the fixed input of `_fixed()`, computed independently with numpy / skimage:
#
#   rng = np.random.default_rng(7)
#   gt = rng.random((12, 13, 3))
#   pred = np.clip(gt + 0.1 * rng.standard_normal((12, 13, 3)), 0, 1)
#   mask = np.zeros((12, 13), bool); mask[3:9, 4:10] = True
#   d = pred - gt
#   mse = np.mean(d**2); l1 = np.mean(np.abs(d))
#   hole_l1 = np.abs(d)[mask].mean(); hole_mse = (d**2)[mask].mean()
#   psnr = skimage.metrics.peak_signal_noise_ratio(gt, pred, data_range=1.0)
#   ssim = skimage.metrics.structural_similarity(pred, gt, gaussian_weights=True, sigma=1.5,
#       use_sample_covariance=False, data_range=1.0, channel_axis=-1)
#   tv = np.abs(np.diff(pred, axis=1)).mean() + np.abs(np.diff(pred, axis=0)).mean()
#   dice = 2 * (pred * gt).sum() / (pred.sum() + gt.sum())
GOLDEN = {
    "mse": 0.008676292741438756,
    "l1": 0.07281850859331303,
    "hole_l1": 0.07130786262614901,
    "hole_mse": 0.007883100945522156,
    "psnr": 20.616658031485496,
    "ssim": 0.9509740789808222,
    "tv": 0.6652696049982751,
    "dice": 0.6603967635503184,
}


def _fixed() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    gt = rng.random((12, 13, 3))
    pred = np.clip(gt + 0.1 * rng.standard_normal((12, 13, 3)), 0, 1)
    mask = np.zeros((12, 13), bool)
    mask[3:9, 4:10] = True
    return pred, gt, mask


def _t(array: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """(H, W, C) or (H, W) numpy -> (1, C, H, W) tensor."""
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None].to(dtype)


def _call(name: str, pred, gt, mask):
    if name in ("hole_l1", "hole_mse"):
        return {"hole_l1": hole_l1, "hole_mse": hole_mse}[name](pred, gt, mask)
    if name == "tv":
        return total_variation(pred)
    return {"mse": mse, "l1": l1, "psnr": psnr, "ssim": ssim, "dice": dice}[name](pred, gt)


# ----------------------------------------------------------------------------- feature


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_numpy(name: str) -> None:
    pred, gt, mask = _fixed()
    value = _call(name, pred, gt, mask)
    assert isinstance(value, float)
    assert value == pytest.approx(GOLDEN[name], rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(GOLDEN))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_golden_tensor_batch(name: str, dtype: torch.dtype) -> None:
    pred, gt, mask = _fixed()
    # batch of 2: the fixed pair, then the pair swapped (symmetric metrics give the same value)
    p = torch.cat([_t(pred, dtype), _t(gt, dtype)])
    g = torch.cat([_t(gt, dtype), _t(pred, dtype)])
    m = torch.cat([_t(mask, dtype), _t(mask, dtype)])
    value = _call(name, p, g, m)
    assert value.shape == (2,)
    assert value.dtype == dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert float(value[0]) == pytest.approx(GOLDEN[name], rel=tol, abs=tol)
    if name != "tv":  # tv only looks at pred
        assert float(value[1]) == pytest.approx(GOLDEN[name], rel=tol, abs=tol)


@pytest.mark.parametrize("shape", [(11, 11, 3), (23, 31, 3), (40, 17, 1), (16, 16)])
def test_ssim_matches_skimage(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    gt = rng.random(shape)
    pred = np.clip(gt + 0.2 * rng.standard_normal(shape), 0, 1)
    kwargs = {"channel_axis": -1} if len(shape) == 3 else {}
    ref = structural_similarity(
        pred, gt, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=1.0, **kwargs,
    )  # fmt: skip
    assert ssim(pred, gt) == pytest.approx(ref, abs=1e-10)
    value32 = ssim(_t(pred, torch.float32), _t(gt, torch.float32))
    assert float(value32[0]) == pytest.approx(ref, abs=1e-5)


def test_psnr_matches_skimage_and_identical_is_inf(rng: np.random.Generator) -> None:
    gt = rng.random((9, 8, 3))
    pred = np.clip(gt + 0.05 * rng.standard_normal(gt.shape), 0, 1)
    assert psnr(pred, gt) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=1.0))
    assert psnr(gt, gt) == math.inf
    both = psnr(torch.stack([_t(gt)[0], _t(pred)[0]]), torch.stack([_t(gt)[0], _t(gt)[0]]))
    assert math.isinf(float(both[0])) and math.isfinite(float(both[1]))


def test_identical_images() -> None:
    pred, _, mask = _fixed()
    assert mse(pred, pred) == 0.0
    assert l1(pred, pred) == 0.0
    assert hole_l1(pred, pred, mask) == 0.0
    assert ssim(pred, pred) == pytest.approx(1.0, abs=1e-12)
    assert dice(np.ones((4, 4, 3)), np.ones((4, 4, 3))) == pytest.approx(1.0)


def test_scale_255() -> None:
    pred, gt, mask = _fixed()
    assert mse(pred, gt, scale=255) == pytest.approx(GOLDEN["mse"] * 255**2)
    assert l1(pred, gt, scale=255) == pytest.approx(GOLDEN["l1"] * 255)
    assert hole_l1(pred, gt, mask, scale=255) == pytest.approx(GOLDEN["hole_l1"] * 255)
    assert hole_mse(pred, gt, mask, scale=255) == pytest.approx(GOLDEN["hole_mse"] * 255**2)
    assert total_variation(pred, scale=255) == pytest.approx(GOLDEN["tv"] * 255)


def test_hole_metrics_full_mask_equal_whole_image() -> None:
    pred, gt, _ = _fixed()
    full = np.ones(pred.shape[:2], bool)
    assert hole_l1(pred, gt, full) == pytest.approx(GOLDEN["l1"])
    assert hole_mse(pred, gt, full[:, :, None]) == pytest.approx(GOLDEN["mse"])


def test_hole_metrics_ignore_pixels_outside_hole() -> None:
    pred, gt, mask = _fixed()
    changed = pred.copy()
    changed[~mask] = 1 - changed[~mask]
    assert hole_l1(changed, gt, mask) == pytest.approx(GOLDEN["hole_l1"])


def test_empty_hole_is_nan_with_warning() -> None:
    pred, gt, mask = _fixed()
    m = torch.stack([_t(mask)[0], torch.zeros(1, 12, 13, dtype=torch.float64)])  # (2, 1, H, W)
    p, g = torch.cat([_t(pred)] * 2), torch.cat([_t(gt)] * 2)
    with pytest.warns(UserWarning, match=r"no hole pixels for image\(s\) \[1\]"):
        value = hole_l1(p, g, m)
    assert float(value[0]) == pytest.approx(GOLDEN["hole_l1"])
    assert math.isnan(float(value[1]))
    with pytest.warns(UserWarning, match="no hole pixels"):
        assert math.isnan(hole_mse(pred, gt, np.zeros((12, 13))))


def test_total_variation_definition() -> None:
    assert total_variation(np.full((5, 6, 3), 0.3)) == 0.0
    checker = (np.indices((6, 7)).sum(axis=0) % 2).astype(np.float64)  # (H, W) 0/1
    assert total_variation(checker) == pytest.approx(2.0)
    ramp = np.tile(np.linspace(0, 1, 5), (4, 1))  # (4, 5), steps of 0.25 along x only
    assert total_variation(ramp) == pytest.approx(0.25)


def test_dice_definition() -> None:
    zeros = np.zeros((4, 4, 1))
    assert dice(zeros, zeros) == 1.0
    a = np.zeros((4, 4), bool)
    a[:2] = True
    assert dice(a, ~a) == 0.0
    b = np.zeros((4, 4))
    b[:1] = 1  # overlap 4 pixels, |A| = 8, |B| = 4 -> 2 * 4 / 12
    assert dice(a, b) == pytest.approx(8 / 12)
    batch = dice(torch.zeros(2, 1, 3, 3), torch.zeros(2, 1, 3, 3))
    assert torch.equal(batch, torch.ones(2))


# ----------------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize(
    "fn",
    [mse, l1, ssim, dice, lambda p, g: total_variation(p)],
    ids=["mse", "l1", "ssim", "dice", "tv"],
)
def test_gradcheck(fn, rng: np.random.Generator) -> None:
    size = (1, 1, 11, 12) if fn is ssim else (2, 3, 3, 4)
    p = torch.tensor(rng.random(size), requires_grad=True)
    g = torch.tensor(rng.random(size))
    assert torch.autograd.gradcheck(lambda x: fn(x, g), (p,))


# ----------------------------------------------------------------------------- exceptions


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(1, 3, 8, 8\).*\(1, 3, 8, 9\)"):
        mse(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
    with pytest.raises(ValueError, match=r"\(8, 8, 3\).*\(8, 8, 1\)"):
        l1(np.random.default_rng(0).random((8, 8, 3)), np.zeros((8, 8, 1)))


def test_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="1 or 3 channels.*got 2"):
        psnr(torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8))
    with pytest.raises(ValueError, match="1 or 3 channels.*got 16"):
        mse(np.zeros((3, 16, 16)), np.zeros((3, 16, 16)))  # (C, H, W) given as (H, W, C)


def test_wrong_rank_and_types() -> None:
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*\(3, 8, 8\)"):
        mse(torch.rand(3, 8, 8), torch.rand(3, 8, 8))
    with pytest.raises(TypeError, match="both be numpy arrays or both tensors"):
        mse(np.zeros((4, 4, 3)), torch.zeros(1, 3, 4, 4))
    with pytest.raises(TypeError, match="uint8"):
        l1(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        total_variation([[0.0, 1.0]])


@pytest.mark.parametrize(
    "mask",
    [torch.zeros(2, 12, 13), torch.zeros(2, 3, 12, 13), torch.zeros(1, 1, 12, 13),
     torch.zeros(2, 1, 12, 12)],
    ids=["no-channel", "three-channels", "wrong-batch", "wrong-size"],
)  # fmt: skip
def test_mask_must_be_b1hw(mask: torch.Tensor) -> None:
    p = torch.rand(2, 3, 12, 13)
    expected = r"mask must be \(B, 1, H, W\) like image \(2, 3, 12, 13\)"
    with pytest.raises(ValueError, match=expected):
        hole_l1(p, p, mask)


def test_numpy_mask_shape() -> None:
    pred, gt, _ = _fixed()
    with pytest.raises(ValueError, match=r"mask must be \(H, W\).*got \(12, 13, 3\)"):
        hole_mse(pred, gt, np.zeros((12, 13, 3)))


def test_ssim_too_small() -> None:
    with pytest.raises(ValueError, match="at least 11x11.*10x20"):
        ssim(torch.rand(1, 3, 10, 20), torch.rand(1, 3, 10, 20))


def test_warns_out_of_range() -> None:
    pred = np.zeros((4, 4, 3))
    pred[1:] = 255.0
    expected = r"pred values should be in \[0, 1\], got \[0, 255\]"
    with pytest.warns(UserWarning, match=expected) as rec:
        mse(pred, np.zeros((4, 4, 3)))
    assert rec[0].filename == __file__  # stacklevel points at the caller
    with pytest.warns(UserWarning, match="image values should be in") as rec:
        total_variation(-pred)
    assert rec[0].filename == __file__


# ----------------------------------------------------------------------------- inpainting_metrics


def _random_lpips_dir(tmp_path):
    """Random-weight LPIPS-alex files (right keys and shapes) in tmp_path."""
    from mattepaint.models.backbones import AlexNetFeatures

    torch.manual_seed(0)
    save_file(AlexNetFeatures().state_dict(), tmp_path / "alexnet_imagenet_features.safetensors")
    lins = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1)
            for k, c in enumerate((64, 192, 384, 256, 256))}  # fmt: skip
    save_file(lins, tmp_path / "lpips_v0.1_alex_lin.safetensors")
    return tmp_path


def test_inpainting_metrics_keys_and_values(tmp_path) -> None:
    pred, gt, mask = _fixed()
    out = inpainting_metrics(pred, gt, mask)
    assert set(out) == {"mse", "l1", "hole_l1", "psnr", "ssim", "tv", "dice"}
    for key in out:
        assert isinstance(out[key], float)
        assert out[key] == pytest.approx(GOLDEN[key], rel=1e-10)

    from mattepaint.metrics.lpips import LPIPS

    model = LPIPS.from_dir("alex", _random_lpips_dir(tmp_path))
    p = torch.cat([_t(pred, torch.float32), _t(gt, torch.float32)])
    g = torch.cat([_t(gt, torch.float32), _t(gt, torch.float32)])
    m = torch.cat([_t(mask, torch.float32)] * 2)
    p, g, m = (torch.nn.functional.interpolate(t, size=(32, 32)) for t in (p, g, m))
    out = inpainting_metrics(p, g, m, lpips_model=model, scale=255)
    assert set(out) == {"mse", "l1", "hole_l1", "psnr", "ssim", "tv", "dice", "lpips"}
    assert out["lpips"] == pytest.approx(float(model(p, g).mean()))
    assert out["mse"] == pytest.approx(float(mse(p, g, scale=255).mean()))
    assert out["psnr"] == math.inf  # second image is exact: mean of per-image PSNR


def test_inpainting_metrics_empty_hole_in_batch_is_ignored() -> None:
    pred, gt, mask = _fixed()
    p, g = torch.cat([_t(pred)] * 2), torch.cat([_t(gt)] * 2)
    m = torch.cat([_t(mask), torch.zeros(1, 1, 12, 13, dtype=torch.float64)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = inpainting_metrics(p, g, m)
    assert out["hole_l1"] == pytest.approx(GOLDEN["hole_l1"])


def test_dice_squared_form() -> None:
    # Identical grey images: seed 004's form gives sum A^2 / sum A, the squared form gives 1.
    a = np.full((8, 8, 3), 0.5)
    assert dice(a, a) == pytest.approx(0.5)
    assert dice(a, a, squared=True) == pytest.approx(1.0)
    # Hand computed: A = (0.2, 0.4), B = (0.4, 0.4) -> 2 * 0.24 / (0.2 + 0.32) = 0.923077
    pred, gt = np.array([[0.2, 0.4]]), np.array([[0.4, 0.4]])
    assert dice(pred, gt, squared=True) == pytest.approx(0.48 / 0.52)
