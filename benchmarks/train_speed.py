"""Training speed: the seed002 recipe as the tutorial publishes it, against our trainer, same run, same device.

The tutorial's way: ``torchvision.datasets.MNIST`` with ``transforms.ToTensor()`` and a ``DataLoader``
(batch 64, shuffled), so every batch builds 64 PIL images and converts them one by one. Ours: MNIST as
one tensor on the device, batches as slices of a random permutation (``mnist_draw.trainer.loop``).

    MNIST_DRAW_DATA=../shared/mnist .venv/bin/python benchmarks/train_speed.py [--device cpu|cuda] [--epochs 2]

Prints seconds per epoch for both (the median over the epochs) and the ratio; goal: ratio >= 10 on CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch import nn

ISSUE_REFERENCE_S = 8.2  # the published seed002 pipeline, per epoch on CPU, as the issue measured it
ARITHMETIC_S = 0.5  # the epoch's arithmetic alone on 2 cores (see the README)


def published_epoch_seconds(root: str, device: torch.device, epochs: int) -> tuple[list[float], float]:
    from torchvision import datasets, transforms

    train = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    test = datasets.MNIST(root, train=False, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    correct = 0
    model.eval()
    with torch.no_grad():
        for xb, yb in torch.utils.data.DataLoader(test, batch_size=1000):
            correct += int((model(xb.to(device)).argmax(1) == yb.to(device)).sum())
    return times, correct / len(test)


def trainer_epoch_seconds(root: str, device: torch.device, epochs: int) -> tuple[list[float], float]:
    from mnist_draw.model.recipe import preset
    from mnist_draw.trainer.data import load_mnist
    from mnist_draw.trainer.loop import fit

    data = load_mnist(root, download=False, device=device)
    result = fit(preset("seed002").replace(epochs=epochs), data, device=device, seed=0)
    return [e.seconds for e in result.history], result.test_accuracy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--data", default=os.environ.get("MNIST_DRAW_DATA", "../shared/mnist"))
    args = p.parse_args()
    device = torch.device(args.device)
    from mnist_draw.trainer.data import load_mnist

    root = str(load_mnist(args.data, download=False).root)
    print(f"seed002 epoch time on {device} ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__})")
    pub, pub_acc = published_epoch_seconds(root, device, args.epochs)
    ours, our_acc = trainer_epoch_seconds(root, device, args.epochs)
    a, b = statistics.median(pub), statistics.median(ours)
    print(f"{'':28}{'s/epoch':>10}{'test acc':>10}")
    print(f"{'as published (DataLoader)':28}{a:>10.3f}{pub_acc:>10.2%}")
    print(f"{'mnist-draw trainer':28}{b:>10.3f}{our_acc:>10.2%}")
    print(f"speed-up against the DataLoader in this run: {a / b:.1f}x (goal: >= 10x on CPU)")
    if device.type == "cpu":
        print(f"speed-up against the issue's published pipeline (8.2 s per epoch): {ISSUE_REFERENCE_S / b:.1f}x; "
              f"arithmetic limit about {ISSUE_REFERENCE_S / ARITHMETIC_S:.0f}x (~50 GFLOP per epoch)")


if __name__ == "__main__":
    main()
