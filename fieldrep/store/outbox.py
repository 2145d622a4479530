"""Reading the sync outbox: what each entry will send, with insert entries expanded from their row.

An ``upsert`` entry carries its changed fields and their clocks. An ``insert`` entry carries nothing:
it stands for the whole row as it is in its table, each field with its clock from the row's
``_clocks``, so a bulk insert of 100,000 rows does not write every value twice plus a clock per field.
A row's ``_clocks`` may hold a row clock under :data:`ROW_CLOCK` for every field without its own.

The invariant that makes this safe: a row with a pending ``insert`` entry is never removed or edited
without first turning that entry into an ordinary ``upsert`` with the row's values (:func:`materialise`).
The writer's delete and update and the sync pull's removals call it, so the entry never points at
nothing, and it sends the same mutation however often a push is retried (the server takes a different
mutation under an applied sequence number for a copied database).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fieldrep.store.catalog import table

ROW_CLOCK = "*"  # key in a row's _clocks: the clock of every field that has none of its own
_CHUNK = 500  # ids per IN (...) query, well under SQLite's bound-parameter limit


def field_clock(clocks: dict[str, str], name: str) -> str | None:
    """The clock of field ``name`` in a row's ``_clocks``, falling back to the row clock."""
    found = clocks.get(name)
    return found if found is not None else clocks.get(ROW_CLOCK)


def expand_clocks(clocks: dict[str, str], fields: Iterable[str]) -> dict[str, str]:
    """Per-field clocks for ``fields``, the row clock written out; fields without any are left out."""
    out: dict[str, str] = {}
    for name in fields:
        found = field_clock(clocks, name)
        if found is not None:
            out[name] = found
    return out


@dataclass
class Entry:
    seq: int
    tbl: str
    row_id: str
    op: Literal["upsert", "delete"]  # a stored 'insert' is sent as an 'upsert'
    fields: dict[str, Any]
    clocks: dict[str, str]


def row_snapshots(
    conn: sqlite3.Connection, tbl: str, row_ids: Iterable[str]
) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Every field of each existing row with its clock, by row id (missing rows are left out)."""
    fields = table(tbl).fields
    cols = ", ".join(("id", *fields, "_clocks"))
    ids = list(dict.fromkeys(row_ids))
    out: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for row in conn.execute(f"SELECT {cols} FROM {tbl} WHERE id IN ({marks})", chunk):
            values = dict(zip(fields, row[1:-1], strict=True))
            out[row[0]] = (values, expand_clocks(json.loads(row[-1] or "{}"), fields))
    return out


def _expand(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> Iterator[Entry]:
    """Entries from ``(seq, tbl, row_id, op, fields, clocks)`` rows, insert entries filled in."""
    wanted: dict[str, list[str]] = {}
    for _seq, tbl, row_id, op, _f, _c in rows:
        if op == "insert":
            wanted.setdefault(tbl, []).append(row_id)
    snapshots = {tbl: row_snapshots(conn, tbl, ids) for tbl, ids in wanted.items()}
    for seq, tbl, row_id, op, fields, clocks in rows:
        if op == "insert":
            found = snapshots[tbl].get(row_id)
            if found is None:  # the invariant above was broken: say so rather than send nothing
                raise sqlite3.IntegrityError(
                    f"outbox entry {seq} stands for {tbl} {row_id}, which is no longer there"
                )
            yield Entry(seq, tbl, row_id, "upsert", dict(found[0]), dict(found[1]))
        else:
            yield Entry(seq, tbl, row_id, op, json.loads(fields), json.loads(clocks))


def pending(conn: sqlite3.Connection, limit: int) -> list[Entry]:
    """The oldest ``limit`` entries in sequence order, ready to send.

    Entries and rows are read in one snapshot, so a delete committed by another connection in
    between cannot leave an insert entry without its row.
    """
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        rows = conn.execute(
            "SELECT seq, tbl, row_id, op, fields, clocks FROM outbox ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return list(_expand(conn, rows))
    finally:
        if own:
            conn.execute("COMMIT")


def pending_for(conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]) -> list[Entry]:
    """The entries of the given (table, row id) pairs, in sequence order."""
    by_table: dict[str, list[str]] = {}
    for tbl, row_id in keys:
        by_table.setdefault(tbl, []).append(row_id)
    rows: list[tuple[Any, ...]] = []
    for tbl, ids in by_table.items():
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows.extend(
                conn.execute(
                    "SELECT seq, tbl, row_id, op, fields, clocks FROM outbox"
                    f" WHERE tbl = ? AND row_id IN ({marks})",
                    (tbl, *chunk),
                )
            )
    rows.sort(key=lambda r: r[0])
    return list(_expand(conn, rows))


def materialise(conn: sqlite3.Connection, tbl: str, row_ids: Iterable[str]) -> int:
    """Turn pending insert entries of these rows into upserts holding the row's values and clocks.

    Call it before a row is removed (in the same transaction); returns how many entries changed.
    """
    ids = list(dict.fromkeys(row_ids))
    if not ids:
        return 0
    waiting: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        waiting.extend(
            r[0]
            for r in conn.execute(
                "SELECT row_id FROM outbox WHERE op = 'insert' AND tbl = ?"
                f" AND row_id IN ({marks})",
                (tbl, *chunk),
            )
        )
    if not waiting:
        return 0
    snapshots = row_snapshots(conn, tbl, waiting)
    changed = 0
    for row_id, (values, clocks) in snapshots.items():
        changed += conn.execute(
            "UPDATE outbox SET op = 'upsert', fields = ?, clocks = ?"
            " WHERE op = 'insert' AND tbl = ? AND row_id = ?",
            (json.dumps(values, default=str), json.dumps(clocks), tbl, row_id),
        ).rowcount
    return changed
