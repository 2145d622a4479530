"""What the map shows, read in bulk: every account as columns of numpy arrays, territories with
their polygons, and the accounts that cannot be placed.

One read of 100,000 accounts takes about half a second, so the map page runs it on a worker; the
result (:class:`MapAccounts`) is immutable and shared by the canvas, the spatial index and the
panels. Categories (territory, owner, status, last-visit age, geocode quality) are small integer
codes with a label and a colour each, so a marker's sprite is an index, not a lookup.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fieldrep.geo.projection import lonlat_to_world

COLOR_BY = ("territory", "owner", "status", "last_visit", "quality")
COLOR_BY_LABELS = {
    "territory": "Territory",
    "owner": "Owner",
    "status": "Status",
    "last_visit": "Last visit",
    "quality": "Placement quality",
}
# A qualitative palette that stays readable on the light basemap (Tableau 20, reordered).
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#499894", "#86bcb6", "#d37295", "#8cd17d", "#b6992d", "#79706e", "#a0cbe8",
    "#ffbe7d", "#f1ce63", "#d4a6c8", "#fabfd2",
)  # fmt: skip
NONE_COLOR = "#9a9a9a"
STATUS_COLORS = {
    "prospect": "#4e79a7",
    "active": "#59a14f",
    "inactive": "#b0a27a",
    "lost": "#e15759",
}
VISIT_BANDS = (  # (label, max days, colour)
    ("Visited in the last 30 days", 30, "#1a9850"),
    ("31-60 days ago", 60, "#91cf60"),
    ("61-90 days ago", 90, "#fee08b"),
    ("91-180 days ago", 180, "#fc8d59"),
    ("Over 180 days ago", 10**9, "#d73027"),
)
NEVER_VISITED = ("Never visited", "#7b3294")
QUALITY_COLORS = {
    "address": ("Address (rooftop)", "#1a9850"),
    "street": ("Street", "#91cf60"),
    "postal_code": ("Postal code centroid", "#fc8d59"),
    "city": ("City centroid", "#d73027"),
    "manual": ("Placed by hand", "#4575b4"),
}


@dataclass(frozen=True)
class Category:
    label: str
    color: str
    count: int = 0


@dataclass(frozen=True)
class Coding:
    """One way to colour markers: a code per placed account and what each code means."""

    codes: np.ndarray[Any, Any]  # int16, one per placed account
    categories: tuple[Category, ...]


@dataclass(frozen=True)
class TerritoryShape:
    id: str
    name: str
    color: str
    geometry: dict[str, Any] | None  # GeoJSON (Multi)Polygon in lon/lat, None without one
    accounts: int
    owner_name: str


@dataclass
class MapAccounts:
    """Placed accounts as parallel arrays (index i is one account), plus the unplaced ones."""

    ids: list[str]
    names: list[str]
    lat: np.ndarray[Any, Any]
    lon: np.ndarray[Any, Any]
    wx: np.ndarray[Any, Any]
    wy: np.ndarray[Any, Any]
    territory: list[str | None]
    owner: list[str | None]
    status: list[str]
    quality: list[str | None]
    city: list[str]
    last_visit_days: np.ndarray[Any, Any]  # float days since the last visit, nan: never
    unplaced: list[tuple[str, str, str]]  # id, name, address as typed
    territories: list[TerritoryShape] = field(default_factory=list)
    owner_names: dict[str, str] = field(default_factory=dict)
    _index: dict[str, int] | None = None
    _codings: dict[str, Coding] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, account_id: str) -> int | None:
        if self._index is None:
            self._index = {a: i for i, a in enumerate(self.ids)}
        return self._index.get(account_id)

    def coding(self, color_by: str) -> Coding:
        if color_by not in self._codings:
            self._codings[color_by] = _build_coding(self, color_by)
        return self._codings[color_by]

    def bounds(self) -> tuple[float, float, float, float] | None:
        if not len(self.wx):
            return None
        # Percentiles, so one account mistakenly placed in the ocean does not zoom out the world.
        lo_x, hi_x = np.percentile(self.wx, [0.5, 99.5])
        lo_y, hi_y = np.percentile(self.wy, [0.5, 99.5])
        return float(lo_x), float(lo_y), float(hi_x), float(hi_y)


def _codes_for(values: list[Any], order: list[Any]) -> np.ndarray[Any, Any]:
    lookup = {v: i for i, v in enumerate(order)}
    return np.fromiter((lookup[v] for v in values), dtype=np.int16, count=len(values))


def _build_coding(acc: MapAccounts, color_by: str) -> Coding:
    if color_by == "territory":
        shapes = {t.id: t for t in acc.territories}
        order: list[Any] = [t.id for t in acc.territories] + [None]
        # A territory referenced by accounts but archived or unknown still gets its own entry.
        order[-1:-1] = sorted({t for t in acc.territory if t is not None and t not in shapes})
        codes = _codes_for(acc.territory, order)
        cats = []
        for k in order:
            if k is None:
                cats.append(("No territory", NONE_COLOR))
            elif k in shapes:
                cats.append((shapes[k].name, shapes[k].color))
            else:
                cats.append(("(archived territory)", NONE_COLOR))
    elif color_by == "owner":
        owners = sorted(
            {o for o in acc.owner if o is not None}, key=lambda o: acc.owner_names.get(o, o)
        )
        order = [*owners, None]
        codes = _codes_for(acc.owner, order)
        cats = [
            (acc.owner_names.get(o, "(unknown user)"), PALETTE[i % len(PALETTE)])
            for i, o in enumerate(owners)
        ] + [("No owner", NONE_COLOR)]
    elif color_by == "status":
        order = list(STATUS_COLORS)
        codes = _codes_for(acc.status, order)
        cats = [(s.capitalize(), c) for s, c in STATUS_COLORS.items()]
    elif color_by == "last_visit":
        days = acc.last_visit_days
        edges = np.array([b[1] for b in VISIT_BANDS], dtype=np.float64)
        codes = np.searchsorted(edges, np.nan_to_num(days, nan=0.0), side="left").astype(np.int16)
        codes[np.isnan(days)] = len(VISIT_BANDS)
        cats = [(label, color) for label, _, color in VISIT_BANDS] + [NEVER_VISITED]
    elif color_by == "quality":
        order = [*QUALITY_COLORS, None]
        codes = _codes_for(acc.quality, order)
        cats = [*QUALITY_COLORS.values(), ("Unknown", NONE_COLOR)]
    else:
        raise ValueError(f"cannot colour by {color_by!r}; choose one of {', '.join(COLOR_BY)}")
    counts = np.bincount(codes, minlength=len(cats)) if len(codes) else np.zeros(len(cats), int)
    return Coding(
        codes,
        tuple(
            Category(label, color, int(n)) for (label, color), n in zip(cats, counts, strict=True)
        ),
    )


def load_territories(conn: sqlite3.Connection) -> list[TerritoryShape]:
    rows = conn.execute(
        "SELECT t.id, t.name, t.color, t.geometry,"
        " (SELECT count(*) FROM accounts a WHERE a.territory_id = t.id),"
        " coalesce(u.display_name, u.username, '')"
        " FROM territories t LEFT JOIN users u ON u.id = t.owner_id"
        " WHERE t.archived = 0 AND t.kind = 'territory' ORDER BY t.priority, t.name COLLATE NOCASE"
    ).fetchall()
    return [
        TerritoryShape(
            r[0], r[1], r[2] or NONE_COLOR, json.loads(r[3]) if r[3] else None, r[4], r[5]
        )
        for r in rows
    ]


def load_accounts(
    conn: sqlite3.Connection,
    *,
    territory_ids: set[str] | None = None,
    owner_ids: set[str] | None = None,
    now: datetime | None = None,
) -> MapAccounts:
    """Every account (or those of some territories/owners), placed ones as arrays."""
    now = now or datetime.now(UTC)
    last_visit = dict(
        conn.execute(
            "SELECT account_id, max(visited_at) FROM visits GROUP BY account_id"
        ).fetchall()
    )
    sql = (
        "SELECT id, name, lat, lon, territory_id, owner_id, status, geocode_quality, city,"
        " trim(coalesce(street, '') || ' ' || coalesce(city, '') || ' ' || coalesce(region, '') || ' '"
        " || coalesce(postal_code, '')) FROM accounts"
    )
    # In pages: one fetchall of 100,000 rows holds the GIL ~60 ms, a stall for the window.
    cursor = conn.execute(sql)
    rows = []
    while page := cursor.fetchmany(2_000):
        rows.extend(page)
    if territory_ids is not None:
        rows = [r for r in rows if r[4] in territory_ids]
    if owner_ids is not None:
        rows = [r for r in rows if r[5] in owner_ids]
    placed = [r for r in rows if r[2] is not None and r[3] is not None]
    unplaced = [(r[0], r[1], r[9]) for r in rows if r[2] is None or r[3] is None]
    lat = np.fromiter((r[2] for r in placed), dtype=np.float64, count=len(placed))
    lon = np.fromiter((r[3] for r in placed), dtype=np.float64, count=len(placed))
    wx, wy = lonlat_to_world(lon, lat) if len(placed) else (lon.copy(), lat.copy())
    now_ts = now.timestamp()

    def age(account_id: str) -> float:
        stamp = last_visit.get(account_id)
        if not stamp:
            return float("nan")
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return float("nan")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (now_ts - moment.timestamp()) / 86_400)

    # Territory, owner, status, quality and city repeat across rows, but SQLite hands back a new
    # string object for every cell: sharing one object per value saves ~40 MB on 100,000 accounts.
    shared: dict[Any, Any] = {}

    def one(value: Any) -> Any:
        return shared.setdefault(value, value)

    owners = dict(
        conn.execute(
            "SELECT id, coalesce(nullif(display_name, ''), username) FROM users"
        ).fetchall()
    )
    return MapAccounts(
        ids=[r[0] for r in placed],
        names=[r[1] for r in placed],
        lat=lat,
        lon=lon,
        wx=np.asarray(wx),
        wy=np.asarray(wy),
        territory=[one(r[4]) for r in placed],
        owner=[one(r[5]) for r in placed],
        status=[one(r[6]) for r in placed],
        quality=[one(r[7]) for r in placed],
        city=[one(r[8] or "") for r in placed],
        last_visit_days=np.fromiter(
            (age(r[0]) for r in placed), dtype=np.float64, count=len(placed)
        ),
        unplaced=unplaced,
        territories=load_territories(conn),
        owner_names=owners,
    )


def resolve_names(
    conn: sqlite3.Connection, *, territory: str | None = None, owner: str | None = None
) -> tuple[set[str] | None, set[str] | None]:
    """Territory and owner names (as a person types them) -> id sets; ValueError names what is unknown."""
    t_ids = o_ids = None
    if territory:
        t_ids = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM territories WHERE name = ? COLLATE NOCASE", (territory,)
            )
        }
        if not t_ids:
            known = ", ".join(
                r[0] for r in conn.execute("SELECT name FROM territories ORDER BY name")
            )
            raise ValueError(f"no territory named {territory!r}; known: {known or '(none)'}")
    if owner:
        o_ids = {
            r[0]
            for r in conn.execute(
                "SELECT id FROM users WHERE username = ? COLLATE NOCASE"
                " OR display_name = ? COLLATE NOCASE",
                (owner, owner),
            )
        }
        if not o_ids:
            raise ValueError(f"no user named {owner!r} (give a username or a display name)")
    return t_ids, o_ids
