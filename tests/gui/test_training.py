"""The trainer panel, driven by its buttons: a run in the worker thread, live plot, Stop, Pause, close."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QToolBar

from mnist_draw.gui.selftest.mouse import draw_one
from mnist_draw.model.recipe import preset

RUN_MS = 120_000


def _set_up(panel, preset="seed002", digits=2000, epochs=2, **fields):
    panel.form.preset.setCurrentText(preset)
    panel.form.train_limit.setValue(digits)
    panel.form.epochs.setValue(epochs)
    for name, value in fields.items():
        widget = getattr(panel.form, name)
        widget.setText(value) if hasattr(widget, "setText") else widget.setValue(value)


def _answer(button):
    """Press ``button`` in the message box that is open now."""
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox), box
    box.button(button).click()


def _start(qtbot, panel):
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.stop_button.isEnabled(), panel.status.text()


def test_training_from_the_panel_shows_progress_and_swaps_the_model(window, qtbot, current_guess):
    panel = window.trainer.panel
    draw_one(window.canvas)
    first_model = current_guess(window).model
    handed = []
    window.trainer.hand_over.connect(handed.append)  # weights sent to the live classifier while it learns
    epochs = []
    window.trainer.epoch_done.connect(epochs.append)
    _set_up(panel, digits=2000, epochs=2, lr="0.1")

    _start(qtbot, panel)
    assert not panel.start_button.isEnabled()
    assert panel.stop_button.isEnabled() and panel.pause_button.isEnabled()
    assert not panel.form.hidden.isEnabled() and not window.actions.load.isEnabled()
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as finished:
        pass
    outcome = finished.args[0]

    steps = 2 * -(-2000 // 64)
    assert panel.progress.value() == panel.progress.maximum() == steps
    assert [e.epoch for e in epochs] == [1, 2]
    qtbot.waitUntil(lambda: panel.plot.shown_losses() == steps and panel.plot.shown_accuracies() == 2)
    qtbot.waitUntil(lambda: panel.plot.loss_plot.viewRange()[0][1] >= steps)  # the view follows the curve
    assert "epoch 2/2" in panel.log.toPlainText()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()

    # The guess followed the model as it learned (weights after each epoch), then the final model.
    assert outcome.model is not None and not outcome.cancelled and outcome.accuracy > 0.5  # chance: 0.1 (unseeded: 0.69-0.9)
    qtbot.waitUntil(lambda: window.state.live is outcome.model)
    # (the classifier reads with the newest it is sent: on a fast machine a newer one may replace one waiting)
    assert sum(1 for m in handed if "learning (after epoch" in m.name) == 2  # after each epoch
    guess = current_guess(window)
    assert guess.model is outcome.model is not first_model
    assert outcome.model.name == "seed002-custom"  # the preset with other epochs
    assert window.prediction.model_label.text() == f"Model: seed002-custom ({outcome.accuracy:.2%})"


def test_stop_ends_the_run_within_a_batch(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, preset="default", digits=60000, epochs=40)  # minutes of work
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    clicked = time.perf_counter()
    with qtbot.waitSignal(window.trainer.ended, timeout=10_000) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert time.perf_counter() - clicked < 3.0
    assert finished.args[0].cancelled
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    assert panel.progress.value() < panel.progress.maximum() / 100
    assert "Stopped" in panel.status.text()


def test_pause_holds_the_run_and_stop_while_paused_trains_no_further_batch(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, preset="default", digits=60000, epochs=40)
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    with qtbot.waitSignal(window.trainer.worker.paused, timeout=10_000):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    step = panel.progress.value()
    assert panel.pause_button.text() == "Resume" and "Paused" in panel.status.text()
    with qtbot.assertNotEmitted(panel.progress.valueChanged, wait=500):  # held: no batch in half a second
        pass
    assert panel.progress.value() == step
    with qtbot.waitSignal(window.trainer.ended, timeout=10_000):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.plot.shown_losses() == step)
    assert panel.progress.value() == step  # not one batch more


def test_resume_continues_the_run(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, digits=30000, epochs=1)  # an epoch of about a second: Pause lands in it, not after it
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    with qtbot.waitSignal(window.trainer.worker.paused, timeout=10_000):
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as finished:
        qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    assert not finished.args[0].cancelled and finished.args[0].epochs == 1


def test_a_first_run_stopped_before_its_first_epoch_leaves_no_half_trained_model(make_window, no_shipped_model, qtbot,
                                                                                  current_guess):
    """With no model before, the weights shown while learning go when the run ends without a scored epoch:
    "No model yet" again (they stayed live and saveable); while it learns, Save model waits for a finished model."""
    from mnist_draw.gui.views.prediction import NO_MODEL

    window = make_window(model=None)
    panel = window.trainer.panel
    _set_up(panel, preset="default", digits=60000, epochs=40)
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: window.state.live is not None, timeout=RUN_MS)  # its learning weights are read live
    draw_one(window.canvas)
    assert current_guess(window).model is window.state.live
    assert not window.actions.save.isEnabled()  # weights still learning are read, not saved as a finished model
    with qtbot.waitSignal(window.model_changed, timeout=RUN_MS):
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    assert window.state.live is None and not window.actions.save.isEnabled()
    assert window.prediction.model_label.text() == NO_MODEL and window.inside.tile_count == 0
    assert window.statusBar().currentMessage() == "Stopped before the first epoch ended"
    qtbot.waitUntil(lambda: window.prediction.verdict.text() == NO_MODEL)  # the drawing is not read any more


def test_pause_then_resume_at_once_does_not_leave_the_run_saying_paused(window, qtbot):
    """The worker's "paused" news travels to the GUI thread in a queue; when Resume was pressed before it
    arrived, it must not be shown over the running run."""
    panel = window.trainer.panel
    _set_up(panel, digits=30000, epochs=1)
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)
    time.sleep(0.3)  # the window busy for a moment (not a wait for a result): the worker pauses meanwhile
    qtbot.mouseClick(panel.pause_button, Qt.MouseButton.LeftButton)  # Resume, before the news is read
    step = panel.progress.value()
    qtbot.waitUntil(lambda: panel.progress.value() > step, timeout=RUN_MS)  # it runs; the queued news arrived
    assert panel.pause_button.text() == "Pause" and panel.status.text() == "Training…"


def test_closing_the_window_during_training_stops_it_cleanly(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, preset="default", digits=60000, epochs=40)
    _start(qtbot, panel)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    QTimer.singleShot(0, lambda: _answer(QMessageBox.StandardButton.Yes))  # "Quit anyway?" Yes
    clicked = time.perf_counter()
    window.close()
    assert time.perf_counter() - clicked < 5.0
    assert window.isHidden() and not window.trainer.worker.is_running()


def test_cuda_is_offered_only_where_it_works(window):
    from mnist_draw.trainer.devices import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    panel = window.trainer.panel
    cuda = panel.form.device.model().item(panel.form.device.findText("CUDA"))
    assert cuda.isEnabled() == (reason is None)
    if reason is not None:
        assert reason in panel.form.cuda_note.text() and reason in cuda.toolTip()
        assert not panel.form.cuda_note.isHidden()


def test_cuda_failing_during_a_run_is_said_in_the_window_and_the_run_ends_on_the_cpu(window, qtbot):
    """A job on a CUDA device that fails when used (here a real failure: no driver) goes on on the CPU."""
    import pytest
    import torch

    from mnist_draw.gui.state.run import TrainingJob

    if torch.cuda.is_available():
        pytest.skip("CUDA works here; tests/test_reliability.py injects a failure mid-run instead")
    panel = window.trainer.panel
    window.trainer.run_job(TrainingJob(preset("seed002").replace(epochs=1), seed=0, device=torch.device("cuda"),
                                       train_limit=2000))  # a device that fails when used, not "cuda"
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as finished:
        pass
    outcome = finished.args[0]
    assert outcome is not None and outcome.model is not None
    assert outcome.model.metadata["trained_on"] == "cpu"
    log = panel.log.toPlainText()
    assert "CUDA failed (" in log and "training goes on on the CPU" in log
    assert "Traceback" not in log
    qtbot.waitUntil(lambda: window.state.live is outcome.model)


def test_a_learning_rate_too_high_is_reported_and_the_model_stays(window, qtbot):
    panel = window.trainer.panel
    before = window.state.live
    _set_up(panel, digits=2000, epochs=1, lr="1e30")
    _start(qtbot, panel)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        pass
    assert "learning rate too high" in panel.status.text()
    assert "learning rate too high" in panel.log.toPlainText()
    assert panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: window.state.live is before)


def test_a_bad_field_is_refused_with_a_message(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, hidden="256,lots")
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert window.state.run is None and panel.start_button.isEnabled()
    assert "hidden layers" in panel.status.text()


def test_layers_typed_into_a_linear_preset_get_an_activation_as_on_the_command_line(window, qtbot):
    """Hidden layers with no activation between them are still one linear map: typing layers into the
    linear preset switches its activation to ReLU (mnist-train --hidden does the same), emptying them to none."""
    from mnist_draw.trainer.cli import build_parser, recipe_from_args

    form = window.trainer.panel.form
    form.preset.setCurrentText("linear")
    assert form.activation.currentText() == "none"
    form.hidden.setFocus()
    form.hidden.selectAll()
    qtbot.keyClicks(form.hidden, "256")
    assert form.activation.currentText() == "relu"
    assert recipe_from_args(build_parser().parse_args(["--preset", "linear", "--hidden", "256"])).activation == "relu"
    form.activation.setCurrentText("sigmoid")  # an activation the user chose is kept while layers change
    qtbot.keyClicks(form.hidden, ",64")
    assert form.activation.currentText() == "sigmoid"
    form.hidden.selectAll()
    qtbot.keyClick(form.hidden, Qt.Key.Key_Backspace)
    assert form.hidden.text() == "" and form.activation.currentText() == "none"
    form.preset.setCurrentText("seed003")  # a sigmoid preset: layers emptied and typed again get its sigmoid back
    form.hidden.selectAll()
    qtbot.keyClick(form.hidden, Qt.Key.Key_Backspace)
    assert form.activation.currentText() == "none"
    qtbot.keyClicks(form.hidden, "50")
    assert form.activation.currentText() == "sigmoid"


def test_missing_data_says_where_it_looked_and_a_folder_can_be_chosen(make_window, trained_model, tmp_path, qtbot,
                                                                        monkeypatch):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    window = make_window(model=trained_model, data=str(empty))
    panel = window.trainer.panel
    assert not panel.data_box.isHidden()
    assert str(empty) in panel.data_message.text()
    assert panel.download_button.isEnabled() and panel.folder_button.isEnabled()

    _set_up(panel, digits=1000, epochs=1)
    _start(qtbot, panel)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        pass
    assert not panel.data_box.isHidden() and str(empty) in panel.data_message.text()

    chosen = []  # Choose folder…: the folder dialog answers with where MNIST is
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *a, **k: chosen.append(a[2]) or os.environ["MNIST_DRAW_DATA"])
    qtbot.mouseClick(panel.folder_button, Qt.MouseButton.LeftButton)
    assert chosen == [str(empty)]  # it opened where the app had looked
    assert panel.data_box.isHidden()


def test_save_and_load_models(window, qtbot, tmp_path, monkeypatch):
    """Save model… (Ctrl+S) and Load model… (the toolbar's button), through their file dialogs."""
    from mnist_draw.model.files import load_model

    first = window.state.live
    path = tmp_path / "mine.safetensors"
    answer = {"save": str(path), "open": ""}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (answer["save"], ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (answer["open"], ""))
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == f"Saved {first.title} to {path}"
    saved = load_model(path)
    assert saved.test_accuracy == first.accuracy and saved.recipe == first.recipe

    photo = tmp_path / "photo.png"  # a file that is not a model is never replaced by one
    photo.write_bytes(b"my holiday")
    answer["save"] = str(photo)
    qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert window.statusBar().currentMessage() == (f"Could not save {photo}: a file that is not a model is there: "
                                                   f"it was left as it is")
    assert photo.read_bytes() == b"my holiday"

    load_button = window.findChild(QToolBar, "drawing").widgetForAction(window.actions.load)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    answer["open"] = str(junk)
    with qtbot.waitSignal(window.model_problem) as problem:
        qtbot.mouseClick(load_button, Qt.MouseButton.LeftButton)
    message = window.statusBar().currentMessage()
    assert problem.args[0] in message and "junk.safetensors" in message and "\n" not in message
    assert window.state.live is first

    answer["open"] = ""  # the dialog cancelled: nothing changes
    with qtbot.assertNotEmitted(window.model_changed, wait=200):
        qtbot.mouseClick(load_button, Qt.MouseButton.LeftButton)
    answer["open"] = str(path)
    with qtbot.waitSignal(window.model_changed):
        qtbot.mouseClick(load_button, Qt.MouseButton.LeftButton)
    assert window.state.live.path == str(path)
    assert window.prediction.model_label.text() == f"Model: {first.title}"
    assert window.settings.model_path() == path


def test_recipe_fields_are_remembered(make_window, trained_model, qtbot):
    first = make_window(model=trained_model)
    _set_up(first.trainer.panel, preset="seed003", digits=5000, epochs=3, seed="1234")
    first.trainer.panel.form.outliers.setValue(0.25)
    first.close()
    second = make_window(model=trained_model)
    panel = second.trainer.panel
    assert (panel.form.preset.currentText(), panel.form.train_limit.value(), panel.form.epochs.value()) == ("seed003", 5000, 3)
    assert panel.form.activation.currentText() == "sigmoid" and panel.form.seed.text() == "1234"
    assert (panel.form.outliers.value(), panel.form.typefaces.value()) == (0.25, 0.0)
    panel.form.preset.setCurrentText("default")  # a preset fills them with its own shares
    assert (panel.form.typefaces.value(), panel.form.outliers.value()) == (preset("default").typefaces,
                                                                           preset("default").outliers)
