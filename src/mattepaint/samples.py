"""Procedural sample data for ``mattepaint demo``, examples and tests (no downloads, no files).

- :func:`make_matting_sample`: a furry object (solid core plus hundreds of thin,
  semi-transparent, anti-aliased strands) over a textured background, with its exact alpha,
  foreground, background and a trimap. ``image == composite(foreground, background, alpha)``.
- :func:`make_background`: that background alone (for background-aware matting).
- :func:`make_inpainting_sample`: a structured picture (gradient sky, horizon, stripes, shapes)
  with an object and scratches to remove, the hole mask, and the clean picture.

Every function is deterministic for a given ``seed`` (``np.random.SeedSequence(seed)``) and
takes a few milliseconds at 256 x 256. The alpha matte is quantised to multiples of 1/255, like
a matte read from an 8-bit PNG.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mattepaint.checks import is_int
from mattepaint.compositing import composite, trimap_from_alpha
from mattepaint.data.procedural import smooth_noise

__all__ = [
    "InpaintingSample",
    "MattingSample",
    "make_background",
    "make_inpainting_sample",
    "make_matting_sample",
]

_SUPERSAMPLE = 4  # strands are drawn at 4x resolution, then area-averaged: true partial coverage


@dataclass(frozen=True)
class MattingSample:
    """A synthetic matting example.

    Attributes:
        image: (H, W, 3) float32 in [0, 1], ``composite(foreground, background, alpha)``.
        foreground: (H, W, 3) float32 in [0, 1], unpremultiplied colour, defined everywhere.
        background: (H, W, 3) float32 in [0, 1], equal to ``make_background(size, seed)``.
        alpha: (H, W) float32 in [0, 1], multiples of 1/255.
        trimap: (H, W) float32 in {0, 0.5, 1}, ``trimap_from_alpha(alpha, width=...)``.
    """

    image: np.ndarray
    foreground: np.ndarray
    background: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray


@dataclass(frozen=True)
class InpaintingSample:
    """A synthetic inpainting example.

    Attributes:
        image: (H, W, 3) float32 in [0, 1], the picture with an object and scratches.
        mask: (H, W) bool, True = hole (covers the object and the scratches).
        clean: (H, W, 3) float32 in [0, 1], the picture without them (ground truth);
            equal to ``image`` wherever ``mask`` is False.
    """

    image: np.ndarray
    mask: np.ndarray
    clean: np.ndarray


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(is_int(v) for v in size)
    ):
        raise TypeError(f"size must be a tuple (H, W) of two ints, got {size!r}")
    h, w = int(size[0]), int(size[1])
    if h < 32 or w < 32:
        raise ValueError(f"size must be at least (32, 32), got {(h, w)}")
    return h, w


def _check_seed(seed: int) -> int:
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the background and the object, from one seed."""
    bg_seq, obj_seq = np.random.SeedSequence(_check_seed(seed)).spawn(2)
    return np.random.default_rng(bg_seq), np.random.default_rng(obj_seq)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.1, 0.9, 3).astype(np.float32)


def _background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Out-of-focus natural-looking backdrop: gradient + blobs + multi-scale noise + grain."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Linear colour gradient along a random direction.
    theta = rng.uniform(0, 2 * np.pi)
    t = (np.cos(theta) * xx / w + np.sin(theta) * yy / h)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)  # (H, W) in [0, 1]
    c0, c1 = _random_colour(rng), _random_colour(rng)
    bg = c0 + t[..., None] * (c1 - c0)  # (H, W, 3)
    # Soft blobs (foliage / bokeh / furniture out of focus).
    for _ in range(int(rng.integers(4, 8))):
        layer = np.zeros((h, w), np.float32)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.uniform(0.05, 0.3) * w), int(rng.uniform(0.05, 0.3) * h))
        if rng.random() < 0.6:
            cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        else:
            cv2.rectangle(
                layer,
                (centre[0] - axes[0], centre[1] - axes[1]),
                (centre[0] + axes[0], centre[1] + axes[1]),
                1.0,
                -1,
            )
        sigma = rng.uniform(1.0, 6.0) * min(h, w) / 256
        layer = cv2.GaussianBlur(layer, (0, 0), sigma) * rng.uniform(0.5, 0.9)
        bg = bg + layer[..., None] * (_random_colour(rng) - bg)
    # Multi-scale colour noise and fine grain.
    bg = bg + 0.08 * smooth_noise(rng, (h, w), 5, 3)
    bg = bg + 0.03 * smooth_noise(rng, (h, w), max(8, min(h, w) // 8), 3)
    bg = bg + 0.01 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return np.clip(bg, 0.0, 1.0).astype(np.float32)


def make_background(size: tuple[int, int] = (256, 256), seed: int = 0) -> np.ndarray:
    """The background of :func:`make_matting_sample` for the same ``size`` and ``seed``.

    A linear colour gradient, a few soft out-of-focus blobs, low- and mid-frequency colour
    noise and fine grain, so that it looks like a defocused photograph behind a subject.

    Inputs:
        size: (H, W), each >= 32.
        seed: non-negative int.

    Outputs:
        (H, W, 3) float32 in [0, 1].
    """
    shape = _check_size(size)
    bg_rng, _ = _streams(seed)
    return _background(shape, bg_rng)


def _furry_alpha(
    shape: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, tuple[float, float], float]:
    """Alpha of a furry disk: anti-aliased core plus thin strands, drawn at 4x and area-averaged.

    Returns (alpha (H, W) float32 in [0, 1] quantised to 1/255, centre (x, y), core radius).
    """
    h, w = shape
    s = _SUPERSAMPLE
    shift = 4  # cv2 fixed-point: coordinates are multiplied by 2**shift for sub-pixel accuracy
    one = 1 << shift
    canvas = np.zeros((h * s, w * s), np.uint8)  # hi-res coverage, 255 = opaque
    radius = 0.24 * min(h, w) * rng.uniform(0.9, 1.1)
    cx = w / 2 + rng.uniform(-0.08, 0.08) * w
    cy = h / 2 + rng.uniform(-0.08, 0.08) * h
    # Slightly irregular core: a polygon with a wobbly radius.
    angles = np.linspace(0, 2 * np.pi, 96, endpoint=False)
    phase3, phase7 = rng.uniform(0, 6, 2)
    wobble = 1 + 0.04 * np.sin(3 * angles + phase3) + 0.03 * np.sin(7 * angles + phase7)
    rim = radius * wobble
    core = np.stack([cx + rim * np.cos(angles), cy + rim * np.sin(angles)], 1)  # (96, 2) x, y
    # Strands: curved polylines rooted inside the core rim, growing outwards.
    n_strands = int(0.012 * h * w)  # ~790 at 256 x 256
    n_points = 7
    root_angle = rng.uniform(0, 2 * np.pi, n_strands)
    root_r = radius * rng.uniform(0.8, 1.0, n_strands)
    length = radius * rng.uniform(0.15, 0.65, n_strands)
    heading = root_angle + rng.normal(0, 0.35, n_strands)
    bend = rng.normal(0, 0.12, (n_strands, n_points - 1))  # heading change per segment
    opacity = rng.uniform(70, 255, n_strands)
    thickness = rng.choice([1, 1, 2, 2, 3], n_strands)  # at 4x: 0.25-0.75 px at output size
    for i in range(n_strands):
        step = length[i] / (n_points - 1)
        pts = np.empty((n_points, 2))
        pts[0] = cx + root_r[i] * np.cos(root_angle[i]), cy + root_r[i] * np.sin(root_angle[i])
        direction = heading[i]
        for k in range(1, n_points):
            direction += bend[i, k - 1]
            pts[k] = pts[k - 1] + step * np.array([np.cos(direction), np.sin(direction)])
        cv2.polylines(
            canvas,
            [np.round(pts * s * one).astype(np.int32)],
            False,
            int(opacity[i]),
            int(thickness[i]),
            cv2.LINE_AA,
            shift,
        )
    # The core last, so that faint strand roots do not punch holes into it.
    cv2.fillPoly(canvas, [np.round(core * s * one).astype(np.int32)], 255, cv2.LINE_AA, shift)
    alpha = cv2.resize(canvas.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.5)  # a touch of lens blur
    alpha = np.round(np.clip(alpha, 0.0, 1.0) * 255.0) / 255.0  # 8-bit matte
    return alpha.astype(np.float32), (cx, cy), radius


def _fur_colour(
    shape: tuple[int, int],
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    avoid: np.ndarray,
) -> np.ndarray:
    """Unpremultiplied fur colour: base hue away from ``avoid``, shading, light tips, texture."""
    h, w = shape
    # A base colour at a moderate distance from the background mean: different, not trivially.
    base = _random_colour(rng)
    for _ in range(100):
        if 0.3 <= float(np.linalg.norm(base - avoid)) <= 0.6:
            break
        base = _random_colour(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - centre[0], yy - centre[1]) / radius  # (H, W), 1 at the core rim
    tips = np.clip((r - 0.8) / 0.8, 0.0, 1.0)[..., None]  # 0 inside, 1 at strand tips
    fg = base * (0.85 + 0.15 * (1 - np.clip(r, 0, 1.5) / 1.5))[..., None]  # darker at the rim
    fg = fg + tips * 0.25 * (1.0 - fg)  # sun-lit tips
    fg = fg + 0.06 * smooth_noise(rng, shape, 6, 3)
    # Fur texture: noise stretched along the radial direction (blurred along the strands).
    grain = rng.standard_normal((h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 1.0)
    fg = fg + 0.05 * grain[..., None]
    return np.clip(fg, 0.0, 1.0).astype(np.float32)


def make_matting_sample(size: tuple[int, int] = (256, 256), seed: int = 0) -> MattingSample:
    """A furry object with a soft, realistic alpha composited over a textured background.

    The alpha is a solid, slightly irregular disk with about ``0.012 * H * W`` thin curved
    strands of random opacity (0.27-1), drawn anti-aliased at 4x resolution and area-averaged,
    then blurred with sigma 0.5 px and quantised to 1/255: a large fraction of the pixels is
    fractional, as in hair and fur. The foreground colour is a hue at RGB distance 0.3-0.6
    from the background mean, with shading and texture. Then::

        image = alpha * foreground + (1 - alpha) * background      (Porter & Duff 1984)
        trimap = trimap_from_alpha(alpha, width=round(0.04 * min(H, W)))  (Xu et al. 2017)

    Inputs:
        size: (H, W), each >= 32.
        seed: non-negative int; the same seed gives the same sample.

    Outputs:
        :class:`MattingSample` (float32 arrays; see its attributes).
    """
    shape = _check_size(size)
    bg_rng, obj_rng = _streams(seed)
    background = _background(shape, bg_rng)
    alpha, centre, radius = _furry_alpha(shape, obj_rng)
    foreground = _fur_colour(shape, obj_rng, centre, radius, background.reshape(-1, 3).mean(0))
    image = composite(foreground, background, alpha).astype(np.float32)
    trimap = trimap_from_alpha(alpha, width=max(1, round(0.04 * min(shape))))
    return MattingSample(
        image=image, foreground=foreground, background=background, alpha=alpha, trimap=trimap
    )


def _structured_picture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Sky gradient, a horizon, diagonal stripes, a few flat shapes and grain."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(h * rng.uniform(0.45, 0.6))
    sky_top, sky_low = _random_colour(rng), _random_colour(rng)
    ground = _random_colour(rng)
    img = sky_top + (yy / h)[..., None] * (sky_low - sky_top)  # (H, W, 3)
    ground_img = ground * (0.8 + 0.2 * (yy / h))[..., None]
    img = np.where((yy >= horizon)[..., None], ground_img, img)
    # Diagonal stripes on the ground (a field, a floor, a fence...).
    period = rng.uniform(0.06, 0.12) * min(h, w)
    slope = rng.uniform(-1.0, 1.0)
    stripes = (np.floor((xx + slope * yy) / period) % 2)[..., None]
    img = np.where((yy >= horizon)[..., None], img * (1 - 0.25 * stripes), img)
    # A few flat shapes (buildings, sun, hills) with hard edges.
    for _ in range(int(rng.integers(3, 6))):
        colour = tuple(float(v) for v in _random_colour(rng))
        kind = rng.integers(0, 3)
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        a = int(rng.uniform(0.05, 0.15) * min(h, w))
        if kind == 0:
            cv2.circle(img, (x0, y0), a, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.rectangle(img, (x0, y0), (x0 + a, y0 + 2 * a), colour, -1)
        else:
            tri = np.array([[x0, y0], [x0 + 2 * a, y0], [x0 + a, y0 - 2 * a]], np.int32)
            cv2.fillPoly(img, [tri], colour, cv2.LINE_AA)
    # Thin straight lines crossing the picture (wires, edges).
    for _ in range(2):
        p0 = (int(rng.integers(0, w)), 0)
        p1 = (int(rng.integers(0, w)), h - 1)
        cv2.line(img, p0, p1, (0.1, 0.1, 0.1), max(1, min(h, w) // 128), cv2.LINE_AA)
    img = img + 0.04 * smooth_noise(rng, shape, 6, 3)
    img = img + 0.01 * rng.standard_normal((h, w, 3)).astype(np.float32)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def make_inpainting_sample(size: tuple[int, int] = (256, 256), seed: int = 0) -> InpaintingSample:
    """A structured picture with an object and two scratches to remove, and the hole mask.

    The clean picture has a gradient sky, a horizon, diagonal stripes, flat shapes with hard
    edges and thin lines, so edges cross the hole (structure) over a noisy texture. An opaque
    object (a dark rounded blob on a pole) is pasted near the centre and two thick bright
    strokes are painted across the picture; ``mask`` is their union dilated by 2 px, so::

        image[~mask] == clean[~mask]

    Inputs:
        size: (H, W), each >= 32.
        seed: non-negative int; the same seed gives the same sample.

    Outputs:
        :class:`InpaintingSample` with image / clean (H, W, 3) float32 in [0, 1] and mask
        (H, W) bool (True = hole).
    """
    shape = _check_size(size)
    h, w = shape
    pic_rng, obj_rng = _streams(seed)
    clean = _structured_picture(shape, pic_rng)
    scale = min(h, w) / 256
    objects = np.zeros((h, w), np.uint8)
    # The object: a blob on a pole, somewhere around the centre.
    cx = int(w * obj_rng.uniform(0.35, 0.65))
    cy = int(h * obj_rng.uniform(0.35, 0.6))
    axes = (int(obj_rng.uniform(18, 30) * scale), int(obj_rng.uniform(14, 24) * scale))
    cv2.ellipse(objects, (cx, cy), axes, float(obj_rng.uniform(-30, 30)), 0, 360, 1, -1)
    half = max(1, int(3 * scale))  # pole half-width
    cv2.rectangle(objects, (cx - half, cy), (cx + half, min(h - 1, cy + int(60 * scale))), 1, -1)
    strokes = np.zeros((h, w), np.uint8)
    for _ in range(2):
        pts = np.stack(
            [obj_rng.uniform(0.05, 0.95, 4) * w, obj_rng.uniform(0.05, 0.95, 4) * h], axis=1
        ).astype(np.int32)
        thickness = max(2, int(obj_rng.uniform(5, 9) * scale))
        cv2.polylines(strokes, [pts], False, 1, thickness, cv2.LINE_8)
    image = clean.copy()
    image[objects == 1] = np.array([0.25, 0.08, 0.06], np.float32) + 0.03 * obj_rng.standard_normal(
        (int(objects.sum()), 3)
    ).astype(np.float32)
    image[strokes == 1] = np.array([0.97, 0.97, 0.95], np.float32)
    image = np.clip(image, 0.0, 1.0)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.dilate(np.maximum(objects, strokes), kernel).astype(bool)
    return InpaintingSample(image=image.astype(np.float32), mask=mask, clean=clean)
