"""mnist-train under torchrun: several processes train one model, as one process would, and a process that
fails does not leave the others waiting for ever. Real processes on the CPU (gloo), real MNIST."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from _support import ROOT
from mnist_draw.model.recipe import preset
from mnist_draw.trainer.distributed import World, batch_share, shard, share_size

TRAIN = ["--preset", "seed002", "--train-limit", "6000", "--seed", "0", "--threads", "1", "--no-download"]

# A process that breaks in the middle of its first epoch: rank 1 crashes (or, with HANG set, stops answering).
BREAKING = """
import os, sys, time
from mnist_draw.trainer import loop
from mnist_draw.trainer.cli import main
real = loop.train_one_epoch
def breaking(*args, **kwargs):
    for i, item in enumerate(real(*args, **kwargs)):
        if os.environ.get("RANK") == "1" and i == 5:
            time.sleep(600) if os.environ.get("HANG") else os._exit(3)
        yield item
loop.train_one_epoch = breaking
sys.exit(main())
"""


def _mnist_train() -> list[str]:
    """The command as the README gives it: torchrun runs the mnist-train script (or the module, if not installed)."""
    script = shutil.which("mnist-train", path=str(Path(sys.executable).parent))
    return [script] if script else ["-m", "mnist_draw.trainer.cli"]


def _torchrun(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, **(env or {})})


def test_shares_are_equal_and_cover_every_digit():
    order = torch.randperm(10)
    shares = [shard(order, World(rank, 3, rank)) for rank in range(3)]
    assert [len(s) for s in shares] == [share_size(10, World(0, 3, 0))] * 3 == [4, 4, 4]
    assert set(torch.cat(shares).tolist()) == set(range(10))
    assert torch.equal(shard(order, None), order)
    assert batch_share(64, World(0, 2, 0)) == 32 and batch_share(64, World(0, 3, 0)) == 22
    assert batch_share(64, None) == 64


def test_two_processes_train_like_one_and_save_one_file(tmp_path, mnist):
    from mnist_draw.model.files import load_model
    from mnist_draw.trainer.loop import fit

    out = tmp_path / "m.safetensors"
    started = time.monotonic()
    proc = _torchrun(*_mnist_train(), *TRAIN, "--epochs", "2", "--json", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started < 60
    lines = proc.stdout.strip().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]  # one line per epoch, from one process
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # one file, no leftovers
    assert proc.stderr.count("saved ") == 1 and "Traceback" not in proc.stderr
    assert load_model(out).metadata["test_accuracy"] == json.loads(lines[-1])["test_accuracy"]
    # The two halves of each batch make up the batch one process takes: the same training, within noise
    # (seeds alone move this accuracy by about two points).
    alone = fit(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=0, train_limit=6000)
    assert abs(json.loads(lines[-1])["test_accuracy"] - alone.test_accuracy) < 0.01


def test_a_process_that_crashes_ends_the_others_with_one_line(tmp_path):
    (tmp_path / "breaking.py").write_text(BREAKING)
    out = tmp_path / "m.safetensors"
    started = time.monotonic()
    proc = _torchrun(str(tmp_path / "breaking.py"), *TRAIN, "--epochs", "1", "--out", str(out))
    assert proc.returncode != 0
    assert time.monotonic() - started < 60  # not the group's timeout: the others learn it at once
    ours = [line for line in proc.stderr.splitlines() if line.startswith("mnist-train")]
    assert ours == [line for line in ours if "error: lost contact with the other processes (" in line] and ours
    assert not out.exists()


# The first process cannot save (a disk that fills up as the run ends): save_model fails in it.
FULL_DISK = """
import errno, sys
from mnist_draw.model import files
from mnist_draw.trainer.cli import main
def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")
files.save_model = full
sys.exit(main())
"""


def test_a_save_that_fails_in_the_first_process_ends_every_process_with_its_one_line(tmp_path):
    """The others wait to hear how the save went (so that none leaves the group early): they end with it,
    quietly, instead of losing contact with the first or waiting for the group's timeout."""
    (tmp_path / "full.py").write_text(FULL_DISK)
    out = tmp_path / "m.safetensors"
    started = time.monotonic()
    proc = _torchrun(str(tmp_path / "full.py"), *TRAIN, "--epochs", "1", "--out", str(out))
    assert proc.returncode != 0 and time.monotonic() - started < 60
    ours = [line for line in proc.stderr.splitlines() if line.startswith("mnist-train")]
    assert ours == [f"mnist-train (process 0 of 2): error: could not save the model to {out} (No space left on "
                    f"device); nothing was written"], proc.stderr
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_process_that_stops_answering_times_the_others_out(tmp_path):
    """Started by hand (as a launcher on another machine might), without torchrun to end them: the
    group's timeout alone ends the wait, with a one-line error."""
    (tmp_path / "breaking.py").write_text(BREAKING)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2",
           "LOCAL_WORLD_SIZE": "2", "HANG": "1"}
    procs = [subprocess.Popen([sys.executable, str(tmp_path / "breaking.py"), *TRAIN, "--epochs", "1",
                               "--dist-timeout", "8", "--out", str(tmp_path / "m.safetensors")],
                              cwd=ROOT, env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    try:
        _, stderr = procs[0].communicate(timeout=90)
    finally:
        procs[1].kill()
        procs[1].communicate()
    assert procs[0].returncode == 1
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]  # "lost contact" (or, on a machine slow to start both, "could not join")
    assert last.startswith("mnist-train (process 0 of 2): error: ") and "the other processes (" in last
    assert not (tmp_path / "m.safetensors").exists()


def test_outside_torchrun_a_run_trains_alone(mnist, monkeypatch):
    from mnist_draw.trainer.loop import TrainingRun

    monkeypatch.setenv("WORLD_SIZE", "2")  # the variables alone do not make a group: the program joins one
    run = TrainingRun(preset("seed002").replace(epochs=1), mnist, device="cpu", seed=0, train_limit=640)
    assert run.world is None and run.planned_steps() == 10
