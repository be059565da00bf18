"""Live training curves: the loss after every batch, and the test accuracy after every epoch.

New points are only appended to arrays when they arrive (many per second); a timer redraws the
curves now and then (``REDRAW_MS``), as in pyqtgraph's scrolling-plot examples, so a fast run cannot flood the
GUI with redraws. The raw batch loss is noisy, so a smoothed line (an exponential moving average,
as TensorBoard shows) is drawn over it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

REDRAW_MS = 50
SMOOTHING = 0.95  # weight of the past in the moving average
TITLE_SIZE = "9pt"
MIN_SPAN = 5.0  # percentage points the accuracy axis shows at least, so a small change looks small


class TrainingPlot(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumSize(300, 160)
        self.loss_plot = self.addPlot()
        self.loss_plot.setTitle("Loss per batch", size=TITLE_SIZE)
        self.loss_plot.setLabel("bottom", "batch")
        self.loss_plot.setClipToView(True)
        self.loss_plot.setDownsampling(auto=True, mode="peak")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.raw_curve = self.loss_plot.plot(pen=pg.mkPen((150, 180, 225), width=1), name="raw")
        self.smooth_curve = self.loss_plot.plot(pen=pg.mkPen((30, 90, 190), width=2), name="smoothed")
        self.accuracy_plot = self.addPlot()
        self.accuracy_plot.setTitle("Test accuracy, %", size=TITLE_SIZE)
        self.accuracy_plot.setLabel("bottom", "epoch")
        self.accuracy_curve = self.accuracy_plot.plot(pen=pg.mkPen((200, 90, 30), width=2), symbol="o",
                                                      symbolSize=7, symbolBrush=(200, 90, 30))
        self.ci.layout.setColumnStretchFactor(0, 3)
        self.ci.layout.setColumnStretchFactor(1, 2)
        self._steps: list[int] = []
        self._losses: list[float] = []
        self._smooth: list[float] = []
        self._epochs: list[int] = []
        self._accuracies: list[float] = []
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def reset(self) -> None:
        """Forget all points (a new run starts)."""
        for values in (self._steps, self._losses, self._smooth, self._epochs, self._accuracies):
            values.clear()
        self._dirty = True

    def add_losses(self, points: tuple[tuple[int, float], ...]) -> None:
        for step, loss in points:
            previous = self._smooth[-1] if self._smooth else loss
            self._steps.append(step)
            self._losses.append(loss)
            self._smooth.append(SMOOTHING * previous + (1 - SMOOTHING) * loss)
        self._dirty = True

    def add_accuracy(self, epoch: int, accuracy: float) -> None:
        """A test accuracy after ``epoch`` (epoch 0: the model before a fine-tune)."""
        self._epochs.append(epoch)
        self._accuracies.append(100 * accuracy)
        self._dirty = True

    def shown_losses(self) -> int:
        """How many batch losses the plot shows (drawn, not just received)."""
        return self._shown(self.raw_curve)

    def shown_accuracies(self) -> int:
        return self._shown(self.accuracy_curve)

    @staticmethod
    def _shown(curve) -> int:
        x, _ = curve.getData()
        return 0 if x is None else len(x)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        steps = np.asarray(self._steps, dtype=float)
        self.raw_curve.setData(steps, np.asarray(self._losses))
        self.smooth_curve.setData(steps, np.asarray(self._smooth))
        self.accuracy_curve.setData(np.asarray(self._epochs, dtype=float), np.asarray(self._accuracies))
        if self._accuracies:
            self.accuracy_plot.setYRange(*accuracy_range(self._accuracies), padding=0.05)


def accuracy_range(accuracies: list[float]) -> tuple[float, float]:
    """The accuracy axis (percent): the values' own range, but never narrower than MIN_SPAN nor above 100."""
    low, high = min(accuracies), max(accuracies)
    if high - low >= MIN_SPAN:
        return low, high
    top = min(100.0, (low + high + MIN_SPAN) / 2)
    return top - MIN_SPAN, top
