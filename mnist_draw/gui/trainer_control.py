"""The trainer's side of the window: the trainer panel, the training worker, and what connects them.

The panel says what the user asked for (Start, Pause, Resume, Stop, Fine-tune, a folder for MNIST);
the form's values become a job (:func:`~mnist_draw.gui.state.run.job_from_form`); the job runs in the
training worker (:func:`~mnist_draw.gui.tasks.training.run_training`); each record it yields goes to
the panel, and the weights it hands over and the model it ends with go to the live classifier, as the
application state decides (:class:`~mnist_draw.gui.state.app_state.AppState`).
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal

from mnist_draw.gui.state.run import (Failed, FineTuneScores, Handover, Log, Outcome, Progress, download_failed,
                                      job_from_form, missing_mnist)
from mnist_draw.gui.tasks.training import training_task
from mnist_draw.gui.views.trainer_panel import TrainerPanel
from mnist_draw.gui.workers.worker import Worker


class TrainerControl(QObject):
    hand_over = Signal(object)  # a LiveModel for the live classifier
    message = Signal(str)  # for the status bar
    data_found = Signal()  # MNIST is there now (a folder chosen, or read by a run)
    run_changed = Signal()  # a run started or ended
    epoch_done = Signal(object)  # the run's EpochEvent
    ended = Signal(object)  # how the run ended: its Outcome, or Failed

    def __init__(self, state, settings, sample_count: Callable[[], int], parent: QObject | None = None):
        super().__init__(parent)
        self.state, self.settings, self.sample_count = state, settings, sample_count
        self.panel = TrainerPanel()
        self.panel.data_dir = self.state.data_dir
        self.worker = Worker("trainer", training_task, self)
        self.panel.start.connect(lambda: self.start())
        self.panel.finetune.connect(self.finetune)
        self.panel.pause.connect(self.pause)
        self.panel.resume.connect(self.resume)
        self.panel.stop.connect(self.stop)
        self.panel.download.connect(lambda: self.start(download=True))
        self.panel.folder_chosen.connect(self.set_data_dir)
        self.worker.paused.connect(self._paused)
        self.worker.yielded.connect(self._record)

    def setup(self, saved_fields: dict) -> None:
        """PyTorch is loaded: fill the form (CUDA only where it works) and check for MNIST."""
        from mnist_draw.trainer.devices import cuda_unavailable_reason

        self.panel.form.fill(saved_fields, cuda_unavailable_reason())
        self.panel.setEnabled(True)
        self.panel.show_status("Ready")
        self.check_data()
        self.update_finetune()

    def check_data(self) -> bool:
        message = missing_mnist(self.state.data_dir)
        if message is not None:
            self.panel.show_data_missing(message)
        return message is None

    def set_data_dir(self, path: str) -> None:
        self.state.data_dir = self.panel.data_dir = path
        self.settings.set_data_dir(path)
        if self.check_data():
            self.panel.show_data_found(f"MNIST found in {path}: press Start")
            self.data_found.emit()

    def update_finetune(self) -> None:
        live = self.state.live
        tooltip = (f"Fine-tune a copy of the live model ({live.name}) on your personal samples "
                   f"({self.sample_count()}) mixed with replayed MNIST; shows MNIST test accuracy before "
                   f"and after") if live is not None else ""
        self.panel.show_finetune(self.state.finetune_blocker(self.sample_count()), tooltip)

    # ---------------------------------------------------------------------------- the user asks

    def start(self, download: bool = False) -> None:
        self._launch(download=download)

    def finetune(self) -> None:
        """Fine-tune a copy of the live model on the personal samples mixed with replayed MNIST."""
        if self.state.finetune_blocker(self.sample_count()) is None:
            self._launch(finetune=self.state.live)

    def _launch(self, **options) -> None:
        fields = self.panel.form.values()
        try:
            job = job_from_form(fields, data=self.state.data_dir, **options)
        except ValueError as exc:
            self.panel.show_status(str(exc), error=True)
            return
        self.settings.set_recipe_fields(fields)
        self.run_job(job)

    def run_job(self, job) -> None:
        """Start a TrainingJob (Start and Fine-tune build theirs from the form)."""
        self.message.emit(self.state.run_started(job))
        self.panel.show_starting()
        self.panel.show_status(f"{self.state.run.kind.capitalize()}…")
        self.panel.show_run(self.state.run)
        self.worker.begin("job", job)
        self.run_changed.emit()

    def pause(self) -> None:
        if self.state.run is not None:
            self.state.run.pause()
            self.worker.control.pause()
            self.panel.show_status("Pausing…")
            self.panel.show_run(self.state.run)

    def _paused(self) -> None:
        """The worker has stopped between batches. Said only if the run is still meant to be paused: Resume or
        Stop may have been pressed while this news was on its way from the worker's thread."""
        if self.state.run is not None and self.state.run.paused:
            self.panel.show_status("Paused: Resume goes on, Stop ends the run")

    def resume(self) -> None:
        if self.state.run is not None:
            self.state.run.resume()
            self.worker.control.resume()
            self.panel.show_status(f"{self.state.run.kind.capitalize()}…")
            self.panel.show_run(self.state.run)

    def stop(self) -> None:
        if self.state.run is not None:
            self.state.run.stop()
            self.worker.control.request_stop()
            self.panel.show_status("Stopping…")
            self.panel.show_run(self.state.run)

    def shutdown(self) -> None:
        self.worker.shutdown()

    # ---------------------------------------------------------------------- what the run says

    def _record(self, record) -> None:
        if isinstance(record, Progress):
            self.panel.show_progress(record)
        elif isinstance(record, Handover):
            self.state.weights_handed(record.model)
            self.hand_over.emit(record.model)
        elif isinstance(record, Log):
            self.panel.add_log(record.text)
        elif isinstance(record, Failed):
            self._failed(record)
        elif isinstance(record, Outcome):
            self._finished(record)
        elif isinstance(record, FineTuneScores):
            self.panel.show_before(record)
        else:  # an epoch's summary
            self.panel.show_epoch(record)
            self.epoch_done.emit(record)
            self.data_found.emit()  # the run has read MNIST (maybe downloaded it)

    def _failed(self, failed: Failed) -> None:
        decision = self.state.run_failed(failed)
        if failed.download_failed is not None:
            self.panel.show_data_missing(download_failed(self.state.data_dir, failed.download_failed))
        elif failed.data_missing:
            self.panel.show_data_missing(missing_mnist(self.state.data_dir) or failed.message)
            self.message.emit("MNIST is needed to train: see the trainer panel")
        else:
            self.panel.show_failed(f"Training failed: {failed.message}")
            self.message.emit(decision.message)
        self._end(decision)
        self.ended.emit(failed)

    def _finished(self, outcome: Outcome) -> None:
        decision = self.state.run_finished(outcome)
        self.panel.show_outcome(outcome)
        if outcome.finetune is not None:
            self.panel.add_log(outcome.finetune.summary())
        self.message.emit(decision.message)
        self._end(decision)
        self.ended.emit(outcome)

    def _end(self, decision) -> None:
        """The run is over: its model, the one from before, or none goes live, as the state decided."""
        if decision.hand_over:
            self.hand_over.emit(decision.model)
        self.panel.show_run(None)
        self.run_changed.emit()
