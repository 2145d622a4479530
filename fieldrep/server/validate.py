"""Checking pushed rows against the client's own schema before the server stores them.

Structural checks (known table and fields, value types, well-formed clocks) reject the whole push
request with a 422 before anything is applied. The row-level check runs the merged row through an
in-memory SQLite database migrated with the very schema the clients use, so NOT NULL, CHECK and
defaults are exactly what every client will enforce when the row reaches it: a row the server accepts
can always be applied by every client.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from typing import Any

from fieldrep.domain.hlc import parse_clock, unpack
from fieldrep.store.catalog import synced_tables, table
from fieldrep.store.migrations import migrate
from fieldrep.sync.protocol import DELETE_CLOCK, MAX_INT, Mutation

_local = threading.local()


class BadRequest(ValueError):
    """A request that is malformed as a whole (HTTP 422); nothing of it is applied."""


def check_structure(index: int, m: Mutation) -> None:
    where = f"mutation {index} (seq {m.seq})"
    if m.tbl not in synced_tables():
        raise BadRequest(f"{where}: unknown table {m.tbl!r}")
    tbl = table(m.tbl)
    if m.op == "delete":
        if set(m.clocks) != {DELETE_CLOCK} or m.fields:
            raise BadRequest(
                f"{where}: a delete carries no fields and exactly one clock named {DELETE_CLOCK!r}"
            )
        _check_clock(where, DELETE_CLOCK, m.clocks[DELETE_CLOCK])
        return
    if not m.fields:
        raise BadRequest(f"{where}: an upsert needs at least one field")
    if set(m.clocks) != set(m.fields):
        raise BadRequest(f"{where}: every changed field needs exactly one clock")
    for name, value in m.fields.items():
        try:
            col = tbl.column(name)
        except KeyError:
            raise BadRequest(f"{where}: {m.tbl} has no field {name!r}") from None
        if col.primary_key:
            raise BadRequest(f"{where}: the id is given as row_id, not as a field")
        if value is not None:
            ok = {
                "TEXT": isinstance(value, str),
                "INTEGER": isinstance(value, int),
                "REAL": isinstance(value, int | float) and not isinstance(value, bool),
            }[col.type]
            if not ok:
                raise BadRequest(
                    f"{where}: {m.tbl}.{name} must be {col.type.lower()}, "
                    f"not {type(value).__name__}"
                )
            _check_value(f"{where}: {m.tbl}.{name}", value)
        _check_clock(where, name, m.clocks[name])


def _check_value(where: str, value: object) -> None:
    """Values every server database can store and every JSON encoder can send back."""
    if isinstance(value, str) and "\x00" in value:
        raise BadRequest(f"{where} contains a NUL character")
    if isinstance(value, int) and not -MAX_INT - 1 <= value <= MAX_INT:
        raise BadRequest(f"{where} is too large for a whole number (64 bits)")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadRequest(f"{where} must be a finite number, not {value}")


def _check_clock(where: str, name: str, clock: str) -> None:
    try:
        parse_clock(clock)
    except ValueError:
        raise BadRequest(f"{where}: the clock of {name!r} is not a field clock") from None


# How far ahead of the server's clock a pushed change's clock may be (Anki allows 300 s): more,
# and a laptop with a wrong date (or a rep forging clocks) would win every later edit.
MAX_PUSH_SKEW_MS = 300_000


def clock_too_far_ahead(clock: str, now_ms: int) -> bool:
    wall, _ = unpack(parse_clock(clock)[0])
    return wall - now_ms > MAX_PUSH_SKEW_MS


def _conn() -> sqlite3.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
        migrate(conn)
        _local.conn = conn
    return conn


def complete_row(tbl_name: str, row_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with the schema's defaults filled in, or ValueError saying which rule it breaks."""
    tbl = table(tbl_name)
    conn = _conn()
    names = [n for n in values if n in tbl.fields]
    cols = ", ".join(["id", *names])
    marks = ", ".join("?" * (len(names) + 1))
    conn.execute("BEGIN")
    try:
        conn.execute(
            f"INSERT INTO {tbl.name} ({cols}) VALUES ({marks})",
            (row_id, *(values[n] for n in names)),
        )
        cur = conn.execute(f"SELECT * FROM {tbl.name} WHERE id = ?", (row_id,))
        full = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    except sqlite3.IntegrityError as exc:
        raise ValueError(_explain(tbl_name, str(exc))) from None
    finally:
        conn.execute("ROLLBACK")
    return {k: v for k, v in full.items() if k in tbl.fields}


def _explain(tbl: str, text: str) -> str:
    if "NOT NULL constraint failed:" in text:
        return f"{tbl}.{text.rsplit('.', 1)[-1]} is required"
    if "CHECK constraint failed" in text:
        return f"{tbl}: a value is not allowed ({text.split(':', 1)[-1].strip()})"
    return f"{tbl}: {text}"
