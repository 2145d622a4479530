"""The order to visit a day's stops in: a travelling-salesman tour from a start point.

The solver is fast-tsp (MIT; a local search that finds best-known tours for 100 stops in ~0.1 s) on
integer great-circle distances. Without it, or as the baseline the benchmark compares against,
:func:`nearest_neighbour_2opt` does the textbook nearest neighbour + 2-opt. Distances are straight
lines; :func:`drive_estimate` turns them into a driving estimate with a road factor and an average
speed, and says so, because there is no road network offline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldrep.geo.projection import haversine_m

log = logging.getLogger(__name__)

MAX_STOPS = 100
ROAD_FACTOR = 1.3  # roads are ~1.2-1.4x the straight line in US towns and countryside
AVERAGE_SPEED_KMH = 50.0


def distance_matrix(lats: Sequence[float], lons: Sequence[float]) -> np.ndarray[Any, Any]:
    """Great-circle distances in metres between every pair of points."""
    lat = np.asarray(lats, dtype=np.float64)
    lon = np.asarray(lons, dtype=np.float64)
    return np.asarray(haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]))


def tour_length(matrix: np.ndarray[Any, Any], order: Sequence[int], *, closed: bool) -> float:
    """Length of visiting ``order`` (returning to the first when ``closed``)."""
    if len(order) < 2:
        return 0.0
    idx = np.asarray(order)
    total = float(matrix[idx[:-1], idx[1:]].sum())
    if closed:
        total += float(matrix[idx[-1], idx[0]])
    return total


def _open_matrix(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """An open path from node 0 as a closed tour: coming back to the start costs nothing."""
    m = matrix.copy()
    m[:, 0] = 0.0
    return m


def _with_dummy(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A symmetric matrix whose best closed tour, cut at an added last node, is the best open path
    from node 0: the dummy is free to reach from node 0 and costs the same long leg from any other
    node, so every tour pays that leg once and the rest is the path."""
    n = len(matrix)
    far = float(matrix.max()) * 2 + 1.0
    m = np.zeros((n + 1, n + 1))
    m[:n, :n] = matrix
    m[n, 1:n] = m[1:n, n] = far
    return m


def solve(
    matrix: np.ndarray[Any, Any], *, return_to_start: bool, time_limit: float = 0.3
) -> list[int]:
    """A tour over every node starting at node 0 (the start point), as node indices."""
    n = len(matrix)
    if n <= 3:
        return list(range(n))
    m = matrix if return_to_start else _with_dummy(matrix)
    try:
        import fast_tsp
    except ImportError:  # a declared dependency; this keeps a broken install usable
        log.warning("fast-tsp is not installed; using nearest neighbour + 2-opt")
        return nearest_neighbour_2opt(matrix, return_to_start=return_to_start)
    # fast-tsp takes integer costs up to 65,535: scale so the longest leg is that (a 100 km spread
    # keeps 1.5 m resolution, far finer than a road-factor estimate can tell apart).
    top = float(m.max()) or 1.0
    ints = np.rint(m * (65_535 / top)).astype(int).tolist()
    tour = [int(i) for i in fast_tsp.find_tour(ints, duration_seconds=time_limit)]
    start = tour.index(0)
    tour = tour[start:] + tour[:start]
    if not return_to_start:
        if tour[-1] != n:  # the dummy sits next to node 0: walk the tour the other way
            tour = [0, *tour[1:][::-1]]
        tour = [i for i in tour if i != n]
    return tour


def nearest_neighbour_2opt(matrix: np.ndarray[Any, Any], *, return_to_start: bool) -> list[int]:
    """The textbook heuristic: greedy nearest neighbour from node 0, then 2-opt until no move helps."""
    n = len(matrix)
    m = matrix if return_to_start else _open_matrix(matrix)
    unvisited = set(range(1, n))
    order = [0]
    while unvisited:
        last = order[-1]
        nxt = min(unvisited, key=lambda j: m[last, j])
        order.append(nxt)
        unvisited.remove(nxt)
    improved = True
    while improved:
        improved = False
        for i in range(1, n - 1):
            a, b = order[i - 1], order[i]
            # Reversing order[i..j] swaps edges (a,b),(c,d) for (a,c),(b,d); d wraps to the start.
            c_all = np.asarray(order[i + 1 :])
            d_all = np.asarray([*order[i + 2 :], order[0]])
            delta = m[a, c_all] + m[b, d_all] - m[a, b] - m[c_all, d_all]
            j = int(np.argmin(delta))
            if delta[j] < -1e-6:
                order[i : i + 2 + j] = order[i : i + 2 + j][::-1]
                improved = True
    return order


@dataclass(frozen=True)
class DriveEstimate:
    straight_m: float
    road_m: float
    minutes: float

    def describe(self) -> str:
        return (
            f"{self.road_m / 1000:,.1f} km, about {format_minutes(self.minutes)} driving "
            f"(estimate: straight-line distance {self.straight_m / 1000:,.1f} km x road factor "
            f"{ROAD_FACTOR} at {AVERAGE_SPEED_KMH:g} km/h; not a road network)"
        )


def format_minutes(minutes: float) -> str:
    hours, mins = divmod(round(minutes), 60)
    return f"{hours} h {mins:02d} min" if hours else f"{mins} min"


def drive_estimate(straight_m: float) -> DriveEstimate:
    road = straight_m * ROAD_FACTOR
    return DriveEstimate(straight_m, road, road / 1000 / AVERAGE_SPEED_KMH * 60)
