"""Render resources/icons/mnist-draw.png (256x256) from mnist-draw.svg: .venv/bin/python packaging/render_icon.py"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def main(size: int = 256) -> int:
    app = QGuiApplication(sys.argv[:1])  # noqa: F841  (QPainter needs one)
    renderer = QSvgRenderer(str(ICONS / "mnist-draw.svg"))
    if not renderer.isValid():
        print("mnist-draw.svg is not valid SVG", file=sys.stderr)
        return 1
    img = QImage(size, size, QImage.Format.Format_ARGB32)
    img.fill(Qt.GlobalColor.transparent)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return 0 if img.save(str(ICONS / "mnist-draw.png")) else 1


if __name__ == "__main__":
    sys.exit(main())
