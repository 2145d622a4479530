"""Assignment service: the diff, one-transaction apply with history, assign-on-save, routing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fieldrep.services.context import Context
from fieldrep.services.territories import assignment as assign
from fieldrep.services.territories import service as territory_service
from fieldrep.services.territories.assign_on_create import route_referral
from fieldrep.services.territories.lead_routing import route_lead
from fieldrep.store.errors import StoreError
from tests.services.helpers_territories import account, square, user


@pytest.fixture
def org(ctx: Context) -> dict[str, str]:
    boss, ann, bob = user(ctx, "mia", "manager"), user(ctx, "ann"), user(ctx, "bob")
    ctx.set_user(boss)
    ne = territory_service.create_territory(
        ctx, "North-East", geometry=square(-75, 40, -70, 45), priority=50, owner_id=boss
    )
    metro = territory_service.create_territory(
        ctx, "Boston Metro", postal_codes="02139, 02140", priority=10
    )
    territory_service.set_member(ctx, metro, ann, weight=2)
    territory_service.set_member(ctx, metro, bob, weight=1)
    return {"boss": boss, "ann": ann, "bob": bob, "ne": ne, "metro": metro}


def test_dry_run_lists_moves_with_reasons_and_applies_nothing(
    ctx: Context, org: dict[str, str]
) -> None:
    inside = account(ctx, "Inside", lat=42.36, lon=-71.09, postal_code="02139")
    by_zip = account(ctx, "By Zip", postal_code="02139")
    nowhere = account(ctx, "Nowhere", postal_code="99999")
    locked = account(ctx, "Locked", postal_code="02139", locked=1)
    diff = assign.assign_all(ctx, dry_run=True)
    moves = {m.account_name: m for m in diff.moves}
    # Nowhere matches no territory and has no owner: it becomes the signed-in user's own.
    assert set(moves) == {"Inside", "By Zip", "Nowhere"}
    assert (moves["Nowhere"].to_territory_id, moves["Nowhere"].to_owner_id) == (None, ctx.user_id)
    assert diff.kept_as_yours == 1
    assert "1 account matches no territory: kept as yours" in assign.diff_text(diff)
    assert moves["Inside"].to_territory == "North-East"
    assert moves["Inside"].to_owner_id == org["boss"]  # no members: the fallback owner
    assert moves["By Zip"].reason.startswith("postal code 02139 is listed in Boston Metro")
    assert "owner: weighted round robin" in moves["By Zip"].reason
    assert diff.locked == 1
    assert [u[1] for u in diff.unassigned] == ["Nowhere"]
    assert diff.unassigned[0][2].startswith("no territory matches: no coordinates")
    count = ctx.db.execute("SELECT count(*) FROM accounts WHERE territory_id IS NOT NULL")
    assert count.fetchone()[0] == 0
    text = assign.diff_text(diff)
    assert "By Zip | (none) | Boston Metro | postal code 02139" in text
    assert text.endswith("not applied (dry run).")
    assert {inside, by_zip, nowhere, locked}


def test_apply_writes_moves_and_history_in_one_go(ctx: Context, org: dict[str, str]) -> None:
    ids = [account(ctx, f"Z{i}", postal_code="02139") for i in range(6)]
    diff = assign.assign_all(ctx, dry_run=False)
    assert diff.applied
    owners = [r[0] for r in ctx.db.execute("SELECT owner_id FROM accounts")]
    assert owners.count(org["ann"]) == 4  # weight 2 : 1
    assert owners.count(org["bob"]) == 2
    hist = assign.history(ctx, ids[0])
    assert len(hist) == 1
    assert hist[0]["by_user_id"] == org["boss"]
    assert hist[0]["to_territory_id"] == org["metro"]
    assert hist[0]["reason"].startswith("postal code 02139 is listed in Boston Metro")
    # A second run finds nothing to do.
    assert assign.assign_all(ctx, dry_run=True).moves == []


def test_stale_diff_is_refused_whole(ctx: Context, org: dict[str, str]) -> None:
    a = account(ctx, "A", postal_code="02139")
    b = account(ctx, "B", postal_code="02140")
    diff = assign.assign_all(ctx, dry_run=True)
    ctx.writer.update("accounts", b, {"owner_id": org["boss"]})
    with pytest.raises(StoreError, match="changed since the diff was made"):
        assign.apply(ctx, diff)
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 0
    terr = ctx.db.execute("SELECT territory_id FROM accounts WHERE id = ?", [a]).fetchone()[0]
    assert terr is None


def test_assign_on_save_routes_and_explains(ctx: Context, org: dict[str, str]) -> None:
    a = account(ctx, "New", postal_code="2140")
    move = assign.assign_account(ctx, a)
    assert move is not None
    assert move.to_territory_id == org["metro"]
    assert move.to_owner_id == org["ann"]
    assert move.reason.startswith("lead routed: postal code 02140 is listed in Boston Metro")
    assert assign.assign_account(ctx, a) is None  # nothing changes the second time
    ctx.writer.update("accounts", a, {"lat": 42.0, "lon": -72.0})
    moved = assign.assign_account(ctx, a)
    assert moved is not None
    assert moved.to_territory == "North-East"
    decision = assign.explain_account(ctx, a)
    assert decision.reason.startswith("location (42.0000, -72.0000) lies inside North-East's")
    assert len(assign.history(ctx, a)) == 2


def test_route_lead_respects_capacity(ctx: Context, org: dict[str, str]) -> None:
    territory_service.set_member(ctx, org["metro"], org["ann"], weight=2, capacity=0)
    choice = route_lead(ctx, org["metro"])
    assert choice.user_id == org["bob"]
    assert "skipped at capacity: Ann" in choice.reason


def test_accounts_service_assigns_new_and_edited_accounts_on_save(
    ctx: Context, org: dict[str, str]
) -> None:
    from fieldrep.services.accounts.service import AccountsService

    accounts = AccountsService(ctx)
    # A pin south of North-East's polygon: the postal code decides.
    new = accounts.create({"name": "Fresh", "postal_code": "2139", "lat": 39.0, "lon": -77.0})
    row = ctx.db.execute("SELECT territory_id, owner_id FROM accounts WHERE id = ?", [new])
    territory, owner = row.fetchone()
    assert territory == org["metro"]
    assert owner == org["ann"]  # the creator (manager) is no member: routed, weight 2 first
    first = assign.history(ctx, new)
    assert len(first) == 1
    assert first[0]["reason"].startswith("lead routed: postal code 02139 is listed in Boston")
    assert first[0]["by_user_id"] == org["boss"]
    # An edit that moves the pin into North-East's polygon moves the account there.
    accounts.update(new, {"lat": 42.5, "lon": -72.5})
    row = ctx.db.execute("SELECT territory_id FROM accounts WHERE id = ?", [new]).fetchone()
    assert row[0] == org["ne"]
    assert len(assign.history(ctx, new)) == 2
    # Undo puts the address back, and the assignment follows it.
    accounts.undo()
    row = ctx.db.execute("SELECT territory_id FROM accounts WHERE id = ?", [new]).fetchone()
    assert row[0] == org["metro"]
    # An explicit territory choice by the user is kept (no engine override).
    accounts.update(new, {"territory_id": org["ne"], "lat": 43.0, "lon": -71.0})
    row = ctx.db.execute("SELECT territory_id FROM accounts WHERE id = ?", [new]).fetchone()
    assert row[0] == org["ne"]


class _Stop(Exception):
    pass


def test_cancelled_apply_leaves_nothing_half_applied(ctx: Context, org: dict[str, str]) -> None:
    for i in range(5):
        account(ctx, f"Z{i}", postal_code="02139")
    diff = assign.assign_all(ctx, dry_run=True)
    seen: list[tuple[int, int]] = []

    def stop(done: int, total: int, _text: str) -> None:
        seen.append((done, total))
        if done == 0:  # the first report comes after the first account was already updated
            raise _Stop

    with pytest.raises(_Stop):
        assign.apply(ctx, diff, stop)
    assert seen == [(0, 5)]
    assert (
        ctx.db.execute("SELECT count(*) FROM accounts WHERE territory_id IS NOT NULL").fetchone()[0]
        == 0
    )
    assert ctx.db.execute("SELECT count(*) FROM assignment_history").fetchone()[0] == 0


def test_diff_reports_progress_over_all_accounts(ctx: Context, org: dict[str, str]) -> None:
    for i in range(3):
        account(ctx, f"Z{i}", postal_code="99999")  # none of them moves
    reports: list[tuple[int, int, str]] = []
    assign.assign_all(ctx, dry_run=True, progress=lambda d, t, s: reports.append((d, t, s)))
    assert (0, 3, "Building the diff") in reports


def test_imported_accounts_are_assigned_and_routed_like_saved_ones(
    ctx: Context, tmp_path: Path
) -> None:
    from fieldrep.services.imports.accounts import import_accounts

    boss, ann, bob = user(ctx, "mia", "manager"), user(ctx, "ann"), user(ctx, "bob")
    ctx.set_user(boss)
    ct = territory_service.create_territory(
        ctx, "Connecticut", geometry=square(-74, 41, -71.8, 42.1), owner_id=boss
    )
    denver = territory_service.create_territory(ctx, "Denver Metro", postal_codes="80202, 80203")
    territory_service.set_member(ctx, denver, ann, weight=2)
    territory_service.set_member(ctx, denver, bob, weight=1)
    rows = [["Company", "City", "State", "ZIP"]]
    rows += [[f"Denver {i}", "Denver", "CO", "80202"] for i in range(6)]
    rows += [["Hartford Co", "Hartford", "CT", "06103"], ["Far Away Inc", "Miami", "FL", "33101"]]
    path = tmp_path / "accounts.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    report = import_accounts(ctx, path)
    assert report.imported == 8
    assert report.assigned == 7  # Far Away Inc matches no territory
    assert report.summary()["assigned"] == 7
    got = {
        name: (territory, owner)
        for name, territory, owner in ctx.db.execute(
            "SELECT name, territory_id, owner_id FROM accounts"
        )
    }
    metro = [got[f"Denver {i}"] for i in range(6)]
    assert {t for t, _ in metro} == {denver}
    # Weighted round robin over the whole file: ann (weight 2) gets 4 of 6, bob 2.
    owners = [o for _, o in metro]
    assert (owners.count(ann), owners.count(bob)) == (4, 2)
    assert got["Hartford Co"] == (ct, boss)  # inside the polygon; the territory's owner
    assert got["Far Away Inc"] == (None, boss)  # matched by nothing: kept by the importer
    assert "1 account matches no territory: kept as yours" in report.notes
    reasons = [
        r
        for (r,) in ctx.db.execute("SELECT reason FROM assignment_history WHERE entity = 'account'")
    ]
    assert len(reasons) == 7
    assert sum("postal code 80202 is listed in Denver Metro" in r for r in reasons) == 6
    assert sum("inside Connecticut's boundary" in r for r in reasons) == 1


def test_referred_leads_are_routed_by_weight_with_event_and_history(ctx: Context) -> None:
    boss, ann, bob = user(ctx, "mia", "manager"), user(ctx, "ann"), user(ctx, "bob")
    ctx.set_user(boss)
    denver = territory_service.create_territory(ctx, "Denver Metro", postal_codes="80202, 80203")
    territory_service.set_member(ctx, denver, ann, weight=2)
    territory_service.set_member(ctx, denver, bob, weight=1)

    def referral(name: str, postal_code: str) -> str:
        return ctx.writer.insert(
            "referrals",
            {"referred_name": name, "referred_postal_code": postal_code, "captured_by_id": boss},
        )

    leads = [referral(f"Lead {i}", "80202") for i in range(6)]
    moves = [route_referral(ctx, lead) for lead in leads]
    owners = [m.to_owner_id for m in moves if m is not None]
    assert (owners.count(ann), owners.count(bob)) == (4, 2)
    assert {m.to_territory for m in moves if m is not None} == {"Denver Metro"}
    event = ctx.db.execute(
        "SELECT kind, to_value, reason FROM referral_events WHERE referral_id = ?", [leads[1]]
    ).fetchone()
    assert event[0] == "assignment"
    assert "postal code 80202 is listed in Denver Metro" in event[2]
    (hist,) = assign.history(ctx, leads[1])
    assert hist["entity"] == "referral"
    assert hist["to_territory_id"] == denver

    nowhere = referral("Far Away", "33101")
    assert route_referral(ctx, nowhere) is None
    row = ctx.db.execute("SELECT territory_id, owner_id FROM referrals WHERE id = ?", [nowhere])
    assert row.fetchone() == (None, None)
    with pytest.raises(StoreError, match="does not exist"):
        route_referral(ctx, "missing")
