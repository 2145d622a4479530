"""Real parts for sync tests: server storage on SQLite or PostgreSQL, a uvicorn server on a free
loopback port in a thread, laptops (real FieldRep databases in tmp_path) with the real HTTP engine.

PostgreSQL: 127.0.0.1:5432, trust auth, database ``test``; each test gets its own schema, dropped
afterwards. With CI=true an unreachable PostgreSQL fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from fieldrep.server import admin, auth, scope
from fieldrep.server.app import create_app
from fieldrep.server.limits import uvicorn_options
from fieldrep.server.storage import Storage
from fieldrep.services.context import Context
from fieldrep.store.catalog import synced_tables
from fieldrep.sync.client import SyncEngine, SyncResult, sign_in
from fieldrep.sync.transport import HttpTransport

PASSWORD = "correct horse battery"
PG_BASE = os.environ.get("FIELDREP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_hash_cache: dict[str, str] = {}
_pg_ok: bool | None = None


def password_hash() -> str:
    """The fixtures' users share one hash, made with a small scrypt cost (2^10): every sign-in in
    the tests checks it, and the production cost (2^17) takes 0.7 s per check. Passwords set
    through ``admin.add_user`` without this hash get the production cost."""
    if PASSWORD not in _hash_cache:
        _hash_cache[PASSWORD] = auth.hash_password(PASSWORD, n=2**10)
    return _hash_cache[PASSWORD]


def pg_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        import psycopg

        try:
            psycopg.connect(PG_BASE, connect_timeout=3).close()
            _pg_ok = True
        except psycopg.Error:
            _pg_ok = False
    return _pg_ok


def make_storage(kind: str, tmp_path: Path) -> Iterator[Storage]:
    if kind == "sqlite":
        storage = Storage(str(tmp_path / "server.db"))
        yield storage
        storage.close()
        return
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE} and CI=true")
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}")
    import psycopg

    schema = f"fr_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    storage = Storage(url)
    try:
        yield storage
    finally:
        storage.close()
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


class LiveServer:
    """The real app under uvicorn on a loopback port, in a thread; stop() and start() again keep
    the port, like a restarted server process."""

    def __init__(
        self,
        storage: Storage,
        port: int = 0,
        login_limit: int = 50,
        docs: bool = True,
        app_options: dict[str, Any] | None = None,
    ) -> None:
        self.storage = storage
        self.port = port
        self.login_limit = login_limit
        self.docs = docs
        # More create_app() arguments. The fixtures' password hashes (cost 2^10) are not made
        # again at production cost on sign-in unless a test asks for it.
        self.app_options = {"password_n": 2**10, **(app_options or {})}
        self.start()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(256)  # connections queue here until uvicorn accepts: no readiness polling
        self.port = sock.getsockname()[1]
        self._sock = sock
        config = uvicorn.Config(
            create_app(
                self.storage, login_limit=self.login_limit, docs=self.docs, **self.app_options
            ),
            log_level="warning",
            lifespan="off",
            **uvicorn_options(),  # the timeouts and limits `fieldrep serve` runs with
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self._sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Org:
    """Users and territories: rep1 in T1, rep2 in T2, manager over both reps, an admin."""

    admin: str
    manager: str
    rep1: str
    rep2: str
    t1: str
    t2: str
    t3: str


def seed_org(storage: Storage) -> Org:
    h = password_hash()
    admin_id = admin.add_user(storage, "admin", "admin", PASSWORD, password_hash=h)
    manager = admin.add_user(storage, "manager", "manager", PASSWORD, password_hash=h)
    rep1 = admin.add_user(storage, "rep1", "rep", PASSWORD, password_hash=h, manager_id=manager)
    rep2 = admin.add_user(storage, "rep2", "rep", PASSWORD, password_hash=h, manager_id=manager)
    t1, t2, t3 = admin.put_rows(
        storage,
        "territories",
        [
            {"name": "North", "created_at": "2024-01-01"},
            {"name": "South", "created_at": "2024-01-01"},
            {"name": "East", "created_at": "2024-01-01"},
        ],
    )
    admin.put_rows(
        storage,
        "territory_members",
        [
            {"territory_id": t1, "user_id": rep1},
            {"territory_id": t2, "user_id": rep2},
        ],
    )
    return Org(admin_id, manager, rep1, rep2, t1, t2, t3)


class Laptop:
    """A FieldRep database with its writer, signed in through real HTTP."""

    def __init__(self, path: Path, server_url: str) -> None:
        self.ctx = Context.open(path)
        self.transport = HttpTransport(server_url)

    @property
    def writer(self) -> Any:
        return self.ctx.writer

    def login(self, user: str, password: str = PASSWORD) -> str:
        return sign_in(self.ctx.writer, self.transport, user, password).user_id

    def sync(self, **kwargs: Any) -> SyncResult:
        # Tests compare checksums after every sync (the engine's default does so when due).
        kwargs.setdefault("verify_every", 0)
        return SyncEngine(self.ctx.writer, self.transport, **kwargs).run()

    def rows(self, tbl: str) -> dict[str, dict[str, Any]]:
        fields = synced_tables()[tbl].fields
        cur = self.ctx.db.conn.execute(f"SELECT id, {', '.join(fields)} FROM {tbl}")
        return {r[0]: dict(zip(fields, r[1:], strict=True)) for r in cur}

    def conflicts(self) -> list[dict[str, Any]]:
        cur = self.ctx.db.conn.execute(
            "SELECT tbl, row_id, field, kept_value, kept_clock,"
            " lost_value, lost_clock FROM conflicts ORDER BY id"
        )
        keys = ("tbl", "row_id", "field", "kept_value", "kept_clock", "lost_value", "lost_clock")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def close(self) -> None:
        self.transport.close()
        self.ctx.close()


def server_view(storage: Storage, user_id: str, tbl: str) -> dict[str, dict[str, Any]]:
    """The live rows of ``tbl`` that ``user_id`` may see, straight from server storage."""
    fields = synced_tables()[tbl].fields
    with storage.read() as tx:
        viewer = scope.load_viewer(tx, user_id)
        sql, params = scope.predicate(tx, viewer, tbl)
        rows = tx.all(
            f"SELECT id, {', '.join(fields)} FROM {tbl} WHERE _deleted = 0 AND {sql}", params
        )
    return {r[0]: dict(zip(fields, r[1:], strict=True)) for r in rows}


def server_row(storage: Storage, tbl: str, row_id: str) -> dict[str, Any] | None:
    fields = synced_tables()[tbl].fields
    with storage.read() as tx:
        row = tx.one(
            f"SELECT {', '.join(fields)}, _clocks, _deleted FROM {tbl} WHERE id = ?", (row_id,)
        )
    if row is None:
        return None
    out = dict(zip(fields, row[:-2], strict=True))
    out["_clocks"] = json.loads(row[-2])
    out["_deleted"] = bool(row[-1])
    return out


def account(territory: str | None, name: str = "Acme", **extra: Any) -> dict[str, Any]:
    return {"name": name, "territory_id": territory, **extra}
