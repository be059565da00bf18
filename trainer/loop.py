"""The training loop, as a stream of events.

:class:`TrainingRun` is iterated like a generator: it yields a :class:`BatchEvent` after every batch
(step, loss) and an :class:`EpochEvent` after every epoch (train loss, test accuracy, seconds), and
when the iteration ends its ``result`` holds the trained model. Whoever drives it decides what to do
with the events: ``mnist-train`` draws a progress bar, the desktop app sends them to its plot through
Qt signals from a worker thread. :func:`fit` is the same with callbacks.

Stopping is a ``threading.Event`` checked before every batch, so Stop takes effect within one batch
even though the loop never returns to an event loop. A loss that becomes NaN or infinite stops the run
with :class:`TrainingDiverged`, whose message says what usually causes it: a learning rate too high.

A GPU can fail in the middle of a run: out of memory because another program took it, a driver reset,
an unplugged eGPU. Then the run does not die: it goes back to the state saved (on the CPU) at the end
of the last finished epoch, yields a :class:`DeviceEvent` that says what happened, and carries on on
the CPU. At most one epoch's work is done again; nothing already finished is lost.

The loop itself is as plain as pytorch/examples' ``mnist/main.py``: :func:`train_one_epoch` and
:func:`evaluate`. What makes it fast is the data: MNIST lives on the device as one tensor (see
:mod:`mnist_draw.trainer.data`) and a batch is a slice of a random permutation.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from mnist_draw.errors import one_line
from mnist_draw.model.network import MLP, build_model
from mnist_draw.model.recipe import Recipe
from mnist_draw.trainer.augment import augment
from mnist_draw.trainer.data import Mnist
from mnist_draw.trainer.outliers import OutlierExposure


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class BatchEvent:
    epoch: int  # 1-based
    batch: int  # 1-based within the epoch
    batches: int  # batches in this epoch
    step: int  # 1-based over the whole run
    steps: int  # planned steps for the whole run
    loss: float


@dataclass(frozen=True)
class EpochEvent:
    epoch: int
    epochs: int
    train_loss: float
    test_accuracy: float
    seconds: float

    def to_json(self) -> dict:
        return {"epoch": self.epoch, "train_loss": round(self.train_loss, 6),
                "test_accuracy": round(self.test_accuracy, 6), "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class DeviceEvent:
    """The run moved to another device (CUDA failed); ``message`` says why, in one line."""

    message: str
    device: str


@dataclass
class FitResult:
    model: MLP
    recipe: Recipe
    device: torch.device
    history: list[EpochEvent] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0

    @property
    def test_accuracy(self) -> float | None:
        return self.history[-1].test_accuracy if self.history else None

    @property
    def epochs_trained(self) -> int:
        return len(self.history)


# ------------------------------------------------------------------------------------------- devices


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
    cores = os.cpu_count() or 1
    return max(1, cores - 1) if leave_for_gui else cores


# ---------------------------------------------------------------------------------------- the pieces


def loss_function(recipe: Recipe) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if recipe.loss == "ce":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)
    if recipe.loss == "mse":
        return lambda out, y: F.mse_loss(out, F.one_hot(y, 10).to(out.dtype))
    return lambda out, y: (out - F.one_hot(y, 10).to(out.dtype)).pow(2).sum() / out.shape[0]  # "sse"


def make_optimizer(recipe: Recipe, params) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)
    return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay) if recipe.weight_decay \
        else torch.optim.Adam(params, lr=recipe.lr)


def outputs(model: MLP, x: torch.Tensor, chunk: int = 10000) -> torch.Tensor:
    """The model's outputs [N, 10] for images ``x`` (uint8 or [0, 1] floats), in eval mode, chunk by chunk."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.inference_mode():
            chunks = []
            for i in range(0, len(x), chunk):
                xb = x[i : i + chunk].to(device)
                chunks.append(model(xb.float() / 255.0 if xb.dtype == torch.uint8 else xb.float()))
            return torch.cat(chunks) if chunks else torch.zeros(0, 10, device=device)
    finally:
        model.train(was_training)


def evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor, chunk: int = 10000) -> float:
    """Share of correct argmax predictions; ``x`` is uint8 or [0, 1] float images."""
    guesses = outputs(model, x, chunk).argmax(1)
    return int((guesses == y.to(guesses.device)).sum()) / max(1, len(x))


def train_one_epoch(model, optimizer, scheduler, loss_fn, x, y, recipe: Recipe, generator, steps_left: int,
                    cancel: threading.Event | None, outliers=None) -> Iterator[tuple[int, int, float]]:
    """Yield (batch, batches, loss) per batch; ``x`` is float [N, 28, 28] in [0, 1] on the device.

    ``outliers`` (an :class:`~mnist_draw.trainer.outliers.OutlierExposure`, or None) mixes non-digits
    into every batch."""
    n, bs = len(x), recipe.batch_size
    batches = min(math.ceil(n / bs), steps_left)
    order = None if recipe.sampling == "replacement" else torch.randperm(n, generator=generator, device=x.device)
    model.train()
    for b in range(batches):
        if cancel is not None and cancel.is_set():
            return
        if order is None:  # sampled with replacement, as the seed003 tutorial does
            idx = torch.randint(0, n, (bs,), generator=generator, device=x.device)
        else:
            idx = order[b * bs : (b + 1) * bs]
        xb, yb = x[idx], y[idx]
        if recipe.augment != "none":
            xb = augment(xb, recipe.augment, generator, yb)
        loss = loss_fn(model(xb), yb) if outliers is None else outliers.loss(model, xb, yb, loss_fn, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        yield b + 1, batches, loss.item()


# ------------------------------------------------------------------------------------------- the run


class TrainingRun:
    """One training run; iterate it for events, then read ``result``.

    ``init`` continues from existing weights (fine-tuning) instead of a fresh network; ``train_limit``
    trains on the first N training digits only (quick demos and tests); ``extra`` adds more training
    examples (e.g. the user's own samples) as ``(images [M, 28, 28] in [0, 1], labels [M], repeat)``,
    where ``repeat`` is how many times each extra example is shown per epoch.
    """

    def __init__(self, recipe: Recipe, data: Mnist, *, device: str | torch.device = "auto", seed: int | None = None,
                 init: dict[str, torch.Tensor] | None = None, cancel: threading.Event | None = None,
                 train_limit: int | None = None, extra: tuple[torch.Tensor, torch.Tensor, int] | None = None,
                 threads: int | None = None):
        self.recipe = recipe
        if isinstance(device, str):
            self.device, self.device_note = resolve_device(device)
        else:
            self.device, self.device_note = device, None
        self.data = data
        self.seed = seed
        self.init = None if init is None else {k: v.detach().to("cpu", copy=True) for k, v in init.items()}
        self.cancel = cancel or threading.Event()
        self.train_limit = train_limit
        self.extra = extra
        self.threads = threads
        self.result: FitResult | None = None
        self._saved: _Saved | None = None

    def planned_steps(self) -> int:
        total = self._steps_per_epoch() * self.recipe.epochs
        return min(total, self.recipe.max_steps) if self.recipe.max_steps else total

    def planned_epochs(self) -> int:
        return math.ceil(self.planned_steps() / self._steps_per_epoch())

    def _steps_per_epoch(self) -> int:
        return math.ceil(self._train_size() / self.recipe.batch_size)

    def _train_size(self) -> int:
        n = len(self.data.train_y) if self.train_limit is None else min(self.train_limit, len(self.data.train_y))
        if self.extra is not None:
            n += len(self.extra[1]) * self.extra[2]
        return n

    def __iter__(self) -> Iterator[BatchEvent | EpochEvent | DeviceEvent]:
        saved = None
        while True:
            try:
                yield from self._train(self.device, saved)
                return
            except Exception as exc:
                if self.device.type != "cuda" or not is_device_failure(exc):
                    raise
                saved = self._saved
                self.device = torch.device("cpu")
                again = f"from the end of epoch {saved.epoch}" if saved is not None else "from the start"
                self.device_note = f"CUDA failed ({one_line(exc)}); training goes on on the CPU, {again}"
                yield DeviceEvent(self.device_note, str(self.device))

    def _train(self, dev: torch.device, saved: _Saved | None) -> Iterator[BatchEvent | EpochEvent]:
        recipe = self.recipe
        self._saved = saved
        if self.threads:
            torch.set_num_threads(self.threads)
        if self.seed is not None:
            torch.manual_seed(self.seed)
        generator = torch.Generator(device=dev)
        generator.manual_seed(self.seed if self.seed is not None else int(torch.seed() % 2**63))

        data = self.data.to(dev)
        limit = self.train_limit or len(data.train_y)
        x = data.train_x[:limit].float().div_(255.0)
        y = data.train_y[:limit]
        if self.extra is not None:
            ex, ey, repeat = self.extra
            x = torch.cat([x, ex.to(dev, torch.float32).repeat(repeat, 1, 1)])
            y = torch.cat([y, ey.to(dev, torch.int64).repeat(repeat)])

        model = build_model(recipe, seed=self.seed)
        if saved is not None:
            model.load_state_dict(saved.model)
        elif self.init is not None:
            model.load_state_dict(self.init)
        model.to(dev)
        optimizer = make_optimizer(recipe, model.parameters())
        steps = self.planned_steps()
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) \
            if recipe.schedule == "cosine" else None
        if saved is not None:
            optimizer.load_state_dict(saved.optimizer)
            if scheduler is not None:
                scheduler.load_state_dict(saved.scheduler)
        loss_fn = loss_function(recipe)
        outliers = OutlierExposure.for_recipe(recipe, dev, self.seed)
        result = FitResult(model, recipe, dev, list(saved.history) if saved else [])
        self.result = result
        start = time.perf_counter() - (saved.seconds if saved else 0.0)
        step, done = (saved.step, saved.epoch) if saved else (0, 0)
        epochs = self.planned_epochs()
        for epoch in range(done + 1, epochs + 1):
            t0 = time.perf_counter()
            total, count = 0.0, 0
            for batch, batches, loss in train_one_epoch(model, optimizer, scheduler, loss_fn, x, y, recipe,
                                                        generator, steps - step, self.cancel, outliers):
                step += 1
                if not math.isfinite(loss):
                    raise TrainingDiverged(
                        f"the loss became {loss} at step {step}: learning rate too high "
                        f"({recipe.optimizer} lr {recipe.lr:g}); try a smaller one"
                    )
                total += loss
                count += 1
                yield BatchEvent(epoch, batch, batches, step, steps, loss)
            if self.cancel.is_set():
                result.cancelled = True
                break
            accuracy = evaluate(model, data.test_x, data.test_y)
            event = EpochEvent(epoch, epochs, total / max(1, count), accuracy, time.perf_counter() - t0)
            result.history.append(event)
            if dev.type != "cpu":  # what a GPU failure in a later epoch goes back to
                self._saved = _Saved.of(epoch, step, model, optimizer, scheduler, result,
                                        time.perf_counter() - start)
            yield event
        model.eval()
        result.seconds = time.perf_counter() - start


@dataclass(frozen=True)
class _Saved:
    """Where a run stood at the end of an epoch, on the CPU, to go on from if the GPU fails."""

    epoch: int
    step: int
    model: dict
    optimizer: dict
    scheduler: dict | None
    history: tuple
    seconds: float

    @classmethod
    def of(cls, epoch, step, model, optimizer, scheduler, result, seconds) -> _Saved:
        def to_cpu(value):
            if isinstance(value, torch.Tensor):
                return value.detach().to("cpu", copy=True)
            if isinstance(value, dict):
                return {k: to_cpu(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(to_cpu(v) for v in value)
            return value

        return cls(epoch, step, to_cpu(model.state_dict()), to_cpu(optimizer.state_dict()),
                   scheduler.state_dict() if scheduler is not None else None, tuple(result.history), seconds)


def fit(recipe: Recipe, data: Mnist, *, on_batch: Callable[[BatchEvent], None] | None = None,
        on_epoch: Callable[[EpochEvent], None] | None = None, **kwargs) -> FitResult:
    """Train to the end (or until cancelled), calling the callbacks; returns the result."""
    run = TrainingRun(recipe, data, **kwargs)
    for event in run:
        if isinstance(event, BatchEvent):
            if on_batch is not None:
                on_batch(event)
        elif on_epoch is not None:
            on_epoch(event)
    assert run.result is not None
    return run.result


def result_metadata(result: FitResult) -> dict:
    """What a model file records about how it was made."""
    return {
        "test_accuracy": result.test_accuracy,
        "epochs_trained": result.epochs_trained,
        "train_seconds": round(result.seconds, 2),
        "trained_on": str(result.device),
        "cancelled": result.cancelled,
        "history": [e.to_json() for e in result.history],
    }
