"""Pulled pages against a laptop's pending inserts: an insert's outbox entry stands for its row, so a
row the pull removes must first hand its values to that entry, or the push would have nothing to send."""

from __future__ import annotations

import json
from pathlib import Path

from fieldrep.services.context import Context
from fieldrep.store import outbox
from fieldrep.store.catalog import synced_tables
from fieldrep.sync import local_apply

CLOCK = "0000000000000100-0000-server"


def _page(tbl: str, row_id: str, values: dict[str, object], deleted: bool = False) -> dict:
    columns = [c for c in synced_tables()[tbl].fields if c in values]
    clocks = json.dumps({"_deleted": CLOCK} if deleted else dict.fromkeys(columns, CLOCK))
    row = [row_id, 7, deleted, clocks, *(values[c] for c in columns)]
    return {"tables": {tbl: {"columns": columns, "rows": [row]}}}


def test_evicted_local_row_hands_its_values_to_its_pending_insert(tmp_path: Path) -> None:
    ctx = Context.open(tmp_path / "laptop.db")
    local = ctx.writer.insert("users", {"username": "dana", "role": "rep"})
    page = _page(
        "users",
        "server-dana",
        {"username": "dana", "role": "manager", "created_at": "2026-01-01T00:00:00.000Z"},
    )
    with ctx.writer.transaction() as conn:
        stats = local_apply.PageStats()
        local_apply.apply_page(conn, page, stats)
    assert stats.evicted == 1
    assert [r[0] for r in ctx.db.conn.execute("SELECT id FROM users")] == ["server-dana"]
    (entry,) = outbox.pending(ctx.db.conn, 10)
    assert (entry.row_id, entry.op) == (local, "upsert")
    assert entry.fields["username"] == "dana"
    assert entry.fields["role"] == "rep"
    assert set(entry.clocks) == set(entry.fields)
    stored = ctx.db.conn.execute("SELECT op FROM outbox").fetchone()[0]
    assert stored == "upsert"  # written out, no longer pointing at the row
    ctx.close()


def test_server_tombstone_for_a_pending_insert_keeps_the_values_to_send(tmp_path: Path) -> None:
    ctx = Context.open(tmp_path / "laptop.db")
    acct = ctx.writer.insert("accounts", {"name": "Acme", "city": "Boston"})
    with ctx.writer.transaction() as conn:
        local_apply.apply_page(
            conn, _page("accounts", acct, {}, deleted=True), local_apply.PageStats()
        )
    assert ctx.db.conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0
    (entry,) = outbox.pending(ctx.db.conn, 10)
    assert entry.fields["name"] == "Acme"
    assert entry.fields["city"] == "Boston"
    ctx.close()


def test_pending_fields_reads_only_the_rows_of_the_page(tmp_path: Path) -> None:
    ctx = Context.open(tmp_path / "laptop.db")
    ids = ctx.writer.insert_many("accounts", [{"name": f"A{i}"} for i in range(50)])
    ctx.writer.update("accounts", ids[3], {"notes": "late edit"})
    ctx.writer.delete("accounts", ids[4])
    fields, deletes = local_apply.pending_fields(
        ctx.db.conn, [("accounts", ids[3]), ("accounts", ids[4])]
    )
    assert set(fields) == {("accounts", ids[3]), ("accounts", ids[4])}
    assert deletes == {("accounts", ids[4])}
    notes, clock = fields[("accounts", ids[3])]["notes"]
    assert notes == "late edit"
    assert clock > fields[("accounts", ids[3])]["name"][1]
    ctx.close()


def test_pulled_row_removed_for_a_pending_delete_keeps_a_later_insert_sendable(
    tmp_path: Path,
) -> None:
    """A row deleted here and then written again under the same id (a territory file imported
    back, say) has a pending delete and a pending insert; the pull removes the row again for the
    delete, so the insert entry must first take the row's values."""
    ctx = Context.open(tmp_path / "laptop.db")
    tid = ctx.writer.insert("territories", {"name": "North"})
    ctx.db.conn.execute("DELETE FROM outbox")  # as after a push the server acknowledged
    ctx.writer.delete("territories", tid)
    ctx.writer.insert("territories", {"name": "North again", "priority": 5}, row_id=tid)
    page = _page("territories", tid, {"name": "North, edited", "created_at": "2026-01-01"})
    with ctx.writer.transaction() as conn:
        local_apply.apply_page(conn, page, local_apply.PageStats())
    deleted, inserted = outbox.pending(ctx.db.conn, 10)
    assert deleted.op == "delete"
    assert (inserted.op, inserted.fields["name"], inserted.fields["priority"]) == (
        "upsert",
        "North again",
        5,
    )
    ctx.close()
