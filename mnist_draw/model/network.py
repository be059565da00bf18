"""The network: a multi-layer perceptron (MLP) built from a recipe.

The network (:class:`MLP`) is a stack of fully connected layers. It always takes pixels in [0, 1]
(white ink on black, as MNIST) and applies the recipe's input scaling itself (:func:`normalise`), so
training and drawing go through exactly the same normalisation.

Weights cross threads as a ``state_dict`` copied to the CPU (:func:`copy_state`); on the other side
:func:`model_from_state` builds the network around them without a random initialisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mnist_draw.model.recipe import Recipe

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


def normalise(x: torch.Tensor, scaling: str) -> torch.Tensor:
    """Pixels in [0, 1] -> what the network was trained on (the single place this happens)."""
    if scaling == "standard":
        return (x - MNIST_MEAN) / MNIST_STD
    return x


class MLP(nn.Module):
    """784 inputs -> hidden layers -> 10 outputs. Takes [N, 28, 28] or [N, 784] pixels in [0, 1]."""

    def __init__(self, recipe: Recipe):
        super().__init__()
        self.recipe = recipe
        sizes = recipe.layer_sizes
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.dropout = nn.Dropout(recipe.dropout) if recipe.dropout else nn.Identity()
        self._act = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": lambda t: t}[
            recipe.activation
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_hidden(x)[0]

    def forward_with_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The outputs (logits) and the activations of every hidden layer (for looking inside)."""
        x = normalise(x.reshape(x.shape[0], -1), self.recipe.scaling)
        hidden = []
        for layer in self.layers[:-1]:
            x = self._act(layer(x))
            hidden.append(x)
            x = self.dropout(x)
        return self.layers[-1](x), hidden


def build_model(recipe: Recipe, seed: int | None = None) -> MLP:
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MLP(recipe)
    return MLP(recipe)


def copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the weights: what may cross to another thread or process."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def model_from_state(recipe: Recipe, state: dict[str, torch.Tensor]) -> MLP:
    """An MLP (in eval mode) that uses ``state``'s tensors as its weights: no copy, no random init.

    The network is built on PyTorch's "meta" device (shapes only, no memory) and then takes the given
    tensors as its parameters, so handing a model to the live classifier costs next to nothing.
    The model shares memory with ``state``: train a copy (``copy_state``), not this.
    """
    with torch.device("meta"):
        model = MLP(recipe)
    model.load_state_dict(state, assign=True)
    model.requires_grad_(False)
    model.eval()
    return model
