"""The writer: every write and its outbox entry commit together, or neither does."""

from __future__ import annotations

import ast
import json
import re
import sqlite3
from pathlib import Path

import pytest

import fieldrep
from fieldrep.services.context import Context
from fieldrep.store import outbox
from fieldrep.store.catalog import synced_tables
from fieldrep.store.errors import StoreError, ValidationError
from fieldrep.store.outbox import ROW_CLOCK, field_clock


def _outbox(ctx: Context) -> list[dict[str, object]]:
    return list(ctx.db.query("SELECT * FROM outbox ORDER BY seq"))


def test_insert_update_delete_each_append_to_outbox(ctx: Context) -> None:
    w = ctx.writer
    account = w.insert("accounts", {"name": "Acme", "postal_code": "02139"})
    changed = w.update("accounts", account, {"name": "Acme Inc", "postal_code": "02139"})
    assert set(changed) == {"name", "updated_at"}  # postal_code did not change
    assert w.update("accounts", account, {"name": "Acme Inc"}) == {}
    assert w.delete("accounts", account)
    assert not w.delete("accounts", account)

    entries = _outbox(ctx)
    assert [(e["op"], e["row_id"]) for e in entries] == [
        ("upsert", account),
        ("upsert", account),
        ("delete", account),
    ]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    # The insert's entry stood for its row; the edit wrote the row as inserted into it first.
    first = json.loads(str(entries[0]["fields"]))
    first_clocks = json.loads(str(entries[0]["clocks"]))
    second_clocks = json.loads(str(entries[1]["clocks"]))
    assert first["name"] == "Acme"
    assert first["postal_code"] == "02139"
    assert set(first_clocks) == set(first)
    assert first_clocks["name"] == first_clocks["postal_code"] < second_clocks["name"]
    assert json.loads(str(entries[1]["fields"]))["name"] == "Acme Inc"
    tomb = ctx.db.execute("SELECT clock FROM tombstones WHERE row_id = ?", [account]).fetchone()
    assert tomb is not None
    assert tomb[0].endswith("@" + w.device_id)


def test_field_clocks_advance_only_for_changed_fields(ctx: Context) -> None:
    w = ctx.writer
    account = w.insert("accounts", {"name": "Acme", "city": "Boston"})
    before = json.loads(ctx.db["accounts"].get(account)["_clocks"])
    assert set(before) == {ROW_CLOCK}  # one row clock stands for every field of a new row
    w.update("accounts", account, {"city": "Cambridge"})
    after = json.loads(ctx.db["accounts"].get(account)["_clocks"])
    assert field_clock(after, "name") == field_clock(before, "name")
    assert field_clock(after, "city") > field_clock(before, "city")


def test_insert_entry_stands_for_its_row_until_sent(ctx: Context) -> None:
    w = ctx.writer
    account = w.insert("accounts", {"name": "Acme", "city": "Boston"})
    stored = _outbox(ctx)
    assert [(e["op"], e["fields"], e["clocks"]) for e in stored] == [("insert", "{}", "{}")]
    row_clock = json.loads(ctx.db["accounts"].get(account)["_clocks"])[ROW_CLOCK]
    (sent,) = outbox.pending(ctx.db.conn, 10)
    # the row as it is, every field with its clock, defaults included
    assert sent.op == "upsert"
    assert (sent.fields["city"], sent.fields["status"]) == ("Boston", "prospect")
    assert sent.clocks["name"] == sent.clocks["status"] == row_clock
    assert set(sent.clocks) == set(sent.fields) == set(synced_tables()["accounts"].fields)


def test_edit_keeps_the_insert_entry_as_inserted(ctx: Context) -> None:
    """An insert may already have reached the server with its answer lost: the retry must send
    the same mutation under the same number, so an edit must not change what the insert sends."""
    w = ctx.writer
    account = w.insert("accounts", {"name": "Acme", "city": "Boston"})
    before = outbox.pending(ctx.db.conn, 10)
    w.update("accounts", account, {"city": "Cambridge"})
    sent = outbox.pending(ctx.db.conn, 10)
    assert sent[0] == before[0]
    assert [op for (op,) in ctx.db.conn.execute("SELECT op FROM outbox ORDER BY seq")] == [
        "upsert",
        "upsert",
    ]
    assert sent[0].fields["city"] == "Boston"
    assert sent[1].fields == {"city": "Cambridge", "updated_at": sent[1].fields["updated_at"]}
    assert sent[1].clocks["city"] > sent[0].clocks["city"]


def test_outbox_refuses_an_insert_entry_whose_row_vanished(ctx: Context) -> None:
    account = ctx.writer.insert("accounts", {"name": "Acme"})
    ctx.db.conn.execute("DELETE FROM accounts WHERE id = ?", (account,))  # bypassing the writer
    with pytest.raises(sqlite3.IntegrityError, match="no longer there"):
        outbox.pending(ctx.db.conn, 10)


def test_failed_insert_leaves_neither_row_nor_outbox(ctx: Context) -> None:
    w = ctx.writer
    with pytest.raises(ValidationError, match=r"accounts\.lat"):
        w.insert("accounts", {"name": "Nowhere", "lat": 123.0})
    assert ctx.db["accounts"].count == 0
    assert _outbox(ctx) == []


def test_failed_bulk_insert_is_all_or_nothing(ctx: Context) -> None:
    rows = [{"name": f"Shop {i}"} for i in range(500)] + [{"name": None}]
    with pytest.raises(ValidationError, match=r"accounts\.name is required"):
        ctx.writer.insert_many("accounts", rows)
    assert ctx.db["accounts"].count == 0
    assert _outbox(ctx) == []


def test_exception_inside_transaction_rolls_back_every_write(ctx: Context) -> None:
    w = ctx.writer

    def write_then_crash() -> None:
        with w.transaction():
            w.insert("accounts", {"name": "A"})
            w.insert("contacts", {"first_name": "B"})
            raise RuntimeError("crash between writes")

    with pytest.raises(RuntimeError):
        write_then_crash()
    assert ctx.db["accounts"].count == 0
    assert ctx.db["contacts"].count == 0
    assert _outbox(ctx) == []


def test_failed_update_leaves_row_and_outbox_as_they_were(ctx: Context) -> None:
    w = ctx.writer
    account = w.insert("accounts", {"name": "Acme"})
    row_before = ctx.db["accounts"].get(account)
    outbox_before = _outbox(ctx)
    with pytest.raises(ValidationError, match="status"):
        w.update("accounts", account, {"name": "Renamed", "status": "bogus"})
    assert ctx.db["accounts"].get(account) == row_before
    assert _outbox(ctx) == outbox_before


def test_unknown_table_or_field_is_refused(ctx: Context) -> None:
    with pytest.raises(KeyError, match="unknown table"):
        ctx.writer.insert("accounts; DROP TABLE users", {"name": "x"})
    with pytest.raises(ValidationError, match="no field 'nam'"):
        ctx.writer.insert("accounts", {"nam": "x"})
    with pytest.raises(ValidationError, match="no field"):
        ctx.writer.update("accounts", "x", {"_clocks": "{}"})


def test_insert_only_tables_refuse_edits(ctx: Context) -> None:
    visit = ctx.writer.insert(
        "visits", {"account_id": "a", "user_id": "u", "visited_at": "2026-11-20T10:00:00Z"}
    )
    with pytest.raises(ValidationError, match="cannot be changed"):
        ctx.writer.update("visits", visit, {"notes": "later"})
    with pytest.raises(ValidationError, match="cannot be deleted"):
        ctx.writer.delete("visits", visit)


def test_update_of_missing_row_is_a_clear_error(ctx: Context) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        ctx.writer.update("accounts", "nope", {"name": "x"})


def test_device_id_and_clock_survive_reopening(db_path: Path) -> None:
    first = Context.open(db_path)
    device = first.writer.device_id
    first.writer.insert("accounts", {"name": "A"})
    last = first.writer.clock.last
    first.close()
    second = Context.open(db_path)
    assert second.writer.device_id == device
    assert second.writer.clock.last == last
    assert second.writer.clock.now() > last
    second.close()


def test_two_connections_of_one_device_never_step_back_in_clock(db_path: Path) -> None:
    """The UI's write lane and the sync lane each hold a Writer; their stamps must interleave."""
    lane_a = Context.open(db_path)
    lane_b = Context.open(db_path)
    try:
        account = lane_a.writer.insert("accounts", {"name": "A"})
        # Lane A runs ahead (as after observing a server clock), then lane B writes.
        lane_a.writer.clock.catch_up(lane_a.writer.clock.last + 10**9)
        lane_a.writer.update("accounts", account, {"name": "A2"})
        ahead = lane_a.writer.clock.last
        lane_b.writer.update("accounts", account, {"name": "B"})
        assert lane_b.writer.clock.last > ahead
        clocks = json.loads(lane_b.db.execute("SELECT _clocks FROM accounts").fetchone()[0])
        assert clocks["name"] > field_clock(clocks, "created_at")
    finally:
        lane_a.close()
        lane_b.close()
    reopened = Context.open(db_path)
    try:
        assert reopened.writer.clock.last > ahead
    finally:
        reopened.close()


def test_write_committed_before_a_killed_process_is_durable(db_path: Path) -> None:
    """A second connection (as after a crash and restart) sees committed rows and their outbox."""
    ctx = Context.open(db_path)
    ctx.writer.insert("accounts", {"name": "Durable"})
    other = sqlite3.connect(db_path)
    assert other.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
    assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
    other.close()
    ctx.close()


WRITE_SQL = re.compile(
    r"\b(?:(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|DELETE\s+FROM|REPLACE\s+INTO)\s+[\"'`\[]?(\w+)"
    r"|UPDATE\s+(?:OR\s+\w+\s+)?[\"'`\[]?(\w+)[\"'`\]]?\s+SET\b)",
    re.IGNORECASE,
)
# Modules allowed to write synced tables without the outbox: the writer itself, and the sync engine
# and server, which apply changes that came FROM the server and must not echo back into the outbox.
# Schema steps may fill a column they add, as the server's matching step does on its side (v9:
# consent_at from created_at), so laptops and server agree without a synced write.
ALLOWED_WRITERS = {"store/writer.py", "store/migrations.py"}
ALLOWED_PREFIXES = ("sync/", "server/")


def test_no_module_writes_synced_tables_around_the_writer() -> None:
    """Static guard: raw SQL writing a synced table appears only in the writer (and sync/server)."""
    root = Path(fieldrep.__file__).parent
    synced = set(synced_tables())
    offenders: list[str] = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        if rel in ALLOWED_WRITERS or rel.startswith(ALLOWED_PREFIXES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for match in WRITE_SQL.finditer(node.value):
                    if (match.group(1) or match.group(2)).lower() in synced:
                        offenders.append(f"{rel}:{node.lineno}: {match.group(0)}")
    assert offenders == []


def test_no_module_uses_sqlite_utils_writes_on_synced_tables() -> None:
    """sqlite-utils' insert/upsert/update/delete bypass the outbox (and commit on their own)."""
    root = Path(fieldrep.__file__).parent
    pattern = re.compile(
        r"\[\s*[\"'](" + "|".join(synced_tables()) + r")[\"']\s*\]\s*\.\s*"
        r"(insert|insert_all|upsert|upsert_all|update|delete|delete_where)\b"
    )
    offenders = [
        f"{p.relative_to(root)}: {m.group(0)}"
        for p in root.rglob("*.py")
        for m in pattern.finditer(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


KILLED_WRITER = """
import sys
from fieldrep.services.context import Context
ctx = Context.open(sys.argv[1])
ctx.writer.insert("accounts", {"name": "committed before the crash"})
with ctx.writer.transaction():
    ctx.writer.insert_many("accounts", [{"name": f"half {i}"} for i in range(5000)])
    print("inside", flush=True)
    sys.stdin.readline()  # wait here, mid-transaction, until the parent kills us
"""


def test_process_killed_mid_transaction_leaves_no_half_write(db_path: Path) -> None:
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "inside"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ctx = Context.open(db_path)
    try:
        names = [r["name"] for r in ctx.db.query("SELECT name FROM accounts")]
        assert names == ["committed before the crash"]
        assert ctx.writer.pending_count() == 1
    finally:
        ctx.close()


def test_error_after_sqlite_rolled_back_by_itself_is_the_one_raised(ctx: Context) -> None:
    """When SQLite has already ended the transaction (as on a full disk), the caller sees the
    original error, not a second one from the writer's own ROLLBACK."""

    def fail_after_sqlite_rolled_back() -> None:
        with ctx.writer.transaction() as conn:
            ctx.writer.insert("accounts", {"name": "Half-way"})
            conn.execute("ROLLBACK")  # what SQLite does by itself on some errors
            raise ValueError("the real problem")

    with pytest.raises(ValueError, match="the real problem"):
        fail_after_sqlite_rolled_back()
    assert ctx.db["accounts"].count == 0
    assert ctx.writer.insert("accounts", {"name": "Next"})  # the writer is usable again


def test_bulk_insert_stamps_after_catching_up_with_the_other_lane(db_path: Path) -> None:
    """A row written again under its id (a re-imported territory) must not get a clock below the
    delete another lane stamped, or the tombstone would win on the server and the row vanish."""
    lane_a = Context.open(db_path)
    lane_b = Context.open(db_path)
    try:
        row = lane_b.writer.insert("accounts", {"name": "Again"})
        lane_b.writer.clock.catch_up(lane_b.writer.clock.last + 10**9)  # B saw a newer server clock
        lane_b.writer.delete("accounts", row)
        tomb = lane_b.db.execute("SELECT clock FROM tombstones WHERE row_id = ?", [row]).fetchone()
        lane_a.writer.insert_many("accounts", [{"name": "Again"}], row_ids=[row])
        clocks = json.loads(lane_a.db.execute("SELECT _clocks FROM accounts").fetchone()[0])
        assert field_clock(clocks, "name") > tomb[0]
    finally:
        lane_a.close()
        lane_b.close()
