"""Process-group plumbing: one process by default, torch.distributed (gloo) when launched so.

torchrun / the SageMaker PyTorch container's launcher set WORLD_SIZE, RANK and
LOCAL_RANK (MASTER_ADDR / MASTER_PORT are read by torch itself). train.py reads
those three and passes them here, so the loop is the same for 1 or N processes:
each rank trains on its shard, gradients are averaged by DDP, rank 0 writes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def setup(world: World) -> None:
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("gloo", rank=world.rank, world_size=world.size)


def wrap(model: torch.nn.Module, world: World) -> torch.nn.Module:
    """DDP around ``model`` when distributed; the model itself otherwise."""
    if not world.distributed:
        return model
    return torch.nn.parallel.DistributedDataParallel(model)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def teardown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
