"""Tests of the method registry (mattepaint.methods) and of every registered method's contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mattepaint import methods
from mattepaint.methods import (
    Inpainter,
    Matter,
    MatteResult,
    get_inpainter,
    get_matter,
    inpainter_names,
    matter_names,
    register_inpainter,
)

CLASSICAL_INPAINTERS = {"telea", "ns", "biharmonic"}
CLASSICAL_MATTERS = {"closed_form", "knn", "lkm", "background_difference"}


def test_names_include_classical_methods() -> None:
    assert CLASSICAL_INPAINTERS <= set(inpainter_names())
    assert CLASSICAL_MATTERS <= set(matter_names())
    assert inpainter_names() == sorted(inpainter_names())
    assert matter_names() == sorted(matter_names())


def test_unknown_inpainter_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown inpainting method 'teleaa'") as info:
        get_inpainter("teleaa")
    message = str(info.value)
    assert "did you mean 'telea'?" in message
    for name in inpainter_names():
        assert name in message


def test_unknown_matter_lists_valid_names() -> None:
    with pytest.raises(ValueError, match="unknown matting method 'grabcut'") as info:
        get_matter("grabcut")
    message = str(info.value)
    assert "valid names: " + ", ".join(matter_names()) in message


def test_bad_option_names_raise_value_error() -> None:
    with pytest.raises(ValueError, match="bad options for inpainting method 'telea'.*radiu"):
        get_inpainter("telea", radiu=3)
    with pytest.raises(ValueError, match="bad options for matting method 'closed_form'.*eps"):
        get_matter("closed_form", eps=1e-5)
    with pytest.raises(ValueError, match="bad options for inpainting method 'telea'"):
        get_inpainter("telea", radius="3")  # a TypeError from the method becomes a ValueError


def test_bad_option_values_raise_value_error() -> None:
    with pytest.raises(ValueError, match="radius must be an int >= 1, got 0"):
        get_inpainter("ns", radius=0)
    with pytest.raises(ValueError, match="need 0 <= low < high"):
        get_matter("background_difference", low=0.5, high=0.1)


def test_options_reach_the_method() -> None:
    assert get_inpainter("telea", radius=7).radius == 7  # type: ignore[attr-defined]
    matter = get_matter("lkm", radius=5, foreground=False)
    assert matter.radius == 5 and matter.foreground is False  # type: ignore[attr-defined]


def test_duplicate_registration_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    get_inpainter("telea")  # make sure the built-in methods are registered first
    monkeypatch.setattr(methods, "_INPAINTERS", dict(methods._INPAINTERS))  # restored afterwards

    @register_inpainter("copy_input")
    class CopyInput:
        name = "copy_input"

        def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return image

    assert "copy_input" in inpainter_names()
    assert isinstance(get_inpainter("copy_input"), CopyInput)
    with pytest.raises(ValueError, match="inpainting method 'copy_input' is already registered"):
        register_inpainter("copy_input")(CopyInput)


@pytest.mark.parametrize("name", sorted(CLASSICAL_INPAINTERS))
def test_every_inpainter_contract(name: str, rng: np.random.Generator) -> None:
    image = torch.from_numpy(rng.random((2, 3, 20, 24), dtype=np.float32))
    mask = torch.zeros(2, 1, 20, 24)
    mask[0, :, 5:10, 6:12] = 1
    mask[1, :, 12:16, 2:20] = 1
    inpainter = get_inpainter(name)
    assert isinstance(inpainter, Inpainter) and inpainter.name == name
    out = inpainter(image, mask)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    keep = (mask < 0.5).expand_as(image)
    assert torch.equal(out[keep], image[keep])
    assert not torch.equal(out[~keep], image[~keep])  # the hole was filled with something new


@pytest.mark.parametrize("name", sorted(CLASSICAL_MATTERS))
def test_every_matter_contract(name: str, rng: np.random.Generator) -> None:
    image = torch.from_numpy(rng.random((1, 3, 44, 44), dtype=np.float32))
    trimap = torch.zeros(1, 1, 44, 44)
    trimap[..., 10:34, 10:34] = 0.5
    trimap[..., 16:28, 16:28] = 1.0
    background = torch.from_numpy(rng.random((1, 3, 44, 44), dtype=np.float32))
    matter = get_matter(name)
    assert isinstance(matter, Matter) and matter.name == name
    assert matter.needs in ("trimap", "background", "nothing")
    inputs = {"trimap": {"trimap": trimap}, "background": {"background": background}}
    result = matter(image, **inputs.get(matter.needs, {}))
    assert isinstance(result, MatteResult)
    assert result.alpha.shape == (1, 1, 44, 44) and result.alpha.dtype == torch.float32
    assert torch.isfinite(result.alpha).all()
    assert result.alpha.min() >= 0 and result.alpha.max() <= 1
    if result.foreground is not None:
        assert result.foreground.shape == (1, 3, 44, 44)
        assert result.foreground.min() >= 0 and result.foreground.max() <= 1
