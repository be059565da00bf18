"""``mnist-draw``: the desktop app, ``mnist-draw classify`` for image files, ``mnist-draw --self-test``.

``mnist-draw`` with no command opens the window. ``mnist-draw classify IMAGE...`` puts each image
through the same preprocessing as the canvas and prints the network's guess; with ``--json`` one
object per line. Exit status: 0 all classified, 1 some file could not be read (the others are still
classified), 2 the model cannot be used or the arguments are wrong. Never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def classify_main(argv: list[str]) -> int:
    p = _Parser(prog="mnist-draw classify", description="Classify images of handwritten digits.")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    args = p.parse_args(argv)

    from mnist_draw.model.files import ModelFileError, load_model
    from mnist_draw.model.predict import predict
    from mnist_draw.paths import default_model_path
    from mnist_draw.preprocess import ImageError, load_image, to_mnist

    try:
        loaded = load_model(args.model or default_model_path())
    except ModelFileError as exc:
        _say(f"mnist-draw: error: {exc}")
        return EXIT_USAGE

    status = EXIT_OK
    for name in args.images:
        try:
            x = to_mnist(load_image(name))
        except ImageError as exc:
            _say(f"mnist-draw: error: {exc}")
            status = EXIT_SOME_FAILED
            continue
        except MemoryError:
            _say(f"mnist-draw: error: {name}: not enough memory to read this image")
            status = EXIT_SOME_FAILED
            continue
        if x is None:
            record = {"file": name, "label": None, "confidence": None, "probabilities": None}
        else:
            pred = predict(loaded.model, x)[0]
            record = {"file": name, "label": pred.label, "confidence": round(pred.confidence, 6),
                      "probabilities": [round(p, 6) for p in pred.probabilities]}
        if args.json:
            print(json.dumps(record), flush=True)
        elif record["label"] is None:
            print(f"{name}: no ink (blank image)", flush=True)
        else:
            print(f"{name}: {record['label']} ({record['confidence']:.1%})", flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "classify":
        try:
            return classify_main(argv[1:])
        except KeyboardInterrupt:
            return 130
    p = _Parser(prog="mnist-draw", description="Draw a digit and watch a neural network read it. "
                "Also: 'mnist-draw classify IMAGE...'.")
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
