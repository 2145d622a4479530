"""Reward rules in the database: each change is a new row (a version) under the rule's key, so a
reward keeps the version it was computed with. Rows written before schema v8 (REAL amounts, no
validity dates) are read as version 1 rules with their amounts converted to cents."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fieldrep.domain.ids import uuid7
from fieldrep.domain.rewards import (
    AmountKind,
    Recipient,
    RewardError,
    RewardRule,
    Tier,
    Trigger,
    check_overlaps,
    validate_rule,
)
from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context


class NotAllowed(RewardError):
    """The signed-in user's role may not do this."""


def require_manager(ctx: Context, what: str) -> str:
    """The signed-in manager's or admin's id, or :class:`NotAllowed` naming ``what``."""
    user = ctx.user()
    if user is None:
        raise NotAllowed(f"sign in as a manager to {what}")
    if user.get("role") not in MANAGER_ROLES:
        raise NotAllowed(f"only a manager or administrator can {what}")
    return str(user["id"])


_LEGACY_RECIPIENT = {"referrer": Recipient.REFERRER_ACCOUNT}
_LEGACY_KIND = {"tiered": AmountKind.TIERED_BY_VALUE}


def _cents(value: Any) -> int | None:
    return None if value is None else round(float(value) * 100)


def _tiers(text: str | None) -> tuple[Tier, ...]:
    out: list[Tier] = []
    for item in json.loads(text or "[]"):
        if "threshold" in item:
            out.append(
                Tier(
                    int(item["threshold"]),
                    int(item.get("amount_cents", 0)),
                    int(item.get("percent_bp", 0)),
                )
            )
        else:  # before v8: {"min": dollars, "percent": p}
            out.append(
                Tier(round(float(item["min"]) * 100), 0, round(float(item["percent"]) * 100))
            )
    return tuple(sorted(out, key=lambda t: t.threshold))


@dataclass(frozen=True)
class StoredRule:
    """A rule version as stored, with the settings the domain rule does not carry."""

    row_id: str
    rule: RewardRule
    needs_approval: bool
    active: bool
    budget_cents: int | None
    budget_period: str | None  # month, quarter or year


def from_row(row: sqlite3.Row | dict[str, Any]) -> StoredRule | None:
    """The rule a row holds, or None for a kind this version cannot pay (an 'owner_rep' rule)."""
    r = dict(row)
    recipient_text = r["recipient"]
    try:
        recipient = _LEGACY_RECIPIENT.get(recipient_text) or Recipient(recipient_text)
        kind = _LEGACY_KIND.get(r["kind"]) or AmountKind(r["kind"])
        trigger = Trigger(r["trigger_stage"])
    except ValueError:
        return None
    valid_from = date.fromisoformat((r["valid_from"] or r["created_at"])[:10])
    until = r["valid_until"]
    legacy_percent = None if r["percent"] is None else round(float(r["percent"]) * 100)
    rule = RewardRule(
        rule_id=r["rule_key"] or r["id"],
        version=int(r["version"] or 1),
        name=r["name"],
        recipient=recipient,
        trigger=trigger,
        kind=kind,
        valid_from=valid_from,
        valid_until=date.fromisoformat(until[:10]) if until else None,
        priority=int(r["priority"] or 0),
        amount_cents=r["amount_cents"]
        if r["amount_cents"] is not None
        else _cents(r["amount"]) or 0,
        percent_bp=r["percent_bp"] if r["percent_bp"] is not None else legacy_percent or 0,
        base_cap_cents=r["base_cap_cents"],
        tiers=_tiers(r["tiers"]),
        min_deal_cents=int(r["min_deal_cents"] or 0),
        new_customers_only=bool(r["new_customers_only"]),
        exclude_self_referrals=bool(r["exclude_self_referrals"]),
        require_consent=bool(r["require_consent"]),
        cap_per_reward_cents=r["cap_per_reward_cents"]
        if r["cap_per_reward_cents"] is not None
        else _cents(r["cap_amount"]),
        cap_per_referrer_year_cents=r["cap_per_referrer_year_cents"],
        hold_days=int(r["hold_days"] or 0),
        currency=r["currency"] or "USD",
    )
    return StoredRule(
        row_id=r["id"],
        rule=rule,
        needs_approval=bool(r["needs_approval"]),
        active=bool(r["active"]),
        budget_cents=r["budget_cents"],
        budget_period=r["cap_period"],
    )


def _rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    cur = conn.execute("SELECT * FROM reward_rules ORDER BY coalesce(rule_key, id), version")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def all_versions(conn: sqlite3.Connection) -> list[StoredRule]:
    return [s for s in map(from_row, _rows(conn)) if s is not None]


def current(conn: sqlite3.Connection) -> list[StoredRule]:
    """The latest version of every active rule: what a referral reaching a stage is judged by."""
    latest: dict[str, StoredRule] = {}
    for s in all_versions(conn):
        key = s.rule.rule_id
        if key not in latest or s.rule.version > latest[key].rule.version:
            latest[key] = s
    return [s for s in latest.values() if s.active]


def rule_row(
    rule: RewardRule,
    needs_approval: bool,
    budget_cents: int | None,
    budget_period: str | None,
    created_by_id: str | None,
) -> dict[str, Any]:
    """The ``reward_rules`` row of a rule version (:func:`from_row` reads it back)."""
    return {
        "name": rule.name,
        "recipient": rule.recipient.value,
        "trigger_stage": rule.trigger.value,
        "kind": rule.kind.value,
        "amount": rule.amount_cents / 100 if rule.amount_cents else None,
        "percent": rule.percent_bp / 100 if rule.percent_bp else None,
        "tiers": json.dumps(
            [
                {
                    "threshold": t.threshold,
                    "amount_cents": t.amount_cents,
                    "percent_bp": t.percent_bp,
                }
                for t in rule.tiers
            ]
        ),
        "cap_period": budget_period,
        "hold_days": rule.hold_days,
        "needs_approval": int(needs_approval),
        "active": 1,
        "rule_key": rule.rule_id,
        "version": rule.version,
        "priority": rule.priority,
        "valid_from": rule.valid_from.isoformat(),
        "valid_until": rule.valid_until.isoformat() if rule.valid_until else None,
        "currency": rule.currency,
        "amount_cents": rule.amount_cents,
        "percent_bp": rule.percent_bp,
        "base_cap_cents": rule.base_cap_cents,
        "cap_per_reward_cents": rule.cap_per_reward_cents,
        "cap_per_referrer_year_cents": rule.cap_per_referrer_year_cents,
        "budget_cents": budget_cents,
        "min_deal_cents": rule.min_deal_cents,
        "new_customers_only": int(rule.new_customers_only),
        "exclude_self_referrals": int(rule.exclude_self_referrals),
        "require_consent": int(rule.require_consent),
        "created_by_id": created_by_id,
    }


def save(
    ctx: Context,
    rule: RewardRule,
    *,
    needs_approval: bool = True,
    budget_cents: int | None = None,
    budget_period: str | None = None,
) -> StoredRule:
    """Save ``rule`` as a new rule, or as the next version of the rule with its ``rule_id``.

    Refused (nothing written) when it is invalid or overlaps another at equal priority; only a
    manager or administrator may change rules.
    """
    user_id = require_manager(ctx, "change reward rules")
    if budget_cents is not None and budget_cents <= 0:
        raise RewardError(f"{rule.name}: the programme budget must be more than zero")
    if budget_cents is not None and budget_period not in ("month", "quarter", "year"):
        raise RewardError(f"{rule.name}: say whether the budget is per month, quarter or year")
    with ctx.writer.transaction() as conn:
        existing = [s for s in current(conn) if s.rule.rule_id != rule.rule_id]
        versions = [s.rule.version for s in all_versions(conn) if s.rule.rule_id == rule.rule_id]
        rule = replace(rule, rule_id=rule.rule_id or uuid7(), version=max(versions, default=0) + 1)
        validate_rule(rule)  # the others were checked when saved (or predate the checks)
        check_overlaps([s.rule for s in existing] + [rule])
        row_id = ctx.writer.insert(
            "reward_rules",
            rule_row(rule, needs_approval, budget_cents, budget_period, user_id),
        )
    return StoredRule(row_id, rule, needs_approval, True, budget_cents, budget_period)
