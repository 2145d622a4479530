"""A small referral programme on a real database for the reward and notification tests: a manager,
a rep, a referring customer with a consenting contact, and referrals written as the referral
service writes them (its stage move calls the ledger in the same transaction)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from fieldrep.domain.rewards import AmountKind, Recipient, RewardRule, Trigger
from fieldrep.services.context import Context
from fieldrep.services.rewards import ledger, rules
from fieldrep.store.writer import utc_now

# The current year: the caps count what was paid in the calendar year of the rewards written now.
YEAR = date.today().year
JAN1, DEC31 = date(YEAR, 1, 1), date(YEAR, 12, 31)


@dataclass
class Org:
    manager: str
    rep: str
    referrer_account: str
    referrer_contact: str
    territory: str


def make_org(ctx: Context, *, consent: bool = True, email: str = "jane@acme.test") -> Org:
    w = ctx.writer
    manager = w.insert(
        "users", {"username": "maria", "display_name": "Maria Manager", "role": "manager"}
    )
    rep = w.insert(
        "users",
        {"username": "rick", "display_name": "Rick Rep", "role": "rep", "manager_id": manager},
    )
    territory = w.insert("territories", {"name": "North-East", "owner_id": manager})
    account = w.insert(
        "accounts",
        {"name": "Acme Tools", "status": "active", "territory_id": territory, "owner_id": rep},
    )
    contact = w.insert(
        "contacts",
        {
            "account_id": account,
            "first_name": "Jane",
            "last_name": "Doe",
            "email": email,
            "referral_consent": int(consent),
        },
    )
    return Org(manager, rep, account, contact, territory)


def add_referral(
    ctx: Context, org: Org, *, name: str = "Bob Buyer", flags: list[str] | None = None, **kw: Any
) -> str:
    values: dict[str, Any] = {
        "referrer_account_id": org.referrer_account,
        "referrer_contact_id": org.referrer_contact,
        "referred_name": name,
        "referred_company": f"{name} Ltd",
        "captured_by_id": org.rep,
        "owner_id": org.rep,
        "territory_id": org.territory,
        "stage": "new",
        "flags": json.dumps(flags or []),
    }
    values.update(kw)
    return ctx.writer.insert("referrals", values)


def move(
    ctx: Context, referral_id: str, stage: str, amount: float | None = None, today: date = JAN1
) -> ledger.StageResult:
    """What the referral service's move does: the row, then the ledger, in one transaction."""
    with ctx.writer.transaction():
        changes: dict[str, Any] = {"stage": stage}
        if amount is not None:
            changes["amount"] = amount
        before = ctx.conn.execute(
            "SELECT stage FROM referrals WHERE id = ?", (referral_id,)
        ).fetchone()[0]
        ctx.writer.update("referrals", referral_id, changes)
        ctx.writer.insert(
            "referral_events",
            {
                "referral_id": referral_id,
                "at": utc_now(),
                "user_id": ctx.user_id,
                "kind": "stage",
                "from_value": before,
                "to_value": stage,
            },
        )
        return ledger.on_stage_reached(ctx, referral_id, stage, today=today)


def sign_in(ctx: Context, user_id: str) -> None:
    ctx.set_user(user_id)


def bonus_rule(**kw: Any) -> RewardRule:
    base: dict[str, Any] = {
        "rule_id": "bonus",
        "version": 1,
        "name": "Referral bonus",
        "recipient": Recipient.REFERRER_CONTACT,
        "trigger": Trigger.WON,
        "kind": AmountKind.PERCENT,
        "valid_from": JAN1,
        "valid_until": DEC31,
        "percent_bp": 500,
        "hold_days": 14,
    }
    base.update(kw)
    return RewardRule(**base)


def save_rule(ctx: Context, org: Org, rule: RewardRule, **kw: Any) -> rules.StoredRule:
    """Saved by the manager; the signed-in user is put back as it was."""
    before = ctx.user_id
    ctx.set_user(org.manager)
    try:
        return rules.save(ctx, rule, **kw)
    finally:
        ctx.set_user(before)


def rows(ctx: Context, table: str, where: str = "1", params: tuple[Any, ...] = ()) -> list[dict]:
    cur = ctx.conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY rowid", params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
