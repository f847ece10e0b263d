"""Process groups: one process by default, DistributedDataParallel over gloo when launched so.

SageMaker's ``distribution={"torch_distributed": {"enabled": True}}`` makes the
training toolkit start the entry point with ``torchrun`` on every host (``--nnodes``
hosts, ``--nproc_per_node`` processes each, ``--master_addr`` the first host); torchrun
sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT, and the script is
expected to do the rest, as the SDK's PyTorch guide says: ``init_process_group``,
a ``DistributedSampler`` (``set_epoch`` every epoch), DDP around the model, and
the model saved by one process only. train.py reads the three ranks and passes
them here, so its loop is the same for 1 or N processes.

On CPU the backend is gloo (NCCL needs GPUs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

T = TypeVar("T")


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

    def log(self, message: str) -> None:
        """Print once per job, not once per rank (the metric lines are scraped from it)."""
        if self.is_main:
            print(message, flush=True)


def setup(world: World) -> None:
    """Join the process group; torch reads MASTER_ADDR / MASTER_PORT from the environment."""
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("gloo", rank=world.rank, world_size=world.size)


def wrap(model: torch.nn.Module, world: World) -> torch.nn.Module:
    """DDP around ``model`` when distributed (it averages gradients); the model otherwise."""
    if not world.distributed:
        return model
    return torch.nn.parallel.DistributedDataParallel(model)


def sampler(length: int, world: World, *, shuffle: bool, seed: int = 0) -> DistributedSampler:
    """This rank's share of ``length`` rows, DistributedSampler's rule for one or N ranks.

    Shuffled, an epoch's order is ``randperm(length)`` seeded with seed + epoch
    (call ``set_epoch``), the same permutation on every rank, each taking every
    world-th row; the tail wraps around so every rank steps as often (DDP hangs
    when ranks step unevenly). With one rank it is the permutation itself.
    """
    return DistributedSampler(
        range(length), num_replicas=world.size, rank=world.rank, shuffle=shuffle, seed=seed
    )


def sum_across(values: list[float], world: World) -> list[float]:
    """Element-wise sum of ``values`` over every rank (the values themselves on one rank)."""
    if not world.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def gather_rows(rows: torch.Tensor, length: int, world: World) -> torch.Tensor:
    """The full ``length`` rows back from each rank's ``sampler(shuffle=False)`` share.

    Rank r holds rows r, r + world, r + 2·world, …, padded to equal sizes by
    wrapping around; interleaving the gathered shares and dropping the padding
    restores the split's row order.
    """
    if not world.distributed:
        return rows
    shares = [torch.empty_like(rows) for _ in range(world.size)]
    dist.all_gather(shares, rows.contiguous())
    return torch.stack(shares, dim=1).reshape(-1, *rows.shape[1:])[:length]


def on_main(make: Callable[[], T], world: World) -> T:
    """``make()`` run by rank 0 only, its result (or its exception) handed to every rank.

    One decision instead of one per rank, which may differ: what checkpoint to resume
    (another host may not hold the files), the fitted tokenizer. A failure on rank 0
    fails every rank with the same reason instead of leaving them waiting.
    """
    if not world.distributed:
        return make()
    box: list[Any] = [None]
    if world.is_main:
        try:
            box[0] = (make(), None)
        except Exception as exc:
            box[0] = (None, exc)
    dist.broadcast_object_list(box, src=0)
    value, error = box[0]
    if error is not None:
        raise error
    return value


def gather_objects(value: T, world: World) -> list[T]:
    """Every rank's ``value``, in rank order (``[value]`` on one rank)."""
    if not world.distributed:
        return [value]
    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    return values


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def teardown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()
