"""Where the accounts stand on the map: how many at each quality, and which are not placed.

An address that cannot be placed stays without coordinates and is listed by
:func:`unplaced_accounts`, so the user can fix it; it is never dropped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from fieldrep.geo.geocoding import QUALITIES

# Accounts at exactly (0, 0) were placed from an "unknown" by older versions: they count as unplaced.
UNPLACED = "(lat IS NULL OR lon IS NULL OR (lat = 0 AND lon = 0))"


@dataclass(frozen=True)
class PlacementSummary:
    """Where the accounts are on the map: how many at each quality (``none``: not placed)."""

    by_quality: dict[str, int]
    cached_answers: int

    @property
    def total(self) -> int:
        return sum(self.by_quality.values())

    @property
    def unplaced(self) -> int:
        return self.by_quality.get("none", 0)

    @property
    def placed(self) -> int:
        return self.total - self.unplaced


def placement_summary(conn: sqlite3.Connection) -> PlacementSummary:
    """Accounts by location quality, best first, ``none`` last; and the cached online answers."""
    counts = {
        (q or "none"): n
        for q, n in conn.execute(
            f"SELECT CASE WHEN {UNPLACED} THEN NULL ELSE geocode_quality END,"
            " count(*) FROM accounts GROUP BY 1"
        )
    }
    order = {q: i for i, q in enumerate((*QUALITIES, "none"))}
    by_quality = dict(sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    cached = conn.execute("SELECT count(*) FROM geocode_cache").fetchone()[0]
    return PlacementSummary(by_quality, cached)


def unplaced_accounts(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """Accounts without coordinates, so the user can fix them (never silently dropped)."""
    sql = (
        "SELECT id, name, street, city, region, postal_code, country FROM accounts"
        f" WHERE {UNPLACED} ORDER BY name COLLATE NOCASE"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def unplaced_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute(f"SELECT count(*) FROM accounts WHERE {UNPLACED}").fetchone()[0])
