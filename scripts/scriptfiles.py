"""Load one of the scripts in this folder (files without a ``.py`` ending) as a module, to use its parts.

The scripts that make the drawn sets share their pens and looks (``make-drawn-digits``), and
``try-recipe`` scores with ``eval-drawn``'s functions; the tests use them too. A script run from here
finds this module on its own (its folder is first on ``sys.path``); anything else adds the folder first.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, NoReturn

HERE = Path(__file__).resolve().parent
SETS = HERE.parent / "tests" / "data"  # the sets the scripts make; only these are made again in place


def with_the_projects_python() -> None:
    """Run this script with the project's Python: a script started as ``scripts/NAME`` gets whatever
    ``python3`` comes first on the PATH, which may lack PyTorch, or run ``mnist_draw`` from somewhere else
    (another checkout's venv, an installed copy) and mix the two. Then the script starts again with this
    checkout's ``.venv/bin/python``; without one, it ends in one line that says what to do."""
    import os

    problem = _what_is_wrong()
    if problem is None:
        return
    venv = HERE.parent / ".venv"
    python = venv / "bin" / "python"
    if python.exists() and Path(sys.prefix).resolve() != venv.resolve() and not os.environ.get(_AGAIN):
        os.environ[_AGAIN] = "1"  # started again once at most
        os.execv(python, [str(python), sys.argv[0], *sys.argv[1:]])
    sys.exit(f"{Path(sys.argv[0]).name}: error: {problem}; install this checkout (python3 -m venv .venv && "
             f".venv/bin/pip install -e '.[eval]') and run the script again")


def _what_is_wrong() -> str | None:
    """Why this Python cannot run the checkout's scripts, or None."""
    missing = next((name for name in _NEEDED if importlib.util.find_spec(name) is None), None)
    if missing is not None:
        return f"{missing} is not installed for {sys.executable}"
    package = Path(importlib.util.find_spec("mnist_draw").origin).resolve().parent
    if not package.is_relative_to(HERE.parent.resolve()):
        return f"{sys.executable} runs mnist_draw from {package}, not from this checkout ({HERE.parent})"
    return None


_AGAIN = "MNIST_DRAW_SCRIPT_AGAIN"
# What pyproject.toml installs (and the checkout's own package): a script needs them all.
_NEEDED = ("torch", "numpy", "scipy", "PIL", "safetensors", "platformdirs", "PySide6", "mnist_draw")


def load_script(name: str) -> ModuleType:
    """``scripts/<name>`` as a module named ``name`` with ``_`` for ``-`` (e.g. ``eval_drawn``)."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(HERE / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def run_main(main: Callable[[], int | None]) -> NoReturn:
    """Run a script's ``main`` and exit with its status; when the program reading the output has gone
    (``scripts/eval-drawn | head``), stop quietly with the status the app's commands use for it. Ctrl-C,
    and a file or folder the system refuses (a read-only ``--out``, a full disk), end it in one line."""
    sys.path.insert(0, str(HERE.parent))
    from mnist_draw.errors import stdout_gone

    script = Path(sys.argv[0]).name
    try:
        status = main()
    except BrokenPipeError:
        status = stdout_gone()
    except KeyboardInterrupt:
        print(f"{script}: interrupted", file=sys.stderr)
        status = 130
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{script}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        status = 1
    sys.exit(status)


def add_seed_option(parser: argparse.ArgumentParser, seed: int) -> None:
    """``--seed`` for a set script: the repo's set is made with ``seed``; another draws a fresh sample."""
    parser.add_argument("--seed", type=int, default=seed, help="another seed draws a fresh sample of the same "
                        "kind, to see whether a difference between two models holds up (the repo's set: the default)")


def add_out_option(parser: argparse.ArgumentParser, default: Path) -> None:
    """``--out`` for a set script: the repo's set (``default``) is made again in place; another folder must be
    new or empty (:func:`clear_for_drawings`)."""
    parser.add_argument("--out", type=Path, default=default, help=f"where the drawings go (default: the repo's "
                        f"set, {default.relative_to(HERE.parent)}, made again in place; another folder must be "
                        f"new or empty)")


def clear_for_drawings(folder: Path, script: str) -> None:
    """Make ``folder`` ready for a set script's drawings: a new or empty folder, or one of the repo's own
    sets (under ``tests/data``), whose drawings from a run before are removed (``*.png``, also in digit
    folders ``0``..``9``; its README stays).

    ``--out`` may name any folder, so any other folder that holds something is refused before anything
    is removed (``SystemExit`` with a one-line reason): a slip of the command line never costs files.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        sys.exit(f"{script}: error: {folder} is a file, not a folder")
    if folder.exists() and any(folder.iterdir()):
        if not folder.resolve().is_relative_to(SETS):
            sys.exit(f"{script}: error: {folder} is not empty; name a new or empty folder (only the repo's "
                     f"own sets, under {SETS}, are made again in place)")
        digit_folders = {str(d) for d in range(10)}
        for entry in sorted(folder.iterdir()):
            inside = sorted(entry.iterdir()) if entry.is_dir() and entry.name in digit_folders else [entry]
            for item in inside:
                if not ((item.is_file() and item.suffix == ".png") or item == folder / "README.md"):
                    sys.exit(f"{script}: error: {folder} holds files this script did not make ({item})")
        for item in [*folder.glob("*.png"), *folder.glob("[0-9]/*.png")]:
            item.unlink()
    folder.mkdir(parents=True, exist_ok=True)
