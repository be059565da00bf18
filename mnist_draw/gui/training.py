"""Training in the background: one worker object in its own thread, talking through signals only.

The wiring is superqt's ``new_worker_qthread``, done by hand: a ``TrainingWorker`` (a QObject) is
moved to a fresh ``QThread``; the thread's ``started`` runs the worker's ``run``, which iterates a
:class:`mnist_draw.trainer.loop.TrainingRun` and emits signals carrying plain data (numbers, tuples, weights
copied to the CPU). Qt queues them to the GUI thread, so the window never waits on training.

While ``run`` loops, the worker thread's event loop is not running, so a queued "please stop" slot
would never be called. Stop and Pause are therefore ``threading.Event`` objects that the GUI thread
sets directly and the loop checks between batches: Stop ends the run before the next batch; Pause
makes the loop wait until Resume (or Stop) is pressed. Closing the window sets Stop, asks the thread
to quit and waits for it, so no thread is ever destroyed while running.

Batch losses are not sent one signal per batch: they are gathered and sent every 40 ms or so, with
the progress. After each epoch, and at most every second in between, a copy of the weights is sent
too, so the live classifier can show the model learning.

A job either trains a recipe from scratch or, when it carries ``finetune`` (a copy of the live model),
fine-tunes that model on the user's personal samples mixed with replayed MNIST
(:mod:`mnist_draw.trainer.personal`). The same loop runs both; a fine-tune also measures MNIST test accuracy and
the accuracy on the samples before and after, and reports them in the outcome.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from mnist_draw.errors import one_line
from mnist_draw.gui.classifier import LiveModel

REPORT_EVERY = 0.04  # seconds between progress signals
WEIGHTS_EVERY = 1.0  # seconds between weight hand-offs within an epoch


@dataclass(frozen=True)
class TrainingJob:
    recipe: Any  # mnist_draw.model.recipe.Recipe
    data: str | None = None  # folder holding MNIST; None: MNIST_DRAW_DATA, then the user cache
    device: str = "auto"
    train_limit: int | None = None  # train on the first N digits only
    download: bool = False  # fetch MNIST first if it is missing
    seed: int | None = None
    finetune: LiveModel | None = None  # fine-tune this model on the personal samples (recipe is then ignored)
    samples: str | None = None  # the personal samples folder; None: the user's


@dataclass(frozen=True)
class Progress:
    epoch: int
    epochs: int
    batch: int
    batches: int
    step: int
    steps: int
    seconds_left: float | None
    losses: tuple[tuple[int, float], ...]  # (step, loss) for the batches since the last report


@dataclass(frozen=True)
class FineTuneScores:
    """What a fine-tune on personal samples cost and gained; the "after" figures are None when stopped."""

    samples: int
    mnist_before: float
    samples_before: float
    mnist_after: float | None = None
    samples_after: float | None = None

    def summary(self) -> str:
        """E.g. "MNIST test: 97.1% → 96.9%; your 12 samples: 60% → 100%"."""
        if self.mnist_after is None or self.samples_after is None:
            return f"MNIST test: {self.mnist_before:.1%}; your {self.samples} samples: {self.samples_before:.0%}"
        return (f"MNIST test: {self.mnist_before:.1%} → {self.mnist_after:.1%}; "
                f"your {self.samples} samples: {self.samples_before:.0%} → {self.samples_after:.0%}")


@dataclass(frozen=True)
class Outcome:
    model: LiveModel | None  # None when stopped before the first batch
    cancelled: bool
    epochs: int
    accuracy: float | None
    seconds: float
    finetune: FineTuneScores | None = None  # set for a fine-tune on personal samples


class TrainingWorker(QObject):
    log = Signal(str)
    data_missing = Signal(str)
    progress = Signal(object)  # Progress
    epoch_done = Signal(object)  # mnist_draw.trainer.loop.EpochEvent
    weights = Signal(object)  # LiveModel
    paused = Signal(int)  # the step it paused after
    failed = Signal(str)
    finished = Signal(object)  # Outcome, or None after a failure

    def __init__(self, job: TrainingJob, stop: threading.Event, running: threading.Event):
        super().__init__()
        self.job = job
        self.stop = stop
        self.running = running  # cleared while paused

    @Slot()
    def run(self) -> None:
        from mnist_draw.trainer.data import DataError
        from mnist_draw.trainer.loop import TrainingDiverged

        outcome = None
        try:
            outcome = self._train()
        except DataError as exc:
            self.data_missing.emit(one_line(exc))
            self.failed.emit(one_line(exc))
        except TrainingDiverged as exc:
            self.failed.emit(one_line(exc))
        except (ValueError, RuntimeError, MemoryError) as exc:  # bad settings, out of (GPU) memory
            self.failed.emit(f"training failed: {one_line(exc)}")
        finally:
            self.finished.emit(outcome)

    def _train(self) -> Outcome:
        from mnist_draw.model.network import copy_state
        from mnist_draw.trainer.data import load_mnist
        from mnist_draw.trainer.loop import BatchEvent, DeviceEvent, TrainingRun, default_threads, result_metadata

        job = self.job
        if job.download:
            self.log.emit("downloading MNIST (about 12 MB)…")
        data = load_mnist(job.data, download=job.download)
        options = dict(device=job.device, seed=job.seed, cancel=self.stop, threads=default_threads(leave_for_gui=True))
        score_after = None
        if job.finetune is not None:
            run, score_after = self._finetune_run(data, options)
        else:
            run = TrainingRun(job.recipe, data, train_limit=job.train_limit, **options)
        recipe = run.recipe
        if run.device_note:
            self.log.emit(run.device_note)
        if score_after is None:
            size = min(job.train_limit or len(data.train_y), len(data.train_y))
            self.log.emit(f"training {recipe.describe()} on {size} digits, on {run.device}")

        epochs = run.planned_epochs()
        start = last_report = last_weights = time.perf_counter()
        paused_for, losses, accuracy, step = 0.0, [], None, 0
        for event in run:
            now = time.perf_counter()
            if isinstance(event, BatchEvent):
                step = event.step
                losses.append((event.step, event.loss))
                pausing = not self.running.is_set()
                if now - last_report >= REPORT_EVERY or event.batch == event.batches or pausing:
                    per_step = (now - start - paused_for) / event.step
                    self.progress.emit(Progress(event.epoch, epochs, event.batch, event.batches, event.step,
                                                event.steps, per_step * (event.steps - event.step), tuple(losses)))
                    losses, last_report = [], now
                if now - last_weights >= WEIGHTS_EVERY:
                    name = f"{recipe.name}, learning (epoch {event.epoch}/{epochs})"
                    self.weights.emit(LiveModel(recipe, copy_state(run.result.model), name, accuracy))
                    last_weights = now
                if pausing:
                    self.paused.emit(event.step)
                    self.running.wait()
                    paused_for += time.perf_counter() - now
            elif isinstance(event, DeviceEvent):  # CUDA failed: the run goes on on the CPU
                self.log.emit(event.message)
            else:
                accuracy = event.test_accuracy
                self.epoch_done.emit(event)
                name = f"{recipe.name}, learning (after epoch {event.epoch}/{event.epochs})"
                self.weights.emit(LiveModel(recipe, copy_state(run.result.model), name, accuracy))
                last_weights = time.perf_counter()

        result = run.result
        metadata = result_metadata(result)
        if result.cancelled:
            metadata["test_accuracy"] = None  # the weights changed since the last score
            self.log.emit(f"stopped after {step} batches")
        scores = None
        if score_after is not None:
            scores = score_after(result)
            metadata.update(test_accuracy_before=scores.mnist_before, personal_samples=scores.samples)
            self.log.emit(scores.summary())
        model = None
        if step:
            name = f"{recipe.name} (stopped)" if result.cancelled else recipe.name
            model = LiveModel(recipe, copy_state(result.model), name, metadata["test_accuracy"], metadata)
        return Outcome(model, result.cancelled, result.epochs_trained, metadata["test_accuracy"], result.seconds,
                       scores)

    def _finetune_run(self, data, options: dict):
        """The run that fine-tunes a copy of the job's model, and a function that scores its result."""
        from dataclasses import replace

        from mnist_draw.model.network import model_from_state
        from mnist_draw.samples import load_samples
        from mnist_draw.trainer.personal import REPLAY, personal_run, scores

        job = self.job
        samples_x, samples_y, problems = load_samples(job.samples)
        for problem in problems:
            self.log.emit(f"skipped {problem}")
        base = model_from_state(job.finetune.recipe, job.finetune.state)
        replay = job.train_limit or REPLAY
        run = personal_run(base, samples_x, samples_y, data, replay=replay, **options)
        before = FineTuneScores(len(samples_y), *scores(base, data, samples_x, samples_y))
        self.log.emit(f"fine-tuning {job.finetune.name} on {len(samples_y)} personal samples mixed with {replay} "
                      f"MNIST digits, on {run.device}; before: {before.summary()}")

        def score_after(result) -> FineTuneScores:
            if result.cancelled:  # the weights changed since the last score: only "before" is known
                return before
            mnist, mine = scores(result.model, data, samples_x, samples_y)
            return replace(before, mnist_after=mnist, samples_after=mine)

        return run, score_after


class Trainer(QObject):
    """The GUI's handle on training: one run at a time, each in a fresh worker and thread."""

    started = Signal()
    log = Signal(str)
    data_missing = Signal(str)
    progress = Signal(object)
    epoch_done = Signal(object)
    weights = Signal(object)
    paused = Signal(int)
    failed = Signal(str)
    finished = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stop = threading.Event()
        self._running = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, job: TrainingJob) -> None:
        if self.running:
            raise RuntimeError("a training run is already going")
        self._stop, self._running = threading.Event(), threading.Event()
        self._running.set()
        self._thread = QThread()
        self._thread.setObjectName("trainer")
        self._worker = TrainingWorker(job, self._stop, self._running)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        for name in ("log", "data_missing", "progress", "epoch_done", "weights", "paused", "failed"):
            getattr(self._worker, name).connect(getattr(self, name))
        self._worker.finished.connect(self._on_finished)
        self._thread.start()
        self.started.emit()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run wakes up to stop

    def shutdown(self) -> None:
        """Stop the run, if any, and wait for its thread to end (the window is closing)."""
        if self._thread is not None:
            self.stop()
            self._end_thread()

    @Slot(object)
    def _on_finished(self, outcome: Outcome | None) -> None:
        if self._thread is None:  # already ended by shutdown()
            return
        self._end_thread()
        self.finished.emit(outcome)

    def _end_thread(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self._thread = self._worker = None
