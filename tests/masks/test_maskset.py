"""Tests of write_mask_set / read_manifest."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mattepaint.io import load_mask, save_mask
from mattepaint.masks import (
    DEFAULT_MASKSET_GENERATORS,
    MANIFEST_COLUMNS,
    bucket_label,
    generate_mask,
    hole_ratio_bucket,
    mask_rng,
    read_manifest,
    write_mask_set,
)

SMALL = {"count_per_generator": 3, "size": (48, 64), "progress": False}


def test_writes_masks_and_manifest(tmp_path):
    manifest = write_mask_set(tmp_path, **SMALL, seed=7)
    assert manifest == tmp_path / "manifest.csv"
    with manifest.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert (
        tuple(rows[0]) == MANIFEST_COLUMNS == ("file", "generator", "hole_ratio", "bucket", "seed")
    )
    assert len(rows) == 1 + 3 * len(DEFAULT_MASKSET_GENERATORS)
    assert rows[1][:2] == ["0000_rectangles.png", "rectangles"]
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 3 * len(DEFAULT_MASKSET_GENERATORS)
    for file, generator, ratio, bucket, seed in rows[1:]:
        mask = load_mask(tmp_path / file)
        assert mask.shape == (48, 64)
        assert ratio == f"{mask.mean():.6f}"
        k = hole_ratio_bucket(float(mask.mean()))
        assert bucket == ("" if k is None else bucket_label(k))
        assert seed == "7"
        # Each mask is reproducible from (seed, generator, index) alone.
        index = int(file[:4])
        np.testing.assert_array_equal(
            mask, generate_mask(generator, (48, 64), mask_rng(7, generator, index))
        )


def test_read_manifest(tmp_path):
    write_mask_set(tmp_path, generators=["center_square", "strokes"], **SMALL)
    rows = read_manifest(tmp_path / "manifest.csv")
    assert rows == read_manifest(tmp_path)
    assert [r["file"] for r in rows] == [
        f"{i:04d}_{g}.png" for g in ("center_square", "strokes") for i in range(3)
    ]
    first = rows[0]
    assert first["generator"] == "center_square"
    assert first["hole_ratio"] == pytest.approx(24 * 24 / (48 * 64), abs=1e-6)
    assert first["bucket"] == "0.1-0.2"
    assert first["seed"] == 0
    assert first["path"] == (tmp_path / "0000_center_square.png").resolve()


def test_deterministic_byte_identical(tmp_path):
    a = write_mask_set(tmp_path / "a", **SMALL, seed=3)
    b = write_mask_set(tmp_path / "b", **SMALL, seed=3)
    assert a.read_bytes() == b.read_bytes()
    for path in (tmp_path / "a").glob("*.png"):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    c = write_mask_set(tmp_path / "c", **SMALL, seed=4)
    assert a.read_bytes() != c.read_bytes()


def test_independent_of_generator_order(tmp_path):
    write_mask_set(tmp_path / "a", generators=["strokes", "lama_thin", "rectangles"], **SMALL)
    write_mask_set(tmp_path / "b", generators=["rectangles", "strokes"], **SMALL)
    for name in ("0002_strokes.png", "0001_rectangles.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_refuses_to_overwrite_before_writing_anything(tmp_path):
    save_mask(tmp_path / "0002_strokes.png", np.zeros((4, 4), dtype=bool))
    with pytest.raises(FileExistsError, match=r"0002_strokes\.png.*overwrite=True"):
        write_mask_set(tmp_path, generators=["rectangles", "strokes"], **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["0002_strokes.png"]
    manifest = write_mask_set(
        tmp_path, generators=["rectangles", "strokes"], overwrite=True, **SMALL
    )
    assert len(read_manifest(manifest)) == 6
    assert load_mask(tmp_path / "0002_strokes.png").shape == (48, 64)
    with pytest.raises(FileExistsError, match="already exist"):
        write_mask_set(tmp_path, generators=["rectangles", "strokes"], **SMALL)


def test_existing_manifest_alone_blocks(tmp_path):
    (tmp_path / "manifest.csv").write_text("old")
    with pytest.raises(FileExistsError, match="manifest.csv"):
        write_mask_set(tmp_path, generators=["center_square"], **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.csv"]


def test_params_and_folder_generator(tmp_path):
    source = tmp_path / "source"
    mask = np.zeros((20, 20), dtype=bool)
    mask[:5] = True
    save_mask(source / "m.png", mask)
    out = tmp_path / "out"
    manifest = write_mask_set(
        out,
        generators=["folder", "rectangles"],
        params={"folder": {"folder": source}, "rectangles": {"mask_ratio": 0.5}},
        **SMALL,
    )
    rows = read_manifest(manifest)
    assert {r["hole_ratio"] for r in rows if r["generator"] == "folder"} == {0.25}
    assert all(r["hole_ratio"] >= 0.5 for r in rows if r["generator"] == "rectangles")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"generators": ["nope"]}, ValueError, "unknown mask generator 'nope'"),
        ({"generators": "strokes"}, TypeError, "sequence of names"),
        ({"generators": []}, ValueError, "at least one"),
        ({"generators": ["strokes", "strokes"]}, ValueError, "duplicates"),
        (
            {"generators": ["strokes"], "params": {"rectangles": {}}},
            ValueError,
            "not in generators",
        ),
        (
            {"generators": ["strokes"], "params": {"strokes": {"bogus": 1}}},
            TypeError,
            "unexpected parameter",
        ),
        (
            {"generators": ["strokes"], "params": {"strokes": {"min_width": 0}}},
            ValueError,
            "min_width",
        ),
        ({"generators": ["folder"]}, TypeError, "needs parameter"),
        ({"count_per_generator": 0}, ValueError, "count_per_generator"),
        ({"seed": -1}, ValueError, "seed"),
        ({"size": (0, 10)}, ValueError, "positive"),
    ],
)
def test_errors_write_nothing(tmp_path, kwargs, error, match):
    options = {**SMALL, **kwargs}
    with pytest.raises(error, match=match):
        write_mask_set(tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_read_manifest_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="mask manifest not found"):
        read_manifest(tmp_path / "manifest.csv")
    (tmp_path / "manifest.csv").write_text("file,generator\nx.png,strokes\n")
    with pytest.raises(ValueError, match="lacks column"):
        read_manifest(tmp_path / "manifest.csv")
    (tmp_path / "manifest.csv").write_text(
        "file,generator,hole_ratio,bucket,seed\nx.png,strokes,abc,,0\n"
    )
    with pytest.raises(ValueError, match="line 2"):
        read_manifest(tmp_path)


def test_progress_bar_runs(tmp_path):
    manifest = write_mask_set(
        tmp_path, generators=["center_square"], count_per_generator=2, size=(8, 8), progress=True
    )
    assert len(read_manifest(manifest)) == 2
