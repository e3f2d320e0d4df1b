"""The trained checkpoint shipped in ``checkpoints/`` loads, keeps known pixels, and (on real
photos, when ../shared/data is there) beats Telea on irregular holes it was not trained on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from mattepaint import io
from mattepaint.methods import get_inpainter
from mattepaint.metrics.inpainting import psnr
from mattepaint.models.loading import load_checkpoint, load_inpainter

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "unet_refine_small.pt"


def test_shipped_checkpoint_loads_and_keeps_known_pixels() -> None:
    ckpt = load_checkpoint(SHIPPED)
    assert ckpt["model"]["name"] == "unet_inpaint" and ckpt["model"]["params"]["residual"]
    assert "optimizers" not in ckpt  # exported for inference (mattepaint export)
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


def test_shipped_checkpoint_beats_telea_on_real_photos(shared_data: Path) -> None:
    """12 Kodak24 crops (256x256) with NVIDIA masks of 10-50% holes: higher mean PSNR than
    Telea (the README's 300-case table has the full comparison)."""
    images = sorted((shared_data / "images" / "kodak24").glob("*.png"))[:12]
    masks = sorted((shared_data / "masks" / "nvidia_irregular_test").glob("*.png"))
    picks = [masks[i] for i in np.linspace(400, 1999, len(images)).astype(int)]  # buckets 1-4
    model, telea = load_inpainter(SHIPPED), get_inpainter("telea")
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
