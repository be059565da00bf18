"""The trainer panel: the recipe form, the run's controls, and what the run shows as it goes.

Start, Pause/Resume and Stop, and "Fine-tune on my samples", emit what the user asked for; the window
decides and tells the panel what to show: the run going on (:meth:`TrainerPanel.show_run`), its
progress, each epoch in the log and on the plot, how it ended, and, when MNIST is missing, a box in the
plot's place that says where it was looked for and offers to download it or to choose its folder.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar,
                               QPushButton, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget)

from mnist_draw.gui.views.style import ERROR_STYLE
from mnist_draw.gui.state.run import FineTuneScores, Outcome, Progress, RunState
from mnist_draw.gui.views.plot import TrainingPlot
from mnist_draw.gui.views.recipe_form import RecipeForm

LOG_LINES = 500


def _time(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def _wrapping_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)  # as tall as its lines
    return label


class TrainerPanel(QWidget):
    start = Signal()
    pause = Signal()
    resume = Signal()
    stop = Signal()
    finetune = Signal()
    download = Signal()
    folder_chosen = Signal(str)  # the user chose a folder that should hold MNIST

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.form = RecipeForm()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.start_button.setDefault(True)
        self.finetune_button = QPushButton("Fine-tune on my samples")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.status = _wrapping_label("Loading PyTorch…")
        self.data_message = _wrapping_label()
        self.data_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download MNIST")
        self.folder_button = QPushButton("Choose folder…")
        self.data_box = self._data_box()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setPlaceholderText("The run's log")
        self.plot = TrainingPlot()

        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        controls = QVBoxLayout()
        controls.addLayout(buttons)
        controls.addWidget(self.finetune_button)
        controls.addWidget(self.progress)
        controls.addWidget(self.status)
        controls.addWidget(self.log, 1)
        self.right = QStackedWidget()  # the plot, or in its place the box that says MNIST is missing
        self.right.addWidget(self.plot)
        self.right.addWidget(self.data_box)
        layout = QHBoxLayout(self)
        layout.addWidget(self.form)
        layout.addLayout(controls, 2)
        layout.addWidget(self.right, 4)

        self.start_button.clicked.connect(self.start)
        self.finetune_button.clicked.connect(self.finetune)
        self.pause_button.clicked.connect(lambda: (self.resume if self._paused else self.pause).emit())
        self.stop_button.clicked.connect(self.stop)
        self.download_button.clicked.connect(self.download)
        self.folder_button.clicked.connect(self._choose_folder)
        self._paused = False
        self.data_dir: str | None = None  # where the folder dialog opens
        self.show_run(None)
        self.setEnabled(False)

    def _data_box(self) -> QFrame:
        box = QFrame()
        box.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(box)
        layout.addStretch(1)
        layout.addWidget(self.data_message)
        row = QHBoxLayout()
        row.addWidget(self.download_button)
        row.addWidget(self.folder_button)
        layout.addLayout(row)
        layout.addStretch(1)
        return box

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder holding MNIST", self.data_dir or os.path.expanduser("~"))
        if path:
            self.folder_chosen.emit(path)

    # -------------------------------------------------------------------------- what it shows

    def show_run(self, run: RunState | None) -> None:
        """Buttons and fields for the run going on (None: no run)."""
        running = run is not None
        self._paused = running and run.paused
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running and not run.stopping)
        self.pause_button.setText("Resume" if self._paused else "Pause")
        self.stop_button.setEnabled(running and not run.stopping)
        self.download_button.setEnabled(not running)
        self.folder_button.setEnabled(not running)
        self.form.setEnabled(not running)

    def show_finetune(self, blocker: str | None, tooltip: str) -> None:
        """Enable "Fine-tune on my samples", or disable it and say why in its tooltip."""
        self.finetune_button.setEnabled(blocker is None)
        self.finetune_button.setToolTip(blocker or tooltip)

    def show_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def add_log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def show_starting(self) -> None:
        self.right.setCurrentWidget(self.plot)
        self.plot.reset()
        self.progress.setValue(0)
        self.progress.setFormat("starting…")

    def show_progress(self, p: Progress) -> None:
        self.plot.add_losses(p.losses)
        self.progress.setMaximum(p.steps)
        self.progress.setValue(p.step)
        left = f" · {_time(p.seconds_left)} left" if p.seconds_left is not None else ""
        self.progress.setFormat(f"epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}{left}")

    def show_epoch(self, event) -> None:
        self.plot.add_accuracy(event.epoch, event.test_accuracy)
        self.add_log(f"epoch {event.epoch}/{event.epochs}: loss {event.train_loss:.4f}, "
                     f"test accuracy {event.test_accuracy:.2%} ({event.seconds:.1f} s)")

    def show_before(self, scores: FineTuneScores) -> None:
        """A fine-tune starts: where the model stood before it (epoch 0 on the plot)."""
        self.plot.add_accuracy(0, scores.mnist_before)

    def show_failed(self, message: str) -> None:
        self.add_log(message)
        self.show_status(message, error=True)
        self.progress.setFormat("failed")

    def show_outcome(self, outcome: Outcome) -> None:
        if outcome.cancelled:
            self.show_status(f"Stopped after {outcome.epochs} of {outcome.planned_epochs} epochs"
                             + (f" (test accuracy {outcome.accuracy:.2%})" if outcome.accuracy is not None else ""))
            self.progress.setFormat("stopped")
        elif outcome.finetune is not None:
            self.show_status(f"Fine-tuned in {outcome.seconds:.1f} s: {outcome.finetune.summary()}")
            self.progress.setFormat("done")
        else:
            self.show_status(f"Done: {outcome.epochs} {'epoch' if outcome.epochs == 1 else 'epochs'} in "
                             f"{outcome.seconds:.1f} s, test accuracy {outcome.accuracy:.2%}")
            self.progress.setFormat("done")
        self.right.setCurrentWidget(self.plot)

    def show_data_missing(self, message: str) -> None:
        """MNIST is not there: say so once, in the box that offers the ways to get it."""
        self.data_message.setText(message)
        self.right.setCurrentWidget(self.data_box)
        self.show_status("")
        self.progress.setFormat("")
        self.progress.setValue(0)

    def show_data_found(self, message: str) -> None:
        self.right.setCurrentWidget(self.plot)
        self.show_status(message)
        self.progress.setFormat("")
        self.progress.setValue(0)
