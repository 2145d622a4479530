"""Tiles for tests: solid-colour PNGs, a generated MBTiles file and a small tile server on loopback."""

from __future__ import annotations

import io
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from PIL import Image


def png(color: tuple[int, int, int], size: int = 256) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, "PNG")
    return out.getvalue()


def make_mbtiles(
    path: Path,
    tiles: dict[tuple[int, int, int], bytes],
    *,
    scheme: str | None = None,
    fmt: str = "png",
) -> Path:
    """An MBTiles file with ``tiles`` keyed by slippy-map (z, x, y), stored in ``scheme`` rows."""
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
    )
    meta = [("name", "test"), ("format", fmt), ("attribution", "<a href='x'>Test tiles</a>")]
    if scheme is not None:
        meta.append(("scheme", scheme))
    conn.executemany("INSERT INTO metadata VALUES (?, ?)", meta)
    for (z, x, y), data in tiles.items():
        row = y if scheme == "xyz" else 2**z - 1 - y
        conn.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, row, data))
    conn.commit()
    conn.close()
    return path


class _Handler(BaseHTTPRequestHandler):
    server: TileHTTPServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers.get("User-Agent", "")))
        parts = self.path.strip("/").split("/")
        if parts[0] == "slow":
            self.server.release.wait(5)  # longer than the client's timeout; released at shutdown
            parts = parts[1:]
        if parts[0] == "broken":
            self.send_response(500)
            self.end_headers()
            return
        body = b"<html>not a tile</html>" if parts[0] == "garbage" else self.server.tile
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class TileHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tile: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tile = tile
        self.requests: list[tuple[str, str]] = []
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def tile_server(tile: bytes) -> Iterator[TileHTTPServer]:
    server = TileHTTPServer(tile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
