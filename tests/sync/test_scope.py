"""Territory scope: what a rep may see and write, and rows moving in and out when scope changes."""

from __future__ import annotations

import json
from collections.abc import Callable

from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.sync import conflicts
from tests.sync.harness import Laptop, LiveServer, Org, account, server_row, server_view

Make = Callable[[str], Laptop]


def _pull_bodies(server: LiveServer, lap: Laptop) -> str:
    """Every byte the server would send this laptop from cursor 0 (for leak checks)."""
    from fieldrep.sync.protocol import PullRequest

    return json.dumps(lap.transport.pull(PullRequest(cursor=0, limit=5000)))


def test_rep_cannot_write_outside_scope_and_nothing_leaks(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (south,) = admin.put_rows(storage, "accounts", [account(org.t2, "Secret South")])
    admin.put_rows(storage, "contacts", [{"account_id": south, "first_name": "Hidden"}])
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    body = _pull_bodies(server, rep)
    assert "Secret South" not in body
    assert "Hidden" not in body
    assert south not in body

    # A visit for another rep on an account it cannot see is refused, reported, and kept on the
    # laptop (marked), never deleted; nothing of it reaches the server. An account for a
    # colleague's territory is accepted and handed there, and stays in its creator's view.
    foreign = rep.writer.insert("accounts", account(org.t2, "Handed"))
    visit = rep.writer.insert(
        "visits", {"account_id": south, "user_id": org.rep2, "visited_at": "2024-01-01T00:00:00Z"}
    )
    mine = rep.writer.insert("accounts", account(org.t1, "Mine"))
    result = rep.sync()
    assert result.rejected == 1
    assert result.pushed == 2
    assert server_row(storage, "visits", visit) is None
    assert set(rep.rows("visits")) == {visit}
    assert server_row(storage, "accounts", foreign) is not None
    assert foreign in server_view(storage, org.rep2, "accounts")
    assert set(rep.rows("accounts")) == {mine, foreign}
    reasons = {c["kept_value"] for c in rep.conflicts() if c["kept_clock"] == "rejected"}
    assert any("outside your territories" in r for r in reasons)
    assert result.verified is True
    # The handed account is the colleague's now: its creator sees it but cannot change it.
    rep.writer.update("accounts", foreign, {"name": "Renamed by its creator"})
    result = rep.sync()
    assert result.rejected == 1
    assert "handed to rep2, South" in next(iter(result.refusals))
    assert rep.rows("accounts")[foreign]["name"] == "Handed"
    # A rep may not move an account it did not create into another territory either.
    (given,) = admin.put_rows(storage, "accounts", [account(org.t1, "Given")])
    rep.sync()
    rep.writer.update("accounts", given, {"territory_id": org.t2})
    result = rep.sync()
    assert result.rejected == 1
    assert rep.rows("accounts")[given]["territory_id"] == org.t1
    stored = server_row(storage, "accounts", given)
    assert stored is not None
    assert stored["territory_id"] == org.t1
    # Nor promote themselves.
    rep.writer.update("users", org.rep1, {"role": "admin"})
    assert rep.sync().rejected == 1
    assert rep.rows("users")[org.rep1]["role"] == "rep"
    assert result.verified is True


def test_refused_new_row_is_kept_as_the_fields_it_was_given(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """A new row is sent whole (every column, see fieldrep.store.outbox); when it is refused, the
    row stays on the laptop and one conflict entry says so, holding what the rep wrote (not one
    "(empty)" item per column they never touched)."""
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    (south,) = admin.put_rows(storage, "accounts", [account(org.t2, "Secret South")])
    foreign = rep.writer.insert(
        "visits",
        {"account_id": south, "user_id": org.rep2, "visited_at": "2024-01-01", "notes": "Boston"},
    )
    assert rep.sync().rejected == 1
    refused = [c for c in rep.conflicts() if c["row_id"] == foreign]
    assert [(c["field"], c["kept_clock"]) for c in refused] == [("_row", "rejected")]
    written = json.loads(refused[0]["lost_value"])
    assert written["notes"] == "Boston"
    assert written["account_id"] == south
    assert None not in written.values()
    assert rep.rows("visits")[foreign]["notes"] == "Boston"
    (item,) = conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id)
    assert item.field_label == "New record"
    assert "Notes: Boston" in conflicts.format_value(item.your_value, item.field)
    assert not item.on_server


def test_territory_reassignment_moves_rows_in_and_out(
    storage: Storage, org: Org, laptop: Make
) -> None:
    a1, a2 = admin.put_rows(
        storage, "accounts", [account(org.t1, "North"), account(org.t2, "South")]
    )
    (c2,) = admin.put_rows(storage, "contacts", [{"account_id": a2, "first_name": "Sue"}])
    rep1, rep2, boss = laptop("rep1"), laptop("rep2"), laptop("boss")
    for lap, user in ((rep1, "rep1"), (rep2, "rep2"), (boss, "manager")):
        lap.login(user)
        lap.sync()
    assert set(rep2.rows("contacts")) == {c2}

    # The manager moves South's account to North: it leaves rep2 and arrives at rep1, contact too.
    rep2.writer.update("contacts", c2, {"title": "edited offline by rep2"})
    boss.writer.update("accounts", a2, {"territory_id": org.t1})
    boss.sync()
    r2 = rep2.sync()
    r1 = rep1.sync()
    assert set(rep1.rows("accounts")) == {a1, a2}
    assert set(rep1.rows("contacts")) == {c2}
    assert rep2.rows("accounts") == {}
    # rep2's offline edit reached the server after the move: refused, and the contact stays on
    # rep2's laptop, marked, until rep2 decides (here: discards it).
    assert set(rep2.rows("contacts")) == {c2}
    assert rep1.rows("contacts")[c2]["title"] is None
    kept = [c for c in rep2.conflicts() if c["row_id"] == c2]
    assert [(c["field"], c["lost_value"], c["kept_clock"]) for c in kept] == [
        ("title", '"edited offline by rep2"', "rejected")
    ]
    assert r2.evicted >= 1
    assert r1.verified is True
    assert r2.verified is True
    refusal = next(
        i for i in conflicts.list_open(rep2.ctx.db.conn, rep2.writer.device_id) if i.row_id == c2
    )
    assert conflicts.discard_refused(rep2.writer, refusal.id) is True
    assert rep2.rows("contacts") == {}

    # Now the manager adds rep2 to North as well: rep2's scope changes and it gets everything.
    members = server_view(storage, org.rep2, "territory_members")
    assert len(members) == 2
    boss.writer.insert("territory_members", {"territory_id": org.t1, "user_id": org.rep2})
    boss.sync()
    r2 = rep2.sync()
    assert r2.replaced is True
    assert set(rep2.rows("accounts")) == {a1, a2}
    # And takes rep2 off South and North again: everything leaves rep2's laptop.
    for mid, row in server_view(storage, org.rep2, "territory_members").items():
        if row["user_id"] == org.rep2:
            boss.sync()
            boss.writer.update("territory_members", mid, {"active": 0})
    boss.sync()
    r2 = rep2.sync()
    assert r2.replaced is True
    assert rep2.rows("accounts") == {}
    assert r2.verified is True
    for tbl in ("accounts", "contacts", "territory_members"):
        assert rep2.rows(tbl) == server_view(storage, org.rep2, tbl)
