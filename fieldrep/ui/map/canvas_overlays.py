"""The map canvas's light overlays, painted on every frame over the cached scene: the selection,
hover and open account, the day's route, the nearby circle, the rubber band, lasso and polygon being
drawn, the scale bar and the attribution. The base class of :class:`~fieldrep.ui.map.canvas.MapCanvas`."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from fieldrep.geo.projection import (
    lonlat_to_world,
    metres_per_pixel,
    nice_scale,
    world_size_px,
    world_to_lonlat,
)
from fieldrep.services.map.data import MapAccounts
from fieldrep.ui.map.layers import draw_fragments, make_sprite

SELECTION = "#ffd23f"
ROUTE = "#d6336c"
DRAW = "#1c7ed6"


class CanvasOverlays(QWidget):
    """State the overlays read; :class:`MapCanvas` sets it."""

    cx: float
    cy: float
    zoom: float
    mode: str
    accounts: MapAccounts | None
    selection: np.ndarray[Any, Any]
    current: int | None
    hover: int | None
    route: list[tuple[float, float]]
    nearby: tuple[float, float, float] | None
    drawing: list[tuple[float, float]]
    attribution: str
    _rubber: QRectF | None
    _lasso: list[QPointF]
    _overlay_sprites: dict[tuple[str, float], tuple[Any, int]]

    @property
    def scale(self) -> float:
        return world_size_px(self.zoom)

    def screen_of(self, wx: Any, wy: Any) -> tuple[Any, Any]:
        s = self.scale
        return (wx - self.cx) * s + self.width() / 2, (wy - self.cy) * s + self.height() / 2

    def _sprite(self, color: str, size: float) -> tuple[Any, int]:
        key = (color, size * self.devicePixelRatioF())
        if key not in self._overlay_sprites:
            self._overlay_sprites[key] = make_sprite([color], self.devicePixelRatioF(), size)
        return self._overlay_sprites[key]

    def _paint_selection(self, p: QPainter) -> None:
        acc = self.accounts
        if acc is None:
            return
        if len(self.selection):
            sx, sy = self.screen_of(acc.wx[self.selection], acc.wy[self.selection])
            inside = (sx > -10) & (sx < self.width() + 10) & (sy > -10) & (sy < self.height() + 10)
            sprite, cell = self._sprite(SELECTION, 11.0)
            d = self.devicePixelRatioF()
            p.save()
            p.resetTransform()
            codes = np.zeros(int(inside.sum()), dtype=np.int64)
            draw_fragments(p, sx[inside] * d, sy[inside] * d, codes, sprite, cell)
            p.restore()
        for pos, color, radius in ((self.hover, "#222222", 8.0), (self.current, ROUTE, 10.0)):
            if pos is None or pos >= len(acc):
                continue
            sx, sy = self.screen_of(acc.wx[pos], acc.wy[pos])
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor("white"), 5))
            p.drawEllipse(QPointF(sx, sy), radius, radius)
            p.setPen(QPen(QColor(color), 2.5))
            p.drawEllipse(QPointF(sx, sy), radius, radius)

    def _paint_route(self, p: QPainter) -> None:
        if not self.route:
            return
        xs, ys = self.screen_of(
            np.array([w[0] for w in self.route]), np.array([w[1] for w in self.route])
        )
        line = QPolygonF([QPointF(x, y) for x, y in zip(xs, ys, strict=True)])
        p.setPen(
            QPen(
                QColor(255, 255, 255, 230),
                6,
                c=Qt.PenCapStyle.RoundCap,
                j=Qt.PenJoinStyle.RoundJoin,
            )
        )
        p.drawPolyline(line)
        p.setPen(QPen(QColor(ROUTE), 3, c=Qt.PenCapStyle.RoundCap, j=Qt.PenJoinStyle.RoundJoin))
        p.drawPolyline(line)
        font = QFont()
        font.setPointSizeF(7.5)
        font.setBold(True)
        p.setFont(font)
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            if not (-20 < x < self.width() + 20 and -20 < y < self.height() + 20):
                continue
            r = 9.0
            p.setPen(QPen(QColor("white"), 1.5))
            p.setBrush(QColor("#222222") if i == 0 else QColor(ROUTE))
            p.drawEllipse(QPointF(x, y), r, r)
            p.setPen(QColor("white"))
            p.drawText(
                QRectF(x - r, y - r, 2 * r, 2 * r),
                Qt.AlignmentFlag.AlignCenter,
                "S" if i == 0 else str(i),
            )

    def _paint_nearby(self, p: QPainter) -> None:
        if self.nearby is None:
            return
        lat, lon, radius = self.nearby
        x, y = self.screen_of(*lonlat_to_world(lon, lat))
        r = radius / metres_per_pixel(self.zoom, lat)
        p.setPen(QPen(QColor(DRAW), 2, Qt.PenStyle.DashLine))
        fill = QColor(DRAW)
        fill.setAlpha(25)
        p.setBrush(fill)
        p.drawEllipse(QPointF(x, y), r, r)
        p.setBrush(QColor(DRAW))
        p.drawEllipse(QPointF(x, y), 4, 4)

    def _paint_tools(self, p: QPainter) -> None:
        accent = QColor(DRAW)
        fill = QColor(accent)
        fill.setAlpha(40)
        if self._rubber is not None:
            p.setPen(QPen(accent, 1.5, Qt.PenStyle.DashLine))
            p.setBrush(fill)
            p.drawRect(self._rubber)
        if len(self._lasso) > 1:
            p.setPen(QPen(accent, 1.5, Qt.PenStyle.DashLine))
            p.setBrush(fill)
            p.drawPolygon(QPolygonF(self._lasso))
        if self.drawing:
            pts = [QPointF(*self.screen_of(x, y)) for x, y in self.drawing]
            path = QPainterPath(pts[0])
            for pt in pts[1:]:
                path.lineTo(pt)
            p.setBrush(fill if len(pts) > 2 else Qt.BrushStyle.NoBrush)
            p.setPen(QPen(accent, 2))
            p.drawPath(path)
            cursor = self.mapFromGlobal(self.cursor().pos())
            if self.mode == "draw" and self.rect().contains(cursor):
                p.setPen(QPen(accent, 1.2, Qt.PenStyle.DashLine))
                p.drawLine(pts[-1], QPointF(cursor))
            p.setPen(QPen(QColor("white"), 1.5))
            for i, pt in enumerate(pts):
                p.setBrush(QColor("#111111") if i == 0 else accent)
                p.drawEllipse(pt, 5, 5)

    def _paint_scale_bar(self, p: QPainter) -> None:
        _lon, lat = world_to_lonlat(self.cx, self.cy)
        mpp = metres_per_pixel(self.zoom, lat)
        metres, label = nice_scale(mpp * 140)
        if not label:
            return
        length = metres / mpp
        x0, y0 = 14.0, self.height() - 18.0
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(255, 255, 255, 200))
        p.drawRoundedRect(QRectF(x0 - 6, y0 - 20, length + 62, 28), 4, 4)
        p.setPen(QPen(QColor("#333333"), 2))
        p.drawLine(QPointF(x0, y0), QPointF(x0 + length, y0))
        p.drawLine(QPointF(x0, y0 - 5), QPointF(x0, y0))
        p.drawLine(QPointF(x0 + length, y0 - 5), QPointF(x0 + length, y0))
        font = QFont()
        font.setPointSizeF(8.5)
        p.setFont(font)
        p.drawText(QPointF(x0 + length + 6, y0 + 1), label)

    def _paint_attribution(self, p: QPainter) -> None:
        text = self.attribution or "Natural Earth · US NWS counties · GeoNames"
        font = QFont()
        font.setPointSizeF(7.5)
        p.setFont(font)
        width = p.fontMetrics().horizontalAdvance(text) + 10
        rect = QRectF(self.width() - width, self.height() - 16, width, 16)
        p.fillRect(rect, QColor(255, 255, 255, 190))
        p.setPen(QColor("#555555"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
