"""Spatial queries over many points (the map's accounts), in world coordinates, on shapely's STRtree.

:class:`PointIndex` is built once for a set of points (100,000 in ~0.1 s) and then answers a box
(rectangle selection, what is on screen), a polygon (lasso), the nearest point to a click within a
tolerance, and "within R metres of here" sorted by true distance. Indices returned are positions in
the arrays the index was built from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely import STRtree

from fieldrep.geo.projection import EARTH_CIRCUMFERENCE_M, haversine_m, world_to_lonlat

IntArray = np.ndarray[Any, np.dtype[np.int64]]


_CHUNK = 2_000


def _points(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """shapely.points in chunks: making GEOS points holds the GIL (100,000 at once stopped the
    window ~0.2-0.4 s while the map loaded on a worker); 2,000 at a time it lets go every few ms.
    Building the STRtree itself releases the GIL."""
    return np.concatenate(
        [shapely.points(x[i : i + _CHUNK], y[i : i + _CHUNK]) for i in range(0, len(x), _CHUNK)]
    )


class PointIndex:
    """An STRtree over points given in world coordinates (see :mod:`fieldrep.geo.projection`)."""

    def __init__(self, wx: np.ndarray[Any, Any], wy: np.ndarray[Any, Any]) -> None:
        self.wx = np.asarray(wx, dtype=np.float64)
        self.wy = np.asarray(wy, dtype=np.float64)
        lonlat = world_to_lonlat(self.wx, self.wy) if len(self.wx) else (self.wx, self.wy)
        self.lon: np.ndarray[Any, Any] = np.asarray(lonlat[0])
        self.lat: np.ndarray[Any, Any] = np.asarray(lonlat[1])
        self._tree = STRtree(_points(self.wx, self.wy)) if len(self.wx) else None

    def __len__(self) -> int:
        return len(self.wx)

    def in_box(self, x0: float, y0: float, x1: float, y1: float) -> IntArray:
        """Points inside the world box, in index order."""
        if self._tree is None:
            return np.empty(0, dtype=np.int64)
        box = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        return np.sort(self._tree.query(box, predicate="intersects")).astype(np.int64)

    def in_polygon(self, ring: Sequence[tuple[float, float]]) -> IntArray:
        """Points inside a polygon given as world (x, y) vertices (a lasso); a self-crossing ring is
        repaired (shapely.make_valid) so a figure-eight lasso still selects both loops."""
        if self._tree is None or len(ring) < 3:
            return np.empty(0, dtype=np.int64)
        polygon = shapely.make_valid(shapely.Polygon(ring))
        return np.sort(self._tree.query(polygon, predicate="intersects")).astype(np.int64)

    def nearest(self, x: float, y: float, tolerance: float) -> int | None:
        """The point closest to world (x, y) if one lies within ``tolerance`` (world units)."""
        hits = self.in_box(x - tolerance, y - tolerance, x + tolerance, y + tolerance)
        if len(hits) == 0:
            return None
        d2 = (self.wx[hits] - x) ** 2 + (self.wy[hits] - y) ** 2
        best = int(np.argmin(d2))
        return int(hits[best]) if d2[best] <= tolerance**2 else None

    def within_metres(self, lat: float, lon: float, radius_m: float) -> tuple[IntArray, np.ndarray]:
        """Points within ``radius_m`` of (lat, lon), nearest first, with their distances in metres."""
        if self._tree is None or radius_m <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        from fieldrep.geo.projection import lonlat_to_world

        cx, cy = lonlat_to_world(lon, lat)
        # A world unit is the equator's length; at latitude phi it is cos(phi) times as many metres,
        # so the box's half-side in world units is radius / (circumference * cos(phi)), padded.
        half = radius_m / (EARTH_CIRCUMFERENCE_M * max(math.cos(math.radians(lat)), 0.01)) * 1.05
        hits = self.in_box(cx - half, cy - half, cx + half, cy + half)
        if len(hits) == 0:
            return hits, np.empty(0)
        dist = haversine_m(lat, lon, self.lat[hits], self.lon[hits])
        keep = dist <= radius_m
        hits, dist = hits[keep], dist[keep]
        order = np.argsort(dist, kind="stable")
        return hits[order], dist[order]
