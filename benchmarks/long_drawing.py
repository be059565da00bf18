"""A long drawing: how long a stroke's release and an undo take once many strokes are on the canvas.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/long_drawing.py [--strokes 200] [--side 525]

The app's canvas (the real widget, at the side it has in the default window), driven by mouse events:
strokes across the paper with the default pen, one after another. When the drawing holds 10, 50, 100
and ``--strokes`` strokes, it times the release that ends a stroke (the stroke is added to the
drawing and the picture brought up to date) and an undo followed by a redo, each the median of a few.
The reference, timed in the same run on the same drawing: the same steps with the kept pictures
dropped first, so that each paints the whole drawing from scratch, as every step did before the
twelfth session. Goal: a step's time does not grow with the drawing (at most 5 ms at any length);
from scratch it grows with every stroke.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_MS = 5.0


def main() -> None:
    from mnist_draw.errors import OneLineParser, positive_int

    p = OneLineParser(description=__doc__.split("\n")[0])
    p.add_argument("--strokes", type=positive_int, default=200)
    p.add_argument("--side", type=positive_int, default=525,
                   help="the canvas's side in pixels (default: the default window's)")
    p.add_argument("--repeats", type=positive_int, default=5)
    args = p.parse_args()

    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtWidgets import QApplication

    from mnist_draw.gui.selftest.mouse import canvas_point, move_with_button, send_mouse
    from mnist_draw.gui.views import canvas as canvas_module

    app = QApplication.instance() or QApplication(sys.argv[:1])
    canvas = canvas_module.Canvas()
    canvas.resize(args.side, args.side)
    canvas.show()
    app.processEvents()

    @contextlib.contextmanager
    def nothing_kept(from_scratch: bool):
        """For the reference: the canvas keeps no pictures during the step (its own come back after)."""
        kept = canvas._pictures
        if from_scratch:
            canvas._pictures = canvas_module._Pictures()
        try:
            yield
        finally:
            canvas._pictures = kept

    def stroke_release_ms(i: int, from_scratch: bool) -> float:
        x = 0.1 + 0.8 * ((i * 37) % 100) / 100
        points = [canvas_point(canvas, x, 0.15), canvas_point(canvas, 0.5, 0.5), canvas_point(canvas, 1 - x, 0.85)]
        send_mouse(canvas, QEvent.Type.MouseButtonPress, points[0])
        for point in points[1:]:
            move_with_button(canvas, point)
        with nothing_kept(from_scratch):
            started = time.perf_counter()
            send_mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.LeftButton,
                       Qt.MouseButton.NoButton)
            return (time.perf_counter() - started) * 1000

    def undo_redo_ms(from_scratch: bool) -> float:
        started = time.perf_counter()
        with nothing_kept(from_scratch):
            canvas.undo()
        with nothing_kept(from_scratch):
            canvas.redo()
        return (time.perf_counter() - started) * 1000 / 2

    marks = sorted({m for m in (10, 50, 100, args.strokes) if m <= args.strokes})
    rows, drawn = [], 0
    for mark in marks:
        while drawn < mark - args.repeats:
            stroke_release_ms(drawn, from_scratch=False)
            drawn += 1
        release, release_ref = [], []
        for _ in range(args.repeats):  # the last strokes up to the mark, timed both ways in turn
            release.append(stroke_release_ms(drawn, from_scratch=False))
            canvas.undo()
            release_ref.append(stroke_release_ms(drawn, from_scratch=True))
            drawn += 1
        undo = [undo_redo_ms(False) for _ in range(args.repeats)]
        undo_ref = [undo_redo_ms(True) for _ in range(args.repeats)]
        rows.append((mark, *(statistics.median(v) for v in (release, release_ref, undo, undo_ref))))
        app.processEvents()

    print(f"long drawing: the canvas at {args.side} px, default pen, medians of {args.repeats}")
    print(f"{'strokes':>8}{'release ms':>12}{'from scratch':>14}{'undo ms':>10}{'from scratch':>14}")
    for mark, release, release_ref, undo, undo_ref in rows:
        print(f"{mark:>8}{release:>12.2f}{release_ref:>14.2f}{undo:>10.2f}{undo_ref:>14.2f}")
    worst = max(max(r[1], r[3]) for r in rows)
    last = rows[-1]
    print(f"goal: every step <= {GOAL_MS:.0f} ms at any length -> {'met' if worst <= GOAL_MS else 'NOT met'} "
          f"(worst {worst:.2f} ms); at {last[0]} strokes, painting from scratch takes {last[2] / last[1]:.0f}x "
          f"(release) and {last[4] / last[3]:.0f}x (undo) as long")


if __name__ == "__main__":
    main()
