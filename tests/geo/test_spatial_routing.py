"""The STRtree point index (box, lasso, click, nearby) and the day-route solver."""

from __future__ import annotations

import numpy as np
import pytest

from fieldrep.geo.projection import haversine_m, lonlat_to_world
from fieldrep.geo.routing import (
    distance_matrix,
    drive_estimate,
    nearest_neighbour_2opt,
    solve,
    tour_length,
)
from fieldrep.geo.spatial import PointIndex


@pytest.fixture
def grid() -> tuple[PointIndex, np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(-75, -73, 21), np.linspace(40, 42, 21))
    lon, lat = lon.ravel(), lat.ravel()
    wx, wy = lonlat_to_world(lon, lat)
    return PointIndex(wx, wy), lon, lat


def test_box_returns_exactly_the_points_inside(
    grid: tuple[PointIndex, np.ndarray, np.ndarray],
) -> None:
    index, lon, lat = grid
    x0, y1 = lonlat_to_world(-74.55, 40.45)
    x1, y0 = lonlat_to_world(-74.05, 40.95)
    hits = index.in_box(x0, y0, x1, y1)
    expected = np.flatnonzero((lon > -74.55) & (lon < -74.05) & (lat > 40.45) & (lat < 40.95))
    assert hits.tolist() == expected.tolist()
    assert len(hits) == 25


def test_lasso_selects_inside_a_triangle_and_a_figure_eight(
    grid: tuple[PointIndex, np.ndarray, np.ndarray],
) -> None:
    index, lon, lat = grid
    tri = [lonlat_to_world(*p) for p in [(-75.05, 39.95), (-73.95, 39.95), (-75.05, 41.05)]]
    hits = index.in_polygon(tri)
    # Below the diagonal from (-73.95, 39.95) to (-75.05, 41.05): lon + lat < -34.0 (with a margin).
    expected = np.flatnonzero(lon + lat < -34.0 + 1e-9)
    assert set(hits.tolist()) == set(expected.tolist())
    # A self-crossing lasso still selects the points inside both loops.
    eight = [
        lonlat_to_world(*p)
        for p in [(-75.05, 39.95), (-73.95, 41.05), (-73.95, 39.95), (-75.05, 41.05)]
    ]
    assert len(index.in_polygon(eight)) > 0


def test_nearest_respects_the_tolerance(grid: tuple[PointIndex, np.ndarray, np.ndarray]) -> None:
    index, lon, lat = grid
    x, y = lonlat_to_world(-74.0 + 0.001, 41.0)
    found = index.nearest(x, y, 1e-4)
    assert found is not None
    assert (lon[found], lat[found]) == pytest.approx((-74.0, 41.0))
    assert index.nearest(x + 0.01, y, 1e-5) is None


def test_within_metres_is_sorted_by_true_distance(
    grid: tuple[PointIndex, np.ndarray, np.ndarray],
) -> None:
    index, lon, lat = grid
    hits, dist = index.within_metres(41.0, -74.0, 25_000)
    brute = haversine_m(41.0, -74.0, lat, lon)
    assert set(hits.tolist()) == set(np.flatnonzero(brute <= 25_000).tolist())
    assert np.all(np.diff(dist) >= 0)
    assert dist[0] == pytest.approx(0.0, abs=1e-6)


def test_empty_index_answers_empty() -> None:
    index = PointIndex(np.empty(0), np.empty(0))
    assert len(index.in_box(0, 0, 1, 1)) == 0
    assert index.nearest(0.5, 0.5, 1) is None
    assert len(index.within_metres(0, 0, 1000)[0]) == 0


@pytest.mark.parametrize("round_trip", [False, True])
def test_solver_visits_every_stop_once_from_the_start_and_beats_the_naive_order(
    round_trip: bool,
) -> None:
    rng = np.random.default_rng(7)
    lat, lon = 40 + rng.random(60), -75 + rng.random(60)
    matrix = distance_matrix(lat, lon)
    order = solve(matrix, return_to_start=round_trip, time_limit=0.2)
    assert order[0] == 0
    assert sorted(order) == list(range(60))
    length = tour_length(matrix, order, closed=round_trip)
    assert length < tour_length(matrix, list(range(60)), closed=round_trip) / 2
    baseline = nearest_neighbour_2opt(matrix, return_to_start=round_trip)
    assert baseline[0] == 0
    assert sorted(baseline) == list(range(60))
    assert length <= tour_length(matrix, baseline, closed=round_trip) * 1.02


def test_points_on_a_line_are_visited_in_order_from_one_end() -> None:
    lat = np.full(8, 40.0)
    lon = np.array([-75.0, -74.0, -74.6, -74.2, -74.8, -74.4, -74.1, -74.5])
    order = solve(distance_matrix(lat, lon), return_to_start=False, time_limit=0.1)
    assert [lon[i] for i in order] == sorted(lon)


def test_drive_estimate_says_it_is_straight_line_times_a_factor() -> None:
    est = drive_estimate(100_000)
    assert est.road_m == pytest.approx(130_000)
    assert est.minutes == pytest.approx(156)
    assert "straight-line" in est.describe()
    assert "not a road network" in est.describe()


def test_timed_plan_respects_windows_and_names_what_does_not_fit() -> None:
    from fieldrep.geo.routing_timed import solve_timed, travel_seconds

    # Start plus six stops 5 km apart along a line (about 7.8 min of estimated driving each).
    lat = np.full(7, 40.0)
    lon = -75.0 + np.arange(7) * (5_000 / (111_320 * np.cos(np.radians(40.0))))
    matrix = distance_matrix(lat, lon)
    assert travel_seconds(matrix)[0, 1] == pytest.approx(5_000 * 1.3 / (50 / 3.6), abs=2)
    nine, noon = 9 * 3600, 12 * 3600
    windows: list[tuple[int, int] | None] = [None] * 6
    windows[5] = (nine, nine + 900)  # the farthest stop only takes visits 9:00-9:15
    result = solve_timed(matrix, [1800] * 6, windows, (8 * 3600, noon), round_trip=False)
    assert 6 in result.order  # the appointment is kept, inside its window
    assert nine <= result.arrivals[result.order.index(6)] <= nine + 900
    # 6 visits of 30 min plus driving do not fit 8:00-12:00 with the 9:00 appointment: some wait.
    assert result.unassigned
    assert sorted(result.order + result.unassigned) == [1, 2, 3, 4, 5, 6]
    assert all(a <= noon for a in result.arrivals)
    assert all(b - a >= 1800 for a, b in zip(result.arrivals, result.arrivals[1:], strict=False))
