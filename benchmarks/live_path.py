"""The live path: a 280x280 canvas -> MNIST form -> prediction, on the CPU, as the app runs it per frame.

    .venv/bin/python benchmarks/live_path.py [--runs 2000]

Draws digits of several shapes and sizes on a 280x280 grey canvas (as the app's canvas holds them),
then hands them one at a time to the app's own live reader (``mnist_draw.gui.tasks.reading.LiveReader``,
Qt-free, on the threads the app gives it) with the shipped model: preprocessing, the network's read
of one picture (``OnePicture``), the calibrated probabilities, every hidden layer's activations for the
Inside tab and the verdict (the "sure" rule). Prints p50 / p99 / max beside the goal (p99 <= 2 ms),
preprocessing alone, and the reference: the bare forward pass of the whole network on one image, back
to back (weights in the cache), timed in the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from PIL import Image, ImageDraw


def drawings(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = Image.new("L", (280, 280), 0)
        d = ImageDraw.Draw(im)
        points = [tuple(p) for p in rng.uniform(20, 260, size=(rng.integers(3, 9), 2))]
        d.line(points, fill=255, width=int(rng.integers(6, 30)), joint="curve")
        out.append(np.asarray(im))
    return out


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    from mnist_draw.errors import OneLineParser, positive_int

    p = OneLineParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=positive_int, default=2000)
    args = p.parse_args()
    import torch

    from mnist_draw.gui.state.live import live_model_from_file
    from mnist_draw.gui.tasks.reading import LiveReader
    from mnist_draw.model.network import model_from_state
    from mnist_draw.paths import default_model_path
    from mnist_draw.preprocess import preprocess

    live = live_model_from_file(str(default_model_path()))
    reader = LiveReader()
    list(reader({"warm up": True, "model": live}))  # as the window starts it: threads set, model live
    canvases = drawings(200)
    for i, c in enumerate(canvases[:20]):  # warm up
        list(reader({"image": (i, c)}))
    pre, total = [], []
    for i in range(args.runs):
        c = canvases[i % len(canvases)]
        t0 = time.perf_counter()
        [guess] = reader({"image": (i, c)})
        total.append(time.perf_counter() - t0)
        assert guess.verdict is not None
        t0 = time.perf_counter()
        preprocess(c)
        pre.append(time.perf_counter() - t0)
    bare = []
    model = model_from_state(live.recipe, live.state)
    with torch.inference_mode():
        one = torch.as_tensor(preprocess(canvases[0]).pixels)[None]
        for _ in range(args.runs):
            t0 = time.perf_counter()
            model(one)
            bare.append(time.perf_counter() - t0)
    ms = lambda v: f"{v * 1000:7.3f}"
    print(f"live path on the CPU ({torch.get_num_threads()} thread), 280x280 canvas, {args.runs} drawings, "
          f"model {live.recipe.describe()}")
    print(f"{'':28}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}")
    for name, values in (("preprocess alone", pre), ("canvas -> guess (the app's)", total),
                         ("reference: bare forward", bare)):
        print(f"{name:28}{ms(statistics.median(values)):>8}{ms(percentile(values, 0.99)):>8}{ms(max(values)):>8}")
    p99 = percentile(total, 0.99) * 1000
    ratio = statistics.median(total) / statistics.median(bare)
    print(f"goal: p99 <= 2 ms -> {'met' if p99 <= 2 else 'NOT met'} ({p99:.3f} ms); the whole path takes {ratio:.1f}x "
          f"the bare forward pass (p50)")


if __name__ == "__main__":
    main()
