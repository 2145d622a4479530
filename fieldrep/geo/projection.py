"""Web Mercator (EPSG:3857) in the form the map canvas uses: "world" coordinates in [0, 1].

x runs west -> east from longitude -180 to 180, y runs north -> south from latitude ~85.05 to
~-85.05 (the square the slippy-map tiles cover). At zoom ``z`` the world is ``256 * 2**z`` pixels
wide, so a tile (z, x, y) covers world [x / 2**z, (x + 1) / 2**z). Every function takes scalars or
numpy arrays (vectorised: 100,000 points project in about a millisecond).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import numpy as np

MAX_LAT = 85.0511287798066
EARTH_RADIUS_M = 6_378_137.0
EARTH_CIRCUMFERENCE_M = 2 * math.pi * EARTH_RADIUS_M
TILE_SIZE = 256
MIN_ZOOM = 1.0
MAX_ZOOM = 19.0

Num = TypeVar("Num", float, np.ndarray[Any, Any])


def lonlat_to_world(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Longitude/latitude in degrees -> world (x, y) in [0, 1]; latitudes are clamped to the square."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.clip(np.asarray(lat, dtype=np.float64), -MAX_LAT, MAX_LAT)
    x = (lon + 180.0) / 360.0
    s = np.sin(np.radians(lat))
    y = 0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)
    if x.ndim == 0:
        return float(x), float(y)
    return x, y


def world_to_lonlat(x: Any, y: Any) -> tuple[Any, Any]:
    """World (x, y) -> longitude/latitude in degrees."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    lon = x * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * y))))
    if lon.ndim == 0:
        return float(lon), float(lat)
    return lon, lat


def world_size_px(zoom: float) -> float:
    """How many (logical) pixels the whole world spans at ``zoom``."""
    return TILE_SIZE * 2.0**zoom


def metres_per_pixel(zoom: float, lat: float) -> float:
    """Ground distance one pixel covers at ``zoom`` and latitude ``lat`` (what the scale bar shows)."""
    return EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / world_size_px(zoom)


def clamp_zoom(zoom: float) -> float:
    return min(MAX_ZOOM, max(MIN_ZOOM, zoom))


def nice_scale(max_metres: float) -> tuple[float, str]:
    """The longest round distance (1, 2 or 5 x 10^n) not over ``max_metres``, and its label."""
    if max_metres <= 0:
        return 0.0, ""
    exponent = math.floor(math.log10(max_metres))
    best = 10.0**exponent
    for step in (5, 2, 1):
        if step * 10.0**exponent <= max_metres:
            best = step * 10.0**exponent
            break
    if best >= 1000:
        km = best / 1000
        return best, f"{km:g} km"
    return best, f"{best:g} m"


def fit_zoom(
    bounds: tuple[float, float, float, float],
    width_px: float,
    height_px: float,
    margin: float = 0.9,
) -> tuple[float, float, float]:
    """Centre (world x, y) and zoom that show world ``bounds`` (x0, y0, x1, y1) in the viewport."""
    x0, y0, x1, y1 = bounds
    span_x = max(x1 - x0, 1e-9)
    span_y = max(y1 - y0, 1e-9)
    zoom_x = math.log2(max(width_px * margin, 1) / (TILE_SIZE * span_x))
    zoom_y = math.log2(max(height_px * margin, 1) / (TILE_SIZE * span_y))
    return (x0 + x1) / 2, (y0 + y1) / 2, clamp_zoom(min(zoom_x, zoom_y, 16.0))


def haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Great-circle distance in metres (vectorised; the mean Earth radius, good to ~0.5%)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
