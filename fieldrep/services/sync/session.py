"""Signing in, syncing and signing out for the desktop app, without Qt.

The GUI's sync controller runs these on its task runner; each opens its own connection to the
database (one per thread) and closes it. Errors become a :class:`Problem`: a short headline for the
status bar and a sentence of advice, in the words a rep uses ("Can't reach the sync server"), never
an exception name. The password given to :func:`sign_in_to` only travels to the server; what is
stored is the device token ``sign_in`` receives (the server keeps its hash).

Kept whole: sign-in, sync, sign-out and the words the status bar shows for each are one
conversation with the server, short functions over one Problem and one status.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.services.sync import conflicts
from fieldrep.store import settings

# The network side (httpx, and the sync client with its pydantic protocol) is imported inside the
# operations that use it: the window reads the status at start-up and must not wait for them.
if TYPE_CHECKING:
    from fieldrep.sync.client import SyncResult
    from fieldrep.sync.protocol import LoginResponse
    from fieldrep.sync.transport import HttpTransport

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
TransportFactory = Callable[[Context], "HttpTransport"]

# How long one request may take before the sync gives up (the user can cancel sooner).
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Problem:
    """Why sync or sign-in did not work, for people."""

    headline: str  # "Can't reach the sync server"
    advice: str  # "Your changes are safe on this laptop; FieldRep tries again when ..."
    retry_later: bool = False  # the network or the server: trying again later may work
    sign_in_needed: bool = False

    @property
    def sentence(self) -> str:
        return f"{self.headline}. {self.advice}"


@dataclass(frozen=True)
class SyncStatus:
    """What the status bar and the settings dialog show about sync."""

    server_url: str | None
    signed_in: bool
    username: str | None
    last_sync_at: str | None
    last_error: str
    pending: int
    open_conflicts: int


def read_status(conn: sqlite3.Connection) -> SyncStatus:
    return SyncStatus(
        server_url=settings.get(conn, settings.SERVER_URL) or None,
        signed_in=bool(settings.get(conn, settings.DEVICE_TOKEN)),
        username=settings.get(conn, settings.SYNC_USERNAME) or None,
        last_sync_at=settings.get(conn, settings.LAST_SYNC_AT) or None,
        last_error=settings.get(conn, settings.SYNC_LAST_ERROR),
        pending=int(conn.execute("SELECT count(*) FROM outbox").fetchone()[0]),
        open_conflicts=conflicts.open_count(conn),
    )


def signed_in_server(conn: sqlite3.Connection) -> str | None:
    """The server this laptop is signed in to, if any: :func:`read_status` without its counts."""
    if not settings.get(conn, settings.DEVICE_TOKEN):
        return None
    return settings.get(conn, settings.SERVER_URL) or None


def _sentence_case(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def problem_for(exc: BaseException, *, signing_in: bool = False) -> Problem:
    """The words to show for what went wrong."""
    import httpx

    from fieldrep.sync.transport import (
        AuthRequired,
        NetworkError,
        ServerRefused,
        SyncError,
        UpgradeRequired,
    )

    safe = "Your changes are safe on this laptop"
    if isinstance(exc, UpgradeRequired):
        if "update the server" in str(exc):
            return Problem(
                "The sync server is out of date",
                "Ask your administrator to update it; your changes stay on this laptop",
            )
        return Problem(
            "This version of FieldRep is too old for the server",
            f"Please update FieldRep, then sync again. {safe}",
        )
    if isinstance(exc, AuthRequired):
        if signing_in:
            return Problem("Wrong user name or password", "Check both and try again")
        return Problem(
            "You are signed out of the sync server",
            f"Open Sync settings and sign in again. {safe}",
            sign_in_needed=True,
        )
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        if isinstance(cause, httpx.TimeoutException):
            headline = "The sync server did not answer in time"
        elif isinstance(cause, httpx.TransportError):
            headline = "Can't reach the sync server"
        else:  # the server answered, with a 5xx or "too many attempts"
            headline = f"The sync server had a problem ({_sentence_case(str(exc))})"
        return Problem(headline, f"{safe}; FieldRep will try again", retry_later=True)
    if isinstance(exc, ServerRefused):
        return Problem(
            f"The sync server refused: {_sentence_case(str(exc)).lower()}",
            f"{safe}. If this keeps happening, tell your administrator",
        )
    if isinstance(exc, SyncError):
        if "not signed in" in str(exc):
            return Problem(
                "Not signed in to a sync server",
                "Open Sync settings to sign in; until then everything stays on this laptop",
                sign_in_needed=True,
            )
        return Problem(_sentence_case(str(exc)), safe, retry_later=True)
    if isinstance(exc, httpx.InvalidURL | ValueError) and signing_in:
        return Problem("That server address is not valid", "It looks like https://sync.example.com")
    return Problem(
        "Sync stopped because of an unexpected problem",
        f"{safe}. Details: {exc}",
    )


# -- operations (run off the GUI thread) --------------------------------------------------------


def normalise_url(url: str) -> str:
    """``sync.example.com:8765`` -> ``https://sync.example.com:8765``; loopback stays on http."""
    url = url.strip().rstrip("/")
    if not url:
        raise ValueError("enter the server address")
    if "://" not in url:
        host = url.split("/", 1)[0].split(":", 1)[0]
        scheme = "http" if host in ("localhost", "127.0.0.1", "::1") else "https"
        url = f"{scheme}://{url}"
    import httpx

    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{url!r} is not a web address")
    return url


def sign_in_to(db_path: PathLike, url: str, username: str, password: str) -> LoginResponse:
    """Sign the database at ``db_path`` in; the password is sent, never stored."""
    from fieldrep.sync.client import sign_in
    from fieldrep.sync.transport import HttpTransport

    ctx = Context.open(db_path)
    try:
        with HttpTransport(normalise_url(url), timeout=REQUEST_TIMEOUT) as transport:
            resp = sign_in(ctx.writer, transport, username, password)
        with ctx.writer.transaction() as conn:
            settings.put(conn, settings.SYNC_USERNAME, resp.username)
        return resp
    finally:
        ctx.close()


def demo_notice(db_path: PathLike) -> str | None:
    """What to tell the user after signing in from the demo database (None: it was not one):
    the demo was copied aside and the database now starts as their team's."""
    ctx = Context.open(db_path)
    try:
        kept = settings.get(ctx.conn, settings.DEMO_KEPT_AT)
    finally:
        ctx.close()
    if not kept:
        return None
    return (
        f"This database held the demo. It was copied to {os.path.basename(kept)} beside it, and"
        " nothing of it is sent: from now on this database holds your team's data."
    )


def sign_out_of(db_path: PathLike) -> int:
    """Forget the device token (revoked on the server when reachable); returns the changes kept."""
    from fieldrep.sync.client import sign_out, transport_for
    from fieldrep.sync.transport import SyncError

    ctx = Context.open(db_path)
    try:
        try:
            transport: HttpTransport | None = transport_for(ctx.writer, timeout=REQUEST_TIMEOUT)
        except SyncError:
            transport = None
        try:
            sign_out(ctx.writer, transport)
        finally:
            if transport is not None:
                transport.close()
        return ctx.writer.pending_count()
    finally:
        ctx.close()


def default_transport(ctx: Context) -> HttpTransport:
    from fieldrep.sync.client import transport_for

    return transport_for(ctx.writer, timeout=REQUEST_TIMEOUT)


def run_sync(
    db_path: PathLike,
    progress: Progress,
    cancel: threading.Event,
    transport_factory: TransportFactory = default_transport,
    on_changes: Callable[[frozenset[str]], None] | None = None,
) -> SyncResult:
    """One sync of the database at ``db_path``; the outcome (error or none) is remembered in the
    database so the next start shows it. ``progress(done, total, text)`` hears the engine as it
    goes (its lines: :data:`fieldrep.sync.client.SENDING` and the others). Raises :class:`Cancelled` when stopped. ``on_changes``
    hears, after each committed push batch or pull page (on the worker thread), which tables it
    changed."""
    from fieldrep.sync.client import Cancelled, SyncEngine

    ctx = Context.open(db_path)
    try:
        try:
            transport = transport_factory(ctx)
            try:
                result = SyncEngine(
                    ctx.writer,
                    transport,
                    progress=progress,
                    cancel=cancel,
                    on_changes=on_changes,
                ).run()
            finally:
                transport.close()
        except Cancelled:
            raise
        except Exception as exc:
            with ctx.writer.transaction() as conn:
                settings.put(conn, settings.SYNC_LAST_ERROR, problem_for(exc).sentence)
            raise
        with ctx.writer.transaction() as conn:
            settings.put(conn, settings.SYNC_LAST_ERROR, "")
        after_sync(ctx, result.pulled)
        return result
    finally:
        ctx.close()


def after_sync(ctx: Context, pulled: int) -> None:
    """What follows a successful sync on this laptop, in the app and the CLI alike: referrals of
    the same person captured by two reps offline are linked (when rows were pulled), then the
    reward ledger follows the referral stage moves received (on a manager's laptop; see
    :func:`ledger.follow_received_stages`). The sync itself succeeded whatever happens here: a
    failure is logged and retried after the next sync (the ledger's mark only moves with the
    rewards it covers; the Referrals page links on its next show)."""
    from fieldrep.services.referrals.reconcile import link_after_pull
    from fieldrep.services.rewards import ledger

    link_after_pull(ctx, pulled)

    try:
        got = ledger.follow_received_stages(ctx)
    except Exception:
        log.exception("the rewards of the referral moves received could not be computed")
        return
    if got.created or got.reversed:
        log.info(
            "rewards after sync: %d computed, %d reversed", len(got.created), len(got.reversed)
        )


# -- words ----------------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def describe_result(result: SyncResult) -> str:
    """``"Sent 3 changes, received 12"``; what a rep wants to know after a sync."""
    parts = [
        f"sent {_plural(result.pushed, 'change')}",
        f"received {result.pulled + result.deleted:,}",
    ]
    if result.conflicts:
        parts.append(f"{_plural(result.conflicts, 'conflict')} to review")
    if result.rejected:
        parts.append(f"{result.rejected:,} not accepted by the server (kept here: see Conflicts)")
    return _sentence_case(", ".join(parts))


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def describe_age(stamp: str | None, now: datetime | None = None) -> str:
    """``"just now"``, ``"12 min ago"``, ``"3 h ago"``, ``"on 4 Mar"``, or ``"never"``."""
    when = parse_time(stamp)
    if when is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    local = when.astimezone()
    return f"on {local.day} {local:%b}"


@dataclass(frozen=True)
class SyncLine:
    """The status bar's sync item: a short text, a tooltip, and a tone for its light."""

    text: str
    tooltip: str
    tone: str  # "ok", "busy", "problem", "off"


def describe_status(
    status: SyncStatus,
    *,
    syncing: bool = False,
    problem: Problem | None = None,
    online: bool = True,
    now: datetime | None = None,
) -> SyncLine:
    """What the status bar says about sync, in a rep's words."""
    last = describe_age(status.last_sync_at, now)
    last_sentence = "Never synced" if last == "never" else f"Last synced {last}"
    where = f" with {status.server_url}" if status.server_url else ""
    if not status.signed_in and problem is not None and problem.sign_in_needed:
        return SyncLine(f"Sync failed: {problem.headline}", f"{problem.sentence}.", "problem")
    if not status.signed_in:
        return SyncLine(
            "Sync off: not signed in",
            "Open Sync › Sync settings to sign in to your team's server. "
            "Until then every change stays on this laptop.",
            "off",
        )
    if syncing:
        return SyncLine("Syncing…", f"Exchanging changes{where}. {last_sentence}.", "busy")
    if problem is not None:
        return SyncLine(
            f"Sync failed: {problem.headline}",
            f"{problem.sentence}. {last_sentence}.",
            "problem",
        )
    if status.last_error:
        return SyncLine("Last sync failed", f"{status.last_error} {last_sentence}.", "problem")
    if not online:
        return SyncLine(
            last_sentence,
            "The sync server cannot be reached right now. Your changes are kept and sent "
            "automatically when the connection is back.",
            "off",
        )
    text = "Never synced" if last == "never" else f"Synced {last}"
    return SyncLine(text, f"{last_sentence}{where}.", "ok")
