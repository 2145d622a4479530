"""Reward rules: validation, the computation with caps in their stated order, and the lifecycle."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldrep.domain.rewards import (
    AmountKind,
    History,
    Recipient,
    ReferralFacts,
    RewardError,
    RewardRule,
    RewardStatus,
    Tier,
    Trigger,
    check_transition,
    clawback_cents,
    compute,
    ledger_key,
    net_payable,
    new_version,
    validate_rule,
    validate_rule_set,
)

JAN1, DEC31 = date(2026, 1, 1), date(2026, 12, 31)


def rule(**kw: object) -> RewardRule:
    base: dict[str, object] = {
        "rule_id": "r1",
        "version": 1,
        "name": "Referral bonus",
        "recipient": Recipient.REFERRER_CONTACT,
        "trigger": Trigger.WON,
        "kind": AmountKind.PERCENT,
        "valid_from": JAN1,
        "valid_until": DEC31,
        "percent_bp": 500,
    }
    base.update(kw)
    return RewardRule(**base)  # type: ignore[arg-type]


def facts(**kw: object) -> ReferralFacts:
    base: dict[str, object] = {
        "referral_id": "ref1",
        "stage": Trigger.WON,
        "on": date(2026, 6, 1),
        "deal_cents": 1_240_000,
    }
    base.update(kw)
    return ReferralFacts(**base)  # type: ignore[arg-type]


def test_the_explanation_names_every_cap_that_bit() -> None:
    r = rule(cap_per_reward_cents=50_000, cap_per_referrer_year_cents=200_000)
    got = compute(
        [r], facts(), History(referrer_paid_this_year_cents=150_000), Recipient.REFERRER_CONTACT
    )
    assert got.reward is not None
    # 5 % of $12,400 = $620, capped at $500 per reward, the yearly cap leaves $500 of $2,000.
    assert got.reward.amount_cents == 50_000
    assert "5 % of $12,400 = $620" in got.reward.explanation
    assert "capped at $500 by the per-reward cap" in got.reward.explanation
    assert "yearly cap" not in got.reward.explanation  # exactly $500 of room: it did not bite


def test_caps_apply_in_order_base_reward_year_budget() -> None:
    r = rule(
        base_cap_cents=1_000_000, cap_per_reward_cents=45_000, cap_per_referrer_year_cents=200_000
    )
    history = History(
        referrer_paid_this_year_cents=170_000, budget_cents=1_000_000, budget_used_cents=990_000
    )
    got = compute([r], facts(), history, Recipient.REFERRER_CONTACT).reward
    assert got is not None
    text = got.explanation
    order = [
        text.index(s) for s in ("base cap", "per-reward cap", "yearly cap", "programme budget")
    ]
    assert order == sorted(order)
    assert got.amount_cents == 10_000  # $10,000 base -> $500 -> $450 -> $300 room -> $100 budget


def test_money_is_integer_cents_and_rounds_down() -> None:
    got = compute(
        [rule(percent_bp=333)], facts(deal_cents=999), History(), Recipient.REFERRER_CONTACT
    )
    assert got.reward is not None
    assert got.reward.amount_cents == 33  # 3.33 % of $9.99 = 33.26 cents


def test_ineligible_rules_say_why_and_the_next_priority_pays() -> None:
    strict = rule(rule_id="big", name="Big deals", priority=2, min_deal_cents=5_000_000)
    fallback = rule(
        rule_id="any",
        name="Any deal",
        priority=1,
        kind=AmountKind.FIXED,
        amount_cents=10_000,
        percent_bp=0,
    )
    got = compute([fallback, strict], facts(), History(), Recipient.REFERRER_CONTACT)
    assert got.reward is not None
    assert got.reward.rule.rule_id == "any"
    assert got.skipped[0].rule.rule_id == "big"
    assert "under the minimum $50,000" in got.skipped[0].reasons[0]


def test_self_referral_no_consent_and_existing_customer_pay_nothing() -> None:
    r = rule(new_customers_only=True)
    got = compute(
        [r],
        facts(self_referral=True, consent=False, new_customer=False),
        History(),
        Recipient.REFERRER_CONTACT,
    )
    assert got.reward is None
    assert len(got.skipped[0].reasons) == 3


def test_tiers_by_count() -> None:
    r = rule(
        kind=AmountKind.TIERED_BY_COUNT, percent_bp=0, tiers=(Tier(1, 10_000), Tier(3, 25_000))
    )
    second = compute(
        [r], facts(), History(referrer_converted_count=1), Recipient.REFERRER_CONTACT
    ).reward
    third = compute(
        [r], facts(), History(referrer_converted_count=2), Recipient.REFERRER_CONTACT
    ).reward
    assert second is not None
    assert third is not None
    assert (second.amount_cents, third.amount_cents) == (10_000, 25_000)


def test_a_new_version_is_used_and_an_old_reward_keeps_its_version() -> None:
    v1 = rule()
    v2 = new_version(v1, percent_bp=1_000)
    got = compute([v1, v2], facts(), History(), Recipient.REFERRER_CONTACT).reward
    assert got is not None
    assert (got.rule.version, got.amount_cents) == (2, 124_000)
    assert v1.percent_bp == 500


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": AmountKind.FIXED, "amount_cents": -100}, "cannot be negative"),
        ({"percent_bp": 10_001}, "between 0 % and 100 %"),
        ({"valid_until": None}, "end date"),
        (
            {"kind": AmountKind.FIXED, "amount_cents": 50_000, "cap_per_reward_cents": 10_000},
            "smaller than the reward",
        ),
        (
            {
                "kind": AmountKind.FIXED,
                "amount_cents": 50_000,
                "cap_per_referrer_year_cents": 10_000,
            },
            "smaller than one reward",
        ),
        ({"kind": AmountKind.TIERED_BY_VALUE, "tiers": (Tier(5, 1), Tier(2, 1))}, "increasing"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(changes: dict[str, object], message: str) -> None:
    with pytest.raises(RewardError, match=message):
        validate_rule(rule(**changes))


def test_overlapping_rules_at_equal_priority_are_refused() -> None:
    a = rule(rule_id="a", name="Spring")
    b = rule(rule_id="b", name="Summer", valid_from=date(2026, 6, 1))
    with pytest.raises(RewardError, match="Spring and Summer overlap"):
        validate_rule_set([a, b])
    validate_rule_set([a, rule(rule_id="b", name="Summer", priority=1)])
    validate_rule_set(
        [
            a,
            rule(
                rule_id="b",
                name="Next year",
                valid_from=date(2027, 1, 1),
                valid_until=date(2027, 12, 31),
            ),
        ]
    )


def test_the_lifecycle_allows_only_its_steps() -> None:
    check_transition(RewardStatus.AWAITING_APPROVAL, RewardStatus.APPROVED)
    with pytest.raises(RewardError, match="cannot become approved"):
        check_transition(RewardStatus.ISSUED, RewardStatus.APPROVED)
    with pytest.raises(RewardError, match="already approved"):
        check_transition(RewardStatus.APPROVED, RewardStatus.APPROVED)
    with pytest.raises(RewardError, match="say why"):
        check_transition(RewardStatus.AWAITING_APPROVAL, RewardStatus.DECLINED)
    with pytest.raises(RewardError, match="on hold until 2026-07-01"):
        check_transition(
            RewardStatus.ON_HOLD,
            RewardStatus.AWAITING_APPROVAL,
            today=date(2026, 6, 2),
            hold_until=date(2026, 7, 1),
        )


def test_one_ledger_key_per_referral_rule_and_trigger() -> None:
    assert ledger_key("ref1", "r1", Trigger.WON) != ledger_key("ref1", "r1", Trigger.QUALIFIED)
    assert ledger_key("ref1", "r1", Trigger.WON) == ledger_key("ref1", "r1", Trigger.WON)


@given(st.lists(st.integers(min_value=0, max_value=10**7), max_size=6), st.data())
def test_clawbacks_net_to_zero_and_never_below(paid: list[int], data: st.DataObject) -> None:
    ledger = list(paid)
    for amount in paid:
        if data.draw(st.booleans()):
            ledger.append(clawback_cents(amount))
            ledger.append(clawback_cents(amount, already_clawed_cents=amount))  # a retry: nothing
    assert net_payable(ledger) >= 0
    assert net_payable([*paid, *(clawback_cents(p) for p in paid)]) == 0


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10_000))
def test_a_percentage_reward_never_exceeds_its_base(deal: int, bp: int) -> None:
    got = compute(
        [rule(percent_bp=bp)], facts(deal_cents=deal), History(), Recipient.REFERRER_CONTACT
    )
    assert got.reward is not None
    assert 0 <= got.reward.amount_cents <= deal
