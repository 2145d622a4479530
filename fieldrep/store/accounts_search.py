"""Search-as-you-type at the cost of the FTS5 query alone: a precomputed sort rank per list order.

Counting the matches of a short prefix ("a", "ha") and sorting them by name in SQL means evaluating
the FTS5 query twice and looking up every matching account row: three to five times the cost of
the bare FTS5 query on 100,000 accounts. Instead, :func:`build_rank` computes once, in the
background, the position of every account in a list order (``rank[rowid]``); a search then runs
the FTS5 query once (:meth:`RankedSearch.matches`), counts the rowids it got, picks the first page by
rank in memory and reads only that page's rows (:meth:`RankedSearch.rows`).

A rank belongs to one state of the data, :meth:`RankedSearch.version` (SQLite's ``data_version``
for other connections' commits plus this connection's ``total_changes``): once anything is written,
the caller falls back to SQL until a new rank is built. Qt-free, so it is tested without widgets.

A rep's own accounts come first in search results (issue 16, point 13): :func:`own_first` turns a
rank into one where the accounts ``owner_id`` holds come before the rest, each part in the list's
order, by shifting their positions below zero; it costs a copy of the rank and one indexed query,
on the worker that builds the rank, and the search itself is unchanged (one FTS5 query, the first
page picked by that rank).
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Sequence
from typing import Any

from fieldrep.store.accounts_repository import LIST_COLUMNS, AccountsRepository, Sort, fts_query

MISSING = 1 << 62  # rank of a rowid that is not an account (deleted after the index was read)
OWN_SHIFT = 1 << 40  # subtracted from the rank of the user's own accounts: before every other
Version = tuple[int, int]


def build_rank(conn: sqlite3.Connection, sort: Sort) -> list[int]:
    """``rank[rowid]`` = the account's position in the list sorted by ``sort`` (same ORDER BY as
    the SQL pages, so both paths agree); rowids that are not accounts get :data:`MISSING`."""
    _, order = AccountsRepository(conn)._order(sort)
    top = conn.execute("SELECT coalesce(max(rowid), 0) FROM accounts").fetchone()[0]
    rank = [MISSING] * (int(top) + 1)
    for position, (rowid,) in enumerate(
        conn.execute(f"SELECT a.rowid FROM accounts a ORDER BY {order}")
    ):
        rank[rowid] = position
    return rank


def own_first(conn: sqlite3.Connection, rank: Sequence[int], owner_id: str | None) -> list[int]:
    """``rank`` with the accounts ``owner_id`` owns before all others (the same ``rank`` values,
    as a new list, when there is no owner or they own nothing)."""
    ranked = list(rank)
    if owner_id is None:
        return ranked
    size = len(ranked)
    for (rowid,) in conn.execute("SELECT rowid FROM accounts WHERE owner_id = ?", (owner_id,)):
        if rowid < size and ranked[rowid] != MISSING:
            ranked[rowid] -= OWN_SHIFT
    return ranked


def rank_order(rank: Sequence[int]) -> list[int]:
    """The rowids in the order ``rank`` gives (its inverse, accounts only): the whole list, for
    pages anywhere in it without an SQL sort."""
    order = [0] * len(rank)
    count = 0
    for rowid, position in enumerate(rank):
        if position != MISSING:
            order[position] = rowid
            count += 1
    del order[count:]
    return order


class RankedSearch:
    """Text search over one connection, ordered by a rank from :func:`build_rank`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._columns = ", ".join(expr for _, expr in LIST_COLUMNS)

    def version(self) -> Version:
        data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        return int(data_version), self.conn.total_changes

    def matches(self, text: str, rank: Sequence[int]) -> list[int]:
        """The rowids of the accounts matching ``text`` (unordered); one FTS5 query."""
        query = fts_query(text)
        if not query:
            return []
        size = len(rank)
        return [
            rowid
            for (rowid,) in self.conn.execute(
                "SELECT rowid FROM accounts_fts WHERE accounts_fts MATCH ?", (query,)
            )
            if rowid < size and rank[rowid] != MISSING
        ]

    @staticmethod
    def first(rowids: list[int], rank: Sequence[int], n: int) -> list[int]:
        """The first ``n`` of ``rowids`` in rank order, without sorting them all."""
        return heapq.nsmallest(n, rowids, key=rank.__getitem__)

    def rows(self, rowids: Sequence[int], rank: Sequence[int]) -> list[tuple[Any, ...]]:
        """The list rows (in :data:`LIST_COLUMNS` order) of ``rowids``, in rank order."""
        if not rowids:
            return []
        found = self.conn.execute(
            f"SELECT a.rowid, {self._columns} FROM accounts a"
            f" WHERE a.rowid IN ({', '.join('?' * len(rowids))})",
            list(rowids),
        ).fetchall()
        found.sort(key=lambda row: rank[row[0]])
        return [row[1:] for row in found]
