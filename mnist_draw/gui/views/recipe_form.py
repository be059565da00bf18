"""The trainer's form: a preset and its editable settings, how many digits, the device, the seed.

A preset (the tutorials' recipes and our ``default``) fills the fields, which stay editable. The form
only shows values and gives them back as a plain dict (:meth:`RecipeForm.values`); turning them into a
training job, or saying what is wrong with them, is :func:`mnist_draw.gui.state.run.job_from_form`'s
work. The lists of choices come from :mod:`mnist_draw.model.recipe` and the CUDA check from PyTorch, so
the form is filled in (:meth:`RecipeForm.fill`) once PyTorch has been imported; until then it waits.
"""

from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit,
                               QSpinBox, QWidget)

from mnist_draw.gui.state.run import DEVICES

COLUMNS_OF_FIELDS = 7  # fields per column of the form


class RecipeForm(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Recipe", parent)
        self._presets: dict = {}
        self.preset = QComboBox()
        self.hidden = QLineEdit()
        self.hidden.setToolTip("Sizes of the hidden layers, separated by commas (empty: a linear model)")
        self.activation, self.loss, self.optimizer, self.augment = (QComboBox() for _ in range(4))
        self.lr = QLineEdit()
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.99)
        self.momentum.setSingleStep(0.05)
        self.batch_size = QSpinBox()
        self.epochs = QSpinBox()
        self.typefaces = QDoubleSpinBox()
        self.typefaces.setToolTip("Printed digits (typefaces' 0 to 9) added to MNIST's handwriting, as a share of "
                                  "the training digits (0: handwriting only)")
        self.outliers = QDoubleSpinBox()
        self.outliers.setToolTip("Drawings that are no digit mixed into each batch, as a share of it: the network "
                                 "learns to spread its probability on them, so that it can say \"not a digit\" "
                                 "(0: none)")
        for share, step in ((self.typefaces, 0.05), (self.outliers, 0.25)):
            share.setDecimals(2)
            share.setSingleStep(step)
        self.train_limit = QSpinBox()
        self.train_limit.setSingleStep(1000)
        self.device = QComboBox()
        self.device.addItems([name for name, _ in DEVICES])
        self.seed = QLineEdit()
        self.seed.setPlaceholderText("random")
        self.seed.setToolTip("A whole number makes the run repeatable; blank draws one at random (the log says "
                             "which, so the run can be repeated)")
        self.cuda_note = QLabel()
        self.cuda_note.setWordWrap(True)
        self.cuda_note.setStyleSheet("color: palette(mid);")
        self.cuda_note.hide()

        shares = QWidget()  # the two shares of extra training pictures, side by side in one row
        pair = QHBoxLayout(shares)
        pair.setContentsMargins(0, 0, 0, 0)
        pair.addWidget(self.typefaces)
        pair.addWidget(self.outliers)

        grid = QGridLayout(self)
        grid.setVerticalSpacing(3)
        fields = (("Preset", self.preset), ("Hidden layers", self.hidden), ("Activation", self.activation),
                  ("Loss", self.loss), ("Optimizer", self.optimizer), ("Learning rate", self.lr),
                  ("Momentum", self.momentum), ("Batch size", self.batch_size), ("Epochs", self.epochs),
                  ("Augmentation", self.augment), ("Printed, non-digits", shares),
                  ("Training digits", self.train_limit), ("Device", self.device), ("Seed", self.seed))
        for i, (label, widget) in enumerate(fields):
            row, col = i % COLUMNS_OF_FIELDS, 2 * (i // COLUMNS_OF_FIELDS)
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(widget, row, col + 1)
        grid.addWidget(self.cuda_note, COLUMNS_OF_FIELDS, 0, 1, 4)
        self.preset.currentTextChanged.connect(self.show_preset)
        self.hidden.textEdited.connect(self._hidden_edited)

    def fill(self, saved: dict, cuda_reason: str | None) -> None:
        """Fill the lists and the limits, then the fields: ``saved`` (the last values used) over the
        preset; CUDA is offered only when ``cuda_reason`` is None, and the reason is shown otherwise."""
        from mnist_draw.model import recipe

        self._presets = dict(recipe.PRESETS)
        for combo, values in ((self.activation, recipe.ACTIVATIONS), (self.loss, recipe.LOSSES),
                              (self.optimizer, recipe.OPTIMIZERS), (self.augment, recipe.AUGMENTS)):
            combo.addItems(list(values))
        self.batch_size.setRange(1, recipe.MNIST_TRAIN_SIZE)
        self.typefaces.setRange(0.0, recipe.MAX_TYPEFACES)
        self.outliers.setRange(0.0, recipe.MAX_OUTLIERS)
        self.epochs.setRange(1, recipe.MAX_EPOCHS)
        self.train_limit.setRange(100, recipe.MNIST_TRAIN_SIZE)
        self.train_limit.setValue(recipe.MNIST_TRAIN_SIZE)
        self.train_limit.setToolTip(f"Train on the first N of MNIST's {recipe.MNIST_TRAIN_SIZE:,} training digits (fewer: faster)")
        cuda_item = self.device.model().item(len(DEVICES) - 1)
        cuda_item.setEnabled(cuda_reason is None)
        cuda_item.setToolTip(f"CUDA is not available: {cuda_reason}" if cuda_reason else "Train on the GPU")
        self.cuda_note.setText(f"CUDA unavailable: {cuda_reason}" if cuda_reason else "")
        self.cuda_note.setVisible(cuda_reason is not None)
        self.preset.addItems(list(recipe.PRESETS))
        self.preset.setCurrentText(saved.get("preset") if saved.get("preset") in recipe.PRESETS
                                   else recipe.DEFAULT_PRESET)
        self.show_preset(self.preset.currentText())
        self._restore(saved)

    def show_preset(self, name: str) -> None:
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
        self.typefaces.setValue(recipe.typefaces)
        self.outliers.setValue(recipe.outliers)

    def _hidden_edited(self, text: str) -> None:
        """Layers typed into a linear preset get an activation (and none is left without layers), as
        `mnist-train --hidden` does; text that is not layer sizes yet changes nothing."""
        from mnist_draw.model import recipe

        try:
            hidden = recipe.parse_hidden(text)
        except ValueError:
            return
        chosen = self._presets.get(self.preset.currentText())
        self.activation.setCurrentText(recipe.activation_for(hidden, self.activation.currentText(),
                                                             chosen.activation if chosen else "relu"))

    def values(self) -> dict:
        """The fields as plain values (what a job is built from, and what the settings remember)."""
        return {"preset": self.preset.currentText(), "hidden": self.hidden.text(),
                "activation": self.activation.currentText(), "loss": self.loss.currentText(),
                "optimizer": self.optimizer.currentText(), "lr": self.lr.text(), "momentum": self.momentum.value(),
                "batch_size": self.batch_size.value(), "epochs": self.epochs.value(),
                "augment": self.augment.currentText(), "typefaces": self.typefaces.value(),
                "outliers": self.outliers.value(), "train_limit": self.train_limit.value(),
                "device": DEVICES[self.device.currentIndex()][1], "seed": self.seed.text()}

    def _restore(self, saved: dict) -> None:
        for key in ("activation", "loss", "optimizer", "augment"):
            if key in saved:
                getattr(self, key).setCurrentText(str(saved[key]))
        for key in ("hidden", "lr", "seed"):
            if key in saved:
                getattr(self, key).setText(str(saved[key]))
        for key in ("momentum", "batch_size", "epochs", "typefaces", "outliers", "train_limit"):
            if isinstance(saved.get(key), (int, float)):
                getattr(self, key).setValue(saved[key])
        devices = [value for _, value in DEVICES]
        if saved.get("device") in devices and self.device.model().item(devices.index(saved["device"])).isEnabled():
            self.device.setCurrentIndex(devices.index(saved["device"]))
