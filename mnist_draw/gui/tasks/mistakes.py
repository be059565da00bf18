"""Finding a model's mistakes on the MNIST test set, in a thread of its own.

The confusion matrix over the MNIST test digits and the digits the model misreads
(:mod:`mnist_draw.trainer.diagnose`) take reading MNIST and running the network over all of it: too
long for the GUI thread, and the classifier's thread must stay free for the drawing. MNIST is read, and
torchvision imported, only when the mistakes are first wanted, and kept (``load_mnist`` reads it once).
"""

from __future__ import annotations

from typing import Iterator

from mnist_draw.errors import one_line
from mnist_draw.gui.state.mistakes import Mistakes, MistakesFailed
from mnist_draw.gui.state.run import missing_mnist


def find_mistakes(jobs: dict, control=None) -> Iterator[Mistakes | MistakesFailed]:
    """The task: for the newest ``jobs["model"] = (LiveModel, data folder)``, its mistakes or why not."""
    if "model" not in jobs:
        return
    model, data = jobs["model"]
    from mnist_draw.model.network import model_from_state
    from mnist_draw.model.predict import temperature_of
    from mnist_draw.trainer.data import DataError, load_mnist
    from mnist_draw.trainer.diagnose import diagnose

    try:
        mnist = load_mnist(data, download=False)
        diagnosis = diagnose(model_from_state(model.recipe, model.state), mnist.test_x, mnist.test_y,
                             temperature_of(model.metadata))
    except DataError as exc:
        yield MistakesFailed(model, missing_mnist(data) or one_line(exc))  # in the window's words if missing
        return
    except (ValueError, RuntimeError, MemoryError) as exc:
        yield MistakesFailed(model, one_line(exc))
        return
    yield Mistakes(model, diagnosis, mnist.test_x[diagnosis.wrong].numpy())
