"""Pictures between Qt and numpy: a ``QImage`` as an array and back, and a picture as ink on paper.

The canvas paints into a ``QImage``; preprocessing, the tile grids and the tests work on numpy arrays.
These helpers copy between the two, so neither side ever holds on to the other's memory, and write a
picture to a PNG file as the classifier reads it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QImage

PAPER = 255  # the canvas's paper: white; its ink is black


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage as a numpy copy: 2-D for grey images, height x width x 4 (RGBA) for the rest."""
    if image.format() != QImage.Format.Format_Grayscale8:
        image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    channels = 1 if image.format() == QImage.Format.Format_Grayscale8 else 4
    w, h = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8, count=h * image.bytesPerLine())
    a = rows.reshape(h, image.bytesPerLine())[:, : w * channels]
    return a.copy() if channels == 1 else a.reshape(h, w, 4).copy()


def array_to_qimage(pixels: np.ndarray) -> QImage:
    """A uint8 picture, [h, w] grey or [h, w, 3] RGB, as a QImage that owns its own copy of the pixels
    (the inverse of :func:`qimage_to_array`)."""
    a = np.ascontiguousarray(pixels, np.uint8)
    h, w = a.shape[:2]
    if a.ndim == 2:
        return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(a.data, w, h, w * 3, QImage.Format.Format_RGB888).copy()


def ink_on_paper(picture: np.ndarray, source: str = "") -> QImage:
    """Any picture of a digit as a grey QImage of black ink on white paper. Raises ImageError with a
    one-line reason (``source`` before it), also for a picture without ink: it would replace a drawing
    with nothing to read."""
    from mnist_draw.preprocess import ImageError, has_ink, ink_map  # with SciPy: imported when first needed

    if not has_ink(picture):
        raise ImageError(f"{source}the picture has no ink (blank, or fully transparent): the drawing is kept")
    return array_to_qimage(np.round(PAPER * (1.0 - ink_map(picture))).astype(np.uint8))


def readable_array(image: QImage) -> np.ndarray:
    """A pasted or dropped picture as an array, with the limits an opened file gets
    (:func:`mnist_draw.preprocess.load_image`): too many pixels are refused (ImageError), and a large picture
    is shrunk first, so that the window never stalls on it."""
    from mnist_draw.preprocess import WORK_SIDE, ImageError, check_size

    if image.isNull():
        raise ImageError("the picture is empty")
    w, h = image.width(), image.height()
    check_size(w, h, "picture pasted or dropped")
    if max(w, h) > WORK_SIDE:
        image = image.scaled(WORK_SIDE, WORK_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return qimage_to_array(image)


def picture_from_mime(mime: QMimeData) -> tuple[np.ndarray, str]:
    """The picture in a drop or on the clipboard (image data, or an image file's URL) as an array, with what
    to name it by in a message; raises ImageError (one line) when there is none or it cannot be used."""
    from mnist_draw.preprocess import ImageError, load_image

    if mime.hasImage():
        return readable_array(QImage(mime.imageData())), ""
    files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    if files:
        return load_image(files[0]), f"{files[0]}: "
    raise ImageError("nothing to paste: copy a picture of a digit, or an image file")


def shrunk_array(image: QImage, side: int) -> np.ndarray:
    """``image`` scaled (smoothly, keeping its shape) to fit ``side`` pixels, as an array: a canvas is far
    bigger than preprocessing needs for a 20x20 digit."""
    return qimage_to_array(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))


def png_path(path: str | os.PathLike) -> Path:
    """``path`` with ".png" added unless its name already ends so: the file will hold PNG bytes, and a
    name that says otherwise would mislead."""
    path = Path(path)
    return path if path.suffix.lower() == ".png" else path.with_name(path.name + ".png")


def write_png(image: QImage, path: Path, side: int) -> None:
    """``image`` shrunk to ``side`` pixels (as :func:`shrunk_array` gives it to the classifier), written
    as a grey PNG file, atomically: an old file at ``path`` is replaced whole or not at all. Raises
    OSError. PNG is lossless, so the file read back is the very array the classifier reads."""
    from PIL import Image

    from mnist_draw.atomic import atomic_write_bytes

    out = io.BytesIO()
    Image.fromarray(shrunk_array(image, side)).save(out, "PNG")
    atomic_write_bytes(path, out.getvalue())
