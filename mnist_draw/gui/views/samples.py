"""The samples browser: every personal sample as a thumbnail, by digit, with a count per digit.

Select some and press Delete (or the button) to delete their files. Every thumbnail is read once and
kept, so a few hundred samples open and refresh quickly. (Keeping a drawing as a sample is
:mod:`mnist_draw.gui.state.teaching`'s work; fine-tuning on the samples is the trainer panel's.)
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from mnist_draw.gui.views.style import ERROR_STYLE
from mnist_draw.gui.state.teaching import samples_text
from mnist_draw.samples import Sample, delete_sample, list_samples

THUMB = 56  # thumbnail side in pixels: two screen pixels per MNIST pixel


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
