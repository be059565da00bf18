"""The training engine on real MNIST: data as tensors, presets that reproduce, events, stop, guards."""

import math
import shutil
import subprocess
import sys
import threading

import pytest
import numpy as np
import torch

from mnist_draw.model.recipe import preset
from mnist_draw.trainer.augment import augment
from mnist_draw.trainer.data import DataError, load_mnist
from mnist_draw.trainer.devices import resolve_device
from mnist_draw.trainer.loop import BatchEvent, EpochEvent, TrainingDiverged, TrainingRun, fit


def test_mnist_is_loaded_as_tensors(mnist):
    assert mnist.train_x.shape == (60000, 28, 28) and mnist.train_x.dtype == torch.uint8
    assert mnist.test_x.shape == (10000, 28, 28)
    assert mnist.train_y.shape == (60000,) and set(mnist.test_y.unique().tolist()) == set(range(10))
    assert mnist.train_x.device.type == "cpu"


def test_mnist_is_read_once_without_torchvision_and_as_torchvision_reads_it(mnist):
    """torchvision (hundreds of megabytes) is imported only to download; the files read the same."""
    code = ("import sys; from mnist_draw.trainer.data import load_mnist\n"
            f"a = load_mnist({str(mnist.root)!r}, download=False); b = load_mnist({str(mnist.root)!r}, download=True)\n"
            "print(a.train_x is b.train_x, 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]  # one copy, however it is asked for; no torchvision
    from torchvision.datasets import MNIST

    for train, x, y in ((True, mnist.train_x, mnist.train_y), (False, mnist.test_x, mnist.test_y)):
        theirs = MNIST(str(mnist.root), train=train, download=False)
        assert torch.equal(theirs.data, x) and torch.equal(theirs.targets, y) and y.dtype == torch.int64


@pytest.mark.slow
def test_seed002_reproduces_its_published_accuracy(mnist):
    epochs = []
    result = fit(preset("seed002"), mnist, device="cpu", seed=0, on_epoch=epochs.append)
    assert [e.epoch for e in epochs] == list(range(1, 11))
    assert result.test_accuracy >= 0.975  # the tutorial reports 97.79%


# Every preset as published beats chance (10%) by far; seed002 is checked in full above.
@pytest.mark.slow
@pytest.mark.parametrize("name, floor", [("linear", 0.90), ("seed001", 0.85), ("seed003", 0.90), ("seed004", 0.85)])
def test_every_preset_trains(mnist, name, floor):
    result = fit(preset(name), mnist, device="cpu", seed=0)
    assert result.test_accuracy >= floor, result.history


def test_seed003_samples_with_replacement_for_10000_iterations(mnist):
    run = TrainingRun(preset("seed003").replace(max_steps=1300), mnist, device="cpu", seed=0)
    batches = [e for e in run if isinstance(e, BatchEvent)]
    assert len(batches) == 1300 and batches[-1].steps == 1300
    assert len(run.result.history) == 3  # 600 + 600 + 100 batches
    assert TrainingRun(preset("seed003"), mnist).planned_steps() == 10000


def test_default_recipe_with_augmentation_learns(mnist):
    result = fit(preset("default").replace(epochs=1, hidden=(256,)), mnist, device="cpu", seed=0, train_limit=10000)
    assert result.test_accuracy > 0.85


def test_events_and_callbacks(mnist):
    batches, epochs = [], []
    result = fit(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=1, train_limit=3200,
                 on_batch=batches.append, on_epoch=epochs.append)
    assert len(batches) == 100 and batches[0].batches == 50 and batches[-1].step == 100
    assert all(isinstance(b, BatchEvent) and b.loss > 0 for b in batches)
    assert [type(e) for e in epochs] == [EpochEvent, EpochEvent]
    assert epochs[1].train_loss < epochs[0].train_loss
    assert 0.5 < epochs[-1].test_accuracy <= 1 and epochs[-1].seconds > 0
    assert result.epochs_trained == 2 and not result.cancelled


def test_seeded_runs_are_reproducible(mnist):
    a = fit(preset("seed002").replace(epochs=1), mnist, device="cpu", seed=5, train_limit=2000)
    b = fit(preset("seed002").replace(epochs=1), mnist, device="cpu", seed=5, train_limit=2000)
    c = fit(preset("seed002").replace(epochs=1), mnist, device="cpu", seed=6, train_limit=2000)
    assert torch.equal(a.model.layers[0].weight, b.model.layers[0].weight)
    assert not torch.equal(a.model.layers[0].weight, c.model.layers[0].weight)


def test_cancel_takes_effect_within_one_batch(mnist):
    cancel = threading.Event()
    run = TrainingRun(preset("seed002"), mnist, device="cpu", seed=0, cancel=cancel)
    seen = 0
    for event in run:
        seen += 1
        if seen == 7:
            cancel.set()
    assert seen == 7
    assert run.result.cancelled and run.result.history == []


def test_fine_tuning_starts_from_given_weights(mnist, small_model):
    from mnist_draw.model.network import copy_state

    state = copy_state(small_model.model)
    run = TrainingRun(small_model.recipe.replace(epochs=1, lr=1e-9), mnist, device="cpu", seed=0, init=state,
                      train_limit=640)
    list(run)
    assert abs(run.result.test_accuracy - small_model.test_accuracy) < 0.002


def test_personal_samples_are_mixed_in(mnist):
    extra_x = torch.zeros(3, 28, 28)
    extra_y = torch.tensor([1, 2, 3])
    run = TrainingRun(preset("seed002").replace(epochs=1), mnist, device="cpu", seed=0, train_limit=640,
                      extra=(extra_x, extra_y, 64))
    assert run.planned_steps() == (640 + 3 * 64) // 64
    assert len([e for e in run if isinstance(e, BatchEvent)]) == run.planned_steps()


def test_fine_tuning_replays_a_random_slice_of_mnist(mnist, small_model):
    from mnist_draw.trainer.personal import personal_run

    x, y = np.zeros((4, 28, 28), np.float32), np.array([1, 2, 3, 4])
    runs = [personal_run(small_model.model, x, y, mnist, replay=3000, device="cpu", seed=seed) for seed in (0, 0, 1)]
    slices = [run.data.train_y for run in runs]
    assert all(len(s) == 3000 for s in slices)
    assert torch.equal(slices[0], slices[1]) and not torch.equal(slices[0], slices[2])  # seeded, and per run
    assert not torch.equal(slices[0], mnist.train_y[:3000])  # not always the same first digits
    assert torch.bincount(slices[0], minlength=10).min() > 200  # every digit is replayed


def test_a_diverging_loss_says_learning_rate_too_high(mnist):
    with pytest.raises(TrainingDiverged, match="learning rate too high"):
        fit(preset("seed001").replace(lr=1e6, momentum=0.0), mnist, device="cpu", seed=0, train_limit=5000)


def test_cuda_asked_for_without_cuda_falls_back_to_cpu_and_says_so():
    device, note = resolve_device("cuda")
    if torch.cuda.is_available():
        assert device.type == "cuda" and note is None
    else:
        assert device.type == "cpu" and "CUDA was asked for but" in note
    assert resolve_device("cpu") == (torch.device("cpu"), None)
    with pytest.raises(ValueError, match="auto, cpu or cuda"):
        resolve_device("tpu")


def test_augmentation_distorts_within_bounds(mnist):
    from scipy import ndimage

    from mnist_draw.trainer.augment import AugmentSettings

    g = torch.Generator().manual_seed(0)
    x = mnist.test_x[:500].float() / 255
    brightest = x / x.amax((1, 2), keepdim=True)  # augment scales each digit's darkest stroke to full ink
    assert torch.allclose(augment(x, AugmentSettings(), g), brightest, atol=1e-5)  # no distortion: unchanged
    half = augment(x, AugmentSettings(scale=(0.5, 0.5)), g)  # zoom out by 2: the digit's extent halves
    rows = lambda img: int(img.gt(0.3).any(1).sum())
    assert abs(rows(half[0]) - rows(x[0]) / 2) <= 2
    for level in ("light", "strong"):
        out = augment(x, level, g)
        assert out.shape == x.shape and 0 <= out.min() and out.max() <= 1
        assert not torch.equal(out, x)
        com = torch.tensor([ndimage.center_of_mass(img.numpy()) for img in out[:100]])
        assert (com - 14).abs().max() < 6  # still inside the frame, near the centre
        ink = out.sum((1, 2)) / x.sum((1, 2))
        assert 0.3 < ink.median() < 2.5
    assert torch.equal(augment(x, "none", g), x)


def test_flags_are_drawn_on_ones_only_at_their_top_left(mnist):
    """1,000 test digits before and after add_flags at p=1: every 1 changed, nothing else, only by
    added ink, a short stroke hanging to the left of the 1's top; at p=0 nothing changes."""
    from mnist_draw.trainer import augment as aug

    g = torch.Generator().manual_seed(0)
    x = mnist.test_x[:1000].float() / 255
    y = mnist.test_y[:1000]
    out = aug.add_flags(x, y, 1.0, g)
    changed = (out != x).flatten(1).any(1)
    assert torch.equal(changed, y == 1)  # every 1 changed, nothing else
    assert torch.all(out >= x)  # only ink added
    assert torch.equal(aug.add_flags(x, y, 0.0, g), x)
    for before, after in zip(x[y == 1][:50], out[y == 1][:50]):
        ys, xs = (after - before).clamp_min(0).nonzero(as_tuple=True)  # where the added ink sits
        ink_y, ink_x = (before > 0.5).nonzero(as_tuple=True)
        top, middle = int(ink_y.min()), (int(ink_y.min()) + int(ink_y.max())) / 2
        top_x = ink_x[ink_y == top].float().mean()  # the column of the 1's top
        assert ys.float().mean() < middle and xs.float().mean() < top_x  # upper half, left of the top
        assert 3 < (after - before).sum() < 40  # a short stroke, not a bar across the digit


def test_missing_data_without_download_names_both_ways(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path / "empty", download=False)
    message = str(info.value)
    assert "--data" in message and "MNIST_DRAW_DATA" in message and "\n" not in message


def test_damaged_data_files_are_reported(tmp_path, mnist):
    raw = _copy_mnist(mnist, tmp_path)  # with a truncated file
    with pytest.raises(DataError, match="damaged"):
        load_mnist(tmp_path, download=False)
    data = (mnist.root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").read_bytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x99" + data[4:])  # wrong header
    with pytest.raises(DataError, match="damaged"):
        load_mnist(tmp_path, download=False)


def test_data_folder_may_be_given_at_any_level(mnist):
    assert load_mnist(mnist.root / "MNIST" / "raw", download=False).train_x.shape[0] == 60000


def test_mnist_sizes_and_the_epoch_cap_are_constants(mnist):
    from mnist_draw.model.recipe import MAX_EPOCHS, MNIST_TEST_SIZE, MNIST_TRAIN_SIZE, Recipe
    from mnist_draw.trainer import data

    assert (len(mnist.train_y), len(mnist.test_y)) == (MNIST_TRAIN_SIZE, MNIST_TEST_SIZE)
    assert data.MNIST_TRAIN_SIZE == MNIST_TRAIN_SIZE  # the trainer's name for it is the same number
    Recipe(epochs=MAX_EPOCHS, batch_size=MNIST_TRAIN_SIZE)
    for bad in (dict(epochs=MAX_EPOCHS + 1), dict(batch_size=MNIST_TRAIN_SIZE + 1)):
        with pytest.raises(ValueError, match=str(MAX_EPOCHS if "epochs" in bad else MNIST_TRAIN_SIZE)):
            Recipe(**bad)


def _weights(result):
    return [p.detach().clone() for p in result.model.parameters()]


def test_a_seeded_run_repeats_exactly_and_leaves_torchs_global_state_alone(mnist):
    """Dropout, augmentation, shuffling and the first weights all come from the run's own generators."""
    torch.manual_seed(1234)
    rng, threads = torch.get_rng_state(), torch.get_num_threads()
    recipe = preset("default").replace(epochs=1, hidden=(64,))  # dropout and augmentation
    a, b = (fit(recipe, mnist, device="cpu", seed=7, train_limit=1500) for _ in range(2))
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b)))
    assert a.history[0].train_loss == b.history[0].train_loss
    c = fit(recipe, mnist, device="cpu", train_limit=1500)  # unseeded: its own fresh seed
    assert not torch.equal(_weights(a)[0], _weights(c)[0])
    replaced = fit(preset("seed003").replace(max_steps=30), mnist, device="cpu", seed=7, train_limit=1500)
    assert replaced.epochs_trained == 2  # 15 batches of 100 an epoch
    assert torch.equal(torch.get_rng_state(), rng) and torch.get_num_threads() == threads
    assert isinstance(a.model.dropout, torch.nn.Dropout)  # the run's own dropout is gone from the result


def test_a_seeds_first_weights_are_those_torch_manual_seed_gave():
    """The run's generator draws what seeding PyTorch's global one drew, so a seed keeps its model."""
    from mnist_draw.model.network import MLP, build_model
    from mnist_draw.trainer.randomness import init_weights

    recipe = preset("default")
    with torch.device("meta"):
        model = MLP(recipe)
    mine = init_weights(model.to_empty(device="cpu"), 11)
    assert all(torch.equal(p, q) for p, q in zip(mine.parameters(), build_model(recipe, seed=11).parameters()))


def test_adam_with_weight_decay_is_adam_and_adamw_is_adamw():
    """adam + weight decay adds the decay to the gradient (L2); adamw shrinks the weights apart from it."""
    from mnist_draw.model.recipe import OPTIMIZERS
    from mnist_draw.trainer.cli import build_parser
    from mnist_draw.trainer.loop import make_optimizer

    assert "adamw" in OPTIMIZERS
    assert build_parser()._option_string_actions["--optimizer"].choices == OPTIMIZERS
    after = {}
    for name in ("adam", "adamw"):
        w = torch.nn.Parameter(torch.ones(3))
        opt = make_optimizer(preset("seed002").replace(optimizer=name, lr=0.1, weight_decay=0.1), [w])
        assert type(opt) is {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
        w.grad = torch.zeros(3)  # no gradient: only the decay moves the weights
        opt.step()
        after[name] = w.detach()
    assert torch.allclose(after["adam"], torch.full((3,), 0.9), atol=1e-4)  # Adam's step on the L2 gradient
    assert torch.allclose(after["adamw"], torch.full((3,), 0.99))  # decoupled: w * (1 - lr * decay)


def test_every_time_comes_from_the_runs_clock(mnist):
    ticks = iter(range(0, 10**6, 10))
    run = TrainingRun(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=0, train_limit=640,
                      clock=lambda: next(ticks))
    events = [e for e in run if isinstance(e, EpochEvent)]
    assert [e.seconds for e in events] == [10, 10]  # read once at the start and once at the end of each
    assert run.result.seconds % 10 == 0 and run.result.seconds >= 40


# ------------------------------------------------------------------------------- the CUDA fast path


def test_the_fast_path_is_taken_only_where_a_graph_can_hold_the_step():
    from mnist_draw.trainer.fast import blocker

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert blocker(preset("seed002"), cuda, 60000) is None
    assert blocker(preset("seed002").replace(optimizer="adam", lr=1e-3), cuda, 60000) is None
    assert "CUDA" in blocker(preset("seed002"), cpu, 60000)
    assert blocker(preset("seed002"), cpu, 60000, wanted=True) is None  # its loop, on the CPU, for tests
    assert "turned off" in blocker(preset("seed002"), cuda, 60000, wanted=False)
    assert "processes" in blocker(preset("seed002"), cuda, 60000, several_processes=True)
    assert "augmentation" in blocker(preset("default"), cuda, 60000)
    assert "dropout" in blocker(preset("seed002").replace(dropout=0.1), cuda, 60000)
    assert "replacement" in blocker(preset("seed003"), cuda, 60000)
    assert "schedule" in blocker(preset("seed002").replace(schedule="cosine"), cuda, 60000)
    assert "too few" in blocker(preset("seed002"), cuda, 100)


def test_the_recorded_step_trains_exactly_as_the_eager_loop(mnist):
    """The fast path's loop (without a graph on the CPU): same batches, same steps, same weights; its
    warm-up steps leave no trace. 3000 digits leave a shorter last batch, which runs eagerly."""
    for recipe in (preset("seed002").replace(epochs=2, momentum=0.5),
                   preset("seed002").replace(epochs=2, optimizer="adam", lr=1e-3, weight_decay=1e-4)):
        eager = fit(recipe, mnist, device="cpu", seed=3, train_limit=3000, fast_path=False)
        run = TrainingRun(recipe, mnist, device="cpu", seed=3, train_limit=3000, fast_path=True)
        batches = [e for e in run if isinstance(e, BatchEvent)]
        assert run.step_mode == "recorded"
        assert [(e.epoch, e.batch) for e in batches][45:49] == [(1, 46), (1, 47), (2, 1), (2, 2)]
        assert [e.to_json() | {"seconds": 0} for e in run.result.history] == \
            [e.to_json() | {"seconds": 0} for e in eager.history]
        assert all(torch.equal(p, q) for p, q in zip(_weights(run.result), _weights(eager)))


def test_a_step_that_cannot_be_recorded_falls_back_to_the_eager_loop(mnist, monkeypatch):
    from mnist_draw.trainer import fast

    def refuse(step, device):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(fast, "capture", refuse)
    recipe = preset("seed002").replace(epochs=1, momentum=0.5)
    run = TrainingRun(recipe, mnist, device="cpu", seed=3, train_limit=2000, fast_path=True)
    list(run)
    assert run.step_mode == "eager" and "recording the training step failed" in run.step_note
    eager = fit(recipe, mnist, device="cpu", seed=3, train_limit=2000, fast_path=False)
    assert all(torch.equal(p, q) for p, q in zip(_weights(run.result), _weights(eager)))  # warm-up undone


def test_stop_takes_effect_on_the_fast_path_within_a_few_batches(mnist):
    from mnist_draw.trainer.fast import READ_EVERY

    cancel = threading.Event()
    run = TrainingRun(preset("seed002"), mnist, device="cpu", seed=0, cancel=cancel, train_limit=6400,
                      fast_path=True)
    seen = 0
    for event in run:
        seen += 1
        if seen == 7:
            cancel.set()
    assert seen <= 2 * READ_EVERY and run.result.cancelled and run.result.history == []


cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda_only
@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.5), ("adam", 1e-3)])
def test_on_cuda_the_steps_replay_from_a_graph_and_train_as_eager_ones(mnist, optimizer, lr):
    recipe = preset("seed002").replace(epochs=2, optimizer=optimizer, lr=lr)
    run = TrainingRun(recipe, mnist, device="cuda", seed=0, train_limit=20000)
    batches = [e for e in run if isinstance(e, BatchEvent)]
    assert run.step_mode == "graph", run.step_note
    assert len(batches) == run.planned_steps() and all(math.isfinite(e.loss) for e in batches)
    eager = fit(recipe, mnist, device="cuda", seed=0, train_limit=20000, fast_path=False)
    assert abs(run.result.test_accuracy - eager.test_accuracy) < 0.01  # same batches; GPU sums may differ
    assert run.result.test_accuracy > 0.9


@cuda_only
def test_on_cuda_a_recipe_a_graph_cannot_hold_trains_eagerly_and_says_why(mnist):
    run = TrainingRun(preset("default").replace(epochs=1, hidden=(64,)), mnist, device="cuda", seed=0,
                      train_limit=2000)
    list(run)
    assert run.step_mode == "eager" and "augmentation" in run.step_note


# ------------------------------------------------------------------------------------- damaged data


def _copy_mnist(mnist, root):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in mnist.root.joinpath("MNIST", "raw").glob("*-ubyte"):
        shutil.copy(f, raw / f.name)
    data = (raw / "t10k-images-idx3-ubyte").read_bytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[: len(data) // 2])  # truncated
    return raw


def test_a_users_damaged_copy_is_never_offered_for_deletion(tmp_path, mnist, monkeypatch):
    _copy_mnist(mnist, tmp_path / "mine")
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path / "mine", download=False)  # --data
    assert "cannot be read" in str(info.value) and "delete" not in str(info.value)
    monkeypatch.setenv("MNIST_DRAW_DATA", str(tmp_path / "mine"))
    with pytest.raises(DataError) as info:
        load_mnist(None, download=False)
    assert "delete" not in str(info.value)


def test_the_apps_own_damaged_download_may_be_deleted(tmp_path, mnist, monkeypatch):
    from mnist_draw.paths import user_cache_dir

    monkeypatch.delenv("MNIST_DRAW_DATA")
    raw = _copy_mnist(mnist, user_cache_dir() / "mnist")
    with pytest.raises(DataError) as info:
        load_mnist(None, download=False)
    assert "damaged" in str(info.value) and f"delete that folder" in str(info.value) and str(raw) in str(info.value)


def test_no_trainer_module_imports_qt():
    """Every module of the trainer (the app's workers use diagnose and personal too) stays Qt-free."""
    import subprocess
    import sys

    from _support import ROOT

    names = sorted(f"mnist_draw.trainer.{p.stem}" for p in (ROOT / "trainer").glob("*.py") if p.stem != "__init__")
    assert {"mnist_draw.trainer.diagnose", "mnist_draw.trainer.personal"} <= set(names)
    code = (f"import sys\nimport {', '.join(names)}\n"
            "print(','.join(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph', "
            "'mnist_draw.gui')))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
