"""Finding a model's mistakes on the MNIST test set, in a thread of its own.

Whenever a finished model goes live (loaded from a file, or at the end of training), the window asks
for its mistakes: the confusion matrix over the 10,000 MNIST test digits and the digits it misreads
(see :mod:`mnist_draw.trainer.diagnose`). Reading MNIST and running the network over all of it takes up to a
second, too long for the GUI thread, and the live classifier's thread must stay free for the drawing;
so a :class:`MistakeWorker` does it in a third thread.

As with the live classifier, the request waits in a :class:`~mnist_draw.gui.classifier.Mailbox`: a
newer model replaces one still waiting, so the worker never works through a queue of stale models.
What comes back is plain data: a :class:`Mistakes` holding numpy arrays and the model it is about,
from which the window builds its pictures. When MNIST is not there, the answer is a one-line reason.

As the first model goes live when the app starts, this thread also reads MNIST (and imports
torchvision, whose import holds Python's interpreter lock for up to 0.2 s) while the user starts to
draw, so a training run started later finds MNIST in memory and the window stays smooth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from mnist_draw.errors import one_line
from mnist_draw.gui.classifier import LiveModel, Mailbox, worker_thread


@dataclass(frozen=True)
class Mistakes:
    model: LiveModel
    diagnosis: object  # mnist_draw.trainer.diagnose.Diagnosis: confusion matrix and the misread digits
    images: np.ndarray  # [k, 28, 28] uint8, white on black: the misread test digits, as in diagnosis.wrong


class MistakeWorker(QObject):
    """Lives in the mistakes thread; ``work`` diagnoses the newest model posted to ``mailbox``."""

    found = Signal(object)  # Mistakes
    failed = Signal(object, str)  # the LiveModel, and why it could not be diagnosed

    def __init__(self):
        super().__init__()
        self.mailbox = Mailbox()

    @Slot()
    def work(self) -> None:
        jobs = self.mailbox.take()
        if "model" not in jobs:
            return
        model, data = jobs["model"]
        from mnist_draw.model.network import model_from_state
        from mnist_draw.trainer.data import DataError, load_mnist
        from mnist_draw.trainer.diagnose import diagnose

        try:
            mnist = load_mnist(data, download=False)
            diagnosis = diagnose(model_from_state(model.recipe, model.state), mnist.test_x, mnist.test_y)
        except (DataError, ValueError, RuntimeError, MemoryError) as exc:
            self.failed.emit(model, one_line(exc))
            return
        self.found.emit(Mistakes(model, diagnosis, mnist.test_x[diagnosis.wrong].numpy()))


class MistakeFinder(QObject):
    """The GUI's handle: ``find(model, data)``; ``found`` or ``failed`` answers, in the GUI thread."""

    found = Signal(object)  # Mistakes
    failed = Signal(object, str)
    _wake = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker = MistakeWorker()
        self._thread = worker_thread(self._worker, "mistakes", self, ("found", "failed"))
        self._wake.connect(self._worker.work)
        self._closed = False

    def find(self, model: LiveModel, data: str | None = None) -> None:
        """Diagnose ``model`` on the MNIST test set found from ``data`` (as the trainer finds it)."""
        if self._closed:  # a model that arrives as the window closes: its thread must not start again
            return
        if not self._thread.isRunning():
            self._thread.start()
        if self._worker.mailbox.post("model", (model, data)):
            self._wake.emit()

    def running(self) -> bool:
        return self._thread.isRunning()

    def shutdown(self) -> None:
        self._closed = True
        self._thread.quit()
        self._thread.wait()
