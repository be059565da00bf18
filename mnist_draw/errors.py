"""Error messages a person can read: every failure the user sees is one line, never a traceback."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
