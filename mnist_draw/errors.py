"""Error messages a person can read: every failure the user sees is one line, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_USAGE = 2  # bad arguments: what argparse and every command of this project exit with
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


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``PROG: error: MESSAGE`` (exit status 2), instead of
    argparse's usage block: the scripts', benchmarks' and commands' bad arguments all read alike."""

    def __init__(self, *args, name: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = name or self.prog  # what the error line starts with (``prog`` may be a whole command line)

    def error(self, message: str):
        self.exit(EXIT_USAGE, self.error_line(message) + "\n")

    def error_line(self, message: str) -> str:
        return f"{self.name}: error: {message}"


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts that must be 1 or more (runs, epochs, threads)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value
