"""The window's logic without a window: the application state and the background tasks, driven directly.

Nothing here imports Qt (tests/test_architecture.py checks that these modules cannot): the same
generators the window's workers run are iterated here, and their records handed to the same
application state the window asks what to show.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pytest
import torch

from mnist_draw.gui.state.app_state import AppState
from mnist_draw.gui.state.live import Guess, LiveModel, live_model_from_file
from mnist_draw.gui.state.run import Failed, Handover, Log, Outcome, Progress, job_from_form
from mnist_draw.gui.state.teaching import NOTHING_TO_SAVE, Teaching
from mnist_draw.gui.tasks.control import TaskControl
from mnist_draw.gui.tasks.mistakes import find_mistakes
from mnist_draw.gui.tasks.reading import LiveReader
from mnist_draw.gui.tasks.training import run_training
from mnist_draw.model.network import model_from_state
from mnist_draw.model.predict import predict, temperature_of
from mnist_draw.model.recipe import preset
from mnist_draw.trainer.loop import EpochEvent


def form(**changes) -> dict:
    """The trainer form's fields, as the window's form gives them."""
    fields = {"preset": "seed002", "hidden": "256", "activation": "relu", "loss": "ce", "optimizer": "sgd",
              "lr": "0.5", "momentum": 0.0, "batch_size": 64, "epochs": 2, "augment": "none",
              "train_limit": 2000, "device": "cpu", "seed": "7"}
    return {**fields, **changes}


def run(job, control=None, on_record=None) -> list:
    """Iterate the training task as its worker would (pausing at checkpoints), keeping every record."""
    control = control or TaskControl()
    records = []
    for record in run_training(job, control):
        if record is not None:
            records.append(record)
            if on_record is not None:
                on_record(record, control)
        control.checkpoint()
    return records


@pytest.fixture
def shipped(small_model_file) -> LiveModel:
    return live_model_from_file(str(small_model_file))


def test_train_hand_over_save_and_load_without_a_display(shipped, mnist, tmp_path):
    state = AppState()
    assert state.save_live(str(tmp_path / "none.safetensors")) == (False, "No model to save yet: train one first")
    assert state.model_went_live(shipped).startswith(f"Model {shipped.title} from ")
    assert state.recent == [shipped]

    job = job_from_form(form(), data=str(mnist.root))
    state.run_started(job)
    assert state.before_run is shipped and state.run.kind == "training"
    assert state.finetune_blocker(samples=5) == "A run is going: wait for it to end, or stop it"
    records = run(job)
    handed = [r.model for r in records if isinstance(r, Handover)]
    for model in handed:  # the live classifier follows the network as it learns...
        state.model_went_live(model)
        assert state.live is model and not model.finished
    assert state.recent == [shipped]  # ...but weights handed over while learning are no finished model
    saved, said = state.save_live(str(tmp_path / "learning.safetensors"))  # nor saved as one
    assert not saved and said.startswith("The network is still learning") and not (tmp_path / "learning.safetensors").exists()
    assert [r.epoch for r in records if isinstance(r, EpochEvent)] == [1, 2]
    assert any(isinstance(r, Progress) for r in records)

    outcome = records[-1]
    assert isinstance(outcome, Outcome) and not outcome.cancelled and outcome.seed == 7
    decision = state.run_finished(outcome)
    assert decision.model is outcome.model and outcome.model.name == "seed002"  # 2 epochs of seed002 is seed002
    assert decision.hand_over
    assert f"{shipped.title} is one step away" in decision.message and state.run is None
    state.model_went_live(decision.model)
    assert state.recent == [outcome.model, shipped]

    path = tmp_path / "models" / "mine.safetensors"
    assert state.save_live(str(path)) == (True, f"Saved {outcome.model.title} to {path}")
    loaded = live_model_from_file(str(path))
    state.model_went_live(loaded)
    assert state.model_folder == path.parent and state.recent[0] is loaded
    assert loaded.accuracy == outcome.accuracy and loaded.metadata["seed"] == 7
    assert all(torch.equal(loaded.state[k], outcome.model.state[k]) for k in loaded.state)


def test_a_seed_repeats_a_run_and_a_blank_seed_is_drawn_and_reported(mnist):
    first, second = (run(job_from_form(form(epochs=1), data=str(mnist.root)))[-1] for _ in range(2))
    assert first.accuracy == second.accuracy
    assert all(torch.equal(first.model.state[k], second.model.state[k]) for k in first.model.state)
    job = job_from_form(form(seed=" "), data=str(mnist.root))
    assert not job.seed_given and 0 <= job.seed
    logs = [r.text for r in run(dataclasses.replace(job, train_limit=500)) if isinstance(r, Log)]
    assert f"seed {job.seed} (drawn at random: type it into Seed to repeat this run)" in logs


def test_the_form_is_refused_in_one_line_when_it_is_wrong():
    for fields, words in ((form(lr="fast"), "learning rate must be a number"),
                          (form(hidden="256,lots"), "hidden layers"),
                          (form(seed="abc"), "the seed must be a whole number"),
                          (form(device="tpu"), "device must be one of"),
                          (form(outliers=9), "outliers must be a share of the batch's digits between 0 and 4")):
        with pytest.raises(ValueError, match=words) as raised:
            job_from_form(fields)
        assert "\n" not in str(raised.value)
    assert job_from_form(form(epochs=5)).recipe.name == "seed002"
    assert job_from_form(form(lr="0.1")).recipe.name == "seed002-custom"
    assert job_from_form(form(train_limit=60000)).train_limit is None
    mixed = job_from_form(form(typefaces=0.1, outliers=0.5)).recipe
    assert (mixed.typefaces, mixed.outliers, mixed.name) == (0.1, 0.5, "seed002-custom")
    default = job_from_form(form(preset="default", hidden="1024,1024", loss="ce", optimizer="adam", lr="0.001",
                                 batch_size=128, epochs=40, augment="light", typefaces=0.05, outliers=0.5)).recipe
    assert default == preset("default") and default.name == "default"  # the form as the preset fills it
    squared = job_from_form(form(preset="default", hidden="1024,1024", loss="mse", optimizer="adam", lr="0.001",
                                 batch_size=128, epochs=40, augment="light", typefaces=0.05, outliers=0.5)).recipe
    assert (squared.loss, squared.label_smoothing) == ("mse", 0.0)  # smoothing is cross-entropy's: it goes with it


def test_a_stopped_run_keeps_its_last_scored_epoch_under_a_name_that_says_so(shipped, mnist):
    state = AppState()
    state.model_went_live(shipped)
    job = job_from_form(form(epochs=3), data=str(mnist.root))
    state.run_started(job)

    def stop_after_epoch_1(record, control):
        if isinstance(record, EpochEvent) and record.epoch == 1:
            control.request_stop()

    records = run(job, on_record=stop_after_epoch_1)
    epoch_1 = next(r for r in records if isinstance(r, EpochEvent))
    outcome = records[-1]
    assert outcome.cancelled and outcome.epochs == 1 and outcome.planned_epochs == 3
    assert outcome.model.name == "seed002 (stopped after epoch 1 of 3)"
    assert outcome.model.accuracy == epoch_1.test_accuracy  # scored: the weights as they were after epoch 1
    assert outcome.model.metadata["test_accuracy"] == epoch_1.test_accuracy
    decision = state.run_finished(outcome)
    assert decision.model is outcome.model
    assert decision.message == f"Stopped: {outcome.model.title} is live; {shipped.title} is one step away (Models menu)"


def test_stopped_before_an_epoch_ends_or_failed_the_model_from_before_comes_back(shipped, mnist):
    state = AppState()
    state.model_went_live(shipped)
    job = job_from_form(form(epochs=1, train_limit=60000), data=str(mnist.root))
    state.run_started(job)
    records = run(job, on_record=lambda record, control: control.request_stop())
    outcome = records[-1]
    assert outcome.cancelled and outcome.model is None and outcome.accuracy is None
    decision = state.run_finished(outcome)
    assert decision.model is shipped and decision.message == f"Stopped before the first epoch ended: {shipped.title} " \
                                                               f"is live again"
    job = job_from_form(form(lr="1e30"), data=str(mnist.root))
    state.run_started(job)
    failed = run(job)[-1]
    assert isinstance(failed, Failed) and "learning rate too high" in failed.message
    decision = state.run_failed(failed)
    assert decision.model is shipped and decision.message.startswith("Training failed: ")
    assert not decision.hand_over  # no learning weights went live: the one from before still is


def _stop_at_the_first_hand_over(record, control):
    if isinstance(record, Handover):
        control.request_stop()


def test_a_first_run_ended_without_a_scored_model_takes_its_learning_weights_away(shipped, mnist):
    """No model before the run: stopped before its first epoch ended (or failed), the weights it handed over
    must not stay live as if they were a model. It is decided on what the run handed over, not on what is
    live yet (a hand-over may still be on its way to the classifier)."""
    job = job_from_form(form(epochs=1, train_limit=60000), data=str(mnist.root))
    for handed_weights, went_live in ((True, False), (True, True), (False, False)):
        state = AppState()
        state.run_started(job)
        records = run(job, on_record=_stop_at_the_first_hand_over)
        learning = next(r.model for r in records if isinstance(r, Handover)) if handed_weights else None
        if learning is not None:
            state.weights_handed(learning)
            if went_live:
                state.model_went_live(learning)
        decision = state.run_finished(records[-1])
        assert decision.model is None and decision.message == "Stopped before the first epoch ended"
        assert decision.hand_over == handed_weights and state.run is None
    state = AppState()  # with a model before: it goes back live in place of the learning weights
    state.model_went_live(shipped)
    state.run_started(job)
    learning = next(r.model for r in run(job, on_record=_stop_at_the_first_hand_over) if isinstance(r, Handover))
    state.weights_handed(learning)
    state.model_went_live(learning)
    decision = state.run_failed(Failed("out of memory"))
    assert decision.model is shipped and decision.hand_over
    state = AppState()  # the same with the learning weights still on their way: the model from before follows them
    state.model_went_live(shipped)
    state.run_started(job)
    state.weights_handed(learning)
    decision = state.run_failed(Failed("out of memory"))
    assert decision.model is shipped and state.live is shipped and decision.hand_over


def test_missing_mnist_fails_the_run_in_the_windows_words(tmp_path):
    failed = run(job_from_form(form(), data=str(tmp_path)))[-1]
    assert isinstance(failed, Failed) and failed.data_missing


def test_a_run_that_runs_out_of_memory_says_so_in_the_users_words():
    from mnist_draw.gui.tasks.training import failure_reason

    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 40000000000 bytes. Error code 12 (Cannot allocate memory)")
    for exc in (cpu, MemoryError(), RuntimeError("CUDA out of memory. Tried to allocate 38.00 GiB")):
        assert failure_reason(exc).startswith("not enough memory for this network: try fewer or smaller hidden")
    assert failure_reason(ValueError("hidden layer sizes must be between 1 and 100000\nmore")) == \
        "hidden layer sizes must be between 1 and 100000"


def test_time_spent_paused_is_not_counted(mnist):
    job = job_from_form(form(epochs=1, train_limit=3000), data=str(mnist.root))
    paused = []

    def pause_once(record, control):
        if isinstance(record, Progress) and not paused:
            paused.append(time.perf_counter())
            control.pause()
            threading.Timer(1.0, control.resume).start()

    unpaused = run(job)  # the same run without the pause, timed after setup (MNIST read, compiler imported)
    start = time.perf_counter()
    records = run(job, on_record=pause_once)
    wall = time.perf_counter() - start
    epoch = next(r for r in records if isinstance(r, EpochEvent))
    plain = next(r for r in unpaused if isinstance(r, EpochEvent))
    assert wall > 1.0 and epoch.seconds < plain.seconds + 0.5, (epoch.seconds, plain.seconds, wall)  # not + 1 s
    assert records[-1].seconds < unpaused[-1].seconds + 0.5


def test_the_reader_reads_pictures_with_the_newest_model(shipped, mnist):
    reader = LiveReader()
    control = TaskControl()
    live, nothing = reader({"model": shipped}, control)
    assert live is shipped and nothing.pixels is None and nothing.label is None  # nothing drawn yet
    picture = 255 - mnist.test_x[0].numpy()  # dark ink on white paper, as the canvas holds it
    [guess] = reader({"image": (3, picture)}, control)
    assert guess.serial == 3 and guess.label == int(mnist.test_y[0]) and guess.model is shipped
    assert abs(sum(guess.probabilities) - 1) < 1e-5 and len(guess.hidden) == len(shipped.recipe.hidden)
    whole = model_from_state(shipped.recipe, shipped.state)  # the reader's quick way reads as the whole network
    dense = predict(whole, guess.pixels, temperature_of(shipped.metadata))[0].probabilities
    assert max(abs(a - b) for a, b in zip(guess.probabilities, dense)) < 1e-5
    problem, again = reader({"model": "/nowhere/model.safetensors"}, control)
    assert "no such model file" in problem.message and again.model is shipped  # the old model stays
    [empty] = reader({"image": (4, None)}, control)
    assert empty.pixels is None and empty.label is None


def test_mistakes_are_found_once_wanted_and_again_when_mnist_appears(shipped, mnist, tmp_path):
    state = AppState()
    state.model_went_live(shipped)
    assert state.mistakes_to_find() is None  # nobody has looked at the Mistakes tab: MNIST is not read
    state.mistakes_wanted = True
    assert state.mistakes_to_find() is shipped and state.mistakes_to_find() is None  # once per model
    [failed] = find_mistakes({"model": (shipped, str(tmp_path))})
    assert failed.reason.startswith(f"MNIST is not in {tmp_path}")
    assert state.mistakes_found(shipped, failed=True)
    state.mnist_found()
    assert state.mistakes_to_find() is shipped
    [found] = find_mistakes({"model": (shipped, str(mnist.root))})
    assert found.diagnosis.accuracy == pytest.approx(shipped.accuracy) and state.mistakes_found(shipped, False)
    from mnist_draw.model.network import model_from_state
    from mnist_draw.model.predict import predict

    calibrated = dataclasses.replace(shipped, metadata={**shipped.metadata, "temperature": 0.6})
    [found] = find_mistakes({"model": (calibrated, str(mnist.root))})
    d = found.diagnosis
    read = predict(model_from_state(shipped.recipe, shipped.state), mnist.test_x[d.wrong[:5]].numpy() / 255, 0.6)
    assert [p.confidence for p in read] == pytest.approx(d.confidence[:5], abs=1e-5)  # as sure as the window says


def test_a_sample_is_what_the_network_read_of_the_drawing_as_it_is_now(tmp_path, shipped):
    teaching = Teaching(tmp_path / "samples")
    pixels = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    guess = Guess(pixels, 1, 0.9, (0.1,) * 10, shipped, serial=1)
    assert teaching.ask(7, canvas_empty=True, current=None) == NOTHING_TO_SAVE
    assert teaching.ask(7, canvas_empty=False, current=None) == "Saving as a 7 once the network has read the drawing…"
    assert teaching.drawing_changed().startswith("The drawing changed before it could be saved")
    assert teaching.guess_arrived(guess) == "" and teaching.total == 0  # nothing waits any more
    teaching.ask(7, canvas_empty=False, current=None)
    assert teaching.guess_arrived(guess) == "Saved as a 7 (a correction: the network said 1) — 1 sample"
    [saved] = (tmp_path / "samples" / "7").iterdir()
    assert teaching.undo() == "Sample taken back — 0 samples" and not saved.exists()
    assert teaching.undo() == "No sample to take back"

    state = AppState()
    state.model_went_live(shipped)
    state.guess_arrived(guess)
    assert not state.guess_is_current(picture_waiting=False)  # it reads picture 1, none was sent
    state.picture_sent()
    assert state.guess_is_current(picture_waiting=False) and not state.guess_is_current(picture_waiting=True)


def test_a_guess_names_the_units_the_picture_excites_most():
    guess = Guess(np.zeros((28, 28), np.float32), label=3, hidden=(np.array([0.0, 2.0, -1.0, 5.0, 0.5]),))
    assert guess.most_active(2) == [3, 1]
    assert guess.most_active(10) == [3, 1, 4]  # unit 0 (silent) and unit 2 (below zero) are not excited
    assert Guess(None).most_active(3) == [] and Guess(np.zeros((28, 28)), label=3).most_active(3) == []


def test_a_click_on_a_matrix_cell_filters_the_mistakes_and_a_second_click_clears_it():
    from types import SimpleNamespace

    from mnist_draw.gui.state.mistakes import Mistakes, filter_for_cell

    assert filter_for_cell((None, None), 4, 9) == (4, 9)
    assert filter_for_cell((4, 9), 4, 9) == (None, None)
    assert filter_for_cell((4, 9), 4, 4) == (4, None)  # the diagonal: every misread 4
    assert filter_for_cell((4, None), 4, 4) == (None, None)
    found = Mistakes(None, SimpleNamespace(confidence=np.array([0.5, 0.9, 0.7, 0.99])), np.zeros((4, 28, 28)))
    assert found.surest(np.array([0, 2])) == 2 and found.surest(np.array([3, 1])) == 3


def test_the_start_tries_its_models_in_turn_but_never_over_a_model_the_user_chose(shipped):
    from pathlib import Path

    state = AppState()
    state.starting = [Path("asked.safetensors"), Path("last.safetensors"), Path("shipped.safetensors")]
    assert state.next_starting_model() == Path("asked.safetensors")
    assert state.next_starting_model("mine.safetensors", "x") is None  # not the one being tried: the list waits
    assert state.next_starting_model("asked.safetensors", "not a model file") == \
        Path("last.safetensors")
    said = state.model_went_live(shipped)  # the next one in line went live: why the first did not is said too
    assert said.startswith(f"Model {shipped.title} from ") and said.endswith(
        " (asked.safetensors could not be used: not a model file)")
    assert state.next_starting_model("last.safetensors") is None and state.starting == []  # one is live: done

    state = AppState()
    state.starting = [Path("asked.safetensors"), Path("shipped.safetensors")]
    assert state.next_starting_model() == Path("asked.safetensors")
    state.model_chosen("good.safetensors")  # the user loads a file while the first is still on its way
    assert state.next_starting_model("asked.safetensors", "x") is None  # the shipped one must not replace it
    state.model_chosen("missing.safetensors")  # ...but if the user's file cannot be used either, the list goes on
    assert state.next_starting_model("missing.safetensors", "no such file") == Path("shipped.safetensors")


def test_what_a_runs_end_says_stays_and_a_model_picked_again_is_named(shipped, mnist):
    state = AppState()
    state.model_went_live(shipped)
    job = job_from_form(form(epochs=1, train_limit=60000), data=str(mnist.root))
    state.run_started(job)
    learning = next(r.model for r in run(job, on_record=_stop_at_the_first_hand_over) if isinstance(r, Handover))
    state.weights_handed(learning)
    state.model_went_live(learning)
    decision = state.run_finished(Outcome(None, True, 0, 1, None, 1.0, job.seed))
    assert decision.hand_over and decision.message == f"Stopped before the first epoch ended: {shipped.title} is live again"
    state.model_went_live(learning)  # weights handed over just before the stop may arrive after it
    assert state.model_went_live(decision.model) == ""  # not "Model ... from ...", over the stop's message
    trained = LiveModel(preset("seed002"), learning.state, "seed002", 0.9, {"epochs_trained": 1})
    assert state.model_went_live(trained) == f"{trained.title} is live"  # picked from the Models menu


def test_a_seed_drawn_anywhere_fits_the_windows_seed_field():
    """mnist-train and the training loop draw seeds that the window's Seed field takes (a 63-bit one did not)."""
    from mnist_draw.gui.state.run import SEED_RANGE, parse_seed
    from mnist_draw.trainer.randomness import fresh_seed

    drawn = [fresh_seed() for _ in range(200)]
    assert all(0 <= s < SEED_RANGE for s in drawn) and len(set(drawn)) > 190
    assert parse_seed(str(max(drawn))) == (max(drawn), True)
