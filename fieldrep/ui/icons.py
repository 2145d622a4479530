"""The app's icons: small line drawings in ``resources/icons/``, tinted to the theme when drawn.

Each SVG strokes with the placeholder colour ``#COLOR``; :func:`icon` substitutes a real colour, so one
drawing serves the normal and the selected state. A missing file falls back to a Qt standard icon
rather than failing, because a lost icon should never stop the app from starting.

Icons are drawn on demand: :class:`SvgIconEngine` renders a size the first time Qt asks for it and
keeps the pixmap, so making an icon costs nothing and start-up never renders sizes nobody shows.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import shiboken6
from PySide6.QtCore import QByteArray, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QIconEngine, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from fieldrep.ui import theme

log = logging.getLogger(__name__)

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"

# Engines made by clone() (Qt clones an engine when a shared icon is modified). Qt owns them, but
# PySide would delete one as soon as Python dropped it, leaving the icon pointing at freed memory;
# so they stay here until Qt has deleted them (shiboken then marks them invalid).
_clones: list[SvgIconEngine] = []


@functools.cache
def _svg_text(name: str) -> str | None:
    path = ICON_DIR / f"{name}.svg"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        log.warning("icon %s is missing from %s", name, ICON_DIR)
        return None


@functools.cache
def _tinted(name: str, color: str) -> bytes:
    svg = _svg_text(name)
    if svg is None:
        raise FileNotFoundError(ICON_DIR / f"{name}.svg")
    return svg.replace("#COLOR", color).encode("utf-8")


def _render(svg: bytes, size: QSize) -> QPixmap:
    pixmap = QPixmap(size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(QByteArray(svg)).render(painter, QRectF(0, 0, size.width(), size.height()))
    painter.end()
    return pixmap


class SvgIconEngine(QIconEngine):
    """One tinted SVG drawn at whatever size, scale and mode Qt asks for, each rendered once.

    Normal (and Disabled, greyed by the style as usual) use ``color``; Selected and Active use
    ``selected_color`` when there is one, else the style's usual treatment of the normal pixmap.
    The icons are square, so a size is fitted to the largest square inside it.
    """

    def __init__(
        self,
        name: str,
        color: str,
        selected_color: str | None = None,
        cache: dict[tuple[int, int, QIcon.Mode, QIcon.State], QPixmap] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.color = color
        self.selected_color = selected_color
        # Shared with clones: a detached copy of the icon draws the same pixmaps.
        self._cache: dict[tuple[int, int, QIcon.Mode, QIcon.State], QPixmap] = (
            {} if cache is None else cache
        )

    # -- QIconEngine --------------------------------------------------------------------------

    def clone(self) -> QIconEngine:
        _clones[:] = [engine for engine in _clones if shiboken6.isValid(engine)]
        engine = SvgIconEngine(self.name, self.color, self.selected_color, self._cache)
        _clones.append(engine)
        return engine

    def key(self) -> str:
        return "fieldrep-svg"

    def isNull(self) -> bool:
        return False

    def actualSize(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QSize:
        side = min(size.width(), size.height())
        return QSize(side, side)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        side = min(size.width(), size.height())
        device_side = round(side * scale)
        if device_side <= 0:
            return QPixmap()
        cache_key = (device_side, side, mode, state)
        pixmap = self._cache.get(cache_key)
        if pixmap is None:
            pixmap = self._draw(device_side, mode)
            pixmap.setDevicePixelRatio(device_side / side)
            self._cache[cache_key] = pixmap
        return pixmap

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        scale = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        pixmap = self.scaledPixmap(rect.size(), mode, state, scale)
        logical = pixmap.deviceIndependentSize().toSize()
        x = rect.x() + (rect.width() - logical.width()) // 2
        y = rect.y() + (rect.height() - logical.height()) // 2
        painter.drawPixmap(QRect(x, y, logical.width(), logical.height()), pixmap)

    # -- drawing ------------------------------------------------------------------------------

    def _draw(self, side: int, mode: QIcon.Mode) -> QPixmap:
        size = QSize(side, side)
        selected = mode in (QIcon.Mode.Selected, QIcon.Mode.Active)
        if selected and self.selected_color is not None:
            return _render(_tinted(self.name, self.selected_color), size)
        normal = _render(_tinted(self.name, self.color), size)
        if mode == QIcon.Mode.Normal:
            return normal
        # What Qt's own pixmap icons do for a mode they hold no pixmap for (grey when disabled,
        # the highlight's tint when selected).
        style = QApplication.style()
        if style is None:
            return normal
        # Imported here: touching QStyle builds a dozen big Python enums that start-up never needs.
        from PySide6.QtWidgets import QStyleOption

        option = QStyleOption()
        option.palette = QGuiApplication.palette()
        return style.generatedIconPixmap(mode, normal, option)


def icon(name: str, color: str = theme.ICON, selected_color: str | None = None) -> QIcon:
    """The icon ``name`` (file stem in ``resources/icons``), drawn in ``color``, and in
    ``selected_color`` (if given) when its item is selected or active."""
    if _svg_text(name) is None:
        from PySide6.QtWidgets import QStyle

        style = QApplication.style()
        return style.standardIcon(QStyle.StandardPixmap.SP_FileIcon) if style else QIcon()
    return QIcon(SvgIconEngine(name, color, selected_color))


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
