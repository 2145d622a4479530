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


def open_context(args: argparse.Namespace, *, must_exist: bool = False) -> Context:
    """Open the command's database; ``must_exist`` for commands that only read one (no new file)."""
    path = db_path(args)
    if must_exist and not path.exists():
        raise CommandError(f"there is no database at {path}")
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
