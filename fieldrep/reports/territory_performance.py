"""Territory performance: per territory, with subtotals up the hierarchy.

Accounts and potential are today's book; sales are deals closed in the period (one column per
currency: amounts in different currencies are never added together; attainment uses the base
currency, the one quotas are kept in); coverage is the share of accounts visited in the period;
referrals received (created in the period) and won (won in the period) count where each referral
was at the period's end.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from fieldrep.reports import figures
from fieldrep.reports.common import (
    base_currency,
    referrals_in_scope,
    sales_quotas,
)
from fieldrep.reports.model import NA, Chart, Column, Kind, Report, Table
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import Scope, Territory

NO_TERRITORY = "(no territory)"
_COUNTS = ("accounts", "potential", "visited", "visits", "received", "won")


def _own_figures(
    conn: sqlite3.Connection, scope: Scope, period: ReportPeriod
) -> tuple[dict[str | None, dict[str, float]], int]:
    """Per territory id (None: accounts with none), its own figures; and referrals that moved."""
    own: dict[str | None, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rep = scope.rep.id if scope.rep else None
    rep_accounts = "AND a.owner_id = ?" if rep else ""
    rep_args = [rep] if rep else []
    for tid, count, potential in conn.execute(
        f"SELECT a.territory_id, count(*), total(a.potential) FROM accounts a WHERE 1 {rep_accounts} "
        "GROUP BY +a.territory_id",  # a full scan beats 100k index-ordered row lookups
        rep_args,
    ):
        own[tid]["accounts"] += count
        own[tid]["potential"] += potential
    rep_visits = "AND v.user_id = ?" if rep else ""
    for tid, visits, visited in conn.execute(
        "SELECT a.territory_id, count(*), count(DISTINCT v.account_id) FROM visits v "
        "CROSS JOIN accounts a ON a.id = v.account_id WHERE v.visited_at >= ? AND v.visited_at < ? "
        f"{rep_visits} GROUP BY a.territory_id",
        [period.lo, period.hi, *rep_args],
    ):
        own[tid]["visits"] += visits
        own[tid]["visited"] += visited
    rep_deals = "AND user_id = ?" if rep else ""
    for tid, currency, amount in conn.execute(
        "SELECT territory_id, currency, total(amount) FROM deals "
        f"WHERE closed_on >= ? AND closed_on < ? {rep_deals} GROUP BY +territory_id, currency",
        [period.lo, period.hi, *rep_args],
    ):
        own[tid][f"sales:{currency}"] += amount
    moved = 0
    for r in referrals_in_scope(conn, scope, period.hi):
        received = period.lo <= r.created_at < period.hi
        won = r.won_at is not None and period.lo <= r.won_at < period.hi
        own[r.territory_id]["received"] += received
        own[r.territory_id]["won"] += won
        moved += r.moved and (received or won)
    return own, moved


def build(
    conn: sqlite3.Connection, scope: Scope, period: ReportPeriod, *, team: str = ""
) -> Report:
    base = base_currency(conn)
    own, moved = _own_figures(conn, scope, period)
    found = {k[6:] for v in own.values() for k in v if k.startswith("sales:")}
    currencies = [base, *sorted(found - {base})]
    quotas = {} if scope.rep else sales_quotas(conn, period, "territory_id", territory_only=True)
    columns = [
        Column("territory", "Territory", Kind.TEXT, 28),
        Column("accounts", "Accounts", Kind.INT, 10, "sum"),
        Column("potential", f"Potential ({base})", Kind.MONEY, 15, "sum", base),
    ]
    columns += [Column(f"sales:{c}", f"Sales ({c})", Kind.MONEY, 14, "sum", c) for c in currencies]
    columns += [
        Column("quota", f"Quota ({base})", Kind.MONEY, 14, "sum", base),
        Column("attainment", "Attainment", Kind.PERCENT, 11, ("ratio", f"sales:{base}", "quota")),
        Column("visited", "Accounts visited", Kind.INT, 10, "sum"),
        Column("coverage", "Coverage", Kind.PERCENT, 10, ("ratio", "visited", "accounts")),
        Column("visits", "Visits", Kind.INT, 9, "sum"),
        Column("received", "Referrals received", Kind.INT, 10, "sum"),
        Column("won", "Referrals won", Kind.INT, 9, "sum"),
    ]
    table = Table("Territory performance", columns)
    keys = [c.key for c in columns]
    roots: list[int] = []
    leaves: list[int] = []

    def figures_of(node: Territory) -> dict[str, Any]:
        """Own figures plus those of every descendant (the subtotal), rows appended depth-first."""
        at = len(table.rows)
        table.rows.append([])  # placeholder: filled once the children are known
        table.levels.append(depth[node.id])
        table.links.append(("territory", node.id))
        sums: dict[str, float] = dict(own.get(node.id, {}))
        kids = [k for k in scope.children(node.id) if k.id in visible]
        kid_quota: float | None = None
        for kid in kids:
            depth[kid.id] = depth[node.id] + 1
            sub = figures_of(kid)
            for k, v in sub.items():
                if k != "quota" and isinstance(v, int | float):
                    sums[k] = sums.get(k, 0.0) + v
            if isinstance(sub.get("quota"), int | float):
                kid_quota = (kid_quota or 0.0) + sub["quota"]
        quota = quotas.get(node.id, kid_quota)
        values = _row(node.name, sums, quota, base, keys)
        table.rows[at] = values
        if kids:
            table.subtotal_rows.add(at)
        else:
            leaves.append(at)
        return {**sums, "quota": quota}

    visible = _visible(scope)
    depth: dict[str, int] = {}
    tops = [scope.root] if scope.root else [t for t in scope.children(None) if t.id in visible]
    for top in tops:
        depth[top.id] = 0
        roots.append(len(table.rows))
        figures_of(top)
    if scope.root is None and None in own and own[None].get("accounts"):
        roots.append(len(table.rows))
        table.rows.append(_row(NO_TERRITORY, own[None], None, base, keys))
        table.levels.append(0)
        table.links.append(None)
    table.total_rows = roots
    notes = []
    if len(currencies) > 1:
        notes.append(
            f"Deals in {', '.join(currencies[1:])} are shown in their own columns, never added to "
            f"{base}; attainment counts {base} sales only (quotas are kept in {base})."
        )
    if any(row[table.index("quota")] is None for row in table.rows):
        notes.append("Attainment is n/a where a territory has no sales quota for the period.")
    if scope.rep:
        notes.append(
            f"Limited to {scope.rep.label}'s accounts, visits, deals and referrals; territory "
            "quotas are not shown because they are set for the whole territory."
        )
    notes.append(
        f"Referrals are counted in the territory they were in at the end of the period"
        f" ({period.last_day.isoformat()}); {moved} of them moved between territories."
    )
    notes.append("Subtotal rows (regions) add up the territories below them.")
    table.notes = notes
    data = sum(
        v.get("visits", 0) + v.get("received", 0) + v.get("won", 0) for v in own.values()
    ) + sum(val for v in own.values() for k, val in v.items() if k.startswith("sales:"))
    leaf_rows = [table.rows[i] for i in leaves]
    names = [r[0] for r in leaf_rows]
    attainment = [r[table.index("attainment")] for r in leaf_rows]
    sales = [r[table.index(f"sales:{base}")] for r in leaf_rows]
    charts = [
        Chart(
            "Quota attainment by territory",
            lambda fig: figures.share_bars(
                fig, names, attainment, "Quota attainment", "% of sales quota", target=1.0
            ),
            0,
            "territory",
            ("attainment",),
            bars=len(names),
        ),
        Chart(
            f"Sales by territory ({base})",
            lambda fig: figures.value_bars(fig, names, sales, f"Sales in {period.label} ({base})"),
            0,
            "territory",
            (f"sales:{base}",),
            bars=len(names),
        ),
    ]
    return Report(
        "territory-performance",
        "Territory performance",
        period,
        scope.label,
        [table],
        charts,
        team=team,
        empty=not data,
    )


def _visible(scope: Scope) -> set[str]:
    return {
        t.id
        for t in scope.territories.values()
        if scope.in_scope(t.id) and (not t.archived or t.id == getattr(scope.root, "id", None))
    }


def _row(
    name: str, sums: dict[str, float], quota: float | None, base: str, keys: list[str]
) -> list[Any]:
    values: dict[str, Any] = {k: sums.get(k, 0) for k in keys}
    for k in _COUNTS:
        if k != "potential":
            values[k] = int(sums.get(k, 0))
    values["potential"] = round(sums.get("potential", 0.0), 2)
    for k in keys:
        if k.startswith("sales:"):
            values[k] = round(sums.get(k, 0.0), 2)
    values["territory"] = name
    values["quota"] = round(quota, 2) if quota is not None else None
    values["attainment"] = values[f"sales:{base}"] / quota if quota else NA
    values["coverage"] = values["visited"] / values["accounts"] if values["accounts"] else NA
    return [values[k] for k in keys]
