"""Close the loop at the next visit: what this customer's referrals became and the rewards due or
issued, in sentences a rep can say ("Your referral of Acme was won last week; a $200 reward is on
its way"). Qt-free; the account panel and the map's check-in show :func:`for_account`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from fieldrep.domain.rewards import money

_STAGE_WORDS = {
    "new": "has just been passed on",
    "contacted": "has been contacted",
    "qualified": "is qualified",
    "proposal": "has a proposal",
    "won": "was won",
    "lost": "did not work out",
}
_REWARD_WORDS = {
    "pending": "is being prepared",
    "on_hold": "is due after the waiting period",
    "awaiting_approval": "is awaiting approval",
    "approved": "is approved and will be paid with the next payout",
    "issued": "is on its way",
    "redeemed": "was redeemed",
}


@dataclass
class ReferralOutcome:
    referral_id: str
    referred: str
    stage: str
    changed_on: date | None
    sentence: str
    rewards: list[tuple[str, int, str]] = field(default_factory=list)  # (status, cents, currency)


def _when(day: date | None, today: date) -> str:
    if day is None:
        return ""
    days = (today - day).days
    if days <= 0:
        return " today"
    if days == 1:
        return " yesterday"
    if days < 7:
        return f" {days} days ago"
    if days < 14:
        return " last week"
    if days < 60:
        return f" {days // 7} weeks ago"
    return f" on {day:%d %b %Y}"


def for_account(
    conn: sqlite3.Connection, account_id: str, today: date | None = None, limit: int = 20
) -> list[ReferralOutcome]:
    """This account's referrals, newest change first, each with what to tell the customer."""
    today = today or datetime.now(UTC).date()
    out: list[ReferralOutcome] = []
    for rid, name, company, stage, at in conn.execute(
        "SELECT r.id, r.referred_name, r.referred_company, r.stage, coalesce((SELECT max(e.at)"
        " FROM referral_events e WHERE e.referral_id = r.id AND e.kind = 'stage'), r.updated_at)"
        " FROM referrals r"
        " WHERE r.referrer_account_id = ? AND r.duplicate_of_id IS NULL"
        " ORDER BY coalesce((SELECT max(e.at) FROM referral_events e WHERE e.referral_id = r.id"
        " AND e.kind = 'stage'), r.created_at) DESC LIMIT ?",
        (account_id, limit),
    ).fetchall():
        who = company or name
        changed = date.fromisoformat(at[:10]) if at else None
        sentence = f"Your referral of {who} {_STAGE_WORDS.get(stage, stage)}{_when(changed, today)}"
        rewards = [
            (status, cents, cur)
            for status, cents, cur in conn.execute(
                "SELECT status, coalesce(amount_cents, CAST(round(amount * 100) AS INTEGER)),"
                " currency FROM rewards WHERE referral_id = ? AND kind = 'reward'"
                " AND recipient_user_id IS NULL AND status IN ('pending', 'on_hold',"
                " 'awaiting_approval', 'approved', 'issued', 'redeemed') ORDER BY created_at",
                (rid,),
            )
        ]
        for status, cents, cur in rewards:
            sentence += f"; a {money(cents, cur)} reward {_REWARD_WORDS[status]}"
        out.append(ReferralOutcome(rid, who, stage, changed, sentence + ".", rewards))
    return out
