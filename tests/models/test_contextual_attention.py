"""Tests for mattepaint.models.layers.contextual_attention (Yu et al. 2018, seed 002 III.C).

Feature tests build feature maps whose answer is known: a hole filled with an exact copy of a
known region must attend on that region and reproduce it; with no hole, every position attends
on itself and the layer is the identity. Also: the softmax weights over valid patches, the
batch against per-sample results, odd sizes, the background-subsampling guard, gradcheck, and
the colour coding of the offsets (Middlebury wheel, seed 002 Fig. 5).
"""

from __future__ import annotations

import colorsys
import itertools

import numpy as np
import pytest
import torch

from mattepaint.models.layers.contextual_attention import (
    ContextualAttention,
    attention_weights,
    background_stride,
    contextual_attention,
    offsets_to_color,
)


def _features(batch: int, channels: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, h, w, generator=gen)


# ----------------------------------------------------------------------------- feature


def test_copied_region_attends_on_its_source() -> None:
    # 32x32 features (rate 2 -> 16x16 matching grid). The hole, feature rows/cols 18..31
    # (matching cells 9..15), holds an exact copy of rows/cols 2..15 (cells 1..7), displaced by
    # 16 pixels; the source patches (cells 1..7, 3x3 windows 0..8) do not touch the hole.
    x = _features(1, 16, 32, 32)
    x[..., 18:32, 18:32] = x[..., 2:16, 2:16]
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 18:32, 18:32] = 1
    y, offsets = contextual_attention(x, x, mask, rate=2)
    assert y.shape == x.shape and offsets.shape == (1, 2, 16, 16) and offsets.dtype == torch.int64
    # interior cells 10..14 (their 3x3 windows lie inside the copy): own pixel (2i, 2j),
    # source pixel (2i - 16, 2j - 16)
    cells = torch.arange(10, 15)
    expected_rows = (2 * cells - 16)[:, None].expand(5, 5)
    expected_cols = (2 * cells - 16)[None, :].expand(5, 5)
    assert torch.equal(offsets[0, 0, 10:15, 10:15], expected_rows)
    assert torch.equal(offsets[0, 1, 10:15, 10:15], expected_cols)
    # pixels 22..27 are pasted only by interior cells: y there is the copied content
    torch.testing.assert_close(y[..., 22:28, 22:28], x[..., 22:28, 22:28], atol=1e-5, rtol=0)


def test_no_hole_is_identity_and_attends_on_itself() -> None:
    # With nothing masked each position's best match is itself (cosine 1, propagated 9), and the
    # pasted 2r x 2r patches, divided by their coverage, give back the input, borders included.
    for shape, rate in (((2, 8, 16, 16), 2), ((1, 8, 9, 11), 2), ((1, 8, 12, 15), 3)):
        x = _features(*shape)
        y, offsets = contextual_attention(x, x, None, rate=rate)
        torch.testing.assert_close(y, x, atol=1e-5, rtol=0)
        h, w = offsets.shape[-2:]
        assert torch.equal(offsets[:, 0], (torch.arange(h) * rate)[:, None].expand(shape[0], h, w))
        assert torch.equal(offsets[:, 1], (torch.arange(w) * rate)[None, :].expand(shape[0], h, w))


def test_weights_sum_to_one_over_valid_patches() -> None:
    # 16x16 features, rate 2: 8x8 matching grid; the hole covers feature rows/cols 4..7, i.e.
    # cells 2..3, so 3x3 windows centred on cells 1..4 touch it (16 of 64 invalid).
    x = _features(2, 4, 16, 16)
    mask = torch.zeros(2, 1, 16, 16)
    mask[0, :, 4:8, 4:8] = 1
    out = attention_weights(x, x, mask, rate=2)
    assert out.weights.shape == (2, 8, 8, 8, 8) and out.stride == 1
    expected_invalid = torch.zeros(8, 8, dtype=torch.bool)
    expected_invalid[1:5, 1:5] = True
    assert torch.equal(out.valid[0], ~expected_invalid)
    assert bool(out.valid[1].all())  # sample 1 has no hole
    sums = out.weights.sum(dim=(-2, -1))  # (B, h, w)
    torch.testing.assert_close(sums, torch.ones_like(sums))
    assert float(out.weights[0][..., expected_invalid].abs().max()) == 0.0  # exactly zero
    assert float(out.weights.min()) >= 0.0


def test_mask_at_another_resolution_is_reduced_with_a_max() -> None:
    # One hole pixel in a 64x64 mask marks its 4x4 block of the 16x16 feature grid, i.e. cell
    # (1, 1) of the 8x8 matching grid: the windows of cells 0..2 touch it.
    x = _features(1, 4, 16, 16)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 9, 13] = 1  # feature pixel (2, 3) -> matching cell (1, 1)
    valid = attention_weights(x, x, mask).valid[0]
    expected_invalid = torch.zeros(8, 8, dtype=torch.bool)
    expected_invalid[0:3, 0:3] = True
    assert torch.equal(valid, ~expected_invalid)


def test_all_hole_falls_back_to_every_patch() -> None:
    x = _features(1, 4, 8, 8)
    out = attention_weights(x, x, torch.ones(1, 1, 8, 8))
    assert bool(out.valid.all())
    sums = out.weights.sum(dim=(-2, -1))
    torch.testing.assert_close(sums, torch.ones_like(sums))


def test_batch_equals_per_sample() -> None:
    x = _features(3, 6, 12, 20)
    bg = _features(3, 6, 12, 20, seed=1)
    mask = torch.zeros(3, 1, 12, 20)
    mask[0, :, 2:6, 3:9] = 1
    mask[2, :, 6:12, 10:20] = 1
    y, offsets = contextual_attention(x, bg, mask, rate=2, softmax_scale=5.0)
    for i in range(3):
        yi, oi = contextual_attention(
            x[i : i + 1], bg[i : i + 1], mask[i : i + 1], rate=2, softmax_scale=5.0
        )
        torch.testing.assert_close(y[i : i + 1], yi, atol=1e-5, rtol=1e-5)
        assert torch.equal(offsets[i : i + 1], oi)


# ----------------------------------------------------------------------------- cardinality


@pytest.mark.parametrize(
    ("size", "rate", "grid"),
    [((9, 11), 2, (5, 6)), ((7, 7), 1, (7, 7)), ((10, 13), 3, (4, 5)), ((5, 5), 4, (2, 2))],
)
def test_shapes_at_odd_sizes(size: tuple[int, int], rate: int, grid: tuple[int, int]) -> None:
    x = _features(2, 3, *size)
    mask = torch.zeros(2, 1, *size)
    mask[..., : size[0] // 2, : size[1] // 2] = 1
    y, offsets = contextual_attention(x, x, mask, rate=rate)
    assert y.shape == x.shape and bool(torch.isfinite(y).all())
    assert offsets.shape == (2, 2, *grid) and offsets.dtype == torch.int64
    assert int(offsets.min()) >= 0
    assert int(offsets[:, 0].max()) < size[0] and int(offsets[:, 1].max()) < size[1]
    y2, none = contextual_attention(x, x, mask, rate=rate, return_offsets=False)
    assert none is None and torch.equal(y, y2)


def test_module_wrapper_matches_function() -> None:
    layer = ContextualAttention(rate=2, fuse_k=3, softmax_scale=10.0)
    assert list(layer.parameters()) == [] and "fuse_k=3" in repr(layer)
    x = _features(2, 4, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1
    y, offsets = layer(x, x, mask)
    y_ref, offsets_ref = contextual_attention(x, x, mask)
    assert torch.equal(y, y_ref) and torch.equal(offsets, offsets_ref)


def test_max_positions_subsamples_the_background() -> None:
    assert background_stride(64, 64, 1, 4096) == 1
    assert background_stride(128, 128, 1, 4096) == 2  # the 1024 px DeepFill case
    assert background_stride(65, 64, 1, 4096) == 2
    assert background_stride(100, 100, 3, None) == 3
    assert background_stride(10, 10, 1, 1) == 10
    # 16x16 features, 8x8 matching grid, at most 16 candidates -> stride 2, 4x4 candidates at
    # matching cells 0, 2, 4, 6 = feature pixels 0, 4, 8, 12
    x = _features(1, 4, 16, 16)
    out = attention_weights(x, x, None, max_positions=16)
    assert out.stride == 2 and out.weights.shape == (1, 8, 8, 4, 4)
    sums = out.weights.sum(dim=(-2, -1))
    torch.testing.assert_close(sums, torch.ones_like(sums))
    y, offsets = contextual_attention(x, x, None, max_positions=16)
    assert y.shape == x.shape and bool(torch.isfinite(y).all())
    assert set(offsets.unique().tolist()) <= {0, 4, 8, 12}
    # cells on the candidate lattice still find themselves (exact match, propagated)
    lattice = (torch.arange(4) * 4)[:, None].expand(4, 4)
    assert torch.equal(offsets[0, 0, ::2, ::2], lattice)
    assert torch.equal(offsets[0, 1, ::2, ::2], lattice.T)


def test_propagation_rewards_matching_neighbours() -> None:
    # ksize 1, rate 1: a patch is one feature vector. The foreground pixel p = (7, 7) sits in a
    # 3x3 hole that holds a copy of the 3x3 block around A = (2, 12); B = (12, 2) is a copy of
    # x[p] alone. Both A and B match p exactly (cosine 1), but only A's neighbours match p's.
    x = _features(1, 32, 16, 16)
    x[..., 6:9, 6:9] = x[..., 1:4, 11:14]
    x[..., 12, 2] = x[..., 7, 7]
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 6:9, 6:9] = 1
    options = {"ksize": 1, "rate": 1, "softmax_scale": 10.0}
    alone = attention_weights(x, x, mask, fuse_k=1, **options).weights[0, 7, 7]  # (16, 16)
    fused = attention_weights(x, x, mask, fuse_k=3, **options).weights[0, 7, 7]
    assert float(alone[2, 12]) == pytest.approx(float(alone[12, 2]), abs=1e-6)  # a tie ...
    assert float(alone[2, 12]) > 0.45  # ... sharing almost all the weight
    assert float(fused[2, 12]) > 0.999  # propagated score 9 against about 1


# ----------------------------------------------------------------------------- gradients


def test_gradcheck() -> None:
    gen = torch.Generator().manual_seed(0)
    fg = torch.randn(1, 2, 6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    bg = torch.randn(1, 2, 6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(1, 1, 6, 4)
    mask[..., 4:, 2:] = 1  # matching cell (2, 1): only the windows of row 0 stay valid
    assert torch.autograd.gradcheck(
        lambda f, b: contextual_attention(f, b, mask, rate=2, softmax_scale=2.0)[0], (fg, bg)
    )


# ----------------------------------------------------------------------------- exceptions


def test_bad_inputs_raise() -> None:
    x = torch.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"foreground must be \(B, C, H, W\), got \(3, 8, 8\)"):
        contextual_attention(x[0], x, None)
    with pytest.raises(ValueError, match=r"background must be \(B, C, H, W\) like foreground"):
        contextual_attention(x, x[:, :2], None)
    with pytest.raises(ValueError, match=r"mask must be \(B, 1, h, w\) with B = 2"):
        contextual_attention(x, x, torch.zeros(2, 2, 8, 8))
    with pytest.raises(ValueError, match="ksize must be odd"):
        contextual_attention(x, x, None, ksize=2)
    with pytest.raises(ValueError, match="fuse_k must be odd"):
        ContextualAttention(fuse_k=4)
    with pytest.raises(ValueError, match="rate must be >= 1, got 0"):
        contextual_attention(x, x, None, rate=0)
    with pytest.raises(TypeError, match="stride must be an int"):
        contextual_attention(x, x, None, stride=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="softmax_scale must be a positive finite number"):
        contextual_attention(x, x, None, softmax_scale=0.0)
    with pytest.raises(ValueError, match="max_positions must be >= 1"):
        contextual_attention(x, x, None, max_positions=0)


# ----------------------------------------------------------------------------- colour coding


def _hue(rgb: np.ndarray) -> float:
    return colorsys.rgb_to_hsv(*(rgb.astype(float) / 255))[0]


def test_offsets_to_color_zero_is_white_and_directions_differ() -> None:
    # 3x3 cells, step 4: the centre cell (own pixel (4, 4)) attends on itself (white); its four
    # neighbours attend 4 px right, down, left, up of themselves.
    own = torch.stack(torch.meshgrid(torch.arange(3) * 4, torch.arange(3) * 4, indexing="ij"))
    offsets = own.clone()[None]  # (1, 2, 3, 3)
    shifts = {
        "right": (1, 2, 0, 4),
        "down": (2, 1, 4, 0),
        "left": (1, 0, 0, -4),
        "up": (0, 1, -4, 0),
    }
    for i, j, dy, dx in shifts.values():
        offsets[0, 0, i, j] += dy
        offsets[0, 1, i, j] += dx
    colors = offsets_to_color(offsets, 4)
    assert colors.shape == (1, 3, 3, 3) and colors.dtype == np.uint8
    assert colors[0, 1, 1].tolist() == [255, 255, 255]  # zero offset
    assert colors[0, 0, 0].tolist() == [255, 255, 255]
    hues = {name: _hue(colors[0, i, j]) for name, (i, j, _, _) in shifts.items()}
    for (a, hue_a), (b, hue_b) in itertools.combinations(hues.items(), 2):
        diff = abs(hue_a - hue_b)
        assert min(diff, 1 - diff) > 0.1, (a, b, hues)  # > 36 degrees apart
    # Middlebury wheel: right red, down yellow-orange, left cyan-blue, up violet-blue
    assert colors[0, 1, 2].tolist() == [255, 0, 0]
    assert 0.08 < hues["down"] < 0.2
    assert 0.5 < hues["left"] < 0.6
    assert 0.65 < hues["up"] < 0.8
    # saturation grows with the length: half the longest offset is paler
    half = offsets_to_color(offsets, 4, max_radius=8.0)[0, 1, 2]
    assert half.tolist() == [255, 127, 127]


def test_offsets_to_color_steps_and_errors() -> None:
    offsets = torch.zeros(2, 2, 2, 3, dtype=torch.long)
    offsets[:, 0] = (torch.arange(2) * 8)[:, None]
    offsets[:, 1] = (torch.arange(3) * 2)[None, :]
    assert (offsets_to_color(offsets, (8, 2)) == 255).all()  # every cell on itself
    assert not (offsets_to_color(offsets, 8) == 255).all()
    with pytest.raises(ValueError, match=r"offsets must be \(B, 2, h, w\), got \(2, 2, 3\)"):
        offsets_to_color(offsets[0], 2)
    with pytest.raises(ValueError, match="step must be >= 1"):
        offsets_to_color(offsets, 0)
    with pytest.raises(ValueError, match="max_radius must be > 0"):
        offsets_to_color(offsets, 2, max_radius=0.0)
