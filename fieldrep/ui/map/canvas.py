"""The map canvas: a QWidget that pans and zooms a Web Mercator map of every account.

The expensive layers (basemap, offline tiles, territories, 100,000 markers) are painted into one
image a little larger than the view (:mod:`fieldrep.ui.map.layers`) on a worker of the app's task
runner; a paint only blits that image, scaled while a new one is drawn after a zoom, and adds the
light overlays (selection, hover, route, rubber band, lasso, the polygon being drawn, scale bar).
So a pan frame costs about a millisecond whatever the number of accounts.

Mouse: drag to pan, wheel to zoom around the cursor, click a marker to open it, click a cluster to
zoom into it, double-click to zoom in. Keyboard: arrows pan, + and - zoom, 0 fits the accounts.
Other modes (rectangle, lasso, draw a polygon, pick a point, move a pin) are set by the page.

Kept whole: one widget whose input modes and overlays share its view transform and its cached
scene.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QLabel, QToolButton, QToolTip, QVBoxLayout, QWidget

from fieldrep.geo.basemap import Basemap
from fieldrep.geo.projection import (
    clamp_zoom,
    fit_zoom,
    lonlat_to_world,
    world_to_lonlat,
)
from fieldrep.geo.spatial import PointIndex
from fieldrep.services.map.data import MapAccounts
from fieldrep.ui.map.canvas_overlays import CanvasOverlays
from fieldrep.ui.map.layers import (
    CLUSTER_BELOW_ZOOM,
    SEA,
    MarkerData,
    Scene,
    SceneSpec,
    TerritoryGeom,
    TileDrawer,
    render_scene,
)
from fieldrep.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

MODES = ("pan", "rect", "lasso", "draw", "pick", "move_pin")
MARGIN = 0.3  # the cached scene reaches this fraction of the view beyond each edge
WHEEL_STEP = 0.5  # zoom levels per wheel notch
KEY_PAN = 0.25  # fraction of the view an arrow key pans
CLICK_SLOP = 4.0  # pixels a press may move and still be a click
HIT_PX = 7.0
VERTEX_PX = 8.0  # how near a corner a press must be to drag it
EDGE_PX = 5.0  # how near an edge a click must be to insert a corner there


class MapCanvas(CanvasOverlays):
    """Pans, zooms and hit-tests the accounts; says what the user pointed at through signals."""

    view_changed = Signal()
    account_clicked = Signal(int)  # position in the MapAccounts
    selection_made = Signal(object, bool)  # positions (np.ndarray), additive (Shift held)
    polygon_drawn = Signal(object)  # [(lon, lat), ...] in drawing order, not closed
    point_picked = Signal(float, float)  # lat, lon
    pin_moved = Signal(int, float, float)  # position, lat, lon
    scene_updated = Signal()

    def __init__(self, runner: TaskRunner | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapCanvas")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(QSize(320, 240))
        self.runner = runner
        self.cx, self.cy, self.zoom = 0.27, 0.39, 4.0  # the contiguous US until data arrives
        self.mode = "pan"
        self.basemap: Basemap | None = None
        self.accounts: MapAccounts | None = None
        self.index: PointIndex | None = None
        self.markers: MarkerData | None = None
        self.territories: tuple[TerritoryGeom, ...] = ()
        self.tiles: TileDrawer | None = None
        self.attribution = ""
        self.cluster = True
        self.show_basemap = True
        self.show_territories = True
        self.show_accounts = True
        self.selection = np.empty(0, dtype=np.int64)
        self.current: int | None = None
        self.hover: int | None = None
        self.route: list[tuple[float, float]] = []  # world points, start first
        self.nearby: tuple[float, float, float] | None = None  # lat, lon, radius m
        self.drawing: list[tuple[float, float]] = []  # world vertices of the polygon being drawn
        self._scene: Scene | None = None
        self._generation = 0  # anything drawn in the scene changed
        self._static_generation = 0  # the basemap, territories or tiles changed
        self._in_flight = False
        self._press: QPointF | None = None
        self._press_center = (0.0, 0.0)
        self._moved = False
        self._rubber: QRectF | None = None
        self._lasso: list[QPointF] = []
        self._pin_drag: tuple[int, QPointF] | None = None
        self._vertex_drag: int | None = None
        self._overlay_sprites: dict[tuple[str, float], tuple[Any, int]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._build_buttons()

    # -- building --------------------------------------------------------------------------------

    def _build_buttons(self) -> None:
        self.zoom_in_button = self._button("+", "Zoom in (+)", lambda: self.zoom_by(1))
        self.zoom_out_button = self._button("−", "Zoom out (-)", lambda: self.zoom_by(-1))
        self.fit_button = self._button("⤢", "Show all accounts (0)", self.fit_accounts)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 10, 10, 10)
        box.setSpacing(4)
        for b in (self.zoom_in_button, self.zoom_out_button, self.fit_button):
            box.addWidget(b, 0, Qt.AlignmentFlag.AlignLeft)
        box.addStretch(1)
        self.busy_label = QLabel("Drawing the map…", self)
        self.busy_label.setObjectName("mapBusy")
        self.busy_label.setStyleSheet(
            "background: rgba(255,255,255,220); border-radius: 4px; padding: 2px 6px;"
        )
        self.busy_label.hide()

    def _button(self, text: str, tip: str, slot: Any) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setFixedSize(32, 32)
        button.setStyleSheet(
            "QToolButton { background: white; border: 1px solid #b8b8b8; border-radius: 5px;"
            " font-size: 17px; font-weight: 600; } QToolButton:hover { background: #eef3fb; }"
        )
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(slot)
        return button

    # -- data ------------------------------------------------------------------------------------

    def set_basemap(self, basemap: Basemap | None) -> None:
        self.basemap = basemap
        self.invalidate()

    def set_data(
        self,
        accounts: MapAccounts | None,
        index: PointIndex | None,
        territories: tuple[TerritoryGeom, ...],
        markers: MarkerData | None,
    ) -> None:
        self.accounts, self.index, self.territories, self.markers = (
            accounts,
            index,
            territories,
            markers,
        )
        self.selection = np.empty(0, dtype=np.int64)
        self.current = self.hover = None
        self.invalidate()

    def set_markers(self, markers: MarkerData | None) -> None:
        self.markers = markers
        self.invalidate(static=False)

    def set_territories(self, territories: tuple[TerritoryGeom, ...]) -> None:
        self.territories = territories
        self.invalidate()

    def set_tiles(self, tiles: TileDrawer | None, attribution: str = "") -> None:
        self.tiles = tiles
        self.attribution = attribution
        self.invalidate()

    def set_layers(
        self,
        *,
        basemap: bool | None = None,
        territories: bool | None = None,
        accounts: bool | None = None,
        cluster: bool | None = None,
    ) -> None:
        static = basemap is not None or territories is not None
        if basemap is not None:
            self.show_basemap = basemap
        if territories is not None:
            self.show_territories = territories
        if accounts is not None:
            self.show_accounts = accounts
        if cluster is not None:
            self.cluster = cluster
        self.invalidate(static=static)

    def set_selection(self, positions: np.ndarray[Any, Any]) -> None:
        self.selection = np.unique(np.asarray(positions, dtype=np.int64))
        self.update()

    def set_current(self, position: int | None, *, center: bool = False) -> None:
        self.current = position
        if center and position is not None and self.accounts is not None:
            self.cx, self.cy = float(self.accounts.wx[position]), float(self.accounts.wy[position])
            self.zoom = max(self.zoom, 12.0)
            self._view_moved()
        self.update()

    def set_route(self, points: Sequence[tuple[float, float]]) -> None:
        """The day's route as (lat, lon) points, the start first."""
        self.route = [lonlat_to_world(lon, lat) for lat, lon in points]
        self.update()

    def set_nearby(self, circle: tuple[float, float, float] | None) -> None:
        self.nearby = circle
        self.update()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown map mode {mode!r}")
        self.mode = mode
        self.drawing = [] if mode != "draw" else self.drawing
        self._rubber, self._lasso = None, []
        self.setCursor(
            Qt.CursorShape.OpenHandCursor if mode == "pan" else Qt.CursorShape.CrossCursor
        )
        self.update()

    # -- view ------------------------------------------------------------------------------------

    def world_at(self, pos: QPointF) -> tuple[float, float]:
        s = self.scale
        return self.cx + (pos.x() - self.width() / 2) / s, self.cy + (
            pos.y() - self.height() / 2
        ) / s

    def lonlat_at(self, pos: QPointF) -> tuple[float, float]:
        return world_to_lonlat(*self.world_at(pos))

    def set_view(self, cx: float, cy: float, zoom: float) -> None:
        self.cx, self.cy, self.zoom = (
            min(max(cx, 0.0), 1.0),
            min(max(cy, 0.0), 1.0),
            clamp_zoom(zoom),
        )
        self._view_moved()

    def zoom_by(self, delta: float, anchor: QPointF | None = None) -> None:
        """Zoom by ``delta`` levels keeping the world point under ``anchor`` (default: centre) still."""
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        wx, wy = self.world_at(anchor)
        self.zoom = clamp_zoom(self.zoom + delta)
        s = self.scale
        self.cx = wx - (anchor.x() - self.width() / 2) / s
        self.cy = wy - (anchor.y() - self.height() / 2) / s
        self._view_moved()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the map content by (dx, dy) pixels."""
        s = self.scale
        self.set_view(self.cx - dx / s, self.cy - dy / s, self.zoom)

    def fit_world_box(self, box: tuple[float, float, float, float]) -> None:
        cx, cy, zoom = fit_zoom(box, max(self.width(), 100), max(self.height(), 100))
        self.set_view(cx, cy, zoom)

    def fit_accounts(self) -> None:
        bounds = self.accounts.bounds() if self.accounts is not None else None
        if bounds is not None:
            self.fit_world_box(bounds)

    def _view_moved(self) -> None:
        self.view_changed.emit()
        self._schedule()
        self.update()

    # -- the cached scene ------------------------------------------------------------------------

    def invalidate(self, *, static: bool = True) -> None:
        """The data or the layers changed: the cached scene is stale (kept on screen until the new
        one arrives, so nothing flashes). ``static=False``: only the markers changed, so the next
        scene reuses the basemap, territory and label layers of this one."""
        self._generation += 1
        if static:
            self._static_generation += 1
        self._schedule()
        self.update()

    def scene_ready(self) -> bool:
        """Whether the cached scene is current (same data, same zoom, covers the view)."""
        return self._scene_covers()

    def _scene_covers(self, *, ignore_generation: bool = False) -> bool:
        scene = self._scene
        if scene is None:
            return False
        spec = scene.spec
        if not ignore_generation and spec.generation != self._generation:
            return False
        if abs(spec.zoom - self.zoom) > 1e-9:
            return False
        if abs(spec.dpr - self.devicePixelRatioF()) > 1e-9:
            return False
        x0, y0, x1, y1 = spec.world_box()
        s = self.scale
        hw, hh = self.width() / 2 / s, self.height() / 2 / s
        return (
            x0 <= self.cx - hw and x1 >= self.cx + hw and y0 <= self.cy - hh and y1 >= self.cy + hh
        )

    def scene_spec(self, *, margin: float = MARGIN) -> SceneSpec:
        w, h = max(self.width(), 1), max(self.height(), 1)
        cx, cy = self.cx, self.cy
        width, height = round(w * (1 + 2 * margin)), round(h * (1 + 2 * margin))
        old = self._scene.spec if self._scene is not None else None
        if (
            old is not None
            and old.static_generation == self._static_generation
            and self._scene_covers(ignore_generation=True)
        ):
            # Only the markers changed and the old scene still covers the view: draw the same
            # area, so its basemap, territory and label layers are reused as they are.
            cx, cy, width, height = old.cx, old.cy, old.width, old.height
        return SceneSpec(
            cx,
            cy,
            self.zoom,
            width,
            height,
            self.devicePixelRatioF(),
            self.basemap,
            self.territories,
            self.markers,
            self.cluster,
            self.show_basemap,
            self.show_territories,
            self.show_accounts,
            self.tiles,
            self._generation,
            self._static_generation,
        )

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _on_timer_timeout(self) -> None:
        if self._scene_covers() or self._in_flight:
            return  # a render in flight re-checks when it lands
        spec = self.scene_spec()
        reuse = self._scene
        self.busy_label.setVisible(self._scene is None)
        if self.runner is None or self.runner.closed:
            self._on_scene_rendered(render_scene(spec, reuse))
            return
        self._in_flight = True
        self.runner.run(
            lambda _db, _progress: render_scene(spec, reuse),
            label="Drawing the map",
            quiet=True,
            on_success=self._on_scene_rendered,
            on_failure=self._on_scene_failed,
            on_cancelled=self._on_scene_cancelled,
        )

    def render_now(self) -> None:
        """Draw the scene on this thread now (tests and exports that cannot wait)."""
        self._on_scene_rendered(render_scene(self.scene_spec(), self._scene))

    def _on_scene_rendered(self, scene: Scene) -> None:
        self._in_flight = False
        if scene.spec.generation >= (self._scene.spec.generation if self._scene else -1):
            self._scene = scene
        if self.accounts is not None:  # until the page hands over its data it says it is loading
            self.busy_label.hide()
        self.update()
        self.scene_updated.emit()
        if not self._scene_covers():
            self._schedule()

    def _on_scene_failed(self, exc: BaseException) -> None:
        self._in_flight = False
        log.error("the map could not be drawn: %s", exc, exc_info=exc)
        self.busy_label.setText(f"The map could not be drawn: {exc}")
        self.busy_label.show()

    def _on_scene_cancelled(self) -> None:
        self._in_flight = False

    # -- painting --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), SEA)
        scene = self._scene
        if scene is not None:
            spec = scene.spec
            k = 2.0 ** (self.zoom - spec.zoom)
            left, top, _r, _b = spec.world_box()
            x, y = self.screen_of(left, top)
            if abs(k - 1.0) < 1e-9:
                p.drawImage(QPointF(round(x), round(y)), scene.image)
            else:
                # Scale only the part of the old scene that is on screen: after a few zoom steps
                # the whole scene scaled up would be tens of thousands of pixels wide.
                target = QRectF(x, y, spec.width * k, spec.height * k).intersected(
                    QRectF(self.rect())
                )
                if not target.isEmpty():
                    d = spec.dpr
                    source = QRectF(
                        (target.left() - x) / k * d,
                        (target.top() - y) / k * d,
                        target.width() / k * d,
                        target.height() / k * d,
                    )
                    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, k < 4)
                    p.drawImage(target, scene.image, source)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._paint_nearby(p)
        self._paint_route(p)
        self._paint_selection(p)
        self._paint_tools(p)
        self._paint_scale_bar(p)
        self._paint_attribution(p)
        p.end()

    # -- hit testing -----------------------------------------------------------------------------

    def account_at(self, pos: QPointF) -> int | None:
        if self.index is None or not self.show_accounts or self._clustered():
            return None
        wx, wy = self.world_at(pos)
        return self.index.nearest(wx, wy, HIT_PX / self.scale)

    def _clustered(self) -> bool:
        return self.cluster and self.zoom < CLUSTER_BELOW_ZOOM

    def cluster_at(self, pos: QPointF) -> tuple[float, float] | None:
        """The world centre of the cluster under ``pos``, if one is drawn there."""
        scene = self._scene
        if scene is None or not self._clustered() or abs(scene.spec.zoom - self.zoom) > 1e-9:
            return None
        spec = scene.spec
        s = spec.scale
        for c in scene.clusters:
            wx = spec.cx + (c.x - spec.width / 2) / s
            wy = spec.cy + (c.y - spec.height / 2) / s
            sx, sy = self.screen_of(wx, wy)
            if math.hypot(sx - pos.x(), sy - pos.y()) <= c.radius + 2:
                return wx, wy
        return None

    # -- events ----------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.busy_label.move(self.width() // 2 - 60, 12)
        self.busy_label.adjustSize()
        self._schedule()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps == 0 and not event.pixelDelta().isNull():
            steps = event.pixelDelta().y() / 120.0
        if steps:
            self.zoom_by(steps * WHEEL_STEP, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pos = event.position()
        self._press, self._press_center, self._moved = pos, (self.cx, self.cy), False
        if self.mode == "rect":
            self._rubber = QRectF(pos, pos)
        elif self.mode == "lasso":
            self._lasso = [pos]
        elif self.mode == "move_pin":
            hit = self.account_at(pos)
            if hit is not None and hit == self.current:
                self._pin_drag = (hit, pos)
        elif self.mode == "draw":
            self._vertex_drag = self.vertex_at(pos)
        elif self.mode == "pan":
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._press is None:
            self._update_hover(pos)
            if self.mode == "draw" and self.drawing:
                self.update()
            return
        if (pos - self._press).manhattanLength() > CLICK_SLOP:
            self._moved = True
        if self.mode == "pan" or (self.mode == "move_pin" and self._pin_drag is None):
            s = self.scale
            self.set_view(
                self._press_center[0] - (pos.x() - self._press.x()) / s,
                self._press_center[1] - (pos.y() - self._press.y()) / s,
                self.zoom,
            )
        elif self.mode == "rect" and self._rubber is not None:
            self._rubber = QRectF(self._press, pos).normalized()
            self.update()
        elif self.mode == "lasso":
            self._lasso.append(pos)
            self.update()
        elif self._pin_drag is not None:
            self._pin_drag = (self._pin_drag[0], pos)
            self.update()
        elif self.mode == "draw" and self._vertex_drag is not None and self._moved:
            self.drawing[self._vertex_drag] = self.world_at(pos)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._press is None:
            return super().mouseReleaseEvent(event)
        pos = event.position()
        additive = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        moved, self._press = self._moved, None
        if self.mode == "pan":
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            if not moved:
                self._click(pos)
        elif self.mode == "rect" and self._rubber is not None:
            rect, self._rubber = self._rubber, None
            if moved and self.index is not None:
                x0, y0 = self.world_at(rect.topLeft())
                x1, y1 = self.world_at(rect.bottomRight())
                self.selection_made.emit(self.index.in_box(x0, y0, x1, y1), additive)
        elif self.mode == "lasso":
            ring, self._lasso = [self.world_at(q) for q in self._lasso], []
            if moved and self.index is not None and len(ring) >= 3:
                self.selection_made.emit(self.index.in_polygon(ring), additive)
        elif self.mode == "draw":
            if not moved and self._vertex_drag is None:
                self._add_vertex(pos)
            self._vertex_drag = None
        elif self.mode == "pick" and not moved:
            lon, lat = self.lonlat_at(pos)
            self.point_picked.emit(lat, lon)
        elif self.mode == "move_pin":
            if self._pin_drag is not None and moved:
                lon, lat = self.lonlat_at(pos)
                self.pin_moved.emit(self._pin_drag[0], lat, lon)
            elif not moved:
                self._click(pos)
            self._pin_drag = None
        self.update()

    def _click(self, pos: QPointF) -> None:
        hit = self.account_at(pos)
        if hit is not None:
            self.account_clicked.emit(hit)
            return
        cluster = self.cluster_at(pos)
        if cluster is not None:
            self.set_view(cluster[0], cluster[1], max(self.zoom + 2, CLUSTER_BELOW_ZOOM))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.mode == "draw":
            self.finish_polygon()
        elif self.mode == "pan":
            self.zoom_by(1, event.position())

    def vertex_at(self, pos: QPointF) -> int | None:
        """The drawn polygon's corner under ``pos`` (to drag or delete it)."""
        for i, (x, y) in enumerate(self.drawing):
            sx, sy = self.screen_of(x, y)
            if math.hypot(sx - pos.x(), sy - pos.y()) <= VERTEX_PX:
                return i
        return None

    def _add_vertex(self, pos: QPointF) -> None:
        """A click on an edge of the outline inserts a corner there; elsewhere it adds one at the end."""
        n = len(self.drawing)
        if n >= 3:
            pts = [self.screen_of(x, y) for x, y in self.drawing]
            for i in range(n):
                (ax, ay), (bx, by) = pts[i], pts[(i + 1) % n]
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                if length2 == 0:
                    continue
                t = max(0.0, min(1.0, ((pos.x() - ax) * dx + (pos.y() - ay) * dy) / length2))
                if math.hypot(ax + t * dx - pos.x(), ay + t * dy - pos.y()) <= EDGE_PX:
                    self.drawing.insert(i + 1, self.world_at(pos))
                    self.update()
                    return
        self.drawing.append(self.world_at(pos))
        self.update()

    def contextMenuEvent(self, event: Any) -> None:
        # Right-click on a corner of the outline being drawn deletes it.
        if self.mode == "draw":
            hit = self.vertex_at(QPointF(event.pos()))
            if hit is not None:
                del self.drawing[hit]
                self.update()

    def finish_polygon(self) -> None:
        """Hand the drawn polygon to the page (which validates it) and start a new one."""
        vertices, self.drawing = self.drawing, []
        if vertices:
            self.polygon_drawn.emit([world_to_lonlat(x, y) for x, y in vertices])
        self.update()

    def _update_hover(self, pos: QPointF) -> None:
        hit = self.account_at(pos)
        if hit != self.hover:
            self.hover = hit
            self.update()
            acc = self.accounts
            if hit is not None and acc is not None:
                QToolTip.showText(self.mapToGlobal(pos.toPoint()), self.tooltip_text(hit), self)
            else:
                QToolTip.hideText()

    def tooltip_text(self, position: int) -> str:
        acc = self.accounts
        if acc is None:
            return ""
        days = acc.last_visit_days[position]
        visit = "never visited" if np.isnan(days) else f"last visit {int(days)} days ago"
        owner = acc.owner_names.get(acc.owner[position] or "", "no owner")
        return (
            f"{acc.names[position]}\n{acc.city[position]} · {acc.status[position]} · {owner}\n"
            f"{visit} · placed by {(acc.quality[position] or 'unknown').replace('_', ' ')}\n"
            "Click to open"
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        w, h = self.width() * KEY_PAN, self.height() * KEY_PAN
        moves: dict[Qt.Key, tuple[float, float]] = {
            Qt.Key.Key_Left: (w, 0),
            Qt.Key.Key_Right: (-w, 0),
            Qt.Key.Key_Up: (0, h),
            Qt.Key.Key_Down: (0, -h),
        }
        if key in moves:
            self.pan_by(*moves[key])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(-1)
        elif key in (Qt.Key.Key_0, Qt.Key.Key_Home):
            self.fit_accounts()
        elif key == Qt.Key.Key_Escape:
            self.drawing, self._rubber, self._lasso = [], None, []
            self.update()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.mode == "draw":
            self.finish_polygon()
        elif key == Qt.Key.Key_Backspace and self.drawing:
            self.drawing.pop()
            self.update()
        else:
            super().keyPressEvent(event)
