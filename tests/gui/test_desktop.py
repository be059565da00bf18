"""The window as a desktop user expects it: what a newcomer hit, driven through the real window.

No MNIST at hand, stopping and pausing runs, quitting during one, the smallest window, where dialogs
open, what a model file that cannot be used says, and taking back a sample kept by a stray click.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from mnist_draw.gui.selftest.mouse import draw_one
from mnist_draw.gui.state.run import Failed, Outcome

RUN_MS = 120_000
LEFT = Qt.MouseButton.LeftButton


def _set_up(panel, preset="seed002", digits=2000, epochs=2):
    panel.form.preset.setCurrentText(preset)
    panel.form.train_limit.setValue(digits)
    panel.form.epochs.setValue(epochs)


def _answer(button) -> None:
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox), box
    box.button(button).click()


def _status(window) -> str:
    return window.statusBar().currentMessage()


def test_without_mnist_the_window_says_so_once_in_its_own_words_and_forgets_it_once_found(make_window, trained_model,
                                                                                       tmp_path, qtbot):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    window = make_window(model=trained_model, data=str(empty))
    panel = window.trainer.panel
    _set_up(panel, digits=1000, epochs=1)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as ended:
        qtbot.mouseClick(panel.start_button, LEFT)
    assert isinstance(ended.args[0], Failed) and ended.args[0].data_missing
    message = panel.data_message.text()
    assert message.startswith(f"MNIST is not in {empty} (the folder chosen for it).") and "--data" not in message
    shown = [panel.status.text(), panel.log.toPlainText(), _status(window), panel.progress.text()]
    assert not any(str(empty) in text for text in shown), shown  # said once: in the box
    assert panel.data_box.isVisible()
    label = panel.data_message
    assert label.height() >= label.heightForWidth(label.width())  # the box's text is whole, not clipped

    window.trainer.set_data_dir(os.environ["MNIST_DRAW_DATA"])  # what "Choose folder…" does
    assert panel.data_box.isHidden() and panel.plot.isVisible()
    assert panel.status.text() == f"MNIST found in {os.environ['MNIST_DRAW_DATA']}: press Start"
    assert panel.progress.format() == "" and panel.progress.value() <= 0


def test_a_download_that_fails_says_what_failed_in_the_windows_words(make_window, trained_model, tmp_path, qtbot,
                                                                    monkeypatch):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there: like no network
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    window = make_window(model=trained_model, data=str(empty))
    panel = window.trainer.panel
    _set_up(panel, digits=1000, epochs=1)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        qtbot.mouseClick(panel.download_button, LEFT)
    text = panel.data_message.text()
    assert text.startswith(f"Could not download MNIST into {empty}: 127.0.0.1:9: the connection was refused")
    assert "--data" not in text and panel.data_box.isVisible() and panel.status.text() == ""


def test_stop_keeps_the_last_scored_epoch_and_the_model_before_is_one_step_away(window, qtbot):
    panel = window.trainer.panel
    before = window.state.live
    epochs = []
    window.trainer.epoch_done.connect(epochs.append)
    window.trainer.epoch_done.connect(lambda e: e.epoch == 1 and panel.stop_button.click())
    _set_up(panel, digits=20000, epochs=6)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as ended:
        qtbot.mouseClick(panel.start_button, LEFT)
    outcome = ended.args[0]
    assert isinstance(outcome, Outcome) and outcome.cancelled and outcome.epochs == len(epochs) < 6
    scored = epochs[-1]
    qtbot.waitUntil(lambda: window.state.live is outcome.model)
    assert outcome.model.name == f"seed002 (stopped after epoch {scored.epoch} of 6)"
    assert outcome.model.accuracy == scored.test_accuracy
    assert window.prediction.model_label.text() == f"Model: {outcome.model.name} ({scored.test_accuracy:.2%})"
    assert _status(window).endswith(f"{before.title} is one step away (Models menu)")

    entries = window.actions.models_menu.actions()
    assert [a.text().split(" — ")[0] for a in entries] == [outcome.model.title, before.title]
    assert entries[0].isChecked() and not entries[1].isChecked()
    with qtbot.waitSignal(window.model_changed):
        entries[1].trigger()  # one step back
    assert window.state.live is before


def test_a_new_run_says_so_and_an_epoch_does_not_count_time_spent_paused(window, qtbot):
    panel = window.trainer.panel
    _set_up(panel, digits=3000, epochs=1)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        qtbot.mouseClick(panel.start_button, LEFT)
    assert _status(window).startswith("The model just trained is live")

    # An epoch long enough (about a second here) that Pause, pressed once the bar has moved, lands in it:
    # one of 3,000 digits took a tenth of a second and once ended before the click was handled.
    panel.form.train_limit.setValue(30000)
    epochs = []
    window.trainer.epoch_done.connect(epochs.append)
    started = time.perf_counter()
    qtbot.mouseClick(panel.start_button, LEFT)
    assert _status(window) == "Training seed002…"  # not the last run's "just trained" any more
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    with qtbot.waitSignal(window.trainer.worker.paused, timeout=10_000):
        qtbot.mouseClick(panel.pause_button, LEFT)
    QTimer.singleShot(1500, lambda: qtbot.mouseClick(panel.pause_button, LEFT))  # Resume after 1.5 s
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        pass
    wall = time.perf_counter() - started
    assert wall > 1.5 and epochs[0].seconds < wall - 1.2, (epochs[0].seconds, wall)
    assert f"({epochs[0].seconds:.1f} s)" in panel.log.toPlainText()


def test_quitting_during_a_run_asks_first(window, qtbot):
    panel = window.trainer.panel
    window.ask_before_quitting = True
    _set_up(panel, preset="default", digits=60000, epochs=40)  # minutes of work
    qtbot.mouseClick(panel.start_button, LEFT)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)

    QTimer.singleShot(0, lambda: _answer(QMessageBox.StandardButton.No))
    window.close()
    assert window.isVisible() and window.state.run is not None  # "No": the run goes on
    step = panel.progress.value()
    qtbot.waitUntil(lambda: panel.progress.value() > step, timeout=RUN_MS)

    QTimer.singleShot(0, lambda: _answer(QMessageBox.StandardButton.Yes))
    window.close()
    assert not window.isVisible() and not window.trainer.worker.is_running()


def test_a_fine_tune_whose_samples_cannot_be_read_says_why(window, qtbot, monkeypatch, tmp_path):
    from mnist_draw.samples import save_sample

    save_sample(np.zeros((28, 28)) + 0.5, 3)  # one sample, so fine-tuning is offered
    window.samples.recount()
    qtbot.waitUntil(window.trainer.panel.finetune_button.isEnabled)

    def unreadable(folder=None):
        raise PermissionError(13, "Permission denied", str(tmp_path / "samples"))

    monkeypatch.setattr("mnist_draw.samples.list_samples", unreadable)
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as ended:
        qtbot.mouseClick(window.trainer.panel.finetune_button, LEFT)
    assert isinstance(ended.args[0], Failed)
    text = window.trainer.panel.status.text()
    assert text == f"Training failed: Permission denied ({tmp_path / 'samples'})", text
    said = window.statusBar().currentMessage()  # the status bar says it once too (it said "training failed" twice)
    assert said.startswith(text) and said.lower().count("training failed") == 1, said


def test_the_matrix_uses_the_room_it_has_and_its_counts_can_be_read(window, qtbot):
    view = window.mistakes
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.mistakes is not None, timeout=60_000)
    matrix = view.matrix
    assert view.width() > view.height()  # the tab is wide: the gallery goes beside the matrix
    assert matrix.geometry().right() < view.gallery.geometry().left()
    side = matrix.cell_rect(0, 0).width()
    assert side * 12 > 0.8 * min(view.body.geometry().height(), matrix.width())  # the grid fills its square
    font = matrix.count_font()
    widest = str(int(view.mistakes.diagnosis.confusion.max()))
    assert font.pixelSize() >= 0.3 * side and font.pixelSize() >= 11
    assert QLabel(widest).fontMetrics().boundingRect(widest).width() <= side  # the widest count fits its cell


def least(w: QWidget) -> tuple[int, int]:
    """The size below which a widget is cut, as Qt's layouts take it: a minimum set on the widget (a grid
    that may shrink to half a row of tiles) wins over the one its content asks for."""
    hint = w.minimumSizeHint()
    return (w.minimumWidth() or hint.width(), w.minimumHeight() or hint.height())


def test_everything_fits_in_the_smallest_window(window, qtbot):
    window.resize(800, 500)
    qtbot.waitUntil(lambda: window.width() == 1024 and window.height() == 700)  # the smallest supported
    for tab in (window.prediction, window.mistakes, window.inside):
        window.tabs.setCurrentWidget(tab)
        QApplication.processEvents()
        shown = [w for w in window.findChildren(QWidget) if w.isVisible() and w.window() is window
                 and not w.objectName().startswith("qt_")]  # Qt's own parts of a widget (a spin box's line)
        clipped = [f"{type(w).__name__} {w.objectName()} {w.size().toTuple()} < {least(w)}"
                   for w in shown if w.minimumSizeHint().isValid() and
                   (w.width() < least(w)[0] or w.height() < least(w)[1])]
        assert clipped == [], "\n".join(clipped)
    plot = window.trainer.panel.plot
    corner = plot.mapTo(window, plot.rect().bottomRight())
    assert window.rect().contains(corner)  # the plots are inside the window, not cut off at its edge
    for item in (plot.loss_plot, plot.accuracy_plot):  # each plot, its title included, inside the widget
        title, whole = item.titleLabel.item.sceneBoundingRect(), item.sceneBoundingRect()
        assert whole.right() <= plot.width() and title.left() >= whole.left() and title.right() <= whole.right()


def test_load_model_opens_where_a_model_was_last_saved(window, qtbot, monkeypatch, tmp_path):
    asked = []
    monkeypatch.setattr("mnist_draw.gui.models_control.QFileDialog.getOpenFileName",
                        lambda parent, title, start, filters: asked.append(start) or ("", ""))
    folder = tmp_path / "my models"
    assert window.models.save_model_file(str(folder / "mine.safetensors"))
    window.actions.load.trigger()
    assert asked == [str(folder)]


def test_a_model_file_that_cannot_be_used_is_said_under_the_models_name(window, qtbot, tmp_path):
    window.tabs.setCurrentWidget(window.inside)  # the user looks elsewhere
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 100)
    with qtbot.waitSignal(window.model_problem):
        window.models.load_model_file(str(junk))
    assert window.tabs.currentWidget() is window.prediction
    problem = window.prediction.problem
    assert problem.isVisible() and problem.text().startswith("Could not use junk.safetensors: ")
    assert problem.text().endswith(f"{window.state.live.title} stays live")


def test_a_model_asked_for_at_the_start_that_cannot_be_used_gives_way_to_the_shipped_one(make_window, tmp_path,
                                                                                          qtbot):
    """`mnist-draw --model broken.safetensors` opened with no model at all, though the shipped one was there."""
    from mnist_draw.paths import default_model_path

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"abc")
    window = make_window(model=broken)  # waits until a model is live
    assert window.state.live.path is not None and Path(window.state.live.path) == default_model_path()
    said = window.prediction.problem.text()
    assert said.startswith("Could not use broken.safetensors: not a model file") and said.endswith(
        f"loading {default_model_path()} instead")
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Model default"))  # and why, still
    assert window.statusBar().currentMessage().endswith("(broken.safetensors could not be used: not a model file "
                                                        "(only 3 bytes))")


def test_a_sample_kept_by_a_click_on_a_bar_can_be_taken_back(window, qtbot, current_guess, tmp_path):
    samples = tmp_path / "home" / "samples"
    window.samples.teaching.folder = samples
    draw_one(window.canvas)
    current_guess(window)
    bars = window.prediction.bars
    qtbot.mouseClick(bars, LEFT, pos=bars.row_rect(4).center().toPoint())
    assert len(list(samples.glob("4/*.png"))) == 1
    assert window.samples.undo.isVisible() and window.prediction.samples_label.text() == "My samples: 1"
    qtbot.mouseClick(window.samples.undo, LEFT)
    assert list(samples.glob("4/*.png")) == []
    assert _status(window) == "Sample taken back — 0 samples"
    assert window.prediction.samples_label.text() == "My samples: 0" and not window.samples.undo.isVisible()


def test_showing_the_window_again_sets_nothing_up_twice(window, qtbot):
    presets = window.trainer.panel.form.preset.count()
    with qtbot.assertNotEmitted(window.ready, wait=500):  # a second warm-up would answer within that
        window.hide()
        window.show()
        qtbot.waitExposed(window)
    assert window.trainer.panel.form.preset.count() == presets
