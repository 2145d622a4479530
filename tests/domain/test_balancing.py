"""Balancing: haversine, workload figures and the capacitated k-means proposal."""

from __future__ import annotations

import numpy as np
import pytest

from fieldrep.domain.balancing import balance, haversine_km, proposal_boundaries, workload


def test_haversine_known_distance() -> None:
    # Boston -> New York, about 306 km great-circle.
    d = haversine_km(
        np.array([42.3601]), np.array([-71.0589]), np.array([40.7128]), np.array([-74.0060])
    )
    assert d[0] == pytest.approx(306, abs=3)


def _scene(seed: int = 3, n: int = 1200, k: int = 6) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    hubs = rng.uniform([40, -90], [44, -80], size=(4, 2))
    which = rng.choice(4, size=n, p=[0.55, 0.25, 0.15, 0.05])
    lat = hubs[which, 0] + rng.normal(0, 0.4, n)
    lon = hubs[which, 1] + rng.normal(0, 0.6, n)
    potential = rng.lognormal(10, 0.8, n)
    edges = np.linspace(lon.min(), lon.max() + 1e-9, k + 1)
    current = np.searchsorted(edges, lon, side="right") - 1  # badly balanced stripes
    return lat, lon, potential, current


@pytest.mark.parametrize("measure", ["accounts", "potential", "hours"])
def test_proposal_balances_the_measure(measure: str) -> None:
    lat, lon, potential, current = _scene()
    k = 6
    result = balance(lat, lon, potential, current, k, measure=measure, tolerance=0.15)
    assert result.ratio_before > 1.5
    assert result.ratio_after <= 1.15 + 1e-9
    assert result.after.ratio(measure) == pytest.approx(result.ratio_after)
    assert 0 < result.share_moved < 1
    assert result.after.accounts.sum() == len(lat)


def test_locked_accounts_stay_and_balanced_input_barely_moves() -> None:
    lat, lon, potential, current = _scene(seed=5)
    k = 6
    locked = np.zeros(len(lat), dtype=bool)
    locked[::7] = True
    first = balance(lat, lon, potential, current, k, locked=locked, measure="accounts")
    assert (first.labels[locked] == current[locked]).all()
    # Balancing an already balanced proposal moves (almost) nothing: the current assignment wins.
    again = balance(lat, lon, potential, first.labels, k, locked=locked, measure="accounts")
    assert again.share_moved < 0.02
    assert again.ratio_after <= 1.10 + 1e-9


def test_workload_hours_grow_with_spread() -> None:
    lat = np.array([40.0, 40.0, 40.0, 40.0])
    lon = np.array([-80.0, -80.0, -80.0, -78.0])
    w = workload(lat, lon, np.ones(4), np.array([0, 0, 1, 1]), 2)
    assert list(w.accounts) == [2, 2]
    assert w.hours[1] > w.hours[0]


def test_boundaries_cover_each_proposed_territory() -> None:
    lat, lon, potential, current = _scene(n=300)
    result = balance(lat, lon, potential, current, 6, measure="accounts", tolerance=0.2)
    shapes = proposal_boundaries(lat, lon, result.labels, 6)
    import shapely

    for j, shape in enumerate(shapes):
        assert shape is not None
        mine = result.labels == j
        assert shapely.intersects_xy(shape, lon[mine], lat[mine]).all()
