"""The conflicts a sync left for the user to see, and their two ways out.

A local ``conflicts`` row says that one value of a field lost a merge (or that the server refused a
change). For the person at this laptop that is always a question about *their* value against *the
other* value, so :func:`list_open` tells which is which from the clocks' device ids:

- your value lost (the usual case): the laptop now shows the other value;
- your value won but someone else's was overwritten: the laptop shows yours;
- the server refused your change (``kept_clock == "rejected"``): the reason is kept instead of a value.

Both resolutions go through the :class:`~fieldrep.store.writer.Writer`, so a decision that changes a
value is a new edit with a fresh clock that lands in the outbox and wins at the next sync:
:func:`keep_yours` writes your value back when the laptop shows something else, :func:`accept_other`
writes the other value when yours had won. Resolving one conflict closes every open conflict of the
same field of the same row: the newest decision supersedes older clashes on it.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from fieldrep.store import settings
from fieldrep.store.catalog import synced_tables
from fieldrep.store.errors import StoreError
from fieldrep.store.writer import Writer, utc_now

# The sync protocol's constants are imported inside the functions that use them: that module loads
# pydantic, and the window's start-up, which only calls open_count(), should not wait for it.

KEPT_YOURS = "kept_yours"
ACCEPTED_OTHER = "accepted_other"

_LABEL_COLUMNS = ("name", "display_name", "title", "username", "referred_name")
_RECORD_NAMES = {
    "accounts": "Account",
    "contacts": "Contact",
    "visits": "Visit",
    "tasks": "Task",
    "deals": "Deal",
    "quotas": "Quota",
    "referrals": "Referral",
    "referral_events": "Referral history",
    "rewards": "Reward",
    "reward_rules": "Reward rule",
    "territories": "Territory",
    "territory_members": "Territory member",
    "users": "User",
    "notifications": "Notification",
}


@dataclass(frozen=True)
class ConflictItem:
    """One open conflict, seen from this laptop."""

    id: int
    tbl: str
    row_id: str
    field: str
    record: str  # "Account"
    row_label: str  # "Acme Ltd", or a short id when the row has no name
    field_label: str  # "Phone"
    your_value: Any
    other_value: Any  # None for a refusal
    yours_kept: bool  # the laptop shows your value now
    refused_reason: str | None  # the server refused your change: why
    row_exists: bool
    detected_at: str
    on_server: bool = True  # the server has the row in this user's view (False: only here)

    @property
    def can_keep_yours(self) -> bool:
        """Keeping yours needs the row (a deleted row cannot be edited) and an editable table."""
        return self.row_exists and not synced_tables()[self.tbl].insert_only

    @property
    def summary(self) -> str:
        """One sentence on what happened, for the page and tooltips."""
        if self.refused_reason is not None:
            return f"The server refused your change: {self.refused_reason}"
        if not self.row_exists:
            return "Someone deleted this record, so your change could not be kept"
        if self.yours_kept:
            return "Your value was kept; someone else's change to the same field was overwritten"
        return "Someone else changed the same field later; their value replaced yours"


def field_label(field: str) -> str:
    from fieldrep.sync.protocol import DELETE_CLOCK, WHOLE_ROW

    if field == DELETE_CLOCK:
        return "Deleted"
    if field == WHOLE_ROW:
        return "New record"
    name = field.removesuffix("_id") if field.endswith("_id") else field
    return name.replace("_", " ").capitalize()


def record_name(tbl: str) -> str:
    return _RECORD_NAMES.get(tbl, tbl.replace("_", " ").capitalize())


def format_value(value: Any, field: str = "") -> str:
    """A value as a rep reads it: ``(empty)`` for nothing, Yes/No for flags."""
    from fieldrep.sync.protocol import DELETE_CLOCK, WHOLE_ROW

    if field == DELETE_CLOCK:
        return "Deleted"
    if field == WHOLE_ROW and isinstance(value, dict):
        # A refused new record: what the user wrote in it, most telling fields first.
        parts = [
            f"{field_label(k)}: {format_value(v, k)}"
            for k, v in value.items()
            if not k.endswith("_id") and k not in ("created_at", "updated_at")
        ]
        return "; ".join(parts) or "(a new record)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    return str(value)


def _device(clock: str | None) -> str | None:
    if not clock or "@" not in clock:
        return None
    return clock.split("@", 1)[1]


def _row(conn: sqlite3.Connection, tbl: str, row_id: str) -> dict[str, Any] | None:
    cur = conn.execute(f"SELECT * FROM {tbl} WHERE id = ?", (row_id,))
    found = cur.fetchone()
    if found is None:
        return None
    return dict(zip([d[0] for d in cur.description], found, strict=True))


def _row_label(tbl: str, row: dict[str, Any] | None, row_id: str) -> str:
    if row is not None:
        if tbl == "contacts":
            full = f"{row.get('first_name') or ''} {row.get('last_name') or ''}".strip()
            if full:
                return full
        for column in _LABEL_COLUMNS:
            if row.get(column):
                return str(row[column])
    return f"#{row_id[-8:]}"


def _item(conn: sqlite3.Connection, device_id: str, raw: tuple[Any, ...]) -> ConflictItem | None:
    from fieldrep.sync.protocol import REJECTED

    cid, tbl, row_id, field, kept_value, kept_clock, lost_value, lost_clock, detected = raw
    if tbl not in synced_tables():
        return None
    kept, lost = json.loads(kept_value or "null"), json.loads(lost_value or "null")
    refused = kept_clock == REJECTED
    # This laptop's clocks come back from the server under its opaque tag (issue 13), its own
    # pending ones under its device id: either is "mine".
    mine = {device_id, settings.get(conn, settings.SYNC_CLOCK_TAG) or device_id}
    yours_kept = not refused and _device(kept_clock) in mine and _device(lost_clock) not in mine
    row = _row(conn, tbl, row_id)
    return ConflictItem(
        id=int(cid),
        tbl=tbl,
        row_id=row_id,
        field=field,
        record=record_name(tbl),
        row_label=_row_label(tbl, row, row_id),
        field_label=field_label(field),
        your_value=kept if yours_kept else lost,
        other_value=None if refused else (lost if yours_kept else kept),
        yours_kept=yours_kept,
        refused_reason=str(kept) if refused else None,
        row_exists=row is not None,
        detected_at=str(detected),
        on_server=row is not None and int(row.get("_version") or 0) > 0,
    )


_SELECT = (
    "SELECT id, tbl, row_id, field, kept_value, kept_clock, lost_value, lost_clock, detected_at"
    " FROM conflicts WHERE resolved_at IS NULL"
)


def list_open(conn: sqlite3.Connection, device_id: str) -> list[ConflictItem]:
    """Open conflicts, newest first."""
    rows = conn.execute(f"{_SELECT} ORDER BY detected_at DESC, id DESC").fetchall()
    return [item for raw in rows if (item := _item(conn, device_id, raw)) is not None]


def open_count(conn: sqlite3.Connection) -> int:
    return int(
        conn.execute("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL").fetchone()[0]
    )


def get(conn: sqlite3.Connection, device_id: str, conflict_id: int) -> ConflictItem:
    raw = conn.execute(f"{_SELECT} AND id = ?", (conflict_id,)).fetchone()
    item = None if raw is None else _item(conn, device_id, raw)
    if item is None:
        raise StoreError(f"conflict {conflict_id} is already resolved or does not exist")
    return item


def _close(conn: sqlite3.Connection, item: ConflictItem, resolution: str) -> int:
    return conn.execute(
        "UPDATE conflicts SET resolved_at = ?, resolution = ? WHERE resolved_at IS NULL"
        " AND tbl = ? AND row_id = ? AND field = ?",
        (utc_now(), resolution, item.tbl, item.row_id, item.field),
    ).rowcount


def _write(writer: Writer, item: ConflictItem, value: Any) -> bool:
    """Make the row show ``value`` as a new local edit; False when it already did."""
    from fieldrep.sync.protocol import DELETE_CLOCK

    if item.field == DELETE_CLOCK:
        return writer.delete(item.tbl, item.row_id)
    return bool(writer.update(item.tbl, item.row_id, {item.field: value}))


def keep_yours(writer: Writer, conflict_id: int) -> bool:
    """Keep your value: written again as a new edit (sent at the next sync) unless the laptop
    already shows it. Returns whether a new edit was made."""
    from fieldrep.sync.protocol import WHOLE_ROW

    with writer.transaction() as conn:
        item = get(conn, writer.device_id, conflict_id)
        if item.field == WHOLE_ROW:
            return send_again(writer, conflict_id)  # a refused new record: sent whole
        if not item.row_exists:
            raise StoreError(
                f"this {item.record.lower()} was deleted, so your value cannot be kept"
            )
        if not item.can_keep_yours:
            raise StoreError(f"a {item.record.lower()} cannot be changed once it is written")
        written = _write(writer, item, item.your_value)
        _close(conn, item, KEPT_YOURS)
    return written


def accept_other(writer: Writer, conflict_id: int) -> bool:
    """Accept the other value: when yours had won, the other value is written as a new edit;
    otherwise the laptop already shows it (or will after the next sync, for a refused change).
    Returns whether a new edit was made."""
    with writer.transaction() as conn:
        item = get(conn, writer.device_id, conflict_id)
        written = False
        if item.yours_kept and item.row_exists:
            written = _write(writer, item, item.other_value)
        _close(conn, item, ACCEPTED_OTHER)
    return written


# -- refused changes: the row stays on the laptop until the user decides ----------------------

SENT_AGAIN = "sent_again"
HANDED_OVER = "handed_to_manager"
DISCARDED = "discarded"
# Tables whose refused rows can be handed to the user's manager (they have an owner).
HANDABLE = frozenset({"accounts", "referrals"})


def _refused(conn: sqlite3.Connection, device_id: str, conflict_id: int) -> ConflictItem:
    item = get(conn, device_id, conflict_id)
    if item.refused_reason is None:
        raise StoreError("this conflict is not a change the server refused")
    if not item.row_exists:
        raise StoreError(f"this {item.record.lower()} is no longer on this laptop")
    return item


def _close_row(conn: sqlite3.Connection, tbl: str, row_id: str, resolution: str) -> int:
    """Close every open refusal of one row (the decision covers the whole row)."""
    from fieldrep.sync.protocol import REJECTED

    return conn.execute(
        "UPDATE conflicts SET resolved_at = ?, resolution = ? WHERE resolved_at IS NULL"
        " AND tbl = ? AND row_id = ? AND kept_clock = ?",
        (utc_now(), resolution, tbl, row_id, REJECTED),
    ).rowcount


def _send_whole(writer: Writer, tbl: str, row_id: str) -> None:
    """Queue every field of the row as it is on this laptop, with a fresh clock: the server may
    never have had the row (it refused its insert), so it needs all of it."""
    conn = writer.conn
    fields = synced_tables()[tbl].fields
    row = conn.execute(f"SELECT {', '.join(fields)} FROM {tbl} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        raise StoreError(f"{tbl} {row_id} is no longer on this laptop")
    values = dict(zip(fields, row, strict=True))
    stamp = writer.clock.stamp()
    clocks = dict.fromkeys(values, stamp)
    conn.execute(f"UPDATE {tbl} SET _clocks = ? WHERE id = ?", (json.dumps(clocks), row_id))
    conn.execute(
        "INSERT INTO outbox (tbl, row_id, op, fields, clocks, created_at)"
        " VALUES (?, ?, 'upsert', ?, ?, ?)",
        (tbl, row_id, json.dumps(values), json.dumps(clocks), utc_now()),
    )


def send_again(writer: Writer, conflict_id: int) -> bool:
    """Send a refused row again, as it is on the laptop now (edit it first to fix what the server
    objected to). Its refusals close when the server accepts it; refused again, they stay."""
    with writer.transaction() as conn:
        item = _refused(conn, writer.device_id, conflict_id)
        if synced_tables()[item.tbl].insert_only:
            version = conn.execute(
                f"SELECT _version FROM {item.tbl} WHERE id = ?", (item.row_id,)
            ).fetchone()[0]
            if version:
                raise StoreError(f"a {item.record.lower()} cannot be changed once it is written")
        _send_whole(writer, item.tbl, item.row_id)
    return True


def manager_of(conn: sqlite3.Connection, user_id: str | None) -> str | None:
    if not user_id:
        return None
    row = conn.execute("SELECT manager_id FROM users WHERE id = ?", (user_id,)).fetchone()
    return row[0] if row and row[0] else None


def hand_to_manager(writer: Writer, conflict_id: int, user_id: str | None) -> str:
    """Give a refused account or referral to the user's manager (owner), and send it again; the
    user keeps it in view as its creator. Returns the manager's id."""
    with writer.transaction() as conn:
        item = _refused(conn, writer.device_id, conflict_id)
        if item.tbl not in HANDABLE:
            raise StoreError(f"a {item.record.lower()} cannot be handed to a manager")
        manager = manager_of(conn, user_id)
        if manager is None:
            raise StoreError("you have no manager on this laptop's team list to hand it to")
        conn.execute(f"UPDATE {item.tbl} SET owner_id = ? WHERE id = ?", (manager, item.row_id))
        _send_whole(writer, item.tbl, item.row_id)
        _close_row(conn, item.tbl, item.row_id, HANDED_OVER)
    return manager


def discard_refused(writer: Writer, conflict_id: int) -> bool:
    """Drop a refused change (the UI asks first). A row the server does not show this user is
    removed from the laptop; one it does is fetched again at the next sync, with the server's
    values. Returns whether the row was removed."""
    with writer.transaction() as conn:
        item = _refused(conn, writer.device_id, conflict_id)
        _close_row(conn, item.tbl, item.row_id, DISCARDED)
        version = conn.execute(
            f"SELECT _version FROM {item.tbl} WHERE id = ?", (item.row_id,)
        ).fetchone()[0]
        pending = conn.execute(
            "SELECT 1 FROM outbox WHERE tbl = ? AND row_id = ?", (item.tbl, item.row_id)
        ).fetchone()
        if not version and not pending:
            # Never on the server, or no longer in this user's view: nothing to fetch back.
            conn.execute(f"DELETE FROM {item.tbl} WHERE id = ?", (item.row_id,))
            return True
        refetch = settings.get(conn, settings.SYNC_REFETCH)
        if [item.tbl, item.row_id] not in refetch:
            refetch.append([item.tbl, item.row_id])
        settings.put(conn, settings.SYNC_REFETCH, refetch)
    return False


def refused_reasons(conn: sqlite3.Connection, tbl: str) -> dict[str, str]:
    """Row id -> why the server refused it, for the rows of ``tbl`` with an open refusal (lists
    mark them "not accepted by the server: REASON")."""
    from fieldrep.sync.protocol import REJECTED

    out: dict[str, str] = {}
    for row_id, reason in conn.execute(
        "SELECT row_id, kept_value FROM conflicts WHERE kept_clock = ? AND resolved_at IS NULL"
        " AND tbl = ? ORDER BY id",
        (REJECTED, tbl),
    ):
        out.setdefault(row_id, str(json.loads(reason or "null")))
    return out
