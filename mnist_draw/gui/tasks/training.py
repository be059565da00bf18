"""A training run in the background, as a stream of records for the window.

:func:`run_training` reads MNIST, sets up a :class:`mnist_draw.trainer.loop.TrainingRun` (or, for a job
that carries a model to fine-tune, a run over the user's personal samples mixed with replayed MNIST:
:mod:`mnist_draw.trainer.personal`) and iterates it. It does not pass on an event per batch, which could
be thousands a second: batch losses are gathered and sent with the progress a few dozen times a second,
and a copy of the weights goes to the live classifier after every epoch and now and then in between,
so the guess on the canvas follows the network as it learns. Between batches it yields ``None``: a
checkpoint where the worker can pause the run.

The run ends with an :class:`~mnist_draw.gui.state.run.Outcome`, or a
:class:`~mnist_draw.gui.state.run.Failed` that says in one line why it could not go on. A stopped run's
model is the one saved at the end of its last finished epoch, with that epoch's score.
"""

from __future__ import annotations

import dataclasses
import gc
import sys
from typing import Iterator

from mnist_draw.errors import one_line
from mnist_draw.gui.state.live import LiveModel
from mnist_draw.gui.state.run import Failed, FineTuneScores, Handover, Log, Outcome, Progress, TrainingJob
from mnist_draw.gui.tasks.control import TaskControl

REPORT_EVERY = 0.04  # seconds between progress records
WEIGHTS_EVERY = 1.0  # seconds between weight hand-overs within an epoch


def training_task(jobs: dict, control: TaskControl) -> Iterator[object]:
    """The task a worker runs: ``jobs["job"]`` is the TrainingJob."""
    return run_training(jobs["job"], control)


def run_training(job: TrainingJob, control: TaskControl) -> Iterator[object]:
    from mnist_draw.trainer.data import DataError
    from mnist_draw.trainer.loop import TrainingDiverged

    try:
        yield from _train(job, control)
    except DataError as exc:
        yield Failed(one_line(exc), data_missing=True, download_failed=exc.download_failed)
    except TrainingDiverged as exc:
        yield Failed(one_line(exc))
    except OSError as exc:  # e.g. personal samples that cannot be read
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        yield Failed(f"{exc.strerror or one_line(exc)}{where}")
    except (ValueError, RuntimeError, MemoryError) as exc:  # bad settings, out of (GPU) memory
        yield Failed(failure_reason(exc))


def failure_reason(exc: BaseException) -> str:
    """Why a run failed, in the user's words: running out of memory is said as such (PyTorch's allocator
    says it in C++ terms, with a byte count), anything else by its own first line."""
    text = one_line(exc)
    if isinstance(exc, MemoryError) or "can't allocate memory" in text or "out of memory" in text.lower():
        return ("not enough memory for this network: try fewer or smaller hidden layers, a smaller batch, or the "
                "CPU instead of the GPU")
    return text


def _train(job: TrainingJob, control: TaskControl) -> Iterator[object]:
    from mnist_draw.trainer.data import load_mnist
    from mnist_draw.trainer.loop import BatchEvent, DeviceEvent, TrainingRun
    from mnist_draw.trainer.outliers import outliers_per_batch
    from mnist_draw.trainer.typefaces import typeface_count

    _import_the_compiler_quietly()
    if job.download:
        yield Log("downloading MNIST…")
    data = load_mnist(job.data, download=job.download)
    options = dict(device=job.device, seed=job.seed, cancel=control.stop, clock=control.clock)
    if job.finetune is not None:
        run, scores = yield from _finetune_run(job, data, options)
    else:
        run, scores = TrainingRun(job.recipe, data, train_limit=job.train_limit, **options), None
        size = min(job.train_limit or len(data.train_y), len(data.train_y))
        printed = typeface_count(size, job.recipe.typefaces)
        extra = f" and {printed} printed ones" if printed else ""
        if job.recipe.outliers:
            batch = job.recipe.batch_size
            extra += f", with {outliers_per_batch(job.recipe.outliers, batch)} non-digits in each batch of {batch}"
        yield Log(f"training {job.recipe.describe()} on {size} digits{extra}, on {run.device}")
    if run.device_note:
        yield Log(run.device_note)
    yield Log(f"seed {job.seed}" + ("" if job.seed_given else " (drawn at random: type it into Seed to repeat "
                                                             "this run)"))
    reporter = _Reporter(run, control)
    for event in run:
        if isinstance(event, BatchEvent):
            yield from reporter.batch(event)
        elif isinstance(event, DeviceEvent):  # CUDA failed: the run goes on on the CPU
            yield Log(event.message)
        else:
            yield event
            yield Handover(reporter.epoch_done(event))
    yield _outcome(job, run, reporter, scores)


def _import_the_compiler_quietly() -> None:
    """The first optimizer PyTorch makes imports its compiler (``torch._dynamo``, with sympy): a few
    thousand modules and a hundred thousand objects. Imported with the garbage collector running, each
    full collection walks all of them again while holding the interpreter lock, and the window stutters
    for a fifth of a second at a time. So it is imported here, before the run, with the collector off,
    and its objects are then set aside for good (``gc.freeze``), as the app's others were at start-up."""
    if "torch._dynamo" in sys.modules:
        return
    gc.disable()
    try:
        import torch._dynamo  # noqa: F401
    finally:
        gc.enable()
        gc.freeze()


class _Reporter:
    """Turns batch events into the few records the window needs: progress, and weights now and then."""

    def __init__(self, run, control: TaskControl):
        self.run, self.control = run, control
        self.epochs = run.planned_epochs()
        self.start = self.last_report = self.last_weights = control.clock()
        self.losses: list[tuple[int, float]] = []
        self.accuracy: float | None = None
        self.step = 0
        self.scored: LiveModel | None = None  # the model at the end of the last finished epoch

    def batch(self, event) -> Iterator[object]:
        now = self.control.clock()
        self.step = event.step
        self.losses.append((event.step, event.loss))
        if now - self.last_report >= REPORT_EVERY or event.batch == event.batches or self.control.pause_requested:
            per_step = (now - self.start) / event.step
            yield Progress(event.epoch, self.epochs, event.batch, event.batches, event.step, event.steps,
                           per_step * (event.steps - event.step), tuple(self.losses))
            self.losses, self.last_report = [], now
        if now - self.last_weights >= WEIGHTS_EVERY:
            yield Handover(self._model(f"learning (epoch {event.epoch}/{self.epochs})"))
            self.last_weights = now
        yield None  # a checkpoint: the worker may pause here

    def epoch_done(self, event) -> LiveModel:
        self.accuracy = event.test_accuracy
        self.scored = self._model(f"learning (after epoch {event.epoch}/{event.epochs})")
        self.last_weights = self.control.clock()
        return self.scored

    def _model(self, when: str) -> LiveModel:
        from mnist_draw.model.network import copy_state

        recipe = self.run.recipe
        return LiveModel(recipe, copy_state(self.run.result.model), f"{recipe.name}, {when}", self.accuracy)


def _outcome(job: TrainingJob, run, reporter: _Reporter, scores) -> Outcome:
    """The record that ends the run, with the model that may go live."""
    from mnist_draw.model.network import copy_state
    from mnist_draw.trainer.loop import result_metadata
    from mnist_draw.trainer.personal import finetune_metadata

    result, recipe = run.result, run.recipe
    metadata = result_metadata(result)
    finetune = scores(result) if scores is not None else None
    if finetune is not None:
        metadata.update(finetune_metadata(job.finetune.metadata, finetune.mnist_before, finetune.samples))
    model = None
    if not result.cancelled:
        model = LiveModel(recipe, copy_state(result.model), recipe.name, result.test_accuracy, metadata)
    elif reporter.scored is not None:  # stopped: the model as it was at the end of its last epoch
        done = result.epochs_trained
        metadata.update(epochs_trained=done, test_accuracy=reporter.scored.accuracy)
        name = f"{recipe.name} (stopped after epoch {done} of {reporter.epochs})"
        model = dataclasses.replace(reporter.scored, name=name, metadata=metadata)
    return Outcome(model, result.cancelled, result.epochs_trained, reporter.epochs,
                   model.accuracy if model else None, result.seconds, job.seed, finetune)


def _finetune_run(job: TrainingJob, data, options: dict):
    """Logs the start of a fine-tune; returns its run and a function that scores its result."""
    from mnist_draw.model.network import model_from_state
    from mnist_draw.samples import load_samples
    from mnist_draw.trainer.personal import REPLAY, personal_run, scores

    samples_x, samples_y, problems = load_samples()
    for problem in problems:
        yield Log(f"skipped {problem}")
    base = model_from_state(job.finetune.recipe, job.finetune.state)
    replay = job.train_limit or REPLAY
    run = personal_run(base, samples_x, samples_y, data, replay=replay, **options)
    before = FineTuneScores(len(samples_y), *scores(base, data, samples_x, samples_y))
    yield Log(f"fine-tuning {job.finetune.name} on {len(samples_y)} personal samples mixed with {replay} MNIST "
              f"digits, on {run.device}; before: {before.summary()}")
    yield before

    def score_after(result) -> FineTuneScores:
        if result.cancelled:  # the weights changed since the last score: only "before" is known
            return before
        mnist, mine = scores(result.model, data, samples_x, samples_y)
        return dataclasses.replace(before, mnist_after=mnist, samples_after=mine)

    return run, score_after
