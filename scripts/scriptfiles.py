"""Load one of the scripts in this folder (files without a ``.py`` ending) as a module, to use its parts.

The scripts that make the drawn sets share their pens and looks (``make-drawn-digits``), and
``try-recipe`` scores with ``eval-drawn``'s functions; the tests use them too. A script run from here
finds this module on its own (its folder is first on ``sys.path``); anything else adds the folder first.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def load_script(name: str) -> ModuleType:
    """``scripts/<name>`` as a module named ``name`` with ``_`` for ``-`` (e.g. ``eval_drawn``)."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(HERE / name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    sys.modules[loader.name] = module  # dataclasses look their module up there
    loader.exec_module(module)
    return module


def clear_for_drawings(folder: Path, script: str) -> None:
    """Make ``folder`` ready for a set script's drawings: create it, or remove the drawings it holds from a
    run before (``*.png``, also in digit folders ``0``..``9``), keeping a README.

    ``--out`` may name any folder, so a folder holding anything else is refused before anything is
    removed (``SystemExit`` with a one-line reason): a slip of the command line never costs other files.
    """
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            sys.exit(f"{script}: error: {folder} is a file, not a folder")
        kept = {"README.md"}
        digit_folders = {str(d) for d in range(10)}
        for entry in sorted(folder.iterdir()):
            inside = sorted(entry.iterdir()) if entry.is_dir() and entry.name in digit_folders else [entry]
            for item in inside:
                if not ((item.is_file() and item.suffix == ".png") or (item.parent == folder and item.name in kept)):
                    sys.exit(f"{script}: error: {folder} holds files this script did not make ({item}); "
                             "name a new or empty folder")
        for item in [*folder.glob("*.png"), *folder.glob("[0-9]/*.png")]:
            item.unlink()
    folder.mkdir(parents=True, exist_ok=True)
