"""The one rule that decides whether the app is sure of what it reads, used by the window and the command line.

The network gives ten probabilities, one per digit. A guess that hides its doubt teaches the wrong
thing, so the answer is one of four kinds:

* ``"digit"``: the most probable digit has at least :data:`SURE_AT` of the probability. The app is
  *sure*, and says the digit.
* ``"not sure"``: it has less, but together with the runner-up it has that much: the drawing looks
  like one of two digits ("not sure: 9 (48%) or 4 (41%)").
* ``"not a digit"``: even the two most probable digits together have less: the probability is spread
  over many digits, which is what the network was trained to do with drawings that are no digit
  (outlier exposure, :mod:`mnist_draw.trainer.outliers`).
* ``"pen too thick"``: preprocessing found the pen too thick for the size of the drawing
  (:attr:`mnist_draw.preprocess.Preprocessed.pen_too_thick`): its loops and gaps have closed up, and
  whatever the network says is a guess.

Only ``"digit"`` is sure. The threshold is chosen on the development sets (tests/data/drawn and the
development non-digits), never on the held-out ones, by a rule: the highest threshold (in steps of 5%)
at which the development digits read right are still answered sure nearly always (the floor is in
``scripts/eval-drawn``; ``scripts/eval-drawn --thresholds`` prints the trade-off and the pick). A higher
threshold says "not sure" to more drawings that are no digit, and to more digits too.

The probabilities must already be calibrated: :func:`mnist_draw.model.predict.probabilities` applies
the model's temperature. This module needs neither Qt nor PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

SURE_AT = 0.8  # picked by `scripts/eval-drawn --thresholds` for the shipped model
KINDS = ("digit", "not sure", "not a digit", "pen too thick")
PEN_TOO_THICK_TEXT = "the pen is too thick for a digit this small"


@dataclass(frozen=True)
class Verdict:
    kind: str  # one of KINDS
    label: int  # the most probable digit (shown as a hint even when not sure)
    confidence: float  # its probability
    sure: bool  # True exactly when kind is "digit"
    text: str  # one line for people: "7, 98% sure", "not sure: 9 (48%) or 4 (41%)", "not a digit", ...
    runner_up: int  # the second most probable digit
    runner_up_confidence: float

    @property
    def names_a_digit(self) -> bool:
        """Whether the answer points at a digit (sure, or one of two), not "not a digit" or a pen too thick."""
        return self.kind in ("digit", "not sure")


def verdict(probabilities: Sequence[float], pen_too_thick: bool = False, sure_at: float | None = None) -> Verdict:
    """What to tell the user about a drawing, given the network's ten (calibrated) probabilities and
    whether preprocessing found the pen too thick for it. ``sure_at`` is the threshold (the app's,
    :data:`SURE_AT`, unless another is being weighed). Raises ValueError for anything but ten finite
    probabilities."""
    sure_at = SURE_AT if sure_at is None else sure_at
    p = [float(v) for v in probabilities]
    if len(p) != 10 or not all(math.isfinite(v) for v in p):
        raise ValueError(f"a verdict needs ten finite probabilities (got {len(p)} values"
                         f"{'' if all(math.isfinite(v) for v in p) else ', not all finite'})")
    first, second = sorted(range(10), key=lambda d: -p[d])[:2]
    top, next_ = p[first], p[second]
    if pen_too_thick:
        kind, text = "pen too thick", PEN_TOO_THICK_TEXT
    elif top >= sure_at:
        kind, text = "digit", f"{first}, {top:.0%} sure"
    elif top + next_ >= sure_at:
        kind, text = "not sure", f"not sure: {first} ({top:.0%}) or {second} ({next_:.0%})"
    else:
        kind, text = "not a digit", "not a digit"
    return Verdict(kind, first, top, kind == "digit", text, second, next_)
