"""The reward ledger on a real database: a won referral earns what the rules say, once, whatever
a retry does; hold, approval, payout and redemption; a reopened referral is voided or clawed back
as a row of its own, netted against the next payout."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from fieldrep.domain.rewards import AmountKind, Recipient, RewardError, Tier, Trigger
from fieldrep.services.context import Context
from fieldrep.services.rewards import ledger, lifecycle, rules
from tests.services.rewards_support import (
    JAN1,
    add_referral,
    bonus_rule,
    make_org,
    move,
    rows,
    save_rule,
    sign_in,
)

DAY = date.today()  # rewards are written now; the yearly caps count by the year they are written


def test_a_won_referral_earns_what_the_rule_says_once_with_its_explanation(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(cap_per_reward_cents=50_000))
    ref = add_referral(ctx, org)
    move(ctx, ref, "qualified", today=DAY)
    got = move(ctx, ref, "won", amount=12_400.0, today=DAY)
    assert len(got.created) == 1
    (reward,) = rows(ctx, "rewards")
    assert reward["amount_cents"] == 50_000  # 5 % of $12,400 = $620, capped at $500
    assert reward["amount"] == 500.0
    assert reward["status"] == "on_hold"
    assert reward["hold_until"] == (DAY + timedelta(days=14)).isoformat()
    assert reward["explanation"] == (
        "Referral bonus v1: 5 % of $12,400 = $620, capped at $500 by the per-reward cap"
    )
    assert reward["ledger_key"] == f"{ref}:bonus:won"
    assert reward["id"] == ledger.reward_id(reward["ledger_key"])
    assert reward["rule_version"] == 1
    assert reward["recipient_contact_id"] == org.referrer_contact
    # a retry of the same move, and the same computation again: still one reward
    again = ledger.compute_rewards(ctx, ref, Trigger.WON, today=DAY)
    assert again.created == []
    assert "already in the ledger" in again.explained[0]
    assert len(rows(ctx, "rewards")) == 1
    # the outbox: the rows and their sync entries committed together
    outbox = ctx.conn.execute(
        "SELECT count(*) FROM outbox WHERE tbl = 'rewards' AND row_id = ?", (reward["id"],)
    ).fetchone()[0]
    assert outbox == 1


def test_the_yearly_cap_counts_what_was_paid_this_year(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(cap_per_referrer_year_cents=100_000, hold_days=0))
    first, second = add_referral(ctx, org), add_referral(ctx, org, name="Carl")
    move(ctx, first, "won", amount=16_000.0, today=DAY)  # 5 % = $800
    move(ctx, second, "won", amount=12_400.0, today=DAY)  # 5 % = $620, $200 of room left
    amounts = [r["amount_cents"] for r in rows(ctx, "rewards")]
    assert amounts == [80_000, 20_000]
    explanation = rows(ctx, "rewards")[1]["explanation"]
    assert "capped at $200 by the yearly cap: $800 paid this year of $1,000" in explanation


def test_ineligible_referrals_earn_nothing_and_say_why(ctx: Context) -> None:
    org = make_org(ctx, consent=False)
    save_rule(ctx, org, bonus_rule(min_deal_cents=500_000))
    small = add_referral(ctx, org)
    got = move(ctx, small, "won", amount=1_000.0, today=DAY)
    assert got.created == []
    assert "under the minimum $5,000" in got.explained[0]
    assert "has not consented" in got.explained[0]
    selfish = add_referral(ctx, org, name="Self", flags=["self_referral"])
    got = move(ctx, selfish, "won", amount=9_000.0, today=DAY)
    assert "self-referral" in got.explained[0]
    assert rows(ctx, "rewards") == []


def test_hold_approval_payout_and_redemption(ctx: Context, tmp_path: Path) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule())
    ref = add_referral(ctx, org)
    move(ctx, ref, "won", amount=4_000.0, today=DAY)  # $200
    (rid,) = [r["id"] for r in rows(ctx, "rewards")]
    assert lifecycle.release_holds(ctx, DAY + timedelta(days=13)) == []
    assert lifecycle.release_holds(ctx, DAY + timedelta(days=14)) == [rid]
    assert rows(ctx, "rewards")[0]["status"] == "awaiting_approval"
    managers_told = rows(ctx, "notifications", "related_id = ? AND channel = 'app'", (rid,))
    assert [n["recipient_user_id"] for n in managers_told] == [org.manager]

    sign_in(ctx, org.rep)
    with pytest.raises(rules.NotAllowed, match="only a manager"):
        lifecycle.approve(ctx, [rid])
    assert [r.id for r in lifecycle.for_user(ctx)] == [rid]  # a rep sees their referral's reward
    sign_in(ctx, org.manager)
    with pytest.raises(RewardError, match="say why"):
        lifecycle.decline(ctx, [rid], "  ")
    assert lifecycle.approve(ctx, [rid]) == [rid]
    with pytest.raises(RewardError, match="already approved"):
        lifecycle.approve(ctx, [rid])

    path = tmp_path / "payout.csv"
    payout = lifecycle.issue(ctx, path, batch="B1")
    assert payout.total_cents == 20_000
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert [(x["recipient"], x["amount"], x["email"], x["reward_ids"]) for x in lines] == [
        ("Jane Doe", "200.00", "jane@acme.test", rid)
    ]
    reward = rows(ctx, "rewards")[0]
    assert (reward["status"], reward["payout_batch"]) == ("issued", "B1")
    mail = rows(ctx, "notifications", "related_id = ? AND channel = 'email'", (rid,))
    assert mail[0]["subject"] == "Your reward of $200 is on its way"
    assert mail[0]["to_address"] == "jane@acme.test"
    assert mail[0]["status"] == "queued"
    # issued once: a second batch finds nothing to pay
    assert lifecycle.issue(ctx, None, batch="B2").lines == []
    assert lifecycle.redeem(ctx, [rid]) == [rid]
    with pytest.raises(RewardError, match="already redeemed"):
        lifecycle.redeem(ctx, [rid])


def test_reopened_after_payout_claws_back_and_nets_against_the_next_reward(
    ctx: Context, tmp_path: Path
) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    first = add_referral(ctx, org)
    move(ctx, first, "won", amount=10_000.0, today=DAY)  # $500
    (paid,) = rows(ctx, "rewards")
    lifecycle.approve(ctx, [paid["id"]])
    lifecycle.issue(ctx, None, batch="B1")
    got = move(ctx, first, "proposal", today=DAY)  # reopened
    (claw,) = rows(ctx, "rewards", "kind = 'clawback'")
    assert got.reversed == [claw["id"]]
    assert claw["amount_cents"] == -50_000
    assert claw["clawback_of_id"] == paid["id"]
    assert claw["status"] == "approved"
    assert "the referral moved back to proposal" in claw["explanation"]
    assert rows(ctx, "rewards", "id = ?", (paid["id"],))[0]["amount_cents"] == 50_000  # no edit
    # a second move back claws back nothing more
    move(ctx, first, "lost", today=DAY)
    assert len(rows(ctx, "rewards", "kind = 'clawback'")) == 1
    (bal,) = lifecycle.balances(ctx.conn)
    assert (bal.issued_cents, bal.clawback_open_cents, bal.net_payable_cents) == (
        50_000,
        -50_000,
        0,
    )

    # a smaller new reward is not paid: it is netted, and carried
    second = add_referral(ctx, org, name="Carl")
    move(ctx, second, "won", amount=6_000.0, today=DAY)  # $300
    new = rows(ctx, "rewards", "referral_id = ?", (second,))[0]
    lifecycle.approve(ctx, [new["id"]])
    payout = lifecycle.issue(ctx, tmp_path / "p.csv", batch="B2")
    assert payout.lines == []
    assert payout.carried == [f"contact:{org.referrer_contact}"]
    third = add_referral(ctx, org, name="Dora")
    move(ctx, third, "won", amount=8_000.0, today=DAY)  # $400: 300 + 400 - 500 = 200
    lifecycle.approve(ctx, [rows(ctx, "rewards", "referral_id = ?", (third,))[0]["id"]])
    payout = lifecycle.issue(ctx, tmp_path / "p.csv", batch="B3")
    assert [(x["amount_cents"], x["rewards"], x["clawbacks"]) for x in payout.lines] == [
        (20_000, 2, 1)
    ]
    (bal,) = lifecycle.balances(ctx.conn)
    assert bal.clawback_open_cents == 0
    assert bal.due_cents == 0


def test_reopened_before_payout_is_voided_and_a_new_win_earns_again(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule())
    ref = add_referral(ctx, org)
    move(ctx, ref, "won", amount=4_000.0, today=DAY)
    move(ctx, ref, "proposal", today=DAY)
    (voided,) = rows(ctx, "rewards")
    assert voided["status"] == "voided"
    assert "moved back" in voided["note"]
    move(ctx, ref, "won", amount=5_000.0, today=DAY)
    keys = [r["ledger_key"] for r in rows(ctx, "rewards")]
    assert keys == [f"{ref}:bonus:won", f"{ref}:bonus:won#2"]
    assert rows(ctx, "rewards")[1]["amount_cents"] == 25_000


def test_a_refunded_deal_is_clawed_back(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    sign_in(ctx, org.manager)
    ref = add_referral(ctx, org)
    move(ctx, ref, "won", amount=2_000.0, today=DAY)
    lifecycle.approve(ctx, [rows(ctx, "rewards")[0]["id"]])
    lifecycle.issue(ctx, None)
    with pytest.raises(ValueError, match="say why"):
        ledger.on_deal_refunded(ctx, ref, "")
    (cid,) = ledger.on_deal_refunded(ctx, ref, "returned within 30 days")
    assert rows(ctx, "rewards", "id = ?", (cid,))[0]["amount_cents"] == -10_000


def test_a_rule_change_is_a_new_version_and_old_rewards_keep_theirs(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    first = add_referral(ctx, org)
    move(ctx, first, "won", amount=10_000.0, today=DAY)
    save_rule(ctx, org, bonus_rule(percent_bp=1_000, hold_days=0))
    second = add_referral(ctx, org, name="Carl")
    move(ctx, second, "won", amount=10_000.0, today=DAY)
    got = [(r["amount_cents"], r["rule_version"]) for r in rows(ctx, "rewards")]
    assert got == [(50_000, 1), (100_000, 2)]
    versions = [s.rule.version for s in rules.all_versions(ctx.conn)]
    assert versions == [1, 2]
    assert [s.rule.percent_bp for s in rules.current(ctx.conn)] == [1_000]


def test_bad_rules_are_refused_with_the_reason_and_nothing_saved(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule())
    with pytest.raises(RewardError, match="overlap"):
        save_rule(ctx, org, bonus_rule(rule_id="other", name="Other bonus"))
    with pytest.raises(RewardError, match="between 0 % and 100 %"):
        save_rule(ctx, org, bonus_rule(percent_bp=12_000))
    with pytest.raises(RewardError, match="end date"):
        save_rule(ctx, org, bonus_rule(valid_until=None))
    with pytest.raises(RewardError, match="negative"):
        save_rule(ctx, org, bonus_rule(kind=AmountKind.FIXED, amount_cents=-5))
    with pytest.raises(RewardError, match="smaller than the reward itself"):
        save_rule(
            ctx,
            org,
            bonus_rule(kind=AmountKind.FIXED, amount_cents=20_000, cap_per_reward_cents=10_000),
        )
    sign_in(ctx, org.rep)
    with pytest.raises(rules.NotAllowed):
        rules.save(ctx, bonus_rule(rule_id="mine", priority=5))
    assert len(rules.all_versions(ctx.conn)) == 1


def test_budget_and_tiers_for_the_capturing_rep(ctx: Context) -> None:
    org = make_org(ctx)
    tiered = bonus_rule(
        rule_id="rep",
        name="Rep incentive",
        recipient=Recipient.CAPTURING_REP,
        kind=AmountKind.TIERED_BY_COUNT,
        percent_bp=0,
        hold_days=0,
        tiers=(Tier(1, 10_000), Tier(2, 25_000)),
    )
    save_rule(ctx, org, tiered, budget_cents=30_000, budget_period="quarter")
    a, b = add_referral(ctx, org), add_referral(ctx, org, name="Carl")
    move(ctx, a, "won", amount=1_000.0, today=DAY)
    move(ctx, b, "won", amount=1_000.0, today=DAY)
    got = rows(ctx, "rewards")
    assert [r["amount_cents"] for r in got] == [10_000, 20_000]  # tier 2 = $250, budget left $200
    assert got[0]["recipient_user_id"] == org.rep
    assert "by the programme budget: $100 used of $300" in got[1]["explanation"]


def test_a_qualified_reward_survives_a_loss_but_not_a_move_back(ctx: Context) -> None:
    org = make_org(ctx)
    thanks = bonus_rule(
        rule_id="thanks",
        name="Thank-you card",
        trigger=Trigger.QUALIFIED,
        kind=AmountKind.FIXED,
        amount_cents=5_000,
        percent_bp=0,
        hold_days=0,
    )
    save_rule(ctx, org, thanks, needs_approval=False)
    ref = add_referral(ctx, org)
    move(ctx, ref, "qualified", today=JAN1)
    assert rows(ctx, "rewards")[0]["status"] == "approved"  # no approval needed
    move(ctx, ref, "lost", today=JAN1)
    assert rows(ctx, "rewards")[0]["status"] == "approved"
    move(ctx, ref, "contacted", today=JAN1)
    assert rows(ctx, "rewards")[0]["status"] == "voided"


def test_a_new_rule_is_backfilled_once_for_the_won_referrals(ctx: Context) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0))
    won = [add_referral(ctx, org, name=f"R{i}") for i in range(3)]
    for ref in won:
        move(ctx, ref, "won", amount=1_000.0, today=DAY)
    add_referral(ctx, org, name="Open")  # not won: nothing for it
    rep_rule = bonus_rule(
        rule_id="rep",
        name="Rep thanks",
        recipient=Recipient.CAPTURING_REP,
        kind=AmountKind.FIXED,
        amount_cents=2_500,
        percent_bp=0,
        hold_days=0,
    )
    save_rule(ctx, org, rep_rule)
    got = ledger.backfill(ctx, Trigger.WON, today=DAY)
    assert len(got.created) == 3
    rep_rewards = rows(ctx, "rewards", "recipient_kind = 'capturing_rep'")
    assert sorted(r["referral_id"] for r in rep_rewards) == sorted(won)
    assert {r["amount_cents"] for r in rep_rewards} == {2_500}
    assert len(rows(ctx, "rewards")) == 6
    logged = {e["to_value"] for e in rows(ctx, "referral_events", "kind = 'reward'")}
    assert set(got.created) <= logged  # each in its referral's history, written at the end
    told = rows(ctx, "notifications", "subject = 'Rewards awaiting your approval'")
    assert [n["recipient_user_id"] for n in told] == [org.manager]
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []


def test_a_backfill_writes_what_one_reward_at_a_time_would(tmp_path: Path) -> None:
    """The bulk run keeps the caps' running totals in memory and writes its rows at the end: the
    rewards (amounts after the yearly cap and the budget, tiers, keys, explanations) are the ones
    computing and writing each referral's in turn gives, on a copy of the same database."""
    first = tmp_path / "bulk.db"
    ctx = Context.open(first)
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_referrer_year_cents=150_000))
    earlier = add_referral(ctx, org, name="Earlier")
    move(ctx, earlier, "won", amount=10_000.0, today=DAY)  # $500 of the yearly cap paid already
    reopened = add_referral(ctx, org, name="Reopened")
    move(ctx, reopened, "won", amount=2_000.0, today=DAY)
    move(ctx, reopened, "proposal", today=DAY)  # its reward voided: it earns again, under #2
    other = ctx.writer.insert(
        "contacts",
        {"account_id": org.referrer_account, "first_name": "Olga", "referral_consent": 0},
    )
    for i in range(9):
        ref = add_referral(
            ctx, org, name=f"Lead {i}", **({"referrer_contact_id": other} if i == 4 else {})
        )
        ctx.writer.update("referrals", ref, {"stage": "won", "amount": 6_000.0 + 1_000 * i})
    ctx.writer.update("referrals", reopened, {"stage": "won"})
    dup = add_referral(ctx, org, name="Lead 0 again")
    ctx.writer.update("referrals", dup, {"stage": "won", "amount": 1.0, "duplicate_of_id": ref})
    tiers = (Tier(2, amount_cents=1_000), Tier(5, amount_cents=3_000))
    save_rule(
        ctx,
        org,
        bonus_rule(
            rule_id="acct",
            name="Account tiers",
            recipient=Recipient.REFERRER_ACCOUNT,
            kind=AmountKind.TIERED_BY_COUNT,
            percent_bp=0,
            tiers=tiers,
            hold_days=0,
        ),
    )
    save_rule(
        ctx,
        org,
        bonus_rule(
            rule_id="rep",
            name="Rep thanks",
            recipient=Recipient.CAPTURING_REP,
            kind=AmountKind.FIXED,
            amount_cents=2_500,
            percent_bp=0,
            hold_days=0,
        ),
        budget_cents=10_000,
        budget_period="quarter",
    )
    ctx.close()
    second = tmp_path / "one_by_one.db"
    import shutil

    shutil.copy(first, second)

    def ledger_rows(c: Context) -> list[tuple[object, ...]]:
        return sorted(
            (r["referral_id"], r["recipient_kind"], r["amount_cents"], r["status"],
             r["ledger_key"], r["explanation"], r["created_at"] is not None)
            for r in rows(c, "rewards")
        )  # fmt: skip

    bulk, single = Context.open(first), Context.open(second)
    try:
        made = ledger.backfill(bulk, Trigger.WON, today=DAY).created
        stored = rules.current(single.conn)
        ids = [
            r[0]
            for r in single.conn.execute(
                "SELECT id FROM referrals WHERE stage = 'won' AND duplicate_of_id IS NULL"
                " ORDER BY id"
            )
        ]
        one_by_one = []
        for referral_id in ids:
            one_by_one += ledger.compute_rewards(
                single, referral_id, Trigger.WON, today=DAY, stored_rules=stored, notify=False
            ).created
        assert sorted(made) == sorted(one_by_one)
        got = ledger_rows(bulk)
        assert got == ledger_rows(single)
        # the checks bit: the yearly cap, the budget, a tier, the second cycle's key
        kinds = {(k, s) for _, k, _, s, *_ in got}
        assert ("referrer_contact", "voided") in kinds  # nothing left under the yearly cap
        assert ("capturing_rep", "voided") in kinds  # the budget ran out
        assert {c for _, k, c, *_ in got if k == "referrer_account"} == {3_000}  # 5 and more
        assert any(key.endswith("#2") for *_, key, _, _ in got if key)
        assert len(rows(bulk, "referral_events", "kind = 'reward'")) == len(
            rows(single, "referral_events", "kind = 'reward'")
        )
        assert ledger.backfill(bulk, Trigger.WON, today=DAY).created == []
    finally:
        bulk.close()
        single.close()


def test_a_reward_the_caps_left_nothing_of_stands_until_the_referral_leaves_the_stage(
    ctx: Context,
) -> None:
    org = make_org(ctx)
    save_rule(ctx, org, bonus_rule(hold_days=0, cap_per_referrer_year_cents=50_000))
    first, second = add_referral(ctx, org, name="First"), add_referral(ctx, org, name="Second")
    move(ctx, first, "won", amount=10_000.0, today=DAY)  # $500: the whole yearly cap
    move(ctx, second, "won", amount=10_000.0, today=DAY)
    nothing = rows(ctx, "rewards", "referral_id = ?", (second,))
    assert [(r["amount_cents"], r["status"]) for r in nothing] == [(0, "voided")]
    # a later run (a backfill, a sync's follow-up) does not compute it again
    assert ledger.compute_rewards(ctx, second, Trigger.WON, today=DAY).created == []
    assert ledger.backfill(ctx, Trigger.WON, today=DAY).created == []
    # reopened and won again, it is worked out again, as a new cycle
    move(ctx, second, "proposal", today=DAY)
    got = move(ctx, second, "won", amount=10_000.0, today=DAY)
    (again,) = [rows(ctx, "rewards", "id = ?", (rid,))[0] for rid in got.created]
    assert again["ledger_key"].endswith("#2")
