"""Territory management service: create/edit/archive, validation, precedence, members, handover."""

from __future__ import annotations

import pytest

from fieldrep.domain.territory_rules import DefinitionError
from fieldrep.services.context import Context
from fieldrep.services.territories import service as territory_service
from tests.services.helpers_territories import account, square, user


def outbox_size(ctx: Context) -> int:
    return ctx.writer.pending_count()


def test_create_four_ways_and_list(ctx: Context) -> None:
    boss = user(ctx, "mia", "manager")
    region = territory_service.create_territory(ctx, "East", kind="region")
    poly = territory_service.create_territory(
        ctx,
        "North-East",
        parent_id=region,
        geometry=square(-75, 40, -70, 45),
        owner_id=boss,
        priority=50,
    )
    zips = territory_service.create_territory(
        ctx, "Boston Metro", parent_id=region, postal_codes="02139\n2140", priority=10
    )
    regions = territory_service.create_territory(ctx, "New York", regions="US-NY, US-NJ")
    rules = territory_service.create_territory(
        ctx, "Key Accounts", rules=[{"size": ["1000+"]}], priority=5
    )
    rows = {r["name"]: r for r in territory_service.territory_rows(ctx)}
    assert rows["Boston Metro"]["postal_code_count"] == 2
    assert rows["North-East"]["has_polygon"] == 1
    assert rows["North-East"]["owner_name"] == "Mia"
    assert rows["North-East"]["parent_name"] == "East"
    assert rows["New York"]["region_count"] == 2
    assert rows["Key Accounts"]["rule_count"] == 1
    defs = {t.id: t for t in territory_service.load_definitions(ctx)}
    assert defs[zips].postal_codes == {"02139", "02140"}
    assert defs[poly].owner_id == boss
    assert {t.id for t in defs.values()} == {region, poly, zips, regions, rules}
    assert [m["user_id"] for m in territory_service.members(ctx, poly)] == [boss]


def test_bad_input_is_refused_and_nothing_written(ctx: Context) -> None:
    territory_service.create_territory(ctx, "A", postal_codes=["02139"])
    before = outbox_size(ctx)
    with pytest.raises(DefinitionError, match="same priority 100 and both list postal code"):
        territory_service.create_territory(ctx, "B", postal_codes="02139")
    with pytest.raises(DefinitionError, match="postal-code list is empty"):
        territory_service.create_territory(ctx, "C", postal_codes="  ")
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    with pytest.raises(DefinitionError, match="territory 'D': polygon is not valid"):
        territory_service.create_territory(ctx, "D", geometry=bowtie)
    with pytest.raises(DefinitionError, match="a territory needs a name"):
        territory_service.create_territory(ctx, " ")
    assert outbox_size(ctx) == before
    assert [r["name"] for r in territory_service.territory_rows(ctx)] == ["A"]


def test_cycle_in_hierarchy_is_refused(ctx: Context) -> None:
    a = territory_service.create_territory(ctx, "A", kind="region")
    b = territory_service.create_territory(ctx, "B", kind="region", parent_id=a)
    with pytest.raises(DefinitionError, match="cycle: "):
        territory_service.update_territory(ctx, a, parent_id=b)
    assert territory_service.get_row(ctx, a)["parent_id"] is None


def test_precedence_moves_and_archive(ctx: Context) -> None:
    a = territory_service.create_territory(ctx, "Alpha", postal_codes="1", priority=10)
    b = territory_service.create_territory(ctx, "Beta", postal_codes="2", priority=20)
    c = territory_service.create_territory(ctx, "Gamma", postal_codes="3", priority=20)
    territory_service.move_precedence(
        ctx, c, -1
    )  # equal numbers: Gamma gets an explicit lead over Beta
    order = [r["name"] for r in territory_service.territory_rows(ctx)]
    assert order == ["Alpha", "Gamma", "Beta"]
    territory_service.move_precedence(ctx, c, -1)
    assert [r["name"] for r in territory_service.territory_rows(ctx)] == ["Gamma", "Alpha", "Beta"]
    territory_service.archive_territory(ctx, a)
    assert [r["name"] for r in territory_service.territory_rows(ctx, include_archived=False)] == [
        "Gamma",
        "Beta",
    ]
    assert territory_service.get_row(ctx, b)["priority"] == 20


def test_members_weight_capacity(ctx: Context) -> None:
    t = territory_service.create_territory(ctx, "T", postal_codes="1")
    ann, bob = user(ctx, "ann"), user(ctx, "bob")
    territory_service.set_member(ctx, t, ann, weight=2, capacity=10)
    territory_service.set_member(ctx, t, bob)
    territory_service.set_member(ctx, t, ann, weight=3, capacity=None)
    rows = {m["username"]: m for m in territory_service.members(ctx, t)}
    assert rows["ann"]["routing_weight"] == 3
    assert rows["ann"]["capacity"] is None
    territory_service.remove_member(ctx, t, bob)
    assert [m["username"] for m in territory_service.members(ctx, t)] == ["ann"]
    with pytest.raises(Exception, match="routing weight cannot be negative"):
        territory_service.set_member(ctx, t, bob, weight=-1)


def test_handover_moves_open_items_with_history(ctx: Context) -> None:
    ann, bob = user(ctx, "ann"), user(ctx, "bob")
    t = territory_service.create_territory(ctx, "T", postal_codes="1", owner_id=ann)
    open_acc = account(ctx, "Open", owner_id=ann, territory_id=t, status="active")
    lost_acc = account(ctx, "Lost", owner_id=ann, territory_id=t, status="lost")
    task = ctx.writer.insert("tasks", {"user_id": ann, "title": "Call", "account_id": open_acc})
    done = ctx.writer.insert("tasks", {"user_id": ann, "title": "Old", "done": 1})
    ref = ctx.writer.insert(
        "referrals", {"referred_name": "Zed", "owner_id": ann, "territory_id": t}
    )
    result = territory_service.handover(ctx, ann, bob, territory_id=t, reason="Ann moves to HQ")
    assert (result.accounts, result.tasks, result.referrals) == (1, 1, 1)
    get = ctx.db.execute
    assert get("SELECT owner_id FROM accounts WHERE id = ?", [open_acc]).fetchone()[0] == bob
    assert get("SELECT owner_id FROM accounts WHERE id = ?", [lost_acc]).fetchone()[0] == ann
    assert get("SELECT user_id FROM tasks WHERE id = ?", [task]).fetchone()[0] == bob
    assert get("SELECT user_id FROM tasks WHERE id = ?", [done]).fetchone()[0] == ann
    assert get("SELECT owner_id FROM referrals WHERE id = ?", [ref]).fetchone()[0] == bob
    assert territory_service.get_row(ctx, t)["owner_id"] == bob
    hist = get(
        "SELECT entity, reason, to_owner_id FROM assignment_history ORDER BY entity"
    ).fetchall()
    assert hist == [
        ("account", "Ann moves to HQ", bob),
        ("referral", "Ann moves to HQ", bob),
        ("task", "Ann moves to HQ", bob),
    ]
    assert get("SELECT kind FROM referral_events").fetchall() == [("assignment",)]
    assert [m["username"] for m in territory_service.members(ctx, t)] == ["bob"]


def test_rep_leaving_hands_over_everything_and_territories(ctx: Context) -> None:
    ann, bob = user(ctx, "ann"), user(ctx, "bob")
    t1 = territory_service.create_territory(ctx, "T1", postal_codes="1", owner_id=ann)
    t2 = territory_service.create_territory(ctx, "T2", postal_codes="2")
    territory_service.set_member(ctx, t2, ann, weight=3, capacity=50)
    account(ctx, "A", owner_id=ann, territory_id=t1, status="active")
    account(ctx, "B", owner_id=ann, territory_id=t2, status="prospect")
    preview = territory_service.handover(ctx, ann, bob, dry_run=True)
    assert (preview.accounts, preview.tasks, preview.referrals) == (2, 0, 0)
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 0
    territory_service.handover(ctx, ann, bob, reason="Ann left")
    owners = ctx.db.execute("SELECT DISTINCT owner_id FROM accounts").fetchall()
    assert owners == [(bob,)]
    assert territory_service.get_row(ctx, t1)["owner_id"] == bob
    assert [(m["username"], m["role"]) for m in territory_service.members(ctx, t1)] == [
        ("bob", "owner")
    ]
    t2_members = [
        (m["username"], m["routing_weight"], m["capacity"])
        for m in territory_service.members(ctx, t2)
    ]
    assert t2_members == [("bob", 3.0, 50)]  # Bob takes over Ann's weight and capacity
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 2
