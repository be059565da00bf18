"""``mnist-draw --self-test``: use the real window as a person would, and say in one line how it went.

It opens the main window, draws a "1" on the canvas with real mouse events, waits for the live
guess, trains briefly from the trainer panel (the seed002 recipe, 3000 digits, one epoch) in the
worker thread, and checks that the plot received the losses and that the freshly trained model became
the live one. Without a shipped model the "1" is checked after training instead, with the new model.

It prints ``self-test ok: ...`` and returns 0, or ``self-test FAILED: <reason>`` and returns 1. It
keeps its settings in a temporary file, so the user's own settings and files are never touched.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest

TRAIN_DIGITS = 3000
TIMEOUT = 120.0


class SelfTestFailed(Exception):
    pass


def wait_until(condition, what: str, timeout: float = TIMEOUT) -> None:
    """Run the event loop until ``condition()`` is true; fail after ``timeout`` seconds.

    A ``QEventLoop`` lets go of Python's GIL while it waits, so the worker threads run at full speed
    (``QTest.qWait`` keeps the GIL and starves them).
    """
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise SelfTestFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        loop = QEventLoop()
        QTimer.singleShot(10, loop.quit)
        loop.exec()


def self_test(model: str | None = None, data: str | None = None) -> int:
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="mnist-draw-self-test-") as tmp:
            summary = _run(model, data, Path(tmp))
    except SelfTestFailed as exc:
        print(f"self-test FAILED: {exc}", flush=True)
        return 1
    except Exception as exc:  # a bug: say so in the one line, and show where for whoever fixes it
        traceback.print_exc()
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1
    print(f"self-test ok: {summary}, {time.perf_counter() - start:.1f} s", flush=True)
    return 0


def _run(model: str | None, data: str | None, tmp: Path) -> str:
    from mnist_draw.gui.main_window import MainWindow, starting_models
    from mnist_draw.gui.selftest.mouse import draw_one
    from mnist_draw.gui.settings import Settings
    from mnist_draw.paths import mnist_root

    settings = Settings(tmp / "settings.ini")
    window = MainWindow(settings, model=model, data=data)
    try:
        window.show()
        if not QTest.qWaitForWindowExposed(window, 10_000):
            raise SelfTestFailed("the main window did not appear")
        wait_until(window.trainer.panel.isEnabled, "PyTorch to load")
        if not window.trainer.check_data():
            root, source = mnist_root(data)
            raise SelfTestFailed(f"MNIST not found in {root} (from {source}); set MNIST_DRAW_DATA or pass --data")
        if starting_models(model, settings):
            def settled() -> bool:  # a model is live, or the last one in line could not be used either
                said = window.statusBar().currentMessage()
                return window.state.live is not None or ("not loaded" in said and "instead" not in said)

            wait_until(settled, "the model to load")
            if window.state.live is None:
                raise SelfTestFailed(window.statusBar().currentMessage())
        first_model = window.state.live

        draw_one(window.canvas)
        if window.canvas.ink_pixels() == 0:
            raise SelfTestFailed("drawing on the canvas left no ink")
        drawn = _check_one(window, first_model) if first_model is not None else None

        trained = _train(window)
        wait_until(lambda: window.state.live is trained.model, "the trained model to go live")
        if window.state.live is first_model:
            raise SelfTestFailed("the live model was not swapped after training")
        after = _check_one(window, trained.model)
        return (f"drew a 1 -> predicted {_describe(drawn or after)}, trained 1 epoch on {TRAIN_DIGITS} digits "
                f"(acc {trained.accuracy:.1%}), model swapped, now predicts {_describe(after)}")
    finally:
        window.close()


def _check_one(window, model):
    """Wait for the guess that ``model`` makes of the drawing; it must be a 1."""
    wait_until(lambda: window.state.last_guess is not None and window.state.last_guess.model is model
               and window.state.last_guess.label is not None, "the live prediction")
    guess = window.state.last_guess
    if guess.label != 1:
        raise SelfTestFailed(f"drew a 1 but {model.title} read {guess.label} ({guess.confidence:.0%})")
    return guess


def _train(window):
    from mnist_draw.gui.state.run import Failed, Outcome

    panel, form = window.trainer.panel, window.trainer.panel.form
    outcomes = []
    window.trainer.worker.yielded.connect(lambda r: outcomes.append(r) if isinstance(r, (Outcome, Failed)) else None)
    form.preset.setCurrentText("seed002")
    form.epochs.setValue(1)
    form.train_limit.setValue(TRAIN_DIGITS)
    QTest.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    if window.state.run is None:
        raise SelfTestFailed(f"Start did not start training: {panel.status.text()}")
    wait_until(lambda: outcomes, "training to finish")
    outcome = outcomes[0]
    if isinstance(outcome, Failed):
        raise SelfTestFailed(f"training failed: {outcome.message}")
    steps = -(-TRAIN_DIGITS // form.batch_size.value())
    wait_until(lambda: panel.plot.shown_losses() == steps, f"the plot to show {steps} losses", 5)
    if outcome.model is None or outcome.accuracy is None:
        raise SelfTestFailed("training ended without a model")
    return outcome


def _describe(guess) -> str:
    return f"{guess.label} ({guess.confidence:.0%})"
