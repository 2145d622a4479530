"""Key figures per territory and per rep, computed with SQL aggregates (one query per table).

Per row: accounts, summed potential, sales volume (deals closed in the period), the sales quota for
the period and its attainment, coverage (share of the accounts visited in the last N days), visits in
the period, referrals received (created in the period) and won (won and last updated in the period).

Quotas may be kept at another granularity than the one asked for: an exact period match wins, else
finer quotas inside the period are summed (three monthly quotas make a quarter), else a coarser quota
is pro-rated by months (a quarterly quota gives a third to each month).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from fieldrep.services.context import Context

PERIODS = ("month", "quarter", "year")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # exclusive

    @property
    def label(self) -> str:
        if self.kind == "month":
            return self.start.strftime("%b %Y")
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        return str(self.start.year)


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def period_of(kind: str, on: date) -> Period:
    if kind not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, not {kind!r}")
    if kind == "month":
        start = date(on.year, on.month, 1)
    elif kind == "quarter":
        start = date(on.year, (on.month - 1) // 3 * 3 + 1, 1)
    else:
        start = date(on.year, 1, 1)
    return Period(kind, start, _add_months(start, _MONTHS[kind]))


@dataclass
class KpiRow:
    key: str | None
    name: str
    accounts: int = 0
    potential: float = 0.0
    sales: float = 0.0
    quota: float | None = None
    visited: int = 0
    visits: int = 0
    referrals_received: int = 0
    referrals_won: int = 0

    @property
    def attainment(self) -> float | None:
        return self.sales / self.quota if self.quota else None

    @property
    def coverage(self) -> float | None:
        return self.visited / self.accounts if self.accounts else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "attainment": self.attainment, "coverage": self.coverage}


# Column that ties each table's rows to a territory or to a rep.
_KEYS = {
    "territory": {
        "accounts": "territory_id",
        "deals": "territory_id",
        "referrals": "territory_id",
        "quotas": "territory_id",
    },
    "rep": {
        "accounts": "owner_id",
        "deals": "user_id",
        "referrals": "owner_id",
        "quotas": "user_id",
    },
}


def kpis(
    ctx: Context,
    by: str,
    period: Period,
    *,
    coverage_days: int = 90,
    today: date | None = None,
    territory_id: str | None = None,
) -> list[KpiRow]:
    """KPI rows ``by`` "territory" (active leaf territories) or "rep" (active users who are reps).

    ``territory_id`` narrows a rep view to one territory's accounts, deals and referrals.
    """
    if by not in _KEYS:
        raise ValueError("by must be 'territory' or 'rep'")
    keys = _KEYS[by]
    today = today or date.today()
    since = (today - timedelta(days=coverage_days)).isoformat()
    lo, hi = period.start.isoformat(), period.end.isoformat()
    scope, scope_args = (
        ("", []) if territory_id is None else ("AND territory_id = ?", [territory_id])
    )
    a_scope = scope.replace("territory_id", "a.territory_id")
    rows: dict[str | None, KpiRow] = {}
    if by == "territory":
        entities = ctx.db.query(
            "SELECT id, name FROM territories WHERE kind = 'territory' AND archived = 0 "
            "ORDER BY priority, name"
        )
    else:
        entities = ctx.db.query(
            "SELECT id, coalesce(nullif(display_name, ''), username) AS name FROM users "
            "WHERE active = 1 AND role = 'rep' ORDER BY name"
        )
    for e in entities:
        if territory_id is None or by == "rep" or e["id"] == territory_id:
            rows[e["id"]] = KpiRow(e["id"], e["name"])

    def fold(sql: str, args: list[Any], *fields: str) -> None:
        for r in ctx.db.execute(sql, args).fetchall():
            row = rows.get(r[0])
            if row is not None:
                for name, value in zip(fields, r[1:], strict=True):
                    setattr(row, name, value or 0)

    ak = keys["accounts"]
    fold(
        f"SELECT {ak}, count(*), coalesce(sum(potential), 0) FROM accounts WHERE 1 {scope} "
        f"GROUP BY {ak}",
        scope_args,
        "accounts",
        "potential",
    )
    fold(
        f"SELECT a.{ak}, count(DISTINCT v.account_id) FROM visits v JOIN accounts a "
        f"ON a.id = v.account_id WHERE v.visited_at >= ? {a_scope} GROUP BY a.{ak}",
        [since, *scope_args],
        "visited",
    )
    visit_key = "a.territory_id" if by == "territory" else "v.user_id"
    fold(
        f"SELECT {visit_key}, count(*) FROM visits v JOIN accounts a ON a.id = v.account_id "
        f"WHERE v.visited_at >= ? AND v.visited_at < ? {a_scope} GROUP BY {visit_key}",
        [lo, hi, *scope_args],
        "visits",
    )
    dk = keys["deals"]
    fold(
        f"SELECT {dk}, sum(amount) FROM deals WHERE closed_on >= ? AND closed_on < ? {scope} "
        f"GROUP BY {dk}",
        [lo, hi, *scope_args],
        "sales",
    )
    rk = keys["referrals"]
    fold(
        f"SELECT {rk}, sum(created_at >= ? AND created_at < ?), "
        f"sum(stage = 'won' AND updated_at >= ? AND updated_at < ?) FROM referrals "
        f"WHERE 1 {scope} GROUP BY {rk}",
        [lo, hi, lo, hi, *scope_args],
        "referrals_received",
        "referrals_won",
    )
    _fold_quotas(ctx, by, period, rows)
    return list(rows.values())


def _fold_quotas(ctx: Context, by: str, period: Period, rows: dict[str | None, KpiRow]) -> None:
    qk = _KEYS[by]["quotas"]
    other = "user_id" if by == "territory" else "territory_id"
    # Territory quotas are those not set for one rep; a rep's quotas may name a territory or not.
    only = f"AND {other} IS NULL" if by == "territory" else ""
    lo, hi = period.start.isoformat(), period.end.isoformat()
    months = _MONTHS[period.kind]
    found: dict[str, tuple[int, float]] = {}  # key -> (rank: 0 exact, 1 finer, 2 coarser; target)
    sql = (
        f"SELECT {qk}, period, sum(target) FROM quotas WHERE metric = 'sales' {only} "
        f"AND period_start >= ? AND period_start < ? GROUP BY {qk}, period"
    )
    for key, kind, target in ctx.db.execute(sql, [lo, hi]).fetchall():
        if _MONTHS[kind] > months:
            continue
        rank = 0 if kind == period.kind else 1
        if key not in found or rank < found[key][0]:
            found[key] = (rank, float(target))
    # Coarser quotas that contain this period start before or at it.
    for kind in PERIODS:
        if _MONTHS[kind] <= months:
            continue
        start = period_of(kind, period.start).start.isoformat()
        sql = (
            f"SELECT {qk}, sum(target) FROM quotas WHERE metric = 'sales' {only} "
            f"AND period = ? AND period_start = ? GROUP BY {qk}"
        )
        for key, target in ctx.db.execute(sql, [kind, start]).fetchall():
            if key not in found:
                found[key] = (2, float(target) * months / _MONTHS[kind])
    for key, (_, target) in found.items():
        if key in rows:
            rows[key].quota = target


def totals(rows: list[KpiRow], name: str = "Total") -> KpiRow:
    """A total row (quota summed only over rows that have one)."""
    out = KpiRow(None, name)
    for r in rows:
        out.accounts += r.accounts
        out.potential += r.potential
        out.sales += r.sales
        out.visited += r.visited
        out.visits += r.visits
        out.referrals_received += r.referrals_received
        out.referrals_won += r.referrals_won
        if r.quota:
            out.quota = (out.quota or 0.0) + r.quota
    return out
