"""Web Mercator world coordinates, the scale bar's distances, fitting a view."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldrep.geo.projection import (
    MAX_LAT,
    fit_zoom,
    haversine_m,
    lonlat_to_world,
    metres_per_pixel,
    nice_scale,
    world_to_lonlat,
)


def test_known_points_match_the_slippy_map_tiles() -> None:
    assert lonlat_to_world(0.0, 0.0) == pytest.approx((0.5, 0.5))
    assert lonlat_to_world(-180.0, MAX_LAT) == pytest.approx((0.0, 0.0), abs=1e-12)
    assert lonlat_to_world(180.0, -MAX_LAT) == pytest.approx((1.0, 1.0), abs=1e-12)
    # The OpenStreetMap wiki's tile formula, written independently of ours.
    lat = math.radians(40.7128)
    tile_y = (1 - math.log(math.tan(lat) + 1 / math.cos(lat)) / math.pi) / 2 * 2**12
    x, y = lonlat_to_world(-74.0060, 40.7128)
    assert (x * 2**12, y * 2**12) == pytest.approx(((-74.0060 + 180) / 360 * 2**12, tile_y))


def test_latitudes_beyond_the_square_are_clamped() -> None:
    assert lonlat_to_world(10.0, 89.9)[1] == pytest.approx(0.0, abs=1e-12)


@given(
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.floats(min_value=-85, max_value=85, allow_nan=False),
)
def test_world_and_back_is_the_identity(lon: float, lat: float) -> None:
    back = world_to_lonlat(*lonlat_to_world(lon, lat))
    assert back == pytest.approx((lon, lat), abs=1e-9)


def test_arrays_project_like_scalars() -> None:
    lon = np.array([-122.4, -74.0, 2.35])
    lat = np.array([37.8, 40.7, 48.85])
    xs, ys = lonlat_to_world(lon, lat)
    for i in range(3):
        assert (xs[i], ys[i]) == pytest.approx(lonlat_to_world(float(lon[i]), float(lat[i])))


def test_metres_per_pixel_halves_with_each_zoom_and_shrinks_towards_the_poles() -> None:
    at_equator = metres_per_pixel(10, 0.0)
    assert at_equator == pytest.approx(152.87, rel=1e-3)  # the standard z10 figure
    assert metres_per_pixel(11, 0.0) == pytest.approx(at_equator / 2)
    assert metres_per_pixel(10, 60.0) == pytest.approx(at_equator / 2, rel=1e-9)


@pytest.mark.parametrize(
    ("limit", "metres", "label"),
    [
        (140.0, 100.0, "100 m"),
        (4_000.0, 2_000.0, "2 km"),
        (730_000.0, 500_000.0, "500 km"),
        (9.0, 5.0, "5 m"),
    ],
)
def test_scale_bar_picks_the_longest_round_length(limit: float, metres: float, label: str) -> None:
    assert nice_scale(limit) == (metres, label)


def test_fit_zoom_shows_the_whole_box() -> None:
    box = (0.2, 0.35, 0.3, 0.42)
    cx, cy, zoom = fit_zoom(box, 1000, 700)
    assert (cx, cy) == pytest.approx((0.25, 0.385))
    size = 256 * 2**zoom
    assert (box[2] - box[0]) * size <= 1000
    assert (box[3] - box[1]) * size <= 700


def test_haversine_new_york_to_boston() -> None:
    assert haversine_m(40.7128, -74.0060, 42.3601, -71.0589) == pytest.approx(306_000, rel=0.01)
