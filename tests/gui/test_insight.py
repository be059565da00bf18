"""The "Mistakes" and "Inside" tabs, driven like a user: the confusion matrix and the gallery of misread
test digits of the live model, a misread digit put on the canvas, the first layer's weights and the
hidden units' activations following the drawing."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from mnist_draw.gui.selftest.mouse import draw_one, draw_unit_stroke

LEFT = Qt.MouseButton.LeftButton
FOUND_MS = 60_000


def _mistakes_of(window, qtbot, model=None):
    """Show the Mistakes tab and wait for the mistakes of ``model`` (default: the live model)."""
    window.tabs.setCurrentWidget(window.mistakes)
    qtbot.waitUntil(lambda: window.mistakes.mistakes is not None
                    and window.mistakes.mistakes.model is (model or window.state.live), timeout=FOUND_MS)
    return window.mistakes.mistakes


def _click_cell(qtbot, view, true, guess):
    qtbot.mouseClick(view.matrix, LEFT, pos=view.matrix.cell_rect(true, guess).center().toPoint())


def _tile_centre(grid, row):
    """Where tile ``row`` of a TileGrid is, in its viewport (scrolled into view first)."""
    index = grid.tiles.index(row)
    grid.scrollTo(index)
    return grid.visualRect(index).center()


def _captions(view):
    tiles = view.gallery.tiles
    return [tiles.data(tiles.index(row)) for row in range(tiles.rowCount())]


def test_the_matrix_counts_the_test_set_and_a_click_on_a_cell_filters_the_gallery(window, qtbot):
    view = window.mistakes
    d = _mistakes_of(window, qtbot).diagnosis
    assert view.matrix.confusion.sum() == 10_000
    assert d.accuracy == window.state.live.accuracy  # what the model file says it scored
    assert view.gallery.tiles.rowCount() == len(d.wrong) == 10_000 - np.trace(d.confusion)
    assert str(round(d.accuracy * 100, 2)) in view.summary.text()

    off = d.confusion - np.diag(np.diag(d.confusion))
    true, guess = np.unravel_index(off.argmax(), off.shape)  # the model's commonest confusion
    _click_cell(qtbot, view, true, guess)
    assert view.matrix.selected == (true, guess)
    assert _captions(view) == [f"{true} → {guess}"] * d.confusion[true, guess]
    assert view.filter_label.text() == f"{true} read as {guess}: {d.confusion[true, guess]}"

    _click_cell(qtbot, view, true, true)  # the diagonal: every misread digit of that row
    assert view.gallery.tiles.rowCount() == d.confusion[true].sum() - d.confusion[true, true]
    assert all(c.startswith(f"{true} → ") for c in _captions(view))

    qtbot.mouseClick(view.show_all, LEFT)
    assert view.gallery.tiles.rowCount() == len(d.wrong) and view.matrix.selected is None


def test_clicking_a_cell_or_a_misread_digit_puts_it_on_the_canvas_and_the_live_guess_reads_it(window, qtbot, current_guess):
    view = window.mistakes
    d = _mistakes_of(window, qtbot).diagnosis
    surest = int(np.argmax(d.confidence))  # a mistake the model makes with conviction
    true, guess = int(d.truth[surest]), int(d.guess[surest])
    assert window.canvas.empty
    _click_cell(qtbot, view, true, guess)  # a cell: its surest mistake goes on the canvas
    assert not window.canvas.empty and window.canvas.ink_pixels() > 500
    assert current_guess(window).label == guess != true

    window.canvas.clear()
    row = int(np.flatnonzero(view.shown == surest)[0])
    qtbot.mouseClick(view.gallery.viewport(), LEFT, pos=_tile_centre(view.gallery, row))  # a digit of the gallery
    assert not window.canvas.empty and window.canvas.ink_pixels() > 500
    read = current_guess(window)
    assert read.label == guess != true
    assert read.pixels.shape == (28, 28)


def test_the_inside_tab_shows_a_tile_per_first_layer_unit_and_live_activations(window, qtbot, current_guess):
    inside = window.inside
    window.tabs.setCurrentWidget(inside)
    units = window.state.live.recipe.hidden[0]
    qtbot.waitUntil(lambda: inside.tile_count == units)
    first = inside.weights.tiles.index(0)
    assert inside.weights.tiles.data(first, Qt.ItemDataRole.DecorationRole).width() == 56  # 28x28, doubled
    assert inside.activations.sizes == (units,) and inside.activations.activations == ()

    draw_one(window.canvas)
    one = current_guess(window)
    assert len(one.hidden) == 1 and one.hidden[0].shape == (units,)
    assert inside.activations.activations[0] is one.hidden[0] and one.hidden[0].max() > 0
    top = np.argsort(one.hidden[0])[::-1][:8].tolist()  # the drawing's most active units, shown apart
    assert inside.top == top and inside.weights.tiles.highlighted == set(top)
    assert inside.most_active.tiles.rowCount() == 8
    qtbot.mouseClick(inside.most_active.viewport(), LEFT, pos=_tile_centre(inside.most_active, 2))
    assert inside.weights.currentIndex().row() == top[2]  # found among all the tiles

    draw_unit_stroke(window.canvas, [(0.3, 0.2), (0.7, 0.2)])  # a bar across the top: now a 7
    seven = current_guess(window)
    assert inside.activations.activations[0] is seven.hidden[0]
    assert not np.allclose(seven.hidden[0], one.hidden[0])

    window.canvas.clear()
    qtbot.waitUntil(lambda: inside.activations.activations == () and not inside.weights.tiles.highlighted)
    assert inside.most_active.tiles.rowCount() == 0


def test_a_linear_model_shows_its_ten_digit_templates(make_window, qtbot, tmp_path, mnist, current_guess):
    from mnist_draw.model.files import save_model
    from mnist_draw.model.recipe import preset
    from mnist_draw.trainer.loop import fit, result_metadata

    result = fit(preset("linear").replace(epochs=1), mnist, device="cpu", seed=0, train_limit=5000)
    path = save_model(tmp_path / "linear.safetensors", result.model, result_metadata(result))
    window = make_window(model=path)
    inside = window.inside
    window.tabs.setCurrentWidget(inside)
    qtbot.waitUntil(lambda: inside.tile_count == 10)
    tiles = inside.weights.tiles
    assert [tiles.data(tiles.index(d)) for d in range(10)] == [f"digit {d}" for d in range(10)]
    assert inside.activations.sizes == ()

    draw_one(window.canvas)
    guess = current_guess(window)
    assert guess.hidden == () and tiles.highlighted == {guess.label}
    d = _mistakes_of(window, qtbot).diagnosis
    assert window.mistakes.gallery.tiles.rowCount() == len(d.wrong) > 300  # hundreds of tiles


def test_weights_handed_over_while_learning_are_not_diagnosed_but_the_trained_model_is(window, qtbot):
    from mnist_draw.gui.state.live import LiveModel

    loaded = _mistakes_of(window, qtbot).model
    learning = LiveModel(loaded.recipe, loaded.state, "seed002, learning (epoch 1/2)", None)
    window.use_model(learning)
    qtbot.waitUntil(lambda: window.state.live is learning)
    assert window.state.diagnosed is loaded and not learning.finished

    panel = window.trainer.panel
    panel.form.preset.setCurrentText("linear")
    panel.form.train_limit.setValue(2000)
    panel.form.epochs.setValue(1)
    with qtbot.waitSignal(window.trainer.ended, timeout=120_000) as finished:
        qtbot.mouseClick(panel.start_button, LEFT)
    trained = finished.args[0].model
    d = _mistakes_of(window, qtbot, trained).diagnosis
    assert d.accuracy == pytest.approx(trained.accuracy)


def test_without_mnist_the_mistakes_tab_says_so_in_one_line_and_fills_once_mnist_is_found(make_window, qtbot,
                                                                                         trained_model, tmp_path, mnist):
    window = make_window(model=trained_model, data=str(tmp_path / "no-mnist-here"))
    window.tabs.setCurrentWidget(window.mistakes)
    summary = window.mistakes.summary
    qtbot.waitUntil(lambda: summary.text().startswith("No mistakes to show: MNIST is not in"), timeout=FOUND_MS)
    assert "\n" not in summary.text() and "Traceback" not in summary.text()
    assert window.mistakes.gallery.tiles.rowCount() == 0 and window.mistakes.matrix.confusion is None

    window.trainer.set_data_dir(str(mnist.root))  # the user chooses the folder that holds MNIST
    qtbot.waitUntil(lambda: window.mistakes.mistakes is not None, timeout=FOUND_MS)
    assert window.mistakes.matrix.confusion.sum() == 10_000 and not summary.text().startswith("No mistakes")


def test_a_model_that_arrives_as_the_window_closes_starts_no_thread(window, qtbot):
    loaded = _mistakes_of(window, qtbot).model
    window.close()
    assert not window.finder.is_running()
    late = type(loaded)(loaded.recipe, loaded.state, "late", 0.9, {"epochs_trained": 1})  # queued before closing
    window.reader.yielded.emit(late)
    assert not window.finder.is_running()  # a thread left running would abort the app when collected
