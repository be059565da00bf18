"""Memory at rest: the app's window, idle after reading one drawing, against a bare window doing the same.

    MNIST_DRAW_DATA=/path/to/mnist .venv/bin/python benchmarks/idle_memory.py

Each figure is taken in a fresh process (Qt's offscreen platform), as the resident set size (VmRSS):

* bare window: a plain Qt window that imports PyTorch, loads the shipped model and classifies one
  drawing: the floor any such app stands on (the reference);
* mnist-draw, idle: the real main window, its model live, one drawing read, then a few seconds idle;
* mnist-draw, Mistakes shown: the same window after the user first looks at the Mistakes tab (which
  reads MNIST and runs the model over its test digits), with the time from the click to the filled tab.

Goals (issue 15): the idle window at most 750 MB resident; the Mistakes tab filled at most 2 s after it
is first shown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_IDLE_MB = 750
GOAL_MISTAKES_S = 2.0
SETTLE_S = 3.0

COMMON = """
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
"""

BARE = COMMON + """
import numpy as np
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
window = QLabel("bare")
window.show()
app.processEvents()
from mnist_draw.model.files import load_model
from mnist_draw.model.predict import predict
from mnist_draw.paths import default_model_path
model = load_model(default_model_path()).model
drawing = np.zeros((28, 28), np.float32)
drawing[4:24, 13:15] = 1.0
predict(model, drawing)
end = time.perf_counter() + SETTLE
while time.perf_counter() < end:
    app.processEvents()
    time.sleep(0.01)
print(json.dumps({"idle": rss_mb()}))
"""

APP = COMMON + """
import tempfile
from pathlib import Path
from mnist_draw.gui.app import application
from mnist_draw.gui.main_window import MainWindow
from mnist_draw.gui.selftest.mouse import draw_one
from mnist_draw.gui.selftest.self_test import wait_until
from mnist_draw.gui.settings import Settings

application()
window = MainWindow(Settings(Path(tempfile.mkdtemp()) / "settings.ini"))
window.show()
try:
    wait_until(lambda: window.state.live is not None, "the model to go live", 120)
    draw_one(window.canvas)
    wait_until(lambda: window.current_guess() is not None, "the guess", 60)
    end = time.perf_counter() + SETTLE
    wait_until(lambda: time.perf_counter() >= end, "idle time", SETTLE + 5)
    idle = rss_mb()
    clicked = time.perf_counter()
    window.tabs.setCurrentWidget(window.mistakes)
    wait_until(lambda: window.mistakes.mistakes is not None, "the Mistakes tab to fill", 120)
    filled = time.perf_counter() - clicked
    print(json.dumps({"idle": idle, "mistakes": rss_mb(), "mistakes_s": filled}))
finally:  # the window stops its threads as it closes, also when a wait above timed out
    window.ask_before_quitting = False
    window.close()
"""


def measure(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", f"SETTLE = {SETTLE_S}\n" + textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        sys.exit(f"idle_memory: a measuring process failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    from mnist_draw.errors import OneLineParser

    OneLineParser(description=__doc__.split("\n")[0]).parse_args()  # no options: --help says what it does
    os.environ.setdefault("MNIST_DRAW_HOME", "/tmp/mnist-draw-bench-home")  # the measuring processes' home
    from mnist_draw.paths import mnist_root
    from mnist_draw.trainer.data import has_mnist

    root, why = mnist_root()
    if not has_mnist(root):  # the Mistakes tab reads MNIST: without it the figure would wait on a download
        sys.exit(f"idle_memory: MNIST is not at {root} ({why}); set MNIST_DRAW_DATA=/path/to/mnist")
    bare, app = measure(BARE), measure(APP)
    rows = [
        ("bare window: torch + shipped model, one drawing", f"{bare['idle']:.0f} MB", "reference", ""),
        ("mnist-draw idle, one drawing read", f"{app['idle']:.0f} MB", f"<= {GOAL_IDLE_MB} MB",
         "met" if app["idle"] <= GOAL_IDLE_MB else "NOT met"),
        ("  over the bare window", f"{app['idle'] - bare['idle']:+.0f} MB", "", ""),
        ("mnist-draw after Mistakes is first shown", f"{app['mistakes']:.0f} MB", "reported", ""),
        ("Mistakes tab filled, after the click", f"{app['mistakes_s']:.2f} s", f"<= {GOAL_MISTAKES_S:g} s",
         "met" if app["mistakes_s"] <= GOAL_MISTAKES_S else "NOT met"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"memory at rest (VmRSS, Qt offscreen, settle {SETTLE_S:g} s), {os.cpu_count()} CPUs")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
