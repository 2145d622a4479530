"""The tile server's local copy, kept under a size cap: least recently used tiles go first.

A tile server's tiles are kept in an MBTiles file so places seen once stay available offline
(:class:`~fieldrep.geo.tiles.TileServer`). Left alone that file grows with every place the rep ever
looked at; :class:`CappedTileCache` keeps a side table (``fieldrep_tile_use``: each tile's size and
when it was last drawn) and, when a new tile takes the total past the cap, deletes the tiles drawn
longest ago until the total is back under 90 % of it (so one eviction serves many new tiles).
SQLite reuses the freed pages for the next tiles, so the file stays near the cap instead of growing.

Reading a tile only notes the key in memory; the notes are written with the next new tile, in the
same transaction, so drawing from the cache costs no write. The cap is a per-book setting
(``local_meta`` ``map.tile_cache_mb``, :data:`DEFAULT_CAP_MB` by default).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from fieldrep.geo.tiles import MBTiles
from fieldrep.store import settings
from fieldrep.store.errors import ValidationError

DEFAULT_CAP_MB = settings.MAP_TILE_CACHE_MB.default
MIN_CAP_MB = 10
EVICT_TO = 0.9  # after an eviction the cache holds at most this share of the cap

_USE_TABLE = (
    "CREATE TABLE IF NOT EXISTS fieldrep_tile_use (zoom_level INTEGER, tile_column INTEGER,"
    " tile_row INTEGER, bytes INTEGER NOT NULL, used_at REAL NOT NULL,"
    " PRIMARY KEY (zoom_level, tile_column, tile_row))"
)


def cap_mb(conn: sqlite3.Connection) -> int:
    """The configured cap of the tile cache, in MB."""
    return max(MIN_CAP_MB, settings.get(conn, settings.MAP_TILE_CACHE_MB))


def set_cap_mb(conn: sqlite3.Connection, mb: int) -> None:
    if mb < MIN_CAP_MB:
        raise ValidationError(f"the tile cache needs at least {MIN_CAP_MB} MB to be of use")
    with conn:
        settings.put(conn, settings.MAP_TILE_CACHE_MB, mb)


class CappedTileCache(MBTiles):
    """A writable MBTiles tile cache that never holds more than ``max_bytes`` of tiles."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        super().__init__(path, writable=True)
        self.max_bytes = max_bytes
        self.evicted = 0
        self._touched: dict[tuple[int, int, int], float] = {}
        self._touch_lock = threading.Lock()
        with self._lock, self._transaction() as conn:
            conn.execute(_USE_TABLE)
            # Tiles cached before the cap existed (or by another program) count too, as used long ago.
            conn.execute(
                "INSERT OR IGNORE INTO fieldrep_tile_use"
                " SELECT zoom_level, tile_column, tile_row, length(tile_data), 0 FROM tiles"
            )
            conn.execute(
                "DELETE FROM fieldrep_tile_use WHERE NOT EXISTS (SELECT 1 FROM tiles t"
                " WHERE t.zoom_level = fieldrep_tile_use.zoom_level"
                " AND t.tile_column = fieldrep_tile_use.tile_column"
                " AND t.tile_row = fieldrep_tile_use.tile_row)"
            )
            self.total_bytes = int(
                conn.execute("SELECT coalesce(sum(bytes), 0) FROM fieldrep_tile_use").fetchone()[0]
            )
            if self.total_bytes > self.max_bytes:  # the cap was lowered since
                self._evict(conn)

    @classmethod
    def open(
        cls, path: Path, *, max_bytes: int, name: str = "FieldRep tile cache"
    ) -> CappedTileCache:
        MBTiles.create(path, name=name).close()  # the file and its tables, if new
        return cls(path, max_bytes=max_bytes)

    def get(self, z: int, x: int, y: int) -> bytes | None:
        data = super().get(z, x, y)
        if data is not None:
            with self._touch_lock:
                self._touched[(z, x, self._row(z, y))] = time.time()
        return data

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        key = (z, x, self._row(z, y))
        with self._lock, self._transaction() as conn:
            self._flush_touches(conn)
            old = conn.execute(
                "SELECT bytes FROM fieldrep_tile_use"
                " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                key,
            ).fetchone()
            conn.execute(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data)"
                " VALUES (?, ?, ?, ?)",
                (*key, sqlite3.Binary(data)),
            )
            conn.execute(
                "INSERT OR REPLACE INTO fieldrep_tile_use VALUES (?, ?, ?, ?, ?)",
                (*key, len(data), time.time()),
            )
            self.total_bytes += len(data) - (int(old[0]) if old else 0)
            if self.total_bytes > self.max_bytes:
                self._evict(conn)

    def _flush_touches(self, conn: sqlite3.Connection) -> None:
        with self._touch_lock:
            touched, self._touched = self._touched, {}
        conn.executemany(
            "UPDATE fieldrep_tile_use SET used_at = ?"
            " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            [(at, *key) for key, at in touched.items()],
        )

    def _evict(self, conn: sqlite3.Connection) -> None:
        """Delete the least recently drawn tiles until the cache is under its target size."""
        target = int(self.max_bytes * EVICT_TO)
        victims: list[tuple[int, int, int]] = []
        freed = 0
        for z, x, row, size in conn.execute(
            "SELECT zoom_level, tile_column, tile_row, bytes FROM fieldrep_tile_use"
            " ORDER BY used_at, zoom_level, tile_column, tile_row"
        ):
            if self.total_bytes - freed <= target:
                break
            victims.append((z, x, row))
            freed += int(size)
        where = " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"
        conn.executemany("DELETE FROM tiles" + where, victims)
        conn.executemany("DELETE FROM fieldrep_tile_use" + where, victims)
        self.total_bytes -= freed
        self.evicted += len(victims)

    def close(self) -> None:
        if self._touched:
            with self._lock, self._transaction() as conn:
                self._flush_touches(conn)
        super().close()
