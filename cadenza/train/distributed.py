"""Many GPUs or machines through ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node 8 -m cadenza.cli train transformer ...`` sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`setup` reads
them and joins the process group (NCCL on GPUs, gloo on CPUs). Run without them, it is
one process and nothing is initialised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["Process", "setup", "teardown", "all_sum", "all_gather", "agree"]


@dataclass(frozen=True)
class Process:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(backend: str | None = None) -> Process:
    """This process's place in the job; joins the process group when there are several."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    cuda = torch.cuda.is_available() and backend != "gloo"
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if cuda else "gloo"), rank=rank, world_size=world)
    return Process(rank, world, local_rank, device)


def teardown() -> None:
    """Leave the process group together: rank 0 holds the rendezvous store, and a rank
    that still talks to it after rank 0 has gone aborts (gloo: "terminate called without
    an active exception")."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_sum(value: float, process: Process) -> float:
    """The sum of one number over every process."""
    if process.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=process.device)
    dist.all_reduce(tensor)
    return float(tensor.item())


def all_gather(tensor: Tensor, process: Process) -> list[Tensor]:
    """Every process's copy of a same-shaped tensor (on the CPU), in rank order."""
    if process.world == 1:
        return [tensor.cpu()]
    local = tensor.to(process.device)
    parts = [torch.empty_like(local) for _ in range(process.world)]
    dist.all_gather(parts, local)
    return [p.cpu() for p in parts]


def agree(flag: bool, process: Process) -> bool:
    """Rank 0's decision, for all (e.g. to stop on a wall-clock limit only rank 0 reads)."""
    if process.world == 1:
        return flag
    tensor = torch.tensor([int(flag)], device=process.device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())
