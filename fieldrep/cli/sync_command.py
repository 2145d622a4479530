"""``fieldrep login``, ``fieldrep sync`` and ``fieldrep logout``: the headless sync client.

``login`` stores the server URL and this device's token in the database (the server keeps only its
hash); ``sync`` runs the same engine the desktop app runs in the background and prints what moved;
``logout`` forgets the token and keeps every change still waiting to be sent.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from typing import TextIO

from fieldrep.cli.common import CommandError, add_db_option, add_json_option, emit, open_context


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    login = sub.add_parser("login", help="sign this database in to a sync server")
    login.add_argument(
        "--server",
        required=True,
        metavar="URL",
        help="the sync server, e.g. https://sync.example.com:8765",
    )
    login.add_argument("--user", required=True, metavar="NAME")
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add_db_option(login)
    add_json_option(login)
    login.set_defaults(handler=run_login)
    sync = sub.add_parser("sync", help="send local changes and fetch the server's, once")
    sync.add_argument(
        "--check",
        action="store_true",
        help="always compare row counts and checksums with the server afterwards"
        " (otherwise done when due, every few hours)",
    )
    add_db_option(sync)
    add_json_option(sync)
    sync.set_defaults(handler=run_sync)
    logout = sub.add_parser("logout", help="sign this database out (unsent changes are kept)")
    add_db_option(logout)
    add_json_option(logout)
    logout.set_defaults(handler=run_logout)


def run_login(args: argparse.Namespace) -> int:
    from fieldrep.cli.server_command import read_password
    from fieldrep.store import settings
    from fieldrep.sync.client import is_demo, sign_in
    from fieldrep.sync.transport import HttpTransport, SyncError

    password = read_password(args)
    ctx = open_context(args)
    transport = HttpTransport(args.server)
    demo = is_demo(ctx.db.conn)
    try:
        resp = sign_in(ctx.writer, transport, args.user, password)
        kept = (settings.get(ctx.db.conn, settings.DEMO_KEPT_AT) or None) if demo else None
    except SyncError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        transport.close()
        ctx.close()
    text = f"signed in to {args.server} as {resp.username} ({resp.role}); run `fieldrep sync`"
    if kept:
        text = (
            f"this database held the demo: it was copied to {kept} and nothing of it is sent;"
            f" this database now starts as your team's\n{text}"
        )
    emit(
        args,
        {
            "server": args.server,
            "user": resp.username,
            "user_id": resp.user_id,
            "role": resp.role,
            "demo_kept_at": kept,
        },
        text,
    )
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from fieldrep.store import settings
    from fieldrep.sync.client import SyncEngine, transport_for
    from fieldrep.sync.transport import SyncError

    ctx = open_context(args)
    try:
        transport = transport_for(ctx.writer)
        try:
            engine = SyncEngine(ctx.writer, transport, progress=PushProgress(sys.stderr))
            if args.check:
                engine.verify_every = 0
            result = engine.run()
        finally:
            transport.close()
    except (SyncError, sqlite3.Error, ValueError) as exc:
        # A database or page error rolled back the page being applied: nothing half-written.
        message = str(exc)
        if not isinstance(exc, SyncError):
            message = f"sync stopped while applying the server's changes ({exc}); try again"
        with ctx.writer.transaction() as conn:
            settings.put(conn, settings.SYNC_LAST_ERROR, message)
        ctx.close()
        raise CommandError(message) from exc
    except BaseException:
        ctx.close()
        raise
    from fieldrep.services.sync.session import after_sync

    after_sync(ctx, result.pulled)  # as the app does: duplicates linked, rewards of moves received
    ctx.close()
    lines = [
        f"sent {result.pushed} change(s)"
        + (f", {result.skipped} already on the server" if result.skipped else ""),
        f"received {result.pulled} row(s), {result.deleted} deletion(s)",
    ]
    if result.evicted or result.removed:
        lines.append(f"removed {result.evicted + result.removed} row(s) no longer in your scope")
    if result.rejected:
        lines.append(
            f"{result.rejected} change(s) not accepted by the server; they stay on this laptop,"
            " marked, until you send them again, hand them to a manager or discard them"
            " (Conflicts page):"
        )
        for reason, count in sorted(result.refusals.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {count} x {reason}")
    if result.conflicts:
        lines.append(f"{result.conflicts} conflict(s) to review")
    if result.replaced:
        lines.append("fetched everything again (replacement sync)")
    lines.append(
        {
            True: "checked: this laptop matches the server",
            False: "warning: this laptop still differs from the server",
            None: "checksums not compared this time (done every few hours; --check forces it)",
        }[result.verified]
    )
    if result.rejected:
        lines.append(f"exit status 1: {result.rejected} change(s) were refused")
    emit(args, result.to_dict(), "\n".join(lines))
    return 0 if result.verified is not False and not result.rejected else 1


class PushProgress:
    """ "sent x of y changes (r/s)" on stderr while a long push runs (more than one batch): a
    progress callback of the one shape (``done, total, text``), hearing only the push's lines."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.shown = False
        self.last = 0

    def __call__(self, done: int, total: int | None, text: str) -> None:
        from fieldrep.sync.client import SENDING

        if not text.startswith(SENDING) or not total or done == self.last:
            return
        self.last = done
        if done >= total and not self.shown:
            return  # a push of one batch: the summary says it all
        rate = done / max(time.monotonic() - self.started, 1e-6)
        self.stream.write(f"sent {done:,} of {total:,} changes ({rate:,.0f}/s)\n")
        self.stream.flush()
        self.shown = True


def run_logout(args: argparse.Namespace) -> int:
    from fieldrep.sync.client import sign_out, transport_for
    from fieldrep.sync.transport import SyncError

    ctx = open_context(args)
    try:
        try:
            transport = transport_for(ctx.writer)
        except SyncError:
            transport = None
        sign_out(ctx.writer, transport)
        if transport is not None:
            transport.close()
        pending = ctx.writer.pending_count()
    finally:
        ctx.close()
    emit(
        args,
        {"signed_out": True, "pending_changes": pending},
        f"signed out; {pending} unsent change(s) stay on this laptop",
    )
    return 0
