"""Outlier exposure (trainer/outliers.py): the network learns to spread its belief over the ten digits
for drawings that are no digit, and stays sure of digits."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from mnist_draw.model.predict import predict
from mnist_draw.model.recipe import Recipe, preset
from mnist_draw.trainer.loop import evaluate, fit
from mnist_draw.trainer.outliers import non_digit_bank


def test_the_non_digit_bank_is_seeded_and_in_mnist_form():
    bank = non_digit_bank(60, seed=3)
    assert bank.shape == (60, 28, 28) and bank.dtype == torch.uint8
    assert torch.equal(bank, non_digit_bank(60, seed=3)) and not torch.equal(bank, non_digit_bank(60, seed=4))
    for img in bank.numpy().astype(np.float32) / 255:
        rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # the 20x20 box
        assert np.allclose(ndimage.center_of_mass(img), 14, atol=2.5)  # centred (clipped if lopsided)


def test_the_non_digits_are_made_as_every_shipped_model_trained_on_them():
    """Preprocessing has changed for the app (rounds 49, 50, 54 and 55); the non-digits a seed draws for
    training have not (TRAINING_MATERIAL), so that scripts/train-default-model still makes the shipped network."""
    import hashlib

    bank = non_digit_bank(64, seed=0).numpy()
    assert hashlib.sha256(bank.tobytes()).hexdigest() == (
        "041a5ba40ffa1606b3cf358f98fb94bf16691e6e42dd8ccccb77f0660588e4e5")  # made before round 49


def test_outlier_exposure_makes_the_network_unsure_on_non_digits_only(mnist):
    recipe = preset("seed002").replace(optimizer="adam", lr=1e-3, batch_size=128, epochs=2, outlier_bank=1500)
    plain = fit(recipe, mnist, device="cpu", seed=0, train_limit=10000)
    exposed = fit(recipe.replace(outliers=0.5), mnist, device="cpu", seed=0, train_limit=10000)
    unseen = non_digit_bank(300, seed=99).float() / 255  # other non-digits than those trained on
    top = lambda r, x: np.mean([p.confidence for p in predict(r.model, x)])
    print(f"mean top probability on unseen non-digits: {top(plain, unseen):.3f} plain, {top(exposed, unseen):.3f} exposed")
    assert top(exposed, unseen) < 0.35 and top(plain, unseen) - top(exposed, unseen) > 0.2  # towards uniform (measured 0.28, 0.61)
    digits = mnist.test_x[:2000].float() / 255
    assert top(exposed, digits) > 0.7 and top(exposed, digits) - top(exposed, unseen) > 0.4  # digits stay sure
    assert evaluate(exposed.model, mnist.test_x, mnist.test_y) > evaluate(plain.model, mnist.test_x, mnist.test_y) - 0.01


def test_recipes_check_the_outlier_fields():
    with pytest.raises(ValueError, match="outliers"):
        Recipe(outliers=-0.1)
    with pytest.raises(ValueError, match="outlier weight"):
        Recipe(outlier_weight=-1)
    assert Recipe.from_dict(preset("default").to_dict()) == preset("default")
