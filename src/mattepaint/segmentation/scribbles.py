"""User scribbles: correct an automatic trimap with foreground / background strokes.

Closed-form matting (Levin et al., TPAMI 2008) was designed for sparse user scribbles: pixels a
user marks are constraints (alpha 1 on foreground strokes, 0 on background strokes) and the
matting propagates them to the unknown pixels by colour similarity. :func:`apply_scribbles`
puts strokes into a trimap so that a wrong region of an automatic cut-out can be corrected and
the matting re-run:

- every stroked pixel becomes known with the stroke's label (a background stroke wins where the
  two overlap);
- the *opposite* sure label within ``radius`` pixels of a stroke becomes unknown, so the matting
  decides those pixels again from the stroke and the colours around it (a background stroke on a
  region the segmenter wrongly took for the subject releases that region; a foreground stroke
  on a missed part of the subject does the same on the background side).

Pixels the trimap already marks unknown stay unknown (except under a stroke), and nothing beyond
``radius`` of a stroke changes.
"""

from __future__ import annotations

import cv2
import numpy as np

from mattepaint.checks import check_int

__all__ = ["DEFAULT_SCRIBBLE_RADIUS_FRACTION", "apply_scribbles", "scribble_radius"]

#: Default reach of a stroke as a fraction of sqrt(H * W) (about 35 px on an 800 x 600 photo).
DEFAULT_SCRIBBLE_RADIUS_FRACTION = 0.05


def scribble_radius(height: int, width: int) -> int:
    """Default reach of a stroke: ``DEFAULT_SCRIBBLE_RADIUS_FRACTION * sqrt(H W)``, at least 3."""
    return max(3, round(DEFAULT_SCRIBBLE_RADIUS_FRACTION * float(np.sqrt(height * width))))


def _stroke(mask: np.ndarray | None, shape: tuple[int, ...], name: str) -> np.ndarray:
    if mask is None:
        return np.zeros(shape, bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} scribbles must be (H, W) = {shape}, got {mask.shape}")
    return mask > 0.5 if mask.dtype != bool else mask


def apply_scribbles(
    trimap: np.ndarray,
    foreground: np.ndarray | None = None,
    background: np.ndarray | None = None,
    *,
    radius: int | None = None,
) -> np.ndarray:
    """The trimap corrected by foreground and background strokes (rules in the module docstring).

    Inputs:
        trimap: (H, W) float in {0, 0.5, 1} (0 background, 0.5 unknown, 1 foreground).
        foreground, background: (H, W) stroke masks (bool, or numbers where > 0.5 is a stroke),
            or None for no stroke of that kind.
        radius: pixels around a stroke where the opposite sure label becomes unknown (>= 0;
            default :func:`scribble_radius`).
    Outputs: a new (H, W) float32 trimap in {0, 0.5, 1}; ``trimap`` itself is not changed.
    Raises: ValueError for a trimap that is not 2-D or stroke masks of another shape.
    """
    trimap = np.asarray(trimap, dtype=np.float32)
    if trimap.ndim != 2:
        raise ValueError(f"trimap must be (H, W), got shape {trimap.shape}")
    fg = _stroke(foreground, trimap.shape, "foreground")
    bg = _stroke(background, trimap.shape, "background")
    r = scribble_radius(*trimap.shape) if radius is None else check_int("radius", radius, minimum=0)
    out = trimap.copy()
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    for stroke, opposite in ((fg, 0.0), (bg, 1.0)):
        if stroke.any():
            near = cv2.dilate(stroke.astype(np.uint8), disk).astype(bool)
            out[near & (trimap == opposite)] = 0.5
    out[fg] = 1.0
    out[bg] = 0.0
    return out
