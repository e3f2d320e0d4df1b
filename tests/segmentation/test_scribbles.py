"""User scribbles correcting an automatic trimap (apply_scribbles) and the cut-out with strokes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mattepaint.errors import InputError
from mattepaint.segmentation import apply_scribbles, cutout, scribble_radius


def _trimap() -> np.ndarray:
    """40 x 60: background left, foreground right (x >= 30), unknown columns 28-31."""
    t = np.zeros((40, 60), np.float32)
    t[:, 30:] = 1.0
    t[:, 28:32] = 0.5
    return t


def test_strokes_become_known_and_release_the_opposite_label_nearby() -> None:
    t = _trimap()
    bg = np.zeros_like(t, bool)
    bg[20, 50] = True  # a background stroke inside the sure foreground
    out = apply_scribbles(t, background=bg, radius=3)
    assert out[20, 50] == 0.0
    assert out[20, 47] == 0.5 and out[17, 50] == 0.5  # within 3 px: re-decided by matting
    assert out[20, 45] == 1.0 and out[10, 50] == 1.0  # beyond the radius: unchanged
    assert (out[:, :28] == 0).all()  # the background side is untouched
    np.testing.assert_array_equal(t, _trimap())  # the input is not modified


def test_foreground_stroke_on_the_background_side() -> None:
    t = _trimap()
    fg = np.zeros_like(t)
    fg[5, 5:8] = 1.0  # numbers > 0.5 are strokes
    out = apply_scribbles(t, foreground=fg, radius=2)
    assert (out[5, 5:8] == 1.0).all()
    assert out[5, 3] == 0.5 and out[5, 10] == 0.0
    assert set(np.unique(out)) == {0.0, 0.5, 1.0}


def test_background_wins_where_strokes_overlap_and_no_strokes_is_identity() -> None:
    t = _trimap()
    both = np.zeros_like(t, bool)
    both[10, 40] = True
    assert apply_scribbles(t, both, both, radius=1)[10, 40] == 0.0
    np.testing.assert_array_equal(apply_scribbles(t), t)


def test_default_radius_and_bad_shapes() -> None:
    assert scribble_radius(600, 800) == round(0.05 * np.sqrt(600 * 800))
    assert scribble_radius(10, 10) == 3
    with pytest.raises(ValueError, match="foreground scribbles"):
        apply_scribbles(_trimap(), foreground=np.zeros((4, 4)))
    with pytest.raises(ValueError, match="trimap must be"):
        apply_scribbles(np.zeros((2, 3, 4)))


def _photo() -> tuple[torch.Tensor, torch.Tensor]:
    """A red square (the subject) and a red disc the segmenter wrongly includes, on blue; the
    soft mask says 'subject' on both."""
    h, w = 64, 96
    yy, xx = np.mgrid[:h, :w]
    square = (abs(yy - 32) < 14) & (abs(xx - 28) < 14)
    disc = np.hypot(yy - 32, xx - 74) < 10
    img = np.zeros((h, w, 3), np.float32)
    img[..., 2] = 0.8
    img[square | disc] = (0.9, 0.1, 0.1)
    img += np.random.default_rng(0).uniform(0, 0.03, img.shape).astype(np.float32)
    image = torch.from_numpy(img.clip(0, 1).transpose(2, 0, 1))[None]
    soft = torch.from_numpy((square | disc).astype(np.float32))[None, None]
    return image, soft


def test_cutout_background_stroke_removes_a_wrong_region() -> None:
    image, soft = _photo()
    before = cutout(image, segmenter=None, soft_mask=soft, refine="closed_form")
    assert before.alpha[0, 0, 32, 74] > 0.9  # the disc is cut out with the subject
    strokes = torch.zeros_like(soft)
    strokes[..., 28:37, 66:83] = 1.0  # the user paints background over the disc
    after = cutout(image, segmenter=None, soft_mask=soft, refine="closed_form",
                   background_scribbles=strokes, scribble_radius=12)
    assert after.alpha[0, 0, 32, 74] < 0.1
    assert after.alpha[0, 0, 32, 28] > 0.9  # the subject stays
    assert after.trimap is not None and after.trimap[0, 0, 32, 74] == 0.0


def test_cutout_scribbles_need_refinement_and_the_right_shape() -> None:
    image, soft = _photo()
    with pytest.raises(ValueError, match="give a refine method"):
        cutout(image, segmenter=None, soft_mask=soft, refine=None, foreground_scribbles=soft)
    with pytest.raises(ValueError, match="background_scribbles must be"):
        cutout(image, segmenter=None, soft_mask=soft, background_scribbles=soft[..., :10])
    with pytest.raises(InputError, match="foreground_scribbles mark no pixel"):
        cutout(image, segmenter=None, soft_mask=soft, foreground_scribbles=torch.zeros_like(soft))


def test_foreground_strokes_stand_in_for_a_missed_subject() -> None:
    image, _ = _photo()
    nothing = torch.zeros(1, 1, 64, 96)
    strokes = torch.zeros_like(nothing)
    strokes[..., 30:34, 20:36] = 1.0
    result = cutout(image, segmenter=None, soft_mask=nothing, refine="closed_form",
                    foreground_scribbles=strokes, scribble_radius=20)
    assert result.alpha[0, 0, 32, 28] > 0.9
