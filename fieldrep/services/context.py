"""The services one open database offers, built once and handed to the UI or a CLI command."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from fieldrep.store import settings
from fieldrep.store.changes import ChangeHub
from fieldrep.store.db import open_connection
from fieldrep.store.writer import Writer

if TYPE_CHECKING:
    import sqlite_utils


class DatabasePath(type(Path())):  # type: ignore[misc]
    """A database's path that carries the change hub of the process that opened it.

    Background operations receive the database's path and open their own connection
    (``Context.open(db_path)``, one per thread); the path handing them the hub is what makes their
    commits announce to the same listeners as the GUI thread's, with no global to look it up in.
    Paths derived from it (``parent``, ``with_suffix``) carry no hub.
    """

    changes: ChangeHub

    def __new__(cls, path: str | os.PathLike[str], changes: ChangeHub) -> DatabasePath:
        self = super().__new__(cls, path)
        self.changes = changes
        return self  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[type[Path], tuple[str]]:
        return Path, (str(self),)  # the hub stays in its process (a child gets a plain path)


@dataclass
class Context:
    """An open database, its writer and the signed-in user (``None`` before the first sign-in).

    ``changes`` hears every transaction this context's writer commits; ``path`` carries the same
    hub, so contexts opened from it (worker threads) announce there too.
    """

    path: Path
    conn: sqlite3.Connection
    writer: Writer
    changes: ChangeHub
    closed: bool = field(default=False, init=False, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str], changes: ChangeHub | None = None) -> Context:
        """Open ``path``; commits announce to ``changes``, else to the hub the path carries, else
        to a new hub of this context's own."""
        hub = changes or getattr(path, "changes", None) or ChangeHub()
        conn = open_connection(path)
        # What sqlite_utils.Database(conn) would do, so writes behave the same before `db` is built.
        conn.execute("PRAGMA recursive_triggers=on")
        return cls(
            path=DatabasePath(path, hub),
            conn=conn,
            writer=Writer.open(conn, hub),
            changes=hub,
        )

    @cached_property
    def db(self) -> sqlite_utils.Database:
        """The connection wrapped by sqlite-utils, built on first use: importing sqlite-utils
        (and numpy with it) would cost the app's start-up a good part of a second."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @property
    def user_id(self) -> str | None:
        return settings.get(self.conn, settings.USER_ID)

    def set_user(self, user_id: str | None) -> None:
        with self.writer.transaction() as conn:
            settings.put(conn, settings.USER_ID, user_id)

    def user(self) -> dict[str, object] | None:
        uid = self.user_id
        if uid is None:
            return None
        cursor = self.conn.execute("SELECT * FROM users WHERE id = ?", [uid])
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cursor.description], row, strict=True))

    def role(self) -> str | None:
        """The role (rep, manager, admin) of the user this database belongs to; ``None`` for a
        database nobody signed in to (a local or demo book) or whose user has not arrived yet."""
        user = self.user()
        role = None if user is None else user.get("role")
        return str(role) if role else None

    @property
    def signed_in(self) -> bool:
        """Whether this laptop holds a device token for a sync server."""
        return bool(settings.get(self.conn, settings.DEVICE_TOKEN))

    def close(self) -> None:
        # ``closed`` tells a timer of a closing window that fires afterwards not to query.
        self.closed = True
        self.conn.close()
