"""Laptops editing offline and converging through the real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from fieldrep.domain.hlc import HybridLogicalClock
from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.store import local_meta
from fieldrep.store.writer import Writer
from fieldrep.sync import local_apply
from tests.sync.harness import Laptop, Org, account, server_row, server_view

Make = Callable[[str], Laptop]


def _signed_in(laptop: Make, name: str, user: str) -> Laptop:
    lap = laptop(name)
    lap.login(user)
    lap.sync()
    return lap


def test_two_reps_and_a_manager_converge(storage: Storage, org: Org, laptop: Make) -> None:
    a1, a2 = admin.put_rows(
        storage, "accounts", [account(org.t1, "North Co"), account(org.t2, "South Co")]
    )
    rep1 = _signed_in(laptop, "rep1", "rep1")
    rep2 = _signed_in(laptop, "rep2", "rep2")
    boss = _signed_in(laptop, "boss", "manager")
    assert set(rep1.rows("accounts")) == {a1}
    assert set(rep2.rows("accounts")) == {a2}
    assert set(boss.rows("accounts")) == {a1, a2}

    # Offline work on all three laptops.
    new1 = rep1.writer.insert("accounts", account(org.t1, "Fresh North"))
    rep1.writer.update("accounts", a1, {"phone": "555-1"})
    visit = rep1.writer.insert(
        "visits", {"account_id": a1, "user_id": org.rep1, "visited_at": "2024-05-01T10:00:00Z"}
    )
    new2 = rep2.writer.insert("accounts", account(org.t2, "Fresh South"))
    boss.writer.update("accounts", a2, {"notes": "key account"})
    task = boss.writer.insert(
        "tasks", {"user_id": org.rep2, "title": "call South Co", "account_id": a2}
    )

    for lap in (rep1, rep2, boss, rep1, rep2, boss):
        result = lap.sync()
        assert result.rejected == 0, result.rejections
        assert result.verified is True

    assert set(rep1.rows("accounts")) == {a1, new1}
    assert set(rep2.rows("accounts")) == {a2, new2}
    assert set(boss.rows("accounts")) == {a1, a2, new1, new2}
    assert rep2.rows("accounts")[a2]["notes"] == "key account"
    assert boss.rows("accounts")[a1]["phone"] == "555-1"
    assert set(rep1.rows("visits")) == {visit}
    assert set(boss.rows("visits")) == {visit}
    assert rep2.rows("visits") == {}
    assert set(rep2.rows("tasks")) == {task}
    assert rep1.rows("tasks") == {}
    for lap, user in ((rep1, org.rep1), (rep2, org.rep2), (boss, org.manager)):
        for tbl in ("accounts", "visits", "tasks", "users", "territories"):
            assert lap.rows(tbl) == server_view(storage, user, tbl), (user, tbl)
        assert lap.writer.pending_count() == 0


def test_edits_of_different_fields_both_survive(storage: Storage, org: Org, laptop: Make) -> None:
    # Both fields already hold values (with clocks), so only per-field tracking tells a concurrent
    # edit of the same field from one of a neighbouring field: no conflict may be logged here.
    (a1,) = admin.put_rows(
        storage, "accounts", [account(org.t1, phone="555-0000", industry="Food")]
    )
    rep = _signed_in(laptop, "rep1", "rep1")
    boss = _signed_in(laptop, "boss", "manager")
    rep.writer.update("accounts", a1, {"phone": "555-0100"})
    boss.writer.update("accounts", a1, {"industry": "Retail"})
    for lap in (boss, rep, boss):
        lap.sync()
    for lap in (rep, boss):
        row = lap.rows("accounts")[a1]
        assert (row["phone"], row["industry"]) == ("555-0100", "Retail")
    assert rep.conflicts() == []
    assert boss.conflicts() == []
    with storage.read() as tx:
        assert tx.all("SELECT field FROM server_conflicts") == []


def _pending_clock(lap: Laptop, row_id: str) -> str:
    """The pending clock of the row's notes as the server keeps it: under the laptop's device tag
    (device ids never leave the server), which the laptop learnt at sign-in."""
    row = lap.ctx.db.conn.execute(
        "SELECT clocks FROM outbox WHERE row_id = ?", (row_id,)
    ).fetchone()
    stamp, _, device = str(json.loads(row[0])["notes"]).partition("@")
    assert device == lap.writer.device_id
    tag = local_meta.get(lap.ctx.db.conn, local_apply.CLOCK_TAG_KEY)
    assert tag
    assert tag != device
    return f"{stamp}@{tag}"


@pytest.mark.parametrize("winner_first", [True, False])
def test_same_field_conflict_is_deterministic_and_logged(
    storage: Storage, org: Org, laptop: Make, winner_first: bool
) -> None:
    (a1,) = admin.put_rows(storage, "accounts", [account(org.t1)])
    rep = _signed_in(laptop, "rep1", "rep1")
    boss = _signed_in(laptop, "boss", "manager")
    rep.writer.update("accounts", a1, {"notes": "from rep"})
    boss.writer.update("accounts", a1, {"notes": "from boss"})
    clocks = {"from rep": _pending_clock(rep, a1), "from boss": _pending_clock(boss, a1)}
    winner = max(clocks, key=lambda v: clocks[v])
    loser = min(clocks, key=lambda v: clocks[v])
    laps = {"from rep": rep, "from boss": boss}
    first, second = (laps[winner], laps[loser]) if winner_first else (laps[loser], laps[winner])
    for lap in (first, second, first, second):
        lap.sync()
    assert rep.rows("accounts")[a1]["notes"] == winner
    assert boss.rows("accounts")[a1]["notes"] == winner
    with storage.read() as tx:
        logged = tx.all(
            "SELECT field, lost_value, kept_value FROM server_conflicts WHERE row_id = ?", (a1,)
        )
    assert logged == [("notes", json.dumps(loser), json.dumps(winner))]
    # The laptop that pushed second learns about the clash and can show both values.
    (conflict,) = second.conflicts()
    assert (conflict["field"], conflict["lost_value"], conflict["kept_value"]) == (
        "notes",
        json.dumps(loser),
        json.dumps(winner),
    )
    assert conflict["lost_clock"] == clocks[loser]
    assert conflict["kept_clock"] == clocks[winner]


def test_delete_beats_edits_before_and_after_it(storage: Storage, org: Org, laptop: Make) -> None:
    a1, a2 = admin.put_rows(storage, "accounts", [account(org.t1, "A"), account(org.t1, "B")])
    rep = _signed_in(laptop, "rep1", "rep1")
    boss = _signed_in(laptop, "boss", "manager")
    rep.writer.update("accounts", a1, {"notes": "edit before the delete"})
    boss.writer.delete("accounts", a1)
    boss.writer.delete("accounts", a2)
    rep.writer.update("accounts", a2, {"notes": "edit after the delete"})
    for lap in (boss, rep, boss, rep):
        lap.sync()
    for aid in (a1, a2):
        assert aid not in rep.rows("accounts")
        assert aid not in boss.rows("accounts")
        stored = server_row(storage, "accounts", aid)
        assert stored is not None
        assert stored["_deleted"]
    lost = {(c["row_id"], c["lost_value"]) for c in rep.conflicts()}
    assert lost == {(a1, '"edit before the delete"'), (a2, '"edit after the delete"')}
    assert rep.ctx.db.conn.execute("SELECT count(*) FROM tombstones").fetchone()[0] == 2


def test_clock_skew_of_hours(storage: Storage, org: Org, laptop: Make) -> None:
    """A laptop whose clock runs 5 h fast writes; a correct laptop that saw that write and edits
    afterwards still wins, because its clock follows the clocks it receives."""
    (a1,) = admin.put_rows(storage, "accounts", [account(org.t1)])
    fast = laptop("fast")
    fast.ctx.writer = Writer(
        fast.ctx.db,
        HybridLogicalClock(
            fast.writer.device_id,
            wall_ms=lambda: HybridLogicalClock("x").wall_ms() + 5 * 3600 * 1000,
        ),
    )
    fast.login("rep1")
    fast.sync()
    boss = _signed_in(laptop, "boss", "manager")
    fast.writer.update("accounts", a1, {"notes": "written on the fast laptop"})
    fast.sync()
    boss.sync()
    boss.writer.update("accounts", a1, {"notes": "written later by the boss"})
    boss.sync()
    fast.sync()
    assert fast.rows("accounts")[a1]["notes"] == "written later by the boss"
    assert boss.conflicts() == []


def _skewed(laptop: Make, name: str, hours: float) -> Laptop:
    lap = laptop(name)
    lap.ctx.writer = Writer(
        lap.ctx.db,
        HybridLogicalClock(
            lap.writer.device_id,
            wall_ms=lambda: HybridLogicalClock("x").wall_ms() + int(hours * 3600 * 1000),
        ),
    )
    return lap


def test_a_slow_laptop_still_wins_with_a_later_edit(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """A laptop 6 h behind edits after it received a newer value: its clock has followed the
    clocks it received, so its edit is the later one and wins, with no conflict."""
    (a1,) = admin.put_rows(storage, "accounts", [account(org.t1)])
    slow = _skewed(laptop, "slow", -6)
    slow.login("rep1")
    boss = _signed_in(laptop, "boss", "manager")
    boss.writer.update("accounts", a1, {"notes": "boss, on time"})
    boss.sync()
    slow.sync()
    slow.writer.update("accounts", a1, {"notes": "rep, six hours behind, but later"})
    slow.sync()
    boss.sync()
    assert boss.rows("accounts")[a1]["notes"] == "rep, six hours behind, but later"
    assert slow.conflicts() == []
    assert boss.conflicts() == []


def test_a_clock_days_ahead_is_refused_and_kept(storage: Storage, org: Org, laptop: Make) -> None:
    """A write stamped days in the future would win every merge for days: refused and kept."""
    (a1,) = admin.put_rows(storage, "accounts", [account(org.t1)])
    wild = _skewed(laptop, "wild", 72)
    wild.login("rep1")
    wild.sync()
    wild.writer.update("accounts", a1, {"notes": "from the future"})
    result = wild.sync()
    assert result.rejected == 1
    assert "clock is more than 5 minutes ahead" in result.rejections[0]
    stored = server_row(storage, "accounts", a1)
    assert stored is not None
    assert stored["notes"] is None
    assert [c["lost_value"] for c in wild.conflicts()] == ['"from the future"']
    assert wild.rows("accounts")[a1]["notes"] is None
