"""Shared fixtures: real MNIST (from MNIST_DRAW_DATA, as CI sets it) and a small real model trained once."""

from __future__ import annotations

import os

import pytest

from _support import ROOT, session_mnist

SHARED_MNIST = ROOT.parent / "shared" / "mnist"


def pytest_configure(config):
    """MNIST for every test and every command a test runs: $MNIST_DRAW_DATA, CI's ../shared/mnist, or the
    per-user cache, downloaded there on first need. Without it no test runs, and one line says why."""
    from mnist_draw.trainer.data import DataError

    if config.option.help or config.option.collectonly:  # nothing will read MNIST
        return
    try:
        session_mnist(os.environ, SHARED_MNIST)
    except DataError as exc:
        raise pytest.UsageError(f"the tests need MNIST: {exc}") from None


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Never touch the real user's data folder from a test."""
    monkeypatch.setenv("MNIST_DRAW_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def mnist():
    from mnist_draw.trainer.data import load_mnist

    return load_mnist(os.environ.get("MNIST_DRAW_DATA"), download=False)


@pytest.fixture(scope="session")
def small_model(mnist):
    """A real seed002 MLP trained for a few seconds on part of MNIST (about 95% on the test set)."""
    from mnist_draw.model.recipe import preset
    from mnist_draw.trainer.loop import fit

    return fit(preset("seed002").replace(epochs=2), mnist, device="cpu", seed=0, train_limit=20000)


@pytest.fixture(scope="session")
def small_model_file(small_model, tmp_path_factory):
    from mnist_draw.model.files import save_model
    from mnist_draw.trainer.loop import result_metadata

    path = tmp_path_factory.mktemp("models") / "small.safetensors"
    save_model(path, small_model.model, result_metadata(small_model))
    return path
