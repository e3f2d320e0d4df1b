"""ONNX export (mattepaint.models.onnx_model) and onnxruntime inference through the wrappers:
the exported graph must give what PyTorch gives, at sizes other than the traced one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _model_helpers import randomize_batchnorm_statistics

from mattepaint.io import save_image, save_mask
from mattepaint.models.loading import (
    CHECKPOINT_FORMAT,
    checkpoint_task,
    load_inpainter,
    load_matter,
)
from mattepaint.models.onnx_model import (
    ONNX_FORMAT,
    OnnxModel,
    export_onnx,
    read_onnx_metadata,
)
from mattepaint.models.registry import build_model


def _save(path: Path, name: str, params: dict, input_transform: str | None = None) -> Path:
    torch.manual_seed(0)
    model = randomize_batchnorm_statistics(build_model(name, **params))
    ckpt = {
        "format": CHECKPOINT_FORMAT,
        "model": {"name": name, "params": params},
        "model_state": model.state_dict(),
    }
    if input_transform is not None:
        ckpt["config"] = {"data": {"input_transform": input_transform}}
    torch.save(ckpt, path)
    return path


def _image_mask(h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, h, w, generator=g)
    mask = torch.zeros(2, 1, h, w)
    mask[0, :, 3 : h // 2, 4 : w - 3] = 1
    mask[1, :, h // 3 :, : w // 2] = 1
    return image, mask


INPAINTING = [
    ("unet_inpaint", {"base": 4, "depth": 2}, "hole"),
    ("unet_inpaint", {"base": 4, "depth": 2, "residual": True}, "hole_ns"),
    ("gated_unet", {"base": 4}, "hole"),
    ("pconv_unet", {"layout": "seed004"}, "hole"),
    ("glcic", {"base": 4}, "mosaic"),
    ("autoencoder", {"base": 4}, "hole"),
]


@pytest.mark.parametrize(("name", "params", "transform"), INPAINTING)
def test_inpainting_export_matches_torch(
    tmp_path: Path, name: str, params: dict, transform: str
) -> None:
    ckpt = _save(tmp_path / "model.pt", name, params, transform)
    onnx_path = export_onnx(ckpt, tmp_path / "model.onnx")
    meta = read_onnx_metadata(onnx_path)
    assert meta["mattepaint_format"] == ONNX_FORMAT and meta["task"] == "inpainting"
    assert meta["model_name"] == name and meta["input_transform"] == transform
    torch_inp, onnx_inp = load_inpainter(ckpt), load_inpainter(onnx_path)
    assert onnx_inp.input_transform == transform
    assert onnx_inp.size_multiple == torch_inp.size_multiple
    image, mask = _image_mask(37, 53)  # odd, not a multiple: the wrapper pads and crops
    want, got = torch_inp(image, mask), onnx_inp(image, mask)
    assert got.shape == want.shape and got.dtype == image.dtype
    assert (got - want).abs().max() < 1e-4
    assert torch.equal(got[mask.expand_as(got) == 0], image[mask.expand_as(image) == 0])
    assert checkpoint_task(onnx_path) == "inpainting"


MATTING = [
    ("unet_matte", {"base": 4, "depth": 2}),
    ("unet_matte", {"base": 4, "depth": 2, "background": "rgb", "predict_foreground": True}),
    ("trimap_matte", {"base": 4, "depth": 2}),
    ("late_fusion", {"base": 4, "depth": 2}),
    ("dim_matte", {"encoder": "scratch", "width": 4, "full_width": 4, "refine_width": 4}),
]


@pytest.mark.parametrize(("name", "params"), MATTING)
def test_matting_export_matches_torch(tmp_path: Path, name: str, params: dict) -> None:
    ckpt = _save(tmp_path / "model.pt", name, params)
    onnx_path = export_onnx(ckpt, tmp_path / "model.onnx")
    torch_matter, onnx_matter = load_matter(ckpt), load_matter(onnx_path)
    assert onnx_matter.needs == torch_matter.needs
    g = torch.Generator().manual_seed(1)
    image = torch.rand(1, 3, 29, 41, generator=g)
    trimap = torch.randint(0, 3, (1, 1, 29, 41), generator=g).float() / 2
    background = torch.rand(1, 3, 29, 41, generator=g)
    want = torch_matter(image, trimap=trimap, background=background)
    got = onnx_matter(image, trimap=trimap, background=background)
    assert (got.alpha - want.alpha).abs().max() < 1e-4
    assert (
        (got.foreground is None)
        == (want.foreground is None)
        == (not params.get("predict_foreground"))
    )
    if want.foreground is not None:
        assert (got.foreground - want.foreground).abs().max() < 1e-4
    assert read_onnx_metadata(onnx_path)["outputs"] == (
        "alpha,foreground" if want.foreground is not None else "alpha"
    )


CANNOT_EXPORT = [("deepfill_v1", {"base": 4}), ("context_encoder", {"base": 4})]
# models whose ONNX export is tested in their own test file
EXTRA_CASES = [("ffc_inpaint", "tests/models/test_ffc.py")]


def test_every_registered_model_has_an_onnx_case() -> None:
    """A model added to the registry must join one of the lists above: either its export is
    checked against PyTorch, or it is shown to fail clearly."""
    from mattepaint.models.registry import model_names

    covered = {name for name, *_ in INPAINTING + MATTING + CANNOT_EXPORT + EXTRA_CASES}
    registered = set(model_names("inpainting")) | set(model_names("matting"))
    assert registered <= covered, f"no ONNX test for {sorted(registered - covered)}"


@pytest.mark.parametrize(("name", "params"), CANNOT_EXPORT)
def test_models_that_cannot_export_fail_clearly_and_write_nothing(
    tmp_path: Path, name: str, params: dict
) -> None:
    ckpt = _save(tmp_path / "model.pt", name, params)
    with pytest.raises(ValueError, match=f"model '{name}' cannot be exported to ONNX"):
        export_onnx(ckpt, tmp_path / "model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_a_graph_that_only_works_at_the_traced_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose forward does arithmetic on Python ints from the shape traces to a graph
    with the traced size baked in; the two-size check must catch it."""
    from mattepaint.models.inpainting.unet_inpaint import UNetInpaint

    ckpt = _save(tmp_path / "model.pt", "unet_inpaint", {"base": 4, "depth": 2})
    original = UNetInpaint.forward

    def forward(self, image, mask):
        out = original(self, image, mask)
        return out * 0 + float(image.shape[-1]) / 1000  # the width, frozen by the tracer

    monkeypatch.setattr(UNetInpaint, "forward", forward)
    with pytest.raises(ValueError, match="differs from PyTorch"):
        export_onnx(ckpt, tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_export_errors(tmp_path: Path) -> None:
    ckpt = _save(tmp_path / "model.pt", "unet_inpaint", {"base": 4, "depth": 2})
    out = export_onnx(ckpt, tmp_path / "model.onnx")
    before = out.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        export_onnx(ckpt, out)
    assert out.read_bytes() == before
    assert export_onnx(ckpt, out, overwrite=True) == out
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        export_onnx(tmp_path / "missing.pt", tmp_path / "x.onnx")
    disc = _save(tmp_path / "disc.pt", "patch_discriminator", {"base": 4, "n_layers": 2})
    with pytest.raises(ValueError, match="only inpainting and matting models export"):
        export_onnx(disc, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="size must be an int >= 0"):
        export_onnx(ckpt, tmp_path / "x.onnx", size=-4)


def test_loading_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx graph")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        load_inpainter(broken)
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        load_inpainter(tmp_path / "missing.onnx")
    ckpt = _save(tmp_path / "model.pt", "unet_inpaint", {"base": 4, "depth": 2})
    onnx_path = export_onnx(ckpt, tmp_path / "model.onnx")
    with pytest.raises(ValueError, match="holds an inpainting model, not a matting model"):
        load_matter(onnx_path)
    with pytest.raises(ValueError, match="run on the CPU"):
        load_inpainter(onnx_path, device="cuda")
    import onnx  # an ONNX file from elsewhere: no mattepaint metadata

    proto = onnx.load(str(onnx_path))
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    with pytest.raises(ValueError, match="without mattepaint metadata"):
        OnnxModel(foreign)


def test_cli_export_and_inpaint_with_the_onnx_model(tmp_path: Path) -> None:
    ckpt = _save(tmp_path / "model.pt", "unet_inpaint", {"base": 4, "depth": 2}, "hole")
    image, mask = _image_mask(30, 34)
    save_image(tmp_path / "photo.png", image[0].permute(1, 2, 0).numpy())
    save_mask(tmp_path / "hole.png", mask[0, 0].numpy())
    cli = [sys.executable, "-m", "mattepaint"]
    run = subprocess.run(
        [*cli, "export", str(ckpt), "-o", str(tmp_path / "model.onnx")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "wrote" in run.stdout and (tmp_path / "model.onnx").is_file()
    for checkpoint, out in ((ckpt, "a.png"), (tmp_path / "model.onnx", "b.png")):
        run = subprocess.run(
            [
                *cli,
                "inpaint",
                str(tmp_path / "photo.png"),
                "--mask",
                str(tmp_path / "hole.png"),
                "-o",
                str(tmp_path / out),
                "--checkpoint",
                str(checkpoint),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
    from mattepaint.io import load_image

    a, b = load_image(tmp_path / "a.png"), load_image(tmp_path / "b.png")
    assert np.abs(a - b).max() <= 1 / 255  # same result up to 8-bit rounding
    run = subprocess.run(  # a model that cannot export: a one-line error, no traceback
        [
            *cli,
            "export",
            str(_save(tmp_path / "df.pt", "deepfill_v1", {"base": 4})),
            "-o",
            str(tmp_path / "df.onnx"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0 and "cannot be exported to ONNX" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "df.onnx").exists()
    # one line, not the exporter's graph dump (hundreds of lines) before it
    assert run.stdout == "" and len(run.stderr.strip().splitlines()) == 1, run.stderr[:500]
    assert "Please feel free" not in run.stderr and "graph(" not in run.stderr


def test_the_server_catalog_offers_onnx_models(tmp_path: Path) -> None:
    from mattepaint.server.catalog import MethodCatalog

    models = tmp_path / "models"
    models.mkdir()
    _save(models / "inpaint.pt", "unet_inpaint", {"base": 4, "depth": 2})
    export_onnx(models / "inpaint.pt", models / "inpaint.onnx")
    matte = _save(tmp_path / "matte.pt", "trimap_matte", {"base": 4, "depth": 2})
    export_onnx(matte, models / "matte.onnx")
    (models / "notes.txt").write_text("not a model")
    catalog = MethodCatalog(models_dir=models)
    inpainting = [n for n in catalog.inpainting_methods() if n.startswith("checkpoint:")]
    assert inpainting == ["checkpoint:inpaint.onnx", "checkpoint:inpaint.pt"]
    assert [n for n in catalog.matting_methods() if n.startswith("checkpoint:")] == [
        "checkpoint:matte.onnx"
    ]
    assert catalog.needs("checkpoint:matte.onnx") == "trimap"
    image, mask = _image_mask(20, 24)
    filled = catalog.inpainter("checkpoint:inpaint.onnx")(image, mask)
    assert filled.shape == image.shape


def test_export_from_a_model_file_carries_the_checkpoint_metadata(tmp_path: Path) -> None:
    import json

    from mattepaint.errors import InputError
    from mattepaint.models.checkpoint import WEIGHTS_FORMAT, load_checkpoint, save_model

    model = build_model("unet_inpaint", base=4, depth=2)
    config = {"data": {"input_transform": "mosaic"}}
    src = save_model(tmp_path / "m.safetensors", model, name="unet_inpaint",
                     params={"base": 4, "depth": 2}, config=config)
    out = export_onnx(src, tmp_path / "m.onnx")
    meta = read_onnx_metadata(out)
    assert meta["input_transform"] == "mosaic" and meta["source"] == "m.safetensors"
    assert load_checkpoint(src)["source"] is None  # built in Python, not exported from a file
    full = json.loads(meta["mattepaint"])  # the same metadata as the model file's header
    header = load_checkpoint(src)
    assert header["format"] == WEIGHTS_FORMAT
    for key in ("model", "task", "size_multiple", "input_transform", "config"):
        assert full[key] == header[key], key
    assert OnnxModel(out).input_transform == "mosaic"
    with pytest.raises(InputError, match=r"m.txt: an ONNX export must end in .onnx"):
        export_onnx(src, tmp_path / "m.txt")
    assert not (tmp_path / "m.txt").exists()
