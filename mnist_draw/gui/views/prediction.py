"""What the network makes of the drawing: the digit, how sure it is, and what it actually saw.

On the left, the guessed digit in large type with its confidence (or "not sure" and the two most
likely digits, when the top probability is low: a guess that hides its doubt teaches the wrong
thing), and under it the 28x28 picture the network really gets after preprocessing, enlarged so that
every pixel shows. On the right, one bar per digit 0-9 with its probability. Below, which model is
live and how it scored on MNIST's test set, and how many personal samples the user has saved.

The bars are also how the user tells the network the right answer: clicking digit d's row emits
``chosen(d)``, and the window keeps the drawing as a personal sample of d (as pressing the key d does).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from mnist_draw.gui.state.live import Guess, LiveModel
from mnist_draw.gui.views.style import ACCENT, ERROR_STYLE

NO_MODEL = "No model yet — train one"


class ProbabilityBars(QWidget):
    """Ten horizontal bars, one per digit, the most likely one highlighted (unless the answer is no digit at
    all); clicking a row chooses its digit."""

    chosen = Signal(int)  # the digit whose row was clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.probabilities: tuple[float, ...] = ()
        self.highlighted: int | None = None  # the digit whose bar is drawn in the accent colour
        self.setMinimumSize(160, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click the right digit to keep the drawing as a sample of it (or press its key)")

    def row_rect(self, digit: int) -> QRectF:
        """Where digit's row is drawn (and clicked)."""
        row = self.height() / 10
        return QRectF(0, digit * row, self.width(), row)

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        for digit in range(10):
            if self.row_rect(digit).contains(event.position()):
                self.chosen.emit(digit)
                return

    def set_probabilities(self, probabilities: tuple[float, ...], highlight: bool = True) -> None:
        """Show these probabilities; ``highlight``: draw the most likely digit's bar in the accent colour
        (not when the answer is "not a digit": no digit stands out then, whichever is a hair ahead)."""
        self.probabilities = probabilities
        self.highlighted = int(np.argmax(probabilities)) if probabilities and highlight else None
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        row = self.height() / 10
        label_w, value_w = row * 1.2, painter.fontMetrics().horizontalAdvance("100%") + 8
        bar_w = max(10.0, self.width() - label_w - value_w)
        text = self.palette().text().color()
        for digit in range(10):
            y = self.row_rect(digit).top()
            p = self.probabilities[digit] if self.probabilities else 0.0
            painter.setPen(text)
            painter.drawText(QRectF(0, y, label_w, row), Qt.AlignmentFlag.AlignCenter, str(digit))
            painter.fillRect(QRectF(label_w, y + row * 0.2, bar_w, row * 0.6), QColor(0, 0, 0, 20))
            colour = ACCENT if digit == self.highlighted else QColor(150, 160, 175)
            painter.fillRect(QRectF(label_w, y + row * 0.2, bar_w * p, row * 0.6), colour)
            if self.probabilities:
                painter.drawText(QRectF(label_w + bar_w + 4, y, value_w, row),
                                 Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"{p:.0%}")
        painter.end()


class MnistView(QWidget):
    """The 28x28 picture the network sees, white on black as MNIST, each pixel a visible square."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pixels: np.ndarray | None = None
        self.setMinimumSize(84, 84)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("The 28×28 picture the network sees: the drawing cropped, scaled and centred as MNIST")

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        self.pixels = pixels
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        side = min(self.width(), self.height())
        side -= side % 28
        area = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        painter.fillRect(area, Qt.GlobalColor.black)
        if self.pixels is not None:
            grey = np.ascontiguousarray(np.round(self.pixels * 255).astype(np.uint8))
            image = QImage(grey.data, 28, 28, 28, QImage.Format.Format_Grayscale8)
            painter.drawImage(area, image)  # no smoothing: every pixel stays a square
        cell = side / 28
        painter.setPen(QPen(QColor(70, 70, 70), 0))
        for i in range(1, 28):
            painter.drawLine(area.left() + i * cell, area.top(), area.left() + i * cell, area.bottom())
            painter.drawLine(area.left(), area.top() + i * cell, area.right(), area.top() + i * cell)
        painter.end()


class BigDigit(QLabel):
    """The guessed digit, large. It asks for the height a digit's glyph takes, not for the font's line
    spacing, which some system fonts (Noto Sans, the default on many Linux desktops) make far taller than
    the glyphs (a sixth taller than DejaVu Sans's): with them the smallest window would cut the view."""

    def minimumSizeHint(self) -> QSize:  # the same whatever digit is shown, so that nothing moves
        glyphs = self.fontMetrics().tightBoundingRect("0123456789").height()
        return QSize(super().minimumSizeHint().width(), glyphs + 16)


class PredictionView(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.digit = BigDigit("")
        font = QFont(self.font())
        font.setPixelSize(80)
        font.setBold(True)
        self.digit.setFont(font)
        self.digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict = QLabel("Draw a digit")
        verdict_font = QFont(self.font())
        verdict_font.setPointSizeF(self.font().pointSizeF() * 1.3)
        self.verdict.setFont(verdict_font)
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = ProbabilityBars()
        self.mnist = MnistView()
        seen = QLabel("What the network sees (28×28)")
        seen.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_label = QLabel(NO_MODEL)
        self.model_label.setWordWrap(True)
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        model_font = QFont(self.font())
        model_font.setBold(True)
        self.model_label.setFont(model_font)
        self.problem = QLabel()  # a model file that could not be used, said where the user looks
        self.problem.setWordWrap(True)
        self.problem.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.hide()
        self.samples_label = QLabel()
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.samples_label.setToolTip("Your drawings kept with the right digit: press a digit key or click its "
                                      "bar to add one; Samples ▸ My samples… to see them")
        self.set_sample_count(0)

        guess = QVBoxLayout()
        guess.addWidget(self.digit)
        guess.addWidget(self.verdict)
        guess.addSpacing(12)
        guess.addWidget(seen)
        guess.addWidget(self.mnist, 1)
        columns = QHBoxLayout()
        columns.addLayout(guess, 1)
        columns.addSpacing(12)
        columns.addWidget(self.bars, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.model_label)
        layout.addWidget(self.problem)
        layout.addWidget(self.samples_label)

    def set_sample_count(self, count: int) -> None:
        self.samples_label.setText(f"My samples: {count}")

    def show_problem(self, text: str) -> None:
        """Say under the model's name why a model could not be used (until another model goes live)."""
        self.problem.setText(text)
        self.problem.show()

    def set_model(self, model: LiveModel | None) -> None:
        self.problem.hide()
        if model is None:
            self.model_label.setText(NO_MODEL)
            self.model_label.setToolTip("")
        else:
            self.model_label.setText(f"Model: {model.title}")
            self.model_label.setToolTip(model.recipe.describe())

    def show_guess(self, guess: Guess) -> None:
        """The guess as the one rule (:mod:`mnist_draw.verdict`) words it: a sure digit in black; a doubt,
        a drawing that is no digit or a pen too thick for it in grey, with the digit as a hint."""
        self.mnist.set_pixels(guess.pixels)
        v = guess.verdict
        if guess.pixels is None:
            digit, text = "", "Draw a digit"
        elif v is None:
            digit, text = "?", NO_MODEL
        elif v.sure:
            digit, text = str(v.label), f"{v.confidence:.0%} sure"
        else:
            digit, text = (f"{v.label}?" if v.names_a_digit else "?"), v.text
        self.bars.set_probabilities(guess.probabilities,
                                    highlight=guess.pixels is not None and v is not None and v.names_a_digit)
        self.digit.setText(digit)
        self.digit.setStyleSheet("" if v is not None and v.sure else "color: palette(mid);")
        self.verdict.setText(text)
