"""The window's model files and recent models: Load model…, Save model…, and the Models menu.

A model file is loaded in the reader's thread (``use`` carries its path there); one that cannot be used
leaves the live model live. Save model… writes the live model atomically. Both dialogs open where the
user last loaded or saved a model. The Models menu lists the recent finished models (the application
state keeps them), so the model before the last one is always one step away.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from mnist_draw.gui.settings import Settings
from mnist_draw.gui.state.app_state import AppState
from mnist_draw.paths import models_dir

MODEL_FILTER = "Models (*.safetensors);;All files (*)"


class ModelsControl(QObject):
    use = Signal(object)  # a LiveModel, or the path of a model file, to make live
    message = Signal(str)

    def __init__(self, state: AppState, settings: Settings, menu: QMenu, parent: QWidget):
        super().__init__(parent)
        self.state, self.settings, self.menu, self.parent_widget = state, settings, menu, parent

    def refresh_menu(self) -> None:
        """The Models menu: the recent finished models, the live one checked."""
        self.menu.clear()
        for model in self.state.recent:
            action = self.menu.addAction(model.title + (f" — {model.path}" if model.path else ""))
            action.setCheckable(True)
            action.setChecked(model is self.state.live)
            action.triggered.connect(lambda checked=False, m=model: self._choose(m))

    def choose_model(self) -> None:
        start = str(self.state.model_folder or models_dir())
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Load a model", start, MODEL_FILTER)
        if path:
            self.load_model_file(path)

    def load_model_file(self, path: str) -> None:
        self._choose(str(path))

    def _choose(self, model) -> None:
        self.state.model_chosen(model if isinstance(model, str) else None)
        self.use.emit(model)

    def choose_save_path(self) -> None:
        if self.state.live is None:
            return
        folder = self.state.model_folder or models_dir()
        folder.mkdir(parents=True, exist_ok=True)
        suggested = folder / f"{self.state.live.recipe.name}.safetensors"
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Save the model", str(suggested), MODEL_FILTER)
        if path:
            self.save_model_file(path)

    def save_model_file(self, path: str) -> bool:
        saved, message = self.state.save_live(path)
        self.message.emit(message)
        if not saved:
            return False
        self.settings.set_model_path(path)
        return True
