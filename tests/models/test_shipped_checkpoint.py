"""The trained model shipped inside the package (``mattepaint/weights/``) loads, keeps known
pixels, and (on real photos, when ../shared/data is there) beats Telea on irregular holes it was
not trained on; it is inside the wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from mattepaint import io
from mattepaint.errors import InputError
from mattepaint.methods import get_inpainter
from mattepaint.metrics.inpainting import psnr
from mattepaint.models.checkpoint import (
    WEIGHTS_FORMAT,
    load_checkpoint,
    shipped_model_names,
    shipped_model_path,
)
from mattepaint.models.loading import load_inpainter

SHIPPED = shipped_model_path("unet_refine_small")


def test_shipped_checkpoint_loads_and_keeps_known_pixels() -> None:
    assert shipped_model_names() == [
        "dim_matte_sm_real",
        "late_fusion_effnet_cutout",
        "unet_matte_rgb_small",
        "unet_refine_large_holes",
        "unet_refine_mixed_masks",
        "unet_refine_small",
        "unet_refine_wide",
        "unet_refine_wide_bilinear_effnet",
    ]
    assert SHIPPED.suffix == ".safetensors" and SHIPPED.parent.name == "weights"
    ckpt = load_checkpoint(SHIPPED)
    assert ckpt["format"] == WEIGHTS_FORMAT and ckpt["task"] == "inpainting"
    assert ckpt["model"]["name"] == "unet_inpaint" and ckpt["model"]["params"]["residual"]
    assert "optimizers" not in ckpt  # exported for inference (mattepaint export)
    assert ckpt["config"]["model"]["name"] == "unet_inpaint" and ckpt["step"] == 6000
    assert SHIPPED.stat().st_size < 20e6
    inpainter = load_inpainter(SHIPPED)
    assert inpainter.input_transform == "hole_ns"
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 50, 70, generator=gen)
    mask = torch.zeros(1, 1, 50, 70)
    mask[..., 10:30, 20:45] = 1
    out = inpainter(image, mask)
    assert out.shape == image.shape and bool(torch.isfinite(out).all())
    assert torch.equal(out * (1 - mask), image * (1 - mask))


def test_the_default_inpainter_is_the_bilinear_wide_refiner_in_float16() -> None:
    from mattepaint.methods import auto_inpainter

    default = auto_inpainter()
    assert default == shipped_model_path("unet_refine_wide_bilinear_effnet")
    ckpt = load_checkpoint(default)
    assert ckpt["model"]["params"] == {"base": 24, "depth": 4, "residual": True, "up": "bilinear"}
    assert {t.dtype for t in ckpt["model_state"].values() if t.is_floating_point()} == {
        torch.float16
    }
    assert default.stat().st_size < 20e6
    inpainter = load_inpainter(default)  # float32 weights in memory
    assert inpainter.input_transform == "hole_ns" and inpainter.channels_last
    assert {p.dtype for p in inpainter.model.parameters()} == {torch.float32}


@pytest.mark.parametrize(
    "name", ["unet_refine_small", "unet_refine_wide", "unet_refine_wide_bilinear_effnet"]
)
def test_shipped_checkpoint_beats_telea_on_real_photos(shared_data: Path, name: str) -> None:
    """12 Kodak24 crops (256x256) with NVIDIA masks of 10-50% holes: higher mean PSNR than
    Telea (the README's 300-case table has the full comparison)."""
    images = sorted((shared_data / "images" / "kodak24").glob("*.png"))[:12]
    masks = sorted((shared_data / "masks" / "nvidia_irregular_test").glob("*.png"))
    picks = [masks[i] for i in np.linspace(400, 1999, len(images)).astype(int)]  # buckets 1-4
    model, telea = load_inpainter(shipped_model_path(name)), get_inpainter("telea")
    ours, theirs = [], []
    for image_path, mask_path in zip(images, picks):
        image = io.load_image(image_path)
        side = min(image.shape[:2])
        image = cv2.resize(image[:side, :side], (256, 256), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(
            io.load_mask(mask_path).astype(np.uint8), (256, 256), interpolation=cv2.INTER_NEAREST
        ).astype(np.float32)
        x, m = io.to_tensor(image), io.to_tensor(mask)
        ours.append(float(psnr(model(x, m).clamp(0, 1), x)[0]))
        theirs.append(float(psnr(telea(x, m).clamp(0, 1), x)[0]))
    assert np.mean(ours) > np.mean(theirs), (np.mean(ours), np.mean(theirs))


def test_shipped_model_path_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(InputError, match=r"no shipped model called 'nope'; .*unet_refine_small"):
        shipped_model_path("nope")


def test_the_wheel_contains_the_shipped_model(tmp_path: Path) -> None:
    """Build the wheel offline from a copy of the sources (setuptools' PEP 517 backend, no build
    isolation, no network) and look for the model file in it."""
    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "src_copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            shutil.copy2(root / name, source / name)
    shutil.copytree(
        root / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path / "dist"
    out.mkdir()
    build = "import sys, setuptools.build_meta as backend; print(backend.build_wheel(sys.argv[1]))"
    run = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    wheels = list(out.glob("mattepaint-*.whl"))
    assert len(wheels) == 1, run.stdout[-500:]
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        info = wheel.getinfo("mattepaint/weights/unet_refine_small.safetensors")
        assert "mattepaint/weights/unet_matte_rgb_small.safetensors" in names
        assert "mattepaint/weights/late_fusion_effnet_cutout.safetensors" in names  # segmenter
        assert "mattepaint/weights/unet_refine_large_holes.safetensors" in names
        assert "mattepaint/weights/unet_refine_mixed_masks.safetensors" in names
        assert "mattepaint/weights/unet_refine_wide.safetensors" in names
        assert "mattepaint/weights/unet_refine_wide_bilinear_effnet.safetensors" in names  # auto
        assert "mattepaint/weights/dim_matte_sm_real.safetensors" in names  # trimap default
    assert info.file_size == SHIPPED.stat().st_size
    assert "mattepaint/models/checkpoint.py" in names


def test_a_bare_shipped_name_works_as_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no file of that name here
    inpainter = load_inpainter("unet_refine_small")
    assert inpainter.name == "checkpoint:unet_refine_small"
    assert inpainter.input_transform == "hole_ns"
    with pytest.raises(
        InputError,
        match=r"checkpoint not found: unet_refine_smal \(neither .*"
        r"shipped model: dim_matte_sm_real, late_fusion_effnet_cutout, unet_matte_rgb_small, "
        r"unet_refine_large_holes, unet_refine_mixed_masks, unet_refine_small, unet_refine_wide, "
        r"unet_refine_wide_bilinear_effnet\)",
    ):
        load_inpainter("unet_refine_smal")


def test_shipped_background_matter_finds_a_composited_subject() -> None:
    """unet_matte_rgb_small (the default with a background plate) on a procedural composite it
    never saw finds the subject: IoU of alpha > 0.5 against the true alpha (0.875 measured).
    Its advantage over background_difference is measured on real foregrounds in
    benchmarks/matting_eval.py (IoU 0.961 vs 0.910); on this furry procedural object, at 128 px,
    the two are about even."""
    from mattepaint.methods import AUTO_MATTERS_FOR, get_matter
    from mattepaint.metrics.matting import alpha_iou
    from mattepaint.models.loading import load_matter
    from mattepaint.samples import make_matting_sample

    assert AUTO_MATTERS_FOR["background"] == ("unet_matte_rgb_small",)
    matter = load_matter(shipped_model_path("unet_matte_rgb_small"))
    assert matter.needs == "background"
    sample = make_matting_sample((128, 128), seed=3)
    image = torch.from_numpy(sample.image).permute(2, 0, 1)[None]
    background = torch.from_numpy(sample.background).permute(2, 0, 1)[None]
    alpha = matter(image, background=background).alpha[0, 0].numpy()
    assert alpha_iou(alpha, sample.alpha) > 0.85
    baseline = get_matter("background_difference")(image, background=background).alpha[0, 0]
    assert alpha_iou(baseline.numpy(), sample.alpha) > 0.8  # the same scene is not degenerate


def test_shipped_trimap_matter_loads_and_keeps_the_known_pixels() -> None:
    """dim_matte_sm_real (the default with a trimap) is a float16 file of a DIM network on
    shared matting; it loads as float32 and keeps the trimap's known pixels."""
    from mattepaint.methods import AUTO_MATTERS_FOR
    from mattepaint.models.loading import load_matter
    from mattepaint.samples import make_matting_sample

    assert AUTO_MATTERS_FOR["trimap"] == ("dim_matte_sm_real",)
    path = shipped_model_path("dim_matte_sm_real")
    assert path.stat().st_size < 20e6
    ckpt = load_checkpoint(path)
    assert ckpt["task"] == "matting" and ckpt["model"]["params"]["prior"] == "sm"
    matter = load_matter(path)
    assert matter.needs == "trimap"
    sample = make_matting_sample((90, 110), seed=5)
    alpha = matter(io.to_tensor(sample.image), trimap=io.to_tensor(sample.trimap)).alpha
    assert alpha.dtype == torch.float32 and alpha.shape == (1, 1, 90, 110)
    known = sample.trimap != 0.5
    np.testing.assert_array_equal(alpha[0, 0].numpy()[known], sample.trimap[known])


def test_shipped_trimap_matter_improves_shared_matting_on_real_photos(shared_data: Path) -> None:
    """On alphamatting.com GT01-05 (Trimap1, native size) the shipped network's total SAD in
    the unknown region is below that of shared matting alone, the matte it corrects (measured:
    16.9 against 17.6; all 27 images in benchmarks/learned_trimap_eval.py)."""
    from mattepaint.methods import get_matter
    from mattepaint.metrics.matting import sad
    from mattepaint.models.loading import load_matter

    root = shared_data / "alphamatting" / "Training"
    matter, prior = load_matter(shipped_model_path("dim_matte_sm_real")), get_matter("sm")
    ours = theirs = 0.0
    for name in ("GT01", "GT02", "GT03", "GT04", "GT05"):
        image, trimap = io.load_image(root / "Images" / f"{name}.png"), io.load_trimap(
            root / "Trimap1" / f"{name}.png"
        )
        truth = io.load_alpha(root / "GroundTruth" / f"{name}.png")
        x, t = io.to_tensor(image), io.to_tensor(trimap)
        ours += sad(matter(x, trimap=t).alpha[0, 0].numpy(), truth, trimap, region="unknown")
        theirs += sad(prior(x, trimap=t).alpha[0, 0].numpy(), truth, trimap, region="unknown")
    assert ours < theirs, (ours, theirs)
