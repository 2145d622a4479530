"""Opening a FieldRep database: one connection per thread, WAL, and migration to the current schema."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from fieldrep.store.errors import NewerDatabaseError, StoreError
from fieldrep.store.migrations import LATEST_VERSION, migrate, schema_version

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file")
    if path.exists():
        if not os.access(path, os.R_OK):
            raise StoreError(f"cannot read {path}: permission denied")
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
        if header and header != SQLITE_HEADER:
            raise StoreError(f"{path} is not a FieldRep database (it is not an SQLite file)")
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            raise StoreError(
                f"cannot write to {path}: the file or its folder is read-only"
                " (FieldRep needs to write its journal beside the database)"
            )
    else:
        folder = path.parent
        if not folder.exists():
            try:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {folder}: {exc.strerror}") from exc
        if not os.access(folder, os.W_OK):
            raise StoreError(f"cannot create a database in {folder}: the folder is read-only")
        # The database holds the device token: readable by its owner only (SQLite gives the
        # journal files beside it the same permissions).
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """An SQLite file with tables but no FieldRep schema belongs to another program: refused
    before anything is written to it (an empty file becomes a new FieldRep database)."""
    tables = [
        name
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name LIMIT 3"
        )
    ]
    if tables:
        shown = ", ".join(repr(t) for t in tables)
        raise StoreError(
            f"{path} is not a FieldRep database: it is another program's SQLite database (with"
            f" tables such as {shown}); it was left as it was"
        )


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A raw connection with FieldRep's pragmas, no migration. Transactions are explicit (BEGIN)."""
    conn = sqlite3.connect(os.fspath(path), isolation_level=None, timeout=30.0)
    try:
        _apply_pragmas(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path} is not a FieldRep database ({exc})") from exc
    return conn


def _apply_pragmas(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")


def open_db(path: str | os.PathLike[str], *, migrate_schema: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) and migrate the database at ``path``.

    Raises :class:`StoreError` with a one-sentence reason for a corrupt or foreign file, a read-only
    location, a database from a newer FieldRep, or a migration that could not complete; in each case
    the file is left as it was.
    """
    import sqlite_utils  # costly (it pulls in numpy): see open_connection

    return sqlite_utils.Database(open_connection(path, migrate_schema=migrate_schema))


def open_connection(
    path: str | os.PathLike[str], *, migrate_schema: bool = True
) -> sqlite3.Connection:
    """:func:`open_db` without the sqlite-utils wrapper, for start-up paths that cannot wait for
    sqlite-utils' import; the same checks, pragmas, migration and errors."""
    path = Path(path)
    _check_file(path)
    conn = sqlite3.connect(os.fspath(path), isolation_level=None, timeout=30.0)
    try:
        # Read the version before any pragma: switching to WAL rewrites the header, and a database
        # we refuse must stay byte-for-byte as it was.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        version = schema_version(conn)
        if version == 0:
            _refuse_foreign(conn, path)
        if version > LATEST_VERSION:
            raise NewerDatabaseError(
                f"{path} was written by a newer FieldRep (schema {version}, this version"
                f" understands up to {LATEST_VERSION}); please update FieldRep"
            )
        _apply_pragmas(conn)
        if migrate_schema:
            migrate(conn, path)
    except StoreError:
        conn.close()
        raise
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StoreError(f"{path} is not a usable FieldRep database ({exc})") from exc
    return conn
