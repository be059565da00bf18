"""Training in several processes at once, as PyTorch's launcher ``torchrun`` starts them.

``torchrun --nproc-per-node N mnist-train ...`` starts N copies of ``mnist-train`` (on one machine, or
on several with ``--nnodes`` and ``--rdzv-*``) and tells each, through environment variables, how many
there are and which one it is. ``mnist-train`` then joins them into one group (:func:`start`: gloo
between CPUs, NCCL between GPUs) and a :class:`~mnist_draw.trainer.loop.TrainingRun` made in such a
process trains as one part of the group: every epoch's shuffled digits are cut into one share per
process, each process takes its share of every batch, and ``DistributedDataParallel`` averages the
gradients so that all copies of the network take the same step. The recipe's batch size is the batch
of the whole group, so a recipe trains alike (within noise) on one process or on many.

Outside ``torchrun`` (and in the desktop app) none of this happens: :func:`current` is None and a run
trains alone. A process that waits for a failed partner gives up after the group's timeout instead of
waiting for ever (:func:`start`), and :func:`lost_contact` tells such an error from other ones.
"""

from __future__ import annotations

import datetime
import math
import os
import re
from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass(frozen=True)
class World:
    """This process's place in the group: ``rank`` of ``size`` in all, ``local_rank`` on its machine."""

    rank: int
    size: int
    local_rank: int


def launched() -> bool:
    """True in a process that ``torchrun`` started together with others."""
    return _env_int("WORLD_SIZE", 1) > 1


def local_processes() -> int:
    """How many processes of the group share this machine (1 outside ``torchrun``)."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", 1))


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def device_for(device: torch.device) -> torch.device:
    """Under ``torchrun`` each process on a machine takes its own GPU (``cuda`` -> ``cuda:LOCAL_RANK``)."""
    if device.type == "cuda" and device.index is None and launched():
        return torch.device("cuda", _env_int("LOCAL_RANK", 0))
    return device


def start(device: torch.device, timeout_s: float) -> World | None:
    """Join the group ``torchrun`` started this process in; None when it trains alone.

    ``timeout_s`` bounds every wait for the other processes: one that failed makes the others stop
    with an error after that long at the latest (``torchrun`` usually ends them sooner).
    """
    if not launched():
        return None
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("this PyTorch was built without torch.distributed; it cannot train under torchrun")
    if not dist.is_initialized():
        cuda = device.type == "cuda"
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(seconds=timeout_s),
                                device_id=device if cuda else None)
    return current()


def stop() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def current() -> World | None:
    """The group this process trains in, or None when it trains alone."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return None
    return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))


def lost_contact(exc: BaseException) -> bool:
    """True for errors that mean another process of the group failed or cannot be reached."""
    import torch.distributed as dist

    if dist.is_available() and isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("Gloo", "gloo", "NCCL", "Connection closed by peer", "Connection reset by peer",
                                  "Timed out", "timed out", "Broken pipe"))


def what_happened(exc: BaseException) -> str:
    """A lost-contact error in one short line: without the C++ source location and the generic advice."""
    from mnist_draw.errors import one_line

    text = re.sub(r"^\[[^\]]*\.(?:cc|cpp|h)(?::\d+)?\]\s*", "", one_line(exc))
    return text.split(". This is typically caused")[0]


def batch_share(batch_size: int, world: World | None) -> int:
    """Each process's part of a batch (the group's batch is the recipe's, rounded up to a multiple)."""
    return batch_size if world is None else math.ceil(batch_size / world.size)


def shard(order: torch.Tensor, world: World | None) -> torch.Tensor:
    """This process's share of an epoch's indices; every share is equally long (the first few repeat).

    Equal shares matter: each process must take the same number of steps, or the others wait.
    """
    if world is None:
        return order
    per = math.ceil(len(order) / world.size)
    padded = order.repeat(math.ceil(per * world.size / max(1, len(order))))[: per * world.size]
    return padded[world.rank :: world.size]


def share_size(n: int, world: World | None) -> int:
    return n if world is None else math.ceil(n / world.size)


def _wire() -> torch.device:
    """Where the group's messages are tensors: the GPU for NCCL, the CPU for gloo."""
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def shared_seed(seed: int, world: World | None) -> int:
    """The first process's ``seed``, in every process (so an unseeded group draws one seed for all)."""
    if world is None:
        return seed
    import torch.distributed as dist

    t = torch.tensor([seed], dtype=torch.int64, device=_wire())
    dist.broadcast(t, src=0)
    return int(t.item())


def total(values: Sequence[float], world: World | None) -> list[float]:
    """The sums of ``values`` over all processes (the values themselves when training alone)."""
    if world is None:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(list(values), dtype=torch.float64, device=_wire())
    dist.all_reduce(t)
    return t.tolist()


def barrier(world: World | None) -> None:
    if world is not None:
        import torch.distributed as dist

        dist.barrier()
