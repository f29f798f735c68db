"""One process or many: what ``torchrun`` sets up, and the two collectives training needs.

Under ``torchrun --nproc_per_node N`` every process finds RANK, WORLD_SIZE and
LOCAL_RANK in its environment; :func:`setup` joins the process group (NCCL on
CUDA, gloo on CPU) and picks the process's device. Run plainly, it is a world of
one and nothing is initialised. Only rank 0 prints, saves and plots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .config import ConfigError

__all__ = ["Process", "all_reduce_sum", "pick_device", "setup", "teardown"]


@dataclass(frozen=True)
class Process:
    """This process's place in the run."""

    rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The device ``--device`` names: 'auto' is CUDA when present (this process's GPU
    under torchrun), else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: CUDA is not available here; use --device cpu")
        if name == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


def setup(device: str) -> Process:
    """This process's rank, world size and device; joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = pick_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Process(rank=rank, world=world, device=dev)


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes, in place (a no-op for a world of one)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor)
    return tensor
