"""Referral rewards: versioned rules, their validation, the computation with its caps, and the
reward lifecycle. Pure functions over integer cents and basis points; no floats touch money.

A rule says who is rewarded (the referrer's contact or account, the referred party, the capturing
rep), at which stage (qualified or won), under which conditions (minimum deal value, new customers
only, no self-referral, consent given), and how much: a fixed amount, a percentage of the deal value
(with a cap on the base), or tiers by the referrer's count or converted value in the period. When
several rules match, the one with the highest priority applies.

Caps apply in a stated order, each named in the explanation:
1. the base cap (the largest deal value a percentage is taken of),
2. the per-reward cap,
3. the per-referrer cap per calendar year (to stay under a tax-reporting threshold, say),
4. the programme budget per period.

Kept whole: the reward rules and the pure computation that applies them are one vocabulary; each
part is small.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import Any


class Recipient(StrEnum):
    REFERRER_CONTACT = "referrer_contact"
    REFERRER_ACCOUNT = "referrer_account"
    REFERRED_PARTY = "referred_party"
    CAPTURING_REP = "capturing_rep"


class Trigger(StrEnum):
    QUALIFIED = "qualified"
    WON = "won"


class AmountKind(StrEnum):
    FIXED = "fixed"
    PERCENT = "percent"
    TIERED_BY_COUNT = "tiered_by_count"
    TIERED_BY_VALUE = "tiered_by_value"


class RewardStatus(StrEnum):
    PENDING = "pending"
    ON_HOLD = "on_hold"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    ISSUED = "issued"
    REDEEMED = "redeemed"
    DECLINED = "declined"
    VOIDED = "voided"


class RewardError(ValueError):
    """A rule or a reward change was refused; the message says why in one sentence."""


BASIS_POINTS = 10_000  # 100 %


def money(cents: int, currency: str = "USD") -> str:
    """``$12,400`` / ``$620.50`` / ``-$200``: whole amounts without cents."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency, currency + " ")
    text = f"{whole:,}" if part == 0 else f"{whole:,}.{part:02d}"
    return f"{sign}{symbol}{text}"


def percent(bp: int) -> str:
    whole, part = divmod(bp, 100)
    return f"{whole} %" if part == 0 else f"{whole}.{part:02d}".rstrip("0") + " %"


@dataclass(frozen=True)
class Tier:
    """From ``threshold`` (a count of converted referrals, or converted value in cents) upwards."""

    threshold: int
    amount_cents: int = 0
    percent_bp: int = 0


@dataclass(frozen=True)
class RewardRule:
    rule_id: str
    version: int
    name: str
    recipient: Recipient
    trigger: Trigger
    kind: AmountKind
    valid_from: date
    valid_until: date | None
    priority: int = 0
    amount_cents: int = 0
    percent_bp: int = 0
    base_cap_cents: int | None = None
    tiers: tuple[Tier, ...] = ()
    min_deal_cents: int = 0
    new_customers_only: bool = False
    exclude_self_referrals: bool = True
    require_consent: bool = True
    cap_per_reward_cents: int | None = None
    cap_per_referrer_year_cents: int | None = None
    hold_days: int = 0
    currency: str = "USD"

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def validate_rule(rule: RewardRule) -> None:
    """Refuse a rule that could not pay what it says, naming the field."""
    if rule.amount_cents < 0:
        raise RewardError(f"{rule.name}: the amount cannot be negative")
    if not 0 <= rule.percent_bp <= BASIS_POINTS:
        raise RewardError(f"{rule.name}: a percentage must be between 0 % and 100 %")
    if rule.valid_until is None:
        raise RewardError(
            f"{rule.name}: give the rule an end date (rules without one never retire)"
        )
    if rule.valid_until < rule.valid_from:
        raise RewardError(f"{rule.name}: the rule ends before it starts")
    if rule.hold_days < 0:
        raise RewardError(f"{rule.name}: hold days cannot be negative")
    for cap_name, cap in (
        ("base cap", rule.base_cap_cents),
        ("per-reward cap", rule.cap_per_reward_cents),
        ("yearly cap per referrer", rule.cap_per_referrer_year_cents),
    ):
        if cap is not None and cap <= 0:
            raise RewardError(f"{rule.name}: the {cap_name} must be more than zero")
    if rule.kind is AmountKind.FIXED:
        if rule.amount_cents <= 0:
            raise RewardError(f"{rule.name}: a fixed reward needs an amount")
        if rule.cap_per_reward_cents is not None and rule.cap_per_reward_cents < rule.amount_cents:
            raise RewardError(
                f"{rule.name}: the per-reward cap {money(rule.cap_per_reward_cents)} is smaller"
                f" than the reward itself ({money(rule.amount_cents)})"
            )
    if (
        rule.kind is AmountKind.FIXED
        and rule.cap_per_referrer_year_cents is not None
        and rule.cap_per_referrer_year_cents < rule.amount_cents
    ):
        raise RewardError(
            f"{rule.name}: the yearly cap {money(rule.cap_per_referrer_year_cents)} is smaller"
            f" than one reward ({money(rule.amount_cents)})"
        )
    if rule.kind is AmountKind.PERCENT and rule.percent_bp <= 0:
        raise RewardError(f"{rule.name}: a percentage reward needs a percentage")
    if rule.kind in (AmountKind.TIERED_BY_COUNT, AmountKind.TIERED_BY_VALUE):
        if not rule.tiers:
            raise RewardError(f"{rule.name}: a tiered reward needs at least one tier")
        thresholds = [t.threshold for t in rule.tiers]
        if thresholds != sorted(set(thresholds)):
            raise RewardError(f"{rule.name}: tiers must have increasing, distinct thresholds")
        for t in rule.tiers:
            if t.amount_cents < 0 or not 0 <= t.percent_bp <= BASIS_POINTS:
                raise RewardError(
                    f"{rule.name}: the tier from {t.threshold} has a negative amount or a"
                    " percentage over 100 %"
                )


def validate_rule_set(rules: Sequence[RewardRule]) -> None:
    """Each rule valid, and no two with the same recipient, trigger and priority overlapping in time
    (which one pays would be a coin toss)."""
    for rule in rules:
        validate_rule(rule)
    check_overlaps(rules)


def check_overlaps(rules: Sequence[RewardRule]) -> None:
    """No two latest versions with the same recipient, trigger and priority overlap in time (a rule
    saved before end dates were required counts as running for ever)."""
    latest = _latest_versions(rules)
    for i, a in enumerate(latest):
        for b in latest[i + 1 :]:
            if (a.recipient, a.trigger, a.priority) != (b.recipient, b.trigger, b.priority):
                continue
            a_end = a.valid_until or date.max
            b_end = b.valid_until or date.max
            if a.valid_from <= b_end and b.valid_from <= a_end:
                raise RewardError(
                    f"{a.name} and {b.name} overlap ({max(a.valid_from, b.valid_from)} to"
                    f" {min(a_end, b_end)}) at the same priority for the same recipient and"
                    " stage: give one a higher priority or make their dates meet end to end"
                )


def _latest_versions(rules: Iterable[RewardRule]) -> list[RewardRule]:
    by_id: dict[str, RewardRule] = {}
    for r in rules:
        if r.rule_id not in by_id or r.version > by_id[r.rule_id].version:
            by_id[r.rule_id] = r
    return list(by_id.values())


def new_version(rule: RewardRule, **changes: Any) -> RewardRule:
    """A change to a rule is a new version; rewards keep the version they were computed with."""
    changed = replace(rule, version=rule.version + 1, **changes)
    validate_rule(changed)
    return changed


@dataclass(frozen=True)
class ReferralFacts:
    """What the rules look at, for one referral reaching a trigger stage."""

    referral_id: str
    stage: Trigger
    on: date
    deal_cents: int
    currency: str = "USD"
    new_customer: bool = True
    self_referral: bool = False
    consent: bool = True
    referrer_key: str = ""  # who is paid: a contact, account or user id


@dataclass(frozen=True)
class History:
    """Figures of the period the caps and tiers need, read from the ledger by the caller."""

    referrer_paid_this_year_cents: int = 0
    referrer_converted_count: int = 0  # converted referrals in the period, this one excluded
    referrer_converted_cents: int = 0
    budget_cents: int | None = None  # the programme's budget for the period, if any
    budget_used_cents: int = 0


@dataclass(frozen=True)
class Computed:
    rule: RewardRule
    amount_cents: int
    explanation: str
    hold_until: date


@dataclass(frozen=True)
class NotEligible:
    rule: RewardRule
    reasons: tuple[str, ...]


@dataclass
class Decision:
    reward: Computed | None
    skipped: list[NotEligible] = field(default_factory=list)


def ledger_key(referral_id: str, rule_id: str, trigger: Trigger) -> str:
    """One reward per referral, rule and trigger: never paid twice, whatever a retry or sync does."""
    return f"{referral_id}:{rule_id}:{trigger.value}"


def _eligibility(rule: RewardRule, facts: ReferralFacts) -> list[str]:
    reasons: list[str] = []
    if facts.deal_cents < rule.min_deal_cents:
        reasons.append(
            f"the deal ({money(facts.deal_cents, facts.currency)}) is under the minimum"
            f" {money(rule.min_deal_cents, rule.currency)}"
        )
    if rule.new_customers_only and not facts.new_customer:
        reasons.append("the referred company was already a customer")
    if rule.exclude_self_referrals and facts.self_referral:
        reasons.append("a self-referral earns no reward")
    if rule.require_consent and not facts.consent:
        reasons.append("the referrer has not consented to a reward")
    if facts.currency != rule.currency:
        reasons.append(f"the deal is in {facts.currency}, the rule pays in {rule.currency}")
    return reasons


def _tier(rule: RewardRule, measure: int) -> Tier | None:
    chosen = None
    for t in rule.tiers:
        if measure >= t.threshold:
            chosen = t
    return chosen


def _amount(rule: RewardRule, facts: ReferralFacts, history: History) -> tuple[int, list[str]]:
    """The uncapped amount, with the first steps of its explanation (base cap included)."""
    cur = rule.currency
    if rule.kind is AmountKind.FIXED:
        return rule.amount_cents, [f"{money(rule.amount_cents, cur)} fixed"]
    base = facts.deal_cents
    steps: list[str] = []
    if rule.base_cap_cents is not None and base > rule.base_cap_cents:
        steps.append(
            f"deal value {money(base, cur)} capped at {money(rule.base_cap_cents, cur)} by the base cap"
        )
        base = rule.base_cap_cents
    if rule.kind is AmountKind.PERCENT:
        amount = base * rule.percent_bp // BASIS_POINTS
        steps.append(f"{percent(rule.percent_bp)} of {money(base, cur)} = {money(amount, cur)}")
        return amount, steps
    if rule.kind is AmountKind.TIERED_BY_COUNT:
        measure = history.referrer_converted_count + 1
        label = f"referral no. {measure} this period"
    else:
        measure = history.referrer_converted_cents + facts.deal_cents
        label = f"{money(measure, cur)} converted this period"
    tier = _tier(rule, measure)
    if tier is None:
        steps.append(f"{label}: below the first tier")
        return 0, steps
    amount = tier.amount_cents + base * tier.percent_bp // BASIS_POINTS
    parts = []
    if tier.amount_cents:
        parts.append(money(tier.amount_cents, cur))
    if tier.percent_bp:
        parts.append(f"{percent(tier.percent_bp)} of {money(base, cur)}")
    steps.append(f"{label}: tier from {tier.threshold}, {' + '.join(parts)} = {money(amount, cur)}")
    return amount, steps


def compute(
    rules: Sequence[RewardRule], facts: ReferralFacts, history: History, recipient: Recipient
) -> Decision:
    """The reward the highest-priority eligible rule gives this recipient, with its explanation,
    or None with the reasons each candidate rule did not pay."""
    candidates = [
        r
        for r in _latest_versions(rules)
        if r.recipient is recipient and r.trigger is facts.stage and r.active_on(facts.on)
    ]
    candidates.sort(key=lambda r: (-r.priority, r.rule_id))
    decision = Decision(reward=None)
    for rule in candidates:
        reasons = _eligibility(rule, facts)
        if reasons:
            decision.skipped.append(NotEligible(rule, tuple(reasons)))
            continue
        amount, steps = _amount(rule, facts, history)
        cur = rule.currency
        if rule.cap_per_reward_cents is not None and amount > rule.cap_per_reward_cents:
            amount = rule.cap_per_reward_cents
            steps.append(f"capped at {money(amount, cur)} by the per-reward cap")
        if rule.cap_per_referrer_year_cents is not None:
            room = max(0, rule.cap_per_referrer_year_cents - history.referrer_paid_this_year_cents)
            if amount > room:
                amount = room
                steps.append(
                    f"capped at {money(amount, cur)} by the yearly cap:"
                    f" {money(history.referrer_paid_this_year_cents, cur)} paid this year of"
                    f" {money(rule.cap_per_referrer_year_cents, cur)}"
                )
        if history.budget_cents is not None:
            room = max(0, history.budget_cents - history.budget_used_cents)
            if amount > room:
                amount = room
                steps.append(
                    f"capped at {money(amount, cur)} by the programme budget:"
                    f" {money(history.budget_used_cents, cur)} used of"
                    f" {money(history.budget_cents, cur)}"
                )
        explanation = f"{rule.name} v{rule.version}: " + ", ".join(steps)
        decision.reward = Computed(
            rule=rule,
            amount_cents=amount,
            explanation=explanation,
            hold_until=facts.on + timedelta(days=rule.hold_days),
        )
        return decision
    return decision


# The lifecycle: which status may follow which. Declined needs a reason; voided is for a reward
# whose cause went away before it was issued (after issue, a clawback row is the only correction).
_NEXT: dict[RewardStatus, frozenset[RewardStatus]] = {
    RewardStatus.PENDING: frozenset(
        {RewardStatus.ON_HOLD, RewardStatus.AWAITING_APPROVAL, RewardStatus.VOIDED}
    ),
    RewardStatus.ON_HOLD: frozenset({RewardStatus.AWAITING_APPROVAL, RewardStatus.VOIDED}),
    RewardStatus.AWAITING_APPROVAL: frozenset(
        {RewardStatus.APPROVED, RewardStatus.DECLINED, RewardStatus.VOIDED}
    ),
    RewardStatus.APPROVED: frozenset({RewardStatus.ISSUED, RewardStatus.VOIDED}),
    RewardStatus.ISSUED: frozenset({RewardStatus.REDEEMED}),
    RewardStatus.REDEEMED: frozenset(),
    RewardStatus.DECLINED: frozenset(),
    RewardStatus.VOIDED: frozenset(),
}


def check_transition(
    current: RewardStatus,
    target: RewardStatus,
    *,
    reason: str = "",
    today: date | None = None,
    hold_until: date | None = None,
) -> None:
    """Refuse a status change the lifecycle does not allow, saying what is allowed instead."""
    if target is current:
        raise RewardError(f"the reward is already {current.value.replace('_', ' ')}")
    if target not in _NEXT[current]:
        allowed = ", ".join(sorted(s.value.replace("_", " ") for s in _NEXT[current])) or "nothing"
        raise RewardError(
            f"a reward that is {current.value.replace('_', ' ')} cannot become"
            f" {target.value.replace('_', ' ')} (it can become: {allowed})"
        )
    if target is RewardStatus.DECLINED and not reason.strip():
        raise RewardError("say why the reward is declined")
    if (
        target is RewardStatus.AWAITING_APPROVAL
        and hold_until is not None
        and today is not None
        and today < hold_until
    ):
        raise RewardError(f"the reward is on hold until {hold_until.isoformat()}")


def clawback_cents(paid_cents: int, already_clawed_cents: int = 0) -> int:
    """The negative amount that nets a paid reward back to zero (never more than was paid)."""
    remaining = paid_cents - already_clawed_cents
    return -remaining if remaining > 0 else 0


def net_payable(ledger_cents: Iterable[int]) -> int:
    """What is owed after clawbacks: rewards minus clawbacks, never below zero (a negative balance
    is carried against future payouts, not paid back)."""
    return max(0, sum(ledger_cents))
