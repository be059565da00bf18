"""The confusion matrix and the list of misread test digits, on real MNIST with real models."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from mnist_draw.model.network import build_model
from mnist_draw.model.predict import predict
from mnist_draw.model.recipe import preset
from mnist_draw.trainer.diagnose import diagnose
from mnist_draw.trainer.loop import evaluate


def test_the_matrix_counts_every_test_digit_and_agrees_with_evaluate(mnist, small_model):
    model = small_model.model
    start = time.perf_counter()
    d = diagnose(model, mnist.test_x, mnist.test_y)
    seconds = time.perf_counter() - start

    assert d.confusion.shape == (10, 10) and d.total == 10_000
    assert d.confusion.sum(axis=1).tolist() == torch.bincount(mnist.test_y, minlength=10).tolist()
    assert np.trace(d.confusion) / 10_000 == evaluate(model, mnist.test_x, mnist.test_y) == d.accuracy
    assert len(d.wrong) == d.confusion.sum() - np.trace(d.confusion) > 0
    assert seconds < 1.0, f"{seconds:.2f} s for 10,000 digits"  # measured 0.05-0.23 s (the first call the slowest)


def test_each_mistake_is_a_misread_test_digit_with_the_models_own_guess_and_calibrated_confidence(mnist, small_model):
    model = small_model.model
    d = diagnose(model, mnist.test_x, mnist.test_y, 0.6, chunk=777)  # batches that do not divide 10,000
    assert (d.truth == mnist.test_y.numpy()[d.wrong]).all() and (d.truth != d.guess).all()
    assert np.all(np.diff(d.wrong) > 0)
    for t in range(10):
        for g in range(10):
            if t != g:
                assert len(d.mistakes_of(t, g)) == d.confusion[t, g]
    some = d.wrong[:: max(1, len(d.wrong) // 20)]
    read = predict(model, mnist.test_x[some].numpy() / 255.0, 0.6)  # as sure as the window would say
    pos = np.searchsorted(d.wrong, some)
    assert [p.label for p in read] == d.guess[pos].tolist()
    assert np.allclose([p.confidence for p in read], d.confidence[pos], atol=1e-5)
    assert (d.confidence >= 0.1).all() and (d.confidence <= 1).all()  # the top of ten probabilities


def test_a_model_that_always_says_3_fills_column_3():
    model = build_model(preset("linear"))
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].bias.zero_()
        model.layers[0].bias[3] = 1.0
    y = torch.arange(50) % 10
    d = diagnose(model, torch.zeros(50, 28, 28, dtype=torch.uint8), y, chunk=16)
    expected = np.zeros((10, 10), np.int64)
    expected[:, 3] = 5
    assert (d.confusion == expected).all() and d.accuracy == 0.1
    assert d.wrong.tolist() == [i for i in range(50) if i % 10 != 3]
    assert (d.guess == 3).all()
    assert np.allclose(d.confidence, math.e / (math.e + 9))
    assert d.mistakes_of(truth=7).tolist() == [i for i, w in enumerate(d.wrong) if w % 10 == 7]
