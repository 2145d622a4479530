"""Server-side storage on SQLite (a file, the default) or PostgreSQL (``postgresql://...``).

The synced tables have the client's shape, generated from :func:`fieldrep.store.catalog.synced_tables`,
plus ``_clocks`` (per-field clocks), ``_version`` (server change number) and ``_deleted`` (a tombstone
keeps its row so scope still applies to it). Server-only tables hold credentials, devices, the change
counter, moves of rows between scopes, conflicts and refused mutations.

SQL is written once with ``?`` placeholders and translated for psycopg by :func:`pyformat`, which
reads the statement's quoting: a ``?`` inside a string, a quoted name or a comment stays as written,
and every ``%`` is doubled (psycopg reads ``%`` anywhere in a statement sent with parameters).

Change numbers and late commits
-------------------------------
Pulls hand out rows by change number (``_version``) after a cursor, so a pull must never move its
cursor past a number whose transaction may still commit (DESIGN.md, sync point 4).

On SQLite writers are serialised by the database: every writing transaction takes its numbers from
the ``server_state`` row, and a snapshot's ``server_state.version`` is its high-water mark.

On PostgreSQL writers run side by side. Numbers come from the ``change_versions`` sequence; a
transaction's first number is taken by ``fieldrep_first_version()``, which also holds an advisory
lock on that number until the transaction ends (see :mod:`fieldrep.server.migrations`). A pull
first asks ``fieldrep_high_water()`` for the highest number below every number still locked, and
only then takes its snapshot (:meth:`Storage.snapshot`): every transaction that holds a number up
to that mark has finished by then, and PostgreSQL releases a transaction's locks only after it is
visible, so the snapshot holds all of them. Writers never wait for each other on a shared row; the
largest clock seen is kept per writer in ``clock_marks`` for the same reason. The exception are
writes to what scopes are made of (users' roles and teams, territories' owners and parents,
memberships: manager and admin work, rare next to syncs): they move the one ``scope_epoch`` row
(triggers of schema v7), so they take turns.

Kept between requests
---------------------
App servers are stateless: what one keeps between requests (``Storage.kept``: each user's
viewer, see ``scope.viewer``) is stored with the scope epoch it was read at and used only while a
request's own transaction reads the same epoch, so a change made through any server process is
seen by the next request everywhere.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

from fieldrep.server import clock_tags, migrations
from fieldrep.server.migrations import synced_ddl

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

__all__ = ["INTEGRITY_ERRORS", "TRANSIENT_ERRORS", "Storage", "Tx", "pyformat", "synced_ddl"]

DEFAULT_POOL = 16

# The parts of a statement where ``?`` is text, not a placeholder: 'strings' ('' inside),
# "quoted names", -- comments, /* comments */ and $tag$ dollar-quoted bodies $tag$.
_QUOTED = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|(\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$).*?\1""",
    re.DOTALL,
)


@lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders in psycopg's ``%s`` style: each ``?`` outside quotes and
    comments becomes ``%s`` and every ``%`` becomes ``%%``. An unterminated quote is left to the
    database to refuse (its ``?`` are not turned into placeholders)."""
    out: list[str] = []
    pos = 0
    for quoted in _QUOTED.finditer(sql):
        out.append(sql[pos : quoted.start()].replace("%", "%%").replace("?", "%s"))
        out.append(quoted.group(0).replace("%", "%%"))
        pos = quoted.end()
    rest = sql[pos:]
    cut = min((i for i in (rest.find("'"), rest.find('"')) if i >= 0), default=len(rest))
    out.append(rest[:cut].replace("%", "%%").replace("?", "%s") + rest[cut:].replace("%", "%%"))
    return "".join(out)


class SnapshotState(NamedTuple):
    """What a pull or checksums reads of the server's own state, in one statement."""

    high_water: int
    max_clock: str
    purged_through: int
    scope_epoch: int
    clock_secret: bytes


class Tx:
    """One open transaction; ``?`` placeholders in, tuples out.

    ``kept`` is what the server keeps between requests on this database (per :class:`Storage`):
    each value stored with the database version it was read at, and used only while the database
    still says that version (see ``scope.viewer``). ``read_only`` says whether this transaction
    writes (a writer sees its own uncommitted changes: it must not keep what it reads)."""

    def __init__(
        self,
        conn: Any,
        dialect: str,
        high_water: int | None = None,
        *,
        kept: dict[Any, Any] | None = None,
        read_only: bool = False,
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.high_water = high_water
        self.kept: dict[Any, Any] = {} if kept is None else kept
        self.read_only = read_only
        self._numbered = False
        self._expected = 1
        self._spare: list[int] = []

    def _sql(self, sql: str) -> str:
        return pyformat(sql) if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), tuple(params))

    def run(self, *statements: str) -> None:
        """Statements without parameters, in one round trip on PostgreSQL."""
        if self.dialect == "postgres":
            self.conn.execute("; ".join(statements))
            return
        for statement in statements:
            self.conn.execute(statement)

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

    def versions(self, count: int) -> list[int]:
        """``count`` new change numbers, ascending (see the module doc). On PostgreSQL they need
        not be consecutive: other writers take numbers at the same time."""
        if count <= 0:
            return []
        if self.dialect != "postgres":
            row = self.one(
                "UPDATE server_state SET version = version + ? WHERE id = 1 RETURNING version",
                (count,),
            )
            assert row is not None
            top = int(row[0])
            return list(range(top - count + 1, top + 1))
        taken = self._spare[:count]
        del self._spare[:count]
        if not self._numbered:
            want = max(count - len(taken), self._expected)
            got = sorted(int(r[0]) for r in self.all("SELECT fieldrep_first_versions(?)", (want,)))
            self._numbered = True
            need = count - len(taken)
            taken += got[:need]
            self._spare = got[need:]
        if len(taken) < count:
            taken += [
                int(r[0])
                for r in self.all(
                    "SELECT nextval('change_versions') FROM generate_series(1, ?)",
                    (count - len(taken),),
                )
            ]
        return sorted(taken)

    def expect(self, count: int) -> None:
        """Say that this transaction will likely take ``count`` change numbers one by one: on
        PostgreSQL the first :meth:`versions` takes that many at once (one round trip); those
        left unused are gaps, which change numbers may have anyway."""
        self._expected = max(1, count)

    def next_versions(self, count: int = 1) -> int:
        """Take ``count`` change numbers (see :meth:`versions`); returns the highest. ``0`` takes
        none and, on SQLite, only locks out other writers."""
        if count <= 0:
            if self.dialect != "postgres":
                self.execute("UPDATE server_state SET version = version WHERE id = 1")
            return 0
        return self.versions(count)[-1]

    def max_clock(self) -> str:
        """The largest clock any write has carried (``''`` before the first)."""
        row = self.one("SELECT max(max_clock) FROM clock_marks")
        return str(row[0]) if row and row[0] else ""

    def note_clock(self, clock: str) -> None:
        """Remember ``clock`` if it is the largest yet, in this writer's own ``clock_marks`` row."""
        slot = int(self.conn.info.backend_pid) if self.dialect == "postgres" else 0
        self.execute(
            "INSERT INTO clock_marks (slot, max_clock) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE"
            " SET max_clock = excluded.max_clock WHERE clock_marks.max_clock < excluded.max_clock",
            (slot, clock),
        )


class Storage:
    """A connection factory for one server database. Thread-safe: one connection per thread (SQLite)
    or a pool (PostgreSQL) sized to the server's worker threads (``FIELDREP_PG_POOL``, default 16)."""

    def __init__(self, url: str, *, pool_size: int | None = None) -> None:
        self.url = url
        self.dialect = "postgres" if url.startswith(("postgresql://", "postgres://")) else "sqlite"
        self._local = threading.local()
        self._pool: Any = None
        self._sqlite_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.kept: dict[Any, Any] = {}  # see Tx
        self.pool_size = pool_size or int(os.environ.get("FIELDREP_PG_POOL", DEFAULT_POOL))
        if self.dialect == "postgres":
            from psycopg_pool import ConnectionPool

            self._pool = ConnectionPool(
                url,
                min_size=min(4, self.pool_size),
                max_size=self.pool_size,
                open=True,
                kwargs={"autocommit": True},
            )
        else:
            self.path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            _create_private(self.path)
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
    def _tx(self, *, write: bool, marked: bool = False) -> Iterator[Tx]:
        if self.dialect == "postgres":
            with self._pool.connection() as conn:
                high: int | None = None
                if marked:
                    # Before the snapshot: see the module doc.
                    high = int(conn.execute("SELECT fieldrep_high_water()").fetchone()[0])
                level = "READ COMMITTED" if write else "REPEATABLE READ READ ONLY"
                conn.execute(f"BEGIN ISOLATION LEVEL {level}")
                try:
                    yield Tx(conn, "postgres", high, kept=self.kept, read_only=not write)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    if write:
                        # A session-level gate lock left behind by a failed number grab.
                        conn.execute("SELECT pg_advisory_unlock_all()")
                    raise
            return
        conn = self._sqlite()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            tx = Tx(conn, "sqlite", kept=self.kept, read_only=not write)
            if marked:
                row = tx.one("SELECT version FROM server_state WHERE id = 1")
                tx.high_water = int(row[0]) if row else 0
            yield tx
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def write(self) -> Any:
        """A writing transaction; writers take change numbers with :meth:`Tx.versions`."""
        return self._tx(write=True)

    def read(self) -> Any:
        """A read-only transaction over one consistent snapshot."""
        return self._tx(write=False)

    def snapshot(self) -> Any:
        """A read-only snapshot whose ``tx.high_water`` is a change number no late commit can hide
        below: every row numbered up to it is in the snapshot (pulls and checksums use this)."""
        return self._tx(write=False, marked=True)

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """One statement outside any explicit transaction (one round trip on PostgreSQL)."""
        if self.dialect == "postgres":
            with self._pool.connection() as conn:
                return conn.execute(pyformat(sql), tuple(params)).fetchone()
        return self._sqlite().execute(sql, tuple(params)).fetchone()

    def state(
        self, tx: Tx, who: tuple[str, Sequence[Any]] | None = None
    ) -> tuple[SnapshotState, tuple[Any, ...] | None]:
        """The server's state as a :meth:`snapshot` sees it, and the first row of ``who`` (a
        SELECT and its parameters, such as a device token's owner; None when it finds none), in
        one statement."""
        if tx.high_water is None:
            raise RuntimeError("the high-water mark needs a transaction from Storage.snapshot()")
        who_sql, who_params = who or ("SELECT NULL", ())
        row = tx.one(
            "SELECT s.purged_through, (SELECT max(max_clock) FROM clock_marks),"
            " (SELECT epoch FROM scope_epoch WHERE id = 1),"
            " (SELECT value FROM server_secrets WHERE name = ?), w.*"
            f" FROM server_state s LEFT JOIN ({who_sql} LIMIT 1) w ON 1 = 1 WHERE s.id = 1",
            (clock_tags.SECRET_NAME, *who_params),
        )
        if row is None or row[3] is None:  # pragma: no cover - the migrations write both
            raise RuntimeError("the server database is not initialised; run its migrations")
        state = SnapshotState(
            tx.high_water, str(row[1] or ""), int(row[0]), int(row[2]), bytes.fromhex(row[3])
        )
        found = row[4:]
        return state, (found if found and found[0] is not None else None)

    def init_schema(self) -> None:
        """Create or upgrade the schema (:mod:`fieldrep.server.migrations`); no DDL when ready."""
        with self.read() as tx:
            if migrations.is_ready(tx):
                # Even CREATE INDEX IF NOT EXISTS locks its table, and would deadlock with a
                # running server's (or `user add`'s) writes.
                return
        with self.write() as tx:
            if self.dialect == "postgres":
                # Two servers starting on one database must not race on the upgrade.
                tx.execute(f"SELECT pg_advisory_xact_lock({migrations.MIGRATION_LOCK})")
            if migrations.is_ready(tx):
                return
            migrations.upgrade(tx, sqlite_path=None if self.dialect == "postgres" else self.path)

    def high_water(self, tx: Tx) -> int:
        if tx.high_water is not None:
            return tx.high_water
        if self.dialect == "postgres":
            raise RuntimeError("the high-water mark needs a transaction from Storage.snapshot()")
        row = tx.one("SELECT version FROM server_state WHERE id = 1")
        return int(row[0]) if row else 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        with self._lock:
            for conn in self._sqlite_conns:
                conn.close()
            self._sqlite_conns.clear()


def _create_private(path: str) -> None:
    """Create a new SQLite server database readable by its owner only (it holds password hashes
    and token hashes); its folder too when we create it."""
    if path in ("", ":memory:") or os.path.exists(path):
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
