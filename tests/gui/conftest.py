"""Fixtures for the GUI tests: an isolated environment, a quickly trained real model, real windows.

Without a display the tests use Qt's offscreen platform; CI runs them under ``xvfb-run``, in a real
X server. Settings go to a file in a temporary folder and ``MNIST_DRAW_HOME`` points to another, so
the tests never see or change the user's own settings and files.
"""

from __future__ import annotations

import os

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

WINDOW_READY_MS = 60_000


def pytest_configure(config):
    # The offscreen platform plugin itself warns this for every top-level window that has a layout;
    # it says the plugin cannot tell a (nonexistent) window manager about size limits, nothing more.
    config.addinivalue_line("qt_log_ignore", "This plugin does not support propagateSizeHints")


@pytest.fixture(scope="session", autouse=True)
def user_home(tmp_path_factory):
    """MNIST_DRAW_HOME (the per-user folder for models and samples) in a temporary folder."""
    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("MNIST_DRAW_HOME")
    os.environ["MNIST_DRAW_HOME"] = str(home)
    yield home
    if old is None:
        del os.environ["MNIST_DRAW_HOME"]
    else:
        os.environ["MNIST_DRAW_HOME"] = old


@pytest.fixture(scope="session")
def mnist():
    from mnist_draw.trainer.data import DataError, load_mnist

    try:
        return load_mnist(download=False)
    except DataError as exc:
        pytest.fail(f"the GUI tests need MNIST: {exc}")


@pytest.fixture(scope="session")
def trained_model(mnist, tmp_path_factory):
    """A real seed002 model trained for a few seconds on 10,000 digits (about 94% on the test set)."""
    from mnist_draw.model.files import save_model
    from mnist_draw.model.recipe import preset
    from mnist_draw.trainer.loop import fit, result_metadata

    result = fit(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=0, train_limit=10_000)
    assert result.test_accuracy > 0.9
    path = tmp_path_factory.mktemp("models") / "seed002-quick.safetensors"
    save_model(path, result.model, result_metadata(result))
    return path


@pytest.fixture
def no_shipped_model(monkeypatch, tmp_path):
    """As before the shipped model exists: its path names a file that is not there."""
    monkeypatch.setattr("mnist_draw.gui.main_window.default_model_path", lambda: tmp_path / "missing.safetensors")


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, settings_file):
    """Open a real main window (shown, PyTorch loaded, its model live) with test-only settings."""
    from mnist_draw.gui.main_window import MainWindow
    from mnist_draw.gui.settings import Settings

    def make(model=None, data=None):
        window = MainWindow(Settings(settings_file), model=None if model is None else str(model), data=data)
        # At the end of a test nobody answers "Quit anyway?": a run still going is stopped without asking.
        qtbot.addWidget(window, before_close_func=lambda w: setattr(w, "ask_before_quitting", False))
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()  # keyboard shortcuts go to the active window
        qtbot.waitActive(window)
        qtbot.waitUntil(window.trainer.panel.isEnabled, timeout=WINDOW_READY_MS)
        if model is not None:
            qtbot.waitUntil(lambda: window.state.live is not None, timeout=WINDOW_READY_MS)
        return window

    return make


@pytest.fixture
def window(make_window, trained_model):
    return make_window(model=trained_model)


@pytest.fixture
def current_guess(qtbot):
    """current_guess(window): wait for the guess of the canvas as it is now, by the live model."""

    def wait(window):
        qtbot.waitUntil(lambda: window.current_guess() is not None, timeout=10_000)
        return window.current_guess()

    return wait
