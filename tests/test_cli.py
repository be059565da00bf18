"""The command lines, as other tools use them: exact output forms, exit statuses, one-line errors."""

import json
import os
import time

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from _support import ROOT, run_cli, with_its_reader_gone


def _assert_one_line_error(proc):
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert lines and "error" in lines[-1]


def test_mnist_train_json_prints_one_object_per_epoch_and_saves(tmp_path):
    out = tmp_path / "m.safetensors"
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--preset", "seed002", "--epochs", "2", "--train-limit", "3000",
                   "--seed", "0", "--threads", "1", "--no-download", "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for i, line in enumerate(lines, 1):
        record = json.loads(line)
        assert set(record) == {"epoch", "train_loss", "test_accuracy", "seconds"}
        assert record["epoch"] == i and 0.5 < record["test_accuracy"] <= 1
    assert out.is_file()
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--evaluate", str(out), "--no-download")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"test_accuracy {json.loads(lines[-1])['test_accuracy']:.4f}"


def test_mnist_train_overrides_make_the_recipe(tmp_path):
    out = tmp_path / "m.safetensors"
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--preset", "seed002", "--epochs", "1", "--train-limit", "1000",
                   "--hidden", "32,16", "--activation", "sigmoid", "--optimizer", "adam", "--lr", "0.01",
                   "--batch-size", "100", "--loss", "mse", "--typefaces", "0.1", "--no-download", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "epoch 1/1" in proc.stdout
    from mnist_draw.model.files import load_model

    r = load_model(out).recipe
    assert (r.hidden, r.activation, r.optimizer, r.lr, r.batch_size, r.loss) == ((32, 16), "sigmoid", "adam", 0.01, 100, "mse")
    assert r.typefaces == 0.1


def test_mnist_train_evaluates_the_shipped_model_by_default():
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--evaluate", "--no-download")
    assert proc.returncode == 0, proc.stderr
    name, value = proc.stdout.split()
    assert name == "test_accuracy" and float(value) >= 0.985


@pytest.mark.parametrize("args, code", [
    (["--lr", "-1"], 2), (["--optimizer", "lbfgs"], 2), (["--hidden", "a,b"], 2), (["--device", "tpu"], 2),
    (["--threads", "0"], 2), (["--typefaces", "2"], 2), (["--outliers", "9"], 2), (["--schedule", "step"], 2),
    (["--loss", "mse", "--label-smoothing", "0.1"], 2),
])
def test_mnist_train_bad_arguments(args, code):
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--no-download", *args)
    assert proc.returncode == code
    _assert_one_line_error(proc)


@pytest.mark.parametrize("args, says", [
    (["--train-limit", "0"], "--train-limit must be 1 or more"),
    (["--dist-timeout", "-1"], "--dist-timeout must be a positive number"),
    (["--init", "m.safetensors"], "without --samples it does nothing"),
    (["--evaluate", "--epochs", "3", "--out", "m.safetensors"], "--evaluate only reads a model; --epochs, --out would do nothing"),
    (["--samples", "no-such-folder"], "--samples no-such-folder: no such folder"),
    (["--out", ""], "--out needs a file name"),
    (["--out", "photo.png"], "cannot save the model to photo.png: a file that is not a model is there"),
    (["--out", "pipe"], "cannot save the model to pipe: it is a device or other special file"),
    (["--out", "photo.png/m.safetensors"], "a file stands where its folder should be"),
])
def test_mnist_train_refuses_what_would_be_ignored_or_lost_before_it_trains(args, says, tmp_path, monkeypatch, capsys):
    """Options that would do nothing, and an --out that cannot be saved to, are one usage error before any
    training (a bad --out used to cost the whole run, or replace what was there)."""
    from mnist_draw.trainer.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "photo.png").write_bytes(b"my holiday")
    os.mkfifo(tmp_path / "pipe")
    started = time.perf_counter()
    assert main(["--preset", "seed002", "--no-download", "--threads", "1", *args]) == 2
    assert time.perf_counter() - started < 5  # refused before training, not after
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mnist-train: error: ") and says in err, err
    assert (tmp_path / "photo.png").read_bytes() == b"my holiday" and sorted(p.name for p in tmp_path.iterdir()) == ["photo.png", "pipe"]


def test_mnist_train_without_data_names_both_ways(tmp_path):
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--data", str(tmp_path), "--no-download", "--epochs", "1")
    assert proc.returncode == 2
    _assert_one_line_error(proc)
    assert "--data" in proc.stderr and "MNIST_DRAW_DATA" in proc.stderr
    assert proc.stderr.rstrip().endswith("or leave out --no-download to download it")


def test_mnist_train_diverging_loss_is_a_clear_failure(tmp_path):
    proc = run_cli("-m", "mnist_draw.trainer.cli", "--preset", "seed001", "--lr", "1000000", "--momentum", "0",
                   "--train-limit", "5000", "--no-download", "--out", str(tmp_path / "m.safetensors"))
    assert proc.returncode == 1
    assert "learning rate too high" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "m.safetensors").exists()


@pytest.fixture
def digit_files(tmp_path, mnist):
    paths = {}
    for index in (0, 1, 2):  # MNIST test digits 7, 2, 1, saved as black ink on white paper
        label = int(mnist.test_y[index])
        img = 255 - np.kron(mnist.test_x[index].numpy(), np.ones((6, 6), np.uint8))
        paths[label] = tmp_path / f"digit{label}.png"
        Image.fromarray(img).save(paths[label])
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    return paths, blank, bad


def test_classify_json(digit_files, small_model_file):
    paths, blank, bad = digit_files
    files = [str(p) for p in paths.values()]
    proc = run_cli("-m", "mnist_draw.cli", "classify", "--model", str(small_model_file), "--json", *files,
                   str(blank), str(bad))
    assert proc.returncode == 1  # one bad file; the others are still classified
    records = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [r["file"] for r in records] == files + [str(blank)]
    for (label, _), record in zip(paths.items(), records):
        assert record["label"] == label
        assert len(record["probabilities"]) == 10 and abs(sum(record["probabilities"]) - 1) < 1e-4
        assert record["confidence"] == max(record["probabilities"])
    assert records[-1]["label"] is None and records[-1]["sure"] is False
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr and "Traceback" not in proc.stderr
    from mnist_draw.verdict import verdict

    for record in records[:-1]:  # "sure" is the window's rule, applied to the probabilities printed
        v = verdict(record["probabilities"])
        assert record["sure"] is v.sure and record["verdict"] == v.kind
        assert record["text"] == ("sure" if v.sure else v.text)


def test_classify_says_sure_or_not_with_the_shipped_model(digit_files, tmp_path):
    paths, _, _ = digit_files
    dash = tmp_path / "dash.png"
    im = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(im).line([(60, 150), (220, 130)], fill=0, width=23)  # a dash with the default pen
    im.save(dash)
    proc = run_cli("-m", "mnist_draw.cli", "classify", "--json", str(paths[7]), str(dash))
    assert proc.returncode == 0, proc.stderr
    seven, not_a_digit = (json.loads(line) for line in proc.stdout.splitlines())
    assert (seven["label"], seven["sure"], seven["verdict"]) == (7, True, "digit")
    assert not_a_digit["sure"] is False and not_a_digit["verdict"] in ("not sure", "not a digit")
    proc = run_cli("-m", "mnist_draw.cli", "classify", str(paths[7]), str(dash))
    first, second = proc.stdout.strip().splitlines()
    assert first.startswith(f"{paths[7]}: 7 (") and first.endswith(", sure")
    assert second.startswith(f"{dash}: ") and second.endswith(("not a digit", "%)")) and ", sure" not in second


def test_a_model_whose_outputs_overflow_is_refused_and_nothing_non_finite_is_printed(digit_files, small_model,
                                                                                    tmp_path):
    from mnist_draw.model.files import save_model
    from mnist_draw.model.network import copy_state, model_from_state

    paths, _, _ = digit_files
    state = {k: v * 1e30 for k, v in copy_state(small_model.model).items()}  # finite weights, right shapes
    overflow = tmp_path / "overflow.safetensors"
    save_model(overflow, model_from_state(small_model.recipe, state))
    for extra in ([], ["--json"]):
        proc = run_cli("-m", "mnist_draw.cli", "classify", "--model", str(overflow), *extra, str(paths[7]))
        assert proc.returncode == 2 and proc.stdout == ""
        _assert_one_line_error(proc)
        assert proc.stderr.startswith("mnist-draw: error:") and "not finite" in proc.stderr


@pytest.mark.parametrize("args", [["classify"], ["classify", "--bogus", "x.png"], ["--bogus"],
                                  ["classify", "--model", "/nonexistent.safetensors", "x.png"], ["classify", "nothing.png"]])
def test_every_error_line_of_mnist_draw_starts_the_same_way(args):
    proc = run_cli("-m", "mnist_draw.cli", *args)
    assert proc.returncode in (1, 2)
    _assert_one_line_error(proc)
    assert proc.stderr.startswith("mnist-draw: error: ")


def test_mnist_draw_help_names_the_classify_command():
    proc = run_cli("-m", "mnist_draw.cli", "--help")
    assert proc.returncode == 0
    assert "mnist-draw classify" in proc.stdout and "sure" in proc.stdout


def test_classify_plain_output_with_the_shipped_model(digit_files):
    paths, blank, _ = digit_files
    proc = run_cli("-m", "mnist_draw.cli", "classify", str(paths[7]), str(blank))
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.strip().splitlines()
    assert first.startswith(f"{paths[7]}: 7 (") and first.endswith(", sure")
    assert "no ink" in second


def test_classify_with_an_unusable_model_exits_2(digit_files, tmp_path):
    paths, _, _ = digit_files
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 100)
    proc = run_cli("-m", "mnist_draw.cli", "classify", "--model", str(broken), str(paths[7]))
    assert proc.returncode == 2 and proc.stdout == ""
    _assert_one_line_error(proc)
    assert str(broken) in proc.stderr


def test_mnist_train_says_1_epoch_and_keeps_a_presets_name_when_only_its_length_changes(tmp_path, capsys):
    from mnist_draw.model.files import load_model
    from mnist_draw.trainer.cli import build_parser, main, recipe_from_args

    parse = lambda *args: recipe_from_args(build_parser().parse_args(["--preset", "seed002", *args]))
    assert parse("--epochs", "3").name == "seed002" and parse("--epochs", "3").epochs == 3
    assert parse("--max-steps", "100").name == "seed002"
    assert parse("--epochs", "3", "--lr", "0.1").name == "seed002-custom"
    every = parse("--outliers", "0.25", "--label-smoothing", "0.1", "--schedule", "cosine")
    assert (every.outliers, every.label_smoothing, every.schedule) == (0.25, 0.1, "cosine")
    squared = recipe_from_args(build_parser().parse_args(["--loss", "mse"]))  # the default recipe smooths its labels
    assert (squared.loss, squared.label_smoothing, squared.outliers) == ("mse", 0.0, 0.5)
    out = tmp_path / "m.safetensors"
    code = main(["--preset", "seed002", "--epochs", "1", "--train-limit", "640", "--seed", "0", "--no-download",
                 "--threads", "1", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "batch 64, 1 epoch on cpu" in err and "1 epochs" not in err
    assert load_model(out).recipe.name == "seed002"


def test_mnist_train_says_and_records_the_seed_it_drew_and_that_seed_repeats_the_run(tmp_path, capsys):
    """Without --seed a run draws one; it is said and the model file records it (and how many training digits
    it had), so the run can be repeated."""
    from mnist_draw.model.files import load_model
    from mnist_draw.trainer.cli import main

    common = ["--preset", "seed002", "--epochs", "1", "--train-limit", "640", "--no-download", "--threads", "1"]
    assert main([*common, "--out", str(tmp_path / "drawn.safetensors")]) == 0
    drawn = load_model(tmp_path / "drawn.safetensors")
    seed = drawn.metadata["seed"]
    assert isinstance(seed, int) and drawn.metadata["train_limit"] == 640
    assert f"seed {seed} (drawn at random: --seed {seed} repeats this run)" in capsys.readouterr().err
    assert main([*common, "--seed", str(seed), "--out", str(tmp_path / "again.safetensors")]) == 0
    again = load_model(tmp_path / "again.safetensors")
    assert again.metadata["seed"] == seed
    assert all(torch.equal(a, b) for a, b in zip(drawn.model.state_dict().values(), again.model.state_dict().values()))


def _sigterm_in_the_third_batch(monkeypatch):
    import os
    import signal

    from mnist_draw.trainer import loop

    real = loop.train_one_epoch

    def interrupted(*args, **kwargs):
        for i, item in enumerate(real(*args, **kwargs)):
            if i == 2:
                os.kill(os.getpid(), signal.SIGTERM)
            yield item

    monkeypatch.setattr(loop, "train_one_epoch", interrupted)


@pytest.mark.parametrize("case, args, code", [
    ("saved", ["--preset", "seed002", "--epochs", "1", "--train-limit", "640"], 0),
    ("diverged", ["--preset", "seed001", "--lr", "1000000", "--momentum", "0", "--train-limit", "5000"], 1),
    ("stopped", ["--preset", "seed002", "--epochs", "1", "--train-limit", "640"], 130),
    ("no data", ["--data", "/nonexistent", "--epochs", "1"], 2),
    ("no samples", ["--samples", "/nonexistent"], 2),
])
def test_mnist_train_puts_the_sigterm_handler_back_on_every_way_out(case, args, code, tmp_path, monkeypatch):
    import signal

    import torch

    from mnist_draw.trainer.cli import main

    if case == "stopped":
        _sigterm_in_the_third_batch(monkeypatch)
    mine = lambda signum, frame: None
    previous = signal.signal(signal.SIGTERM, mine)
    threads = torch.get_num_threads()
    try:
        assert main([*args, "--no-download", "--threads", "1", "--out", str(tmp_path / "m.safetensors")]) == code
        assert signal.getsignal(signal.SIGTERM) is mine
        assert torch.get_num_threads() == threads  # the thread count is the process's: put back as well
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_classify_stops_quietly_when_its_reader_goes_away(digit_files):
    paths, _, _ = digit_files
    proc = with_its_reader_gone("-m", "mnist_draw.cli", "classify", *(str(p) for p in paths.values()))
    assert (proc.returncode, proc.stderr) == (141, "")  # as `... | head` ends other tools: no traceback


def test_mnist_train_stops_and_writes_nothing_when_its_reader_goes_away(tmp_path):
    out = tmp_path / "m.safetensors"
    proc = with_its_reader_gone("-m", "mnist_draw.trainer.cli", "--preset", "seed002", "--epochs", "2", "--json",
                                "--train-limit", "1000", "--threads", "1", "--no-download", "--out", str(out))
    assert proc.returncode == 141
    assert "Traceback" not in proc.stderr and "broken pipe" in proc.stderr.strip().splitlines()[-1]
    assert not out.exists()


def test_classify_reads_folders_and_patterns_the_shell_left(digit_files, tmp_path):
    paths, _, _ = digit_files
    folder = tmp_path / "mine"
    for label, path in paths.items():  # a folder per digit, as saved drawings are kept
        (folder / str(label)).mkdir(parents=True)
        (folder / str(label) / path.name).write_bytes(path.read_bytes())
    (folder / "notes.txt").write_text("not a picture: left alone")
    (tmp_path / "empty").mkdir()
    proc = run_cli("-m", "mnist_draw.cli", "classify", "--json", str(folder), str(tmp_path / "digit*.png"),
                   str(tmp_path / "empty"), str(tmp_path / "none*.png"))
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    in_folder = sorted(str(folder / str(label) / path.name) for label, path in paths.items())
    assert [r["file"] for r in records] == in_folder + sorted(str(p) for p in paths.values())
    assert [r["label"] for r in records[:3]] == [int(os.path.basename(os.path.dirname(f))) for f in in_folder]
    assert proc.returncode == 1  # the empty folder and the pattern that matches nothing, each said in a line
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and "no pictures" in errors[0] and "no file matches" in errors[1]
    assert all(line.startswith("mnist-draw: error: ") for line in errors)


@pytest.mark.parametrize("args, says", [
    (["scripts/eval-drawn", "--bogus"], "eval-drawn: error: unrecognized arguments: --bogus"),
    (["benchmarks/live_path.py", "--runs", "0"], "live_path.py: error: argument --runs: expected 1 or more, got 0"),
    (["scripts/try-recipe", "--preset", "seed002", "--set", "epochs=1.5"], "try-recipe: error: epochs must be a whole number"),
    (["scripts/try-recipe", "--preset", "seed002", "--set", "epochs=1", "--out", "photo.png"],
     "try-recipe: error: cannot save the model to photo.png: a file that is not a model is there"),
    (["scripts/make-non-digits", "--seed", "5", "--out", "photo.png/non-digits"], "make-non-digits: error: "),
    (["benchmarks/presets.py", "--device", "tpu"], "presets.py: error: argument --device: invalid choice: 'tpu'"),
    (["benchmarks/idle_memory.py", "--bogus"], "idle_memory.py: error: unrecognized arguments: --bogus"),
])
def test_scripts_and_benchmarks_refuse_bad_input_in_one_line(args, says, tmp_path):
    """argparse's usage block, a TypeError from a recipe field of the wrong kind, a model trained and then
    lost to an --out it could not be saved to, an OSError from an output folder: each is now one line."""
    (tmp_path / "photo.png").write_bytes(b"my holiday")
    script, *rest = args
    proc = run_cli(str(ROOT / script), *[a.replace("photo.png", str(tmp_path / "photo.png")) for a in rest], timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode in (1, 2) and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(says.replace("photo.png", str(tmp_path / "photo.png"))), lines[0]
    assert (tmp_path / "photo.png").read_bytes() == b"my holiday" and len(list(tmp_path.iterdir())) == 1


def test_a_script_started_by_a_python_without_the_project_runs_with_the_checkouts_venv(tmp_path):
    """`scripts/NAME` starts with whatever python3 comes first on the PATH: one without PyTorch gave a
    traceback, one running another checkout's mnist_draw mixed the two. Now the script starts again with the
    checkout's .venv/bin/python, or, with none, says what to do in one line. (A checkout of its own: a copy of
    scriptfiles, a stand-in mnist_draw, a venv that is this test's python with the checkout on its path;
    `python -S` stands for a python without PyTorch.)"""
    import shutil
    import stat
    import subprocess
    import sys

    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    (checkout / "mnist_draw").mkdir()
    (checkout / "mnist_draw" / "__init__.py").write_text("")
    shutil.copy(ROOT / "scripts" / "scriptfiles.py", checkout / "scripts")
    (checkout / "scripts" / "hello").write_text("import scriptfiles\nscriptfiles.with_the_projects_python()\n"
                                                "import sys, torch, mnist_draw\nprint(mnist_draw.__file__)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("MNIST_DRAW_SCRIPT_AGAIN", "PYTHONPATH")}
    run = lambda *python: subprocess.run([*python, str(checkout / "scripts" / "hello")], capture_output=True,
                                         text=True, timeout=120, env=env)
    for python, says in (([sys.executable, "-S"], "torch is not installed for "),
                         ([sys.executable], f"{sys.executable} runs mnist_draw from {ROOT / 'mnist_draw'}, not from "
                                            f"this checkout ({checkout})")):
        proc = run(*python)
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith(f"hello: error: {says}") and "pip install -e" in proc.stderr, proc.stderr

    python = checkout / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f"#!/bin/sh\nPYTHONPATH={checkout} exec {sys.executable} \"$@\"\n")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    for starter in ([sys.executable, "-S"], [sys.executable]):
        proc = run(*starter)
        assert proc.returncode == 0 and proc.stdout == f"{checkout / 'mnist_draw' / '__init__.py'}\n", proc.stderr


@pytest.mark.parametrize("script", ["scripts/make-drawn-digits", "scripts/try-recipe", "scripts/screenshot",
                                    "benchmarks/train_speed.py", "benchmarks/presets.py", "benchmarks/gui_training.py"])
def test_the_scripts_that_need_mnist_say_in_one_line_that_it_is_missing(script, tmp_path):
    """No traceback and, for the two that open the window, no Qt warning about a thread left running (the
    screenshot script used to wait two minutes for a plot and abort so): one line that names where MNIST
    was looked for, a failing status, and nothing written."""
    out = tmp_path / "out"
    extra = {"scripts/make-drawn-digits": ["--out", str(out)],
             "scripts/screenshot": ["--out", str(out / "screenshot.png")]}.get(script, [])
    proc = run_cli(script, "--data", str(tmp_path), *extra, timeout=180,
                   env={"MNIST_DRAW_DATA": str(tmp_path), "QT_QPA_PLATFORM": "offscreen", "XVFB_CHILD": "1"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert "MNIST" in lines[0] and str(tmp_path) in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()
