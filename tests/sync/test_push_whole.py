"""A push is judged as a whole, applied in one transaction, and what the server refuses stays on
the laptop (issue 12's bad input): mixed valid and invalid rows, a rep changing territories or
memberships, a manager assigning someone else's rep, memberships before their territory in the
outbox, a server restarted between the territory and the accounts of one push."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fieldrep.cli import main
from fieldrep.domain.ids import uuid7
from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.services.sync import conflicts
from fieldrep.sync.client import SENDING
from tests.sync.harness import (
    PASSWORD,
    Laptop,
    LiveServer,
    Org,
    account,
    password_hash,
    server_row,
    server_view,
)

Make = Callable[[str], Laptop]


def _refused_rows(lap: Laptop) -> dict[str, str]:
    return {
        c["row_id"]: json.loads(c["kept_value"])
        for c in lap.conflicts()
        if c["kept_clock"] == "rejected"
    }


def test_a_push_mixing_valid_and_invalid_rows(storage: Storage, org: Org, laptop: Make) -> None:
    (south,) = admin.put_rows(storage, "accounts", [account(org.t2, "South's")])
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    first = rep.writer.insert("accounts", account(org.t1, "First"))
    visit = rep.writer.insert(
        "visits", {"account_id": south, "user_id": org.rep2, "visited_at": "2024-01-01"}
    )
    territory = rep.writer.insert("territories", {"name": "Mine now", "created_at": "2024-01-01"})
    rep.writer.update("users", org.rep1, {"role": "manager"})
    last = rep.writer.insert("accounts", account(org.t1, "Last"))

    result = rep.sync()
    assert result.pushed == 2
    assert result.rejected == 3
    assert set(result.refusals) == {
        "this visits row would be outside your territories",
        "only a manager or administrator can change territories",
        "only an administrator can add users or change their role or team",
    }
    assert server_row(storage, "accounts", first) is not None
    assert server_row(storage, "accounts", last) is not None
    assert server_row(storage, "visits", visit) is None
    assert server_row(storage, "territories", territory) is None
    # Nothing refused left the laptop; the refused user edit shows the server's value again.
    assert set(rep.rows("visits")) == {visit}
    assert territory in rep.rows("territories")
    assert rep.rows("users")[org.rep1]["role"] == "rep"
    refused = _refused_rows(rep)
    assert refused[territory] == "only a manager or administrator can change territories"
    assert result.verified is True
    # A second sync sends nothing again and removes nothing.
    again = rep.sync()
    assert (again.pushed, again.rejected, again.evicted, again.removed) == (0, 0, 0, 0)
    assert territory in rep.rows("territories")
    assert again.verified is True


def test_a_rep_changing_territories_or_memberships_is_refused_and_nothing_else_lost(
    storage: Storage, org: Org, laptop: Make
) -> None:
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    rep.writer.update("territories", org.t1, {"name": "Renamed by a rep"})
    member = rep.writer.insert("territory_members", {"territory_id": org.t2, "user_id": org.rep1})
    kept = rep.writer.insert("accounts", account(org.t1, "Kept"))
    result = rep.sync()
    assert result.rejected == 2
    assert result.refusals == {
        "only a manager or administrator can change territories": 1,
        "only a manager or administrator can change territory members": 1,
    }
    assert server_view(storage, org.rep1, "accounts").keys() == {kept}
    assert server_row(storage, "territory_members", member) is None
    stored = server_row(storage, "territories", org.t1)
    assert stored is not None
    assert stored["name"] == "North"
    assert rep.rows("territories")[org.t1]["name"] == "North"
    assert member in rep.rows("territory_members")  # kept, marked, until the rep decides
    # The rep discards the membership (the UI asks first): gone from the laptop, and the
    # next sync finds this laptop matching the server.
    item = next(
        i for i in conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id) if i.row_id == member
    )
    assert conflicts.discard_refused(rep.writer, item.id) is True
    assert member not in rep.rows("territory_members")
    assert rep.sync().verified is True


def test_a_manager_cannot_assign_a_rep_outside_their_team(
    storage: Storage, org: Org, laptop: Make
) -> None:
    h = password_hash()
    other = admin.add_user(storage, "olga", "manager", PASSWORD, password_hash=h)
    outsider = admin.add_user(storage, "otto", "rep", PASSWORD, password_hash=h, manager_id=other)
    admin.put_rows(storage, "territories", [{"name": "Boss's", "owner_id": org.manager}])
    boss = laptop("boss")
    boss.login("manager")
    boss.sync()
    mine = next(t for t, r in boss.rows("territories").items() if r["name"] == "Boss's")
    wrong = boss.writer.insert("territory_members", {"territory_id": mine, "user_id": outsider})
    right = boss.writer.insert("territory_members", {"territory_id": mine, "user_id": org.rep2})
    result = boss.sync()
    assert result.refusals == {"you can only assign your own team to your team's territories": 1}
    assert server_row(storage, "territory_members", wrong) is None
    assert server_row(storage, "territory_members", right) is not None
    assert wrong in boss.rows("territory_members")


def test_memberships_and_accounts_before_their_territory_in_the_outbox(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """Created offline in any order: the push is judged with the territory in place."""
    boss = laptop("boss")
    boss.login("manager")
    boss.sync()
    territory = uuid7()
    member = boss.writer.insert(
        "territory_members", {"territory_id": territory, "user_id": org.rep1}
    )
    acct = boss.writer.insert("accounts", account(territory, "Early"))
    boss.writer.insert(
        "territories", {"name": "Late", "created_at": "2024-01-01"}, row_id=territory
    )
    result = boss.sync()
    assert result.rejected == 0, result.refusals
    assert result.pushed == 3
    stored = server_row(storage, "territories", territory)
    assert stored is not None
    assert stored["owner_id"] == org.manager  # a manager's ownerless territory is theirs
    assert server_row(storage, "territory_members", member) is not None
    # The account went to the territory's owner, and reaches the rep now a member of it.
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    assert acct in rep.rows("accounts")
    assert result.verified is True


def test_server_restarted_between_the_territory_and_the_accounts_of_one_push(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    boss = laptop("boss")
    boss.login("manager")
    boss.sync()
    territory = boss.writer.insert("territories", {"name": "Restart", "created_at": "2024-01-01"})
    boss.writer.insert("territory_members", {"territory_id": territory, "user_id": org.rep1})
    accounts = boss.writer.insert_many(
        "accounts", [account(territory, f"R{i}", owner_id=org.rep1) for i in range(10)]
    )
    restarted: list[int] = []

    def restart_after_the_first_batch(done: int, total: int | None, text: str) -> None:
        if text.startswith(SENDING) and done == 2 and not restarted:
            server.stop()
            server.start()
            restarted.append(done)

    result = boss.sync(push_batch=2, progress=restart_after_the_first_batch)
    assert restarted == [2]
    assert result.rejected == 0, result.refusals
    assert result.pushed == 12
    assert set(server_view(storage, org.rep1, "accounts")) == set(accounts)
    assert boss.rows("accounts").keys() == set(accounts)
    assert result.verified is True
    again = boss.sync()
    assert (again.pushed, again.pulled, again.rejected) == (0, 0, 0)


def test_fieldrep_sync_groups_refusals_and_exits_1(
    storage: Storage,
    org: Org,
    laptop: Make,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (south,) = admin.put_rows(storage, "accounts", [account(org.t2, "South's")])
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    for day in range(1, 4):
        rep.writer.insert(
            "visits", {"account_id": south, "user_id": org.rep2, "visited_at": f"2024-01-0{day}"}
        )
    rep.writer.insert("territories", {"name": "Mine", "created_at": "2024-01-01"})
    rep.writer.insert("accounts", account(org.t1, "Fine"))
    capsys.readouterr()
    code = main(["sync", "--db", str(tmp_path / "rep1.db")])
    out = capsys.readouterr().out
    assert code == 1
    assert "4 change(s) not accepted by the server" in out
    assert "  3 x this visits row would be outside your territories" in out
    assert "  1 x only a manager or administrator can change territories" in out
    assert "exit status 1: 4 change(s) were refused" in out
    assert out.count("outside your territories") == 1  # grouped, not one line per change


def test_a_referral_stays_with_the_rep_who_captured_it(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """Captured for a company in a colleague's territory: routed there, and visible to its
    capturer for its whole life (moved again, or given to someone else)."""
    rep1, rep2, boss = laptop("rep1"), laptop("rep2"), laptop("boss")
    for lap, user in ((rep1, "rep1"), (rep2, "rep2"), (boss, "manager")):
        lap.login(user)
        lap.sync()
    referral = rep1.writer.insert(
        "referrals",
        {"referred_name": "Pat Lee", "territory_id": org.t2, "captured_by_id": org.rep1},
    )
    assert rep1.sync().rejected == 0
    stored = server_row(storage, "referrals", referral)
    assert stored is not None
    assert stored["owner_id"] == org.rep2  # routed to the territory's member
    rep2.sync()
    assert referral in rep2.rows("referrals")
    boss.sync()
    boss.writer.update("referrals", referral, {"territory_id": org.t3, "owner_id": org.manager})
    assert boss.sync().rejected == 0
    r1 = rep1.sync()
    assert referral in rep1.rows("referrals")
    assert rep1.rows("referrals")[referral]["territory_id"] == org.t3
    assert r1.verified is True
    rep2.sync()
    assert referral not in rep2.rows("referrals")


def test_fieldrep_sync_prints_the_progress_of_a_long_push(
    org: Org, laptop: Make, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push of more than one batch says on stderr how far it got and how fast; the engine's
    progress reaches the command in the one callback shape (done, total, text)."""
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    rep.writer.insert_many("accounts", [account(org.t1, f"Long {i}") for i in range(450)])
    capsys.readouterr()
    code = main(["sync", "--db", str(tmp_path / "rep1.db")])
    captured = capsys.readouterr()
    assert code == 0, captured.out
    lines = captured.err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "sent 200 of 450 changes",
        "sent 400 of 450 changes",
        "sent 450 of 450 changes",
    ]
    assert all(re.fullmatch(r"sent [\d,]+ of 450 changes \([\d,]+/s\)", line) for line in lines)
    assert "sent 450 change(s)" in captured.out
