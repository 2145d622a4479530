"""Drawing raster tiles (an MBTiles file or a cached tile server) under the map's vector layers."""

from __future__ import annotations

import math
from typing import Protocol

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter

from fieldrep.ui.map.layers import SceneSpec, TileDrawer

MAX_TILES = 400  # a view needs ~20-60; more means the zoom is far outside the source's range


class TileSource(Protocol):
    min_zoom: int
    max_zoom: int

    def get(self, z: int, x: int, y: int) -> bytes | None: ...


def tile_drawer(source: TileSource) -> TileDrawer:
    """A function that paints the tiles covering a scene (on the scene's worker thread)."""

    def draw(p: QPainter, spec: SceneSpec) -> None:
        z = int(min(max(round(spec.zoom), source.min_zoom), source.max_zoom))
        n = 2**z
        x0, y0, x1, y1 = spec.world_box()
        tx0, tx1 = max(0, math.floor(x0 * n)), min(n - 1, math.floor(x1 * n))
        ty0, ty1 = max(0, math.floor(y0 * n)), min(n - 1, math.floor(y1 * n))
        if (tx1 - tx0 + 1) * (ty1 - ty0 + 1) > MAX_TILES:
            return
        size = 256 * 2 ** (spec.zoom - z)
        p.save()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                data = source.get(z, tx, ty)
                if not data:
                    continue
                image = QImage.fromData(data)
                if image.isNull():
                    continue
                sx, sy = spec.to_screen(tx / n, ty / n)
                # A hair of overlap hides the seams scaling leaves between neighbours.
                p.drawImage(QRectF(sx, sy, size + 0.5, size + 0.5), image)
        p.restore()

    return draw
