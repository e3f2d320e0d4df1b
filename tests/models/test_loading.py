"""Tests for mattepaint.models.loading and mattepaint.models.inpainter (ModelInpainter)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _model_helpers import SMALL_PARAMS, randomize_batchnorm_statistics, training_checkpoint

from mattepaint.errors import InputError, UnsafeCheckpointError
from mattepaint.masks import mosaic
from mattepaint.methods import Inpainter
from mattepaint.models.inpainter import ModelInpainter, apply_input_transform, pad_to_multiple
from mattepaint.models.loading import (
    load_checkpoint,
    load_inpainter,
    load_model,
)
from mattepaint.models.registry import build_model, model_names

TINY = {"base": 4, "depth": 2}


def _checkpoint(
    name: str = "unet_inpaint",
    params: dict | None = None,
    task: str = "inpainting",
    input_transform: str = "hole",
    seed: int = 0,
) -> dict:
    """A checkpoint dict shaped like train/checkpoint.py's, with a freshly built model."""
    params = dict(TINY if params is None else params)
    torch.manual_seed(seed)
    model = randomize_batchnorm_statistics(build_model(name, **params))
    return training_checkpoint(
        model,
        name,
        params,
        task=task,
        input_transform=input_transform,
        rng={
            "torch": torch.get_rng_state(),
            "numpy": np.random.default_rng(seed).bit_generator.state,
        },
        step=10,
        epoch=1,
        batch_in_epoch=2,
        best={"metric": "val/psnr", "value": None},
        versions={"torch": str(torch.__version__)},
    )


def _save(tmp_path: Path, ckpt: object, name: str = "ckpt.pt") -> Path:
    path = tmp_path / name
    torch.save(ckpt, path)
    return path


def _image_and_mask(b: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, h, w, generator=gen)
    mask = torch.zeros(b, 1, h, w)
    mask[..., h // 4 : h // 2 + 3, w // 3 : w - 4] = 1.0  # one rectangular hole
    return image, mask


# ----------------------------------------------------------------------------- load_model


def test_load_model_round_trip(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    path = _save(tmp_path, ckpt)
    model, loaded = load_model(path)
    assert not model.training
    assert loaded["step"] == 10 and loaded["model"] == {"name": "unet_inpaint", "params": TINY}
    state = model.state_dict()
    assert state.keys() == ckpt["model_state"].keys()
    assert all(torch.equal(state[k], ckpt["model_state"][k]) for k in state)
    assert model.size_multiple == 4
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_load_discriminator_checkpoint(tmp_path: Path) -> None:
    ckpt = _checkpoint("patch_discriminator", {"base": 4, "n_layers": 2}, task="discriminator")
    model, _ = load_model(_save(tmp_path, ckpt))
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 1, 6, 6)


def test_load_checkpoint_with_numpy_objects_is_refused(tmp_path: Path) -> None:
    # A numpy Generator is outside torch's weights-only allow list: refused, never unpickled
    # (an old file like this converts with export --from-legacy; tests/reliability).
    ckpt = _checkpoint()
    ckpt["rng"]["generator"] = np.random.default_rng(3)
    with pytest.raises(UnsafeCheckpointError, match=r"ckpt.pt: .*needs numpy\..* --from-legacy"):
        load_checkpoint(_save(tmp_path, ckpt))


# ----------------------------------------------------------------------------- load_inpainter


def test_load_inpainter_odd_size_keeps_known_pixels(tmp_path: Path) -> None:
    path = _save(tmp_path, _checkpoint(), name="last.pt")
    inpainter = load_inpainter(path)
    assert isinstance(inpainter, Inpainter) and isinstance(inpainter, ModelInpainter)
    assert inpainter.name == "checkpoint:last.pt" and inpainter.input_transform == "hole"
    image, mask = _image_and_mask(2, 37, 45)
    out = inpainter(image, mask)
    assert out.shape == (2, 3, 37, 45) and out.dtype == image.dtype
    known = (mask == 0).expand_as(image)
    assert torch.equal(out[known], image[known])  # bit-identical outside the hole
    hole = ~known
    assert not torch.equal(out[hole], image[hole])
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_model_inpainter_matches_manual_pipeline(tmp_path: Path) -> None:
    # Independent computation: zero the hole, reflect-pad 37x45 to 40x48, run, crop, composite.
    model, _ = load_model(_save(tmp_path, _checkpoint()))
    image, mask = _image_and_mask(1, 37, 45, seed=1)
    with torch.no_grad():
        x = F.pad(image * (1 - mask), (0, 3, 0, 3), mode="reflect")  # (1, 3, 40, 48)
        m = F.pad(mask, (0, 3, 0, 3), mode="reflect")  # (1, 1, 40, 48)
        expected = model(x, m)[..., :37, :45] * mask + image * (1 - mask)
    out = ModelInpainter(model, name="m")(image, mask)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", model_names("inpainting"))
def test_model_inpainter_runs_convolutions_channels_last_with_the_same_result(name: str) -> None:
    # the wrapper converts PyTorch models to NHWC memory order on the CPU (about twice as fast);
    # every registered inpainter must give what the plain NCHW model gives
    import copy

    torch.manual_seed(0)
    model = randomize_batchnorm_statistics(build_model(name, **SMALL_PARAMS.get(name, {}))).eval()
    plain = copy.deepcopy(model)
    image, mask = _image_and_mask(2, 32, 32, seed=2)
    with torch.no_grad():
        expected = plain(image * (1 - mask), mask) * mask + image * (1 - mask)
    inpainter = ModelInpainter(model, name="m")
    assert inpainter.channels_last
    out = inpainter(image, mask)
    assert out.is_contiguous()
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)


def test_model_inpainter_eval_mode_dtype_and_tiny_images(tmp_path: Path) -> None:
    model, _ = load_model(_save(tmp_path, _checkpoint()))
    model.train()
    running = model.unet.encoder[0][1].running_mean.clone()
    inpainter = ModelInpainter(model, name="tiny")
    image, mask = _image_and_mask(1, 5, 3)  # 5x3 -> 8x4: a pad of 3 >= width 3 -> replicate
    mask[..., 2, 1] = 1.0
    out = inpainter(image.double(), mask.bool())
    assert out.shape == (1, 3, 5, 3) and out.dtype == torch.float64
    assert torch.equal(out[(mask == 0).expand_as(out)], image.double()[(mask == 0).expand_as(out)])
    assert torch.equal(model.unet.encoder[0][1].running_mean, running)  # ran in eval mode
    assert not model.training


def test_load_inpainter_uses_the_trained_input_transform(tmp_path: Path) -> None:
    path = _save(tmp_path, _checkpoint(input_transform="mosaic"))
    inpainter = load_inpainter(path)
    assert inpainter.input_transform == "mosaic"
    image, mask = _image_and_mask(1, 24, 24)
    with torch.no_grad():
        mosaic_input = apply_input_transform(image, mask, "mosaic")
        expected = inpainter.model(mosaic_input, mask) * mask + image * (1 - mask)
    torch.testing.assert_close(inpainter(image, mask), expected, rtol=0, atol=1e-6)


def test_load_inpainter_without_config_defaults_to_hole(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    del ckpt["config"]
    assert load_inpainter(_save(tmp_path, ckpt)).input_transform == "hole"


# ----------------------------------------------------------------------------- helpers


def test_apply_input_transform() -> None:
    image, mask = _image_and_mask(2, 20, 30)
    holed = apply_input_transform(image, mask, "hole")
    assert torch.equal(holed, image * (1 - mask))
    mosaicked = apply_input_transform(image, mask, "mosaic")
    for i in range(2):  # per image, the numpy transform the training data used
        expected = mosaic(image[i].permute(1, 2, 0).numpy(), mask[i, 0].numpy().astype(bool))
        np.testing.assert_array_equal(mosaicked[i].permute(1, 2, 0).numpy(), expected)
    filled = apply_input_transform(image, mask, "hole_ns")
    assert filled.shape == image.shape
    assert torch.equal(filled[(mask == 0).expand_as(image)], image[(mask == 0).expand_as(image)])
    with pytest.raises(
        ValueError,
        match="unknown input transform 'blur'; valid"
        " names: hole, hole_ns, mosaic",
    ):
        apply_input_transform(image, mask, "blur")


@pytest.mark.parametrize(
    ("h", "w", "multiple", "padded", "mode"),
    [(37, 45, 8, (40, 48), "reflect"), (32, 32, 8, (32, 32), None), (5, 3, 8, (8, 8), "replicate")],
)
def test_pad_to_multiple(h: int, w: int, multiple: int, padded: tuple, mode: str | None) -> None:
    x = torch.rand(1, 2, h, w)
    out, size = pad_to_multiple(x, multiple)
    assert size == (h, w) and out.shape[-2:] == padded
    assert torch.equal(out[..., :h, :w], x)
    if mode is not None:
        assert torch.equal(out, F.pad(x, (0, padded[1] - w, 0, padded[0] - h), mode=mode))


# ----------------------------------------------------------------------------- errors


def test_missing_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nope.pt"):
        load_model(path)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_inpainter(path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello\n" * 20)
    with pytest.raises(ValueError, match="notes.pt is not a mattepaint checkpoint"):
        load_model(text)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="noise.pt is not a mattepaint checkpoint"):
        load_inpainter(noise)
    tensor = _save(tmp_path, torch.zeros(3), "tensor.pt")
    with pytest.raises(
        ValueError,
        match="tensor.pt is not a mattepaint checkpoint:"
        " expected a dict .* got Tensor",
    ):
        load_model(tensor)
    plain = _save(tmp_path, build_model("unet_inpaint", **TINY).state_dict(), "state.pt")
    with pytest.raises(ValueError, match="state.pt is not a mattepaint checkpoint: .*with keys"):
        load_model(plain)
    other = _checkpoint()
    other["format"] = "mattepaint-checkpoint-v0"
    with pytest.raises(
        ValueError,
        match="unsupported checkpoint format"
        " 'mattepaint-checkpoint-v0'",
    ):
        load_model(_save(tmp_path, other, "old.pt"))
    broken = _checkpoint()
    del broken["model_state"]
    with pytest.raises(ValueError, match="no 'model_state' weights"):
        load_model(_save(tmp_path, broken, "broken.pt"))


def test_task_mismatch(tmp_path: Path) -> None:
    matting = _checkpoint(task="matting")
    with pytest.raises(
        ValueError,
        match=r"checkpoint .*m.pt holds a matting model,"
        r" not an inpainting model",
    ):
        load_inpainter(_save(tmp_path, matting, "m.pt"))
    disc = _checkpoint("patch_discriminator", {"base": 4}, task="discriminator")
    with pytest.raises(ValueError, match="holds a discriminator model, not an inpainting model"):
        load_inpainter(_save(tmp_path, disc, "d.pt"))


def test_weights_do_not_fit_and_unknown_model(tmp_path: Path) -> None:
    ckpt = _checkpoint()
    ckpt["model"]["params"] = {"base": 8, "depth": 2}
    with pytest.raises(
        ValueError,
        match=r"weights do not fit model 'unet_inpaint'"
        r" with params \{'base': 8",
    ):
        load_model(_save(tmp_path, ckpt, "a.pt"))
    ckpt = _checkpoint()
    ckpt["model"]["name"] = "unet_inpaint_v9"
    with pytest.raises(
        ValueError,
        match="b.pt: unknown model"
        " 'unet_inpaint_v9'.*valid names: .*unet_inpaint",
    ):
        load_model(_save(tmp_path, ckpt, "b.pt"))


def test_model_inpainter_input_errors(tmp_path: Path) -> None:
    model, _ = load_model(_save(tmp_path, _checkpoint()))
    inpainter = ModelInpainter(model, name="m")
    image, mask = _image_and_mask(1, 16, 16)
    with pytest.raises(
        ValueError,
        match=r"mask must be \(B, 1, H, W\) like image \(1, 3,"
        r" 16, 16\), got \(1, 16, 16\)",
    ):
        inpainter(image, mask[:, 0])
    with pytest.raises(TypeError, match="image and mask must be torch tensors, got ndarray"):
        inpainter(image.numpy(), mask)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown input transform 'blur'"):
        ModelInpainter(model, name="m", input_transform="blur")
    with pytest.raises(TypeError, match="model must be a torch nn.Module, got str"):
        ModelInpainter("unet", name="m")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- attention map


def test_attention_picture_of_a_deepfill_checkpoint(tmp_path: Path) -> None:
    path = _save(tmp_path, _checkpoint("deepfill_v1", {"base": 4}))
    inpainter = load_inpainter(path)
    assert inpainter.has_attention
    image, mask = _image_and_mask(1, 37, 45)  # not a multiple of size_multiple
    picture = inpainter.attention_picture(image, mask)
    assert picture.shape == (37, 45, 3) and picture.dtype == np.uint8
    with pytest.raises(ValueError, match="one image"):
        inpainter.attention_picture(*_image_and_mask(2, 32, 32))
    # one forward pass gives the fill and the same picture
    filled, picture2 = inpainter.fill_with_attention(image, mask)
    assert torch.equal(filled, inpainter(image, mask))
    assert np.array_equal(picture2, picture)


def test_attention_picture_needs_contextual_attention(tmp_path: Path) -> None:
    inpainter = load_inpainter(_save(tmp_path, _checkpoint()))
    assert not inpainter.has_attention
    with pytest.raises(ValueError, match="no contextual attention"):
        inpainter.attention_picture(*_image_and_mask(1, 32, 32))


def test_cli_writes_the_attention_map(tmp_path: Path) -> None:
    from mattepaint import io
    from mattepaint.cli import main

    ckpt = _save(tmp_path, _checkpoint("deepfill_v1", {"base": 4}))
    image, mask = _image_and_mask(1, 40, 48)
    io.save_image(tmp_path / "in.png", io.to_numpy(image))
    io.save_image(tmp_path / "mask.png", io.to_numpy(mask))
    out, att = tmp_path / "out.png", tmp_path / "att.png"
    argv = ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
            str(out), "--checkpoint", str(ckpt), "--attention-map", str(att)]
    assert main(argv) == 0
    assert io.load_image(att).shape == (40, 48, 3) and out.is_file()
    # a model without attention: an error and nothing written
    plain = _save(tmp_path, _checkpoint(), "plain.pt")
    out2, att2 = tmp_path / "out2.png", tmp_path / "att2.png"
    argv = ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
            str(out2), "--checkpoint", str(plain), "--attention-map", str(att2)]
    assert main(argv) != 0
    assert not out2.exists() and not att2.exists()
    # --attention-map without --checkpoint is a usage error
    argv = ["inpaint", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"), "-o",
            str(out2), "--attention-map", str(att2)]
    assert main(argv) != 0


def test_export_checkpoint_keeps_what_inference_needs(tmp_path: Path) -> None:
    from mattepaint.models.loading import export_checkpoint

    src = _save(tmp_path, _checkpoint())
    out = export_checkpoint(src, tmp_path / "model.safetensors")
    data = load_checkpoint(out)
    assert "optimizers" not in data and "rng" not in data and "disc_state" not in data
    assert data["config"] == _checkpoint()["config"] and data["step"] == 10
    image, mask = _image_and_mask(1, 24, 24)
    torch.testing.assert_close(load_inpainter(out)(image, mask), load_inpainter(src)(image, mask))
    with pytest.raises(InputError, match=r"x.txt: a model file must end in .safetensors"):
        export_checkpoint(src, tmp_path / "x.txt")
    assert not (tmp_path / "x.txt").exists()
    with pytest.raises(FileExistsError, match="model.safetensors already exists"):
        export_checkpoint(src, out)
    export_checkpoint(src, out, overwrite=True)


def test_export_half_stores_float16_and_loads_as_float32(tmp_path: Path) -> None:
    from safetensors import safe_open

    from mattepaint.models.loading import export_checkpoint

    src = _save(tmp_path, _checkpoint())
    full = export_checkpoint(src, tmp_path / "full.safetensors")
    half = export_checkpoint(src, tmp_path / "half.safetensors", half=True)
    with safe_open(str(half), framework="pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 - not iterable
    assert torch.float16 in dtypes and torch.float32 not in dtypes
    assert half.stat().st_size < 0.6 * full.stat().st_size
    model = load_inpainter(half)
    image, mask = _image_and_mask(1, 24, 24)
    got, want = model(image, mask), load_inpainter(full)(image, mask)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, atol=5e-3, rtol=0)
    assert not torch.equal(got, want)  # the weights were rounded, not copied


def test_cli_export_half(tmp_path: Path) -> None:
    from mattepaint.cli import main

    src = _save(tmp_path, _checkpoint())
    assert main(["export", str(src), "-o", str(tmp_path / "m.safetensors"), "--half"]) == 0
    assert load_checkpoint(tmp_path / "m.safetensors")["model_state"]
    assert main(["export", str(src), "-o", str(tmp_path / "m.onnx"), "--half"]) != 0
    assert not (tmp_path / "m.onnx").exists()
