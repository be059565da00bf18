"""The network: a multi-layer perceptron (MLP) built from a recipe.

The network (:class:`MLP`) is a stack of fully connected layers. It always takes pixels in [0, 1]
(white ink on black, as MNIST) and applies the recipe's input scaling itself (:func:`normalise`), so
training and drawing go through exactly the same normalisation.

Weights cross threads as a ``state_dict`` copied to the CPU (:func:`copy_state`); on the other side
:func:`model_from_state` builds the network around them without a random initialisation.
"""

from __future__ import annotations

import numpy as np
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
        self._act = {"relu": F.relu, "gelu": F.gelu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                     "none": lambda t: t}[recipe.activation]

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


class OnePicture:
    """The same network, made quick for reading one picture at a time on the CPU (the live drawing).

    A forward pass of one picture costs what reading the weights from memory costs: each weight is
    used once. But most of them multiply a zero: a drawing inks about a quarter of the 28x28 frame,
    and after a ReLU most hidden units of a layer are zero for any one picture. A weight that
    multiplies a zero adds nothing, so each layer here reads only the weights of its inputs that are
    not zero (rows of the transposed matrix, which lie together in memory): several times fewer bytes.
    It sums those rows, each times its input, in place (PyTorch's ``embedding_bag``, made for a few
    looked-up rows weighted and summed), instead of copying them into a smaller matrix first.
    The input scaling would turn the empty background into non-zero values, so it is folded into the
    first layer once, W (x - mean) / std + b = (W / std) x + (b - W mean / std), and the pixels go in
    as they are. The outputs are the network's up to float rounding (the same sums in another order);
    a layer whose inputs are mostly non-zero (other activations) is multiplied whole, as usual.
    """

    def __init__(self, model: MLP):
        weights = [layer.weight.detach().cpu() for layer in model.layers]
        biases = [layer.bias.detach().cpu() for layer in model.layers]
        if model.recipe.scaling == "standard":
            biases[0] = biases[0] - weights[0].sum(dim=1) * (MNIST_MEAN / MNIST_STD)
            weights[0] = weights[0] / MNIST_STD
        self._weights_t = [w.t().contiguous() for w in weights]  # [inputs, outputs]
        self._biases = biases
        self._act = model._act
        self._one_bag = torch.zeros(1, dtype=torch.long)  # embedding_bag's offsets: all inputs in one bag

    def forward_with_hidden(self, pixels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Like :meth:`MLP.forward_with_hidden` for one picture (28x28 or 784 pixels in [0, 1]):
        the outputs ``[1, 10]`` and every hidden layer's activations ``[1, units]``."""
        x = pixels.reshape(-1).to(torch.float32)
        hidden = []
        for layer in range(len(self._biases) - 1):
            x = self._act(self._layer(layer, x))
            hidden.append(x[None])
        return self._layer(-1, x)[None], hidden

    def _layer(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Layer ``i``'s outputs for the inputs ``x``, from the weights of its non-zero inputs."""
        weights_t, bias = self._weights_t[i], self._biases[i]
        used = torch.from_numpy(np.flatnonzero(x.numpy()))
        if 2 * used.numel() < x.numel():  # the used rows, each times its input, summed: an "embedding bag"
            return F.embedding_bag(used, weights_t, self._one_bag, mode="sum",
                                   per_sample_weights=x.index_select(0, used))[0] + bias
        return torch.addmv(bias, weights_t.t(), x)


def build_model(recipe: Recipe, seed: int | None = None) -> MLP:
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return MLP(recipe)
    return MLP(recipe)


def first_layer_weights(state: dict[str, torch.Tensor]) -> torch.Tensor:
    """The first layer's weights in an MLP's state (one row of 784 per unit): what each unit looks for."""
    return state["layers.0.weight"]


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
