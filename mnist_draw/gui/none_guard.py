"""Keep ``None``, ``True`` and ``False`` alive under PySide6 builds that drop references to them.

PySide6 6.12 wheels (stable ABI, built with the headers of Python 3.12, where these singletons are
immortal) return ``None`` from methods that return nothing without taking a reference to it. On
Python 3.10 and 3.11 each such call (``update()``, ``setPen()``, ``drawPath()``…) leaves ``None``
one reference short, and after a few thousand calls the interpreter aborts with "Fatal Python
error: none_dealloc: deallocating None"; a long drawing session gets there in seconds. Once that was
fixed, the same happened at exit with ``bool_dealloc`` (``True``/``False``).

``top_up()`` gives the references back: whenever one of these singletons' count is below ``LOW``,
it adds ``CHUNK`` to it (the count is the object's first field), so it never gets near zero. They
are never handed back, so nothing is freed at exit either. The window calls it from a timer and the
canvas after each change. It costs no memory; from Python 3.12 on (or off CPython) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform
import sys

NEEDED = sys.version_info < (3, 12) and platform.python_implementation() == "CPython"  # PEP 683
LOW = 1_000_000
CHUNK = 1_000_000
SINGLETONS = (None, True, False, NotImplemented)  # what Py_RETURN_NONE/TRUE/FALSE/NOTIMPLEMENTED return


def top_up() -> None:
    if NEEDED:
        for obj in SINGLETONS:
            if sys.getrefcount(obj) < LOW:
                ctypes.c_ssize_t.from_address(id(obj)).value += CHUNK


top_up()
