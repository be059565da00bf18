"""Where the live model goes wrong: its confusion matrix and a gallery of the test digits it misreads.

The confusion matrix is a 10x10 table over the MNIST test digits: the row is the true digit,
the column what the model read. The diagonal (green) holds the digits read right; every other cell
counts one kind of mistake, the redder the more of them. Clicking a cell shows, in the gallery
below, just those digits (clicking a green cell: every misread digit of that row; clicking the
chosen cell again: all mistakes). Clicking a digit in the gallery puts it on the canvas, so the live
classifier reads it and the "Guess" tab shows what the network makes of it.

The numbers are worked out in another thread (:mod:`mnist_draw.gui.tasks.mistakes`); this view only
shows them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (QBoxLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QToolTip, QVBoxLayout,
                               QWidget)

from mnist_draw.gui.state.live import LiveModel
from mnist_draw.gui.state.mistakes import Mistakes, filter_for_cell
from mnist_draw.gui.views.style import ACCENT
from mnist_draw.gui.views.tiles import TileGrid
from mnist_draw.model.recipe import MNIST_TEST_SIZE

COUNT_HEIGHT = 0.45  # a count's height, at most, as a share of its cell
COUNT_WIDTH = 0.88  # a count's width, at most, as a share of its cell
MIN_COUNT_PX = 7
LABELS = 1.7  # room for the labels (digits, "read as", "true digit"), in cells
WIDE = 1.25  # a tab this many times wider than tall shows the gallery beside the matrix
MATRIX_WIDTH = 1.05  # ...and then the matrix is this many times as wide as the tab is tall
QWIDGETSIZE_MAX = (1 << 24) - 1
WAITING = "No model yet: the mistakes of a model show here once it is trained or loaded"


class ConfusionMatrix(QWidget):
    """The 10x10 counts, true digit down, guess across; ``cell_clicked(true, guess)`` on a click."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.confusion: np.ndarray | None = None
        self.selected: tuple[int, int] | None = None
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_confusion(self, confusion: np.ndarray | None) -> None:
        self.confusion, self.selected = confusion, None
        self.update()

    def select(self, cell: tuple[int, int] | None) -> None:
        self.selected = cell
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        """The left and top of cell (0, 0) and a cell's side: a square grid with room for the labels."""
        span = 10 + LABELS  # the grid and, above it and on its left, the labels, in cells
        side = max(1.0, min(self.width(), self.height()) / span)
        left = (self.width() - span * side) / 2 + LABELS * side
        top = (self.height() - span * side) / 2 + LABELS * side
        return left, top, side

    def count_font(self) -> QFont:
        """The font of the counts: as large as lets the widest count fit its cell with a margin."""
        _, _, side = self._geometry()
        widest = str(int(self.confusion.max())) if self.confusion is not None else "0000"
        font = QFont(self.font())
        size = max(MIN_COUNT_PX, int(side * COUNT_HEIGHT))
        font.setPixelSize(size)
        while size > MIN_COUNT_PX and QFontMetricsF(font).horizontalAdvance(widest) > side * COUNT_WIDTH:
            size -= 1
            font.setPixelSize(size)
        return font

    def cell_rect(self, true: int, guess: int) -> QRectF:
        left, top, side = self._geometry()
        return QRectF(left + guess * side, top + true * side, side, side)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        left, top, side = self._geometry()
        col, row = int((pos.x() - left) // side), int((pos.y() - top) // side)
        return (row, col) if 0 <= row < 10 and 0 <= col < 10 else None

    def _colour(self, true: int, guess: int) -> QColor:
        c = self.confusion
        if true == guess:
            share = c[true, true] / max(1, c[true].sum())
            fade = int(200 * (1 - share) + 40)
            return QColor(fade, min(255, fade + 120), fade)  # green: the more right, the deeper
        worst = max(1, int((c - np.diag(np.diag(c))).max()))
        strength = np.sqrt(c[true, guess] / worst)  # a root, so a few mistakes still show
        return QColor(255, int(255 - 200 * strength), int(255 - 200 * strength))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        left, top, side = self._geometry()
        text = self.palette().text().color()
        painter.setPen(text)
        for d in range(10):
            painter.drawText(QRectF(left + d * side, top - side * 0.9, side, side * 0.9), Qt.AlignmentFlag.AlignCenter,
                             str(d))
            painter.drawText(QRectF(left - side * 0.9, top + d * side, side * 0.9, side), Qt.AlignmentFlag.AlignCenter,
                             str(d))
        painter.drawText(QRectF(left, top - side * 1.6, 10 * side, side * 0.7), Qt.AlignmentFlag.AlignCenter,
                         "read as →")
        painter.save()
        painter.translate(left - side * 1.3, top + 5 * side)
        painter.rotate(-90)
        painter.drawText(QRectF(-5 * side, -side * 0.35, 10 * side, side * 0.7), Qt.AlignmentFlag.AlignCenter,
                         "← true digit")
        painter.restore()
        painter.setFont(self.count_font())
        for t in range(10):
            for g in range(10):
                rect = self.cell_rect(t, g)
                if self.confusion is None:
                    painter.fillRect(rect, QColor(128, 128, 128, 30))
                    continue
                painter.fillRect(rect, self._colour(t, g))
                count = int(self.confusion[t, g])
                painter.setPen(QColor(20, 20, 20) if count or t == g else QColor(190, 190, 190))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count))
        painter.setPen(QPen(self.palette().mid().color(), 0))
        for i in range(11):
            painter.drawLine(QPointF(left + i * side, top), QPointF(left + i * side, top + 10 * side))
            painter.drawLine(QPointF(left, top + i * side), QPointF(left + 10 * side, top + i * side))
        if self.selected is not None:
            painter.setPen(QPen(ACCENT, 3))
            painter.drawRect(self.cell_rect(*self.selected))
        painter.end()

    def mousePressEvent(self, event) -> None:
        cell = self.cell_at(event.position())
        if event.button() != Qt.MouseButton.LeftButton or cell is None or self.confusion is None:
            return super().mousePressEvent(event)
        self.cell_clicked.emit(*cell)

    def mouseMoveEvent(self, event) -> None:
        cell = self.cell_at(event.position())
        if cell is None or self.confusion is None:
            QToolTip.hideText()
            return
        t, g = cell
        count = int(self.confusion[t, g])
        tip = (f"{count} of {int(self.confusion[t].sum())} test {t}s read right" if t == g
               else f"{count} test {t}s read as {g}")
        QToolTip.showText(event.globalPosition().toPoint(), tip, self)


class MistakesView(QWidget):
    """The matrix, a line saying what the gallery shows, and the gallery. ``picked`` gives a digit's
    28x28 uint8 pixels (white on black, as in MNIST) when one is clicked."""

    picked = Signal(object)  # np.ndarray

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.mistakes: Mistakes | None = None
        self.filter: tuple[int | None, int | None] = (None, None)  # (true digit, guess); None: any
        self.shown = np.zeros(0, np.int64)  # positions in mistakes.diagnosis.wrong of the gallery's tiles

        self.summary = QLabel(WAITING)
        self.summary.setWordWrap(True)
        self.matrix = ConfusionMatrix()
        self.matrix.cell_clicked.connect(self._cell_clicked)
        self.filter_label = QLabel("")
        self.filter_label.setWordWrap(True)
        self.show_all = QPushButton("Show all")
        self.show_all.clicked.connect(lambda: self.set_filter(None, None))
        self.gallery = TileGrid(scale=2)
        self.gallery.picked.connect(lambda row: self.picked.emit(self.mistakes.images[self.shown[row]]))

        filter_row = QHBoxLayout()
        filter_row.addWidget(self.filter_label, 1)
        filter_row.addWidget(self.show_all)
        beside = QVBoxLayout()  # the gallery and what it shows: under the matrix, or beside it
        beside.addLayout(filter_row)
        beside.addWidget(self.gallery, 1)
        self.body = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        self.body.addWidget(self.matrix, 5)
        self.body.addLayout(beside, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(self.body, 1)
        self._show_filter()

    def resizeEvent(self, event) -> None:
        """A wide tab puts the gallery beside the matrix, a tall one under it: the matrix gets the room."""
        super().resizeEvent(event)
        wide = self.width() > WIDE * self.height()
        self.body.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
        # Beside the gallery, the (square) matrix is as wide as the tab is tall, and the gallery takes the rest.
        self.matrix.setMaximumWidth(round(self.height() * MATRIX_WIDTH) if wide else QWIDGETSIZE_MAX)

    def show_finding(self, model: LiveModel) -> None:
        self.summary.setText(f"Reading the {MNIST_TEST_SIZE:,} MNIST test digits with {model.title}…")

    def show_mistakes(self, mistakes: Mistakes) -> None:
        self.mistakes = mistakes
        d = mistakes.diagnosis
        right = d.total - len(d.wrong)
        self.summary.setText(f"{mistakes.model.title}: {right:,} of {d.total:,} MNIST test digits read right "
                             f"({d.accuracy:.2%}), {len(d.wrong):,} misread")
        self.matrix.set_confusion(d.confusion)
        self.set_filter(None, None)

    def show_failure(self, reason: str) -> None:
        self.mistakes = None
        self.summary.setText(f"No mistakes to show: {reason}")
        self.matrix.set_confusion(None)
        self.set_filter(None, None)

    def _cell_clicked(self, true: int, guess: int) -> None:
        """Show that kind of mistake in the gallery, and put its most confident one on the canvas."""
        self.set_filter(*filter_for_cell(self.filter, true, guess))
        if self.filter != (None, None) and len(self.shown) and self.mistakes is not None:
            self.picked.emit(self.mistakes.images[self.mistakes.surest(self.shown)])

    def set_filter(self, true: int | None, guess: int | None) -> None:
        """Show the mistakes with this true digit and this guess (None: any) in the gallery."""
        self.filter = (true, guess)
        self.matrix.select(None if true is None else (true, true if guess is None else guess))
        if self.mistakes is None:
            self.shown = np.zeros(0, np.int64)
            self.gallery.tiles.set_tiles(np.zeros((0, 28, 28), np.uint8), [])
        else:
            d = self.mistakes.diagnosis
            self.shown = d.mistakes_of(true, guess)
            captions = [f"{d.truth[p]} → {d.guess[p]}" for p in self.shown]
            tips = [f"test digit #{d.wrong[p]}: a {d.truth[p]}, read as {d.guess[p]} ({d.confidence[p]:.0%} sure); "
                    f"click to put it on the canvas" for p in self.shown]
            self.gallery.tiles.set_tiles(self.mistakes.images[self.shown], captions, tips)
        self._show_filter()

    def _show_filter(self) -> None:
        true, guess = self.filter
        n = len(self.shown)
        if self.mistakes is None:
            text = ""
        elif true is None:
            text = f"All {n:,} misread digits (click a cell to see one kind of mistake, a digit to draw it)"
        elif guess is None:
            text = f"Every {true} read wrong: {n}"
        else:
            text = f"{true} read as {guess}: {n}"
        self.filter_label.setText(text)
        self.show_all.setEnabled(true is not None)
