"""The shape of the house, read from the folders: which part may import which, and where Qt may be.

Every module of the product belongs to the part its folder names (the table below names folders, not
modules, so a new file is checked the day it is added). Each ``import`` in a module, at its top or
inside a function (a lazy import), absolute or relative, must name a module of a part it may use.
Imports run one way: the window's code on top, the trainer below it, the core at the bottom.
"""

import ast
import subprocess
import sys
from pathlib import Path

from _support import ROOT

# Each part: the folder its modules live in (its subfolders belong to it unless named themselves),
# the parts of ours it may import, and whether it may import Qt.
PARTS = {
    "core": ("mnist_draw", {"core", "model"}, False),
    "model": ("mnist_draw/model", {"core", "model"}, False),
    "trainer": ("trainer", {"core", "model", "trainer"}, False),
    "gui.state": ("mnist_draw/gui/state", {"core", "model", "trainer", "gui.state"}, False),
    "gui.tasks": ("mnist_draw/gui/tasks", {"core", "model", "trainer", "gui.state", "gui.tasks"}, False),
    "gui.workers": ("mnist_draw/gui/workers", {"gui.tasks", "gui.workers"}, True),
    "gui.views": ("mnist_draw/gui/views", {"core", "model", "trainer", "gui.state", "gui.views"}, True),
    "gui": ("mnist_draw/gui", {"core", "model", "trainer", "gui.state", "gui.tasks", "gui.workers", "gui.views",
                               "gui", "gui.selftest"}, True),
    "gui.selftest": ("mnist_draw/gui/selftest", {"core", "gui", "gui.state", "gui.selftest"}, True),
}
ENTRY_POINTS = {"mnist_draw/cli.py": {"gui"}}  # only the entry point may start the window (lazily)
QT = ("PySide6", "shiboken6", "pyqtgraph")
INSTALLED_AS = {"trainer": "mnist_draw.trainer"}  # repo folder -> package name (pyproject's package-dir)


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in INSTALLED_AS:
        parts = INSTALLED_AS[parts[0]].split(".") + parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def part_of(path: Path) -> str:
    """The part whose folder holds ``path`` most closely."""
    folder = path.parent.relative_to(ROOT).as_posix()
    while folder not in {f for f, _, _ in PARTS.values()}:
        folder = folder.rsplit("/", 1)[0] if "/" in folder else ""
        assert folder, f"{path} is in no part of the house: add its folder to PARTS"
    return next(name for name, (f, _, _) in PARTS.items() if f == folder)


def product_modules() -> list[Path]:
    return sorted(p for folder in ("mnist_draw", "trainer") for p in (ROOT / folder).rglob("*.py"))


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or in a function, relative imports made absolute."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def part_of_module(name: str) -> str | None:
    """The part that holds the module ``name`` of ours, or None for a module that is not ours."""
    if not name.startswith("mnist_draw"):
        return None
    path = ROOT / Path(*name.split("."))
    for repo, package in INSTALLED_AS.items():
        if name == package or name.startswith(package + "."):
            path = ROOT / repo / Path(*name[len(package) + 1:].split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return part_of(candidate)
    return None  # a name imported from a module (a class, a function): its module is checked too


def test_every_module_imports_only_the_parts_it_may():
    wrong = []
    for path in product_modules():
        part = part_of(path)
        _, allowed, qt = PARTS[part]
        allowed = allowed | ENTRY_POINTS.get(path.relative_to(ROOT).as_posix(), set())
        for name in imports(path):
            target = part_of_module(name)
            if target is not None and target not in allowed:
                wrong.append(f"{path.relative_to(ROOT)} ({part}) imports {name} ({target})")
            if name.startswith(QT) and not qt:
                wrong.append(f"{path.relative_to(ROOT)} ({part}) imports Qt: {name}")
    assert wrong == []


def test_the_parts_cover_every_module_and_the_table_finds_imports():
    parts = {part_of(p) for p in product_modules()}
    assert parts == set(PARTS)
    # the reader of imports sees lazy and relative imports (it is what the rule above relies on)
    source = ROOT / "mnist_draw" / "gui" / "tasks" / "reading.py"
    assert "mnist_draw.preprocess" in imports(source)  # imported inside a method
    assert part_of_module("mnist_draw.trainer.loop") == "trainer"
    assert part_of_module("mnist_draw.gui.views.canvas") == "gui.views"


def test_core_trainer_and_gui_state_import_no_qt_in_a_fresh_interpreter():
    names = [module_name(p) for p in product_modules() if not PARTS[part_of(p)][2] and p.name != "cli.py"]
    names += ["mnist_draw.cli", "mnist_draw.trainer.cli"]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph')))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"Qt imported by: {out.stdout}"
    assert "mnist_draw.gui.state.app_state" in names and "mnist_draw.trainer.loop" in names


def test_the_window_module_leaves_the_slow_imports_for_later():
    """The window is built before PyTorch, torchvision and scipy are imported (off the GUI thread, or
    when first needed), so it shows in about half a second; importing one of them here costs 0.2-2 s."""
    code = (
        "import sys\n"
        "import mnist_draw.gui.main_window, mnist_draw.gui.app\n"
        "print(','.join(sorted(m for m in ('torch', 'torchvision', 'scipy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"imported before the window shows: {out.stdout}"
