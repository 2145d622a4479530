"""Per-request server-side timings for load benchmarks: ``fieldrep serve`` with
``FIELDREP_REQUEST_LOG=FILE`` appends one line per request (``path status milliseconds``) to FILE
as each request ends. Off unless asked for."""

from __future__ import annotations

import atexit
import threading
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTimings:
    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.lock = threading.Lock()
        self.out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - kept open
        atexit.register(self.out.close)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            ms = (time.perf_counter() - start) * 1000
            with self.lock:
                self.out.write(f"{scope['method']}{scope['path']} {status} {ms:.2f}\n")
