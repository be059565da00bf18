"""Teaching it your handwriting, in the window: digit keys and bar clicks keep what the network saw,
the count follows, the browser deletes, and the trainer panel fine-tunes the live model on the samples."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import Qt

from mnist_draw.gui.selftest.mouse import draw_one, draw_unit_stroke

RUN_MS = 120_000
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A per-test user folder, so every test starts with no samples."""
    folder = tmp_path / "home"
    monkeypatch.setenv("MNIST_DRAW_HOME", str(folder))
    return folder


def sample_files(home, digit="*"):
    return sorted((home / "samples").glob(f"{digit}/*.png"))


def status(window) -> str:
    return window.statusBar().currentMessage()


def press(qtbot, widget, digit: int) -> None:
    qtbot.keyClick(widget, getattr(Qt.Key, f"Key_{digit}"))


def test_a_digit_key_keeps_what_the_network_saw_and_says_correction_or_confirmation(window, qtbot, current_guess,
                                                                                     home):
    draw_one(window.canvas)
    press(qtbot, window, 7)  # at once: the network has not read the last strokes yet
    qtbot.waitUntil(lambda: len(sample_files(home)) == 1)
    guess = current_guess(window)
    assert guess.label == 1
    [path] = sample_files(home)
    assert path.parent == home / "samples" / "7"
    saved = np.asarray(Image.open(path))
    assert saved.shape == (28, 28)
    assert np.array_equal(saved, np.round(guess.pixels * 255).astype(np.uint8))  # exactly what it saw
    assert status(window) == "Saved as a 7 (a correction: the network said 1) — 1 sample"
    assert window.prediction.samples_label.text() == "My samples: 1"

    press(qtbot, window, 1)
    assert status(window) == "Saved as a 1 (a confirmation) — 2 samples"
    assert len(sample_files(home, 1)) == 1
    assert window.prediction.samples_label.text() == "My samples: 2"


def test_clicking_a_bar_keeps_the_drawing_as_that_digit(window, qtbot, current_guess, home):
    draw_one(window.canvas)
    current_guess(window)
    bars = window.prediction.bars
    qtbot.mouseClick(bars, LEFT, pos=bars.row_rect(3).center().toPoint())
    [path] = sample_files(home)
    assert path.parent.name == "3"
    assert status(window) == "Saved as a 3 (a correction: the network said 1) — 1 sample"
    assert window.prediction.samples_label.text() == "My samples: 1"


def test_an_empty_canvas_saves_nothing(window, qtbot, home):
    press(qtbot, window, 4)
    assert status(window) == "Nothing to save: draw a digit first, then press its key or click its bar"
    assert sample_files(home) == []
    assert window.prediction.samples_label.text() == "My samples: 0"


def test_a_drawing_changed_before_the_network_read_it_is_not_saved(window, qtbot, current_guess, home):
    draw_one(window.canvas)
    press(qtbot, window, 7)  # the network cannot answer before the event loop runs again
    draw_unit_stroke(window.canvas, [(0.3, 0.2), (0.7, 0.2)])  # ... and the drawing changes first
    assert "nothing saved" in status(window)
    current_guess(window)
    assert sample_files(home) == []


def test_a_write_error_is_one_line_and_keeps_the_drawing(window, qtbot, current_guess, home):
    home.mkdir(parents=True, exist_ok=True)
    (home / "samples").write_text("a file where the samples folder should be")
    draw_one(window.canvas)
    current_guess(window)
    press(qtbot, window, 1)
    message = status(window)
    assert message.startswith(f"Could not save the sample in {home / 'samples'}: ") and "\n" not in message
    assert not window.canvas.empty
    assert window.prediction.samples_label.text() == "My samples: 0"


def test_typing_a_digit_into_a_field_types_it(window, qtbot, home):
    lr = window.trainer.panel.form.lr
    lr.setText("0.")
    lr.setFocus()
    qtbot.waitUntil(lr.hasFocus)
    press(qtbot, lr, 5)
    assert lr.text() == "0.5"
    assert sample_files(home) == []


def _save_noise(home, digit: int, seed: int) -> None:
    from mnist_draw.samples import save_sample

    save_sample(np.random.default_rng(seed).random((28, 28)), digit, home / "samples")


def test_the_browser_shows_samples_by_digit_and_deletes_them(make_window, trained_model, qtbot, home):
    for i, digit in enumerate((2, 2, 2, 5)):
        _save_noise(home, digit, i)
    window = make_window(model=trained_model)
    assert window.prediction.samples_label.text() == "My samples: 4"
    window.actions.browse.trigger()
    dialog = window.samples.dialog
    qtbot.waitExposed(dialog)
    counts = [dialog.digits.item(row).text() for row in range(dialog.digits.count())]
    assert counts == ["All — 4"] + [f"{d} — {3 if d == 2 else 1 if d == 5 else 0}" for d in range(10)]
    assert dialog.thumbnails.count() == 4

    twos = dialog.digits.item(3)
    qtbot.mouseClick(dialog.digits.viewport(), LEFT, pos=dialog.digits.visualItemRect(twos).center())
    shown = [dialog.thumbnails.item(i) for i in range(dialog.thumbnails.count())]
    assert [item.text() for item in shown] == ["2", "2", "2"]
    assert not shown[0].icon().isNull()
    assert not dialog.delete_button.isEnabled()

    first = shown[0].data(Qt.ItemDataRole.UserRole)
    qtbot.mouseClick(dialog.thumbnails.viewport(), LEFT, pos=dialog.thumbnails.visualItemRect(shown[0]).center())
    assert dialog.delete_button.isEnabled()
    qtbot.keyClick(dialog.thumbnails, Qt.Key.Key_Delete)
    assert first not in {str(p) for p in sample_files(home)}
    assert len(sample_files(home, 2)) == 2
    assert dialog.message.text() == "Deleted 1 sample"
    assert dialog.digits.item(3).text() == "2 — 2" and dialog.thumbnails.count() == 2
    assert window.prediction.samples_label.text() == "My samples: 3"

    qtbot.keyClick(dialog.thumbnails, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.mouseClick(dialog.delete_button, LEFT)
    assert sample_files(home, 2) == [] and len(sample_files(home)) == 1
    assert dialog.message.text() == "Deleted 2 samples"
    assert window.prediction.samples_label.text() == "My samples: 1"


def test_a_sample_that_cannot_be_deleted_is_named(make_window, trained_model, qtbot, home):
    stuck = home / "samples" / "5" / "stuck.png"  # a folder with that name: unlink fails
    stuck.mkdir(parents=True)
    (stuck / "inside").write_text("x")
    window = make_window(model=trained_model)
    window.actions.browse.trigger()
    dialog = window.samples.dialog
    qtbot.waitExposed(dialog)
    dialog.thumbnails.selectAll()
    qtbot.mouseClick(dialog.delete_button, LEFT)
    assert dialog.message.text().startswith("Deleted 0 samples; could not delete 1: 5/stuck.png: ")
    assert stuck.is_dir() and dialog.thumbnails.count() == 1
    assert window.prediction.samples_label.text() == "My samples: 1"


def test_fine_tuning_needs_a_model_and_samples_and_says_why(make_window, no_shipped_model, trained_model, qtbot,
                                                            current_guess, home):
    window = make_window()
    button = window.trainer.panel.finetune_button
    assert not button.isEnabled() and button.toolTip().startswith("No model yet")
    draw_one(window.canvas)
    current_guess(window)
    press(qtbot, window, 1)
    assert status(window) == "Saved as a 1 — 1 sample"  # no model: no verdict to confirm or correct
    assert not button.isEnabled() and button.toolTip().startswith("No model yet")

    window.models.load_model_file(str(trained_model))
    qtbot.waitUntil(lambda: window.state.live is not None)
    assert button.isEnabled() and "(1)" in button.toolTip()

    window.actions.browse.trigger()
    dialog = window.samples.dialog
    dialog.thumbnails.selectAll()
    qtbot.mouseClick(dialog.delete_button, LEFT)
    assert sample_files(home) == []
    assert not button.isEnabled() and button.toolTip().startswith("No personal samples yet")


@pytest.fixture(scope="module")
def misread_and_read(mnist, trained_model):
    """Eight MNIST test digits the quick model misreads and eight it reads right, with their true labels."""
    from mnist_draw.model.files import load_model

    model = load_model(trained_model).model
    x = mnist.test_x[:2000].float() / 255
    with torch.inference_mode():
        right = model(x).argmax(1) == mnist.test_y[:2000]
    wrong_i = torch.nonzero(~right).flatten()[:8].tolist()
    right_i = torch.nonzero(right).flatten()[:8].tolist()
    return [(x[i].numpy(), int(mnist.test_y[i])) for i in wrong_i + right_i]


def test_fine_tuning_on_my_samples_makes_a_new_live_model_and_shows_before_and_after(
        make_window, trained_model, misread_and_read, qtbot, home):
    from mnist_draw.model.files import load_model
    from mnist_draw.samples import save_sample

    for pixels, label in misread_and_read:
        save_sample(pixels, label, home / "samples")
    window = make_window(model=trained_model)
    panel = window.trainer.panel
    assert window.prediction.samples_label.text() == "My samples: 16"
    assert panel.finetune_button.isEnabled()
    panel.form.train_limit.setValue(2000)  # replay 2,000 MNIST digits an epoch: seconds
    before = window.state.live

    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS) as finished:
        qtbot.mouseClick(panel.finetune_button, LEFT)
        assert not panel.finetune_button.isEnabled() and panel.stop_button.isEnabled()
    outcome = finished.args[0]
    assert outcome is not None and not outcome.cancelled, panel.status.text()
    scores = outcome.finetune
    assert scores.samples == 16
    assert scores.mnist_before == pytest.approx(load_model(trained_model).test_accuracy, abs=1e-4)
    assert scores.mnist_after == outcome.accuracy > 0.85  # MNIST is not forgotten
    assert scores.samples_after > scores.samples_before  # and the misread samples were learned
    text = panel.status.text()
    assert text.endswith(f"MNIST test: {scores.mnist_before:.2%} → {scores.mnist_after:.2%}; your 16 samples: "
                         f"{scores.samples_before:.0%} → {scores.samples_after:.0%}")
    assert re.match(r"Fine-tuned in [\d.]+ s: MNIST test: ", text)
    assert "MNIST test:" in panel.log.toPlainText()
    # the plot starts from where the model stood, at a scale that shows a small change as small
    qtbot.waitUntil(lambda: panel.plot.shown_accuracies() == 1 + outcome.planned_epochs)
    low, high = panel.plot.accuracy_plot.viewRange()[1]
    assert high - low >= 5 and low <= 100 * min(scores.mnist_before, scores.mnist_after) <= high

    qtbot.waitUntil(lambda: window.state.live is outcome.model)
    assert outcome.model.name == "seed002-personal" and outcome.model.metadata["personal_samples"] == 16
    assert any(not torch.equal(before.state[k], outcome.model.state[k]) for k in before.state)
    assert window.prediction.model_label.text() == f"Model: seed002-personal ({outcome.accuracy:.2%})"
    assert panel.finetune_button.isEnabled()


def test_stop_ends_a_fine_tune_as_it_ends_training(make_window, qtbot, home):
    _save_noise(home, 3, 0)
    window = make_window()  # the shipped model: 1024x1024, a fine-tune takes a while
    qtbot.waitUntil(lambda: window.state.live is not None)
    panel = window.trainer.panel
    panel.form.train_limit.setValue(60000)
    qtbot.mouseClick(panel.finetune_button, LEFT)
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=RUN_MS)
    clicked = time.perf_counter()
    with qtbot.waitSignal(window.trainer.ended, timeout=10_000) as finished:
        qtbot.mouseClick(panel.stop_button, LEFT)
    assert time.perf_counter() - clicked < 3.0
    outcome = finished.args[0]
    assert outcome.cancelled and outcome.finetune.mnist_after is None
    assert "Stopped" in panel.status.text() and not panel.stop_button.isEnabled()
    # The model from before the run goes live again through the live reader's thread (the canvas followed the
    # fine-tune's snapshots meanwhile); fine-tuning is offered again once it has.
    qtbot.waitUntil(panel.finetune_button.isEnabled)
    assert window.state.live.finished


def test_fine_tuning_without_mnist_says_where_it_looked(make_window, trained_model, qtbot, tmp_path, home):
    _save_noise(home, 3, 0)
    window = make_window(model=trained_model, data=str(tmp_path / "nowhere"))
    panel = window.trainer.panel
    live = window.state.live
    with qtbot.waitSignal(window.trainer.ended, timeout=RUN_MS):
        qtbot.mouseClick(panel.finetune_button, LEFT)
    assert panel.data_message.text().startswith(f"MNIST is not in {tmp_path / 'nowhere'}")
    assert panel.data_box.isVisible()
    assert window.state.live is live
