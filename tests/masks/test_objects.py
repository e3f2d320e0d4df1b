"""Tests of the object-removal mask generator (mattepaint.masks.objects).

The shared generator tests (test_generators.py) already run ``objects`` through GENERATORS for
shape, dtype, determinism, seed dependence, odd shapes and errors; here: the silhouettes of an
RGBA folder the test writes, the dilation, the hole-ratio limit, the LaMa mix, errors.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from mattepaint.errors import InputError, InputNotFoundError
from mattepaint.masks import generate_mask, generator_params
from mattepaint.masks.objects import load_silhouettes, objects, procedural_silhouette


def _write_cutouts(folder: Path) -> None:
    """Three RGBA files (a disk, an L shape, a 16-bit tall bar), an RGB file (skipped) and a
    fully transparent RGBA file (skipped)."""
    folder.mkdir()
    disk = np.zeros((60, 80, 4), np.uint8)
    disk[..., :3] = 200
    cv2.circle(disk, (40, 30), 20, (0, 0, 255, 255), -1)
    cv2.imwrite(str(folder / "a_disk.png"), disk)
    ell = np.zeros((50, 50, 4), np.uint8)
    ell[5:45, 5:15, 3] = 255
    ell[35:45, 5:45, 3] = 255
    cv2.imwrite(str(folder / "b_ell.png"), ell)
    bar = np.zeros((90, 30, 4), np.uint16)
    bar[10:80, 10:20, 3] = 65535
    cv2.imwrite(str(folder / "c_bar.png"), bar)
    cv2.imwrite(str(folder / "d_rgb.png"), np.full((20, 20, 3), 255, np.uint8))
    cv2.imwrite(str(folder / "e_clear.png"), np.zeros((20, 20, 4), np.uint8))
    (folder / "notes.txt").write_text("not an image")


@pytest.fixture
def cutouts(tmp_path: Path) -> Path:
    folder = tmp_path / "cutouts"
    _write_cutouts(folder)
    return folder


def test_load_silhouettes_reads_alpha_and_skips_the_rest(cutouts: Path) -> None:
    shapes = load_silhouettes(cutouts)
    assert len(shapes) == 3  # the RGB, the transparent file and the text file are skipped
    disk, ell, bar = shapes
    assert disk.dtype == bool and disk.shape == (41, 41)  # cropped to the circle of radius 20
    assert ell.shape == (40, 40) and ell[0, 0] and not ell[0, -1]  # the L: column + foot
    assert bar.shape == (70, 10) and bar.all()  # 16-bit alpha
    assert not disk.flags.writeable  # the cache is shared
    assert load_silhouettes(str(cutouts)) is shapes  # loaded once


@pytest.mark.parametrize("use_folder", [False, True])
def test_shape_dtype_determinism_and_ratio(use_folder: bool, cutouts: Path) -> None:
    params = {"folder": cutouts} if use_folder else {}
    ratios = []
    for seed in range(30):
        a = objects((96, 128), np.random.default_rng(seed), **params)
        b = objects((96, 128), np.random.default_rng(seed), **params)
        assert a.shape == (96, 128) and a.dtype == bool
        assert np.array_equal(a, b)
        ratios.append(a.mean())
    assert min(ratios) > 0 and max(ratios) <= 0.6
    assert len({round(r, 6) for r in ratios}) > 20  # the masks differ from seed to seed


@pytest.mark.filterwarnings("error")  # no fallback to a last draw that breaks the limit
def test_hole_ratio_limit_is_respected() -> None:
    for seed in range(20):
        mask = objects(
            (64, 64),
            np.random.default_rng(seed),
            max_objects=3,
            max_size=0.8,
            max_hole_ratio=0.25,
            max_attempts=50,
        )
        assert 0 < mask.mean() <= 0.25


def test_dilation_grows_the_mask(cutouts: Path) -> None:
    for params in ({}, {"folder": cutouts}):
        for seed in range(5):
            masks = [
                objects(
                    (128, 128),
                    np.random.default_rng(seed),
                    min_dilation=d,
                    max_dilation=d,
                    max_hole_ratio=1.0,
                    **params,
                )
                for d in (0, 4, 12)
            ]
            for thin, thick in itertools.pairwise(masks):
                assert np.array_equal(thin & thick, thin)  # nested: the same objects, grown
                assert thick.sum() > thin.sum()


def test_folder_silhouettes_are_what_is_placed(cutouts: Path, tmp_path: Path) -> None:
    """With a one-file folder (a tall bar) and no dilation, every hole is a tall bar."""
    single = tmp_path / "single"
    single.mkdir()
    bar = np.zeros((90, 30, 4), np.uint8)
    bar[10:80, 10:20, 3] = 255
    cv2.imwrite(str(single / "bar.png"), bar)
    mask = objects(
        (200, 200),
        np.random.default_rng(3),
        folder=single,
        min_objects=1,
        max_objects=1,
        min_size=0.5,
        max_size=0.5,
        min_dilation=0,
        max_dilation=0,
        max_hole_ratio=1.0,
    )
    ys, xs = np.nonzero(mask)
    height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert height <= 100 and width <= 15 and mask.sum() == height * width  # a solid bar


def test_mix_gives_lama_masks() -> None:
    from mattepaint.masks.lama import lama_medium, lama_thick

    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    mask = objects((128, 128), rng_a, mix=1.0)
    rng_b.random()  # the mix draw
    lama = lama_thick if rng_b.random() < 0.5 else lama_medium
    assert np.array_equal(mask, lama((128, 128), rng_b))
    share = np.mean(
        [
            not np.array_equal(
                objects((64, 64), np.random.default_rng(s), mix=0.5),
                objects((64, 64), np.random.default_rng(s), mix=0.0),
            )
            for s in range(40)
        ]
    )
    assert 0.2 < share < 0.8


def test_procedural_silhouette() -> None:
    shape = procedural_silhouette(np.random.default_rng(0), size=64)
    assert shape.shape == (64, 64) and shape.dtype == bool and 0.05 < shape.mean() < 0.9
    with pytest.raises(ValueError, match="size must be >= 16"):
        procedural_silhouette(np.random.default_rng(0), size=8)


def test_registered_with_its_params(cutouts: Path) -> None:
    params = generator_params("objects")
    assert "folder" in params and "mix" in params and "max_dilation" in params
    mask = generate_mask("objects", (48, 64), np.random.default_rng(0), folder=str(cutouts))
    assert mask.shape == (48, 64) and mask.any()


def test_errors(cutouts: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputNotFoundError, match="cut-out folder not found"):
        objects((32, 32), rng, folder=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image with an alpha channel"):
        objects((32, 32), rng, folder=empty)
    with pytest.raises(TypeError, match="folder must be a path"):
        objects((32, 32), rng, folder=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_objects must be >= 2"):
        objects((32, 32), rng, min_objects=2, max_objects=1)
    with pytest.raises(ValueError, match="object size: minimum must be <= maximum"):
        objects((32, 32), rng, min_size=0.5, max_size=0.2)
    with pytest.raises(ValueError, match=r"mix must be in \[0.0, 1.0\]"):
        objects((32, 32), rng, mix=1.5)
    with pytest.raises(ValueError, match="min_dilation must be >= 0"):
        objects((32, 32), rng, min_dilation=-1)
    with pytest.warns(UserWarning, match="no draw in 2 attempts"):
        objects((32, 32), rng, min_size=1.5, max_size=2.0, max_hole_ratio=0.01, max_attempts=2)
