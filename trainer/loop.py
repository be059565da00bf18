"""The training loop, as a stream of events.

:class:`TrainingRun` is iterated like a generator: it yields a :class:`BatchEvent` after every batch
(step, loss) and an :class:`EpochEvent` after every epoch (train loss, test accuracy, seconds), and
when the iteration ends its ``result`` holds the trained model. Whoever drives it decides what to do
with the events: ``mnist-train`` draws a progress bar, the desktop app sends them to its plot through
Qt signals from a worker thread. :func:`fit` is the same with callbacks.

Stopping is a ``threading.Event`` checked before every batch, so Stop takes effect within one batch
even though the loop never returns to an event loop (under ``torchrun`` the processes agree on it every
``SYNC_EVERY`` steps, so that all stop at the same one). A loss that becomes NaN or infinite stops the run
with :class:`TrainingDiverged`, whose message says what usually causes it: a learning rate too high.

A run keeps to itself: its randomness comes from generators it owns (:mod:`~mnist_draw.trainer.randomness`),
so a seeded run repeats exactly, and PyTorch's global random state and thread count are left alone.

A GPU can fail in the middle of a run: out of memory because another program took it, a driver reset,
an unplugged eGPU. Then the run does not die: it goes back to the state saved (on the CPU) at the end
of the last finished epoch, yields a :class:`DeviceEvent` that says what happened, and carries on on
the CPU. At most one epoch's work is done again; nothing already finished is lost.

The loop itself is as plain as pytorch/examples' ``mnist/main.py``: :func:`train_one_epoch` and
:func:`evaluate`. What makes it fast is the data: MNIST lives on the device as one tensor (see
:mod:`mnist_draw.trainer.data`) and a batch is a slice of a random permutation. On a GPU each step is
replayed from a CUDA graph where the recipe allows it (:mod:`~mnist_draw.trainer.fast`). Under
``torchrun`` the run is one process's part of a group (:mod:`~mnist_draw.trainer.distributed`).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from mnist_draw.errors import one_line
from mnist_draw.model.network import MLP
from mnist_draw.model.recipe import Recipe
from mnist_draw.trainer import distributed, fast, randomness
from mnist_draw.trainer.augment import augment
from mnist_draw.trainer.data import Mnist
from mnist_draw.trainer.outliers import OutlierExposure
from mnist_draw.trainer.typefaces import typeface_count, with_typefaces
from mnist_draw.trainer.devices import is_device_failure, resolve_device

EVAL_CHUNK = 2000  # digits scored at a time: a few MB of floats, which the allocator reuses from epoch to epoch
SYNC_EVERY = 16  # under torchrun: steps between the processes agreeing on Stop and on a diverged loss


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
    seed: int | None = None  # the seed the run used (drawn at random when it was given none): repeats it
    train_limit: int | None = None  # trained on the first this many training digits only (None: all)

    @property
    def test_accuracy(self) -> float | None:
        return self.history[-1].test_accuracy if self.history else None

    @property
    def epochs_trained(self) -> int:
        return len(self.history)


# ---------------------------------------------------------------------------------------- the pieces


def loss_function(recipe: Recipe) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if recipe.loss == "ce":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=recipe.label_smoothing)
    if recipe.loss == "mse":
        return lambda out, y: F.mse_loss(out, F.one_hot(y, 10).to(out.dtype))
    return lambda out, y: (out - F.one_hot(y, 10).to(out.dtype)).pow(2).sum() / out.shape[0]  # "sse"


def make_optimizer(recipe: Recipe, params, capturable: bool = False) -> torch.optim.Optimizer:
    """The recipe's optimizer, as named: ``adam`` with weight decay is Adam's own L2 decay (added to the
    gradient), ``adamw`` decays the weights apart from the gradient (AdamW).

    ``capturable`` keeps the step counts of Adam, AdamW and RMSprop on the device, as a CUDA graph needs.
    """
    lr, decay = recipe.lr, recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum, weight_decay=decay)
    extra = {"capturable": True} if capturable else {}
    if recipe.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=recipe.momentum, weight_decay=decay, **extra)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay, **extra)
    return torch.optim.Adam(params, lr=lr, weight_decay=decay, **extra)


def outputs(model: MLP, x: torch.Tensor, chunk: int = EVAL_CHUNK) -> torch.Tensor:
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


def correct(model: MLP, x: torch.Tensor, y: torch.Tensor, chunk: int = EVAL_CHUNK) -> int:
    """How many of the images ``x`` (uint8 or [0, 1] floats) the model reads as their labels ``y``."""
    guesses = outputs(model, x, chunk).argmax(1)
    return int((guesses == y.to(guesses.device)).sum())


def evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor, chunk: int = EVAL_CHUNK) -> float:
    """Share of correct argmax predictions; ``x`` is uint8 or [0, 1] float images."""
    return correct(model, x, y, chunk) / max(1, len(x))


def train_one_epoch(model, optimizer, scheduler, loss_fn, x, y, recipe: Recipe, generator, steps_left: int,
                    cancel: threading.Event | None, order: torch.Tensor | None = None, outliers=None
                    ) -> Iterator[tuple[int, int, float]]:
    """Yield (batch, batches, loss) per batch; ``x`` is float [N, 28, 28] in [0, 1] on the device.

    The batches are slices of ``order``, the indices of ``x`` to train on this epoch (by default a
    permutation of all of them drawn from ``generator``). A recipe that samples with replacement draws
    each batch from all of ``x`` instead, and ``order`` only says how many digits make the epoch.
    ``generator`` also drives augmentation. ``outliers`` (an
    :class:`~mnist_draw.trainer.outliers.OutlierExposure`, or None) mixes non-digits into every batch.
    """
    bs = recipe.batch_size
    if order is None and recipe.sampling != "replacement":
        order = torch.randperm(len(x), generator=generator, device=x.device)
    n = len(x) if order is None else len(order)
    batches = min(math.ceil(n / bs), steps_left)
    model.train()
    for b in range(batches):
        if cancel is not None and cancel.is_set():
            return
        if recipe.sampling == "replacement":  # as the seed003 tutorial does
            idx = torch.randint(0, len(x), (bs,), generator=generator, device=x.device)
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

    ``seed`` makes the run repeat exactly (without one it draws a fresh seed). ``clock`` is where every
    time is read, in seconds: a window that pauses a run passes a clock that stands still meanwhile.
    ``snapshots`` keeps a CPU copy of the state at the end of every epoch, to go back to if the device
    fails (by default on every device but the CPU; a CPU run told to keep them rehearses the recovery).
    ``fast_path`` chooses the CUDA fast path (None: by itself; see :func:`mnist_draw.trainer.fast.blocker`);
    ``step_mode`` then says what trains: ``"graph"``, ``"eager"``, or ``"recorded"`` (the fast path's
    loop without a graph), and ``step_note`` why not the graph when one was wanted.
    The program that owns the process sets ``torch.set_num_threads``; a run leaves it alone.
    """

    def __init__(self, recipe: Recipe, data: Mnist, *, device: str | torch.device = "auto", seed: int | None = None,
                 init: dict[str, torch.Tensor] | None = None, cancel: threading.Event | None = None,
                 train_limit: int | None = None, extra: tuple[torch.Tensor, torch.Tensor, int] | None = None,
                 clock: Callable[[], float] = time.perf_counter, snapshots: bool | None = None,
                 fast_path: bool | None = None):
        self.recipe = recipe
        self.world = distributed.current()
        if isinstance(device, str):
            self.device, self.device_note = resolve_device(device)
        else:
            self.device, self.device_note = torch.device(device), None
        self.device = distributed.device_for(self.device)
        self.data = data
        self.seed = seed
        self.init = None if init is None else {k: v.detach().to("cpu", copy=True) for k, v in init.items()}
        self.cancel = cancel or threading.Event()
        self.train_limit = train_limit
        self.extra = extra
        self.clock = clock
        self.snapshots = self.device.type != "cpu" if snapshots is None else snapshots
        self.fast_path = fast_path
        self.step_mode, self.step_note = "eager", None
        self.result: FitResult | None = None
        self._saved: _Saved | None = None
        self._seed = seed
        self._recovered = False

    def planned_steps(self) -> int:
        total = self._steps_per_epoch() * self.recipe.epochs
        return min(total, self.recipe.max_steps) if self.recipe.max_steps else total

    def planned_epochs(self) -> int:
        return math.ceil(self.planned_steps() / self._steps_per_epoch())

    def _steps_per_epoch(self) -> int:
        share = distributed.share_size(self._train_size(), self.world)
        return math.ceil(share / distributed.batch_share(self.recipe.batch_size, self.world))

    def _train_size(self) -> int:
        n = len(self.data.train_y) if self.train_limit is None else min(self.train_limit, len(self.data.train_y))
        n += typeface_count(n, self.recipe.typefaces)
        if self.extra is not None:
            n += len(self.extra[1]) * self.extra[2]
        return n

    def __iter__(self) -> Iterator[BatchEvent | EpochEvent | DeviceEvent]:
        seed = self.seed if self.seed is not None else randomness.fresh_seed()
        self._seed = distributed.shared_seed(seed, self.world)
        saved = None
        while True:
            try:
                yield from self._train(saved)
                return
            except Exception as exc:
                if not self._may_recover(exc):
                    raise
                saved, self._recovered = self._saved, True
                self.device = torch.device("cpu")
                again = f"from the end of epoch {saved.epoch}" if saved is not None else "from the start"
                self.device_note = f"CUDA failed ({one_line(exc)}); training goes on on the CPU, {again}"
                yield DeviceEvent(self.device_note, str(self.device))

    def _may_recover(self, exc: Exception) -> bool:
        """Go on on the CPU? Once, alone (a group cannot wait for one process), after a device failure."""
        return (self.world is None and not self._recovered and is_device_failure(exc)
                and (self.device.type != "cpu" or self.snapshots))

    def _train(self, saved: _Saved | None) -> Iterator[BatchEvent | EpochEvent]:
        start = self.clock() - (saved.seconds if saved else 0.0)  # the run's time includes recording a graph
        s = self._prepare(self.device, saved)
        self._saved = saved
        self.result = s.result
        for epoch in range(s.done + 1, self.planned_epochs() + 1):
            t0 = self.clock()
            total, count, stopped = yield from self._epoch(s, epoch)
            if stopped:
                s.result.cancelled = True
                break
            train_loss, accuracy = self._scores(s, total, count)
            event = EpochEvent(epoch, self.planned_epochs(), train_loss, accuracy, self.clock() - t0)
            s.result.history.append(event)
            if self.snapshots:  # what a device failure in a later epoch goes back to
                self._saved = _Saved.of(epoch, s, self.clock() - start)
            yield event
        s.model.eval()
        if s.dropout is not None:
            s.model.dropout = torch.nn.Dropout(s.dropout.p)
        s.result.seconds = self.clock() - start

    def _prepare(self, dev: torch.device, saved: _Saved | None) -> _Setup:
        recipe = self.recipe
        data = self.data.to(dev)
        x, y = self._training_set(data, dev)
        model = self._model(saved).to(dev)
        streams = self._streams(dev, saved)
        dropout = None
        if recipe.dropout:  # masks drawn from the run's generator, not PyTorch's global one
            model.dropout = dropout = randomness.Dropout(recipe.dropout, streams.dropout)
        blocker = fast.blocker(recipe, dev, len(x), several_processes=self.world is not None, wanted=self.fast_path)
        optimizer = make_optimizer(recipe, model.parameters(), capturable=blocker is None and dev.type == "cuda")
        steps = self.planned_steps()
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps) \
            if recipe.schedule == "cosine" else None
        if saved is not None:
            optimizer.load_state_dict(saved.optimizer)
            if scheduler is not None:
                scheduler.load_state_dict(saved.scheduler)
        loss_fn = loss_function(recipe)
        self.step_mode, self.step_note = "eager", blocker if self.fast_path or dev.type == "cuda" else None
        graphed = self._record(model, optimizer, loss_fn, x, y) if blocker is None else None
        trained = model
        if self.world is not None:
            from torch.nn.parallel import DistributedDataParallel

            trained = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
        rank, size = (self.world.rank, self.world.size) if self.world else (0, 1)
        return _Setup(dev, x, y, data.test_x[rank::size], data.test_y[rank::size], model, trained, optimizer,
                      scheduler, loss_fn, dropout, streams, graphed,
                      recipe.replace(batch_size=distributed.batch_share(recipe.batch_size, self.world)),
                      FitResult(model, recipe, dev, list(saved.history) if saved else [], seed=self._seed,
                                train_limit=self.train_limit), steps,
                      saved.step if saved else 0, saved.epoch if saved else 0,
                      OutlierExposure.for_recipe(recipe, dev, self.seed))

    def _training_set(self, data: Mnist, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        limit = self.train_limit or len(data.train_y)
        x, y = with_typefaces(data.train_x[:limit].float().div_(255.0), data.train_y[:limit], self.recipe.typefaces)
        if self.extra is not None:
            ex, ey, repeat = self.extra
            x = torch.cat([x, ex.to(dev, torch.float32).repeat(repeat, 1, 1)])
            y = torch.cat([y, ey.to(dev, torch.int64).repeat(repeat)])
        return x, y

    def _streams(self, dev: torch.device, saved: _Saved | None) -> randomness.Streams:
        """The run's generators; after a device failure, as they stood at the end of the saved epoch
        (or, coming from another kind of device, whose states do not carry over, drawn afresh)."""
        rank = self.world.rank if self.world else None
        if saved is None:
            return randomness.Streams.start(self._seed, dev, rank)
        if saved.streams[0] == dev.type:
            return randomness.Streams.start(self._seed, dev, rank).restore(saved.streams[1])
        return randomness.Streams.start(randomness.derive(self._seed, "resumed", saved.epoch), dev, rank)

    def _model(self, saved: _Saved | None) -> MLP:
        # The layers' own random init would draw from PyTorch's global generator: it is put back as it was,
        # and the weights come next, from the run's own generator. (Not the meta device and to_empty():
        # their first use imports sympy, which holds the interpreter lock for a second in the app.)
        with torch.random.fork_rng(devices=[]):
            model = MLP(self.recipe)
        if saved is not None:
            model.load_state_dict(saved.model)
        elif self.init is not None:
            model.load_state_dict(self.init)
        else:
            randomness.init_weights(model, self._seed)
        return model

    def _record(self, model, optimizer, loss_fn, x, y) -> fast.GraphedSteps | None:
        """The fast path's recorded step, or None (eager loop) when recording it fails."""
        steps = fast.GraphedSteps(model, optimizer, loss_fn, x, y, self.recipe.batch_size)
        try:
            steps.record()
        except Exception as exc:
            if is_device_failure(exc) and not fast.is_capture_failure(exc):
                raise
            self.step_note = f"recording the training step failed ({one_line(exc)}); training with the eager loop"
            return None
        self.step_mode = "graph" if steps.graph is not None else "recorded"
        return steps

    def _epoch(self, s: _Setup, epoch: int) -> Iterator[BatchEvent]:
        """One epoch's batches as events; returns (loss total, batches, stopped)."""
        order = self._order(s)
        cancel = self.cancel if self.world is None else None  # a group stops together, below
        if s.graphed is not None:
            batches = s.graphed.train_one_epoch(order, s.steps - s.step, cancel)
        else:
            batches = train_one_epoch(s.trained, s.optimizer, s.scheduler, s.loss_fn, s.x, s.y, s.local_recipe,
                                      s.streams.local, s.steps - s.step, cancel, order=order, outliers=s.outliers)
        total, count, bad = 0.0, 0, None
        for batch, n, loss in batches:
            s.step += 1
            if bad is None and not math.isfinite(loss):
                bad = self._diverged(loss, s.step)
                if self.world is None:
                    raise bad
            total += loss
            count += 1
            yield BatchEvent(epoch, batch, n, s.step, s.steps, loss)
            if self.world is not None and (batch % SYNC_EVERY == 0 or batch == n):
                stop, diverged = distributed.total([float(self.cancel.is_set()), float(bad is not None)], self.world)
                if diverged:
                    raise bad or self._diverged(float("nan"), s.step)
                if stop:
                    return total, count, True
        return total, count, self.world is None and self.cancel.is_set()

    def _order(self, s: _Setup) -> torch.Tensor | None:
        """This process's digits for the epoch, in order."""
        if self.recipe.sampling == "shuffle":
            order = torch.randperm(len(s.x), generator=s.streams.order, device=s.device)
        else:  # drawn with replacement: the order only tells each process how many digits are its share
            order = torch.arange(len(s.x), device=s.device) if self.world else None
        return distributed.shard(order, self.world) if order is not None else None

    def _diverged(self, loss: float, step: int) -> TrainingDiverged:
        r = self.recipe
        return TrainingDiverged(f"the loss became {loss} at step {step}: learning rate too high "
                                f"({r.optimizer} lr {r.lr:g}); try a smaller one")

    def _scores(self, s: _Setup, total: float, count: int) -> tuple[float, float]:
        """The epoch's mean training loss and the test accuracy (each process scores its share)."""
        right = correct(s.model, s.test_x, s.test_y)
        total, count, right = distributed.total([total, count, right], self.world)
        return total / max(1, count), right / max(1, len(self.data.test_y))


@dataclass
class _Setup:
    """What a run trains with on one device."""

    device: torch.device
    x: torch.Tensor
    y: torch.Tensor
    test_x: torch.Tensor  # this process's share of the test digits
    test_y: torch.Tensor
    model: MLP
    trained: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: object | None
    loss_fn: Callable
    dropout: randomness.Dropout | None
    streams: randomness.Streams
    graphed: fast.GraphedSteps | None
    local_recipe: Recipe  # with this process's share of the batch
    result: FitResult
    steps: int
    step: int
    done: int
    outliers: OutlierExposure | None = None


@dataclass(frozen=True)
class _Saved:
    """Where a run stood at the end of an epoch, on the CPU, to go on from if the GPU fails."""

    epoch: int
    step: int
    model: dict
    optimizer: dict
    scheduler: dict | None
    streams: tuple[str, dict]  # the device type the generators' states belong to, and the states
    history: tuple
    seconds: float

    @classmethod
    def of(cls, epoch: int, s: _Setup, seconds: float) -> _Saved:
        def to_cpu(value):
            if isinstance(value, torch.Tensor):
                return value.detach().to("cpu", copy=True)
            if isinstance(value, dict):
                return {k: to_cpu(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(to_cpu(v) for v in value)
            return value

        return cls(epoch, s.step, to_cpu(s.model.state_dict()), to_cpu(s.optimizer.state_dict()),
                   s.scheduler.state_dict() if s.scheduler is not None else None,
                   (s.device.type, s.streams.state()), tuple(s.result.history), seconds)


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
        "seed": result.seed,
        **({"train_limit": result.train_limit} if result.train_limit is not None else {}),
        "history": [e.to_json() for e in result.history],
    }
