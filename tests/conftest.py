"""Shared pytest fixtures.

The real data set (``../shared/data`` beside the repository, or ``$MATTEPAINT_DATA``) is optional:
tests that need it take the ``shared_data`` fixture and are skipped when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("MATTEPAINT_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data folder; skips the test when it is absent."""
    path = _shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real data not found at {path} (set MATTEPAINT_DATA to use it)")
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator, so every test is reproducible."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def segmenter_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MODNet-format ONNX segmenter exported by the test: ``input`` (B, 3, H, W) scaled
    to [-1, 1] -> ``output`` (B, 1, H, W) = the red channel back in [0, 1] (dynamic height and
    width), so a photo's red channel is its soft mask. Used by the cut-out CLI and API tests."""
    import warnings

    import torch
    from torch import nn

    class RedIsAlpha(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x[:, :1] + 1.0) / 2.0

    path = tmp_path_factory.mktemp("onnx") / "red.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            RedIsAlpha().eval(),
            (torch.rand(1, 3, 64, 96),),
            str(path),
            opset_version=17,
            dynamo=False,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={
                "input": {0: "batch", 2: "height", 3: "width"},
                "output": {0: "batch", 2: "height", 3: "width"},
            },
        )
    return path
