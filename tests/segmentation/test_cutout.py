"""Tests of the cut-out pipeline (mattepaint.segmentation.cutout) and the segmenter registry."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mattepaint.errors import InputError
from mattepaint.methods import MatteResult, get_matter
from mattepaint.segmentation import (
    CutoutResult,
    Segmenter,
    auto_trimap,
    base,
    cutout,
    load_segmenter,
    register_segmenter,
    segmenter_names,
)


def scene(size: int = 96, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """A red disc with a soft edge on a blue-green gradient: (image (1, 3, H, W), alpha (H, W))."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    d = np.sqrt((yy - size / 2) ** 2 + (xx - size / 2) ** 2)
    alpha = np.clip((size * 0.3 - d) / 3.0 + 0.5, 0.0, 1.0)  # a 3-pixel soft edge
    fg = np.empty((size, size, 3), np.float32)
    fg[...] = (0.98, 0.15, 0.1)
    bg = np.stack([0.02 + 0.0 * xx, 0.3 + 0.3 * xx / size, 0.8 - 0.2 * yy / size], axis=2)
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    image = np.clip(image + rng.normal(0, 0.005, image.shape), 0, 1).astype(np.float32)
    return torch.from_numpy(image.transpose(2, 0, 1))[None], alpha


class BlurrySegmenter:
    """A poor segmenter: the true alpha blurred (sigma 3) and shifted by 2 pixels."""

    name = "blurry"

    def __init__(self, alpha: np.ndarray) -> None:
        self.soft = np.roll(cv2.GaussianBlur(alpha, (0, 0), 3.0), 2, axis=1)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        soft = torch.from_numpy(self.soft).to(image.dtype)[None, None]
        return soft.expand(image.shape[0], 1, -1, -1).clone()


class ConstantSegmenter:
    name = "nothing-here"

    def __init__(self, value: float = 0.2) -> None:
        self.value = value

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return torch.full_like(image[:, :1], self.value)


def sad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).sum())


# ---------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("refine", ["closed_form", "knn"])
def test_refinement_beats_the_segmenter(refine: str) -> None:
    image, alpha = scene()
    seg = BlurrySegmenter(alpha)
    result = cutout(image, segmenter=seg, refine=refine)
    assert isinstance(result, CutoutResult)
    soft = result.soft_mask[0, 0].numpy()
    got = result.alpha[0, 0].numpy()
    np.testing.assert_array_equal(soft, seg.soft)
    # the soft mask is off by ~60 alpha units; colour matting on the band recovers the edge
    assert sad(got, alpha) < 0.3 * sad(soft, alpha)
    assert result.trimap is not None
    trimap = result.trimap[0, 0].numpy()
    np.testing.assert_array_equal(trimap, auto_trimap(seg.soft))
    known = trimap != 0.5
    np.testing.assert_array_equal(got[known], trimap[known])  # known regions exact
    assert set(result.seconds) == {"segment", "trimap", "matting", "foreground"}


def test_outputs_shapes_dtypes_and_rgba() -> None:
    image, alpha = scene()
    image = torch.cat([image, image]).double()  # a batch of two, float64
    result = cutout(image, segmenter=BlurrySegmenter(alpha))
    for t, c in ((result.alpha, 1), (result.foreground, 3), (result.soft_mask, 1)):
        assert t.shape == (2, c, 96, 96) and t.dtype == torch.float64
    assert result.trimap is not None and result.trimap.shape == (2, 1, 96, 96)
    rgba = result.rgba()
    assert rgba.shape == (2, 4, 96, 96)
    torch.testing.assert_close(rgba[:, 3:], result.alpha)
    # where alpha is exactly 1, the foreground colour is the image
    opaque = (result.alpha == 1).expand(-1, 3, -1, -1)
    torch.testing.assert_close(result.foreground[opaque], image[opaque])
    # the foreground estimate removes the background's blue from the edge pixels
    edge = (result.alpha > 0.2) & (result.alpha < 0.8)
    assert float(result.foreground[:, 2:3][edge].mean()) < float(image[:, 2:3][edge].mean()) - 0.1


def test_no_refinement_returns_the_soft_mask() -> None:
    image, alpha = scene()
    seg = BlurrySegmenter(alpha)
    for refine in (None, "none"):
        result = cutout(image, segmenter=seg, refine=refine, estimate_fg=False)
        assert result.trimap is None
        torch.testing.assert_close(result.alpha, result.soft_mask)
        torch.testing.assert_close(result.foreground, image)


def test_precomputed_soft_mask_skips_the_segmenter() -> None:
    image, alpha = scene()
    soft = BlurrySegmenter(alpha)(image)
    a = cutout(image, segmenter=None, soft_mask=soft).alpha
    b = cutout(image, segmenter=BlurrySegmenter(alpha)).alpha
    torch.testing.assert_close(a, b)
    default = cutout(image, refine=None)  # no segmenter, no soft mask: the shipped segmenter
    assert default.soft_mask.shape == (1, 1, *image.shape[-2:])
    with pytest.raises(ValueError, match="soft mask must be \\(B, 1, H, W\\)"):
        cutout(image, segmenter=None, soft_mask=soft[:, :, :10])


def test_downscaled_matting_keeps_known_regions_exact() -> None:
    image, alpha = scene(128)
    # the band's box is 119 x 119: matting runs at about 63 x 63, alpha is upsampled
    result = cutout(image, segmenter=BlurrySegmenter(alpha), max_matting_pixels=4000)
    got, trimap = result.alpha[0, 0].numpy(), result.trimap[0, 0].numpy()
    known = trimap != 0.5
    np.testing.assert_array_equal(got[known], trimap[known])
    full = cutout(image, segmenter=BlurrySegmenter(alpha)).alpha[0, 0].numpy()
    soft = result.soft_mask[0, 0].numpy()
    # measured: soft 511, downscaled 78, full resolution 5.5: coarser, still far better
    assert sad(full, alpha) < sad(got, alpha) < 0.25 * sad(soft, alpha)


def test_refine_with_a_matter_instance() -> None:
    image, alpha = scene(160)
    calls = []

    class Recorder:
        name, needs = "recorder", "trimap"

        def __call__(self, image, *, trimap=None, background=None):
            calls.append((tuple(image.shape), tuple(trimap.shape)))
            return MatteResult(alpha=torch.full_like(trimap, 0.25))

    result = cutout(image, segmenter=BlurrySegmenter(alpha), refine=Recorder())
    ((shape, tri_shape),) = calls
    assert shape[:2] == (1, 3) and tri_shape[:2] == (1, 1)
    assert shape[2] < 140 and shape[3] < 140  # only the band's box, not the whole image
    trimap = result.trimap[0, 0]
    assert torch.all(result.alpha[0, 0][trimap == 0.5] == 0.25)
    # an instance from the registry works too
    cutout(image, segmenter=BlurrySegmenter(alpha), refine=get_matter("closed_form"))


def test_refine_auto_and_a_model_file() -> None:
    """"auto" is the default with a trimap (the shipped learned model, when the package has
    it); a trimap model file works too, a file of another kind is refused."""
    from mattepaint.methods import auto_matter
    from mattepaint.models.checkpoint import shipped_model_names, shipped_model_path
    from mattepaint.segmentation.cutout import refine_matter

    expected = auto_matter(has_trimap=True, has_background=False)
    name = expected if isinstance(expected, str) else f"checkpoint:{expected.name}"
    assert refine_matter("auto").name == refine_matter("AUTO").name == name
    if "dim_matte_sm_real" not in shipped_model_names():
        pytest.skip("no shipped trimap model in this build")
    path = shipped_model_path("dim_matte_sm_real")
    assert refine_matter(path).name == "checkpoint:dim_matte_sm_real.safetensors"
    image, alpha = scene(96)
    result = cutout(image, segmenter=BlurrySegmenter(alpha), refine=path)
    assert result.alpha.shape == (1, 1, 96, 96) and bool(torch.isfinite(result.alpha).all())
    with pytest.raises(ValueError, match="needs a background image"):
        refine_matter(shipped_model_path("unet_matte_rgb_small"))


def test_segmenter_finds_nothing() -> None:
    image, _ = scene()
    with pytest.raises(InputError, match="'nothing-here' found no subject in the image") as info:
        cutout(image, segmenter=ConstantSegmenter(0.2))
    assert "\n" not in str(info.value) and "0.20" in str(info.value)
    batch = torch.cat([image, image])
    with pytest.raises(InputError, match="no subject in image 0 of the batch"):
        cutout(batch, segmenter=ConstantSegmenter(0.0), refine=None)


def test_unsure_segmenter_keeps_its_soft_mask() -> None:
    image, _alpha = scene()
    with pytest.warns(UserWarning, match="no sure foreground.*matting skipped"):
        result = cutout(image, segmenter=ConstantSegmenter(0.7))
    assert torch.all(result.trimap == 0.5)
    torch.testing.assert_close(result.alpha, result.soft_mask)


def test_whole_image_subject() -> None:
    image, _ = scene(48)
    result = cutout(image, segmenter=ConstantSegmenter(1.0))
    assert torch.all(result.alpha == 1.0)


def test_bad_refine_and_options() -> None:
    image, alpha = scene()
    seg = BlurrySegmenter(alpha)
    with pytest.raises(ValueError, match="unknown matting method 'closed_from'"):
        cutout(image, segmenter=seg, refine="closed_from")
    with pytest.raises(ValueError, match="needs a trimap matting method.*background_difference"):
        cutout(image, segmenter=seg, refine="background_difference")
    with pytest.raises(TypeError, match="refine must be a method name"):
        cutout(image, segmenter=seg, refine=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_matting_pixels must be >= 64"):
        cutout(image, segmenter=seg, max_matting_pixels=10)
    with pytest.raises(ValueError, match="fg_threshold"):
        cutout(image, segmenter=seg, fg_threshold=0.2)
    with pytest.raises(ValueError, match="image must be \\(B, 3, H, W\\)"):
        cutout(image[:, :1], segmenter=seg)


# ---------------------------------------------------------------------------------------------
# the registry of named segmenters
# ---------------------------------------------------------------------------------------------


def test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_SEGMENTERS", dict(base._SEGMENTERS))
    image, alpha = scene()

    @register_segmenter("test_blurry")
    def make(*, shift: int = 0) -> Segmenter:
        seg = BlurrySegmenter(alpha)
        seg.soft = np.roll(seg.soft, shift, axis=0)
        return seg

    assert "test_blurry" in segmenter_names()
    seg = load_segmenter("test_blurry", shift=1)
    assert isinstance(seg, Segmenter) and seg.name == "blurry"
    assert cutout(image, segmenter="test_blurry").alpha.shape == (1, 1, 96, 96)
    assert load_segmenter(seg) is seg  # an instance passes through
    with pytest.raises(ValueError, match="already registered"):
        register_segmenter("test_blurry")(make)
    with pytest.raises(ValueError, match="bad options for segmenter 'test_blurry'"):
        load_segmenter("test_blurry", size=3)
    with pytest.raises(InputError, match="did you mean 'test_blurry'"):
        load_segmenter("test_blury")
    with pytest.raises(ValueError, match="family only applies to model files"):
        load_segmenter("test_blurry", family="u2net")


# ---------------------------------------------------------------------------------------------
# end to end with the tiny ONNX graphs and the real files
# ---------------------------------------------------------------------------------------------


def test_cutout_with_an_onnx_file(onnx_dir: Path) -> None:
    # the tiny MODNet graph returns the red channel: the red disc is the subject
    image, alpha = scene()
    result = cutout(image, segmenter=onnx_dir / "tiny_modnet.onnx", refine="closed_form")
    got = result.alpha[0, 0].numpy()
    assert np.mean((got > 0.5) == (alpha > 0.5)) > 0.99


@pytest.mark.shared_data
@pytest.mark.parametrize("which", ["u2netp_file", "modnet_file"])
def test_real_cutout(which: str, request: pytest.FixtureRequest, gt01: tuple) -> None:
    from mattepaint import io
    from mattepaint.metrics.matting import alpha_iou

    path = request.getfixturevalue(which)
    image, gt = gt01
    image = cv2.resize(image, (400, 248), interpolation=cv2.INTER_AREA)
    gt = cv2.resize(gt, (400, 248), interpolation=cv2.INTER_AREA)
    seg = load_segmenter(path, threads=1)
    result = cutout(io.to_tensor(image), segmenter=seg, refine="closed_form")
    assert alpha_iou(result.alpha[0, 0].numpy(), gt) > 0.97
    assert float(result.trimap.eq(0.5).float().mean()) < 0.5
