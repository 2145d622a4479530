"""The app's icons: small line drawings in ``resources/icons/``, tinted to the theme when loaded.

Each SVG strokes with the placeholder colour ``#COLOR``; :func:`icon` substitutes a real colour, so one
drawing serves the normal and the selected state. A missing file falls back to a Qt standard icon
rather than failing, because a lost icon should never stop the app from starting.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication, QStyle

from fieldrep.ui import theme

log = logging.getLogger(__name__)

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
_RENDER_SIZES = (16, 20, 24, 32, 48, 64)


@functools.cache
def _svg_text(name: str) -> str | None:
    path = ICON_DIR / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("icon %s is missing from %s", name, ICON_DIR)
        return None


def _render(svg: str, color: str, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg.replace("#COLOR", color).encode("utf-8")))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return pixmap


def icon(name: str, color: str = theme.ICON, selected_color: str | None = None) -> QIcon:
    """The icon ``name`` (file stem in ``resources/icons``), drawn in ``color``."""
    svg = _svg_text(name)
    if svg is None:
        style = QApplication.style()
        return style.standardIcon(QStyle.StandardPixmap.SP_FileIcon) if style else QIcon()
    result = QIcon()
    for size in _RENDER_SIZES:
        result.addPixmap(_render(svg, color, size), QIcon.Mode.Normal, QIcon.State.Off)
        if selected_color is not None:
            selected = _render(svg, selected_color, size)
            result.addPixmap(selected, QIcon.Mode.Selected, QIcon.State.Off)
            result.addPixmap(selected, QIcon.Mode.Active, QIcon.State.Off)
    return result


def dot(color: str, size: int = 10) -> QPixmap:
    """A filled circle, for status lights (online/offline)."""
    pixmap = QPixmap(QSize(size, size))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return pixmap
