"""Printed digits beside MNIST's handwriting.

MNIST's digits were written by American census staff and students: its 6s have almost no curled top,
its 9s no curled tail, its 1s rarely a serif. Many people draw digits the way they have seen them
printed. So a recipe can add the ten digits of a few dozen typefaces to its training digits (the
recipe's ``typefaces``, a share of MNIST's digits): the bank is repeated until it makes up that share,
and every copy is augmented afresh like MNIST's own digits, so no two look alike.

The bank (``resources/training/typeface-digits.npz``) holds the digits already in MNIST form, made by
``scripts/make-typeface-bank`` from typefaces that no drawn set of this project uses. Loading it reads
plain arrays only (no pickled objects).
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np
import torch

from mnist_draw.paths import resource_path

BANK = ("training", "typeface-digits.npz")


class TypefaceBankError(RuntimeError):
    """The bank cannot be read (a damaged install): one line that says where and what to do."""


@functools.lru_cache(maxsize=2)
def load_bank(path: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The bank's digits (uint8, Nx28x28, white ink on black, as MNIST's) and their labels (int64);
    :class:`TypefaceBankError` if the file is missing or not such a bank."""
    path = resource_path(*BANK) if path is None else path
    try:
        with np.load(path, allow_pickle=False) as bank:
            images, labels = bank["images"], bank["labels"]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) \
                or len(labels) != len(images) or len(images) == 0 or labels.min() < 0 or labels.max() > 9:
            raise ValueError("not 28x28 digits with labels 0-9")
    except OSError as exc:
        why = exc.strerror or str(exc)
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        why = f"not a bank of printed digits: {exc}"
    else:
        return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))
    raise TypefaceBankError(f"cannot read the printed digits at {path} ({why}); reinstall mnist-draw, or train "
                            f"a recipe without them (typefaces 0)")


def typeface_count(digits: int, share: float) -> int:
    """How many printed digits :func:`with_typefaces` adds to ``digits`` training digits: whole copies of the
    bank, as many as make up ``share`` of them; for a share smaller than half the bank, the first typefaces'
    digits (ten per typeface) that make it up."""
    if share <= 0 or digits <= 0:
        return 0
    bank = len(load_bank()[1])
    copies = round(share * digits / bank)
    return copies * bank if copies else max(10, round(share * digits / 10) * 10)


def with_typefaces(x: torch.Tensor, y: torch.Tensor, share: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Training digits ``x`` (float, 0..1) and labels ``y`` with the printed digits appended."""
    count = typeface_count(len(y), share)
    if count == 0:
        return x, y
    images, labels = load_bank()
    copies = -(-count // len(labels))
    bank_x = images.to(x.device, torch.float32).div_(255.0).repeat(copies, 1, 1)[:count]
    return torch.cat([x, bank_x]), torch.cat([y, labels.to(y.device).repeat(copies)[:count]])
