"""Opening and migrating databases: empty -> latest, saved fixtures -> latest, and every bad input."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from fieldrep.store import migrations
from fieldrep.store.catalog import synced_tables
from fieldrep.store.db import open_db
from fieldrep.store.errors import NewerDatabaseError, StoreError
from fieldrep.store.migrations import LATEST_VERSION, schema_version

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED_TABLES = {
    "users",
    "territories",
    "territory_members",
    "assignment_history",
    "accounts",
    "contacts",
    "visits",
    "tasks",
    "deals",
    "quotas",
    "referrals",
    "referral_events",
    "reward_rules",
    "rewards",
    "notifications",
}


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def test_empty_database_migrates_to_latest_with_pragmas(db_path: Path) -> None:
    db = open_db(db_path)
    conn = db.conn
    assert schema_version(conn) == LATEST_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert set(db.table_names()) >= EXPECTED_TABLES
    assert set(synced_tables()) == EXPECTED_TABLES
    # A fresh database needs no backup copy.
    assert not list(db_path.parent.glob("*.bak"))
    conn.close()


def test_every_synced_table_has_uuid_key_and_sync_metadata(db_path: Path) -> None:
    db = open_db(db_path)
    for name in EXPECTED_TABLES:
        cols = {c.name: c for c in db[name].columns}
        assert cols["id"].is_pk, name
        assert {"_clocks", "_version"} <= set(cols), name
    db.conn.close()


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("schema_v*.sqlite")), ids=lambda p: p.stem)
def test_saved_fixture_migrates_to_latest_keeping_rows(tmp_path: Path, fixture: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(fixture, path)
    old_version = int(fixture.stem.removeprefix("schema_v"))
    db = open_db(path)
    assert schema_version(db.conn) == LATEST_VERSION
    assert db["accounts"].count == 1
    assert next(db["accounts"].rows)["name"] == "Acme Tools"
    assert db["visits"].count == 1
    backups = list(tmp_path.glob("old.db.v*.bak"))
    if old_version < LATEST_VERSION:
        assert [b.name for b in backups] == [f"old.db.v{old_version}.bak"]
    db.conn.close()


def test_opening_twice_is_idempotent(db_path: Path) -> None:
    open_db(db_path).conn.close()
    db = open_db(db_path)
    assert schema_version(db.conn) == LATEST_VERSION
    db.conn.close()


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    db_path = tmp_path / "newer.db"
    shutil.copy(FIXTURES / "schema_v1.sqlite", db_path)  # rollback-journal mode, as saved
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = _digest(db_path)
    with pytest.raises(NewerDatabaseError, match="newer FieldRep"):
        open_db(db_path)
    assert _digest(db_path) == before
    assert not Path(f"{db_path}-wal").exists()


def test_non_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 50)
    before = _digest(path)
    with pytest.raises(StoreError, match="not a FieldRep database"):
        open_db(path)
    assert _digest(path) == before


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE foo (x)")
    other.execute("INSERT INTO foo VALUES (1)")
    other.commit()
    other.close()
    before = _digest(path)
    with pytest.raises(StoreError, match=r"another program's SQLite database .* 'foo'"):
        open_db(path)
    assert _digest(path) == before
    assert not Path(f"{path}-wal").exists()
    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file is a new database
    assert open_db(empty).conn.execute("PRAGMA user_version").fetchone()[0] > 0


def test_corrupt_sqlite_file_is_refused_untouched(tmp_path: Path, db_path: Path) -> None:
    db = open_db(db_path)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # smash the schema page, keep the header
    path = tmp_path / "corrupt.db"
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(StoreError):
        open_db(path)
    assert _digest(path) == before


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        open_db(tmp_path)


def test_read_only_folder_is_refused_even_for_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores permission bits, so emulate what os.access reports for a read-only mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access

    def access(path: object, mode: int) -> bool:
        if Path(str(path)) == folder and mode & os.W_OK:
            return False
        return real_access(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(StoreError, match="read-only"):
        open_db(folder / "x.db")
    assert not (folder / "x.db").exists()


def test_failed_migration_step_rolls_back_and_leaves_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails half-way (as on a full disk) must leave the old schema and rows intact."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_v1.sqlite", path)

    def broken_step(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x INTEGER)")
        conn.execute("ALTER TABLE accounts ADD COLUMN half_done INTEGER")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken_step])
    monkeypatch.setattr(migrations, "LATEST_VERSION", len(migrations.MIGRATIONS))
    with pytest.raises(StoreError, match=r"disk is full.*left as it was"):
        open_db(path)
    conn = sqlite3.connect(path)
    try:
        assert schema_version(conn) == len(migrations.MIGRATIONS) - 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
        cols = {r[1] for r in conn.execute("PRAGMA table_info(accounts)")}
        assert "half_done" not in cols
        assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
    finally:
        conn.close()
    # The copy taken before migrating is a complete, openable database.
    backup = tmp_path / "old.db.v1.bak"
    check = sqlite3.connect(backup)
    assert check.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
    check.close()


def test_backup_failure_stops_before_migrating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_v1.sqlite", path)
    ran: list[bool] = []

    def new_step(conn: sqlite3.Connection) -> None:
        ran.append(True)

    def failing_backup(conn: sqlite3.Connection, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, new_step])
    monkeypatch.setattr(migrations, "LATEST_VERSION", len(migrations.MIGRATIONS))
    monkeypatch.setattr(migrations, "backup", failing_backup)
    with pytest.raises(StoreError, match="nothing was changed"):
        open_db(path)
    assert not ran


def test_v3_outbox_rebuild_keeps_entries_and_the_mutation_sequence(tmp_path: Path) -> None:
    """The outbox's AUTOINCREMENT counter is this device's mutation sequence: after the rebuild the
    next entry must continue it, even when every earlier entry was already sent and removed."""
    path = tmp_path / "v2.db"
    shutil.copy(FIXTURES / "schema_v2.sqlite", path)
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("DELETE FROM outbox WHERE seq <= 4")  # as after a push acknowledged them
    raw.execute("UPDATE sqlite_sequence SET seq = 41 WHERE name = 'outbox'")
    kept = raw.execute("SELECT * FROM outbox").fetchall()
    raw.close()
    db = open_db(path)
    assert db.conn.execute("SELECT * FROM outbox").fetchall() == kept
    db.conn.execute(
        "INSERT INTO outbox (tbl, row_id, op, created_at) VALUES ('accounts', 'x', 'insert', 'now')"
    )
    assert db.conn.execute("SELECT max(seq) FROM outbox").fetchone()[0] == 42
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        db.conn.execute(
            "INSERT INTO outbox (tbl, row_id, op, created_at) VALUES ('accounts', 'x', 'merge', 'n')"
        )
    indexes = {r[1] for r in db.conn.execute("PRAGMA index_list(outbox)")}
    assert "outbox_row" in indexes
    db.conn.close()


def test_v4_queues_every_account_for_its_duplicate_keys(tmp_path: Path) -> None:
    """The keys take Python to derive: the step queues every account, the next import files them."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_v3.sqlite", path)
    db = open_db(path)
    conn = db.conn
    assert schema_version(conn) == LATEST_VERSION
    queued = conn.execute("SELECT account, old FROM account_keys_queue").fetchall()
    assert queued == [(r[0], 0) for r in conn.execute("SELECT rowid FROM accounts")]
    assert conn.execute("SELECT count(*) FROM account_keys").fetchone()[0] == 0
    # and from now on every write to an account queues it, with what it held before
    (account,) = conn.execute("SELECT id FROM accounts").fetchone()
    conn.execute("DELETE FROM account_keys_queue")
    conn.execute("UPDATE accounts SET notes = 'no key column' WHERE id = ?", (account,))
    assert conn.execute("SELECT count(*) FROM account_keys_queue").fetchone()[0] == 0
    conn.execute("UPDATE accounts SET phone = '617-555-0199' WHERE id = ?", (account,))
    conn.execute("DELETE FROM accounts WHERE id = ?", (account,))
    rows = conn.execute("SELECT old, name, phone FROM account_keys_queue ORDER BY seq").fetchall()
    # the delete's values were never filed: the first change's old values are the ones to drop
    assert rows == [(1, "Acme Tools", None), (0, None, None)]
    db.conn.close()


def test_local_only_steps_leave_the_synced_schema_and_its_version_alone() -> None:
    """The server refuses a laptop whose schema version differs from its own: steps past
    SYNCED_SCHEMA_VERSION must not change a synced table (raise it with one that does)."""
    from fieldrep.sync.protocol import SCHEMA_VERSION

    def synced_shape(steps: int) -> dict[str, list[tuple[object, ...]]]:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        for step in migrations.MIGRATIONS[:steps]:
            step(conn)
        shape = {
            name: conn.execute("SELECT * FROM pragma_table_info(?)", (name,)).fetchall()
            for name in synced_tables()
        }
        conn.close()
        return shape

    assert SCHEMA_VERSION == migrations.SYNCED_SCHEMA_VERSION <= LATEST_VERSION
    assert synced_shape(migrations.SYNCED_SCHEMA_VERSION) == synced_shape(LATEST_VERSION)


def test_v5_counts_a_members_accounts_in_a_territory_from_one_index(db_path: Path) -> None:
    db = open_db(db_path)
    plan = " ".join(
        r[3]
        for r in db.conn.execute(
            "EXPLAIN QUERY PLAN SELECT count(*) FROM accounts WHERE owner_id = ?"
            " AND territory_id = ?",
            ("u", "t"),
        )
    )
    assert "COVERING INDEX accounts_owner_territory" in plan
    indexes = {r[0] for r in db.conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "accounts_owner" not in indexes
    db.conn.close()


def test_v7_queues_every_account_contact_and_referral_for_the_match_index(
    tmp_path: Path,
) -> None:
    """The referral duplicate check's keys take Python: the step queues every row, and from then
    on every write to a key column queues its row again, whatever wrote it."""
    path = tmp_path / "old.db"
    shutil.copy(FIXTURES / "schema_v3.sqlite", path)
    db = open_db(path)
    conn = db.conn
    queued = conn.execute("SELECT tbl, count(*) FROM match_queue GROUP BY tbl").fetchall()
    counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("accounts",)}
    assert dict(queued).get("accounts") == counts["accounts"] > 0
    (account,) = conn.execute("SELECT id FROM accounts").fetchone()
    conn.execute("DELETE FROM match_queue")
    conn.execute("UPDATE accounts SET notes = 'no key column' WHERE id = ?", (account,))
    assert conn.execute("SELECT count(*) FROM match_queue").fetchone()[0] == 0
    conn.execute("UPDATE accounts SET phone = '617-555-0199' WHERE id = ?", (account,))
    conn.execute("UPDATE accounts SET website = 'acme.com' WHERE id = ?", (account,))
    assert conn.execute("SELECT tbl, row_id FROM match_queue").fetchall() == [("accounts", account)]
    conn.execute("DELETE FROM match_queue")
    conn.execute("DELETE FROM accounts WHERE id = ?", (account,))
    assert conn.execute("SELECT tbl, row_id FROM match_queue").fetchall() == [("accounts", account)]
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"referrals_stage_created", "referrals_duplicate_of", "tasks_referral"} <= indexes
    db.conn.close()


def test_v8_reward_ledger_keeps_old_rows_and_widens_what_is_allowed(tmp_path: Path) -> None:
    """Numbered v8 (other branches add v6 and v7): the rebuilt reward tables keep every row and
    every old value, and take the new statuses, cents and a unique ledger key."""
    path = tmp_path / "before.db"
    raw = sqlite3.connect(path, isolation_level=None)
    step = migrations.MIGRATIONS.index(migrations._v8_rewards_ledger)
    for number, migration in enumerate(migrations.MIGRATIONS[:step], start=1):
        migration(raw)
        raw.execute(f"PRAGMA user_version = {number}")
    raw.execute(
        "INSERT INTO reward_rules (id, name, recipient, kind, amount, created_at)"
        " VALUES ('rule1', 'Gift card', 'referrer', 'fixed', 50.0, '2026-01-01')"
    )
    raw.execute(
        "INSERT INTO rewards (id, referral_id, rule_id, amount, status, created_at)"
        " VALUES ('w1', 'ref1', 'rule1', 50.0, 'revoked', '2026-01-02')"
    )
    raw.execute(
        "INSERT INTO notifications (id, subject, status, created_at)"
        " VALUES ('n1', 'Hello', 'read', '2026-01-03')"
    )
    raw.execute("INSERT INTO contacts (id, first_name, created_at) VALUES ('c1', 'Jo', 'x')")
    raw.close()
    db = open_db(path)
    conn = db.conn
    assert conn.execute("SELECT id, amount, status, ledger_key FROM rewards").fetchall() == [
        ("w1", 50.0, "revoked", None)
    ]
    assert conn.execute("SELECT name, version, recipient FROM reward_rules").fetchall() == [
        ("Gift card", 1, "referrer")
    ]
    assert conn.execute("SELECT status, attempts FROM notifications").fetchall() == [("read", 0)]
    assert conn.execute("SELECT referral_consent FROM contacts").fetchall() == [(0,)]
    conn.execute(
        "INSERT INTO rewards (id, referral_id, amount, amount_cents, status, ledger_key,"
        " created_at) VALUES ('w2', 'ref1', 5.0, 500, 'on_hold', 'ref1:r:won', 'x')"
    )
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(
            "INSERT INTO rewards (id, referral_id, amount, status, ledger_key, created_at)"
            " VALUES ('w3', 'ref1', 5.0, 'awaiting_approval', 'ref1:r:won', 'x')"
        )
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute(
            "INSERT INTO reward_rules (id, name, kind, percent_bp, created_at)"
            " VALUES ('r2', 'Too much', 'percent', 10001, 'x')"
        )
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"rewards_referral", "rewards_status", "rewards_ledger_key"} <= indexes
    assert step + 1 <= migrations.SYNCED_SCHEMA_VERSION  # a synced change (later ones raise it)
    conn.close()


def test_v9_gives_referrals_their_relationship_and_consent_time(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "book.db", isolation_level=None)
    step = migrations.MIGRATIONS.index(migrations._v9_referral_relationship_consent) + 1
    for version, migrate_step in enumerate(migrations.MIGRATIONS[: step - 1], start=1):
        migrate_step(conn)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO referrals (id, referred_name, created_at, updated_at)"
        " VALUES ('r1', 'Sam Lee', '2025-03-04T10:00:00Z', '2025-03-04T10:00:00Z')"
    )
    migrations.migrate(conn)
    assert conn.execute("SELECT relationship, consent_at FROM referrals").fetchall() == [
        (None, "2025-03-04T10:00:00Z")
    ]
    assert step <= migrations.SYNCED_SCHEMA_VERSION  # a synced table changed: the server must know
    assert {"relationship", "consent_at"} <= set(synced_tables()["referrals"].fields)
    conn.close()


def test_v10_gives_territories_a_referral_sla_that_syncs(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "book.db", isolation_level=None)
    step = migrations.MIGRATIONS.index(migrations._v10_territory_referral_sla) + 1
    for version, migrate_step in enumerate(migrations.MIGRATIONS[: step - 1], start=1):
        migrate_step(conn)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.execute(
        "INSERT INTO territories (id, name, created_at) VALUES ('t1', 'North', '2025-03-04')"
    )
    migrations.migrate(conn)
    assert conn.execute("SELECT name, referral_sla FROM territories").fetchall() == [
        ("North", None)  # not set: the laptop's own setting, then the defaults, apply
    ]
    assert step == migrations.SYNCED_SCHEMA_VERSION  # a synced table changed: the server must know
    assert "referral_sla" in synced_tables()["territories"].fields
    conn.close()
