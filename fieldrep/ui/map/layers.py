"""Drawing the map's cached layers into a QImage: basemap, offline tiles, territories, accounts.

:func:`render_scene` is a pure function of a :class:`SceneSpec` (immutable inputs), so it runs on a
worker thread (QImage painting is thread-safe) as well as in the headless export. The canvas keeps
the last scene and blits it while panning (~1 ms), and asks for a new one when the view leaves it or
the zoom changes.

Markers are drawn in one ``QPainter.drawPixmapFragments`` call: a small sprite atlas holds one
anti-aliased dot per colour and the fragment array (10 doubles per marker, the layout of
``QPainter::PixmapFragment``) is filled by numpy and handed to Qt as a pointer, so 100,000 markers
cost one C++ loop rather than 100,000 Python calls.

Kept whole: the layers are painted together into one image by one pure function, sharing its
projection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)

from fieldrep.geo.basemap import Basemap, Rings
from fieldrep.geo.projection import world_size_px
from fieldrep.ui.map.qpath import rings_path

SEA = QColor("#dde8f0")
LAND = QColor("#f6f3ec")
COUNTRY_LINE = QColor("#a9a293")
STATE_LINE = QColor("#b9b0a0")
COUNTY_LINE = QColor("#dcd5c8")
CITY = QColor("#55504a")
MARKER_PX = 7.0  # logical diameter of an account's dot
CLUSTER_BELOW_ZOOM = 7.5  # clusters when zoomed out further than this (if clustering is on)
CLUSTER_CELL_PX = 52.0

# A function that draws offline tiles into the painter for the scene (see mbtiles module).
TileDrawer = Callable[[QPainter, "SceneSpec"], None]


@dataclass(frozen=True)
class TerritoryGeom:
    """A territory's polygon projected to world coordinates, ready to draw and hit-test."""

    id: str
    name: str
    color: str
    xy: np.ndarray[Any, Any]  # (n, 2) world
    starts: np.ndarray[Any, Any]  # ring starts
    label_xy: tuple[float, float]
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class MarkerData:
    wx: np.ndarray[Any, Any]
    wy: np.ndarray[Any, Any]
    codes: np.ndarray[Any, Any]  # int, an index into colors
    colors: tuple[str, ...]


@dataclass(frozen=True)
class SceneSpec:
    """Everything one scene needs; the arrays are never modified after they are handed over."""

    cx: float  # world centre
    cy: float
    zoom: float
    width: int  # logical pixels
    height: int
    dpr: float = 1.0
    basemap: Basemap | None = None
    territories: tuple[TerritoryGeom, ...] = ()
    markers: MarkerData | None = None
    cluster: bool = True
    show_basemap: bool = True
    show_territories: bool = True
    show_accounts: bool = True
    tiles: TileDrawer | None = None
    generation: int = 0  # changes with anything drawn (the canvas's staleness check)
    static_generation: int = 0  # changes with what the base and label layers draw

    @property
    def scale(self) -> float:
        return world_size_px(self.zoom)

    def to_screen(self, wx: Any, wy: Any) -> tuple[Any, Any]:
        s = self.scale
        return (wx - self.cx) * s + self.width / 2, (wy - self.cy) * s + self.height / 2

    def world_box(self) -> tuple[float, float, float, float]:
        s = self.scale
        hw, hh = self.width / 2 / s, self.height / 2 / s
        return self.cx - hw, self.cy - hh, self.cx + hw, self.cy + hh


@dataclass
class Cluster:
    x: float  # logical scene pixels
    y: float
    count: int
    radius: float


@dataclass
class Scene:
    spec: SceneSpec
    image: QImage  # what the canvas blits: every layer composed
    base: QImage  # tiles, basemap, territory fills and outlines (kept for reuse)
    labels: QImage  # territory and city names, transparent elsewhere (kept for reuse)
    clusters: list[Cluster] = field(default_factory=list)
    markers_drawn: int = 0


def _ring_bboxes(rings: Rings) -> np.ndarray[Any, Any]:
    xy, off = rings.xy, rings.offsets
    starts = off[:-1]
    return np.column_stack(
        [
            np.minimum.reduceat(xy[:, 0], starts),
            np.minimum.reduceat(xy[:, 1], starts),
            np.maximum.reduceat(xy[:, 0], starts),
            np.maximum.reduceat(xy[:, 1], starts),
        ]
    )


_BBOX_CACHE: dict[int, np.ndarray[Any, Any]] = {}


def _visible_rings_path(rings: Rings, spec: SceneSpec) -> QPainterPath:
    """The rings that touch the scene, in scene pixels, as one path."""
    key = id(rings)
    boxes = _BBOX_CACHE.get(key)
    if boxes is None:
        boxes = _BBOX_CACHE[key] = _ring_bboxes(rings)
    x0, y0, x1, y1 = spec.world_box()
    keep = np.flatnonzero(
        (boxes[:, 2] >= x0) & (boxes[:, 0] <= x1) & (boxes[:, 3] >= y0) & (boxes[:, 1] <= y1)
    )
    if len(keep) == 0:
        return QPainterPath()
    off = rings.offsets
    lengths = off[keep + 1] - off[keep]
    idx = np.repeat(off[keep] - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    idx += np.arange(int(lengths.sum()))
    xy = rings.xy[idx].astype(np.float64)
    sx, sy = spec.to_screen(xy[:, 0], xy[:, 1])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return rings_path(np.column_stack([sx, sy]), starts, close=False)


def _draw_basemap(p: QPainter, spec: SceneSpec, basemap: Basemap) -> None:
    countries = basemap.rings("countries", spec.zoom)
    if countries is not None:
        path = _visible_rings_path(countries, spec)
        if spec.tiles is None:
            _fill(p, path, LAND)
        _stroke(p, path, QPen(COUNTRY_LINE, 1.0))
    counties = basemap.rings("counties", spec.zoom)
    if counties is not None:
        _stroke(p, _visible_rings_path(counties, spec), QPen(COUNTY_LINE, 1.0))
    states = basemap.rings("states", spec.zoom)
    if states is not None:
        _stroke(p, _visible_rings_path(states, spec), QPen(STATE_LINE, 1.0))


def _draw_cities(p: QPainter, spec: SceneSpec, basemap: Basemap) -> None:
    n = basemap.cities_to_show(spec.zoom)
    if n == 0:
        return
    xy = basemap.city_xy[:n].astype(np.float64)
    sx, sy = spec.to_screen(xy[:, 0], xy[:, 1])
    inside = np.flatnonzero((sx >= 0) & (sx < spec.width) & (sy >= 0) & (sy < spec.height))
    font = QFont()
    font.setPointSizeF(8.5)
    p.setFont(font)
    metrics = QFontMetricsF(font)
    taken: list[QRectF] = []
    p.setBrush(CITY)
    for i in inside[:400]:
        name = basemap.city_names[i]
        rect = QRectF(sx[i] + 4, sy[i] - 7, metrics.horizontalAdvance(name) + 2, 14)
        if any(rect.intersects(r) for r in taken):
            continue
        taken.append(rect)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawEllipse(QPointF(sx[i], sy[i]), 2.2, 2.2)
        _halo_text(p, rect.topLeft() + QPointF(1, 11), name, CITY)


def _halo_text(p: QPainter, at: QPointF, text: str, color: QColor, halo: float = 1.0) -> None:
    """Text with a white outline, drawn as five glyph runs: stroking the text's path with a wide
    round pen reads better but costs ~2 ms a label, 1 s for 500 territories' names."""
    p.setPen(QColor(255, 255, 255, 235))
    for dx, dy in ((-halo, -halo), (halo, halo), (-halo, halo), (halo, -halo)):
        p.drawText(at + QPointF(dx, dy), text)
    p.setPen(color)
    p.drawText(at, text)


def _stroke(p: QPainter, path: QPainterPath, pen: QPen) -> None:
    # drawPath with a pen rasterises the stroke directly; strokePath builds its outline first (5x).
    # Keep map lines 1 px wide: that width has Qt's fast path, wider pens cost ~50x.
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)


def _fill(p: QPainter, path: QPainterPath, color: QColor) -> None:
    # Without antialiasing (7x faster): every filled edge is then covered by an antialiased stroke.
    p.save()
    p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    p.drawPath(path)
    p.restore()


def _draw_territories(p: QPainter, spec: SceneSpec) -> None:
    x0, y0, x1, y1 = spec.world_box()
    shown = [
        t
        for t in spec.territories
        if t.bbox[2] >= x0 and t.bbox[0] <= x1 and t.bbox[3] >= y0 and t.bbox[1] <= y1
    ]
    paths = []
    for t in shown:
        sx, sy = spec.to_screen(t.xy[:, 0], t.xy[:, 1])
        path = rings_path(np.column_stack([sx, sy]), t.starts, close=False)
        color = QColor(t.color)
        fill = QColor(color)
        fill.setAlpha(48)
        _fill(p, path, fill)
        paths.append((t, path, color))
    for _t, path, color in paths:
        # Two 1 px strokes half a pixel apart look like a 1.5 px line; Qt rasterises 1 px pens on
        # a fast path (3 ms for 18,000 segments) and any other width ~50x slower.
        pen = QPen(color.darker(120), 1.0)
        _stroke(p, path, pen)
        _stroke(p, path.translated(0.5, 0.5), pen)


def _draw_territory_labels(p: QPainter, spec: SceneSpec) -> None:
    font = QFont()
    font.setPointSizeF(10)
    font.setBold(True)
    p.setFont(font)
    metrics = QFontMetricsF(font)
    x0, y0, x1, y1 = spec.world_box()
    s = spec.scale
    for t in spec.territories:
        if not (t.bbox[2] >= x0 and t.bbox[0] <= x1 and t.bbox[3] >= y0 and t.bbox[1] <= y1):
            continue
        advance = metrics.horizontalAdvance(t.name)
        if (t.bbox[2] - t.bbox[0]) * s < advance * 0.6:
            continue  # too small at this zoom for its name
        lx, ly = spec.to_screen(t.label_xy[0], t.label_xy[1])
        _halo_text(p, QPointF(lx - advance / 2, ly + 4), t.name, QColor(t.color).darker(160))


def make_sprite(colors: Sequence[str], dpr: float, size: float = MARKER_PX) -> tuple[QPixmap, int]:
    """A row of anti-aliased dots, one per colour, each ``cell`` device pixels wide."""
    cell = math.ceil(size * dpr) + 2
    image = QImage(cell * max(len(colors), 1), cell, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    d = size * dpr
    for i, c in enumerate(colors):
        color = QColor(c)
        p.setPen(QPen(color.darker(150), max(1.0, dpr * 0.8)))
        p.setBrush(color)
        p.drawEllipse(QRectF(i * cell + (cell - d) / 2, (cell - d) / 2, d, d))
    p.end()
    return QPixmap.fromImage(image), cell


def draw_fragments(
    p: QPainter,
    sx: np.ndarray[Any, Any],
    sy: np.ndarray[Any, Any],
    codes: np.ndarray[Any, Any],
    sprite: QPixmap,
    cell: int,
) -> None:
    """Draw sprite cell ``codes[i]`` centred at device pixel (sx[i], sy[i]), all in one call.

    The painter must have no scaling (device pixels). ``fragments`` must stay alive during the
    call: Qt reads the array through the pointer it is given.
    """
    n = len(sx)
    if n == 0:
        return
    fragments = np.empty((n, 10), dtype=np.float64)
    fragments[:, 0] = sx
    fragments[:, 1] = sy
    fragments[:, 2] = codes.astype(np.float64) * cell
    fragments[:, 3] = 0.0
    fragments[:, 4] = cell
    fragments[:, 5] = cell
    fragments[:, 6] = 1.0
    fragments[:, 7] = 1.0
    fragments[:, 8] = 0.0
    fragments[:, 9] = 1.0
    first = shiboken6.wrapInstance(fragments.ctypes.data, QPainter.PixmapFragment)
    p.drawPixmapFragments(first, n, sprite)  # type: ignore[arg-type]
    del first


def _draw_markers(p: QPainter, spec: SceneSpec, scene: Scene) -> None:
    m = spec.markers
    if m is None or len(m.wx) == 0:
        return
    sx, sy = spec.to_screen(m.wx, m.wy)
    pad = MARKER_PX
    inside = (sx >= -pad) & (sx < spec.width + pad) & (sy >= -pad) & (sy < spec.height + pad)
    idx = np.flatnonzero(inside)
    sx, sy, codes = sx[idx], sy[idx], m.codes[idx]
    singles = np.arange(len(idx))
    if spec.cluster and spec.zoom < CLUSTER_BELOW_ZOOM and len(idx) > 0:
        singles = _draw_clusters(p, spec, scene, m, idx, sx, sy, codes)
    sprite, cell = make_sprite(m.colors, spec.dpr)
    p.save()
    p.resetTransform()
    d = spec.dpr
    draw_fragments(p, sx[singles] * d, sy[singles] * d, codes[singles], sprite, cell)
    p.restore()
    scene.markers_drawn = len(singles)


def _draw_clusters(
    p: QPainter,
    spec: SceneSpec,
    scene: Scene,
    m: MarkerData,
    idx: np.ndarray[Any, Any],
    sx: np.ndarray[Any, Any],
    sy: np.ndarray[Any, Any],
    codes: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """Group markers into grid cells fixed to the world (so clusters do not jump while panning);
    draws the groups and returns the positions (in ``idx``) of markers alone in their cell."""
    s = spec.scale
    gx = np.floor(m.wx[idx] * s / CLUSTER_CELL_PX).astype(np.int64)
    gy = np.floor(m.wy[idx] * s / CLUSTER_CELL_PX).astype(np.int64)
    gx -= gx.min()
    gy -= gy.min()
    ncols = int(gx.max()) + 1
    key = gy * ncols + gx
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    single = counts[inverse] == 1
    groups = np.flatnonzero(counts > 1)
    mean_x = np.bincount(inverse, weights=sx) / counts
    mean_y = np.bincount(inverse, weights=sy) / counts
    ncat = len(m.colors)
    dominant = (
        np.bincount(inverse * ncat + codes, minlength=len(uniq) * ncat)
        .reshape(len(uniq), ncat)
        .argmax(1)
    )
    font = QFont()
    font.setPointSizeF(8)
    font.setBold(True)
    p.setFont(font)
    for g in groups:
        count = int(counts[g])
        radius = 9.0 + 4.0 * math.log10(count)
        color = QColor(m.colors[int(dominant[g])])
        fill = QColor(color)
        fill.setAlpha(215)
        p.setPen(QPen(QColor(255, 255, 255, 235), 2.0))
        p.setBrush(fill)
        center = QPointF(float(mean_x[g]), float(mean_y[g]))
        p.drawEllipse(center, radius, radius)
        text = f"{count:,}" if count < 10_000 else f"{count // 1000}k"
        p.setPen(QColor("#ffffff") if color.lightness() < 170 else QColor("#222222"))
        p.drawText(
            QRectF(center.x() - radius, center.y() - radius, 2 * radius, 2 * radius),
            Qt.AlignmentFlag.AlignCenter,
            text,
        )
        scene.clusters.append(Cluster(center.x(), center.y(), count, radius))
    return np.flatnonzero(single)


def static_key(spec: SceneSpec) -> tuple[Any, ...]:
    """What the basemap, territory and label layers depend on (not the markers)."""
    return (
        spec.cx, spec.cy, spec.zoom, spec.width, spec.height, spec.dpr, id(spec.basemap),
        id(spec.territories), spec.show_basemap, spec.show_territories, id(spec.tiles),
        spec.static_generation,
    )  # fmt: skip


def _new_image(spec: SceneSpec, fill: QColor | None) -> QImage:
    w, h = max(1, round(spec.width * spec.dpr)), max(1, round(spec.height * spec.dpr))
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(spec.dpr)
    image.fill(fill if fill is not None else Qt.GlobalColor.transparent)
    return image


def _painter(image: QImage) -> QPainter:
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    return p


def render_scene(spec: SceneSpec, reuse: Scene | None = None) -> Scene:
    """Paint ``spec`` into a new image (safe on any thread).

    Three layers: the base (tiles, basemap, territory fills and outlines), the markers, and the
    labels (territory and city names, over the markers so they orient the reader). The base and
    labels depend only on the view and the territories, so a scene whose markers changed (another
    colouring, a reload after an edit) passes the previous scene as ``reuse`` and redraws only the
    markers: about the cost of drawing the markers alone.
    """
    if reuse is not None and static_key(reuse.spec) == static_key(spec):
        base, labels = reuse.base, reuse.labels
    else:
        base = _new_image(spec, SEA)
        p = _painter(base)
        try:
            if spec.tiles is not None:
                spec.tiles(p, spec)
            if spec.show_basemap and spec.basemap is not None:
                _draw_basemap(p, spec, spec.basemap)
            if spec.show_territories:
                _draw_territories(p, spec)
        finally:
            p.end()
        labels = _new_image(spec, None)
        p = _painter(labels)
        try:
            if spec.show_territories:
                _draw_territory_labels(p, spec)
            if spec.show_basemap and spec.basemap is not None:
                _draw_cities(p, spec, spec.basemap)
        finally:
            p.end()
    image = base.copy()
    image.setDevicePixelRatio(spec.dpr)
    scene = Scene(spec, image, base, labels)
    p = _painter(image)
    try:
        if spec.show_accounts:
            _draw_markers(p, spec, scene)
        p.save()
        p.resetTransform()
        p.drawImage(0, 0, labels)
        p.restore()
    finally:
        p.end()
    return scene


def territory_geoms(shapes: Sequence[Any]) -> tuple[TerritoryGeom, ...]:
    """Project the territories' GeoJSON polygons (lon/lat) to world coordinates once."""
    import shapely

    from fieldrep.geo.projection import lonlat_to_world

    out = []
    for t in shapes:
        if not t.geometry:
            continue
        geom = shapely.geometry.shape(t.geometry)
        if geom.is_empty:
            continue

        def project(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
            x, y = lonlat_to_world(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])

        world = shapely.transform(geom, project)
        rings = []
        for part in shapely.get_parts(world):
            rings.append(shapely.get_exterior_ring(part))
            rings.extend(part.interiors)
        coords, index = shapely.get_coordinates(np.asarray(rings, dtype=object), return_index=True)
        counts = np.bincount(index, minlength=len(rings))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        label = shapely.point_on_surface(world)
        bx0, by0, bx1, by1 = world.bounds
        out.append(
            TerritoryGeom(
                t.id, t.name, t.color, coords, starts, (label.x, label.y), (bx0, by0, bx1, by1)
            )
        )
    return tuple(out)
