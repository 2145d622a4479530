"""Referral programme: funnel by stage, conversion by cohort month, time to convert, SLA compliance,
top referrers, reward cost and return on it.

The referrals reported are those received in the period (created in it, duplicates left out), in
the scope's territories where they were at the period's end, and for a rep those they own or
captured. Their outcome is followed to today: a referral received in March and won in May counts as
won for March's cohort.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from datetime import datetime

from fieldrep.reports import figures
from fieldrep.reports.common import ReferralRow, base_currency, referrals_in_scope
from fieldrep.reports.model import NA, Chart, Column, Kind, Report, Table
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import Scope

STAGES = ("new", "contacted", "qualified", "proposal", "won")
PAID = ("approved", "issued", "redeemed")  # rewards that cost money (clawbacks are negative rows)
TOP_REFERRERS = 20


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def days_to_convert(r: ReferralRow) -> float | None:
    if r.won_at is None:
        return None
    return (_moment(r.won_at) - _moment(r.created_at)).total_seconds() / 86400


def sla_state(r: ReferralRow, now: str) -> str:
    """met / late / overdue (no contact yet, past due) / open (no contact, not yet due) / none."""
    if not r.sla_due_at:
        return "none"
    if r.first_contact_at is not None:
        return "met" if r.first_contact_at <= r.sla_due_at else "late"
    if r.stage == "lost":
        return "late" if now > r.sla_due_at else "none"
    return "overdue" if now > r.sla_due_at else "open"


def build(
    conn: sqlite3.Connection,
    scope: Scope,
    period: ReportPeriod,
    *,
    team: str = "",
    now: datetime | None = None,
) -> Report:
    stamp = (now or datetime.now()).strftime("%Y-%m-%dT%H:%M:%S")
    base = base_currency(conn)
    cohort = [
        r
        for r in referrals_in_scope(conn, scope, period.hi)
        if period.lo <= r.created_at < period.hi
    ]
    total = len(cohort)
    funnel = Table(
        "Funnel by stage",
        [
            Column("stage", "Stage reached", Kind.TEXT, 16),
            Column("count", "Referrals", Kind.INT, 10),
            Column("share", "Of received", Kind.PERCENT, 11),
            Column("step", "From previous stage", Kind.PERCENT, 12),
        ],
        total_label=None,
    )
    previous = None
    stage_counts = []
    for stage in STAGES:
        index = STAGES.index(stage)
        count = sum(
            1
            for r in cohort
            if stage in r.stages_reached or (r.stage in STAGES and STAGES.index(r.stage) >= index)
        )
        stage_counts.append(count)
        funnel.rows.append(
            [stage, count, count / total if total else NA, count / previous if previous else NA]
        )
        previous = count
    lost = sum(1 for r in cohort if r.stage == "lost")
    funnel.rows.append(["lost", lost, lost / total if total else NA, NA])
    funnel.notes = [
        "A referral counts at every stage it reached, so each stage holds those of the next.",
        "Outcomes are followed to today: a referral received in the period and won later counts "
        "as won.",
    ]

    by_month: dict[str, list[ReferralRow]] = defaultdict(list)
    for r in cohort:
        by_month[r.created_at[:7]].append(r)
    cohorts = Table(
        "Conversion by cohort month",
        [
            Column("month", "Received in", Kind.TEXT, 12),
            Column("received", "Received", Kind.INT, 10, "sum"),
            Column("won", "Won", Kind.INT, 8, "sum"),
            Column("lost", "Lost", Kind.INT, 8, "sum"),
            Column("open", "Open", Kind.INT, 8, "sum"),
            Column("conversion", "Conversion", Kind.PERCENT, 11, ("ratio", "won", "received")),
            Column("median_days", "Median days to win", Kind.NUMBER, 12),
        ],
    )
    for month in sorted(by_month):
        rows = by_month[month]
        won = [r for r in rows if r.stage == "won"]
        lost_n = sum(1 for r in rows if r.stage == "lost")
        times = [d for r in won if (d := days_to_convert(r)) is not None]
        cohorts.rows.append(
            [
                month,
                len(rows),
                len(won),
                lost_n,
                len(rows) - len(won) - lost_n,
                len(won) / len(rows),
                round(statistics.median(times), 1) if times else NA,
            ]
        )
    all_times = [d for r in cohort if (d := days_to_convert(r)) is not None]
    median = round(statistics.median(all_times), 1) if all_times else None

    states = [sla_state(r, stamp) for r in cohort]
    met, late, overdue, open_ = (states.count(s) for s in ("met", "late", "overdue", "open"))
    judged = met + late + overdue
    sla = Table(
        "SLA compliance (first contact by the due time)",
        [
            Column("measure", "Measure", Kind.TEXT, 30),
            Column("count", "Referrals", Kind.INT, 10),
            Column("share", "Share of those due", Kind.PERCENT, 12),
        ],
        total_label=None,
    )

    def share(n: int) -> object:
        return n / judged if judged else NA

    sla.rows = [
        ["Received", total, None],
        ["Contacted in time (compliance)", met, share(met)],
        ["Contacted late", late, share(late)],
        ["Not contacted, past due", overdue, share(overdue)],
        ["Not contacted, not yet due", open_, None],
    ]
    sla.notes = ["Compliance counts referrals whose SLA has come due; open ones are left out."]

    names = dict(conn.execute("SELECT id, name FROM accounts"))
    referrers: dict[str, list[ReferralRow]] = defaultdict(list)
    for r in cohort:
        if r.referrer_account_id:
            referrers[r.referrer_account_id].append(r)
    top = Table(
        "Top referrers",
        [
            Column("referrer", "Referrer", Kind.TEXT, 34),
            Column("referrals", "Referrals", Kind.INT, 10, "sum"),
            Column("won", "Won", Kind.INT, 8, "sum"),
            Column("amount", f"Won amount ({base})", Kind.MONEY, 15, "sum", base),
        ],
        total_label=None,
    )
    ranked = sorted(
        referrers.items(),
        key=lambda kv: (-len(kv[1]), -sum(1 for r in kv[1] if r.stage == "won"), kv[0]),
    )[:TOP_REFERRERS]
    for account_id, rows in ranked:
        won = [r for r in rows if r.stage == "won"]
        top.rows.append(
            [
                names.get(account_id, "(account not on this laptop)"),
                len(rows),
                len(won),
                round(sum(r.amount or 0.0 for r in won), 2),
            ]
        )
    top.notes = [f"The {TOP_REFERRERS} referrers who sent the most referrals in the period."]

    roi = _reward_roi(conn, cohort, base)
    sections = [funnel, cohorts, sla, top, roi]
    months = [row[0] for row in cohorts.rows]
    conversion = [row[5] for row in cohorts.rows]
    charts = [
        Chart(
            "Referral funnel",
            lambda fig: figures.funnel(fig, list(STAGES), stage_counts, "Referral funnel"),
            0,
            "stage",
            ("count",),
        ),
        Chart(
            "Conversion by cohort month",
            lambda fig: figures.columns_over_time(
                fig, months, {"Conversion": conversion}, "Conversion by cohort month", percent=True
            ),
            1,
            "month",
            ("conversion",),
            "column",
        ),
    ]
    report = Report(
        "referral-programme",
        "Referral programme",
        period,
        scope.label,
        sections,
        charts,
        team=team,
        empty=not cohort,
    )
    moved = sum(1 for r in cohort if r.moved)
    report.notes.append(
        "Median time from receiving a referral to winning it: "
        + (f"{median} days." if median is not None else "n/a (none won).")
    )
    report.notes.append(
        f"Referrals are counted in the territory they were in at the end of the period "
        f"({period.last_day.isoformat()}); {moved} of them moved between territories."
    )
    return report


def _reward_roi(conn: sqlite3.Connection, cohort: list[ReferralRow], base: str) -> Table:
    """Reward cost against the revenue of the referrals won, per currency (never summed across)."""
    ids = {r.id for r in cohort}
    won_ids = {r.id for r in cohort if r.stage == "won"}
    revenue: dict[str, float] = defaultdict(float)
    with_deals: set[str] = set()
    for referral_id, currency, amount in conn.execute(
        "SELECT referral_id, currency, amount FROM deals WHERE referral_id IS NOT NULL"
    ):
        if referral_id in won_ids:
            revenue[currency] += amount
            with_deals.add(referral_id)
    for r in cohort:
        if r.id in won_ids and r.id not in with_deals and r.amount:
            revenue[base] += r.amount
    cost: dict[str, float] = defaultdict(float)
    for referral_id, currency, amount, status in conn.execute(
        "SELECT referral_id, currency, amount, status FROM rewards"
    ):
        if referral_id in ids and status in PAID:
            cost[currency] += amount
    table = Table(
        "Reward cost and return",
        [
            Column("currency", "Currency", Kind.TEXT, 9),
            Column("revenue", "Won revenue", Kind.MONEY, 15),
            Column("cost", "Reward cost", Kind.MONEY, 13),
            Column("net", "Revenue less rewards", Kind.MONEY, 15),
            Column("roi", "Return on rewards", Kind.PERCENT, 12),
        ],
        total_label=None,
    )
    for currency in sorted(set(revenue) | set(cost), key=lambda c: (c != base, c)):
        rev, spent = round(revenue[currency], 2), round(cost[currency], 2)
        table.rows.append(
            [currency, rev, spent, round(rev - spent, 2), (rev - spent) / spent if spent else NA]
        )
    table.notes = [
        "Reward cost: approved, issued and redeemed rewards for these referrals, less clawbacks.",
        "Return: (won revenue - reward cost) / reward cost, per currency; currencies are never "
        "added together.",
    ]
    return table
