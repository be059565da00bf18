"""Start-up time of mnist-draw: from launch to its window shown, for the installed and the frozen app.

Runs each app under its own Xvfb server and watches from outside with ``xdotool`` (Debian package
``xdotool``) for a visible (mapped) window whose title matches ``--title``; nothing inside the app is
needed. Warm start: one untimed launch first (file cache), then ``--runs`` timed ones; prints the
median next to the goals (installed <= 2 s, frozen <= 3 s) and exits 1 if a goal is missed.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--installed .venv/bin/mnist-draw]
                                           [--frozen dist/mnist-draw/mnist-draw]
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"installed": 2.0, "frozen": 3.0}


def start_xvfb() -> tuple[subprocess.Popen, str]:
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number:
        raise SystemExit("startup: Xvfb did not start")
    display = f":{number}"
    env = dict(os.environ, DISPLAY=display)
    deadline = time.monotonic() + 10
    while subprocess.run(["xdotool", "getdisplaygeometry"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL).returncode != 0:  # wait until it takes connections
        if time.monotonic() > deadline:
            raise SystemExit(f"startup: Xvfb on {display} takes no connections")
        time.sleep(0.05)
    return proc, display


def window_shown(env: dict, title: str) -> bool:
    return subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def launch_once(cmd: list[str], env: dict, title: str, timeout: float) -> float | None:
    """Seconds from launch until a window titled ``title`` is visible (None: timed out or died)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        while time.perf_counter() - t0 < timeout:
            if window_shown(env, title):
                return time.perf_counter() - t0
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip().splitlines()[-8:]
                print(f"  {cmd[0]} exited with {proc.returncode} before showing a window: {' | '.join(err)}")
                return None
            time.sleep(0.01)
        print(f"  no window titled /{title}/ after {timeout:.0f} s")
        return None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def measure(name: str, cmd: list[str], runs: int, title: str, timeout: float) -> float | None:
    xvfb, display = start_xvfb()
    try:
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, DISPLAY=display, MNIST_DRAW_HOME=home)
            env.pop("QT_QPA_PLATFORM", None)
            env.pop("WAYLAND_DISPLAY", None)
            if launch_once(cmd, env, title, timeout) is None:  # warm-up, untimed
                return None
            times = []
            for _ in range(runs):
                t = launch_once(cmd, env, title, timeout)
                if t is None:
                    return None
                times.append(t)
            print(f"  {name}: " + ", ".join(f"{t:.2f}" for t in times) + " s")
            return statistics.median(times)
    finally:
        xvfb.terminate()
        xvfb.wait()


def main() -> int:
    from mnist_draw.errors import OneLineParser, positive_int

    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=positive_int, default=5)
    p.add_argument("--installed", default=str(ROOT / ".venv" / "bin" / "mnist-draw"))
    p.add_argument("--frozen", default=str(ROOT / "dist" / "mnist-draw" / "mnist-draw"))
    p.add_argument("--title", default="mnist-draw|MNIST", help="regex for the window title (default %(default)s)")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            print(f"startup: {tool} is needed (apt-get install xvfb xdotool)", file=sys.stderr)
            return 2

    results = {}
    for name, exe in (("installed", args.installed), ("frozen", args.frozen)):
        if not Path(exe).is_file():
            print(f"  {name}: {exe} not found, skipped")
            results[name] = None
            continue
        results[name] = measure(name, [exe], args.runs, args.title, args.timeout)

    print(f"\nlaunch -> window shown, warm start, median of {args.runs}:")
    ok = True
    for name, median in results.items():
        goal = GOALS[name]
        if median is None:
            print(f"  {name:9s}   n/a     (goal <= {goal:.0f} s)")
            ok = False
        else:
            verdict = "ok" if median <= goal else "MISSED"
            ok = ok and median <= goal
            print(f"  {name:9s} {median:5.2f} s   (goal <= {goal:.0f} s) {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
