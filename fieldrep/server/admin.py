"""Server-side administration: users (a synced ``users`` row plus a password hash), devices, bulk
loading rows written by the server itself, and purging old tombstones.

Rows the server writes get field clocks from the server's own hybrid logical clock (device ``server``)
so they merge with laptop edits like any other write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from fieldrep.domain.hlc import HybridLogicalClock, format_clock, parse_clock
from fieldrep.domain.ids import uuid7
from fieldrep.domain.vocabulary import ROLES
from fieldrep.server import auth
from fieldrep.server.merge import BASE_VERSION, dump_clocks, load_row, write_row
from fieldrep.server.storage import Storage, Tx
from fieldrep.server.validate import complete_row
from fieldrep.store.catalog import synced_tables, table
from fieldrep.store.writer import utc_now

SERVER_DEVICE = "server"
_clock = HybridLogicalClock(device_id=SERVER_DEVICE)


class AdminError(Exception):
    """An administrative action was refused; the message says why."""


def note_clock(tx: Tx, clock: str) -> None:
    """Remember the largest clock seen, handed to clients so their clocks move past it."""
    tx.note_clock(clock)


def put_rows(
    storage: Storage,
    tbl: str,
    rows: Iterable[Mapping[str, Any]],
    batch: int = 5000,
    *,
    new: bool = False,
) -> list[str]:
    """Insert or overwrite rows as the server (bulk, for administration and benchmarks).
    ``new=True`` promises the ids are new (or absent), skipping the lookup of each row."""
    ids: list[str] = []
    pending = list(rows)
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        with storage.write() as tx:
            numbers = iter(tx.versions(len(chunk)))
            inserts: list[tuple[Any, ...]] = []
            fields = table(tbl).fields
            stamp = ""
            for raw in chunk:
                values = dict(raw)
                row_id = str(values.pop("id", None) or uuid7())
                version = next(numbers)
                stamp = format_clock(_clock.now(), SERVER_DEVICE)
                current = None if new else load_row(tx, tbl, row_id)
                if current is not None:
                    merged = {**current[0], **values}
                    clocks = {**current[1], **dict.fromkeys(values, stamp)}
                    write_row(
                        tx,
                        tbl,
                        row_id,
                        complete_row(tbl, row_id, merged),
                        clocks,
                        version,
                        insert=False,
                        deleted=current[2],
                        field_versions={**current[4], **dict.fromkeys(values, version)},
                    )
                else:
                    for stamp_field in ("created_at", "updated_at"):
                        if stamp_field in fields and values.get(stamp_field) is None:
                            values[stamp_field] = utc_now()
                    full = complete_row(tbl, row_id, values)
                    clocks = dict.fromkeys(values, stamp)
                    inserts.append(
                        (
                            row_id,
                            *(full.get(f) for f in fields),
                            dump_clocks(clocks),
                            version,
                            json.dumps({BASE_VERSION: version}),
                        )
                    )
                ids.append(row_id)
            if inserts:
                cols = ", ".join(["id", *fields, "_clocks", "_version", "_fversions"])
                marks = ", ".join("?" * (len(fields) + 4))
                tx.executemany(f"INSERT INTO {tbl} ({cols}) VALUES ({marks})", inserts)
            if stamp:
                note_clock(tx, stamp)
    return ids


def add_user(
    storage: Storage,
    username: str,
    role: str,
    password: str,
    *,
    display_name: str = "",
    manager_id: str | None = None,
    user_id: str | None = None,
    password_hash: str | None = None,
) -> str:
    """Create a user who can sign in; ``password_hash`` (from :func:`auth.hash_password`) lets a
    caller creating many users pay for the key derivation once."""
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not username.strip():
        raise AdminError("a user name cannot be empty")
    check_password(password)
    with storage.read() as tx:
        existing = tx.one(
            "SELECT u.id, c.user_id FROM users u LEFT JOIN credentials c ON c.user_id = u.id"
            " WHERE u.username = ? AND u._deleted = 0",
            (username,),
        )
    if existing is not None and existing[1] is not None:
        raise AdminError(f"there is already a user named {username!r}")
    if existing is not None:
        # A user row that arrived by sync (e.g. from an admin's laptop) gets its password here,
        # keeping its id so the rows that refer to it stay theirs.
        user_id = str(existing[0])
        changes: dict[str, Any] = {"id": user_id, "role": role, "active": 1}
        if display_name:
            changes["display_name"] = display_name
        if manager_id:
            changes["manager_id"] = manager_id
        put_rows(storage, "users", [changes])
        _set_credentials(storage, user_id, password_hash or auth.hash_password(password))
        return user_id
    user_id = user_id or uuid7()
    values = {
        "id": user_id,
        "username": username,
        "role": role,
        "display_name": display_name or username,
        "manager_id": manager_id,
        "created_at": utc_now(),
    }
    put_rows(storage, "users", [values])
    _set_credentials(storage, user_id, password_hash or auth.hash_password(password))
    return user_id


def _set_credentials(storage: Storage, user_id: str, hashed: str) -> None:
    with storage.write() as tx:
        tx.execute(
            "INSERT INTO credentials (user_id, password_hash) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash,"
            " disabled = 0",
            (user_id, hashed),
        )


MIN_PASSWORD = 8


def check_password(password: str) -> None:
    """The rule every new password meets (``user add`` and ``user password`` alike)."""
    if len(password) < MIN_PASSWORD:
        raise AdminError(f"the password must have at least {MIN_PASSWORD} characters")


def set_password(storage: Storage, username: str, password: str) -> int:
    """Give ``username`` a new password and sign out every device signed in with the old one (a
    disabled user stays disabled); returns how many devices were signed out."""
    check_password(password)
    user_id = user_id_of(storage, username)
    hashed = auth.hash_password(password)
    with storage.write() as tx:
        tx.execute(
            "INSERT INTO credentials (user_id, password_hash) VALUES (?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash",
            (user_id, hashed),
        )
        cur = tx.execute(
            "UPDATE devices SET revoked_at = ?, token_hash = NULL"
            " WHERE user_id = ? AND revoked_at IS NULL",
            (utc_now(), user_id),
        )
        return int(cur.rowcount or 0)


def enable_user(storage: Storage, username: str) -> None:
    """Let a disabled user sign in again; their old device tokens stay revoked."""
    user_id = user_id_of(storage, username)
    put_rows(storage, "users", [{"id": user_id, "active": 1}])
    with storage.write() as tx:
        tx.execute("UPDATE credentials SET disabled = 0 WHERE user_id = ?", (user_id,))


def user_id_of(storage: Storage, username: str) -> str:
    with storage.read() as tx:
        row = tx.one("SELECT id FROM users WHERE username = ? AND _deleted = 0", (username,))
    if row is None:
        raise AdminError(f"there is no user named {username!r}")
    return str(row[0])


def list_users(storage: Storage) -> list[dict[str, Any]]:
    with storage.read() as tx:
        rows = tx.all(
            "SELECT u.id, u.username, u.display_name, u.role, u.manager_id, u.active,"
            " c.user_id IS NOT NULL, (SELECT count(*) FROM devices d WHERE d.user_id = u.id"
            " AND d.revoked_at IS NULL) FROM users u LEFT JOIN credentials c ON c.user_id = u.id"
            " WHERE u._deleted = 0 ORDER BY u.username"
        )
    keys = (
        "id",
        "username",
        "display_name",
        "role",
        "manager_id",
        "active",
        "can_sign_in",
        "devices",
    )
    users = [dict(zip(keys, r, strict=True)) for r in rows]
    for user in users:  # SQLite answers 0/1 where PostgreSQL answers booleans
        user["active"] = bool(user["active"])
        user["can_sign_in"] = bool(user["can_sign_in"])
        user["devices"] = int(user["devices"])
    return users


def disable_user(storage: Storage, username: str) -> int:
    """Deactivate a user and revoke every device token; returns how many tokens were revoked."""
    user_id = user_id_of(storage, username)
    put_rows(storage, "users", [{"id": user_id, "active": 0}])
    with storage.write() as tx:
        tx.execute("UPDATE credentials SET disabled = 1 WHERE user_id = ?", (user_id,))
        cur = tx.execute(
            "UPDATE devices SET revoked_at = ?, token_hash = NULL"
            " WHERE user_id = ? AND revoked_at IS NULL",
            (utc_now(), user_id),
        )
        return int(cur.rowcount or 0)


def purge_tombstones(storage: Storage, older_than_days: float) -> int:
    """Physically remove tombstones whose delete is older than the allowed offline period.

    Clients whose cursor is below the newest purged version get a replacement sync.
    """
    limit_ms = int((time.time() - older_than_days * 86400) * 1000)
    removed = 0
    with storage.write() as tx:
        tx.next_versions(0)
        top = 0
        for tbl in synced_tables():
            for row_id, clocks, version in tx.all(
                f"SELECT id, _clocks, _version FROM {tbl} WHERE _deleted = 1"
            ):
                clock = json.loads(clocks).get("_deleted")
                if clock and (parse_clock(clock)[0] >> 16) < limit_ms:
                    tx.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
                    top = max(top, int(version))
                    removed += 1
        if top:
            tx.execute(
                "UPDATE server_state SET purged_through = ? WHERE id = 1 AND purged_through < ?",
                (top, top),
            )
    return removed
