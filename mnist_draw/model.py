"""The network: a recipe says what to build and how to train it; the MLP is built from the recipe.

A *recipe* (:class:`Recipe`) is a plain dataclass: the hidden layer sizes, the activation, the loss,
the optimizer and its settings, the batch size, the number of epochs, how input pixels are scaled, and
how the training data is augmented. The tutorials this project grew from are kept as presets
(:data:`PRESETS`) so that each can be reproduced exactly.

The network (:class:`MLP`) is a stack of fully connected layers. It always takes pixels in [0, 1]
(white ink on black, as MNIST) and applies the recipe's input scaling itself, so training and drawing
go through exactly the same normalisation.

A model file is a single ``.safetensors`` file: the weights, and in its header a JSON description
(the recipe, test accuracy, date, versions). Loading never runs code from the file, rebuilds the MLP
from the stored recipe (as nanoGPT rebuilds its GPT from the stored config) and checks every weight's
shape against it, so a wrong or damaged file is refused with a message that says what is wrong.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_draw import __version__
from mnist_draw.atomic import atomic_write_bytes
from mnist_draw.errors import one_line

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
FORMAT = "mnist-draw-model"
FORMAT_VERSION = 1
METADATA_KEY = "mnist_draw"

ACTIVATIONS = ("relu", "sigmoid", "tanh", "none")
LOSSES = ("ce", "mse", "sse")  # cross-entropy; mean squared error; summed squared error / batch size
OPTIMIZERS = ("sgd", "rmsprop", "adam")
SCALINGS = ("unit", "standard")  # [0, 1]; Normalize(0.1307, 0.3081)
SAMPLINGS = ("shuffle", "replacement")
SCHEDULES = ("constant", "cosine")
AUGMENTS = ("none", "light", "strong")


class ModelFileError(ValueError):
    """A model file that cannot be used; the message is one line that says why."""


@dataclass(frozen=True)
class Recipe:
    """Everything needed to build an MLP and train it. Presets below; every field is editable."""

    name: str = "custom"
    hidden: tuple[int, ...] = (256,)
    activation: str = "relu"
    loss: str = "ce"
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 10
    scaling: str = "unit"
    sampling: str = "shuffle"
    max_steps: int | None = None
    schedule: str = "constant"
    dropout: float = 0.0
    augment: str = "none"
    label_smoothing: float = 0.0
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        problems = []
        for name, allowed in (
            ("activation", ACTIVATIONS),
            ("loss", LOSSES),
            ("optimizer", OPTIMIZERS),
            ("scaling", SCALINGS),
            ("sampling", SAMPLINGS),
            ("schedule", SCHEDULES),
            ("augment", AUGMENTS),
        ):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(allowed)} (got {getattr(self, name)!r})")
        if any(h < 1 or h > 100_000 for h in self.hidden):
            problems.append(f"hidden layer sizes must be between 1 and 100000 (got {list(self.hidden)})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            problems.append(f"learning rate must be a positive number (got {self.lr})")
        if not (0 <= self.momentum < 1):
            problems.append(f"momentum must be in [0, 1) (got {self.momentum})")
        if not (0 <= self.weight_decay < 1):
            problems.append(f"weight decay must be in [0, 1) (got {self.weight_decay})")
        if not (1 <= self.batch_size <= 60000):
            problems.append(f"batch size must be between 1 and 60000 (got {self.batch_size})")
        if not (1 <= self.epochs <= 10000):
            problems.append(f"epochs must be between 1 and 10000 (got {self.epochs})")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max steps must be at least 1 (got {self.max_steps})")
        if not (0 <= self.dropout < 1):
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not (0 <= self.label_smoothing < 1):
            problems.append(f"label smoothing must be in [0, 1) (got {self.label_smoothing})")
        if self.label_smoothing and self.loss != "ce":
            problems.append("label smoothing needs the cross-entropy loss")
        if problems:
            raise ValueError("; ".join(problems))

    def replace(self, **changes: Any) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Recipe":
        """Build a recipe from stored JSON; unknown keys (from a newer version) are ignored."""
        if not isinstance(data, dict):
            raise ValueError("recipe must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        if "hidden" in kwargs:
            if not isinstance(kwargs["hidden"], (list, tuple)):
                raise ValueError("recipe 'hidden' must be a list of layer sizes")
            kwargs["hidden"] = tuple(kwargs["hidden"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ValueError(f"bad recipe: {exc}") from None

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (784, *self.hidden, 10)

    def describe(self) -> str:
        net = "→".join(str(s) for s in self.layer_sizes)
        act = self.activation if self.hidden else "linear"
        opt = f"{self.optimizer} lr {self.lr:g}" + (f" momentum {self.momentum:g}" if self.momentum else "")
        return f"{net} {act}, {self.loss}, {opt}, batch {self.batch_size}, {self.epochs} epochs"


PRESETS: dict[str, Recipe] = {
    # A linear model: the tutorials' point that one layer is not enough (about 92%).
    "linear": Recipe(name="linear", hidden=(), activation="none", loss="ce", optimizer="sgd", lr=0.5,
                     batch_size=64, epochs=10, scaling="unit"),
    "seed001": Recipe(name="seed001", hidden=(256, 64), activation="relu", loss="mse", optimizer="sgd",
                      lr=0.01, momentum=0.9, batch_size=512, epochs=3, scaling="standard"),
    "seed002": Recipe(name="seed002", hidden=(256,), activation="relu", loss="ce", optimizer="sgd", lr=0.5,
                      batch_size=64, epochs=10, scaling="unit"),
    # 10000 iterations of batches of 100 drawn with replacement: 16.7 epochs of 600 batches.
    "seed003": Recipe(name="seed003", hidden=(50,), activation="sigmoid", loss="ce", optimizer="sgd", lr=0.1,
                      batch_size=100, epochs=17, max_steps=10000, sampling="replacement", scaling="unit"),
    "seed004": Recipe(name="seed004", hidden=(512, 256), activation="relu", loss="sse", optimizer="sgd",
                      lr=0.001, batch_size=200, epochs=30, scaling="unit"),
    # Our best: a wider two-layer MLP with augmentation done on the training device.
    "default": Recipe(name="default", hidden=(1024, 1024), activation="relu", loss="ce", optimizer="adam",
                      lr=1e-3, weight_decay=0.0, batch_size=128, epochs=40, scaling="standard",
                      schedule="cosine", dropout=0.2, augment="light", label_smoothing=0.05),
}


def preset(name: str) -> Recipe:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


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


# ----------------------------------------------------------------------------------------- prediction


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


# --------------------------------------------------------------------------------------- model files


@dataclass
class LoadedModel:
    model: MLP
    recipe: Recipe
    metadata: dict[str, Any]
    path: Path | None = None

    @property
    def test_accuracy(self) -> float | None:
        acc = self.metadata.get("test_accuracy")
        return float(acc) if isinstance(acc, (int, float)) else None

    @property
    def display_name(self) -> str:
        name = self.metadata.get("name") or self.recipe.name
        acc = self.test_accuracy
        return f"{name} ({acc:.2%})" if acc is not None else str(name)


def model_to_bytes(model: MLP, metadata: dict[str, Any] | None = None) -> bytes:
    from safetensors.torch import save

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.recipe.name,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"mnist_draw": __version__, "torch": torch.__version__, "python": platform.python_version()},
        **(metadata or {}),
        "recipe": model.recipe.to_dict(),
    }
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return save(tensors, metadata={METADATA_KEY: json.dumps(meta)})


def save_model(path: str | os.PathLike, model: MLP, metadata: dict[str, Any] | None = None) -> Path:
    """Write the model atomically: the old file stays intact until the new one is complete on disk."""
    return atomic_write_bytes(path, model_to_bytes(model, metadata))


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file without running any code from it; raise ModelFileError with a one-line reason."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    loaded = model_from_bytes(data, device=device, source=str(path))
    loaded.path = path
    return loaded


def _read_header(data: bytes, source: str) -> dict[str, Any]:
    if not data:
        raise ModelFileError(f"{source}: the file is empty")
    if len(data) < 8:
        raise ModelFileError(f"{source}: not a model file (only {len(data)} bytes)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ModelFileError(f"{source}: not a safetensors model file (it may be truncated or of another format)")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{source}: not a safetensors model file (unreadable header)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{source}: not a safetensors model file (unreadable header)")
    return header


def model_from_bytes(data: bytes, device: str | torch.device = "cpu", source: str = "model") -> LoadedModel:
    from safetensors.torch import load

    header = _read_header(data, source)
    raw_meta = (header.get("__metadata__") or {}).get(METADATA_KEY)
    if raw_meta is None:
        raise ModelFileError(f"{source}: a safetensors file, but not an mnist-draw model (no recipe in it)")
    try:
        meta = json.loads(raw_meta)
        recipe = Recipe.from_dict(meta["recipe"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}: the model's description is damaged ({one_line(exc)})") from None
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{source}: not an mnist-draw model (format {meta.get('format')!r})")
    try:
        tensors = load(data)
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ModelFileError(f"{source}: the weights are damaged or truncated ({one_line(exc)})") from None

    model = MLP(recipe)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(set(expected) - set(got))
    if missing:
        raise ModelFileError(f"{source}: weights missing for {', '.join(missing)} (recipe {recipe.describe()})")
    extra = sorted(set(got) - set(expected))
    if extra:
        raise ModelFileError(f"{source}: unexpected weights {', '.join(extra)} for recipe {recipe.describe()}")
    for key, shape in expected.items():
        if got[key] != shape:
            raise ModelFileError(
                f"{source}: weight {key} has shape {list(got[key])} but the recipe "
                f"({recipe.describe()}) needs {list(shape)}"
            )
        if not tensors[key].is_floating_point():
            raise ModelFileError(f"{source}: weight {key} is not floating point ({tensors[key].dtype})")
        if not torch.isfinite(tensors[key]).all():
            raise ModelFileError(f"{source}: weight {key} contains NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in tensors.items()})
    model.eval()
    return LoadedModel(model.to(device), recipe, meta, None)


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


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """'256,64' -> (256, 64); '' or 'none' -> () (a linear model)."""
    if not isinstance(text, str):
        return tuple(int(v) for v in text)
    text = text.strip()
    if text.lower() in ("", "none", "-", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise ValueError(f"hidden layers must be sizes separated by commas, like 256,64 (got {text!r})") from None
    return sizes
