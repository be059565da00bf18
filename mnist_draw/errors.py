"""Error messages a person can read: every failure the user sees is one line, never a traceback."""

from __future__ import annotations

import os
import sys

EXIT_BROKEN_PIPE = 141  # the status a shell gives a program that SIGPIPE ended: its output's reader went away


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def stdout_gone() -> int:
    """What a command does when the program reading its output has gone (``mnist-draw classify ... | head``):
    the next write fails with BrokenPipeError. Point stdout at the null device, so that Python's own flush
    at exit fails no more, and return :data:`EXIT_BROKEN_PIPE` for the command to exit with, quietly, as a
    program ended by SIGPIPE does."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, sys.stdout.fileno())
    os.close(null)
    return EXIT_BROKEN_PIPE
