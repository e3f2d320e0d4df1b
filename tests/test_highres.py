"""Tests for mattepaint.highres: crop / resize / full inpainting, matting (the guided filter:
tests/classical/test_guided_filter.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from mattepaint import highres
from mattepaint.highres import (
    hole_regions,
    inpaint_highres,
    matte_highres,
)
from mattepaint.io import to_numpy, to_tensor
from mattepaint.methods import MatteResult, get_inpainter, get_matter
from mattepaint.samples import make_matting_sample

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


class ConstantInpainter:
    """Fills hole pixels (mask > 0.5) with a constant and records the shapes it was called on."""

    name = "constant"

    def __init__(self, value: float = 0.25) -> None:
        self.value = value
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert image.shape[1] == 3 and mask.shape[1] == 1  # a protocol violation fails loudly
        self.calls.append(tuple(image.shape))
        return torch.where(mask > 0.5, torch.full_like(image, self.value), image)


class ConstantMatter:
    """A Matter returning alpha = 0.5 everywhere; records the (image, trimap) it was given."""

    name = "half"
    needs = "trimap"

    def __init__(self) -> None:
        self.seen: list[tuple[tuple[int, ...], torch.Tensor | None]] = []

    def __call__(self, image, *, trimap=None, background=None) -> MatteResult:
        self.seen.append((tuple(image.shape), trimap))
        b, _, h, w = image.shape
        return MatteResult(alpha=torch.full((b, 1, h, w), 0.5), foreground=None)


def _holes_2048() -> tuple[np.ndarray, np.ndarray]:
    """A 2048 x 2048 noisy gradient image and a mask with several holes of different kinds."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:2048, 0:2048].astype(np.float32) / 2048
    image = 0.3 * rng.random((2048, 2048, 3), dtype=np.float32)
    image += 0.35 * np.stack([yy, xx, 1 - yy], axis=-1)
    mask = np.zeros((2048, 2048), np.uint8)
    cv2.circle(mask, (300, 300), 20, 1, -1)  # a small disk
    cv2.circle(mask, (360, 310), 15, 1, -1)  # ... a neighbour: both in one merged crop
    cv2.line(mask, (1200, 100), (1900, 700), 1, 3)  # a thin stroke
    mask[1100:1700, 200:700] = 1  # a large rectangle: its crop is downscaled at max_size 256
    cv2.circle(mask, (2040, 2040), 30, 1, -1)  # at the corner: clipped crop
    mask[1000, 1500] = 1  # one pixel
    return image, mask.astype(bool)


@pytest.fixture(scope="module")
def big_case() -> tuple[np.ndarray, np.ndarray]:
    return _holes_2048()


# --------------------------------------------------------------------------------------------
# hole regions
# --------------------------------------------------------------------------------------------


def test_hole_regions_merge_clip_and_separate() -> None:
    mask = np.zeros((200, 300), bool)
    mask[10:20, 10:20] = True  # grown by 8: [2, 28) x [2, 28)
    mask[10:20, 40:50] = True  # grown: [2, 28) x [32, 58): 4 px apart -> separate
    mask[100:110, 100:110] = True  # grown: [92, 118) x [92, 118)
    mask[100:110, 126:130] = True  # grown: [92, 118) x [118, 138): touching -> merged
    mask[195:200, 290:300] = True  # at the corner: clipped
    regions = hole_regions(mask, margin=8)
    boxes = [(r.start, r.stop, c.start, c.stop) for r, c in regions]
    assert boxes == [(2, 28, 2, 28), (2, 28, 32, 58), (92, 118, 92, 138), (187, 200, 282, 300)]
    covered = np.zeros_like(mask)
    for r, c in regions:
        assert not covered[r, c].any()  # disjoint
        covered[r, c] = True
    assert covered[mask].all()  # every hole pixel is in a region
    assert hole_regions(np.zeros((5, 5), bool)) == []


def test_hole_regions_iterative_merge_and_relative_margin() -> None:
    """A merged box can overlap a third box that neither part overlapped: merged again."""
    mask = np.zeros((100, 100), bool)
    mask[5, 5] = True  # grown by 4: [1, 10) x [1, 10)
    mask[14, 14] = True  # [10, 19) x [10, 19): touches the first at a corner -> [1, 19) x [1, 19)
    mask[15, 4] = True  # [11, 20) x [0, 9): touches neither, but overlaps their union's box
    assert [(r.start, r.stop, c.start, c.stop) for r, c in hole_regions(mask, margin=4)] == [
        (1, 20, 0, 19)
    ]
    mask = np.zeros((300, 300), bool)
    mask[100:140, 100:120] = True  # long side 40: relative 0.5 -> 20 px
    ((rows, cols),) = hole_regions(mask, margin=0.5)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (80, 160, 80, 140)
    ((rows, cols),) = hole_regions(mask, margin=0.1)  # 4 px -> floor of 16 px
    assert (rows.start, cols.start) == (84, 84)


# --------------------------------------------------------------------------------------------
# inpaint_highres
# --------------------------------------------------------------------------------------------

STRATEGY_CASES = [
    ("full", {}),
    ("crop", {"max_size": 256}),
    ("crop", {"max_size": 4096}),  # no downscaling
    ("resize", {"max_size": 512}),
    ("auto", {"max_size": 256}),  # 2048 > trigger 1024 -> crop
]


@pytest.mark.parametrize(("strategy", "options"), STRATEGY_CASES)
def test_outside_hole_bit_identical_telea(big_case, strategy: str, options: dict) -> None:
    image, mask = big_case
    out = inpaint_highres(get_inpainter("telea"), image, mask, strategy=strategy, **options)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.array_equal(out[~mask], image[~mask])  # bit for bit
    changed = (out != image).any(axis=-1)
    assert changed[mask].mean() > 0.9  # the holes were filled (a few pixels may match by chance)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize(("strategy", "options"), STRATEGY_CASES)
def test_outside_hole_bit_identical_constant(big_case, strategy: str, options: dict) -> None:
    image, mask = big_case
    fake = ConstantInpainter(0.25)
    out = inpaint_highres(fake, image, mask, strategy=strategy, **options)
    assert np.array_equal(out[~mask], image[~mask])
    downscaled = strategy in ("resize", "crop", "auto") and options["max_size"] < 2048
    if not downscaled:
        assert np.all(out[mask] == np.float32(0.25))
    else:
        # Bicubic upsampling blends the fill with the known (low-pass) pixels within ~2 small
        # pixels of the hole border; deeper inside, the hole is exactly the fill. A hole pixel
        # missed by the mask downscaling would keep the input value (> 0.0001 away) instead.
        inner = cv2.erode(mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
        assert inner.sum() > 100_000
        np.testing.assert_allclose(out[inner], 0.25, atol=1e-5)


def test_strategy_calls_and_crop_sizes(big_case) -> None:
    image, mask = big_case
    fake = ConstantInpainter()
    inpaint_highres(fake, image, mask, strategy="crop", max_size=256)
    assert len(fake.calls) == len(hole_regions(mask, margin=64)) == 5
    assert all(max(c[2:]) <= 256 for c in fake.calls)
    fake = ConstantInpainter()
    inpaint_highres(fake, image, mask, strategy="resize", max_size=300)
    assert fake.calls == [(1, 3, 300, 300)]
    fake = ConstantInpainter()
    inpaint_highres(fake, image[:600, :900], mask[:600, :900])  # auto, <= trigger -> full
    assert fake.calls == [(1, 3, 600, 900)]
    fake = ConstantInpainter()
    inpaint_highres(fake, image[:600, :900], mask[:600, :900], trigger=512)  # -> crop
    # the two disks, bbox rows [280, 326) x cols [280, 376), grown by 64 -> one 174 x 224 crop
    assert fake.calls == [(1, 3, 174, 224)]


def test_crop_matches_full_when_not_downscaled() -> None:
    """A crop holding the whole context of Telea's radius gives the same fill as a full run."""
    rng = np.random.default_rng(0)
    image = rng.random((300, 300, 3), dtype=np.float32)
    mask = np.zeros((300, 300), bool)
    mask[100:120, 150:190] = True
    telea = get_inpainter("telea")
    full = inpaint_highres(telea, image, mask, strategy="full")
    crop = inpaint_highres(telea, image, mask, strategy="crop", margin=32, max_size=1024)
    np.testing.assert_array_equal(crop, full)


def test_float64_input_and_numeric_mask() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((64, 64, 3))  # float64
    mask = np.zeros((64, 64), np.uint8)
    mask[20:30, 20:30] = 1
    out = inpaint_highres(ConstantInpainter(), image, mask)
    assert out.dtype == np.float32
    assert np.array_equal(out[mask == 0], image.astype(np.float32)[mask == 0])


def test_inpaint_highres_errors_and_warnings() -> None:
    image = np.zeros((32, 32, 3), np.float32)
    mask = np.zeros((32, 32), bool)
    mask[5, 5] = True
    fake = ConstantInpainter()
    with pytest.raises(ValueError, match="strategy must be one of auto, crop, resize, full"):
        inpaint_highres(fake, image, mask, strategy="tiles")
    with pytest.raises(ValueError, match=r"image must be \(H, W, 3\)"):
        inpaint_highres(fake, image[..., 0], mask)
    with pytest.raises(TypeError, match="image must be float"):
        inpaint_highres(fake, (image * 255).astype(np.uint8), mask)
    with pytest.raises(ValueError, match=r"mask must be \(H, W\) = \(32, 32\)"):
        inpaint_highres(fake, image, mask[:16])
    with pytest.raises(ValueError, match="only 0 and 1"):
        inpaint_highres(fake, image, mask.astype(np.uint8) * 255)
    with pytest.raises(TypeError, match="callable"):
        inpaint_highres("telea", image, mask)
    with pytest.raises(ValueError, match="trigger must be an int >= 1"):
        inpaint_highres(fake, image, mask, trigger=0)
    with pytest.raises(ValueError, match="margin"):
        inpaint_highres(fake, image, mask, margin=-1)
    with pytest.raises(TypeError, match="max_size"):
        inpaint_highres(fake, image, mask, max_size=256.0)
    with pytest.raises(ValueError, match=r"must return a \(1, 3, 32, 32\) tensor"):
        inpaint_highres(lambda img, m: img[:, :1], image, mask)
    with pytest.warns(UserWarning, match="mask is empty"):
        out = inpaint_highres(fake, image, np.zeros((32, 32), bool))
    assert np.array_equal(out, image) and not fake.calls
    with pytest.warns(UserWarning, match=r"values should be in \[0, 1\]"):
        inpaint_highres(fake, image + 2, mask)


# --------------------------------------------------------------------------------------------
# matte_highres
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matting_512():
    return make_matting_sample((512, 512), seed=0)


def _sad(alpha: np.ndarray, sample) -> float:
    unknown = sample.trimap == 0.5
    return float(np.abs(alpha - sample.alpha)[unknown].sum() / 1000)


def test_matte_highres_close_to_full_resolution(matting_512) -> None:
    s = matting_512
    full = to_numpy(
        get_matter("closed_form", foreground=False)(
            to_tensor(s.image), trimap=to_tensor(s.trimap)
        ).alpha
    )
    alpha, fg = matte_highres(get_matter("closed_form"), s.image, trimap=s.trimap, max_size=256)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert fg is not None and fg.shape == (512, 512, 3) and fg.dtype == np.float32
    assert 0.0 <= fg.min() and fg.max() <= 1.0
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert np.all(alpha[s.trimap == 0] == 0.0) and np.all(alpha[s.trimap == 1] == 1.0)
    # measured: full 5.14, from 256 px with guided refinement 6.74, bilinear only 7.64
    sad_full, sad_high = _sad(full, s), _sad(alpha, s)
    assert sad_high < 1.5 * sad_full
    plain, _ = matte_highres(
        get_matter("closed_form", foreground=False), s.image, trimap=s.trimap, max_size=256,
        refine="none",
    )
    assert sad_high < _sad(plain, s) < 2.0 * sad_full  # the guided filter helps
    # foreground where it matters: the composite with the estimated F reproduces the image
    err = np.abs(alpha[..., None] * fg + (1 - alpha[..., None]) * s.background - s.image)
    assert err[s.alpha > 0.5].mean() < 0.03


def test_matte_highres_known_regions_and_small_trimap() -> None:
    """Known full-size trimap pixels are exactly 0 / 1; the small trimap is conservative."""
    trimap = np.zeros((400, 300), np.float32)
    trimap[100:300, 100:200] = 0.5
    trimap[150:250, 130:170] = 1.0
    trimap[120, 50] = 0.5  # one unknown pixel in the background: survives downscaling
    image = np.random.default_rng(0).random((400, 300, 3), dtype=np.float32)
    fake = ConstantMatter()
    alpha, fg = matte_highres(fake, image, trimap=trimap, max_size=100)
    (shape, small_trimap), = fake.seen
    assert shape == (1, 3, 100, 75) and fg is None
    small = to_numpy(small_trimap)
    assert set(np.unique(small)) == {0.0, 0.5, 1.0}
    assert small[30, 12] == 0.5  # the footprint of pixel (120, 50) at factor 4
    assert np.all(alpha[trimap == 0] == 0.0) and np.all(alpha[trimap == 1] == 1.0)
    np.testing.assert_allclose(alpha[trimap == 0.5], 0.5, atol=1e-3)  # constant stays constant


def test_matte_highres_background_matter_and_upsampled_foreground(monkeypatch) -> None:
    s = make_matting_sample((256, 192), seed=1)
    bd = get_matter("background_difference")
    ref = bd(to_tensor(s.image), background=to_tensor(s.background))
    ref_alpha, ref_fg = to_numpy(ref.alpha), to_numpy(ref.foreground)
    alpha, fg = matte_highres(bd, s.image, background=s.background, max_size=256)
    np.testing.assert_array_equal(alpha, ref_alpha)  # small enough: a plain full-size run
    np.testing.assert_array_equal(fg, ref_fg)
    monkeypatch.setattr(highres, "FOREGROUND_MAX_PIXELS", 0)  # force the upsampled foreground
    alpha, fg = matte_highres(bd, s.image, background=s.background, max_size=128)
    assert alpha.shape == (256, 192) and fg.shape == (256, 192, 3)
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0 and 0.0 <= fg.min() and fg.max() <= 1.0
    assert np.abs(alpha - s.alpha).mean() < 2 * np.abs(ref_alpha - s.alpha).mean() + 0.01


def test_matte_highres_errors() -> None:
    image = np.zeros((64, 64, 3), np.float32)
    trimap = np.full((64, 64), 0.5, np.float32)
    cf = get_matter("closed_form")
    with pytest.raises(ValueError, match="needs a trimap"):
        matte_highres(cf, image)
    with pytest.raises(ValueError, match="needs a background"):
        matte_highres(get_matter("background_difference"), image, trimap=trimap)
    with pytest.raises(ValueError, match=r"trimap must be \(H, W\) = \(64, 64\)"):
        matte_highres(cf, image, trimap=trimap[:32])
    with pytest.raises(ValueError, match=r"background must be \(H, W, 3\) with"):
        matte_highres(ConstantMatter(), image, trimap=trimap, background=image[:32])
    with pytest.raises(ValueError, match="refine must be one of guided, none"):
        matte_highres(cf, image, trimap=trimap, refine="bicubic")
    with pytest.raises(ValueError, match="max_size must be an int >= 8"):
        matte_highres(cf, image, trimap=trimap, max_size=4)
    with pytest.raises(TypeError, match="matter must be a Matter"):
        matte_highres(get_inpainter("telea"), image, trimap=trimap)
    with pytest.warns(UserWarning, match="quantized"):
        matte_highres(ConstantMatter(), image, trimap=np.full((64, 64), 0.3, np.float32))
