"""Data-parallel training under torch.distributed (launched with `torchrun`).

Every rank runs the same program on the same data with the same seed, so every rank
draws the same epoch of training pairs (FM family), user rows (the autoencoders) or
sequences (SASRec, BERT4Rec); each then takes its shard of every global batch, DDP
averages the gradients, and the step is the one a single process would
take on the whole batch. Validation runs on rank 0 and its figure is broadcast, so
every rank makes the same early-stopping decision and ends with the same weights.
The same seed gives the same result for a given world size. Outside torchrun
(no process group) every function here is the identity: one process, whole batches.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and logs (rank 0, or the only process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def init_from_environment() -> bool:
    """Join the process group torchrun describes in the environment (gloo on CPU, NCCL
    with CUDA); False when not launched by torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or (dist.is_available() and dist.is_initialized()):
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


class _DataParallel(nn.parallel.DistributedDataParallel):
    """DDP whose attributes fall through to the wrapped module, so a loss written against
    the module (``module.table.items()``, ``module.log_prior(...)``) takes the wrapper as
    it is; only calling it goes through DDP (which is what arms the gradient averaging)."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "module":  # not wrapped yet (DDP's own __init__): nothing to fall through to
                raise
            return getattr(self.module, name)


def wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` in DistributedDataParallel when training data-parallel, else itself."""
    if not active():
        return module
    # some field tables get no gradient in a batch without those fields: tell DDP to expect that
    return _DataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                         find_unused_parameters=True)


def shard(start: int, stop: int) -> slice:
    """This rank's rows of the global batch [start, stop): equal parts, the remainder spread."""
    size, here = world_size(), rank()
    n = stop - start
    low = start + here * (n // size) + min(here, n % size)
    return slice(low, low + n // size + (here < n % size))


def shard_rows(rows: np.ndarray) -> np.ndarray:
    """This rank's part of a batch given as row indices (all of it in one process)."""
    return rows[shard(0, len(rows))]


def main_decides(measure: Callable[[], float]) -> Callable[[], float]:
    """`measure` run on rank 0 only, its value broadcast to every rank."""
    if not active():
        return measure

    def broadcast() -> float:
        device = torch.device("cuda") if dist.get_backend() == "nccl" else torch.device("cpu")
        value = torch.tensor([measure() if rank() == 0 else 0.0], dtype=torch.float64, device=device)
        dist.broadcast(value, src=0)
        return float(value.item())

    return broadcast
