"""What the synced tables hold, read from the migrated schema itself so there is one source of truth.

The sync protocol, the server's storage and the writer all ask this module which tables and fields
exist; nothing else lists them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cache, cached_property

from fieldrep.store.migrations import migrate

META_COLUMNS = ("_clocks", "_version")
# Rows of these tables are written once and never edited or deleted (domain rule beats clocks).
INSERT_ONLY = frozenset({"visits", "referral_events", "assignment_history"})


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # TEXT, INTEGER or REAL
    not_null: bool
    default: str | None  # SQL literal as written in the schema
    primary_key: bool


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @cached_property  # read for every row a bulk insert writes
    def fields(self) -> tuple[str, ...]:
        """Domain columns, the primary key ``id`` excluded."""
        return tuple(c.name for c in self.columns if not c.primary_key)

    @property
    def insert_only(self) -> bool:
        return self.name in INSERT_ONLY

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


@cache
def synced_tables() -> dict[str, Table]:
    """Every synced table by name, in schema order."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn)
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid"
            )
        ]
        tables: dict[str, Table] = {}
        for name in names:
            info = conn.execute("SELECT * FROM pragma_table_info(?)", (name,)).fetchall()
            colnames = {row[1] for row in info}
            if not set(META_COLUMNS) <= colnames:
                continue
            columns = tuple(
                Column(
                    name=r[1],
                    type=r[2].upper(),
                    not_null=bool(r[3]),
                    default=r[4],
                    primary_key=bool(r[5]),
                )
                for r in info
                if r[1] not in META_COLUMNS
            )
            tables[name] = Table(name=name, columns=columns)
        return tables
    finally:
        conn.close()


def table(name: str) -> Table:
    """The synced table ``name``; raises KeyError for anything else (so callers can't inject names)."""
    try:
        return synced_tables()[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}") from None
