"""Writing what the server sent into the laptop's database, inside the caller's transaction.

Pulled rows are written with raw parameterised SQL, never through the Writer: they must not re-enter
the outbox. After a page is written, the still-pending local fields (outbox entries not yet
acknowledged) are put back on top when their clock is newer; when the server's value is newer, the
local value is recorded in ``conflicts`` instead of being lost.

Replacement sync: every local row's ``_version`` is flipped negative (``-1 - v``); rows the server
sends again get their real version; at the end rows still negative were not sent (no longer visible,
or gone) and are removed, unless an outbox entry still needs them.

A row with a change the server refused (an open ``conflicts`` row with ``kept_clock = "rejected"``)
is never removed as out of scope: it stays, with ``_version`` 0 (what the server does not show this
user), until the user sends it again, hands it over or discards it (:mod:`fieldrep.services.sync.conflicts`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from fieldrep.domain.merge import UNITS, merge_fields
from fieldrep.store import outbox, settings
from fieldrep.store.catalog import synced_tables
from fieldrep.store.writer import utc_now
from fieldrep.sync.protocol import REJECTED, UNLOGGED_FIELDS, WHOLE_ROW

Pending = dict[tuple[str, str], dict[str, tuple[Any, str]]]

# local_meta: the tag the server keeps this device's clocks under (``LoginResponse.clock_tag``).
CLOCK_TAG_KEY = settings.SYNC_CLOCK_TAG.key


def _own_clock_mapper(conn: sqlite3.Connection) -> Callable[[str], str]:
    """Rewrites this device's own clocks to its server tag, so a pending value is compared with
    the server's values exactly as the server compares them (time, then device tag)."""
    tag = settings.get(conn, settings.SYNC_CLOCK_TAG)
    device = settings.get(conn, settings.DEVICE_ID)
    if not tag or not device:
        return lambda clock: clock
    suffix = "@" + device

    def mapped(clock: str) -> str:
        return clock[: -len(suffix)] + "@" + tag if clock.endswith(suffix) else clock

    return mapped


# The rows of one table (bound parameter) with a refused change still open.
REFUSED_ROWS = (
    "SELECT row_id FROM conflicts WHERE kept_clock = 'rejected' AND resolved_at IS NULL AND tbl = ?"
)


def refused_rows(conn: sqlite3.Connection, tbl: str) -> set[str]:
    return {r[0] for r in conn.execute(REFUSED_ROWS, (tbl,))}


def pending_fields(
    conn: sqlite3.Connection, keys: Iterable[tuple[str, str]]
) -> tuple[Pending, set[tuple[str, str]]]:
    """Latest pending value and clock per field of the given (table, row) pairs, and which of them
    have a pending delete. Only those rows' entries are read, through the outbox's row index."""
    fields: Pending = {}
    deletes: set[tuple[str, str]] = set()
    own = _own_clock_mapper(conn)
    for entry in outbox.pending_for(conn, keys):
        key = (entry.tbl, entry.row_id)
        if entry.op == "delete":
            deletes.add(key)
            continue
        found = fields.setdefault(key, {})
        for name, value in entry.fields.items():
            clock = own(entry.clocks.get(name, ""))
            if name not in found or clock >= found[name][1]:
                found[name] = (value, clock)
    return fields, deletes


def _page_keys(page: dict[str, Any]) -> list[tuple[str, str]]:
    keys = [(ref["tbl"], ref["id"]) for ref in page.get("evict", [])]
    for tbl, body in page.get("tables", {}).items():
        keys.extend((tbl, row[0]) for row in body["rows"])
    return keys


def record_conflict(
    conn: sqlite3.Connection,
    tbl: str,
    row_id: str,
    field: str,
    kept_value: Any,
    kept_clock: str | None,
    lost_value: Any,
    lost_clock: str | None,
) -> bool:
    """Add a conflict unless the same lost value is already recorded; True if added."""
    if conn.execute(
        "SELECT 1 FROM conflicts WHERE tbl = ? AND row_id = ? AND field = ? AND lost_clock IS ?",
        (tbl, row_id, field, lost_clock),
    ).fetchone():
        return False
    conn.execute(
        "INSERT INTO conflicts (tbl, row_id, field, kept_value, kept_clock, lost_value,"
        " lost_clock, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tbl,
            row_id,
            field,
            json.dumps(kept_value),
            kept_clock,
            json.dumps(lost_value),
            lost_clock,
            utc_now(),
        ),
    )
    return True


def record_rejection(
    conn: sqlite3.Connection,
    tbl: str,
    row_id: str,
    reason: str,
    fields: dict[str, Any],
    clocks: dict[str, str],
) -> int:
    """Keep a refused mutation's values as conflicts (``kept_clock`` = "rejected", the reason as
    ``kept_value``) so the user sees what did not reach the server."""
    added = 0
    shown = {k: v for k, v in fields.items() if k not in UNLOGGED_FIELDS} or fields
    if tbl in synced_tables() and set(fields) == set(synced_tables()[tbl].fields):
        # A new row is sent whole (fieldrep.store.outbox), and it stays on this laptop with
        # everything the user wrote: one entry says it was refused, not one per column.
        written = {k: v for k, v in shown.items() if v is not None}
        return int(record_conflict(conn, tbl, row_id, WHOLE_ROW, reason, REJECTED, written, None))
    for name, value in (shown or {"_deleted": None}).items():
        added += record_conflict(conn, tbl, row_id, name, reason, REJECTED, value, clocks.get(name))
    return added


def settle_refusals(conn: sqlite3.Connection, rows: Iterable[tuple[str, str]]) -> set[str]:
    """Close the open refusals of rows the server has now accepted a change of (sent again after
    an edit, or handed over); returns the tables whose refusals changed."""
    now, changed = utc_now(), set()
    for tbl, row_id in set(rows):
        closed = conn.execute(
            "UPDATE conflicts SET resolved_at = ?, resolution = 'sent_again' WHERE tbl = ?"
            " AND row_id = ? AND kept_clock = 'rejected' AND resolved_at IS NULL",
            (now, tbl, row_id),
        ).rowcount
        if closed:
            changed |= {"conflicts", tbl}
    return changed


class PageStats:
    def __init__(self) -> None:
        self.rows = 0
        self.deleted = 0
        self.evicted = 0
        self.conflicts = 0
        self.max_clock = ""
        # The tables this page changed, for the app's change notification.
        self.changed_tables: set[str] = set()


def apply_page(conn: sqlite3.Connection, page: dict[str, Any], stats: PageStats) -> None:
    """Write one pull page (rows, tombstones, evictions) and re-apply pending local fields."""
    catalog = synced_tables()
    pending, pending_deletes = pending_fields(conn, _page_keys(page))
    now = utc_now()
    # Evictions first: a row the server refused or took away must not block a row taking its place
    # (the server's user "ann" arriving while a refused local user "ann" is still here).
    refused: dict[str, set[str]] = {}
    for ref in page.get("evict", []):
        tbl, row_id = ref["tbl"], ref["id"]
        if tbl in catalog and (tbl, row_id) not in pending:
            if tbl not in refused:
                refused[tbl] = refused_rows(conn, tbl)
            if row_id in refused[tbl]:
                # The user's refused change stays here, marked, until they decide.
                conn.execute(f"UPDATE {tbl} SET _version = 0 WHERE id = ?", (row_id,))
                stats.changed_tables.add(tbl)
                continue
            gone = conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,)).rowcount
            stats.evicted += gone
            if gone:
                stats.changed_tables.add(tbl)
    for tbl, body in page.get("tables", {}).items():
        if tbl not in catalog:
            raise ValueError(f"the server sent rows of an unknown table {tbl!r}")
        allowed = set(catalog[tbl].fields)
        columns = list(body["columns"])
        if not set(columns) <= allowed:
            raise ValueError(f"the server sent unknown {tbl} fields {set(columns) - allowed}")
        cols = ", ".join(["id", *columns, "_clocks", "_version"])
        marks = ", ".join("?" * (len(columns) + 3))
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*columns, "_clocks", "_version"])
        upsert = (
            f"INSERT INTO {tbl} ({cols}) VALUES ({marks}) ON CONFLICT (id) DO UPDATE SET {updates}"
        )
        live: list[tuple[Any, ...]] = []
        touched: list[tuple[str, list[Any]]] = []
        for row in body["rows"]:
            row_id, version, deleted, clocks = row[0], int(row[1]), row[2], row[3]
            if deleted:
                outbox.materialise(conn, tbl, [row_id])
                conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
                conn.execute(
                    "INSERT INTO tombstones (tbl, row_id, clock, deleted_at, _version)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tbl, row_id) DO UPDATE SET"
                    " clock = excluded.clock, _version = excluded._version",
                    (tbl, row_id, json.loads(clocks).get("_deleted", ""), now, version),
                )
                stats.deleted += 1
                stats.changed_tables.add(tbl)
                continue
            values = row[4:]
            live.append((row_id, *values, clocks, version))
            if (tbl, row_id) in pending or (tbl, row_id) in pending_deletes:
                touched.append((clocks, row))
        if touched:
            # The server's values are about to overwrite (or, for a pending delete, remove) rows
            # that may have a pending insert (say, written again under its id after a delete):
            # that entry keeps the row as it was written here.
            outbox.materialise(conn, tbl, [row[0] for _, row in touched])
        if live:
            for index_cols in _unique_indexes(conn, tbl):
                _clear_unique_clashes(conn, tbl, columns, index_cols, live, stats)
            conn.executemany(upsert, live)
            stats.rows += len(live)
            stats.changed_tables.add(tbl)
        for clocks, row in touched:
            _reapply(conn, tbl, columns, row, json.loads(clocks), pending, pending_deletes, stats)
    stats.max_clock = max(stats.max_clock, page.get("clock_hint") or "")


def _unique_indexes(conn: sqlite3.Connection, tbl: str) -> list[tuple[str, ...]]:
    """Column tuples of the table's unique indexes other than the primary key."""
    out: list[tuple[str, ...]] = []
    for _, name, unique, origin, _partial in conn.execute(f"PRAGMA index_list({tbl})"):
        if unique and origin == "c":
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            out.append(cols)
    return out


def _clear_unique_clashes(
    conn: sqlite3.Connection,
    tbl: str,
    columns: list[str],
    index_cols: tuple[str, ...],
    live: list[tuple[Any, ...]],
    stats: PageStats,
) -> None:
    """Make room for server rows whose unique key a different local row holds.

    The server enforces the same unique indexes, so such a local row is one it never accepted
    (refused, or created here and not pushed yet): the server's row wins. Outbox entries of a
    pending row stay (sequence numbers must not have holes); the server refuses them when they
    arrive and the refusal is kept in ``conflicts`` like any other.
    """
    if not set(index_cols) <= set(columns):
        return
    positions = [columns.index(c) + 1 for c in index_cols]
    where = " AND ".join(f"{c} = ?" for c in index_cols)
    for row in live:
        key = [row[p] for p in positions]
        if any(v is None for v in key):
            continue
        clashing = [
            r[0]
            for r in conn.execute(f"SELECT id FROM {tbl} WHERE {where} AND id != ?", (*key, row[0]))
        ]
        if clashing:
            outbox.materialise(conn, tbl, clashing)
            stats.evicted += conn.execute(
                f"DELETE FROM {tbl} WHERE {where} AND id != ?", (*key, row[0])
            ).rowcount


def _reapply(
    conn: sqlite3.Connection,
    tbl: str,
    columns: list[str],
    row: list[Any],
    server_clocks: dict[str, str],
    pending: Pending,
    pending_deletes: set[tuple[str, str]],
    stats: PageStats,
) -> None:
    row_id = row[0]
    if (tbl, row_id) in pending_deletes:
        conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
        return
    server_values = dict(zip(columns, row[4:], strict=True))
    local = pending.get((tbl, row_id), {})
    # The laptop's still-pending fields merge into the server's row by the one merge rule.
    merged = merge_fields(
        server_values,
        server_clocks,
        {name: value for name, (value, _) in local.items()},
        {name: clock for name, (_, clock) in local.items()},
        unlogged=UNLOGGED_FIELDS,
        units=UNITS.get(tbl, ()),
    )
    for loss in merged.lost:
        stats.conflicts += record_conflict(
            conn,
            tbl,
            row_id,
            loss.field,
            loss.kept_value,
            loss.kept_clock,
            loss.lost_value,
            loss.lost_clock,
        )
    # A pending field won when its clock (or its unit's, raised to the unit's newest) is kept.
    mine = {
        n: merged.values[n]
        for n, (_, clock) in local.items()
        if merged.clocks.get(n) == clock
        or (n in merged.clocks and merged.clocks[n] != server_clocks.get(n))
    }
    if mine:
        sets = ", ".join(f"{name} = ?" for name in mine)
        conn.execute(
            f"UPDATE {tbl} SET {sets}, _clocks = ? WHERE id = ?",
            (*mine.values(), json.dumps(merged.clocks), row_id),
        )


def start_replacement(conn: sqlite3.Connection, tables: Iterable[str] | None = None) -> None:
    for tbl in tables or synced_tables():
        conn.execute(f"UPDATE {tbl} SET _version = -1 - _version WHERE _version >= 0")
    settings.put(conn, settings.SYNC_REPLACING, True)
    settings.put(conn, settings.SYNC_CURSOR, 0)


def finish_replacement(conn: sqlite3.Connection) -> int:
    """Remove rows the replacement did not bring back; returns how many."""
    removed = 0
    for tbl in synced_tables():
        conn.execute(
            f"UPDATE {tbl} SET _version = 0 WHERE _version < 0 AND id IN ({REFUSED_ROWS})", (tbl,)
        )
        removed += conn.execute(
            f"DELETE FROM {tbl} WHERE _version < 0 AND id NOT IN"
            " (SELECT row_id FROM outbox WHERE tbl = ?)",
            (tbl,),
        ).rowcount
        conn.execute(f"UPDATE {tbl} SET _version = -1 - _version WHERE _version < 0")
    settings.put(conn, settings.SYNC_REPLACING, False)
    return removed


def local_checksums(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Count and version sum of the rows the server knows (rows only waiting to be pushed, and
    refused rows the server does not show this user, are not counted)."""
    out: dict[str, dict[str, int]] = {}
    for tbl in synced_tables():
        count, total = conn.execute(
            f"SELECT count(*), coalesce(sum(_version), 0) FROM {tbl} WHERE _version > 0 OR"
            f" (id NOT IN (SELECT row_id FROM outbox WHERE tbl = ?) AND id NOT IN ({REFUSED_ROWS}))",
            (tbl, tbl),
        ).fetchone()
        out[tbl] = {"count": int(count), "version_sum": int(total)}
    return out
