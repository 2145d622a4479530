"""The manager's home, Qt-free: the team's key figures for the current period, each with the list
behind it (a :class:`Table` built when asked for), a sparkline, and small charts.

Figures: sales against quota, coverage (accounts visited in the last N days), visits this week,
referrals received and won, SLA compliance, rewards awaiting approval.

Kept whole: one builder of the home page's tiles, each a few queries over the same period.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from fieldrep.reports import figures, territory_performance
from fieldrep.reports.common import (
    ReferralRow,
    base_currency,
    referrals_in_scope,
    sales_quotas,
)
from fieldrep.reports.model import NA, Chart, Column, Kind, Table
from fieldrep.reports.periods import ReportPeriod, current
from fieldrep.reports.referral_programme import sla_state
from fieldrep.reports.scope import Scope, load_scope

COVERAGE_DAYS = 30
SPARK_WEEKS = 13  # sparklines show the 12 full weeks before this one
DRILL_LIMIT = 1000
# A reward waiting for a manager's decision ('pending': written before v8, as the lifecycle reads it)
AWAITING_SQL = "('awaiting_approval', 'pending')"


@dataclass
class Tile:
    key: str
    title: str
    value: str
    detail: str
    spark: list[float] = field(default_factory=list)
    drill: Callable[[], Table] | None = None  # the list behind the figure
    alert: bool = False  # worth a manager's attention (colour)


@dataclass
class Home:
    period: ReportPeriod
    today: date
    tiles: list[Tile]
    charts: list[Chart]
    chart_tables: list[Table]  # what a click on each chart opens


def _weeks(today: date) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=n) for n in range(SPARK_WEEKS - 1, -1, -1)]


def _weekly(values: list[tuple[str, float]], weeks: list[date]) -> list[float]:
    out = dict.fromkeys(weeks, 0.0)
    for at, amount in values:
        day = date.fromisoformat(at[:10])
        monday = day - timedelta(days=day.weekday())
        if monday in out:
            out[monday] += amount
    return [out[w] for w in weeks]


def _money(value: float, currency: str) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f}M {currency}"
    if abs(value) >= 1e4:
        return f"{value / 1e3:,.0f}k {currency}"
    return f"{value:,.0f} {currency}"


def build_home(
    conn: sqlite3.Connection,
    *,
    today: date | None = None,
    period_kind: str = "quarter",
    territory: str | None = None,
) -> Home:
    today = today or date.today()
    period = current(period_kind, today)
    scope = load_scope(conn, territory)
    base = base_currency(conn)
    weeks = _weeks(today)
    tiles: list[Tile] = []

    performance = territory_performance.build(conn, scope, period)
    perf = performance.sections[0]
    totals = perf.totals() or []
    sales_i, quota_i, att_i = (
        perf.index(f"sales:{base}"),
        perf.index("quota"),
        perf.index("attainment"),
    )
    attainment = totals[att_i] if totals else NA
    deals = conn.execute(
        "SELECT closed_on, amount, territory_id FROM deals WHERE closed_on >= ? AND currency = ?",
        [weeks[0].isoformat(), base],
    ).fetchall()
    deals = [(d[0], d[1]) for d in deals if scope.in_scope(d[2])]
    leaf = [i for i in range(len(perf.rows)) if i not in perf.subtotal_rows]
    leaf_table = Table(
        perf.title,
        perf.columns,
        [perf.rows[i] for i in leaf],
        levels=[],
        notes=perf.notes,
        links=[perf.links[i] for i in leaf],
    )
    tiles.append(
        Tile(
            "sales",
            f"Sales, {period.label} to date",
            _money(totals[sales_i] if totals else 0.0, base),
            (
                f"{attainment:.0%} of quota {_money(totals[quota_i], base)}"
                if isinstance(attainment, float)
                else "no quota set for this period"
            ),
            _weekly(deals, weeks[:-1]),
            lambda: leaf_table,
            alert=isinstance(attainment, float) and attainment < 0.8 * _elapsed(period, today),
        )
    )

    since = (today - timedelta(days=COVERAGE_DAYS)).isoformat()
    accounts = sum(
        n
        for t, n in conn.execute(
            "SELECT territory_id, count(*) FROM accounts GROUP BY territory_id"
        )
        if scope.in_scope(t)
    )
    visited = sum(
        n
        for t, n in conn.execute(
            "SELECT a.territory_id, count(DISTINCT v.account_id) FROM visits v CROSS JOIN accounts a "
            "ON a.id = v.account_id WHERE v.visited_at >= ? GROUP BY a.territory_id",
            [since],
        )
        if scope.in_scope(t)
    )
    share = visited / accounts if accounts else None
    tiles.append(
        Tile(
            "coverage",
            f"Coverage, last {COVERAGE_DAYS} days",
            f"{share:.0%}" if share is not None else NA,
            f"{visited:,} of {accounts:,} accounts visited",
            [],
            lambda: _not_visited(conn, scope, since),
        )
    )

    monday = weeks[-1]
    visits = [
        (at, uid)
        for at, uid, t in conn.execute(
            "SELECT v.visited_at, v.user_id, a.territory_id FROM visits v JOIN accounts a ON "
            "a.id = v.account_id WHERE v.visited_at >= ?",
            [weeks[0].isoformat()],
        )
        if scope.in_scope(t)
    ]
    this_week = [v for v in visits if v[0] >= monday.isoformat()]
    per_rep: dict[str, int] = defaultdict(int)
    for _at, uid in this_week:
        per_rep[uid] += 1
    reps = sorted(
        (r for r in scope.reps.values() if r.role == "rep" and (r.active or r.id in per_rep)),
        key=lambda r: r.name.lower(),
    )
    week_table = Table(
        f"Visits in the week of {monday.isoformat()}",
        [Column("rep", "Rep", Kind.TEXT, 24), Column("visits", "Visits", Kind.INT, 8, "sum")],
        [[r.label, per_rep.get(r.id, 0)] for r in reps],
        links=[("rep", r.id) for r in reps],
    )
    tiles.append(
        Tile(
            "visits",
            "Visits this week",
            f"{len(this_week):,}",
            f"by {sum(1 for r in reps if per_rep.get(r.id))} of {len(reps)} reps",
            _weekly([(v[0], 1.0) for v in visits], weeks[:-1]),
            lambda: week_table,
        )
    )

    now = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    referrals = referrals_in_scope(conn, scope, period.hi)
    received = [r for r in referrals if period.lo <= r.created_at < period.hi]
    won = [r for r in referrals if r.won_at and period.lo <= r.won_at < period.hi]
    tiles.append(
        Tile(
            "referrals",
            f"Referrals, {period.label}",
            f"{len(received):,} in · {len(won):,} won",
            f"{sum(1 for r in received if r.stage not in ('won', 'lost')):,} still open",
            _weekly([(r.created_at, 1.0) for r in referrals], weeks[:-1]),
            lambda: _referral_list(conn, scope, received, "Referrals received", now),
        )
    )
    states = [sla_state(r, now) for r in received]
    due = sum(states.count(s) for s in ("met", "late", "overdue"))
    sla_share = states.count("met") / due if due else None
    breached = [r for r, s in zip(received, states, strict=True) if s in ("late", "overdue")]
    tiles.append(
        Tile(
            "sla",
            "Referral SLA met",
            f"{sla_share:.0%}" if sla_share is not None else NA,
            f"{states.count('overdue')} waiting past due, {states.count('late')} contacted late",
            [],
            lambda: _referral_list(conn, scope, breached, "Referrals that missed their SLA", now),
            alert=states.count("overdue") > 0,
        )
    )
    in_scope_ids = {r.id for r in referrals}
    pending = [
        row
        for row in conn.execute(
            "SELECT referral_id, amount, currency FROM rewards WHERE status IN"
            f" {AWAITING_SQL} AND kind = 'reward'"
        )
        if row[0] in in_scope_ids
    ]
    amounts: dict[str, float] = defaultdict(float)
    for _rid, amount, currency in pending:
        amounts[currency] += amount
    tiles.append(
        Tile(
            "rewards",
            "Rewards awaiting approval",
            f"{len(pending):,}",
            " + ".join(_money(v, c) for c, v in sorted(amounts.items())) or "nothing to approve",
            [],
            lambda: _pending_rewards(conn, in_scope_ids),
            alert=bool(pending),
        )
    )

    rep_quota = sales_quotas(conn, period, "user_id", territory_only=False)
    rep_sales: dict[str, float] = defaultdict(float)
    for uid, amount in conn.execute(
        "SELECT user_id, total(amount) FROM deals WHERE closed_on >= ? AND closed_on < ? AND "
        "currency = ? GROUP BY user_id",
        [period.lo, period.hi, base],
    ):
        rep_sales[uid] += amount
    rep_table = Table(
        f"Sales per rep, {period.label}",
        [
            Column("rep", "Rep", Kind.TEXT, 24),
            Column("sales", f"Sales ({base})", Kind.MONEY, 14, "sum", base),
            Column("quota", f"Quota ({base})", Kind.MONEY, 14, "sum", base),
            Column("attainment", "Attainment", Kind.PERCENT, 10, ("ratio", "sales", "quota")),
        ],
        links=[("rep", r.id) for r in reps],
    )
    for r in reps:
        q = rep_quota.get(r.id)
        rep_table.rows.append(
            [r.label, round(rep_sales[r.id], 2), q, rep_sales[r.id] / q if q else NA]
        )
    names = [row[0] for row in leaf_table.rows]
    shares = [row[att_i] for row in leaf_table.rows]
    rep_names = [row[0] for row in rep_table.rows]
    rep_shares = [row[3] for row in rep_table.rows]
    # Colours against the pace: with two thirds of the quarter gone, 67 % of quota is on track.
    pace = _elapsed(period, today)
    charts = [
        Chart(
            "Quota attainment by territory",
            lambda fig: figures.share_bars(
                fig,
                names,
                shares,
                f"Attainment by territory (pace {pace:.0%})",
                "% of quota",
                target=pace,
            ),
        ),
        Chart(
            "Quota attainment by rep",
            lambda fig: figures.share_bars(
                fig,
                rep_names,
                rep_shares,
                f"Attainment by rep (pace {pace:.0%})",
                "% of quota",
                target=pace,
            ),
        ),
        Chart(
            "Visits this week by rep",
            lambda fig: figures.value_bars(
                fig,
                [row[0] for row in week_table.rows],
                [row[1] for row in week_table.rows],
                "Visits this week",
            ),
        ),
    ]
    return Home(period, today, tiles, charts, [leaf_table, rep_table, week_table])


def _elapsed(period: ReportPeriod, today: date) -> float:
    """Share of the period gone by today (a quarter half over expects half the quota)."""
    span = (period.end - period.start).days
    return min(1.0, max(0.0, (today - period.start).days + 1) / span) if span else 1.0


def _not_visited(conn: sqlite3.Connection, scope: Scope, since: str) -> Table:
    table = Table(
        f"Accounts not visited since {since} (largest potential first)",
        [
            Column("name", "Account", Kind.TEXT, 34),
            Column("city", "City", Kind.TEXT, 16),
            Column("territory", "Territory", Kind.TEXT, 16),
            Column("potential", "Potential", Kind.MONEY, 14),
            Column("last", "Last visit", Kind.TEXT, 12),
        ],
        total_label=None,
    )
    names = {t.id: t.name for t in scope.territories.values()}
    total = 0
    for name, city, tid, potential, last in conn.execute(
        "SELECT a.name, a.city, a.territory_id, a.potential, (SELECT max(visited_at) FROM visits v "
        "WHERE v.account_id = a.id) AS last FROM accounts a WHERE last IS NULL OR last < ? "
        "ORDER BY a.potential DESC",
        [since],
    ):
        if not scope.in_scope(tid):
            continue
        total += 1
        if len(table.rows) < DRILL_LIMIT:
            table.rows.append([name, city, names.get(tid, ""), potential, (last or "never")[:10]])
    if total > DRILL_LIMIT:
        table.notes.append(f"The first {DRILL_LIMIT:,} of {total:,} accounts.")
    return table


def _referral_list(
    conn: sqlite3.Connection, scope: Scope, rows: list[ReferralRow], title: str, now: str
) -> Table:
    names = {t.id: t.name for t in scope.territories.values()}
    details = {
        rid: (name, company)
        for rid, name, company in conn.execute(
            "SELECT id, referred_name, referred_company FROM referrals"
        )
    }
    table = Table(
        title,
        [
            Column("name", "Referred", Kind.TEXT, 28),
            Column("stage", "Stage", Kind.TEXT, 10),
            Column("territory", "Territory", Kind.TEXT, 16),
            Column("owner", "Owner", Kind.TEXT, 16),
            Column("received", "Received", Kind.TEXT, 11),
            Column("sla", "SLA", Kind.TEXT, 9),
        ],
        total_label=None,
    )
    for r in rows:
        name, company = details.get(r.id, ("", None))
        owner = scope.reps.get(r.owner_id or "")
        table.rows.append(
            [
                f"{name} ({company})" if company else name,
                r.stage,
                names.get(r.territory_id or "", ""),
                owner.label if owner else "",
                r.created_at[:10],
                sla_state(r, now),
            ]
        )
    return table


def _pending_rewards(conn: sqlite3.Connection, referral_ids: set[str]) -> Table:
    table = Table(
        "Rewards awaiting approval",
        [
            Column("referral", "For referral", Kind.TEXT, 28),
            Column("recipient", "Recipient", Kind.TEXT, 28),
            Column("amount", "Amount", Kind.MONEY, 12),
            Column("currency", "Currency", Kind.TEXT, 8),
            Column("created", "Since", Kind.TEXT, 11),
        ],
        total_label=None,
    )
    for rid, referred, account, user, amount, currency, created in conn.execute(
        "SELECT w.referral_id, r.referred_name, a.name, coalesce(nullif(u.display_name, ''), "
        "u.username), w.amount, w.currency, w.created_at FROM rewards w "
        "LEFT JOIN referrals r ON r.id = w.referral_id "
        "LEFT JOIN accounts a ON a.id = w.recipient_account_id "
        "LEFT JOIN users u ON u.id = w.recipient_user_id "
        f"WHERE w.status IN {AWAITING_SQL} AND w.kind = 'reward' ORDER BY w.created_at"
    ):
        if rid in referral_ids:
            table.rows.append(
                [referred or "", account or user or "", amount, currency, created[:10]]
            )
    return table
