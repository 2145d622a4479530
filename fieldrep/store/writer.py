"""The one door through which domain rows are written locally.

Every insert, update and delete commits in the same SQLite transaction as its outbox entry (this
device's mutation sequence, and for an update the changed fields with their hybrid-logical-clock
stamps; an insert's entry stands for its row, see ``fieldrep.store.outbox``), so a row never exists
without the record that will sync it, and a failed write leaves neither. Table and field names
are checked against the schema catalogue and values are always bound as parameters.

sqlite-utils' own write helpers open and commit transactions of their own, so they are not used here.

After its outermost COMMIT a transaction announces the tables it wrote to the writer's
:class:`~fieldrep.store.changes.ChangeHub` (nothing after a ROLLBACK). The tables are recorded by
SQLite's authorizer while the transaction is open, so raw SQL run inside it (sync's applied pages,
triggers) is counted as well as the writer's own inserts, updates and deletes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fieldrep.domain.hlc import HybridLogicalClock, format_clock
from fieldrep.domain.ids import new_device_id, uuid7
from fieldrep.store import outbox, settings
from fieldrep.store.catalog import Table, table
from fieldrep.store.changes import ChangeHub
from fieldrep.store.errors import StoreError, ValidationError

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


def utc_now() -> str:
    """Timestamps are stored as ISO 8601 UTC text with millisecond precision."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _integrity_message(exc: sqlite3.IntegrityError, tbl: Table) -> ValidationError:
    text = str(exc)
    field = ""
    if "NOT NULL constraint failed:" in text:
        field = text.rsplit(".", 1)[-1]
        return ValidationError(f"{tbl.name}.{field} is required", table=tbl.name, field=field)
    if "UNIQUE constraint failed:" in text:
        field = text.rsplit(".", 1)[-1]
        return ValidationError(
            f"another {tbl.name} row already has this {field}", table=tbl.name, field=field
        )
    if "CHECK constraint failed" in text:
        detail = text.split(":", 1)[-1].strip()
        for col in tbl.fields:
            if col in detail:
                field = col
                break
        return ValidationError(
            f"{tbl.name}.{field or '?'} has a value that is not allowed ({detail})",
            table=tbl.name,
            field=field,
        )
    return ValidationError(f"{tbl.name}: {text}", table=tbl.name)


_encode_string = json.encoder.encode_basestring_ascii  # json.dumps of one str, quotes included


_ROW_CLOCK_OPEN = "{" + json.dumps(outbox.ROW_CLOCK) + ": "

# The authorizer's actions that write rows; for each, the table's name is its first argument.
_WRITE_ACTIONS = frozenset((sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE))


class Writer:
    """Sync-aware writes for one connection (one thread)."""

    def __init__(
        self,
        db: sqlite_utils.Database | sqlite3.Connection,
        clock: HybridLogicalClock,
        changes: ChangeHub | None = None,
    ) -> None:
        # A raw connection is accepted so that start-up need not import sqlite-utils.
        self.conn: sqlite3.Connection = db if isinstance(db, sqlite3.Connection) else db.conn
        self.clock = clock
        self.changes = changes
        self._depth = 0
        self._written: set[str] | None = None  # tables written by the open transaction, if tracked

    @classmethod
    def open(
        cls, db: sqlite_utils.Database | sqlite3.Connection, changes: ChangeHub | None = None
    ) -> Writer:
        """A writer for ``db``, creating this installation's device id on first use; committed
        transactions are announced to ``changes``."""
        conn = db if isinstance(db, sqlite3.Connection) else db.conn
        device = settings.get(conn, settings.DEVICE_ID)
        if not device:
            device = new_device_id()
            settings.put(conn, settings.DEVICE_ID, device)
        last = settings.get(conn, settings.HLC_LAST)
        return cls(db, HybridLogicalClock(device_id=device, last=last), changes)

    @property
    def device_id(self) -> str:
        return self.clock.device_id

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception. Nested calls join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        self._start_tracking()
        try:
            # Each thread has its own connection and Writer, but all stamp for one device: under
            # the write lock, start from the highest clock any of them committed, so no lane issues
            # a stamp below one already used or overwrites a newer persisted clock with an older one.
            self.clock.catch_up(settings.get(self.conn, settings.HLC_LAST))
            yield self.conn
            settings.put(self.conn, settings.HLC_LAST, self.clock.last)
            self.conn.execute("COMMIT")
        except BaseException:
            # SQLite may have rolled back already (a full disk, an interrupt): then the original
            # error is the one to see, not "no transaction is active".
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self._stop_tracking()
            raise
        finally:
            self._depth = 0
        written = self._stop_tracking()
        if written and self.changes is not None:
            self.changes.announce(written)

    def note_changed(self, *tables: str) -> None:
        """Count ``tables`` as written by the open transaction (for writes the authorizer cannot
        see, such as another connection's on this thread's behalf); outside one, announce now."""
        if self._written is not None:
            self._written.update(tables)
        elif self._depth == 0 and self.changes is not None:
            self.changes.announce(tables)

    def _start_tracking(self) -> None:
        """Record the tables the transaction writes, while anyone listens.

        Setting the authorizer also expires the connection's prepared statements, so the cached
        ones are prepared again on their next use and pass through it: each transaction sees
        every write it makes, not only the statements it prepared first.
        """
        if self.changes is None or not self.changes.listening:
            self._written = None
            return
        written: set[str] = set()
        self._written = written

        def track(action: int, name: str | None, *_: object) -> int:
            if action in _WRITE_ACTIONS and name is not None and not name.startswith("sqlite_"):
                written.add(name)
            return sqlite3.SQLITE_OK

        self.conn.set_authorizer(track)

    def _stop_tracking(self) -> set[str]:
        written, self._written = self._written, None
        if written is None:
            return set()
        self.conn.set_authorizer(None)
        return written

    # -- writes -------------------------------------------------------------------------------

    def _checked(self, tbl: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        allowed = set(tbl.fields)
        for name in values:
            if name not in allowed:
                raise ValidationError(
                    f"{tbl.name} has no field {name!r}", table=tbl.name, field=str(name)
                )
        return dict(values)

    def _with_timestamps(self, tbl: Table, values: dict[str, Any], now: str) -> dict[str, Any]:
        fields = tbl.fields
        if "created_at" in fields and values.get("created_at") is None:
            values["created_at"] = now
        if "updated_at" in fields and values.get("updated_at") is None:
            values["updated_at"] = now
        return values

    def _outbox(
        self,
        tbl: str,
        row_id: str,
        op: str,
        fields: dict[str, Any],
        clocks: dict[str, str],
        now: str,
    ) -> None:
        self.conn.execute(
            "INSERT INTO outbox (tbl, row_id, op, fields, clocks, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (tbl, row_id, op, json.dumps(fields), json.dumps(clocks), now),
        )

    def insert(
        self, table_name: str, values: Mapping[str, Any], *, row_id: str | None = None
    ) -> str:
        """Insert one row; returns its new UUIDv7 (or ``row_id`` when given)."""
        return self.insert_many(table_name, [values], row_ids=[row_id] if row_id else None)[0]

    def insert_many(
        self,
        table_name: str,
        rows: Iterable[Mapping[str, Any]],
        *,
        row_ids: list[str] | None = None,
    ) -> list[str]:
        """Insert many rows of one table in one transaction, with ``executemany`` for speed.

        Rows may name different subsets of fields; they are grouped by their field set.
        """
        tbl = table(table_name)
        now = utc_now()
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        entries: list[tuple[str, str, str]] = []
        allowed = frozenset(tbl.fields)
        ids: list[str] = []
        device = self.clock.device_id
        with self.transaction():
            # Stamped inside the transaction, after it caught up with the clock every lane of this
            # device has committed: a row written again under its id must not get a clock below
            # the delete another lane stamped.
            for index, raw in enumerate(rows):
                # an unknown field: _checked raises the precise error
                values = dict(raw) if allowed.issuperset(raw) else self._checked(tbl, raw)
                values = self._with_timestamps(tbl, values, now)
                row_id = row_ids[index] if row_ids else uuid7()
                ids.append(row_id)
                # One row clock stands for every field (fieldrep.store.outbox), and the outbox
                # entry stands for the row: nothing is written twice.
                stamp = format_clock(self.clock.now(), device)
                names = tuple(values)
                group = groups.get(names)
                if group is None:
                    group = groups[names] = []
                group.append(
                    (row_id, *values.values(), _ROW_CLOCK_OPEN + _encode_string(stamp) + "}")
                )
                entries.append((table_name, row_id, now))
            for names, data in groups.items():
                cols = ", ".join(("id", *names, "_clocks"))
                marks = ", ".join("?" * (len(names) + 2))
                try:
                    self.conn.executemany(f"INSERT INTO {tbl.name} ({cols}) VALUES ({marks})", data)
                except sqlite3.IntegrityError as exc:
                    raise _integrity_message(exc, tbl) from exc
            self.conn.executemany(
                "INSERT INTO outbox (tbl, row_id, op, created_at) VALUES (?, ?, 'insert', ?)",
                entries,
            )
        return ids

    def update(self, table_name: str, row_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some fields of one row; returns the fields that really changed (maybe none)."""
        tbl = table(table_name)
        if tbl.insert_only:
            raise ValidationError(f"{tbl.name} rows cannot be changed once written", table=tbl.name)
        changes = self._checked(tbl, changes)
        with self.transaction():
            cur = self.conn.execute(f"SELECT * FROM {tbl.name} WHERE id = ?", (row_id,))
            row = cur.fetchone()
            if row is None:
                raise StoreError(f"{tbl.name} {row_id} does not exist (it may have been deleted)")
            current = dict(zip([d[0] for d in cur.description], row, strict=True))
            changed = {k: v for k, v in changes.items() if current.get(k) != v}
            if not changed:
                return {}
            now = utc_now()
            if "updated_at" in tbl.fields and "updated_at" not in changed:
                changed["updated_at"] = now
            # A pending insert entry keeps the row as inserted: once pushed, a retry after a lost
            # answer must send exactly that again (the server takes anything else under the same
            # number for another database's change), so the edit goes into an entry of its own.
            outbox.materialise(self.conn, tbl.name, [row_id])
            stamp = self.clock.stamp()
            clocks = json.loads(current["_clocks"] or "{}")
            field_clocks = dict.fromkeys(changed, stamp)
            clocks.update(field_clocks)
            assignments = ", ".join(f"{name} = ?" for name in changed)
            try:
                self.conn.execute(
                    f"UPDATE {tbl.name} SET {assignments}, _clocks = ? WHERE id = ?",
                    (*changed.values(), json.dumps(clocks), row_id),
                )
            except sqlite3.IntegrityError as exc:
                raise _integrity_message(exc, tbl) from exc
            self._outbox(tbl.name, row_id, "upsert", changed, field_clocks, now)
        return changed

    def delete(self, table_name: str, row_id: str) -> bool:
        """Delete one row, leaving a tombstone; returns False if it was already gone."""
        tbl = table(table_name)
        if tbl.insert_only:
            raise ValidationError(f"{tbl.name} rows cannot be deleted", table=tbl.name)
        with self.transaction():
            outbox.materialise(self.conn, tbl.name, [row_id])
            cur = self.conn.execute(f"DELETE FROM {tbl.name} WHERE id = ?", (row_id,))
            if cur.rowcount == 0:
                return False
            now = utc_now()
            stamp = self.clock.stamp()
            self.conn.execute(
                "INSERT INTO tombstones (tbl, row_id, clock, deleted_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tbl, row_id) DO UPDATE SET clock = excluded.clock,"
                " deleted_at = excluded.deleted_at",
                (tbl.name, row_id, stamp, now),
            )
            self._outbox(tbl.name, row_id, "delete", {}, {"_deleted": stamp}, now)
        return True

    def pending_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
