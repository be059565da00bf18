"""Teaching the network your handwriting, in the window: keeping samples, counting them, browsing them.

When the network reads a drawing wrong (or right), the user can tell it the right digit: press the
digit's key, or click its bar. What is kept is exactly what the network saw, the 28x28 MNIST-form
picture of the drawing *as it is now*, saved with :func:`mnist_draw.samples.save_sample` in the
per-user samples folder (``samples/<digit>/<id>.png``). If the network has not read the latest
strokes yet, the picture is sent to it at once and the sample is saved when its answer comes back; if
the drawing changes in between, nothing is saved and the status bar says so, so a sample is never an
out-of-date picture. The status bar tells a confirmation from a correction ("Saved as a 3 (a
correction: the network said 5) — 12 samples"), and the window shows the count.

"My samples…" opens a browser: the digits with how many samples each has on the left, the samples'
thumbnails on the right; select some and press Delete (or the button) to delete their files. Every
thumbnail is read once and kept, so a few hundred samples open and refresh quickly.

The trainer panel can then fine-tune the live model on these samples (see
:mod:`mnist_draw.gui.trainer_panel`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from mnist_draw.paths import samples_dir
from mnist_draw.samples import Sample, count_samples, delete_sample, list_samples, save_sample

THUMB = 56  # thumbnail side in pixels: two screen pixels per MNIST pixel
ERROR_STYLE = "color: #b3261e;"
NOTHING_TO_SAVE = "Nothing to save: draw a digit first, then press its key or click its bar"


def samples_text(count: int) -> str:
    return f"{count} sample" if count == 1 else f"{count} samples"


class PersonalSamples(QObject):
    """The main window's side of personal samples: the digit keys, the bars' clicks, the count, the menu."""

    count_changed = Signal(int)

    def __init__(self, window):
        """``window`` is the MainWindow; create this after its own ``classifier.guessed`` connection, as
        :meth:`_on_guess` reads the window's latest guess."""
        super().__init__(window)
        self.window = window
        self.folder = samples_dir()
        self.total = 0
        self._pending: int | None = None  # the digit to save once the network has read the drawing
        self._browser: SamplesDialog | None = None

        self.digit_actions = []
        for digit in range(10):
            action = QAction(f"Save the drawing as a {digit}", window)
            action.setShortcut(QKeySequence(str(digit)))
            action.triggered.connect(lambda checked=False, d=digit: self.teach(d))
            window.addAction(action)
            self.digit_actions.append(action)
        self.browse_action = QAction("My samples…", window)
        self.browse_action.triggered.connect(self.browse)
        menu = window.menuBar().addMenu("&Samples")
        menu.addAction(self.browse_action)
        save_menu = menu.addMenu("Save the drawing as")
        for action in self.digit_actions:
            save_menu.addAction(action)

        window.classifier.guessed.connect(self._on_guess)
        window.canvas.changed.connect(self._on_canvas_changed)
        window.prediction.bars.chosen.connect(self.teach)
        self.count_changed.connect(window.prediction.set_sample_count)
        self.count_changed.connect(window.trainer_panel.set_sample_count)
        self.refresh()

    def refresh(self) -> None:
        """Count the samples on disk again and show the count."""
        try:
            self.total = sum(count_samples(self.folder))
        except OSError as exc:
            self.window.say(f"Could not read the samples in {self.folder}: {exc.strerror or exc}")
        self.count_changed.emit(self.total)

    # ------------------------------------------------------------------------------------ saving

    def teach(self, digit: int) -> None:
        """The user says the drawing is ``digit``: keep what the network sees of it, now or once it has read it."""
        window = self.window
        if window.canvas.empty:
            self._pending = None
            window.say(NOTHING_TO_SAVE)
            return
        window.read_now()
        self._pending = digit
        if not self._save_if_read():
            window.say(f"Saving as a {digit} once the network has read the drawing…")

    def _on_guess(self, guess) -> None:
        if self._pending is not None:
            self._save_if_read()

    def _on_canvas_changed(self) -> None:
        if self._pending is not None:
            self._pending = None
            self.window.say("The drawing changed before it could be saved: nothing saved; press the digit again")

    def _save_if_read(self) -> bool:
        window = self.window
        if not window.guess_is_current():
            return False
        digit, self._pending = self._pending, None
        self._save(window.last_guess, digit)
        return True

    def _save(self, guess, digit: int) -> None:
        if guess.pixels is None:
            self.window.say(NOTHING_TO_SAVE)
            return
        try:
            save_sample(guess.pixels, digit, self.folder)
        except OSError as exc:
            self.window.say(f"Could not save the sample in {self.folder}: {exc.strerror or exc} "
                            f"(the drawing is still here: try again)")
            return
        self.refresh()
        if self._browser is not None and self._browser.isVisible():
            self._browser.reload()
        if guess.label is None:
            verdict = ""
        elif guess.label == digit:
            verdict = " (a confirmation)"
        else:
            verdict = f" (a correction: the network said {guess.label})"
        self.window.say(f"Saved as a {digit}{verdict} — {samples_text(self.total)}")

    # ---------------------------------------------------------------------------------- browsing

    def browse(self) -> None:
        if self._browser is None:
            self._browser = SamplesDialog(self.folder, self.window)
            self._browser.changed.connect(self.refresh)
        else:
            self._browser.reload()
        self._browser.show()
        self._browser.activateWindow()


class SamplesDialog(QDialog):
    """Every personal sample as a thumbnail, by digit, with a count per digit; select and delete."""

    changed = Signal()  # sample files were deleted

    def __init__(self, folder: str | Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("My samples")
        self.folder = Path(folder)
        self.samples: list[Sample] = []
        self._icons: dict[Path, QIcon] = {}  # thumbnails already read

        where = QLabel(f"Kept in {self.folder}")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.digits = QListWidget()
        self.digits.setFixedWidth(110)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(THUMB, THUMB))
        self.thumbnails.setMovement(QListView.Movement.Static)
        self.thumbnails.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbnails.setUniformItemSizes(True)
        self.thumbnails.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.message = QLabel("Select samples and press Delete to remove them")
        self.message.setWordWrap(True)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected samples' files (Delete key)")
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)

        lists = QHBoxLayout()
        lists.addWidget(self.digits)
        lists.addWidget(self.thumbnails, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.message, 1)
        bottom.addWidget(self.delete_button)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(where)
        layout.addLayout(lists, 1)
        layout.addLayout(bottom)
        self.resize(640, 460)

        self.digits.currentRowChanged.connect(self._show_digit)
        self.thumbnails.itemSelectionChanged.connect(
            lambda: self.delete_button.setEnabled(bool(self.thumbnails.selectedItems())))
        self.delete_button.clicked.connect(self.delete_selected)
        self.reload()

    def reload(self) -> None:
        """Read the folder again; keeps the digit shown."""
        try:
            self.samples = list_samples(self.folder)
        except OSError as exc:
            self.samples = []
            self._say(f"Could not read {self.folder}: {exc.strerror or exc}", error=True)
        counts = [0] * 10
        for sample in self.samples:
            counts[sample.label] += 1
        row = max(0, self.digits.currentRow())
        self.digits.blockSignals(True)
        self.digits.clear()
        self.digits.addItem(f"All — {len(self.samples)}")
        self.digits.addItems([f"{digit} — {count}" for digit, count in enumerate(counts)])
        self.digits.setCurrentRow(row)
        self.digits.blockSignals(False)
        present = {sample.path for sample in self.samples}
        self._icons = {path: icon for path, icon in self._icons.items() if path in present}
        self._show_digit(row)

    def _show_digit(self, row: int) -> None:
        """Row 0 shows every sample; row d + 1 shows the samples of digit d."""
        self.thumbnails.clear()
        for sample in self.samples:
            if row <= 0 or sample.label == row - 1:
                item = QListWidgetItem(self._icon(sample.path), str(sample.label))
                item.setData(Qt.ItemDataRole.UserRole, str(sample.path))
                item.setToolTip(sample.path.name)
                self.thumbnails.addItem(item)
        self.delete_button.setEnabled(False)

    def _icon(self, path: Path) -> QIcon:
        icon = self._icons.get(path)
        if icon is None:
            image = QImage(str(path))
            if image.isNull():
                icon = QIcon()  # unreadable: shown as its digit alone, and still deletable
            else:
                mode = Qt.TransformationMode.SmoothTransformation if image.width() > THUMB \
                    else Qt.TransformationMode.FastTransformation  # MNIST's pixels stay crisp squares
                icon = QIcon(QPixmap.fromImage(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, mode)))
            self._icons[path] = icon
        return icon

    def keyPressEvent(self, event) -> None:
        """Delete (or Backspace) deletes the selected samples; the thumbnails pass the key on to here."""
        if event.matches(QKeySequence.StandardKey.Delete) or event.key() == Qt.Key.Key_Backspace:
            self.delete_selected()
        else:
            super().keyPressEvent(event)

    def delete_selected(self) -> None:
        items = self.thumbnails.selectedItems()
        if not items:
            self._say("Select the samples to delete first")
            return
        deleted, failed = 0, []
        for item in items:
            path = Path(item.data(Qt.ItemDataRole.UserRole))
            try:
                delete_sample(path)
            except OSError as exc:
                failed.append(f"{path.parent.name}/{path.name}: {exc.strerror or exc}")
            else:
                deleted += 1
        self.reload()
        message = f"Deleted {samples_text(deleted)}"
        if failed:
            message += f"; could not delete {len(failed)}: " + "; ".join(failed[:3]) + ("…" if len(failed) > 3 else "")
        self._say(message, error=bool(failed))
        if deleted:
            self.changed.emit()

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(ERROR_STYLE if error else "")
