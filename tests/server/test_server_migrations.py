"""The server schema is versioned: a database made by the previous release (before versions
existed) is upgraded in place by a new server, keeps every row, and serves laptops; a database
newer than the code is refused. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldrep.server import clock_tags, migrations
from fieldrep.server.migrations import ServerSchemaError
from fieldrep.server.storage import Storage
from fieldrep.server.validate import complete_row
from fieldrep.store.catalog import synced_tables
from tests.server.fixtures.server_storage_v1 import Storage as StorageV1
from tests.sync.harness import PG_BASE, Laptop, LiveServer, password_hash, pg_available

CLOCK = "0000018f00000001@old-laptop"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "server.db")
        return
    if not pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE} and CI=true")
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}")
    import psycopg

    schema = f"fr_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _insert(tx: Any, tbl: str, values: dict[str, Any], version: int) -> None:
    row_id = values.pop("id")
    for stamp in ("created_at", "updated_at"):
        if stamp in synced_tables()[tbl].fields:
            values.setdefault(stamp, "2024-01-01T00:00:00Z")
    full = complete_row(tbl, row_id, values)
    fields = synced_tables()[tbl].fields
    clocks = json.dumps(dict.fromkeys(values, CLOCK))
    tx.execute(
        f"INSERT INTO {tbl} (id, {', '.join(fields)}, _clocks, _version)"
        f" VALUES (?, {', '.join('?' * len(fields))}, ?, ?)",
        (row_id, *(full.get(f) for f in fields), clocks, version),
    )


def _previous_release_database(url: str) -> dict[str, str]:
    """A database made and filled by the previous release's storage code."""
    old = StorageV1(url)
    ids = {"rep": "u-rep", "territory": "t-north", "account": "a-acme"}
    with old.write() as tx:
        top = tx.next_versions(4)
        _insert(tx, "users", {"id": ids["rep"], "username": "rep1", "role": "rep"}, top - 3)
        _insert(tx, "territories", {"id": ids["territory"], "name": "North"}, top - 2)
        _insert(
            tx,
            "territory_members",
            {"id": "m-1", "territory_id": ids["territory"], "user_id": ids["rep"]},
            top - 1,
        )
        _insert(
            tx,
            "accounts",
            {"id": ids["account"], "name": "Acme", "territory_id": ids["territory"]},
            top,
        )
        tx.execute(
            "INSERT INTO credentials (user_id, password_hash) VALUES (?, ?)",
            (ids["rep"], password_hash()),
        )
        tx.execute(
            "INSERT INTO devices (device_id, user_id, last_seq, created_at)"
            " VALUES ('old-laptop', ?, 7, '2024-01-01')",
            (ids["rep"],),
        )
        tx.execute("UPDATE server_state SET max_clock = ? WHERE id = 1", (CLOCK,))
    old.close()
    return ids


def test_a_previous_release_database_is_upgraded_in_place(url: str, tmp_path: Path) -> None:
    ids = _previous_release_database(url)
    storage = Storage(url)
    try:
        with storage.read() as tx:
            assert migrations.current_version(tx) == migrations.LATEST
            assert tx.one("SELECT count(*) FROM accounts")[0] == 1  # type: ignore[index]
            assert tx.one("SELECT user_id, last_seq FROM devices") == (ids["rep"], 7)
            # The largest clock is kept under the device's opaque tag (schema 4).
            secret = clock_tags.load_secret(tx)
            assert tx.max_clock() == clock_tags.tag_clock(secret, CLOCK)
            assert "old-laptop" not in tx.max_clock()
        if storage.dialect == "sqlite":
            assert Path(f"{url}.v1.bak").exists()  # copied aside before the upgrade
        # New change numbers continue after the old ones: nothing hides below a cursor.
        with storage.write() as tx:
            assert tx.next_versions(1) == 5
        server = LiveServer(storage)
        lap = Laptop(tmp_path / "rep1.db", server.url)
        try:
            assert lap.login("rep1") == ids["rep"]
            first = lap.sync()
            assert first.verified is True
            assert set(lap.rows("accounts")) == {ids["account"]}
            lap.writer.update("accounts", ids["account"], {"phone": "555-0199"})
            assert lap.sync().pushed == 1
            with storage.read() as tx:
                version = tx.one("SELECT _version FROM accounts WHERE id = ?", (ids["account"],))
            assert version is not None
            assert int(version[0]) > 5
        finally:
            lap.close()
            server.stop()
    finally:
        storage.close()
    # Opened again: ready, nothing to do.
    again = Storage(url)
    with again.read() as tx:
        assert migrations.is_ready(tx)
    again.close()


def test_a_database_newer_than_the_server_is_refused(url: str) -> None:
    Storage(url).close()
    storage = Storage(url)
    with storage.write() as tx:
        tx.execute("UPDATE server_schema SET version = ? WHERE id = 1", (migrations.LATEST + 1,))
    storage.close()
    with pytest.raises(ServerSchemaError, match="newer than this FieldRep server"):
        Storage(url)


def test_the_v5_step_adds_the_referral_relationship_and_consent_columns(url: str) -> None:
    """A server from before the step (its referrals without the two columns) gains them, and a
    referral already there gets its consent time from its capture (none is saved without)."""
    storage = Storage(url)
    step = migrations.STEPS.index(migrations._v5_referral_relationship_consent) + 1
    with storage.write() as tx:
        _insert(
            tx,
            "referrals",
            {"id": "r-1", "referred_name": "Sam Lee", "created_at": "2025-03-04T10:00:00Z"},
            1,
        )
        tx.execute("ALTER TABLE referrals DROP COLUMN relationship")
        tx.execute("ALTER TABLE referrals DROP COLUMN consent_at")
        tx.execute("UPDATE server_schema SET version = ?, catalog = '' WHERE id = 1", (step - 1,))
    storage.close()
    storage = Storage(url)
    try:
        with storage.read() as tx:
            assert migrations.current_version(tx) == migrations.LATEST
            assert {"relationship", "consent_at"} <= migrations.columns(tx, "referrals")
            assert tx.one("SELECT relationship, consent_at FROM referrals WHERE id = 'r-1'") == (
                None,
                "2025-03-04T10:00:00Z",
            )
    finally:
        storage.close()


def test_the_v6_step_adds_the_territory_referral_sla_column(url: str) -> None:
    """A server from before the step (territories without the SLA) gains the column, and the
    territories already there keep their rows with no SLA set."""
    storage = Storage(url)
    step = migrations.STEPS.index(migrations._v6_territory_referral_sla) + 1
    with storage.write() as tx:
        _insert(tx, "territories", {"id": "t-1", "name": "North", "created_at": "2024-01-01"}, 1)
        tx.execute("ALTER TABLE territories DROP COLUMN referral_sla")
        tx.execute("UPDATE server_schema SET version = ?, catalog = '' WHERE id = 1", (step - 1,))
    storage.close()
    storage = Storage(url)
    try:
        with storage.read() as tx:
            assert migrations.current_version(tx) == migrations.LATEST
            assert "referral_sla" in migrations.columns(tx, "territories")
            assert tx.one("SELECT name, referral_sla FROM territories WHERE id = 't-1'") == (
                "North",
                None,
            )
    finally:
        storage.close()
