"""The map as a picture: accounts, territories, legend, scale bar and title, as PNG or PDF.

Used by the Map page's "Export view" and, headless, by ``fieldrep map export`` (which starts a
QGuiApplication on the offscreen platform when there is none); the reports reuse :func:`render`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
)

from fieldrep.geo.basemap import Basemap
from fieldrep.geo.projection import fit_zoom, metres_per_pixel, nice_scale, world_to_lonlat
from fieldrep.services.map.data import COLOR_BY_LABELS, MapAccounts
from fieldrep.ui.map.layers import MarkerData, SceneSpec, TerritoryGeom, render_scene

if TYPE_CHECKING:  # the reports' model pulls in matplotlib: imported when a report asks
    from fieldrep.reports.model import ReportImage


@dataclass
class MapExport:
    accounts: MapAccounts
    territories: tuple[TerritoryGeom, ...]
    basemap: Basemap
    color_by: str = "territory"
    title: str = ""
    view: tuple[float, float, float] | None = None  # cx, cy, zoom; None fits the accounts
    cluster: bool = False


def render(export: MapExport, size: tuple[int, int], dpr: float = 1.0) -> QImage:
    width, height = size
    acc = export.accounts
    if export.view is not None:
        cx, cy, zoom = export.view
    else:
        box = acc.bounds()
        if box is None and export.territories:
            xs = [t.bbox for t in export.territories]
            box = (
                min(b[0] for b in xs),
                min(b[1] for b in xs),
                max(b[2] for b in xs),
                max(b[3] for b in xs),
            )
        cx, cy, zoom = fit_zoom(box, width, height - 40) if box else (0.27, 0.39, 4.0)
    coding = acc.coding(export.color_by)
    markers = MarkerData(
        acc.wx, acc.wy, coding.codes.astype(np.int64), tuple(c.color for c in coding.categories)
    )
    spec = SceneSpec(
        cx,
        cy,
        zoom,
        width,
        height,
        dpr,
        export.basemap,
        export.territories,
        markers,
        export.cluster,
    )
    image = render_scene(spec).image
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    _title(
        p,
        width,
        export.title or f"Accounts by {COLOR_BY_LABELS[export.color_by].lower()}",
        len(acc),
        len(acc.unplaced),
    )
    _legend(p, width, height, [(c.label, c.color, c.count) for c in coding.categories if c.count])
    _scale(p, height, zoom, world_to_lonlat(cx, cy)[1])
    font = QFont()
    font.setPointSizeF(7)
    p.setFont(font)
    p.setPen(QColor("#555555"))
    p.drawText(
        QRectF(0, height - 16, width - 8, 14),
        Qt.AlignmentFlag.AlignRight,
        "Natural Earth · US NWS counties (public domain) · GeoNames (CC BY 4.0)",
    )
    p.end()
    return image


def _title(p: QPainter, width: int, title: str, placed: int, unplaced: int) -> None:
    p.fillRect(QRectF(0, 0, width, 40), QColor(255, 255, 255, 225))
    font = QFont()
    font.setPointSizeF(14)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("#222222"))
    p.drawText(QRectF(14, 0, width - 28, 40), Qt.AlignmentFlag.AlignVCenter, title)
    font.setPointSizeF(9)
    font.setBold(False)
    p.setFont(font)
    note = f"{placed:,} accounts on the map"
    if unplaced:
        note += f" · {unplaced:,} without a location, not shown"
    note += f" · {date.today().isoformat()}"
    p.drawText(
        QRectF(14, 0, width - 28, 40),
        Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
        note,
    )


def _legend(p: QPainter, width: int, height: int, rows: list[tuple[str, str, int]]) -> None:
    rows = rows[:24]
    if not rows:
        return
    font = QFont()
    font.setPointSizeF(8.5)
    p.setFont(font)
    metrics = p.fontMetrics()
    w = max(metrics.horizontalAdvance(f"{label}  {count:,}") for label, _c, count in rows) + 40
    h = 18 * len(rows) + 12
    box = QRectF(width - w - 12, 52, w, h)
    p.setPen(QPen(QColor("#bbbbbb"), 1))
    p.setBrush(QColor(255, 255, 255, 230))
    p.drawRoundedRect(box, 5, 5)
    for i, (label, color, count) in enumerate(rows):
        y = box.top() + 8 + 18 * i
        p.setPen(QPen(QColor(color).darker(150), 1))
        p.setBrush(QColor(color))
        p.drawEllipse(QPointF(box.left() + 14, y + 8), 5, 5)
        p.setPen(QColor("#222222"))
        p.drawText(
            QRectF(box.left() + 26, y, w - 32, 16),
            Qt.AlignmentFlag.AlignVCenter,
            f"{label}  {count:,}",
        )


def _scale(p: QPainter, height: int, zoom: float, lat: float) -> None:
    mpp = metres_per_pixel(zoom, lat)
    metres, label = nice_scale(mpp * 160)
    if not label:
        return
    length = metres / mpp
    x0, y0 = 16.0, height - 30.0
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(255, 255, 255, 210))
    p.drawRoundedRect(QRectF(x0 - 8, y0 - 20, length + 70, 30), 4, 4)
    p.setPen(QPen(QColor("#333333"), 2))
    p.drawLine(QPointF(x0, y0), QPointF(x0 + length, y0))
    p.drawLine(QPointF(x0, y0 - 5), QPointF(x0, y0))
    p.drawLine(QPointF(x0 + length, y0 - 5), QPointF(x0 + length, y0))
    p.drawText(QPointF(x0 + length + 6, y0 + 1), label)


def write(export: MapExport, path: Path, size: tuple[int, int]) -> None:
    """Write PNG or PDF by the file's suffix (ValueError for anything else)."""
    suffix = path.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ValueError(
            f"the map can be saved as .png or .pdf, not {suffix or 'a file without a suffix'}"
        )
    if suffix == ".png":
        image = render(export, size)
        if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"could not write {path}")
        return
    # PDF: the picture at twice the resolution, on a page of the same proportions.
    image = render(export, size, dpr=2.0)
    writer = QPdfWriter(str(path))
    writer.setResolution(144)
    writer.setPageSize(
        QPageSize(QSizeF(size[0] / 144 * 25.4, size[1] / 144 * 25.4), QPageSize.Unit.Millimeter)
    )
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Millimeter)
    writer.setTitle(export.title or "FieldRep map")
    p = QPainter(writer)
    if not p.isActive():
        raise OSError(f"could not write {path}")
    p.drawImage(QRectF(0, 0, writer.width(), writer.height()), image)
    p.end()


def ensure_gui_app() -> Any:
    """An application for headless rendering (offscreen when no display is set). A QApplication,
    not a bare QGuiApplication: a process that renders first (``fieldrep report`` run in-process,
    say) may show widgets later, and Qt aborts on a widget made under a QGuiApplication."""
    from PySide6.QtWidgets import QApplication

    app = QGuiApplication.instance()
    if app is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["fieldrep"])
    return app


REPORT_MAP_SIZE = (1800, 1100)


def report_map(
    conn: Any, territory: str | None = None, rep: str | None = None
) -> ReportImage | None:
    """The territory map of a report's scope (a territory and those below it, a rep's accounts),
    as a PNG for the report writers; ``None`` when no account in the scope is placed on the map.
    Runs on any thread (it paints a QImage; a QGuiApplication must exist)."""
    from fieldrep.geo import basemap
    from fieldrep.reports.model import ReportImage
    from fieldrep.reports.scope import load_scope
    from fieldrep.services.map.data import load_accounts
    from fieldrep.ui.map.layers import territory_geoms

    scope = load_scope(conn, territory, rep)
    t_ids = set(scope.selected) if territory else None
    o_ids = {scope.rep.id} if scope.rep is not None else None
    accounts = load_accounts(conn, territory_ids=t_ids, owner_ids=o_ids)
    if len(accounts) == 0:
        return None
    shapes = [t for t in accounts.territories if t_ids is None or t.id in t_ids]
    title = "Territory map" + (
        f" — {scope.root.name} and below" if territory and scope.root else ""
    )
    image = render(
        MapExport(accounts, territory_geoms(shapes), basemap.load(), "territory", title),
        REPORT_MAP_SIZE,
    )
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]
        return None
    buffer.close()
    caption = f"{len(accounts):,} accounts placed, coloured by territory"
    if accounts.unplaced:
        caption += f"; {len(accounts.unplaced):,} without a location are not shown"
    return ReportImage(title, bytes(data.data()), caption)
