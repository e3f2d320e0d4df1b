"""Multi-process training: torchrun environment, process group, sharded resumable sampler.

Launch with torchrun (``torchrun --nproc_per_node 4 -m mattepaint train ...``): each process
reads RANK / WORLD_SIZE / LOCAL_RANK from the environment and joins the default process group
(backend "nccl" on CUDA, "gloo" on the CPU). Without those variables (or WORLD_SIZE=1) the run
is a single process and nothing here touches torch.distributed.

Data: :class:`ShardedBatchSampler` has ``torch.utils.data.DistributedSampler``'s semantics
(each epoch a permutation seeded by (seed, epoch), rank r takes elements r, r + W, r + 2W, ...)
and yields batches, starting at any batch of the epoch, which exact mid-epoch resume needs.
``data.batch_size`` is per process: the global batch is ``batch_size * world_size``, and
batch k of all ranks together holds exactly the samples of batch k of a single process run
with ``batch_size * world_size`` (same seed), so the two trainings match up to float rounding
(DDP averages the ranks' gradients; mean-reduced losses over equal batches give the same mean).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = [
    "DistInfo",
    "ShardedBatchSampler",
    "all_ranks_agree",
    "barrier",
    "cleanup_distributed",
    "init_distributed",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands: rank, world size, local rank, and the device it trains on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"
    initialized_here: bool = False  # this process called init_process_group (so it destroys it)

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only process that writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an int, got {value!r}") from None


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group when launched by torchrun; otherwise describe a single process.

    Inputs:
        device: the configured device ("cpu", "cuda", "cuda:1", "mps"). Under torchrun with
            CUDA every process uses ``cuda:LOCAL_RANK``.
    Outputs: a :class:`DistInfo`. With WORLD_SIZE > 1 the default process group is initialised
        from the environment (``init_method="env://"``: MASTER_ADDR, MASTER_PORT, RANK,
        WORLD_SIZE), backend "nccl" for CUDA, "gloo" otherwise.
    Raises: ValueError for malformed environment variables or a CUDA device that is missing.
    """
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < max(world_size, 1):
        raise ValueError(f"RANK must be in [0, WORLD_SIZE={world_size}), got {rank}")
    is_cuda = device.startswith("cuda")
    if is_cuda and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use device: cpu")
    if world_size <= 1:
        return DistInfo(0, 1, 0, device)
    if is_cuda:
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    initialized_here = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if is_cuda else "gloo", init_method="env://")
        initialized_here = True
    if dist.get_world_size() != world_size or dist.get_rank() != rank:
        raise ValueError(
            f"process group (rank {dist.get_rank()} of {dist.get_world_size()}) does not match "
            f"RANK={rank} WORLD_SIZE={world_size}"
        )
    return DistInfo(rank, world_size, local_rank, device, initialized_here)


def cleanup_distributed(info: DistInfo) -> None:
    """Destroy the process group if :func:`init_distributed` created it.

    Every rank first waits for the others and drops the DDP wrappers (their reducers hold gloo
    state): destroying the group while a peer still talks, or while a reducer is alive, can abort
    the process at exit ("terminate called without an active exception").
    """
    if info.initialized_here and dist.is_initialized():
        import gc

        gc.collect()  # free DDP wrappers kept alive by reference cycles of the training frame
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for a single process)."""
    if info.distributed:
        dist.barrier()


def all_ranks_agree(flag: bool, info: DistInfo, device: str | torch.device = "cpu") -> bool:
    """True when ``flag`` is True on every rank (an all-reduce MIN; single process: ``flag``).

    Used where ranks must take the same branch (skip a non-finite step, stop on a signal), or
    DDP's gradient all-reduce would wait forever for a rank that went another way.
    """
    if not info.distributed:
        return flag
    value = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return bool(value.item())


class ShardedBatchSampler(Sampler[list[int]]):
    """Batches of dataset indices: a per-epoch permutation, sharded across ranks, resumable.

    Epoch e: ``perm = np.random.default_rng([seed, e]).permutation(n)`` (``arange(n)`` when
    ``shuffle`` is False), truncated to ``n - n % world_size`` elements so all ranks get the same
    count (DistributedSampler with ``drop_last=True``); rank r takes ``perm[r::world_size]`` and
    cuts it into batches of ``batch_size``, the last incomplete batch dropped (``drop_last``) or
    kept. :meth:`set_epoch` selects the epoch and the first batch to yield (the batches already
    consumed before a resume).

    Inputs:
        num_samples: dataset length n >= 1.
        batch_size: per-rank batch size >= 1.
        rank, world_size: this process's shard.
        seed: >= 0.
        shuffle: permute (training) or keep the order (validation).
        drop_last: drop the last incomplete batch of each rank.
    Raises: ValueError when one epoch gives a rank no batch at all.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        for name, value, low in (("num_samples", num_samples, 1), ("batch_size", batch_size, 1),
                                 ("world_size", world_size, 1), ("seed", seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self.start_batch = 0
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"{num_samples} samples give each of {world_size} process(es) "
                f"{num_samples // world_size} "
                f"sample(s), less than one batch of {batch_size}; lower data.batch_size or add "
                f"images"
            )

    @property
    def batches_per_epoch(self) -> int:
        """Batches each rank yields in a full epoch."""
        per_rank = self.num_samples // self.world_size
        full, rest = divmod(per_rank, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch (its permutation) and the first batch to yield (0 = from the start;
        ``batches_per_epoch`` = nothing left in this epoch)."""
        if not 0 <= start_batch <= self.batches_per_epoch:
            raise ValueError(
                f"start_batch must be in [0, {self.batches_per_epoch}], got {start_batch}"
            )
        self.epoch = epoch
        self.start_batch = start_batch

    def _shard(self) -> np.ndarray:
        n = self.num_samples
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        order = order[: n - n % self.world_size]  # equal shards
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[list[int]]:
        shard = self._shard()
        for b in range(self.start_batch, self.batches_per_epoch):
            yield shard[b * self.batch_size : (b + 1) * self.batch_size].tolist()

    def __len__(self) -> int:
        return self.batches_per_epoch - self.start_batch
