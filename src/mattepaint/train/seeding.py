"""Explicit seeding and RNG state capture, so a CPU training run is reproducible and resumable.

Three generators matter in a training process: Python's ``random``, numpy's global generator
and torch's (CPU + every CUDA device). :func:`seed_everything` seeds all of them from one
integer; :func:`rng_state` / :func:`set_rng_state` capture and restore them exactly (the
checkpoint stores the result), in a form that ``torch.load(weights_only=True)`` accepts (plain
Python numbers, lists and tensors: no numpy arrays).

DataLoader workers: each worker gets torch seed ``base_seed + worker_id`` from the loader's own
``torch.Generator``; :func:`seed_worker` (the ``worker_init_fn``) derives the worker's Python and
numpy seeds from it, as recommended in the PyTorch reproducibility notes
(https://pytorch.org/docs/stable/notes/randomness.html). The datasets of this package draw
their randomness from ``np.random.default_rng([seed, epoch, index])`` anyway, so samples do not
depend on workers at all; the worker seeding only covers third-party code.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = [
    "configure_determinism",
    "loader_generator",
    "restore_determinism",
    "rng_state",
    "seed_everything",
    "seed_worker",
    "set_rng_state",
]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and all CUDA devices).

    Inputs: seed, an int in [0, 2**32).
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed the worker's ``random`` and numpy from its torch seed.

    torch gives worker ``i`` the seed ``base_seed + i``, with ``base_seed`` drawn from the
    loader's generator (see :func:`loader_generator`), so this is deterministic too.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def loader_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """A torch.Generator for a DataLoader, seeded from (seed, epoch, rank).

    Creating a DataLoader iterator draws a base seed from the loader's generator, or from the
    global torch RNG when it has none; giving every loader its own generator keeps the global
    RNG (dropout, gradient-penalty interpolation) untouched by data loading, which exact resume
    needs (a resumed run starts its data iterator mid-epoch, the straight run did not).
    """
    words = np.random.SeedSequence([seed, epoch, rank]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(int(words[0]) << 32 | int(words[1]))
    return generator


def rng_state() -> dict[str, Any]:
    """The state of every global generator, restorable with :func:`set_rng_state`.

    Outputs: {"python": tuple, "numpy": dict (numpy's bit-generator state, arrays as lists),
    "torch": ByteTensor, "cuda": [ByteTensor] of the current CUDA device (empty when CUDA is not
    in use; other devices are not touched, so no process creates a context on every GPU)}.
    """
    numpy_state = np.random.get_state(legacy=False)
    numpy_state = {  # arrays -> lists so torch.load(weights_only=True) can read it back
        **numpy_state,
        "state": {k: v.tolist() if isinstance(v, np.ndarray) else v
                  for k, v in numpy_state["state"].items()},
    }
    return {
        "python": random.getstate(),
        "numpy": numpy_state,
        "torch": torch.get_rng_state(),
        "cuda": [torch.cuda.get_rng_state()] if torch.cuda.is_initialized() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators captured by :func:`rng_state` (the CUDA state goes to the current
    device; a CPU checkpoint resumed on a GPU leaves CUDA as it is)."""
    missing = {"python", "numpy", "torch"} - set(state)
    if missing:
        raise ValueError(f"RNG state is missing {sorted(missing)}; got keys {sorted(state)}")
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = dict(state["numpy"])
    numpy_state["state"] = {
        k: np.asarray(v, dtype=np.uint32) if k == "key" else v
        for k, v in numpy_state["state"].items()
    }
    np.random.set_state(numpy_state)
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda[0].cpu())


def configure_determinism(deterministic: bool) -> dict[str, Any]:
    """Switch torch's deterministic algorithms on or off; return the previous settings.

    ``deterministic=True``: ``torch.use_deterministic_algorithms(True, warn_only=True)`` (ops
    without a deterministic implementation warn instead of failing), cuDNN deterministic and no
    benchmark autotuning, and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` unless already set (needed by
    cuBLAS for deterministic matmuls). Pass the returned dict to :func:`restore_determinism`.
    """
    previous = {
        "enabled": torch.are_deterministic_algorithms_enabled(),
        "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
    }
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    return previous


def restore_determinism(previous: dict[str, Any]) -> None:
    """Undo :func:`configure_determinism` with the settings it returned."""
    torch.use_deterministic_algorithms(previous["enabled"], warn_only=previous["warn_only"])
    torch.backends.cudnn.deterministic = previous["cudnn_deterministic"]
    torch.backends.cudnn.benchmark = previous["cudnn_benchmark"]
