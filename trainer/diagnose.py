"""Where a model goes wrong: its confusion matrix and the test digits it misreads.

Accuracy is one number; the confusion matrix says which mistakes make it up. It is a 10x10 table of
counts: row ``t``, column ``g`` counts the test digits whose true label is ``t`` and that the model
read as ``g``. The diagonal holds the digits read right, so its sum divided by the number of digits
is the accuracy :func:`mnist_draw.trainer.loop.evaluate` reports, and everything off the diagonal is a mistake.
A large cell off the diagonal (4 read as 9, 7 read as 2) is a confusion worth looking at.

:func:`diagnose` runs the model over the test digits in batches (``mnist_draw.trainer.loop.outputs``, as
``evaluate`` does), and
keeps for every mistake which digit it was (its index in the test set), its true label, the guess
and how sure the model was of that guess (the probability of the guessed digit, with the model's
temperature applied as the window and the command line apply it). Everything
comes back as numpy arrays: plain data, which a GUI can hand from a worker thread to its window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnist_draw.model.network import MLP
from mnist_draw.model.predict import probabilities
from mnist_draw.trainer.loop import EVAL_CHUNK, outputs


@dataclass(frozen=True)
class Diagnosis:
    confusion: np.ndarray  # [10, 10] int64: rows the true digit, columns the guess
    wrong: np.ndarray  # [k] int64: indices of the misread digits in the test set, in order
    truth: np.ndarray  # [k] int64: their true labels
    guess: np.ndarray  # [k] int64: what the model read
    confidence: np.ndarray  # [k] float32: the probability the model gave its guess

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion)) / max(1, self.total)

    def mistakes_of(self, truth: int | None = None, guess: int | None = None) -> np.ndarray:
        """Positions (into ``wrong``) of the mistakes with this true digit and/or this guess."""
        keep = np.ones(len(self.wrong), bool)
        if truth is not None:
            keep &= self.truth == truth
        if guess is not None:
            keep &= self.guess == guess
        return np.flatnonzero(keep)


def diagnose(model: MLP, x: torch.Tensor, y: torch.Tensor, temperature: float = 1.0, chunk: int = EVAL_CHUNK) -> Diagnosis:
    """Confusion matrix and mistakes of ``model`` on images ``x`` (uint8 or [0, 1]) with labels ``y``;
    ``temperature`` is the model's (:func:`mnist_draw.model.predict.temperature_of`)."""
    logits = outputs(model, x, chunk)
    guess = logits.argmax(1)  # as evaluate() decides, so the two always agree
    confidence = probabilities(logits, temperature).gather(1, guess[:, None])[:, 0]
    truth = y.cpu().numpy().astype(np.int64)
    guess = guess.cpu().numpy().astype(np.int64)
    confidence = confidence.cpu().numpy().astype(np.float32)
    confusion = np.bincount(truth * 10 + guess, minlength=100).reshape(10, 10).astype(np.int64)
    wrong = np.flatnonzero(truth != guess)
    return Diagnosis(confusion, wrong, truth[wrong], guess[wrong], confidence[wrong])
