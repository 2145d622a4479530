"""Referral programme metrics by period, territory and rep, in SQL over the raw tables.

A period is a year (``2026``), a quarter (``2026-Q3``) or a month (``2026-07``); referrals belong to
it by their creation date (their cohort). Definitions:

- referral rate: accounts that referred someone in the period / active accounts;
- conversion by cohort month: won / referrals created that month;
- time to first contact: creation to the first stage move out of New (hours, median);
- time to conversion: creation to the move to Won (days, median);
- SLA compliance: first contact within the first-contact SLA of the referral's territory (the
  team's, :func:`fieldrep.services.referrals.sla.days_for`; or ``sla_hours`` for every referral when
  given) of creation, over the referrals whose first contact was made or is overdue (an open one
  not yet due is not counted either way);
- reward cost: net rewards approved, issued or redeemed for the period's referrals, clawbacks
  included; ROI: won value / reward cost;
- redemption rate: redeemed / issued or redeemed rewards;
- top referrers: accounts by referrals, then won value.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import date
from statistics import median
from typing import Any

AMOUNT = "coalesce(w.amount_cents, CAST(round(w.amount * 100) AS INTEGER))"


class PeriodError(ValueError):
    pass


def period_bounds(text: str) -> tuple[date, date]:
    """[start, end) of ``2026``, ``2026-Q3`` or ``2026-07``."""
    try:
        if len(text) == 4:
            y = int(text)
            return date(y, 1, 1), date(y + 1, 1, 1)
        if text[4:6].upper() == "-Q":
            y, q = int(text[:4]), int(text[6:])
            if not 1 <= q <= 4:
                raise ValueError
            start = date(y, 3 * q - 2, 1)
            return start, (date(y + 1, 1, 1) if q == 4 else date(y, 3 * q + 1, 1))
        y, m = int(text[:4]), int(text[5:7])
        start = date(y, m, 1)
        return start, (date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1))
    except (ValueError, IndexError):
        raise PeriodError(
            f"{text!r} is not a period: write a year (2026), a quarter (2026-Q3) or a month"
            " (2026-07)"
        ) from None


@dataclass
class Metrics:
    period: str
    territory: str | None
    rep: str | None
    referrals: int = 0
    won: int = 0
    won_value_cents: int = 0
    referring_accounts: int = 0
    active_accounts: int = 0
    referral_rate: float | None = None
    conversion_by_cohort: dict[str, dict[str, Any]] = field(default_factory=dict)
    median_hours_to_first_contact: float | None = None
    median_days_to_conversion: float | None = None
    sla_met: int = 0
    sla_counted: int = 0
    sla_compliance: float | None = None
    reward_cost_cents: int = 0
    roi: float | None = None
    rewards_issued: int = 0
    rewards_redeemed: int = 0
    redemption_rate: float | None = None
    top_referrers: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def territory_ids(conn: sqlite3.Connection, name: str) -> list[str]:
    """The territory called ``name`` and every territory below it."""
    row = conn.execute(
        "SELECT id FROM territories WHERE name = ? COLLATE NOCASE ORDER BY id LIMIT 1", (name,)
    ).fetchone()
    if row is None:
        raise PeriodError(f"there is no territory called {name!r}")
    ids = [row[0]]
    frontier = [row[0]]
    while frontier:
        marks = ", ".join("?" * len(frontier))
        frontier = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM territories WHERE parent_id IN ({marks})", frontier
            )
            if r[0] not in ids
        ]
        ids += frontier
    return ids


def _ratio(a: float, b: float) -> float | None:
    return None if not b else a / b


def compute(
    conn: sqlite3.Connection,
    period: str,
    *,
    territory: str | None = None,
    rep: str | None = None,
    sla_hours: float | None = None,
    now: str | None = None,
    top: int = 10,
) -> Metrics:
    start, end = period_bounds(period)
    out = Metrics(period=period, territory=territory, rep=rep)
    conn.execute("DROP TABLE IF EXISTS temp.metric_referrals")
    where = ["r.created_at >= ?", "r.created_at < ?", "r.duplicate_of_id IS NULL"]
    params: list[Any] = [start.isoformat(), end.isoformat()]
    acc_where = ["a.status = 'active'"]
    acc_params: list[Any] = []
    if territory:
        ids = territory_ids(conn, territory)
        marks = ", ".join("?" * len(ids))
        where.append(f"r.territory_id IN ({marks})")
        params += ids
        acc_where.append(f"a.territory_id IN ({marks})")
        acc_params += ids
    if rep:
        where.append("(r.captured_by_id = ? OR r.owner_id = ?)")
        params += [rep, rep]
        acc_where.append("a.owner_id = ?")
        acc_params.append(rep)
    # The period's referrals once, with their first contact and conversion times.
    conn.execute(
        "CREATE TEMP TABLE metric_referrals AS SELECT r.id, r.referrer_account_id, r.stage,"
        " r.territory_id,"
        " r.created_at, CAST(round(coalesce(r.amount, 0) * 100) AS INTEGER) AS value,"
        " (SELECT min(e.at) FROM referral_events e WHERE e.referral_id = r.id"
        "  AND e.kind = 'stage' AND e.from_value = 'new') AS first_contact,"
        " (SELECT min(e.at) FROM referral_events e WHERE e.referral_id = r.id"
        "  AND e.kind = 'stage' AND e.to_value = 'won') AS won_at"
        f" FROM referrals r WHERE {' AND '.join(where)}",
        params,
    )
    try:
        _fill(conn, out, acc_where, acc_params, sla_hours, now, top)
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.metric_referrals")
    return out


def _fill(
    conn: sqlite3.Connection,
    out: Metrics,
    acc_where: list[str],
    acc_params: list[Any],
    sla_hours: float | None,
    now: str | None,
    top: int,
) -> None:
    out.referrals, out.won, out.won_value_cents, out.referring_accounts = conn.execute(
        "SELECT count(*), coalesce(sum(stage = 'won'), 0),"
        " coalesce(sum(CASE WHEN stage = 'won' THEN value END), 0),"
        " count(DISTINCT referrer_account_id) FROM metric_referrals"
    ).fetchone()
    out.active_accounts = conn.execute(
        f"SELECT count(*) FROM accounts a WHERE {' AND '.join(acc_where)}", acc_params
    ).fetchone()[0]
    out.referral_rate = _ratio(out.referring_accounts, out.active_accounts)
    for month, n, won in conn.execute(
        "SELECT substr(created_at, 1, 7), count(*), sum(stage = 'won') FROM metric_referrals"
        " GROUP BY 1 ORDER BY 1"
    ):
        out.conversion_by_cohort[month] = {"referrals": n, "won": won, "rate": won / n}
    hours = [
        r[0]
        for r in conn.execute(
            "SELECT (julianday(first_contact) - julianday(created_at)) * 24 FROM"
            " metric_referrals WHERE first_contact IS NOT NULL"
        )
    ]
    out.median_hours_to_first_contact = median(hours) if hours else None
    days = [
        r[0]
        for r in conn.execute(
            "SELECT julianday(won_at) - julianday(created_at) FROM metric_referrals"
            " WHERE won_at IS NOT NULL"
        )
    ]
    out.median_days_to_conversion = median(days) if days else None
    met, counted = _sla(conn, sla_hours, now)
    out.sla_met, out.sla_counted = met, counted
    out.sla_compliance = _ratio(met, counted)
    cost, issued, redeemed = conn.execute(
        f"SELECT coalesce(sum(CASE WHEN w.status IN ('approved', 'issued', 'redeemed')"
        f" THEN {AMOUNT} END), 0),"
        " coalesce(sum(w.kind = 'reward' AND w.status IN ('issued', 'redeemed')), 0),"
        " coalesce(sum(w.kind = 'reward' AND w.status = 'redeemed'), 0)"
        " FROM rewards w JOIN metric_referrals m ON m.id = w.referral_id"
    ).fetchone()
    out.reward_cost_cents, out.rewards_issued, out.rewards_redeemed = cost, issued, redeemed
    out.roi = _ratio(out.won_value_cents, cost) if cost > 0 else None
    out.redemption_rate = _ratio(redeemed, issued)
    out.top_referrers = [
        {"account_id": a, "name": name, "referrals": n, "won": w, "won_value_cents": v}
        for a, name, n, w, v in conn.execute(
            "SELECT m.referrer_account_id, coalesce(a.name, ''), count(*), sum(m.stage = 'won'),"
            " coalesce(sum(CASE WHEN m.stage = 'won' THEN m.value END), 0) FROM"
            " metric_referrals m LEFT JOIN accounts a ON a.id = m.referrer_account_id"
            " WHERE m.referrer_account_id IS NOT NULL GROUP BY m.referrer_account_id"
            " ORDER BY 3 DESC, 5 DESC, 1 LIMIT ?",
            (top,),
        )
    ]


def _sla(conn: sqlite3.Connection, sla_hours: float | None, now: str | None) -> tuple[int, int]:
    """(met, counted): first contacts within the limit, over those made or overdue. The limit is
    ``sla_hours``, or else the first-contact SLA of each referral's territory."""
    from fieldrep.domain.vocabulary import Stage
    from fieldrep.services.referrals import sla

    limits: dict[str | None, float] = {}
    moment = now or "now"
    met = counted = 0
    for territory_id, waited, since in conn.execute(
        "SELECT territory_id, julianday(first_contact) - julianday(created_at),"
        " julianday(?) - julianday(created_at) FROM metric_referrals",
        (moment,),
    ):
        if territory_id not in limits:
            days = (
                sla_hours / 24
                if sla_hours is not None
                else sla.days_for(conn, Stage.NEW, territory_id)
            )
            limits[territory_id] = float("inf") if days is None else days
        limit = limits[territory_id]
        if waited is not None:
            counted += 1
            met += waited <= limit
        elif since > limit:
            counted += 1
    return met, counted
