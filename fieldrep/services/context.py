"""The services one open database offers, built once and handed to the UI or a CLI command."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from fieldrep.store import local_meta
from fieldrep.store.db import open_db
from fieldrep.store.writer import Writer


@dataclass
class Context:
    """An open database, its writer and the signed-in user (``None`` before the first sign-in)."""

    path: Path
    db: sqlite_utils.Database
    writer: Writer

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Context:
        db = open_db(path)
        return cls(path=Path(path), db=db, writer=Writer.open(db))

    @property
    def user_id(self) -> str | None:
        return local_meta.get(self.db.conn, "user_id")

    def set_user(self, user_id: str | None) -> None:
        with self.writer.transaction() as conn:
            local_meta.put(conn, "user_id", user_id)

    def user(self) -> dict[str, object] | None:
        uid = self.user_id
        if uid is None:
            return None
        rows = list(self.db.query("SELECT * FROM users WHERE id = ?", [uid]))
        return rows[0] if rows else None

    def close(self) -> None:
        self.db.conn.close()
