"""Tests of mattepaint.batch: folder / file runners for inpainting and matting.

Tiny images written into tmp_path; the matting tests use small fake methods (or the cheap
background_difference) so that pymatting, which compiles with numba, is never imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mattepaint import batch, io, methods
from mattepaint.methods import MatteResult

SIZE = 32


def _hole(size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[8:20, 10:24] = True  # 168 hole pixels
    return mask


@pytest.fixture
def inpaint_case(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """images/{a,b,c}.png (c saved as .bmp to check stem matching), masks/{a,b,c}.png."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    for stem, suffix in (("a", ".png"), ("b", ".png"), ("c", ".bmp")):
        io.save_image(images / f"{stem}{suffix}", rng.random((SIZE, SIZE, 3)).astype(np.float32))
        io.save_mask(masks / f"{stem}.png", _hole())
    return {"images": images, "masks": masks, "out": tmp_path / "out", "root": tmp_path}


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


class FillGray:
    """An Inpainter that fills every hole with 0.5 (so the result is known exactly)."""

    name = "fill_gray"

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.where(mask > 0.5, torch.full_like(image, 0.5), image)


class FakeMatter:
    """A Matter whose alpha is the trimap (or 1 where image != background), foreground 0.25."""

    def __init__(self, needs: str = "trimap", with_foreground: bool = True) -> None:
        self.name = f"fake_{needs}"
        self.needs = needs
        self.with_foreground = with_foreground

    def __call__(self, image, *, trimap=None, background=None) -> MatteResult:
        if trimap is not None:
            alpha = trimap.clone()
        elif background is not None:
            alpha = ((image - background).abs().sum(1, keepdim=True) > 0.1).float()
        else:
            alpha = torch.ones_like(image[:, :1])
        fg = torch.full_like(image, 0.25) if self.with_foreground else None
        return MatteResult(alpha=alpha, foreground=fg)


# --------------------------------------------------------------------------- inpainting


def test_inpaint_folder_matches_by_stem(inpaint_case: dict[str, Path]) -> None:
    written = batch.inpaint_folder(
        inpaint_case["images"], inpaint_case["masks"], inpaint_case["out"], progress=False
    )
    out = inpaint_case["out"]
    assert written == [out / "a.png", out / "b.png", out / "c.png"]
    hole = _hole()
    for path in written:
        source = next(inpaint_case["images"].glob(f"{path.stem}.*"))
        result, original = _pixels(path), _pixels(source)
        assert result.shape == (SIZE, SIZE, 3)
        # outside the hole the 8-bit pixels are unchanged; inside they were filled
        np.testing.assert_array_equal(result[~hole], original[~hole])
        assert not np.array_equal(result[hole], original[hole])


def test_inpaint_folder_single_mask_for_all(inpaint_case: dict[str, Path]) -> None:
    mask_file = inpaint_case["root"] / "one_mask.png"
    hole = np.zeros((SIZE, SIZE), dtype=bool)
    hole[:4, :4] = True
    io.save_mask(mask_file, hole)
    written = batch.inpaint_folder(
        inpaint_case["images"], mask_file, inpaint_case["out"], method=FillGray(), progress=False
    )
    assert len(written) == 3
    for path in written:
        pixels = _pixels(path)
        assert (pixels[:4, :4] == 128).all()  # round(0.5 * 255) = 128
        assert (pixels[hole.shape[0] // 2 :, :] != 128).any()


def test_inpaint_folder_missing_mask_listed_before_any_work(
    inpaint_case: dict[str, Path],
) -> None:
    (inpaint_case["masks"] / "b.png").unlink()
    with pytest.raises(ValueError, match=r"1 image\(s\) have no mask .*: b; add a mask"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], inpaint_case["out"], progress=False
        )
    assert not inpaint_case["out"].exists()


def test_inpaint_folder_lists_at_most_five_missing(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    for i in range(7):
        io.save_image(images / f"im{i}.png", np.zeros((SIZE, SIZE, 3), np.float32))
    masks.mkdir()
    with pytest.raises(ValueError, match=r"7 image\(s\).*im0, im1, im2, im3, im4 and 2 more"):
        batch.inpaint_folder(images, masks, tmp_path / "out", progress=False)


def test_inpaint_folder_refuses_existing_output(inpaint_case: dict[str, Path]) -> None:
    out = inpaint_case["out"]
    io.save_image(out / "b.png", np.zeros((SIZE, SIZE, 3), np.float32))
    with pytest.raises(FileExistsError, match=r"1 output file\(s\) already exist.*b\.png"):
        batch.inpaint_folder(inpaint_case["images"], inpaint_case["masks"], out, progress=False)
    # refused up front: the other outputs were not written either
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]


def test_inpaint_folder_overwrite(inpaint_case: dict[str, Path]) -> None:
    out = inpaint_case["out"]
    io.save_image(out / "b.png", np.zeros((SIZE, SIZE, 3), np.float32))
    written = batch.inpaint_folder(  # with the progress bar, as the CLI runs it
        inpaint_case["images"], inpaint_case["masks"], out, overwrite=True, progress=True
    )
    assert len(written) == 3
    assert _pixels(out / "b.png").any()  # replaced: no longer all black


def test_inpaint_folder_size_mismatch(inpaint_case: dict[str, Path]) -> None:
    io.save_mask(inpaint_case["masks"] / "c.png", _hole(48), overwrite=True)
    with pytest.raises(ValueError, match=r"c\.bmp is 32x32 but its mask c\.png is 48x48"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], inpaint_case["out"], progress=False
        )
    assert not inpaint_case["out"].exists()


def test_inpaint_folder_input_errors(inpaint_case: dict[str, Path]) -> None:
    root = inpaint_case["root"]
    with pytest.raises(FileNotFoundError, match="input folder not found"):
        batch.inpaint_folder(root / "nope", inpaint_case["masks"], root / "o", progress=False)
    with pytest.raises(FileNotFoundError, match="mask not found"):
        batch.inpaint_folder(inpaint_case["images"], root / "x.png", root / "o", progress=False)
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        batch.inpaint_folder(root / "empty", inpaint_case["masks"], root / "o", progress=False)
    with pytest.raises(ValueError, match="unknown inpainting method 'nope'"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], root / "o", method="nope",
            progress=False,
        )
    # writing the results into the image folder would replace a.png and b.png
    with pytest.raises(ValueError, match="would replace an input"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], inpaint_case["images"],
            overwrite=True, progress=False,
        )
    assert not (root / "o").exists()


def test_inpaint_folder_duplicate_stems(inpaint_case: dict[str, Path]) -> None:
    io.save_image(inpaint_case["images"] / "a.jpg", np.zeros((SIZE, SIZE, 3), np.float32))
    with pytest.raises(ValueError, match=r"same stem.*a\.jpg/a\.png"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], inpaint_case["out"], progress=False
        )


def test_inpaint_file(inpaint_case: dict[str, Path]) -> None:
    image, mask = inpaint_case["images"] / "a.png", inpaint_case["masks"] / "a.png"
    target = inpaint_case["root"] / "filled.png"
    path = batch.inpaint_file(image, mask, target, method="ns", options={"radius": 2})
    assert path == target and _pixels(target).shape == (SIZE, SIZE, 3)
    with pytest.raises(FileExistsError, match="already exist"):
        batch.inpaint_file(image, mask, target)
    batch.inpaint_file(image, mask, target, method=FillGray(), overwrite=True)
    assert (_pixels(target)[_hole()] == 128).all()
    with pytest.raises(FileNotFoundError, match="image not found"):
        batch.inpaint_file(inpaint_case["root"] / "none.png", mask, inpaint_case["root"] / "x.png")
    with pytest.raises(ValueError, match="bad options"):
        batch.inpaint_file(
            image, mask, inpaint_case["root"] / "x.png", method="telea", options={"nope": 1}
        )
    with pytest.raises(ValueError, match="belong to a named method"):  # the default is "auto"
        batch.inpaint_file(image, mask, inpaint_case["root"] / "x.png", options={"nope": 1})
    with pytest.raises(ValueError, match="only be given with a method name"):
        batch.inpaint_file(
            image, mask, inpaint_case["root"] / "x.png", method=FillGray(), options={"r": 1}
        )
    assert not (inpaint_case["root"] / "x.png").exists()


# --------------------------------------------------------------------------- matting


@pytest.fixture
def matte_case(tmp_path: Path, rng: np.random.Generator) -> dict[str, Path]:
    """images/{a,b}.png, trimaps/{a,b}.png, backgrounds/{a,b}.png, and plate.png."""
    trimap = np.zeros((SIZE, SIZE), np.float32)
    trimap[8:24, 8:24] = 0.5
    trimap[12:20, 12:20] = 1.0
    background = rng.random((SIZE, SIZE, 3)).astype(np.float32)
    for stem in "ab":
        image = background.copy()
        image[10:22, 10:22] = 0.9  # the "subject"
        io.save_image(tmp_path / "images" / f"{stem}.png", image)
        io.save_trimap(tmp_path / "trimaps" / f"{stem}.png", trimap)
        io.save_image(tmp_path / "backgrounds" / f"{stem}.png", background)
    io.save_image(tmp_path / "plate.png", background)
    return {
        "root": tmp_path,
        "images": tmp_path / "images",
        "trimaps": tmp_path / "trimaps",
        "backgrounds": tmp_path / "backgrounds",
        "plate": tmp_path / "plate.png",
        "trimap": trimap,  # type: ignore[dict-item]
    }


@pytest.fixture
def recorded_matters(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace methods.get_matter (which batch's resolver calls) by a recorder returning fakes
    with the real methods' needs."""
    names: list[str] = []
    needs = {
        "closed_form": "trimap",
        "cf_knn_sm": "trimap",
        "background_difference": "background",
        "free": "nothing",
    }

    def fake_get_matter(name: str, **options: object) -> FakeMatter:
        names.append(name)
        return FakeMatter(needs[name])

    monkeypatch.setattr(methods, "get_matter", fake_get_matter)
    return names


def test_matte_file_default_method(
    matte_case: dict[str, Path], recorded_matters: list[str]
) -> None:
    image, root = matte_case["images"] / "a.png", matte_case["root"]
    batch.matte_file(image, root / "alpha1.png", trimap=matte_case["trimaps"] / "a.png")
    batch.matte_file(image, root / "alpha2.png", background=matte_case["plate"])
    # the defaults are the shipped models of methods.AUTO_MATTERS_FOR, loaded from their files,
    # not by name: dim_matte_sm_real with a trimap, unet_matte_rgb_small with a background
    assert recorded_matters == []
    assert methods.AUTO_MATTERS_FOR["trimap"] == ("dim_matte_sm_real",)
    assert methods.AUTO_MATTERS_FOR["background"] == ("unet_matte_rgb_small",)
    for name in ("alpha1.png", "alpha2.png"):
        assert _pixels(root / name).shape[:2] == _pixels(image).shape[:2]
    # known trimap pixels are kept: the saved alpha is 0 / 255 where the trimap file is
    alpha, trimap = _pixels(root / "alpha1.png"), _pixels(matte_case["trimaps"] / "a.png")
    known = trimap != 128
    np.testing.assert_array_equal(alpha[known], trimap[known])


def test_matte_file_needs_exactly_one_input(
    matte_case: dict[str, Path], recorded_matters: list[str]
) -> None:
    image, root = matte_case["images"] / "a.png", matte_case["root"]
    with pytest.raises(ValueError, match="not both"):
        batch.matte_file(
            image, root / "x.png", trimap=matte_case["trimaps"] / "a.png",
            background=matte_case["plate"],
        )
    with pytest.raises(ValueError, match="give a trimap or a background"):
        batch.matte_file(image, root / "x.png")
    # named methods whose needs do not match the inputs
    with pytest.raises(ValueError, match="'fake_trimap' uses a trimap, not a background"):
        batch.matte_file(
            image, root / "x.png", trimap=matte_case["trimaps"] / "a.png",
            background=matte_case["plate"], method=FakeMatter("trimap"),
        )
    with pytest.raises(ValueError, match="'fake_background' needs a background image"):
        batch.matte_file(
            image, root / "x.png", trimap=matte_case["trimaps"] / "a.png",
            method=FakeMatter("background"),
        )
    # a method that needs nothing runs with neither
    out = batch.matte_file(image, root / "x.png", method="free")
    assert recorded_matters == ["free"] and (io.load_alpha(out["alpha"]) == 1).all()


def test_matte_file_foreground_and_cutout(matte_case: dict[str, Path]) -> None:
    root = matte_case["root"]
    outputs = batch.matte_file(
        matte_case["images"] / "a.png",
        root / "alpha.png",
        trimap=matte_case["trimaps"] / "a.png",
        method=FakeMatter("trimap"),
        foreground_path=root / "fg.png",
        cutout_path=root / "cutout.png",
    )
    assert outputs == {
        "alpha": root / "alpha.png", "foreground": root / "fg.png", "cutout": root / "cutout.png"
    }
    rgba = _pixels(root / "cutout.png")
    assert rgba.shape == (SIZE, SIZE, 4)
    np.testing.assert_array_equal(rgba[..., 3], _pixels(root / "alpha.png"))
    assert (rgba[..., :3] == 64).all()  # the method's foreground 0.25 -> round(63.75) = 64
    assert (_pixels(root / "fg.png") == 64).all()
    with pytest.raises(FileExistsError, match="already exist"):
        batch.matte_file(
            matte_case["images"] / "a.png", root / "alpha2.png",
            trimap=matte_case["trimaps"] / "a.png", method=FakeMatter(),
            cutout_path=root / "cutout.png",
        )
    assert not (root / "alpha2.png").exists()


def test_matte_file_background_difference_real(matte_case: dict[str, Path]) -> None:
    root = matte_case["root"]
    outputs = batch.matte_file(
        matte_case["images"] / "a.png", root / "alpha.png", background=matte_case["plate"],
        cutout_path=root / "cut.png", method="background_difference",
    )
    alpha = io.load_alpha(outputs["alpha"])
    assert alpha[16, 16] == 1.0 and alpha[0, 0] == 0.0  # subject found, background not
    assert _pixels(outputs["cutout"]).shape == (SIZE, SIZE, 4)


def test_matte_folder_outputs(matte_case: dict[str, Path]) -> None:
    out = matte_case["root"] / "out"
    written = batch.matte_folder(
        matte_case["images"], out, trimap_dir=matte_case["trimaps"], method=FakeMatter(),
        save_foreground=True, save_cutout=True, progress=False,
    )
    assert written == [
        {"alpha": out / f"{s}.png", "foreground": out / f"{s}_fg.png",
         "cutout": out / f"{s}_cutout.png"}
        for s in "ab"
    ]
    assert _pixels(out / "a_cutout.png").shape == (SIZE, SIZE, 4)
    assert _pixels(out / "b.png").shape == (SIZE, SIZE)
    with pytest.raises(FileExistsError, match=r"6 output file\(s\)"):
        batch.matte_folder(
            matte_case["images"], out, trimap_dir=matte_case["trimaps"], method=FakeMatter(),
            save_foreground=True, save_cutout=True, progress=False,
        )
    again = batch.matte_folder(
        matte_case["images"], out, background=matte_case["backgrounds"],
        method=FakeMatter("background", with_foreground=False), overwrite=True, progress=False,
    )
    assert [set(d) for d in again] == [{"alpha"}, {"alpha"}]


def test_matte_folder_missing_trimap(
    matte_case: dict[str, Path], recorded_matters: list[str]
) -> None:
    (matte_case["trimaps"] / "b.png").unlink()
    out = matte_case["root"] / "out"
    with pytest.raises(ValueError, match=r"no trimap of the same name .*: b; add a trimap"):
        batch.matte_folder(
            matte_case["images"], out, trimap_dir=matte_case["trimaps"], progress=False
        )
    with pytest.raises(ValueError, match="not both"):
        batch.matte_folder(
            matte_case["images"], out, trimap_dir=matte_case["images"],
            background=matte_case["plate"], progress=False,
        )
    assert not out.exists()
    # one background file for every image
    written = batch.matte_folder(
        matte_case["images"], out, background=matte_case["plate"], progress=False,
        method="background_difference",
    )
    assert recorded_matters == ["background_difference"] and len(written) == 2


def test_inpaint_folder_corrupt_image_fails_before_writing(inpaint_case: dict[str, Path]) -> None:
    # A corrupt file among good ones must stop the batch before any output is written.
    (inpaint_case["images"] / "c.bmp").write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match="cannot read image .*c.bmp"):
        batch.inpaint_folder(
            inpaint_case["images"], inpaint_case["masks"], inpaint_case["out"], progress=False
        )
    assert not inpaint_case["out"].exists() or not any(inpaint_case["out"].iterdir())
