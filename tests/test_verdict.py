"""The one "sure" rule (mnist_draw.verdict) and the temperature that calibrates the probabilities it reads."""

import math
import os

import pytest
import torch

from mnist_draw.model.predict import predict, probabilities, temperature_of
from mnist_draw.trainer.calibrate import expected_calibration_error, fit_temperature
from mnist_draw.verdict import KINDS, PEN_TOO_THICK_TEXT, SURE_AT, verdict


def _probs(**given: float) -> list[float]:
    """Ten probabilities: the given digits (d3=0.7 ...) and the rest shared evenly."""
    p = [0.0] * 10
    for key, value in given.items():
        p[int(key[1:])] = value
    rest = (1 - sum(p)) / (10 - len(given))
    return [v if v else rest for v in p]


def test_a_clear_digit_is_sure():
    v = verdict(_probs(d3=0.97))
    assert (v.kind, v.label, v.sure, v.names_a_digit) == ("digit", 3, True, True)
    assert v.confidence == pytest.approx(0.97) and v.text == "3, 97% sure"


def test_two_close_digits_are_not_sure_and_named():
    v = verdict(_probs(d9=SURE_AT - 0.1, d4=0.15))
    assert (v.kind, v.label, v.runner_up, v.sure, v.names_a_digit) == ("not sure", 9, 4, False, True)
    assert v.text == f"not sure: 9 ({SURE_AT - 0.1:.0%}) or 4 (15%)"


def test_probability_spread_over_many_digits_is_not_a_digit():
    v = verdict([0.1] * 10)
    assert (v.kind, v.sure, v.text, v.names_a_digit) == ("not a digit", False, "not a digit", False)


def test_the_threshold_is_the_boundary():
    assert verdict(_probs(d1=SURE_AT)).sure
    assert not verdict(_probs(d1=SURE_AT - 1e-6)).sure


def test_another_threshold_can_be_weighed_without_changing_the_apps():
    p = _probs(d1=SURE_AT - 0.05, d7=0.2)
    assert verdict(p, sure_at=SURE_AT - 0.1).sure and not verdict(p).sure
    assert verdict([0.3, 0.3] + [0.05] * 8, sure_at=0.55).kind == "not sure"
    assert verdict([0.3, 0.3] + [0.05] * 8, sure_at=0.65).kind == "not a digit"


def test_a_pen_too_thick_is_never_sure_even_when_the_network_is():
    v = verdict(_probs(d8=0.99), pen_too_thick=True)
    assert (v.kind, v.sure, v.text, v.names_a_digit) == ("pen too thick", False, PEN_TOO_THICK_TEXT, False)
    assert v.label == 8  # still shown as a hint
    assert {verdict(p, t).kind for p, t in [(_probs(d1=0.9), False), (_probs(d1=SURE_AT - 0.25, d2=0.3), False),
                                            ([0.1] * 10, False), ([0.1] * 10, True)]} == set(KINDS)


@pytest.mark.parametrize("bad", [[math.nan] * 10, [math.inf] + [0.0] * 9, [0.5, 0.5]])
def test_anything_but_ten_finite_probabilities_is_refused(bad):
    with pytest.raises(ValueError, match="ten finite probabilities"):
        verdict(bad)


def test_temperature_comes_from_the_model_description_and_never_changes_the_guess(small_model):
    assert temperature_of({"temperature": 2.5}) == 2.5
    for bad in (None, {}, {"temperature": -1}, {"temperature": "hot"}, {"temperature": math.nan}, {"temperature": True}):
        assert temperature_of(bad) == 1.0
    logits = torch.tensor([[2.0, 1.0] + [0.0] * 8])
    assert torch.allclose(probabilities(logits, 2.0), torch.softmax(logits / 2.0, dim=1))
    x = torch.rand(5, 28, 28)
    plain, soft = predict(small_model.model, x), predict(small_model.model, x, temperature=3.0)
    assert [p.label for p in plain] == [p.label for p in soft]
    assert all(s.confidence < p.confidence for p, s in zip(plain, soft))


def test_calibration_error_and_the_fitted_temperature():
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(20000, 10, generator=g) * 2
    labels = torch.multinomial(torch.softmax(true_logits, 1), 1, generator=g).squeeze(1)
    calibrated = torch.softmax(true_logits, 1)
    assert expected_calibration_error(calibrated, labels) < 0.015  # labels drawn from these very probabilities (measured 0.009)
    overconfident = true_logits * 2
    assert expected_calibration_error(torch.softmax(overconfident, 1), labels) > 0.05  # measured 0.21
    t = fit_temperature(overconfident, labels)
    assert t == pytest.approx(2.0, abs=0.15)  # dividing by it undoes the sharpening
    assert expected_calibration_error(torch.softmax(overconfident / t, 1), labels) < 0.015


def test_the_verdict_needs_neither_qt_nor_torch():
    import subprocess
    import sys

    code = "import sys, mnist_draw.verdict; print(sorted(m for m in ('torch', 'PySide6', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # the window's classifier thread and the command line can both call it


def test_calibrating_a_model_file_stores_the_fitted_temperature(small_model_file, tmp_path, capsys):
    import shutil
    from pathlib import Path

    from mnist_draw.model.files import load_model
    from mnist_draw.trainer.calibrate import main

    path = tmp_path / "m.safetensors"
    shutil.copy(small_model_file, path)
    assert load_model(path).temperature == 1.0
    drawn = Path(__file__).resolve().parent / "data" / "drawn"
    assert main([str(path), "--drawn", str(drawn)]) == 0
    loaded = load_model(path)
    assert loaded.temperature != 1.0 and 0.5 <= loaded.temperature <= 3.0
    assert loaded.metadata["temperature_fitted_on"] == "drawn (860 drawings)"
    assert loaded.test_accuracy == load_model(small_model_file).test_accuracy  # the rest of the description is kept
    capsys.readouterr()
    few = tmp_path / "few" / "3"
    few.mkdir(parents=True)
    shutil.copy(sorted((drawn / "3").glob("*.png"))[0], few)
    assert main([str(path), "--drawn", str(few.parent)]) == 2  # one drawing cannot say how sure to be
    with pytest.raises(SystemExit) as exited:
        main([str(path), "--drawn"])
    assert exited.value.code == 2
    assert main([str(path), "--drawn", str(drawn / "3" / "x")]) == 2  # no drawings there
    os.chmod(path, 0o444)  # a read-only model file is left as it is
    assert main([str(path), "--drawn", str(drawn)]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 4 and all(line.startswith("calibrate: error: ") for line in lines), err
    assert "too few to fit a temperature" in lines[0] and "expected one argument" in lines[1]
    assert f"could not write the temperature into {path} (the file is read-only" in lines[3]
    assert load_model(path).temperature == loaded.temperature
