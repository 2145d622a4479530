"""Small key/value facts about this installation kept in the database (device id, clock, cursor)."""

from __future__ import annotations

import sqlite3


def get(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM local_meta WHERE key = ?", (key,)).fetchone()
    return default if row is None else row[0]


def put(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """Set ``key``; call inside the caller's transaction, or alone in autocommit mode."""
    conn.execute(
        "INSERT INTO local_meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
