"""Writing files so that a crash, a kill or a full disk never leaves a half-written one behind.

The bytes go to a temporary file in the same folder, are flushed and fsync'ed, and only then is the
temporary file renamed over the destination with ``os.replace`` (atomic on POSIX and Windows). Readers
see either the old file or the new one, never a mixture. If anything fails, the temporary file is
removed and the old file is untouched.

A rename replaces whatever has the name, so what is there is looked at first: a symbolic link is written
through (the file it names is replaced and the link stays a link), and a folder, a device or other
special file, or a read-only file is refused with an ``OSError`` whose ``strerror`` says why in words.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``. Raises OSError (nothing written)."""
    path = Path(path)
    target = replaceable(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = target.stat().st_mode & 0o777  # keep the permissions of the file we replace
    except OSError:
        mode = 0o666 & ~_umask()  # a new file gets what open() would give it
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)
    return path


def replaceable(path: Path) -> Path:
    """The file a write to ``path`` replaces: the one a symbolic link names, else ``path`` itself.
    Raises OSError when what is there must not be replaced by a new file."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = target.stat()
    except FileNotFoundError:
        return target
    except NotADirectoryError:
        raise NotADirectoryError(errno.ENOTDIR, "a file stands where its folder should be", str(path)) from None
    except OSError as exc:
        raise OSError(exc.errno, f"cannot look at it ({exc.strerror})", str(path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "it is a device or other special file, not a file to replace", str(path))
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "the file is read-only: it was left as it is", str(path))
    return target


def _umask() -> int:
    try:  # Linux tells it without changing it (os.umask would, for a moment, for every thread)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
