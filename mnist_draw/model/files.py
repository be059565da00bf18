"""Model files: one ``.safetensors`` file holds the weights and, in its header, how they were made.

The header's JSON description holds the recipe, the test accuracy, the date and the versions. Loading
never runs code from the file (safetensors holds only numbers), rebuilds the MLP from the stored recipe
(as nanoGPT rebuilds its GPT from the stored config) and checks every weight's shape against it, so a
wrong or damaged file is refused with a message that says what is wrong. Files are written atomically.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mnist_draw import __version__
from mnist_draw.atomic import atomic_write_bytes, replaceable
from mnist_draw.errors import one_line
from mnist_draw.model.network import MLP
from mnist_draw.model.recipe import Recipe

FORMAT = "mnist-draw-model"
FORMAT_VERSION = 1
METADATA_KEY = "mnist_draw"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on a header


class ModelFileError(ValueError):
    """A model file that cannot be used; the message is one line that says why."""


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
    def temperature(self) -> float:
        """The temperature its probabilities are calibrated with (:func:`mnist_draw.model.predict.temperature_of`)."""
        from mnist_draw.model.predict import temperature_of

        return temperature_of(self.metadata)

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
    """Write the model atomically: the old file stays intact until the new one is complete on disk.

    Only a model file (or an empty one) is replaced: any other file there is refused with an OSError,
    as :func:`mnist_draw.atomic.atomic_write_bytes` refuses folders, devices and read-only files."""
    check_can_save(path)
    return atomic_write_bytes(path, model_to_bytes(model, metadata))


def check_can_save(path: str | os.PathLike) -> None:
    """Raise OSError (its ``strerror`` one line) unless a model can be saved at ``path``: what is there must
    be a model file (or nothing, or an empty file) that may be replaced, in a folder that can be written.
    Commands check it before a long training, so that a run is not lost to a bad ``--out``."""
    path = Path(path)
    target = replaceable(path)
    if target.is_file() and target.stat().st_size and not _holds_a_model(target):
        raise FileExistsError(errno.EEXIST, "a file that is not a model is there: it was left as it is", str(path))
    folder = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    if not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{folder} is a file, not a folder", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"the folder {folder} cannot be written", str(path))


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file without running any code from it; raise ModelFileError with a one-line reason.
    The header is read first, so a file of another kind is refused before the whole of it is read."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise ModelFileError(f"{path}: not a model file (a device or other special file)")
        with open(path, "rb") as f:
            _header_from(f, str(path))
            f.seek(0)
            data = f.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a folder, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    loaded = model_from_bytes(data, device=device, source=str(path))
    loaded.path = path
    return loaded


def _holds_a_model(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            _header_from(f, str(path))
    except (OSError, ModelFileError):
        return False
    return True


def _header_from(f, source: str) -> dict[str, Any]:
    """The header of the open file ``f``, read alone; raises ModelFileError unless it is an mnist-draw model's."""
    head = f.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else 0
    header = _read_header(head + (f.read(n) if 0 < n <= MAX_HEADER_BYTES else b""), source)
    _description(header, source)
    return header


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


def _description(header: dict[str, Any], source: str) -> str:
    """The model's JSON description in a safetensors header; ModelFileError if there is none."""
    raw_meta = header.get("__metadata__")
    raw_meta = raw_meta.get(METADATA_KEY) if isinstance(raw_meta, dict) else None
    if not isinstance(raw_meta, str):
        raise ModelFileError(f"{source}: a safetensors file, but not an mnist-draw model (no recipe in it)")
    return raw_meta


def model_from_bytes(data: bytes, device: str | torch.device = "cpu", source: str = "model") -> LoadedModel:
    from safetensors.torch import load

    raw_meta = _description(_read_header(data, source), source)
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
    _check_outputs_finite(model, source)
    return LoadedModel(model.to(device), recipe, meta, None)


def _check_outputs_finite(model: MLP, source: str) -> None:
    """Refuse weights that are finite but so large that the outputs overflow (to infinity, then NaN):
    such a model would read every drawing as a NaN-sure 0. Tried on a blank picture, a full one and
    a fixed random one."""
    probes = torch.stack([torch.zeros(28, 28), torch.ones(28, 28),
                          torch.rand(28, 28, generator=torch.Generator().manual_seed(0))])
    with torch.inference_mode():
        out = model(probes)
    if not torch.isfinite(out).all():
        raise ModelFileError(f"{source}: the model's outputs are not finite numbers (its weights overflow); "
                             f"it cannot classify anything")
