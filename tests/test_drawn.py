"""The shipped model reads drawn digits, and knows when a drawing is no digit: every figure the README reports.

Six sets of drawings (tests/data): the development drawn digits (``drawn``, everything is chosen on
it; ``drawn-plotter``, digits of pen-plotter fonts, the second development set; ``drawn-fonts``,
typefaces' digits drawn along their skeleton, the third), the held-out
drawn digits (``drawn-held-out``, made another way and only reported), and the
development and held-out non-digits (``non-digits/dev``, ``non-digits/held-out``). Each goes through
what the app does with a canvas: preprocessing, the network, the model's temperature and the one
"sure" rule (mnist_draw.verdict). The thresholds sit below the measured figures (in the comments) by a
margin of a few drawings; the issue's targets are the floors of the held-out ones.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from mnist_draw.model.files import load_model
from mnist_draw.model.predict import predict
from mnist_draw.preprocess import MNIST_WIDE, THICK, THIN, load_image, stroke_width, to_mnist
from mnist_draw.trainer.loop import evaluate

from _support import load_script, with_its_reader_gone

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DRAWN = DATA / "drawn"
SHIPPED = ROOT / "resources" / "models" / "default.safetensors"


EVAL = load_script("eval-drawn")

# The shipped model's figures (scripts/eval-drawn), and what the tests hold: a few drawings below.
DEV_ACCURACY = 0.98  # measured 98.95% (9 of 860 missed)
PLOTTER_ACCURACY = 0.97  # measured 98.75% (6 of 480 missed: 9s read as 8 mostly)
FONTS_ACCURACY = 0.985  # measured 99.58% (2 of 480 missed)
HELD_OUT_ACCURACY = 0.98  # the target; measured 98.88% (9 of 800 missed)
SURE_WHEN_RIGHT = 0.97  # the target; measured 99.18% (development) and 99.24% (held out), sure at 80%
CALIBRATION_ERROR = 0.03  # the target; measured 1.00% (development) and 0.43% (held out)
NON_DIGITS_DEV_REFUSED = 0.95  # measured 97.33% of 300
NON_DIGITS_HELD_OUT_REFUSED = 0.90  # the target; measured 91.67% of 300 (5 drawings above it)
MNIST_TEST_ACCURACY = 0.991  # measured 99.22%; the target, 99.3%, is not reached


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED)


@pytest.fixture(scope="module")
def results(shipped):
    """The shipped model's answers on the six sets, by name."""
    sets = {"dev": DRAWN, "plotter": DATA / "drawn-plotter", "fonts": DATA / "drawn-fonts",
            "held-out": DATA / "drawn-held-out",
            "non-digits dev": DATA / "non-digits" / "dev",
            "non-digits held-out": DATA / "non-digits" / "held-out"}
    return {name: EVAL.evaluate_drawn(shipped.model, folder, shipped.temperature) for name, folder in sets.items()}


def _label(model, path: Path) -> int:
    return predict(model, to_mnist(load_image(path))[None])[0].label


def test_the_sets_are_there_in_full():
    for folder, count, sources in ((DRAWN, 860, {"stroke", "template", "font", "odd"}),
                                   (DATA / "drawn-held-out", 800, {"traced", "typed"})):
        files = sorted(folder.glob("[0-9]/*.png"))
        assert len(files) == count
        for digit in range(10):
            assert {f.name.split("-")[0] for f in (folder / str(digit)).glob("*.png")} == sources, (folder, digit)
        assert {Image.open(f).size for f in files[::40]} == {(280, 280)}
    assert {Image.open(f).mode for f in DRAWN.glob("[0-9]/*.png")} == {"L", "LA"}  # both polarities, transparent
    plotter = load_script("make-plotter-digits")
    expected = sorted(f"{d}-{i:02d}.png" for d in plotter.DESIGNS for i in range(plotter.PER_DESIGN))
    assert len(expected) == 48
    for digit in range(10):  # every plotter design draws every digit, as often as the script says
        assert sorted(f.name for f in (DATA / "drawn-plotter" / str(digit)).glob("*.png")) == expected, digit
    fonts = load_script("make-font-digits")
    expected = sorted(f"{name}-{i:02d}.png" for _, name in fonts.TYPEFACES for i in range(fonts.PER_TYPEFACE))
    assert len(expected) == 48
    for digit in range(10):  # every typeface draws every digit, as often as the script says
        assert sorted(f.name for f in (DATA / "drawn-fonts" / str(digit)).glob("*.png")) == expected, digit
    assert len(list((DATA / "non-digits" / "dev").glob("*.png"))) == 300
    assert len(list((DATA / "non-digits" / "held-out").glob("*.png"))) == 300


def test_shipped_model_reads_the_development_drawn_digits(results):
    r = results["dev"]
    assert r.accuracy >= DEV_ACCURACY, "\n".join(EVAL.breakdown(r, errors=True))
    sources = np.array(r.sources())
    for source in ("stroke", "template", "font", "odd"):
        assert r.correct[sources == source].mean() >= 0.95, source


def test_shipped_model_reads_the_plotter_digits(results):
    """Digits of pen-plotter fonts: the development set where models still differ. Its 6s and 9s with curled
    ends were read badly until the recipe trained on printed digits too (6s: 58% before, 98% after)."""
    r = results["plotter"]
    assert r.accuracy >= PLOTTER_ACCURACY, "\n".join(EVAL.breakdown(r, errors=True))
    for digit in (0, 5, 7, 8):  # the shapes it reads without a miss (48 of 48): at most two may go
        assert r.correct[r.labels == digit].sum() >= 46, digit
    assert r.correct[r.labels == 6].sum() >= 44  # 47 of 48 (28 without the printed digits)


def test_shipped_model_reads_the_font_digits(results):
    r = results["fonts"]
    assert r.accuracy >= FONTS_ACCURACY, "\n".join(EVAL.breakdown(r, errors=True))


def test_shipped_model_reads_the_held_out_drawn_digits(results):
    r = results["held-out"]
    assert r.accuracy >= HELD_OUT_ACCURACY, "\n".join(EVAL.breakdown(r, errors=True))


def test_it_is_sure_of_the_digits_it_reads_right_and_its_confidence_is_calibrated(results):
    for name in ("dev", "held-out"):
        assert results[name].sure_when_right >= SURE_WHEN_RIGHT, name
        assert results[name].calibration_error <= CALIBRATION_ERROR, name
        assert not results[name].pen_too_thick.any(), name  # the pen check never fires on ordinary drawings


def test_non_digits_are_answered_not_sure_or_not_a_digit(results):
    assert results["non-digits dev"].refused >= NON_DIGITS_DEV_REFUSED, "\n".join(
        EVAL.breakdown(results["non-digits dev"], errors=True))
    assert results["non-digits held-out"].refused >= NON_DIGITS_HELD_OUT_REFUSED, "\n".join(
        EVAL.breakdown(results["non-digits held-out"], errors=True))


def test_the_sure_threshold_is_the_one_the_rule_picks_for_the_shipped_model(results):
    """SURE_AT is not a free number: it is what the rule, on the development sets only, picks for the
    shipped model. A new model has to have its threshold picked again (scripts/eval-drawn --thresholds)."""
    from mnist_draw.verdict import SURE_AT

    table = EVAL.threshold_table(results["dev"], results["non-digits dev"])
    assert table[-1].endswith(f"picks {SURE_AT:.0%}"), "\n".join(table)
    assert results["dev"].sure_when_right >= EVAL.SURE_WHEN_RIGHT_FLOOR


def test_shipped_model_keeps_its_mnist_test_accuracy(shipped, mnist):
    assert evaluate(shipped.model, mnist.test_x, mnist.test_y) >= MNIST_TEST_ACCURACY


def test_the_app_reads_mnist_digits_as_well_as_the_network_reads_them_as_given(shipped, mnist):
    """MNIST's test digits put through preprocessing, as the window brings a drawing to the network, are read
    as well as the same digits as MNIST gives them (measured: 99.22% both; 98.93% while strokes
    wider than MNIST's 98th percentile were thinned, before round 49)."""
    images = mnist.test_x.numpy()
    processed = torch.from_numpy(np.stack([to_mnist(img) for img in images]))
    assert evaluate(shipped.model, processed, mnist.test_y) >= evaluate(shipped.model, mnist.test_x, mnist.test_y) - 0.001


@pytest.mark.parametrize("pattern", [
    "*/odd-tiny-tl-*.png",  # a tiny digit (26 px of 280) in the top-left corner, 3 px pen
    "*/odd-huge-thick-*.png",  # the whole canvas with a 40 px pen
    "7/*-bar.png",  # 7 with a bar, incl. slanted 20° to the right
    "1/*flag-base*.png",  # 1 with a serif (flag) and a base
])
def test_odd_drawings_get_the_right_label(shipped, pattern):
    files = sorted(DRAWN.glob(pattern))
    assert len(files) >= 3
    wrong = [f"{f.parent.name}/{f.name} read as {_label(shipped.model, f)}" for f in files
             if _label(shipped.model, f) != int(f.parent.name)]
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
    assert THIN - 0.25 <= stroke_width(out) <= MNIST_WIDE + 0.25
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
            assert THIN - 0.25 <= stroke_width(fixed) <= (MNIST_WIDE if changed[-1] < THIN else THICK) + 0.25
    assert len(changed) <= 20  # MNIST's own digits are nearly all left alone (measured: 12 of 500, all thin)


def test_choosing_looks_at_the_development_sets_only(capsys):
    """eval-drawn --thresholds (what the threshold is picked with) prints no held-out set and no MNIST test."""
    assert EVAL.main(["--thresholds"]) == 0
    out = capsys.readouterr().out
    assert "drawn digits (development)" in out and "non-digits (development)" in out
    assert "plotter digits (development)   480  accuracy" in out
    assert "font digits (development)      480  accuracy" in out
    assert "held out" not in out and "MNIST test" not in out
    from mnist_draw.verdict import SURE_AT

    assert out.rstrip().endswith(f"picks {SURE_AT:.0%}")


def test_eval_drawn_scores_a_folder_of_drawings_from_elsewhere(tmp_path, capsys):
    """--set FOLDER: drawings collected elsewhere (a folder per digit), scored as the app reads them;
    a folder with nothing to read, or a blank picture, is said in one line."""
    import shutil

    sevens = sorted((DRAWN / "7").glob("*.png"))[:3]
    for folder in ("7", "1"):
        (tmp_path / "mine" / folder).mkdir(parents=True)
    for f in sevens:
        shutil.copy(f, tmp_path / "mine" / "7" / f.name)
    shutil.copy(sevens[0], tmp_path / "mine" / "1" / "as-a-1.png")  # a 7 labelled wrong
    assert EVAL.main(["--set", str(tmp_path / "mine"), "--errors"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'mine'}" in out and "    4  accuracy  75.00%" in out
    assert "miss: 1/as-a-1.png read as 7" in out and "per digit: 1: 0%  7: 100%" in out
    assert "held out" not in out and "MNIST test" not in out

    assert EVAL.main(["--set", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.strip() == (f"eval-drawn: error: {tmp_path / 'nothing'}: no drawings (expected PNG "
                                               f"files in {tmp_path / 'nothing'}/<digit>/, or in {tmp_path / 'nothing'} "
                                               f"for non-digits)")
    (tmp_path / "blank").mkdir()
    Image.new("L", (64, 64), 255).save(tmp_path / "blank" / "paper.png")
    assert EVAL.main(["--set", str(tmp_path / "blank")]) == 2
    assert capsys.readouterr().err.strip().endswith("paper.png: no ink (a blank picture)")


LOW_RES = load_script("eval-low-res")


def test_the_shipped_model_is_sure_of_the_blurry_scans_it_reads_right(shipped, mnist):
    """MNIST test digits scanned at 8x8 and blown up (scripts/eval-low-res), read through the app. Measured on
    these 2,000 (the first of MNIST test, harder than the rest): bilinear 97.65% read right, 96.57% of those
    answered sure, ECE 1.42%; nearest 98.05%, 96.84%, 1.55%. Before the ink was made full (round 50) the
    bilinear ones read 93.29% sure when right and 4.38% ECE."""
    digits, labels = mnist.test_x[:2000].numpy(), mnist.test_y[:2000].numpy()
    for resampling in ("bilinear", "nearest"):
        r = LOW_RES.read_low_res(shipped.model.eval(), shipped.temperature, digits, labels, resampling)
        assert r.accuracy >= 0.97, resampling
        assert r.sure_when_right >= 0.95 and r.calibration_error <= 0.03, resampling


def test_eval_low_res_reads_a_folds_validation_digits_and_says_bad_input_in_one_line(small_model_file, capsys):
    import json

    scan = LOW_RES.low_res_scan(np.pad(np.full((20, 6), 255, np.uint8), 4))  # a bar: a "1"
    assert scan.shape == (8, 8) and scan.max() == 16 and scan.min() == 0  # optdigits' 17 levels, 0 to 16
    assert LOW_RES.blown_up(scan, "nearest").shape == (256, 256)
    assert LOW_RES.main([str(small_model_file), "--fold", "1", "--limit", "40", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert (figures["digits"], figures["count"]) == ("validation, fold 1", 40)
    assert all(0.5 < figures[r]["accuracy"] <= 1 and 0 <= figures[r]["calibration_error"] < 1 for r in ("bilinear", "nearest"))
    assert LOW_RES.main([str(small_model_file), "--test", "--limit", "10"]) == 0
    assert "10 digits (MNIST test) scanned at 8x8" in capsys.readouterr().out
    assert LOW_RES.main([str(small_model_file), "--limit", "0"]) == 2
    assert capsys.readouterr().err.strip() == "eval-low-res: error: --limit takes a number of digits of 1 or more; got 0"
    assert LOW_RES.main([str(small_model_file), "--fold", "12"]) == 2
    assert capsys.readouterr().err.strip().startswith("eval-low-res: error: --fold takes 0 to 11")


def test_eval_drawn_says_in_one_line_what_it_cannot_read_before_scoring_anything(tmp_path, capsys):
    """A model file that is not there, or no MNIST where --data points: one line and status 2, before a
    minute of scoring sets (MNIST test is scored last, so it is looked for first)."""
    assert EVAL.main([str(tmp_path / "none.safetensors"), "--no-mnist"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"eval-drawn: error: {tmp_path / 'none.safetensors'}: no such model file\n"

    assert EVAL.main(["--data", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"eval-drawn: error: MNIST not found in {tmp_path}") and "--no-mnist" in err


def test_a_set_read_all_wrong_says_there_is_nothing_to_be_sure_of(recwarn):
    """`eval-drawn --set` with drawings the model reads none of right printed "nan%" and numpy's warnings."""
    wrong = EVAL.DrawnResult([Path("stroke-1.png")], np.array([7]), np.eye(10)[[1]], np.array([False]))
    line = EVAL.digits_line("mine", wrong)
    assert "accuracy   0.00%  sure when right       —  ECE" in line and "nan" not in line
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_eval_drawn_stops_quietly_when_its_reader_goes_away():
    """`scripts/eval-drawn | head -3` (the README suggests reading it so): no traceback, status 141, as the app's
    own commands end then."""
    proc = with_its_reader_gone(str(ROOT / "scripts" / "eval-drawn"), "--no-mnist", "--development")
    assert (proc.returncode, proc.stderr) == (141, "")


def test_a_recipe_change_is_tried_on_the_validation_split_and_the_development_sets(mnist, tmp_path, capsys):
    """scripts/try-recipe trains on MNIST train without its last 5,000 digits, scores those (validation) and
    the development sets, and keeps the temperature it fitted: never MNIST test, never a held-out set."""
    import json

    try_recipe = load_script("try-recipe")
    out = tmp_path / "tried.safetensors"
    assert try_recipe.main(["--preset", "seed002", "--set", "epochs=1", "--set", "hidden=32", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(printed.strip().splitlines()[-1])
    assert "held" not in printed and "MNIST test" not in printed
    tried = load_model(out)
    assert tried.recipe.hidden == (32,) and tried.recipe.epochs == 1 and tried.metadata["epochs_trained"] == 1
    validation = mnist.train_x[-try_recipe.VALIDATION:], mnist.train_y[-try_recipe.VALIDATION:]
    assert figures["validation"] == round(evaluate(tried.model, *validation), 4)
    assert figures["validation"] > 0.9 and 0.5 < figures["development_drawn"] < 1
    assert 0.3 < figures["development_plotter"] < 1 and "plotter digits:" in printed
    assert 0.3 < figures["development_fonts"] < 1 and "font digits:" in printed
    # the temperature fitted on the development drawn digits is stored (fitted: it may come out 1.0, the grid
    # holds it, as it did for this little network on one machine)
    assert tried.temperature == figures["temperature"]
    assert tried.metadata["temperature_fitted_on"] == f"drawn ({len(list(DRAWN.glob('[0-9]/*.png')))} drawings)"
    assert try_recipe.main(["--set", "colour=red"]) == 2
    assert capsys.readouterr().err.startswith("try-recipe: error: --set takes FIELD=VALUE")

    # --fold 2 holds out the third 5,000 from the end (train[45000:50000]) and trains on the other 55,000
    split = try_recipe.split_off(mnist, 2)
    assert torch.equal(split.test_x, mnist.train_x[45000:50000]) and len(split.train_y) == 55000
    assert torch.equal(split.train_x[45000:], mnist.train_x[50000:]) and torch.equal(split.train_y[:45000],
                                                                                     mnist.train_y[:45000])
    assert try_recipe.main(["--preset", "seed002", "--set", "epochs=1", "--set", "hidden=32", "--fold", "2",
                            "--out", str(out)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["fold"] == 2 and figures["validation"] == round(evaluate(load_model(out).model, split.test_x,
                                                                            split.test_y), 4)
    assert try_recipe.main(["--fold", "12"]) == 2
    assert capsys.readouterr().err.strip() == ("try-recipe: error: --fold takes 0 to 11 (which 5,000 training digits "
                                               "to hold out); got 12")


def test_try_recipe_changes_an_augmentation_constant_for_its_run_only(mnist, tmp_path, capsys):
    """--augment-set changes a field of the recipe's augmentation level for the run it makes (shrinking every
    training digit to a dot leaves the network guessing), records it, and leaves the level as it was."""
    import json

    from mnist_draw.trainer.augment import LEVELS

    try_recipe = load_script("try-recipe")
    light = LEVELS["light"]
    out = tmp_path / "dots.safetensors"
    quick = ["--preset", "seed002", "--set", "epochs=1", "--set", "hidden=32", "--set", "augment=light"]
    assert try_recipe.main([*quick, "--augment-set", "scale=[0.05, 0.05]", "--out", str(out)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["validation"] < 0.5 and figures["changes"][-1] == "augment: scale=[0.05, 0.05]"
    assert load_model(out).metadata["augment_changes"] == {"scale": [0.05, 0.05]}
    assert LEVELS["light"] is light
    for bad, error in ((["--augment-set", "colour=1"], "--augment-set takes FIELD=VALUE with a field of the "
                                                          "augmentation (rotate_deg, "),
                       (["--augment-set", "scale=0.9"], "--augment-set scale takes a list of 2 numbers of 0 or more "
                                                          "(got '0.9')"),
                       (["--augment-set", "scale=[true, 1]"], "--augment-set scale takes a list of 2 numbers"),
                       (["--augment-set", "rotate_deg=-5"], "--augment-set rotate_deg takes a number of 0 or more"),
                       (["--preset", "seed002", "--augment-set", "rotate_deg=5"],
                        "--augment-set changes the recipe's augmentation, and this recipe has none (augment=none)")):
        assert try_recipe.main(bad) == 2
        assert capsys.readouterr().err.startswith(f"try-recipe: error: {error}")


def test_a_set_script_makes_the_repo_set_again_or_a_fresh_sample_with_another_seed(tmp_path, capsys):
    """The sets are seeded: the default seed makes the committed drawings again (the same pixels), and
    ``--seed`` draws a fresh sample of the same kind, for checking that a difference between two models
    is more than which drawings a set happens to hold (docs/recognition.md, the eighth session)."""
    make = load_script("make-non-digits")
    committed = DATA / "non-digits" / "dev"
    assert make.main(["--out", str(tmp_path / "again")]) == 0
    assert make.main(["--out", str(tmp_path / "fresh"), "--seed", "7"]) == 0
    assert "wrote 300 non-digits" in capsys.readouterr().out
    names = sorted(f.name for f in committed.glob("*.png"))
    assert sorted(f.name for f in (tmp_path / "again").glob("*.png")) == names

    def pixels(path: Path) -> np.ndarray:
        return np.asarray(Image.open(path))

    for name in names[::25]:
        assert np.array_equal(pixels(tmp_path / "again" / name), pixels(committed / name)), name
    fresh = sorted((tmp_path / "fresh").glob("*.png"))
    assert len(fresh) == 300
    namesakes = [f for f in fresh if (committed / f.name).exists()]  # e.g. the same letter at the same place
    assert len(namesakes) >= 100
    assert not any(np.array_equal(pixels(f), pixels(committed / f.name)) for f in namesakes)


def test_a_set_script_refuses_a_folder_holding_other_files(tmp_path, capsys):
    """``--out`` may name any folder: outside the repo's own sets only a new or empty one is taken, and
    anything else is refused in one line before anything is removed."""
    make = load_script("make-non-digits")
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.png").write_bytes(b"a png of mine")
    with pytest.raises(SystemExit) as refused:
        make.main(["--out", str(mine)])
    assert str(refused.value).startswith(f"make-non-digits: error: {mine} is not empty; name a new or empty folder")
    assert [f.name for f in mine.iterdir()] == ["holiday.png"]
    assert (mine / "holiday.png").read_bytes() == b"a png of mine"
    (tmp_path / "empty").mkdir()
    assert make.main(["--out", str(tmp_path / "empty")]) == 0
    assert len(list((tmp_path / "empty").glob("*.png"))) == 300
    with pytest.raises(SystemExit, match="is not empty"):  # not even its own drawings, outside tests/data
        make.main(["--out", str(tmp_path / "empty")])
    capsys.readouterr()
