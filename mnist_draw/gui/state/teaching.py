"""Teaching the network your handwriting: keeping the drawing as a personal sample of the digit you name.

When the network reads a drawing wrong (or right), the user names the right digit (its key, or a click
on its bar). What is kept is exactly what the network saw: the 28x28 MNIST-form picture of the drawing
*as it is now* (:func:`mnist_draw.samples.save_sample`). If the network has not read the latest strokes
yet, the digit waits and the sample is saved when the guess of the current drawing comes; if the
drawing changes in between, nothing is saved and the user is told, so a sample is never an out-of-date
picture. The last sample saved can be taken back (a click on a bar is easily made by mistake).
"""

from __future__ import annotations

import os
from pathlib import Path

from mnist_draw.gui.state.live import Guess
from mnist_draw.samples import count_samples, delete_sample, save_sample

NOTHING_TO_SAVE = "Nothing to save: draw a digit first, then press its key or click its bar"


def samples_text(count: int) -> str:
    return f"{count} sample" if count == 1 else f"{count} samples"


class Teaching:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.total = 0
        self.pending: int | None = None  # the digit to save once the network has read the drawing
        self.last_saved: Path | None = None  # the sample Undo would delete
        self.saves = 0  # samples saved since the window opened: one more means Undo can be offered

    def count(self) -> str:
        """Count the samples on disk again; returns a message when they cannot be read ("" otherwise)."""
        try:
            self.total = sum(count_samples(self.folder))
        except OSError as exc:
            return f"Could not read the samples in {self.folder}: {exc.strerror or exc}"
        return ""

    def ask(self, digit: int, canvas_empty: bool, current: Guess | None) -> str:
        """The user says the drawing is ``digit``. ``current`` is the guess of the drawing as it is now,
        or None when the network has not read it yet. Returns what to say."""
        if canvas_empty:
            self.pending = None
            return NOTHING_TO_SAVE
        self.pending = digit
        if current is None:
            return f"Saving as a {digit} once the network has read the drawing…"
        return self.guess_arrived(current)

    def guess_arrived(self, current: Guess | None) -> str:
        """A guess came; save the waiting digit if it reads the current drawing. Returns what to say."""
        if self.pending is None or current is None:
            return ""
        digit, self.pending = self.pending, None
        if current.pixels is None:
            return NOTHING_TO_SAVE
        try:
            self.last_saved = save_sample(current.pixels, digit, self.folder)
            self.saves += 1
        except OSError as exc:
            return (f"Could not save the sample in {self.folder}: {exc.strerror or exc} (the drawing is still "
                    f"here: try again)")
        self.count()
        if current.label is None:
            verdict = ""
        elif current.label == digit:
            verdict = " (a confirmation)"
        else:
            verdict = f" (a correction: the network said {current.label})"
        return f"Saved as a {digit}{verdict} — {samples_text(self.total)}"

    def drawing_changed(self) -> str:
        if self.pending is None:
            return ""
        self.pending = None
        return "The drawing changed before it could be saved: nothing saved; press the digit again"

    def undo(self) -> str:
        """Delete the sample saved last."""
        if self.last_saved is None:
            return "No sample to take back"
        path, self.last_saved = self.last_saved, None
        try:
            delete_sample(path)
        except OSError as exc:
            return f"Could not delete {path}: {exc.strerror or exc}"
        self.count()
        return f"Sample taken back — {samples_text(self.total)}"
