"""``mnist-train``: train an MLP on MNIST from the terminal, fine-tune one on personal samples, or evaluate one.

Start from a preset (``--preset seed002``) and change any part of it with the other options. On a
terminal a progress bar shows the run; with ``--json`` stdout carries exactly one JSON object per epoch
and nothing else, for scripts. Exit status: 0 done, 1 training failed (e.g. the loss diverged),
2 bad arguments, data or model file, 130 interrupted (Ctrl+C or SIGTERM; nothing is written), 141 its
output's reader went away (``| head``; nothing is written). A SIGTERM that comes while the model is being
saved lets the save finish (a fraction of a second), then exits 0.

Under ``torchrun`` the same command trains in several processes (see
:mod:`mnist_draw.trainer.distributed`): the first process alone shows progress, prints the JSON lines
and saves the model; every process says its own errors, tagged with its number.

Each mode is one function (:func:`train`, :func:`fine_tune`, :func:`evaluate_model`); what they share
(the process's threads and device, MNIST, stopping on SIGTERM, running with progress, saving) is
written once below them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mnist_draw.errors import EXIT_USAGE, OneLineParser

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130


class Failure(Exception):
    """Ends the command with exit status ``code`` after ``message`` (one line; ``error: ...`` for errors)."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def build_parser() -> argparse.ArgumentParser:
    from mnist_draw.model.recipe import ACTIVATIONS, AUGMENTS, LOSSES, OPTIMIZERS, PRESETS, SCALINGS, SCHEDULES

    p = OneLineParser(prog="mnist-train", name=_who(), description="Train an MLP on MNIST, or evaluate a model file.")
    p.add_argument("--preset", default="default", choices=list(PRESETS), help="recipe to start from (default: default)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--batch-size", type=int, help="under torchrun: the batch of all processes together")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="adam: weight decay as L2 added to the gradient; adamw: decoupled weight decay")
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--loss", choices=LOSSES, help="ce: cross-entropy; mse: mean squared error against one-hot; "
                   "sse: summed squared error / batch size")
    p.add_argument("--hidden", help="hidden layer sizes, e.g. 256,64 ('none', '0' or '' for a linear model)")
    p.add_argument("--activation", choices=[a for a in ACTIVATIONS if a != "none"])
    p.add_argument("--scaling", choices=SCALINGS, help="input scaling: unit = [0,1], standard = Normalize(0.1307, 0.3081)")
    p.add_argument("--dropout", type=float)
    p.add_argument("--augment", choices=AUGMENTS)
    p.add_argument("--typefaces", type=float, metavar="SHARE", help="printed digits of 51 typefaces added, as a share "
                   "of the training digits (default recipe: 0.05; 0: MNIST's handwriting alone)")
    p.add_argument("--outliers", type=float, metavar="SHARE", help="drawings that are no digit mixed into each "
                   "batch, as a share of its digits, trained towards a uniform output so that the model can say "
                   "'not a digit' (default recipe: 0.5; 0: none)")
    p.add_argument("--label-smoothing", type=float, metavar="EPS", help="share of each digit's target spread over "
                   "all ten (cross-entropy only; default recipe: 0.05)")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning rate: constant, or cosine (down to zero by the end)")
    p.add_argument("--max-steps", type=int, help="stop after this many batches in all")
    p.add_argument("--train-limit", type=int, metavar="N", help="train on the first N training digits only")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--seed", type=int, help="repeat a run exactly (default: a seed drawn at random, said and "
                                            "stored in the model file)")
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for training (default: all cores, "
                   "shared among the processes torchrun starts on the machine; fewer leaves the machine usable)")
    p.add_argument("--data", metavar="DIR", help="folder holding MNIST/raw (default: $MNIST_DRAW_DATA, then the user cache)")
    p.add_argument("--no-download", action="store_true", help="never download MNIST")
    p.add_argument("--out", metavar="PATH", help="where to save the model (default: the user's models folder)")
    p.add_argument("--json", action="store_true", help="one JSON object per epoch on stdout, nothing else")
    p.add_argument("--samples", metavar="DIR", nargs="?", const="",
                   help="fine-tune on personal samples in DIR (ImageFolder layout: DIR/<digit>/*.png; default: "
                        "the user's samples) mixed with replayed MNIST, starting from --init")
    p.add_argument("--init", metavar="MODEL", help="with --samples: the model to start from (default: the shipped model)")
    p.add_argument("--evaluate", nargs="?", const="", metavar="MODEL",
                   help="print the test accuracy of MODEL (default: the shipped model) and exit")
    p.add_argument("--dist-timeout", type=float, default=300, metavar="SECONDS",
                   help="under torchrun: how long a process waits for the others before giving up (default 300)")
    return p


def recipe_from_args(args: argparse.Namespace):
    from mnist_draw.model.recipe import activation_for, edited, parse_hidden, preset

    r = preset(args.preset)
    changes = {}
    for name in RECIPE_OPTIONS:
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.hidden is not None:
        changes["hidden"] = parse_hidden(args.hidden)
        changes.setdefault("activation", activation_for(changes["hidden"], r.activation))
    return edited(r, **changes)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _who() -> str:
    """``mnist-train``, with the process's number when torchrun started several."""
    size = os.environ.get("WORLD_SIZE", "1")
    return f"mnist-train (process {os.environ.get('RANK', '?')} of {size})" if size not in ("", "1") else "mnist-train"


def _is_first() -> bool:
    """The process that speaks and saves: the only one, or the first one torchrun started."""
    return os.environ.get("RANK", "0") == "0"


def _seed(args: argparse.Namespace) -> int:
    """The run's seed: --seed, or one drawn now and said (on stderr, --json or not), so that the run can be
    repeated (the model file records it too). Under torchrun the first process's seed is everyone's
    (TrainingRun shares it)."""
    from mnist_draw.trainer.randomness import fresh_seed

    if args.seed is not None:
        return args.seed
    seed = fresh_seed()
    _say(f"seed {seed} (drawn at random: --seed {seed} repeats this run)")  # stderr: --json's stdout stays JSON
    return seed


def _say(message: str) -> None:
    if _is_first():
        print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _check_options(args)
        mode = evaluate_model if args.evaluate is not None else fine_tune if args.samples is not None else train
        with _owning_the_process(args) as proc:
            return mode(args, proc)
    except Failure as exc:
        if exc.message.startswith("error") or _is_first():
            print(f"{_who()}: {exc.message}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        _say(f"{_who()}: interrupted; nothing was saved")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader has gone (| head): stop as if interrupted; the model is saved after
        from mnist_draw.errors import stdout_gone  # the run, and nothing is written to stdout after that

        status = stdout_gone()
        _say(f"{_who()}: its output was closed (broken pipe); stopped, and no model file was written")
        return status
    except RuntimeError as exc:
        from mnist_draw.trainer.distributed import launched, lost_contact, what_happened

        if not (launched() and lost_contact(exc)):
            raise
        print(f"{_who()}: error: lost contact with the other processes ({what_happened(exc)})", file=sys.stderr,
              flush=True)
        return EXIT_FAILED


RECIPE_OPTIONS = ("epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay", "loss", "activation",
                  "scaling", "dropout", "augment", "typefaces", "outliers", "label_smoothing", "schedule", "max_steps")


def _check_options(args: argparse.Namespace) -> None:
    """Options out of range, or given together where one would be silently ignored: a usage error."""
    for name, value in (("--threads", args.threads), ("--train-limit", args.train_limit)):
        if value is not None and value < 1:
            raise Failure(EXIT_USAGE, f"error: {name} must be 1 or more (got {value})")
    if not (args.dist_timeout > 0):
        raise Failure(EXIT_USAGE, f"error: --dist-timeout must be a positive number of seconds (got {args.dist_timeout})")
    if args.init is not None and args.samples is None:
        raise Failure(EXIT_USAGE, "error: --init says which model --samples fine-tunes; without --samples it "
                                  "does nothing (train from scratch without it)")
    if args.evaluate is not None:
        given = [f"--{n.replace('_', '-')}" for n in (*RECIPE_OPTIONS, "hidden", "samples", "init", "out",
                                                       "train_limit", "seed") if getattr(args, n) is not None]
        if given:
            raise Failure(EXIT_USAGE, f"error: --evaluate only reads a model; {', '.join(given)} would do nothing")


# ------------------------------------------------------------------------------------------ the modes


def train(args: argparse.Namespace, proc: _Process) -> int:
    """Train a recipe (a preset with the options' changes) and save the model."""
    from mnist_draw.trainer.loop import TrainingRun, result_metadata

    try:
        recipe = recipe_from_args(args)
    except ValueError as exc:
        raise Failure(EXIT_USAGE, f"error: {exc}") from None
    _printed_digits(recipe)
    out = _out_path(args, recipe.name)
    data = _mnist(args, proc)  # kept on the CPU: the run copies it to the GPU, and goes back to it if the GPU fails
    with _stop_on_sigterm() as cancel:
        run = TrainingRun(recipe, data, device=proc.device, seed=_seed(args), cancel=cancel,
                          train_limit=args.train_limit)
        if not args.json:
            group = f" ({proc.world.size} processes)" if proc.world else ""
            _say(f"training {recipe.name}: {recipe.describe()} on {proc.device}{group}")
        result = _run_with_progress(run, args)
        _save(out, result, result_metadata(result), cancel)
    _say(f"saved {out} (test accuracy {result.test_accuracy:.2%})")
    return EXIT_OK


def fine_tune(args: argparse.Namespace, proc: _Process) -> int:
    """Fine-tune a model on the user's samples mixed with replayed MNIST, and save it."""
    from mnist_draw.paths import default_model_path, samples_dir
    from mnist_draw.samples import load_samples
    from mnist_draw.trainer.loop import result_metadata
    from mnist_draw.trainer.personal import EPOCHS as FINETUNE_EPOCHS
    from mnist_draw.trainer.personal import finetune_metadata, personal_run, samples_accuracy, scores

    if args.samples and not Path(args.samples).is_dir():
        raise Failure(EXIT_USAGE, f"error: --samples {args.samples}: no such folder")
    base = _model_file(Path(args.init) if args.init else default_model_path(), proc.device)
    samples_x, samples_y, problems = load_samples(args.samples or None)
    for problem in problems:
        _say(f"{_who()}: skipped {problem}")
    if len(samples_y) == 0:
        raise Failure(EXIT_USAGE, f"error: no personal samples found in {args.samples or samples_dir()} "
                                  f"(expected DIR/<digit>/<name>.png)")
    _printed_digits(base.recipe)
    out = _out_path(args, base.recipe.name)
    data = _mnist(args, proc)
    before, samples_before = scores(base.model, data, samples_x, samples_y)
    with _stop_on_sigterm() as cancel:
        run = personal_run(base.model, samples_x, samples_y, data, epochs=args.epochs or FINETUNE_EPOCHS,
                           device=proc.device, seed=_seed(args), cancel=cancel)
        if not args.json:
            _say(f"fine-tuning {base.display_name} on {plural(len(samples_y), 'personal sample')} mixed with "
                 f"MNIST; MNIST test accuracy before: {before:.2%}")
        result = _run_with_progress(run, args)
        meta = result_metadata(result) | finetune_metadata(base.metadata, before, len(samples_y))
        _save(out, result, meta, cancel)
    samples_after = samples_accuracy(result.model, samples_x, samples_y)  # MNIST's: the run's last score
    _say(f"MNIST test accuracy before {before:.2%}, after {result.test_accuracy:.2%}; "
         f"your {plural(len(samples_y), 'sample')} before {samples_before:.0%}, after {samples_after:.0%}")
    _say(f"saved {out} (test accuracy {result.test_accuracy:.2%})")
    return EXIT_OK


def evaluate_model(args: argparse.Namespace, proc: _Process) -> int:
    """Print a model file's accuracy on the MNIST test digits."""
    from mnist_draw.paths import default_model_path
    from mnist_draw.trainer.loop import evaluate

    loaded = _model_file(Path(args.evaluate) if args.evaluate else default_model_path(), proc.device)
    data = _mnist(args, proc, device=proc.device)
    accuracy = evaluate(loaded.model, data.test_x, data.test_y)
    if _is_first():
        print(f"test_accuracy {accuracy:.4f}", flush=True)
    return EXIT_OK


# ----------------------------------------------------------------------------------- what they share


@dataclass(frozen=True)
class _Process:
    device: object  # torch.device
    world: object | None  # mnist_draw.trainer.distributed.World under torchrun


@contextlib.contextmanager
def _owning_the_process(args: argparse.Namespace) -> Iterator[_Process]:
    """What belongs to the process rather than to a run: PyTorch's thread count, the device, and the
    group of processes under torchrun; all put back (or left) on the way out."""
    import torch

    from mnist_draw.errors import one_line
    from mnist_draw.trainer import distributed
    from mnist_draw.trainer.devices import default_threads, resolve_device

    try:
        device, note = resolve_device(args.device)
    except ValueError as exc:
        raise Failure(EXIT_USAGE, f"error: {exc}") from None
    if note:
        _say(f"{_who()}: {note}")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or default_threads(leave_for_gui=False))
    try:
        device = distributed.device_for(device)
        try:
            world = distributed.start(device, args.dist_timeout)
        except RuntimeError as exc:
            raise Failure(EXIT_FAILED, f"error: could not join the other processes ({one_line(exc)})") from None
        yield _Process(device, world)
    finally:
        distributed.stop()
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[threading.Event]:
    """SIGTERM sets the event (the run stops after its batch; a save once begun is finished); the
    handler before is put back on every way out."""
    cancel = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGTERM, previous)


def _mnist(args: argparse.Namespace, proc: _Process, device="cpu"):
    """MNIST, downloaded if needed by one process per machine while the others wait for it."""
    from mnist_draw.trainer import distributed
    from mnist_draw.trainer.data import DataError, load_mnist

    first = proc.world is None or proc.world.local_rank == 0
    if not first:
        distributed.barrier(proc.world)
    try:
        data = load_mnist(args.data, download=not args.no_download and first, device=device)
    except DataError as exc:
        hint = ", or leave out --no-download to download it" if args.no_download and exc.missing else ""
        raise Failure(EXIT_USAGE, f"error: {exc}{hint}") from None
    if first:
        distributed.barrier(proc.world)
    return data


def _printed_digits(recipe) -> None:
    """Read the typeface bank before training when the recipe trains on it: a damaged install is one line."""
    if recipe.typefaces > 0:
        from mnist_draw.trainer.typefaces import TypefaceBankError, load_bank

        try:
            load_bank()
        except TypefaceBankError as exc:
            raise Failure(EXIT_USAGE, f"error: {exc}") from None


def _model_file(path: Path, device):
    from mnist_draw.model.files import ModelFileError, load_model

    try:
        return load_model(path, device=device)
    except ModelFileError as exc:
        raise Failure(EXIT_USAGE, f"error: {exc}") from None


def _out_path(args: argparse.Namespace, name: str) -> Path:
    """Where the model will be saved, checked before the run: a bad --out must not cost a training."""
    from mnist_draw.model.files import check_can_save
    from mnist_draw.paths import models_dir

    if args.out is not None and not args.out.strip():
        raise Failure(EXIT_USAGE, "error: --out needs a file name")
    out = Path(args.out) if args.out else models_dir() / (
        f"{name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.safetensors")
    if out.exists() and out.is_dir():
        raise Failure(EXIT_USAGE, f"error: --out {out} is a folder; give a file name")
    try:
        check_can_save(out)
    except OSError as exc:
        raise Failure(EXIT_USAGE, f"error: cannot save the model to {out}: {exc.strerror or exc}") from None
    return out


def _run_with_progress(run, args: argparse.Namespace):
    """Iterate the run, showing its progress (the first process only); its result, or Failure."""
    from mnist_draw.trainer.loop import BatchEvent, DeviceEvent, TrainingDiverged

    first = _is_first()
    bar = _progress_bar(run.planned_steps(), enabled=first and sys.stderr.isatty())
    try:
        for event in run:
            if isinstance(event, BatchEvent):
                bar.update(1)
                if event.batch % 20 == 0:
                    bar.set_postfix_str(f"epoch {event.epoch} loss {event.loss:.4f}", refresh=False)
            elif isinstance(event, DeviceEvent):
                bar.write(f"{_who()}: {event.message}", file=sys.stderr)
            elif first and args.json:
                print(json.dumps(event.to_json()), flush=True)
            elif first:
                if event.epoch == 1 and run.step_note:
                    bar.write(f"{_who()}: {run.step_note}", file=sys.stderr)
                bar.write(f"epoch {event.epoch}/{event.epochs}  train loss {event.train_loss:.4f}  "
                          f"test accuracy {event.test_accuracy:.2%}  {event.seconds:.1f} s", file=sys.stdout)
                sys.stdout.flush()
    except TrainingDiverged as exc:
        raise Failure(EXIT_FAILED, f"training failed: {exc}") from None
    finally:
        bar.close()
    if run.result is None or run.result.cancelled:
        raise Failure(EXIT_INTERRUPTED, "stopped before the end; nothing was saved")
    return run.result


def _save(out: Path, result, meta: dict, cancel: threading.Event) -> None:
    """The first process writes the model, atomically, while the others wait to hear how it went, so that no
    process leaves the group while another still uses it (one that left early could abort as it ended);
    a SIGTERM meanwhile waits for the save."""
    from mnist_draw.model.files import save_model
    from mnist_draw.trainer import distributed

    failure = None
    if _is_first():
        try:
            save_model(out, result.model, meta)
        except OSError as exc:
            failure = Failure(EXIT_FAILED, f"error: could not save the model to {out} ({exc.strerror or exc}); "
                                           f"nothing was written")
        if cancel.is_set() and failure is None:
            _say(f"{_who()}: SIGTERM came during the save; the save was finished first")
    world = distributed.current()
    if world is not None and distributed.total([failure is not None], world)[0] and failure is None:
        failure = Failure(EXIT_FAILED, "the first process could not save the model")  # it says why; these stay quiet
    if failure is not None:
        raise failure


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="batch", disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=False)


if __name__ == "__main__":
    sys.exit(main())
