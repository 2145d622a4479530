"""Limits on what a request may hold and how long it may take to arrive.

- :class:`BodySizeLimit`, an ASGI middleware that refuses request bodies above a size limit with
  413, declared or not: a ``Content-Length`` over the limit is refused before reading; a chunked body
  is counted as it arrives and refused as soon as it passes the limit.
- :func:`oversized_field`: field and row sizes a push may carry (a territory's shape may be large,
  other text is not), and :func:`page_within_bytes`: where a pull page stops so that its answer
  stays near ``MAX_PULL_BYTES`` whatever the rows hold.
- :class:`RequestDeadline`: uvicorn's HTTP protocol with a deadline for a whole request (headers
  and body) to arrive; uvicorn has none, so half-sent requests held connections open forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class TooLarge(HTTPException):
    """Raised from ``receive`` so the framework answers 413 even mid-body."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413, f"the request is larger than {max_bytes // 1024} KiB; send fewer changes at a time"
        )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "too_large",
                "message": f"the request is larger than {self.max_bytes // 1024} KiB;"
                " send fewer changes at a time",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except TooLarge:
            if not started:
                await self._refuse(send)


MAX_FIELD_BYTES = 256 * 1024  # a long note (tests push 100 KB ones) but not megabytes
# Shapes and lists that are legitimately large: a territory's MultiPolygon, its postal codes.
LARGE_FIELDS = {("territories", "geometry"), ("territories", "postal_codes")}
MAX_LARGE_FIELD_BYTES = 2 * 1024 * 1024
MAX_ROW_BYTES = 3 * 1024 * 1024
MAX_PULL_BYTES = 4 * 1024 * 1024
REQUEST_DEADLINE = 60.0  # seconds for a request's headers and body to arrive (8 MiB at ~1.1 Mbit/s)


def _size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 16


def oversized_field(tbl: str, fields: Mapping[str, Any]) -> str | None:
    """Why a pushed row is too large (a sentence), or None."""
    total = 0
    for name, value in fields.items():
        size = _size(value)
        total += size
        cap = MAX_LARGE_FIELD_BYTES if (tbl, name) in LARGE_FIELDS else MAX_FIELD_BYTES
        if size > cap:
            return (
                f"{tbl}.{name} holds {size / 1024:.1f} KiB; at most {cap // 1024} KiB is accepted"
            )
    if total > MAX_ROW_BYTES:
        return f"a {tbl} row holds {total / 1024:.1f} KiB; at most {MAX_ROW_BYTES // 1024} KiB"
    return None


def page_within_bytes(rows: Sequence[Sequence[Any]], max_bytes: int) -> int:
    """How many of ``rows`` (in page order) fit in ``max_bytes``; at least one, so a pull always
    moves on."""
    used = 0
    for index, row in enumerate(rows):
        used += 8 + sum(_size(v) for v in row)
        if used > max_bytes and index:
            return index
    return len(rows)


class WorkerThreads:
    """Sets how many threads run request handlers (anyio's default is 40) on the first request,
    inside the server's event loop: as many as the database pool has connections, so no handler
    waits for a connection while holding a thread."""

    def __init__(self, app: ASGIApp, count: int) -> None:
        self.app = app
        self.count = count
        self.done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.done:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.count
            self.done = True
        await self.app(scope, receive, send)


class RequestDeadline(HttpToolsProtocol):
    """Closes a connection whose request (headers and body) has not fully arrived within
    ``REQUEST_DEADLINE`` seconds of its first byte (or of the connection opening)."""

    deadline = REQUEST_DEADLINE

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.deadline, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request did not arrive in time")
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings every FieldRep server runs with (``fieldrep serve`` and the tests)."""
    return {
        "http": RequestDeadline,
        # Longer than clients keep idle connections (httpx: 5 s), so a client never reuses a
        # connection the server is closing at that moment.
        "timeout_keep_alive": 30,
        # More open connections than this get 503 at once instead of queueing without end.
        "limit_concurrency": 1000,
        # Client addresses come from the socket; X-Forwarded-For is read by the app, and only
        # from configured proxies (uvicorn would trust it from 127.0.0.1 by default).
        "proxy_headers": False,
        "h11_max_incomplete_event_size": 64 * 1024,
    }
