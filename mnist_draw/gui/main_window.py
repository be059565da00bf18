"""The main window: the canvas on the left, the network's guess on the right, the trainer below.

The window connects three kinds of parts and decides nothing itself:

* views (:mod:`mnist_draw.gui.views`) show things and say what the user asked for;
* the application state (:class:`~mnist_draw.gui.state.app_state.AppState`, and
  :class:`~mnist_draw.gui.state.teaching.Teaching` for personal samples) decides, in plain Python;
  the trainer, the model files and the personal samples each have a part that shows their state
  (``trainer_control``, ``models_control``, ``samples_control``);
* three workers (:class:`~mnist_draw.gui.workers.worker.Worker`) run the background tasks: reading the
  drawing, training, finding a model's mistakes. What they yield comes back here, one record at a time,
  and goes to the state and the views.

Each change of the canvas starts a one-frame timer; when it fires, the latest picture goes to the
reader, so the network reads the drawing at most once per frame and painting never waits for it.
"""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QTabWidget

from mnist_draw.gui.menus import PEN_STEPS, Actions
from mnist_draw.gui.models_control import ModelsControl
from mnist_draw.gui.samples_control import SamplesControl
from mnist_draw.gui.settings import Settings
from mnist_draw.gui.state.app_state import AppState
from mnist_draw.gui.state.live import Guess, LiveModel, ModelProblem, NoModel, Ready
from mnist_draw.gui.state.mistakes import Mistakes, MistakesFailed
from mnist_draw.gui.tasks.mistakes import find_mistakes
from mnist_draw.gui.tasks.reading import LiveReader
from mnist_draw.gui.trainer_control import TrainerControl
from mnist_draw.gui.views.canvas import DEFAULT_PEN_WIDTH, Canvas
from mnist_draw.gui.views.images import png_path, shrunk_array, write_png
from mnist_draw.gui.views.inside import InsideView
from mnist_draw.gui.views.mistakes import MistakesView
from mnist_draw.gui.views.prediction import PredictionView
from mnist_draw.gui.workers.worker import Worker
from mnist_draw.errors import one_line
from mnist_draw.paths import default_model_path

FRAME_MS = 16
READ_SIDE = 256  # the canvas is shrunk to this before preprocessing: plenty for a 20x20 digit
MIN_SIZE = (1024, 700)  # the smallest window everything is laid out for


def starting_models(explicit: str | None, settings: Settings) -> list[Path]:
    """The models to start with, in turn while one cannot be used: the one asked for, the last one used,
    the shipped one (the last two only where there is a file)."""
    paths = [Path(explicit)] if explicit else []
    for path in (settings.model_path(), default_model_path()):
        if path is not None and path.is_file() and path not in paths:
            paths.append(path)
    return paths


class MainWindow(QMainWindow):
    ready = Signal()  # PyTorch is loaded: the trainer can be used
    model_changed = Signal(object)  # a LiveModel went live (a finished one, or weights while learning)
    model_problem = Signal(str)  # a model file could not be used; the live model stays

    def __init__(self, settings: Settings, model: str | None = None, data: str | None = None):
        super().__init__()
        self.setWindowTitle("mnist-draw")
        self.setMinimumSize(*MIN_SIZE)
        self.settings = settings
        self.state = AppState()
        self.state.data_dir = data or settings.data_dir()
        last = settings.model_path()
        self.state.model_folder = last.parent if last is not None else None
        self.samples = SamplesControl(self)
        self.ask_before_quitting = True  # False when SIGTERM closes the window
        self._warmed_up = False

        self.canvas = Canvas()
        self.canvas.pen_width = settings.pen_width(DEFAULT_PEN_WIDTH)
        self.prediction = PredictionView()
        self.mistakes = MistakesView()
        self.inside = InsideView()
        self.reader = Worker("classifier", LiveReader(lambda image: shrunk_array(image, READ_SIDE)), self)
        self.finder = Worker("mistakes", find_mistakes, self)
        self.trainer = TrainerControl(self.state, settings, lambda: self.samples.teaching.total, self)
        self._layout()
        self.actions = Actions(self)
        self.models = ModelsControl(self.state, settings, self.actions.models_menu, self)
        self.actions.pen_slider.setValue(round(self.canvas.pen_width * PEN_STEPS))
        self.actions.pen_slider.valueChanged.connect(self._set_pen_width)
        self.statusBar().addPermanentWidget(self.samples.undo)
        self.settings.restore_layout(self, ("top", self.top), ("split", self.split))
        self._connect()
        self.samples.recount()

        self.state.starting = starting_models(model, settings)
        first = self.state.next_starting_model()
        self.say(f"Loading {first}…" if first else "No model yet — train one below, or load one (File ▸ Load model…)")
        if first is not None:
            self.use_model(str(first))
        self.update_actions()

    def _layout(self) -> None:
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
        self.split.addWidget(self.trainer.panel)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.setCentralWidget(self.split)
        self.resize(1360, 900)
        self.top.setSizes([560, 800])
        self.split.setSizes([560, 300])

    def _connect(self) -> None:
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._send_picture)
        self.canvas.changed.connect(self._canvas_changed)
        self.canvas.history_changed.connect(self.update_actions)
        self.canvas.problem.connect(self.say)
        self.canvas.opened.connect(self.say)
        self.prediction.bars.chosen.connect(self.teach)
        self.mistakes.picked.connect(self.canvas.put_pixels)
        self.tabs.currentChanged.connect(lambda _: self._find_mistakes())
        self.trainer.hand_over.connect(self.use_model)
        self.models.use.connect(self.use_model)
        self.models.message.connect(self.say)
        self.trainer.message.connect(self.say)
        self.samples.message.connect(self.say)
        self.samples.counted.connect(self.prediction.set_sample_count)
        self.samples.counted.connect(lambda _: self.trainer.update_finetune())
        self.trainer.data_found.connect(self.mnist_found)
        self.trainer.run_changed.connect(self.update_actions)
        on_record = {Ready: self._ready, LiveModel: self._model_went_live, ModelProblem: self._model_problem,
                     NoModel: lambda _: self._model_went_live(None),
                     Guess: self._show_guess, Mistakes: self._show_mistakes, MistakesFailed: self._show_mistakes}
        for worker in (self.reader, self.finder):
            worker.yielded.connect(lambda record: on_record[type(record)](record))

    # ----------------------------------------------------------------------------------- actions

    def update_actions(self) -> None:
        self.actions.undo.setEnabled(self.canvas.can_undo())
        self.actions.redo.setEnabled(self.canvas.can_redo())
        self.actions.clear.setEnabled(self.canvas.can_clear())
        self.actions.save_drawing.setEnabled(not self.canvas.empty)
        self.actions.save.setEnabled(self.state.live is not None and self.state.live.finished)
        self.actions.load.setEnabled(self.state.run is None)
        self.actions.models_menu.setEnabled(self.state.run is None)
        self.trainer.update_finetune()

    def _set_pen_width(self, value: int) -> None:
        self.canvas.pen_width = value / PEN_STEPS
        self.settings.set_pen_width(self.canvas.pen_width)

    def save_drawing(self, path: str | None = None) -> bool:
        """File ▸ Save drawing: the picture as the classifier reads it, to a PNG file (``path``, or where
        the user chooses), so ``mnist-draw classify`` reads the file exactly as the window read the canvas."""
        picture = self.canvas.snapshot()
        if picture is None:
            self.say("nothing to save: the canvas is empty")
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save the drawing", "drawing.png", "PNG images (*.png)")
            if not path:
                return False
        target = png_path(path)
        try:
            write_png(picture, target, READ_SIDE)
        except OSError as exc:
            self.say(f"cannot save the drawing to {target}: {exc.strerror or one_line(exc)}")
            return False
        self.say(f"Saved the drawing to {target}")
        return True

    def say(self, message: str) -> None:
        """A one-line message in the status bar (what went wrong, or what just happened)."""
        if message:
            self.statusBar().showMessage(message)
            self.samples.undo.hide()

    # ------------------------------------------------------------------------ drawing and guesses

    def _canvas_changed(self) -> None:
        self.samples.drawing_changed()
        if not self._frame.isActive():
            self._frame.start()

    def _send_picture(self) -> None:
        self.reader.post("image", (self.state.picture_sent(), self.canvas.snapshot()))

    def _show_guess(self, guess: Guess) -> None:
        self.state.guess_arrived(guess)
        self.prediction.show_guess(guess)
        self.inside.show_guess(guess)
        self.samples.guess_arrived(self.current_guess())

    def current_guess(self) -> Guess | None:
        return self.state.last_guess if self.state.guess_is_current(self._frame.isActive()) else None

    def teach(self, digit: int) -> None:
        """The user says the drawing is ``digit``: keep what the network sees of it, now or once read."""
        if self._frame.isActive():  # read the drawing now rather than at the next frame
            self._frame.stop()
            self._send_picture()
        self.samples.ask(digit, self.canvas.empty, self.current_guess())

    # ------------------------------------------------------------------------------------ models

    def _ready(self, _: Ready) -> None:
        # What is loaded by now (Qt, PyTorch, the window) lives as long as the app: set it aside from the
        # garbage collector, whose full collections would otherwise walk it all, holding the interpreter
        # lock long enough to make the window stutter while a run trains.
        gc.freeze()
        self.trainer.setup(self.settings.recipe_fields())
        self.ready.emit()

    def use_model(self, model: LiveModel | str | None) -> None:
        """Make ``model`` (or the model file at this path; None: no model) live: it goes to the reader's
        thread; ``model_changed`` says when it is live, ``model_problem`` when a file cannot be used."""
        self.reader.post("model", model)

    def _model_went_live(self, model: LiveModel | None) -> None:
        """``model`` is live now (None: no model, see NoModel)."""
        self.say(self.state.model_went_live(model))
        self.prediction.set_model(model)
        self.inside.set_model(model)
        if model is not None and model.path is not None:
            self.settings.set_model_path(model.path)
        self._find_mistakes()
        self.models.refresh_menu()
        self.update_actions()
        self.model_changed.emit(model)

    def _model_problem(self, problem: ModelProblem) -> None:
        after = self.state.next_starting_model(problem.path, problem.reason)  # at the start: the next in line
        live = (f"; {self.state.live.title} stays live" if self.state.live
                else f"; loading {after} instead" if after else "")
        if after is not None:
            self.use_model(str(after))
        self.say(f"Model not loaded: {problem.message}{live}")
        self.prediction.show_problem(f"Could not use {Path(problem.path).name}: {problem.reason}{live}")
        self.tabs.setCurrentWidget(self.prediction)
        self.model_problem.emit(problem.message)

    # ---------------------------------------------------------------------------------- mistakes

    def _find_mistakes(self) -> None:
        if self.tabs.currentWidget() is self.mistakes:
            self.state.mistakes_wanted = True
        model = self.state.mistakes_to_find()
        if model is not None:
            self.mistakes.show_finding(model)
            self.finder.post("model", (model, self.state.data_dir))

    def _show_mistakes(self, found: Mistakes | MistakesFailed) -> None:
        failed = isinstance(found, MistakesFailed)
        if self.state.mistakes_found(found.model, failed):
            self.mistakes.show_failure(found.reason) if failed else self.mistakes.show_mistakes(found)

    def mnist_found(self) -> None:
        self.state.mnist_found()
        self._find_mistakes()

    # ---------------------------------------------------------------------------------- lifecycle

    def showEvent(self, event) -> None:
        """Once the window is first on screen, the reader's thread imports PyTorch (then says Ready)."""
        super().showEvent(event)
        if not self._warmed_up:  # shown again after being hidden or minimised: once is enough
            self._warmed_up = True
            QTimer.singleShot(0, lambda: self.reader.post("warm up", True))

    def closeEvent(self, event) -> None:
        if self.state.run is not None and self.ask_before_quitting and not self._quit_during_run():
            event.ignore()
            return
        self._frame.stop()
        self.trainer.shutdown()
        self.reader.shutdown()
        self.finder.shutdown()
        self.settings.save_layout(self, ("top", self.top), ("split", self.split))
        if self.trainer.panel.isEnabled():
            self.settings.set_recipe_fields(self.trainer.panel.form.values())
        self.settings.sync()
        super().closeEvent(event)

    def _quit_during_run(self) -> bool:
        """Ask whether to stop the run going on and quit; True to quit."""
        kind = self.state.run.kind
        answer = QMessageBox.question(
            self, "Quit mnist-draw?", f"A {kind} run is going. Quit anyway? The run stops and what it has "
            f"learnt so far is lost (Stop, then Save model…, keeps it).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
