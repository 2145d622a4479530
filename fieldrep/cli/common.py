"""Helpers shared by CLI commands: the --db and --json options, opening the database, errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fieldrep.paths import default_db_path
from fieldrep.services.context import Context
from fieldrep.store.errors import StoreError


class CommandError(Exception):
    """A command failed; the message is one sentence for stderr."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_error(message: str) -> None:
    message = message.strip()
    print(f"fieldrep: error: {message}", file=sys.stderr)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        type=Path,
        default=None,
        help=f"database file (default: {default_db_path()})",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")


def db_path(args: argparse.Namespace) -> Path:
    return Path(args.db) if getattr(args, "db", None) else default_db_path()


# Commands that may create the database they are pointed at (and then say so); every other one
# refuses a --db path where there is none, so a typo never reads an empty new database.
CREATING_HANDLERS = frozenset(("run", "run_login", "run_import_accounts", "run_import_contacts"))
CREATING_COMMANDS = frozenset(("demo", "import", "login"))
_SQLITE_MAGIC = b"SQLite format 3\x00"
# Tables only the sync server's database has (fieldrep.server.storage).
_SERVER_TABLES = ("server_state", "credentials")


def database_kind_problem(path: Path) -> str | None:
    """Why ``path`` is not a laptop's FieldRep database, naming what it is; None when it may be."""
    if path.is_dir():
        return f"{path} is a folder, not a FieldRep database"
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if not head:
        return f"{path} is an empty file (0 bytes), not a FieldRep database"
    if not head.startswith(_SQLITE_MAGIC):
        shown = head[:16].decode("ascii", "replace")
        return f"{path} is not a SQLite database (it starts with {shown!r})"
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"{path} is a damaged SQLite file ({exc})"
    if any(t in names for t in _SERVER_TABLES):
        return f"{path} is a FieldRep sync server's database, not a laptop's"
    if names and "accounts" not in names:
        return f"{path} is a SQLite database of another program (no FieldRep tables)"
    return None


def server_db_problem(url: str | None) -> str | None:
    """Why ``url`` (``fieldrep serve --db``) is not a sync server's database file, if it is a
    file of another kind: a laptop's database, an empty file, not SQLite."""
    if not url or "://" in url:
        return None
    path = Path(url)
    if not path.exists():
        return None
    why = database_kind_problem(path)
    if why is not None and "sync server's database" in why:
        return None
    if why is None:
        has_tables = path.stat().st_size > 0
        if has_tables:
            import sqlite3

            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                has_tables = (
                    conn.execute(
                        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accounts'"
                    ).fetchone()
                    is not None
                )
            finally:
                conn.close()
        return (
            f"{path} is a laptop's FieldRep database, not a sync server's" if has_tables else None
        )
    if "empty file" in why:
        return None  # a new server database may start as an empty file
    return why


def port_problem(host: str, port: int) -> str | None:
    """Why the server cannot listen on ``host:port`` (in use, not allowed), asked before
    starting so the answer is one sentence instead of the ASGI server's log."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
        except OSError as exc:
            busy = (
                "is in use (another server running?)"
                if exc.errno in (98, 48, 10048)
                else (f"cannot be used ({exc.strerror})")
            )
            return f"cannot listen on {host}:{port}: the port {busy}"
    return None


def _may_create(args: argparse.Namespace) -> bool:
    handler = getattr(getattr(args, "handler", None), "__name__", "")
    command = getattr(args, "command", None)
    if command == "demo":
        return True
    if command == "import" and handler in CREATING_HANDLERS:
        return True
    return command in CREATING_COMMANDS and handler in CREATING_HANDLERS


def open_context(args: argparse.Namespace, *, must_exist: bool = False) -> Context:
    """Open the command's database; ``must_exist`` for commands that only read one (no new file).

    A ``--db`` path where there is no file is refused (exit 2) unless the command creates
    databases (demo, import, login), which then says it made one; a file that is not a laptop's
    FieldRep database is refused naming what it is."""
    path = db_path(args)
    explicit = bool(getattr(args, "db", None))
    if not path.exists():
        if must_exist or (explicit and not _may_create(args)):
            raise CommandError(
                f"there is no database at {path} (demo, import and login create one)",
                exit_code=2,
            )
        if explicit:
            args.created_db = path  # said once the command has succeeded (fieldrep.cli.main)
    else:
        why = database_kind_problem(path)
        if why is not None:
            raise CommandError(why, exit_code=2)
    try:
        return Context.open(path)
    except StoreError as exc:
        raise CommandError(str(exc)) from exc


def emit(args: argparse.Namespace, summary: dict[str, Any], text: str) -> None:
    """Print ``summary`` as JSON with --json, else the human ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(summary, indent=2, default=str))
    else:
        print(text)
