"""Bad files, missing data and interrupted work never crash the command line or lose a model.

Each case runs the real code (mostly the real command line, in a subprocess) and checks what a user
gets: a one-line message, the documented exit status, and files that are still intact.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _support import ROOT, run_cli, session_mnist
from mnist_draw.model.files import load_model, save_model
from mnist_draw.model.network import build_model
from mnist_draw.model.recipe import preset


def _one_line_error(proc):
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines, "no message at all"
    return lines


# ------------------------------------------------------------------------------------------ images


@pytest.fixture
def odd_images(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.new("L", (1, 1), 0).save(d / "one-pixel.png")
    Image.new("L", (64, 64), 255).save(d / "blank.png")
    Image.new("L", (64, 64), 0).save(d / "black.png")
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[30:170, 95:105, 3] = 255  # a "1" on a transparent background
    Image.fromarray(rgba, "RGBA").save(d / "alpha-one.png")
    sixteen = np.full((200, 200), 65535, np.uint16)
    sixteen[30:170, 95:105] = 0
    Image.fromarray(sixteen).save(d / "sixteen-bit-one.png")
    (d / "text.png").write_text("this is not an image")
    (d / "truncated.png").write_bytes((d / "alpha-one.png").read_bytes()[:200])
    Image.new("1", (20000, 20000), 1).save(d / "huge.png")
    return d


def test_classify_survives_odd_images(odd_images, small_model_file):
    names = ["one-pixel", "blank", "black", "alpha-one", "sixteen-bit-one", "text", "truncated", "huge"]
    files = [str(odd_images / f"{n}.png") for n in names]
    proc = run_cli("-m", "mnist_draw.cli", "classify", "--json", "--model", str(small_model_file), *files)
    assert proc.returncode == 1
    import json

    records = {Path(r["file"]).stem: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(records) == {"one-pixel", "blank", "black", "alpha-one", "sixteen-bit-one"}
    assert records["blank"]["label"] is None and records["black"]["label"] is None
    assert records["one-pixel"]["label"] is None  # a single uniform pixel has no ink against its paper
    assert records["alpha-one"]["label"] == 1 and records["sixteen-bit-one"]["label"] == 1
    errors = _one_line_error(proc)
    assert len(errors) == 3
    assert any("text.png" in e and "not an image" in e for e in errors)
    assert any("truncated.png" in e for e in errors)
    assert any("huge.png" in e and "too large" in e for e in errors)


def test_huge_image_is_refused_within_a_memory_bound(odd_images):
    code = ("import sys\n"
            "from mnist_draw.preprocess import load_image, ImageError\n"
            "try:\n    load_image(sys.argv[1])\nexcept ImageError as e:\n    print(e)\n"
            "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])\n")
    proc = run_cli("-c", code, str(odd_images / "huge.png"))
    message, peak_kb = proc.stdout.strip().splitlines()
    assert "too large" in message
    assert int(peak_kb) < 400_000  # decoding 20000x20000 would need 400 MB even at one byte a pixel


# ------------------------------------------------------------------------------------------ data


def test_the_test_session_finds_mnist_as_the_readme_says(mnist, tmp_path, monkeypatch):
    """The README's test command on a fresh machine: $MNIST_DRAW_DATA, else a shared copy, else the per-user
    cache, where MNIST is downloaded on first need; nowhere and no network: DataError, one line."""
    from torchvision.datasets import MNIST

    from mnist_draw.trainer.data import RAW_FILES, DataError

    assert session_mnist(env := {"MNIST_DRAW_DATA": "/mine"}, tmp_path) is None and env["MNIST_DRAW_DATA"] == "/mine"
    session_mnist(env := {}, tmp_path)
    assert env["MNIST_DRAW_DATA"] == str(tmp_path)  # the shared copy
    monkeypatch.delenv("MNIST_DRAW_DATA")
    monkeypatch.setenv("MNIST_DRAW_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])  # nothing listens there: like having no network
    with pytest.raises(DataError, match="could not download MNIST into .*127.0.0.1:9: the connection was refused"):
        session_mnist({}, tmp_path / "none")
    raw = tmp_path / "home" / "cache" / "mnist" / "MNIST" / "raw"  # downloaded before: found there
    for name in RAW_FILES:
        (raw / name).unlink(missing_ok=True)
        (raw / name).symlink_to(mnist.root / "MNIST" / "raw" / name)
    session_mnist(env := {}, tmp_path / "none")
    assert env["MNIST_DRAW_DATA"] == str(raw.parent.parent)


def test_no_network_gives_a_clear_error(tmp_path):
    code = ("import sys\n"
            "from torchvision.datasets import MNIST\n"
            "MNIST.mirrors = ['http://127.0.0.1:9/']  # nothing listens there: like having no network\n"
            "from mnist_draw.trainer.cli import main\n"
            "sys.exit(main(['--data', sys.argv[1], '--epochs', '1']))\n")
    proc = run_cli("-c", code, str(tmp_path / "cache"))
    assert proc.returncode == 2
    lines = _one_line_error(proc)
    assert "could not download MNIST" in lines[-1] and "--data" in lines[-1] and "MNIST_DRAW_DATA" in lines[-1]
    assert "127.0.0.1:9: the connection was refused" in lines[-1]  # what failed, not an empty reason
    assert lines[-1].startswith("mnist-train: error:") and len(lines) == 1
    assert proc.stdout == ""


def test_download_failures_say_what_failed():
    import errno
    import socket
    import ssl
    from urllib.error import HTTPError, URLError

    from mnist_draw.trainer.data import download_failure

    cases = {
        URLError(socket.gaierror(-3, "Temporary failure in name resolution")): "no network",
        URLError(ConnectionRefusedError(111, "Connection refused")): "connection was refused",
        URLError(TimeoutError("timed out")): "no answer within",
        TimeoutError("The read operation timed out"): "no answer within",  # in the middle of a download
        URLError(OSError(errno.ENETUNREACH, "Network is unreachable")): "network is unreachable",
        URLError(OSError("Tunnel connection failed: 403 Forbidden")): "proxy refused",
        HTTPError("http://x/", 407, "Proxy Authentication Required", {}, None): "proxy asks",
        HTTPError("http://x/", 404, "Not Found", {}, None): "HTTP 404 Not Found",
        URLError(ssl.SSLCertVerificationError("certificate verify failed")): "proxy or firewall",
        RuntimeError("File not found or corrupted."): "damaged",
    }
    for exc, words in cases.items():
        assert words in download_failure(exc), (exc, download_failure(exc))


def test_a_proxy_is_named_when_it_is_in_the_way(monkeypatch):
    from urllib.error import URLError

    from mnist_draw.trainer.data import download_failure

    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert "through the proxy http://proxy.example:3128" in download_failure(URLError(ConnectionRefusedError()))


def _without_root_powers(*args):
    """Run python with file permissions enforced: root normally ignores them, so drop those powers."""
    prefix = []
    if os.getuid() == 0:
        powers = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={powers}", f"--inh-caps={powers}", "--"]
    return subprocess.run([*prefix, sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_read_only_cache_folder_gives_a_clear_error(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o555)
    proc = _without_root_powers("-m", "mnist_draw.trainer.cli", "--data", str(cache / "mnist"), "--epochs", "1")
    assert proc.returncode == 2
    assert "could not download MNIST" in _one_line_error(proc)[-1]
    assert list(cache.iterdir()) == []


# -------------------------------------------------------------------------------------- interruptions


def test_sigterm_during_training_writes_nothing_and_keeps_the_old_model(tmp_path):
    out = tmp_path / "model.safetensors"
    save_model(out, build_model(preset("linear"), seed=0))
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "mnist_draw.trainer.cli", "--preset", "seed002", "--no-download", "--json",
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first_epoch = proc.stdout.readline()  # wait until it is really training
    assert '"epoch": 1' in first_epoch
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "nothing was saved" in stderr and "Traceback" not in stderr
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


SLOW_DISK = """
import os, sys, time
real_fsync = os.fsync
def slow_fsync(fd):  # a slow disk: the save takes seconds, long enough to be interrupted in the middle
    print("saving", flush=True)
    time.sleep(2)
    real_fsync(fd)
os.fsync = slow_fsync
from mnist_draw.trainer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_during_the_save_finishes_the_save_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "model.safetensors"
    save_model(out, build_model(preset("linear"), seed=0))
    before = out.read_bytes()
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DISK, "--preset", "seed002", "--epochs", "1",
                             "--train-limit", "2000", "--no-download", "--json", "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    assert '"epoch": 1' in lines[0] and lines[1] == "saving\n", lines
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "SIGTERM came during the save; the save was finished first" in stderr and "Traceback" not in stderr
    assert out.read_bytes() != before
    assert load_model(out).recipe.hidden == preset("seed002").hidden  # the whole new model, not a part
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_a_full_disk_during_save_keeps_the_old_model(tmp_path):
    out = tmp_path / "model.safetensors"
    save_model(out, build_model(preset("linear"), seed=0))
    before = out.read_bytes()
    # The file-size limit makes the write fail half-way, as a full disk does (EFBIG instead of ENOSPC).
    code = ("import resource, signal, sys\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
            "from mnist_draw.trainer.cli import main\n"
            "sys.exit(main(['--preset', 'seed002', '--epochs', '1', '--train-limit', '640', '--no-download',"
            " '--out', sys.argv[1]]))\n")
    proc = run_cli("-c", code, str(out))
    assert proc.returncode == 1
    assert "could not save the model" in _one_line_error(proc)[-1]
    assert out.read_bytes() == before and load_model(out).recipe.name == "linear"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_permission_denied_on_save_is_a_clear_error(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    proc = _without_root_powers("-m", "mnist_draw.trainer.cli", "--preset", "seed002", "--epochs", "1", "--train-limit", "640",
                                "--no-download", "--out", str(locked / "m.safetensors"))
    assert proc.returncode == 2  # refused before training: a run is not lost to a folder it cannot save in
    assert f"cannot save the model to {locked / 'm.safetensors'}: the folder {locked} cannot be written" in \
        _one_line_error(proc)[-1]
    assert list(locked.iterdir()) == []


# ----------------------------------------------------------------------------------------- devices


def test_cuda_failing_during_a_run_goes_on_on_the_cpu_and_says_so(mnist, monkeypatch):
    """Without a GPU, CUDA fails at the run's first touch of it (a real failure: no driver); with one,
    a failure is injected at the start of the second epoch, as a driver reset would cause. Either way
    the run finishes on the CPU, says so once, and loses no finished epoch."""
    import torch

    from mnist_draw.trainer import loop

    run = loop.TrainingRun(preset("seed002").replace(epochs=2), mnist, device=torch.device("cuda"), seed=0,
                           train_limit=3000)
    if torch.cuda.is_available():  # seed002 replays its steps from a CUDA graph: inject there and in eager
        from mnist_draw.trainer import fast

        def failing(real):
            def train_one_epoch(*args, **kwargs):
                if run.device.type == "cuda" and run._saved is not None:
                    raise RuntimeError("CUDA error: an illegal memory access was encountered (injected)")
                yield from real(*args, **kwargs)
            return train_one_epoch

        monkeypatch.setattr(loop, "train_one_epoch", failing(loop.train_one_epoch))
        monkeypatch.setattr(fast.GraphedSteps, "train_one_epoch", failing(fast.GraphedSteps.train_one_epoch))
    events = list(run)
    moves = [e for e in events if isinstance(e, loop.DeviceEvent)]
    assert len(moves) == 1, moves
    assert moves[0].message.startswith("CUDA failed (") and "training goes on on the CPU" in moves[0].message
    assert "\n" not in moves[0].message
    assert run.result.device.type == "cpu" and next(run.result.model.parameters()).device.type == "cpu"
    assert [e.epoch for e in events if isinstance(e, loop.EpochEvent)] == [1, 2]
    assert [e.epoch for e in run.result.history] == [1, 2]
    assert run.result.test_accuracy > 0.8


def test_the_recovery_path_runs_on_the_cpu_with_a_fake_device_failure(mnist, monkeypatch):
    """A CPU run told to keep its end-of-epoch snapshots meets a "CUDA error" in the middle of epoch 2:
    it goes back to the end of epoch 1, keeps that epoch's history, and finishes exactly as a run that
    never failed (the generators of each epoch come from the seed, so epoch 2 is drawn again alike)."""
    import torch

    from mnist_draw.trainer import loop

    recipe = preset("seed002").replace(epochs=3)
    real, calls = loop.train_one_epoch, []

    def failing(*args, **kwargs):
        calls.append(1)
        for i, item in enumerate(real(*args, **kwargs)):
            if len(calls) == 2 and i == 3:
                raise RuntimeError("CUDA error: an illegal memory access was encountered (injected)")
            yield item

    monkeypatch.setattr(loop, "train_one_epoch", failing)
    run = loop.TrainingRun(recipe, mnist, device="cpu", seed=0, train_limit=1280, snapshots=True)
    events = list(run)
    monkeypatch.setattr(loop, "train_one_epoch", real)
    moves = [e for e in events if isinstance(e, loop.DeviceEvent)]
    assert len(moves) == 1 and moves[0].message.endswith("training goes on on the CPU, from the end of epoch 1")
    assert [e.epoch for e in events if isinstance(e, loop.EpochEvent)] == [1, 2, 3]
    batches = [(e.epoch, e.step) for e in events if isinstance(e, loop.BatchEvent)]
    assert batches[20:25] == [(2, 21), (2, 22), (2, 23), (2, 21), (2, 22)]  # epoch 2 again, from its start
    assert [e.epoch for e in run.result.history] == [1, 2, 3] and not run.result.cancelled
    never_failed = loop.fit(recipe, mnist, device="cpu", seed=0, train_limit=1280)
    assert all(torch.equal(p, q) for p, q in zip(run.result.model.parameters(), never_failed.model.parameters()))
    same = lambda history: [(e.epoch, e.train_loss, e.test_accuracy) for e in history]
    assert same(run.result.history) == same(never_failed.history)


def test_a_second_device_failure_is_not_hidden(mnist, monkeypatch):
    from mnist_draw.trainer import loop

    def always_failing(*args, **kwargs):
        raise RuntimeError("CUDA error: unspecified launch failure (injected)")
        yield

    monkeypatch.setattr(loop, "train_one_epoch", always_failing)
    run = loop.TrainingRun(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=0, train_limit=640,
                           snapshots=True)
    with pytest.raises(RuntimeError, match="unspecified launch failure"):
        list(run)


def test_only_gpu_failures_are_taken_for_gpu_failures():
    import torch

    from mnist_draw.trainer.devices import is_device_failure
    from mnist_draw.trainer.loop import TrainingDiverged

    assert is_device_failure(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_device_failure(RuntimeError("CUDA error: unspecified launch failure"))
    assert not is_device_failure(TrainingDiverged("the loss became nan at step 3: learning rate too high"))
    assert not is_device_failure(ValueError("hidden sizes must be positive"))
    assert not is_device_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied (64x784 and 100x10)"))
