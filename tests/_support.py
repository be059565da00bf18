"""Helpers the test modules import (a plain module: ``conftest`` is ambiguous with tests/gui/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from scriptfiles import load_script  # noqa: E402,F401  (scripts/<name> as a module, for the tests)


def session_mnist(environ: dict, shared: Path) -> None:
    """Point ``environ["MNIST_DRAW_DATA"]`` at MNIST for a test session, as the README promises: the variable
    as the user set it, else ``shared`` (CI's copy beside the checkout), else the per-user cache, where MNIST
    is downloaded on first need, as the app does. Raises DataError (one line) when it is nowhere and cannot
    be downloaded."""
    if "MNIST_DRAW_DATA" in environ:
        return
    if shared.is_dir():
        environ["MNIST_DRAW_DATA"] = str(shared)
        return
    from mnist_draw.trainer.data import load_mnist

    environ["MNIST_DRAW_DATA"] = str(load_mnist(None, download=True).root)


def run_cli(*args: str, env: dict | None = None, timeout: float = 300, stdout=subprocess.PIPE):
    """Run a console entry point of ours (python -m ...) and return the CompletedProcess (``stdout``: where its
    output goes, captured unless told)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT)


def with_its_reader_gone(*args: str):
    """Run a command of ours whose stdout's reader has already gone, as `... | head -1` leaves it."""
    read, write = os.pipe()
    os.close(read)
    try:
        return run_cli(*args, stdout=write)
    finally:
        os.close(write)
