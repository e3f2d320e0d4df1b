"""The batches :func:`mattepaint.train.loop.train` feeds: the endless training stream that a
checkpoint can seek back into (:class:`BatchStream`), the validation batches
(:func:`val_loader`), the first training batch for the sample grid of a run without a
validation set, the per-step re-seeding that makes resume exact (:func:`reseed`), and the
fork-safe numba threading layer DataLoader workers need (:func:`fork_safe_numba`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from mattepaint.train.distributed import DistInfo, ShardedBatchSampler
from mattepaint.train.seeding import loader_generator, seed_everything, seed_worker
from mattepaint.train.tasks import to_device

__all__ = ["BatchStream", "DeviceBatches", "first_batch", "fork_safe_numba", "reseed", "val_loader"]


def reseed(seed: int, rank: int, step: int) -> None:
    """Seed Python, numpy and torch from (seed, rank, step): dropout masks, gradient-penalty
    interpolation etc. then depend only on the step, which makes resume exact."""
    words = np.random.SeedSequence([seed, rank, step]).generate_state(2, dtype=np.uint32)
    seed_everything(int(words[0]))
    torch.manual_seed(int(words[0]) << 32 | int(words[1]))


class BatchStream:
    """Endless training batches, epoch after epoch; knows (epoch, batch_in_epoch).

    ``batch_in_epoch`` counts the batches of this rank's current epoch already consumed: the
    position a checkpoint records and :meth:`seek` restores (the sampler starts there).
    """

    def __init__(self, dataset: Dataset, sampler: ShardedBatchSampler, num_workers: int,
                 seed: int, dist_info: DistInfo) -> None:
        self.dataset, self.sampler = dataset, sampler
        self.num_workers, self.seed, self.rank = num_workers, seed, dist_info.rank
        self.pin_memory = dist_info.device.startswith("cuda")
        self.epoch, self.batch_in_epoch = 0, 0
        self.iterator: Iterator | None = None

    def seek(self, epoch: int, batch_in_epoch: int) -> None:
        self.epoch, self.batch_in_epoch, self.iterator = epoch, batch_in_epoch, None

    def next(self) -> dict[str, Any]:
        if self.batch_in_epoch >= self.sampler.batches_per_epoch:  # epoch done: next one
            self.epoch, self.batch_in_epoch, self.iterator = self.epoch + 1, 0, None
        if self.iterator is None:
            self.dataset.set_epoch(self.epoch)  # before the workers copy the dataset
            self.sampler.set_epoch(self.epoch, start_batch=self.batch_in_epoch)
            loader = DataLoader(
                self.dataset, batch_sampler=self.sampler, num_workers=self.num_workers,
                worker_init_fn=seed_worker,
                generator=loader_generator(self.seed, self.epoch, self.rank),
                pin_memory=self.pin_memory, persistent_workers=False,
            )
            self.iterator = iter(loader)
        batch = next(self.iterator)
        self.batch_in_epoch += 1
        return batch

    def close(self) -> None:
        self.iterator = None  # shuts the workers down


class DeviceBatches:
    """Validation batches, re-iterable, moved to the device on the fly (rank 0 only)."""

    def __init__(self, loader: DataLoader, device: torch.device, channels_last: bool) -> None:
        self.loader, self.device, self.channels_last = loader, device, channels_last

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.loader:
            yield to_device(batch, self.device, self.channels_last)


def val_loader(val_set: Dataset | None, batch_size: int, device: torch.device,
                channels_last: bool) -> DeviceBatches | None:
    if val_set is None:
        return None
    loader = DataLoader(val_set, batch_size=batch_size, shuffle=False, num_workers=0,
                        generator=loader_generator(0, 0, 0))
    return DeviceBatches(loader, device, channels_last)


def fork_safe_numba() -> None:
    """Make numba's parallel kernels (pymatting's shared matting, a ``dim_matte`` prior) safe in
    a process that later forks DataLoader workers: numba's GNU OpenMP threading layer aborts a
    child forked after the parent used it ("fork() called from a process already using GNU
    OpenMP"), which the validation priors computed in the main process trigger. Selects the
    fork-safe "workqueue" layer unless the user chose one (``NUMBA_THREADING_LAYER``)."""
    import os
    import sys

    if "NUMBA_THREADING_LAYER" in os.environ:
        return
    os.environ["NUMBA_THREADING_LAYER"] = "workqueue"
    if "numba" in sys.modules:  # already imported: its config was read from the environment
        sys.modules["numba"].config.THREADING_LAYER = "workqueue"


def first_batch(dataset: Dataset, batch_size: int, device: torch.device,
                 channels_last: bool) -> dict[str, Any]:
    """The first training samples (epoch 0), for the sample grid of a run without val set."""
    dataset.set_epoch(0)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False,
                        generator=loader_generator(0, 0, 0))
    return to_device(next(iter(loader)), device, channels_last)
