"""Shared pytest fixtures.

The real data set (``../shared/data`` beside the repository, or ``$MATTEPAINT_DATA``) is optional:
tests that need it take the ``shared_data`` fixture and are skipped when it is absent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Helper modules shared between test files: tests/train/_scripts.py (the training helpers),
# tests/models/_model_helpers.py (small model parameters, checkpoint dicts),
# tests/reliability/_cli_checks.py (run the CLI in-process, check its one-line errors),
# tests/server/_png.py (PNG bytes for uploads and responses) and tests/server/_wait.py (poll
# until a condition holds). pytest runs with ``--import-mode=importlib``, which puts no test
# folder on sys.path, so their folders are put there once, here.
for _folder in ("train", "models", "reliability", "server"):
    if str(REPO_ROOT / "tests" / _folder) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "tests" / _folder))


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


@pytest.fixture(scope="session")
def shared_file(shared_data: Path) -> Callable[..., Path]:
    """``shared_file("weights", "u2netp.onnx")``: the path of that file of the real data, or
    skip the test when it is absent."""

    def find(*parts: str) -> Path:
        path = shared_data.joinpath(*parts)
        if not path.is_file():
            pytest.skip(f"{path} not found")
        return path

    return find


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
