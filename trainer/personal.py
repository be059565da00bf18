"""Fine-tuning on the user's own samples without forgetting MNIST.

A few dozen drawings are nothing next to MNIST's tens of thousands of digits, and training on them
alone would make the network forget the rest ("catastrophic forgetting"). So the run mixes them with
*replayed* MNIST: each epoch shows a slice of MNIST (a random one for each run, of every digit; its
size is :data:`REPLAY`) plus every personal sample, repeated often enough that they make up a set
share (:data:`SHARE`) of what the network sees. A small learning rate and a few epochs nudge the
existing weights instead of starting over. :func:`scores` measures MNIST test accuracy and the accuracy
on the samples themselves, before and after, so both the cost and the gain are visible.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from mnist_draw.model.network import MLP
from mnist_draw.model.recipe import Recipe
from mnist_draw.trainer import distributed
from mnist_draw.trainer.data import Mnist
from mnist_draw.trainer.loop import TrainingRun, evaluate
from mnist_draw.trainer.randomness import fresh_seed

REPLAY = 12000  # MNIST training digits per fine-tuning epoch
SHARE = 0.2  # the personal samples' share of each epoch
EPOCHS = 3  # a fine-tune's length unless told otherwise: a few nudges, not a new training


def finetune_recipe(base: Recipe, epochs: int = EPOCHS) -> Recipe:
    """Same network (so the weights fit), gentler training."""
    name = base.name if base.name.endswith("-personal") else f"{base.name}-personal"
    return base.replace(name=name, optimizer="adam", lr=2e-4, momentum=0.0, weight_decay=0.0, epochs=epochs,
                        schedule="cosine", max_steps=None, sampling="shuffle", batch_size=min(base.batch_size, 128),
                        augment="light", loss=base.loss, label_smoothing=base.label_smoothing)


def repeats_for(n_samples: int, replay: int = REPLAY, share: float = SHARE) -> int:
    """How many times each sample is shown per epoch so that samples make up ``share`` of it."""
    if n_samples == 0:
        return 0
    return max(1, math.ceil(share * replay / ((1 - share) * n_samples)))


def personal_run(model: MLP, samples_x: np.ndarray, samples_y: np.ndarray, data: Mnist, *, epochs: int = EPOCHS,
                 replay: int = REPLAY, **kwargs) -> TrainingRun:
    """A TrainingRun that fine-tunes ``model``'s weights on the samples mixed with replayed MNIST."""
    if len(samples_y) == 0:
        raise ValueError("there are no personal samples to learn from yet")
    extra = (torch.as_tensor(samples_x, dtype=torch.float32), torch.as_tensor(samples_y, dtype=torch.int64),
             repeats_for(len(samples_y), replay))
    seed = kwargs.get("seed")
    seed = distributed.shared_seed(seed if seed is not None else fresh_seed(), distributed.current())
    generator = torch.Generator().manual_seed(seed)  # the run's own: PyTorch's global one is left alone
    pick = torch.randperm(len(data.train_y), generator=generator)[:replay].to(data.train_y.device)
    replayed = dataclasses.replace(data, train_x=data.train_x[pick], train_y=data.train_y[pick])
    return TrainingRun(finetune_recipe(model.recipe, epochs), replayed, init=model.state_dict(), extra=extra,
                       **{**kwargs, "seed": seed})  # the one seed picks the replayed digits and runs the rest


def accuracy_on(model: MLP, data: Mnist) -> float:
    device = next(model.parameters()).device
    return evaluate(model, data.test_x.to(device), data.test_y.to(device))


def samples_accuracy(model: MLP, samples_x: np.ndarray, samples_y: np.ndarray) -> float:
    """How many of the personal samples ``model`` reads right."""
    device = next(model.parameters()).device
    x = torch.as_tensor(samples_x, dtype=torch.float32, device=device)
    y = torch.as_tensor(samples_y, dtype=torch.int64, device=device)
    return evaluate(model, x, y)


def scores(model: MLP, data: Mnist, samples_x: np.ndarray, samples_y: np.ndarray) -> tuple[float, float]:
    """``(MNIST test accuracy, accuracy on the personal samples)``: what fine-tuning costs, and what it gains."""
    return accuracy_on(model, data), samples_accuracy(model, samples_x, samples_y)


def finetune_metadata(base_metadata: dict, mnist_before: float, samples: int) -> dict:
    """What a fine-tuned model's file records beyond its run: where it started, on how many samples, and
    the base model's temperature (a few epochs of nudging leave its calibration about where it was)."""
    meta = {"test_accuracy_before": mnist_before, "personal_samples": samples}
    if "temperature" in base_metadata:
        meta["temperature"] = base_metadata["temperature"]
    return meta
