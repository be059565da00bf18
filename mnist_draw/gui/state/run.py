"""A training run as plain data: the job built from the trainer form, what the run reports, its outcome.

The trainer form is a handful of fields (a preset, its editable settings, how many digits, the device,
a seed). :func:`job_from_form` turns them into a :class:`TrainingJob`, or says in one line what is wrong
with them. A blank seed means "any": a random one is drawn and kept in the job, so the run can be
repeated by typing it in.

While it runs, the background task reports with the small records below (progress with the batch
losses since the last report, the weights handed over as it learns, log lines) and ends with an
:class:`Outcome`. When a run is stopped, its model is the one at the end of its last finished epoch,
with that epoch's score, never half-trained weights under a finished model's name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mnist_draw.gui.state.live import LiveModel

DEVICES = (("Auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"))  # what the form offers: (label, device)
SEED_RANGE = 2**31  # random seeds are drawn below this, so they fit any seed field


@dataclass(frozen=True)
class TrainingJob:
    recipe: Any  # mnist_draw.model.recipe.Recipe
    seed: int
    data: str | None = None  # folder holding MNIST; None: MNIST_DRAW_DATA, then the user cache
    device: str = "auto"
    train_limit: int | None = None  # train on the first N digits only
    download: bool = False  # fetch MNIST first if it is missing
    finetune: LiveModel | None = None  # fine-tune this model on the personal samples (recipe is then ignored)
    seed_given: bool = True  # False: the seed was drawn at random for this run


def job_from_form(fields: dict, *, data: str | None = None, download: bool = False,
                  finetune: LiveModel | None = None) -> TrainingJob:
    """The job the trainer form describes; raises ValueError with a one-line reason."""
    from mnist_draw.model.recipe import edited, parse_hidden, preset
    from mnist_draw.model.recipe import MNIST_TRAIN_SIZE as TRAIN_SIZE

    base = preset(str(fields.get("preset", "")))
    try:
        lr = float(fields["lr"])
    except (TypeError, ValueError):
        raise ValueError(f"learning rate must be a number, like 0.01 (got {fields.get('lr')!r})") from None
    recipe = edited(base, hidden=parse_hidden(str(fields["hidden"])), activation=fields["activation"],
                    loss=fields["loss"], optimizer=fields["optimizer"], lr=lr, momentum=float(fields["momentum"]),
                    batch_size=int(fields["batch_size"]), epochs=int(fields["epochs"]), augment=fields["augment"],
                    typefaces=float(fields.get("typefaces", base.typefaces)),
                    outliers=float(fields.get("outliers", base.outliers)))
    seed, given = parse_seed(str(fields.get("seed", "")))
    limit = int(fields.get("train_limit", TRAIN_SIZE))
    devices = [value for _, value in DEVICES]
    device = fields.get("device", "auto")
    if device not in devices:
        raise ValueError(f"device must be one of {', '.join(devices)} (got {device!r})")
    return TrainingJob(recipe, seed, data=data, device=device, train_limit=None if limit >= TRAIN_SIZE else limit,
                       download=download, finetune=finetune, seed_given=given)


def missing_mnist(data: str | None) -> str | None:
    """None when MNIST is where the app looks for it; else what to tell the user, in the window's words."""
    from mnist_draw.paths import DATA_ENV, mnist_root
    from mnist_draw.trainer.data import has_mnist

    root, source = mnist_root(data)
    if has_mnist(root):
        return None
    where = {"--data": "the folder chosen for it", DATA_ENV: f"the folder {DATA_ENV} names"}.get(
        source, "the app's own data folder")
    return (f"MNIST is not in {root} ({where}). Download it (about 12 MB) into that folder, or choose the "
            f"folder that holds it (its MNIST/raw folder holds the four *-ubyte files).")


def download_failed(data: str | None, reason: str) -> str:
    """What to tell the user when downloading MNIST failed, in the window's words."""
    from mnist_draw.paths import mnist_root

    root, _ = mnist_root(data)
    return (f"Could not download MNIST into {root}: {reason}. Try Download again once connected, or choose "
            f"the folder that holds it.")


def parse_seed(text: str) -> tuple[int, bool]:
    """A seed typed by the user, or a random one for a blank field: ``(seed, typed)``."""
    text = text.strip()
    if not text:
        return random.randrange(SEED_RANGE), False
    try:
        seed = int(text)
    except ValueError:
        raise ValueError(f"the seed must be a whole number, or blank for a random one (got {text!r})") from None
    if not 0 <= seed < SEED_RANGE:
        raise ValueError(f"the seed must be between 0 and {SEED_RANGE - 1} (got {seed})")
    return seed, True


@dataclass(frozen=True)
class Progress:
    epoch: int
    epochs: int
    batch: int
    batches: int
    step: int
    steps: int
    seconds_left: float | None
    losses: tuple[tuple[int, float], ...]  # (step, loss) for the batches since the last report


@dataclass(frozen=True)
class Handover:
    """New weights for the live classifier while the network learns (not a finished model)."""

    model: LiveModel


@dataclass(frozen=True)
class Log:
    text: str


@dataclass(frozen=True)
class Failed:
    """The run could not go on; ``data_missing`` when it was for want of MNIST."""

    message: str
    data_missing: bool = False
    download_failed: str | None = None  # what failed, when MNIST was being downloaded


@dataclass(frozen=True)
class FineTuneScores:
    """What a fine-tune on personal samples cost and gained; the "after" figures are None when stopped."""

    samples: int
    mnist_before: float
    samples_before: float
    mnist_after: float | None = None
    samples_after: float | None = None

    def summary(self) -> str:
        """E.g. "MNIST test: 97.10% → 96.90%; your 12 samples: 60% → 100%" (before it ended: the before only)."""
        if self.mnist_after is None or self.samples_after is None:
            return (f"before fine-tuning: MNIST test {self.mnist_before:.2%}; your {self.samples} samples "
                    f"{self.samples_before:.0%}")
        return (f"MNIST test: {self.mnist_before:.2%} → {self.mnist_after:.2%}; "
                f"your {self.samples} samples: {self.samples_before:.0%} → {self.samples_after:.0%}")


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``model`` is what may go live: the finished model, or for a stopped run the
    model at the end of its last finished epoch; None when no epoch finished."""

    model: LiveModel | None
    cancelled: bool
    epochs: int  # epochs finished
    planned_epochs: int
    accuracy: float | None
    seconds: float
    seed: int
    finetune: FineTuneScores | None = None  # set for a fine-tune on personal samples


@dataclass
class RunState:
    """The run going on now, as the trainer panel shows it."""

    job: TrainingJob
    paused: bool = False
    stopping: bool = False
    handed: LiveModel | None = None  # the last learning weights the run handed to the live classifier

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> None:
        self.stopping, self.paused = True, False

    @property
    def kind(self) -> str:
        return "fine-tune" if self.job.finetune is not None else "training"
