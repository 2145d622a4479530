"""Versioned migrations of the server database (SQLite or PostgreSQL), like the client's.

The version lives in ``server_schema`` (one row). A database made before versions existed has
``server_state`` but no ``server_schema``: it is version 1. Each step runs with its version bump in
one transaction; on PostgreSQL an advisory lock keeps two servers starting at once from racing.
A database newer than this code is refused. A SQLite file is copied aside before an upgrade
(``server.db.v1.bak``); PostgreSQL is upgraded in place (take a ``pg_dump`` first: steps are
transactional, so a failed step leaves the database as it was).

After the steps, the synced tables follow the client's catalog (tables and columns it added since),
checked through a fingerprint stored in ``server_schema``: opening a ready database runs no DDL.

Kept whole: the steps are one ordered history, each written against the schema the steps before
it left; split by step, that history would be spread over files read together anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fieldrep.server import clock_tags
from fieldrep.store.catalog import synced_tables

if TYPE_CHECKING:
    from fieldrep.server.storage import Tx

log = logging.getLogger(__name__)

PG_TYPES = {"TEXT": "TEXT", "INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION"}
MIGRATION_LOCK = 4711  # advisory lock held while a server migrates (PostgreSQL)
GATE_KEY1 = 1179796816  # "FREP": the version gate is (GATE_KEY1, the database's lock tag)

V1_SERVER_TABLES = """
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

SCOPE_INDEXES = (
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
)
META_COLUMNS = (
    "_clocks TEXT NOT NULL DEFAULT '{}'",
    "_version BIGINT NOT NULL",
    "_deleted INTEGER NOT NULL DEFAULT 0",
    "_fversions TEXT NOT NULL DEFAULT '{}'",
)


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _col_type(dialect: str, kind: str) -> str:
    return PG_TYPES[kind] if dialect == "postgres" else kind


def synced_table_ddl(dialect: str, name: str) -> list[str]:
    tbl = synced_tables()[name]
    cols = ["id TEXT PRIMARY KEY"]
    cols += [f"{c.name} {_col_type(dialect, c.type)}" for c in tbl.columns if not c.primary_key]
    cols += META_COLUMNS
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ({', '.join(cols)})",
        f"CREATE INDEX IF NOT EXISTS {name}__version ON {name} (_version)",
    ]


def synced_ddl(dialect: str) -> list[str]:
    """CREATE statements for the synced tables. Constraints are checked against the client schema
    itself before a row is written (see :mod:`fieldrep.server.validate`), so columns here are plain."""
    statements: list[str] = []
    for name in synced_tables():
        statements += synced_table_ddl(dialect, name)
    statements += [
        f"CREATE INDEX IF NOT EXISTS {tbl}__{col} ON {tbl} ({col})" for tbl, col in SCOPE_INDEXES
    ]
    statements.append("CREATE UNIQUE INDEX IF NOT EXISTS users__username ON users (username)")
    return statements


# -- the steps --------------------------------------------------------------------------------


def _v1_baseline(tx: Tx) -> None:
    """The schema every server had before migrations were versioned (also what an empty database
    starts from)."""
    serial = "BIGSERIAL" if tx.dialect == "postgres" else "INTEGER"
    for statement in _split(V1_SERVER_TABLES.format(serial=serial)) + synced_ddl(tx.dialect):
        tx.execute(statement)
    for name in synced_tables():
        if "_fversions" not in columns(tx, name):
            tx.execute(f"ALTER TABLE {name} ADD COLUMN _fversions TEXT NOT NULL DEFAULT '{{}}'")
    tx.execute("INSERT INTO server_state (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")


def _v2_scale_out(tx: Tx) -> None:
    """Everything a server keeps between requests moves into the database, and (PostgreSQL) change
    numbers come from a sequence instead of the locked ``server_state`` row."""
    bigint = "BIGINT"
    for statement in (
        # Failed-login counters by key (user+address, address, user from a new address).
        "CREATE TABLE login_throttle (key TEXT PRIMARY KEY, attempts INTEGER NOT NULL,"
        f" window_start_ms {bigint} NOT NULL)",
        "CREATE INDEX login_throttle__window ON login_throttle (window_start_ms)",
        # Addresses a user signed in from: a guesser elsewhere does not lock them out.
        "CREATE TABLE login_known (username TEXT NOT NULL, address TEXT NOT NULL,"
        f" last_ok_ms {bigint} NOT NULL, PRIMARY KEY (username, address))",
        # The largest clock seen, one row per writer (a PostgreSQL backend): no shared row to lock.
        f"CREATE TABLE clock_marks (slot {bigint} PRIMARY KEY, max_clock TEXT NOT NULL)",
        "CREATE INDEX clock_marks__clock ON clock_marks (max_clock)",
        "INSERT INTO clock_marks (slot, max_clock)"
        " SELECT 0, max_clock FROM server_state WHERE id = 1",
    ):
        tx.execute(statement)
    if tx.dialect != "postgres":
        return
    tag = secrets.randbelow(2**23 - 1) + 1
    row = tx.one("SELECT version FROM server_state WHERE id = 1")
    start = int(row[0]) if row else 0
    tx.execute("CREATE SEQUENCE change_versions AS BIGINT MINVALUE 0")
    tx.execute(f"SELECT setval('change_versions', {start}, true)")  # the next is start + 1
    tx.execute("ALTER TABLE server_state ADD COLUMN lock_tag BIGINT NOT NULL DEFAULT 0")
    tx.execute("UPDATE server_state SET lock_tag = ? WHERE id = 1", (tag,))
    # A writer's first change number is taken under the gate together with an advisory lock on
    # that number (released at COMMIT or ROLLBACK); a reader holds the gate (shared: readers run
    # side by side) while it reads the sequence and the smallest number still locked. So a reader
    # never misses a number that was handed out but whose transaction has not finished. Writers
    # hold the gate alone, but only for a nextval and a lock.
    base = tag << 40
    tx.execute(
        f"""CREATE FUNCTION fieldrep_first_version() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
    PERFORM pg_advisory_lock({GATE_KEY1}, {tag});
    v := nextval('change_versions');
    PERFORM pg_advisory_xact_lock_shared({base} + v);
    PERFORM pg_advisory_unlock({GATE_KEY1}, {tag});
    RETURN v;
END $$"""
    )
    tx.execute(
        f"""CREATE FUNCTION fieldrep_high_water() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE top bigint; called boolean; busy bigint;
BEGIN
    PERFORM pg_advisory_lock_shared({GATE_KEY1}, {tag});
    SELECT last_value, is_called INTO top, called FROM change_versions;
    SELECT min((l.classid::bigint << 32) + l.objid::bigint) - {base} INTO busy FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid::bigint >= {tag << 8} AND l.classid::bigint < {(tag + 1) << 8};
    PERFORM pg_advisory_unlock_shared({GATE_KEY1}, {tag});
    IF NOT called THEN top := top - 1; END IF;
    IF busy IS NOT NULL AND busy - 1 < top THEN top := busy - 1; END IF;
    RETURN top;
END $$"""
    )


def _v3_row_creators(tx: Tx) -> None:
    """Who created each row: what no territory rule assigns stays in its creator's scope, and a
    row handed to a colleague's territory stays visible to the rep who created it."""
    tx.execute(
        "CREATE TABLE row_creators (tbl TEXT NOT NULL, row_id TEXT NOT NULL,"
        " user_id TEXT NOT NULL, PRIMARY KEY (tbl, row_id))"
    )
    tx.execute("CREATE INDEX row_creators__user ON row_creators (user_id, tbl)")


def _v4_clock_tags(tx: Tx) -> None:
    """Clocks name devices by an opaque tag (:mod:`fieldrep.server.clock_tags`): a secret for the
    tags, and every stored clock (rows, the largest clock handed to laptops) rewritten under them."""
    tx.execute("CREATE TABLE server_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    secret = clock_tags.new_secret()
    tx.execute(
        "INSERT INTO server_secrets (name, value) VALUES (?, ?)",
        (clock_tags.SECRET_NAME, secret),
    )
    key = bytes.fromhex(secret)

    def tagged(clock: str) -> str:
        if not clock or clock.endswith("@" + clock_tags.SERVER_DEVICE) or "@" not in clock:
            return clock
        return clock_tags.tag_clock(key, clock)

    for name in synced_tables():
        if not columns(tx, name):
            continue
        updates = []
        for row_id, raw in tx.all(f"SELECT id, _clocks FROM {name}"):
            clocks = json.loads(raw or "{}")
            new = {field: tagged(clock) for field, clock in clocks.items()}
            if new != clocks:
                updates.append((json.dumps(new, separators=(",", ":")), row_id))
        if updates:
            tx.executemany(f"UPDATE {name} SET _clocks = ? WHERE id = ?", updates)
    for slot, clock in tx.all("SELECT slot, max_clock FROM clock_marks"):
        tx.execute("UPDATE clock_marks SET max_clock = ? WHERE slot = ?", (tagged(clock), slot))
    row = tx.one("SELECT max_clock FROM server_state WHERE id = 1")
    if row is not None:
        tx.execute("UPDATE server_state SET max_clock = ? WHERE id = 1", (tagged(row[0]),))


# v5: the referral's own
# "how they know each other" and consent time, matching the client's v9. A database made from the
# current catalog by the baseline already has them, hence the check.
def _v5_referral_relationship_consent(tx: Tx) -> None:
    have = columns(tx, "referrals")
    for name in ("relationship", "consent_at"):
        if name not in have:
            tx.execute(f"ALTER TABLE referrals ADD COLUMN {name} TEXT")
    if "consent_at" not in have:
        # Referrals are only saved with consent: those synced before had it when captured.
        tx.execute("UPDATE referrals SET consent_at = created_at WHERE consent_at IS NULL")


# The referral SLA per territory (days per pipeline stage, JSON), matching the client's v10: a team
# setting managers write and every laptop applies. A database made from the current catalog by the
# baseline already has it, hence the check.
def _v6_territory_referral_sla(tx: Tx) -> None:
    if "referral_sla" not in columns(tx, "territories"):
        tx.execute("ALTER TABLE territories ADD COLUMN referral_sla TEXT")


# What a viewer's scope is made of (scope.load_viewer): a change to any of these columns moves
# the scope epoch, so a viewer kept by a server between requests is known stale by the database.
SCOPE_SOURCES = {
    "users": ("role", "manager_id", "_deleted"),
    "territories": ("owner_id", "parent_id", "_deleted"),
    "territory_members": ("territory_id", "user_id", "active", "_deleted"),
}


def _v7_scope_epoch(tx: Tx) -> None:
    """A counter that every write to what scopes are made of moves (by triggers, whatever path
    writes): servers key the viewers they keep between requests on it (scope.viewer). And
    (PostgreSQL) a writer's first change numbers in one statement (``Tx.expect``)."""
    if columns(tx, "scope_epoch"):
        return  # a database upgraded again from an earlier step (tests of those steps do)
    tx.execute("CREATE TABLE scope_epoch (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL)")
    tx.execute("INSERT INTO scope_epoch (id, epoch) VALUES (1, 1)")
    bump = "UPDATE scope_epoch SET epoch = epoch + 1 WHERE id = 1"
    if tx.dialect == "postgres":
        tx.execute(
            "CREATE FUNCTION fieldrep_scope_changed() RETURNS trigger LANGUAGE plpgsql AS $$"
            f" BEGIN {bump}; RETURN NULL; END $$"
        )
        # A writer's first n change numbers in one round trip: the first as
        # fieldrep_first_version() takes it (locked to COMMIT), then n - 1 more after it.
        tx.execute(
            """CREATE FUNCTION fieldrep_first_versions(n integer) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEXT fieldrep_first_version();
    IF n > 1 THEN
        RETURN QUERY SELECT nextval('change_versions') FROM generate_series(2, n);
    END IF;
END $$"""
        )
    for name, cols in SCOPE_SOURCES.items():
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in cols)
        if tx.dialect == "postgres":
            run = "FOR EACH ROW EXECUTE FUNCTION fieldrep_scope_changed()"
            tx.execute(f"CREATE TRIGGER {name}__scope_new AFTER INSERT OR DELETE ON {name} {run}")
            tx.execute(
                f"CREATE TRIGGER {name}__scope_edit AFTER UPDATE ON {name}"
                f" FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION fieldrep_scope_changed()"
            )
            continue
        for event in ("INSERT", "DELETE"):
            tx.execute(
                f"CREATE TRIGGER {name}__scope_{event.lower()} AFTER {event} ON {name}"
                f" BEGIN {bump}; END"
            )
        tx.execute(
            f"CREATE TRIGGER {name}__scope_edit AFTER UPDATE ON {name}"
            f" WHEN {changed.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN {bump}; END"
        )


STEPS: list[Callable[[Tx], None]] = [
    _v1_baseline,
    _v2_scale_out,
    _v3_row_creators,
    _v4_clock_tags,
    _v5_referral_relationship_consent,
    _v6_territory_referral_sla,
    _v7_scope_epoch,
]
LATEST = len(STEPS)


class ServerSchemaError(Exception):
    """The server database cannot be used by this version (newer, or not a FieldRep database)."""


# -- running them -----------------------------------------------------------------------------


def columns(tx: Tx, name: str) -> set[str]:
    if tx.dialect == "postgres":
        rows = tx.all(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ?",
            (name,),
        )
    else:
        rows = [(r[1],) for r in tx.all(f"PRAGMA table_info({name})")]
    return {r[0] for r in rows}


def catalog_fingerprint() -> str:
    shape = sorted((name, tuple(t.fields)) for name, t in synced_tables().items())
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


def current_version(tx: Tx) -> int:
    if columns(tx, "server_schema"):
        row = tx.one("SELECT version FROM server_schema WHERE id = 1")
        return int(row[0]) if row else 0
    return 1 if columns(tx, "server_state") else 0


def is_ready(tx: Tx) -> bool:
    """True when the database is at the latest version and matches the client catalog (one
    SELECT on a ready database: no DDL, no table locks)."""
    if not columns(tx, "server_schema"):
        return False
    row = tx.one("SELECT version, catalog FROM server_schema WHERE id = 1")
    return row is not None and int(row[0]) == LATEST and row[1] == catalog_fingerprint()


def upgrade(tx: Tx, *, target: int = LATEST, sqlite_path: str | None = None) -> int:
    """Bring the database to ``target``; returns the version it had."""
    version = current_version(tx)
    if version > LATEST:
        raise ServerSchemaError(
            f"the server database has schema {version}, newer than this FieldRep server"
            f" understands ({LATEST}); run the newer server"
        )
    if 0 < version < target and sqlite_path and Path(sqlite_path).exists():
        backup = f"{sqlite_path}.v{version}.bak"
        shutil.copy2(sqlite_path, backup)
        log.info("server database copied to %s before upgrading", backup)
    if not columns(tx, "server_schema"):
        tx.execute(
            "CREATE TABLE server_schema (id INTEGER PRIMARY KEY, version INTEGER NOT NULL,"
            " catalog TEXT NOT NULL DEFAULT '')"
        )
        tx.execute("INSERT INTO server_schema (id, version) VALUES (1, ?)", (version,))
    for number in range(version + 1, target + 1):
        STEPS[number - 1](tx)
        tx.execute("UPDATE server_schema SET version = ? WHERE id = 1", (number,))
        log.info("server database upgraded to schema %s", number)
    if target == LATEST:
        _follow_catalog(tx)
    return version


def _follow_catalog(tx: Tx) -> None:
    """Create synced tables and add columns the client catalog gained since the last start."""
    for name, tbl in synced_tables().items():
        have = columns(tx, name)
        if not have:
            for statement in synced_table_ddl(tx.dialect, name):
                tx.execute(statement)
            continue
        for col in tbl.columns:
            if col.name not in have:
                tx.execute(
                    f"ALTER TABLE {name} ADD COLUMN {col.name} {_col_type(tx.dialect, col.type)}"
                )
    for statement in synced_ddl(tx.dialect):
        if statement.startswith("CREATE INDEX") or statement.startswith("CREATE UNIQUE"):
            tx.execute(statement)
    tx.execute("UPDATE server_schema SET catalog = ? WHERE id = 1", (catalog_fingerprint(),))
