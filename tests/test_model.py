"""Recipes, presets, the MLP, prediction, and model files that are safe to load."""

import json
import pickle
from pathlib import Path

import pytest
import torch

from mnist_draw.model.files import ModelFileError, load_model, model_to_bytes, save_model
from mnist_draw.model.network import MLP, build_model
from mnist_draw.model.predict import predict
from mnist_draw.model.recipe import ACTIVATIONS, PRESETS, Recipe, parse_hidden, preset


def test_presets_are_the_reference_recipes():
    # ../shared/reference/seed-recipes.md, column by column.
    expected = {
        "linear": dict(hidden=(), activation="none", loss="ce", optimizer="sgd", lr=0.5, momentum=0.0,
                       batch_size=64, epochs=10, scaling="unit"),
        "seed001": dict(hidden=(256, 64), activation="relu", loss="mse", optimizer="sgd", lr=0.01, momentum=0.9,
                        batch_size=512, epochs=3, scaling="standard"),
        "seed002": dict(hidden=(256,), activation="relu", loss="ce", optimizer="sgd", lr=0.5, momentum=0.0,
                        batch_size=64, epochs=10, scaling="unit"),
        "seed003": dict(hidden=(50,), activation="sigmoid", loss="ce", optimizer="sgd", lr=0.1, momentum=0.0,
                        batch_size=100, max_steps=10000, sampling="replacement", scaling="unit"),
        "seed004": dict(hidden=(512, 256), activation="relu", loss="sse", optimizer="sgd", lr=0.001, momentum=0.0,
                        batch_size=200, epochs=30, scaling="unit"),
    }
    for name, fields in expected.items():
        r = PRESETS[name]
        for key, value in fields.items():
            assert getattr(r, key) == value, (name, key)
        assert r.augment == "none" and r.dropout == 0 and r.schedule == "constant", name
    assert PRESETS["seed003"].epochs * 600 >= 10000  # enough epochs for its 10000 iterations
    assert "default" in PRESETS


def test_layer_sizes_follow_the_recipe():
    model = MLP(preset("seed001"))
    assert [tuple(layer.weight.shape) for layer in model.layers] == [(256, 784), (64, 256), (10, 64)]
    assert len(MLP(preset("linear")).layers) == 1


# What each activation gives a layer's units for pixels in [0, 1] (inputs to the units of either sign): its
# least and largest values, and whether any unit is exactly zero or below zero. GELU's least value is -0.16997.
ACTIVATION_SHAPES = {"relu": (0, None, True, False), "gelu": (-0.17, None, False, True),
                     "sigmoid": (0, 1, False, False), "tanh": (-1, 1, False, True)}


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a != "none"])
def test_every_activation_a_recipe_offers_is_the_one_its_network_uses(activation):
    low, high, zeros, negatives = ACTIVATION_SHAPES[activation]
    model = build_model(Recipe(hidden=(256,), activation=activation), seed=0)
    with torch.inference_mode():
        _, (hidden,) = model.forward_with_hidden(torch.rand(64, 784, generator=torch.Generator().manual_seed(0)))
    assert hidden.min() >= low and (high is None or hidden.max() <= high)
    assert bool((hidden == 0).any()) == zeros
    assert bool((hidden < 0).any()) == negatives
    if activation == "tanh":
        assert hidden.min() < -0.17  # beyond GELU's floor: the two are told apart


@pytest.mark.parametrize("bad, message", [
    (dict(lr=0), "learning rate"), (dict(lr=float("nan")), "learning rate"), (dict(batch_size=0), "batch size"),
    (dict(epochs=0), "epochs"), (dict(optimizer="lbfgs"), "optimizer"), (dict(momentum=1.5), "momentum"),
    (dict(hidden=(0,)), "hidden"), (dict(activation="swish"), "activation"), (dict(loss="mse", label_smoothing=0.1), "label smoothing"),
    # the wrong kind of value, as a hand-edited recipe or `try-recipe --set` gives it
    (dict(epochs=1.5), "epochs must be a whole number"), (dict(lr="0.1"), "lr must be a number"),
    (dict(dropout=True), "dropout must be a number"), (dict(hidden=(3.5,)), "hidden must be a list of whole numbers"),
    (dict(augment=None), "augment must be text"),
])
def test_bad_recipes_are_refused_with_a_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**bad)


def test_numpy_numbers_make_a_recipe_that_can_be_stored():
    import numpy as np

    recipe = Recipe(epochs=np.int64(3), lr=np.float32(0.5), hidden=(np.int64(5),))
    assert json.loads(json.dumps(recipe.to_dict()))["epochs"] == 3 and type(recipe.lr) is float
    assert parse_hidden([np.int64(4)]) == (4,) and type(parse_hidden([np.int64(4)])[0]) is int


def test_parse_hidden():
    assert parse_hidden("256,64") == (256, 64)
    assert parse_hidden(" 512 , 256 ") == (512, 256)
    assert parse_hidden("none") == ()
    with pytest.raises(ValueError, match="commas"):
        parse_hidden("256;64")
    assert parse_hidden([512, 256]) == (512, 256)
    with pytest.raises(ValueError, match="whole numbers"):
        parse_hidden([3.5])  # not 3 units, quietly


def test_model_takes_pixels_and_normalises_as_in_training():
    r = preset("seed001")  # standard scaling
    model = build_model(r, seed=1)
    x = torch.rand(3, 28, 28)
    manual = (x.reshape(3, -1) - 0.1307) / 0.3081
    for layer in model.layers[:-1]:
        manual = torch.relu(layer(manual))
    assert torch.allclose(model(x), model.layers[-1](manual), atol=1e-5)


def test_predict_gives_probabilities_and_argmax_even_for_mse_nets():
    for name in ("seed001", "seed002"):
        model = build_model(preset(name), seed=0)
        preds = predict(model, torch.rand(5, 28, 28).numpy())
        assert len(preds) == 5
        for p in preds:
            assert sum(p.probabilities) == pytest.approx(1.0, abs=1e-5)
            assert p.label == max(range(10), key=lambda i: p.probabilities[i])
            assert p.confidence == pytest.approx(max(p.probabilities))
    single = predict(build_model(preset("linear")), torch.zeros(28, 28))
    assert len(single) == 1


def test_predict_reads_with_dropout_off_and_leaves_the_mode_as_it_found_it():
    model = build_model(preset("default").replace(hidden=(64, 64)), seed=0)  # dropout 0.2
    x = torch.rand(3, 28, 28)
    model.train()
    first, second = predict(model, x), predict(model, x)
    assert first == second  # no dropout while reading
    assert model.training  # a model being trained stays in training mode
    model.eval()
    assert predict(model, x) == first
    assert not model.training


def test_save_and_load_round_trip(tmp_path):
    model = build_model(preset("seed001"), seed=3)
    path = save_model(tmp_path / "m.safetensors", model, {"test_accuracy": 0.93})
    loaded = load_model(path)
    assert loaded.recipe == preset("seed001")
    assert loaded.test_accuracy == pytest.approx(0.93)
    assert loaded.metadata["versions"]["torch"] == torch.__version__
    x = torch.rand(4, 28, 28)
    assert torch.equal(loaded.model(x), model.eval()(x))
    assert "seed001" in loaded.display_name and "93.00%" in loaded.display_name


def test_saving_replaces_atomically_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "m.safetensors"
    save_model(path, build_model(preset("linear"), seed=0))
    save_model(path, build_model(preset("seed002"), seed=0))
    assert load_model(path).recipe.name == "seed002"
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_saving_replaces_only_a_model_file_and_writes_through_a_link(tmp_path):
    """A rename replaces whatever has the name: a save looks first, and refuses in one line what is not a
    model file of ours to replace (the thing there is left exactly as it was); a link stays a link."""
    import os

    linear, seed002 = build_model(preset("linear"), seed=0), build_model(preset("seed002"), seed=0)
    save_model(tmp_path / "target.safetensors", linear)
    (tmp_path / "link.safetensors").symlink_to("target.safetensors")
    save_model(tmp_path / "link.safetensors", seed002)
    assert (tmp_path / "link.safetensors").is_symlink() and load_model(tmp_path / "target.safetensors").recipe.name == "seed002"

    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n my holiday")
    os.mkfifo(tmp_path / "pipe")
    save_model(tmp_path / "read-only.safetensors", linear)
    os.chmod(tmp_path / "read-only.safetensors", 0o444)
    (tmp_path / "folder").mkdir()
    before = {p.name: (p.stat().st_mode, p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir()}
    for name, why in [("photo.png", "not a model is there"), ("pipe", "special file"),
                      ("read-only.safetensors", "read-only"), ("folder", "folder")]:
        with pytest.raises(OSError) as info:
            save_model(tmp_path / name, seed002)
        assert why in info.value.strerror and "\n" not in info.value.strerror
    after = {p.name: (p.stat().st_mode, p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir()}
    assert after == before  # nothing replaced, no temporary file left
    (tmp_path / "empty.safetensors").touch()
    save_model(tmp_path / "empty.safetensors", seed002)  # an empty file holds nothing to lose


def test_loading_a_device_is_refused_before_reading_it():
    """/dev/zero never ends: the header is read first, and a special file not at all."""
    from _support import run_cli

    proc = run_cli("-c", "from mnist_draw.model.files import load_model\nload_model('/dev/zero')", timeout=60)
    assert proc.stderr.strip().splitlines()[-1].endswith("/dev/zero: not a model file (a device or other special file)")


def _saved_bytes(recipe_name="seed002"):
    return model_to_bytes(build_model(preset(recipe_name), seed=0))


def _with_header(data: bytes, edit) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    edit(header)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    return len(new).to_bytes(8, "little") + new + data[8 + n:]


@pytest.mark.parametrize("make, message", [
    (lambda: b"", "empty"),
    (lambda: b"\x00\x01", "not a model file"),
    (lambda: _saved_bytes()[:5000], "truncated|damaged"),
    (lambda: b"garbage" * 1000, "not a safetensors"),
    (lambda: _with_header(_saved_bytes(), lambda h: h.pop("__metadata__")), "not an mnist-draw model"),
    (lambda: _with_header(_saved_bytes(), lambda h: h["__metadata__"].update(mnist_draw="{broken")), "damaged"),
    # metadata that lies: says 512 hidden units, the weights have 256
    (lambda: _with_header(_saved_bytes(), lambda h: h["__metadata__"].update(
        mnist_draw=json.dumps({"format": "mnist-draw-model", "recipe": {**preset("seed002").to_dict(), "hidden": [512]}}))),
     "shape"),
    (lambda: _with_header(_saved_bytes(), lambda h: h["__metadata__"].update(
        mnist_draw=json.dumps({"format": "mnist-draw-model", "recipe": {**preset("seed002").to_dict(), "hidden": [256, 64]}}))),
     "missing"),
])
def test_bad_model_files_are_refused_with_one_line(tmp_path, make, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(make())
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_a_recipe_stored_with_whole_numbers_as_floats_still_loads(tmp_path):
    """Older versions stored `try-recipe --set epochs=40.0` as 40.0; such a file is the user's model, and
    it loads with 40 epochs. A fraction of an epoch is still refused, in one line."""
    def stored(**fields):
        return lambda h: h["__metadata__"].update(mnist_draw=json.dumps(
            {"format": "mnist-draw-model", "recipe": {**preset("seed002").to_dict(), **fields}}))

    (tmp_path / "old.safetensors").write_bytes(_with_header(_saved_bytes(), stored(epochs=40.0, batch_size=32.0, hidden=[256.0])))
    recipe = load_model(tmp_path / "old.safetensors").recipe
    assert (recipe.epochs, recipe.batch_size, recipe.hidden) == (40, 32, (256,)) and type(recipe.epochs) is int
    (tmp_path / "half.safetensors").write_bytes(_with_header(_saved_bytes(), stored(epochs=40.5)))
    with pytest.raises(ModelFileError, match="epochs must be a whole number"):
        load_model(tmp_path / "half.safetensors")


def test_a_pickle_that_runs_code_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"state_dict": Evil()}))
    torch.save({"x": Evil()}, tmp_path / "evil2.pt")
    for p in (path, tmp_path / "evil2.pt"):
        with pytest.raises(ModelFileError):
            load_model(p)
    assert not marker.exists()


def test_non_finite_weights_are_refused(tmp_path):
    model = build_model(preset("seed002"), seed=0)
    with torch.no_grad():
        model.layers[0].weight[0, 0] = float("nan")
    save_model(tmp_path / "nan.safetensors", model)
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(tmp_path / "nan.safetensors")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_saved_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    path = save_model(tmp_path / "m.safetensors", build_model(preset("linear"), seed=0))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    os.chmod(path, 0o600)
    save_model(path, build_model(preset("linear"), seed=1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # replacing keeps the old file's permissions


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU")
def test_a_model_trained_on_cuda_is_saved_for_any_device_and_loads_on_the_cpu(tmp_path):
    """Safetensors files hold no device: save_model writes CPU copies, so a GPU-trained file opens anywhere."""
    model = build_model(preset("seed002"), seed=0).to("cuda")
    path = save_model(tmp_path / "from-cuda.safetensors", model)
    loaded = load_model(path)
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    for (name, a), b in zip(model.state_dict().items(), loaded.model.state_dict().values()):
        assert torch.equal(a.cpu(), b), name


def test_one_picture_reads_as_the_whole_network_does(mnist):
    """The live drawing is read by OnePicture, which skips the weights of zero inputs: every output and
    hidden activation must be the network's (up to float rounding), for the shipped model on drawings
    and MNIST digits, and for other activations and scalings, whose layers are not sparse."""
    from mnist_draw.model.network import OnePicture
    from mnist_draw.paths import default_model_path
    from mnist_draw.preprocess import load_image, to_mnist

    drawn = sorted((Path(__file__).parent / "data" / "drawn").glob("*/*.png"))[::40]
    pictures = [torch.from_numpy(to_mnist(load_image(f))) for f in drawn]
    pictures += [mnist.test_x[i].float() / 255 for i in range(20)]
    models = [load_model(default_model_path()).model]
    others = [((64, 32), "tanh", "unit"), ((64, 32), "gelu", "standard"), ((64, 32), "sigmoid", "standard"),
              ((64, 32), "relu", "unit"),
              ((), "none", "standard")]  # the last: no hidden layer at all
    for i, (hidden, activation, scaling) in enumerate(others):
        models.append(build_model(Recipe(hidden=hidden, activation=activation, scaling=scaling), seed=i))
    for model in models:
        model.eval()
        quick = OnePicture(model)
        with torch.inference_mode():
            for x in pictures:
                logits, hidden = model.forward_with_hidden(x[None])
                quick_logits, quick_hidden = quick.forward_with_hidden(x)
                assert quick_logits.shape == (1, 10) and torch.allclose(quick_logits, logits, atol=1e-4, rtol=1e-4)
                assert len(quick_hidden) == len(hidden)
                for mine, theirs in zip(quick_hidden, hidden):
                    assert mine.shape == theirs.shape and torch.allclose(mine, theirs, atol=1e-4, rtol=1e-4)
