"""Tests for mattepaint.server.catalog.MethodCatalog: registered methods plus checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from mattepaint.methods import inpainter_names, matter_names
from mattepaint.models import loading
from mattepaint.models.loading import CHECKPOINT_FORMAT, load_inpainter
from mattepaint.models.registry import build_model
from mattepaint.server.catalog import MethodCatalog

TINY = {"base": 4, "depth": 2}


def _checkpoint(task: str = "inpainting", seed: int = 0) -> dict:
    """A minimal checkpoint dict as train/checkpoint.py writes it (see tests/models/test_loading)."""
    torch.manual_seed(seed)
    model = build_model("unet_inpaint", **TINY)
    return {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": "unet_inpaint", "params": dict(TINY)},
        "task": task,
        "model_state": model.state_dict(),
        "step": 2,
    }


def _save(path: Path, ckpt: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path


class _Stub:
    """A stand-in method object."""

    name = "stub"
    needs = "nothing"

    def __call__(self, image: torch.Tensor, mask: object = None, **kwargs: object) -> torch.Tensor:
        return image


def test_registered_methods_listed() -> None:
    catalog = MethodCatalog()
    assert catalog.inpainting_methods() == ["auto", *inpainter_names()]
    assert catalog.matting_methods() == matter_names()
    assert {"telea", "ns"} <= set(catalog.inpainting_methods())
    assert catalog.needs("closed_form") == "trimap"
    assert catalog.needs("background_difference") == "background"
    described = catalog.describe()
    assert described["inpainting"] == ["auto", *inpainter_names()]
    assert {"name": "closed_form", "needs": "trimap"} in described["matting"]


def test_methods_are_cached() -> None:
    catalog = MethodCatalog()
    assert catalog.inpainter("telea") is catalog.inpainter("telea")
    assert catalog.matter("closed_form") is catalog.matter("closed_form")
    assert catalog.inpainter("telea").name == "telea"


def test_unknown_names_list_the_valid_ones() -> None:
    catalog = MethodCatalog()
    with pytest.raises(ValueError, match=r"unknown inpainting method 'nope'; valid names: .*telea"):
        catalog.inpainter("nope")
    with pytest.raises(ValueError, match=r"unknown matting method 'telea'; valid names: .*knn"):
        catalog.matter("telea")
    with pytest.raises(ValueError, match="unknown matting method 'x'"):
        catalog.needs("x")


def test_checkpoints_from_flag_and_folder(tmp_path: Path) -> None:
    explicit = _save(tmp_path / "runs" / "tiny.pt", _checkpoint(seed=1))
    models = tmp_path / "models"
    _save(models / "folder_model.pt", _checkpoint(seed=2))
    (models / "notes.txt").write_text("not a checkpoint, not a .pt")
    catalog = MethodCatalog([explicit], models)
    names = catalog.inpainting_methods()
    assert names == ["auto", *inpainter_names(), "checkpoint:tiny.pt", "checkpoint:folder_model.pt"]
    assert catalog.matting_methods() == matter_names()
    assert catalog.checkpoint_path("checkpoint:tiny.pt") == explicit
    assert catalog.checkpoint_path("telea") is None
    # The catalog's model is the checkpoint's: same output as load_inpainter on the same input.
    inpainter = catalog.inpainter("checkpoint:tiny.pt")
    assert inpainter is catalog.inpainter("checkpoint:tiny.pt")
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 20, 24, generator=gen)
    mask = torch.zeros(1, 1, 20, 24)
    mask[..., 5:12, 6:15] = 1
    with torch.no_grad():
        expected = load_inpainter(explicit)(image, mask)
        got = inpainter(image, mask)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_same_file_names_are_told_apart(tmp_path: Path) -> None:
    a = _save(tmp_path / "a" / "checkpoints" / "best.pt", _checkpoint(seed=1))
    b = _save(tmp_path / "b" / "checkpoints" / "best.pt", _checkpoint(seed=2))
    catalog = MethodCatalog([a, b, a])  # a repeated file is offered once
    assert catalog.inpainting_methods()[-2:] == [
        "checkpoint:a/checkpoints/best.pt",
        "checkpoint:b/checkpoints/best.pt",
    ]


def test_folder_skips_unusable_files_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "models"
    _save(models / "good.pt", _checkpoint())
    _save(models / "matting.pt", _checkpoint(task="matting"))
    _save(models / "disc.pt", _checkpoint(task="discriminator"))
    (models / "broken.pt").write_bytes(np.random.default_rng(0).bytes(500))
    with caplog.at_level(logging.WARNING, logger="mattepaint.server.catalog"):
        catalog = MethodCatalog(models_dir=models)
    assert catalog.inpainting_methods()[-1:] == ["checkpoint:good.pt"]
    assert [n for n in catalog.matting_methods() if n.startswith("checkpoint:")] == [
        "checkpoint:matting.pt"
    ]
    skipped = "\n".join(r.getMessage() for r in caplog.records)
    assert "matting.pt" not in skipped
    assert "disc.pt" in skipped and "discriminator" in skipped
    assert "broken.pt" in skipped and "not a mattepaint checkpoint" in skipped


def test_matting_checkpoints_load_through_the_resolver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # listed by the task stored in the file; built on first use by methods.resolve_matter,
    # which loads with mattepaint.models.loading.load_matter
    path = _save(tmp_path / "m.pt", _checkpoint(task="matting"))
    loaded: list[Path] = []

    def load_matter(p: Path, device: str = "cpu") -> _Stub:
        loaded.append(Path(p))
        return _Stub()

    monkeypatch.setattr(loading, "load_matter", load_matter)
    catalog = MethodCatalog([path])
    assert catalog.matting_methods()[-1] == "checkpoint:m.pt"
    assert "checkpoint:m.pt" not in catalog.inpainting_methods()
    assert catalog.needs("checkpoint:m.pt") == "nothing"
    assert loaded == [path]


def test_explicit_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*missing.pt"):
        MethodCatalog([tmp_path / "missing.pt"])
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    with pytest.raises(ValueError, match="notes.pt is not a mattepaint checkpoint"):
        MethodCatalog([text])
    disc = _save(tmp_path / "d.pt", _checkpoint(task="discriminator"))
    with pytest.raises(ValueError, match="holds a discriminator model; only inpainting and"):
        MethodCatalog([disc])
    with pytest.raises(FileNotFoundError, match="models folder not found"):
        MethodCatalog(models_dir=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="must be a folder"):
        MethodCatalog(models_dir=text)
    with pytest.raises(TypeError, match="wrap it in a list"):
        MethodCatalog(str(disc))  # type: ignore[arg-type]


def test_extra_method_objects() -> None:
    stub = _Stub()
    catalog = MethodCatalog(inpainters={"stub": stub, "telea": stub}, matters={"stubm": stub})
    assert catalog.inpainter("stub") is stub
    assert catalog.inpainter("telea") is stub  # an extra object wins over the registry
    assert catalog.inpainting_methods().count("telea") == 1
    assert catalog.matting_methods()[-1] == "stubm" and catalog.needs("stubm") == "nothing"
    bad = _Stub()
    bad.needs = "everything"
    with pytest.raises(ValueError, match="needs in .*got 'everything'"):
        MethodCatalog(matters={"bad": bad})
