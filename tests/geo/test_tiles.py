"""MBTiles files and a tile server cached into one: what works, and what is refused with a reason."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from fieldrep.geo.tiles import MBTiles, TileError, TileServer
from tests.geo.tile_fixtures import make_mbtiles, png, tile_server

RED, BLUE = png((255, 0, 0)), png((0, 0, 255))


@pytest.mark.parametrize("scheme", [None, "tms", "xyz"])
def test_tiles_are_read_by_slippy_map_numbers_in_either_scheme(
    tmp_path: Path, scheme: str | None
) -> None:
    path = make_mbtiles(tmp_path / "t.mbtiles", {(3, 2, 1): RED, (3, 2, 6): BLUE}, scheme=scheme)
    tiles = MBTiles(path)
    assert tiles.get(3, 2, 1) == RED
    assert tiles.get(3, 2, 6) == BLUE
    assert tiles.get(3, 1, 1) is None
    assert (tiles.min_zoom, tiles.max_zoom) == (3, 3)
    assert tiles.attribution == "Test tiles"


def test_files_we_cannot_use_are_refused_saying_why(tmp_path: Path) -> None:
    text = tmp_path / "notes.mbtiles"
    text.write_text("hello")
    with pytest.raises(TileError, match="not an MBTiles file \\(it is not an SQLite database\\)"):
        MBTiles(text)
    plain = tmp_path / "plain.mbtiles"
    sqlite3.connect(plain).execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(TileError, match="not MBTiles \\(it has no tiles table\\)"):
        MBTiles(plain)
    vector = make_mbtiles(tmp_path / "v.mbtiles", {(0, 0, 0): b"\x1a\x00"}, fmt="pbf")
    with pytest.raises(TileError, match="vector tiles \\(pbf\\); FieldRep shows raster tiles"):
        MBTiles(vector)
    odd = make_mbtiles(tmp_path / "o.mbtiles", {(0, 0, 0): RED}, scheme="quadkey")
    with pytest.raises(TileError, match="tile scheme 'quadkey'"):
        MBTiles(odd)
    empty = make_mbtiles(tmp_path / "e.mbtiles", {})
    with pytest.raises(TileError, match="holds no tiles"):
        MBTiles(empty)
    with pytest.raises(TileError, match="does not exist"):
        MBTiles(tmp_path / "missing.mbtiles")


def test_tile_server_tiles_are_cached_and_served_offline(tmp_path: Path) -> None:
    cache = MBTiles.create(tmp_path / "cache.mbtiles", name="cache")
    with tile_server(RED) as server:
        source = TileServer(
            server.base + "/{z}/{x}/{y}.png", cache, user_agent="FieldRep-test/1 (qa@example.test)"
        )
        assert source.get(5, 9, 12) == RED
        assert source.get(5, 9, 12) == RED  # from the cache: the server is asked once
        assert [r[0] for r in server.requests] == ["/5/9/12.png"]
        assert server.requests[0][1] == "FieldRep-test/1 (qa@example.test)"
    source.close()
    # The server is gone; the tile seen once is still there, in a standard MBTiles file.
    again = TileServer(
        "http://127.0.0.1:9/{z}/{x}/{y}.png", MBTiles(cache.path, writable=True), user_agent="x"
    )
    assert again.get(5, 9, 12) == RED
    assert MBTiles(cache.path).get(5, 9, 12) == RED
    assert again.get(5, 9, 13) is None
    assert again.last_error is not None
    assert "could not be reached" in again.last_error
    again.close()


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("/broken", "answered HTTP 500"),
        ("/garbage", "not an image"),
        ("/slow", "did not answer within 0.3 s"),
    ],
)
def test_a_bad_tile_server_leaves_the_tile_missing_with_a_reason(
    tmp_path: Path, prefix: str, message: str
) -> None:
    cache = MBTiles.create(tmp_path / "cache.mbtiles", name="cache")
    with tile_server(RED) as server:
        source = TileServer(
            server.base + prefix + "/{z}/{x}/{y}.png", cache, user_agent="test", timeout=0.3
        )
        assert source.get(2, 1, 1) is None
        assert source.last_error is not None
        assert message in source.last_error
        source.close()
    assert cache.get(2, 1, 1) is None


def test_tile_server_addresses_are_checked() -> None:
    cache_less = None
    with pytest.raises(TileError, match="needs \\{z\\}, \\{x\\} and \\{y\\}"):
        TileServer("https://tiles.example.org/tile.png", cache_less, user_agent="x")  # type: ignore[arg-type]
    with pytest.raises(TileError, match="starts with http"):
        TileServer("ftp://x/{z}/{x}/{y}", cache_less, user_agent="x")  # type: ignore[arg-type]
    with pytest.raises(TileError, match="User-Agent"):
        TileServer("https://x/{z}/{x}/{y}", cache_less, user_agent=" ")  # type: ignore[arg-type]
