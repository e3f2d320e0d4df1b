"""Tests for mattepaint.data.matting (sources, composites, alphamatting) and data.procedural."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from mattepaint.compositing import composite
from mattepaint.data import matting
from mattepaint.data.inpainting import find_images
from mattepaint.data.matting import (
    AlphaMattingDataset,
    CompositeDataset,
    DIMFolderSource,
    PhotoSource,
    RealForegroundComposites,
    RGBACutoutSource,
)
from mattepaint.data.procedural import ProceduralForegrounds, make_foreground
from mattepaint.io import save_image

KEYS = ("comp", "bg", "fg", "alpha", "trimap")


def _picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([yy / h, xx / w, (yy + xx) / (h + w)], axis=-1)
    return np.clip(0.7 * base + 0.3 * rng.random((h, w, 3)), 0, 1).astype(np.float32)


def _disk_alpha(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    return np.clip((0.3 * min(h, w) - r) / 4 + 0.5, 0, 1).astype(np.float32)  # soft disk


@pytest.fixture
def backgrounds(tmp_path: Path) -> list[Path]:
    rng = np.random.default_rng(3)
    folder = tmp_path / "bg"
    for k, (h, w) in enumerate([(40, 60), (24, 30), (80, 50)]):
        save_image(folder / f"bg{k}.png", _picture(rng, h, w))
    return find_images(folder)


@pytest.fixture
def rgba_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    folder = tmp_path / "rgba"
    for k, (h, w) in enumerate([(30, 40), (50, 36)]):
        rgba = np.concatenate([_picture(rng, h, w), _disk_alpha(h, w)[..., None]], axis=-1)
        save_image(folder / f"cut{k}.png", rgba)
    save_image(folder / "opaque.jpg", _picture(rng, 20, 20))  # no alpha: skipped
    return folder


@pytest.fixture
def dim_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    root = tmp_path / "dim"
    for name, (h, w) in [("a", (32, 32)), ("b", (28, 44))]:
        save_image(root / "fg" / f"{name}.jpg", _picture(rng, h, w))
        save_image(root / "alpha" / f"{name}.png", _disk_alpha(h, w))
    save_image(root / "fg" / "lonely.png", _picture(rng, 10, 10))  # no alpha partner
    return root


def _dataset(sources, bgs, **overrides) -> CompositeDataset:
    kwargs = {"size": 32, "seed": 11, "train": True, "trimap_width": (1, 4)}
    kwargs.update(overrides)
    return CompositeDataset(sources, bgs, **kwargs)


def _same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in KEYS) and a["index"] == b["index"]


# ----------------------------------------------------------------------------- procedural


def test_procedural_deterministic_and_shapes() -> None:
    src = ProceduralForegrounds(4, size=64, seed=2)
    fg, alpha = src.load(1)
    fg2, alpha2 = ProceduralForegrounds(4, size=64, seed=2).load(1)
    assert len(src) == 4
    assert fg.shape == (64, 64, 3) and alpha.shape == (64, 64)
    assert fg.dtype == np.float32 and alpha.dtype == np.float32
    assert np.array_equal(fg, fg2) and np.array_equal(alpha, alpha2)
    assert not np.array_equal(alpha, src.load(2)[1])
    assert not np.array_equal(alpha, ProceduralForegrounds(4, size=64, seed=3).load(1)[1])
    assert 0 <= fg.min() and fg.max() <= 1 and 0 <= alpha.min() and alpha.max() <= 1
    assert np.allclose(alpha * 255, np.round(alpha * 255), atol=1e-4)  # 8-bit levels


def test_procedural_alpha_is_soft() -> None:
    src = ProceduralForegrounds(12, size=96, seed=0)
    shares = []
    for i in range(len(src)):
        alpha = src.load(i)[1]
        obj = alpha > 0
        assert obj.mean() > 0.02  # an object is there
        assert (alpha == 1).any()  # with a solid part ...
        shares.append(((alpha > 0) & (alpha < 1)).sum() / obj.sum())
    assert min(shares) > 0.05  # ... and a fractional band (strands, blur, glass)
    assert np.mean(shares) > 0.15


def test_procedural_errors() -> None:
    with pytest.raises(ValueError, match="count must be >= 1"):
        ProceduralForegrounds(0)
    with pytest.raises(TypeError, match="size must be an int"):
        ProceduralForegrounds(2, size=32.0)
    with pytest.raises(IndexError, match="out of range"):
        ProceduralForegrounds(2, size=32).load(2)
    with pytest.raises(TypeError, match="rng must be"):
        make_foreground(32, 0)


# ----------------------------------------------------------------------------- sources


def test_rgba_source(rgba_dir: Path) -> None:
    with pytest.warns(UserWarning, match="no alpha channel.*opaque.jpg"):
        src = RGBACutoutSource(rgba_dir)
    assert len(src) == 2
    fg, alpha = src.load(1)
    assert fg.shape == (50, 36, 3) and alpha.shape == (50, 36)
    np.testing.assert_allclose(alpha, np.round(_disk_alpha(50, 36) * 255) / 255, atol=1e-6)


def test_rgba_source_errors(tmp_path: Path) -> None:
    save_image(tmp_path / "flat.png", np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="no image with an alpha channel"):
        RGBACutoutSource(tmp_path)
    with pytest.raises(FileNotFoundError, match="not found"):
        RGBACutoutSource(tmp_path / "missing")


def test_dim_source(dim_dir: Path) -> None:
    with pytest.warns(UserWarning, match="lonely"):
        src = DIMFolderSource(dim_dir)
    assert len(src) == 2
    fg, alpha = src.load(1)  # "b"
    assert fg.shape == (28, 44, 3) and alpha.shape == (28, 44)
    with pytest.raises(IndexError):
        src.load(2)


def test_dim_source_errors(tmp_path: Path) -> None:
    (tmp_path / "fg").mkdir()
    with pytest.raises(FileNotFoundError, match="alpha/"):
        DIMFolderSource(tmp_path)
    (tmp_path / "alpha").mkdir()
    save_image(tmp_path / "fg" / "x.png", np.zeros((4, 4, 3), np.float32))
    save_image(tmp_path / "alpha" / "y.png", np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="same stem"):
        DIMFolderSource(tmp_path)


# ----------------------------------------------------------------------------- composites


def test_composite_dataset_sample(backgrounds: list[Path]) -> None:
    ds = _dataset([ProceduralForegrounds(3, size=48, seed=1)], backgrounds)
    assert len(ds) == 3
    sample = ds[2]
    assert sample["index"] == 2
    for key in ("comp", "bg", "fg"):
        assert sample[key].shape == (3, 32, 32) and sample[key].dtype == torch.float32
    for key in ("alpha", "trimap"):
        assert sample[key].shape == (1, 32, 32)
    for key in KEYS:
        assert 0 <= sample[key].min() and sample[key].max() <= 1
    recomposed = composite(sample["fg"][None], sample["bg"][None], sample["alpha"][None])[0]
    assert torch.allclose(sample["comp"], recomposed, atol=1e-6)
    assert set(torch.unique(sample["trimap"]).tolist()) <= {0.0, 0.5, 1.0}
    alpha, trimap = sample["alpha"], sample["trimap"]
    assert torch.all(alpha[trimap == 1] == 1) and torch.all(alpha[trimap == 0] == 0)
    assert torch.all(trimap[(alpha > 0) & (alpha < 1)] == 0.5)


def test_composite_dataset_deterministic(backgrounds: list[Path], rgba_dir: Path) -> None:
    with pytest.warns(UserWarning):
        rgba = RGBACutoutSource(rgba_dir)
    sources = [rgba, ProceduralForegrounds(2, size=40, seed=0)]
    ds = _dataset(sources, backgrounds)
    assert len(ds) == 4 and ds.locate(1) == (0, 1) and ds.locate(3) == (1, 1)
    first = [ds[i] for i in range(4)]
    again = _dataset(sources, backgrounds)
    assert all(_same(a, again[i]) for i, a in enumerate(first))  # same (seed, epoch, index)
    assert _same(ds[3], ds[-1])
    ds.set_epoch(1)
    assert not _same(first[0], ds[0])  # new epoch: new geometry / background
    other = _dataset(sources, backgrounds, seed=12)
    assert not _same(first[0], other[0])
    # order / DataLoader independent
    loader = DataLoader(_dataset(sources, backgrounds), batch_size=2, shuffle=False)
    batch = next(iter(loader))
    assert batch["comp"].shape == (2, 3, 32, 32)
    assert torch.equal(batch["alpha"][1], first[1]["alpha"])


def test_composite_dataset_val_fixed(backgrounds: list[Path]) -> None:
    src = ProceduralForegrounds(2, size=48, seed=1)
    ds = _dataset([src], backgrounds, train=False)
    a = ds[1]
    ds.set_epoch(5)
    assert _same(a, ds[1])  # validation ignores the epoch
    train = _dataset([src], backgrounds, train=True)
    assert not _same(a, train[1])


def test_composite_dataset_jitter_only_changes_fg(backgrounds: list[Path]) -> None:
    src = ProceduralForegrounds(1, size=48, seed=4)
    with_jitter = _dataset([src], backgrounds, colour_jitter=True)[0]
    without = _dataset([src], backgrounds, colour_jitter=False)[0]
    assert torch.equal(with_jitter["alpha"], without["alpha"])  # same geometry
    assert not torch.equal(with_jitter["fg"], without["fg"])


def test_composite_dataset_background_blur(backgrounds: list[Path]) -> None:
    src = ProceduralForegrounds(1, size=64, seed=4)
    sharp = _dataset([src], backgrounds, size=128, background_blur=0.0)[0]
    assert _same(sharp, _dataset([src], backgrounds, size=128)[0])  # 0 = the samples of before
    blurred = _dataset([src], backgrounds, size=128, background_blur=1.0)[0]
    assert torch.equal(blurred["alpha"], sharp["alpha"])  # same geometry
    assert torch.equal(blurred["fg"], sharp["fg"])

    def roughness(x: torch.Tensor) -> float:
        return float((x[..., 1:] - x[..., :-1]).abs().mean())

    assert roughness(blurred["bg"]) < 0.8 * roughness(sharp["bg"])  # the background lost detail
    val = _dataset([src], backgrounds, size=128, background_blur=1.0, train=False)[0]
    assert _same(
        val, _dataset([src], backgrounds, size=128, train=False)[0]
    )  # validation stays sharp
    with pytest.raises(ValueError, match="background_blur"):
        _dataset([src], backgrounds, size=128, background_blur=1.5)


def test_photo_source_is_cropped_not_composited(tmp_path: Path, backgrounds: list[Path]) -> None:
    # A photo whose red channel is its alpha: any crop / resize / flip applied to both alike
    # keeps comp's red channel equal to alpha; nothing of the backgrounds enters the sample.
    folder = tmp_path / "photos"
    rng = np.random.default_rng(6)
    for k, (h, w) in enumerate([(48, 64), (70, 40)]):
        alpha = _disk_alpha(h, w)
        photo = np.concatenate([alpha[..., None], _picture(rng, h, w)[..., 1:]], axis=-1)
        save_image(folder / f"photo{k}.png", np.concatenate([photo, alpha[..., None]], axis=-1))
    source = PhotoSource(folder)
    assert len(source) == 2 and source.composite is False and "PhotoSource" in repr(source)
    ds = _dataset([source], backgrounds, colour_jitter=False)
    for i in range(2):
        sample = ds[i]
        assert all(sample[k].shape[-2:] == (32, 32) for k in KEYS)
        assert torch.equal(sample["comp"], sample["fg"]) and torch.equal(
            sample["comp"], sample["bg"]
        )
        assert torch.allclose(sample["comp"][0], sample["alpha"][0], atol=2 / 255)
        assert 0.0 < float(sample["alpha"].mean()) < 1.0  # the subject's edge is in the crop
        unknown = sample["trimap"] == 0.5
        assert unknown.any() and set(sample["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
    mixed = _dataset([source, RGBACutoutSource(folder)], backgrounds, colour_jitter=False)
    assert torch.equal(mixed[0]["comp"], ds[0]["comp"])  # the photo source's items unchanged
    assert not torch.equal(mixed[2]["comp"], mixed[2]["bg"])  # the RGBA source's: composited
    assert len(mixed) == 4  # a photo folder can also serve as cut-outs (composited)


def test_composite_dataset_large_foreground_downscaled(backgrounds: list[Path]) -> None:
    class Big:
        def __len__(self) -> int:
            return 1

        def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return np.full((300, 200, 3), 0.5, np.float32), _disk_alpha(300, 200)

    sample = _dataset([Big()], backgrounds, train=False)[0]
    assert sample["alpha"].shape == (1, 32, 32)
    assert 0.05 < sample["alpha"].mean() < 0.95  # the object is in view
    fg_in_object = sample["fg"][:, sample["alpha"][0] > 0.01]
    assert torch.allclose(fg_in_object, torch.tensor(0.5), atol=1e-4)  # no dark fringe


def test_composite_dataset_edge_crops_show_the_edge_of_a_large_object(
    backgrounds: list[Path],
) -> None:
    class Big:  # a disk 3-6x the crop: without edge crops most samples are all foreground
        def __len__(self) -> int:
            return 1

        def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return np.full((120, 120, 3), 0.5, np.float32), _disk_alpha(120, 120)

    def edge_fraction(**kwargs: object) -> float:
        data = _dataset([Big()], backgrounds, scale_range=(3.0, 6.0), **kwargs)
        hits = 0
        for epoch in range(24):
            data.set_epoch(epoch)
            trimap = data[0]["trimap"]
            hits += bool((trimap == 0.5).any())
        return hits / 24

    assert edge_fraction(edge_crops=True) == 1.0  # every crop holds part of the edge
    assert edge_fraction(edge_crops=False) < 0.75
    # the default scale range keeps the old samples (edge_crops only acts on larger objects)
    src = ProceduralForegrounds(2, size=32)
    assert _same(_dataset([src], backgrounds)[1], _dataset([src], backgrounds, edge_crops=True)[1])


def test_composite_dataset_errors(backgrounds: list[Path]) -> None:
    src = ProceduralForegrounds(1, size=32)
    with pytest.raises(ValueError, match="sources is empty"):
        CompositeDataset([], backgrounds, size=32, seed=0)
    with pytest.raises(TypeError, match="needs __len__ and load"):
        CompositeDataset([object()], backgrounds, size=32, seed=0)
    with pytest.raises(ValueError, match="backgrounds is empty"):
        CompositeDataset([src], [], size=32, seed=0)
    with pytest.raises(TypeError, match="backgrounds must be a list"):
        CompositeDataset([src], "bg_dir", size=32, seed=0)
    with pytest.raises(ValueError, match="min <= max"):
        CompositeDataset([src], backgrounds, size=32, seed=0, trimap_width=(5, 2))
    with pytest.raises(IndexError, match="out of range"):
        CompositeDataset([src], backgrounds, size=32, seed=0)[1]
    with pytest.raises(ValueError, match="0 < low <= high"):
        CompositeDataset([src], backgrounds, size=32, seed=0, scale_range=(2.0, 1.0))
    with pytest.raises(TypeError, match="scale_range must be a pair"):
        CompositeDataset([src], backgrounds, size=32, seed=0, scale_range=1.5)
    with pytest.raises(TypeError, match="edge_crops must be a bool"):
        CompositeDataset([src], backgrounds, size=32, seed=0, edge_crops="yes")


# ----------------------------------------------------------------------------- real data


def test_real_tuxpaint_on_bsds(shared_data: Path) -> None:
    fgs = RGBACutoutSource(shared_data / "foregrounds" / "tuxpaint_photo_stamps")
    bgs = find_images(shared_data / "images" / "bsds500" / "train")
    ds = CompositeDataset([fgs], bgs, size=96, seed=0)
    assert len(ds) > 200
    sample = ds[7]
    assert sample["comp"].shape == (3, 96, 96) and sample["trimap"].shape == (1, 96, 96)
    recomposed = composite(sample["fg"][None], sample["bg"][None], sample["alpha"][None])[0]
    assert torch.allclose(sample["comp"], recomposed, atol=1e-6)
    assert sample["alpha"].max() == 1 and sample["alpha"].min() == 0


def test_real_alphamatting(shared_data: Path) -> None:
    ds = AlphaMattingDataset(shared_data / "alphamatting" / "Training")
    assert len(ds) == 27 and ds.names[0] == "GT01"
    sample = ds[0]
    h, w = sample["image"].shape[1:]
    assert sample["image"].shape[0] == 3 and (h, w) == (497, 800)
    assert sample["alpha"].shape == (1, h, w) and sample["trimap"].shape == (1, h, w)
    assert set(torch.unique(sample["trimap"]).tolist()) == {0.0, 0.5, 1.0}
    assert sample["name"] == "GT01"
    with pytest.raises(FileNotFoundError, match="Trimap9"):
        AlphaMattingDataset(shared_data / "alphamatting" / "Training", trimap="Trimap9")


def test_real_foreground_composites(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shared_data / "alphamatting" / "Training"
    bgs = find_images(shared_data / "images" / "bsds500" / "val")[:5]
    ds = RealForegroundComposites(root, bgs, seed=1, size=160, cache_dir=tmp_path)
    assert len(ds) == 27
    sample = ds[0]
    h, w = sample["alpha"].shape[1:]
    assert max(h, w) == 160 and sample["comp"].shape == (3, h, w)
    recomposed = composite(sample["fg"][None], sample["bg"][None], sample["alpha"][None])[0]
    assert torch.allclose(sample["comp"], recomposed, atol=1e-6)
    assert set(torch.unique(sample["trimap"]).tolist()) <= {0.0, 0.5, 1.0}
    assert list(tmp_path.glob("GT01_fg_*.png"))  # cached
    # a new instance reads the cache (no estimation) and gives the same sample
    again = RealForegroundComposites(root, bgs, seed=1, size=160, cache_dir=tmp_path)

    def fail(*args, **kwargs):
        raise AssertionError("estimate_foreground called despite the cache")

    monkeypatch.setattr(matting, "estimate_foreground", fail)
    assert all(torch.equal(sample[k], again[0][k]) for k in KEYS)
    other = RealForegroundComposites(root, bgs, seed=2, size=160, cache_dir=tmp_path)[0]
    assert torch.equal(other["alpha"], sample["alpha"])
    assert not torch.equal(other["bg"], sample["bg"])  # another background / crop
