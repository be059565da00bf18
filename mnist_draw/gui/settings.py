"""What the app remembers between runs: pen width, the last recipe, the last model, window layout.

Qt's ``QSettings`` stores these where each platform expects them (the registry on Windows, a plist on
macOS, an INI file under ``~/.config`` on Linux). When ``MNIST_DRAW_HOME`` is set (tests, portable
installs) they go into ``settings.ini`` in that folder instead, and the self-test passes a file of
its own, so neither ever touches the user's real settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from mnist_draw.paths import APP_NAME, HOME_ENV, user_data_dir


class Settings:
    def __init__(self, ini_file: str | os.PathLike | None = None):
        if ini_file is None and os.environ.get(HOME_ENV):
            ini_file = user_data_dir() / "settings.ini"
        if ini_file is None:
            self._q = QSettings(APP_NAME, APP_NAME)
        else:
            self._q = QSettings(str(ini_file), QSettings.Format.IniFormat)

    def pen_width(self, default: float) -> float:
        return float(self._q.value("canvas/pen_width", default, type=float))

    def set_pen_width(self, width: float) -> None:
        self._q.setValue("canvas/pen_width", float(width))

    def recipe_fields(self) -> dict:
        """The trainer panel's fields as last used (preset name, hidden layers, ...), or {}."""
        try:
            fields = json.loads(str(self._q.value("trainer/fields", "{}")))
        except json.JSONDecodeError:
            return {}
        return fields if isinstance(fields, dict) else {}

    def set_recipe_fields(self, fields: dict) -> None:
        self._q.setValue("trainer/fields", json.dumps(fields))

    def model_path(self) -> Path | None:
        path = str(self._q.value("model/path", "") or "")
        return Path(path) if path else None

    def set_model_path(self, path: str | os.PathLike) -> None:
        self._q.setValue("model/path", str(path))

    def data_dir(self) -> str | None:
        return str(self._q.value("trainer/data_dir", "") or "") or None

    def set_data_dir(self, path: str) -> None:
        self._q.setValue("trainer/data_dir", path)

    def layout(self, name: str) -> QByteArray | None:
        value = self._q.value(f"window/{name}")
        return value if isinstance(value, QByteArray) else None

    def set_layout(self, name: str, state: QByteArray) -> None:
        self._q.setValue(f"window/{name}", state)

    def restore_layout(self, window, *splitters) -> None:
        """Give ``window`` its last geometry, its splitters (``(name, QSplitter)``) their last sizes, and
        its ``tabs`` the tab last shown."""
        geometry = self.layout("geometry")
        if geometry is not None:
            window.restoreGeometry(geometry)
        for name, splitter in splitters:
            state = self.layout(name)
            if state is not None:
                splitter.restoreState(state)
        titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
        if self.tab() in titles:
            window.tabs.setCurrentIndex(titles.index(self.tab()))

    def save_layout(self, window, *splitters) -> None:
        self.set_layout("geometry", window.saveGeometry())
        for name, splitter in splitters:
            self.set_layout(name, splitter.saveState())
        self.set_tab(window.tabs.tabText(window.tabs.currentIndex()))

    def tab(self) -> str:
        """The title of the right-hand tab last shown ("Guess", "Mistakes", "Inside"), or ""."""
        return str(self._q.value("window/tab", "") or "")

    def set_tab(self, title: str) -> None:
        self._q.setValue("window/tab", title)

    def sync(self) -> None:
        self._q.sync()
