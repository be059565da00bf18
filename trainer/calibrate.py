"""Calibration: is "90% sure" right nine times in ten? Measured, and fixed with one temperature.

*Expected calibration error* (ECE; Naeini et al., 2015; Guo et al., 2017): sort the guesses into bins
by their confidence, and in each bin compare the mean confidence with the share that was right; the
ECE is the average gap, weighted by how many guesses fall in each bin. A perfectly calibrated model
has 0.

*Temperature scaling* (Guo et al., 2017) divides the network's outputs by one number T before the
softmax, chosen to make the probabilities of held-back examples as likely as possible (the lowest
negative log-likelihood). It never changes which digit is guessed, only how sure the guess is. The
model file keeps T in its description; :func:`mnist_draw.model.predict.probabilities` applies it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURES = torch.linspace(0.5, 3.0, 251)  # the grid T is chosen from


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE of probabilities ``[N, 10]`` against the true labels ``[N]``, with equal-width confidence bins."""
    confidence, guess = probabilities.max(dim=1)
    right = (guess == labels).float()
    which = (confidence * bins).long().clamp(max=bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += float(inside.sum()) * abs(float(confidence[inside].mean() - right[inside].mean()))
    return total / max(1, len(labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature (from a fixed grid) that gives held-back examples the lowest negative log-likelihood."""
    losses = torch.stack([F.cross_entropy(logits / t, labels) for t in TEMPERATURES])
    return round(float(TEMPERATURES[int(losses.argmin())]), 3)
