"""MNIST as four tensors on the training device, loaded once.

The tutorials feed MNIST through torchvision's ``DataLoader``: every batch builds 64 PIL images, turns
each into a tensor and stacks them, one sample at a time. That is where most of their 8 s per epoch go.
Here all the digits are read once (:func:`read_idx`; torchvision is imported only to download them,
from its list of mirrors) into uint8 tensors, moved to the device in one piece, and batches are slices
of a random permutation: no per-sample Python at all.

Where the data comes from, first match wins: ``--data DIR``, then the ``MNIST_DRAW_DATA`` environment
variable, then a per-user cache folder, where it is downloaded on first need (unless downloading is
forbidden). The folder holds torchvision's layout: ``MNIST/raw/*-ubyte``.

When something goes wrong the message says what: which download failed and why (no network, a proxy,
a refused connection, no answer), or which file could not be read. Only the cache that this program
filled itself is ever suggested for deletion; a folder the user pointed us at is theirs.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import socket
import ssl
import struct
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

import numpy as np
import torch

from mnist_draw.errors import one_line
from mnist_draw.model.recipe import MNIST_TEST_SIZE, MNIST_TRAIN_SIZE
from mnist_draw.paths import DATA_ENV, mnist_root, user_cache_dir

__all__ = ["DataError", "Mnist", "MNIST_TRAIN_SIZE", "MNIST_TEST_SIZE", "RAW_FILES", "has_mnist", "load_mnist",
           "download_failure"]

IDX_UBYTE = 0x08  # the IDX element type of MNIST's files: unsigned bytes
DOWNLOAD_TIMEOUT_S = 30  # a mirror that sends nothing for this long counts as not answering

RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DataError(RuntimeError):
    """MNIST cannot be had; the message is one line that says where we looked and what to do.

    ``download_failed`` is set when a download was tried: what failed, without the advice (which is the
    command line's; a window words its own)."""

    def __init__(self, message: str, download_failed: str | None = None, missing: bool = False):
        super().__init__(message)
        self.download_failed = download_failed
        self.missing = missing  # not there, and not to be downloaded


@dataclass(frozen=True)
class Mnist:
    train_x: torch.Tensor  # [MNIST_TRAIN_SIZE, 28, 28] uint8, white ink on black
    train_y: torch.Tensor  # [MNIST_TRAIN_SIZE] int64
    test_x: torch.Tensor  # [MNIST_TEST_SIZE, 28, 28] uint8
    test_y: torch.Tensor  # [MNIST_TEST_SIZE] int64
    root: Path

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
    """Load MNIST (downloading it into the cache if allowed and needed) as tensors on ``device``.

    A folder's MNIST is read once and kept (one copy, however it is asked for); ``.to(device)`` copies it
    to a GPU when the training needs it there.
    """
    root, source = mnist_root(data)
    root = _normalise_root(root.resolve())
    if not has_mnist(root):
        if not download:
            raise DataError(
                f"MNIST not found in {root} (from {source}); pass --data DIR or set {DATA_ENV} to a folder "
                f"holding MNIST/raw/*-ubyte", missing=True
            )
        _download(root)
    return _read(str(root)).to(device)


@functools.lru_cache(maxsize=2)
def _read(root_str: str) -> Mnist:
    root = Path(root_str)
    try:
        tensors = tuple(read_idx(root / "MNIST" / "raw" / name) for name in RAW_FILES)
    except (OSError, ValueError) as exc:
        raise DataError(_unreadable(root, one_line(exc))) from None
    train_x, train_y, test_x, test_y = tensors
    tensors = (train_x, train_y.long(), test_x, test_y.long())
    _check(tensors, root)
    return Mnist(*tensors, root)


def read_idx(path: Path) -> torch.Tensor:
    """One MNIST file as a uint8 tensor. The IDX format is a big-endian header (two zero bytes, the
    element type, the number of dimensions, then each dimension's size) followed by the array's bytes.

    torchvision's MNIST class reads the same files, but importing torchvision costs the app a couple of
    hundred megabytes and holds Python's interpreter lock long enough for the window to stutter; it is
    imported only to download the files (its mirrors, checksums and unpacking).
    """
    with open(path, "rb") as f:
        head = f.read(4)
        if len(head) < 4 or head[:2] != b"\0\0" or head[2] != IDX_UBYTE:
            raise ValueError(f"{path.name} is not an IDX file of unsigned bytes")
        shape = struct.unpack(f">{head[3]}I", f.read(4 * head[3]))
        pixels = np.fromfile(f, dtype=np.uint8)
    if pixels.size != math.prod(shape):
        raise ValueError(f"{path.name} holds {pixels.size} bytes where its header says {math.prod(shape)}")
    return torch.from_numpy(pixels.reshape(shape))


def _is_our_cache(root: Path) -> bool:
    """True for the per-user cache this program downloads into (its files are ours to delete)."""
    return root.resolve() == (user_cache_dir() / "mnist").resolve()


def _unreadable(root: Path, what: str) -> str:
    raw = root / "MNIST" / "raw"
    if _is_our_cache(root):
        return (f"the MNIST files downloaded into {raw} are damaged ({what}); delete that folder to download "
                f"them again, or point --data / {DATA_ENV} at a good copy")
    return (f"the MNIST files in {raw} cannot be read ({what}): damaged, or not MNIST; point --data / {DATA_ENV} "
            f"at a good copy")


def _download(root: Path) -> None:
    """Download the four MNIST files into ``root/MNIST/raw``, trying each mirror; DataError says why not."""
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import download_and_extract_archive

    raw = root / "MNIST" / "raw"
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create {raw} ({exc.strerror or one_line(exc)})"
        raise DataError(_no_download(root, [reason]), download_failed=reason) from None
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib waits forever otherwise
    try:
        with contextlib.redirect_stdout(sys.stderr):  # torchvision prints its progress: keep stdout for --json
            for filename, md5 in MNIST.resources:
                reasons = []
                for mirror in MNIST.mirrors:
                    try:
                        download_and_extract_archive(f"{mirror}{filename}", str(raw), filename=filename, md5=md5)
                        break
                    except (OSError, RuntimeError) as exc:  # URLError is an OSError
                        reasons.append(f"{urlsplit(mirror).netloc or mirror}: {download_failure(exc)}")
                else:
                    raise DataError(_no_download(root, reasons, filename), download_failed="; ".join(reasons))
    finally:
        socket.setdefaulttimeout(timeout)


def _no_download(root: Path, reasons: list[str], filename: str | None = None) -> str:
    what = f" ({filename})" if filename else ""
    return (f"could not download MNIST into {root}{what}: {'; '.join(reasons)}; pass --data DIR or set {DATA_ENV} "
            f"to a folder holding MNIST/raw/*-ubyte")


def download_failure(exc: BaseException) -> str:
    """Why a download failed, in a user's words: no network, a proxy, a refused connection, no answer..."""
    if isinstance(exc, HTTPError):
        if exc.code == 407:
            return "the proxy asks for a user name and password (HTTP 407)"
        return f"the server answered HTTP {exc.code} {exc.reason}"
    reason = exc.reason if isinstance(exc, URLError) else exc
    proxy = urllib.request.getproxies()
    through = f" (through the proxy {proxy.get('https') or proxy.get('http')})" if proxy else ""
    if isinstance(reason, socket.gaierror):
        return f"the server's name could not be looked up: no network, or no name server{through}"
    if isinstance(reason, ConnectionRefusedError):
        return f"the connection was refused{through}"
    if isinstance(reason, TimeoutError):
        return f"no answer within {DOWNLOAD_TIMEOUT_S} s{through}"
    if isinstance(reason, ssl.SSLError):
        return f"the secure connection failed ({one_line(reason)}): a proxy or firewall may be in the way"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return "the network is unreachable: no network connection"
    if isinstance(reason, OSError) and "Tunnel connection failed" in str(reason):
        return f"the proxy refused to connect ({one_line(reason)}){through}"
    if isinstance(reason, PermissionError):
        return f"cannot write the file ({reason.strerror})"
    if isinstance(exc, RuntimeError) and "corrupted" in str(exc):
        return "the downloaded file is damaged (wrong checksum)"
    text = one_line(reason) if str(reason).strip() else type(reason).__name__
    return f"{text}{through}"


def _check(tensors: tuple[torch.Tensor, ...], root: Path) -> None:
    _, train_y, _, test_y = tensors
    expected = ((MNIST_TRAIN_SIZE, 28, 28), (MNIST_TRAIN_SIZE,), (MNIST_TEST_SIZE, 28, 28), (MNIST_TEST_SIZE,))
    for t, shape, name in zip(tensors, expected, RAW_FILES):
        if tuple(t.shape) != shape:
            raise DataError(_unreadable(root, f"{name} holds shape {list(t.shape)}, expected {list(shape)}"))
    for y, name in ((train_y, RAW_FILES[1]), (test_y, RAW_FILES[3])):
        if int(y.min()) < 0 or int(y.max()) > 9:
            raise DataError(_unreadable(root, f"{name} holds labels outside 0..9"))
