"""Starting the app: the QApplication, the main window, and ``run_app`` (what ``mnist-draw`` calls).

The window is shown before anything slow happens: PyTorch is imported by the classifier's thread
once the window is up, and the model file is loaded there too.
"""

from __future__ import annotations

import signal
import sys

from PySide6.QtCore import QTimer
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


SIGNAL_POLL_MS = 200


def close_on_sigterm(window) -> None:
    """On SIGTERM, close the window as its Quit would (training stopped, threads ended, settings kept).

    Python runs signal handlers only between bytecodes, and Qt's event loop runs none while idle, so a
    timer wakes the interpreter a few times a second to let the handler run.
    """
    def close(signum, frame) -> None:
        window.ask_before_quitting = False  # nobody is there to answer: a run going on is stopped
        window.close()

    signal.signal(signal.SIGTERM, close)
    poll = QTimer(window)
    poll.timeout.connect(lambda: None)
    poll.start(SIGNAL_POLL_MS)


def run_app(model: str | None = None, data: str | None = None, self_test: bool = False) -> int:
    """Open the window (or run the self-test in it) and return the exit status."""
    app = application()
    if self_test:
        from mnist_draw.gui.selftest.self_test import self_test as run_self_test

        return run_self_test(model=model, data=data)
    from mnist_draw.gui.main_window import MainWindow
    from mnist_draw.gui.settings import Settings

    window = MainWindow(Settings(), model=model, data=data)
    close_on_sigterm(window)
    window.show()
    return app.exec()
