"""Data-parallel training over several processes: ``torchrun --nproc_per_node N -m minisbert train ...``.

Each process (a *rank*) holds a full copy of the model and trains on its own slice of every batch;
``torch.nn.parallel.DistributedDataParallel`` (DDP, Li et al. 2020, "PyTorch Distributed") averages the
gradients of all ranks during ``backward`` (an all-reduce), so every rank takes the same optimizer step
and the copies never drift apart. Over gloo on CPUs, NCCL on GPUs.

    global batch of W·B examples (this step's slice of the epoch's order, as one process with W·B takes it)
        rank 0: examples [0, B)     rank 1: [B, 2B)     ...     rank W-1: [(W-1)·B, W·B)
        each: forward, loss = mean over its B ──backward──▶ all-reduce: gradient averaged over the W ranks
        = the gradient of the mean loss over the W·B examples: the step one process takes with batch W·B

So ``torchrun`` with W ranks of ``--batch-size B`` computes what one process computes with ``--batch-size
W·B`` (``tests/test_distributed.py`` checks the parameters agree within 1e-5). The last batch of an epoch
may be short and split unevenly: each rank's mean loss is then weighted by its share (``shard``), so the
average is still the mean over the global batch; a rank left with no example runs one with weight 0 (DDP
needs every rank in every all-reduce).

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (and the rendezvous address) in every process's
environment; without them (a plain ``python -m minisbert train``) the world is one process and nothing
here does anything. Only rank 0 writes (checkpoints, logs, the final folder) and shows progress; every
rank reads the same checkpoint to resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    """Who this process is among the ranks of one run."""

    rank: int = 0  # 0 .. size-1; rank 0 writes
    size: int = 1  # number of processes
    local_rank: int = 0  # rank on this machine: which GPU it takes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def world() -> World:
    """The world torchrun describes in the environment (one process without torchrun)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(rank=int(os.environ["RANK"]), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def setup(device: str | torch.device = "cpu", timeout_minutes: float = 30) -> World:
    """Join the process group (gloo on CPU, NCCL on GPU) when started by torchrun; returns the world.

    On a GPU each rank takes ``cuda:LOCAL_RANK``. ``timeout_minutes``: how long a rank waits for the
    others in a collective before failing (rank 0 evaluates alone at the end of each epoch meanwhile).
    """
    w = world()
    if w.distributed and not dist.is_initialized():
        cuda = torch.device(device).type == "cuda"
        if cuda:
            torch.cuda.set_device(w.local_rank)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=timeout_minutes))
    return w


def rank_device(device: str | torch.device, w: World) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for a GPU run under torchrun, else ``device``."""
    device = torch.device(device)
    if device.type == "cuda" and w.distributed:
        return torch.device("cuda", w.local_rank)
    return device


def wrap(module: nn.Module, w: World) -> nn.Module:
    """``module`` in DistributedDataParallel when there are several ranks, else ``module`` itself.

    The wrapper broadcasts rank 0's parameters at construction (every rank starts from the same model)
    and averages gradients in ``backward``. ``device_ids`` stays None: the module already sits on its
    device, and the inputs (lists of examples) are moved by the objective itself. Some parameters take
    no part in the loss (SBERT pools the token vectors and never uses BERT's pooler): DDP is told to
    look for them, and their gradients stay None, as in one process.
    """
    if not w.distributed:
        return module
    return nn.parallel.DistributedDataParallel(module, find_unused_parameters=True)


def shard(indices: list, w: World, per_rank: int) -> tuple[list, float]:
    """This rank's part of a global batch and the weight of its mean loss.

    ``indices``: the global batch (at most ``w.size * per_rank`` items, in the order one process would
    take them). Rank r takes items ``[r·B, (r+1)·B)``. The weight ``n_r · W / n`` turns the DDP average
    of the ranks' mean losses into the mean over all n items; it is 1 for a full batch.
    """
    mine = indices[w.rank * per_rank:(w.rank + 1) * per_rank]
    if not mine:  # a short last batch left nothing for this rank: one example, weight 0
        return indices[:1], 0.0
    return mine, len(mine) * w.size / len(indices)


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of a rank's dropout at a step: distinct per rank, and the same after a resume (it
    depends on (seed, rank, step) alone; the checkpoint holds rank 0's generators only)."""
    return seed * 1_000_003 + 104_729 * rank + 7_919 * step + 1


def weighted_mean(value: float, weight: float, w: World) -> float:
    """Σ value·weight / Σ weight over the ranks (the global batch's mean loss, for the log)."""
    if not w.distributed:
        return value
    t = torch.tensor([value * weight, weight], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(t)
    return float(t[0] / t[1])


def broadcast_int(value: int, w: World) -> int:
    """Rank 0's ``value`` on every rank (a decision that must be the same everywhere)."""
    if not w.distributed:
        return value
    t = torch.tensor([value], dtype=torch.int64, device=_collective_device())
    dist.broadcast(t, src=0)
    return int(t[0])


def _collective_device() -> torch.device:
    """NCCL moves GPU tensors only; gloo CPU ones."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def barrier(w: World) -> None:
    if w.distributed:
        dist.barrier()


def teardown(w: World) -> None:
    if w.distributed and dist.is_initialized():
        dist.destroy_process_group()


def raise_if_rank_lost(e: RuntimeError, w: World, checkpoint_dir) -> None:
    """Turn a collective's failure (another rank died: killed, out of memory, a bug) into a clear error.

    gloo reports it as a connection error deep inside an all-reduce; the job cannot go on, since every
    step needs every rank. torchrun then stops the remaining ranks and names the one that failed.
    Returns (and the caller re-raises ``e``) for any other error.
    """
    if not w.distributed or not _is_collective_error(e):
        return
    where = f" in {checkpoint_dir}" if checkpoint_dir else ""
    raise RuntimeError(
        f"rank {w.rank} of {w.size}: another rank stopped mid-run, so this one cannot go on "
        f"({str(e).splitlines()[0] if str(e) else type(e).__name__}). Restart the same torchrun command "
        f"with --resume to continue from the last checkpoint{where}") from e


def _is_collective_error(e: RuntimeError) -> bool:
    backend_error = getattr(dist, "DistBackendError", None)
    if backend_error is not None and isinstance(e, backend_error):
        return True
    text = str(e).lower()
    return any(s in text for s in ("gloo", "nccl", "connection", "peer", "timed out"))
