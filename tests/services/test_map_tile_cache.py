"""The tile server's local copy stays under its cap, dropping the least recently drawn tiles first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.map.tile_cache import (
    DEFAULT_CAP_MB,
    CappedTileCache,
    cap_mb,
    set_cap_mb,
)
from fieldrep.store.errors import ValidationError
from tests.geo.tile_fixtures import make_mbtiles

TILE = 1_000  # bytes per test tile


def tile(n: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([n % 256]) * (TILE - 8)


def stored(path: Path) -> set[tuple[int, int, int]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    finally:
        conn.close()
    return {(z, x, 2**z - 1 - row) for z, x, row in rows}


def test_the_least_recently_drawn_tiles_go_first(tmp_path: Path) -> None:
    path = tmp_path / "cache.mbtiles"
    cache = CappedTileCache.open(path, max_bytes=5 * TILE)
    for x in range(5):
        cache.put(5, x, 1, tile(x))
    assert cache.total_bytes == 5 * TILE
    assert cache.evicted == 0
    assert cache.get(5, 0, 1) == tile(0)  # drawn again: now the most recent with 4
    assert cache.get(5, 4, 1) == tile(4)
    cache.put(5, 5, 1, tile(5))  # past the cap: down to 90 % of it, oldest first
    assert cache.total_bytes <= 0.9 * 5 * TILE
    assert stored(path) == {(5, 0, 1), (5, 4, 1), (5, 5, 1), (5, 3, 1)}
    assert cache.get(5, 1, 1) is None
    assert cache.evicted == 2
    cache.close()


def test_replacing_a_tile_counts_its_size_once(tmp_path: Path) -> None:
    cache = CappedTileCache.open(tmp_path / "c.mbtiles", max_bytes=10 * TILE)
    cache.put(3, 1, 1, tile(1))
    cache.put(3, 1, 1, tile(2))
    assert cache.total_bytes == TILE
    assert cache.get(3, 1, 1) == tile(2)
    cache.close()


def test_a_cache_from_before_the_cap_is_counted_and_trimmed_when_opened(tmp_path: Path) -> None:
    path = make_mbtiles(tmp_path / "old.mbtiles", {(4, x, 2): tile(x) for x in range(8)})
    cache = CappedTileCache(path, max_bytes=4 * TILE)
    assert cache.total_bytes <= 0.9 * 4 * TILE
    assert len(stored(path)) == 3
    cache.close()
    reopened = CappedTileCache(path, max_bytes=100 * TILE)
    assert reopened.total_bytes == 3 * TILE  # the side table and the tiles agree
    reopened.close()


def test_the_cap_is_a_setting_with_a_sensible_default(ctx: Context) -> None:
    assert cap_mb(ctx.conn) == DEFAULT_CAP_MB == 500
    set_cap_mb(ctx.conn, 120)
    assert cap_mb(ctx.conn) == 120
    with pytest.raises(ValidationError, match="at least 10 MB"):
        set_cap_mb(ctx.conn, 2)
    assert cap_mb(ctx.conn) == 120
