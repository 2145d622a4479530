"""Rep activity: per rep, visits (and per week), accounts covered, overdue tasks, referrals captured.

A rep who has left (``users.active = 0``) still appears, marked "(left)", when they did anything in
the period: their work until they left counts. With a territory, only visits to its accounts, tasks
on them and referrals placed in it count, and the reps listed are its members plus anyone with
activity there.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import date, timedelta

from fieldrep.reports import figures
from fieldrep.reports.common import base_currency
from fieldrep.reports.model import NA, Chart, Column, Kind, Report, Table
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import Scope


def build(
    conn: sqlite3.Connection,
    scope: Scope,
    period: ReportPeriod,
    *,
    team: str = "",
    today: date | None = None,
) -> Report:
    today = today or date.today()
    base = base_currency(conn)
    account_territory = dict(conn.execute("SELECT id, territory_id FROM accounts"))

    def here(account_id: str | None) -> bool:
        return scope.root is None or scope.in_scope(account_territory.get(account_id or ""))

    per: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    covered: dict[str, set[str]] = defaultdict(set)
    weekly: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for user_id, account_id, at in conn.execute(
        "SELECT user_id, account_id, visited_at FROM visits WHERE visited_at >= ? AND "
        "visited_at < ?",
        [period.lo, period.hi],
    ):
        if not here(account_id):
            continue
        per[user_id]["visits"] += 1
        covered[user_id].add(account_id)
        day = date.fromisoformat(at[:10])
        weekly[user_id][day - timedelta(days=day.weekday())] += 1
    # Overdue at the period's end (or today, if the period has not ended): due before then and not
    # done by then.
    cutoff = min(period.end, today + timedelta(days=1)).isoformat()
    for user_id, account_id, _due, done, done_at in conn.execute(
        "SELECT user_id, account_id, due_date, done, done_at FROM tasks WHERE due_date < ?",
        [cutoff],
    ):
        if not here(account_id):
            continue
        finished_in_time = done and (done_at is None or done_at < cutoff)
        if not finished_in_time:
            per[user_id]["overdue"] += 1
        if done and done_at is not None and period.lo <= done_at < period.hi:
            per[user_id]["done"] += 1
    for user_id, territory in conn.execute(
        "SELECT captured_by_id, territory_id FROM referrals WHERE created_at >= ? AND "
        "created_at < ? AND captured_by_id IS NOT NULL",
        [period.lo, period.hi],
    ):
        if scope.in_scope(territory):
            per[user_id]["captured"] += 1
    for user_id, account_id, amount in conn.execute(
        "SELECT user_id, account_id, amount FROM deals WHERE closed_on >= ? AND closed_on < ? "
        "AND currency = ? AND user_id IS NOT NULL",
        [period.lo, period.hi, base],
    ):
        if here(account_id):
            per[user_id]["sales"] += amount
    members = {
        u
        for (u, t) in conn.execute(
            "SELECT user_id, territory_id FROM territory_members WHERE active = 1"
        )
        if scope.in_scope(t)
    }
    reps = [
        r
        for r in scope.reps.values()
        if (r.role == "rep" and (r.active and (scope.root is None or r.id in members)))
        or r.id in per
    ]
    if scope.rep is not None:
        reps = [scope.rep]
    reps.sort(key=lambda r: r.name.lower())
    weeks = period.weeks()
    columns = [
        Column("rep", "Rep", Kind.TEXT, 24),
        Column("status", "Status", Kind.TEXT, 8),
        Column("visits", "Visits", Kind.INT, 8, "sum"),
        Column("per_week", "Visits per week", Kind.NUMBER, 10),
        Column("covered", "Accounts covered", Kind.INT, 10, "sum"),
        Column("overdue", "Overdue tasks", Kind.INT, 9, "sum"),
        Column("done", "Tasks done", Kind.INT, 8, "sum"),
        Column("captured", "Referrals captured", Kind.INT, 10, "sum"),
        Column(f"sales:{base}", f"Sales ({base})", Kind.MONEY, 14, "sum", base),
    ]
    summary = Table("Rep activity", columns)
    for rep in reps:
        p = per.get(rep.id, {})
        visits = int(p.get("visits", 0))
        summary.rows.append(
            [
                rep.label,
                "active" if rep.active else "left",
                visits,
                round(visits / len(weeks), 1) if weeks else NA,
                len(covered.get(rep.id, ())),
                int(p.get("overdue", 0)),
                int(p.get("done", 0)),
                int(p.get("captured", 0)),
                round(p.get("sales", 0.0), 2),
            ]
        )
        summary.links.append(("rep", rep.id))
    summary.notes = [
        "Accounts covered: distinct accounts visited in the period.",
        f"Overdue tasks: due before {cutoff} and not done by then.",
        f"Sales: deals in {base} closed in the period by the rep.",
    ]
    if any(not r.active for r in reps):
        summary.notes.append(
            "Reps marked (left) no longer work here; their activity before leaving is included."
        )
    week_columns = [Column("week", "Week of", Kind.DATE, 11)]
    week_columns += [Column(f"rep:{r.id}", r.label, Kind.INT, 10, "sum") for r in reps]
    week_columns.append(Column("all", "All reps", Kind.INT, 9, "sum"))
    by_week = Table("Visits per rep per week", week_columns)
    for monday in weeks:
        counts = [weekly.get(r.id, {}).get(monday, 0) for r in reps]
        by_week.rows.append([monday, *counts, sum(counts)])
    names = [r.label for r in reps]
    visits_col = [row[2] for row in summary.rows]
    week_labels = [m.strftime("%d %b") for m in weeks]
    team_weekly = [row[-1] for row in by_week.rows]
    charts = [
        Chart(
            "Visits per rep",
            lambda fig: figures.value_bars(fig, names, visits_col, "Visits in the period"),
            0,
            "rep",
            ("visits",),
            bars=len(names),
        ),
        Chart(
            "Team visits per week",
            lambda fig: figures.columns_over_time(
                fig, week_labels, {"Visits": team_weekly}, "Team visits per week"
            ),
            1,
            "week",
            ("all",),
            "column",
        ),
    ]
    empty = not any(per.values())
    return Report(
        "rep-activity",
        "Rep activity",
        period,
        scope.label,
        [summary, by_week],
        charts,
        team=team,
        empty=empty,
    )
