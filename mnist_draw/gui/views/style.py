"""Colours and styles shared by the views."""

from PySide6.QtGui import QColor

ERROR_STYLE = "color: #b3261e;"  # a message that says something went wrong
ACCENT = QColor(40, 110, 200)  # what the user's eye should go to: the guess, a selected cell
