"""Calibration: is "90% sure" right nine times in ten? Measured, and fixed with one temperature.

*Expected calibration error* (ECE; Naeini et al., 2015; Guo et al., 2017): sort the guesses into bins
by their confidence, and in each bin compare the mean confidence with the share that was right; the
ECE is the average gap, weighted by how many guesses fall in each bin. A perfectly calibrated model
has 0.

*Temperature scaling* (Guo et al., 2017) divides the network's outputs by one number T before the
softmax, chosen to make the probabilities of held-back examples as likely as possible (the lowest
negative log-likelihood). It never changes which digit is guessed, only how sure the guess is. The
model file keeps T in its description; :func:`mnist_draw.model.predict.probabilities` applies it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TEMPERATURES = torch.linspace(0.5, 3.0, 251)  # the grid T is chosen from
MIN_DRAWINGS = 50  # fewer say little about how sure a model should be: one drawing read right pulls T to the grid's end


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE of probabilities ``[N, 10]`` against the true labels ``[N]``, with equal-width confidence bins."""
    confidence, guess = probabilities.max(dim=1)
    right = (guess == labels).float()
    which = (confidence * bins).long().clamp(max=bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += float(inside.sum()) * abs(float(confidence[inside].mean() - right[inside].mean()))
    return total / max(1, len(labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature (from a fixed grid) that gives held-back examples the lowest negative log-likelihood."""
    losses = torch.stack([F.cross_entropy(logits / t, labels) for t in TEMPERATURES])
    return round(float(TEMPERATURES[int(losses.argmin())]), 3)


def calibrate_model_file(path, drawn) -> float:
    """Fit the temperature of the model in ``path`` on the development drawn digits in ``drawn``
    (ImageFolder layout, drawings the model never trained on) and write it into the file's description."""
    from pathlib import Path

    from mnist_draw.model.files import load_model, save_model
    from mnist_draw.preprocess import load_image, to_mnist
    from mnist_draw.trainer.loop import outputs

    files = sorted(Path(drawn).glob("[0-9]/*.png"))
    if len(files) < MIN_DRAWINGS:
        raise ValueError(f"{len(files)} drawings in {drawn} (expected {drawn}/<digit>/*.png): too few to fit a "
                         f"temperature on; give at least {MIN_DRAWINGS}")
    labels = torch.tensor([int(f.parent.name) for f in files])
    images = torch.stack([torch.from_numpy(to_mnist(load_image(f))) for f in files])
    loaded = load_model(path)
    temperature = fit_temperature(outputs(loaded.model, images).cpu(), labels)
    meta = {**loaded.metadata, "temperature": temperature,
            "temperature_fitted_on": f"{Path(drawn).name} ({len(files)} drawings)"}
    save_model(path, loaded.model, {k: v for k, v in meta.items() if k != "recipe"})
    return temperature


def main(argv: list[str] | None = None) -> int:
    """``python -m mnist_draw.trainer.calibrate MODEL --drawn DIR``: fit and store the model's temperature."""
    import sys

    from mnist_draw.errors import OneLineParser

    p = OneLineParser(prog="python -m mnist_draw.trainer.calibrate", name="calibrate", description=main.__doc__)
    p.add_argument("model")
    p.add_argument("--drawn", required=True, help="development drawn digits, DIR/<digit>/*.png")
    args = p.parse_args(argv)
    try:
        t = calibrate_model_file(args.model, args.drawn)
    except ValueError as exc:
        print(f"calibrate: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except OSError as exc:
        print(f"calibrate: error: could not write the temperature into {args.model} ({exc.strerror or exc}); "
              f"the file is as it was", file=sys.stderr, flush=True)
        return 1
    print(f"temperature {t:g} written into {args.model}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
