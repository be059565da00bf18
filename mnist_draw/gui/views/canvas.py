"""The drawing canvas: a square sheet of paper that remembers every stroke.

As in Qt's painting examples, ink goes into an image (a ``QImage``) right in the mouse handlers, and
``paintEvent`` only copies that image to the screen, so painting stays cheap however much is drawn.

Every stroke is also kept as a ``QPainterPath`` in *unit* coordinates (the canvas is the square from
0 to 1 both ways), with its width as a share of the side and whether it was the eraser. From that
list the image can be painted again at any size: after a resize (the drawing scales with the
window), on a HiDPI screen (the image has side x devicePixelRatio pixels) and after undo or redo.
Undo and redo step between snapshots of the drawing; a snapshot is a tuple of strokes, so keeping
many costs little. Painting every stroke again at each step made each step slower the more was drawn,
so the pictures of some snapshots are kept (:class:`_Pictures`) and a step paints only the strokes
that differ from one of them: a new stroke paints one, an undo a few.

The paper is white and the ink black. A picture that is opened, dropped or pasted becomes the
drawing's background, first turned into the same black ink on white paper (whatever its colours or
transparency), so one can draw over it and the classifier reads it like a drawing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFileDialog, QSizePolicy, QWidget

from mnist_draw.gui.state.history import History
from mnist_draw.gui.views.images import PAPER, ink_on_paper, picture_from_mime, qimage_to_array
from mnist_draw.samples import IMAGE_SUFFIXES

INK = 0
# MNIST strokes are 2-3 pixels wide in a 20-pixel box: about a twelfth of a digit's height.
DEFAULT_PEN_WIDTH = 1 / 12
PEN_WIDTHS = (0.02, 0.2)  # the smallest and largest width offered, as shares of the side
# The open dialog offers the files the rest of the app takes for pictures (samples.IMAGE_SUFFIXES).
IMAGE_FILTER = f"Images ({' '.join('*' + s for s in sorted(IMAGE_SUFFIXES))});;All files (*)"
UNDO_LIMIT = 200  # steps of undo kept; older ones are dropped, so a long session's history stays small
CHECKPOINT_EVERY = 8  # the picture after every 8th stroke is kept, so an undo paints at most 7 strokes
CHECKPOINTS = 32  # how many of those are kept, the newest: 256 strokes' worth, a few megabytes


@dataclass(frozen=True)
class Stroke:
    path: QPainterPath  # unit coordinates
    width: float  # share of the canvas side
    eraser: bool


@dataclass(frozen=True)
class Drawing:
    strokes: tuple[Stroke, ...] = ()
    background: QImage | None = None  # grey: black ink on white paper

    @property
    def empty(self) -> bool:
        return not self.strokes and self.background is None


class _Pictures:
    """Pictures of drawings already painted, to start the next one from.

    Strokes are painted in order, each over what is there, so a drawing painted on top of the picture of
    a drawing it begins with (the same background, the same first strokes) comes out the same, pixel for
    pixel, as one painted from scratch. Kept: the last drawing painted, and every drawing whose stroke
    count is a multiple of ``CHECKPOINT_EVERY`` (the newest ``CHECKPOINTS``); all of them only while the
    paper keeps its size in pixels.
    """

    def __init__(self) -> None:
        self._size: tuple[int, float] | None = None
        self._last: tuple[Drawing, QImage] | None = None
        self._checkpoints: list[tuple[Drawing, QImage]] = []

    def start(self, drawing: Drawing, size: tuple[int, float]) -> tuple[QImage | None, int]:
        """A copy of the kept picture ``drawing`` begins with that has the most of its strokes, and how many
        it has; ``(None, 0)`` when none fits (then even the background is still to be painted)."""
        if size != self._size:
            self._size, self._last, self._checkpoints = size, None, []
        best, count = None, 0
        for kept, image in ([self._last] if self._last else []) + self._checkpoints:
            n = len(kept.strokes)
            if (best is None or n > count) and kept.background is drawing.background and n <= len(drawing.strokes) \
                    and all(a is b for a, b in zip(kept.strokes, drawing.strokes)):
                best, count = image, n
        return (best.copy(), count) if best is not None else (None, 0)

    def keep(self, drawing: Drawing, image: QImage) -> None:
        self._last = (drawing, image.copy())  # never painted on: start() hands out copies
        n = len(drawing.strokes)
        if n % CHECKPOINT_EVERY == 0 and n and not any(kept is drawing for kept, _ in self._checkpoints):
            self._checkpoints.append(self._last)
            del self._checkpoints[:-CHECKPOINTS]


class Canvas(QWidget):
    changed = Signal()  # the picture changed; emitted for every bit of ink while drawing
    history_changed = Signal()  # what undo, redo and clear can do changed
    problem = Signal(str)  # a picture opened, dropped or pasted that cannot be used: why, in one line
    opened = Signal(str)  # a picture was put on the canvas: what it was

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.pen_width = DEFAULT_PEN_WIDTH
        self.eraser = False
        self._history: History[Drawing] = History(Drawing(), UNDO_LIMIT)
        self._path: QPainterPath | None = None  # the stroke being drawn
        self._last = QPointF()
        self._image = QImage()
        self._pictures = _Pictures()

    # ------------------------------------------------------------------ what the rest of the app reads

    @property
    def _drawing(self) -> Drawing:
        return self._history.now

    @property
    def empty(self) -> bool:
        return self._drawing.empty

    def snapshot(self) -> QImage | None:
        """A copy of the picture (safe to hand to another thread), or None when nothing is drawn."""
        return None if self.empty and self._path is None else self._image.copy()

    def ink_pixels(self) -> int:
        """How many pixels hold ink (for tests and the self-test: what the user sees)."""
        return int((qimage_to_array(self._image) < PAPER // 2).sum()) if not self._image.isNull() else 0

    def can_undo(self) -> bool:
        return self._history.can_undo or self._path is not None  # during a stroke: that stroke

    def can_clear(self) -> bool:
        return not self.empty or self._path is not None

    def can_redo(self) -> bool:
        return self._history.can_redo

    def square(self) -> QRectF:
        """Where the paper is in the widget: the largest centred square."""
        side = min(self.width(), self.height())
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    # ------------------------------------------------------------------------------------ editing

    def set_eraser(self, on: bool) -> None:
        self.eraser = on

    def undo(self) -> None:
        if self._path is not None or self._history.undo():  # during a stroke: undo takes back that stroke only
            self._show()

    def redo(self) -> None:
        if self._history.redo():
            self._show()

    def clear(self) -> None:
        if not self.empty:
            self._commit(Drawing())
        elif self._path is not None:  # the first stroke, still being drawn: it goes
            self._show()

    def choose_file(self) -> None:
        """Ask for a picture file and put it on the canvas."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture of a digit", "", IMAGE_FILTER)
        if path:
            self.open(path)

    def open(self, path: str) -> bool:
        """Put a picture file on the canvas, or say in one line why it cannot be used."""
        from mnist_draw.preprocess import ImageError

        try:
            self.open_file(path)
        except ImageError as exc:
            self.problem.emit(str(exc))
            return False
        self.opened.emit(f"Opened {path}")
        return True

    def paste(self) -> None:
        """Put the picture on the clipboard on the canvas."""
        if self.put_mime(QGuiApplication.clipboard().mimeData()):
            self.opened.emit("Pasted a picture")

    def open_file(self, path: str | Path) -> None:
        """Put a picture file on the canvas; raises ImageError with a one-line reason."""
        from mnist_draw.preprocess import load_image

        self.put_pixels(load_image(path), f"{path}: ")

    def put_pixels(self, picture: np.ndarray, source: str = "") -> None:
        """Put a picture given as an array on the canvas (an MNIST digit, white on black, becomes black
        ink on white paper); raises ImageError with a one-line reason (``source`` before it)."""
        self._commit(Drawing(background=ink_on_paper(picture, source)))

    def put_mime(self, mime: QMimeData) -> bool:
        """Take a picture from a drop or the clipboard (:func:`picture_from_mime`), or say why not."""
        from mnist_draw.preprocess import ImageError

        try:
            self.put_pixels(*picture_from_mime(mime))
        except ImageError as exc:
            self.problem.emit(str(exc))
            return False
        return True

    def _commit(self, drawing: Drawing) -> None:
        self._history.commit(drawing)
        self._show()

    def _show(self) -> None:
        """Show the drawing the history holds now."""
        self._path = None  # undo, redo, clear or a picture during a stroke end it: the rest of the drag draws nothing
        self._render()
        self.history_changed.emit()
        self.changed.emit()

    # ------------------------------------------------------------------------------------ painting

    def _pen(self, width: float, eraser: bool) -> QPen:
        pen = QPen(QColor(PAPER, PAPER, PAPER) if eraser else QColor(INK, INK, INK))
        pen.setWidthF(width)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        return pen

    def _painter(self) -> QPainter:
        """A painter on the image that draws in unit coordinates."""
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        side = self.square().width()
        painter.scale(side, side)
        return painter

    def _render(self) -> None:
        """Paint the drawing again, at the widget's current size and pixel ratio: on a kept picture of a
        drawing it begins with, or from scratch."""
        ratio = self.devicePixelRatioF()
        pixels = max(1, round(self.square().width() * ratio))
        image, done = self._pictures.start(self._drawing, (pixels, ratio))
        fresh = image is None
        if fresh:
            image = QImage(pixels, pixels, QImage.Format.Format_Grayscale8)
            image.setDevicePixelRatio(ratio)
            image.fill(PAPER)
        self._image = image
        painter = self._painter()
        background = self._drawing.background
        if fresh and background is not None:
            scale = 1 / max(background.width(), background.height())
            w, h = background.width() * scale, background.height() * scale
            painter.drawImage(QRectF((1 - w) / 2, (1 - h) / 2, w, h), background)
        self._paint_strokes(painter, self._drawing.strokes[done:])
        painter.end()
        self._pictures.keep(self._drawing, self._image)
        self.update()

    def _paint_strokes(self, painter: QPainter, strokes: tuple[Stroke, ...]) -> None:
        for stroke in strokes:
            painter.setPen(self._pen(stroke.width, stroke.eraser))
            painter.drawPath(stroke.path)

    def _unit(self, pos: QPointF) -> QPointF:
        square = self.square()
        return (pos - square.topLeft()) / square.width()

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self._last = self._unit(event.position())
        self._path = QPainterPath(self._last)
        self._add_segment(self._last + QPointF(1e-4, 0))  # a click leaves a dot
        self.history_changed.emit()  # a stroke being drawn can be undone or cleared

    def mouseMoveEvent(self, event) -> None:
        if self._path is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return super().mouseMoveEvent(event)
        self._add_segment(self._unit(event.position()))

    def mouseReleaseEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._path is None:
            return super().mouseReleaseEvent(event)
        self._add_segment(self._unit(event.position()))
        stroke = Stroke(self._path, self.pen_width, self.eraser)
        self._path = None
        if self.eraser and self.empty:  # nothing to erase: no drawing, and no step to undo
            self._render()
            self.history_changed.emit()
            return self.changed.emit()
        self._commit(Drawing(self._drawing.strokes + (stroke,), self._drawing.background))

    def _add_segment(self, point: QPointF) -> None:
        self._path.lineTo(point)
        painter = self._painter()
        painter.setPen(self._pen(self.pen_width, self.eraser))
        painter.drawLine(self._last, point)
        painter.end()
        self._last = point
        self.update()
        self.changed.emit()

    def resizeEvent(self, event) -> None:
        self._render()

    def paintEvent(self, event) -> None:
        if self._image.devicePixelRatio() != self.devicePixelRatioF():  # moved to another screen
            self._render()
        painter = QPainter(self)
        square = self.square()
        painter.drawImage(square.topLeft(), self._image)
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(square.adjusted(0, 0, -1, -1))
        if self.empty and self._path is None:
            font = QFont(self.font())
            font.setPixelSize(max(12, round(square.width() / 14)))
            painter.setFont(font)
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(square, Qt.AlignmentFlag.AlignCenter, "Draw a digit")
        painter.end()

    # ---------------------------------------------------------------------------- drag and drop

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if mime.hasImage() or any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        if self.put_mime(event.mimeData()):
            event.acceptProposedAction()
