"""Compositing: the matting equation, trimaps, foreground estimation and cut-outs.

Everything in matting rests on the compositing equation of Porter and Duff (1984), written per
pixel for an observed colour ``C``, a foreground colour ``F``, a background colour ``B`` and an
opacity ``alpha`` in [0, 1]::

    C = alpha * F + (1 - alpha) * B

Conventions (see :mod:`mattepaint`): numpy images are ``(H, W, C)`` float in [0, 1], maps are
``(H, W)``; tensors are ``(B, C, H, W)`` and alpha is ``(B, 1, H, W)``. A trimap holds 0
(definite background), 0.5 (unknown) and 1 (definite foreground).

References:
    T. Porter, T. Duff. "Compositing Digital Images". SIGGRAPH 1984.
    N. Xu, B. Price, S. Cohen, T. Huang. "Deep Image Matting". CVPR 2017 (trimap generation).
    Y. Li, H. Lu. "Natural Image Matting via Guided Contextual Attention". AAAI 2020 (GCA,
    random-width trimaps).
    T. Germer, T. Uelwer, S. Conrad, S. Harmeling. "Fast Multi-Level Foreground Estimation".
    ICPR 2020 (pymatting's ``estimate_foreground_ml``).
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import torch

from mattepaint.checks import check_int, is_int

__all__ = [
    "COLOURS",
    "Colour",
    "checkerboard",
    "composite",
    "composite_onto",
    "cutout",
    "estimate_foreground",
    "parse_colour",
    "trimap_from_alpha",
    "trimap_from_mask",
]

ArrayOrTensor = np.ndarray | torch.Tensor
Colour = str | tuple[float, float, float]

#: Named colours accepted by :func:`composite_onto` and :func:`parse_colour` (RGB in [0, 1]).
COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "grey": (0.5, 0.5, 0.5),
    "gray": (0.5, 0.5, 0.5),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (1.0, 1.0, 0.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
}

# Default thresholds of trimap_from_alpha: the values that uint8 rounding maps to 255 and to 0.
_FG_THRESHOLD = 1.0 - 0.5 / 255.0
_BG_THRESHOLD = 0.5 / 255.0


# --------------------------------------------------------------------------------------------
# composite
# --------------------------------------------------------------------------------------------


def composite(fg: ArrayOrTensor, bg: ArrayOrTensor, alpha: ArrayOrTensor) -> ArrayOrTensor:
    """Composite a foreground over a background: ``C = alpha * F + (1 - alpha) * B``.

    The compositing equation of Porter & Duff (1984), "Compositing Digital Images", with an
    unpremultiplied foreground ``F``. Pure element-wise arithmetic, so on tensors it is
    differentiable with respect to all three inputs.

    Inputs (all numpy, or all torch; mixing raises TypeError):
        numpy:
            fg: (H, W, C) float in [0, 1] (C is usually 3).
            bg: (H, W, C) or (H, W, 1) float in [0, 1].
            alpha: (H, W) or (H, W, 1) float in [0, 1] (bool is accepted as a hard matte).
        torch:
            fg: (B, C, H, W) float in [0, 1].
            bg: (B, C, H, W); broadcasting is allowed over the batch (``(1, C, H, W)``, one
                background for every sample) and over channels (``(B, 1, H, W)``, a grey
                background).
            alpha: (B, 1, H, W) float in [0, 1]; ``(1, 1, H, W)`` broadcasts over the batch.
        H and W must agree exactly; only size-1 batch/channel dimensions broadcast.

    Outputs:
        numpy: (H, W, C); torch: (B, C, H, W), the shape of fg. The dtype is the
        promoted floating dtype of the inputs; values stay in [0, 1] when the inputs are.

    Example:
        >>> fg = np.ones((2, 2, 3), np.float32); bg = np.zeros((2, 2, 3), np.float32)
        >>> composite(fg, bg, np.full((2, 2), 0.25, np.float32))[0, 0]
        array([0.25, 0.25, 0.25], dtype=float32)
    """
    is_torch = [isinstance(x, torch.Tensor) for x in (fg, bg, alpha)]
    is_numpy = [isinstance(x, np.ndarray) for x in (fg, bg, alpha)]
    if all(is_torch) or all(is_numpy):
        _check_float("fg", fg)
        _check_float("bg", bg)
        _check_float("alpha", alpha, allow_bool=True)
        if all(is_torch):
            return _composite_torch(fg, bg, alpha)  # type: ignore[arg-type]
        return _composite_numpy(fg, bg, alpha)  # type: ignore[arg-type]
    names = ("fg", "bg", "alpha")
    got = ", ".join(f"{n}={type(x).__name__}" for n, x in zip(names, (fg, bg, alpha)))
    if any(is_torch) and any(is_numpy):
        raise TypeError(
            f"composite needs fg, bg and alpha all numpy arrays or all torch tensors, got a mix: "
            f"{got}; convert with mattepaint.io.to_tensor / to_numpy"
        )
    raise TypeError(f"composite needs numpy arrays or torch tensors, got {got}")


def _check_float(name: str, x: ArrayOrTensor, *, allow_bool: bool = False) -> None:
    if isinstance(x, torch.Tensor):
        ok = x.is_floating_point() or (allow_bool and x.dtype == torch.bool)
        kind = "tensor"
    else:
        ok = np.issubdtype(x.dtype, np.floating) or (allow_bool and x.dtype == np.bool_)
        kind = "array"
    if not ok:
        raise TypeError(
            f"{name} must be a floating-point {kind}"
            f" with values in [0, 1], got dtype {x.dtype}"
            + (" (divide uint8 images by 255)" if str(x.dtype).endswith("uint8") else "")
        )


def _composite_numpy(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """:func:`composite` of float arrays (dtypes checked there): shapes, then the blend."""
    if fg.ndim != 3:
        raise ValueError(f"fg must be (H, W, C), got shape {fg.shape}")
    h, w, c = fg.shape
    if bg.shape not in ((h, w, c), (h, w, 1)):
        raise ValueError(f"bg must be (H, W, C) or (H, W, 1) like fg {fg.shape}, got bg {bg.shape}")
    if alpha.shape not in ((h, w), (h, w, 1)):
        raise ValueError(
            f"alpha must be (H, W) or (H, W, 1) like fg {fg.shape}, got alpha {alpha.shape}"
        )
    if alpha.dtype == np.bool_:
        alpha = alpha.astype(fg.dtype)
    if alpha.ndim == 2:
        alpha = alpha[..., None]  # (H, W) -> (H, W, 1)
    if alpha.size and (alpha.min() < 0.0 or alpha.max() > 1.0):
        warnings.warn(
            f"alpha has values outside [0, 1] (min {alpha.min():.3g}, max {alpha.max():.3g})",
            stacklevel=3,
        )
    return alpha * fg + (1 - alpha) * bg


def _composite_torch(fg: torch.Tensor, bg: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """:func:`composite` of float tensors (dtypes checked there): shapes, then the blend."""
    if fg.ndim != 4:
        raise ValueError(f"fg must be (B, C, H, W), got shape {tuple(fg.shape)}")
    b, c, h, w = fg.shape
    if (
        bg.ndim != 4
        or bg.shape[2:] != (h, w)
        or bg.shape[0] not in (b, 1)
        or bg.shape[1] not in (c, 1)
    ):
        raise ValueError(
            f"bg must be (B, C, H, W) like fg {tuple(fg.shape)} (or with B or C equal to 1), "
            f"got bg {tuple(bg.shape)}"
        )
    if (
        alpha.ndim != 4
        or alpha.shape[2:] != (h, w)
        or alpha.shape[1] != 1
        or alpha.shape[0] not in (b, 1)
    ):
        raise ValueError(
            f"alpha must be (B, 1, H, W) like fg {tuple(fg.shape)} (or with B equal to 1), "
            f"got alpha {tuple(alpha.shape)}"
        )
    if alpha.dtype == torch.bool:
        alpha = alpha.to(fg.dtype)
    return alpha * fg + (1 - alpha) * bg


# --------------------------------------------------------------------------------------------
# trimaps
# --------------------------------------------------------------------------------------------


def _disk(radius: int) -> np.ndarray:
    """Elliptical structuring element of diameter ``2 * radius + 1`` (uint8)."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _band_trimap(fg: np.ndarray, not_bg: np.ndarray, width: int) -> np.ndarray:
    """(H, W) float32 trimap from uint8 0/1 maps: 1 on ``erode(fg, K)``, 0 outside
    ``dilate(not_bg, K)``, 0.5 between, with ``K = _disk(width)`` (no morphology for 0)."""
    if width > 0:
        kernel = _disk(width)
        fg = cv2.erode(fg, kernel)
        not_bg = cv2.dilate(not_bg, kernel)
    trimap = np.full(fg.shape, 0.5, np.float32)
    trimap[not_bg == 0] = 0.0
    trimap[fg == 1] = 1.0
    return trimap


def _require_numpy(name: str, x: object, what: str = "a numpy array") -> None:
    """TypeError unless ``x`` is a numpy array (``what`` names the expected kind)."""
    if isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be {what}, got a torch tensor of shape {tuple(x.shape)}; "
            f"use mattepaint.io.to_numpy"
        )
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be {what}, got {type(x).__name__}")


def _as_map(name: str, x: np.ndarray) -> np.ndarray:
    """Validate a numpy single-channel map, returning it as (H, W)."""
    _require_numpy(name, x, "a numpy array (H, W)")
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[..., 0]  # (H, W, 1) -> (H, W)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) or (H, W, 1) array, got {x.shape}")
    return x


def trimap_from_alpha(
    alpha: np.ndarray,
    *,
    width: int | None = None,
    rng: np.random.Generator | None = None,
    min_width: int = 1,
    max_width: int = 30,
    fg_threshold: float = _FG_THRESHOLD,
    bg_threshold: float = _BG_THRESHOLD,
) -> np.ndarray:
    """Make a trimap from a ground-truth alpha matte (the matting-training recipe).

    As in Deep Image Matting (Xu et al., CVPR 2017) and GCA Matting (Li & Lu, AAAI 2020)::

        F = alpha >= fg_threshold                (definite foreground)
        N = alpha >  bg_threshold                (not definite background)
        unknown = dilate(N, K) \\ erode(F, K)
        trimap = 1 on erode(F, K), 0 outside dilate(N, K), 0.5 elsewhere

    with ``K`` an elliptical kernel of radius ``width`` (diameter ``2 * width + 1``), so the
    unknown band extends ``width`` pixels on both sides of the fractional region. Every pixel
    with ``bg_threshold < alpha < fg_threshold`` is unknown. The default thresholds reproduce
    the uint8 rounding of the alpha PNG: foreground iff ``round(255 * alpha) == 255``,
    background iff ``round(255 * alpha) == 0``.

    Inputs:
        alpha: (H, W) or (H, W, 1) float array in [0, 1].
        width: band radius in pixels (>= 0). ``None`` draws it uniformly from
            ``[min_width, max_width]`` (inclusive) with ``rng`` (training augmentation);
            ``rng`` is then required.
        rng: numpy Generator used only when ``width`` is None.
        min_width, max_width: range of the random radius.
        fg_threshold, bg_threshold: see above; ``0 <= bg_threshold < fg_threshold <= 1``.

    Outputs:
        (H, W) float32 trimap with values in {0, 0.5, 1}.
    """
    alpha = _as_map("alpha", alpha)
    if not (np.issubdtype(alpha.dtype, np.floating) or alpha.dtype == np.bool_):
        raise TypeError(f"alpha must be a float array in [0, 1], got dtype {alpha.dtype}")
    if not 0.0 <= bg_threshold < fg_threshold <= 1.0:
        raise ValueError(
            f"thresholds must satisfy 0 <= bg_threshold < fg_threshold <= 1, "
            f"got bg_threshold={bg_threshold}, fg_threshold={fg_threshold}"
        )
    if width is None:
        lo = check_int("min_width", min_width, minimum=0)
        hi = check_int("max_width", max_width, minimum=0)
        if lo > hi:
            raise ValueError(f"min_width must be <= max_width, got {lo} > {hi}")
        if rng is None:
            raise ValueError(
                "trimap_from_alpha needs rng (a np.random.Generator) when width is None "
                "(random width), got rng=None; pass width=... for a fixed band"
            )
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
        width = int(rng.integers(lo, hi, endpoint=True))
    width = check_int("width", width, minimum=0)

    alpha = alpha.astype(np.float32, copy=False)
    fg = (alpha >= fg_threshold).astype(np.uint8)
    not_bg = (alpha > bg_threshold).astype(np.uint8)
    return _band_trimap(fg, not_bg, width)


def trimap_from_mask(mask: np.ndarray, *, width: int = 10) -> np.ndarray:
    """Make a trimap from a coarse binary foreground mask (e.g. a segmentation).

    ``trimap = 1 on erode(M, K), 0 outside dilate(M, K), 0.5 on the band between``, with ``K``
    an elliptical kernel of radius ``width``: the unknown band is about ``2 * width + 1``
    pixels wide, centred on the mask boundary. The usual way to turn a segmentation into a
    trimap for trimap-based matting (e.g. as in Deep Image Matting's user-trimap setting).

    Inputs:
        mask: (H, W) or (H, W, 1), bool or numeric; True / > 0.5 = foreground. (Note: this is
            a foreground mask, not an inpainting hole mask.)
        width: band radius in pixels (>= 0; 0 gives a trimap without unknown pixels).

    Outputs:
        (H, W) float32 trimap with values in {0, 0.5, 1}.
    """
    mask = _as_map("mask", mask)
    width = check_int("width", width, minimum=0)
    if mask.dtype != np.bool_:
        if not np.issubdtype(mask.dtype, np.number):
            raise TypeError(f"mask must be bool or numeric, got dtype {mask.dtype}")
        values = np.unique(mask)
        if not np.isin(values, (0, 1)).all():
            warnings.warn(
                f"mask is not binary (values {values[:5].tolist()}...); thresholding at 0.5",
                stacklevel=2,
            )
        mask = mask > 0.5
    if not mask.any():
        warnings.warn("mask has no foreground pixels; the trimap is all background", stacklevel=2)
    m = mask.astype(np.uint8)
    return _band_trimap(m, m, width)


# --------------------------------------------------------------------------------------------
# foreground estimation, cut-outs, compositing onto a new background
# --------------------------------------------------------------------------------------------


def _check_image_alpha(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a numpy (H, W, 3) image and a matching (H, W) / (H, W, 1) alpha."""
    for name, x in (("image", image), ("alpha", alpha)):
        _require_numpy(name, x)
        _check_float(name, x, allow_bool=name == "alpha")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3), got {image.shape}")
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[..., 0]  # (H, W, 1) -> (H, W)
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha must be (H, W) like image {image.shape}, got alpha {alpha.shape}")
    return image, alpha


def estimate_foreground(
    image: np.ndarray,
    alpha: np.ndarray,
    *,
    regularization: float = 1e-5,
    n_small_iterations: int = 10,
    n_big_iterations: int = 2,
    small_size: int = 32,
    gradient_weight: float = 1.0,
) -> np.ndarray:
    """Estimate the unpremultiplied foreground colour ``F`` from an image and its alpha.

    Solves ``I = alpha * F + (1 - alpha) * B`` for smooth ``F`` and ``B`` with the multi-level
    method of Germer et al., "Fast Multi-Level Foreground Estimation" (ICPR 2020), through
    ``pymatting.estimate_foreground_ml`` (imported here, lazily: its first import compiles with
    numba and can take a minute). The keyword arguments are pymatting's, one to one.

    Inputs:
        image: (H, W, 3) float in [0, 1].
        alpha: (H, W) or (H, W, 1) float in [0, 1], same H, W.
        regularization: smoothness weight epsilon (larger = smoother colours).
        n_small_iterations / n_big_iterations: solver iterations on small / large levels.
        small_size: side below which a level counts as small.
        gradient_weight: weight of the alpha-gradient term (larger = smoother foreground).

    Outputs:
        (H, W, 3) float32 foreground in [0, 1]; meaningful where alpha > 0.
    """
    image, alpha = _check_image_alpha(image, alpha)
    from pymatting import estimate_foreground_ml  # lazy: numba compilation on first import

    fg = estimate_foreground_ml(
        np.ascontiguousarray(image, dtype=np.float64),
        np.ascontiguousarray(alpha, dtype=np.float64),
        regularization=regularization,
        n_small_iterations=n_small_iterations,
        n_big_iterations=n_big_iterations,
        small_size=small_size,
        gradient_weight=gradient_weight,
    )
    return np.clip(fg, 0.0, 1.0).astype(np.float32)


def cutout(
    image: np.ndarray, alpha: np.ndarray, foreground: np.ndarray | None = None
) -> np.ndarray:
    """Make an RGBA cut-out: ``RGBA = concat(F, alpha)`` with unpremultiplied colour.

    Using the estimated foreground ``F`` (see :func:`estimate_foreground`) instead of the image
    removes the background colour that bleeds into semi-transparent pixels (hair, fur).

    Inputs:
        image: (H, W, 3) float in [0, 1].
        alpha: (H, W) or (H, W, 1) float in [0, 1].
        foreground: optional (H, W, 3) float in [0, 1]; its colours are used when given,
            otherwise the image's.

    Outputs:
        (H, W, 4) float32 RGBA in [0, 1] (save it with ``mattepaint.io.save_image``).
    """
    image, alpha = _check_image_alpha(image, alpha)
    rgb = image
    if foreground is not None:
        foreground, _ = _check_image_alpha(foreground, alpha)
        rgb = foreground
    return np.concatenate([rgb, alpha[..., None]], axis=2).astype(np.float32)


def parse_colour(colour: Colour) -> tuple[float, float, float]:
    """Parse a colour: a name from :data:`COLOURS`, ``"#rgb"`` / ``"#rrggbb"``, or an RGB tuple.

    Inputs:
        colour: e.g. ``"white"``, ``"#00ff00"``, ``"#0f0"``, ``(0.2, 0.4, 0.6)`` (floats in [0, 1]).

    Outputs:
        (r, g, b) floats in [0, 1].
    """
    if isinstance(colour, str):
        text = colour.strip().lower()
        if text in COLOURS:
            return COLOURS[text]
        if text.startswith("#"):
            digits = text[1:]
            if len(digits) == 3:
                digits = "".join(d * 2 for d in digits)
            if len(digits) == 6:
                try:
                    r, g, b = (int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
                    return r, g, b
                except ValueError:
                    pass
        raise ValueError(
            f"unknown colour {colour!r}: expected one of {sorted(COLOURS)}, "
            f"'checkerboard', a hex code like '#00ff00', or an (r, g, b) tuple in [0, 1]"
        )
    if isinstance(colour, (tuple, list)) and len(colour) == 3:
        try:
            rgb = tuple(float(v) for v in colour)
        except (TypeError, ValueError):
            rgb = ()
        if len(rgb) == 3 and all(0.0 <= v <= 1.0 for v in rgb):
            return rgb[0], rgb[1], rgb[2]
        raise ValueError(f"colour tuple must hold 3 floats in [0, 1], got {colour!r}")
    raise TypeError(
        f"colour must be a string or a tuple of 3 floats in [0, 1], got {type(colour).__name__}"
    )


def checkerboard(
    shape: tuple[int, int], tile: int = 16, levels: tuple[float, float] = (0.8, 0.6)
) -> np.ndarray:
    """A grey checkerboard, the usual backdrop to show transparency in a cut-out.

    ``value(y, x) = levels[((y // tile) + (x // tile)) % 2]``, the same value in R, G and B.

    Inputs:
        shape: (H, W) of the output (extra trailing dims are ignored, so ``image.shape`` works).
        tile: side of a square in pixels (>= 1).
        levels: the two grey levels in [0, 1], the first at the top-left corner.

    Outputs:
        (H, W, 3) float32 in [0, 1].
    """
    if len(shape) < 2:
        raise ValueError(f"shape must be (H, W), got {shape!r}")
    h, w = int(shape[0]), int(shape[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"shape must be positive, got {(h, w)}")
    if not is_int(tile) or tile < 1:
        raise ValueError(f"tile must be an int >= 1, got {tile!r}")
    parity = ((np.arange(h)[:, None] // tile) + (np.arange(w)[None, :] // tile)) % 2  # (H, W)
    grey = np.where(parity == 0, levels[0], levels[1]).astype(np.float32)
    return np.repeat(grey[..., None], 3, axis=2)  # (H, W) -> (H, W, 3)


def composite_onto(
    foreground: np.ndarray,
    alpha: np.ndarray,
    background: np.ndarray | Colour,
) -> np.ndarray:
    """Composite a foreground over a new background image, a plain colour or a checkerboard.

    ``C = alpha * F + (1 - alpha) * B`` (Porter & Duff 1984), with ``B`` the background image,
    a constant colour, or :func:`checkerboard` (tile 16) when ``background == "checkerboard"``.

    Inputs:
        foreground: (H, W, 3) float in [0, 1], unpremultiplied (e.g. from
            :func:`estimate_foreground`).
        alpha: (H, W) or (H, W, 1) float in [0, 1].
        background: (H, W, 3) float array; or a colour accepted by :func:`parse_colour`
            (``"white"``, ``"#00ff00"``, ``(0.1, 0.2, 0.3)``...); or ``"checkerboard"``.

    Outputs:
        (H, W, 3) float32 in [0, 1].
    """
    foreground, alpha = _check_image_alpha(foreground, alpha)
    h, w = alpha.shape
    if isinstance(background, np.ndarray):
        _check_float("background", background)
        if background.shape != foreground.shape:
            raise ValueError(
                f"background must be (H, W, 3) like foreground {foreground.shape}, "
                f"got background {background.shape}"
            )
        bg = background.astype(np.float32, copy=False)
    elif isinstance(background, torch.Tensor):
        raise TypeError("background must be a numpy array or a colour, got a torch tensor")
    elif isinstance(background, str) and background.strip().lower() == "checkerboard":
        bg = checkerboard((h, w))
    else:
        bg = np.empty((h, w, 3), np.float32)
        bg[...] = np.asarray(parse_colour(background), np.float32)
    out = composite(foreground.astype(np.float32, copy=False), bg, alpha.astype(np.float32))
    return out.astype(np.float32, copy=False)
