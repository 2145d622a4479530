"""The central sync server: a FastAPI application (with ``docs=True``, OpenAPI at ``/openapi.json``
and docs at ``/docs``; off by default, so no request goes unauthenticated but health and login).

``create_app(storage)`` builds it around one :class:`~fieldrep.server.storage.Storage`. Every endpoint
but ``/v1/health`` and ``/v1/login`` needs a bearer device token, and every endpoint but health checks
the protocol and schema version headers. Errors are JSON ``{"error", "message"}`` with a 4xx status:
422 malformed request, 401 not signed in, 403 wrong device or disabled, 409 sequence gap, 413 too
large, 426 please upgrade, 429 too many logins. Handlers are plain functions run in the server's thread
pool; storage does the locking.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fieldrep import __version__
from fieldrep.server import auth, clock_tags
from fieldrep.server.limits import (
    MAX_PULL_BYTES,
    BodySizeLimit,
    WorkerThreads,
)
from fieldrep.server.pull import checksums, pull
from fieldrep.server.push import PushError, push
from fieldrep.server.storage import Storage
from fieldrep.store.writer import utc_now
from fieldrep.sync.protocol import (
    CLOCK_PATTERN,
    DEFAULT_PULL_LIMIT,
    ID_PATTERN,
    MAX_BODY_BYTES,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    SCHEMA_HEADER,
    SCHEMA_VERSION,
    TEXT_PATTERN,
    ChecksumsResponse,
    ErrorBody,
    HealthResponse,
    LoginRequest,
    LoginResponse,
    PullRequest,
    PullResponse,
    PushRequest,
    PushResponse,
)

log = logging.getLogger(__name__)

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 409, 413, 422, 426, 429)
}


# Pydantic names a pattern a value failed; people get what it means.
PATTERN_WORDS = {
    TEXT_PATTERN: "contains a NUL character",
    ID_PATTERN: "must be 1 to 64 letters, digits or the characters _ . : -",
    CLOCK_PATTERN: "is not a field clock (16 hex digits, @, a device id)",
}


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass(frozen=True)
class Principal:
    user_id: str
    device_id: str


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def check_versions(request: Request) -> None:
    """Refuse clients that speak an older protocol or carry an older database schema. (``async``
    because it does no I/O: FastAPI runs it on the event loop instead of sending it to a worker
    thread and back, as it does with plain functions.)"""
    try:
        protocol = int(request.headers.get(PROTOCOL_HEADER, "0"))
        schema = int(request.headers.get(SCHEMA_HEADER, "0"))
    except ValueError:
        raise ApiError(
            422, "bad_version", f"{PROTOCOL_HEADER} and {SCHEMA_HEADER} must be whole numbers"
        ) from None
    if protocol < MIN_PROTOCOL_VERSION or schema < SCHEMA_VERSION:
        raise ApiError(
            426,
            "upgrade_required",
            f"please upgrade FieldRep: this server needs protocol {MIN_PROTOCOL_VERSION}"
            f"+ and schema {SCHEMA_VERSION} (this app has protocol {protocol}, schema"
            f" {schema})",
        )
    if protocol > PROTOCOL_VERSION or schema > SCHEMA_VERSION:
        raise ApiError(
            426,
            "server_too_old",
            f"this FieldRep is newer than the server (protocol {protocol}, schema"
            f" {schema}); ask your administrator to update the server",
        )


def create_app(
    storage: Storage,
    *,
    login_limit: int = 5,
    login_window: float = 60.0,
    docs: bool = False,
    limits: auth.LoginLimits | None = None,
    trusted_proxies: Sequence[str] = (),
    max_pull_bytes: int = MAX_PULL_BYTES,
    workers: int | None = None,
    password_n: int = auth.SCRYPT_N,
) -> FastAPI:
    """The app over ``storage``. ``limits`` sets the sign-in limiter (``login_limit`` and
    ``login_window`` its per-user-and-address part); ``trusted_proxies`` are the addresses or
    networks whose ``X-Forwarded-For`` names the client. ``workers`` caps the requests handled at
    once (worker threads); give the storage as many database connections. A password hash made
    with a smaller scrypt cost than ``password_n`` is made again at its user's next sign-in."""
    app = FastAPI(
        title="FieldRep sync server",
        version=__version__,
        description="Push and pull of field-level changes for FieldRep laptops.",
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    if workers:
        app.add_middleware(WorkerThreads, count=workers)
    app.state.storage = storage
    limits = limits or auth.LoginLimits(per_pair=login_limit, pair_window=login_window)
    guard = auth.LoginGuard(storage, limits)
    bearer = HTTPBearer(auto_error=False)

    async def device_token(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> auth.DeviceToken:
        """The request's bearer token, not checked yet: push and pull check it in the first
        statement of their own transaction (:func:`principal` checks it on its own). ``async``
        as :func:`check_versions`: no I/O, no trip to a worker thread."""
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(401, "not_signed_in", "sign in first (no device token was sent)")
        return auth.DeviceToken(auth.token_hash(credentials.credentials))

    def principal(token: auth.DeviceToken = Depends(device_token)) -> Principal:  # noqa: B008
        row = storage.fetch_one(auth.TOKEN_OWNER, (token.hash,))
        if row is None:
            raise ApiError(401, "not_signed_in", auth.SIGNED_OUT)
        return Principal(user_id=row[0], device_id=row[1])

    versions = [Depends(check_versions)]

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors())
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        pattern = (first.get("ctx") or {}).get("pattern")
        message = f"{where}: {PATTERN_WORDS.get(str(pattern), first.get('msg', 'invalid'))}"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problems)"
        return _error(422, "invalid_request", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot even decode.
            return _error(
                422,
                "invalid_request",
                "the body cannot be read as JSON (not UTF-8 text, nested too deeply,"
                " or a number thousands of digits long)",
            )
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "server_error", "the server failed; the request was not applied")

    @app.get("/v1/health", response_model=HealthResponse)
    def health() -> HealthResponse:
        return HealthResponse(
            status="ok",
            protocol=PROTOCOL_VERSION,
            min_protocol=MIN_PROTOCOL_VERSION,
            schema_version=SCHEMA_VERSION,
        )

    @app.post(
        "/v1/login",
        response_model=LoginResponse,
        response_model_exclude_none=True,
        responses=ERRORS,
        dependencies=versions,
    )
    def login(req: LoginRequest, request: Request) -> LoginResponse:
        address = auth.client_address(
            request.client.host if request.client else "",
            request.headers.get("x-forwarded-for"),
            trusted_proxies,
        )
        try:
            guard.admit(req.user, address)
        except auth.Throttled as exc:
            wait = int(exc.retry_after) + 1
            raise ApiError(
                429,
                "too_many_attempts",
                f"too many failed sign-ins; try again in {wait} seconds",
                {"Retry-After": str(wait)},
            ) from None
        row = storage.fetch_one(
            "SELECT u.id, u.role, u.active, c.password_hash, c.disabled FROM users u"
            " JOIN credentials c ON c.user_id = u.id WHERE u.username = ? AND u._deleted = 0",
            (req.user,),
        )
        if row is None:
            auth.check_unknown_user(req.password)
        # A disabled user gets the answer of a wrong password: a different one would confirm it.
        if row is None or not auth.verify_password(req.password, row[3]) or not row[2] or row[4]:
            raise ApiError(401, "wrong_password", "wrong user name or password")
        user_id, role = str(row[0]), str(row[1])
        guard.succeeded(req.user, address)
        token = auth.new_token()
        stronger = (
            auth.hash_password(req.password, n=password_n)
            if auth.needs_rehash(row[3], password_n)
            else None
        )
        with storage.write() as tx:
            if stronger is not None:
                # Unless the password changed meanwhile (then the new hash stays).
                tx.execute(
                    "UPDATE credentials SET password_hash = ? WHERE user_id = ?"
                    " AND password_hash = ?",
                    (stronger, user_id, row[3]),
                )
            # The device row, created signed out if new, then locked: serialised with its pushes.
            tx.execute(
                "INSERT INTO devices (device_id, user_id, token_hash, last_seq, created_at)"
                " VALUES (?, ?, NULL, ?, ?) ON CONFLICT (device_id) DO NOTHING",
                (req.device_id, user_id, req.base_seq, utc_now()),
            )
            owner, last_seq = tx.one(
                f"SELECT user_id, last_seq FROM devices WHERE device_id = ?{tx.for_update}",
                (req.device_id,),
            ) or (None, 0)
            if owner != user_id:
                # A device belongs to the user who registered it: signing in on it as someone
                # else would sign them out and could skip their changes.
                raise ApiError(
                    409,
                    "device_taken",
                    "this laptop's device id belongs to another user; sign in from a new"
                    " FieldRep database (or let FieldRep give this one a new id)",
                )
            # base_seq only places a new device's numbering (changes made before its first
            # sign-in); it never moves an existing device past changes the server has not applied.
            tx.execute(
                "UPDATE devices SET token_hash = ?, revoked_at = NULL, last_seen_at = ?"
                " WHERE device_id = ?",
                (auth.token_hash(token), utc_now(), req.device_id),
            )
            tag: str | None = clock_tags.device_tag(clock_tags.load_secret(tx), req.device_id)
        if int(request.headers.get(PROTOCOL_HEADER, "0")) < 2:
            tag = None  # a protocol-1 client refuses fields it does not know
        return LoginResponse(
            token=token,
            user_id=user_id,
            username=req.user,
            role=role,
            last_seq=int(last_seq),
            clock_tag=tag,
        )

    @app.post("/v1/logout", status_code=204, responses=ERRORS, dependencies=versions)
    def logout(who: Principal = Depends(principal)) -> None:  # noqa: B008
        with storage.write() as tx:
            tx.execute(
                "UPDATE devices SET token_hash = NULL, revoked_at = ? WHERE device_id = ?",
                (utc_now(), who.device_id),
            )

    @app.post("/v1/push", response_model=PushResponse, responses=ERRORS, dependencies=versions)
    def push_endpoint(
        req: PushRequest,
        token: auth.DeviceToken = Depends(device_token),  # noqa: B008
    ) -> PushResponse:
        try:
            return push(storage, token, req)
        except PushError as exc:
            raise ApiError(exc.status, exc.code, str(exc)) from None

    def _pull(req: PullRequest, token: auth.DeviceToken, request: Request) -> JSONResponse:
        # Protocol 2 and later: the page tells the device its clock tag (see pull.pull).
        tagged = int(request.headers.get(PROTOCOL_HEADER, "0")) >= 2
        try:
            return JSONResponse(pull(storage, token, req, max_pull_bytes, tagged=tagged))
        except auth.SignedOut:
            raise ApiError(401, "not_signed_in", auth.SIGNED_OUT) from None

    @app.post("/v1/pull", response_model=PullResponse, responses=ERRORS, dependencies=versions)
    def pull_post(
        req: PullRequest,
        request: Request,
        token: auth.DeviceToken = Depends(device_token),  # noqa: B008
    ) -> JSONResponse:
        return _pull(req, token, request)

    @app.get("/v1/pull", response_model=PullResponse, responses=ERRORS, dependencies=versions)
    def pull_get(
        request: Request,
        cursor: int = 0,
        limit: int = DEFAULT_PULL_LIMIT,
        scope_key: str | None = None,
        token: auth.DeviceToken = Depends(device_token),  # noqa: B008
    ) -> JSONResponse:
        try:
            req = PullRequest(cursor=cursor, limit=limit, scope_key=scope_key)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ApiError(
                422, "invalid_request", f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
            ) from None
        return _pull(req, token, request)

    @app.get(
        "/v1/checksums", response_model=ChecksumsResponse, responses=ERRORS, dependencies=versions
    )
    def checksums_endpoint(who: Principal = Depends(principal)) -> JSONResponse:  # noqa: B008
        return JSONResponse(checksums(storage, who.user_id))

    return app
