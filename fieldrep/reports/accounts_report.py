"""Accounts: the account list with the current filters (a territory subtree, an owner, the Accounts
page's own filters), with the columns of the accounts export."""

from __future__ import annotations

import sqlite3
from typing import Any

from fieldrep.reports.model import Column, Kind, Report, Table
from fieldrep.reports.periods import ReportPeriod
from fieldrep.reports.scope import Scope
from fieldrep.services.gc_pause import collector_paused

COLUMNS = [
    Column("name", "Account name", Kind.TEXT, 36),
    Column("status", "Status", Kind.TEXT, 10),
    Column("industry", "Industry", Kind.TEXT, 20),
    Column("size", "Size band", Kind.TEXT, 10),
    Column("employees", "Employees", Kind.INT, 11),
    Column("potential", "Potential", Kind.MONEY, 13, "sum"),
    Column("street", "Street", Kind.TEXT, 28),
    Column("city", "City", Kind.TEXT, 18),
    Column("region", "State", Kind.TEXT, 7),
    Column("postal_code", "Postal code", Kind.TEXT, 11),
    Column("territory", "Territory", Kind.TEXT, 18),
    Column("owner", "Owner", Kind.TEXT, 15),
]
_SQL = (
    "SELECT a.name, a.status, a.industry, a.size, a.employees, a.potential, a.street, a.city, "
    "a.region, a.postal_code, t.name, u.username, a.territory_id, a.id FROM accounts a "
    "LEFT JOIN territories t ON t.id = a.territory_id LEFT JOIN users u ON u.id = a.owner_id"
)


def account_rows(
    conn: sqlite3.Connection,
    scope: Scope,
    *,
    status: str | None = None,
    industry: str | None = None,
) -> Any:
    """Rows (as lists of the COLUMNS' values) in name order, streamed from SQLite."""
    where, args = [], []
    if scope.rep is not None:
        where.append("a.owner_id = ?")
        args.append(scope.rep.id)
    if status:
        where.append("a.status = ?")
        args.append(status)
    if industry:
        where.append("a.industry = ?")
        args.append(industry)
    sql = (
        _SQL
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY a.name COLLATE NOCASE"
    )
    subtree = scope.selected if scope.root is not None else None
    for row in conn.execute(sql, args):
        if subtree is None or row[12] in subtree:
            yield list(row[:12])


def build(
    conn: sqlite3.Connection,
    scope: Scope,
    period: ReportPeriod,
    *,
    team: str = "",
    status: str | None = None,
    industry: str | None = None,
) -> Report:
    table = Table("Accounts", list(COLUMNS))
    with collector_paused():  # 100k young lists, no cycles: no full collections while reading
        table.rows = list(account_rows(conn, scope, status=status, industry=industry))
    filters = [f for f in (status and f"status {status}", industry and f"industry {industry}") if f]
    if filters:
        table.notes.append("Filtered by " + ", ".join(filters) + ".")
    table.notes.append("Today's account list: the period does not narrow it.")
    return Report(
        "accounts", "Accounts", period, scope.label, [table], team=team, empty=not table.rows
    )
