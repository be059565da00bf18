"""The shape of the house: imports run one way (gui -> trainer -> core), and only gui/ touches Qt."""

import ast
import subprocess
import sys

from _support import ROOT

CORE = ["mnist_draw/model/recipe.py", "mnist_draw/model/network.py", "mnist_draw/model/predict.py", "mnist_draw/model/files.py", "mnist_draw/preprocess.py", "mnist_draw/paths.py", "mnist_draw/atomic.py",
        "mnist_draw/errors.py", "mnist_draw/samples.py"]


def imported_modules(path):
    tree = ast.parse((ROOT / path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_core_and_trainer_import_no_qt():
    code = (
        "import sys\n"
        "import mnist_draw, mnist_draw.model.files, mnist_draw.model.predict, mnist_draw.preprocess, mnist_draw.paths, mnist_draw.atomic\n"
        "import mnist_draw.trainer, trainer.data, trainer.augment, trainer.loop, trainer.cli, mnist_draw.cli\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph', 'mnist_draw.gui')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"Qt modules imported by the core: {out.stdout}"


def test_core_imports_neither_trainer_nor_gui():
    for path in CORE:
        for name in imported_modules(path):
            assert not name.startswith(("trainer", "mnist_draw.gui", "PySide6", "pyqtgraph")), f"{path} imports {name}"


def test_trainer_imports_no_gui():
    for path in sorted((ROOT / "trainer").glob("*.py")):
        for name in imported_modules(path.relative_to(ROOT)):
            assert not name.startswith(("mnist_draw.gui", "PySide6", "pyqtgraph")), f"{path.name} imports {name}"


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
