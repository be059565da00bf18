"""Where things live: the files we ship, and the files that belong to the user.

Shipped files (the default model, icons) sit in ``resources/`` at the top of the source tree. The same
folder travels inside the wheel as ``mnist_draw/_resources`` and inside a PyInstaller bundle under
``sys._MEIPASS``; :func:`resource_path` knows all three, so no other code has to.

Per-user files follow the platform's conventions through ``platformdirs``: MNIST is downloaded into the
cache directory, personal samples and saved models go into the data directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "mnist-draw"
DATA_ENV = "MNIST_DRAW_DATA"
HOME_ENV = "MNIST_DRAW_HOME"  # overrides the per-user data directory (tests, portable installs)


def _resource_roots() -> list[Path]:
    here = Path(__file__).resolve().parent
    roots = []
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:  # frozen by PyInstaller
        roots.append(Path(meipass) / "resources")
    roots.append(here.parent / "resources")  # source checkout (and editable installs)
    roots.append(here / "_resources")  # installed wheel
    return roots


def resource_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``resource_path("models", "default.safetensors")``.

    Returns the first existing match among the frozen bundle, the source tree and the wheel; if none
    exists, the path where it would be in the first of them (so error messages name a real place).
    """
    roots = _resource_roots()
    for root in roots:
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return roots[0].joinpath(*parts)


def default_model_path() -> Path:
    return resource_path("models", "default.safetensors")


def user_data_dir() -> Path:
    """Per-user folder for personal samples and saved models (``MNIST_DRAW_HOME`` overrides it)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser() / "cache"
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def samples_dir() -> Path:
    return user_data_dir() / "samples"


def models_dir() -> Path:
    return user_data_dir() / "models"


def mnist_root(explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Where MNIST is looked for, and why: ``--data`` beats ``MNIST_DRAW_DATA`` beats the user cache."""
    if explicit:
        return Path(explicit).expanduser(), "--data"
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser(), DATA_ENV
    return user_cache_dir() / "mnist", "the per-user cache"
