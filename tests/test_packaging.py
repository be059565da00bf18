"""A wheel (what `pip install .` installs) holds the whole app: every module, the shipped model and icons.

An editable install maps whole folders, so a package left out of pyproject.toml's list goes unnoticed
there; a real install would fail on its first import. This builds the wheel from the checkout's files,
installs it into an empty folder and imports every module from there, not from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"mnist_draw": "mnist_draw", "trainer": "mnist_draw/trainer"}  # folder in the repo -> in the wheel


def _modules(folder: str, installed_as: str) -> set[str]:
    return {f"{installed_as}/{p.relative_to(ROOT / folder).as_posix()}" for p in (ROOT / folder).rglob("*.py")}


def test_the_wheel_holds_every_module_and_resource_and_runs_from_where_it_is_installed(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("mnist_draw", "trainer", "resources"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "wheel"), str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("mnist_draw-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = set().union(*(_modules(folder, into) for folder, into in SOURCES.items()))
    assert expected - names == set()
    shipped = {f"mnist_draw/_resources/{p.relative_to(ROOT / 'resources').as_posix()}"
               for p in (ROOT / "resources").rglob("*") if p.is_file()}
    assert shipped - names == set() and "mnist_draw/_resources/models/default.safetensors" in shipped

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)  # a wheel is installed by unpacking it
    modules = sorted(n[:-3].replace("/", ".").removesuffix(".__init__") for n in expected)
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "import mnist_draw\nfrom mnist_draw.paths import default_model_path\n"
            "from mnist_draw.model.files import load_model\n"
            "print(load_model(default_model_path()).recipe.name)\n"
            "print(*sorted({m.__file__ for n, m in list(sys.modules.items()) if n.split('.')[0] == 'mnist_draw'}))\n")
    env = {**os.environ, "PYTHONPATH": str(site), "QT_QPA_PLATFORM": "offscreen"}
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr
    recipe, *files = ran.stdout.split()
    assert recipe == "default" and len(files) == len(modules)
    # from the wheel, every one: an editable install's finder would quietly fill a gap from the checkout
    assert [f for f in files if not Path(f).is_relative_to(site)] == []
