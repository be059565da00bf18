"""Bring any picture of a digit into the form MNIST digits have, so the network sees what it learned on.

MNIST's recipe (LeCun et al.): each digit was size-normalised to fit a 20x20 box keeping its aspect
ratio, anti-aliased (so the edges are grey), and placed in a 28x28 frame so that its centre of mass
sits at the centre of the frame. The ink is white on black. A drawing on the canvas, or a photo of a
digit on paper, looks nothing like that until it goes through the same steps:

1. find the ink: decide whether the picture is dark ink on light paper, light ink on a dark ground, or
   ink on a transparent background, and turn it into "how much ink" per pixel, 0..1;
2. crop to the ink's bounding box;
3. scale so that the longer side is 20 pixels, keeping the aspect ratio, with an anti-aliasing filter,
   and make sure some of the ink is full ink (see below);
4. bring the pen's width into MNIST's range (see below);
5. paste into a 28x28 frame and shift it so that the centre of mass lands on MNIST's centre (14, 14).

Step 3's last part is for blurry pictures. MNIST's darkest stroke is full ink and so, after step 2,
is a drawing's darkest pixel; but a small scan or photo blown up to a usable size has only a few such
pixels and wide ramps of grey around its strokes, and the network, which has seen crisp strokes, is
unsure of it. So the ink is multiplied (and clipped at full ink) until a share of it is full ink
(:data:`FULL_INK_SHARE`), as in nearly every MNIST digit and canvas drawing, which are left as they are.

Step 4 is the one MNIST itself did not need. MNIST's digits were written with pens on paper and then
shrunk, so after step 3 their strokes are about 2 to 4 pixels wide. On a canvas the pen width is
fixed while the digit's size is not: a big digit drawn with a thin pen shrinks to hair-thin, faint
strokes; a tiny digit drawn with a thick pen to a blob. So we measure the stroke width after scaling
(ink area divided by half the length of the ink's outline: a stroke of length L and width w has area
L*w and an outline about 2*L long) and, only if it lies outside the range the network reads well
(MNIST's own range, widened at the thick end to what training's thickened digits cover), redraw the
strokes at the crop's full resolution with a rounder or finer pen: grow the ink by a distance (a round
pen going over the same strokes) or shrink it (the ink deeper than a distance from the edge), using
distance transforms, then scale again. MNIST-like drawings, and a bare straight line
(a "1" one or two pixels across), are left exactly as they are.

The result is a 28x28 float32 array with pixels in [0, 1], exactly like an MNIST image divided by 255;
the network applies its own input scaling (:func:`mnist_draw.model.network.normalise`), the same function that
was used during training. An image with no ink gives ``None``.

Some drawings cannot be rescued by step 4: a digit drawn small with a thick pen is a blob whose loops
and gaps are filled in, and no thinner pen brings them back. :func:`preprocess` says so: next to the
28x28 pixels it gives the stroke width it measured before redrawing, and ``pen_too_thick`` when that
width is beyond what a readable drawing has (:data:`PEN_TOO_THICK`, chosen on small digits drawn from
the development set's templates with the app's default pen: above it most are misread, below it
nearly all are read right). The verdict (:mod:`mnist_draw.verdict`) then says "the pen is too thick
for a digit this small" instead of guessing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from mnist_draw.errors import one_line

FRAME = 28
BOX = 20
CENTRE = 14.0  # MNIST's centre of mass, measured on the test set: (13.99, 14.01)
INK_THRESHOLD = 0.02  # ink below this (after removing the paper's colour) is noise
MAX_PIXELS = 40_000_000  # refuse bigger images before decoding them (a 20000x20000 PNG needs 1.6 GB)
WORK_SIDE = 1024  # larger pictures are shrunk to this first: plenty for a 20x20 result
REPEN_SIDE = 64  # a pen is redrawn on a copy of the crop this big (longer side): 3x the 20x20 box
REPEN_MARGIN = 8  # most wider pens reach less far beyond the ink (pixels of that copy); no result depends on it
# Stroke width after scaling into the 20x20 box, as :func:`stroke_width` measures it on MNIST's test
# digits: 2nd percentile 1.73, median 2.31, 98th percentile 3.78 pixels. Strokes narrower than THIN are
# redrawn wider, into MNIST's range (up to MNIST_WIDE); strokes wider than THICK are redrawn narrower,
# to THICK; in between nothing changes. THICK lies above MNIST's range because the network has learned
# thicker strokes than MNIST's own (training thickens many of its digits): thinning MNIST's thick
# digits to MNIST_WIDE made more of them misread than it helped (round 49 in docs/recognition.md).
THIN = 1.75
MNIST_WIDE = 3.8
THICK = 5.5
# In the box, at least this share of the inked pixels is made at least FULL_INK (the ink multiplied,
# clipped at 1): a blurry picture (a small scan blown up) has almost no full ink and wide ramps of grey,
# and the network is unsure of it; MNIST's digits and canvas drawings nearly always have more (MNIST:
# 0.18 at the 1st percentile, 0.45 at the median) and are left as they are (round 50).
FULL_INK_SHARE = 0.2
FULL_INK = 0.9
# A pen being widened or narrowed is corrected by the secant through its last two tries, its slope never
# taken flatter than this share of the first guess's (round 54: a hair-thin line's measured width hardly
# moves over the first pixel or two of a wider pen, and a secant through that flat start overshoots).
# With it, a widening's first try is aimed by the width the redraw's copy shows (round 55). The training
# material is made with neither (``steady_search=False``).
SECANT_FLOOR = 0.5
# How the training material made through preprocessing (the non-digits of outlier exposure, the printed
# digits) is made: as when every shipped model was trained, so that a seed still trains the same network.
# Changing it is a change of recipe, to be measured as one: ``to_mnist(picture, **TRAINING_MATERIAL)``.
TRAINING_MATERIAL = MappingProxyType({"thick": MNIST_WIDE, "full_ink_share": 0.0, "steady_search": False})
# Strokes wider than this (in the 20x20 box, before redrawing) mean a digit drawn too small for its
# pen: its gaps have closed up. The development drawn set stays below it with a margin.
PEN_TOO_THICK = 6.0
_ROWS = np.arange(FRAME, dtype=np.float64)[:, None]  # each pixel's row and column, for the centre of mass
_COLS = np.arange(FRAME, dtype=np.float64)[None, :]


class ImageError(ValueError):
    """An image file that cannot be used; the message is one line that says why."""


def check_size(width: int, height: int, what: str) -> None:
    """Refuse a picture with more pixels than :data:`MAX_PIXELS` (ImageError naming ``what``): decoding or
    scaling it would take seconds and gigabytes. Every picture is checked here: files, pasted, dropped."""
    if width * height > MAX_PIXELS:
        raise ImageError(f"{what}: image too large ({width}x{height} pixels; the limit is "
                         f"{MAX_PIXELS // 1_000_000} megapixels)")


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into an array (grey, RGB or RGBA), refusing huge or broken files clearly."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            check_size(*im.size, str(path))
            im = ImageOps.exif_transpose(im)
            if max(im.size) > WORK_SIDE:
                im.draft("L", (WORK_SIDE, WORK_SIDE))  # JPEG: decode at reduced size
            return image_to_array(im)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (or a format Pillow cannot read)") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: image too large to decode safely") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: cannot read image ({one_line(exc)})") from None


def image_to_array(im: Image.Image) -> np.ndarray:
    """A Pillow image as an array: 2-D for grey, HxWx3 or HxWx4 (alpha kept), 16-bit scaled to 0..1."""
    if max(im.size) > WORK_SIDE:
        im = im.copy()
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(im, dtype=np.float32) / 65535.0
    if mode == "I":
        a = np.asarray(im, dtype=np.float32)
        top = 65535.0 if a.max(initial=0) > 255 else 255.0
        return np.clip(a / top, 0, 1)
    if mode == "F":
        a = np.asarray(im, dtype=np.float32)
        return np.clip(a / (255.0 if a.max(initial=0) > 1 else 1.0), 0, 1)
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"))
    if mode == "LA" or (mode == "P" and "transparency" in im.info) or mode in ("RGBA", "PA", "La"):
        return np.asarray(im.convert("RGBA"))
    return np.asarray(im.convert("RGB"))


def _as_unit_float(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if np.issubdtype(a.dtype, np.integer):
        top = 255.0 if a.max(initial=0) <= 255 else 65535.0
        return np.clip(a.astype(np.float32) / top, 0, 1)
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    if a.max(initial=0) > 1.0:
        a = a / 255.0
    return np.clip(a, 0, 1)


def ink_map(image: np.ndarray) -> np.ndarray:
    """How much ink is at each pixel, 0..1, whatever the picture's polarity or transparency.

    * Transparent background (an alpha channel that is not fully opaque): the alpha is the ink.
    * Otherwise the grey level is compared with the paper, taken as the median of the border pixels:
      light paper means dark ink, dark paper means light ink. The paper's own level is subtracted so
      off-white paper or a grey background counts as no ink.
    """
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise ImageError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    if a.size == 0:
        raise ImageError("the image is empty (0 pixels)")
    a = _as_unit_float(a)
    if a.ndim == 3:
        alpha = a[:, :, -1] if a.shape[2] in (2, 4) else None
        colour = a[:, :, 0] if a.shape[2] == 2 else a[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha is not None and alpha.min() < 0.99:
            return alpha.astype(np.float32)
        grey = colour
    else:
        grey = a
    return _ink_on(grey, _paper(grey))


def _paper(grey: np.ndarray) -> float:
    """The paper's grey level (0..1): the median of the border pixels."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.dtype == np.uint8:  # the same median, sooner: sort the bytes, convert only the middle ones
        middle = np.sort(border)[(border.size - 1) // 2 : border.size // 2 + 1]
        return float(_as_unit_float(middle).mean())
    return float(np.median(_as_unit_float(border)))


def _ink_on(grey: np.ndarray, paper: float) -> np.ndarray:
    """Ink 0..1 of grey pixels (any dtype) on paper of this level: light paper, dark ink, or the reverse."""
    grey = _as_unit_float(grey)
    if paper >= 0.5:
        ink = (paper - grey) / max(paper, 1e-6)
    else:
        ink = (grey - paper) / max(1.0 - paper, 1e-6)
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def has_ink(image: np.ndarray) -> bool:
    """Whether the picture holds any ink that :func:`preprocess` would read (False: blank, all paper)."""
    return bool(_inked_part(image).any())


def _inked_part(image: np.ndarray) -> np.ndarray:
    """The ink map of the part of the picture that may hold ink (the whole picture, or less).

    For 8-bit grey pictures (the canvas, most PNGs) the ink's bounding box is found on the 8-bit pixels,
    with a threshold a little below INK_THRESHOLD, and only that box is turned into floats: a big
    picture is mostly paper, and the floats of all of it would cost more than everything else here.
    """
    a = np.asarray(image)
    if not (a.ndim == 2 and a.dtype == np.uint8 and a.size > 0):
        ink = ink_map(image)
        return np.where(ink >= INK_THRESHOLD, ink, 0.0).astype(np.float32)
    paper = _paper(a)
    if paper >= 0.5:
        maybe_ink = a <= 255 * paper * (1 - INK_THRESHOLD) + 1
    else:
        maybe_ink = a >= 255 * (paper + INK_THRESHOLD * (1 - paper)) - 1
    rows = np.flatnonzero(maybe_ink.any(axis=1))
    if rows.size == 0:
        return np.zeros((1, 1), np.float32)
    cols = np.flatnonzero(maybe_ink[rows[0] : rows[-1] + 1].any(axis=0))  # only the rows with ink
    ink_of_level = _ink_on(np.arange(256, dtype=np.uint8), paper)  # the ink each of the 256 levels means
    ink_of_level[ink_of_level < INK_THRESHOLD] = 0.0
    return np.take(ink_of_level, a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])  # quicker than [] indexing


@dataclass(frozen=True)
class Preprocessed:
    """What preprocessing made of a drawing: the network's input and what it measured on the way."""

    pixels: np.ndarray  # 28x28 float32 in [0, 1], white ink on black
    stroke_width: float  # the pen's width in the 20x20 box before it was redrawn, in pixels
    pen_too_thick: bool  # the digit is too small for its pen: its loops and gaps have closed up


def to_mnist(image: np.ndarray | Image.Image, thick: float | None = None,
             full_ink_share: float | None = None, steady_search: bool = True) -> np.ndarray | None:
    """Any picture of a digit -> the 28x28 float32 (pixels in [0, 1]) the network takes; None if no ink.

    ``thick``: strokes wider than this are redrawn narrower (default :data:`THICK`); ``full_ink_share``:
    the share of the ink made full ink (default :data:`FULL_INK_SHARE`); ``steady_search``: the pen's
    width searched for as rounds 54 and 55 made the search (see :data:`SECANT_FLOOR`). The defaults are
    what the app does; the training material passes :data:`TRAINING_MATERIAL`.
    """
    result = preprocess(image, thick, full_ink_share, steady_search)
    return None if result is None else result.pixels


def preprocess(image: np.ndarray | Image.Image, thick: float | None = None,
               full_ink_share: float | None = None, steady_search: bool = True) -> Preprocessed | None:
    """Like :func:`to_mnist`, and also the pen's measured width and whether it is too thick; None if no ink."""
    if isinstance(image, Image.Image):
        image = image_to_array(image)
    ink = _inked_part(image)
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = crop / crop.max()  # the darkest stroke is full ink, as in MNIST

    boxed, width = _normalise_stroke_width(crop, THIN, THICK if thick is None else thick,
                                           FULL_INK_SHARE if full_ink_share is None else full_ink_share,
                                           steady_search)
    new_h, new_w = boxed.shape
    frame = np.zeros((FRAME, FRAME), np.float32)
    top, left = (FRAME - new_h) // 2, (FRAME - new_w) // 2
    frame[top : top + new_h, left : left + new_w] = boxed
    cy, cx = _centre_of_mass(frame)
    if not (np.isfinite(cy) and np.isfinite(cx)):
        return None
    dy, dx = int(round(CENTRE - cy)), int(round(CENTRE - cx))
    # Keep the whole digit inside the frame even when its mass is far off-centre (e.g. a "7").
    top += min(max(dy, -top), FRAME - (top + new_h))
    left += min(max(dx, -left), FRAME - (left + new_w))
    frame = np.zeros((FRAME, FRAME), np.float32)
    frame[top : top + new_h, left : left + new_w] = boxed
    return Preprocessed(frame, width, width > PEN_TOO_THICK)


def _centre_of_mass(frame: np.ndarray) -> tuple[float, float]:
    """``scipy.ndimage.center_of_mass`` of a FRAME x FRAME image, the same sums without its overhead."""
    mass = frame.sum()
    return float((frame * _ROWS).sum() / mass), float((frame * _COLS).sum() / mass)


def _fit_box(crop: np.ndarray, full_ink_share: float) -> np.ndarray:
    """Scale a cropped ink map so that its longer side is BOX pixels, keeping the aspect ratio, with at
    least ``full_ink_share`` of its ink full (:func:`_with_full_ink`)."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) == (w, h):
        return _with_full_ink(crop, full_ink_share)
    resized = Image.fromarray(crop, mode="F").resize((new_w, new_h), Image.Resampling.LANCZOS,
                                                     reducing_gap=None if scale > 0.5 else 3.0)
    out = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    top = out.max()
    return _with_full_ink(out / top if top > 0 else out, full_ink_share)


def _with_full_ink(box: np.ndarray, share: float) -> np.ndarray:
    """The ink made darker (multiplied, clipped at full ink) until at least ``share`` of its inked pixels
    reach :data:`FULL_INK`; ink that has that much already is returned as it is."""
    if share <= 0:
        return box
    inked = box[box > INK_THRESHOLD]
    if inked.size == 0:
        return box
    # Enough full ink already (the usual case): the quantile below would be at least FULL_INK. Counting
    # is quicker than the quantile; the margin keeps its interpolation between two full-ink pixels.
    if np.count_nonzero(inked >= FULL_INK) >= share * inked.size + 1.0 - share:
        return box
    level = _quantile(inked, 1.0 - share)
    if level >= FULL_INK:
        return box
    return np.minimum(box * np.float32(FULL_INK / level), np.float32(1.0))


def _quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation, its very arithmetic) of a 1-D array, found by a
    partial sort of the two values it lies between: a few times quicker on the live path's small arrays."""
    pos = (values.size - 1) * q
    lo = int(np.floor(pos))
    hi = min(lo + 1, values.size - 1)
    part = np.partition(values, (lo, hi))
    below, above, t = part[lo], part[hi], pos - lo
    diff = above - below
    return float(above - diff * (1 - t) if t >= 0.5 else below + diff * t)


def stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels: ink area over half the outline's length (the sum of the gradient)."""
    outline = float(np.hypot(*_gradient(_framed(ink.astype(np.float32, copy=False), 1, 0))).sum())
    return 2.0 * float(ink.sum()) / outline if outline > 0 else 0.0


def _gradient(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.gradient`` of a 2-D array at least 2x2 (central differences inside, one-sided at the edges),
    the same numbers without its generality, which costs more than the sums themselves on a small array."""
    gy, gx = np.empty_like(a), np.empty_like(a)
    gy[1:-1] = (a[2:] - a[:-2]) / 2.0
    gy[0], gy[-1] = a[1] - a[0], a[-1] - a[-2]
    gx[:, 1:-1] = (a[:, 2:] - a[:, :-2]) / 2.0
    gx[:, 0], gx[:, -1] = a[:, 1] - a[:, 0], a[:, -1] - a[:, -2]
    return gy, gx


def _framed(a: np.ndarray, width: int, value: float | bool) -> np.ndarray:
    """``np.pad(a, width, constant_values=value)`` for a 2-D array, without its overhead."""
    out = np.full((a.shape[0] + 2 * width, a.shape[1] + 2 * width), value, dtype=a.dtype)
    out[width : width + a.shape[0], width : width + a.shape[1]] = a
    return out


class _Repen:
    """Redraw a cropped digit's strokes with a wider or narrower round pen.

    The distance transforms (how far each pixel lies from the ink; how deep each ink pixel lies inside
    it) depend only on where the ink is, not on the new pen, so they are computed once and every pen
    width tried is then a cheap threshold of them. They are computed on a copy of the crop at most
    ``REPEN_SIDE`` pixels on its longer side: three times the 20-pixel box is plenty, and it keeps the
    cost of the transforms (which grows with the pixel count) small, whatever the canvas size.
    """

    def __init__(self, crop: np.ndarray):
        h, w = crop.shape
        if max(h, w) > REPEN_SIDE:
            scale = REPEN_SIDE / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.BOX), np.float32)
            crop = small / small.max() if small.max() > 0 else small
        self.crop = crop
        self.pad = max(3, int(np.ceil(0.25 * max(crop.shape))))  # the widest growth allowed, in pixels
        self._outside: np.ndarray | None = None  # see outside(): computed when a wider pen is first tried
        self._margin = 0

    def outside(self, margin: int) -> np.ndarray:
        """How far each pixel of the crop with a ``margin`` around it is from the ink, for a wider pen.

        A hair-thin line shrinks to a faint one: faint pixels count as ink here. The distances do not
        depend on the margin (the nearest ink is always in the crop), so they are computed once for a
        margin most pens fit in (:data:`REPEN_MARGIN`), and once more, for the widest, if a pen needs more."""
        if self._outside is None or margin > self._margin:
            self._margin = min(max(margin, REPEN_MARGIN), self.pad) if self._outside is None else self.pad
            self._outside = ndimage.distance_transform_edt(_framed(self.crop < 0.25, self._margin, True))
        cut = self._margin - margin
        h, w = self._outside.shape
        return self._outside[cut : h - cut, cut : w - cut]

    @cached_property
    def inside(self) -> np.ndarray:
        """How deep inside the ink each pixel of the crop is, for a narrower pen."""
        return ndimage.distance_transform_edt(_framed(self.crop >= 0.5, 1, False))[1:-1, 1:-1]

    def __call__(self, radius: float) -> np.ndarray:
        """The strokes with a pen ``2 * radius`` pixels (of this crop) wider, or narrower if negative."""
        if radius > 0:
            radius = min(radius, self.pad - 1.0)
            margin = int(np.ceil(radius + 0.5))  # only pixels this near the ink (below radius + 0.5) gain ink
            out = np.clip(radius + 0.5 - self.outside(margin), 0.0, 1.0).astype(np.float32)
            inner = out[margin:-margin, margin:-margin]  # where the crop lies: the old ink stays
            np.maximum(inner, self.crop, out=inner)
        else:
            out = np.minimum(np.clip(self.inside + radius + 0.5, 0.0, 1.0).astype(np.float32), self.crop)
            if out.max() < 0.5:  # never erase the drawing: keep it as it was
                return self.crop
        rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
        return out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def normalise_stroke_width(crop: np.ndarray, thin: float = THIN, thick: float = THICK,
                           full_ink_share: float = FULL_INK_SHARE, steady_search: bool = True) -> np.ndarray:
    """Scale a cropped digit into the 20x20 box with strokes ``thin`` to ``thick`` pixels wide.

    A digit whose strokes already are that wide is only scaled. Otherwise the pen is redrawn on the
    crop and the digit scaled again; as a wider pen also makes the crop bigger (so it shrinks more),
    the pen is corrected a few times, measuring each time (``steady_search=False``: the search as the
    training material is made, see :data:`SECANT_FLOOR`).
    """
    return _normalise_stroke_width(crop, thin, thick, full_ink_share, steady_search)[0]


def _normalise_stroke_width(crop: np.ndarray, thin: float, thick: float,
                            full_ink_share: float, steady_search: bool) -> tuple[np.ndarray, float]:
    """:func:`normalise_stroke_width`, and the stroke width it measured before redrawing."""
    boxed = _fit_box(crop, full_ink_share)
    width = measured = stroke_width(boxed)
    if thin <= width <= thick or min(boxed.shape) <= 2:  # MNIST-wide already, or a bare line: leave it
        return boxed, measured
    repen = _Repen(crop)
    target = min(max(width, thin), thick)
    # A pen widened for thin strokes is good once it is inside MNIST's range, however wide ``thick`` lets
    # thick strokes stay: a first try overshooting to the top of a wider range would swell small loops.
    upper = min(thick, MNIST_WIDE) if width < thin else thick
    # First guess: widen each side by half the missing width, in the crop's pixels. The box's anti-aliasing
    # blurs a hair-thin line to about 1.37 pixels whatever its real width, so a widening is aimed by the
    # width the redraw's copy shows (three times finer), if that asks for more. After that, the secant
    # through the last two tries (how much the width really changed per pixel of pen), but never flatter
    # than a share (SECANT_FLOOR) of the first guess's slope: the measured width hardly moves until the
    # pen is a pixel or two wider, and a secant through that flat start would aim far beyond MNIST's range.
    scale = BOX / max(repen.crop.shape)  # box pixels per pixel of the redraw's copy
    nominal = 2 * scale
    last_radius, last_width = 0.0, width
    radius = (target - width) / 2 / scale
    if steady_search and width < thin:
        radius = max(radius, (target / scale - stroke_width(repen.crop)) / 2)
    for _ in range(4):
        boxed = _fit_box(repen(radius), full_ink_share)
        width = stroke_width(boxed)
        if thin - 0.1 <= width <= upper + 0.1:
            break
        slope = (width - last_width) / (radius - last_radius) if radius != last_radius else 0.0
        if slope <= 0:  # no change (the pen hit its limit), or noise: go on in the first way
            slope = nominal
        if steady_search:
            slope = max(slope, nominal * SECANT_FLOOR)
        last_radius, last_width = radius, width
        radius += (target - width) / slope
    return boxed, measured
