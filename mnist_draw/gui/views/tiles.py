"""A scrolling grid of small pictures with captions, fast even with a thousand of them.

Both the gallery of misread digits and the first layer's weight images are grids of 28x28 pictures,
enlarged, each with a caption. Qt's ``QListView`` in icon mode lays such a grid out, wraps it to the
width of the window and scrolls it; it asks its model only for the items on screen, so here the
enlarged picture (a ``QPixmap``) of an item is made the first time it is shown and kept until the
tiles change. The pictures themselves come in as one numpy array, grey or RGB, which is plain data
that may be made anywhere.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from mnist_draw.gui.views.images import array_to_qimage

HIGHLIGHT = QColor(255, 200, 40)


class TileModel(QAbstractListModel):
    """The tiles: pictures, captions, tooltips, and which of them are highlighted."""

    def __init__(self, scale: int, parent=None):
        super().__init__(parent)
        self.scale = scale
        self._images = np.zeros((0, 28, 28), np.uint8)
        self._captions: list[str] = []
        self._tips: list[str] = []
        self._pixmaps: dict[int, QPixmap] = {}
        self._highlighted: frozenset[int] = frozenset()

    def set_tiles(self, images: np.ndarray, captions: list[str], tips: list[str] | None = None) -> None:
        """New tiles. As many as before (new weights of the same network): changed in place, so the
        view keeps its scroll position and highlights."""
        same_count = len(captions) == len(self._captions)
        if not same_count:
            self.beginResetModel()
        self._images, self._captions = images, captions
        self._tips = tips if tips is not None else captions
        self._pixmaps.clear()
        if same_count:
            if captions:
                self.dataChanged.emit(self.index(0), self.index(len(captions) - 1))
        else:
            self._highlighted = frozenset()
            self.endResetModel()

    def set_highlighted(self, rows) -> None:
        rows = frozenset(int(r) for r in rows)
        changed, self._highlighted = rows ^ self._highlighted, rows
        for row in changed:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.BackgroundRole])

    @property
    def highlighted(self) -> frozenset[int]:
        return self._highlighted

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._captions)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        row = index.row()
        if not index.isValid() or row >= len(self._captions):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._captions[row]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tips[row]
        if role == Qt.ItemDataRole.DecorationRole:
            if row not in self._pixmaps:
                image = array_to_qimage(self._images[row])
                side = self.scale * image.width()
                self._pixmaps[row] = QPixmap.fromImage(image.scaled(side, side))  # no smoothing: crisp pixels
            return self._pixmaps[row]
        if role == Qt.ItemDataRole.BackgroundRole and row in self._highlighted:
            return HIGHLIGHT
        return None


class TileGrid(QListView):
    """The grid on screen. ``picked`` gives the row of a clicked tile."""

    picked = Signal(int)

    def __init__(self, scale: int = 2, caption_lines: int = 1, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles = TileModel(scale, self)
        self.setModel(self.tiles)
        side = 28 * scale
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setIconSize(QSize(side, side))
        line = self.fontMetrics().height()
        self.setGridSize(QSize(side + 16, side + 8 + caption_lines * line))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.clicked.connect(lambda index: self.picked.emit(index.row()))
