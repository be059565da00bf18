"""The window's personal samples: keeping a drawing as a digit, Undo, and Samples ▸ My samples….

The teaching state (:class:`~mnist_draw.gui.state.teaching.Teaching`) decides what is saved and what to
say; this part shows it: the message goes to the status bar, the new count to whoever shows it (the
Guess tab, the fine-tune button), the Undo button appears in the status bar right after a sample is
kept, and the samples dialog, when open, is read again.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from mnist_draw.gui.state.live import Guess
from mnist_draw.gui.state.teaching import Teaching
from mnist_draw.paths import samples_dir


class SamplesControl(QObject):
    message = Signal(str)
    counted = Signal(int)  # how many samples there are now

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.parent_widget = parent
        self.teaching = Teaching(samples_dir())
        self.undo = QPushButton("Undo")  # the window puts it in its status bar
        self.undo.setFlat(True)
        self.undo.clicked.connect(self.take_back)
        self.undo.hide()
        self.dialog = None  # Samples ▸ My samples…, made when first opened

    def ask(self, digit: int, canvas_empty: bool, current: Guess | None) -> None:
        self._do(self.teaching.ask, digit, canvas_empty, current)

    def guess_arrived(self, current: Guess | None) -> None:
        self._do(self.teaching.guess_arrived, current)

    def drawing_changed(self) -> None:
        self.message.emit(self.teaching.drawing_changed())

    def take_back(self) -> None:
        self._do(self.teaching.undo)

    def recount(self) -> None:
        """Count the samples on disk again (some were deleted, or added from outside)."""
        self._do(self.teaching.count)

    def _do(self, action, *args) -> None:
        """Do one of the teaching state's actions and show what came of it (Undo after a new sample)."""
        saves = self.teaching.saves
        self.message.emit(action(*args))
        self.counted.emit(self.teaching.total)
        if self.teaching.saves > saves:
            self.undo.show()
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.reload()

    def browse(self) -> None:
        from mnist_draw.gui.views.samples import SamplesDialog

        if self.dialog is None:
            self.dialog = SamplesDialog(self.teaching.folder, self.parent_widget)
            self.dialog.changed.connect(self.recount)
        else:
            self.dialog.reload()
        self.dialog.show()
        self.dialog.activateWindow()
