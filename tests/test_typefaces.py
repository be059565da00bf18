"""The typeface digits the default recipe trains on beside MNIST (trainer/typefaces.py, resources/training/)."""


import numpy as np
import pytest
import torch
from scipy import ndimage

from mnist_draw.model.predict import predict
from mnist_draw.model.recipe import Recipe, preset
from mnist_draw.trainer.loop import TrainingRun, fit
from mnist_draw.trainer.typefaces import BANK, TypefaceBankError, load_bank, typeface_count, with_typefaces
from mnist_draw.paths import resource_path

from _support import load_script


def test_the_bank_holds_every_digit_of_each_typeface_in_mnist_form():
    images, labels = load_bank()
    assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28) and len(images) >= 300
    assert np.bincount(labels.numpy(), minlength=10).tolist() == [len(labels) // 10] * 10
    assert len({img.numpy().tobytes() for img in images}) == len(images)  # no typeface twice
    for img in images.numpy().astype(np.float32) / 255:
        rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21  # the 20x20 box
        assert np.allclose(ndimage.center_of_mass(img), 14, atol=2.5)  # centred as MNIST's digits
    names = set(np.load(resource_path(*BANK))["typefaces"].tolist())
    assert len(names) == len(images) // 10


def test_no_typeface_of_a_drawn_set_is_trained_on():
    bank = load_script("make-typeface-bank")
    trained = {path.name for path, _ in bank.TYPEFACES}
    used = {path.rsplit("/", 1)[-1] for path, _ in load_script("make-font-digits").TYPEFACES}
    used |= {path.rsplit("/", 1)[-1] for path, _ in load_script("make-held-out-drawings").FONTS}
    used |= set(load_script("make-drawn-digits").FONTS)
    assert trained and not trained & used
    committed = set(np.load(resource_path(*BANK))["typefaces"].tolist())
    assert committed <= {name for _, name in bank.TYPEFACES}  # the committed bank holds only these
    families = " ".join(sorted(trained)).lower()
    for other in ("dejavu", "vera", "liberation", "nimbus", "free", "lato", "cantarell", "comic", "humor",
                  "opensans", "notosans-", "roboto", "texgyre", "tinos", "arimo", "courier"):
        assert other not in families, other


def test_the_bank_is_repeated_to_the_recipes_share_and_appended_to_the_training_digits(mnist):
    images, labels = load_bank()
    assert typeface_count(60000, 0.05) == round(3000 / len(labels)) * len(labels)  # whole copies of the bank
    assert typeface_count(1000, 0.1) == 100 and typeface_count(1000, 0.001) == 10  # whole typefaces, at least one
    assert typeface_count(60000, 0.0) == 0
    x, y = mnist.train_x[:2000].float() / 255, mnist.train_y[:2000]
    bx, by = with_typefaces(x, y, 0.25)
    assert len(by) == 2000 + len(labels) and torch.equal(bx[:2000], x)
    assert torch.equal(bx[2000:], images.float() / 255) and torch.equal(by[2000:], labels)
    bx, by = with_typefaces(x, y, 0.05)
    assert torch.equal(bx[2000:], images[:100].float() / 255) and torch.equal(by[2000:], labels[:100])
    assert np.bincount(by[2000:].numpy(), minlength=10).tolist() == [10] * 10  # every digit alike
    run = TrainingRun(preset("seed002").replace(epochs=1, typefaces=0.05), mnist, train_limit=2000, device="cpu")
    assert run.planned_steps() == -(-(2000 + 100) // 64)  # the epoch grows by the printed digits


def test_a_network_trained_with_the_typefaces_reads_them(mnist):
    recipe = preset("seed002").replace(epochs=2)
    images, labels = load_bank()
    read = lambda r: np.mean([p.label for p in predict(r.model, images.float() / 255)] == labels.numpy())
    plain = fit(recipe, mnist, device="cpu", seed=0, train_limit=5000)
    printed = fit(recipe.replace(typefaces=0.2), mnist, device="cpu", seed=0, train_limit=5000)
    print(f"typeface digits read right: {read(plain):.3f} without them, {read(printed):.3f} with them")
    assert read(printed) > read(plain) + 0.1  # measured: 0.59 -> 0.81


def test_recipes_check_the_typefaces_share():
    with pytest.raises(ValueError, match="typefaces must be a share"):
        Recipe(typefaces=1.5)
    assert preset("default").typefaces > 0 and Recipe().typefaces == 0
    assert Recipe.from_dict(preset("default").to_dict()) == preset("default")


@pytest.fixture
def no_bank(tmp_path, monkeypatch):
    """A damaged install: the bank's file is not where the app looks."""
    load_bank.cache_clear()
    monkeypatch.setattr("mnist_draw.trainer.typefaces.resource_path", lambda *parts: tmp_path / "none.npz")
    yield
    load_bank.cache_clear()


def test_a_missing_or_damaged_bank_is_one_clear_line(tmp_path):
    with pytest.raises(TypefaceBankError, match="cannot read the printed digits at .*No such file.*reinstall") as gone:
        load_bank(tmp_path / "none.npz")
    assert "\n" not in str(gone.value)
    np.savez(tmp_path / "odd.npz", images=np.zeros((3, 5, 5), np.uint8), labels=np.zeros(3, np.uint8))
    with pytest.raises(TypefaceBankError, match="not a bank of printed digits: not 28x28 digits"):
        load_bank(tmp_path / "odd.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK not a zip")
    with pytest.raises(TypefaceBankError, match="not a bank of printed digits"):
        load_bank(tmp_path / "junk.npz")


def test_without_the_bank_mnist_train_says_so_in_one_line_and_writes_nothing(no_bank, tmp_path, capsys):
    from mnist_draw.trainer import cli

    out = tmp_path / "m.safetensors"
    assert cli.main(["--epochs", "1", "--train-limit", "500", "--no-download", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mnist-train: error: cannot read the printed digits at ") and "\n" not in err, err
    assert "typefaces 0" in err and not out.exists()
    assert cli.main(["--epochs", "1", "--train-limit", "500", "--typefaces", "0", "--no-download",
                     "--out", str(out)]) == 0 and out.exists()  # the way out it names works


def test_without_the_bank_the_windows_run_fails_with_the_reason(no_bank, mnist):
    from mnist_draw.gui.state.run import Failed, TrainingJob
    from mnist_draw.gui.tasks.control import TaskControl
    from mnist_draw.gui.tasks.training import run_training

    job = TrainingJob(preset("default").replace(epochs=1), seed=0, data=str(mnist.root), device="cpu", train_limit=500)
    records = [r for r in run_training(job, TaskControl()) if r is not None]
    failed = [r for r in records if isinstance(r, Failed)]
    assert len(failed) == 1 and not failed[0].data_missing  # not offered an MNIST download that would not help
    assert failed[0].message.startswith("cannot read the printed digits at "), failed[0].message


def test_the_script_makes_the_committed_bank_again(tmp_path):
    bank = load_script("make-typeface-bank")
    if any(not path.is_file() for path, _ in bank.TYPEFACES):
        pytest.skip("the typefaces' Debian packages are not installed (see scripts/make-typeface-bank)")
    assert bank.main(["--out", str(tmp_path / "bank.npz")]) == 0
    made, committed = np.load(tmp_path / "bank.npz"), np.load(resource_path(*BANK))
    for key in ("images", "labels", "typefaces"):
        assert np.array_equal(made[key], committed[key]), key


def test_the_windows_run_log_counts_the_printed_digits(mnist):
    from mnist_draw.gui.state.run import Log, TrainingJob
    from mnist_draw.gui.tasks.control import TaskControl
    from mnist_draw.gui.tasks.training import run_training

    def first_line(recipe):
        records = run_training(TrainingJob(recipe, seed=0, data=str(mnist.root), device="cpu", train_limit=1000),
                               TaskControl())
        line = next(r.text for r in records if isinstance(r, Log) and r.text.startswith("training "))
        records.close()  # the run itself is not needed
        return line

    assert " on 1000 digits and 50 printed ones, with 64 non-digits in each batch of 128, on cpu" in first_line(
        preset("default"))
    assert " on 1000 digits, on cpu" in first_line(preset("seed002"))

