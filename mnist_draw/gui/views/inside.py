"""Looking inside the network: what its first layer looks for, and what the drawing sets off.

A unit of the first hidden layer adds up the 784 pixels, each times its own weight, and passes the sum
through its activation function. Its 784 weights fit the picture they read, so they can be shown as a
28x28 image: red where ink raises the unit's value, blue where ink lowers it, white where ink does not
matter. Each tile is scaled to its own strongest weight, so every unit's pattern shows. A model with
no hidden layer (the ``linear`` recipe) has only the ten output units: their images are the ten
digits' templates, and a digit's score is how much ink falls on its red and misses its blue.

Under the tiles, the activations of every hidden layer for the drawing on the canvas, one cell per
unit, redder the stronger (blue for negative values, which tanh units can have), updated live while
drawing. The first layer's most active units are highlighted among the weight tiles: those are the
patterns the network found in the drawing. The activations come with each guess from the
classifier's thread (``Guess.hidden``); this view only paints them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QListView, QSizePolicy, QVBoxLayout, QWidget

from mnist_draw.gui.state.live import Guess, LiveModel
from mnist_draw.gui.views.tiles import TileGrid

MOST_ACTIVE = 8  # first-layer units shown apart and highlighted for the current drawing


def diverging(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] as RGB: blue for negative, white for 0, red for positive ([..., 3] uint8)."""
    v = np.clip(values, -1.0, 1.0)
    red, blue = 1.0 - np.clip(-v, 0, 1), 1.0 - np.clip(v, 0, 1)
    return np.round(255 * np.stack([red, 1.0 - np.abs(v), blue], axis=-1)).astype(np.uint8)


def scaled(values: np.ndarray, axis=None) -> np.ndarray:
    """``values`` divided by their largest magnitude (along ``axis``), so they span [-1, 1]."""
    top = np.abs(values).max(axis=axis, keepdims=axis is not None) if values.size else 1.0
    return values / np.where(top > 0, top, 1.0)


def weight_images(weights: np.ndarray) -> np.ndarray:
    """A layer's weights [units, 784] as one red/blue 28x28 picture per unit: [units, 28, 28, 3] uint8."""
    return diverging(scaled(weights, axis=1).reshape(-1, 28, 28))


class ActivationMap(QWidget):
    """Each hidden layer's activations as a strip of cells: 64 to a row, or 128 for wide layers."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.sizes: tuple[int, ...] | None = None  # units per hidden layer; None: no model yet
        self.activations: tuple[np.ndarray, ...] = ()  # for the current drawing; () when nothing is drawn
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_sizes(self, sizes: tuple[int, ...]) -> None:
        self.sizes, self.activations = tuple(sizes), ()
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def set_activations(self, activations: tuple[np.ndarray, ...]) -> None:
        """The activations of a guess; ignored when they belong to a network of another shape."""
        self.activations = activations if tuple(len(a) for a in activations) == self.sizes else ()
        self.update()

    @staticmethod
    def _grid(units: int) -> tuple[int, int, int]:
        """Columns, rows and the cell height (pixels) of a layer's strip: a wide layer gets flat cells."""
        columns = min(units, 64 if units <= 256 else 128)
        rows = -(-units // columns)
        return columns, rows, 8 if rows <= 4 else 4

    def _strip_height(self, units: int) -> int:
        _, rows, cell = self._grid(units)
        return rows * cell + 6

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().height() + 4
        if not self.sizes:  # no model, or no hidden layer
            return QSize(300, 2 * line)
        return QSize(300, sum(line + self._strip_height(n) for n in self.sizes))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        line = self.fontMetrics().height() + 4
        painter.setPen(self.palette().text().color())
        if self.sizes == ():
            painter.drawText(QRectF(0, 0, self.width(), 2 * line), Qt.TextFlag.TextWordWrap,
                             "No hidden layer: the ten pictures above are the whole network.")
        y = 0.0
        for i, units in enumerate(self.sizes or ()):
            values = self.activations[i] if self.activations else None
            if values is None:
                about = "draw a digit to see them"
            else:
                about = f"{int((values > 1e-6).sum())} active, strongest {np.abs(values).max():.2f}"
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(0, y, self.width(), line), Qt.AlignmentFlag.AlignVCenter,
                             f"Hidden layer {i + 1}: {units} units — {about}")
            y += line
            columns, _, height = self._grid(units)
            width = self.width() / columns
            colours = diverging(scaled(values)) if values is not None else None
            for unit in range(units):
                rect = QRectF((unit % columns) * width, y + (unit // columns) * height, width, height)
                colour = QColor(*colours[unit]) if colours is not None else QColor(128, 128, 128, 40)
                painter.fillRect(rect.adjusted(0, 0, -0.5, -0.5), colour)
            y += self._strip_height(units)
        painter.end()


class InsideView(QWidget):
    """What it is about, the drawing's most active first-layer units, all the weight tiles, the activations."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model: LiveModel | None = None
        self._tiled: LiveModel | None = None  # the model the weight tiles show
        self._images = np.zeros((0, 28, 28, 3), np.uint8)  # its weight pictures
        self._guess: Guess | None = None  # the last guess shown
        self.top: list[int] = []  # the most active units for it, strongest first
        self.about = QLabel("No model yet")
        self.about.setWordWrap(True)
        self.active_label = QLabel("")
        self.most_active = TileGrid(scale=2)  # one row: the first layer's most active units, strongest first
        self.most_active.setWrapping(False)
        self.most_active.setFlow(QListView.Flow.LeftToRight)
        self.most_active.setFixedHeight(self.most_active.gridSize().height() + 2 * self.most_active.frameWidth() + 2)
        self.most_active.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.most_active.picked.connect(self._go_to_unit)
        self.weights = TileGrid(scale=2)
        self.weights.setMinimumHeight(self.weights.gridSize().height() // 2)  # half a row of tiles at least
        self.activations = ActivationMap()
        layout = QVBoxLayout(self)
        layout.addWidget(self.about)
        layout.addWidget(self.active_label)
        layout.addWidget(self.most_active)
        layout.addWidget(self.weights, 1)
        layout.addWidget(self.activations)

    @property
    def tile_count(self) -> int:
        return self.weights.tiles.rowCount()

    def set_model(self, model: LiveModel | None) -> None:
        """Show this model's first layer (None: no model). While hidden (another tab in front), wait until shown."""
        self.model = model
        if model is None:
            self._tiled, self._guess, self.top = None, None, []
            self._images = np.zeros((0, 28, 28, 3), np.uint8)
            self.weights.tiles.set_tiles(self._images, [])
            self.most_active.tiles.set_tiles(self._images, [])
            self.activations.set_sizes(())
            self.about.setText("No model yet")
            return
        if model.recipe.hidden != self.activations.sizes:
            self.activations.set_sizes(model.recipe.hidden)
        if self.isVisible():
            self._show_weights()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._show_weights()

    def _show_weights(self) -> None:
        from mnist_draw.model.network import first_layer_weights  # a model is live: PyTorch is loaded

        model = self.model
        if model is None or model is self._tiled:
            return
        self._tiled = model
        weights = first_layer_weights(model.state).numpy()
        units, hidden = len(weights), bool(model.recipe.hidden)
        self._images = weight_images(weights)
        if hidden:
            captions = [str(u) for u in range(units)]
            tips = [f"unit {u} of the first hidden layer: ink on red raises it, ink on blue lowers it"
                    for u in range(units)]
            self.about.setText(f"The first layer's {units} units, each a 28×28 picture of its weights: ink on red "
                               f"raises the unit, ink on blue lowers it.")
        else:
            captions = [f"digit {u}" for u in range(units)]
            tips = [f"the weights of digit {u}'s score: ink on red counts for it, ink on blue against"
                    for u in range(units)]
            self.about.setText("No hidden layer: each digit's score weighs the pixels directly; its weights as a "
                               "28×28 picture (ink on red counts for the digit, on blue against). Highlighted: "
                               "the guess.")
        self.active_label.setVisible(hidden)
        self.most_active.setVisible(hidden)
        self.weights.tiles.set_tiles(self._images, captions, tips)
        if self._guess is not None:
            self.show_guess(self._guess)

    def show_guess(self, guess: Guess) -> None:
        self._guess = guess
        self.activations.set_activations(guess.hidden)
        top: list[int] = []
        if guess.pixels is not None and guess.label is not None and guess.model is not None:
            if guess.hidden and len(guess.hidden[0]) == self.tile_count:
                top = guess.most_active(MOST_ACTIVE)
            elif not guess.hidden and self.tile_count == 10:
                top = [guess.label]
        self.top = top
        self.weights.tiles.set_highlighted(top)
        if self.activations.sizes:  # a model with hidden layers: its most active units, shown apart
            values = guess.hidden[0] if top else None
            self.most_active.tiles.set_tiles(self._images[top], [f"{u}: {values[u]:.1f}" for u in top],
                                             [f"unit {u}, activation {values[u]:.2f}: click to find it below"
                                              for u in top])
            self.active_label.setText(f"The {len(top)} most active units for the drawing (unit: activation), "
                                      f"highlighted below:" if top else "Draw a digit to see which units it sets off")

    def _go_to_unit(self, row: int) -> None:
        index = self.weights.tiles.index(self.top[row])
        self.weights.scrollTo(index)
        self.weights.setCurrentIndex(index)
