"""The main window: the canvas on the left, the network's guess on the right, the trainer below.

The window only wires the parts together. Each change of the canvas starts a one-frame timer; when it
fires, the latest picture goes to the live classifier, so the network reads the drawing at most once
per frame and the paint path never waits for it. Guesses come back as signals and are shown.

Models reach the classifier from three places: a file (the shipped model, the last one used, or
Load model…), and the trainer, which hands over its weights while it learns and the finished model
at the end. Whatever the classifier reports as live is what Save model… writes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QKeyCombination, Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMainWindow, QSizePolicy, QSlider, QSplitter,
                               QTabWidget, QToolBar, QWidget)

from mnist_draw.gui.canvas import DEFAULT_PEN_WIDTH, PEN_WIDTHS, Canvas
from mnist_draw.gui.classifier import Guess, LiveClassifier, LiveModel
from mnist_draw.gui.inside_view import InsideView
from mnist_draw.gui.mistakes_view import MistakesView
from mnist_draw.gui.prediction_view import PredictionView
from mnist_draw.gui.samples_view import PersonalSamples
from mnist_draw.gui.settings import Settings
from mnist_draw.gui.trainer_panel import TrainerPanel
from mnist_draw.gui.training import Outcome, Trainer
from mnist_draw.paths import default_model_path

FRAME_MS = 16
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"
MODEL_FILTER = "Models (*.safetensors);;All files (*)"


def starting_model(explicit: str | None, settings: Settings) -> Path | None:
    """The model to start with: the one asked for, else the last one used, else the shipped one."""
    if explicit:
        return Path(explicit)
    for path in (settings.model_path(), default_model_path()):
        if path is not None and path.is_file():
            return path
    return None


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings, model: str | None = None, data: str | None = None):
        super().__init__()
        self.setWindowTitle("mnist-draw")
        self.settings = settings
        self.live_model: LiveModel | None = None
        self.last_guess: Guess | None = None
        self._started = False

        self.canvas = Canvas()
        self.canvas.pen_width = settings.pen_width(DEFAULT_PEN_WIDTH)
        self.prediction = PredictionView()
        self.classifier = LiveClassifier(self)
        self.trainer = Trainer(self)
        self.trainer_panel = TrainerPanel(self.trainer, settings, data)

        self.mistakes = MistakesView()
        self.inside = InsideView()
        self.tabs = QTabWidget()  # the guess; where the model goes wrong; what it looks for inside
        self.tabs.addTab(self.prediction, "Guess")
        self.tabs.addTab(self.mistakes, "Mistakes")
        self.tabs.addTab(self.inside, "Inside")
        self.top = QSplitter(Qt.Orientation.Horizontal)
        self.top.addWidget(self.canvas)
        self.top.addWidget(self.tabs)
        self.top.setStretchFactor(0, 3)
        self.top.setStretchFactor(1, 2)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.top)
        self.split.addWidget(self.trainer_panel)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.setCentralWidget(self.split)
        self._make_actions()
        self.resize(1360, 900)
        self.top.setSizes([560, 800])
        self.split.setSizes([560, 300])
        self._restore_layout()

        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(lambda: self.classifier.classify(self.canvas.snapshot()))
        self.canvas.changed.connect(self._canvas_changed)
        self.canvas.history_changed.connect(self._update_actions)
        self.canvas.problem.connect(self.say)
        self.classifier.ready.connect(self.trainer_panel.setup)
        self.classifier.guessed.connect(self._show_guess)
        self.classifier.model_changed.connect(self._model_changed)
        self.classifier.problem.connect(self.say)
        self.mistakes.picked.connect(self.canvas.put_pixels)
        # MNIST missing at start-up: the Mistakes tab tries again once it is there (a folder chosen, or
        # downloaded by a training run, which has read it by the end of its first epoch).
        self.trainer_panel.data_found.connect(self.mistakes.retry)
        self.trainer.epoch_done.connect(lambda _: self.mistakes.retry(self.trainer_panel.data_dir))
        self._model_before_training: LiveModel | None = None
        self.trainer.weights.connect(self.classifier.use_model)
        self.trainer.failed.connect(self._training_failed)
        self.trainer.finished.connect(self._training_finished)
        self.trainer.finished.connect(self._update_actions)
        self.trainer.started.connect(self._training_started)
        self.classifier.model_changed.connect(self.trainer_panel.set_live_model)
        self.samples = PersonalSamples(self)  # digit keys, bar clicks, the count, Samples ▸ My samples…

        path = starting_model(model, settings)
        if path is None:
            self.say("No model yet — train one below, or load one (File ▸ Load model…)")
        else:
            self.say(f"Loading {path}…")
            self.classifier.load_file(str(path))
        self._update_actions()

    # ----------------------------------------------------------------------------------- actions

    def _action(self, text: str, slot, shortcuts=(), checkable: bool = False) -> QAction:
        action = QAction(text, self)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        redo_keys = list(QKeySequence.keyBindings(QKeySequence.StandardKey.Redo))
        ctrl_shift_z = QKeySequence(QKeyCombination(Qt.KeyboardModifier.ControlModifier
                                                    | Qt.KeyboardModifier.ShiftModifier, Qt.Key.Key_Z))
        if ctrl_shift_z not in redo_keys:
            redo_keys.append(ctrl_shift_z)
        self.open_action = self._action("Open image…", self.choose_image, [QKeySequence.StandardKey.Open])
        self.paste_action = self._action("Paste", self.paste, [QKeySequence.StandardKey.Paste])
        self.load_action = self._action("Load model…", self.choose_model)
        self.save_action = self._action("Save model…", self.choose_save_path, [QKeySequence.StandardKey.Save])
        self.quit_action = self._action("Quit", self.close, [QKeySequence.StandardKey.Quit])
        self.undo_action = self._action("Undo", self.canvas.undo, [QKeySequence.StandardKey.Undo])
        self.redo_action = self._action("Redo", self.canvas.redo, redo_keys)
        self.clear_action = self._action("Clear", self.canvas.clear, [Qt.Key.Key_Escape, Qt.Key.Key_Delete])
        self.eraser_action = self._action("Eraser", self._set_eraser, ["E"], checkable=True)

        file_menu = self.menuBar().addMenu("&File")
        for action in (self.open_action, self.paste_action, None, self.load_action, self.save_action, None,
                       self.quit_action):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        edit_menu = self.menuBar().addMenu("&Edit")
        for action in (self.undo_action, self.redo_action, self.clear_action, self.eraser_action):
            edit_menu.addAction(action)

        self.pen_slider = QSlider(Qt.Orientation.Horizontal)
        self.pen_slider.setRange(round(PEN_WIDTHS[0] * 1000), round(PEN_WIDTHS[1] * 1000))
        self.pen_slider.setValue(round(self.canvas.pen_width * 1000))
        self.pen_slider.setFixedWidth(140)
        self.pen_slider.setToolTip("Pen width")
        self.pen_slider.valueChanged.connect(self._set_pen_width)
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
        for action in (self.open_action, self.paste_action, None, self.undo_action, self.redo_action,
                       self.clear_action, None, self.eraser_action):
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        toolbar.addWidget(pen)
        toolbar.addSeparator()
        toolbar.addAction(self.load_action)
        toolbar.addAction(self.save_action)
        self.addToolBar(toolbar)

    def _update_actions(self) -> None:
        self.undo_action.setEnabled(self.canvas.can_undo())
        self.redo_action.setEnabled(self.canvas.can_redo())
        self.clear_action.setEnabled(not self.canvas.empty)
        self.save_action.setEnabled(self.live_model is not None)
        self.load_action.setEnabled(not self.trainer.running)

    def _set_pen_width(self, value: int) -> None:
        self.canvas.pen_width = value / 1000
        self.settings.set_pen_width(self.canvas.pen_width)

    def _set_eraser(self, on: bool) -> None:
        self.canvas.eraser = on

    def say(self, message: str) -> None:
        """A one-line message in the status bar (what went wrong, or what just happened)."""
        self.statusBar().showMessage(message)

    # ------------------------------------------------------------------------ drawing and guesses

    def _canvas_changed(self) -> None:
        if not self._frame.isActive():
            self._frame.start()

    def read_now(self) -> None:
        """Hand the drawing to the classifier now rather than at the next frame (a sample is being kept)."""
        if self._frame.isActive():
            self._frame.stop()
            self.classifier.classify(self.canvas.snapshot())

    def guess_is_current(self) -> bool:
        """True when the guess shown is of the drawing as it is now, by the model that is live now."""
        guess = self.last_guess
        return (not self._frame.isActive() and guess is not None and guess.serial == self.classifier.sent
                and guess.model is self.live_model)

    def _show_guess(self, guess: Guess) -> None:
        self.last_guess = guess
        self.prediction.show_guess(guess)
        self.inside.show_guess(guess)

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture of a digit", "", IMAGE_FILTER)
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> None:
        from mnist_draw.preprocess import ImageError

        try:
            self.canvas.open_file(path)
        except ImageError as exc:
            self.say(str(exc))
            return
        self.say(f"Opened {path}")

    def paste(self) -> None:
        if self.canvas.put_mime(QGuiApplication.clipboard().mimeData()):
            self.say("Pasted a picture")

    # ------------------------------------------------------------------------------------ models

    def _model_changed(self, model: LiveModel) -> None:
        self.live_model = model
        self.prediction.set_model(model)
        self.inside.set_model(model)
        if model.finished:  # not the weights handed over while learning
            self.mistakes.diagnose(model, self.trainer_panel.data_dir)
        if model.path is not None:
            self.settings.set_model_path(model.path)
            trained = model.metadata.get("epochs_trained")
            details = f", {trained} epochs on {model.metadata.get('trained_on', '?')}" if trained else ""
            self.say(f"Model {model.title} from {model.path}: {model.recipe.describe()}{details}")
        self._update_actions()

    def _training_started(self) -> None:
        self._model_before_training = self.live_model
        self._update_actions()

    def _training_failed(self, message: str) -> None:
        """Weights handed over before a run diverged may be broken: bring back the model from before."""
        self.say(f"Training failed: {message}")
        if self._model_before_training is not None:
            self.classifier.use_model(self._model_before_training)

    def _training_finished(self, outcome: Outcome | None) -> None:
        if outcome is None or outcome.model is None:
            return
        self.classifier.use_model(outcome.model)
        self.say(f"The model just trained is live: {outcome.model.title}. Save model… keeps it.")

    def choose_model(self) -> None:
        start = str(self.live_model.path or "") if self.live_model else ""
        path, _ = QFileDialog.getOpenFileName(self, "Load a model", start, MODEL_FILTER)
        if path:
            self.load_model_file(path)

    def load_model_file(self, path: str) -> None:
        """Load in the classifier thread; a file that cannot be used leaves the current model live."""
        self.classifier.load_file(path)

    def choose_save_path(self) -> None:
        if self.live_model is None:
            return
        from mnist_draw.paths import models_dir

        models_dir().mkdir(parents=True, exist_ok=True)
        suggested = models_dir() / f"{self.live_model.recipe.name}.safetensors"
        path, _ = QFileDialog.getSaveFileName(self, "Save the model", str(suggested), MODEL_FILTER)
        if path:
            self.save_model_file(path)

    def save_model_file(self, path: str) -> bool:
        model = self.live_model
        if model is None:
            self.say("No model to save yet: train one first")
            return False
        from mnist_draw.model.files import save_model
        from mnist_draw.model.network import model_from_state

        try:
            saved = save_model(path, model_from_state(model.recipe, model.state), model.metadata)
        except OSError as exc:
            self.say(f"Could not save {path}: {exc.strerror or exc}")
            return False
        self.settings.set_model_path(saved)
        self.say(f"Saved {model.title} to {saved}")
        return True

    # ---------------------------------------------------------------------------------- lifecycle

    def _restore_layout(self) -> None:
        geometry = self.settings.layout("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        for name, splitter in (("top", self.top), ("split", self.split)):
            state = self.settings.layout(name)
            if state is not None:
                splitter.restoreState(state)
        titles = [self.tabs.tabText(i) for i in range(self.tabs.count())]
        if self.settings.tab() in titles:
            self.tabs.setCurrentIndex(titles.index(self.settings.tab()))

    def showEvent(self, event) -> None:
        """Once the window is on screen, start the classifier thread (and its PyTorch import)."""
        super().showEvent(event)
        if not self._started:
            self._started = True
            QTimer.singleShot(0, self.classifier.start)

    def closeEvent(self, event) -> None:
        self._frame.stop()
        self.trainer.shutdown()
        self.classifier.shutdown()
        self.mistakes.shutdown()
        self.settings.set_layout("geometry", self.saveGeometry())
        self.settings.set_layout("top", self.top.saveState())
        self.settings.set_layout("split", self.split.saveState())
        self.settings.set_tab(self.tabs.tabText(self.tabs.currentIndex()))
        if self.trainer_panel.isEnabled():
            self.settings.set_recipe_fields(self.trainer_panel.fields())
        self.settings.sync()
        super().closeEvent(event)
