"""Server-side storage on SQLite (a file, the default) or PostgreSQL (``postgresql://...``).

The synced tables have the client's shape, generated from :func:`fieldrep.store.catalog.synced_tables`,
plus ``_clocks`` (per-field clocks), ``_version`` (server change number) and ``_deleted`` (a tombstone
keeps its row so scope still applies to it). Server-only tables hold credentials, devices, the change
counter, moves of rows between scopes, conflicts and refused mutations.

SQL is written once with ``?`` placeholders and translated to ``%s`` for psycopg.

Change numbers and late commits
-------------------------------
Every writing transaction starts with ``UPDATE server_state SET version = version + n``. That row lock
is held until COMMIT, so writers allocate versions one after another and each commits (PostgreSQL makes
a transaction visible before it releases its locks) before the next can allocate. Committed versions
therefore always form a prefix: a pull that reads ``server_state.version`` in its snapshot (REPEATABLE
READ) sees every row up to that number and none above it, so the cursor can never skip a late commit.
The price is that writes are serialised, which SQLite does anyway. To keep that window short on
PostgreSQL a push mutation first locks only its device row and its own row (``FOR UPDATE``), reads
and checks everything, and allocates its version just before writing, so the global lock covers
a few statements and the COMMIT. (The alternative, ``pg_snapshot_xmin`` filtering,
lets writers run in parallel but makes every pull reason about in-flight transactions.)
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fieldrep.store.catalog import synced_tables

try:
    import psycopg

    INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
    # Errors after which running the same transaction again is the documented remedy.
    TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
        psycopg.errors.DeadlockDetected,
        psycopg.errors.SerializationFailure,
    )
except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite works without it
    INTEGRITY_ERRORS = (sqlite3.IntegrityError,)
    TRANSIENT_ERRORS = ()

log = logging.getLogger(__name__)

PG_TYPES = {"TEXT": "TEXT", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}

SERVER_TABLES = """
CREATE TABLE IF NOT EXISTS server_state (
    id INTEGER PRIMARY KEY, version BIGINT NOT NULL, max_clock TEXT NOT NULL DEFAULT '',
    purged_through BIGINT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS credentials (
    user_id TEXT PRIMARY KEY, password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, token_hash TEXT, last_seq BIGINT NOT NULL,
    pulled_through BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, last_seen_at TEXT, revoked_at TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS devices_token ON devices (token_hash);
CREATE TABLE IF NOT EXISTS moves (
    version BIGINT PRIMARY KEY, tbl TEXT NOT NULL, row_id TEXT NOT NULL,
    old_territories TEXT NOT NULL, old_people TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS server_conflicts (
    id {serial} PRIMARY KEY, tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL,
    kept_value TEXT, kept_clock TEXT, lost_value TEXT, lost_clock TEXT,
    device_id TEXT, seq BIGINT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied_mutations (
    device_id TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (device_id, seq));
CREATE TABLE IF NOT EXISTS rejections (
    id {serial} PRIMARY KEY, device_id TEXT NOT NULL, seq BIGINT NOT NULL, tbl TEXT NOT NULL,
    row_id TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL);
"""


def synced_ddl(dialect: str) -> list[str]:
    """CREATE statements for the synced tables. Constraints are checked against the client schema
    itself before a row is written (see :mod:`fieldrep.server.validate`), so columns here are plain."""
    statements: list[str] = []
    for name, tbl in synced_tables().items():
        cols = ["id TEXT PRIMARY KEY"]
        for col in tbl.columns:
            if col.primary_key:
                continue
            kind = PG_TYPES[col.type] if dialect == "postgres" else col.type
            cols.append(f"{col.name} {kind}")
        cols += [
            "_clocks TEXT NOT NULL DEFAULT '{}'",
            "_version BIGINT NOT NULL",
            "_deleted INTEGER NOT NULL DEFAULT 0",
            "_fversions TEXT NOT NULL DEFAULT '{}'",
        ]
        statements.append(f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})")
        statements.append(f"CREATE INDEX IF NOT EXISTS {name}__version ON {name} (_version)")
    # Columns scope predicates filter on.
    for tbl, col in (
        ("accounts", "territory_id"),
        ("accounts", "owner_id"),
        ("contacts", "account_id"),
        ("visits", "user_id"),
        ("tasks", "user_id"),
        ("referrals", "territory_id"),
        ("referrals", "owner_id"),
        ("referrals", "captured_by_id"),
        ("referral_events", "referral_id"),
        ("rewards", "referral_id"),
        ("territory_members", "user_id"),
        ("users", "manager_id"),
    ):
        statements.append(f"CREATE INDEX IF NOT EXISTS {tbl}__{col} ON {tbl} ({col})")
    statements.append("CREATE UNIQUE INDEX IF NOT EXISTS users__username ON users (username)")
    return statements


class Tx:
    """One open transaction; ``?`` placeholders in, tuples out."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.dialect == "postgres":
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    @property
    def for_update(self) -> str:
        """`` FOR UPDATE`` on PostgreSQL (row locks); SQLite's writers are serialised anyway."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    def in_list(self, column: str, values: Sequence[Any]) -> tuple[str, Any]:
        """``column IN values`` as SQL plus its single bound parameter."""
        if self.dialect == "postgres":
            return f"{column} = ANY(?)", list(values)
        import json

        return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(values))

    def next_versions(self, count: int = 1) -> int:
        """Allocate ``count`` change numbers; returns the highest. Locks until COMMIT (see module doc)."""
        row = self.one(
            "UPDATE server_state SET version = version + ? WHERE id = 1 RETURNING version", (count,)
        )
        assert row is not None
        return int(row[0])


class Storage:
    """A connection factory for one server database. Thread-safe: one connection per thread (SQLite)
    or a pool (PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
        self._local = threading.local()
        self._pool: Any = None
        self._sqlite_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.dialect == "postgres":
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=int(os.environ.get("FIELDREP_PG_POOL", "20")),
                open=True,
                kwargs={"autocommit": True},
            )
        else:
            self.path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        self.init_schema()

    def _sqlite(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=60.0, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
            with self._lock:
                self._sqlite_conns.append(conn)
        return conn

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Tx]:
        if self.dialect == "postgres":
            with self._pool.connection() as conn:
                level = "READ COMMITTED" if write else "REPEATABLE READ READ ONLY"
                conn.execute(f"BEGIN ISOLATION LEVEL {level}")
                try:
                    yield Tx(conn, "postgres")
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            return
        conn = self._sqlite()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Tx(conn, "sqlite")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def write(self) -> Any:
        """A writing transaction (serialised with other writers once it allocates versions)."""
        return self._tx(write=True)

    def read(self) -> Any:
        """A read-only transaction over one consistent snapshot."""
        return self._tx(write=False)

    def init_schema(self) -> None:
        serial = "BIGSERIAL" if self.dialect == "postgres" else "INTEGER"
        statements = [
            s.strip() for s in SERVER_TABLES.format(serial=serial).split(";") if s.strip()
        ]
        statements += synced_ddl(self.dialect)
        with self.write() as tx:
            if self.dialect == "postgres":
                # Two servers starting on one empty database must not race on CREATE TABLE.
                tx.execute("SELECT pg_advisory_xact_lock(4711)")
            if self._schema_complete(tx):
                # No DDL at all on a ready database: even CREATE INDEX IF NOT EXISTS locks its
                # table, and would deadlock with a running server's (or `user add`'s) writes.
                return
            for statement in statements:
                tx.execute(statement)
            for name, tbl in synced_tables().items():
                # Columns a client migration added since this database was made (v8's reward
                # ledger, say): CREATE TABLE IF NOT EXISTS leaves an existing table as it was.
                have = self._columns(tx, name)
                for col in tbl.columns:
                    if not col.primary_key and col.name not in have:
                        kind = PG_TYPES[col.type] if self.dialect == "postgres" else col.type
                        tx.execute(f"ALTER TABLE {name} ADD COLUMN {col.name} {kind}")
                # Added after the first release: per-field change numbers (see merge.load_row).
                if "_fversions" not in have:
                    tx.execute(
                        f"ALTER TABLE {name} ADD COLUMN _fversions TEXT NOT NULL DEFAULT '{{}}'"
                    )
            tx.execute(
                "INSERT INTO server_state (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING"
            )

    def _schema_complete(self, tx: Tx) -> bool:
        if "version" not in self._columns(tx, "server_state"):
            return False
        if tx.one("SELECT 1 FROM server_state WHERE id = 1") is None:
            return False
        for name in (
            "credentials",
            "devices",
            "moves",
            "server_conflicts",
            "rejections",
            "applied_mutations",
        ):
            if not self._columns(tx, name):
                return False
        meta = {"_clocks", "_version", "_deleted", "_fversions"}
        return all(
            {*tbl.fields, *meta} <= self._columns(tx, name) for name, tbl in synced_tables().items()
        )

    def _columns(self, tx: Tx, name: str) -> set[str]:
        if self.dialect == "postgres":
            rows = tx.all(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ?",
                (name,),
            )
        else:
            rows = [(r[1],) for r in tx.all(f"PRAGMA table_info({name})")]
        return {r[0] for r in rows}

    def high_water(self, tx: Tx) -> int:
        row = tx.one("SELECT version FROM server_state WHERE id = 1")
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()
