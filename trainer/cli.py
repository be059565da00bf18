"""``mnist-train``: train an MLP on MNIST from the terminal, or evaluate a model file.

Start from a preset (``--preset seed002``) and change any part of it with the other options. On a
terminal a progress bar shows the run; with ``--json`` stdout carries exactly one JSON object per epoch
and nothing else, for scripts. Exit status: 0 done, 1 training failed (e.g. the loss diverged),
2 bad arguments, data or model file, 130 interrupted (Ctrl+C or SIGTERM; nothing is written). A SIGTERM
that comes while the model is being saved lets the save finish (a fraction of a second), then exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import json
import signal
import sys
import threading
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(EXIT_USAGE, f"mnist-train: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from mnist_draw.model.recipe import ACTIVATIONS, LOSSES, OPTIMIZERS, PRESETS, SCALINGS, AUGMENTS

    p = _Parser(prog="mnist-train", description="Train an MLP on MNIST, or evaluate a model file.")
    p.add_argument("--preset", default="default", choices=list(PRESETS), help="recipe to start from (default: default)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--loss", choices=LOSSES, help="ce: cross-entropy; mse: mean squared error against one-hot; "
                   "sse: summed squared error / batch size")
    p.add_argument("--hidden", help="hidden layer sizes, e.g. 256,64 ('none' for a linear model)")
    p.add_argument("--activation", choices=[a for a in ACTIVATIONS if a != "none"])
    p.add_argument("--scaling", choices=SCALINGS, help="input scaling: unit = [0,1], standard = Normalize(0.1307, 0.3081)")
    p.add_argument("--dropout", type=float)
    p.add_argument("--augment", choices=AUGMENTS)
    p.add_argument("--max-steps", type=int, help="stop after this many batches in all")
    p.add_argument("--train-limit", type=int, metavar="N", help="train on the first N training digits only")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for training (default: all cores; fewer leaves the machine usable)")
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
    return p


def recipe_from_args(args: argparse.Namespace):
    from mnist_draw.model.recipe import parse_hidden, preset

    r = preset(args.preset)
    changes = {}
    for name in ("epochs", "lr", "batch_size", "optimizer", "momentum", "weight_decay", "loss", "activation",
                 "scaling", "dropout", "augment", "max_steps"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.hidden is not None:
        changes["hidden"] = parse_hidden(args.hidden)
        if not changes["hidden"]:
            changes.setdefault("activation", "none")
        elif r.activation == "none":
            changes.setdefault("activation", "relu")
    if changes:
        changes["name"] = f"{r.name}-custom" if r.name != "custom" else "custom"
    return r.replace(**changes) if changes else r


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        _say("mnist-train: interrupted; nothing was saved")
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    try:
        recipe = recipe_from_args(args)
    except ValueError as exc:
        _say(f"mnist-train: error: {exc}")
        return EXIT_USAGE
    if args.threads is not None and args.threads < 1:
        _say(f"mnist-train: error: --threads must be 1 or more (got {args.threads})")
        return EXIT_USAGE

    from mnist_draw.model.files import ModelFileError, load_model, save_model
    from mnist_draw.paths import default_model_path, models_dir
    from mnist_draw.trainer.data import DataError, load_mnist
    from mnist_draw.trainer.loop import BatchEvent, DeviceEvent, TrainingDiverged, TrainingRun, default_threads, evaluate, \
        result_metadata, resolve_device

    try:
        device, note = resolve_device(args.device)
    except ValueError as exc:
        _say(f"mnist-train: error: {exc}")
        return EXIT_USAGE
    if note:
        _say(f"mnist-train: {note}")

    if args.evaluate is not None:
        path = Path(args.evaluate) if args.evaluate else default_model_path()
        try:
            loaded = load_model(path, device=device)
            data = load_mnist(args.data, download=not args.no_download, device=device)
        except (ModelFileError, DataError) as exc:
            _say(f"mnist-train: error: {exc}")
            return EXIT_USAGE
        print(f"test_accuracy {evaluate(loaded.model, data.test_x, data.test_y):.4f}")
        return EXIT_OK

    base = None
    if args.samples is not None:
        from mnist_draw.samples import load_samples

        try:
            base = load_model(args.init or default_model_path(), device=device)
        except ModelFileError as exc:
            _say(f"mnist-train: error: {exc}")
            return EXIT_USAGE
        samples_x, samples_y, problems = load_samples(args.samples or None)
        for problem in problems:
            _say(f"mnist-train: skipped {problem}")
        if len(samples_y) == 0:
            _say(f"mnist-train: error: no personal samples found in {args.samples or 'the user samples folder'} "
                 f"(expected DIR/<digit>/<name>.png)")
            return EXIT_USAGE
        recipe = base.recipe
    out = Path(args.out) if args.out else models_dir() / (
        f"{recipe.name}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.safetensors")
    if out.exists() and out.is_dir():
        _say(f"mnist-train: error: --out {out} is a folder; give a file name")
        return EXIT_USAGE

    try:  # kept on the CPU: the run copies it to the GPU, and goes back to this copy if the GPU fails
        data = load_mnist(args.data, download=not args.no_download)
    except DataError as exc:
        _say(f"mnist-train: error: {exc}")
        return EXIT_USAGE

    cancel = threading.Event()

    def on_signal(signum, frame):  # SIGTERM: stop after this batch, write nothing
        cancel.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    threads = args.threads or default_threads(leave_for_gui=False)
    before = None
    if base is not None:
        from mnist_draw.trainer.personal import personal_run

        before = evaluate(base.model, data.test_x, data.test_y)
        run = personal_run(base.model, samples_x, samples_y, data, epochs=args.epochs or 3, device=device,
                           seed=args.seed, cancel=cancel, threads=threads)
        if not args.json:
            _say(f"fine-tuning {base.display_name} on {len(samples_y)} personal samples mixed with MNIST; "
                 f"MNIST test accuracy before: {before:.2%}")
    else:
        run = TrainingRun(recipe, data, device=device, seed=args.seed, cancel=cancel, train_limit=args.train_limit,
                          threads=threads)
        if not args.json:
            _say(f"training {recipe.name}: {recipe.describe()} on {device}")
    bar = _progress_bar(run.planned_steps(), enabled=sys.stderr.isatty())
    try:
        for event in run:
            if isinstance(event, BatchEvent):
                bar.update(1)
                if event.batch % 20 == 0:
                    bar.set_postfix_str(f"epoch {event.epoch} loss {event.loss:.4f}", refresh=False)
                continue
            if isinstance(event, DeviceEvent):
                bar.write(f"mnist-train: {event.message}", file=sys.stderr)
                continue
            if args.json:
                print(json.dumps(event.to_json()), flush=True)
            else:
                bar.write(f"epoch {event.epoch}/{event.epochs}  train loss {event.train_loss:.4f}  "
                          f"test accuracy {event.test_accuracy:.2%}  {event.seconds:.1f} s", file=sys.stdout)
                sys.stdout.flush()
    except TrainingDiverged as exc:
        bar.close()
        _say(f"mnist-train: training failed: {exc}")
        return EXIT_FAILED
    finally:
        bar.close()
    result = run.result
    if result is None or result.cancelled:
        signal.signal(signal.SIGTERM, previous)
        _say("mnist-train: stopped before the end; nothing was saved")
        return EXIT_INTERRUPTED
    meta = result_metadata(result)
    if before is not None:
        meta.update(test_accuracy_before=before, personal_samples=len(samples_y))
    try:  # SIGTERM still only sets `cancel`: a save, once begun, is finished (it takes well under a second)
        save_model(out, result.model, meta)
    except OSError as exc:
        _say(f"mnist-train: error: could not save the model to {out} ({exc.strerror or exc}); nothing was written")
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    if cancel.is_set():
        _say("mnist-train: SIGTERM came during the save; the save was finished first")
    if before is not None:
        _say(f"MNIST test accuracy before {before:.2%}, after {result.test_accuracy:.2%}")
    _say(f"saved {out} (test accuracy {result.test_accuracy:.2%})")
    return EXIT_OK


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="batch", disable=not enabled, file=sys.stderr, dynamic_ncols=True, leave=False)


if __name__ == "__main__":
    sys.exit(main())
