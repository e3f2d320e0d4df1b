"""mattepaint's own trimap-free matting networks as segmenters (ModelSegmenter), loaded from model
files the tests write, and the default segmenter's lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.models.checkpoint import save_model
from mattepaint.models.registry import build_model
from mattepaint.segmentation import (
    SHIPPED_SEGMENTER,
    ModelSegmenter,
    base,
    default_segmenter,
    load_segmenter,
    segmenter_names,
)

PARAMS = {"base": 4, "depth": 2, "fusion_width": 4}


@pytest.fixture(scope="module")
def late_fusion_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = build_model("late_fusion", **PARAMS)
    path = tmp_path_factory.mktemp("seg") / "lf.safetensors"
    return save_model(path, model, name="late_fusion", params=PARAMS)


def test_model_segmenter_shape_range_and_working_size(late_fusion_file: Path) -> None:
    seg = load_segmenter(late_fusion_file, size=64, min_size=48)
    assert isinstance(seg, ModelSegmenter) and seg.name == "lf.safetensors"
    assert seg.working_size(300, 150) == (64, 32)  # longer side 64, multiples of size_multiple
    assert seg.working_size(20, 40) == (24, 48)  # small pictures enlarged to min_size
    assert seg.working_size(40, 56) == (40, 56)  # in between: native size
    image = torch.rand(2, 3, 75, 41)
    soft = seg(image)
    assert soft.shape == (2, 1, 75, 41) and soft.dtype == image.dtype
    assert torch.isfinite(soft).all() and soft.min() >= 0 and soft.max() <= 1


def test_model_segmenter_matches_the_network_at_its_working_size(late_fusion_file: Path) -> None:
    from mattepaint.models.loading import load_model

    seg = load_segmenter(late_fusion_file, size=64, min_size=32)
    assert seg.channels_last  # NHWC memory order on the CPU: faster, the same values
    plain, _ = load_model(late_fusion_file)  # NCHW, as built
    image = torch.rand(1, 3, 32, 32)  # already a working size: no resampling
    with torch.no_grad():
        expected = plain.eval()(image)["alpha"].clamp(0, 1)
    out = seg(image)
    assert out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_model_segmenter_size_checks(late_fusion_file: Path) -> None:
    with pytest.raises(ValueError, match="min_size"):
        load_segmenter(late_fusion_file, size=64, min_size=128)


def test_model_segmenter_refuses_models_that_need_more(tmp_path: Path) -> None:
    params = {"base": 4, "depth": 2}
    path = save_model(tmp_path / "u.safetensors", build_model("trimap_matte", **params),
                      name="trimap_matte", params=params)
    with pytest.raises(InputError, match="not a trimap-free matting model"):
        load_segmenter(path)


def test_family_is_for_onnx_files_only(late_fusion_file: Path) -> None:
    with pytest.raises(InputError, match="family only applies to ONNX"):
        load_segmenter(late_fusion_file, family="u2net")


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        load_segmenter(tmp_path / "nope.safetensors")


def test_shipped_segmenter_is_registered_and_the_default() -> None:
    assert SHIPPED_SEGMENTER in segmenter_names()
    assert default_segmenter() == SHIPPED_SEGMENTER
    seg = load_segmenter(SHIPPED_SEGMENTER)
    soft = seg(torch.rand(1, 3, 50, 70))
    assert soft.shape == (1, 1, 50, 70) and torch.isfinite(soft).all()


@pytest.mark.shared_data
def test_shipped_segmenter_finds_real_subjects(shared_data: Path) -> None:
    """On three alphamatting.com photos the shipped model alone scored IoU 0.956 / 0.962 / 0.955
    (benchmarks/cutout_eval.py); pinned with a margin."""
    from mattepaint import io
    from mattepaint.metrics.matting import alpha_iou

    root = shared_data / "alphamatting" / "Training"
    seg = load_segmenter(SHIPPED_SEGMENTER)
    for name in ("GT01", "GT02", "GT05"):
        image = io.load_image(root / "Images" / f"{name}.png")
        truth = io.load_alpha(root / "GroundTruth" / f"{name}.png", like=image)
        soft = io.to_numpy(seg(io.to_tensor(image)))
        assert alpha_iou(soft, truth) > 0.93, name


def test_default_segmenter_missing_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "DEFAULT_SEGMENTER", None)
    with pytest.raises(InputError, match="--segmenter FILE"):
        default_segmenter()
