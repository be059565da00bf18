"""Outlier exposure: teach the network to say "none of these" when a drawing is not a digit.

A network trained on digits alone has to spread its belief over the ten digits whatever it is shown:
a dash comes out as a confident 7, a scribble as an 8. Outlier exposure (Hendrycks et al., 2019)
shows it, next to every batch of digits, drawings that are *not* digits and asks its output for them
to be uniform: one tenth for every digit. It keeps its ten outputs; what it learns is to be unsure on
things unlike any digit, and the softmax's top value becomes an honest "is this a digit?" signal.

The non-digits are drawn here: capital letters that look like no digit, symbols, dashes, crosses,
waves, zigzags, spirals, stars, scribbles, blobs and dots, each as pen strokes with a random pen,
size, slant and place on a 280x280 canvas, and then put through the app's own preprocessing
(:func:`mnist_draw.preprocess.to_mnist`), so they look like what the network is shown when someone
draws them (made as they were when every shipped model was trained:
:data:`mnist_draw.preprocess.TRAINING_MATERIAL`). A bank of them is drawn during the run (seeded; it
grows as training goes, so training starts at once) and every batch takes a random share from it,
distorted by the same augmentation as the digits.

Shapes that *are* digits to a reader are left out on purpose: circles and ovals (0), a bare upright
line (1), and letters drawn like digits (B, D, G, I, J, O, Q, S, Z).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

CANVAS = 280
Strokes = list[np.ndarray]  # each stroke: points [n, 2] in unit coordinates, x right, y down


def _line(*points, n: int = 10) -> np.ndarray:
    pts = np.asarray(points, float)
    out = [pts[:1]]
    for a, b in zip(pts, pts[1:]):
        out.append(a + (b - a) * np.linspace(0, 1, n)[1:, None])
    return np.concatenate(out)


def _arc(cx, cy, rx, ry, a0, a1, n: int = 30) -> np.ndarray:
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


# Capital letters as a person draws them with a pen, in strokes (unit box, y down).
LETTERS: dict[str, Strokes] = {
    "A": [_line((0.0, 1.0), (0.4, 0.0), (0.8, 1.0)), _line((0.18, 0.6), (0.62, 0.6))],
    "C": [_arc(0.5, 0.5, 0.45, 0.5, -40, -320)],
    "E": [_line((0.7, 0.0), (0.0, 0.0), (0.0, 1.0), (0.7, 1.0)), _line((0.0, 0.5), (0.55, 0.5))],
    "F": [_line((0.7, 0.0), (0.0, 0.0), (0.0, 1.0)), _line((0.0, 0.48), (0.55, 0.48))],
    "H": [_line((0.0, 0.0), (0.0, 1.0)), _line((0.7, 0.0), (0.7, 1.0)), _line((0.0, 0.5), (0.7, 0.5))],
    "K": [_line((0.0, 0.0), (0.0, 1.0)), _line((0.7, 0.0), (0.0, 0.55)), _line((0.18, 0.42), (0.75, 1.0))],
    "L": [_line((0.0, 0.0), (0.0, 1.0), (0.65, 1.0))],
    "M": [_line((0.0, 1.0), (0.05, 0.0), (0.45, 0.7), (0.85, 0.0), (0.9, 1.0))],
    "N": [_line((0.0, 1.0), (0.0, 0.0), (0.7, 1.0), (0.7, 0.0))],
    "P": [_line((0.0, 1.0), (0.0, 0.0), (0.35, 0.0)), _arc(0.35, 0.25, 0.3, 0.25, -90, 90), _line((0.35, 0.5), (0.0, 0.5))],
    "R": [_line((0.0, 1.0), (0.0, 0.0), (0.35, 0.0)), _arc(0.35, 0.25, 0.3, 0.25, -90, 90),
          _line((0.35, 0.5), (0.0, 0.5)), _line((0.25, 0.5), (0.7, 1.0))],
    "T": [_line((0.0, 0.0), (0.8, 0.0)), _line((0.4, 0.0), (0.4, 1.0))],
    "U": [np.concatenate([_line((0.0, 0.0), (0.0, 0.65)), _arc(0.35, 0.65, 0.35, 0.35, 180, 0), _line((0.7, 0.65), (0.7, 0.0))])],
    "V": [_line((0.0, 0.0), (0.4, 1.0), (0.8, 0.0))],
    "W": [_line((0.0, 0.0), (0.25, 1.0), (0.5, 0.3), (0.75, 1.0), (1.0, 0.0))],
    "X": [_line((0.0, 0.0), (0.75, 1.0)), _line((0.75, 0.0), (0.0, 1.0))],
    "Y": [_line((0.0, 0.0), (0.4, 0.5), (0.8, 0.0)), _line((0.4, 0.5), (0.4, 1.0))],
}


def _dash(rng) -> Strokes:
    a = math.radians(rng.uniform(-35, 35))
    n = int(rng.choice([1, 1, 1, 2, 3]))  # a dash, an equals sign, three bars
    return [np.array([[0, i * 0.25], [math.cos(a), i * 0.25 + math.sin(a)]]) for i in range(n)]


def _cross(rng) -> Strokes:
    arms = int(rng.choice([2, 2, 3, 4]))  # +, x, an asterisk
    turn = rng.uniform(0, 180)
    out = []
    for i in range(arms):
        a = math.radians(turn + i * 180 / arms)
        out.append(np.array([[-math.cos(a), -math.sin(a)], [math.cos(a), math.sin(a)]]) * 0.5)
    if arms == 2 and rng.random() < 0.3:  # a hash: two more bars
        out = [s + d for s in out for d in ((0.15, 0.15), (-0.15, -0.15))]
    return out


def _wave(rng) -> Strokes:
    t = np.linspace(0, 1, 120)
    periods, amp = rng.uniform(1.5, 4.5), rng.uniform(0.08, 0.3)
    y = amp * (np.sin(2 * np.pi * periods * t) if rng.random() < 0.6
               else 2 / np.pi * np.arcsin(np.sin(2 * np.pi * periods * t)))  # sine or zigzag
    pts = np.stack([t, y], 1)
    a = math.radians(rng.uniform(-30, 30))
    return [pts @ np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])]


def _spiral(rng) -> Strokes:
    turns = rng.uniform(1.8, 4.0)
    t = np.linspace(0, 2 * np.pi * turns, int(60 * turns))
    r = 0.05 + t / t[-1] * 0.5
    sign = rng.choice([-1, 1])
    return [np.stack([r * np.cos(sign * t), r * np.sin(sign * t)], 1)]


def _scribble(rng) -> Strokes:
    """A smooth random path through many points: a scribble, a squiggle, a tangle."""
    k = int(rng.integers(6, 14))
    ctrl = rng.uniform(0, 1, size=(k, 2))
    t = np.linspace(0, k - 1, 20 * k)
    i = np.clip(t.astype(int), 0, k - 2)
    f = (t - i)[:, None]
    p0, p1 = ctrl[np.maximum(i - 1, 0)], ctrl[i]
    p2, p3 = ctrl[i + 1], ctrl[np.minimum(i + 2, k - 1)]
    pts = 0.5 * (2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2 + (3 * p1 - p0 - 3 * p2 + p3) * f**3)
    return [pts]


def _polygon(rng) -> Strokes:
    """A triangle, a star or an arrow."""
    kind = rng.choice(["triangle", "star", "arrow"])
    if kind == "triangle":
        a = rng.uniform(0, 2 * np.pi) + np.arange(4) * 2 * np.pi / 3
        return [np.stack([np.cos(a), np.sin(a)], 1) * 0.5]
    if kind == "star":
        a = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5
        return [np.stack([np.cos(a), np.sin(a)], 1) * 0.5]
    a = math.radians(rng.uniform(0, 360))
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return [s @ rot.T for s in ([np.array([[-0.5, 0], [0.5, 0]]), np.array([[0.25, -0.2], [0.5, 0], [0.25, 0.2]])])]


def _blob(rng) -> Strokes:
    """A patch coloured in, or a few dots."""
    if rng.random() < 0.5:
        return [rng.uniform(0, 0.3, size=(1, 2)) + rng.uniform(0, 1, size=(1, 2)) for _ in range(int(rng.integers(1, 5)))]
    h = rng.uniform(0.2, 0.6)
    rows = np.linspace(0, h, int(rng.integers(4, 9)))
    pts = np.concatenate([[[0.0, y], [1.0, y]] if i % 2 == 0 else [[1.0, y], [0.0, y]] for i, y in enumerate(rows)])
    return [pts + rng.normal(0, 0.03, pts.shape)]


def _letter(rng) -> Strokes:
    return [s.copy() for s in LETTERS[str(rng.choice(list(LETTERS)))]]


SHAPES: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "letter": _letter, "dash": _dash, "cross": _cross, "wave": _wave, "spiral": _spiral,
    "scribble": _scribble, "polygon": _polygon, "blob": _blob,
}
WEIGHTS = {"letter": 4, "dash": 1, "cross": 1, "wave": 1, "spiral": 1, "scribble": 2, "polygon": 1, "blob": 0.5}


def wobble(strokes: Strokes, rng: np.random.Generator, amount: float) -> Strokes:
    """A smooth random displacement of every point (a hand is not a ruler)."""
    out = []
    for s in strokes:
        t = np.linspace(0, 1, len(s))[:, None]
        freq, phase = rng.uniform(0.5, 2.0, size=2), rng.uniform(0, 2 * np.pi, size=2)
        out.append(s + amount * np.sin(2 * np.pi * freq * t + phase))
    return out


def draw(strokes: Strokes, rng: np.random.Generator) -> np.ndarray:
    """Strokes in unit coordinates drawn on a 280x280 canvas (ink 0..255) with a random pen, size,
    aspect, slant and place, as a person might draw them."""
    pts = np.concatenate(strokes)
    lo, hi = pts.min(0), pts.max(0)
    size = float(np.exp(rng.uniform(np.log(50), np.log(250))))
    pen = float(np.exp(rng.uniform(np.log(3), np.log(max(4.0, size / 5)))))
    slant = math.tan(math.radians(rng.uniform(-15, 15)))
    m = np.array([[rng.uniform(0.8, 1.2), -slant], [0.0, 1.0]]) * size / max(float((hi - lo).max()), 1e-6)
    moved = [(s - (lo + hi) / 2) @ m.T for s in strokes]
    allpts = np.concatenate(moved)
    extent = allpts.max(0) - allpts.min(0) + pen
    fit = min(1.0, (CANVAS - 8) / float(extent.max()))
    room = np.maximum(CANVAS - extent * fit, 0)
    shift = rng.uniform(0, 1, size=2) * room - allpts.min(0) * fit + pen / 2
    im = Image.new("L", (CANVAS, CANVAS), 0)
    d = ImageDraw.Draw(im)
    r = pen * fit / 2
    for s in moved:
        xy = [tuple(p) for p in s * fit + shift]
        if len(xy) > 1:
            d.line(xy, fill=255, width=max(1, round(pen * fit)), joint="curve")
        for x, y in (xy[0], xy[-1]):
            d.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(im)


def random_non_digit(rng: np.random.Generator) -> tuple[str, Strokes]:
    names = list(SHAPES)
    p = np.array([WEIGHTS[n] for n in names], float)
    name = str(rng.choice(names, p=p / p.sum()))
    return name, wobble(SHAPES[name](rng), rng, rng.uniform(0.0, 0.04))


def non_digit_bank(n: int, seed: int) -> torch.Tensor:
    """``n`` drawn non-digits in the form the network sees them: uint8 ``[n, 28, 28]``, seeded."""
    return _draw_bank(n, np.random.default_rng(seed))


def _draw_bank(n: int, rng: np.random.Generator) -> torch.Tensor:
    from mnist_draw.preprocess import TRAINING_MATERIAL, to_mnist

    out = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        x = to_mnist(draw(random_non_digit(rng)[1], rng), **TRAINING_MATERIAL)  # as every shipped model had them
        if x is not None:
            out[i] = np.round(x * 255)
    return torch.from_numpy(out)


def outliers_per_batch(share: float, digits: int) -> int:
    """How many non-digits go with a batch of ``digits`` digits: ``share`` of them, at least one."""
    return max(1, round(share * digits))


class OutlierExposure:
    """Mixes drawn non-digits into every training batch and pushes the network's output on them
    towards uniform (``weight`` times the cross-entropy against one tenth per digit).

    Drawing thousands of non-digits takes a while, so the bank starts small and grows by one drawing
    per batch up to its full size: training starts at once, and the cost is spread over the run."""

    START = 256  # drawings made before the first batch

    def __init__(self, size: int, share: float, weight: float, augment_level, device: torch.device, seed: int):
        self.rng = np.random.default_rng(seed)
        self.size, self.device = size, device
        self.bank = _draw_bank(min(size, self.START), self.rng).to(device).float().div_(255.0)
        self.share, self.weight, self.augment_level = share, weight, augment_level

    @classmethod
    def for_recipe(cls, recipe, device: torch.device, seed: int | None) -> "OutlierExposure | None":
        if not recipe.outliers:
            return None
        return cls(recipe.outlier_bank, recipe.outliers, recipe.outlier_weight, recipe.augment, device,
                   0 if seed is None else seed + 1)

    def batch(self, k: int, generator: torch.Generator) -> torch.Tensor:
        """``k`` non-digits for the next batch (the bank grows by one first, until it is full)."""
        from mnist_draw.trainer.augment import augment

        if len(self.bank) < self.size:
            new = _draw_bank(1, self.rng).to(self.device).float().div_(255.0)
            self.bank = torch.cat([self.bank, new])
        idx = torch.randint(0, len(self.bank), (k,), generator=generator, device=self.bank.device)
        odd = self.bank[idx]
        return odd if self.augment_level == "none" else augment(odd, self.augment_level, generator)

    def loss(self, model, xb: torch.Tensor, yb: torch.Tensor, loss_fn, generator: torch.Generator) -> torch.Tensor:
        """The digits' loss plus the outliers' pull towards a uniform output, from one forward pass."""
        odd = self.batch(outliers_per_batch(self.share, len(xb)), generator)
        out = model(torch.cat([xb, odd]))
        uniform = -F.log_softmax(out[len(xb):], dim=1).mean()
        return loss_fn(out[: len(xb)], yb) + self.weight * uniform
