"""The HTTP side of the sync client: one method per endpoint, errors turned into words a rep
understands. The engine only talks to this class, so tests and fault injection can wrap it."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from fieldrep.sync.protocol import (
    ChecksumsResponse,
    LoginRequest,
    LoginResponse,
    PullRequest,
    PushRequest,
    PushResponse,
    version_headers,
)

log = logging.getLogger(__name__)

BROKEN_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class SyncError(Exception):
    """Sync could not complete; the message is one sentence for the status bar."""

    retryable = False


class NetworkError(SyncError):
    """The server could not be reached or the connection broke; try again later."""

    retryable = True


class AuthRequired(SyncError):
    """The device is signed out or its token was revoked."""


class UpgradeRequired(SyncError):
    """This app (or the server) is too old for the other side."""


class ServerRefused(SyncError):
    """The server answered with an error about the request itself."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class HttpTransport:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._client = httpx.Client(
            base_url=self.base_url, timeout=timeout, verify=verify, headers=version_headers()
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        content = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = body.model_dump_json().encode()
        for attempt in range(2):
            try:
                response = self._client.request(method, path, headers=headers, content=content)
                break
            except BROKEN_CONNECTION as exc:
                # A kept-alive connection the server closed as we reused it: every endpoint is
                # safe to repeat (push is idempotent), so try once more on a fresh connection.
                if attempt == 0:
                    log.info("connection to %s broke (%s); retrying once", self.base_url, exc)
                    continue
                raise self._unreachable(exc) from exc
            except httpx.TransportError as exc:
                raise self._unreachable(exc) from exc
        if response.status_code < 300:
            return response.json() if response.content else None
        try:
            payload = response.json()
            message, code = str(payload["message"]), str(payload["error"])
        except (ValueError, KeyError, TypeError):
            message, code = f"the server answered {response.status_code}", "unknown"
        if response.status_code == 401:
            raise AuthRequired(message)
        if response.status_code == 426:
            raise UpgradeRequired(message)
        if response.status_code >= 500 or response.status_code == 429:
            error = NetworkError(message)
            raise error
        raise ServerRefused(message, response.status_code, code)

    def _unreachable(self, exc: Exception) -> NetworkError:
        return NetworkError(
            f"cannot reach the sync server at {self.base_url} ({exc});"
            " your changes stay on this laptop"
        )

    def health(self) -> dict[str, Any]:
        return dict(self._request("GET", "/v1/health"))

    def login(self, req: LoginRequest) -> LoginResponse:
        return LoginResponse.model_validate(self._request("POST", "/v1/login", req))

    def logout(self) -> None:
        self._request("POST", "/v1/logout")

    def push(self, req: PushRequest) -> PushResponse:
        return PushResponse.model_validate(self._request("POST", "/v1/push", req))

    def pull(self, req: PullRequest) -> dict[str, Any]:
        """The raw page (validated by the engine as it applies it: pages are large)."""
        return dict(self._request("POST", "/v1/pull", req))

    def checksums(self) -> ChecksumsResponse:
        return ChecksumsResponse.model_validate(self._request("GET", "/v1/checksums"))
