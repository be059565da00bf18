"""Which device trains, what to do when the one asked for is missing, and how many CPU threads to use.

``auto`` takes the GPU when there is one. ``cuda`` asked for on a machine without one trains on the CPU
and says why (:func:`resolve_device`). A GPU can also fail in the middle of a run (out of memory, a
driver reset): :func:`is_device_failure` tells such errors from a bad recipe, so that the run can go on
on the CPU instead of dying (see :class:`mnist_draw.trainer.loop.TrainingRun`).

The thread count is PyTorch's global setting, so it is chosen by the program that owns the process
(``mnist-train --threads``, the desktop app), never by a training run: :func:`default_threads` is its
suggestion.
"""

from __future__ import annotations

import os

import torch

from mnist_draw.errors import one_line
from mnist_draw.trainer.distributed import local_processes


def cuda_unavailable_reason() -> str | None:
    """None when CUDA can be used, else why not, in words a user understands."""
    if torch.version.cuda is None:
        return "this PyTorch was built without CUDA"
    try:
        if not torch.cuda.is_available() or torch.cuda.device_count() == 0:
            return "no NVIDIA GPU (or driver) was found"
    except Exception as exc:  # a broken driver install raises here
        return f"CUDA failed to start ({one_line(exc)})"
    return None


def resolve_device(name: str) -> tuple[torch.device, str | None]:
    """'auto' | 'cpu' | 'cuda' -> the device to use, and a note when it is not what was asked for."""
    name = (name or "auto").lower()
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"device must be auto, cpu or cuda (got {name!r})")
    if name == "cpu":
        return torch.device("cpu"), None
    reason = cuda_unavailable_reason()
    if reason is None:
        return torch.device("cuda" if name == "auto" else name), None
    if name == "auto":
        return torch.device("cpu"), None
    return torch.device("cpu"), f"CUDA was asked for but {reason}; training on the CPU instead"


def is_device_failure(exc: BaseException) -> bool:
    """True for errors that mean the GPU (or its driver) failed, not that the recipe or data are bad."""
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    accelerator_error = getattr(torch, "AcceleratorError", None)
    if accelerator_error is not None and isinstance(exc, accelerator_error):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(
        word in text for word in ("CUDA", "cuda", "cuDNN", "CUBLAS", "NVIDIA", "device-side", "GPU"))


def default_threads(leave_for_gui: bool) -> int:
    """CPU threads for training: the cores (one left for a window to stay smooth), shared among the
    processes ``torchrun`` started on this machine."""
    cores = max(1, (os.cpu_count() or 1) // local_processes())
    return max(1, cores - 1) if leave_for_gui else cores
