"""Starting the app: the QApplication, the main window, and ``run_app`` (what ``mnist-draw`` calls).

The window is shown before anything slow happens: PyTorch is imported by the classifier's thread
once the window is up, and the model file is loaded there too.
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from mnist_draw.paths import APP_NAME, resource_path


def application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName("mnist-draw")
    app.setDesktopFileName("mnist-draw")  # matches resources/mnist-draw.desktop (the Wayland app id)
    app.setWindowIcon(QIcon(str(resource_path("icons", "mnist-draw.png"))))
    return app


def run_app(model: str | None = None, data: str | None = None, self_test: bool = False) -> int:
    """Open the window (or run the self-test in it) and return the exit status."""
    app = application()
    if self_test:
        from mnist_draw.gui.self_test import self_test as run_self_test

        return run_self_test(model=model, data=data)
    from mnist_draw.gui.main_window import MainWindow
    from mnist_draw.gui.settings import Settings

    window = MainWindow(Settings(), model=model, data=data)
    window.show()
    return app.exec()
