"""A reward's way from hold to redemption: the hold released, a manager's approval or decline
(with a reason), a payout batch (a CSV for finance) that nets clawbacks, and the redemption.

Every change goes through :func:`fieldrep.domain.rewards.check_transition`, so a reward approved on
one laptop and again on another is refused the second time with the reason, and a reward can be
issued once only. Reps may look, not approve.
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fieldrep.domain.ids import uuid7
from fieldrep.domain.rewards import RewardError, RewardStatus, check_transition, money
from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.notifications import outbox
from fieldrep.services.rewards.rules import require_manager
from fieldrep.store.writer import utc_now


@dataclass(frozen=True)
class RewardRow:
    id: str
    referral_id: str
    referred_name: str
    kind: str
    status: str
    amount_cents: int
    currency: str
    recipient_kind: str | None
    recipient_name: str
    recipient_contact_id: str | None
    recipient_account_id: str | None
    recipient_user_id: str | None
    hold_until: str | None
    explanation: str
    reason: str  # declined / voided / clawback reason
    rule_version: int | None
    payout_batch: str | None
    created_at: str

    @property
    def recipient_key(self) -> str:
        if self.recipient_user_id:
            return f"user:{self.recipient_user_id}"
        if self.recipient_kind == "referrer_contact" and self.recipient_contact_id:
            return f"contact:{self.recipient_contact_id}"
        if self.recipient_account_id:
            return f"account:{self.recipient_account_id}"
        if self.recipient_contact_id:
            return f"contact:{self.recipient_contact_id}"
        return f"referral:{self.referral_id}"


_SELECT = """SELECT w.id, w.referral_id, coalesce(r.referred_name, ''), w.kind, w.status,
 coalesce(w.amount_cents, CAST(round(w.amount * 100) AS INTEGER)), w.currency, w.recipient_kind,
 coalesce(u.display_name, trim(c.first_name || ' ' || c.last_name), a.name,
          r.referred_name, ''),
 w.recipient_contact_id, w.recipient_account_id, w.recipient_user_id, w.hold_until,
 coalesce(w.explanation, ''), coalesce(w.declined_reason, w.note, ''), w.rule_version,
 w.payout_batch, w.created_at
 FROM rewards w LEFT JOIN referrals r ON r.id = w.referral_id
 LEFT JOIN users u ON u.id = w.recipient_user_id
 LEFT JOIN contacts c ON c.id = w.recipient_contact_id
 LEFT JOIN accounts a ON a.id = w.recipient_account_id"""


@dataclass
class Filter:
    statuses: Sequence[str] = ()
    referral_id: str | None = None
    recipient_account_id: str | None = None
    captured_by_id: str | None = None
    territory_id: str | None = None
    limit: int = 1000

    def where(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.statuses:
            parts.append(f"w.status IN ({', '.join('?' * len(self.statuses))})")
            params += list(self.statuses)
        for col, value in (
            ("w.referral_id", self.referral_id),
            ("w.recipient_account_id", self.recipient_account_id),
            ("r.captured_by_id", self.captured_by_id),
            ("r.territory_id", self.territory_id),
        ):
            if value:
                parts.append(f"{col} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(parts) if parts else ""), params


def list_rewards(conn: sqlite3.Connection, flt: Filter | None = None) -> list[RewardRow]:
    flt = flt or Filter()
    where, params = flt.where()
    cur = conn.execute(
        f"{_SELECT}{where} ORDER BY w.created_at, w.id LIMIT ?", (*params, flt.limit)
    )
    return [RewardRow(*row) for row in cur.fetchall()]


def for_user(ctx: Context, flt: Filter | None = None) -> list[RewardRow]:
    """What the signed-in user may see: a manager everything, a rep the rewards of the referrals
    they captured."""
    flt = flt or Filter()
    user = ctx.user()
    if user is None or user.get("role") not in MANAGER_ROLES:
        flt.captured_by_id = str(user["id"]) if user else "-"
    return list_rewards(ctx.conn, flt)


def _get(conn: sqlite3.Connection, reward_id: str) -> RewardRow:
    row = conn.execute(f"{_SELECT} WHERE w.id = ?", (reward_id,)).fetchone()
    if row is None:
        raise RewardError(f"reward {reward_id} does not exist")
    return RewardRow(*row)


def _status(text: str) -> RewardStatus:
    # Rows written before v8: 'pending' waited for approval, 'revoked' was clawed back.
    return {"revoked": RewardStatus.VOIDED}.get(text) or RewardStatus(text)


def release_holds(ctx: Context, today: date | None = None) -> list[str]:
    """Rewards whose waiting period is over move on to the approval queue."""
    today = today or datetime.now(UTC).date()
    moved: list[str] = []
    with ctx.writer.transaction() as conn:
        rows = conn.execute(
            "SELECT id, status, hold_until, coalesce(explanation, '') FROM rewards"
            " WHERE kind = 'reward' AND status IN ('on_hold', 'pending')"
            " AND (hold_until IS NULL OR substr(hold_until, 1, 10) <= ?)",
            (today.isoformat(),),
        ).fetchall()
        for rid, _status_text, _hold, explanation in rows:
            ctx.writer.update("rewards", rid, {"status": RewardStatus.AWAITING_APPROVAL.value})
            outbox.notify_managers(
                ctx, "Reward awaiting your approval", explanation, "rewards", rid
            )
            moved.append(rid)
    return moved


def _decide(
    ctx: Context, ids: Iterable[str], target: RewardStatus, reason: str, what: str
) -> list[str]:
    user_id = require_manager(ctx, what)
    reason = " ".join(reason.split())
    now = utc_now()
    done: list[str] = []
    with ctx.writer.transaction() as conn:
        for rid in ids:
            row = _get(conn, rid)
            if row.kind != "reward":
                raise RewardError("a clawback is netted at the next payout; it is not approved")
            current = _status(row.status)
            if current is RewardStatus.PENDING:  # written before v8: it awaited approval
                current = RewardStatus.AWAITING_APPROVAL
            check_transition(current, target, reason=reason)
            changes: dict[str, Any] = {
                "status": target.value,
                "decided_by_id": user_id,
                "decided_at": now,
            }
            if target is RewardStatus.APPROVED:
                changes |= {"approved_by_id": user_id, "approved_at": now}
            else:
                changes["declined_reason"] = reason
            ctx.writer.update("rewards", rid, changes)
            done.append(rid)
    return done


def approve(ctx: Context, ids: Iterable[str]) -> list[str]:
    """Approve rewards awaiting approval (all or none: one refusal leaves them all as they were)."""
    return _decide(ctx, ids, RewardStatus.APPROVED, "", "approve rewards")


def decline(ctx: Context, ids: Iterable[str], reason: str) -> list[str]:
    return _decide(ctx, ids, RewardStatus.DECLINED, reason, "decline rewards")


@dataclass
class Payout:
    batch: str
    path: Path | None
    lines: list[dict[str, Any]] = field(default_factory=list)  # one per recipient paid
    carried: list[str] = field(default_factory=list)  # recipients whose clawbacks exceed rewards

    @property
    def total_cents(self) -> int:
        return sum(line["amount_cents"] for line in self.lines)


CSV_COLUMNS = (
    "batch",
    "recipient",
    "recipient_type",
    "recipient_id",
    "email",
    "amount",
    "currency",
    "rewards",
    "clawbacks",
    "reward_ids",
)


def issue(ctx: Context, csv_path: Path | None, *, batch: str | None = None) -> Payout:
    """Issue every approved reward as one payout batch, netting clawbacks per recipient.

    A recipient whose clawbacks exceed their approved rewards is carried to a later batch (their
    rows stay approved; nothing negative is paid). The CSV appears only if the batch commits.
    """
    require_manager(ctx, "issue rewards")
    batch = batch or f"payout-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid7()[-6:]}"
    payout = Payout(batch, csv_path)
    now = utc_now()
    tmp = csv_path.with_name(csv_path.name + ".part") if csv_path else None
    try:
        with ctx.writer.transaction() as conn:
            rows = list_rewards(conn, Filter(statuses=("approved",), limit=10**9))
            groups: dict[tuple[str, str], list[RewardRow]] = defaultdict(list)
            for row in rows:
                groups[(row.recipient_key, row.currency)].append(row)
            for (key, currency), items in sorted(groups.items()):
                total = sum(r.amount_cents for r in items)
                if total <= 0:
                    payout.carried.append(key)
                    continue
                kind, rid = key.split(":", 1)
                email = _email(conn, items[0])
                for item in items:
                    ctx.writer.update(
                        "rewards",
                        item.id,
                        {"status": "issued", "issued_at": now, "payout_batch": batch},
                    )
                rewards = [r for r in items if r.kind == "reward"]
                payout.lines.append(
                    {
                        "batch": batch,
                        "recipient": items[0].recipient_name,
                        "recipient_type": kind,
                        "recipient_id": rid,
                        "email": email or "",
                        "amount": f"{total // 100}.{total % 100:02d}",
                        "amount_cents": total,
                        "currency": currency,
                        "rewards": len(rewards),
                        "clawbacks": len(items) - len(rewards),
                        "reward_ids": " ".join(r.id for r in items),
                    }
                )
                for r in rewards:
                    outbox.reward_issued(
                        ctx,
                        r.id,
                        r.recipient_contact_id,
                        money(r.amount_cents, r.currency),
                        r.explanation,
                    )
            if tmp is not None:
                with tmp.open("w", newline="", encoding="utf-8") as fh:
                    writer = csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore")
                    writer.writeheader()
                    writer.writerows(payout.lines)
        if tmp is not None and csv_path is not None:
            os.replace(tmp, csv_path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return payout


def _email(conn: sqlite3.Connection, row: RewardRow) -> str | None:
    if row.recipient_user_id:
        r = conn.execute("SELECT email FROM users WHERE id = ?", (row.recipient_user_id,))
    else:
        r = conn.execute(
            "SELECT email FROM contacts WHERE id = ? AND referral_consent = 1",
            (row.recipient_contact_id,),
        )
    got = r.fetchone()
    return got[0] if got else None


def redeem(ctx: Context, ids: Iterable[str]) -> list[str]:
    require_manager(ctx, "mark rewards redeemed")
    done: list[str] = []
    with ctx.writer.transaction() as conn:
        for rid in ids:
            row = _get(conn, rid)
            if row.kind != "reward":
                raise RewardError("a clawback is not redeemed")
            check_transition(_status(row.status), RewardStatus.REDEEMED)
            ctx.writer.update("rewards", rid, {"status": "redeemed", "redeemed_at": utc_now()})
            done.append(rid)
    return done


@dataclass(frozen=True)
class Balance:
    recipient_key: str
    recipient_name: str
    currency: str
    due_cents: int  # on hold, awaiting approval or approved, not yet issued
    issued_cents: int  # paid out, net of clawbacks paid with them
    redeemed_cents: int
    clawback_open_cents: int  # negative: to net against the next payout

    @property
    def net_payable_cents(self) -> int:
        return max(0, self.due_cents + self.clawback_open_cents)


def balances(conn: sqlite3.Connection) -> list[Balance]:
    """Per recipient: what is due, issued, redeemed and still to be clawed back."""
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    for row in list_rewards(conn, Filter(limit=10**9)):
        slot = acc.setdefault(
            (row.recipient_key, row.currency),
            {"name": row.recipient_name, "due": 0, "issued": 0, "redeemed": 0, "claw": 0},
        )
        if row.kind == "clawback":
            if row.status == "approved":
                slot["claw"] += row.amount_cents
            elif row.status == "issued":
                slot["issued"] += row.amount_cents
        elif row.status in ("pending", "on_hold", "awaiting_approval", "approved"):
            slot["due"] += row.amount_cents
        elif row.status == "issued":
            slot["issued"] += row.amount_cents
        elif row.status == "redeemed":
            slot["issued"] += row.amount_cents
            slot["redeemed"] += row.amount_cents
    return [
        Balance(key, v["name"], cur, v["due"], v["issued"], v["redeemed"], v["claw"])
        for (key, cur), v in sorted(acc.items())
    ]
