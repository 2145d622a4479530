"""Helpers the report builders share: the base currency, quotas for a period, referral positions."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import date

from fieldrep.reports.periods import ReportPeriod, add_months
from fieldrep.reports.scope import Scope, territory_at

_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def base_currency(conn: sqlite3.Connection) -> str:
    """The currency quotas are kept in: the one most of the latest 1,000 deals use (USD on an
    empty book). A sample, so a book of 500,000 deals is not read in full to learn it."""
    row = conn.execute(
        "SELECT currency FROM (SELECT currency FROM deals ORDER BY rowid DESC LIMIT 1000) "
        "GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else "USD"


def currencies_in_period(conn: sqlite3.Connection, period: ReportPeriod, base: str) -> list[str]:
    found = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT currency FROM deals WHERE closed_on >= ? AND closed_on < ?",
            [period.lo, period.hi],
        )
    ]
    return [base, *sorted(c for c in found if c != base)]


def sales_quotas(
    conn: sqlite3.Connection, period: ReportPeriod, key: str, *, territory_only: bool
) -> dict[str, float]:
    """Sales quota per territory (``key='territory_id'``) or rep (``'user_id'``) for the period.

    Quotas kept at the period's own granularity win; else finer quotas inside the period are summed
    (three months make a quarter; a custom range sums the months it fully holds); else a coarser
    quota holding the period is pro-rated by months. Territory quotas are those not set for one rep.
    """
    only = "AND user_id IS NULL" if territory_only else ""
    months = period.months
    found: dict[str, tuple[int, float]] = {}
    rows = conn.execute(
        f"SELECT {key}, period, period_start, target FROM quotas WHERE metric = 'sales' {only} "
        f"AND {key} IS NOT NULL AND period_start >= ? AND period_start < ?",
        [period.lo, period.hi],
    ).fetchall()
    sums: dict[tuple[str, str], float] = {}
    for owner, kind, start, target in rows:
        end = add_months(date.fromisoformat(start), _MONTHS[kind])
        if end > period.end:
            continue  # runs past the period: not inside it
        sums[(owner, kind)] = sums.get((owner, kind), 0.0) + float(target)
    for (owner, kind), target in sums.items():
        rank = 0 if kind == period.kind else _MONTHS[kind] * -1 + 100  # coarser inside wins
        if owner not in found or rank < found[owner][0]:
            found[owner] = (rank, target)
    if months:
        for kind, span in _MONTHS.items():
            if span <= months:
                continue
            start = _period_start(kind, period.start)
            for owner, target in conn.execute(
                f"SELECT {key}, sum(target) FROM quotas WHERE metric = 'sales' {only} "
                f"AND {key} IS NOT NULL AND period = ? AND period_start = ? GROUP BY {key}",
                [kind, start.isoformat()],
            ):
                if owner not in found:
                    found[owner] = (1000, float(target) * months / span)
    return {owner: target for owner, (_, target) in found.items()}


def _period_start(kind: str, day: date) -> date:
    if kind == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if kind == "year":
        return date(day.year, 1, 1)
    return date(day.year, day.month, 1)


@dataclass
class ReferralRow:
    id: str
    territory_id: str | None  # where it was at the period's end
    moved: bool  # moved between territories at some point
    owner_id: str | None
    captured_by_id: str | None
    referrer_account_id: str | None
    stage: str
    created_at: str
    sla_due_at: str | None
    amount: float | None
    won_at: str | None
    first_contact_at: str | None
    stages_reached: set[str]


def referrals_in_scope(conn: sqlite3.Connection, scope: Scope, moment: str) -> list[ReferralRow]:
    """Every referral not marked a duplicate, placed where it was at ``moment`` (the period's end),
    limited to the scope's territories and rep (the owner or the rep who captured it)."""
    position, moved = territory_at(conn, "referral", moment)
    events: dict[str, list[tuple[str, str]]] = {}
    for referral_id, at, to_value in conn.execute(
        "SELECT referral_id, at, to_value FROM referral_events WHERE kind = 'stage'"
    ):
        events.setdefault(referral_id, []).append((at, to_value))
    for history in events.values():
        history.sort()  # by time: cheaper here than an index-ordered scan with row lookups
    out = []
    for row in conn.execute(
        "SELECT id, territory_id, owner_id, captured_by_id, referrer_account_id, stage, "
        "created_at, sla_due_at, amount, updated_at FROM referrals WHERE duplicate_of_id IS NULL"
    ):
        rid, territory, owner, captured, referrer, stage, created, sla, amount, updated = row
        territory = position.get(rid, territory)
        if not scope.in_scope(territory):
            continue
        if scope.rep is not None and scope.rep.id not in (owner, captured):
            continue
        history = events.get(rid, [])
        reached = {"new", stage} | {to for _, to in history}
        won_at = next((at for at, to in history if to == "won"), None)
        if stage == "won" and won_at is None:
            won_at = updated
        first_contact = next((at for at, to in history if to != "new"), None)
        out.append(
            ReferralRow(
                rid,
                territory,
                rid in moved,
                owner,
                captured,
                referrer,
                stage,
                created,
                sla,
                amount,
                won_at,
                first_contact,
                reached,
            )
        )
    return out


def most_common(values: list[str], default: str) -> str:
    return Counter(values).most_common(1)[0][0] if values else default
