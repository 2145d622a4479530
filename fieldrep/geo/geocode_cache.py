"""The permanent local cache of online geocoder answers (table ``geocode_cache``, never synced).

A "not found" answer is cached as well (all coordinates NULL): asking a free provider the same
hopeless question again would only spend the user's rate limit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class CachedAnswer:
    lat: float | None
    lon: float | None
    quality: str | None
    address: str | None


def cache_key(query: Mapping[str, str]) -> str:
    """The cache's key for a structured query: the same address in any letter case is one entry."""
    return json.dumps(dict(query), sort_keys=True).casefold()


class GeocodeCache:
    def __init__(self, conn: sqlite3.Connection, provider: str) -> None:
        self.conn = conn
        self.provider = provider

    def get(self, query: str) -> CachedAnswer | None:
        row = self.conn.execute(
            "SELECT lat, lon, quality, address FROM geocode_cache WHERE provider = ? AND query = ?",
            (self.provider, query),
        ).fetchone()
        return None if row is None else CachedAnswer(*row)

    def put(self, query: str, answer: CachedAnswer) -> None:
        # One statement in autocommit mode (or inside the caller's transaction): the answer is
        # kept even if the caller's later work fails.
        self.conn.execute(
            "INSERT INTO geocode_cache (provider, query, lat, lon, quality, address, fetched_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (provider, query) DO UPDATE SET"
            " lat = excluded.lat, lon = excluded.lon, quality = excluded.quality,"
            " address = excluded.address, fetched_at = excluded.fetched_at",
            (
                self.provider,
                query,
                answer.lat,
                answer.lon,
                answer.quality,
                answer.address,
                datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )

    def count(self) -> int:
        return int(
            self.conn.execute(
                "SELECT count(*) FROM geocode_cache WHERE provider = ?", (self.provider,)
            ).fetchone()[0]
        )
