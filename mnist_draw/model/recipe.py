"""A recipe says what network to build and how to train it; the tutorials' recipes are kept as presets.

A *recipe* (:class:`Recipe`) is a plain dataclass: the hidden layer sizes, the activation, the loss,
the optimizer and its settings, the batch size, the number of epochs, how input pixels are scaled, and
how the training data is augmented. Every field is checked when a recipe is made, so a bad one is
refused with a reason before any training starts. The tutorials this project grew from are kept as
presets (:data:`PRESETS`) so that each can be reproduced exactly.

This module needs no PyTorch: a window can list and edit recipes before PyTorch is imported.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Sequence

ACTIVATIONS = ("relu", "gelu", "sigmoid", "tanh", "none")
LOSSES = ("ce", "mse", "sse")  # cross-entropy; mean squared error; summed squared error / batch size
# adam: Adam with its own L2 weight decay (added to the gradient); adamw: decoupled weight decay (AdamW)
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCALINGS = ("unit", "standard")  # [0, 1]; Normalize(0.1307, 0.3081)
SAMPLINGS = ("shuffle", "replacement")
SCHEDULES = ("constant", "cosine")
AUGMENTS = ("none", "light", "strong")
MNIST_TRAIN_SIZE = 60000  # MNIST's training digits: a batch holds at most all of them
MNIST_TEST_SIZE = 10000
MAX_EPOCHS = 10000
MAX_OUTLIERS = 4  # non-digits per batch, as a share of its digits
MAX_TYPEFACES = 1  # printed digits, as a share of the training digits
DEFAULT_PRESET = "seed002"  # what a new user's trainer form starts from: trains in seconds

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
    outliers: float = 0.0  # drawn non-digits mixed into each batch, as a share of its digits (outlier exposure)
    outlier_weight: float = 0.5  # how hard their output is pulled towards uniform
    outlier_bank: int = 20000  # how many different non-digits are drawn for a run
    typefaces: float = 0.0  # printed digits of other typefaces added, as a share of the training digits
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_kinds(self)
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
        if not (1 <= self.batch_size <= MNIST_TRAIN_SIZE):
            problems.append(f"batch size must be between 1 and {MNIST_TRAIN_SIZE} (got {self.batch_size})")
        if not (1 <= self.epochs <= MAX_EPOCHS):
            problems.append(f"epochs must be between 1 and {MAX_EPOCHS} (got {self.epochs})")
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max steps must be at least 1 (got {self.max_steps})")
        if not (0 <= self.dropout < 1):
            problems.append(f"dropout must be in [0, 1) (got {self.dropout})")
        if not (0 <= self.label_smoothing < 1):
            problems.append(f"label smoothing must be in [0, 1) (got {self.label_smoothing})")
        if not (0 <= self.outliers <= MAX_OUTLIERS):
            problems.append(f"outliers must be a share of the batch's digits between 0 and {MAX_OUTLIERS} "
                            f"(got {self.outliers})")
        if not (0 <= self.outlier_weight <= 100) or not (1 <= self.outlier_bank <= 1_000_000):
            problems.append(f"outlier weight must be in [0, 100] and the bank 1 to 1000000 drawings "
                            f"(got {self.outlier_weight}, {self.outlier_bank})")
        if not (0 <= self.typefaces <= MAX_TYPEFACES):
            problems.append(f"typefaces must be a share of the training digits between 0 and {MAX_TYPEFACES} "
                            f"(got {self.typefaces})")
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
            kwargs["hidden"] = tuple(_whole_if_integral(h) for h in kwargs["hidden"])
        for name in WHOLE_NUMBERS:  # older versions could store `--set epochs=40.0` as 40.0: still 40 epochs
            if name in kwargs:
                kwargs[name] = _whole_if_integral(kwargs[name])
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
        epochs = f"{self.epochs} epoch" + ("" if self.epochs == 1 else "s")
        return f"{net} {act}, {self.loss}, {opt}, batch {self.batch_size}, {epochs}"


WHOLE_NUMBERS = ("batch_size", "epochs", "max_steps", "outlier_bank")
NUMBERS = ("lr", "momentum", "weight_decay", "dropout", "label_smoothing", "outliers", "outlier_weight", "typefaces")


def _whole_if_integral(value: Any) -> Any:
    """40.0 -> 40; anything else (40.5, text, None) as it is, for the kind check to judge."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _check_kinds(recipe: Recipe) -> None:
    """Refuse a field of the wrong kind (text where a number goes, 1.5 epochs) with a reason, before the
    range checks compare it with anything: a recipe edited by hand or by ``--set`` is told what is wrong."""
    def whole(v: Any) -> bool:  # numpy's integers too; not True/False
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    def number(v: Any) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    problems = [f"{name} must be a whole number (got {getattr(recipe, name)!r})" for name in WHOLE_NUMBERS
                if not whole(getattr(recipe, name)) and not (name == "max_steps" and recipe.max_steps is None)]
    problems += [f"{name} must be a number (got {getattr(recipe, name)!r})" for name in NUMBERS
                 if not number(getattr(recipe, name))]
    problems += [f"{name} must be text (got {getattr(recipe, name)!r})"
                 for name in ("name", "activation", "loss", "optimizer", "scaling", "sampling", "schedule", "augment")
                 if not isinstance(getattr(recipe, name), str)]
    if not isinstance(recipe.hidden, (tuple, list)) or not all(whole(h) for h in recipe.hidden):
        problems.append(f"hidden must be a list of whole numbers (got {recipe.hidden!r})")
    if problems:
        raise ValueError("; ".join(problems))
    for name in (*WHOLE_NUMBERS, *NUMBERS):  # numpy's numbers as Python's: a recipe is stored as JSON
        value = getattr(recipe, name)
        if value is not None and not isinstance(value, (int, float)):
            object.__setattr__(recipe, name, int(value) if name in WHOLE_NUMBERS else float(value))


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
    # Our best: a wider two-layer MLP with augmentation done on the training device, and outlier
    # exposure (drawn non-digits pushed towards a uniform output) so that it can say "not a digit".
    "default": Recipe(name="default", hidden=(1024, 1024), activation="relu", loss="ce", optimizer="adam",
                      lr=1e-3, weight_decay=0.0, batch_size=128, epochs=40, scaling="standard",
                      schedule="cosine", dropout=0.2, augment="light", label_smoothing=0.05, outliers=0.5,
                      typefaces=0.05),
}


def preset(name: str) -> Recipe:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


LENGTH_FIELDS = ("epochs", "max_steps")  # how long a recipe trains: changing only these keeps its name


def edited(base: Recipe, **changes: Any) -> Recipe:
    """``base`` with ``changes``: still named after it when only how long it trains changed (10 epochs of
    seed002 are still seed002), else "<name>-custom"; raises ValueError for a bad change.

    Label smoothing belongs to the cross-entropy loss: choosing another loss drops the base's smoothing,
    unless the changes ask for smoothing too (then the recipe's check says they do not go together)."""
    if changes.get("loss", base.loss) != "ce" and "label_smoothing" not in changes:
        changes["label_smoothing"] = 0.0
    recipe = base.replace(**changes)
    if recipe.replace(**{f: getattr(base, f) for f in LENGTH_FIELDS}) != base:
        recipe = recipe.replace(name=f"{base.name}-custom" if base.name != "custom" else "custom")
    return recipe


def activation_for(hidden: Sequence[int], activation: str, preset_activation: str = "relu") -> str:
    """The activation to use when a recipe's hidden layers are changed and its activation is not: none for
    a linear model (no hidden layer, nothing to activate); where layers come back to one with none (layers
    with no activation between them are still one linear map), its preset's own, or ReLU for a linear
    preset; else the activation it has."""
    if not hidden:
        return "none"
    if activation != "none":
        return activation
    return preset_activation if preset_activation != "none" else "relu"


def parse_hidden(text: str | Sequence[int]) -> tuple[int, ...]:
    """'256,64' -> (256, 64); '' or 'none' -> () (a linear model)."""
    if not isinstance(text, str):
        sizes = tuple(text)
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in sizes):
            raise ValueError(f"hidden layers must be whole numbers of units (got {list(sizes)})")
        return tuple(int(v) for v in sizes)
    text = text.strip()
    if text.lower() in ("", "none", "-", "0"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise ValueError(f"hidden layers must be sizes separated by commas, like 256,64 (got {text!r})") from None
    return sizes
