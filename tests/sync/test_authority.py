"""Authority attacks over real HTTP with a signed-in user's own token (issue 13, items 2-4): what a
rep's laptop pushes is checked per table and field, who-did-it fields come from the authenticated
user, a manager cannot graft a territory onto another team's, clocks at most 5 minutes ahead."""

from __future__ import annotations

from collections.abc import Callable

from fieldrep.domain.hlc import HybridLogicalClock
from fieldrep.server import admin
from fieldrep.server.storage import Storage
from fieldrep.store.writer import Writer
from tests.sync.harness import (
    PASSWORD,
    Laptop,
    Org,
    account,
    password_hash,
    server_row,
    server_view,
)

Make = Callable[[str], Laptop]


def _signed_in(laptop: Make, user: str) -> Laptop:
    lap = laptop(user)
    lap.login(user)
    lap.sync()
    return lap


def test_a_rep_cannot_size_or_approve_rewards_set_quotas_or_credit_others_deals(
    storage: Storage, org: Org, laptop: Make
) -> None:
    (theirs,) = admin.put_rows(storage, "accounts", [account(org.t1, "Rep2's", owner_id=org.rep2)])
    (mine,) = admin.put_rows(storage, "accounts", [account(org.t1, "Mine", owner_id=org.rep1)])
    (referral,) = admin.put_rows(
        storage,
        "referrals",
        [{"referred_name": "Lead", "captured_by_id": org.rep1, "created_at": "2024-01-01"}],
    )
    (quota,) = admin.put_rows(
        storage,
        "quotas",
        [{"user_id": org.rep1, "period": "month", "period_start": "2024-01-01", "target": 50000}],
    )
    rep = _signed_in(laptop, "rep1")
    reward = rep.writer.insert(
        "rewards",
        {
            "referral_id": referral,
            "recipient_user_id": org.rep1,
            "amount": 1_000_000,
            "status": "approved",
            "approved_by_id": org.manager,
        },
    )
    rep.writer.update("quotas", quota, {"target": 1})
    stolen = rep.writer.insert(
        "deals",
        {"account_id": theirs, "user_id": org.rep1, "amount": 1e7, "closed_on": "2024-02-01"},
    )
    credited = rep.writer.insert(
        "deals", {"account_id": mine, "user_id": org.rep2, "amount": 5, "closed_on": "2024-02-01"}
    )
    fair = rep.writer.insert(
        "deals", {"account_id": mine, "user_id": org.rep1, "amount": 900, "closed_on": "2024-02-01"}
    )
    result = rep.sync()
    assert result.refusals == {
        "only a manager can create, approve, issue or size rewards": 1,
        "only a manager can set quotas": 1,
        "a deal can only be recorded on an account you own": 1,
        "a deal can only be credited to yourself": 1,
    }
    assert server_row(storage, "rewards", reward) is None
    stored_quota = server_row(storage, "quotas", quota)
    assert stored_quota is not None
    assert stored_quota["target"] == 50000
    assert server_row(storage, "deals", stolen) is None
    assert server_row(storage, "deals", credited) is None
    assert server_row(storage, "deals", fair) is not None  # the legitimate change got through
    assert reward in rep.rows("rewards")  # refused, kept on the laptop, marked
    assert rep.rows("quotas")[quota]["target"] == 50000


def test_who_did_it_fields_come_from_the_signed_in_user(
    storage: Storage, org: Org, laptop: Make
) -> None:
    (acct,) = admin.put_rows(storage, "accounts", [account(org.t1, "A", owner_id=org.rep1)])
    (referral,) = admin.put_rows(
        storage,
        "referrals",
        [{"referred_name": "Lead", "captured_by_id": org.rep1, "created_at": "2024-01-01"}],
    )
    (reward,) = admin.put_rows(
        storage,
        "rewards",
        [{"referral_id": referral, "recipient_user_id": org.rep1, "amount": 50}],
    )
    rep = _signed_in(laptop, "rep1")
    blame = rep.writer.insert(
        "assignment_history",
        {"entity": "account", "entity_id": acct, "by_user_id": org.rep2, "at": "2024-01-01"},
    )
    captured = rep.writer.insert(
        "referrals", {"referred_name": "Someone", "captured_by_id": org.rep2}
    )
    event = rep.writer.insert(
        "referral_events",
        {"referral_id": referral, "at": "2024-01-02", "user_id": org.rep2, "kind": "note"},
    )
    assert rep.sync().rejected == 0
    for tbl, row_id, field in (
        ("assignment_history", blame, "by_user_id"),
        ("referrals", captured, "captured_by_id"),
        ("referral_events", event, "user_id"),
    ):
        stored = server_row(storage, tbl, row_id)
        assert stored is not None
        assert stored[field] == org.rep1, tbl
    rep.sync()
    assert rep.rows("assignment_history")[blame]["by_user_id"] == org.rep1

    # A manager approves a reward in someone else's name: the server records the manager.
    boss = _signed_in(laptop, "manager")
    boss.writer.update("rewards", reward, {"status": "approved", "approved_by_id": org.admin})
    assert boss.sync().rejected == 0
    stored = server_row(storage, "rewards", reward)
    assert stored is not None
    assert (stored["status"], stored["approved_by_id"]) == ("approved", org.manager)


def test_a_rep_cannot_reassign_a_colleagues_account(
    storage: Storage, org: Org, laptop: Make
) -> None:
    (theirs,) = admin.put_rows(storage, "accounts", [account(org.t1, "T", owner_id=org.rep2)])
    rep = _signed_in(laptop, "rep1")
    rep.writer.update("accounts", theirs, {"owner_id": org.rep1})
    result = rep.sync()
    assert result.refusals == {"only a manager can reassign accounts owned by someone else": 1}
    stored = server_row(storage, "accounts", theirs)
    assert stored is not None
    assert stored["owner_id"] == org.rep2


def test_a_rep_writes_a_colleague_only_the_follow_up_task_of_a_referral_they_captured(
    storage: Storage, org: Org, laptop: Make
) -> None:
    # Rep1 captured one referral that Rep2 owns; Rep2 captured another, which Rep2 also owns.
    (captured,) = admin.put_rows(
        storage,
        "referrals",
        [
            {
                "referred_name": "Lead",
                "captured_by_id": org.rep1,
                "owner_id": org.rep2,
                "territory_id": org.t2,
                "created_at": "2024-01-01",
            }
        ],
    )
    (not_mine,) = admin.put_rows(
        storage,
        "referrals",
        [
            {
                "referred_name": "Other",
                "captured_by_id": org.rep2,
                "owner_id": org.rep2,
                "territory_id": org.t1,
                "created_at": "2024-01-01",
            }
        ],
    )
    rep = _signed_in(laptop, "rep1")
    follow_up = rep.writer.insert(
        "tasks", {"referral_id": captured, "user_id": org.rep2, "title": "First contact"}
    )
    arbitrary = rep.writer.insert("tasks", {"user_id": org.rep2, "title": "Do my paperwork"})
    others_referral = rep.writer.insert(
        "tasks", {"referral_id": not_mine, "user_id": org.rep2, "title": "Call them"}
    )
    not_the_owner = rep.writer.insert(
        "tasks", {"referral_id": captured, "user_id": org.manager, "title": "Approve it"}
    )
    result = rep.sync()
    assert result.refusals == {"this tasks row would be outside your territories": 3}
    assert server_row(storage, "tasks", follow_up) is not None
    for refused in (arbitrary, others_referral, not_the_owner):
        assert server_row(storage, "tasks", refused) is None
    colleague = _signed_in(laptop, "rep2")
    assert set(colleague.rows("tasks")) == {follow_up}
    # Once written it is the colleague's: it leaves the captor's laptop at their next pull,
    # without a replacement sync (the laptop agrees with the server's checksums).
    assert not result.replaced
    assert result.verified
    assert set(rep.rows("tasks")) == {arbitrary, others_referral, not_the_owner}  # refused, kept


def test_a_manager_cannot_graft_a_territory_onto_another_teams(
    storage: Storage, org: Org, laptop: Make
) -> None:
    h = password_hash()
    olga = admin.add_user(storage, "olga", "manager", PASSWORD, password_hash=h)
    otto = admin.add_user(storage, "otto", "rep", PASSWORD, password_hash=h, manager_id=olga)
    (theirs,) = admin.put_rows(storage, "territories", [{"name": "Olga's", "owner_id": olga}])
    admin.put_rows(storage, "territory_members", [{"territory_id": theirs, "user_id": otto}])
    boss = _signed_in(laptop, "manager")
    graft = boss.writer.insert(
        "territories", {"name": "Graft", "parent_id": theirs, "created_at": "2024-01-01"}
    )
    moved = boss.writer.update("territories", org.t1, {"parent_id": theirs})
    assert moved
    inside = boss.writer.insert("accounts", account(graft, "Would leak"))
    result = boss.sync()
    assert result.refusals.get("a territory's parent must be one of your team's territories") == 2
    assert server_row(storage, "territories", graft) is None
    stored = server_row(storage, "territories", org.t1)
    assert stored is not None
    assert stored["parent_id"] is None
    assert set(server_view(storage, otto, "accounts")).isdisjoint({inside})
    # A parent of the manager's own team is fine.
    child = boss.writer.insert(
        "territories", {"name": "Sub-North", "parent_id": org.t1, "created_at": "2024-01-01"}
    )
    assert boss.sync().rejected == 0
    assert server_row(storage, "territories", child) is not None


def _ahead(laptop: Make, name: str, seconds: int) -> Laptop:
    lap = laptop(name)
    lap.ctx.writer = Writer(
        lap.ctx.db,
        HybridLogicalClock(
            lap.writer.device_id,
            wall_ms=lambda: HybridLogicalClock("x").wall_ms() + seconds * 1000,
        ),
    )
    return lap


def test_clocks_more_than_five_minutes_ahead_are_refused(
    storage: Storage, org: Org, laptop: Make
) -> None:
    """A rep stamping a change 10 minutes ahead cannot pre-empt the manager's reassignment."""
    (acct,) = admin.put_rows(storage, "accounts", [account(org.t1, "A", owner_id=org.rep1)])
    early = _ahead(laptop, "early", 10 * 60)
    early.login("rep1")
    early.sync()
    early.writer.update("accounts", acct, {"notes": "pre-empting"})
    result = early.sync()
    assert result.rejected == 1
    assert "more than 5 minutes ahead" in result.rejections[0]
    boss = _signed_in(laptop, "manager")
    boss.writer.update("accounts", acct, {"territory_id": org.t2, "owner_id": org.rep2})
    assert boss.sync().rejected == 0
    stored = server_row(storage, "accounts", acct)
    assert stored is not None
    assert (stored["territory_id"], stored["owner_id"], stored["notes"]) == (
        org.t2,
        org.rep2,
        None,
    )
    # A couple of minutes of skew is an ordinary laptop: accepted.
    near = _ahead(laptop, "near", 120)
    near.login("rep1")
    near.sync()
    mine = near.writer.insert("accounts", account(org.t1, "Two minutes ahead"))
    assert near.sync().rejected == 0
    assert server_row(storage, "accounts", mine) is not None
