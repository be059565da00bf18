"""Live classification of what is drawn: traced MNIST digits are read right; doubt is shown as doubt."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_draw.gui.selftest.mouse import trace_digit


@pytest.fixture(scope="module")
def confident_digits(mnist, trained_model):
    """For each class, the first MNIST test digit the model reads right with at least 99% confidence."""
    from mnist_draw.model.files import load_model
    from mnist_draw.model.predict import predict

    model = load_model(trained_model).model
    chosen = {}
    for index in range(2000):
        label = int(mnist.test_y[index])
        if label in chosen:
            continue
        pixels = mnist.test_x[index].numpy() / 255.0
        guess = predict(model, pixels)[0]
        if guess.label == label and guess.confidence >= 0.99:
            chosen[label] = pixels
        if len(chosen) == 10:
            break
    assert len(chosen) == 10
    return chosen


def test_strokes_tracing_mnist_digits_of_every_class_are_read_right(window, confident_digits, current_guess):
    canvas = window.canvas
    canvas.pen_width = 1 / 28  # one MNIST pixel
    read = {}
    for label, pixels in confident_digits.items():
        canvas.clear()
        trace_digit(canvas, pixels)
        read[label] = current_guess(window).label
    right = [label for label, guess in read.items() if guess == label]
    assert len(right) >= 9, f"read {read}"  # chance would be 1 in 10


def test_a_low_confidence_is_shown_as_not_sure(qtbot):
    from mnist_draw.gui.state.live import Guess
    from mnist_draw.gui.views.prediction import PredictionView

    view = PredictionView()
    qtbot.addWidget(view)
    pixels = np.zeros((28, 28), np.float32)
    doubtful = (0.02, 0.02, 0.02, 0.02, 0.41, 0.02, 0.02, 0.02, 0.02, 0.43)
    view.show_guess(Guess(pixels, 9, 0.43, doubtful))
    assert view.verdict.text() == "not sure: 9 (43%) or 4 (41%)"
    assert view.digit.text() == "9?"
    sure = (0.0, 0.0, 0.0, 0.97, 0.0, 0.0, 0.0, 0.0, 0.03, 0.0)
    view.show_guess(Guess(pixels, 3, 0.97, sure))
    assert view.verdict.text() == "97% sure" and view.digit.text() == "3"
    assert view.bars.probabilities == sure
