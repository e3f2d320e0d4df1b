"""Tests of the method registry (mattepaint.methods) and of every registered method's contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mattepaint import methods
from mattepaint.errors import InputError
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
CLASSICAL_MATTERS = {"closed_form", "cf_knn", "cf_knn_sm", "knn", "lkm", "rw", "lbdm", "sm", "background_difference"}


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


def test_keep_known_thresholds_a_soft_mask_at_half(rng: np.random.Generator) -> None:
    # A soft mask (e.g. a resized or feathered one): the hole is where mask > 0.5, no blending.
    image = torch.from_numpy(rng.random((2, 3, 1, 7), dtype=np.float32))
    filled = torch.from_numpy(rng.random((2, 3, 1, 7), dtype=np.float32))
    soft = torch.tensor([0.0, 1e-3, 0.25, 0.5, 0.5001, 0.75, 1.0])
    mask = soft.reshape(1, 1, 1, 7).repeat(2, 1, 1, 1)  # (2, 1, 1, 7)
    out = methods.keep_known(image, mask, filled)
    hole = torch.tensor([False, False, False, False, True, True, True]).expand_as(image)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.equal(out[hole], filled[hole])
    assert torch.equal(out[~hole], image[~hole])  # bit for bit, even under a soft mask value


# --------------------------------------------------------------------------- the resolver


class _Recorder:
    """Stands in for mattepaint.models.loading.load_inpainter / load_matter."""

    def __init__(self, result: object) -> None:
        self.result = result
        self.calls: list[tuple[Path, str]] = []

    def __call__(self, path: Path, device: str = "cpu") -> object:
        self.calls.append((Path(path), device))
        return self.result


class _FakeMatter:
    def __init__(self, needs: str, name: str = "fake") -> None:
        self.needs, self.name = needs, name

    def __call__(self, image: torch.Tensor, **inputs: object) -> MatteResult:
        return MatteResult(alpha=image[:, :1])


def test_resolve_inpainter_by_name_default_and_options() -> None:
    assert methods.default_inpainter() == methods.DEFAULT_INPAINTER == "auto"
    assert methods.resolve_inpainter("telea").name == "telea"
    ns = methods.resolve_inpainter("ns", options={"radius": 6})
    assert ns.name == "ns" and ns.radius == 6  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="unknown inpainting method 'nss'.*did you mean 'ns'"):
        methods.resolve_inpainter("nss")
    with pytest.raises(InputError, match="bad options for inpainting method 'telea'"):
        methods.resolve_inpainter("telea", options={"radiu": 3})


def test_resolve_inpainter_loads_a_file_with_the_checkpoint_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mattepaint.models import loading

    model = get_inpainter("telea")
    recorder = _Recorder(model)
    monkeypatch.setattr(loading, "load_inpainter", recorder)
    path = tmp_path / "model.safetensors"
    assert methods.resolve_inpainter(path, device="cuda") is model
    assert recorder.calls == [(path, "cuda")]
    with pytest.raises(
        InputError, match=r"options \(radius\) can only be given with a method name"
    ):
        methods.resolve_inpainter(path, options={"radius": 3})
    assert len(recorder.calls) == 1  # refused before loading
    # a str is always a name, never a file: no accidental loading of "telea.pt" from disk
    with pytest.raises(InputError, match="unknown inpainting method 'model.safetensors'"):
        methods.resolve_inpainter("model.safetensors")


def test_auto_runs_the_best_shipped_inpainter_and_falls_back_to_telea(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mattepaint.models import checkpoint

    shipped = methods.auto_inpainter()
    assert isinstance(shipped, Path) and shipped.stem == methods.AUTO_INPAINTERS[0]
    for spec in (None, "auto"):
        model = methods.resolve_inpainter(spec)
        assert model.name == f"checkpoint:{shipped.name}"
    with pytest.raises(InputError, match="options \\(radius\\) belong to a named method"):
        methods.resolve_inpainter("auto", options={"radius": 3})
    monkeypatch.setattr(checkpoint, "shipped_model_names", lambda: [])  # a wheel without weights
    assert methods.auto_inpainter() == methods.FALLBACK_INPAINTER == "telea"
    assert methods.resolve_inpainter("auto", options={"radius": 4}).name == "telea"


def test_auto_matter_is_the_classical_default_until_a_model_measures_better() -> None:
    for has_trimap, name in ((True, "cf_knn_sm"), (False, "background_difference")):
        expected = methods.auto_matter(has_trimap=has_trimap, has_background=not has_trimap)
        matter = methods.resolve_matter(
            None, has_trimap=has_trimap, has_background=not has_trimap
        )
        if isinstance(expected, str):
            assert expected == name and matter.name == name
        else:  # a shipped model listed in AUTO_MATTERS_FOR
            assert matter.name == f"checkpoint:{expected.name}"


def test_resolve_inpainter_passes_a_built_method_through() -> None:
    built = get_inpainter("telea", radius=4)
    assert methods.resolve_inpainter(built) is built
    with pytest.raises(InputError, match="not with a built method"):
        methods.resolve_inpainter(built, options={"radius": 5})
    with pytest.raises(TypeError, match="method must be a method name, a checkpoint path or an "):
        methods.resolve_inpainter(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("has_trimap", "has_background", "expected"),
    [(True, False, "cf_knn_sm"), (False, True, "background_difference")],
)
def test_default_matter_follows_the_input(
    has_trimap: bool, has_background: bool, expected: str
) -> None:
    """default_matter is the classical method for the input; resolve_matter(None) runs "auto",
    which prefers a shipped model listed in AUTO_MATTERS_FOR."""
    assert methods.default_matter(has_trimap=has_trimap, has_background=has_background) == expected
    matter = methods.resolve_matter(has_trimap=has_trimap, has_background=has_background)
    shipped = methods.AUTO_MATTERS_FOR["trimap" if has_trimap else "background"]
    assert matter.name == (f"checkpoint:{shipped[0]}.safetensors" if shipped else expected)


def test_default_matter_needs_exactly_one_input() -> None:
    with pytest.raises(InputError, match="not both"):
        methods.default_matter(has_trimap=True, has_background=True)
    with pytest.raises(InputError, match="give a trimap or a background"):
        methods.resolve_matter(has_trimap=False, has_background=False)
    with pytest.raises(InputError, match="give a trimap or a background"):
        methods.resolve_matter()  # no method and nothing said about the inputs


def test_resolve_matter_checks_what_the_method_needs() -> None:
    with pytest.raises(InputError, match="'closed_form' needs a trimap, and none was given"):
        methods.resolve_matter("closed_form", has_trimap=False, has_background=True)
    with pytest.raises(InputError, match="'background_difference' uses a background image, not"):
        methods.resolve_matter("background_difference", has_trimap=True, has_background=True)
    free = _FakeMatter("nothing")
    assert methods.resolve_matter(free, has_trimap=False, has_background=False) is free
    with pytest.raises(InputError, match="has needs='sky'"):
        methods.resolve_matter(_FakeMatter("sky"), has_trimap=True, has_background=False)
    # nothing said about the inputs: nothing checked
    assert methods.resolve_matter("closed_form").name == "closed_form"
    lkm = methods.resolve_matter("lkm", options={"radius": 5}, has_trimap=True)
    assert lkm.radius == 5  # type: ignore[attr-defined]


def test_resolve_matter_loads_a_file_with_the_checkpoint_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mattepaint.models import loading

    recorder = _Recorder(_FakeMatter("background", name="checkpoint:m.onnx"))
    monkeypatch.setattr(loading, "load_matter", recorder)
    path = tmp_path / "m.onnx"
    matter = methods.resolve_matter(path, has_trimap=False, has_background=True)
    assert matter is recorder.result and recorder.calls == [(path, "cpu")]
    with pytest.raises(InputError, match="'checkpoint:m.onnx' needs a background image"):
        methods.resolve_matter(path, has_trimap=True, has_background=False)


def test_one_default_matter_table() -> None:
    # the batch runner and the server use the methods layer's choice, not tables of their own
    import mattepaint.batch
    import mattepaint.server.services

    assert methods.DEFAULT_MATTER_FOR == {
        "trimap": "cf_knn_sm",
        "background": "background_difference",
    }
    assert not hasattr(mattepaint.batch, "DEFAULT_MATTER_FOR")
    assert not hasattr(mattepaint.server.services, "DEFAULT_MATTER_FOR")


def test_classical_methods_are_a_static_table() -> None:
    # the classical package lists its methods; it never imports the methods layer back
    import ast
    import inspect

    from mattepaint import classical

    assert CLASSICAL_INPAINTERS <= set(classical.INPAINTERS)
    assert CLASSICAL_MATTERS <= set(classical.MATTERS)
    assert set(classical.INPAINTERS) <= set(inpainter_names())  # the table is what is offered
    assert set(classical.MATTERS) <= set(matter_names())
    for name, factory in {**classical.INPAINTERS, **classical.MATTERS}.items():
        assert factory().name == name
    folder = Path(inspect.getfile(classical)).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "mattepaint.methods", path.name
            elif isinstance(node, ast.Import):
                assert all(a.name != "mattepaint.methods" for a in node.names), path.name
