"""The services one open database offers, built once and handed to the UI or a CLI command."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from fieldrep.store import local_meta
from fieldrep.store.db import open_connection
from fieldrep.store.writer import Writer

if TYPE_CHECKING:
    import sqlite_utils


@dataclass
class Context:
    """An open database, its writer and the signed-in user (``None`` before the first sign-in)."""

    path: Path
    conn: sqlite3.Connection
    writer: Writer

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Context:
        conn = open_connection(path)
        # What sqlite_utils.Database(conn) would do, so writes behave the same before `db` is built.
        conn.execute("PRAGMA recursive_triggers=on")
        return cls(path=Path(path), conn=conn, writer=Writer.open(conn))

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection wrapped by sqlite-utils, built on first use: importing sqlite-utils
        (and numpy with it) would cost the app's start-up a good part of a second."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @property
    def user_id(self) -> str | None:
        return local_meta.get(self.conn, "user_id")

    def set_user(self, user_id: str | None) -> None:
        with self.writer.transaction() as conn:
            local_meta.put(conn, "user_id", user_id)

    def user(self) -> dict[str, object] | None:
        uid = self.user_id
        if uid is None:
            return None
        cursor = self.conn.execute("SELECT * FROM users WHERE id = ?", [uid])
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def close(self) -> None:
        self.conn.close()
