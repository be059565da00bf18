"""Reading the drawing live: the newest picture and the newest model in, a guess out.

This runs in the classifier's thread, never in the GUI thread. The window posts a copy of the canvas
at most once per screen frame; a newer picture replaces one still waiting, so the reader always reads
the latest drawing and never falls behind, however fast the user draws. A picture is shrunk (by the
``prepare`` function the window gives, which knows the picture's type), brought into MNIST's form
(:func:`mnist_draw.preprocess.to_mnist`) and read by the network on the CPU, in the way made quick for one
picture at a time (:class:`mnist_draw.model.network.OnePicture`).

The network here is the reader's own, built from a :class:`~mnist_draw.gui.state.live.LiveModel`: a file
to load, or weights from a training run. A new model is read with the current picture at once.
PyTorch is first imported here too, when the window asks for a warm-up once it is on screen, so the
window shows before that slow import.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from mnist_draw.gui.state.live import Guess, LiveModel, ModelProblem, NoModel, Ready, live_model_from_file


class LiveReader:
    """The classifier's task. Requests: ``warm up``; ``model`` (a LiveModel or a file's path);
    ``image`` (``(serial, picture)``, picture None for an empty canvas). Yields Ready, the LiveModel
    that went live or a ModelProblem (NoModel for a ``model`` of None: none is live any more), and a Guess
    whenever there is something new to read."""

    def __init__(self, prepare: Callable[[Any], np.ndarray] = np.asarray):
        self.prepare = prepare  # picture -> a grey or RGBA array small enough to preprocess quickly
        self._net = None
        self._live: LiveModel | None = None
        self._seen = None  # mnist_draw.preprocess.Preprocessed: the picture as the network sees it
        self._serial = 0

    def __call__(self, jobs: dict, control=None) -> Iterator[Ready | LiveModel | ModelProblem | Guess]:
        if "warm up" in jobs:
            import torch  # the slow import, done here

            from mnist_draw.trainer.devices import default_threads

            torch.set_num_threads(default_threads(leave_for_gui=True))  # the app keeps a core for the window
            yield Ready()
        if "model" in jobs:
            yield self._use(jobs["model"])
        if "image" in jobs:
            self._serial, picture = jobs["image"]
            self._seen = self._preprocess(picture)
        if "image" in jobs or ("model" in jobs and (self._net is not None or jobs["model"] is None)):
            yield self._guess()

    def _use(self, model: LiveModel | str | None) -> LiveModel | ModelProblem | NoModel:
        from mnist_draw.model.files import ModelFileError
        from mnist_draw.model.network import OnePicture, model_from_state

        if model is None:
            self._net = self._live = None
            return NoModel()

        try:
            live = live_model_from_file(model) if isinstance(model, str) else model
            self._net = OnePicture(model_from_state(live.recipe, live.state))
        except ModelFileError as exc:
            return ModelProblem(str(model), str(exc))
        self._live = live
        return live

    def _preprocess(self, picture):
        from mnist_draw.preprocess import preprocess

        return None if picture is None else preprocess(self.prepare(picture))

    def _guess(self) -> Guess:
        pixels = None if self._seen is None else self._seen.pixels
        if pixels is None or self._net is None:
            return Guess(pixels, model=self._live, serial=self._serial)
        import torch

        from mnist_draw.model.predict import probabilities, temperature_of
        from mnist_draw.verdict import verdict

        with torch.inference_mode():  # one pass gives the outputs and what every hidden layer made of it
            logits, hidden = self._net.forward_with_hidden(torch.as_tensor(pixels))
            p = probabilities(logits, temperature_of(self._live.metadata))[0].tolist()
        v = verdict(p, self._seen.pen_too_thick)
        return Guess(pixels, v.label, v.confidence, tuple(p), self._live, self._serial,
                     tuple(h[0].numpy().copy() for h in hidden), v)
