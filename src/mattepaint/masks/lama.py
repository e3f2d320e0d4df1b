"""LaMa-style irregular masks: thin, medium and thick line strokes, optionally mixed with boxes.

Reference: Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier Convolutions"
(LaMa), WACV 2022, and its public code (advimman/lama): ``make_random_irregular_mask`` (draw
method "line") and ``make_random_rectangle_mask`` in ``saicinpainting/training/data/masks.py``,
mixed by ``MixedMaskGenerator``; the evaluation presets ``configs/data_gen/random_{thin,medium,
thick}_256.yaml`` (the "narrow / medium / wide" masks of the paper) give at 256 px:

========  =====================================  ==========================================
preset    irregular (proba 1, max_angle 4)       boxes
========  =====================================  ==========================================
thin      times 4..50, max_len 40, max_width 10  none
medium    times 4..5, max_len 100, max_width 50  proba 0.3, margin 0, size 10..50, times 1..5
thick     times 1..5, max_len 200, max_width 100 proba 0.3, margin 10, size 30..150, times 1..3
========  =====================================  ==========================================

and reject masks covering more than half the image (``max_tamper_area: 0.5``). (The training
config ``configs/training/data/abl-04-256-mh-dist.yaml`` uses irregular strokes with times 1..3,
max_len 100, max_width 20, its box block commented out.) One mask is either strokes or boxes,
chosen with probabilities ``irregular_proba : box_proba`` (1 : 0.3, i.e. boxes 23 % of the time).

Scaling: the lengths (``max_len``, ``max_width``, ``margin``, box sizes, and the stroke's fixed
10 px length and 5 px width offsets) are given at 256 px and multiplied by
``s = min(H, W) / 256`` (rounded, at least 1 px); the counts are not scaled. (LaMa's own 512 px
presets are hand-tuned, not an exact doubling.)

The stroke geometry follows the reference: a stroke has ``1 + U{0..4}`` segments; a segment's
angle is ``0.01 + U{0..max_angle-1}`` radians (integers, so only a few directions), mirrored to
``2 pi - angle`` for even strokes; its length is ``10 + U{0..max_len-1}``, its width
``5 + U{0..max_width-1}``, drawn with ``cv2.line``; the end point is clipped to the image.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from mattepaint.checks import check_float, check_int, check_rng, check_shape

REFERENCE_SIDE = 256


@dataclass(frozen=True)
class LamaConfig:
    """Parameters of one LaMa mask preset, lengths in pixels at 256 px (see the module doc).

    Irregular strokes: ``irregular_proba``, ``max_angle``, ``max_len``, ``max_width``,
    ``min_times``, ``max_times``. Boxes: ``box_proba`` (0 disables them), ``margin``,
    ``bbox_min_size``, ``bbox_max_size``, ``min_boxes``, ``max_boxes``. ``max_hole_ratio``: masks
    with a larger hole fraction are redrawn (at most ``max_attempts`` draws in all).
    """

    irregular_proba: float = 1.0
    max_angle: int = 4
    max_len: int = 60
    max_width: int = 20
    min_times: int = 0
    max_times: int = 10
    box_proba: float = 0.0
    margin: int = 10
    bbox_min_size: int = 30
    bbox_max_size: int = 100
    min_boxes: int = 0
    max_boxes: int = 3
    max_hole_ratio: float = 0.5
    max_attempts: int = 20


#: The LaMa evaluation presets at 256 px (``configs/data_gen/random_*_256.yaml``).
LAMA_PRESETS: dict[str, LamaConfig] = {
    "thin": LamaConfig(max_len=40, max_width=10, min_times=4, max_times=50, box_proba=0.0),
    "medium": LamaConfig(
        max_len=100,
        max_width=50,
        min_times=4,
        max_times=5,
        box_proba=0.3,
        margin=0,
        bbox_min_size=10,
        bbox_max_size=50,
        min_boxes=1,
        max_boxes=5,
    ),
    "thick": LamaConfig(
        max_len=200,
        max_width=100,
        min_times=1,
        max_times=5,
        box_proba=0.3,
        margin=10,
        bbox_min_size=30,
        bbox_max_size=150,
        min_boxes=1,
        max_boxes=3,
    ),
}

_FIELDS = tuple(f.name for f in dataclasses.fields(LamaConfig))


def _scaled(value: int, scale: float) -> int:
    return max(1, round(value * scale))


def irregular_lines(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    max_angle: int = 4,
    max_len: int = 60,
    max_width: int = 20,
    min_times: int = 0,
    max_times: int = 10,
    base_len: int = 10,
    base_width: int = 5,
) -> np.ndarray:
    """LaMa ``make_random_irregular_mask`` with draw method "line", lengths in pixels (unscaled).

    Inputs: shape (H, W); rng; ``min_times..max_times`` strokes (inclusive); segment angle
    ``0.01 + U{0..max_angle-1}`` rad (``2 pi -`` that for even strokes), length
    ``base_len + U{0..max_len-1}``, width ``base_width + U{0..max_width-1}`` (LaMa: 10 and 5).
    Outputs: (H, W) bool. Empty only if ``min_times`` is 0 and 0 strokes are drawn.
    """
    height, width = check_shape(shape)
    check_rng(rng)
    max_angle = check_int("max_angle", max_angle, minimum=1)
    max_len = check_int("max_len", max_len, minimum=1)
    max_width = check_int("max_width", max_width, minimum=1)
    min_times = check_int("min_times", min_times, minimum=0)
    max_times = check_int("max_times", max_times, minimum=min_times)
    base_len = check_int("base_len", base_len, minimum=0)
    base_width = check_int("base_width", base_width, minimum=1)
    canvas = np.zeros((height, width), dtype=np.uint8)
    for stroke in range(int(rng.integers(min_times, max_times + 1))):
        x = int(rng.integers(0, width))
        y = int(rng.integers(0, height))
        for _ in range(1 + int(rng.integers(0, 5))):
            angle = 0.01 + int(rng.integers(0, max_angle))
            if stroke % 2 == 0:
                angle = 2 * math.pi - angle
            length = base_len + int(rng.integers(0, max_len))
            brush = base_width + int(rng.integers(0, max_width))
            end_x = int(np.clip(x + length * math.sin(angle), 0, width - 1))
            end_y = int(np.clip(y + length * math.cos(angle), 0, height - 1))
            cv2.line(canvas, (x, y), (end_x, end_y), color=1, thickness=brush)
            x, y = end_x, end_y
    return canvas.astype(bool)


def random_boxes(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    margin: int = 10,
    bbox_min_size: int = 30,
    bbox_max_size: int = 100,
    min_boxes: int = 0,
    max_boxes: int = 3,
) -> np.ndarray:
    """LaMa ``make_random_rectangle_mask``, lengths in pixels (unscaled).

    Inputs: shape (H, W); rng; ``min_boxes..max_boxes`` boxes (inclusive), each side
    ``U{bbox_min_size..b-1}`` with ``b = min(bbox_max_size, H - 2 margin, W - 2 margin)``, placed
    at least ``margin`` pixels from the border.
    Outputs: (H, W) bool. ``ValueError`` if no box of ``bbox_min_size`` fits inside the margins.
    """
    height, width = check_shape(shape)
    check_rng(rng)
    margin = check_int("margin", margin, minimum=0)
    bbox_min_size = check_int("bbox_min_size", bbox_min_size, minimum=1)
    bbox_max_size = check_int("bbox_max_size", bbox_max_size, minimum=bbox_min_size)
    min_boxes = check_int("min_boxes", min_boxes, minimum=0)
    max_boxes = check_int("max_boxes", max_boxes, minimum=min_boxes)
    upper = min(bbox_max_size, height - 2 * margin, width - 2 * margin)
    if upper < bbox_min_size:
        raise ValueError(
            f"boxes of at least bbox_min_size={bbox_min_size} px do not fit in shape "
            f"({height}, {width}) "
            f"with margin {margin}"
        )
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(int(rng.integers(min_boxes, max_boxes + 1))):
        box_w = int(rng.integers(bbox_min_size, max(bbox_min_size + 1, upper)))
        box_h = int(rng.integers(bbox_min_size, max(bbox_min_size + 1, upper)))
        left = int(rng.integers(margin, width - margin - box_w + 1))
        top = int(rng.integers(margin, height - margin - box_h + 1))
        mask[top : top + box_h, left : left + box_w] = True
    return mask


def lama_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    config: LamaConfig,
    *,
    boxes: bool | None = None,
) -> np.ndarray:
    """One LaMa mask from a (256 px) config, scaled to ``shape``.

    Inputs: shape (H, W); rng; ``config`` a :class:`LamaConfig`; ``boxes``: None keeps the
    config's ``box_proba``, False disables boxes, True enables them (``box_proba`` 0.3 if the
    config had 0).
    Outputs: (H, W) bool, non-empty, hole ratio at most ``config.max_hole_ratio`` (redrawn up to
    ``config.max_attempts`` times; the last draw is returned, with a warning, if none passes).
    """
    height, width = check_shape(shape)
    check_rng(rng)
    if not isinstance(config, LamaConfig):
        raise TypeError(f"config must be a LamaConfig, got {type(config).__name__}")
    box_proba = check_float("box_proba", config.box_proba, low=0.0)
    irregular_proba = check_float("irregular_proba", config.irregular_proba, low=0.0)
    if boxes is not None:
        if not isinstance(boxes, (bool, np.bool_)):
            raise TypeError(f"boxes must be a bool or None, got {type(boxes).__name__}")
        box_proba = (box_proba or 0.3) if boxes else 0.0
    if irregular_proba + box_proba <= 0:
        raise ValueError("irregular_proba + box_proba must be > 0, got 0")
    max_hole_ratio = check_float(
        "max_hole_ratio", config.max_hole_ratio, low=0.0, high=1.0, low_open=True
    )
    max_attempts = check_int("max_attempts", config.max_attempts, minimum=1)
    for name in ("max_angle", "max_len", "max_width", "bbox_min_size", "bbox_max_size"):
        check_int(name, getattr(config, name), minimum=1)
    for name in ("min_times", "max_times", "margin", "min_boxes", "max_boxes"):
        check_int(name, getattr(config, name), minimum=0)
    check_int("max_times", config.max_times, minimum=config.min_times)
    check_int("max_boxes", config.max_boxes, minimum=config.min_boxes)
    check_int("bbox_max_size", config.bbox_max_size, minimum=config.bbox_min_size)

    scale = min(height, width) / REFERENCE_SIDE
    p_box = box_proba / (irregular_proba + box_proba)
    mask = np.zeros((height, width), dtype=bool)
    for _ in range(max_attempts):
        if rng.random() < p_box:
            mask = random_boxes(
                (height, width),
                rng,
                margin=round(config.margin * scale),
                bbox_min_size=_scaled(config.bbox_min_size, scale),
                bbox_max_size=_scaled(config.bbox_max_size, scale),
                min_boxes=config.min_boxes,
                max_boxes=config.max_boxes,
            )
        else:
            mask = irregular_lines(
                (height, width),
                rng,
                max_angle=config.max_angle,
                max_len=_scaled(config.max_len, scale),
                max_width=_scaled(config.max_width, scale),
                min_times=config.min_times,
                max_times=config.max_times,
                base_len=round(10 * scale),
                base_width=_scaled(5, scale),
            )
        if mask.any() and mask.mean() <= max_hole_ratio:
            return mask
    warnings.warn(
        f"lama mask: no draw in {max_attempts} attempts was non-empty with hole ratio "
        f"<= {max_hole_ratio}; "
        f"returning the last one (ratio {mask.mean():.3f})",
        stacklevel=3,
    )
    return mask


def _preset_config(preset: str, overrides: dict[str, object]) -> LamaConfig:
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise TypeError(
            f"lama_{preset} got unexpected parameter(s) {unknown}; "
            f"valid: boxes, {', '.join(_FIELDS)}"
        )
    return dataclasses.replace(LAMA_PRESETS[preset], **overrides)


def lama_thin(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    boxes: bool | None = None,
    **overrides: object,
) -> np.ndarray:
    """LaMa "thin" (narrow) masks: many short thin strokes, no boxes (``random_thin_256``).

    Inputs: shape (H, W); rng; ``boxes`` (see :func:`lama_mask`); ``overrides`` any
    :class:`LamaConfig` field (lengths at 256 px, scaled by ``min(H, W) / 256``).
    Outputs: (H, W) bool, non-empty, hole ratio <= 0.5.
    """
    return lama_mask(shape, rng, _preset_config("thin", overrides), boxes=boxes)


def lama_medium(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    boxes: bool | None = None,
    **overrides: object,
) -> np.ndarray:
    """LaMa "medium" masks: 4-5 wider strokes, or 1-5 small boxes (``random_medium_256``).

    Inputs/Outputs as :func:`lama_thin`.
    """
    return lama_mask(shape, rng, _preset_config("medium", overrides), boxes=boxes)


def lama_thick(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    boxes: bool | None = None,
    **overrides: object,
) -> np.ndarray:
    """LaMa "thick" (wide) masks: 1-5 long wide strokes, or 1-3 large boxes (``random_thick_256``).

    Inputs/Outputs as :func:`lama_thin`.
    """
    return lama_mask(shape, rng, _preset_config("thick", overrides), boxes=boxes)
