"""Moving referrals through the stages, and reading them for the board, the table and the CLI.

:func:`move` writes the referral's new stage, its ``stage`` event and whatever the stage needs in
one transaction: Lost needs a reason; Won needs the deal value and an account (linked, or created
from the referred party) and writes the deal; moving back (from Won, too) is allowed and recorded.
A rep moves only referrals they own; a manager or admin any.

Kept whole: the board's moves and what the board shows (cards, column totals, history, detail) are
the one pipeline of referrals, sharing its row reads.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fieldrep.domain.vocabulary import MANAGER_ROLES
from fieldrep.services.context import Context
from fieldrep.services.referrals import sla
from fieldrep.services.referrals.model import EventKind, Stage
from fieldrep.services.referrals.routing import user_name
from fieldrep.store.errors import ValidationError
from fieldrep.store.writer import utc_now


class MoveRefused(ValidationError):
    def __init__(self, message: str, field: str = "stage") -> None:
        super().__init__(message, table="referrals", field=field)


@dataclass(frozen=True)
class Moved:
    referral_id: str
    from_stage: Stage
    to_stage: Stage
    account_id: str | None = None
    deal_id: str | None = None
    message: str = ""


def _row(conn: sqlite3.Connection, referral_id: str) -> dict[str, Any]:
    cur = conn.execute("SELECT * FROM referrals WHERE id = ?", (referral_id,))
    row = cur.fetchone()
    if row is None:
        raise MoveRefused("that referral no longer exists on this laptop", "id")
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def may_move(ctx: Context, referral: dict[str, Any]) -> str | None:
    """Why the signed-in user may not move ``referral`` (None: they may)."""
    me = ctx.user()
    if me is None:
        return "sign in first: a stage move is made by a rep"
    if me.get("role") in MANAGER_ROLES:
        return None
    if referral.get("owner_id") == me["id"]:
        return None
    owner = user_name(ctx, referral.get("owner_id")) or "nobody yet"
    return f"only its owner ({owner}) or a manager can move this referral"


def move(
    ctx: Context,
    referral_id: str,
    stage: Stage | str,
    *,
    reason: str = "",
    value: float | None = None,
    account_id: str | None = None,
    create_account: bool = False,
) -> Moved:
    try:
        to = Stage(stage)
    except ValueError:
        names = ", ".join(s.value for s in Stage)
        raise MoveRefused(f"{stage!r} is not a stage; use one of {names}") from None
    reason = " ".join((reason or "").split())
    writer = ctx.writer
    with writer.transaction() as conn:
        ref = _row(conn, referral_id)
        frm = Stage(ref["stage"])
        refused = may_move(ctx, ref)
        if refused:
            raise MoveRefused(refused, "owner_id")
        if to == frm:
            return Moved(referral_id, frm, to, message=f"already {to.label}")
        if ref["duplicate_of_id"]:
            raise MoveRefused(
                "this referral is linked to an earlier one, which keeps it: move that one instead"
            )
        changes: dict[str, Any] = {"stage": to.value}
        now = datetime.now(UTC)
        changes["sla_due_at"] = sla.due_at(conn, to, ref["territory_id"], now)
        deal_id = None
        account = ref["converted_account_id"]
        if to is Stage.LOST:
            if not reason:
                raise MoveRefused("say why it was lost", "lost_reason")
            changes["lost_reason"] = reason
        if to is Stage.WON:
            if value is None or value <= 0:
                raise MoveRefused("give the deal's value (more than 0) to mark it won", "amount")
            account = account_id or account
            if account is None and not create_account:
                raise MoveRefused(
                    "link the account it became, or let FieldRep create one", "converted_account_id"
                )
            if (
                account is not None
                and conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account,)).fetchone()
                is None
            ):
                raise MoveRefused("that account no longer exists", "converted_account_id")
            if account is None:
                account = _create_account(ctx, ref)
            changes.update(amount=float(value), converted_account_id=account, lost_reason=None)
            deal_id = writer.insert(
                "deals",
                {
                    "account_id": account,
                    "user_id": ref["owner_id"],
                    "territory_id": ref["territory_id"],
                    "referral_id": referral_id,
                    "amount": float(value),
                    "closed_on": now.astimezone().date().isoformat(),
                    "description": f"Referral: {ref['referred_name']}",
                },
            )
        if frm is Stage.WON:  # moved back: the sale it recorded did not happen (yet)
            for (deal,) in conn.execute(
                "SELECT id FROM deals WHERE referral_id = ?", (referral_id,)
            ).fetchall():
                writer.delete("deals", deal)
        if frm is Stage.LOST:
            changes["lost_reason"] = None
        writer.update("referrals", referral_id, changes)
        writer.insert(
            "referral_events",
            {
                "referral_id": referral_id,
                "at": utc_now(),
                "user_id": ctx.user_id,
                "kind": EventKind.STAGE.value,
                "from_value": frm.value,
                "to_value": to.value,
                "reason": reason
                or (f"won, {value:,.2f}" if to is Stage.WON and value else None)
                or ("moved back" if STAGE_ORDER[to] < STAGE_ORDER[frm] else None),
            },
        )
        if frm is Stage.NEW:  # first contact made: the owner's follow-up is done
            for (task,) in conn.execute(
                "SELECT id FROM tasks WHERE referral_id = ? AND user_id = ? AND done = 0"
                " AND title LIKE 'First contact%'",
                (referral_id, ref["owner_id"]),
            ).fetchall():
                writer.update("tasks", task, {"done": 1, "done_at": utc_now()})
        rewards_note = _rewards_for_move(ctx, referral_id, to)
    back = " (moved back)" if STAGE_ORDER[to] < STAGE_ORDER[frm] else ""
    message = f"{frm.label} -> {to.label}{back}"
    return Moved(referral_id, frm, to, account, deal_id, "; ".join([message, *rewards_note]))


def _rewards_for_move(ctx: Context, referral_id: str, to: Stage) -> list[str]:
    """The reward ledger follows the move, in its transaction: rewards the new stage earns, and
    voids or clawbacks of those it no longer keeps. Only a manager's (or an unsigned laptop's)
    writes rewards, as the server allows no one else to: a rep's move reaches the manager's laptop
    by sync, which then computes them (``ledger.follow_received_stages``); the rep is told so. The
    referrer's status e-mail is queued here, on whichever laptop moved it."""
    from fieldrep.services.notifications import outbox
    from fieldrep.services.rewards.ledger import on_stage_reached

    role = (ctx.user() or {}).get("role")
    if role is not None and role not in MANAGER_ROLES:
        if to in (Stage.QUALIFIED, Stage.WON):
            outbox.referrer_status_changed(ctx, referral_id, to.value)
            return ["any reward is worked out on your manager's laptop when they next sync"]
        return []
    return on_stage_reached(ctx, referral_id, to.value).explained


STAGE_ORDER = {s: i for i, s in enumerate(Stage)}


def _create_account(ctx: Context, ref: dict[str, Any]) -> str:
    return ctx.writer.insert(
        "accounts",
        {
            "name": ref["referred_company"] or ref["referred_name"],
            "status": "active",
            "street": ref["referred_street"],
            "city": ref["referred_city"],
            "postal_code": ref["referred_postal_code"],
            "country": ref["referred_country"] or "US",
            "phone": ref["referred_phone"],
            "email": ref["referred_email"],
            "territory_id": ref["territory_id"],
            "owner_id": ref["owner_id"],
            "notes": f"Created from the referral of {ref['referred_name']}",
        },
    )


# -- reading ----------------------------------------------------------------------------------------


@dataclass
class Filter:
    """Filters applied in SQL (the board and the table page through the result)."""

    stage: Stage | None = None
    territory_id: str | None = None
    owner_id: str | None = None
    referrer_account_id: str | None = None
    captured_by_id: str | None = None
    overdue: bool = False
    since: str | None = None  # ISO date, inclusive
    until: str | None = None  # ISO date, inclusive
    text: str = ""
    linked: bool = False  # include referrals linked to an earlier one (hidden on the board)
    mine: str | None = None  # user id: referrals they own or captured

    def where(self, now: str | None = None) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if not self.linked:
            parts.append("r.duplicate_of_id IS NULL")
        for column, value in (
            ("r.stage", self.stage.value if self.stage else None),
            ("r.territory_id", self.territory_id),
            ("r.owner_id", self.owner_id),
            ("r.referrer_account_id", self.referrer_account_id),
            ("r.captured_by_id", self.captured_by_id),
        ):
            if value:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.mine:
            parts.append("(r.owner_id = ? OR r.captured_by_id = ?)")
            params += [self.mine, self.mine]
        if self.overdue:
            parts.append("r.stage NOT IN ('won', 'lost') AND r.sla_due_at < ?")
            params.append(now or utc_now())
        if self.since:
            parts.append("r.created_at >= ?")
            params.append(self.since)
        if self.until:
            parts.append("r.created_at < ?")
            params.append(self.until + "T99")
        if self.text.strip():
            parts.append(
                "(r.referred_name LIKE ? OR r.referred_company LIKE ? OR r.referred_email LIKE ?)"
            )
            like = f"%{self.text.strip()}%"
            params += [like, like, like]
        return (" AND ".join(parts) or "1"), params


@dataclass
class Card:
    """One referral as the board and the table show it."""

    id: str
    name: str
    company: str
    stage: str
    owner: str
    owner_id: str | None
    territory: str
    referrer: str
    captured_by: str
    created_at: str
    sla_due_at: str | None
    amount: float | None
    flags: list[str] = field(default_factory=list)
    overdue: bool = False
    duplicate_of_id: str | None = None


CARD_SELECT = (
    "SELECT r.id, r.referred_name, coalesce(r.referred_company, ''), r.stage,"
    " coalesce(nullif(o.display_name, ''), o.username, ''), r.owner_id, coalesce(t.name, ''),"
    " coalesce(a.name, ''), coalesce(nullif(c.display_name, ''), c.username, ''), r.created_at,"
    " r.sla_due_at, r.amount, r.flags, r.duplicate_of_id FROM referrals r"
    " LEFT JOIN users o ON o.id = r.owner_id LEFT JOIN territories t ON t.id = r.territory_id"
    " LEFT JOIN accounts a ON a.id = r.referrer_account_id"
    " LEFT JOIN users c ON c.id = r.captured_by_id"
)
SORTS = {
    "created": "r.created_at DESC, r.id",
    "due": "r.sla_due_at IS NULL, r.sla_due_at, r.id",
    "name": "r.referred_name COLLATE NOCASE, r.id",
    "amount": "r.amount IS NULL, r.amount DESC, r.id",
}


def cards(
    conn: sqlite3.Connection,
    flt: Filter,
    *,
    limit: int = 200,
    offset: int = 0,
    sort: str = "created",
) -> list[Card]:
    now = utc_now()
    where, params = flt.where(now)
    rows = conn.execute(
        f"{CARD_SELECT} WHERE {where} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    out = []
    for r in rows:
        try:
            flags = json.loads(r[12] or "[]")
        except ValueError:
            flags = []
        overdue = r[3] not in ("won", "lost") and r[10] is not None and r[10] < now
        out.append(
            Card(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                r[11],
                flags,
                overdue,
                r[13],
            )
        )
    return out


@dataclass(frozen=True)
class ColumnTotals:
    count: int
    value: float
    overdue: int


def totals(conn: sqlite3.Connection, flt: Filter) -> dict[Stage, ColumnTotals]:
    """Count, value and overdue count per stage, for the board's column headers (one query)."""
    now = utc_now()
    base = Filter(**{**flt.__dict__, "stage": None})
    where, params = base.where(now)
    out = {s: ColumnTotals(0, 0.0, 0) for s in Stage}
    for stage, count, value, overdue in conn.execute(
        f"SELECT r.stage, count(*), coalesce(sum(r.amount), 0), sum(r.stage NOT IN ('won', 'lost')"
        f" AND r.sla_due_at < ?) FROM referrals r WHERE {where} GROUP BY r.stage",
        [now, *params],
    ):
        out[Stage(stage)] = ColumnTotals(int(count), float(value), int(overdue or 0))
    return out


def history(conn: sqlite3.Connection, referral_id: str) -> list[dict[str, Any]]:
    cur = conn.execute(
        "SELECT e.at, e.kind, e.from_value, e.to_value, e.reason,"
        " coalesce(nullif(u.display_name, ''), u.username, '') AS who FROM referral_events e"
        " LEFT JOIN users u ON u.id = e.user_id WHERE e.referral_id = ? ORDER BY e.at, e.id",
        (referral_id,),
    )
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def detail(conn: sqlite3.Connection, referral_id: str) -> dict[str, Any] | None:
    cur = conn.execute(
        "SELECT r.*, coalesce(nullif(o.display_name, ''), o.username) AS owner_name,"
        " t.name AS territory_name, a.name AS referrer_name,"
        " coalesce(nullif(c.display_name, ''), c.username) AS captured_by_name,"
        " trim(k.first_name || ' ' || k.last_name) AS referrer_contact_name,"
        " (SELECT count(*) FROM referrals d WHERE d.duplicate_of_id = r.id) AS linked"
        " FROM referrals r LEFT JOIN users o ON o.id = r.owner_id"
        " LEFT JOIN territories t ON t.id = r.territory_id"
        " LEFT JOIN accounts a ON a.id = r.referrer_account_id"
        " LEFT JOIN users c ON c.id = r.captured_by_id"
        " LEFT JOIN contacts k ON k.id = r.referrer_contact_id WHERE r.id = ?",
        (referral_id,),
    )
    row = cur.fetchone()
    return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))


def short_id(referral_id: str) -> str:
    """The last 8 characters: a UUIDv7 starts with its time, so its end tells rows apart."""
    return referral_id[-8:]


def find(conn: sqlite3.Connection, prefix: str) -> str:
    """A referral id from its full id or the end of it (:func:`short_id`)."""
    rows = conn.execute("SELECT id FROM referrals WHERE id = ?", (prefix,)).fetchall()
    if not rows and len(prefix) >= 4:
        rows = conn.execute(
            "SELECT id FROM referrals WHERE id LIKE ? ESCAPE '!' LIMIT 2",
            ("%" + prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_"),),
        ).fetchall()
    if len(rows) != 1:
        raise MoveRefused(
            f"no referral has the id {prefix!r}"
            if not rows
            else f"{prefix!r} names more than one referral; give more of its id",
            "id",
        )
    return str(rows[0][0])
