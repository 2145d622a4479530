"""The conflicts service on real conflicts: two laptops edit the same field and sync through the
real server on loopback; the losing laptop lists both values and resolves them, and the resolution
syncs. Also the plain words sync problems are shown in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fieldrep.domain.hlc import parse_clock
from fieldrep.server.storage import Storage
from fieldrep.services.sync import conflicts
from fieldrep.services.sync import session as sync_session
from fieldrep.store.errors import StoreError
from fieldrep.sync.transport import AuthRequired, NetworkError, UpgradeRequired
from tests.sync.harness import Laptop, LiveServer, Org, account, seed_org, server_row


class Team:
    def __init__(self, tmp_path: Path) -> None:
        self.storage = Storage(str(tmp_path / "server.db"))
        self.server = LiveServer(self.storage)
        self.org: Org = seed_org(self.storage)
        self.laptops: list[Laptop] = []
        self.tmp_path = tmp_path

    def laptop(self, name: str, user: str) -> Laptop:
        lap = Laptop(self.tmp_path / f"{name}.db", self.server.url)
        lap.login(user)
        lap.sync()
        self.laptops.append(lap)
        return lap

    def close(self) -> None:
        for lap in self.laptops:
            lap.close()
        self.server.stop()
        self.storage.close()


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    made = Team(tmp_path)
    yield made
    made.close()


def pending_clock(lap: Laptop, row_id: str, field: str) -> str:
    row = lap.ctx.db.conn.execute(
        "SELECT clocks FROM outbox WHERE row_id = ? ORDER BY seq DESC", (row_id,)
    ).fetchone()
    return str(json.loads(row[0])[field])


def clash(mine: Laptop, other: Laptop, row_id: str, field: str, my: str, theirs: str) -> None:
    """Both edit ``field`` offline, the other one later; the other syncs first, then mine."""
    mine.writer.update("accounts", row_id, {field: my})
    other.writer.clock.observe(parse_clock(pending_clock(mine, row_id, field))[0])
    other.writer.update("accounts", row_id, {field: theirs})
    other.sync()
    mine.sync()


def test_a_lost_edit_is_listed_with_both_values_and_keep_yours_syncs(team: Team) -> None:
    a1 = team.laptop("seed", "manager").writer.insert("accounts", account(team.org.t1, "Acme"))
    team.laptops[0].sync()
    rep = team.laptop("rep", "rep1")
    boss = team.laptop("boss", "manager")
    clash(rep, boss, a1, "notes", "call back Tuesday", "call back Friday")

    (item,) = conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id)
    assert (item.record, item.row_label, item.field_label) == ("Account", "Acme", "Notes")
    assert (item.your_value, item.other_value) == ("call back Tuesday", "call back Friday")
    assert not item.yours_kept
    assert item.can_keep_yours
    assert item.summary.startswith("Someone else changed the same field later")
    assert rep.rows("accounts")[a1]["notes"] == "call back Friday"
    assert conflicts.open_count(rep.ctx.db.conn) == 1

    assert conflicts.keep_yours(rep.writer, item.id) is True
    assert rep.rows("accounts")[a1]["notes"] == "call back Tuesday"
    assert rep.writer.pending_count() == 1, "the decision is a new edit in the outbox"
    assert conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id) == []
    resolution = rep.ctx.db.conn.execute(
        "SELECT resolution, resolved_at IS NOT NULL FROM conflicts WHERE id = ?", (item.id,)
    ).fetchone()
    assert resolution == (conflicts.KEPT_YOURS, 1)
    with pytest.raises(StoreError, match="already resolved"):
        conflicts.keep_yours(rep.writer, item.id)

    rep.sync()
    boss.sync()
    stored = server_row(team.storage, "accounts", a1)
    assert stored is not None
    assert stored["notes"] == "call back Tuesday"
    assert boss.rows("accounts")[a1]["notes"] == "call back Tuesday"


def test_accept_other_when_the_laptop_already_shows_it_makes_no_edit(team: Team) -> None:
    a1 = team.laptop("seed", "manager").writer.insert("accounts", account(team.org.t1, "Acme"))
    team.laptops[0].sync()
    rep = team.laptop("rep", "rep1")
    boss = team.laptop("boss", "manager")
    clash(rep, boss, a1, "phone", "555-0101", "555-0199")
    (item,) = conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id)
    assert conflicts.accept_other(rep.writer, item.id) is False
    assert rep.writer.pending_count() == 0
    assert rep.rows("accounts")[a1]["phone"] == "555-0199"
    assert conflicts.open_count(rep.ctx.db.conn) == 0


def test_when_yours_won_accepting_the_other_writes_it_back(team: Team) -> None:
    a1 = team.laptop("seed", "manager").writer.insert("accounts", account(team.org.t1, "Acme"))
    team.laptops[0].sync()
    rep = team.laptop("rep", "rep1")
    boss = team.laptop("boss", "manager")
    # The loser pushes first; the winner (rep, later clock) learns it overwrote someone.
    boss.writer.update("accounts", a1, {"industry": "Retail"})
    rep.writer.clock.observe(parse_clock(pending_clock(boss, a1, "industry"))[0])
    rep.writer.update("accounts", a1, {"industry": "Wholesale"})
    boss.sync()
    rep.sync()
    (item,) = conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id)
    assert item.yours_kept
    assert (item.your_value, item.other_value) == ("Wholesale", "Retail")
    assert item.summary.startswith("Your value was kept")
    assert conflicts.accept_other(rep.writer, item.id) is True
    rep.sync()
    boss.sync()
    assert boss.rows("accounts")[a1]["industry"] == "Retail"
    stored = server_row(team.storage, "accounts", a1)
    assert stored is not None
    assert stored["industry"] == "Retail"


def test_an_edit_that_lost_to_a_delete_can_only_be_accepted(team: Team) -> None:
    a1 = team.laptop("seed", "manager").writer.insert("accounts", account(team.org.t1, "Gone"))
    team.laptops[0].sync()
    rep = team.laptop("rep", "rep1")
    boss = team.laptop("boss", "manager")
    rep.writer.update("accounts", a1, {"notes": "edit before the delete"})
    boss.writer.delete("accounts", a1)
    boss.sync()
    rep.sync()
    (item,) = conflicts.list_open(rep.ctx.db.conn, rep.writer.device_id)
    assert not item.row_exists
    assert not item.can_keep_yours
    assert item.summary.startswith("Someone deleted this record")
    with pytest.raises(StoreError, match="was deleted"):
        conflicts.keep_yours(rep.writer, item.id)
    assert conflicts.accept_other(rep.writer, item.id) is False
    assert conflicts.open_count(rep.ctx.db.conn) == 0


def test_problems_are_said_in_a_reps_words() -> None:
    try:
        httpx.get("http://127.0.0.1:9", timeout=2)
    except httpx.TransportError as cause:
        unreachable = NetworkError("cannot reach the sync server")
        unreachable.__cause__ = cause
    problem = sync_session.problem_for(unreachable)
    assert problem.headline == "Can't reach the sync server"
    assert problem.retry_later
    assert "Your changes are safe on this laptop" in problem.advice
    assert sync_session.problem_for(AuthRequired("x"), signing_in=True).sentence == (
        "Wrong user name or password. Check both and try again"
    )
    assert sync_session.problem_for(AuthRequired("token revoked")).sign_in_needed
    assert sync_session.problem_for(UpgradeRequired("please upgrade FieldRep")).headline == (
        "This version of FieldRep is too old for the server"
    )
    assert sync_session.problem_for(UpgradeRequired("please update the server")).headline == (
        "The sync server is out of date"
    )


def test_server_addresses_are_completed_and_checked() -> None:
    assert sync_session.normalise_url("sync.example.com:8765") == "https://sync.example.com:8765"
    assert sync_session.normalise_url("127.0.0.1:8765/") == "http://127.0.0.1:8765"
    with pytest.raises(ValueError, match="not a web address"):
        sync_session.normalise_url("ftp://x.example.com")
    with pytest.raises(ValueError, match="enter the server address"):
        sync_session.normalise_url("  ")
