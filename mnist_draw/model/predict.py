"""Reading digits: the network's ten outputs turned into probabilities and a guess.

A network's softmax is often surer than it is right. *Temperature scaling* (Guo et al., 2017) fixes
that with one number fitted after training: the outputs are divided by a temperature T before the
softmax (T > 1 softens them, T < 1 sharpens them; the guess never changes). A model file may carry
its T in its description (``"temperature"``, see :func:`temperature_of`); :func:`probabilities` is
the one place where it is applied, for the window, the command line and the evaluation scripts alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from mnist_draw.model.network import MLP


@dataclass(frozen=True)
class Prediction:
    label: int
    confidence: float
    probabilities: tuple[float, ...]


def temperature_of(metadata: Mapping[str, Any] | None) -> float:
    """The temperature a model file's description carries; 1.0 (no change) when it has none or a bad one."""
    value = (metadata or {}).get("temperature")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return 1.0


def probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The network's outputs ``[N, 10]`` as calibrated probabilities: softmax(outputs / temperature)."""
    return torch.softmax(logits / temperature, dim=1)


def predict(model: MLP, images: np.ndarray | torch.Tensor, temperature: float = 1.0) -> list[Prediction]:
    """Classify 28x28 images (pixels in [0, 1], white on black): calibrated softmax and the argmax.

    The softmax is taken for every net, also those trained with a squared-error loss, so the ten
    numbers always add up to one. ``temperature`` is the model's (:func:`temperature_of`).
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    device = next(model.parameters()).device
    was_training = model.training  # the live classifier's model is always in eval mode: nothing to switch
    if was_training:
        model.eval()
    try:
        with torch.inference_mode():
            probs = probabilities(model(x.to(device)), temperature).cpu()
    finally:
        if was_training:
            model.train()
    conf, labels = probs.max(dim=1)
    return [
        Prediction(int(l), float(c), tuple(float(p) for p in row))
        for l, c, row in zip(labels, conf, probs.tolist())
    ]
