"""Preprocessing brings any picture of a digit into MNIST's form (28x28, 20x20 box, centre of mass)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from mnist_draw.model.predict import predict
from mnist_draw.preprocess import ImageError, ink_map, load_image, to_mnist


def test_mnist_test_digits_pass_through_almost_unchanged(mnist, small_model):
    images = mnist.test_x[:3000].numpy()
    labels = mnist.test_y[:3000]
    processed = np.stack([to_mnist(img) for img in images])
    raw = images.astype(np.float32) / 255.0
    assert np.abs(processed - raw).mean() < 0.001  # measured 0.0007 (0.0018 while thick strokes were thinned)
    model = small_model.model.cpu()
    acc_raw = np.mean([p.label for p in predict(model, raw)] == labels.numpy())
    acc_processed = np.mean([p.label for p in predict(model, processed)] == labels.numpy())
    assert acc_raw > 0.9
    assert abs(acc_raw - acc_processed) <= 0.003  # measured 0.0003 (one digit in 3,000)


def test_output_follows_the_mnist_recipe(mnist):
    big = np.kron(mnist.test_x[7].numpy(), np.ones((9, 9), np.uint8))  # a 252x252 version of an MNIST digit
    out = to_mnist(np.pad(big, ((40, 120), (200, 10))))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) == 20  # longest side fits the 20x20 box
    cy, cx = ndimage.center_of_mass(out)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5


def _draw_seven(canvas_size, box, width, dark_on_light=True):
    """A '7' with a bar drawn with Pillow in the given box (left, top, right, bottom)."""
    bg, fg = (255, 0) if dark_on_light else (0, 255)
    im = Image.new("L", (canvas_size, canvas_size), bg)
    d = ImageDraw.Draw(im)
    l, t, r, b = box
    d.line([(l, t), (r, t), ((l + r) / 2, b)], fill=fg, width=width, joint="curve")
    d.line([(l + (r - l) * 0.35, (t + b) / 2), (l + (r - l) * 0.85, (t + b) / 2)], fill=fg, width=width)
    return np.asarray(im)


def test_same_digit_at_different_sizes_and_places_gives_nearly_the_same_image():
    reference = to_mnist(_draw_seven(280, (60, 40, 220, 240), 18))
    for size, box, width in [
        (280, (10, 10, 90, 110), 9),  # small, top-left corner
        (280, (150, 120, 270, 270), 14),  # bottom-right
        (560, (100, 60, 460, 520), 36),  # twice the resolution
        (100, (20, 15, 80, 85), 7),
    ]:
        out = to_mnist(_draw_seven(size, box, width))
        assert np.abs(out - reference).mean() < 0.06, (size, box)


def test_polarity_and_transparency_are_detected():
    dark_on_light = _draw_seven(200, (40, 30, 160, 170), 12, dark_on_light=True)
    light_on_dark = _draw_seven(200, (40, 30, 160, 170), 12, dark_on_light=False)
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., 3] = 255 - dark_on_light  # black ink on a transparent background
    a, b, c = to_mnist(dark_on_light), to_mnist(light_on_dark), to_mnist(rgba)
    assert np.abs(a - b).max() < 1e-5
    assert np.abs(a - c).max() < 1e-5
    rgb = np.stack([dark_on_light] * 3, axis=-1)
    assert np.abs(to_mnist(rgb) - a).max() < 1e-5


def test_off_white_paper_is_not_ink():
    page = _draw_seven(200, (40, 30, 160, 170), 12).astype(np.float32) * 0.85 + 20  # grey-ish paper
    assert to_mnist(page.astype(np.uint8)) is not None
    assert ink_map(np.full((50, 50), 200, np.uint8)).max() == 0


@pytest.mark.parametrize("blank", [np.zeros((280, 280), np.uint8), np.full((280, 280), 255, np.uint8),
                                   np.zeros((280, 280, 4), np.uint8), np.zeros((1, 1), np.uint8)])
def test_no_ink_gives_none(blank):
    assert to_mnist(blank) is None


def test_a_single_dot_and_a_thin_one_do_not_blow_up():
    dot = np.zeros((280, 280), np.uint8)
    dot[140, 140] = 255
    out = to_mnist(dot)
    assert out is not None and np.isfinite(out).all() and out.max() == pytest.approx(1.0)
    one = np.zeros((280, 280), np.uint8)
    one[30:250, 139] = 255  # a one-pixel-wide vertical stroke: 220x1
    out = to_mnist(one)
    assert out.shape == (28, 28) and np.isfinite(out).all()
    cols = np.flatnonzero(out.any(0))
    assert len(cols) <= 2 and abs(ndimage.center_of_mass(out)[1] - 14) <= 1


def test_sixteen_bit_and_float_inputs():
    seven = _draw_seven(200, (40, 30, 160, 170), 12)
    reference = to_mnist(seven)
    assert np.abs(to_mnist(seven.astype(np.uint16) * 257) - reference).max() < 1e-4
    assert np.abs(to_mnist(seven.astype(np.float32) / 255) - reference).max() < 1e-4


def test_load_image_reads_files_and_refuses_bad_ones(tmp_path):
    seven = _draw_seven(200, (40, 30, 160, 170), 12)
    Image.fromarray(seven).save(tmp_path / "seven.png")
    Image.fromarray(seven.astype(np.uint16) * 257).save(tmp_path / "seven16.png")
    assert np.abs(to_mnist(load_image(tmp_path / "seven.png")) - to_mnist(seven)).max() < 1e-5
    assert np.abs(to_mnist(load_image(tmp_path / "seven16.png")) - to_mnist(seven)).max() < 1e-3
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "text.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="too large"):
        Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")
        load_image(tmp_path / "huge.png")


def test_arrays_of_the_wrong_shape_are_refused():
    with pytest.raises(ImageError):
        to_mnist(np.zeros((4, 4, 4, 4)))
    with pytest.raises(ImageError):
        to_mnist(np.zeros((0, 10)))


def _three(height: float, pen: float, canvas: int = 280) -> np.ndarray:
    """A round '3' whose ink (pen included) is ``height`` pixels tall, drawn with a round pen, black on white."""
    t1, t2 = np.radians(np.linspace(200, 450, 40)), np.radians(np.linspace(270, 520, 40))
    upper = np.stack([0.35 + 0.3 * np.cos(t1), 0.25 + 0.25 * np.sin(t1)], 1)
    lower = np.stack([0.35 + 0.35 * np.cos(t2), 0.74 + 0.26 * np.sin(t2)], 1)
    pts = np.concatenate([upper, lower]) * (height - pen) + (canvas - height) / 2 + pen / 2
    im = Image.new("L", (canvas, canvas), 255)
    d = ImageDraw.Draw(im)
    d.line([tuple(p) for p in pts], fill=0, width=round(pen), joint="curve")
    for x, y in (pts[0], pts[-1]):
        d.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=0)
    return np.asarray(im)


def test_a_digit_too_small_for_its_pen_is_flagged_and_never_read_as_sure():
    from mnist_draw.model.files import load_model
    from mnist_draw.preprocess import PEN_TOO_THICK, preprocess
    from mnist_draw.verdict import verdict

    default_pen = 280 / 12  # the window's default pen, a twelfth of the canvas
    shipped = load_model(Path(__file__).resolve().parent.parent / "resources" / "models" / "default.safetensors")
    small = preprocess(_three(60, default_pen))  # the case: a 3 about 60 px tall, read "8, 81% sure"
    assert small.pen_too_thick and small.stroke_width > PEN_TOO_THICK
    p = predict(shipped.model, small.pixels, shipped.temperature)[0]
    v = verdict(p.probabilities, small.pen_too_thick)
    assert (v.kind, v.sure) == ("pen too thick", False) and "too thick" in v.text
    big = preprocess(_three(180, default_pen))  # the same pen on a digit of a usual size
    assert not big.pen_too_thick and big.stroke_width < PEN_TOO_THICK
    p = predict(shipped.model, big.pixels, shipped.temperature)[0]
    assert verdict(p.probabilities, big.pen_too_thick).sure and p.label == 3
    assert np.array_equal(big.pixels, to_mnist(_three(180, default_pen)))  # to_mnist is preprocess's pixels


def test_the_fast_sums_are_the_library_functions_they_replace():
    """Preprocessing runs per frame, so it computes a gradient, a median, a quantile and a centre of mass
    itself instead of calling numpy's and scipy's general ones (a padding too): the numbers must be exactly theirs."""
    from mnist_draw.preprocess import FRAME, _centre_of_mass, _framed, _gradient, _paper, _quantile

    rng = np.random.default_rng(3)
    for shape in [(2, 2), (2, 9), (7, 3), (24, 22)]:
        a = rng.random(shape, dtype=np.float32)
        for mine, numpys in zip(_gradient(a), np.gradient(a)):
            assert mine.dtype == numpys.dtype and np.array_equal(mine, numpys)
    for side in (5, 6, 28, 281):  # odd and even border counts
        grey = rng.integers(0, 256, (side, side + 1), dtype=np.uint8)
        border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]]).astype(np.float32) / 255.0
        assert _paper(grey) == float(np.median(border))
    frame = np.zeros((FRAME, FRAME), np.float32)
    frame[5:19, 8:13] = rng.random((14, 5), dtype=np.float32)
    assert _centre_of_mass(frame) == ndimage.center_of_mass(frame)
    ink = rng.random((9, 4)) < 0.5
    for width, value in ((1, False), (3, True)):
        assert np.array_equal(_framed(ink, width, value), np.pad(ink, width, constant_values=value))
    grey = rng.random((9, 4), dtype=np.float32)
    assert _framed(grey, 1, 0).dtype == np.float32 and np.array_equal(_framed(grey, 1, 0), np.pad(grey, 1))
    for n in (1, 2, 5, 37, 400):
        values = rng.random(n, dtype=np.float32) ** 3
        for q in (0.0, 0.35, 0.8, 0.9, 1.0):
            assert _quantile(values, q) == float(np.quantile(values, q)), (n, q)


def test_an_eight_bit_canvas_reads_exactly_as_the_same_picture_in_floats():
    """8-bit pictures (the canvas) take a shortcut: a table of the ink each grey level means, applied
    to the ink's box only. It must give exactly what the general path gives for the same picture."""
    rng = np.random.default_rng(4)
    for paper, ink in [(0, 255), (255, 0), (230, 40), (30, 200)]:
        im = Image.new("L", (280, 280), paper)
        d = ImageDraw.Draw(im)
        d.line([tuple(p) for p in rng.uniform(30, 250, (5, 2))], fill=ink, width=int(rng.integers(3, 30)))
        noise = rng.integers(-3, 4, (280, 280))  # faint grey levels near the paper's, and blurred edges
        blurred = np.asarray(im.filter(ImageFilter.GaussianBlur(1.5)), np.int16)
        canvas = np.clip(blurred + noise, 0, 255).astype(np.uint8)
        fast, general = to_mnist(canvas), to_mnist(canvas.astype(np.float32) / 255.0)
        assert fast is not None and np.array_equal(fast, general)


def _box_width(image: np.ndarray, thick: float | None = None) -> float:
    """The stroke width of a drawing once preprocessing has scaled it into the 20x20 box and redrawn its pen."""
    from mnist_draw.preprocess import normalise_stroke_width, stroke_width

    ink = ink_map(image)
    crop = ink[ink.any(axis=1)][:, ink.any(axis=0)]
    return stroke_width(normalise_stroke_width(crop / crop.max(), **({} if thick is None else {"thick": thick})))


def test_strokes_thicker_than_mnists_are_left_alone_up_to_thick_and_the_thickest_thinned():
    """The network has learned thicker strokes than MNIST's own (training thickens many digits), so strokes
    up to THICK reach it as drawn: thinning them to MNIST's 98th percentile (MNIST_WIDE) made more of
    MNIST's own thick digits misread than it helped (round 49). Training material keeps MNIST_WIDE."""
    from mnist_draw.preprocess import MNIST_WIDE, PEN_TOO_THICK, THICK, preprocess

    pen = 280 / 12  # the window's default pen
    thick = _three(90, pen)  # a smallish 3: its strokes are wider than nearly all of MNIST's
    p = preprocess(thick)
    assert MNIST_WIDE + 0.2 < p.stroke_width < THICK and not p.pen_too_thick
    assert np.array_equal(p.pixels, preprocess(thick, thick=np.inf).pixels)  # only scaled, never redrawn
    material = to_mnist(thick, thick=MNIST_WIDE)  # how the non-digits and printed digits are trained
    assert _box_width(thick, thick=MNIST_WIDE) <= MNIST_WIDE + 0.1 and material.sum() < 0.9 * p.pixels.sum()

    thickest = _three(74, pen)  # wider than THICK, not yet too thick to read
    q = preprocess(thickest)
    assert THICK < q.stroke_width <= PEN_TOO_THICK and not q.pen_too_thick
    assert _box_width(thickest) <= THICK + 0.1
    assert q.pixels.sum() < 0.9 * preprocess(thickest, thick=np.inf).pixels.sum()


@pytest.mark.parametrize("pen, height", [(2, 200), (3, 200), (3, 270)])
def test_thin_strokes_are_widened_into_mnists_range_whatever_thick_is(pen, height, monkeypatch):
    """A pen widened for hair-thin strokes is accepted inside MNIST's range, not anywhere up to THICK: a
    try overshooting towards THICK would swell small loops (round 48's 6s with a big loop, read as 0).
    These drawings' tries once overshot to 4.0-6.0 pixels; since rounds 54 and 55 (the first try aimed by
    the width the redraw's copy shows, the secant kept from a flat start) two tries land them."""
    from mnist_draw import preprocess as module
    from mnist_draw.preprocess import THIN, preprocess

    mnist_98th = 3.8  # MNIST's 98th percentile of stroke width in the box (measured: 3.78)
    hair = _three(height, pen)
    assert preprocess(hair).stroke_width < THIN
    assert THIN - 0.25 <= _box_width(hair) <= mnist_98th + 0.1
    assert np.array_equal(to_mnist(hair), to_mnist(hair, thick=mnist_98th))  # exactly as before THICK was raised
    fits = []
    fit_box = module._fit_box
    monkeypatch.setattr(module, "_fit_box", lambda crop, share: fits.append(crop.shape) or fit_box(crop, share))
    to_mnist(hair)
    assert len(fits) <= 3  # the drawing as it is, then two tries: measured 3, a count, not a noisy figure (before round 55: 4-5)


def test_thin_development_drawings_are_widened_to_the_bottom_of_mnists_range():
    """Every thin drawing of the development set is redrawn with a pen near the bottom of MNIST's range,
    where the search aims. A hair-thin line's measured width hardly moves over the first pixel or two of
    a wider pen, and the secant through that flat start overshot: 33 of the development sets' thin
    drawings landed above MNIST's range (up to 6.05 px), 17 of them in this set, until the secant's slope
    was kept from falling below half the first guess's (round 54). The training material keeps the old
    search (TRAINING_MATERIAL), so that a seed still trains the shipped network."""
    from mnist_draw.preprocess import MNIST_WIDE, THIN, TRAINING_MATERIAL, preprocess, stroke_width

    files = sorted((Path(__file__).parent / "data" / "drawn").glob("[0-9]/*.png"))
    thin = [(x, p) for x, p in ((x, preprocess(x)) for x in map(load_image, files)) if p.stroke_width < THIN]
    assert len(thin) > 300  # measured 339 of 860
    landed = np.array([stroke_width(p.pixels) for _, p in thin])
    assert THIN - 0.25 <= landed.min() and landed.max() <= 2.8  # measured 1.76 and 2.45 (6.05 before)
    assert np.percentile(landed, 90) <= 2.2  # measured 2.03 (3.27 before round 54)
    as_trained = np.array([stroke_width(to_mnist(x, **TRAINING_MATERIAL)) for x, _ in thin])
    assert as_trained.max() > MNIST_WIDE + 1  # the old search, as the non-digits and printed digits are made


def test_a_blurry_picture_gets_full_ink_and_crisp_ones_are_left_as_they_are(mnist):
    """A small scan blown up has almost no full ink; preprocessing makes a share of its ink full (round 50).
    MNIST's digits nearly always have that much already and pass unchanged."""
    from _support import load_script

    from mnist_draw.preprocess import FULL_INK, FULL_INK_SHARE, INK_THRESHOLD

    def full_share(x):
        ink = x[x > INK_THRESHOLD]
        return float(np.mean(ink >= FULL_INK))

    low_res = load_script("eval-low-res")
    digits = mnist.test_x[:500].numpy()
    blurry = low_res.blown_up(low_res.low_res_scan(digits[0]), "bilinear")
    assert full_share(to_mnist(blurry, full_ink_share=0.0)) < 0.05
    assert full_share(to_mnist(blurry)) >= FULL_INK_SHARE - 0.01
    unchanged = sum(np.array_equal(to_mnist(x), to_mnist(x, full_ink_share=0.0)) for x in digits)
    assert unchanged >= 480  # measured: 489 of 500
