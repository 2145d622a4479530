"""Reading accounts fast: full-text search, filters, sorting, counts, pages and one account's detail.

Qt-free, so the accounts view, the CLI export and the benchmarks share one query layer. Nothing here
loads all accounts: lists come as pages (offset/limit, or keyset after a known row when the caller
walks forward) of plain tuples in :data:`LIST_COLUMNS` order.

Search goes through the ``accounts_fts`` FTS5 index (name, address, contact names, notes) kept by
triggers (migration 2). What the user types is never FTS syntax: it is split into words and each
word becomes a quoted prefix term, so ``o'brien "ac`` cannot break the query.

Kept whole: the accounts' filter, sort, queries and the search index they read are one repository.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fieldrep.domain.vocabulary import ACCOUNT_STATUSES
from fieldrep.store import settings

STATUSES = ACCOUNT_STATUSES
QUALITIES = ("address", "street", "postal_code", "city", "manual")
NO_VALUE = "__none__"  # filter value meaning "not set" (no territory, no owner, unplaced)

_FTS_SELECT = (
    "SELECT a.rowid, a.name, trim(coalesce(a.street, '') || ' ' || coalesce(a.city, '') || ' ' ||"
    " coalesce(a.region, '') || ' ' || coalesce(a.postal_code, '')),"
    " (SELECT group_concat(trim(c.first_name || ' ' || c.last_name), ' ') FROM contacts c"
    " WHERE c.account_id = a.id), coalesce(a.notes, '') FROM accounts a"
)
_FTS_INSERT = "INSERT INTO accounts_fts (rowid, name, address, contacts, notes) "

# The list's columns: (key, SQL expression). Keys are what the view and the sort use.
LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "a.id"),
    ("name", "a.name"),
    ("city", "a.city"),
    ("region", "a.region"),
    ("postal_code", "a.postal_code"),
    ("status", "a.status"),
    ("industry", "a.industry"),
    ("potential", "a.potential"),
    ("owner", "(SELECT u.display_name FROM users u WHERE u.id = a.owner_id)"),
    ("territory", "(SELECT t.name FROM territories t WHERE t.id = a.territory_id)"),
    ("last_visit", "(SELECT max(v.visited_at) FROM visits v WHERE v.account_id = a.id)"),
    ("geocode_quality", "a.geocode_quality"),
)
COLUMN_INDEX = {key: i for i, (key, _) in enumerate(LIST_COLUMNS)}
_SORT_EXPR = {key: expr for key, expr in LIST_COLUMNS if key != "id"}
_NOCASE = {"name", "city", "region", "industry", "owner", "territory"}
# Sort keys that are never NULL: no "NULLs last" term, so ORDER BY walks the index (the default
# list, by name, is then 1 ms on 100,000 accounts instead of a 200 ms sort).
_NOT_NULL = {"name"}


def fts_query(text: str) -> str:
    """User text -> a safe FTS5 query: every word a quoted prefix term, all required."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " ".join(f'"{w}"*' for w in words[:12])


@dataclass(frozen=True)
class AccountFilter:
    text: str = ""
    territory_id: str | None = None
    owner_id: str | None = None
    status: str | None = None
    industry: str | None = None
    geocode_quality: str | None = None  # a quality, or NO_VALUE for accounts without coordinates
    not_visited_days: int | None = None  # no visit in the last N days (or never)

    def with_text(self, text: str) -> AccountFilter:
        return replace(self, text=text)


@dataclass(frozen=True)
class Sort:
    key: str = "name"
    descending: bool = False


@dataclass
class AccountDetail:
    account: dict[str, Any]
    contacts: list[dict[str, Any]] = field(default_factory=list)
    visits: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    deals: list[dict[str, Any]] = field(default_factory=list)
    referrals_given: list[dict[str, Any]] = field(default_factory=list)
    referrals_received: list[dict[str, Any]] = field(default_factory=list)


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class AccountsRepository:
    """Queries over one connection (use one repository per thread)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- filtering -----------------------------------------------------------------------------

    def _where(self, flt: AccountFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        query = fts_query(flt.text)
        if query:
            clauses.append("a.rowid IN (SELECT rowid FROM accounts_fts WHERE accounts_fts MATCH ?)")
            params.append(query)
        for column, value in (
            ("territory_id", flt.territory_id),
            ("owner_id", flt.owner_id),
            ("status", flt.status),
            ("industry", flt.industry),
        ):
            if value == NO_VALUE:
                clauses.append(f"a.{column} IS NULL")
            elif value:
                clauses.append(f"a.{column} = ?")
                params.append(value)
        if flt.geocode_quality == NO_VALUE:
            clauses.append("(a.lat IS NULL OR a.lon IS NULL)")
        elif flt.geocode_quality:
            clauses.append("a.geocode_quality = ?")
            params.append(flt.geocode_quality)
        if flt.not_visited_days is not None:
            since = (datetime.now(UTC) - timedelta(days=flt.not_visited_days)).strftime(
                "%Y-%m-%dT%H:%M:%S"
            )
            clauses.append(
                "NOT EXISTS (SELECT 1 FROM visits v WHERE v.account_id = a.id AND v.visited_at >= ?)"
            )
            params.append(since)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def count(self, flt: AccountFilter = AccountFilter()) -> int:
        where, params = self._where(flt)
        return int(
            self.conn.execute(f"SELECT count(*) FROM accounts a{where}", params).fetchone()[0]
        )

    def total(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM accounts").fetchone()[0])

    # -- pages ---------------------------------------------------------------------------------

    def _order(self, sort: Sort) -> tuple[str, str]:
        if sort.key not in _SORT_EXPR:
            raise ValueError(f"cannot sort accounts by {sort.key!r}")
        expr = _SORT_EXPR[sort.key]
        if sort.key in _NOCASE:
            expr = f"{expr} COLLATE NOCASE"
        direction = "DESC" if sort.descending else "ASC"
        if sort.key in _NOT_NULL:
            return expr, f"{expr} {direction}, a.id {direction}"
        # NULLs last either way, then the id so that the order is total (pages never overlap).
        return expr, f"({expr}) IS NULL, {expr} {direction}, a.id {direction}"

    def page(
        self,
        flt: AccountFilter = AccountFilter(),
        sort: Sort = Sort(),
        *,
        offset: int = 0,
        limit: int = 200,
    ) -> list[tuple[Any, ...]]:
        """Rows in :data:`LIST_COLUMNS` order."""
        where, params = self._where(flt)
        _, order = self._order(sort)
        cols = ", ".join(expr for _, expr in LIST_COLUMNS)
        sql = f"SELECT {cols} FROM accounts a{where} ORDER BY {order} LIMIT ? OFFSET ?"
        return self.conn.execute(sql, [*params, limit, offset]).fetchall()

    def position(self, flt: AccountFilter, sort: Sort, account_id: str) -> int | None:
        """The row of ``account_id`` in the list ``flt`` and ``sort`` give (None if it is not in
        it): the rows before it counted, so an edit can keep the account selected whatever page
        it is on."""
        where, params = self._where(flt)
        cols = ", ".join(e for _, e in LIST_COLUMNS)
        match = f"{where} AND a.id = ?" if where else " WHERE a.id = ?"
        row = self.conn.execute(
            f"SELECT {cols} FROM accounts a{match}", [*params, account_id]
        ).fetchone()
        if row is None:
            return None
        expr, _ = self._order(sort)
        value = row[COLUMN_INDEX[sort.key]]
        op = ">" if sort.descending else "<"
        if sort.key in _NOT_NULL:
            before = f"({expr} {op} ? OR ({expr} = ? AND a.id {op} ?))"
            before_params: list[Any] = [value, value, row[0]]
        elif value is None:  # NULLs come last either way: every value, then NULLs by id
            before = f"(({expr}) IS NOT NULL OR a.id {op} ?)"
            before_params = [row[0]]
        else:
            before = f"(({expr}) IS NOT NULL AND ({expr} {op} ? OR ({expr} = ? AND a.id {op} ?)))"
            before_params = [value, value, row[0]]
        where = f"{where} AND {before}" if where else f" WHERE {before}"
        sql = f"SELECT count(*) FROM accounts a{where}"
        return int(self.conn.execute(sql, [*params, *before_params]).fetchone()[0])

    def page_after(
        self, flt: AccountFilter, sort: Sort, last: Sequence[Any], *, limit: int = 200
    ) -> list[tuple[Any, ...]]:
        """The page that follows the row ``last`` (a row this repository returned): keyset paging,
        whose cost does not grow with the position in the list."""
        where, params = self._where(flt)
        expr, order = self._order(sort)
        value = last[COLUMN_INDEX[sort.key]]
        op = "<" if sort.descending else ">"
        if sort.key in _NOT_NULL:  # a range the index can seek to
            eq = ">=" if op == ">" else "<="
            after = f"{expr} {eq} ? AND ({expr} {op} ? OR a.id {op} ?)"
            after_params: list[Any] = [value, value, last[0]]
        elif value is None:  # already among the NULLs, which only differ by id
            after = f"({expr}) IS NULL AND a.id {op} ?"
            after_params = [last[0]]
        else:
            after = f"(({expr}) IS NULL OR {expr} {op} ? OR ({expr} = ? AND a.id {op} ?))"
            after_params = [value, value, last[0]]
        where = f"{where} AND {after}" if where else f" WHERE {after}"
        cols = ", ".join(e for _, e in LIST_COLUMNS)
        sql = f"SELECT {cols} FROM accounts a{where} ORDER BY {order} LIMIT ?"
        return self.conn.execute(sql, [*params, *after_params, limit]).fetchall()

    def ids(self, flt: AccountFilter = AccountFilter(), sort: Sort = Sort()) -> Iterator[str]:
        where, params = self._where(flt)
        _, order = self._order(sort)
        for (account_id,) in self.conn.execute(
            f"SELECT a.id FROM accounts a{where} ORDER BY {order}", params
        ):
            yield account_id

    def rows_for_export(
        self, flt: AccountFilter = AccountFilter(), sort: Sort = Sort()
    ) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        where, params = self._where(flt)
        _, order = self._order(sort)
        sql = (
            "SELECT a.name, a.status, a.industry, a.size, a.employees, a.potential,"
            " a.street, a.city, a.region, a.postal_code, a.country, a.phone, a.email, a.website,"
            " (SELECT t.name FROM territories t WHERE t.id = a.territory_id) AS territory,"
            " (SELECT u.username FROM users u WHERE u.id = a.owner_id) AS owner,"
            " (SELECT max(v.visited_at) FROM visits v WHERE v.account_id = a.id) AS last_visit,"
            " a.notes, a.lat, a.lon, a.geocode_quality, a.geocode_source, a.id"
            f" FROM accounts a{where} ORDER BY {order}"
        )
        cur = self.conn.execute(sql, params)
        return [d[0] for d in cur.description], iter(cur)

    def row(self, account_id: str) -> tuple[Any, ...] | None:
        cols = ", ".join(e for _, e in LIST_COLUMNS)
        found: tuple[Any, ...] | None = self.conn.execute(
            f"SELECT {cols} FROM accounts a WHERE a.id = ?", (account_id,)
        ).fetchone()
        return found

    # -- choices for filters ---------------------------------------------------------------------

    def territories(self) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT id, name FROM territories WHERE archived = 0 ORDER BY name COLLATE NOCASE"
        ).fetchall()

    def owners(self) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT id, CASE WHEN display_name != '' THEN display_name ELSE username END"
            " FROM users WHERE active = 1 ORDER BY 2 COLLATE NOCASE"
        ).fetchall()

    def industries(self) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT industry FROM accounts WHERE industry IS NOT NULL AND industry != ''"
                " ORDER BY industry COLLATE NOCASE"
            )
        ]

    # -- one account -----------------------------------------------------------------------------

    def detail(self, account_id: str) -> AccountDetail | None:
        q = self.conn.execute
        accounts = _dicts(
            q(
                "SELECT a.*, (SELECT t.name FROM territories t WHERE t.id = a.territory_id) AS"
                " territory_name, (SELECT u.display_name FROM users u WHERE u.id = a.owner_id) AS"
                " owner_name FROM accounts a WHERE a.id = ?",
                (account_id,),
            )
        )
        if not accounts:
            return None
        return AccountDetail(
            account=accounts[0],
            contacts=_dicts(
                q(
                    "SELECT * FROM contacts WHERE account_id = ?"
                    " ORDER BY last_name COLLATE NOCASE, first_name",
                    (account_id,),
                )
            ),
            visits=_dicts(
                q(
                    "SELECT v.*, (SELECT u.display_name FROM users u WHERE u.id = v.user_id) AS"
                    " user_name FROM visits v WHERE v.account_id = ? ORDER BY v.visited_at DESC"
                    " LIMIT 100",
                    (account_id,),
                )
            ),
            tasks=_dicts(
                q(
                    "SELECT * FROM tasks WHERE account_id = ?"
                    " ORDER BY done, due_date IS NULL, due_date",
                    (account_id,),
                )
            ),
            deals=_dicts(
                q("SELECT * FROM deals WHERE account_id = ? ORDER BY closed_on DESC", (account_id,))
            ),
            referrals_given=_dicts(
                q(
                    "SELECT * FROM referrals WHERE referrer_account_id = ? ORDER BY created_at DESC",
                    (account_id,),
                )
            ),
            referrals_received=_dicts(
                q(
                    "SELECT * FROM referrals WHERE converted_account_id = ? ORDER BY created_at DESC",
                    (account_id,),
                )
            ),
        )


# -- index maintenance --------------------------------------------------------------------------


@contextmanager
def deferred_search_index(conn: sqlite3.Connection) -> Iterator[None]:
    """Inside the caller's transaction: skip the per-row search-index triggers for rows inserted in
    the block, then index them with one set-based statement. Only for inserts (new accounts, new
    contacts); anything else keeps the triggers."""
    if not conn.in_transaction:
        raise RuntimeError("deferred_search_index needs an open transaction")
    accounts_before = conn.execute("SELECT coalesce(max(rowid), 0) FROM accounts").fetchone()[0]
    contacts_before = conn.execute("SELECT coalesce(max(rowid), 0) FROM contacts").fetchone()[0]
    settings.put(conn, settings.SEARCH_INDEX_DEFERRED, True)
    try:
        yield
    finally:
        settings.clear(conn, settings.SEARCH_INDEX_DEFERRED)
    conn.execute(f"{_FTS_INSERT}{_FTS_SELECT} WHERE a.rowid > ?", (accounts_before,))
    conn.execute(
        "UPDATE accounts_fts SET contacts = (SELECT group_concat(trim(c.first_name || ' ' ||"
        " c.last_name), ' ') FROM contacts c WHERE c.account_id = a.id) FROM accounts a"
        " WHERE accounts_fts.rowid = a.rowid AND a.rowid <= ? AND a.id IN"
        " (SELECT account_id FROM contacts WHERE rowid > ?)",
        (accounts_before, contacts_before),
    )


@contextmanager
def deferred_indexes(conn: sqlite3.Connection, table: str) -> Iterator[None]:
    """Inside the caller's transaction: drop ``table``'s secondary indexes and build them again
    after the block. For a bulk insert that is large next to the table: filling an index with
    100,000 random keys one by one costs several times more than sorting them once. On an error
    the caller's rollback brings the indexes back with everything else."""
    if not conn.in_transaction:
        raise RuntimeError("deferred_indexes needs an open transaction")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
        " AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    yield
    for _name, sql in indexes:
        conn.execute(sql)


def rebuild_search_index(conn: sqlite3.Connection) -> int:
    """Rebuild the whole index (after a restore or a tool that bypassed the triggers)."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM accounts_fts")
        conn.execute(f"{_FTS_INSERT}{_FTS_SELECT}")
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise
    return int(conn.execute("SELECT count(*) FROM accounts_fts").fetchone()[0])
