"""The CUDA fast path: every training step replayed from a CUDA graph.

On a GPU, one training step of a small MLP is a few dozen tiny kernels, and launching them one by one
from Python takes longer than running them: the eager loop is bound by launch overhead, not by
arithmetic. A CUDA graph records the whole step once (take the batch, forward, loss, backward, the
optimizer's update, note the loss) and then replays it with a single launch per step.

A recording has fixed shapes and fixed memory, so the step reads its batch through tensors that stay
in place: the epoch's shuffled order is copied into ``order`` and a step counter on the GPU says
which slice of it is the batch. The losses are written to a buffer on the GPU and read back every
few steps (not after each one, which would make the CPU wait for the GPU every time). The last,
shorter batch of an epoch runs eagerly. Recording needs a few eager warm-up steps first (they let
cuBLAS and the optimizer set up their state); the weights and the optimizer's state are put back as
they were afterwards, so the run trains on exactly the batches the eager loop would.

Only what a graph can hold is recorded: no augmentation or dropout (they draw random numbers from the
run's own generators), no non-digits drawn beside the digits (outlier exposure), no sampling with
replacement, a constant learning rate, one process. Anything
else, any other device, and any failure to record, falls back to the eager loop
(:func:`mnist_draw.trainer.loop.train_one_epoch`). :func:`blocker` says which, in words.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Callable, Iterator

import torch

from mnist_draw.model.recipe import Recipe

WARMUP_STEPS = 3  # eager steps before recording (PyTorch's documentation uses 3)
READ_EVERY = 32  # steps between reading the losses back from the GPU


def blocker(recipe: Recipe, device: torch.device, train_size: int, *, several_processes: bool = False,
            wanted: bool | None = None) -> str | None:
    """None when the training steps can be replayed from a CUDA graph, else why they cannot.

    ``wanted``: None decides by itself (CUDA only); False turns the fast path off; True also runs its
    recorded-step loop on the CPU, without a graph (for testing it where there is no GPU).
    """
    if wanted is False:
        return "the fast path was turned off"
    if device.type != "cuda" and wanted is not True:
        return "CUDA graphs need a CUDA device"
    if several_processes:
        return "several processes train together"
    for problem, why in ((recipe.augment != "none", "augmentation"), (recipe.dropout > 0, "dropout"),
                         (recipe.sampling != "shuffle", "sampling with replacement"),
                         (recipe.schedule != "constant", "a learning-rate schedule"),
                         (recipe.outliers > 0, "outlier exposure")):
        if problem:
            return f"{why} cannot be recorded in a CUDA graph"
    if train_size < WARMUP_STEPS * recipe.batch_size:
        return "too few training digits to record a step"
    return None


def capture(step: Callable[[], None], device: torch.device) -> torch.cuda.CUDAGraph | None:
    """Record ``step`` into a CUDA graph (None on other devices: the step then runs as it is)."""
    if device.type != "cuda":
        return None
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, capture_error_mode="thread_local"):  # the app's other threads may use CUDA
        step()
    return graph


class GraphedSteps:
    """One recorded training step over tensors that stay in place, and epochs made of its replays."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x: torch.Tensor,
                 y: torch.Tensor, batch_size: int):
        self.model, self.optimizer, self.loss_fn, self.x, self.y = model, optimizer, loss_fn, x, y
        self.batch_size = batch_size
        self.full = len(x) // batch_size  # the batches a replay can take; a shorter last one runs eagerly
        dev = x.device
        self.order = torch.arange(len(x), device=dev)
        self.counter = torch.zeros(1, dtype=torch.int64, device=dev)
        self.offsets = torch.arange(batch_size, device=dev)
        self.losses = torch.zeros(max(1, self.full), device=dev)
        self.host = torch.zeros(len(self.losses), pin_memory=True) if dev.type == "cuda" else self.losses
        self.graph: torch.cuda.CUDAGraph | None = None

    def _step(self) -> None:
        idx = self.order[self.counter * self.batch_size + self.offsets]
        loss = self.loss_fn(self.model(self.x[idx]), self.y[idx])
        loss.backward()
        self.optimizer.step()
        self.losses.index_copy_(0, self.counter, loss.detach().view(1))
        self.counter += 1

    def record(self) -> None:
        """Warm up, record the step (on CUDA), and put the weights and optimizer state back as they were."""
        before = self._state()
        self.model.train()
        self.order.copy_(torch.arange(len(self.x), device=self.order.device))
        self.counter.zero_()
        try:
            side = torch.cuda.Stream() if self.x.is_cuda else None
            if side is not None:
                side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
                for _ in range(WARMUP_STEPS):
                    self.optimizer.zero_grad(set_to_none=True)
                    self._step()
            if side is not None:
                torch.cuda.current_stream().wait_stream(side)
            self.optimizer.zero_grad(set_to_none=True)
            self.graph = capture(self._step, self.x.device)
        finally:
            self._restore(before)

    def _state(self) -> tuple[list[torch.Tensor], dict]:
        params = [p.detach().clone() for p in self.model.parameters()]
        state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                 for p, s in self.optimizer.state.items()}
        return params, state

    @torch.no_grad()
    def _restore(self, before: tuple[list[torch.Tensor], dict]) -> None:
        """Back to ``before`` in place (the recording holds these very tensors); new state becomes fresh."""
        params, state = before
        for p, saved in zip(self.model.parameters(), params):
            p.copy_(saved)
        for p, s in self.optimizer.state.items():
            for key in list(s):
                old = state.get(p, {}).get(key)
                if torch.is_tensor(s[key]) and torch.is_tensor(old):
                    s[key].copy_(old)
                elif torch.is_tensor(s[key]):  # made by the warm-up: zero is what a first step starts from
                    s[key].zero_()
                elif key in state.get(p, {}):
                    s[key] = old
                else:
                    del s[key]

    def train_one_epoch(self, order: torch.Tensor, steps_left: int,
                        cancel: threading.Event | None) -> Iterator[tuple[int, int, float]]:
        """Yield (batch, batches, loss) per batch, as the eager loop does, over the batches of ``order``."""
        batches = min(math.ceil(len(order) / self.batch_size), steps_left)
        full = min(self.full, batches)
        self.model.train()
        self.order.copy_(order)
        self.counter.zero_()
        done, pending = 0, None
        while done < full and not (cancel is not None and cancel.is_set()):
            end = min(done + READ_EVERY, full)
            for _ in range(done, end):
                self._replay()
            ready = self._read_back(done, end)
            if pending is not None:
                yield from self._losses(*pending, batches)
            pending, done = ready, end
        if pending is not None:
            yield from self._losses(*pending, batches)
        if done == full < batches and not (cancel is not None and cancel.is_set()):
            yield full + 1, batches, self._eager_step(order[full * self.batch_size :])

    def _replay(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:  # no graph (CPU): the same step, run as it is
            self.optimizer.zero_grad(set_to_none=True)
            self._step()

    def _read_back(self, start: int, end: int) -> tuple[int, int, torch.cuda.Event | None]:
        if not self.x.is_cuda:
            return start, end, None
        self.host[start:end].copy_(self.losses[start:end], non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return start, end, event

    def _losses(self, start: int, end: int, event, batches: int) -> Iterator[tuple[int, int, float]]:
        if event is not None:
            event.synchronize()
        for batch, loss in enumerate(self.host[start:end].tolist(), start + 1):
            yield batch, batches, loss

    def _eager_step(self, idx: torch.Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=self.graph is None)  # keep the gradients the recording writes to
        loss = self.loss_fn(self.model(self.x[idx]), self.y[idx])
        loss.backward()
        self.optimizer.step()
        return loss.item()



def is_capture_failure(exc: BaseException) -> bool:
    """True for errors that come from recording a graph (a step it cannot hold), not from a failing GPU."""
    text = str(exc).lower()
    return "captur" in text or "graph" in text
