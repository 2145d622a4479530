"""What a signed-in user learns from pulls and what their pushes may leave behind, over real HTTP
against the live server (SQLite and PostgreSQL): no other laptop's device id, no colleague's
home, no half-applied reassignment, no orphan rows, one oversized change refused alone."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from fieldrep.domain.hlc import parse_clock
from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.sync.protocol import PROTOCOL_HEADER, version_headers
from tests.sync.harness import (
    PASSWORD,
    Laptop,
    LiveServer,
    Org,
    account,
    password_hash,
    server_row,
)

Make = Callable[[str], Laptop]


def _auth(url: str, user: str, device: str) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=version_headers()) as c:
        r = c.post("/v1/login", json={"user": user, "password": PASSWORD, "device_id": device})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}", **version_headers()}


def _pull_body(url: str, headers: dict[str, str]) -> str:
    with httpx.Client(base_url=url, headers=headers) as c:
        r = c.post("/v1/pull", json={"cursor": 0, "limit": 5000})
        assert r.status_code == 200, r.text
        return r.text


def test_pulled_clocks_never_show_another_users_device_id(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    # rep1 also works in rep2's territory, so rep2 pulls rows rep1's laptop wrote.
    admin.put_rows(storage, "territory_members", [{"territory_id": org.t2, "user_id": org.rep1}])
    a = laptop("rep1")
    a.login("rep1")
    a.sync()
    device_a = a.writer.device_id
    row_id = a.writer.insert("accounts", account(org.t2, "Written by rep1"))
    a.writer.update("users", org.rep1, {"phone": "555-0101"})
    assert a.sync().pushed == 2
    b = laptop("rep2")
    b.login("rep2")
    b.sync()
    assert row_id in b.rows("accounts")
    body = _pull_body(server.url, _auth(server.url, "rep2", "rep2-raw"))
    assert "Written by rep1" in body
    assert device_a not in body
    # Nor is it stored on the server: the clocks carry the device's tag.
    stored = server_row(storage, "accounts", row_id)
    assert stored is not None
    assert all(device_a not in clock for clock in stored["_clocks"].values())
    # Merging is unchanged: both laptops edit one field, the later clock wins on the server and
    # on both laptops, and the loser is reported once.
    b.writer.update("accounts", row_id, {"phone": "from rep2"})
    # rep1 writes later than rep2 whatever the two laptops' clocks said (same millisecond, or
    # rep2's clock ahead from what it pulled): rep1's laptop has seen rep2's stamp.
    a.writer.clock.observe(parse_clock(_field_clock(b, "accounts", row_id, "phone"))[0])
    a.writer.update("accounts", row_id, {"phone": "from rep1"})
    b.sync()
    a.sync()
    b.sync()
    assert server_row(storage, "accounts", row_id)["phone"] == "from rep1"  # type: ignore[index]
    assert a.rows("accounts")[row_id]["phone"] == "from rep1"
    assert b.rows("accounts")[row_id]["phone"] == "from rep1"
    assert a.sync().verified is True
    assert b.sync().verified is True
    assert device_a not in _pull_body(server.url, _auth(server.url, "rep2", "rep2-raw"))


def _field_clock(lap: Laptop, tbl: str, row_id: str, name: str) -> str:
    row = lap.ctx.db.conn.execute(f"SELECT _clocks FROM {tbl} WHERE id = ?", (row_id,)).fetchone()
    return str(json.loads(row[0])[name])


def test_a_reassignment_is_applied_whole_against_a_newer_owner_change(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (acc,) = admin.put_rows(storage, "accounts", [account(org.t1, "Acme", owner_id=org.rep1)])
    boss = laptop("manager")
    boss.login("manager")
    boss.sync()
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    # The manager moves the account to rep2 in South; a moment later, not having seen that, rep1
    # hands it to the manager. The rep's change reaches the server first.
    boss.writer.update("accounts", acc, {"territory_id": org.t2, "owner_id": org.rep2})
    time.sleep(0.002)
    rep.writer.update("accounts", acc, {"owner_id": org.manager})
    assert _field_clock(rep, "accounts", acc, "owner_id") > _field_clock(
        boss, "accounts", acc, "owner_id"
    )
    assert rep.sync().pushed == 1
    result = boss.sync()
    stored = server_row(storage, "accounts", acc)
    assert stored is not None
    # Not half applied (South with the old owner): the older reassignment lost as a whole...
    assert (stored["territory_id"], stored["owner_id"]) == (org.t1, org.manager)
    # ...and was not lost silently: both of its values are in the manager's conflict log.
    lost = {(c["field"], c["lost_value"]) for c in boss.conflicts() if c["row_id"] == acc}
    assert {("territory_id", f'"{org.t2}"'), ("owner_id", f'"{org.rep2}"')} <= lost or {
        ("territory_id", org.t2),
        ("owner_id", org.rep2),
    } <= lost, boss.conflicts()
    assert result.conflicts >= 2
    boss.sync()
    assert boss.rows("accounts")[acc]["territory_id"] == org.t1
    assert boss.rows("accounts")[acc]["owner_id"] == org.manager
    assert boss.sync().verified is True


def test_a_newer_reassignment_wins_whole_over_an_older_owner_change(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (acc,) = admin.put_rows(storage, "accounts", [account(org.t1, "Acme", owner_id=org.rep1)])
    boss = laptop("manager")
    boss.login("manager")
    boss.sync()
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    rep.writer.update("accounts", acc, {"owner_id": org.manager})
    time.sleep(0.002)
    boss.writer.update("accounts", acc, {"territory_id": org.t2, "owner_id": org.rep2})
    assert rep.sync().pushed == 1
    boss.sync()
    stored = server_row(storage, "accounts", acc)
    assert stored is not None
    assert (stored["territory_id"], stored["owner_id"]) == (org.t2, org.rep2)
    assert boss.sync().verified is True


def _contact(n: int) -> dict[str, object]:
    return {
        "email": f"user{n}@example.com",
        "phone": f"555-01{n:02d}",
        "home_lat": 50.0 + n,
        "home_lon": 4.0 + n,
    }


def test_a_rep_sees_only_their_teams_contact_details_and_nobody_elses_home(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    h = password_hash()
    boss2 = admin.add_user(storage, "manager2", "manager", PASSWORD, password_hash=h)
    rep3 = admin.add_user(storage, "rep3", "rep", PASSWORD, password_hash=h, manager_id=boss2)
    people = [org.admin, org.manager, org.rep1, org.rep2, boss2, rep3]
    admin.put_rows(storage, "users", [{"id": uid, **_contact(n)} for n, uid in enumerate(people)])
    contact = {uid: _contact(n) for n, uid in enumerate(people)}

    laps: dict[str, Laptop] = {}

    def shown(user: str) -> dict[str, dict[str, object]]:
        lap = laps[user] = laptop(user)
        lap.login(user)
        assert lap.sync().verified is True
        rows = lap.rows("users")
        assert set(people) <= set(rows)  # every user is still listed
        return rows

    def fields(row: dict[str, object], names: tuple[str, ...]) -> dict[str, object]:
        return {n: row[n] for n in names}

    everything = ("email", "phone", "home_lat", "home_lon")
    reach = ("email", "phone")
    home = ("home_lat", "home_lon")
    rep1 = shown("rep1")
    assert fields(rep1[org.rep1], everything) == contact[org.rep1]  # their own
    for teammate in (org.rep2, org.manager):
        assert fields(rep1[teammate], reach) == fields(contact[teammate], reach)
        assert fields(rep1[teammate], home) == {"home_lat": None, "home_lon": None}
    for stranger in (org.admin, boss2, rep3):
        assert fields(rep1[stranger], everything) == dict.fromkeys(everything)
    manager = shown("manager")
    for report in (org.rep1, org.rep2):
        assert fields(manager[report], everything) == contact[report]
    assert fields(manager[rep3], everything) == dict.fromkeys(everything)
    admin_view = shown("admin")
    assert all(fields(admin_view[u], everything) == contact[u] for u in people)
    # Over raw HTTP: no other team's e-mail and no colleague's home in rep1's pull.
    body = _pull_body(server.url, _auth(server.url, "rep1", "rep1-raw"))
    assert str(contact[rep3]["email"]) not in body
    assert str(contact[boss2]["phone"]) not in body
    assert str(contact[org.rep2]["home_lat"]) not in body
    assert str(contact[org.rep2]["email"]) in body
    # rep3 joins rep1's team: rep1's next sync brings their contact details (not their home).
    admin.put_rows(storage, "users", [{"id": rep3, "manager_id": org.manager}])
    lap = laps["rep1"]
    assert lap.sync().verified is True
    assert fields(lap.rows("users")[rep3], reach) == fields(contact[rep3], reach)
    assert lap.rows("users")[rep3]["home_lat"] is None
    # And rep1 moving to manager2's team fetches the users again under the new team.
    admin.put_rows(storage, "users", [{"id": org.rep1, "manager_id": boss2}])
    assert lap.sync().verified is True
    after = lap.rows("users")
    assert fields(after[org.rep2], reach) == {"email": None, "phone": None}
    assert fields(after[boss2], reach) == fields(contact[boss2], reach)


def test_rows_pointing_at_rows_the_server_does_not_have_are_refused(
    storage: Storage, org: Org, server: LiveServer, laptop: Make
) -> None:
    (known,) = admin.put_rows(storage, "accounts", [account(org.t1, "Known")])
    clock = "0000018f00000000@x1"

    def upsert(seq: int, tbl: str, row_id: str, **fields: object) -> dict[str, object]:
        return {
            "seq": seq,
            "tbl": tbl,
            "row_id": row_id,
            "op": "upsert",
            "fields": fields,
            "clocks": dict.fromkeys(fields, clock),
        }

    history = {"reason": "", "at": "2024-01-01"}
    mutations = [
        # 300 orphan history rows in the report; two make the point.
        upsert(
            1,
            "assignment_history",
            "h-orphan-1",
            entity="account",
            entity_id="nope-1",
            to_territory_id=org.t1,
            **history,
        ),
        upsert(
            2,
            "assignment_history",
            "h-orphan-2",
            entity="account",
            entity_id=known,
            to_territory_id="no-such-territory",
            **history,
        ),
        upsert(
            3,
            "contacts",
            "c-orphan",
            account_id="nope-2",
            first_name="Ghost",
            created_at="x",
        ),
        # A row and its child in one push, and a child of a row the server has: accepted.
        upsert(
            4, "accounts", "a-new", name="New", territory_id=org.t1, created_at="x", updated_at="x"
        ),
        upsert(5, "contacts", "c-new", account_id="a-new", first_name="Real", created_at="x"),
        upsert(
            6,
            "assignment_history",
            "h-real",
            entity="account",
            entity_id=known,
            to_territory_id=org.t1,
            **history,
        ),
    ]
    with httpx.Client(base_url=server.url, headers=_auth(server.url, "rep1", "x1")) as c:
        r = c.post("/v1/push", json={"device_id": "x1", "cursor": 0, "mutations": mutations})
    assert r.status_code == 200, r.text
    answer = r.json()
    refused = {x["seq"]: x["reason"] for x in answer["rejected"]}
    assert set(refused) == {1, 2, 3}, refused
    assert "accounts nope-1, which the server does not have" in refused[1]
    assert "to_territory_id points at territories no-such-territory" in refused[2]
    assert "contacts.account_id" in refused[3]
    assert answer["applied"] == 3
    for tbl, row_id in (
        ("assignment_history", "h-orphan-1"),
        ("assignment_history", "h-orphan-2"),
        ("contacts", "c-orphan"),
    ):
        assert server_row(storage, tbl, row_id) is None
    for tbl, row_id in (
        ("accounts", "a-new"),
        ("contacts", "c-new"),
        ("assignment_history", "h-real"),
    ):
        assert server_row(storage, tbl, row_id) is not None
    # A laptop's own rows (account, its contact, a visit) all arrive in one sync.
    rep = laptop("rep1")
    rep.login("rep1")
    rep.sync()
    acc = rep.writer.insert("accounts", account(org.t1, "Laptop's"))
    contact = rep.writer.insert("contacts", {"account_id": acc, "first_name": "Ann"})
    result = rep.sync()
    assert result.rejected == 0, result.rejections
    assert server_row(storage, "contacts", contact) is not None


def test_the_login_answer_tells_a_laptop_its_clock_tag_only_if_it_understands_it(
    org: Org, server: LiveServer
) -> None:
    body = {"user": "rep1", "password": PASSWORD, "device_id": "tagged-laptop"}
    with httpx.Client(base_url=server.url) as c:
        new = c.post("/v1/login", json=body, headers=version_headers()).json()
        old_headers = {**version_headers(), PROTOCOL_HEADER: "1"}
        old = c.post("/v1/login", json=body, headers=old_headers).json()
    assert new["clock_tag"].startswith("t")
    assert "tagged-laptop" not in new["clock_tag"]
    assert "clock_tag" not in old  # a protocol-1 laptop refuses fields it does not know
    assert set(old) == {"token", "user_id", "username", "role", "last_seq"}
