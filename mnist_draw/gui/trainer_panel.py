"""The trainer panel: pick a recipe, train, and watch it learn.

A preset (the tutorials' recipes and our ``default``) fills fields that stay editable: layers,
activation, loss, optimizer, learning rate, momentum, batch size, epochs, augmentation, and how many
training digits to use (a few thousand train in seconds). The device picker offers CUDA only where
it works, and says why not otherwise. Start, Pause/Resume and Stop drive a :class:`Trainer`; the
progress bar, a one-line status, a short log and the live plot show the run.

The recipe lists come from :mod:`mnist_draw.model`, which imports PyTorch, so the panel fills itself
in :meth:`setup`, once the classifier thread has finished that import; until then it waits, disabled.

When MNIST is missing, the panel says where it looked and offers to download it or to choose a folder.

"Fine-tune on my samples" starts a different kind of run: a copy of the model that is live now is
trained a little further on the user's own samples mixed with replayed MNIST (12,000 MNIST digits an
epoch, or the "Training digits" value when it is below 60,000), and the panel shows what it cost and gained:
MNIST test accuracy and the accuracy on the samples, before and after. The button is disabled, with a
tooltip saying why, while there is no live model or no sample yet.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QSpinBox, QDoubleSpinBox,
                               QVBoxLayout, QWidget)

from mnist_draw.gui.plot import TrainingPlot
from mnist_draw.gui.settings import Settings
from mnist_draw.gui.classifier import LiveModel
from mnist_draw.gui.training import Outcome, Progress, Trainer, TrainingJob
from mnist_draw.paths import mnist_root

TRAIN_SIZE = 60000
DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"))
ERROR_STYLE = "color: #b3261e;"


def _combo(values=()) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(values))
    return combo


def _time(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class TrainerPanel(QWidget):
    data_found = Signal(str)  # MNIST was found in a folder the user chose

    def __init__(self, trainer: Trainer, settings: Settings, data_dir: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.trainer = trainer
        self.settings = settings
        self.data_dir = data_dir or settings.data_dir()
        self._presets: dict = {}
        self._live_model: LiveModel | None = None
        self._sample_count = 0
        self._running = False

        self.preset = _combo()
        self.hidden = QLineEdit()
        self.hidden.setToolTip("Sizes of the hidden layers, separated by commas (empty: a linear model)")
        self.activation, self.loss, self.optimizer, self.augment = _combo(), _combo(), _combo(), _combo()
        self.lr = QLineEdit()
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.99)
        self.momentum.setSingleStep(0.05)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, TRAIN_SIZE)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.train_limit = QSpinBox()
        self.train_limit.setRange(100, TRAIN_SIZE)
        self.train_limit.setSingleStep(1000)
        self.train_limit.setValue(TRAIN_SIZE)
        self.train_limit.setToolTip("Train on the first N of MNIST's 60,000 training digits (fewer: faster)")
        self.device = _combo(name for name, _ in DEVICES)
        self.cuda_note = QLabel()
        self.cuda_note.setWordWrap(True)
        self.cuda_note.setStyleSheet("color: palette(mid);")

        recipe_box = QGroupBox("Recipe")
        grid = QGridLayout(recipe_box)
        fields = (("Preset", self.preset), ("Hidden layers", self.hidden), ("Activation", self.activation),
                  ("Loss", self.loss), ("Optimizer", self.optimizer), ("Learning rate", self.lr),
                  ("Momentum", self.momentum), ("Batch size", self.batch_size), ("Epochs", self.epochs),
                  ("Augmentation", self.augment), ("Training digits", self.train_limit), ("Device", self.device))
        for i, (label, widget) in enumerate(fields):
            row, col = i % 6, 2 * (i // 6)
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(widget, row, col + 1)
        grid.addWidget(self.cuda_note, 6, 0, 1, 4)
        self._fields = [widget for _, widget in fields]

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.stop_button = QPushButton("Stop")
        self.start_button.setDefault(True)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(button)
        self.finetune_button = QPushButton("Fine-tune on my samples")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.status = QLabel("Loading PyTorch…")
        self.status.setWordWrap(True)

        self.data_box = QFrame()
        self.data_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.data_message = QLabel()
        self.data_message.setWordWrap(True)
        self.data_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download MNIST")
        self.folder_button = QPushButton("Choose folder…")
        data_layout = QVBoxLayout(self.data_box)
        data_layout.addWidget(self.data_message)
        data_buttons = QHBoxLayout()
        data_buttons.addWidget(self.download_button)
        data_buttons.addWidget(self.folder_button)
        data_layout.addLayout(data_buttons)
        self.data_box.hide()

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.log.setPlaceholderText("The run's log")

        controls = QVBoxLayout()
        controls.addLayout(buttons)
        controls.addWidget(self.finetune_button)
        controls.addWidget(self.progress)
        controls.addWidget(self.status)
        controls.addWidget(self.data_box)
        controls.addWidget(self.log, 1)

        self.plot = TrainingPlot()
        layout = QHBoxLayout(self)
        layout.addWidget(recipe_box)
        layout.addLayout(controls, 2)
        layout.addWidget(self.plot, 4)

        self.preset.currentTextChanged.connect(self._fill_from_preset)
        self.start_button.clicked.connect(self.start)
        self.finetune_button.clicked.connect(self.finetune)
        self.pause_button.clicked.connect(self._pause_or_resume)
        self.stop_button.clicked.connect(self.stop)
        self.download_button.clicked.connect(lambda: self.start(download=True))
        self.folder_button.clicked.connect(self._choose_folder)
        trainer.log.connect(self._log)
        trainer.data_missing.connect(self._show_data_missing)
        trainer.progress.connect(self._on_progress)
        trainer.epoch_done.connect(self._on_epoch)
        trainer.paused.connect(lambda step: self._set_status(f"paused after batch {step}"))
        trainer.failed.connect(self._on_failed)
        trainer.finished.connect(self._on_finished)
        self._set_running(False)
        self.setEnabled(False)

    # -------------------------------------------------------------------------------------- setup

    def setup(self) -> None:
        """Fill the lists and the device picker; called once PyTorch has been imported."""
        from mnist_draw.model.recipe import ACTIVATIONS, AUGMENTS, LOSSES, OPTIMIZERS, PRESETS
        from mnist_draw.trainer.loop import cuda_unavailable_reason

        self._presets = dict(PRESETS)
        for combo, values in ((self.activation, ACTIVATIONS), (self.loss, LOSSES),
                              (self.optimizer, OPTIMIZERS), (self.augment, AUGMENTS)):
            combo.addItems(list(values))
        reason = cuda_unavailable_reason()
        cuda_item = self.device.model().item(len(DEVICES) - 1)
        cuda_item.setEnabled(reason is None)
        cuda_item.setToolTip(f"CUDA is not available: {reason}" if reason else "Train on the GPU")
        self.cuda_note.setText(f"CUDA unavailable: {reason}" if reason else "")
        self.cuda_note.setVisible(reason is not None)

        saved = self.settings.recipe_fields()
        self.preset.addItems(list(PRESETS))
        self.preset.setCurrentText(saved.get("preset") if saved.get("preset") in PRESETS else "seed002")
        self._fill_from_preset(self.preset.currentText())
        self._restore(saved)
        self.setEnabled(True)
        self._set_status("Ready")
        self.check_data()

    def _fill_from_preset(self, name: str) -> None:
        recipe = self._presets.get(name)
        if recipe is None:
            return
        self.hidden.setText(",".join(str(h) for h in recipe.hidden))
        self.activation.setCurrentText(recipe.activation)
        self.loss.setCurrentText(recipe.loss)
        self.optimizer.setCurrentText(recipe.optimizer)
        self.lr.setText(f"{recipe.lr:g}")
        self.momentum.setValue(recipe.momentum)
        self.batch_size.setValue(recipe.batch_size)
        self.epochs.setValue(recipe.epochs)
        self.augment.setCurrentText(recipe.augment)

    def fields(self) -> dict:
        """The panel's fields as plain values (what the settings remember)."""
        return {"preset": self.preset.currentText(), "hidden": self.hidden.text(),
                "activation": self.activation.currentText(), "loss": self.loss.currentText(),
                "optimizer": self.optimizer.currentText(), "lr": self.lr.text(), "momentum": self.momentum.value(),
                "batch_size": self.batch_size.value(), "epochs": self.epochs.value(),
                "augment": self.augment.currentText(), "train_limit": self.train_limit.value(),
                "device": DEVICES[self.device.currentIndex()][1]}

    def _restore(self, saved: dict) -> None:
        for key in ("activation", "loss", "optimizer", "augment"):
            if key in saved:
                getattr(self, key).setCurrentText(str(saved[key]))
        for key in ("hidden", "lr"):
            if key in saved:
                getattr(self, key).setText(str(saved[key]))
        for key in ("momentum", "batch_size", "epochs", "train_limit"):
            if isinstance(saved.get(key), (int, float)):
                getattr(self, key).setValue(saved[key])
        devices = [value for _, value in DEVICES]
        if saved.get("device") in devices and self.device.model().item(devices.index(saved["device"])).isEnabled():
            self.device.setCurrentIndex(devices.index(saved["device"]))

    def recipe(self):
        """The recipe the fields describe; raises ValueError with a one-line reason."""
        from mnist_draw.model.recipe import parse_hidden

        base = self._presets[self.preset.currentText()]
        try:
            lr = float(self.lr.text())
        except ValueError:
            raise ValueError(f"learning rate must be a number, like 0.01 (got {self.lr.text()!r})") from None
        recipe = base.replace(hidden=parse_hidden(self.hidden.text()), activation=self.activation.currentText(),
                              loss=self.loss.currentText(), optimizer=self.optimizer.currentText(), lr=lr,
                              momentum=self.momentum.value(), batch_size=self.batch_size.value(),
                              epochs=self.epochs.value(), augment=self.augment.currentText())
        return recipe if recipe == base else recipe.replace(name=f"{base.name}-custom")

    # ------------------------------------------------------------------------------------- data

    def check_data(self) -> bool:
        from mnist_draw.trainer.data import has_mnist

        root, source = mnist_root(self.data_dir)
        if has_mnist(root):
            self.data_box.hide()
            return True
        self._show_data_missing(f"MNIST not found in {root} (from {source}).")
        return False

    def _show_data_missing(self, message: str) -> None:
        self.data_message.setText(f"{message}\nDownload it (about 12 MB), or choose a folder that holds MNIST/raw.")
        self.data_box.show()

    def set_data_dir(self, path: str) -> None:
        self.data_dir = path
        self.settings.set_data_dir(path)
        if self.check_data():
            self._log(f"MNIST found in {path}")
            self.data_found.emit(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder holding MNIST", self.data_dir or os.path.expanduser("~"))
        if path:
            self.set_data_dir(path)

    # -------------------------------------------------------------------------------- running

    def start(self, download: bool = False) -> None:
        try:
            recipe = self.recipe()
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return
        self.settings.set_recipe_fields(self.fields())
        self._launch(TrainingJob(recipe, download=download, **self._job_options()), "Training…")

    def finetune(self) -> None:
        """Fine-tune a copy of the live model on the personal samples mixed with replayed MNIST."""
        model = self._live_model
        if model is None or not self._sample_count or self._running:
            return
        self._launch(TrainingJob(model.recipe, finetune=model, **self._job_options()),
                     f"Fine-tuning {model.name} on your {self._sample_count} samples…")

    def _job_options(self) -> dict:
        limit = self.train_limit.value()
        return dict(data=self.data_dir, device=DEVICES[self.device.currentIndex()][1],
                    train_limit=None if limit >= TRAIN_SIZE else limit)

    def _launch(self, job: TrainingJob, status: str) -> None:
        self.plot.reset()
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        self._set_status(status)
        self._set_running(True)
        self.trainer.start(job)

    def set_live_model(self, model: LiveModel | None) -> None:
        """The model a fine-tune would start from (the one the window shows as live)."""
        self._live_model = model
        self._update_finetune()

    def set_sample_count(self, count: int) -> None:
        self._sample_count = count
        self._update_finetune()

    def _update_finetune(self) -> None:
        if self._running:
            reason = "A run is going: wait for it to end, or stop it"
        elif self._live_model is None:
            reason = "No model yet: load one (File ▸ Load model…) or train one first"
        elif not self._sample_count:
            reason = ("No personal samples yet: draw a digit, then press its key (or click its bar) to save it "
                      "as one")
        else:
            reason = None
        self.finetune_button.setEnabled(reason is None)
        self.finetune_button.setToolTip(reason or (
            f"Fine-tune a copy of the live model ({self._live_model.name}) on your personal samples "
            f"({self._sample_count}) mixed with replayed MNIST; shows MNIST test accuracy before and after"))

    def stop(self) -> None:
        self.trainer.stop()
        self._set_status("Stopping…")

    def _pause_or_resume(self) -> None:
        if self.pause_button.text() == "Pause":
            self.trainer.pause()
            self.pause_button.setText("Resume")
            self._set_status("Pausing…")
        else:
            self.trainer.resume()
            self.pause_button.setText("Pause")
            self._set_status("Training…")

    def _set_running(self, running: bool) -> None:
        self._running = running
        self._update_finetune()
        self.start_button.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.pause_button.setText("Pause")
        self.stop_button.setEnabled(running)
        self.download_button.setEnabled(not running)
        self.folder_button.setEnabled(not running)
        for widget in self._fields:
            widget.setEnabled(not running)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def _log(self, text: str) -> None:
        self.log.appendPlainText(text)

    def _on_progress(self, p: Progress) -> None:
        self.plot.add_losses(p.losses)
        self.progress.setMaximum(p.steps)
        self.progress.setValue(p.step)
        left = f" · {_time(p.seconds_left)} left" if p.seconds_left is not None else ""
        self.progress.setFormat(f"epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}{left}")

    def _on_epoch(self, event) -> None:
        self.plot.add_accuracy(event.epoch, event.test_accuracy)
        self._log(f"epoch {event.epoch}/{event.epochs}: loss {event.train_loss:.4f}, "
                  f"test accuracy {event.test_accuracy:.2%} ({event.seconds:.1f} s)")

    def _on_failed(self, message: str) -> None:
        self._log(message)
        self._set_status(message, error=True)
        self.progress.setFormat("failed")

    def _on_finished(self, outcome: Outcome | None) -> None:
        self._set_running(False)
        if outcome is None:
            return
        if outcome.cancelled:
            self._set_status(f"Stopped ({outcome.epochs} of the epochs finished)")
            self.progress.setFormat("stopped")
        elif outcome.finetune is not None:
            self._set_status(f"Fine-tuned in {outcome.seconds:.1f} s: {outcome.finetune.summary()}")
            self.progress.setFormat("done")
        else:
            self._set_status(f"Done: {outcome.epochs} epochs in {outcome.seconds:.1f} s, "
                             f"test accuracy {outcome.accuracy:.2%}")
            self.progress.setFormat("done")
        self.data_box.hide()
