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

    def surest(self, among: np.ndarray) -> int:
        """Of the mistakes ``among`` (positions in ``images``, at least one), the one read most confidently."""
        return int(among[int(np.argmax(self.diagnosis.confidence[among]))])


def filter_for_cell(current: tuple[int | None, int | None], true: int, guess: int) -> tuple[int | None, int | None]:
    """The gallery's filter (true digit, guess; None: any) after a click on the matrix's cell (true, guess):
    that kind of mistake (on the diagonal: every misread ``true``), or no filter when a second click on the
    same cell takes it away."""
    wanted = (true, None) if true == guess else (true, guess)
    return (None, None) if wanted == current else wanted


@dataclass(frozen=True)
class MistakesFailed:
    model: LiveModel
    reason: str  # one line: why the mistakes could not be found (MNIST missing...)
