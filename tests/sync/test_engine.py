"""Engine and server details: when checksums are compared, a pulled row taking a user name a refused
local row holds, a synced user getting a password, and a pull never passing a commit in flight."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fieldrep.cli import main
from fieldrep.server import admin
from fieldrep.server.pull import pull
from fieldrep.server.storage import Storage
from fieldrep.services.context import Context
from fieldrep.store import local_meta
from fieldrep.sync.client import SyncEngine
from fieldrep.sync.protocol import PullRequest
from fieldrep.sync.transport import AuthRequired
from tests.sync.harness import Laptop, Org, account, server_row, server_view

Make = Callable[[str], Laptop]


def test_checksums_are_compared_when_due(storage: Storage, org: Org, laptop: Make) -> None:
    rep = laptop("rep1")
    rep.login("rep1")
    first = SyncEngine(rep.writer, rep.transport).run()
    assert first.verified is True  # never checked before: due
    routine = SyncEngine(rep.writer, rep.transport).run()
    assert routine.verified is None  # checked moments ago: not due
    forced = SyncEngine(rep.writer, rep.transport, verify_every=0).run()
    assert forced.verified is True
    # A laptop that drifted is caught at the next due check and repaired by a replacement sync.
    (a1,) = admin.put_rows(storage, "accounts", [account(org.t1, "Real")])
    rep.sync()
    rep.ctx.db.conn.execute("DELETE FROM accounts WHERE id = ?", (a1,))
    repaired = SyncEngine(rep.writer, rep.transport, verify_every=0).run()
    assert repaired.replaced is True
    assert repaired.verified is True
    assert set(rep.rows("accounts")) == {a1}


def test_server_user_replaces_a_refused_local_user_of_the_same_name(
    storage: Storage, org: Org, laptop: Make
) -> None:
    # An admin laptop created "dana" offline while the server got its own "dana".
    boss = laptop("admin")
    boss.login("admin")
    boss.sync()
    local = boss.writer.insert("users", {"username": "dana", "role": "rep"})
    server_dana = admin.add_user(storage, "dana", "rep", "dana's password")
    result = boss.sync()
    assert result.rejected == 1
    users = boss.rows("users")
    assert local not in users
    assert users[server_dana]["username"] == "dana"
    refused = [c for c in boss.conflicts() if c["row_id"] == local]
    assert refused
    assert all(c["kept_clock"] == "rejected" for c in refused)
    assert "user name 'dana' is already taken" in refused[0]["kept_value"]
    assert boss.rows("users") == server_view(storage, org.admin, "users")


def test_a_user_synced_from_a_laptop_can_be_given_a_password(
    storage: Storage, org: Org, laptop: Make
) -> None:
    boss = laptop("admin")
    boss.login("admin")
    eve = boss.writer.insert("users", {"username": "eve", "role": "rep"})
    boss.sync()
    assert admin.add_user(storage, "eve", "manager", "eve's password!") == eve
    lap = laptop("eve")
    assert lap.login("eve", "eve's password!") == eve
    lap.sync()
    assert lap.rows("users")[eve]["role"] == "manager"


def _rows_seen(storage: Storage, user_id: str, cursor: int) -> tuple[int, set[str]]:
    """Pull everything after ``cursor`` from another thread (its own connection)."""
    out: dict[str, Any] = {}

    def run() -> None:
        key = pull(storage, user_id, PullRequest(cursor=0, limit=1))["scope_key"]
        out["page"] = pull(storage, user_id, PullRequest(cursor=cursor, limit=5000, scope_key=key))

    t = threading.Thread(target=run)
    t.start()
    t.join()
    page = out["page"]
    assert page["reset"] is None
    ids = {r[0] for body in page["tables"].values() for r in body["rows"]}
    return int(page["cursor"]), ids


def test_pull_cursor_never_passes_a_commit_in_flight(storage: Storage, org: Org) -> None:
    cursor, _ = _rows_seen(storage, org.admin, 0)
    with storage.write() as tx:
        version = tx.next_versions(1)
        tx.execute(
            "INSERT INTO accounts (id, name, status, created_at, updated_at, _clocks, _version)"
            " VALUES (?, ?, 'active', 'x', 'x', '{}', ?)",
            ("late-1", "committed late", version),
        )
        during, ids = _rows_seen(storage, org.admin, cursor)
        assert "late-1" not in ids
        assert during < version
    after, ids = _rows_seen(storage, org.admin, during)
    assert "late-1" in ids
    assert after >= version
    assert "late-1" in server_view(storage, org.admin, "accounts")


def test_laptop_offline_longer_than_tombstones_are_kept(
    storage: Storage, org: Org, laptop: Make, capsys: pytest.CaptureFixture[str]
) -> None:
    a1, a2 = admin.put_rows(storage, "accounts", [account(org.t1, "A"), account(org.t1, "B")])
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    boss = laptop("boss")
    boss.login("manager")
    boss.sync()
    # While the rep is offline: the boss deletes A, and the server forgets that deletion.
    boss.writer.delete("accounts", a1)
    boss.sync()
    rep.writer.update("accounts", a2, {"notes": "written offline"})
    assert main(["server", "purge-tombstones", "--older-than-days", "0", "--db", storage.url]) == 0
    assert "forgot 1 deletion(s)" in capsys.readouterr().out
    with storage.read() as tx:
        assert tx.one("SELECT count(*) FROM accounts WHERE id = ?", (a1,)) == (0,)
    result = rep.sync()
    # The rep's cursor is older than what the server still knows: a replacement sync, which
    # pushes the outbox first, removes A (no resurrection) and keeps the offline edit.
    assert result.replaced is True
    assert result.pushed == 1
    assert set(rep.rows("accounts")) == {a2}
    assert rep.rows("accounts")[a2]["notes"] == "written offline"
    assert rep.rows("accounts") == server_view(storage, org.rep1, "accounts")
    assert result.verified is True


def test_a_copied_database_becomes_a_laptop_of_its_own(
    storage: Storage, org: Org, laptop: Make, tmp_path: Path
) -> None:
    original = laptop("original")
    original.login("rep1")
    original.sync()
    # The rep copies the database to a second laptop (or restores last week's backup).
    dst = sqlite3.connect(tmp_path / "copy.db")
    original.ctx.db.conn.backup(dst)
    dst.close()
    copy = laptop("copy")
    copy.ctx.close()
    copy.ctx = Context.open(tmp_path / "copy.db")
    copy.transport.token = local_meta.get(copy.ctx.db.conn, "device_token")
    assert copy.writer.device_id == original.writer.device_id

    first = original.writer.insert("accounts", account(org.t1, "from the original"))
    original.writer.insert("accounts", account(org.t1, "original, second"))
    original.sync()
    # The copy numbers its next change like the original did: the server must not skip it.
    mine = copy.writer.insert("accounts", account(org.t1, "from the copy"))
    with pytest.raises(AuthRequired, match="copied from another laptop"):
        copy.sync()
    assert copy.writer.pending_count() == 1
    assert server_row(storage, "accounts", mine) is None
    old_device = copy.writer.device_id
    copy.login("rep1")
    assert copy.writer.device_id != old_device
    result = copy.sync()
    assert result.pushed == 1
    assert server_row(storage, "accounts", mine) is not None
    assert server_row(storage, "accounts", first) is not None
    original.sync()
    for lap in (original, copy):
        assert lap.rows("accounts") == server_view(storage, org.rep1, "accounts")
    # The original carries on under its own number, untouched.
    original.writer.insert("accounts", account(org.t1, "original, later"))
    assert original.sync().pushed == 1
