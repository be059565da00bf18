"""Reading digits: the network's ten outputs turned into probabilities and a guess."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnist_draw.model.network import MLP


@dataclass(frozen=True)
class Prediction:
    label: int
    confidence: float
    probabilities: tuple[float, ...]


def predict(model: MLP, images: np.ndarray | torch.Tensor) -> list[Prediction]:
    """Classify 28x28 images (pixels in [0, 1], white on black): softmax of the outputs and the argmax.

    The softmax is taken for every net, also those trained with a squared-error loss, so the ten
    numbers always add up to one.
    """
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 2:
        x = x.unsqueeze(0)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            probs = torch.softmax(model(x.to(device)), dim=1).cpu()
    finally:
        model.train(was_training)
    conf, labels = probs.max(dim=1)
    return [
        Prediction(int(l), float(c), tuple(float(p) for p in row))
        for l, c, row in zip(labels, conf, probs.tolist())
    ]
