"""What the window may do to a task while it runs: stop it, pause it, resume it.

These are set from the GUI thread and read in the worker thread, so they are ``threading.Event``
objects, not queued messages: while a task runs, its thread's event loop does not, and a queued
"please stop" would never be read. A task checks :attr:`TaskControl.stop` itself and ends in its own
way (a training run finishes the batch it is on and reports how far it got). Pausing happens between
two records the task yields: the worker waits in :meth:`TaskControl.checkpoint` until Resume or Stop.
The task's :meth:`TaskControl.clock` does not run while it waits, so a paused minute is not counted
as time spent training.
"""

from __future__ import annotations

import threading
import time


class TaskControl:
    def __init__(self):
        self.stop = threading.Event()  # the task should end, in its own way, as soon as it can
        self.aborted = threading.Event()  # the window is closing: the worker drops the task at once
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._paused_seconds = 0.0

    def reset(self) -> None:
        """Ready for a new task (from the GUI thread, before it is posted)."""
        self.stop.clear()
        self.aborted.clear()
        self._running.set()
        self._paused_seconds = 0.0

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def request_stop(self) -> None:
        self.stop.set()
        self._running.set()  # a paused task wakes up to stop

    def abort(self) -> None:
        self.aborted.set()
        self.request_stop()

    @property
    def pause_requested(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> None:
        """In the worker thread: wait here while paused, and keep the time waited off the clock."""
        if self._running.is_set():
            return
        start = time.perf_counter()
        self._running.wait()
        self._paused_seconds += time.perf_counter() - start

    def clock(self) -> float:
        """Seconds that run only while the task is not paused (for measuring the task's own time)."""
        return time.perf_counter() - self._paused_seconds
