"""Issue #7 in the window: long drawing sessions, bad model files and SIGTERM never crash it or lose work.

The CLI side is in ``tests/test_reliability.py``; closing the window during training is in
``test_training.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mnist_draw.gui.views.canvas import UNDO_LIMIT
from mnist_draw.gui.selftest.mouse import draw_unit_stroke

STROKES = 2000
START_MS = 120_000


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no VmRSS in /proc/self/status")


def _scribble(window, qtbot, count: int, offset: int = 0) -> None:
    """Quick strokes by real mouse events, with an undo after every 7th and a clear after every 50th."""
    canvas = window.canvas
    for i in range(offset, offset + count):
        x, y = 0.1 + 0.8 * ((i * 37) % 100) / 100, 0.1 + 0.8 * ((i * 61) % 100) / 100
        draw_unit_stroke(canvas, [(x, y), (1 - x, 1 - y)], steps=4)
        if i % 7 == 6:
            qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        if i % 50 == 49:
            qtbot.keyClick(window, Qt.Key.Key_Escape)
        if i % 100 == 99:
            qtbot.wait(1)  # let the queued guesses and paints through, as a live session would


def test_thousands_of_strokes_undos_and_clears_neither_leak_nor_stall(window, qtbot, current_guess):
    _scribble(window, qtbot, 200)  # warm up: caches, the classifier's first passes
    current_guess(window)
    before = _rss_mb()
    started = time.perf_counter()
    _scribble(window, qtbot, STROKES, offset=200)
    draw_unit_stroke(window.canvas, [(0.5, 0.2), (0.5, 0.8)], steps=4)
    elapsed = time.perf_counter() - started
    guess = current_guess(window)  # the classifier still keeps up with the canvas
    grown = _rss_mb() - before

    # measured 3.4 s offscreen, 4.9 s under Xvfb (redrawing every stroke already drawn, as the canvas once did,
    # takes minutes)
    assert elapsed < 30, f"{STROKES} strokes took {elapsed:.0f} s"
    assert grown < 50, f"memory grew by {grown:.0f} MB over {STROKES} strokes"  # measured 6 MB
    assert guess.model is window.state.live
    assert window.canvas.ink_pixels() > 0 and window.actions.undo.isEnabled()


def test_the_undo_history_is_capped(window, qtbot):
    canvas = window.canvas
    for i in range(UNDO_LIMIT + 50):
        draw_unit_stroke(canvas, [(0.2 + 0.6 * (i % 10) / 10, 0.2), (0.5, 0.8)], steps=2)
    undone = 0
    while canvas.can_undo():
        canvas.undo()
        undone += 1
    assert undone == UNDO_LIMIT
    assert not canvas.empty  # the oldest strokes are kept on the paper, only their undo steps dropped
    redone = 0
    while canvas.can_redo():
        canvas.redo()
        redone += 1
    assert redone == UNDO_LIMIT


# --------------------------------------------------------------------------------- bad model files

MARKER = "pickle-ran.txt"


def _bad_model_files(folder: Path, good: Path) -> dict[str, Path]:
    import pickle

    import torch
    from safetensors import safe_open
    from safetensors.torch import save

    class WritesMarker:
        def __reduce__(self):
            return (Path.write_text, (folder / MARKER, "unpickled"))

    data = good.read_bytes()
    with safe_open(str(good), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    first = sorted(tensors)[0]
    tensors[first] = torch.zeros(tuple(tensors[first].shape)[::-1] + (1,))
    files = {
        "empty": b"",
        "truncated": data[: len(data) // 2],
        "pickle": pickle.dumps({"state_dict": WritesMarker()}),
        "torch-save": None,
        "wrong-shapes": save(tensors, metadata=metadata),
    }
    paths = {}
    for name, content in files.items():
        path = folder / f"{name}.safetensors"
        if content is None:
            torch.save({"weights": WritesMarker()}, path)
        else:
            path.write_bytes(content)
        paths[name] = path
    return paths


def test_bad_model_files_leave_the_live_model_and_run_no_code(window, qtbot, trained_model, tmp_path, capfd):
    before = window.state.live
    title = window.prediction.model_label.text()
    assert before is not None and before.title in title
    capfd.readouterr()
    for name, path in _bad_model_files(tmp_path, trained_model).items():
        with qtbot.waitSignal(window.model_problem, timeout=30_000) as problem:
            window.models.load_model_file(str(path))
        message = window.statusBar().currentMessage()
        assert problem.args[0] in message, name
        assert path.name in window.prediction.problem.text() and window.prediction.problem.isVisible(), name
        assert path.name in message and "\n" not in message, (name, message)
        assert window.state.live is before, name
        assert window.prediction.model_label.text() == title, name
    assert not (tmp_path / MARKER).exists()
    out, err = capfd.readouterr()
    assert "Traceback" not in err + out and "Error" not in err, err


# ------------------------------------------------------------------------------------------ SIGTERM


def _start_app(code: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MNIST_DRAW_HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "PYTHONUNBUFFERED": "1"}
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def _wait_for(condition, proc: subprocess.Popen, timeout: float = START_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the app ended early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the app never got ready")
        time.sleep(0.05)


def _torch_loaded(pid: int) -> bool:
    """The classifier thread has imported PyTorch: the window is up and its event loop is running."""
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def _ends_cleanly(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, (proc.returncode, err)
    assert "Traceback" not in err and "QThread" not in err, err
    return out


def test_sigterm_closes_the_idle_app_cleanly(tmp_path, trained_model):
    proc = _start_app("import sys; from mnist_draw.cli import main; sys.exit(main())", tmp_path,
                      "--model", str(trained_model))
    _wait_for(lambda: _torch_loaded(proc.pid), proc)
    _ends_cleanly(proc)


TRAIN_THEN_WAIT = textwrap.dedent("""
    import sys
    from mnist_draw.gui.app import application, close_on_sigterm
    from mnist_draw.gui.main_window import MainWindow
    from mnist_draw.gui.settings import Settings

    app = application()
    window = MainWindow(Settings(sys.argv[1]), model=sys.argv[2])
    close_on_sigterm(window)
    panel = window.trainer.panel

    def train():
        panel.form.preset.setCurrentText("default")
        panel.form.train_limit.setValue(60000)
        panel.form.epochs.setValue(40)
        panel.start_button.click()

    window.ready.connect(train)
    started = []

    def progressed(value):
        if value and not started:
            started.append(value)
            print("training", flush=True)

    window.trainer.panel.progress.valueChanged.connect(progressed)
    window.trainer.ended.connect(lambda outcome: print("finished", outcome.cancelled, flush=True))
    window.show()
    sys.exit(app.exec())
""")


def test_sigterm_during_training_stops_it_and_saves_nothing(tmp_path, trained_model):
    settings = tmp_path / "settings.ini"
    proc = _start_app(TRAIN_THEN_WAIT, tmp_path, str(settings), str(trained_model))
    assert proc.stdout.readline().strip() == "training", proc.stderr.read() if proc.poll() is not None else ""
    out = _ends_cleanly(proc)
    assert "finished" not in out  # the run was ended by the close, not run to its end
    home = tmp_path / "home"
    left = [p for p in home.rglob("*") if p.is_file()] if home.exists() else []
    assert left == []  # no model, half-written or whole, was saved by the interrupted run
    assert settings.is_file() and "default" in settings.read_text()  # the window's close path ran
