"""A real HTTP server on loopback that answers like Nominatim's /search JSON API, for tests of the
online geocoder (geopy's real Nominatim class talks to it; no network leaves the machine)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from fieldrep.geo.geocoder_settings import OnlineSettings


class FakeNominatim(BaseHTTPRequestHandler):
    """Answers /search and records when each request arrived: a house for a street, a city centre
    for a query without a street, nothing for a street with "Nowhere" or the city "Atlantis", a
    place without readable coordinates for a street with "Garbled". ``server.fail`` makes every
    request a 503, ``server.status`` (e.g. 429) every request that status with ``server.retry_after``
    as its Retry-After header, and ``server.delay`` makes it wait that many seconds first."""

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.server.seen.append((time.monotonic(), query))  # type: ignore[attr-defined]
        self.server.user_agents.append(self.headers.get("User-Agent"))  # type: ignore[attr-defined]
        # getattr: servers built elsewhere (e.g. QA scripts) may set only ``seen`` and ``fail``
        time.sleep(getattr(self.server, "delay", 0.0))
        status = getattr(self.server, "status", 0) or (503 if self.server.fail else 0)  # type: ignore[attr-defined]
        if status:
            self.send_response(status)
            retry_after = getattr(self.server, "retry_after", None)
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            return
        street = query.get("street", [""])[0]
        city = query.get("city", [""])[0]
        body: list[dict[str, object]] = []
        if "Nowhere" in street or city == "Atlantis":
            pass
        elif "Garbled" in street:
            body = [{"lat": "abc", "lon": None, "display_name": street}]
        elif not street:
            body = [
                {
                    "lat": "41.00000",
                    "lon": "-70.00000",
                    "display_name": f"{city}, USA",
                    "class": "boundary",
                    "type": "administrative",
                    "addresstype": "city",
                    "address": {"city": city},
                }
            ]
        else:
            body = [
                {
                    "lat": "42.36250",
                    "lon": "-71.08630",
                    "display_name": f"{street}, Cambridge, MA",
                    "class": "place",
                    "type": "house",
                    "addresstype": "place",
                    "address": {"house_number": street.split()[0], "road": "Main Street"},
                }
            ]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_nominatim() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    server.seen = []  # type: ignore[attr-defined]
    server.user_agents = []  # type: ignore[attr-defined]
    server.fail = False  # type: ignore[attr-defined]
    server.status = 0  # type: ignore[attr-defined]
    server.retry_after = None  # type: ignore[attr-defined]
    server.delay = 0.0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def settings_for(server: ThreadingHTTPServer, delay: float = 0.2) -> OnlineSettings:
    host, port = server.server_address[:2]
    return OnlineSettings(
        provider="nominatim",
        user_agent="fieldrep-tests",
        domain=f"{host}:{port}",
        scheme="http",
        min_delay_seconds=delay,
        timeout_seconds=5,
    )
