"""The rep's day: which accounts to visit, in which order, how far, and the route as GPX or CSV.

:func:`plan` takes up to :data:`~fieldrep.geo.routing.MAX_STOPS` account ids and a start point (the
rep's home or where they are), leaves out (and names) accounts without coordinates, and orders the
rest with the TSP solver. The estimate is straight-line distance times a road factor, and the plan
says so. The chosen stops are kept in the local database (``local_meta``, never synced), so the
day's route survives closing the app.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fieldrep.geo.routing import (
    MAX_STOPS,
    DriveEstimate,
    distance_matrix,
    drive_estimate,
    solve,
)
from fieldrep.services.context import Context
from fieldrep.store import settings
from fieldrep.store.errors import ValidationError

FAR_START_M = 150_000  # a start this far from the first stop is probably not where the rep is


@dataclass(frozen=True)
class Stop:
    account_id: str
    name: str
    address: str
    lat: float
    lon: float
    leg_m: float = 0.0  # straight-line distance from the previous stop (or the start)
    arrival_min: int | None = (
        None  # planned start of the visit, minutes after midnight (timed days)
    )

    @property
    def arrival(self) -> str:
        if self.arrival_min is None:
            return ""
        return f"{self.arrival_min // 60:02d}:{self.arrival_min % 60:02d}"


@dataclass
class RoutePlan:
    start: tuple[float, float] | None  # lat, lon
    start_label: str
    stops: list[Stop]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # id, name: no coordinates
    round_trip: bool = False
    optimised: bool = False
    unfit: list[tuple[str, str]] = field(default_factory=list)  # id, name: not before the day ends
    ends_min: int | None = None  # when the day's last visit (or the way back) ends, timed days

    @property
    def straight_m(self) -> float:
        total = sum(s.leg_m for s in self.stops)
        if self.round_trip and self.start is not None and self.stops:
            from fieldrep.geo.projection import haversine_m

            last = self.stops[-1]
            total += float(haversine_m(last.lat, last.lon, self.start[0], self.start[1]))
        return total

    @property
    def estimate(self) -> DriveEstimate:
        return drive_estimate(self.straight_m)

    def describe(self) -> str:
        text = f"{len(self.stops)} stops, {self.estimate.describe()}"
        if self.start is not None and self.stops and self.stops[0].leg_m > FAR_START_M:
            text += (
                f". The start ({self.start_label.lower()}) is {self.stops[0].leg_m / 1000:,.0f} km "
                "from the first stop: choose another start if you are already out"
            )
        if self.ends_min is not None:
            text += f". Done by {self.ends_min // 60:02d}:{self.ends_min % 60:02d}"
        if self.unfit:
            names = ", ".join(n for _i, n in self.unfit[:5])
            more = f" and {len(self.unfit) - 5} more" if len(self.unfit) > 5 else ""
            text += f". Do not fit before the end of the day: {names}{more}"
        if self.skipped:
            names = ", ".join(n for _i, n in self.skipped[:5])
            more = f" and {len(self.skipped) - 5} more" if len(self.skipped) > 5 else ""
            text += f". Left out, no location: {names}{more}"
        return text


def _rows(conn: Any, account_ids: list[str]) -> dict[str, tuple[Any, ...]]:
    out: dict[str, tuple[Any, ...]] = {}
    for i in range(0, len(account_ids), 500):
        chunk = account_ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            "SELECT id, name, lat, lon, trim(coalesce(street, '') || ', ' || coalesce(city, ''), ', ')"
            f" FROM accounts WHERE id IN ({marks})",
            chunk,
        ):
            out[r[0]] = r
    return out


@dataclass(frozen=True)
class DayTimes:
    """A day with times: when it starts and ends, how long a visit takes, and appointments."""

    start: time
    end: time
    visit_minutes: int = 30
    appointments: dict[str, tuple[time, time]] = field(default_factory=dict)  # account id -> window

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValidationError(
                "the day must end after it starts", table="accounts", field="route"
            )
        if not 1 <= self.visit_minutes <= 8 * 60:
            raise ValidationError(
                "a visit takes between 1 minute and 8 hours", table="accounts", field="route"
            )


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def plan(
    conn: Any,
    account_ids: list[str],
    *,
    start: tuple[float, float] | None = None,
    start_label: str = "Start",
    optimise: bool = True,
    round_trip: bool = False,
    day: DayTimes | None = None,
) -> RoutePlan:
    """Stops in visiting order (optimised from ``start`` when asked, else as given). With ``day``
    the order comes from VROOM: visits start inside their appointment windows, each takes
    ``day.visit_minutes``, and stops that cannot fit before ``day.end`` are named in ``unfit``."""
    ids = list(dict.fromkeys(account_ids))
    if len(ids) > MAX_STOPS:
        raise ValidationError(
            f"a day's route has at most {MAX_STOPS} stops; {len(ids)} were chosen",
            table="accounts",
            field="route",
        )
    rows = _rows(conn, ids)
    placed = [
        rows[i] for i in ids if i in rows and rows[i][2] is not None and rows[i][3] is not None
    ]
    skipped = [
        (i, rows[i][1] if i in rows else "(deleted account)")
        for i in ids
        if i not in {r[0] for r in placed}
    ]
    if day is not None and placed:
        return _plan_timed(placed, skipped, start, start_label, round_trip, day)
    points = ([start] if start is not None else []) + [(r[2], r[3]) for r in placed]
    order = list(range(len(points)))
    if points:
        matrix = distance_matrix([p[0] for p in points], [p[1] for p in points])
        if optimise and len(points) > 2:
            # Without a start point the first stop chosen is where the day begins.
            order = solve(matrix, return_to_start=round_trip and start is not None)
        legs = [0.0] + [float(matrix[a, b]) for a, b in itertools.pairwise(order)]
    else:
        legs = []
    offset = 1 if start is not None else 0
    stops = []
    for k, node in enumerate(order):
        if node < offset:
            continue
        r = placed[node - offset]
        stops.append(Stop(r[0], r[1], r[4] or "", float(r[2]), float(r[3]), legs[k] if k else 0.0))
    return RoutePlan(start, start_label, stops, skipped, round_trip, optimise)


def _plan_timed(
    placed: list[tuple[Any, ...]],
    skipped: list[tuple[str, str]],
    start: tuple[float, float] | None,
    start_label: str,
    round_trip: bool,
    day: DayTimes,
) -> RoutePlan:
    from fieldrep.geo.routing_timed import solve_timed

    origin = start if start is not None else (placed[0][2], placed[0][3])
    points = [origin] + [(r[2], r[3]) for r in placed]
    matrix = distance_matrix([p[0] for p in points], [p[1] for p in points])
    windows = []
    for r in placed:
        window = day.appointments.get(r[0])
        windows.append((_seconds(window[0]), _seconds(window[1])) if window else None)
    result = solve_timed(
        matrix,
        [day.visit_minutes * 60] * len(placed),
        windows,
        (_seconds(day.start), _seconds(day.end)),
        round_trip=round_trip and start is not None,
    )
    stops, previous = [], 0
    for node, arrival in zip(result.order, result.arrivals, strict=True):
        r = placed[node - 1]
        leg = float(matrix[previous, node])
        stops.append(Stop(r[0], r[1], r[4] or "", float(r[2]), float(r[3]), leg, arrival // 60))
        previous = node
    unfit = [(placed[n - 1][0], placed[n - 1][1]) for n in result.unassigned]
    return RoutePlan(
        start, start_label, stops, skipped, round_trip, True, unfit=unfit, ends_min=result.end // 60
    )


def save_stops(ctx: Context, account_ids: list[str]) -> None:
    with ctx.writer.transaction() as conn:
        settings.put(conn, settings.MAP_DAY_ROUTE, {"day": _today(), "ids": account_ids})


def load_stops(conn: Any) -> list[str]:
    """Today's saved stops (yesterday's route is not today's)."""
    data = settings.get(conn, settings.MAP_DAY_ROUTE)
    return list(data.get("ids", [])) if data.get("day") == _today() else []


def _today() -> str:
    return datetime.now().astimezone().date().isoformat()


def write_gpx(route: RoutePlan, path: Path) -> None:
    """The route as GPX 1.1: one waypoint per stop and a route in visiting order."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    points = []
    if route.start is not None:
        points.append((route.start[0], route.start[1], route.start_label, ""))
    points += [(s.lat, s.lon, f"{i}. {s.name}", s.address) for i, s in enumerate(route.stops, 1)]
    if route.round_trip and route.start is not None:
        points.append((route.start[0], route.start[1], route.start_label, ""))
    wpts = "".join(
        f'  <wpt lat="{s.lat:.6f}" lon="{s.lon:.6f}"><name>{escape(f"{i}. {s.name}")}</name>'
        f"<desc>{escape(s.address)}</desc></wpt>\n"
        for i, s in enumerate(route.stops, 1)
    )
    rtepts = "".join(
        f'    <rtept lat="{lat:.6f}" lon="{lon:.6f}"><name>{escape(name)}</name>'
        f"<desc>{escape(desc)}</desc></rtept>\n"
        for lat, lon, name, desc in points
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="FieldRep" xmlns="http://www.topografix.com/GPX/1/1">\n'
        f"  <metadata><name>Day route</name><time>{stamp}</time></metadata>\n"
        f"{wpts}  <rte><name>Day route</name>\n{rtepts}  </rte>\n</gpx>\n",
        encoding="utf-8",
    )


def write_csv(route: RoutePlan, path: Path) -> None:
    """The route as CSV: order, account, address, coordinates, leg and cumulative distance (km)."""
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "stop",
                "account_id",
                "name",
                "address",
                "lat",
                "lon",
                "leg_km",
                "total_km",
                "visit_at",
            ]
        )
        total = 0.0
        for i, s in enumerate(route.stops, 1):
            total += s.leg_m
            out.writerow(
                [i, s.account_id, s.name, s.address, f"{s.lat:.6f}", f"{s.lon:.6f}",
                 f"{s.leg_m / 1000:.2f}", f"{total / 1000:.2f}", s.arrival]
            )  # fmt: skip
        out.writerow([])
        out.writerow(["estimate", route.estimate.describe()])
