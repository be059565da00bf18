"""Background work in the window: one pattern for every task, after superqt's generator workers.

A :class:`Worker` owns a ``QThread`` and a small ``QObject`` moved into it (superqt's
``new_worker_qthread`` wiring). The window posts requests to the worker's mailbox
(:class:`Mailbox`): what is posted under a key replaces what still waits there, so the thread only
ever does the newest work of each kind (the latest drawing, the latest model) and never falls behind.
Woken up, the thread hands everything waiting to the task, a plain generator function
(:mod:`mnist_draw.gui.tasks`), and passes on every record it yields as the ``yielded`` signal, which Qt
queues to the GUI thread. Only plain data (and ``QImage``) crosses: never a widget, never a network.

Between two records the worker looks at the task's :class:`~mnist_draw.gui.tasks.control.TaskControl`:
paused, it waits (and says so with ``paused``); aborted (the window is closing), it drops the task. A
record of ``None`` is such a checkpoint with nothing to pass on. :meth:`Worker.shutdown` aborts the
task, asks the thread to quit and waits for it, so no thread is ever destroyed while it runs.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QThread, Signal, Slot

from mnist_draw.gui.tasks.control import TaskControl

Task = Callable[[dict[str, Any], TaskControl], Iterator[Any]]  # (requests, control) -> records


class Mailbox:
    """Requests for a worker thread, posted from the GUI thread: what is posted under a key replaces what
    waits there, so the worker only ever does the newest work of each kind."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._scheduled = False

    def post(self, key: str, value: Any) -> bool:
        """Replace what waits under ``key``; True when the worker needs a wake-up (none is on its way)."""
        with self._lock:
            self._pending[key] = value
            wake, self._scheduled = not self._scheduled, True
        return wake

    def take(self) -> dict[str, Any]:
        """In the worker: everything waiting, emptying the box."""
        with self._lock:
            jobs, self._pending, self._scheduled = self._pending, {}, False
        return jobs


class _Runner(QObject):
    """Lives in the worker's thread and runs the task there."""

    yielded = Signal(object)
    paused = Signal()

    def __init__(self, task: Task, mailbox: Mailbox, control: TaskControl):
        super().__init__()
        self.task, self.mailbox, self.control = task, mailbox, control

    @Slot()
    def work(self) -> None:
        jobs = self.mailbox.take()
        if not jobs or self.control.aborted.is_set():
            return
        records = self.task(jobs, self.control)
        try:
            for record in records:
                if self.control.aborted.is_set():
                    return
                if record is not None:
                    self.yielded.emit(record)
                if self.control.pause_requested:
                    self.paused.emit()
                    self.control.checkpoint()
        finally:
            records.close()


class Worker(QObject):
    """The GUI thread's handle on one background thread running one kind of task."""

    yielded = Signal(object)  # each record the task yields, in the GUI thread
    paused = Signal()  # the task is waiting at a checkpoint until resumed
    _wake = Signal()

    def __init__(self, name: str, task: Task, parent: QObject | None = None):
        super().__init__(parent)
        self.control = TaskControl()
        self._mailbox = Mailbox()
        self._runner = _Runner(task, self._mailbox, self.control)
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner.moveToThread(self._thread)
        self._runner.yielded.connect(self.yielded)
        self._runner.paused.connect(self.paused)
        self._wake.connect(self._runner.work)
        self._closed = False

    def start(self) -> None:
        """Start the thread (posting starts it too); work posted before waits for it."""
        if not self._closed and not self._thread.isRunning():
            self._thread.start()

    def post(self, key: str, value: Any) -> None:
        """Ask for work: ``value`` under ``key`` replaces what still waits there."""
        if self._closed:  # something arrives as the window closes: the thread must not start again
            return
        self.start()
        if self._mailbox.post(key, value):
            self._wake.emit()

    def is_running(self) -> bool:
        """True while the thread runs (it starts with the first request)."""
        return self._thread.isRunning()

    def begin(self, key: str, value: Any) -> None:
        """Start a task that can be stopped or paused (a training run): a fresh control, then post."""
        self.control.reset()
        self.post(key, value)

    def shutdown(self) -> None:
        """Drop the task at its next record, end the thread and wait for it."""
        self._closed = True
        self.control.abort()
        self._thread.quit()
        self._thread.wait()
