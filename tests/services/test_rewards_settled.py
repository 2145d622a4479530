"""A reward a person decided or a refund settled is the ledger's answer for its key: a backfill
after a rule change, a retry or a sync's follow-up never computes it again. Declined stays
declined; a refunded deal's reward (voided, or clawed back once paid) is not paid again while the
referral stays won; only the referral leaving the stage and reaching it again earns again, under
the next key, by a stage move and by a backfill alike."""

from __future__ import annotations

from datetime import date

from fieldrep.domain.rewards import Trigger
from fieldrep.services.context import Context
from fieldrep.services.rewards import ledger, lifecycle
from fieldrep.store.writer import utc_now
from tests.services.rewards_support import (
    Org,
    add_referral,
    bonus_rule,
    make_org,
    move,
    rows,
    save_rule,
    sign_in,
)

DAY = date.today()


def _won(ctx: Context, org: Org, amount: float = 10_000.0) -> tuple[str, str]:
    """A referral won under the 5 % bonus (awaiting approval, no hold): (referral, reward)."""
    ref = add_referral(ctx, org)
    (rid,) = move(ctx, ref, "won", amount=amount, today=DAY).created
    return ref, rid


def _paid(ctx: Context, org: Org) -> tuple[str, str]:
    ref, rid = _won(ctx, org)
    lifecycle.approve(ctx, [rid])
    lifecycle.issue(ctx, None, batch="B1")
    return ref, rid


def _rule_change(ctx: Context, org: Org) -> None:
    """The bonus goes up to 10 %: a new version of the same rule, then the backfill it calls for."""
    save_rule(ctx, org, bonus_rule(percent_bp=1_000, hold_days=0))


def _rewards(ctx: Context, ref: str) -> list[tuple[str, str, int, str]]:
    return [
        (r["kind"], r["ledger_key"], r["amount_cents"], r["status"])
        for r in rows(ctx, "rewards", "referral_id = ?", (ref,))
    ]


def _notes(ctx: Context, ref: str) -> list[tuple[str, str | None]]:
    return [(r["id"], r["note"]) for r in rows(ctx, "rewards", "referral_id = ?", (ref,))]


def test_a_declined_reward_stays_declined_through_a_rule_change_and_a_backfill(
    ctx: Context,
) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    ref, rid = _won(ctx, org)
    lifecycle.decline(ctx, [rid], "the referrer works for the referred company")
    _rule_change(ctx, org)
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    assert _rewards(ctx, ref) == [("reward", f"{ref}:bonus:won", 50_000, "declined")]
    # the one-referral path (a retry, a sync's follow-up) says why
    again = ledger.compute_rewards(ctx, ref, Trigger.WON, today=DAY)
    assert again.created == []
    assert again.explained == [
        "Referral bonus: already in the ledger, declined: a manager's decision stands"
    ]
    assert rows(ctx, "notifications", "subject = 'Rewards awaiting your approval'") == []


def test_reopening_and_winning_again_does_not_bring_a_declined_reward_back(
    ctx: Context,
) -> None:
    """Bouncing the stage is not a way round a manager's "no": reconsidering is for a person."""
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    ref, rid = _won(ctx, org)
    lifecycle.decline(ctx, [rid], "the referrer works for the referred company")
    move(ctx, ref, "proposal", today=DAY)
    got = move(ctx, ref, "won", amount=12_000.0, today=DAY)
    assert got.created == []
    assert "declined: a manager's decision stands" in got.explained[0]
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    assert _rewards(ctx, ref) == [("reward", f"{ref}:bonus:won", 50_000, "declined")]


def test_a_refund_clawback_is_not_paid_again_by_a_backfill(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    ref, rid = _paid(ctx, org)
    (cid,) = ledger.on_deal_refunded(ctx, ref, "returned within 30 days")
    assert rows(ctx, "rewards", "id = ?", (cid,))[0]["clawback_of_id"] == rid
    _rule_change(ctx, org)
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    again = ledger.compute_rewards(ctx, ref, Trigger.WON, today=DAY)
    assert again.created == []
    assert "clawed back: settled until the referral leaves the stage" in again.explained[0]
    assert _rewards(ctx, ref) == [
        ("reward", f"{ref}:bonus:won", 50_000, "issued"),
        ("clawback", f"{ref}:bonus:won:clawback", -50_000, "approved"),
    ]
    (bal,) = lifecycle.balances(ctx.conn)
    assert (bal.due_cents, bal.clawback_open_cents) == (0, -50_000)  # nothing new owed
    assert rows(ctx, "rewards", "id = ?", (cid,))[0]["note"] == (
        "deal refunded: returned within 30 days"
    )


def test_a_refund_before_payout_is_not_paid_again_by_a_backfill(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    ref, rid = _won(ctx, org)
    assert ledger.on_deal_refunded(ctx, ref, "cancelled") == [rid]
    _rule_change(ctx, org)
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    assert _rewards(ctx, ref) == [("reward", f"{ref}:bonus:won", 50_000, "voided")]


def test_a_refund_of_a_reward_the_caps_left_nothing_of_keeps_it_settled(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_referrer_year_cents=50_000))
    _won(ctx, org)  # the whole yearly cap
    second = add_referral(ctx, org, name="Second")
    move(ctx, second, "won", amount=10_000.0, today=DAY)  # nothing left: voided, it stands
    ledger.on_deal_refunded(ctx, second, "cancelled")
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    assert _rewards(ctx, second) == [("reward", f"{second}:bonus:won", 0, "voided")]


def test_a_new_win_after_a_refund_and_a_reopen_earns_again_by_a_move_or_a_backfill(
    ctx: Context,
) -> None:
    """Leaving the stage ends the cycle the refund settled: reaching it again is a new trigger,
    paid under the next key, whether the stage move computes it or a backfill finds it."""
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    moved, _ = _paid(ctx, org)
    ledger.on_deal_refunded(ctx, moved, "returned within 30 days")
    before = _notes(ctx, moved)
    assert move(ctx, moved, "proposal", today=DAY).reversed == []  # settled already
    assert _notes(ctx, moved) == before  # the stage history says it left: nothing is written
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []  # not won now
    got = move(ctx, moved, "won", amount=6_000.0, today=DAY)
    assert [r[1:] for r in _rewards(ctx, moved)][2:] == [
        (f"{moved}:bonus:won#2", 30_000, "awaiting_approval")
    ]
    assert len(got.created) == 1
    # the same new trigger, found by a backfill (the move reached this laptop without the ledger)
    found = add_referral(ctx, org, name="Carl")
    (voided,) = move(ctx, found, "won", amount=4_000.0, today=DAY).created
    ledger.on_deal_refunded(ctx, found, "cancelled")
    move(ctx, found, "lost", today=DAY)
    ctx.writer.update("referrals", found, {"stage": "won"})
    made = ledger.backfill(ctx, Trigger.WON, today=DAY).created
    assert [rows(ctx, "rewards", "id = ?", (rid,))[0]["ledger_key"] for rid in made] == [
        f"{found}:bonus:won#2"
    ]
    assert rows(ctx, "rewards", "id = ?", (voided,))[0]["note"] == "deal refunded: cancelled"
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []


def test_a_reason_a_manager_types_is_for_people_to_read_and_changes_nothing(
    ctx: Context,
) -> None:
    """Whether the referral left the stage is read from its stage history, not from the words a
    decline or a refund was given: "moved back to" in them ends no cycle."""
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    declined, rid = _won(ctx, org)
    lifecycle.decline(
        ctx,
        [rid],
        "the referral moved back to proposal last week; then the referral moved back to won",
    )
    voided, _ = _won(ctx, org, 4_000.0)
    ledger.on_deal_refunded(ctx, voided, "cancelled; then the referral moved back to proposal")
    clawed, _ = _paid(ctx, org)
    ledger.on_deal_refunded(ctx, clawed, "returned; then the referral moved back to qualified")
    before = {ref: _rewards(ctx, ref) for ref in (declined, voided, clawed)}
    _rule_change(ctx, org)
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    for ref in before:
        assert ledger.compute_rewards(ctx, ref, Trigger.WON, today=DAY).created == []
    assert {ref: _rewards(ctx, ref) for ref in before} == before
    # the stage history alone ends the cycle: the refunded one, reopened and won again, earns
    move(ctx, voided, "proposal", today=DAY)
    move(ctx, voided, "won", amount=4_000.0, today=DAY)
    assert [key for _, key, _, _ in _rewards(ctx, voided)] == [
        f"{voided}:bonus:won",
        f"{voided}:bonus:won#2",
    ]


def test_a_refund_after_a_reopening_and_new_win_this_laptop_never_saw_settles_the_new_win(
    ctx: Context,
) -> None:
    """The referral was reopened and won again on another laptop, and those moves reached this
    one by sync (their events, without the ledger's voiding): the reward still standing answers
    for the new win, so refunding that deal settles it, and nothing pays it again."""
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    ref, rid = _won(ctx, org)
    for frm, to in (("won", "proposal"), ("proposal", "won")):
        ctx.writer.insert(
            "referral_events",
            {"referral_id": ref, "at": utc_now(), "kind": "stage", "from_value": frm,
             "to_value": to},
        )  # fmt: skip
    assert ledger.on_deal_refunded(ctx, ref, "cancelled") == [rid]
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    assert _rewards(ctx, ref) == [("reward", f"{ref}:bonus:won", 50_000, "voided")]
