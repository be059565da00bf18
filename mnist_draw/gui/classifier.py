"""Live classification: the drawing goes to a worker thread, the guess comes back.

The GUI thread never runs the network. When the canvas changes, the window hands the worker a copy
of the canvas image, at most once per screen frame. If the worker is still busy with an older
picture, the new one simply replaces the one waiting, so the worker always reads the latest drawing
and never falls behind, however fast the user draws. The worker shrinks the picture, brings it into
MNIST's form (:func:`mnist_draw.preprocess.to_mnist`) and runs the network on the CPU.

The network in the worker is its own copy, built from weights copied to the CPU (a ``state_dict``)
and the recipe: never the model being trained, which lives in the trainer's thread and may be on the
GPU. A new model (a file to load, weights from a training run) reaches the worker the same way as a
picture, and the current picture is read again with it.

With the guess come the activations of every hidden layer for this picture (``Guess.hidden``):
what the units inside the network make of the drawing, for the "Inside" view.

PyTorch is first imported by the worker, in its own thread, started once the window is on screen,
so the window is up before that slow import; ``ready`` says when it is done.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Qt, Signal, Slot
from PySide6.QtGui import QImage

from mnist_draw.gui.canvas import image_to_array

WORK_SIDE = 256  # the canvas is shrunk to this before preprocessing: plenty for a 20x20 digit


@dataclass(frozen=True)
class LiveModel:
    """A model as plain data that may cross threads: recipe, CPU weights and what is known about it."""

    recipe: Any  # mnist_draw.model.recipe.Recipe
    state: dict  # name -> CPU tensor
    name: str
    accuracy: float | None = None  # on the MNIST test set
    metadata: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def title(self) -> str:
        return f"{self.name} ({self.accuracy:.2%})" if self.accuracy is not None else f"{self.name} (not scored)"

    @property
    def finished(self) -> bool:
        """A model read from a file or at the end of training, not weights handed over while learning."""
        return self.path is not None or bool(self.metadata)


@dataclass(frozen=True)
class Guess:
    pixels: np.ndarray | None  # the 28x28 the network sees; None when there is no ink
    label: int | None = None  # None: no ink, or no model yet
    confidence: float = 0.0
    probabilities: tuple[float, ...] = ()
    model: LiveModel | None = None
    serial: int = 0  # which picture this is: the number LiveClassifier.classify gave it
    hidden: tuple[np.ndarray, ...] = ()  # each hidden layer's activations for this picture, one value per unit


def live_model_from_file(path: str) -> LiveModel:
    """Load a model file as a LiveModel; raises ModelFileError with a one-line reason."""
    from mnist_draw.model.files import load_model
    from mnist_draw.model.network import copy_state

    loaded = load_model(path)
    name = loaded.metadata.get("name") or loaded.recipe.name
    return LiveModel(loaded.recipe, copy_state(loaded.model), str(name), loaded.test_accuracy,
                     loaded.metadata, str(path))


class Mailbox:
    """Work for a worker thread, posted from the GUI thread: what is posted under a key replaces what
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


class ClassifierWorker(QObject):
    """Lives in the classifier thread. The GUI posts work to its ``mailbox``; ``work`` does it."""

    ready = Signal()
    guessed = Signal(object)  # Guess
    model_changed = Signal(object)  # LiveModel
    problem = Signal(str)

    def __init__(self):
        super().__init__()
        self.mailbox = Mailbox()
        self._net = None
        self._live: LiveModel | None = None
        self._pixels: np.ndarray | None = None
        self._serial = 0

    @Slot()
    def start(self) -> None:
        import mnist_draw.model.network  # noqa: F401  (PyTorch: the slow import, done here, off the GUI thread)

        self.ready.emit()

    @Slot()
    def work(self) -> None:
        jobs = self.mailbox.take()
        if "model" in jobs:
            self._use(jobs["model"])
        if "image" in jobs:
            self._serial, image = jobs["image"]
            self._pixels = self._preprocess(image)
        if self._net is not None or "image" in jobs:
            self.guessed.emit(self._guess())

    def _use(self, model: LiveModel | str) -> None:
        from mnist_draw.model.files import ModelFileError
        from mnist_draw.model.network import model_from_state

        try:
            live = live_model_from_file(model) if isinstance(model, str) else model
            self._net = model_from_state(live.recipe, live.state)
        except ModelFileError as exc:
            self.problem.emit(f"model not loaded: {exc}")
            return
        self._live = live
        self.model_changed.emit(live)

    @staticmethod
    def _preprocess(image: QImage | None) -> np.ndarray | None:
        from mnist_draw.preprocess import to_mnist

        if image is None:
            return None
        small = image.scaled(WORK_SIDE, WORK_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
        return to_mnist(image_to_array(small))

    def _guess(self) -> Guess:
        if self._pixels is None or self._net is None:
            return Guess(self._pixels, model=self._live, serial=self._serial)
        import torch

        with torch.inference_mode():  # one pass gives the outputs and what every hidden layer made of it
            logits, hidden = self._net.forward_with_hidden(torch.as_tensor(self._pixels[None], dtype=torch.float32))
            probabilities = torch.softmax(logits, dim=1)[0]
        label = int(probabilities.argmax())
        return Guess(self._pixels, label, float(probabilities[label]), tuple(probabilities.tolist()), self._live,
                     self._serial, tuple(h[0].numpy().copy() for h in hidden))


def worker_thread(worker: QObject, name: str, handle: QObject, relayed: tuple[str, ...]) -> QThread:
    """A thread (not started yet) for ``worker`` to live in; the worker's signals named in ``relayed``
    are passed on by the same-named signals of ``handle``, the GUI thread's object."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    for signal in relayed:
        getattr(worker, signal).connect(getattr(handle, signal))
    return thread


class LiveClassifier(QObject):
    """The GUI's handle on the classifier thread: hand it pictures and models, get guesses back."""

    ready = Signal()
    guessed = Signal(object)  # Guess
    model_changed = Signal(object)  # LiveModel
    problem = Signal(str)
    _wake = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._worker = ClassifierWorker()
        self._thread = worker_thread(self._worker, "classifier", self,
                                     ("ready", "guessed", "model_changed", "problem"))
        self._thread.started.connect(self._worker.start)
        self._wake.connect(self._worker.work)
        self.sent = 0  # pictures handed over so far; a Guess's serial says which one it read

    def start(self) -> None:
        """Start the thread; it imports PyTorch first, then emits ``ready``. Work posted before waits."""
        self._thread.start()

    def classify(self, image: QImage | None) -> None:
        """Read this picture (a copy the GUI will not touch again); None means the canvas is empty."""
        self.sent += 1
        self._post("image", (self.sent, image))

    def use_model(self, model: LiveModel) -> None:
        self._post("model", model)

    def load_file(self, path: str) -> None:
        """Load a model file in the worker; ``model_changed`` or ``problem`` tells how it went."""
        self._post("model", str(path))

    def _post(self, key: str, value: Any) -> None:
        if self._worker.mailbox.post(key, value):
            self._wake.emit()

    def shutdown(self) -> None:
        self._thread.quit()
        self._thread.wait()
