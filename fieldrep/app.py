"""Builds the services and hands them to the UI; the ``fieldrep`` console script starts here."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from fieldrep import cli
from fieldrep.cli.common import database_kind_problem, print_error
from fieldrep.paths import default_db_path

log = logging.getLogger(__name__)

FIRST_RUN_DEMO_ACCOUNTS = 5000


def _ensure_display() -> None:
    """With no display server, run offscreen instead of aborting, and say so."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        print(
            "fieldrep: no display found, so the window is running offscreen "
            "(QT_QPA_PLATFORM=offscreen); press Ctrl+C to quit",
            file=sys.stderr,
        )


def _prepare_database(path: Path) -> None:
    """On first run create the embedded demo database, so the app opens on something useful."""
    if path.exists():
        return
    from fieldrep.services.context import Context
    from fieldrep.services.demo.build import DemoOptions, build_demo

    print(f"fieldrep: first run: creating a demo database at {path}", file=sys.stderr)
    ctx = Context.open(path)
    try:
        build_demo(ctx, DemoOptions(accounts=FIRST_RUN_DEMO_ACCOUNTS, seed=1))
    except BaseException:
        ctx.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise
    ctx.close()


def run_gui(args: argparse.Namespace) -> int:
    from fieldrep.store.errors import StoreError

    path = Path(args.db) if args.db else default_db_path()
    if args.db:  # a path given is opened, never made (demo, import and login make databases)
        why = (
            database_kind_problem(path)
            if path.exists()
            else f"there is no database at {path} (demo, import and login create one)"
        )
        if why is not None:
            print_error(why)
            return 2
    try:
        if not args.db:
            _prepare_database(path)
    except StoreError as exc:
        print_error(str(exc))
        return 1
    _ensure_display()
    from fieldrep.store.changes import ChangeHub
    from fieldrep.ui.application import run

    # The one change notification of this process: every connection the app opens announces
    # its commits here, and the pages refresh from it (fieldrep.store.changes).
    return run(path, ChangeHub())


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, gui=run_gui)
