"""Tests of the mask generators, all reached through GENERATORS / generate_mask."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from mattepaint.io import save_mask
from mattepaint.masks import (
    GENERATORS,
    LAMA_PRESETS,
    center_square,
    generate_mask,
    generator_params,
    random_rectangle_boxes,
    rectangle_size_limits,
    rectangles,
)

SHAPES = [(256, 256), (96, 160)]


def _inscribed_radius(mask: np.ndarray) -> float:
    """Radius of the largest disc inside the hole (padded: the image border is not a boundary)."""
    padded = np.pad(mask, 1).astype(np.uint8)
    return float(cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).max())


@pytest.fixture(scope="module")
def small_mask_folder(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("masks")
    for k, ratio in enumerate((0.05, 0.15, 0.35)):
        mask = np.zeros((64, 64), dtype=bool)
        mask.flat[: int(ratio * mask.size)] = True
        save_mask(folder / f"{k:02d}.png", np.roll(mask, 7 * k, axis=1))
    return folder


#: Generators that need parameters (tested without them only where they are given).
NEEDS_PARAMS = {"folder", "mix"}


def _params(name: str, folder) -> dict:
    if name == "folder":
        return {"folder": str(folder)}
    if name == "mix":
        return {
            "generators": [
                {"name": "rectangles"},
                {"name": "folder", "params": {"folder": str(folder)}, "weight": 2},
            ]
        }
    return {}


# ------------------------------------------------- every generator: smoke, cardinality


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_dtype_shape_nonempty(name, shape, small_mask_folder):
    mask = generate_mask(name, shape, np.random.default_rng(0), **_params(name, small_mask_folder))
    assert mask.dtype == np.bool_
    assert mask.shape == shape
    assert mask.any()
    assert not mask.all()


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_deterministic(name, small_mask_folder):
    params = _params(name, small_mask_folder)
    a = generate_mask(name, (128, 128), np.random.default_rng(123), **params)
    b = generate_mask(name, (128, 128), np.random.default_rng(123), **params)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - {"center_square"}))
def test_generator_depends_on_seed(name, small_mask_folder):
    params = _params(name, small_mask_folder)
    masks = [
        generate_mask(name, (128, 128), np.random.default_rng(s), **params).tobytes()
        for s in range(6)
    ]
    assert len(set(masks)) > 1


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - NEEDS_PARAMS))
def test_generator_small_and_odd_shapes(name):
    for shape in [(16, 16), (17, 50), (301, 33)]:
        mask = GENERATORS[name](shape, np.random.default_rng(5))
        assert mask.shape == shape and mask.dtype == np.bool_ and mask.any()


def test_generator_accepts_numpy_int_shape():
    mask = generate_mask("rectangles", (np.int64(64), np.int32(48)), np.random.default_rng(0))
    assert mask.shape == (64, 48)


# ---------------------------------------------------------------- exceptions


def test_unknown_name_lists_valid_names():
    with pytest.raises(
        ValueError, match=r"unknown mask generator 'blobs'.*center_square.*rectangles"
    ):
        generate_mask("blobs", (64, 64), np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_unknown_param_is_type_error(name, small_mask_folder):
    with pytest.raises(TypeError, match="unexpected parameter"):
        generate_mask(
            name,
            (64, 64),
            np.random.default_rng(0),
            no_such_option=1,
            **_params(name, small_mask_folder),
        )


def test_folder_needs_folder_param():
    with pytest.raises(TypeError, match=r"needs parameter\(s\) \['folder'\]"):
        generate_mask("folder", (64, 64), np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - NEEDS_PARAMS))
@pytest.mark.parametrize(
    ("shape", "error", "match"),
    [
        ((64,), ValueError, "two entries"),
        ((64, 0), ValueError, "positive"),
        ((64, -3), ValueError, "positive"),
        ((64.0, 64), TypeError, "must be an int"),
        ((True, 64), TypeError, "must be an int"),
        ("64x64", TypeError, "tuple"),
    ],
)
def test_bad_shape(name, shape, error, match):
    with pytest.raises(error, match=match):
        generate_mask(name, shape, np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - NEEDS_PARAMS))
@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_rng_must_be_generator(name, rng):
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        generate_mask(name, (64, 64), rng)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        GENERATORS[name]((64, 64), rng)


@pytest.mark.parametrize(
    ("name", "params", "error", "match"),
    [
        ("rectangles", {"mask_ratio": 0.0}, ValueError, "mask_ratio"),
        ("rectangles", {"mask_ratio": 1.5}, ValueError, "mask_ratio"),
        ("rectangles", {"mask_ratio": "a"}, TypeError, "mask_ratio"),
        ("rectangles", {"min_size": 0}, ValueError, "min_size"),
        ("rectangles", {"min_size": 65}, ValueError, "does not fit"),
        ("rectangles", {"max_iterations": 0}, ValueError, "max_iterations"),
        ("center_square", {"size": 65}, ValueError, "does not fit"),
        ("center_square", {"size": 0}, ValueError, "size"),
        ("random_square", {"size": 100}, ValueError, "does not fit"),
        ("random_square", {"jitter": -1}, ValueError, "jitter"),
        ("strokes", {"min_strokes": 4, "max_strokes": 2}, ValueError, "strokes"),
        ("strokes", {"min_width": 30, "max_width": 10}, ValueError, "brush width"),
        ("strokes", {"max_vertices": 0}, ValueError, "max_vertices"),
        ("lama_thin", {"max_width": 0}, ValueError, "max_width"),
        ("lama_thick", {"max_hole_ratio": 0.0}, ValueError, "max_hole_ratio"),
        ("lama_medium", {"boxes": "yes"}, TypeError, "boxes"),
        ("lama_medium", {"irregular_proba": 0.0, "box_proba": 0.0}, ValueError, "irregular_proba"),
    ],
)
def test_bad_param_values(name, params, error, match):
    with pytest.raises(error, match=match):
        generate_mask(name, (64, 64), np.random.default_rng(0), **params)


def test_generator_params_lists_options():
    assert "mask_ratio" in generator_params("rectangles")
    assert {"boxes", "max_boxes", "max_len"} <= set(generator_params("lama_thick"))


# ---------------------------------------------------------------- rectangles (seed 000, Listing 4)


@pytest.mark.parametrize("mask_ratio", [0.05, 0.25, 0.5])
@pytest.mark.parametrize("shape", [(256, 256), (120, 200), (40, 40)])
def test_rectangles_reach_coverage(mask_ratio, shape):
    for seed in range(5):
        mask = generate_mask(
            "rectangles", shape, np.random.default_rng(seed), mask_ratio=mask_ratio
        )
        assert mask.mean() >= mask_ratio


def test_rectangles_each_box_within_limits():
    shape = (240, 180)
    min_h, max_h, min_w, max_w = rectangle_size_limits(shape, 32)
    assert (min_h, max_h, min_w, max_w) == (32, 80, 32, 60)
    for seed in range(10):
        boxes = random_rectangle_boxes(
            shape, np.random.default_rng(seed), mask_ratio=0.3, min_size=32
        )
        painted = np.zeros(shape, dtype=bool)
        for top, left, h, w in boxes:
            assert min_h <= h <= max_h and min_w <= w <= max_w
            assert 0 <= top and top + h <= shape[0] and 0 <= left and left + w <= shape[1]
            painted[top : top + h, left : left + w] = True
        # The generator paints exactly these boxes, and stops as soon as the target is met.
        np.testing.assert_array_equal(
            painted, rectangles(shape, np.random.default_rng(seed), mask_ratio=0.3)
        )
        before_last = np.zeros(shape, dtype=bool)
        for top, left, h, w in boxes[:-1]:
            before_last[top : top + h, left : left + w] = True
        assert before_last.sum() < math.ceil(0.3 * shape[0] * shape[1])


def test_rectangles_small_image_clamps_min_size():
    assert rectangle_size_limits((64, 64)) == (21, 21, 21, 21)
    assert rectangle_size_limits((32, 96)) == (10, 10, 32, 32)
    assert rectangle_size_limits((5, 5), 2) == (1, 1, 1, 1)


def test_rectangles_max_iterations_warns():
    with pytest.warns(UserWarning, match="max_iterations=2"):
        mask = rectangles((100, 100), np.random.default_rng(0), mask_ratio=0.9, max_iterations=2)
    assert mask.mean() < 0.9


# ---------------------------------------------------------------- squares


def test_center_square_exact_position():
    mask = generate_mask("center_square", (256, 256), np.random.default_rng(0))
    expected = np.zeros((256, 256), dtype=bool)
    expected[64:192, 64:192] = True
    np.testing.assert_array_equal(mask, expected)
    mask = center_square((100, 201), np.random.default_rng(0), size=31)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (34, 64, 85, 115)
    assert mask.sum() == 31 * 31


@pytest.mark.parametrize(("size", "jitter"), [(None, None), (100, 5), (64, 0)])
def test_random_square_size_within_jitter(size, jitter):
    heights, widths = set(), set()
    for seed in range(40):
        params = {k: v for k, v in (("size", size), ("jitter", jitter)) if v is not None}
        mask = generate_mask("random_square", (256, 256), np.random.default_rng(seed), **params)
        rows, cols = np.nonzero(mask)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert mask.sum() == h * w  # one solid rectangle
        nominal = 128 if size is None else size
        spread = nominal // 8 if jitter is None else jitter
        assert nominal - spread <= h <= nominal + spread
        assert nominal - spread <= w <= nominal + spread
        heights.add(h)
        widths.add(w)
    if spread > 0:
        assert len(heights) > 1 and len(widths) > 1
    else:
        assert heights == widths == {64}


def test_random_square_positions_vary_and_reach_the_borders():
    tops = {
        np.nonzero(
            generate_mask("random_square", (64, 64), np.random.default_rng(s), size=60, jitter=2)
        )[0].min()
        for s in range(60)
    }
    assert 0 in tops and max(tops) >= 4


# ---------------------------------------------------------------- strokes (DeepFill v2)


#: One stroke of one segment.
ONE_SEGMENT = {"min_strokes": 1, "max_strokes": 1, "min_vertices": 1, "max_vertices": 1}


@pytest.mark.parametrize("width", [8, 20])
def test_strokes_brush_width(width):
    # Feature: one stroke of one segment and a fixed width is a line with round caps, whose
    # largest inscribed circle has radius about width / 2.
    for seed in range(5):
        params = {**ONE_SEGMENT, "min_width": width, "max_width": width}
        mask = generate_mask("strokes", (256, 256), np.random.default_rng(seed), **params)
        radius = _inscribed_radius(mask)
        assert width / 2 - 1.5 <= radius <= width / 2 + 1.5


def test_strokes_default_width_scales_with_image():
    def mean_radius(side):
        return np.mean(
            [
                _inscribed_radius(
                    generate_mask("strokes", (side, side), np.random.default_rng(s), **ONE_SEGMENT)
                )
                for s in range(10)
            ]
        )

    assert 1.6 < mean_radius(512) / mean_radius(128) < 6


def test_strokes_default_coverage_is_moderate():
    ratios = [
        generate_mask("strokes", (256, 256), np.random.default_rng(s)).mean() for s in range(30)
    ]
    assert 0.05 < float(np.mean(ratios)) < 0.35


# ---------------------------------------------------------------- LaMa


def test_lama_presets_match_the_reference_configs():
    # configs/data_gen/random_{thin,medium,thick}_256.yaml of advimman/lama.
    thin, medium, thick = LAMA_PRESETS["thin"], LAMA_PRESETS["medium"], LAMA_PRESETS["thick"]
    assert (thin.min_times, thin.max_times, thin.max_width, thin.max_len, thin.box_proba) == (
        4,
        50,
        10,
        40,
        0.0,
    )
    assert (medium.min_times, medium.max_times, medium.max_width, medium.max_len) == (4, 5, 50, 100)
    assert (medium.box_proba, medium.margin, medium.bbox_min_size, medium.bbox_max_size) == (
        0.3,
        0,
        10,
        50,
    )
    assert (medium.min_boxes, medium.max_boxes) == (1, 5)
    assert (thick.min_times, thick.max_times, thick.max_width, thick.max_len) == (1, 5, 100, 200)
    assert (thick.box_proba, thick.margin, thick.bbox_min_size, thick.bbox_max_size) == (
        0.3,
        10,
        30,
        150,
    )
    assert (thick.min_boxes, thick.max_boxes) == (1, 3)
    assert all(p.max_angle == 4 and p.max_hole_ratio == 0.5 for p in LAMA_PRESETS.values())


def test_lama_thin_thinner_and_smaller_than_thick():
    rng_seeds = range(40)
    thin = [
        generate_mask("lama_thin", (256, 256), np.random.default_rng(s), boxes=False)
        for s in rng_seeds
    ]
    medium = [
        generate_mask("lama_medium", (256, 256), np.random.default_rng(s), boxes=False)
        for s in rng_seeds
    ]
    thick = [
        generate_mask("lama_thick", (256, 256), np.random.default_rng(s), boxes=False)
        for s in rng_seeds
    ]
    radius = [np.mean([_inscribed_radius(m) for m in ms]) for ms in (thin, medium, thick)]
    assert radius[0] < radius[1] < radius[2]
    # Coverage: with LaMa's rejection of masks above 50 % the thin and thick presets have similar
    # mean coverage (about 0.29 and 0.28 over 400 draws); before rejection thick covers more.
    raw = {
        name: np.mean(
            [
                generate_mask(
                    name, (256, 256), np.random.default_rng(s), boxes=False, max_hole_ratio=1.0
                ).mean()
                for s in rng_seeds
            ]
        )
        for name in ("lama_thin", "lama_thick")
    }
    assert raw["lama_thin"] < raw["lama_thick"]


@pytest.mark.parametrize("name", ["lama_thin", "lama_medium", "lama_thick"])
def test_lama_respects_max_hole_ratio(name):
    for seed in range(20):
        assert generate_mask(name, (128, 128), np.random.default_rng(seed)).mean() <= 0.5


def test_lama_boxes_only_are_rectangles_inside_the_margin():
    # thick boxes at 256 px: margin 10, sides 30..149, 1..3 boxes.
    for seed in range(10):
        mask = generate_mask(
            "lama_thick", (256, 256), np.random.default_rng(seed), irregular_proba=0.0, boxes=True
        )
        assert not mask[:10].any() and not mask[-10:].any()
        assert not mask[:, :10].any() and not mask[:, -10:].any()
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
        assert 1 <= count - 1 <= 3
        for x, y, w, h, area in stats[1:]:
            assert w >= 30 and h >= 30


def test_lama_boxes_flag_for_thin():
    # thin has no boxes by default; boxes=True with irregular_proba=0 gives only boxes.
    for seed in range(5):
        mask = generate_mask(
            "lama_thin",
            (256, 256),
            np.random.default_rng(seed),
            boxes=True,
            irregular_proba=0.0,
            min_boxes=1,
            max_boxes=1,
        )
        rows, cols = np.nonzero(mask)
        assert mask.sum() == (rows.max() - rows.min() + 1) * (
            cols.max() - cols.min() + 1
        )  # one solid box


def test_lama_boxes_false_gives_no_boxes():
    # medium with boxes=False: irregular strokes only, so never a lone solid rectangle.
    for seed in range(20):
        mask = generate_mask(
            "lama_medium", (256, 256), np.random.default_rng(seed), boxes=False, max_times=4
        )
        rows, cols = np.nonzero(mask)
        assert mask.sum() < (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)


# ---------------------------------------------------------------- mix


def test_mix_picks_components_by_weight():
    spec = [{"name": "center_square"}, {"name": "rectangles", "weight": 3}]
    square = generate_mask("center_square", (64, 64), np.random.default_rng(0))
    picks = [
        np.array_equal(
            generate_mask("mix", (64, 64), np.random.default_rng(s), generators=spec), square
        )
        for s in range(400)
    ]
    assert 0.17 < np.mean(picks) < 0.33  # 1 / (1 + 3) = 0.25


def test_mix_of_one_is_that_generator_after_the_choice():
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    rng_b.choice(1, p=[1.0])  # the mix draws its choice first
    a = generate_mask("mix", (64, 64), rng_a, generators=[{"name": "strokes"}])
    np.testing.assert_array_equal(a, generate_mask("strokes", (64, 64), rng_b))


@pytest.mark.parametrize(
    ("generators", "error", "match"),
    [
        ([], ValueError, "empty"),
        ("lama_thick", TypeError, "list of"),
        ([{"params": {}}], ValueError, "needs 'name'"),
        ([{"name": "rectangles", "size": 3}], ValueError, "needs 'name'"),
        ([{"name": "rectangles", "weight": 0}], ValueError, "weight must be > 0"),
        ([{"name": "rectangles", "weight": True}], ValueError, "weight must be > 0"),
        ([{"name": "mix"}], ValueError, "another mix"),
        ([{"name": "blobs"}], ValueError, "unknown mask generator 'blobs'"),
        ([{"name": "rectangles", "params": {"nope": 1}}], TypeError, "unexpected parameter"),
        ([{"name": "folder"}], TypeError, "needs parameter"),
        (["rectangles"], TypeError, "must be a mapping"),
    ],
)
def test_mix_errors(generators, error, match):
    with pytest.raises(error, match=match):
        generate_mask("mix", (32, 32), np.random.default_rng(0), generators=generators)
