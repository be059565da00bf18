"""Drawing on the canvas with real mouse events, as a user's hand would.

The self-test, the screenshot script and the tests all draw through these helpers. Each stroke is a
press, moves with the left button held, and a release, sent as ``QMouseEvent`` objects to the
canvas, so they go through its real mouse handlers. (``QTest.mouseMove`` is not used: it does not
say that a button is held, and the canvas rightly ignores moves without one.)
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def send_mouse(widget: QWidget, kind: QEvent.Type, pos: QPointF, button=LEFT, buttons=LEFT) -> None:
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def move_with_button(widget: QWidget, pos: QPointF) -> None:
    send_mouse(widget, QEvent.Type.MouseMove, pos, NONE, LEFT)


def draw_stroke(widget: QWidget, points: list[QPointF]) -> None:
    """Press at the first point, move through the rest with the button held, release at the last."""
    send_mouse(widget, QEvent.Type.MouseButtonPress, points[0])
    for point in points[1:]:
        move_with_button(widget, point)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, points[-1], LEFT, NONE)


def canvas_point(canvas, x: float, y: float) -> QPointF:
    """Where (x, y), given as shares of the paper's side, is in the canvas widget."""
    square = canvas.square()
    return square.topLeft() + QPointF(x, y) * square.width()


def draw_unit_stroke(canvas, points: list[tuple[float, float]], steps: int = 8) -> None:
    """A stroke through points given as shares of the side, with ``steps`` moves between each pair."""
    path = [canvas_point(canvas, *points[0])]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        path += [canvas_point(canvas, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t) for t in np.linspace(0, 1, steps + 1)[1:]]
    draw_stroke(canvas, path)


def draw_one(canvas) -> None:
    """A plain handwritten "1": one slightly slanted downstroke."""
    draw_unit_stroke(canvas, [(0.53, 0.18), (0.47, 0.82)], steps=20)


def trace_digit(canvas, pixels: np.ndarray, threshold: float = 0.35) -> None:
    """Trace a 28x28 digit (pixels in [0, 1]) row by row: one stroke along each run of ink.

    Use a pen of a 28th of the side, one MNIST pixel, so the traced digit has MNIST's thickness.
    """
    for row, values in enumerate(np.asarray(pixels) > threshold):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], values.astype(np.int8), [0]])))
        for start, end in zip(edges[::2], edges[1::2]):
            y = (row + 0.5) / 28
            draw_unit_stroke(canvas, [((start + 0.5) / 28, y), ((end - 0.5) / 28, y)], steps=max(1, end - start))
