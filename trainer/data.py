"""MNIST as four tensors on the training device, loaded once.

The tutorials feed MNIST through torchvision's ``DataLoader``: every batch builds 64 PIL images, turns
each into a tensor and stacks them, one sample at a time. That is where most of their 8 s per epoch go.
Here the 70,000 digits are read once with ``torchvision.datasets.MNIST`` (which knows the file format
and how to download it) into uint8 tensors, moved to the device in one piece, and batches are slices
of a random permutation: no per-sample Python at all.

Where the data comes from, first match wins: ``--data DIR``, then the ``MNIST_DRAW_DATA`` environment
variable, then a per-user cache folder, where it is downloaded on first need (unless downloading is
forbidden). The folder holds torchvision's layout: ``MNIST/raw/*-ubyte``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_draw.errors import one_line
from mnist_draw.paths import DATA_ENV, mnist_root

TRAIN_SIZE = 60000  # MNIST's training digits
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """MNIST cannot be had; the message is one line that says where we looked and what to do."""


@dataclass(frozen=True)
class Mnist:
    train_x: torch.Tensor  # [60000, 28, 28] uint8, white ink on black
    train_y: torch.Tensor  # [60000] int64
    test_x: torch.Tensor  # [10000, 28, 28] uint8
    test_y: torch.Tensor  # [10000] int64
    root: Path

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: str | torch.device) -> "Mnist":
        device = torch.device(device)
        if self.train_x.device == device:
            return self
        return Mnist(*(t.to(device) for t in (self.train_x, self.train_y, self.test_x, self.test_y)), self.root)


def _normalise_root(root: Path) -> Path:
    """Accept the folder holding MNIST/, the MNIST/ folder itself, or its raw/ folder."""
    for candidate in (root, root.parent, root.parent.parent):
        if all((candidate / "MNIST" / "raw" / f).is_file() for f in RAW_FILES):
            return candidate
    return root


def has_mnist(root: Path) -> bool:
    return all((_normalise_root(root) / "MNIST" / "raw" / f).is_file() for f in RAW_FILES)


def load_mnist(data: str | os.PathLike | None = None, download: bool = True, device: str | torch.device = "cpu") -> Mnist:
    """Load MNIST (downloading it into the cache if allowed and needed) as tensors on ``device``."""
    root, source = mnist_root(data)
    return _load_cpu(str(root.resolve()), source, download).to(device)


@functools.lru_cache(maxsize=2)
def _load_cpu(root_str: str, source: str, download: bool) -> Mnist:
    from torchvision.datasets import MNIST

    root = _normalise_root(Path(root_str))
    if not has_mnist(root):
        if not download:
            raise DataError(
                f"MNIST not found in {root} (from {source}); pass --data DIR or set {DATA_ENV} to a folder "
                f"holding MNIST/raw/*-ubyte, or allow downloading"
            )
        try:
            root.mkdir(parents=True, exist_ok=True)
            MNIST(str(root), train=True, download=True)
            MNIST(str(root), train=False, download=True)
        except Exception as exc:  # network errors, read-only folders, bad mirrors: all end the same way
            raise DataError(
                f"could not download MNIST into {root} ({one_line(exc)}); pass --data DIR or set {DATA_ENV} "
                f"to a folder holding MNIST/raw/*-ubyte"
            ) from None
    try:
        train = MNIST(str(root), train=True, download=False)
        test = MNIST(str(root), train=False, download=False)
        tensors = (train.data, train.targets, test.data, test.targets)
    except Exception as exc:
        raise DataError(
            f"the MNIST files in {root / 'MNIST' / 'raw'} are damaged ({one_line(exc)}); delete them to "
            f"download again, or point --data / {DATA_ENV} at a good copy"
        ) from None
    _check(tensors, root)
    return Mnist(*(t.contiguous() for t in tensors), root)


def _check(tensors: tuple[torch.Tensor, ...], root: Path) -> None:
    train_x, train_y, test_x, test_y = tensors
    expected = ((TRAIN_SIZE, 28, 28), (TRAIN_SIZE,), (10000, 28, 28), (10000,))
    for t, shape, name in zip(tensors, expected, RAW_FILES):
        if tuple(t.shape) != shape:
            raise DataError(f"{root / 'MNIST' / 'raw' / name} holds shape {list(t.shape)}, expected {list(shape)}; the file is damaged")
    for y, name in ((train_y, RAW_FILES[1]), (test_y, RAW_FILES[3])):
        if int(y.min()) < 0 or int(y.max()) > 9:
            raise DataError(f"{root / 'MNIST' / 'raw' / name} holds labels outside 0..9; the file is damaged")
