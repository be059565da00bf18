"""Reproduce every tutorial recipe: train each preset as published and print its test accuracy.

    MNIST_DRAW_DATA=../shared/mnist .venv/bin/python benchmarks/presets.py [--device cpu] [NAME ...]

Prints, per preset, the accuracy on the 10,000 MNIST test digits next to what the tutorial reports,
and the seconds per epoch. Seed 0, so the figures in the README can be checked.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPORTED = {
    "linear": "about 92% is typical",
    "seed001": "no figure given",
    "seed002": "97.79% (9779/10000)",
    "seed003": "no figure given",
    "seed004": "no figure given",
    "default": "ours: >= 99.2%",
}


def main() -> None:
    from mnist_draw.model.recipe import PRESETS
    from mnist_draw.trainer.data import DataError, load_mnist
    from mnist_draw.trainer.loop import fit

    from mnist_draw.errors import OneLineParser

    p = OneLineParser(description=__doc__.split("\n")[0])
    p.add_argument("names", nargs="*", default=[n for n in PRESETS if n != "default"])
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--data", default=os.environ.get("MNIST_DRAW_DATA"))
    args = p.parse_args()
    if args.device == "cuda":
        from mnist_draw.trainer.devices import cuda_unavailable_reason

        if why := cuda_unavailable_reason():
            p.error(f"--device cuda: {why}")
    unknown = [n for n in args.names if n not in PRESETS]
    if unknown:
        sys.exit(f"presets: error: no preset named {unknown[0]!r} (the presets: {', '.join(PRESETS)})")
    try:
        data = load_mnist(args.data, download=False, device=args.device)
    except DataError as exc:
        sys.exit(f"presets: error: {exc}")
    print(f"{'preset':10}{'test acc':>10}{'s/epoch':>10}  reported")
    for name in args.names:
        t0 = time.perf_counter()
        result = fit(PRESETS[name], data, device=args.device, seed=0)
        per_epoch = (time.perf_counter() - t0) / max(1, result.epochs_trained)
        print(f"{name:10}{result.test_accuracy:>10.2%}{per_epoch:>10.2f}  {REPORTED.get(name, '')}", flush=True)


if __name__ == "__main__":
    main()
