"""A model's mistakes on MNIST's test digits, as plain data (found by :mod:`mnist_draw.gui.tasks.mistakes`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_draw.gui.state.live import LiveModel


@dataclass(frozen=True)
class Mistakes:
    model: LiveModel
    diagnosis: object  # mnist_draw.trainer.diagnose.Diagnosis: confusion matrix and the misread digits
    images: np.ndarray  # [k, 28, 28] uint8, white on black: the misread test digits, as in diagnosis.wrong


@dataclass(frozen=True)
class MistakesFailed:
    model: LiveModel
    reason: str  # one line: why the mistakes could not be found (MNIST missing...)
