"""Tests of MaskFolder and the "folder" generator."""

from __future__ import annotations

import numpy as np
import pytest

from mattepaint.io import load_mask, save_mask
from mattepaint.masks import (
    HOLE_RATIO_BUCKETS,
    MaskFolder,
    generate_mask,
    hole_ratio_bucket,
    resize_mask,
)

# name -> hole ratio of a 100 x 100 mask (pixel counts 500, 1500, 1501, 3500, 6000, 50, 7000)
RATIOS = {"a": 0.05, "b": 0.15, "c": 0.1501, "d": 0.35, "e": 0.6, "f": 0.005, "g": 0.7}


@pytest.fixture
def folder(tmp_path):
    for name, ratio in RATIOS.items():
        mask = np.zeros((100, 100), dtype=bool)
        mask.flat[: round(ratio * mask.size)] = True
        save_mask(tmp_path / f"{name}.png", mask)
    (tmp_path / "notes.txt").write_text("not a mask")
    return tmp_path


def test_indexes_images_and_computes_ratios(folder):
    source = MaskFolder(folder)
    assert [p.name for p in source.files] == [f"{n}.png" for n in sorted(RATIOS)]
    np.testing.assert_allclose(source.ratios, [RATIOS[n] for n in sorted(RATIOS)])
    assert len(source) == len(RATIOS)


@pytest.mark.parametrize(
    ("bucket", "names"),
    [(0, ["a"]), (1, ["b", "c"]), (2, []), (3, ["d"]), (5, ["e"])],
)
def test_bucket_selection(folder, bucket, names):
    source = MaskFolder(folder, bucket=bucket)
    assert source.ratio_range == HOLE_RATIO_BUCKETS[bucket]
    assert [p.stem for p in source.selected] == names


def test_ratio_range_is_half_open(folder):
    assert [p.stem for p in MaskFolder(folder, ratio_range=(0.05, 0.15)).selected] == ["b"]
    assert [p.stem for p in MaskFolder(folder, ratio_range=(0.0, 0.05)).selected] == ["a", "f"]


def test_call_returns_resized_selected_mask(folder):
    source = MaskFolder(folder, bucket=3)
    mask = source((50, 80), np.random.default_rng(0))
    assert mask.dtype == np.bool_ and mask.shape == (50, 80)
    expected = resize_mask(load_mask(folder / "d.png"), (50, 80))
    np.testing.assert_array_equal(mask, expected)
    assert abs(mask.mean() - 0.35) < 0.02


def test_call_is_uniform_over_selection(folder):
    source = MaskFolder(folder, bucket=1)
    seen = {source((100, 100), np.random.default_rng(s)).sum() for s in range(30)}
    assert seen == {1500, 1501}


def test_same_size_is_loaded_unchanged(folder):
    mask = MaskFolder(folder, bucket=0)((100, 100), np.random.default_rng(1))
    np.testing.assert_array_equal(mask, load_mask(folder / "a.png"))


def test_resize_mask_nearest_feature():
    # Feature: 2x2 -> 4x4 nearest neighbour repeats every pixel in a 2x2 block.
    mask = np.array([[True, False], [False, True]])
    np.testing.assert_array_equal(
        resize_mask(mask, (4, 4)), np.kron(mask, np.ones((2, 2), dtype=bool))
    )
    np.testing.assert_array_equal(
        resize_mask(np.kron(mask, np.ones((3, 3), dtype=bool)), (2, 2)), mask
    )


def test_folder_generator(folder):
    a = generate_mask("folder", (64, 64), np.random.default_rng(4), folder=folder, bucket=1)
    b = generate_mask("folder", (64, 64), np.random.default_rng(4), folder=str(folder), bucket=1)
    np.testing.assert_array_equal(a, b)
    assert abs(a.mean() - 0.15) < 0.02


def test_empty_selection_raises_on_call(folder):
    source = MaskFolder(folder, bucket=2)
    assert len(source) == 0
    with pytest.raises(ValueError, match=r"no mask .* hole ratio in"):
        source((10, 10), np.random.default_rng(0))


def test_folder_errors(folder, tmp_path_factory):
    with pytest.raises(FileNotFoundError, match="mask folder not found"):
        MaskFolder(folder / "missing")
    with pytest.raises(ValueError, match="holds no image"):
        MaskFolder(tmp_path_factory.mktemp("empty"))
    with pytest.raises(ValueError, match="not both"):
        MaskFolder(folder, bucket=1, ratio_range=(0.1, 0.2))
    with pytest.raises(ValueError, match="bucket must be in 0..5"):
        MaskFolder(folder, bucket=6)
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        MaskFolder(folder, ratio_range=(0.3, 0.2))
    with pytest.raises(TypeError, match="pair"):
        MaskFolder(folder, ratio_range=0.2)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        MaskFolder(folder)((10, 10), 0)
    with pytest.raises(ValueError, match="positive"):
        MaskFolder(folder)((10, 0), np.random.default_rng(0))


@pytest.mark.shared_data
def test_nvidia_irregular_file_number_gives_bucket(shared_data):
    # The NVIDIA test masks are numbered so that file number // 2000 is the hole-ratio bucket.
    root = shared_data / "masks" / "nvidia_irregular_test"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    files = sorted(root.glob("*.png"))
    rng = np.random.default_rng(0)
    sample = [files[i] for i in rng.choice(len(files), size=36, replace=False)]
    for path in sample:
        mask = load_mask(path)
        assert mask.shape == (512, 512)
        assert hole_ratio_bucket(float(mask.mean())) == int(path.stem) // 2000, path.name


@pytest.mark.shared_data
def test_nvidia_bucket_selection(shared_data, tmp_path):
    # Copy a few real masks (two per bucket 0 and 4) and check MaskFolder selects them by ratio.
    import shutil

    root = shared_data / "masks" / "nvidia_irregular_test"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    chosen = ["00000.png", "01995.png", "08000.png", "09995.png"]
    for name in chosen:
        shutil.copy(root / name, tmp_path / name)
    assert [p.name for p in MaskFolder(tmp_path, bucket=0).selected] == chosen[:2]
    assert [p.name for p in MaskFolder(tmp_path, bucket=4).selected] == chosen[2:]
    mask = MaskFolder(tmp_path, bucket=4)((256, 256), np.random.default_rng(0))
    assert 0.39 < mask.mean() <= 0.51


def test_exclude_leaves_files_out(folder):
    source = MaskFolder(folder, exclude=["a.png", "g.png"])
    assert [p.name for p in source.files] == ["b.png", "c.png", "d.png", "e.png", "f.png"]
    seen = {
        generate_mask(
            "folder", (100, 100), np.random.default_rng(s), folder=folder, exclude=["a.png"]
        ).sum()
        for s in range(60)
    }
    assert 500 not in seen and len(seen) == len(RATIOS) - 1  # every other file, never a.png


@pytest.mark.parametrize(
    ("exclude", "error", "match"),
    [
        (["zz.png"], ValueError, "not in"),
        (["sub/a.png"], ValueError, "bare file names"),
        ("a.png", TypeError, "list of file names"),
        ([3], ValueError, "bare file names"),
    ],
)
def test_exclude_errors(folder, exclude, error, match):
    with pytest.raises(error, match=match):
        MaskFolder(folder, exclude=exclude)


def test_exclude_everything_is_an_error(folder):
    with pytest.raises(ValueError, match="holds no image"):
        MaskFolder(folder, exclude=[f"{name}.png" for name in RATIOS])
