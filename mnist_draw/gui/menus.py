"""The window's actions, menus and toolbar: what the user can ask for, with its keys.

Each action only says which method of the window it triggers; the window decides what happens.
"""

from __future__ import annotations

from PySide6.QtCore import QKeyCombination, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolBar, QWidget

from mnist_draw.gui.views.canvas import PEN_WIDTHS

PEN_STEPS = 1000  # the pen slider's steps per canvas side (the pen's width is a share of the side)


class Actions:
    """Every action of the window, its menus and its toolbar (built on ``window``)."""

    def __init__(self, window):
        self.window = window
        std = QKeySequence.StandardKey
        self.open = self._action("Open image…", window.canvas.choose_file, [std.Open])
        self.paste = self._action("Paste", window.canvas.paste, [std.Paste])
        self.save_drawing = self._action("Save drawing…", lambda: window.save_drawing(), [std.SaveAs])
        self.load = self._action("Load model…", lambda: window.models.choose_model())
        self.save = self._action("Save model…", lambda: window.models.choose_save_path(), [std.Save])
        self.quit = self._action("Quit", window.close, [std.Quit])
        self.undo = self._action("Undo", window.canvas.undo, [std.Undo])
        self.redo = self._action("Redo", window.canvas.redo, self._redo_keys())
        self.clear = self._action("Clear", window.canvas.clear, [Qt.Key.Key_Escape, Qt.Key.Key_Delete])
        self.eraser = self._action("Eraser", window.canvas.set_eraser, ["E"], checkable=True)
        self.digits = [self._action(f"Save the drawing as a {d}", lambda checked=False, d=d: window.teach(d), [str(d)])
                       for d in range(10)]
        self.take_back = self._action("Take back the last sample", window.samples.take_back)
        self.browse = self._action("My samples…", window.samples.browse)
        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setRange(round(PEN_WIDTHS[0] * PEN_STEPS), round(PEN_WIDTHS[1] * PEN_STEPS))
        self.pen_slider.setFixedWidth(140)
        self.pen_slider.setToolTip("Pen width")
        self._menus()
        window.addToolBar(self._toolbar())

    def _action(self, text: str, slot, shortcuts=(), checkable: bool = False) -> QAction:
        action = QAction(text, self.window)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.window.addAction(action)
        return action

    @staticmethod
    def _redo_keys() -> list:
        keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))
        ctrl_shift_z = QKeySequence(QKeyCombination(Qt.KeyboardModifier.ControlModifier
                                                    | Qt.KeyboardModifier.ShiftModifier, Qt.Key.Key_Z))
        return keys if ctrl_shift_z in keys else [*keys, ctrl_shift_z]

    def _menus(self) -> None:
        bar = self.window.menuBar()
        file_menu = (self.open, self.paste, self.save_drawing, None, self.load, self.save, None, self.quit)
        for title, actions in (("&File", file_menu), ("&Edit", (self.undo, self.redo, self.clear, self.eraser))):
            menu = bar.addMenu(title)
            for action in actions:
                menu.addSeparator() if action is None else menu.addAction(action)
        self.models_menu = bar.addMenu("&Models")  # the recent models, filled by the window
        samples = bar.addMenu("&Samples")
        samples.addAction(self.browse)
        save_as = samples.addMenu("Save the drawing as")
        for action in self.digits:
            save_as.addAction(action)
        samples.addAction(self.take_back)

    def _toolbar(self) -> QToolBar:
        pen = QWidget()
        pen.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        pen_layout = QHBoxLayout(pen)
        pen_layout.setContentsMargins(8, 0, 8, 0)
        pen_layout.addWidget(QLabel("Pen"))
        pen_layout.addWidget(self.pen_slider)
        toolbar = QToolBar("Drawing")
        toolbar.setObjectName("drawing")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (self.open, self.paste, None, self.undo, self.redo, self.clear, None, self.eraser):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        toolbar.addWidget(pen)
        toolbar.addSeparator()
        toolbar.addAction(self.load)
        toolbar.addAction(self.save)
        return toolbar
