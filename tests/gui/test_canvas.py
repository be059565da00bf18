"""The canvas, driven by real mouse and keyboard events: ink, live guesses, undo/redo/clear, pictures."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QFileDialog, QToolBar

from mnist_draw.gui.views.canvas import CHECKPOINT_EVERY, DEFAULT_PEN_WIDTH
from mnist_draw.gui.selftest.mouse import canvas_point, draw_one, draw_unit_stroke, move_with_button, send_mouse
from mnist_draw.gui.views.images import qimage_to_array
from mnist_draw.gui.views.prediction import NO_MODEL


def test_drawing_with_the_mouse_puts_ink_down_and_updates_the_prediction(window, qtbot, current_guess):
    canvas = window.canvas
    assert canvas.ink_pixels() == 0
    assert window.prediction.verdict.text() == "Draw a digit"

    top, bottom = canvas_point(canvas, 0.5, 0.2), canvas_point(canvas, 0.5, 0.8)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=top.toPoint())
    for t in np.linspace(0, 1, 12)[1:]:
        move_with_button(canvas, top + (bottom - top) * t)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=bottom.toPoint())

    assert canvas.ink_pixels() > 100
    guess = current_guess(window)
    assert guess.label == 1
    assert window.prediction.digit.text() == "1"
    assert window.prediction.verdict.text().endswith("% sure")
    assert guess.pixels.shape == (28, 28) and guess.pixels.max() == 1.0
    assert window.prediction.mnist.pixels is guess.pixels
    assert window.actions.undo.isEnabled()


def test_moving_without_a_button_held_draws_nothing(window, qtbot):
    canvas = window.canvas
    qtbot.mouseMove(canvas, canvas_point(canvas, 0.3, 0.3).toPoint())
    qtbot.mouseMove(canvas, canvas_point(canvas, 0.7, 0.7).toPoint())
    assert canvas.ink_pixels() == 0 and canvas.empty
    # pressed, moved with the button held, then moved without it (the release went to another window):
    # only the part drawn with the button held is ink (Qt drops such moves for a widget without mouse
    # tracking; the canvas checks the button too, so turning tracking on, for a hover cursor, keeps this)
    send_mouse(canvas, QEvent.Type.MouseButtonPress, canvas_point(canvas, 0.3, 0.3))
    move_with_button(canvas, canvas_point(canvas, 0.4, 0.4))
    held = canvas.ink_pixels()
    assert held > 0
    for x in (0.5, 0.6, 0.8):
        send_mouse(canvas, QEvent.Type.MouseMove, canvas_point(canvas, x, x), Qt.MouseButton.NoButton,
                   Qt.MouseButton.NoButton)
    assert canvas.ink_pixels() == held


def test_undo_redo_and_clear_by_keyboard(window, qtbot):
    canvas = window.canvas
    draw_unit_stroke(canvas, [(0.3, 0.3), (0.7, 0.3)])
    one_stroke = canvas.ink_pixels()
    draw_unit_stroke(canvas, [(0.3, 0.7), (0.7, 0.7)])
    two_strokes = canvas.ink_pixels()
    assert two_strokes > one_stroke > 0

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert canvas.ink_pixels() == one_stroke
    assert window.actions.redo.isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert canvas.ink_pixels() == two_strokes

    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert canvas.ink_pixels() == 0 and canvas.empty
    qtbot.waitUntil(lambda: window.prediction.verdict.text() == "Draw a digit")
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # clearing can be undone too
    assert canvas.ink_pixels() == two_strokes
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert canvas.empty and not window.actions.clear.isEnabled()


def test_undo_or_clear_in_the_middle_of_a_stroke_ends_that_stroke(window, qtbot):
    """Ctrl+Z with the button still held takes back that stroke (not the one before), Esc clears: the rest of
    the drag draws nothing, and the release does not bring the stroke back (it came back whole, over the
    undone or cleared canvas). The window's very first stroke too: Undo and Clear are offered while it is drawn
    (there was nothing before it to undo, so the keys did nothing)."""
    canvas = window.canvas
    for key in (Qt.Key.Key_Z, Qt.Key.Key_Escape):
        assert canvas.empty and not window.actions.undo.isEnabled() and not window.actions.clear.isEnabled()
        send_mouse(canvas, QEvent.Type.MouseButtonPress, canvas_point(canvas, 0.2, 0.5))
        move_with_button(canvas, canvas_point(canvas, 0.5, 0.5))
        assert canvas.ink_pixels() > 0 and window.actions.undo.isEnabled() and window.actions.clear.isEnabled()
        qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier if key == Qt.Key.Key_Z else
                       Qt.KeyboardModifier.NoModifier)
        send_mouse(canvas, QEvent.Type.MouseButtonRelease, canvas_point(canvas, 0.8, 0.5),
                   buttons=Qt.MouseButton.NoButton)
        assert canvas.ink_pixels() == 0 and canvas.empty and not window.actions.undo.isEnabled()
    draw_one(canvas)
    one = canvas.ink_pixels()
    for key, left in ((Qt.Key.Key_Z, one), (Qt.Key.Key_Escape, 0)):
        send_mouse(canvas, QEvent.Type.MouseButtonPress, canvas_point(canvas, 0.2, 0.5))
        move_with_button(canvas, canvas_point(canvas, 0.5, 0.5))
        assert canvas.ink_pixels() > one
        qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier if key == Qt.Key.Key_Z else
                       Qt.KeyboardModifier.NoModifier)
        move_with_button(canvas, canvas_point(canvas, 0.8, 0.5))
        send_mouse(canvas, QEvent.Type.MouseButtonRelease, canvas_point(canvas, 0.8, 0.5),
                   buttons=Qt.MouseButton.NoButton)
        assert canvas.ink_pixels() == left


def test_the_eraser_removes_ink(window):
    canvas = window.canvas
    draw_unit_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
    inked = canvas.ink_pixels()
    window.actions.eraser.setChecked(True)
    draw_unit_stroke(canvas, [(0.5, 0.3), (0.5, 0.7)])
    assert 0 < canvas.ink_pixels() < inked * 0.9


def test_erasing_an_empty_canvas_or_pasting_a_blank_picture_leaves_it_empty(window, qtbot):
    """Nothing to erase, or a picture without ink: no drawing, no undo step, "Draw a digit" as before."""
    canvas = window.canvas
    window.actions.eraser.setChecked(True)
    draw_unit_stroke(canvas, [(0.2, 0.5), (0.8, 0.5)])
    assert canvas.empty and not window.actions.undo.isEnabled() and not window.actions.clear.isEnabled()
    qtbot.waitUntil(lambda: window.prediction.verdict.text() == "Draw a digit")
    window.actions.eraser.setChecked(False)
    draw_one(canvas)
    ink = canvas.ink_pixels()
    for picture in (QImage(300, 300, QImage.Format.Format_RGB32), QImage(1, 1, QImage.Format.Format_ARGB32)):
        picture.fill(QColor("white") if picture.width() > 1 else QColor(0, 0, 0, 0))
        _drop_image(canvas, picture)
        message = window.statusBar().currentMessage()
        assert message == "the picture has no ink (blank, or fully transparent): the drawing is kept", message
        assert canvas.ink_pixels() == ink


def test_resizing_keeps_the_drawing_and_scales_it(window, qtbot):
    canvas = window.canvas
    draw_one(canvas)
    before = canvas.ink_pixels()
    side = canvas.square().width()
    left, right = window.top.sizes()
    window.top.setSizes([left // 2, right + left - left // 2])
    qtbot.waitUntil(lambda: canvas.square().width() < side)
    ratio = (canvas.square().width() / side) ** 2
    assert canvas.ink_pixels() > 0
    assert abs(canvas.ink_pixels() / before - ratio) < 0.3 * ratio  # the ink scaled with the paper


def _undo_keys(window, qtbot, times: int, redo: bool = False) -> None:
    modifiers = Qt.KeyboardModifier.ControlModifier
    if redo:
        modifiers |= Qt.KeyboardModifier.ShiftModifier
    for _ in range(times):
        qtbot.keyClick(window, Qt.Key.Key_Z, modifiers)


def test_each_step_paints_only_what_changed_and_the_picture_is_the_same(window, qtbot, mnist, monkeypatch):
    """A long drawing stays as quick to add to and undo as a short one: a new stroke paints one stroke, an undo
    a few; and the picture is the same, pixel for pixel, as the whole drawing painted from scratch."""
    canvas = window.canvas
    painted = []
    real = canvas._paint_strokes
    monkeypatch.setattr(canvas, "_paint_strokes", lambda painter, strokes: (painted.append(len(strokes)),
                                                                            real(painter, strokes)))
    canvas.put_pixels(mnist.test_x[0].numpy())  # a picture under the strokes, as an opened file is
    for i in range(60):
        window.actions.eraser.setChecked(i % 9 == 8)
        pen = window.actions.pen_slider
        pen.setValue(pen.minimum() + (i * 7) % (pen.maximum() - pen.minimum()))
        draw_unit_stroke(canvas, [(0.1 + 0.8 * (i % 10) / 10, 0.15), (0.5, 0.5 + 0.3 * (i % 3) / 3)], steps=3)
    assert painted[-1] == 1  # the 60th stroke painted itself only, not the 59 before it
    painted.clear()
    _undo_keys(window, qtbot, 13)
    assert len(painted) == 13 and max(painted) < CHECKPOINT_EVERY  # each undo: at most the strokes since a kept picture
    painted.clear()
    _undo_keys(window, qtbot, 5, redo=True)
    assert len(painted) == 5 and max(painted) <= 1  # each redo: the one stroke it brings back, if that
    draw_unit_stroke(canvas, [(0.2, 0.9), (0.8, 0.9)], steps=3)  # a new stroke after undoing: history branches
    _undo_keys(window, qtbot, 2)
    undone_twice = qimage_to_array(canvas.snapshot())
    _undo_keys(window, qtbot, 2, redo=True)
    steps = qimage_to_array(canvas.snapshot())

    side = canvas.square().width()  # now paint it all from scratch: at another size and back again
    left, right = window.top.sizes()
    window.top.setSizes([left // 2, right + left - left // 2])
    qtbot.waitUntil(lambda: canvas.square().width() < side)
    window.top.setSizes([left, right])
    qtbot.waitUntil(lambda: canvas.square().width() == side)
    assert painted[-1] == 53  # from scratch: all of the 60 - 13 + 5 + 1 strokes
    assert np.array_equal(qimage_to_array(canvas.snapshot()), steps)
    _undo_keys(window, qtbot, 2)
    assert np.array_equal(qimage_to_array(canvas.snapshot()), undone_twice)


def test_pen_width_window_layout_and_tab_are_remembered(make_window, trained_model):
    first = make_window(model=trained_model)
    assert first.canvas.pen_width == DEFAULT_PEN_WIDTH  # MNIST's proportion
    first.actions.pen_slider.setValue(150)
    default_share = first.top.sizes()[0] / sum(first.top.sizes())
    total = sum(first.top.sizes())
    first.top.setSizes([total // 5, total - total // 5])  # a narrow canvas
    assert first.tabs.currentWidget() is first.prediction
    first.tabs.setCurrentWidget(first.inside)
    first.close()
    second = make_window(model=trained_model)
    assert second.canvas.pen_width == 0.15
    assert second.tabs.currentWidget() is second.inside
    share = second.top.sizes()[0] / sum(second.top.sizes())
    assert share < (default_share + 0.2) / 2, (share, default_share)
    assert second.settings.layout("geometry") is not None


def _digit_png(path, mnist, index, invert=False):
    pixels = mnist.test_x[index].numpy()
    image = Image.fromarray(255 - pixels if invert else pixels).resize((140, 140), Image.Resampling.BILINEAR)
    image.save(path)
    return int(mnist.test_y[index])


def _answer_open_dialogs_with(monkeypatch, path) -> None:
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))


def test_an_opened_image_lands_on_the_canvas_and_is_classified(window, mnist, tmp_path, qtbot, current_guess,
                                                               monkeypatch):
    label = _digit_png(tmp_path / "digit.png", mnist, 0, invert=True)  # dark ink on white paper, like a scan
    _answer_open_dialogs_with(monkeypatch, tmp_path / "digit.png")
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)  # Open image…
    assert window.canvas.ink_pixels() > 100
    assert current_guess(window).label == label


def test_a_bad_image_file_says_why_and_keeps_the_canvas(window, tmp_path, qtbot, monkeypatch):
    draw_one(window.canvas)
    ink = window.canvas.ink_pixels()
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a picture")
    _answer_open_dialogs_with(monkeypatch, bad)
    open_button = window.findChild(QToolBar, "drawing").widgetForAction(window.actions.open)
    qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
    assert "not an image" in window.statusBar().currentMessage()
    assert window.canvas.ink_pixels() == ink
    _answer_open_dialogs_with(monkeypatch, "")  # cancelled: the drawing stays
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas.ink_pixels() == ink


def test_saving_the_drawing_says_why_it_cannot_and_never_leaves_half_a_file(window, tmp_path):
    from mnist_draw.gui.main_window import READ_SIDE

    status = window.statusBar().currentMessage
    assert not window.save_drawing(str(tmp_path / "empty.png"))
    assert status() == "nothing to save: the canvas is empty" and not (tmp_path / "empty.png").exists()

    draw_one(window.canvas)
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"an older drawing")
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert not window.save_drawing(str(blocker / "drawing.png"))  # its folder is a file
    assert status() == f"cannot save the drawing to {blocker / 'drawing.png'}: a file stands where its folder should be"
    read_only = tmp_path / "read-only.png"
    read_only.write_bytes(b"a drawing to keep")
    read_only.chmod(0o444)
    assert not window.save_drawing(str(read_only))
    assert status() == f"cannot save the drawing to {read_only}: the file is read-only: it was left as it is"
    assert read_only.read_bytes() == b"a drawing to keep"
    assert window.save_drawing(str(kept))
    with Image.open(kept) as image:  # replaced whole: the new drawing, black ink on white paper
        pixels = np.asarray(image)
    assert pixels.shape == (READ_SIDE, READ_SIDE) and pixels.min() < 50 and np.median(pixels) == 255
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind (they start with a dot)


def test_a_dropped_image_file_is_classified(window, mnist, tmp_path, current_guess):
    label = _digit_png(tmp_path / "dropped.png", mnist, 1)  # white on black, as MNIST
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.png"))])
    where = canvas_point(window.canvas, 0.5, 0.5)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where.toPoint(), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(window.canvas, enter)
    assert enter.isAccepted()
    drop = QDropEvent(where, Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(window.canvas, drop)
    assert drop.isAccepted()
    assert current_guess(window).label == label


def _drop_image(canvas, image: QImage) -> None:
    mime = QMimeData()
    mime.setImageData(image)
    where, buttons, keys = canvas_point(canvas, 0.5, 0.5), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where.toPoint(), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(canvas, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(canvas, QDropEvent(where, Qt.DropAction.CopyAction, mime, buttons, keys))


def test_a_huge_dropped_picture_is_refused_or_shrunk_without_stalling_the_window(window, current_guess):
    """Picture data (pasted or dropped) gets the limits an opened file gets: it froze the window for 21 s."""
    huge = QImage(8000, 8000, QImage.Format.Format_Grayscale8)  # 64 megapixels
    huge.fill(255)
    draw_one(window.canvas)
    current_guess(window)  # the model is live and has read the drawing: nothing else will talk meanwhile
    ink = window.canvas.ink_pixels()
    _drop_image(window.canvas, huge)
    message = window.statusBar().currentMessage()
    assert message == "picture pasted or dropped: image too large (8000x8000 pixels; the limit is 40 megapixels)"
    assert window.canvas.ink_pixels() == ink  # the drawing stays

    big = QImage(6000, 4000, QImage.Format.Format_RGB32)  # a photo of a 1: a dark bar on white paper
    big.fill(QColor("white"))
    painter = QPainter(big)
    painter.fillRect(2700, 800, 600, 2400, QColor("black"))
    painter.end()
    started = time.perf_counter()
    _drop_image(window.canvas, big)
    assert time.perf_counter() - started < 2.0  # measured 0.1 s (it was about 20 s before the shrink)
    assert window.canvas.ink_pixels() > 0 and current_guess(window).pixels is not None


def test_a_pasted_image_is_classified(window, mnist, qtbot, current_guess):
    index = 2
    pixels = np.ascontiguousarray(mnist.test_x[index].numpy())
    image = QImage(pixels.data, 28, 28, 28, QImage.Format.Format_Grayscale8).copy()
    QApplication.clipboard().setImage(image)
    qtbot.waitUntil(lambda: QApplication.clipboard().mimeData().hasImage())
    qtbot.keyClick(window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert current_guess(window).label == int(mnist.test_y[index])


def test_without_a_model_the_window_says_so_and_drawing_still_works(make_window, no_shipped_model, current_guess):
    window = make_window(model=None)
    assert window.prediction.model_label.text() == NO_MODEL
    assert "No model yet" in window.statusBar().currentMessage()
    draw_one(window.canvas)
    guess = current_guess(window)
    assert guess.label is None and guess.pixels is not None
    assert window.prediction.verdict.text() == NO_MODEL
    assert window.trainer.panel.start_button.isEnabled()
    assert not window.actions.save.isEnabled()


def test_the_shown_canvas_is_in_the_window_and_the_empty_state_is_visible(window, qtbot):
    def middle_row(shot):
        """The grey levels across the middle of the paper, its border left out."""
        square = window.canvas.square()
        y = round(square.center().y())
        return [shot.pixelColor(x, y).value() for x in range(int(square.left()) + 4, int(square.right()) - 4)]

    empty = middle_row(window.canvas.grab().toImage())
    assert min(empty) < 200  # "Draw a digit" is written in grey across the middle of the empty paper
    draw_unit_stroke(window.canvas, [(0.3, 0.1), (0.7, 0.1)])  # ink near the top only
    drawn = middle_row(window.canvas.grab().toImage())
    assert min(drawn) > 250  # the words are gone: the paper's middle is white
