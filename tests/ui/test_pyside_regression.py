"""Guard against PySide6 6.12.0 on CPython 3.11, which drops a reference to ``None`` on every call of
a Qt method returning nothing (``resize``, ``setPen``...) until the interpreter aborts with
``Fatal Python error: none_dealloc``. 3.12+ makes ``None`` immortal, which hides the bug.
"""

from __future__ import annotations

import sys

import PySide6
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

CALLS = 50_000
# A sound build may move None's count by a handful (caches, interned objects); the broken one
# moves it by one per call.
TOLERANCE = 100


def test_void_qt_calls_keep_none_alive(qtbot: QtBot) -> None:
    widget = QWidget()
    qtbot.addWidget(widget)
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    pen = QPen(QColor("#2563EB"))
    point = QPoint(1, 1)
    try:
        before = sys.getrefcount(None)
        for n in range(CALLS):
            widget.resize(100 + n % 7, 80)
            painter.setPen(pen)
            painter.drawPoint(point)
        after = sys.getrefcount(None)
    finally:
        painter.end()
    assert after > before - TOLERANCE, (
        f"None lost {before - after} references over {CALLS} void Qt calls: this PySide6 "
        f"({PySide6.__version__}) has the none_dealloc bug"
    )


def test_known_bad_pyside_is_not_installed_on_311() -> None:
    if sys.version_info[:2] == (3, 11):
        assert PySide6.__version__ != "6.12.0", (
            "PySide6 6.12.0 aborts CPython 3.11 (none_dealloc); pyproject excludes it"
        )
    else:
        assert sys.version_info >= (3, 12), "FieldRep needs Python 3.11 or later"
