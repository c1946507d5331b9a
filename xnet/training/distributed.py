"""Distributed data parallel: the process group, the samplers, the collectives the trainer needs.

Started by ``torchrun`` (``WORLD_SIZE`` > 1) a run uses DistributedDataParallel (NCCL on CUDA, Gloo
on CPU); otherwise every helper here is a no-op.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch import nn

from ..seeds import order_seed


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owned: bool = False  # this module initialized the process group (and tears it down)

    @property
    def enabled(self):
        return self.world > 1

    @property
    def main(self):
        return self.rank == 0


def world_size() -> int:
    """The number of processes of this run: ``WORLD_SIZE`` (set by ``torchrun``), else 1."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str) -> Dist:
    world = world_size()
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    owned = not dist.is_initialized()
    if owned:
        backend = "nccl" if device == "cuda" else "gloo"
        if device == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local, owned)


def teardown(d: Dist):
    if d.owned:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(values: list[float], d: Dist, device) -> list[float]:
    if not d.enabled:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def barrier(d: Dist):
    if d.enabled:
        import torch.distributed as dist

        dist.barrier()


def sync_buffers(model: nn.Module, d: Dist):
    """Give every process rank 0's buffers (batch-norm statistics) before evaluating.

    Evaluation runs on the bare module, not the DDP wrapper: the validation shards may differ in
    batch count between processes, and the bare module's forward has no collectives.
    """
    if d.enabled:
        import torch.distributed as dist

        for b in model.buffers():
            dist.broadcast(b, 0)


class EpochSampler(torch.utils.data.Sampler):
    """A permutation of ``range(n)`` drawn from ``(seed, epoch)``, sharded ``rank::world``.

    Under DDP the permutation is padded (wrapping around) so every process gets the same count.
    """

    def __init__(self, n: int, seed: int, rank: int = 0, world: int = 1, shuffle: bool = True):
        self.n, self.seed, self.rank, self.world, self.shuffle, self.epoch = n, seed, rank, world, shuffle, 0

    def set_epoch(self, epoch: int):
        self.epoch = epoch

    def __len__(self):
        return math.ceil(self.n / self.world)

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(order_seed(self.seed, self.epoch))
            idx = torch.randperm(self.n, generator=g).tolist()
        else:
            idx = list(range(self.n))
        total = len(self) * self.world
        idx = (idx * math.ceil(total / max(1, self.n)))[:total]
        return iter(idx[self.rank :: self.world])


class ShardSampler(torch.utils.data.Sampler):
    """``range(n)[rank::world]`` without padding (exact distributed evaluation)."""

    def __init__(self, n, rank=0, world=1):
        self.idx = list(range(rank, n, world))

    def __len__(self):
        return len(self.idx)

    def __iter__(self):
        return iter(self.idx)
