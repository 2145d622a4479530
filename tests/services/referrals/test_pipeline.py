"""Stage moves: who may move, what Lost and Won need, backwards moves, and the board's queries."""

from __future__ import annotations

import pytest

from fieldrep.services.context import Context
from fieldrep.services.referrals import pipeline
from fieldrep.services.referrals.capture import ReferralService
from fieldrep.services.referrals.model import Stage
from fieldrep.services.referrals.pipeline import Filter, MoveRefused, move
from tests.services.referrals.conftest import draft


@pytest.fixture
def lead(ctx: Context, org: dict[str, str], service: ReferralService) -> str:
    ctx.set_user(org["boss"])
    result = service.capture(draft(org))  # owned by Omar (Texas), captured by the manager
    assert result.referral_id is not None
    ctx.set_user(org["omar"])
    return result.referral_id


def _stage_events(ctx: Context, referral_id: str) -> list[tuple[str, str, str | None]]:
    return ctx.conn.execute(
        "SELECT from_value, to_value, reason FROM referral_events WHERE referral_id = ?"
        " AND kind = 'stage' ORDER BY rowid",
        (referral_id,),
    ).fetchall()


def test_forward_and_back_moves_are_recorded_and_close_the_first_contact_task(
    ctx: Context, lead: str
) -> None:
    move(ctx, lead, Stage.CONTACTED)
    move(ctx, lead, "qualified")
    back = move(ctx, lead, Stage.CONTACTED)
    assert back.message == "Qualified -> Contacted (moved back)"
    assert _stage_events(ctx, lead) == [
        ("new", "contacted", None),
        ("contacted", "qualified", None),
        ("qualified", "contacted", "moved back"),
    ]
    done = ctx.conn.execute(
        "SELECT done FROM tasks WHERE referral_id = ? AND title LIKE 'First contact%'", (lead,)
    ).fetchone()
    assert done == (1,)
    due = ctx.conn.execute("SELECT sla_due_at FROM referrals WHERE id = ?", (lead,)).fetchone()
    assert due[0] is not None


def test_a_rep_cannot_move_a_colleagues_referral(
    ctx: Context, org: dict[str, str], lead: str
) -> None:
    ctx.set_user(org["ann"])  # a colleague: Omar owns it
    before = ctx.writer.pending_count()
    with pytest.raises(MoveRefused, match=r"only its owner \(Omar\) or a manager"):
        move(ctx, lead, Stage.CONTACTED)
    assert ctx.writer.pending_count() == before
    ctx.set_user(org["boss"])
    assert move(ctx, lead, Stage.CONTACTED).to_stage is Stage.CONTACTED


def test_lost_needs_a_reason(ctx: Context, lead: str) -> None:
    with pytest.raises(MoveRefused, match="say why it was lost"):
        move(ctx, lead, Stage.LOST)
    move(ctx, lead, Stage.LOST, reason="Went with a competitor")
    row = ctx.conn.execute("SELECT stage, lost_reason FROM referrals WHERE id = ?", (lead,))
    assert row.fetchone() == ("lost", "Went with a competitor")


def test_won_needs_a_value_and_an_account_and_writes_the_deal(ctx: Context, lead: str) -> None:
    with pytest.raises(MoveRefused, match="deal's value"):
        move(ctx, lead, Stage.WON, create_account=True)
    with pytest.raises(MoveRefused, match="link the account"):
        move(ctx, lead, Stage.WON, value=1200)
    won = move(ctx, lead, Stage.WON, value=1200, create_account=True)
    assert won.account_id is not None
    account = ctx.conn.execute(
        "SELECT name, phone, owner_id FROM accounts WHERE id = ?", (won.account_id,)
    ).fetchone()
    assert account[:2] == ("Lone Star Plumbing LLC", "+12145550199")
    deal = ctx.conn.execute("SELECT amount, account_id FROM deals WHERE referral_id = ?", (lead,))
    assert deal.fetchall() == [(1200.0, won.account_id)]
    # moved back from Won: the sale it recorded goes, the history stays
    move(ctx, lead, Stage.PROPOSAL)
    assert ctx.conn.execute("SELECT count(*) FROM deals").fetchone()[0] == 0
    assert [e[1] for e in _stage_events(ctx, lead)] == ["won", "proposal"]


def test_an_unknown_stage_is_refused(ctx: Context, lead: str) -> None:
    with pytest.raises(MoveRefused, match="'closed' is not a stage"):
        move(ctx, lead, "closed")


def test_board_queries_filter_in_sql_and_total_each_column(
    ctx: Context, org: dict[str, str], service: ReferralService, lead: str
) -> None:
    ctx.set_user(org["ann"])
    second = service.capture(
        draft(
            org,
            referred_name="Kim Park",
            referred_company="Park Bakery",
            phone="",
            email="kim@parkbakery.com",
            street="",
            postal_code="02139",
        )
    )
    ctx.set_user(org["omar"])
    move(ctx, lead, Stage.PROPOSAL)
    ctx.writer.update("referrals", lead, {"amount": 5000.0})
    totals = pipeline.totals(ctx.conn, Filter())
    assert totals[Stage.NEW].count == 1
    assert (totals[Stage.PROPOSAL].count, totals[Stage.PROPOSAL].value) == (1, 5000.0)
    mine = pipeline.cards(ctx.conn, Filter(owner_id=org["omar"]))
    assert [c.id for c in mine] == [lead]
    in_metro = pipeline.cards(ctx.conn, Filter(territory_id=org["metro"], stage=Stage.NEW))
    assert [c.id for c in in_metro] == [second.referral_id]
    ctx.writer.update("referrals", lead, {"sla_due_at": "2000-01-01T00:00:00.000Z"})
    overdue = pipeline.cards(ctx.conn, Filter(overdue=True))
    assert [c.id for c in overdue] == [lead]
    assert overdue[0].overdue
    history = pipeline.history(ctx.conn, lead)
    assert history[0]["kind"] == "created"
    assert history[0]["who"] == "Mia"


def test_the_sla_is_set_per_stage_and_per_territory(
    ctx: Context, org: dict[str, str], service: ReferralService
) -> None:
    from fieldrep.services.referrals import sla

    with ctx.writer.transaction() as conn:
        sla.set_days(conn, Stage.NEW, 5)  # every territory
        sla.set_days(conn, Stage.NEW, 1, org["texas"])  # Texas answers faster
    assert sla.days_for(ctx.conn, Stage.NEW, org["metro"]) == 5
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 1
    assert (
        sla.days_for(ctx.conn, Stage.CONTACTED, org["texas"]) == sla.DEFAULT_DAYS[Stage.CONTACTED]
    )
    assert sla.days_for(ctx.conn, Stage.WON, org["texas"]) is None
    result = service.capture(draft(org))
    created = ctx.conn.execute(
        "SELECT created_at, sla_due_at FROM referrals WHERE id = ?", (result.referral_id,)
    ).fetchone()
    from datetime import datetime

    start, due = (datetime.fromisoformat(v.replace("Z", "+00:00")) for v in created)
    assert (due - start).total_seconds() == 24 * 3600


def test_the_same_person_captured_by_two_reps_offline_ends_as_one_referral(
    ctx: Context, org: dict[str, str]
) -> None:
    from fieldrep.services.referrals.reconcile import link_duplicates

    def arrived(by: str, created: str) -> str:  # as a sync pull would leave it
        return ctx.writer.insert(
            "referrals",
            {
                "referred_name": "Sam Lee",
                "referred_phone": "+12145550199",
                "match_phone": "+12145550199",
                "captured_by_id": by,
                "owner_id": org["omar"],
                "territory_id": org["texas"],
                "created_at": created,
                "updated_at": created,
            },
        )

    second = arrived(org["bob"], "2026-03-02T10:00:00.000Z")
    first = arrived(org["ann"], "2026-03-01T09:00:00.000Z")
    ctx.set_user(org["ann"])  # not the owner: leaves it to Omar (or a manager)
    assert link_duplicates(ctx) == []
    ctx.set_user(org["omar"])
    assert link_duplicates(ctx) == [(second, first)]
    row = ctx.conn.execute("SELECT duplicate_of_id, flags FROM referrals WHERE id = ?", (second,))
    assert row.fetchone() == (first, '["already_referred"]')
    assert link_duplicates(ctx) == []  # once
    cards = pipeline.cards(ctx.conn, Filter())
    assert [c.id for c in cards] == [first]  # one referral on the board; the other linked, kept
    on_first = pipeline.history(ctx.conn, first)
    assert "captured by Bob" in on_first[-1]["reason"]


def test_a_managers_won_move_writes_the_reward_and_a_move_back_voids_it(
    ctx: Context, org: dict[str, str], lead: str
) -> None:
    """The stage move calls the reward ledger in its own transaction (issue 19 wiring)."""
    from fieldrep.domain.rewards import Recipient
    from fieldrep.services.rewards import rules
    from tests.services.rewards_support import bonus_rule

    ctx.set_user(org["boss"])
    rules.save(ctx, bonus_rule(recipient=Recipient.CAPTURING_REP, require_consent=False))
    move(ctx, lead, Stage.QUALIFIED)
    won = move(ctx, lead, Stage.WON, value=12_400.0, create_account=True)
    assert "5 % of $12,400 = $620" in won.message
    status = ctx.conn.execute(
        "SELECT status, amount_cents FROM rewards WHERE referral_id = ?", (lead,)
    ).fetchall()
    assert status == [("on_hold", 62_000)]
    move(ctx, lead, Stage.PROPOSAL)
    assert ctx.conn.execute(
        "SELECT status FROM rewards WHERE referral_id = ?", (lead,)
    ).fetchall() == [("voided",)]


def test_a_rep_is_told_the_reward_is_worked_out_by_the_manager(
    ctx: Context, org: dict[str, str], lead: str
) -> None:
    move(ctx, lead, Stage.QUALIFIED)  # Omar, a rep, owns it: the server lets no rep write rewards
    won = move(ctx, lead, Stage.WON, value=1_000.0, create_account=True)
    assert "worked out on your manager's laptop" in won.message
    assert ctx.conn.execute("SELECT count(*) FROM rewards").fetchone() == (0,)


def test_the_teams_sla_comes_before_the_laptops_own_and_follows_the_parent(
    ctx: Context, org: dict[str, str]
) -> None:
    from fieldrep.services.referrals import sla
    from fieldrep.services.territories import service as svc

    region = svc.create_territory(ctx, "South West", kind="region", owner_id=org["boss"])
    ctx.writer.update("territories", org["texas"], {"parent_id": region})
    with ctx.writer.transaction() as conn:
        sla.set_days(conn, Stage.NEW, 5)  # this laptop's own setting
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 5
    sla.set_team_days(ctx.writer, Stage.NEW, 2, region)  # the team's, on the region above
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 2
    assert sla.days_for(ctx.conn, Stage.NEW, org["metro"]) == 5  # not below the region
    sla.set_team_days(ctx.writer, Stage.NEW, 0.5, org["texas"])
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 0.5
    sla.set_team_days(ctx.writer, Stage.NEW, None, org["texas"])  # cleared: the region's again
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 2
    sla.set_team_days(ctx.writer, Stage.NEW, None, region)
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 5  # no team value: the laptop's
    # A value no one could have set through the app is passed over, not trusted.
    ctx.writer.update(
        "territories", org["texas"], {"referral_sla": '{"new": -1, "contacted": "x"}'}
    )
    assert sla.days_for(ctx.conn, Stage.NEW, org["texas"]) == 5
    with pytest.raises(ValueError, match="more than 0 days"):
        sla.set_team_days(ctx.writer, Stage.NEW, 0, org["texas"])
    with pytest.raises(ValueError, match="no SLA"):
        sla.set_team_days(ctx.writer, Stage.WON, 3, org["texas"])
