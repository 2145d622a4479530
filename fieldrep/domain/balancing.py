"""Territory balance: workload figures and a rebalancing proposal.

Workload of a territory, three measures: number of accounts, summed potential, and estimated visit
hours per year (visits x duration, plus travel: a round trip from the territory's centre at an average
speed with a road-detour factor, shared between the stops of one trip; great-circle distances by
vectorised haversine).

The proposal is **capacitated k-means** (Bradley, Bennett & Demiriz 2000, "Constrained k-means
clustering", MSR-TR-2000-65): alternate (a) assigning accounts to k centres under a balance constraint
on each territory's workload and (b) moving each centre to its accounts' mean. Step (a) is a
transportation problem; we solve its Lagrangian relaxation (one price per territory, raised while the
territory is over the target and lowered while under, by subgradient steps with a diminishing step
size), which for k=20 and 10,000 accounts is a few hundred numpy passes instead of an LP. Two additions
make it fit territories: a penalty for moving an account away from its current territory (so the
proposal changes as little as it must, and stops as soon as the max/min workload ratio is within the
tolerance) and locked accounts, which may not move. Compactness comes from the k-means distance term.
Quality figures reported: max/min workload ratio before and after, and the share of accounts moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

STEP0 = 2.0
MEASURES = ("accounts", "potential", "hours")
EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in km, broadcasting over numpy arrays."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    distance: np.ndarray = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return distance


@dataclass(frozen=True)
class WorkloadModel:
    """Assumptions behind 'visit hours'; shown next to the figures so a manager can judge them."""

    visits_per_year: float = 6.0
    visit_minutes: float = 45.0
    stops_per_trip: float = 5.0
    speed_kmh: float = 50.0
    detour: float = 1.3  # road km per great-circle km

    def hours(self, distance_km: np.ndarray) -> np.ndarray:
        travel_h = 2 * self.detour * distance_km / self.speed_kmh / self.stops_per_trip
        return self.visits_per_year * (self.visit_minutes / 60.0 + travel_h)


@dataclass
class Workload:
    """Per territory (index j): accounts, potential, visit hours."""

    accounts: np.ndarray
    potential: np.ndarray
    hours: np.ndarray

    def measure(self, name: str) -> np.ndarray:
        return {
            "accounts": self.accounts.astype(float),
            "potential": self.potential,
            "hours": self.hours,
        }[name]

    def ratio(self, name: str) -> float:
        """max/min of the measure; inf when a territory has none."""
        values = self.measure(name)
        low = float(values.min()) if values.size else 0.0
        return float(values.max()) / low if low > 0 else float("inf")


def centres(
    lat: np.ndarray, lon: np.ndarray, labels: np.ndarray, k: int, fallback: np.ndarray | None = None
) -> np.ndarray:
    """(k, 2) mean lat/lon per label; a label without points keeps ``fallback`` (or the overall mean)."""
    out = np.empty((k, 2))
    counts = np.bincount(labels, minlength=k)
    out[:, 0] = np.bincount(labels, weights=lat, minlength=k)
    out[:, 1] = np.bincount(labels, weights=lon, minlength=k)
    empty = counts == 0
    out[~empty] /= counts[~empty, None]
    if empty.any():
        default = np.array([lat.mean(), lon.mean()]) if lat.size else np.zeros(2)
        out[empty] = fallback[empty] if fallback is not None else default
    return out


def workload(
    lat: np.ndarray,
    lon: np.ndarray,
    potential: np.ndarray,
    labels: np.ndarray,
    k: int,
    model: WorkloadModel | None = None,
) -> Workload:
    model = model or WorkloadModel()
    c = centres(lat, lon, labels, k)
    dist = haversine_km(lat, lon, c[labels, 0], c[labels, 1])
    return Workload(
        accounts=np.bincount(labels, minlength=k),
        potential=np.bincount(labels, weights=np.nan_to_num(potential), minlength=k),
        hours=np.bincount(labels, weights=model.hours(dist), minlength=k),
    )


@dataclass
class BalanceResult:
    labels: np.ndarray  # proposed territory index per account
    before: Workload
    after: Workload
    measure: str
    ratio_before: float
    ratio_after: float
    moved: int
    iterations: int
    notes: list[str] = field(default_factory=list)

    @property
    def share_moved(self) -> float:
        return self.moved / len(self.labels) if len(self.labels) else 0.0


def _local_xy(lat: np.ndarray, lon: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular km around ``lat0``: fine for distances inside a sales region."""
    ky = np.pi * EARTH_RADIUS_KM / 180.0
    return np.column_stack((lon * ky * np.cos(np.radians(lat0)), lat * ky))


def _loads(
    measure: str, potential: np.ndarray, dist_km: np.ndarray, model: WorkloadModel
) -> np.ndarray:
    """(n, k) workload account i would add to territory j."""
    n, k = dist_km.shape
    if measure == "accounts":
        return np.ones((n, k))
    if measure == "potential":
        return np.repeat(np.nan_to_num(potential)[:, None], k, axis=1)
    return model.hours(dist_km)


def balance(
    lat: np.ndarray,
    lon: np.ndarray,
    potential: np.ndarray,
    current: np.ndarray,
    k: int,
    *,
    locked: np.ndarray | None = None,
    measure: str = "hours",
    tolerance: float = 0.10,
    move_penalty: float = 0.5,
    model: WorkloadModel | None = None,
    max_rounds: int = 12,
    price_steps: int = 400,
    on_round: Callable[[int, int], None] | None = None,
) -> BalanceResult:
    """Propose labels 0..k-1 for every account (see module docstring).

    ``current`` holds each account's present territory index (0..k-1); ``tolerance`` is the accepted
    max/min workload excess (0.10: the busiest territory carries at most 10 % more than the lightest);
    ``move_penalty`` is the cost of moving an account, in units of a typical squared distance.
    ``on_round(round, max_rounds)`` is called before each round (progress; it may raise to cancel).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")
    if k < 1:
        raise ValueError("need at least one territory")
    model = model or WorkloadModel()
    n = len(lat)
    locked = np.zeros(n, dtype=bool) if locked is None else locked.astype(bool)
    current = current.astype(np.int64)
    before = workload(lat, lon, potential, current, k, model)
    if n == 0:
        return BalanceResult(
            current.copy(),
            before,
            before,
            measure,
            before.ratio(measure),
            before.ratio(measure),
            0,
            0,
        )
    lat0 = float(np.mean(lat))
    xy = _local_xy(lat, lon, lat0)
    centre_ll = centres(lat, lon, current, k)
    labels = current.copy()
    target_ratio = 1.0 + tolerance
    rows = np.arange(n)
    notes: list[str] = []
    best: tuple[tuple[float, float, float], int, np.ndarray] | None = None
    rounds = 0
    price = np.zeros(k)  # warm-started across rounds: centres move little, prices carry over
    for rounds in range(1, max_rounds + 1):
        if on_round is not None:
            on_round(rounds - 1, max_rounds)
        cxy = _local_xy(centre_ll[:, 0], centre_ll[:, 1], lat0)
        d2 = ((xy[:, None, :] - cxy[None, :, :]) ** 2).sum(axis=2)
        dist_km = haversine_km(
            lat[:, None], lon[:, None], centre_ll[None, :, 0], centre_ll[None, :, 1]
        )
        load = _loads(measure, potential, dist_km, model)
        scale = float(np.median(d2[rows, current])) or 1.0
        cost = d2 / scale
        cost += move_penalty * (np.arange(k)[None, :] != current[:, None])
        cost[locked] = np.inf
        cost[locked, current[locked]] = 0.0
        labels, price = _price_assign(cost, load, target_ratio, price_steps, price)
        labels = _repair(labels, cost, load, target_ratio)
        # Judge with the centres these labels really give (the hours measure depends on them).
        ratio = workload(lat, lon, potential, labels, k, model).ratio(measure)
        moved = int((labels != current).sum())
        # Within tolerance: fewest moves wins; otherwise the most even proposal wins.
        key = (0.0, float(moved), ratio) if ratio <= target_ratio else (1.0, ratio, float(moved))
        if best is None or key < best[0]:
            best = (key, moved, labels.copy())
        new_centres = centres(lat, lon, labels, k, fallback=centre_ll)
        if np.allclose(new_centres, centre_ll, atol=1e-6):
            break
        centre_ll = new_centres
    assert best is not None
    labels = best[2]
    after = workload(lat, lon, potential, labels, k, model)
    if after.ratio(measure) > target_ratio:
        notes.append(f"locked accounts or geography kept the ratio above {target_ratio:.2f}")
    return BalanceResult(
        labels,
        before,
        after,
        measure,
        before.ratio(measure),
        after.ratio(measure),
        int((labels != current).sum()),
        rounds,
        notes,
    )


def _price_assign(
    cost: np.ndarray, load: np.ndarray, target_ratio: float, steps: int, price: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Capacitated assignment by Lagrangian prices: argmin_j cost_ij + price_j * load_ij."""
    n, k = cost.shape
    rows = np.arange(n)
    # Price units: cost per unit of load, so a step of 1 makes an average account's load cost 1.
    unit = 1.0 / max(float(np.mean(load)), 1e-12)
    price = price.copy()
    best_labels, best_price = np.argmin(cost, axis=1), price.copy()
    best_ratio = np.inf
    for step in range(steps):
        labels = np.argmin(cost + price[None, :] * unit * load, axis=1)
        totals = np.bincount(labels, weights=load[rows, labels], minlength=k)
        target = totals.sum() / k
        ratio = totals.max() / totals.min() if totals.min() > 0 else np.inf
        if ratio < best_ratio:
            best_ratio, best_labels, best_price = ratio, labels, price.copy()
        if ratio <= target_ratio:
            break
        # Diminishing step (1/sqrt(t)), scaled by the relative excess: the classic subgradient rule.
        price += (totals - target) / target * (STEP0 / np.sqrt(step + 1))
    return best_labels, best_price


def _repair(
    labels: np.ndarray,
    cost: np.ndarray,
    load: np.ndarray,
    target_ratio: float,
    max_moves: int = 5000,
) -> np.ndarray:
    """Greedy finish for what the prices left: move single accounts off the busiest territory.

    Each move must lower the sum of squared deviations from the mean workload (so the loop ends) and
    is the cheapest such move by the k-means cost (so it takes boundary accounts to neighbours).
    """
    labels = labels.copy()
    n, k = cost.shape
    rows = np.arange(n)
    totals = np.bincount(labels, weights=load[rows, labels], minlength=k)
    stuck: set[int] = set()
    for _ in range(max_moves):
        if totals.min() > 0 and totals.max() / totals.min() <= target_ratio:
            break
        order = [int(j) for j in np.argsort(-totals) if int(j) not in stuck]
        if not order:
            break
        hi = order[0]
        mean = totals.sum() / k
        members = np.flatnonzero((labels == hi) & np.isfinite(cost[:, hi]))
        members = members[np.isfinite(cost[members]).sum(axis=1) > 1]
        if members.size == 0:
            stuck.add(hi)
            continue
        out_load = load[members, hi][:, None]
        in_load = load[members]
        before = (totals[hi] - mean) ** 2 + (totals[None, :] - mean) ** 2
        after = (totals[hi] - out_load - mean) ** 2 + (totals[None, :] + in_load - mean) ** 2
        gain = before - after
        delta = cost[members] - cost[members, hi][:, None]
        delta[:, hi] = np.inf
        delta[gain <= 1e-12] = np.inf
        flat = int(np.argmin(delta))
        i, j = divmod(flat, k)
        if not np.isfinite(delta[i, j]):
            stuck.add(hi)
            continue
        account = members[i]
        totals[hi] -= load[account, hi]
        totals[j] += load[account, j]
        labels[account] = j
        stuck.clear()
    return labels


def proposal_boundaries(
    lat: np.ndarray, lon: np.ndarray, labels: np.ndarray, k: int, clip: object | None = None
) -> list[object | None]:
    """A MultiPolygon per territory: the accounts' Voronoi cells dissolved by proposed territory.

    ``clip`` (a shapely geometry, e.g. the union of the old boundaries) bounds the outer cells;
    without it the accounts' envelope grown by 10 % is used.
    """
    import shapely
    from shapely.geometry import MultiPolygon

    coords = np.column_stack((lon, lat))
    coords, first = np.unique(np.round(coords, 6), axis=0, return_index=True)
    labels = labels[first]
    out: list[object | None] = [None] * k
    if len(coords) == 0:
        return out
    points = shapely.multipoints(coords)
    envelope = shapely.box(*points.bounds).buffer(
        0.1 * max(points.bounds[2] - points.bounds[0], points.bounds[3] - points.bounds[1], 0.01)
    )
    bound = clip if clip is not None else envelope
    cells = shapely.get_parts(shapely.voronoi_polygons(points, extend_to=envelope, ordered=True))
    if len(cells) != len(coords):  # GEOS drops cells only for degenerate input
        return out
    for j in range(k):
        mine = cells[labels == j]
        if not len(mine):
            continue
        shape = shapely.intersection(shapely.union_all(mine), bound)
        polys = [p for p in shapely.get_parts(shape) if p.geom_type == "Polygon" and p.area > 0]
        if polys:
            out[j] = MultiPolygon(polys)
    return out
