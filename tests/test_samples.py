"""Personal samples on disk, and fine-tuning on them without forgetting MNIST (library and CLI)."""

import numpy as np
import pytest
import torch
from PIL import Image

from _support import run_cli
from mnist_draw.model.files import save_model
from mnist_draw.model.predict import predict
from mnist_draw.samples import count_samples, delete_sample, list_samples, load_samples, save_sample
from mnist_draw.trainer.personal import accuracy_on, personal_run, repeats_for


def test_samples_are_stored_in_imagefolder_layout(tmp_path, mnist):
    x = mnist.test_x[0].numpy() / 255.0
    path = save_sample(x, 7, tmp_path)
    assert path.parent == tmp_path / "7" and path.suffix == ".png"
    from torchvision.datasets import ImageFolder

    assert ImageFolder(str(tmp_path)).classes == ["7"]
    assert np.abs(np.asarray(Image.open(path)) / 255.0 - x).max() <= 0.5 / 255 + 1e-6
    save_sample(x, 7, tmp_path)
    save_sample(x, 3, tmp_path)
    assert count_samples(tmp_path) == [0, 0, 0, 1, 0, 0, 0, 2, 0, 0]
    assert [s.label for s in list_samples(tmp_path)] == [3, 7, 7]
    delete_sample(path)
    assert count_samples(tmp_path)[7] == 1
    assert not list(tmp_path.rglob("*.tmp"))


def test_bad_samples_are_refused_or_skipped(tmp_path, mnist):
    with pytest.raises(ValueError, match="digit"):
        save_sample(np.zeros((28, 28)), 12, tmp_path)
    with pytest.raises(ValueError, match="28x28"):
        save_sample(np.zeros((10, 10)), 1, tmp_path)
    save_sample(mnist.test_x[0].numpy() / 255.0, 7, tmp_path)
    (tmp_path / "7" / "broken.png").write_text("junk")
    Image.new("L", (40, 40)).save(tmp_path / "7" / "empty.png")
    big = 255 - np.kron(mnist.test_x[1].numpy(), np.ones((8, 8), np.uint8))  # a 224x224 black-on-white "2"
    (tmp_path / "2").mkdir()
    Image.fromarray(big).save(tmp_path / "2" / "scan.png")
    images, labels, problems = load_samples(tmp_path)
    assert sorted(labels.tolist()) == [2, 7] and images.shape == (2, 28, 28)
    assert len(problems) == 2 and any("broken.png" in p for p in problems) and any("no ink" in p for p in problems)


def test_repeats_give_samples_a_fifth_of_each_epoch():
    r = repeats_for(30, replay=12000)
    assert 0.19 <= 30 * r / (12000 + 30 * r) <= 0.22
    assert repeats_for(0) == 0


def _hard_digits(small_model, mnist, n=30):
    """MNIST test digits the small model gets wrong: a 'handwriting' it does not know yet."""
    x = mnist.test_x[:5000].float() / 255
    wrong = (small_model.model.cpu()(x).argmax(1) != mnist.test_y[:5000]).nonzero().flatten()[:n]
    return x[wrong].numpy(), mnist.test_y[wrong].numpy()


def test_fine_tuning_learns_the_samples_and_keeps_mnist(small_model, mnist):
    sx, sy = _hard_digits(small_model, mnist)
    before = accuracy_on(small_model.model, mnist)
    run = personal_run(small_model.model, sx, sy, mnist, epochs=2, device="cpu", seed=0)
    list(run)
    tuned = run.result.model
    learned = np.mean([p.label for p in predict(tuned, sx)] == sy)
    assert learned >= 0.8  # they were all wrong before
    assert run.result.test_accuracy >= before - 0.01  # MNIST is not forgotten
    assert run.recipe.hidden == small_model.recipe.hidden


def test_mnist_train_samples_cli(tmp_path, small_model, small_model_file, mnist):
    sx, sy = _hard_digits(small_model, mnist, n=20)
    for image, label in zip(sx, sy):
        save_sample(image, int(label), tmp_path / "samples")
    out = tmp_path / "tuned.safetensors"
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--samples", str(tmp_path / "samples"), "--init", str(small_model_file),
                   "--epochs", "1", "--seed", "0", "--no-download", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    import re

    said = re.search(r"MNIST test accuracy before [\d.]+%, after [\d.]+%; your 20 samples before (\d+)%, after (\d+)%",
                     proc.stderr)
    assert said and int(said[1]) <= 10 < int(said[2]), proc.stderr  # misread before (all or nearly), learned after
    from mnist_draw.model.files import load_model

    meta = load_model(out).metadata
    assert meta["personal_samples"] == 20 and meta["test_accuracy_before"] > 0.9
    (tmp_path / "none").mkdir()  # a folder without samples (one that does not exist: tests/test_cli.py)
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--samples", str(tmp_path / "none"), "--init", str(small_model_file),
                   "--no-download")
    assert proc.returncode == 2 and "no personal samples" in proc.stderr
