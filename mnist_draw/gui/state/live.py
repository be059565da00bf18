"""The live model and its guesses: plain data that may cross from one thread to another.

A model lives in several threads at once: the training thread trains it (maybe on the GPU), the
classifier thread reads drawings with it, the mistakes thread runs it over MNIST's test digits. None of
them shares a network with another. What travels is a :class:`LiveModel`: the recipe, a copy of the
weights on the CPU (a ``state_dict``) and what is known about it; each thread builds its own network
from that (``mnist_draw.model.network.model_from_state``, which costs next to nothing).

A :class:`Guess` is what the classifier made of one picture: the 28x28 image the network saw, the
(calibrated) probabilities, the verdict (:mod:`mnist_draw.verdict`: sure, not sure, not a digit, a pen
too thick), and the activations of every hidden layer (for looking inside).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
    serial: int = 0  # which picture this is: the number the window gave it when it sent it
    hidden: tuple[np.ndarray, ...] = ()  # each hidden layer's activations for this picture, one value per unit
    verdict: Any = None  # mnist_draw.verdict.Verdict: what to tell the user; None without a model or ink

    def most_active(self, n: int) -> list[int]:
        """The first hidden layer's ``n`` most active units for this picture, most active first (only those
        the picture excites at all); none without ink, a model or a hidden layer."""
        if self.pixels is None or self.label is None or not self.hidden:
            return []
        first = self.hidden[0]
        return [int(u) for u in np.argsort(first)[::-1][:n] if first[u] > 0]


def live_model_from_file(path: str) -> LiveModel:
    """Load a model file as a LiveModel; raises ModelFileError with a one-line reason."""
    from mnist_draw.model.files import load_model
    from mnist_draw.model.network import copy_state

    loaded = load_model(path)
    name = loaded.metadata.get("name") or loaded.recipe.name
    return LiveModel(loaded.recipe, copy_state(loaded.model), str(name), loaded.test_accuracy,
                     loaded.metadata, str(path))


def save_live_model(model: LiveModel, path: str) -> str:
    """Write ``model`` to ``path`` atomically (raises OSError); returns the path written."""
    from mnist_draw.model.files import save_model
    from mnist_draw.model.network import model_from_state

    return str(save_model(path, model_from_state(model.recipe, model.state), model.metadata))


@dataclass(frozen=True)
class Ready:
    """The classifier's thread has imported PyTorch: recipes, devices and models can be used now."""


@dataclass(frozen=True)
class NoModel:
    """The live model was taken away: a run that had no model before it ended without a scored one, so
    the weights it handed over while learning (maybe broken, never scored) are not left to be read or saved."""


@dataclass(frozen=True)
class ModelProblem:
    """A model file that could not be used; the model that was live stays live."""

    path: str
    message: str  # one line

    @property
    def reason(self) -> str:
        """The message without the path it starts with (a label that names the file already)."""
        return self.message.removeprefix(f"{self.path}: ")
