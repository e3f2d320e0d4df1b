"""Tests for mattepaint.data.inpainting: file discovery, splits, and the deterministic dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mattepaint.data import InpaintingDataset, find_images, resize_shorter_side, split_files
from mattepaint.io import load_image, save_image
from mattepaint.masks import INPUT_TRANSFORMS

SIZES = [(48, 64), (64, 48), (40, 40), (20, 30), (50, 70), (33, 45)]  # (H, W); (20, 30) < S


def _random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    # smooth gradient + noise, so crops at different positions differ
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy / h, xx / w, (yy + xx) / (h + w)], axis=-1)
    return np.clip(0.8 * base + 0.2 * rng.random((h, w, 3)), 0, 1).astype(np.float32)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for k, (h, w) in enumerate(SIZES):
        target = folder / "sub" if k == 5 else folder
        save_image(target / f"img{k}.png", _random_image(rng, h, w))
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"")
    return folder


def _dataset(files, **overrides) -> InpaintingDataset:
    kwargs = dict(
        size=32,
        mask="rectangles",
        mask_params={"mask_ratio": 0.3},
        input_transform="hole",
        seed=7,
        train=True,
    )
    kwargs.update(overrides)
    return InpaintingDataset(files, **kwargs)


def _equal(a: dict, b: dict) -> bool:
    same = all(torch.equal(a[k], b[k]) for k in ("image", "mask", "input"))
    return same and a["index"] == b["index"]


# ----------------------------------------------------------------------------- find_images


def test_find_images_recursive_sorted(image_dir: Path) -> None:
    files = find_images([image_dir])
    assert files == sorted(files)
    assert [p.name for p in files] == [f"img{k}.png" for k in range(6)]
    assert files[-1].parent.name == "sub"


def test_find_images_not_recursive_and_single_path(image_dir: Path) -> None:
    files = find_images(image_dir, recursive=False)
    assert len(files) == 5 and all(p.parent == image_dir for p in files)


def test_find_images_several_dirs_deduplicated(image_dir: Path) -> None:
    files = find_images([image_dir, image_dir / "sub"])
    assert len(files) == 6


def test_find_images_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found: .*nowhere"):
        find_images([tmp_path / "nowhere"])


def test_find_images_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="no images .* found in .*empty"):
        find_images([tmp_path / "empty"])


def test_find_images_file_and_bad_types(image_dir: Path) -> None:
    with pytest.raises(ValueError, match="expected a folder"):
        find_images([image_dir / "img0.png"])
    with pytest.raises(ValueError, match="at least one"):
        find_images([])
    with pytest.raises(TypeError, match="str or Path"):
        find_images([3])


# ----------------------------------------------------------------------------- split_files


def test_split_files_deterministic_disjoint() -> None:
    files = [Path(f"f{i:02d}.png") for i in range(20)]
    train, val = split_files(files, 0.2, seed=3)
    assert len(val) == 4 and len(train) == 16
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(files)
    assert train == sorted(train) and val == sorted(val)
    assert split_files(list(reversed(files)), 0.2, seed=3) == (train, val)  # order-independent
    assert split_files(files, 0.2, seed=4) != (train, val)


def test_split_files_edges() -> None:
    files = [Path(f"f{i}.png") for i in range(5)]
    assert split_files(files, 0.0, seed=0) == (files, [])
    assert len(split_files(files, 0.01, seed=0)[1]) == 1  # at least one validation file
    with pytest.raises(ValueError, match="at least one for training"):
        split_files(files[:1], 0.5, seed=0)
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\)"):
        split_files(files, 1.0, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        split_files(files, 0.2, seed=-1)


# ----------------------------------------------------------------------------- resize


def test_resize_shorter_side_shapes() -> None:
    image = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    up = resize_shorter_side(image, 32)
    assert up.shape == (32, 48, 3) and up.dtype == np.float32
    assert 0 <= up.min() and up.max() <= 1
    down = resize_shorter_side(np.zeros((100, 60, 3), np.float32), 30)
    assert down.shape == (50, 30, 3)
    assert resize_shorter_side(image, 20) is image


# ----------------------------------------------------------------------------- dataset


def test_sample_shapes_and_ranges(image_dir: Path) -> None:
    ds = _dataset(find_images([image_dir]))
    assert len(ds) == 6
    for i in range(len(ds)):
        s = ds[i]
        assert s["image"].shape == (3, 32, 32) and s["input"].shape == (3, 32, 32)
        assert s["mask"].shape == (1, 32, 32)
        assert s["image"].dtype == s["mask"].dtype == s["input"].dtype == torch.float32
        assert s["index"] == i
        assert 0 <= s["image"].min() and s["image"].max() <= 1
        assert set(s["mask"].unique().tolist()) <= {0.0, 1.0}
        assert 0 < s["mask"].mean() < 1


def test_same_seed_epoch_index_identical(image_dir: Path) -> None:
    files = find_images([image_dir])
    a, b = _dataset(files), _dataset(files)
    a.set_epoch(3)
    b.set_epoch(3)
    for i in range(len(files)):
        assert _equal(a[i], b[i])
    assert _equal(a[-1], a[len(files) - 1])


def test_access_order_does_not_matter(image_dir: Path) -> None:
    files = find_images([image_dir])
    a, b = _dataset(files), _dataset(files)
    forward = [a[i] for i in range(len(files))]
    backward = [b[i] for i in reversed(range(len(files)))][::-1]
    assert all(_equal(x, y) for x, y in zip(forward, backward))
    assert _equal(a[2], forward[2])  # re-reading gives the same sample


def test_epoch_changes_crop_and_mask(image_dir: Path) -> None:
    files = find_images([image_dir])
    ds = _dataset(files)
    first = [ds[i] for i in range(len(files))]
    ds.set_epoch(1)
    second = [ds[i] for i in range(len(files))]
    assert all(not torch.equal(x["mask"], y["mask"]) for x, y in zip(first, second))
    assert any(not torch.equal(x["image"], y["image"]) for x, y in zip(first, second))
    ds.set_epoch(0)
    assert all(_equal(x, ds[i]) for i, x in enumerate(first))


def test_seed_changes_samples(image_dir: Path) -> None:
    files = find_images([image_dir])
    a, b = _dataset(files, seed=1), _dataset(files, seed=2)
    assert not torch.equal(a[0]["mask"], b[0]["mask"])


def test_train_crop_is_a_crop_of_the_image(image_dir: Path) -> None:
    files = find_images([image_dir])
    ds = _dataset(files)
    full = load_image(files[0])  # 48 x 64, no resize needed
    crop = ds[0]["image"].permute(1, 2, 0).numpy()
    found = False
    for candidate in (full, full[:, ::-1]):
        for top in range(full.shape[0] - 32 + 1):
            for left in range(full.shape[1] - 32 + 1):
                if np.array_equal(candidate[top : top + 32, left : left + 32], crop):
                    found = True
    assert found


@pytest.mark.parametrize("transform", sorted(INPUT_TRANSFORMS))
def test_input_transform_only_in_hole(image_dir: Path, transform: str) -> None:
    ds = _dataset(find_images([image_dir]), input_transform=transform)
    for i in (0, 3):
        s = ds[i]
        outside = s["mask"].expand(3, -1, -1) == 0
        assert torch.equal(s["input"][outside], s["image"][outside])
        assert not torch.equal(s["input"], s["image"])
        if transform == "hole":
            assert torch.all(s["input"][~outside] == 0)


def test_input_params_reach_the_transform(image_dir: Path) -> None:
    files = find_images([image_dir])
    a = _dataset(files, input_transform="mosaic", input_params={"unit_size": 4})
    b = _dataset(files, input_transform="mosaic", input_params={"unit_size": 12})
    assert torch.equal(a[0]["image"], b[0]["image"]) and torch.equal(a[0]["mask"], b[0]["mask"])
    assert not torch.equal(a[0]["input"], b[0]["input"])


def test_val_mode_fixed_centre_crop(image_dir: Path) -> None:
    files = find_images([image_dir])
    ds = _dataset(files, train=False)
    before = [ds[i] for i in range(len(files))]
    ds.set_epoch(5)
    assert all(_equal(x, ds[i]) for i, x in enumerate(before))
    # files[0] is 48 x 64: shorter side 48 -> 32 gives 32 x 43 (round(64 * 32 / 48) = 43),
    # centre crop columns 5..36
    expected = resize_shorter_side(load_image(files[0]), 32)
    assert expected.shape == (32, 43, 3)
    left = (43 - 32) // 2
    crop = before[0]["image"].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(crop, expected[:, left : left + 32])


def test_small_image_upscaled(image_dir: Path) -> None:
    files = find_images([image_dir])
    small = [f for f in files if f.name == "img3.png"]  # 20 x 30 < 32
    ds = _dataset(small)
    for epoch in range(3):
        ds.set_epoch(epoch)
        s = ds[0]
        assert s["image"].shape == (3, 32, 32)
        assert torch.isfinite(s["image"]).all() and 0 <= s["image"].min() and s["image"].max() <= 1


def test_dataloader_workers_match(image_dir: Path) -> None:
    files = find_images([image_dir])
    ds = _dataset(files, mask="strokes", mask_params={})
    ds.set_epoch(2)

    def batches(workers: int) -> list[dict]:
        loader = DataLoader(ds, batch_size=2, shuffle=False, num_workers=workers)
        return list(loader)

    serial, parallel = batches(0), batches(2)
    assert len(serial) == len(parallel) == 3
    for x, y in zip(serial, parallel):
        for key in ("image", "mask", "input", "index"):
            assert torch.equal(x[key], y[key])
    assert serial[0]["image"].shape == (2, 3, 32, 32)


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    ds = _dataset([bad])
    with pytest.raises(ValueError, match="broken.png"):
        ds[0]


def test_missing_image_file(tmp_path: Path) -> None:
    ds = _dataset([tmp_path / "gone.png"])
    with pytest.raises(FileNotFoundError, match="gone.png"):
        ds[0]


def test_bad_arguments(image_dir: Path) -> None:
    files = find_images([image_dir])
    with pytest.raises(ValueError, match="unknown mask generator 'nope'; valid names: .*strokes"):
        _dataset(files, mask="nope")
    with pytest.raises(TypeError, match="unexpected parameter"):
        _dataset(files, mask_params={"ratio": 0.3})
    with pytest.raises(ValueError, match="input_transform 'blur'; valid: hole, hole_ns, mosaic"):
        _dataset(files, input_transform="blur")
    with pytest.raises(ValueError, match="size must be >= 1"):
        _dataset(files, size=0)
    with pytest.raises(ValueError, match="files is empty"):
        _dataset([])
    with pytest.raises(ValueError, match="epoch must be >= 0"):
        _dataset(files).set_epoch(-1)
    with pytest.raises(IndexError, match="out of range"):
        _dataset(files)[6]


# ----------------------------------------------------------------------------- real data


def test_real_data_smoke(shared_data: Path) -> None:
    files = find_images([shared_data / "images" / "bsds500" / "train"])
    assert len(files) == 200
    train, val = split_files(files, 0.1, seed=0)
    assert len(val) == 20
    ds = _dataset(train, size=128, mask="strokes", mask_params={}, input_transform="hole_ns")
    loader = DataLoader(ds, batch_size=4, shuffle=False)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 3, 128, 128) and batch["mask"].shape == (4, 1, 128, 128)
    outside = batch["mask"].expand(-1, 3, -1, -1) == 0
    assert torch.equal(batch["input"][outside], batch["image"][outside])
    assert batch["image"].std() > 0.05  # real photos, not blank
    val_ds = _dataset(val, size=128, train=False)
    assert _equal(val_ds[0], val_ds[0])


def test_scale_range_crops_a_downsized_photo(tmp_path: Path) -> None:
    # a 128 x 128 photo at factor 0.5 becomes 64 x 64 (then no room to move a 64 crop): the
    # crop is the whole downsized photo, equal to resize_shorter_side's own (up to a flip)
    image = _random_image(np.random.default_rng(3), 128, 128)
    save_image(tmp_path / "a.png", image)
    files = [tmp_path / "a.png"]
    ds = _dataset(files, size=64, scale_range=(0.5, 0.5))
    crop = ds[0]["image"].permute(1, 2, 0).numpy()
    expected = resize_shorter_side(load_image(files[0]), 64)
    assert np.allclose(crop, expected, atol=1e-6) or np.allclose(crop, expected[:, ::-1], atol=1e-6)
    # never below the crop size; validation samples ignore it
    tiny = _dataset(files, size=64, scale_range=(0.1, 0.2))[0]["image"]
    assert tiny.shape == (3, 64, 64)
    val = _dataset(files, size=64, scale_range=(0.5, 0.5), train=False)[0]["image"]
    assert torch.equal(val, _dataset(files, size=64, train=False)[0]["image"])
    # without it the 128 px photo is cropped at native size: another picture
    plain = _dataset(files, size=64)[0]["image"]
    assert not torch.equal(plain, ds[0]["image"])
    for bad in [(0.0, 1.0), (0.9, 0.5), (1.0,), "ab"]:
        with pytest.raises((ValueError, TypeError), match="scale_range"):
            _dataset(files, size=64, scale_range=bad)
