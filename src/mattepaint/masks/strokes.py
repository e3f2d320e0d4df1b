"""Free-form brush strokes (DeepFill v2).

Reference: Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019, Algorithm 1
("free-form mask generation") and its public implementation (``brush_stroke_mask`` in
JiahuiYu/generative_inpainting, ``inpaint_ops.py``), whose constants at 256 x 256 are: 1-3
strokes, 4-11 vertices per stroke, turning angles ``2 pi / 5 +- 2 pi / 15``, segment lengths
``N(r, r / 2)`` clipped to ``[0, 2 r]`` with ``r = sqrt(H^2 + W^2) / 8``, brush width
``U(12, 40)``. Here the brush widths scale with ``min(H, W) / 256`` (the segment lengths already
scale through ``r``).

Differences from the public code, on purpose: the vertex x/y use the image width/height (the
reference swaps them, which only matters for non-square images), and the random flips are applied
(the reference calls ``mask.transpose(...)`` and discards the result, so it never flips).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from mattepaint.checks import check_float, check_int, check_range, check_rng, check_shape

#: Reference image side at which the DeepFill v2 constants are given.
REFERENCE_SIDE = 256


def strokes(
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    min_strokes: int = 1,
    max_strokes: int = 3,
    min_vertices: int = 4,
    max_vertices: int = 11,
    mean_angle: float = 2 * math.pi / 5,
    angle_range: float = 2 * math.pi / 15,
    min_width: int | None = None,
    max_width: int | None = None,
    mean_length: float | None = None,
    max_length: float | None = None,
    flip: bool = True,
) -> np.ndarray:
    """DeepFill v2 free-form mask: a few random-walk brush strokes.

    Inputs:
        shape: (H, W); rng: numpy Generator.
        min_strokes, max_strokes: number of strokes ``~ U{min..max}`` (default 1..3).
        min_vertices, max_vertices: segments per stroke ``~ U{min..max}`` (default 4..11).
        mean_angle, angle_range: per stroke ``a_min = mean - U(0, range)``,
            ``a_max = mean + U(0, range)``; segment ``k`` turns by ``a ~ U(a_min, a_max)``, and by
            ``2 pi - a`` for even ``k`` (a zig-zag walk). Radians.
        min_width, max_width: brush width ``~ U(min, max)`` per stroke, pixels; defaults
            ``12 s`` and ``40 s`` with ``s = min(H, W) / 256`` (at least 1).
        mean_length: mean segment length, default ``r = sqrt(H^2 + W^2) / 8``; lengths are
            ``N(mean_length, mean_length / 2)`` clipped to ``[0, max_length]``.
        max_length: default ``2 * mean_length``.
        flip: flip the mask left-right and top-bottom, each with probability 1/2.
    Outputs: (H, W) bool, True = hole; never empty (every stroke paints at least a disc).

    Each stroke starts at a uniform pixel; vertex ``k+1 = clip(vertex k + l (cos a, sin a))``
    to the image; consecutive vertices are joined with ``cv2.line`` of the stroke's width and a
    filled circle of radius ``width // 2`` is drawn on every vertex (round joints).
    """
    height, width = check_shape(shape)
    check_rng(rng)
    min_strokes = check_int("min_strokes", min_strokes, minimum=1)
    max_strokes = check_int("max_strokes", max_strokes, minimum=1)
    check_range("strokes", min_strokes, max_strokes)
    min_vertices = check_int("min_vertices", min_vertices, minimum=1)
    max_vertices = check_int("max_vertices", max_vertices, minimum=1)
    check_range("vertices", min_vertices, max_vertices)
    mean_angle = check_float("mean_angle", mean_angle)
    angle_range = check_float("angle_range", angle_range, low=0.0)
    scale = min(height, width) / REFERENCE_SIDE
    min_width = (
        max(1, round(12 * scale))
        if min_width is None
        else check_int("min_width", min_width, minimum=1)
    )
    max_width = (
        max(min_width, round(40 * scale))
        if max_width is None
        else check_int("max_width", max_width, minimum=1)
    )
    check_range("brush width", min_width, max_width)
    if mean_length is None:
        mean_length = math.sqrt(height * height + width * width) / 8
    mean_length = check_float("mean_length", mean_length, low=0.0)
    max_length = (
        2 * mean_length if max_length is None else check_float("max_length", max_length, low=0.0)
    )

    canvas = np.zeros((height, width), dtype=np.uint8)
    for _ in range(int(rng.integers(min_strokes, max_strokes + 1))):
        num_vertices = int(rng.integers(min_vertices, max_vertices + 1))
        angle_min = mean_angle - rng.uniform(0, angle_range)
        angle_max = mean_angle + rng.uniform(0, angle_range)
        x = int(rng.integers(0, width))
        y = int(rng.integers(0, height))
        vertices = [(x, y)]
        for k in range(num_vertices):
            angle = rng.uniform(angle_min, angle_max)
            if k % 2 == 0:
                angle = 2 * math.pi - angle
            length = float(np.clip(rng.normal(mean_length, mean_length / 2), 0, max_length))
            x = int(np.clip(x + length * math.cos(angle), 0, width - 1))
            y = int(np.clip(y + length * math.sin(angle), 0, height - 1))
            vertices.append((x, y))
        brush = int(rng.integers(min_width, max_width + 1))
        for start, end in zip(vertices[:-1], vertices[1:]):
            cv2.line(canvas, start, end, color=1, thickness=brush)
        for vertex in vertices:
            cv2.circle(canvas, vertex, radius=max(1, brush // 2), color=1, thickness=-1)
    mask = canvas.astype(bool)
    if flip:
        if rng.random() < 0.5:
            mask = mask[:, ::-1]
        if rng.random() < 0.5:
            mask = mask[::-1, :]
    return np.ascontiguousarray(mask)
