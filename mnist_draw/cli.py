"""``mnist-draw``: the desktop app, ``mnist-draw classify`` for image files, ``mnist-draw --self-test``.

``mnist-draw`` with no command opens the window. ``mnist-draw classify IMAGE...`` puts each image (a
folder: the pictures in it and its folders below; a wildcard pattern the shell left as it is, as
Windows' shells do: the files it matches) through the same preprocessing as the canvas and prints the
network's guess and whether it is sure, by the same rule as the window
(:func:`mnist_draw.verdict.verdict`); with ``--json`` one object per line. Exit status: 0 all
classified, 1 some file could not be read (the others are still classified), 2 the model cannot be
used or the arguments are wrong, 141 the output's reader went away (``| head``). Never a traceback;
every error is one line that starts with ``mnist-draw: error:``; no number printed is ever NaN or
infinite.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from typing import Iterator

from mnist_draw.errors import EXIT_USAGE, OneLineParser

EXIT_OK, EXIT_SOME_FAILED = 0, 1


PREFIX = "mnist-draw: error:"  # every error line of the program, whatever the command


class _Parser(OneLineParser):
    def error_line(self, message: str) -> str:  # "mnist-draw: error: classify: ...": one prefix for every command
        command = self.prog.removeprefix("mnist-draw").strip()
        return f"{PREFIX} {command + ': ' if command else ''}{message}"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _record(name: str, x, loaded) -> dict:
    """What classify says about one picture (``x``: a Preprocessed, or None when there is no ink)."""
    from mnist_draw.model.predict import predict
    from mnist_draw.verdict import verdict

    if x is None:
        return {"file": name, "label": None, "confidence": None, "probabilities": None, "sure": False,
                "verdict": None, "text": "no ink (blank image)"}
    pred = predict(loaded.model, x.pixels, loaded.temperature)[0]
    v = verdict(pred.probabilities, x.pen_too_thick)  # ValueError if any is NaN or infinite
    return {"file": name, "label": pred.label, "confidence": round(pred.confidence, 6),
            "probabilities": [round(p, 6) for p in pred.probabilities], "sure": v.sure, "verdict": v.kind,
            "text": "sure" if v.sure else v.text}


def _image_files(names: list[str]) -> Iterator[tuple[str, str | None]]:
    """Each IMAGE argument as the files to read, each with None, or a name with the one line saying why it
    gives none. A folder gives the pictures in it and in its folders below, by path (the files the personal
    samples' folders count as pictures: a folder per digit of saved drawings reads as it is); a wildcard
    pattern that is not a file's own name gives the files it matches, sorted; anything else is a file, read
    as it is."""
    from mnist_draw.samples import is_picture_file

    for name in names:
        if os.path.isdir(name):
            found = sorted(os.path.join(top, f) for top, _, files in os.walk(name) for f in files
                           if is_picture_file(f))
            if not found:
                yield name, f"{name}: a folder with no pictures in it (or below it)"
            yield from ((f, None) for f in found)
        elif not os.path.exists(name) and glob.has_magic(name):
            found = sorted(f for f in glob.glob(name, recursive=True) if os.path.isfile(f))
            yield from ((f, None) for f in found) if found else [(name, f"{name}: no file matches this pattern")]
        else:
            yield name, None


def classify_main(argv: list[str]) -> int:
    p = _Parser(prog="mnist-draw classify", description="Classify images of handwritten digits.")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="an image file, a folder (the pictures in it and "
                   "below it), or a wildcard pattern such as drawings/*.png")
    args = p.parse_args(argv)

    from mnist_draw.model.files import ModelFileError, load_model
    from mnist_draw.paths import default_model_path
    from mnist_draw.preprocess import ImageError, load_image, preprocess

    try:
        loaded = load_model(args.model or default_model_path())
    except ModelFileError as exc:
        _say(f"{PREFIX} {exc}")
        return EXIT_USAGE

    status = EXIT_OK
    for name, nothing in _image_files(args.images):
        if nothing:
            _say(f"{PREFIX} {nothing}")
            status = EXIT_SOME_FAILED
            continue
        try:
            x = preprocess(load_image(name))
        except ImageError as exc:
            _say(f"{PREFIX} {exc}")
            status = EXIT_SOME_FAILED
            continue
        except MemoryError:
            _say(f"{PREFIX} {name}: not enough memory to read this image")
            status = EXIT_SOME_FAILED
            continue
        try:
            record = _record(name, x, loaded)
        except ValueError:
            _say(f"{PREFIX} {args.model or default_model_path()}: the model's outputs for {name} are not finite "
                 f"numbers (its weights overflow); it cannot be used")
            return EXIT_USAGE
        if args.json:
            print(json.dumps(record, allow_nan=False), flush=True)
        elif record["label"] is None:
            print(f"{name}: {record['text']}", flush=True)
        else:
            print(f"{name}: {record['label']} ({record['confidence']:.1%}), {record['text']}", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "classify":
        try:
            return classify_main(argv[1:])
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:  # its reader has gone (| head): stop, as other command-line tools do
            from mnist_draw.errors import stdout_gone

            return stdout_gone()
    p = _Parser(prog="mnist-draw", usage="%(prog)s [--self-test] [--model MODEL] [--data DIR] [--version]\n"
                "       %(prog)s classify [--model PATH] [--json] IMAGE...",
                description="Draw a digit and watch a neural network read it (opens the window).",
                epilog="commands:\n  classify IMAGE...  read digits from image files, say which digit and whether "
                "it is sure (see 'mnist-draw classify --help')", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--self-test", action="store_true",
                   help="open the window, draw, classify and train briefly, print a summary and exit")
    p.add_argument("--model", help="model file to start with (default: the last one used, else the shipped one)")
    p.add_argument("--data", metavar="DIR", help="folder holding MNIST/raw (default: $MNIST_DRAW_DATA, then the user cache)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    args = p.parse_args(argv)
    if args.version:
        from mnist_draw import __version__

        print(f"mnist-draw {__version__}")
        return EXIT_OK
    from mnist_draw.gui.app import run_app  # the only place outside gui/ that imports Qt code

    return run_app(model=args.model, data=args.data, self_test=args.self_test)


if __name__ == "__main__":
    sys.exit(main())
