"""Raster map tiles for the detailed basemap: MBTiles files, and a tile server cached into one.

An MBTiles file is SQLite (spec 1.3: a ``tiles`` table keyed by zoom, column and TMS row, and a
``metadata`` table). :class:`MBTiles` opens one read-only, says plainly why a file cannot be used
(not SQLite, not MBTiles, vector tiles, an unknown scheme), and reads a tile in ~20 µs. Each thread
gets its own connection, so the map draws tiles on its worker.

:class:`TileServer` fetches ``{z}/{x}/{y}`` tiles from a URL template with a User-Agent that names
the app, keeps every tile it receives in a local MBTiles cache (so places seen once stay available
offline), and refuses answers that are not images. It never raises for a network problem: the tile
is missing, and :attr:`TileServer.last_error` says why, for the page to show.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RASTER_FORMATS = ("png", "jpg", "jpeg", "webp")
SCHEMES = ("tms", "xyz")
QUIET_AFTER_FAILURE_S = 30.0
_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")


class TileError(Exception):
    """A tile source that cannot be used; the message says why in a sentence."""


def is_image(data: bytes) -> bool:
    return any(data.startswith(m) for m in _MAGIC) and (
        not data.startswith(b"RIFF") or data[8:12] == b"WEBP"
    )


class MBTiles:
    """A raster MBTiles file, read-only (or writable, for the tile server's cache)."""

    def __init__(self, path: Path, *, writable: bool = False) -> None:
        self.path = Path(path)
        self.writable = writable
        self._local = threading.local()
        self._lock = threading.Lock()
        self.metadata: dict[str, str] = {}
        self._check()

    # -- opening ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.writable:
            conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        else:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _check(self) -> None:
        name = self.path.name
        if not self.path.exists():
            raise TileError(f"{name} does not exist")
        with self.path.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise TileError(f"{name} is not an MBTiles file (it is not an SQLite database)")
        try:
            tables = {
                r[0]
                for r in self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                )
            }
        except sqlite3.DatabaseError as exc:
            raise TileError(f"{name} cannot be read: {exc}") from None
        if "tiles" not in tables:
            raise TileError(f"{name} is an SQLite database but not MBTiles (it has no tiles table)")
        if "metadata" in tables:
            self.metadata = {
                str(k): str(v) for k, v in self.conn.execute("SELECT name, value FROM metadata")
            }
        fmt = self.metadata.get("format", "png").lower()
        if fmt not in RASTER_FORMATS:
            kind = "vector tiles (pbf)" if fmt in ("pbf", "mvt") else f"the tile format {fmt!r}"
            raise TileError(
                f"{name} holds {kind}; FieldRep shows raster tiles (png, jpg or webp) only"
            )
        scheme = self.metadata.get("scheme", "tms").lower()
        if scheme not in SCHEMES:
            raise TileError(
                f"{name} uses the tile scheme {scheme!r}; FieldRep reads tms (the MBTiles standard) or xyz"
            )
        self.scheme = scheme
        self.format = fmt
        zooms = self.conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
        if zooms[0] is None and not self.writable:
            raise TileError(f"{name} holds no tiles")
        self.min_zoom = int(self.metadata.get("minzoom", zooms[0] if zooms[0] is not None else 0))
        self.max_zoom = int(self.metadata.get("maxzoom", zooms[1] if zooms[1] is not None else 19))

    @property
    def attribution(self) -> str:
        import re

        text = self.metadata.get("attribution", "") or self.metadata.get("name", "")
        return re.sub(r"<[^>]+>", "", text).strip()

    # -- tiles -----------------------------------------------------------------------------------

    def _row(self, z: int, y: int) -> int:
        return (2**z - 1 - y) if self.scheme == "tms" else y

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at slippy-map (z, x, y) (y counted from the north), or None."""
        row = self.conn.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, self._row(z, y)),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        if not self.writable:
            raise TileError(f"{self.path.name} is open read-only")
        with self._lock, self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                (z, x, self._row(z, y), sqlite3.Binary(data)),
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.conn
        try:
            yield conn
            conn.commit()
        except BaseException:
            conn.rollback()
            raise

    @classmethod
    def create(cls, path: Path, *, name: str, attribution: str = "", fmt: str = "png") -> MBTiles:
        """A new, empty MBTiles file (the tile server's cache), or the existing one at ``path``."""
        path = Path(path)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path)
            try:
                conn.executescript(
                    "CREATE TABLE metadata (name TEXT PRIMARY KEY, value TEXT);"
                    "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
                    " tile_data BLOB, PRIMARY KEY (zoom_level, tile_column, tile_row));"
                )
                conn.executemany(
                    "INSERT INTO metadata (name, value) VALUES (?, ?)",
                    [("name", name), ("format", fmt), ("scheme", "tms"), ("attribution", attribution),
                     ("minzoom", "0"), ("maxzoom", "19"), ("type", "baselayer"), ("version", "1.3")],
                )  # fmt: skip
                conn.commit()
            finally:
                conn.close()
        return cls(path, writable=True)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class TileServer:
    """Tiles from ``url`` (with ``{z}``, ``{x}``, ``{y}``), cached forever in ``cache``."""

    def __init__(self, url: str, cache: MBTiles, *, user_agent: str, timeout: float = 4.0) -> None:
        if not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise TileError(
                "a tile server address needs {z}, {x} and {y} in it, e.g. https://tiles.example.org/{z}/{x}/{y}.png"
            )
        if not url.startswith(("http://", "https://")):
            raise TileError("a tile server address starts with http:// or https://")
        if not user_agent.strip():
            raise TileError(
                "tile servers ask for a User-Agent that names your app and organisation"
            )
        self.url = url
        self.cache = cache
        self.user_agent = user_agent
        self.timeout = timeout
        self.min_zoom, self.max_zoom = 0, 19
        self.attribution = cache.attribution
        self.last_error: str | None = None
        self.fetched = 0
        # After a failure the server is left alone for a while: a view needs ~50 tiles, and 50
        # timeouts in a row would hold the map for minutes in a car park with no signal.
        self._quiet_until = 0.0
        self._client: Any = None
        self._client_lock = threading.Lock()

    def _http(self) -> Any:
        with self._client_lock:
            if self._client is None:
                import httpx

                self._client = httpx.Client(
                    headers={"User-Agent": self.user_agent},
                    timeout=self.timeout,
                    follow_redirects=True,
                )
            return self._client

    def get(self, z: int, x: int, y: int, *, online: bool = True) -> bytes | None:
        """The cached tile, else (when ``online``) the server's, kept in the cache."""
        data = self.cache.get(z, x, y)
        if data is not None or not online or time.monotonic() < self._quiet_until:
            return data
        import httpx

        address = self.url.format(z=z, x=x, y=y)
        try:
            response = self._http().get(address)
        except httpx.TimeoutException:
            return self._failed(f"the tile server did not answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return self._failed(f"the tile server could not be reached ({exc.__class__.__name__})")
        if response.status_code != 200:
            return self._failed(
                f"the tile server answered HTTP {response.status_code} for {z}/{x}/{y}"
            )
        data = response.content
        if not is_image(data):
            return self._failed(
                "the tile server sent something that is not an image; check the address"
            )
        self.cache.put(z, x, y, data)
        self.fetched += 1
        return data

    def _failed(self, reason: str) -> bytes | None:
        """Remember why the tile is missing and leave the server alone for a while; no tile."""
        self.last_error = reason
        self._quiet_until = time.monotonic() + QUIET_AFTER_FAILURE_S
        return None

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
