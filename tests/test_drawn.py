"""The shipped model reads drawn digits (tests/data/drawn, made by scripts/make-drawn-digits), not only MNIST.

The drawn set imitates canvas drawings: thin and very thick pens, tiny and canvas-filling digits, digits
in a corner, slants, shapes MNIST rarely has. These tests hold the shipped model to the accuracy the
README promises on it and on MNIST test, check by name the odd drawings users try on purpose, and check
that preprocessing brings any pen to an MNIST-like stroke width.
"""

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_draw.model.files import load_model
from mnist_draw.model.predict import predict
from mnist_draw.preprocess import THICK, THIN, load_image, stroke_width, to_mnist
from mnist_draw.trainer.loop import evaluate

ROOT = Path(__file__).resolve().parent.parent
DRAWN = ROOT / "tests" / "data" / "drawn"
SHIPPED = ROOT / "resources" / "models" / "default.safetensors"


def _script(name: str):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(ROOT / "scripts" / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED).model.eval()


@pytest.fixture(scope="module")
def drawn_result(shipped):
    return _script("eval-drawn").evaluate_drawn(shipped, DRAWN)


def _label(model, path: Path) -> int:
    return predict(model, to_mnist(load_image(path))[None])[0].label


def test_the_drawn_set_is_there_in_full():
    files = sorted(DRAWN.glob("[0-9]/*.png"))
    assert len(files) == 860
    for digit in range(10):
        names = [f.name for f in (DRAWN / str(digit)).glob("*.png")]
        assert {n.split("-")[0] for n in names} == {"stroke", "template", "font", "odd"}, digit
    sizes = {Image.open(f).size for f in files[::40]}
    assert sizes == {(280, 280)}
    modes = {Image.open(f).mode for f in files}
    assert modes == {"L", "LA"}  # grey canvases of both polarities, and transparent ones


def test_shipped_model_reads_drawn_digits(drawn_result):
    # every source on its own stays well above what MNIST alone gives
    assert drawn_result.accuracy >= 0.97, _script("eval-drawn").report(drawn_result, None, errors=True)
    sources = np.array(drawn_result.sources())
    for source in ("stroke", "template", "font", "odd"):
        hits = drawn_result.labels[sources == source] == drawn_result.predicted[sources == source]
        assert hits.mean() >= 0.95, source


def test_shipped_model_reaches_the_issue_target_on_drawn_digits(drawn_result):
    # 98.60% today (12 of 860 missed, see the README)
    assert drawn_result.accuracy >= 0.985, _script("eval-drawn").report(drawn_result, None, errors=True)


def test_shipped_model_keeps_its_mnist_test_accuracy(shipped, mnist):
    assert evaluate(shipped, mnist.test_x, mnist.test_y) >= 0.992


@pytest.mark.parametrize("pattern", [
    "*/odd-tiny-tl-*.png",  # a tiny digit (26 px of 280) in the top-left corner, 3 px pen
    "*/odd-huge-thick-*.png",  # the whole canvas with a 40 px pen
    "7/*-bar.png",  # 7 with a bar, incl. slanted 20° to the right
    "1/*flag-base*.png",  # 1 with a serif (flag) and a base
])
def test_odd_drawings_get_the_right_label(shipped, pattern):
    files = sorted(DRAWN.glob(pattern))
    assert len(files) >= 3
    wrong = [f"{f.parent.name}/{f.name} read as {_label(shipped, f)}" for f in files
             if _label(shipped, f) != int(f.parent.name)]
    assert not wrong


def _seven(size: int, box: tuple[int, int, int, int], pen: int) -> np.ndarray:
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    l, t, r, b = box
    d.line([(l, t), (r, t), ((l + r) / 2, b)], fill=0, width=pen, joint="curve")
    return np.asarray(im)


@pytest.mark.parametrize("pen", [2, 3, 40, 60])
def test_any_pen_comes_out_with_an_mnist_stroke_width(pen):
    out = to_mnist(_seven(560, (60, 40, 500, 520), pen))  # hair-thin to a very thick marker
    assert THIN - 0.25 <= stroke_width(out) <= THICK + 0.25
    assert out.max() == pytest.approx(1.0)


def test_mnist_like_strokes_are_left_alone(mnist):
    from mnist_draw.preprocess import normalise_stroke_width

    changed = []
    for img in mnist.test_x[:500].numpy():
        crop = img[img.any(1)][:, img.any(0)].astype(np.float32) / 255
        crop = crop / crop.max()
        plain = normalise_stroke_width(crop, 0.0, np.inf)  # only scaled into the box
        fixed = normalise_stroke_width(crop)
        if not np.array_equal(plain, fixed):
            changed.append(stroke_width(plain))
            assert not THIN <= changed[-1] <= THICK  # only digits with an unusual pen are redrawn
            assert THIN - 0.25 <= stroke_width(fixed) <= THICK + 0.25
    assert len(changed) <= 30  # MNIST's own digits are nearly all left alone (6% at most)
