"""The reports there are, by the name the CLI and the Reports page use, and one way to build any."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fieldrep.reports import (
    accounts_report,
    referral_programme,
    rep_activity,
    reward_payouts,
    territory_performance,
)
from fieldrep.reports.model import Report
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import load_scope


@dataclass(frozen=True)
class ReportKind:
    key: str
    title: str
    summary: str
    build: Callable[..., Report]


# Reports whose PDF shows the territory map of their scope (issue 20). The map is drawn by the
# UI layer's renderer (Qt) and handed to the writer as PNG bytes (Report.images).
MAP_REPORTS = frozenset({"territory-performance"})

KINDS: dict[str, ReportKind] = {
    k.key: k
    for k in (
        ReportKind(
            "territory-performance",
            "Territory performance",
            "accounts, potential, sales, quota attainment, coverage, visits and referrals per "
            "territory, with subtotals up the hierarchy",
            territory_performance.build,
        ),
        ReportKind(
            "rep-activity",
            "Rep activity",
            "visits per rep and per week, accounts covered, overdue tasks, referrals captured",
            rep_activity.build,
        ),
        ReportKind(
            "referral-programme",
            "Referral programme",
            "funnel, conversion by cohort, time to convert, SLA, top referrers, reward cost and ROI",
            referral_programme.build,
        ),
        ReportKind(
            "reward-payouts",
            "Reward payouts",
            "approved, issued and clawed-back rewards per recipient with yearly totals",
            reward_payouts.build,
        ),
        ReportKind(
            "accounts",
            "Accounts",
            "the account list, filtered by territory, owner, status or industry",
            accounts_report.build,
        ),
    )
}


def team_name(conn: sqlite3.Connection) -> str:
    """The team as a title page names it: the signed-in manager's team, else the organisation."""
    row = conn.execute(
        "SELECT coalesce(nullif(u.display_name, ''), u.username) FROM local_meta m JOIN users u "
        "ON u.id = m.value WHERE m.key = 'user_id'"
    ).fetchone()
    return f"{row[0]}'s team" if row else "All teams"


def build_report(
    conn: sqlite3.Connection,
    kind: str,
    period: ReportPeriod,
    *,
    territory: str | None = None,
    rep: str | None = None,
    **options: Any,
) -> Report:
    """Build report ``kind`` (a key of :data:`KINDS`); unknown names raise ScopeError/KeyError."""
    scope = load_scope(conn, territory, rep)
    return KINDS[kind].build(conn, scope, period, team=team_name(conn), **options)
