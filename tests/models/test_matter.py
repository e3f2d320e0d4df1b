"""ModelMatter (a learned matting model as a Matter) and loading.load_matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mattepaint.methods import Matter, MatteResult
from mattepaint.models.loading import CHECKPOINT_FORMAT, load_matter
from mattepaint.models.matter import ModelMatter
from mattepaint.models.registry import build_model


def _trimap(b: int, h: int, w: int) -> torch.Tensor:
    """(B, 1, H, W): background left third, unknown middle, foreground right third."""
    t = torch.full((b, 1, h, w), 0.5)
    t[..., : w // 3] = 0.0
    t[..., 2 * w // 3 :] = 1.0
    return t


def _save(path: Path, name: str, params: dict, task: str | None) -> Path:
    model = build_model(name, **params)
    ckpt = {"format": CHECKPOINT_FORMAT, "model": {"name": name, "params": params},
            "model_state": model.state_dict()}
    if task is not None:
        ckpt["task"] = task
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("size", [(13, 29), (8, 8), (3, 5)])
def test_trimap_model_odd_sizes_keep_known_regions_exact(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    matter = ModelMatter(build_model("trimap_matte", base=4, depth=2), name="t")
    assert isinstance(matter, Matter) and matter.needs == "trimap" and matter.size_multiple == 4
    h, w = size
    image, trimap = torch.rand(2, 3, h, w), _trimap(2, h, w)
    result = matter(image, trimap=trimap)
    assert isinstance(result, MatteResult)
    assert result.alpha.shape == (2, 1, h, w) and result.foreground is None
    assert torch.all(result.alpha[trimap == 0] == 0) and torch.all(result.alpha[trimap == 1] == 1)
    unknown = result.alpha[trimap == 0.5]
    assert torch.all((unknown > 0) & (unknown < 1))  # the network's sigmoid, not clamped
    assert not matter.model.training


def test_crop_equals_running_the_model_on_the_padded_input() -> None:
    torch.manual_seed(1)
    model = build_model("unet_matte", base=4, depth=2)
    matter = ModelMatter(model, name="u")
    image, bg = torch.rand(1, 3, 6, 7), torch.rand(1, 3, 6, 7)
    out = matter(image, background=bg).alpha
    # reflect padding to 8 x 8 at the bottom / right, by hand
    padded = torch.nn.functional.pad(image, (0, 1, 0, 2), mode="reflect")
    padded_bg = torch.nn.functional.pad(bg, (0, 1, 0, 2), mode="reflect")
    with torch.no_grad():
        expected = model(padded, background=padded_bg)["alpha"][..., :6, :7]
    assert torch.allclose(out, expected)


def test_foreground_when_predicted_and_dtype_kept() -> None:
    matter = ModelMatter(build_model("unet_matte", base=4, depth=2, predict_foreground=True),
                         name="u")
    image = torch.rand(1, 3, 10, 11, dtype=torch.float64)
    result = matter(image, background=torch.rand(1, 3, 10, 11, dtype=torch.float64))
    assert result.foreground is not None and result.foreground.shape == (1, 3, 10, 11)
    assert result.alpha.dtype == torch.float64 and result.foreground.dtype == torch.float64


def test_late_fusion_needs_nothing_and_ignores_extra_inputs() -> None:
    matter = ModelMatter(build_model("late_fusion", base=4, depth=2, fusion_width=4), name="lf")
    assert matter.needs == "nothing"
    image = torch.rand(1, 3, 9, 10)
    a = matter(image).alpha
    b = matter(image, trimap=_trimap(1, 9, 10)).alpha  # a trimap it does not use changes nothing
    assert a.shape == (1, 1, 9, 10) and torch.equal(a, b)


def test_input_errors() -> None:
    matter = ModelMatter(build_model("trimap_matte", base=4, depth=2), name="t")
    with pytest.raises(ValueError, match="needs a trimap"):
        matter(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match=r"trimap must be \(B, 1, H, W\)"):
        matter(torch.rand(1, 3, 8, 8), trimap=torch.rand(1, 1, 8, 9))
    with pytest.raises(TypeError, match="nn.Module"):
        ModelMatter(object(), name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model.needs"):
        ModelMatter(build_model("unet_inpaint", base=4, depth=2), name="x")


def test_load_matter(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.pt", "trimap_matte", {"base": 4, "depth": 2}, "matting")
    matter = load_matter(path)
    assert isinstance(matter, ModelMatter) and matter.name == "checkpoint:m.pt"
    assert matter.needs == "trimap"
    # no "task" entry: the registered task of the model decides
    assert load_matter(_save(tmp_path / "n.pt", "late_fusion", {"base": 4, "depth": 2}, None))


def test_load_matter_errors(tmp_path: Path) -> None:
    inpaint = _save(tmp_path / "i.pt", "unet_inpaint", {"base": 4, "depth": 2}, "inpainting")
    with pytest.raises(ValueError, match="holds an inpainting model, not a matting model"):
        load_matter(inpaint)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_matter(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a mattepaint checkpoint"):
        load_matter(tmp_path / "junk.pt")


@pytest.mark.parametrize("name", ["unet_matte", "late_fusion", "trimap_matte", "dim_matte"])
def test_channels_last_gives_what_the_plain_model_gives(name: str) -> None:
    # ModelMatter runs PyTorch models in NHWC memory order on the CPU (faster); same values
    import copy

    from _model_helpers import SMALL_PARAMS, randomize_batchnorm_statistics

    torch.manual_seed(3)
    model = randomize_batchnorm_statistics(build_model(name, **SMALL_PARAMS[name])).eval()
    plain = copy.deepcopy(model)
    matter = ModelMatter(model, name="m")
    assert matter.channels_last
    image, trimap, bg = torch.rand(2, 3, 32, 32), _trimap(2, 32, 32), torch.rand(2, 3, 32, 32)
    inputs = {"trimap": {"trimap": trimap}, "background": {"background": bg}}.get(matter.needs, {})
    result = matter(image, **inputs)
    if matter.prior is not None:  # dim_matte: the wrapper computes the classical prior
        inputs = {**inputs, "prior": matter._classical_prior(image, trimap)}
    with torch.no_grad():
        expected = plain(image, **inputs)
    alpha = expected["alpha"].clamp(0, 1)
    if matter.needs == "trimap":
        alpha = torch.where(trimap == 0, 0.0, torch.where(trimap == 1, 1.0, alpha))
    assert result.alpha.is_contiguous()
    torch.testing.assert_close(result.alpha, alpha, rtol=0, atol=1e-5)
    if result.foreground is not None:
        torch.testing.assert_close(result.foreground, expected["foreground"].clamp(0, 1),
                                   rtol=0, atol=1e-5)
