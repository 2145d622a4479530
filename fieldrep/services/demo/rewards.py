"""Demo reward rules and rewards, as the app computes them: the ledger's engine, at the time.

The rules are today's shape (a rule key and version, cents and basis points, caps, hold days,
approval, validity dates), written as :func:`fieldrep.services.rewards.rules.rule_row` writes a
saved rule. Every reward is what :func:`fieldrep.domain.rewards.compute` gives the referral at the
moment it reached the trigger stage, taking the referral's facts, the referrer's consent and the
period's figures (paid to the recipient this year, referrals converted this year) as the ledger
reads them then: so its row, ledger key, id, explanation and history line are the ledger's own
(:func:`ledger.reward_row`). Then each goes the way a manager takes it through the lifecycle: the
hold released, approved or declined with a reason, paid in the Friday payout, redeemed; a few
refunded deals are clawed back (:func:`ledger.clawback_row`). The notifications that mention a
reward say what the ledger and the outbox would: its explanation, its amount.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from fieldrep.domain.rewards import (
    AmountKind,
    History,
    Recipient,
    RewardRule,
    Tier,
    Trigger,
    compute,
    ledger_key,
    money,
    validate_rule,
)
from fieldrep.services.demo.accounts import Accounts
from fieldrep.services.demo.common import DemoClock, SeededIds, iso
from fieldrep.services.demo.org import Org
from fieldrep.services.demo.referrals import Referrals, notify
from fieldrep.services.notifications import templates
from fieldrep.services.rewards import ledger
from fieldrep.services.rewards.rules import StoredRule, rule_row

# What becomes of a reward, as far as the time since allows: left waiting for approval, declined,
# or approved and paid in the next Friday payout (the payout pays every approved reward), then
# redeemed, or clawed back when the deal is refunded. A rule without approval skips the first two.
OUTCOMES = ("waiting", "issued", "redeemed", "declined", "clawed back")
OUTCOME_WEIGHTS = (8, 30, 47, 8, 7)
DECLINED = "the referrer is an employee of the referred company"
REFUNDED = "deal refunded: the order was cancelled within the return period"
# rewards whose status counts for the yearly cap (as ledger.COUNTED_SQL)
COUNTED = frozenset((*ledger.LIVE, "revoked"))


def _rules(clock: DemoClock) -> list[tuple[RewardRule, bool]]:
    """The programme: (rule, needs approval). Valid from three years back to the end of next
    year, so every demo referral falls under it."""
    start, end = date(clock.today.year - 3, 1, 1), date(clock.today.year + 1, 12, 31)
    common: dict[str, Any] = {"version": 1, "valid_from": start, "valid_until": end}
    return [
        (
            RewardRule(
                rule_id="",
                name="Thank-you gift card",
                recipient=Recipient.REFERRER_CONTACT,
                trigger=Trigger.QUALIFIED,
                kind=AmountKind.FIXED,
                amount_cents=5_000,
                **common,
            ),
            False,
        ),
        (
            RewardRule(
                rule_id="",
                name="Referral bonus 5%",
                recipient=Recipient.REFERRER_ACCOUNT,
                trigger=Trigger.WON,
                kind=AmountKind.PERCENT,
                percent_bp=500,
                base_cap_cents=6_000_000,
                cap_per_reward_cents=100_000,
                cap_per_referrer_year_cents=250_000,
                hold_days=30,
                **common,
            ),
            True,
        ),
        (
            RewardRule(
                rule_id="",
                name="Rep referral incentive",
                recipient=Recipient.CAPTURING_REP,
                trigger=Trigger.WON,
                kind=AmountKind.TIERED_BY_COUNT,
                tiers=(
                    Tier(1, amount_cents=2_500, percent_bp=100),
                    Tier(10, amount_cents=5_000, percent_bp=200),
                    Tier(25, amount_cents=10_000, percent_bp=300),
                ),
                cap_per_reward_cents=100_000,
                require_consent=False,
                **common,
            ),
            True,
        ),
    ]


@dataclass
class _Ledger:
    """What the caps read, as it stood at each moment: per recipient the amounts counted (their
    moment, cents), per converting column the won referrals (their moment, referral, cents)."""

    paid: dict[tuple[Recipient, str], list[tuple[str, int]]] = field(default_factory=dict)
    won: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)

    def history(self, ref: dict[str, Any], who: Recipient, key_value: str, at: str) -> History:
        year = at[:4]
        paid = sum(
            cents
            for moment, cents in self.paid.get((who, key_value), ())
            if moment < at and moment[:4] == year
        )
        column = ledger.converted_column(who)
        earlier = [
            cents
            for moment, referral_id, cents in self.won.get(f"{column}:{ref[column]}", ())
            if moment < at and moment[:4] == year and referral_id != ref["id"]
        ]
        return History(
            referrer_paid_this_year_cents=paid,
            referrer_converted_count=len(earlier),
            referrer_converted_cents=sum(earlier),
        )


def build_rewards(
    rng: random.Random, ids: SeededIds, clock: DemoClock, org: Org, acc: Accounts, out: Referrals
) -> None:
    """The rules, then every reward they gave, in the order the referrals reached their stages."""
    stored: list[StoredRule] = []
    for rule, needs_approval in _rules(clock):
        rule_key = ids.next()
        row_id = ids.next()
        rule = replace(rule, rule_id=rule_key)
        validate_rule(rule)
        row = rule_row(rule, needs_approval, None, None, org.manager_id)
        created = datetime.combine(rule.valid_from, time(9))  # saved the day it began
        out.rules.rows.append({**row, "created_at": iso(created)})
        out.rules.ids.append(row_id)
        stored.append(StoredRule(row_id, rule, needs_approval, True, None, None))
    book = _Ledger()
    refs: list[dict[str, Any]] = []
    moments: list[tuple[datetime, int, Trigger]] = []
    for index, row in enumerate(out.referrals.rows):
        ref = {**row, "id": out.referrals.ids[index]}
        refs.append(ref)
        reached = out.meta[index][2]
        if row["duplicate_of_id"]:
            continue
        if row["stage"] == "won":
            cents = round(float(row["amount"] or 0) * 100)
            for column in ("referrer_contact_id", "referrer_account_id", "captured_by_id"):
                if row[column]:
                    key = f"{column}:{row[column]}"
                    book.won.setdefault(key, []).append((row["updated_at"], ref["id"], cents))
        for trigger in Trigger:
            if trigger.value in reached:
                moments.append((reached[trigger.value] + timedelta(minutes=5), index, trigger))
    forced = list(OUTCOMES)
    rng.shuffle(forced)
    names = dict(zip(org.user_ids, (u["display_name"] for u in org.users), strict=True))
    for at, index, trigger in sorted(moments, key=lambda m: (m[0], m[1], m[2] is Trigger.WON)):
        ref = refs[index]
        for who in Recipient:
            candidates = [s.rule for s in stored if s.rule.recipient is who]
            target = ledger.recipient_of(ref, who) if candidates else None
            if target is None:
                continue
            recipient_key, cols = target
            key_value = recipient_key.split(":", 1)[1]
            facts = ledger.referral_facts(
                ref, trigger, at.date(), _consent(acc, out, index, who), recipient_key
            )
            decision = compute(candidates, facts, book.history(ref, who, key_value, iso(at)), who)
            got = decision.reward
            if got is None:
                continue
            chosen = next(s for s in stored if s.rule.rule_id == got.rule.rule_id)
            key = ledger_key(ref["id"], got.rule.rule_id, trigger)
            row, line = ledger.reward_row(ref, who, cols, chosen, got, key, at.date(), iso(at))
            row["created_at"] = iso(at)
            rid = ledger.reward_id(key)
            out.rewards.rows.append(row)
            out.rewards.ids.append(rid)
            _event(ids, out, ref, rid, line, at)
            outcome = (
                forced.pop()
                if forced and chosen.needs_approval
                else _outcome(rng, trigger, chosen.needs_approval)
            )
            claw = _lifecycle(rng, ids, clock, org, acc, out, index, rid, row, at, outcome, names)
            counted = book.paid.setdefault((who, key_value), [])
            if row["status"] in COUNTED:
                counted.append((iso(at), got.amount_cents))
            if claw is not None:
                counted.append((claw["created_at"], claw["amount_cents"]))


def _consent(acc: Accounts, out: Referrals, index: int, who: Recipient) -> bool:
    """The referrer's consent as the ledger reads it: their contact's, or any of the account's."""
    if who in (Recipient.CAPTURING_REP, Recipient.REFERRED_PARTY):
        return True
    ref_index, contact_index, _reached = out.meta[index]
    contacts = [contact_index] if contact_index is not None else acc.contacts_of[ref_index]
    return any(acc.contacts[c]["referral_consent"] for c in contacts)


def _outcome(rng: random.Random, trigger: Trigger, needs_approval: bool) -> str:
    outcome = rng.choices(OUTCOMES, OUTCOME_WEIGHTS)[0]
    if not needs_approval and outcome in ("waiting", "declined"):
        return "redeemed"
    # a reward for reaching Qualified is not taken back when the deal is refunded
    return "redeemed" if outcome == "clawed back" and trigger is Trigger.QUALIFIED else outcome


def _event(
    ids: SeededIds, out: Referrals, ref: dict[str, Any], rid: str, line: str, at: datetime
) -> None:
    """The reward's line in the referral's history (the ledger's, by whoever moved the stage)."""
    out.events.add(
        ids,
        {
            "referral_id": ref["id"],
            "at": iso(at),
            "user_id": ref["owner_id"],
            "kind": "reward",
            "from_value": None,
            "to_value": rid,
            "reason": line[:500],
        },
    )


def _payday(after: datetime) -> datetime:
    """The Friday payout (16:00) that pays a reward approved at ``after``."""
    day = after.date() + timedelta(days=(4 - after.weekday()) % 7)
    run = datetime.combine(day, time(16, 0))
    return run if run > after else run + timedelta(days=7)


def _lifecycle(
    rng: random.Random,
    ids: SeededIds,
    clock: DemoClock,
    org: Org,
    acc: Accounts,
    out: Referrals,
    index: int,
    rid: str,
    row: dict[str, Any],
    at: datetime,
    outcome: str,
    names: dict[str, str],
) -> dict[str, Any] | None:
    """Take the reward ``row`` (as the ledger wrote it at ``at`` for referral ``index``) as far
    towards ``outcome`` as the time until the demo's now allows, with the columns the lifecycle
    writes; the clawback row, if it came to that."""
    ref = {**out.referrals.rows[index], "id": out.referrals.ids[index]}
    now = clock.now
    status = row["status"]
    if status == "voided":
        return None
    since = at
    if status == "on_hold":
        released = max(datetime.combine(date.fromisoformat(row["hold_until"]), time(8)), at)
        if released > now:
            return None
        status, since = "awaiting_approval", released
    if status == "awaiting_approval":
        decided = since + timedelta(days=rng.uniform(0.1, 3), minutes=rng.randint(1, 300))
        if outcome == "waiting" or decided > now:
            row["status"] = status
            notify(
                ids,
                out,
                org.manager_id,
                None,
                "app",
                "Reward awaiting your approval",
                row["explanation"],
                "rewards",
                rid,
                "queued",
                since,
            )
            return None
        decision = {"decided_by_id": org.manager_id, "decided_at": iso(decided)}
        if outcome == "declined":
            row.update(status="declined", declined_reason=DECLINED, **decision)
            return None
        row.update(
            status="approved", approved_by_id=org.manager_id, approved_at=iso(decided), **decision
        )
        since = decided
    paid = _payday(since)
    if paid > now:
        return None
    row.update(status="issued", issued_at=iso(paid), payout_batch=f"payout-{paid:%Y%m%d-%H%M%S}")
    _email_issued(ids, org, acc, out, index, ref, rid, row, paid, names)
    if outcome == "redeemed":
        redeemed = paid + timedelta(days=rng.uniform(1, 20), minutes=rng.randint(1, 600))
        if redeemed <= now:
            row.update(status="redeemed", redeemed_at=iso(redeemed))
    elif outcome == "clawed back":
        refunded = paid + timedelta(days=rng.uniform(2, 25), minutes=rng.randint(1, 600))
        if refunded <= now:
            who: dict[str, Any] = {
                k: row.get(k)
                for k in (
                    "referral_id",
                    "rule_id",
                    "recipient_account_id",
                    "recipient_contact_id",
                    "recipient_user_id",
                    "recipient_kind",
                )
            }
            cid, claw, line = ledger.clawback_row(
                rid,
                row["ledger_key"],
                row["amount_cents"],
                row["currency"],
                Trigger(row["trigger_stage"]),
                REFUNDED,
                iso(refunded),
                who,
            )
            claw["created_at"] = iso(refunded)
            out.rewards.rows.append(claw)
            out.rewards.ids.append(cid)
            _event(ids, out, ref, cid, line, refunded)
            return claw
    return None


def _email_issued(
    ids: SeededIds,
    org: Org,
    acc: Accounts,
    out: Referrals,
    index: int,
    ref: dict[str, Any],
    rid: str,
    row: dict[str, Any],
    at: datetime,
    names: dict[str, str],
) -> None:
    """The referrer's "on its way" e-mail, as the payout's outbox renders it (a reward to a rep
    has no contact to write to)."""
    contact_id = row.get("recipient_contact_id")
    if contact_id is None:
        return
    contact_index = out.meta[index][1]
    assert contact_index is not None
    assert acc.contact_ids[contact_index] == contact_id
    contact = acc.contacts[contact_index]
    subject, body = templates.render(
        templates.DEFAULTS["reward_issued"],
        {
            "referrer_name": f"{contact['first_name']} {contact['last_name']}".strip(),
            "amount": money(row["amount_cents"], row["currency"]),
            "explanation": row["explanation"],
            "referred_name": ref["referred_name"],
            "referred_company": ref["referred_company"] or "",
            "rep_name": names.get(ref["captured_by_id"], ""),
        },
    )
    address = (contact["email"] or "").strip() or None
    notify(
        ids,
        out,
        org.manager_id,
        contact_id,
        "email",
        subject,
        body,
        "rewards",
        rid,
        "sent" if address else "skipped",
        at,
        template="reward_issued",
        to_address=address,
        last_error=None if address else "the contact has no e-mail address",
    )
