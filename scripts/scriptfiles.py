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
