"""Fixtures of the segmentation tests: tiny ONNX graphs in the two published formats, exported
by the tests themselves, and the real files of ``../shared/data/weights`` (skipped without)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn


class TinyU2Net(nn.Module):
    """rembg's U²-Net format: input (1, 3, S, S) -> 7 outputs (1, 1, S, S).

    Output 0 is the (normalised) red channel, so after min-max rescaling the soft mask is the
    image's red channel up to an affine map; the other outputs are its negation (a segmenter that
    read any output but the first would give the inverted mask)."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        red = x[:, :1]
        return (red,) + tuple(-red for _ in range(6))


class TinyMODNet(nn.Module):
    """MODNet's format: ``input`` (B, 3, H, W) -> ``output`` (B, 1, H, W) alpha.

    alpha = (red + 1) / 2 of the input scaled to [-1, 1], i.e. the image's red channel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1] + 1.0) / 2.0


class TwoInputs(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x[:, :1] + y[:, :1]


def export(module: nn.Module, path: Path, inputs: tuple[torch.Tensor, ...], **kwargs) -> Path:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(), inputs, str(path), opset_version=17, dynamo=False, **kwargs
        )
    return path


@pytest.fixture(scope="session")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tiny_u2net.onnx, tiny_modnet.onnx, static64.onnx (a static 64x64 graph of
    no known family) and two_inputs.onnx."""
    folder = tmp_path_factory.mktemp("onnx")
    export(
        TinyU2Net(),
        folder / "tiny_u2net.onnx",
        (torch.rand(1, 3, 320, 320),),
        input_names=["input.1"],
        output_names=[f"d{i}" for i in range(7)],
    )
    export(
        TinyMODNet(),
        folder / "tiny_modnet.onnx",
        (torch.rand(1, 3, 64, 96),),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={
            "input": {0: "batch_size", 2: "height", 3: "width"},
            "output": {0: "batch_size", 2: "height", 3: "width"},
        },
    )
    export(TinyU2Net(), folder / "static64.onnx", (torch.rand(1, 3, 64, 64),), input_names=["x"])
    export(
        TwoInputs(),
        folder / "two_inputs.onnx",
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)),
        input_names=["a", "b"],
    )
    return folder


@pytest.fixture(scope="session")
def u2netp_file(shared_file: Callable[..., Path]) -> Path:
    return shared_file("weights", "u2netp.onnx")


@pytest.fixture(scope="session")
def modnet_file(shared_file: Callable[..., Path]) -> Path:
    return shared_file("weights", "modnet_photographic_portrait_matting.onnx")


@pytest.fixture(scope="session")
def gt01(shared_data: Path) -> tuple:
    """(image (H, W, 3), true alpha (H, W)) of alphamatting GT01, or skip."""
    from mattepaint import io

    root = shared_data / "alphamatting" / "Training"
    image, alpha = root / "Images" / "GT01.png", root / "GroundTruth" / "GT01.png"
    if not (image.is_file() and alpha.is_file()):
        pytest.skip(f"{image} not found")
    return io.load_image(image), io.load_alpha(alpha)
