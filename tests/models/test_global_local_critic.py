"""Tests for mattepaint.models.discriminators.GlobalLocalCritic ("global_local_critic").

GLCIC's global + local context discriminators (mode "concat") and DeepFill v1's two separate
WGAN critics (mode "separate"): output shapes, the paper's layout, where the local window goes,
that the mask only places the window, WGAN-GP on 4-channel interpolates, and input errors.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from mattepaint.losses.adversarial import d_loss, gradient_penalty
from mattepaint.models.discriminators import GlobalLocalCritic
from mattepaint.models.registry import build_model, model_task

SMALL = {"base": 4, "local_size": 16}


def _critic(**params: object) -> GlobalLocalCritic:
    torch.manual_seed(0)
    model = build_model("global_local_critic", **{**SMALL, **params})
    assert isinstance(model, GlobalLocalCritic)
    return model


def _with_hole(
    h: int, w: int, rows: tuple[int, int], cols: tuple[int, int], seed: int = 0
) -> Tensor:
    """(1, 4, h, w): random RGB and a mask with a hole on rows[0]..rows[1], cols[0]..cols[1]."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.zeros(1, 1, h, w)
    mask[..., rows[0] : rows[1] + 1, cols[0] : cols[1] + 1] = 1.0
    return torch.cat([torch.rand(1, 3, h, w, generator=gen), mask], dim=1)


def test_registered_as_discriminator() -> None:
    assert model_task("global_local_critic") == "discriminator"
    assert _critic().in_channels == 4


@pytest.mark.parametrize("size", [(32, 32), (64, 96), (16, 40), (97, 33)])
@pytest.mark.parametrize(("mode", "shape"), [("concat", (2, 1)), ("separate", (2, 1, 1, 2))])
def test_output_shapes(mode: str, shape: tuple[int, ...], size: tuple[int, int]) -> None:
    model = _critic(mode=mode)
    x = torch.rand(2, 4, *size)
    out = model(x)
    assert out.shape == shape and bool(torch.isfinite(out).all())


@pytest.mark.parametrize("norm", ["none", "instance", "batch"])
def test_norms_run_at_the_smallest_size(norm: str) -> None:
    model = _critic(local_size=8, norm=norm)  # global branch: 8 -> 4 -> 2
    assert model(torch.rand(2, 4, 8, 8)).shape == (2, 1)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    has_in = any(isinstance(m, nn.InstanceNorm2d) for m in model.modules())
    assert (has_bn, has_in) == (norm == "batch", norm == "instance")


def test_default_layout_glcic() -> None:
    """GLCIC: global 6 and local 5 stride-2 5x5 convs (64 .. 512), 1024 features each,
    concatenated (2048) into one logit; LeakyReLU(0.2) and no BatchNorm by default."""
    model = build_model("global_local_critic")
    for branch, widths in (
        (model.global_branch, [64, 128, 256, 512, 512, 512]),
        (model.local_branch, [64, 128, 256, 512, 512]),
    ):
        convs = [m for m in branch if isinstance(m, nn.Conv2d)]
        assert [c.out_channels for c in convs] == widths
        assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)
        assert convs[0].in_channels == 3  # RGB only: the mask is not fed to the convs
        (linear,) = [m for m in branch if isinstance(m, nn.Linear)]
        assert (linear.in_features, linear.out_features) == (512 * 16, 1024)
    assert (model.fusion.in_features, model.fusion.out_features) == (2048, 1)
    assert not any(isinstance(m, nn.modules.batchnorm._NormBase) for m in model.modules())
    leaky = [m for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert leaky and all(m.negative_slope == 0.2 for m in leaky)
    # a 256 x 256 input reaches 4 x 4 in the global branch, the 128 crop 4 x 4 in the local one
    assert model.local_size == 128


def test_separate_mode_has_two_independent_heads() -> None:
    model = _critic(mode="separate")
    assert model.fusion is None
    x = torch.rand(2, 4, 32, 32)
    out = model(x)  # (2, 1, 1, 2)
    rgb, mask = x[:, :3], x[:, 3:]
    torch.testing.assert_close(out[..., 0].flatten(), model.global_branch(rgb).flatten())
    local = model.local_branch(model.crop_local(rgb, mask))
    torch.testing.assert_close(out[..., 1].flatten(), local.flatten())


# ----------------------------------------------------------------------------- local window


@pytest.mark.parametrize(
    ("rows", "cols", "expected"),
    [
        ((40, 50), (60, 70), [37, 57]),  # centred: floor((40 + 50 + 1 - 16) / 2) = 37
        ((30, 30), (5, 5), [22, 0]),  # a single pixel; clamped to the left border
        ((0, 2), (90, 95), [0, 80]),  # clamped to the top and the right border (96 - 16)
        ((10, 60), (0, 95), [27, 40]),  # hole larger than the window: centred on it
    ],
)
def test_local_window_follows_the_hole(
    rows: tuple[int, int], cols: tuple[int, int], expected: list[int]
) -> None:
    model = _critic()
    x = _with_hole(64, 96, rows, cols)
    assert model.local_window(x[:, 3:]).tolist() == [expected]


def test_local_window_empty_mask_is_centred_and_batched() -> None:
    model = _critic()
    x = torch.cat([_with_hole(64, 96, (40, 50), (60, 70)), torch.rand(1, 4, 64, 96)])
    x[1, 3] = 0.0  # no hole in the second sample
    assert model.local_window(x[:, 3:]).tolist() == [[37, 57], [24, 40]]


def test_crop_local_is_the_window() -> None:
    model = _critic()
    x = torch.cat([_with_hole(64, 96, (40, 50), (60, 70)), _with_hole(64, 96, (0, 3), (0, 3))])
    crop = model.crop_local(x[:, :3], x[:, 3:])  # (2, 3, 16, 16)
    assert crop.shape == (2, 3, 16, 16)
    assert torch.equal(crop[0], x[0, :3, 37:53, 57:73])
    assert torch.equal(crop[1], x[1, :3, 0:16, 0:16])


def test_local_score_gradient_only_inside_the_window() -> None:
    model = _critic(mode="separate")
    x = _with_hole(64, 96, (40, 50), (60, 70)).requires_grad_(True)
    model(x)[0, 0, 0, 1].backward()  # the local critic's score
    grad = x.grad[0]  # (4, 64, 96)
    assert float(grad[3].abs().sum()) == 0.0  # the mask channel is not an input of the convs
    touched = grad[:3].abs().sum(dim=0) > 0  # (64, 96)
    window = torch.zeros(64, 96, dtype=torch.bool)
    window[37:53, 57:73] = True
    assert torch.equal(touched, window)  # LeakyReLU: no gradient is exactly 0 in the window


def test_concat_score_sees_the_whole_image() -> None:
    model = _critic()
    x = _with_hole(64, 96, (40, 50), (60, 70)).requires_grad_(True)
    model(x).sum().backward()
    assert bool((x.grad[0, :3].abs().sum(dim=0) > 0).all())
    assert float(x.grad[0, 3].abs().sum()) == 0.0


def test_mask_only_places_the_window() -> None:
    """Two masks with the same hole bounding box give the same scores."""
    model = _critic().eval()
    x = _with_hole(64, 96, (40, 50), (60, 70))
    x2 = x.clone()
    x2[0, 3, 45, 65] = 0.0  # a known pixel inside the box
    x2[0, 3, 41:44, 61:64] = 0.7  # softer values, still above the 0.5 threshold
    torch.testing.assert_close(model(x), model(x2))


# ----------------------------------------------------------------------------- WGAN-GP


@pytest.mark.parametrize("mode", ["concat", "separate"])
def test_gradient_penalty_on_four_channel_interpolates(mode: str) -> None:
    model = _critic(mode=mode)
    gen = torch.Generator().manual_seed(0)
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 4:12, 20:30] = 1.0
    mask[1, :, 16:28, 2:10] = 1.0
    real = torch.cat([torch.rand(2, 3, 32, 32, generator=gen), mask], 1)  # (2, 4, 32, 32)
    fake = torch.cat([torch.rand(2, 3, 32, 32, generator=gen), mask], 1)
    gp = gradient_penalty(model, real, fake, generator=gen)
    gp_hole = gradient_penalty(model, real, fake, generator=gen, mask=mask)
    assert gp.ndim == 0 and bool(torch.isfinite(gp)) and float(gp.detach()) >= 0.0
    assert bool(torch.isfinite(gp_hole)) and float(gp_hole.detach()) >= 0.0
    loss = d_loss(model(real), model(fake), "wgan_gp") + gp + gp_hole
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing}"
    assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters())


# ----------------------------------------------------------------------------- errors


def test_bad_inputs() -> None:
    model = _critic()
    with pytest.raises(
        ValueError, match=r"input must be \(B, 4, H, W\) = concat\(RGB, mask\), got"
    ):
        model(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"got \(4, 32, 32\)"):
        model(torch.rand(4, 32, 32))
    with pytest.raises(ValueError, match="at least 16x16 \\(local_size\\), got 15x40"):
        model(torch.rand(1, 4, 15, 40))
    assert model.min_size() == 16


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "sum"}, "mode must be 'concat' or 'separate', got 'sum'"),
        ({"norm": "layer"}, "norm must be 'none', 'instance' or 'batch', got 'layer'"),
        ({"local_size": 4}, "local_size must be >= 8, got 4"),
        ({"base": 0}, "base must be >= 1, got 0"),
        ({"local_size": 16.0}, "local_size must be an int"),
    ],
)
def test_bad_params(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"bad params for model 'global_local_critic': {message}"):
        build_model("global_local_critic", **params)
