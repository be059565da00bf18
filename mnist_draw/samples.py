"""Personal samples: the user's own drawings with the right digit, kept to teach the network their hand.

They live in the per-user data folder in torchvision's ImageFolder layout, one folder per digit::

    samples/
        3/20261123-101500-1a2b3c4d.png
        7/...

Each file is the 28x28 MNIST-form image (white ink on black, 8-bit grey PNG) the network saw, written
atomically, so a crash never leaves a broken sample. Any other image dropped into a digit's folder
(a photo, a scan, a bigger drawing) is used too: :func:`load_samples` puts every file through the same
preprocessing as the canvas.
"""

from __future__ import annotations

import io
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_draw.atomic import atomic_write_bytes
from mnist_draw.paths import samples_dir

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def is_picture_file(name: str | os.PathLike) -> bool:
    """Whether a file found in a folder is taken for a picture: by its suffix, and not hidden."""
    base = os.path.basename(name)
    return os.path.splitext(base)[1].lower() in IMAGE_SUFFIXES and not base.startswith(".")


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def save_sample(image28: np.ndarray, label: int, folder: str | os.PathLike | None = None) -> Path:
    """Store one 28x28 image (pixels in [0, 1]) as a sample of ``label``; returns its path."""
    if not (isinstance(label, (int, np.integer)) and 0 <= int(label) <= 9):
        raise ValueError(f"a sample's label must be a digit 0-9 (got {label!r})")
    a = np.asarray(image28, dtype=np.float32)
    if a.shape != (28, 28) or not np.isfinite(a).all():
        raise ValueError(f"a sample must be a 28x28 image of finite values (got shape {a.shape})")
    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    name = f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}.png"
    root = Path(folder) if folder is not None else samples_dir()
    return atomic_write_bytes(root / str(int(label)) / name, buf.getvalue())


def list_samples(folder: str | os.PathLike | None = None) -> list[Sample]:
    """Every sample file, oldest first within each digit."""
    root = Path(folder) if folder is not None else samples_dir()
    found = []
    for label in range(10):
        d = root / str(label)
        if d.is_dir():
            found.extend(Sample(p, label) for p in sorted(d.iterdir()) if is_picture_file(p))
    return found


def count_samples(folder: str | os.PathLike | None = None) -> list[int]:
    counts = [0] * 10
    for s in list_samples(folder):
        counts[s.label] += 1
    return counts


def delete_sample(path: str | os.PathLike) -> None:
    Path(path).unlink(missing_ok=True)


def load_samples(folder: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All samples as ``(images [M, 28, 28] float32, labels [M] int64, problems)``.

    A file that cannot be read, or holds no ink, is skipped and named in ``problems`` (one line each),
    so one bad file never stops the others from being used.
    """
    from mnist_draw.preprocess import ImageError, load_image, to_mnist  # scipy: imported only when needed

    images, labels, problems = [], [], []
    for s in list_samples(folder):
        try:
            x = to_mnist(load_image(s.path))
        except ImageError as exc:
            problems.append(str(exc))
            continue
        if x is None:
            problems.append(f"{s.path}: no ink, skipped")
            continue
        images.append(x)
        labels.append(s.label)
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros((0,), np.int64), problems
    return np.stack(images), np.asarray(labels, np.int64), problems
