"""The app as a whole: the GUI modules start without PyTorch, and ``mnist-draw --self-test`` works."""

from __future__ import annotations

import os
import subprocess
import sys

from _support import ROOT

GUI = ROOT / "mnist_draw" / "gui"
GUI_MODULES = sorted(".".join(p.relative_to(GUI).with_suffix("").parts) for p in GUI.rglob("*.py"))


def _python(*args, **env):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def test_no_gui_module_imports_torch_at_import_time():
    assert "main_window" in GUI_MODULES and "views.canvas" in GUI_MODULES
    imports = "; ".join(f"import mnist_draw.gui.{name}".removesuffix(".__init__") for name in GUI_MODULES)
    done = _python("-c", f"import sys; {imports}; print('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_self_test_passes_and_prints_one_line(trained_model):
    done = _python("-m", "mnist_draw.cli", "--self-test", "--model", str(trained_model))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("self-test ok: drew a 1 -> predicted 1"), lines
    assert "model swapped" in lines[0]


def test_self_test_without_mnist_fails_clearly(tmp_path, trained_model):
    done = _python("-m", "mnist_draw.cli", "--self-test", "--model", str(trained_model), "--data", str(tmp_path))
    assert done.returncode == 1
    assert done.stdout.strip().startswith(f"self-test FAILED: MNIST not found in {tmp_path}")
    assert "Traceback" not in done.stderr


def test_the_app_has_its_icon_and_desktop_name(qtbot):
    from mnist_draw.gui.app import application

    app = application()
    assert not app.windowIcon().isNull()
    assert app.windowIcon().availableSizes()[0].width() >= 256
    assert app.desktopFileName() == "mnist-draw"
