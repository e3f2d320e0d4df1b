"""Tests for mattepaint.models.inpainting.deepfill_v1 (Yu et al. 2018; seed 002 III.B-C).

The generic checks (shape, finite, [0, 1], a gradient for every parameter at 32x32) run in
tests/models/test_registry.py. Here: the stages dict, sizes (any multiple of 4, the attention
grid rounding up), the architecture of the "stable variant" (ELU, no batch norm, dilations 2,
4, 8, 16, 5-channel input), the coarse result entering only through the hole, the attention
picture, input errors, and a bounded-memory 512 x 512 forward.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from mattepaint.models.inpainting.deepfill_v1 import DeepFillV1, attention_picture
from mattepaint.models.registry import build_model, model_task


def _inputs(batch: int, h: int, w: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, h, w, generator=gen)
    mask = torch.zeros(batch, 1, h, w)
    mask[..., h // 4 : h // 2, w // 4 : 3 * w // 4] = 1
    return image * (1 - mask), mask


def _small(**params: object) -> DeepFillV1:
    torch.manual_seed(0)
    return build_model("deepfill_v1", base=4, **params)  # type: ignore[return-value]


def test_registered_with_defaults_of_the_paper() -> None:
    assert model_task("deepfill_v1") == "inpainting"
    model = build_model("deepfill_v1")
    assert isinstance(model, DeepFillV1) and model.stages == ("coarse",)
    assert model.size_multiple == 4 and model.offset_step == 8
    assert model.attention.rate == 2 and model.attention.fuse_k == 3
    assert model.attention.softmax_scale == 10.0 and model.attention.ksize == 3
    assert model.coarse[0][0].in_channels == 5  # image, ones, mask (reference code)
    assert model.coarse[0][0].out_channels == 32  # cnum


@pytest.mark.parametrize("size", [(32, 32), (64, 96), (36, 44)])
def test_forward_and_stages(size: tuple[int, int]) -> None:
    model = _small().eval()
    image, mask = _inputs(2, *size)
    with torch.no_grad():
        pred = model(image, mask)
        stages = model(image, mask, return_stages=True)
    h, w = size
    assert pred.shape == (2, 3, h, w)
    assert set(stages) == {"pred", "coarse", "offsets"}
    torch.testing.assert_close(stages["pred"], pred)
    for key in ("pred", "coarse"):
        t = stages[key]
        assert t.shape == (2, 3, h, w) and float(t.min()) >= 0 and float(t.max()) <= 1
    offsets = stages["offsets"]
    grid = (-(-h // 8), -(-w // 8))  # H/4 features, matching grid ceil(H/4 / 2)
    assert offsets.shape == (2, 2, *grid) and offsets.dtype == torch.int64
    assert int(offsets.min()) >= 0 and int(offsets[:, 0].max()) < h and int(offsets[:, 1].max()) < w
    assert bool((offsets % 8 == 0).all())  # candidates on the matching grid, in image pixels


def test_gradients_reach_every_parameter_through_both_stages() -> None:
    model = _small().train()
    image, mask = _inputs(2, 32, 32)
    stages = model(image, mask, return_stages=True)
    (stages["pred"].square().mean() + stages["coarse"].abs().mean()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing
    # at initialisation the outputs sit mid-range, inside the clip, so nothing is cut off
    pred = stages["pred"].detach()
    assert 0.0 < float(pred.min()) and float(pred.max()) < 1.0


def test_coarse_result_enters_only_through_the_hole() -> None:
    # The refinement sees coarse * mask + image * (1 - mask): with no hole the coarse network
    # does not matter, so zeroing it leaves the prediction unchanged.
    model = _small().eval()
    image, _ = _inputs(1, 32, 32)
    no_hole = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        before = model(image, no_hole)
        for p in model.coarse.parameters():
            p.zero_()
        after = model(image, no_hole)
        hole_changes = model(image, _inputs(1, 32, 32)[1])
    torch.testing.assert_close(before, after)
    assert not torch.allclose(hole_changes, before)


def test_stable_variant_architecture() -> None:
    model = build_model("deepfill_v1", base=8)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert not any(isinstance(m, (nn.Tanh, nn.Sigmoid)) for m in model.modules())
    for part in (model.coarse, model.refine_conv):
        dilations = [m.dilation[0] for m in part.modules() if isinstance(m, nn.Conv2d)]
        assert [d for d in dilations if d > 1] == [2, 4, 8, 16]
        assert sum(isinstance(m, nn.ELU) for m in part.modules()) >= 10
    strides = [m.stride[0] for m in model.refine_attention_in.modules() if isinstance(m, nn.Conv2d)]
    assert strides.count(2) == 2  # attention at H/4
    # the attention branch ends in ReLU before the attention (reference ``pmconv6``)
    assert isinstance(model.refine_attention_in[-1][-1], nn.ReLU)
    assert model.refine_decoder[0][0].in_channels == 8 * 8  # concat of the two 4c branches
    assert model.refine_decoder[-1].out_channels == 3


def test_channels_last_matches() -> None:
    model = _small().eval()
    image, mask = _inputs(1, 32, 32)
    with torch.no_grad():
        ref = model(image, mask)
        model = model.to(memory_format=torch.channels_last)
        out = model(image.contiguous(memory_format=torch.channels_last), mask)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_bad_inputs_and_params_raise() -> None:
    model = _small()
    with pytest.raises(ValueError, match="divisible by 4, got 34x32"):
        model(torch.rand(1, 3, 34, 32), torch.zeros(1, 1, 34, 32))
    with pytest.raises(ValueError, match=r"image must be \(B, 3, H, W\), got \(1, 4, 32, 32\)"):
        model(torch.rand(1, 4, 32, 32), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, H, W\) like image"):
        model(torch.rand(1, 3, 32, 32), torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="base must be >= 1, got 0"):
        build_model("deepfill_v1", base=0)
    with pytest.raises(ValueError, match="fuse_k must be odd"):
        build_model("deepfill_v1", fuse_k=2)
    with pytest.raises(ValueError, match="softmax_scale must be a positive"):
        build_model("deepfill_v1", softmax_scale=-1.0)
    with pytest.raises(ValueError, match="attention_max_positions must be >= 1"):
        build_model("deepfill_v1", attention_max_positions=0)


# ----------------------------------------------------------------------------- attention picture


class _FixedOffsets(nn.Module):
    """A stand-in with known offsets: cell (0, 1) attends 8 px left, the others on themselves."""

    stages = ("coarse",)
    size_multiple = 4
    offset_step = 8

    def forward(self, image: Tensor, mask: Tensor, return_stages: bool = False) -> dict:
        b, _, h, w = image.shape
        rows, cols = torch.meshgrid(
            torch.arange(-(-h // 8)) * 8, torch.arange(-(-w // 8)) * 8, indexing="ij"
        )
        offsets = torch.stack([rows, cols])[None].repeat(b, 1, 1, 1)  # (B, 2, h, w)
        offsets[:, 1, 0, 1] -= 8
        return {"pred": image, "coarse": image, "offsets": offsets}


def test_attention_picture_nearest_upsampling() -> None:
    picture = attention_picture(_FixedOffsets(), torch.rand(1, 3, 16, 30), torch.ones(1, 1, 16, 30))
    assert picture.shape == (16, 30, 3) and picture.dtype == np.uint8
    # 30 is padded to 32: 2 x 4 cells of 8 x 8 pixels, cropped back to 16 x 30
    left = picture[0:8, 8:16]
    assert (left == left[0, 0]).all() and left[0, 0].tolist() != [255, 255, 255]
    assert (picture[:, :8] == 255).all() and (picture[8:] == 255).all()
    assert (picture[:, 16:] == 255).all()


def test_attention_picture_of_a_model() -> None:
    model = _small().eval()
    image, mask = _inputs(1, 32, 48)
    picture = attention_picture(model, image, mask)
    assert picture.shape == (32, 48, 3) and picture.dtype == np.uint8
    blocks = picture.reshape(4, 8, 6, 8, 3)  # constant on each 8 x 8 cell
    assert (blocks == blocks[:, :1, :, :1]).all()
    with pytest.raises(ValueError, match=r"image must be \(1, 3, H, W\)"):
        attention_picture(model, torch.rand(2, 3, 32, 32), torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="has no attention offsets"):
        attention_picture(nn.Conv2d(3, 3, 1), image, mask)


# ----------------------------------------------------------------------------- memory bound


def test_512_forward_stays_bounded() -> None:
    # Slow-ish by design (a few seconds): a 512 x 512 forward of base 4 in eval / no_grad, run in
    # a fresh process so that its peak resident memory can be measured. The attention compares
    # a 64 x 64 matching grid with at most 4096 candidates (64 MiB of scores per copy); the
    # whole process, torch included, must stay under 2 GiB.
    script = textwrap.dedent(
        """
        import resource, torch
        from mattepaint.models.registry import build_model
        torch.manual_seed(0)
        model = build_model("deepfill_v1", base=4).eval()
        image = torch.rand(1, 3, 512, 512)
        mask = torch.zeros(1, 1, 512, 512)
        mask[..., 128:384, 160:352] = 1
        with torch.no_grad():
            out = model(image * (1 - mask), mask, return_stages=True)
        assert out["pred"].shape == (1, 3, 512, 512) and bool(torch.isfinite(out["pred"]).all())
        assert out["offsets"].shape == (1, 2, 64, 64)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    peak_kib = int(result.stdout.strip().splitlines()[-1])
    assert peak_kib < 2 * 1024 * 1024, f"peak resident memory {peak_kib / 1024:.0f} MiB"
