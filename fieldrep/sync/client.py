"""The sync engine: a plain Python state machine driven by a transport, run by the CLI or by the
GUI's background task runner.

One :meth:`SyncEngine.run` goes push -> pull -> verify:

- push sends the outbox in sequence order, a batch at a time; the entries the server acknowledged
  (``seq <= last_seq``) are deleted in the same transaction that records any refused mutation or lost
  merge in ``conflicts``. A lost response is harmless: the retry is skipped by the server;
- pull applies each page and stores the new cursor in one transaction (a crash mid-page leaves
  nothing half-applied), then re-applies pending local fields on top;
- a ``reset`` answer (scope changed, or offline longer than tombstones are kept) starts a replacement
  sync that keeps the outbox;
- verify compares per-table counts and version sums with the server and runs one replacement sync on
  a mismatch. Counting reads every row in scope on both sides, so it runs when due rather than on
  every sync: on the first sync, after a replacement sync, and when the last check is older than
  ``verify_every`` seconds (0: every sync). That keeps a routine sync's cost following the change,
  not the database.

All state lives in the database (the typed settings of :mod:`fieldrep.store.settings`:
``SYNC_CURSOR``, ``SYNC_SCOPE_KEY``, ``SYNC_REPLACING``, ``SYNC_REFETCH``), so an interrupted sync simply resumes. ``cancel`` is checked
between batches and pages; ``progress(done, total, text)`` (the one shape,
:data:`fieldrep.domain.progress.Progress`) reports as it goes, its text starting with the stage's
line (:data:`SENDING`, :data:`RECEIVING`, :data:`CHECKING`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fieldrep.domain import errors as domain_errors
from fieldrep.domain.hlc import ClockDriftError, parse_clock
from fieldrep.domain.ids import new_device_id
from fieldrep.domain.progress import Progress
from fieldrep.store import outbox, settings
from fieldrep.store.catalog import synced_tables
from fieldrep.store.writer import Writer, utc_now
from fieldrep.sync import local_apply
from fieldrep.sync.protocol import (
    DEFAULT_PULL_LIMIT,
    MAX_BODY_BYTES,
    MAX_MUTATIONS_PER_PUSH,
    LoginRequest,
    LoginResponse,
    Mutation,
    PullRequest,
    PullResponse,
    PushRequest,
    RowRef,
)
from fieldrep.sync.transport import (
    AuthRequired,
    HttpTransport,
    NetworkError,
    ServerRefused,
    SyncError,
)

log = logging.getLogger(__name__)

# The stages' progress lines: a push reports "Sending changes… 200 of 1,250", a pull page its
# cursor against the server's high water, the check no numbers.
SENDING = "Sending changes…"
RECEIVING = "Receiving changes…"
CHECKING = "Checking with the server…"
# Told, after each committed push batch or pull page, which tables it changed on this laptop.
Changes = Callable[[frozenset[str]], None]
# How often a routine sync also compares checksums with the server (seconds).
VERIFY_EVERY = 6 * 3600.0


class Cancelled(SyncError, domain_errors.Cancelled):
    """The user stopped the sync; everything finished so far is kept."""


@dataclass
class SyncResult:
    pushed: int = 0
    skipped: int = 0
    rejected: int = 0
    conflicts: int = 0
    pulled: int = 0
    deleted: int = 0
    evicted: int = 0
    removed: int = 0
    replaced: bool = False
    verified: bool | None = None
    cursor: int = 0
    rejections: list[str] = field(default_factory=list)
    # Refused changes by reason: {"this laptop's clock is ...": 3}.
    refusals: dict[str, int] = field(default_factory=dict)
    # Every table a push batch or a pull page changed on this laptop (sorted).
    changed_tables: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SyncEngine:
    def __init__(
        self,
        writer: Writer,
        transport: HttpTransport,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        page_size: int = DEFAULT_PULL_LIMIT,
        push_batch: int = 200,
        verify: bool = True,
        verify_every: float = VERIFY_EVERY,
        on_changes: Changes | None = None,
    ) -> None:
        self.writer = writer
        self.conn = writer.conn
        self.transport = transport
        self.progress: Progress = progress or (lambda done, total, text: None)
        self.cancel = cancel or threading.Event()
        self.page_size = page_size
        self.push_batch = max(1, min(push_batch, MAX_MUTATIONS_PER_PUSH))
        self.verify = verify
        self.verify_every = verify_every
        self.on_changes = on_changes
        self._changed: set[str] = set()

    def _announce(self, tables: set[str]) -> None:
        if not tables:
            return
        self._changed |= tables
        if self.on_changes is not None:
            self.on_changes(frozenset(tables))

    # -- state ---------------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("sync stopped; everything received so far is kept")

    def _observe(self, clock: str | None) -> None:
        if not clock:
            return
        try:
            self.writer.clock.observe(parse_clock(clock)[0])
        except ClockDriftError as exc:
            log.warning("not following the server's clock: %s", exc)
        except ValueError:
            log.warning("the server sent a malformed clock hint %r", clock)

    def _verify_due(self, result: SyncResult) -> bool:
        if result.replaced or self.verify_every <= 0:
            return True
        try:
            last = settings.get(self.conn, settings.SYNC_VERIFIED_AT)
        except ValueError:
            return True
        return not 0 < time.time() - last < self.verify_every

    def _add_refetch(self, conn: Any, refs: list[tuple[str, str]]) -> None:
        current = settings.get(conn, settings.SYNC_REFETCH)
        known = {(r[0], r[1]) for r in current}
        current += [list(r) for r in refs if r not in known]
        settings.put(conn, settings.SYNC_REFETCH, current)

    # -- the steps -----------------------------------------------------------------------------

    def run(self) -> SyncResult:
        result = SyncResult()
        self.push(result)
        self.pull(result)
        if self.verify and self._verify_due(result):
            ok = self.check(result)
            if ok is False:
                log.warning("checksums differ from the server; running a replacement sync")
                with self.writer.transaction() as conn:
                    local_apply.start_replacement(conn)
                result.replaced = True
                self.pull(result)
                result.verified = self.check(result)
        with self.writer.transaction() as conn:
            settings.put(conn, settings.LAST_SYNC_AT, utc_now())
            if result.verified:
                settings.put(conn, settings.SYNC_VERIFIED_AT, time.time())
        result.cursor = settings.get(self.conn, settings.SYNC_CURSOR)
        result.changed_tables = sorted(self._changed)
        return result

    def push(self, result: SyncResult) -> None:
        total = self.writer.pending_count()
        done = 0
        while True:
            self._check_cancel()
            entries = _within_budget(outbox.pending(self.conn, self.push_batch))
            if not entries:
                return
            self.progress(done, total, sending(done, total))
            mutations = [
                Mutation(
                    seq=e.seq, tbl=e.tbl, row_id=e.row_id, op=e.op, fields=e.fields, clocks=e.clocks
                )
                for e in entries
            ]
            by_seq = {m.seq: m for m in mutations}
            try:
                resp = self.transport.push(
                    PushRequest(
                        device_id=self.writer.device_id,
                        mutations=mutations,
                        cursor=settings.get(self.conn, settings.SYNC_CURSOR),
                    )
                )
            except ServerRefused as exc:
                if exc.code != "device_copied":
                    raise
                # Another database speaks as this laptop: sign in again as a new one.
                with self.writer.transaction() as conn:
                    settings.put(conn, settings.SYNC_NEW_DEVICE, True)
                    settings.put(conn, settings.DEVICE_TOKEN, None)
                raise AuthRequired(str(exc)) from exc
            refused_seqs = {rej.seq for rej in resp.rejected}
            with self.writer.transaction() as conn:
                conn.execute("DELETE FROM outbox WHERE seq <= ?", (resp.last_seq,))
                changed: set[str] = set()
                # A change sent again and accepted settles what the server refused before.
                accepted = [
                    (m.tbl, m.row_id)
                    for m in mutations
                    if m.seq <= resp.last_seq and m.seq not in refused_seqs
                ]
                if accepted:
                    changed |= local_apply.settle_refusals(conn, accepted)
                refetch: list[tuple[str, str]] = []
                for rej in resp.rejected:
                    m = by_seq.get(rej.seq)
                    local_apply.record_rejection(
                        conn,
                        rej.tbl,
                        rej.row_id,
                        rej.reason,
                        m.fields if m else {},
                        m.clocks if m else {},
                    )
                    refetch.append((rej.tbl, rej.row_id))
                    changed.add("conflicts")
                    result.rejections.append(f"{rej.tbl} {rej.row_id}: {rej.reason}")
                    result.refusals[rej.reason] = result.refusals.get(rej.reason, 0) + 1
                for c in resp.conflicts:
                    result.conflicts += local_apply.record_conflict(
                        conn,
                        c.tbl,
                        c.row_id,
                        c.field,
                        c.kept_value,
                        c.kept_clock,
                        c.lost_value,
                        c.lost_clock,
                    )
                    refetch.append((c.tbl, c.row_id))
                    changed.add("conflicts")
                if refetch:
                    self._add_refetch(conn, refetch)
                self._observe(resp.clock_hint)
            result.pushed += resp.applied
            result.skipped += resp.skipped
            result.rejected += len(resp.rejected)
            done += len(entries)
            self._announce(changed)
            self.progress(done, max(total, done), sending(done, max(total, done)))
            if resp.last_seq < entries[-1].seq:
                raise SyncError(
                    f"the server stopped at change {resp.last_seq} of {entries[-1].seq}; try again"
                )

    def pull(self, result: SyncResult) -> None:
        resets = 0
        received = 0
        while True:
            self._check_cancel()
            refetch = [
                RowRef(tbl=t, id=i) for t, i in settings.get(self.conn, settings.SYNC_REFETCH)
            ]
            req = PullRequest(
                cursor=settings.get(self.conn, settings.SYNC_CURSOR),
                limit=self.page_size,
                scope_key=settings.get(self.conn, settings.SYNC_SCOPE_KEY) or None,
                refetch=refetch,
            )
            raw = self.transport.pull(req)
            page = PullResponse.model_validate(raw) if raw.get("reset") else None
            if page is not None and page.reset is not None:
                resets += 1
                if resets > 2:
                    raise SyncError("the server keeps asking for a fresh start; try again later")
                log.info("replacement sync: %s", page.reset.message)
                with self.writer.transaction() as conn:
                    local_apply.start_replacement(conn)
                    settings.put(conn, settings.SYNC_SCOPE_KEY, page.scope_key)
                result.replaced = True
                continue
            stats = local_apply.PageStats()
            replacing = False
            with self.writer.transaction() as conn:
                tag = raw.get("clock_tag")
                if isinstance(tag, str) and tag != settings.get(conn, settings.SYNC_CLOCK_TAG):
                    # Signed in before clock tags (or the server's secret changed): from now on
                    # pending clocks compare under the tag, this page's included.
                    settings.put(conn, settings.SYNC_CLOCK_TAG, tag)
                local_apply.apply_page(conn, raw, stats)
                settings.put(conn, settings.SYNC_CURSOR, int(raw["cursor"]))
                settings.put(conn, settings.SYNC_SCOPE_KEY, str(raw["scope_key"]))
                if refetch:
                    settings.put(conn, settings.SYNC_REFETCH, [])
                if not raw["more"] and settings.get(conn, settings.SYNC_REPLACING):
                    result.removed += local_apply.finish_replacement(conn)
                    replacing = True
                self._observe(stats.max_clock)
            self._announce(stats.changed_tables | ({"conflicts"} if stats.conflicts else set()))
            received += stats.rows + stats.deleted
            result.pulled += stats.rows
            result.deleted += stats.deleted
            result.evicted += stats.evicted
            result.conflicts += stats.conflicts
            self.progress(int(raw["cursor"]), int(raw["high_water"]), RECEIVING)
            if not raw["more"]:
                log.info("pulled %d rows%s", received, " (replacement)" if replacing else "")
                return

    def check(self, result: SyncResult) -> bool | None:
        """Compare checksums; None when the server moved on meanwhile (nothing to conclude)."""
        self._check_cancel()
        self.progress(0, None, CHECKING)
        for _attempt in range(2):
            remote = self.transport.checksums()
            if remote.high_water != settings.get(self.conn, settings.SYNC_CURSOR):
                self.pull(result)
                continue
            local = local_apply.local_checksums(self.conn)
            wrong = [
                t
                for t, c in remote.tables.items()
                if local.get(t) != {"count": c.count, "version_sum": c.version_sum}
            ]
            if wrong:
                log.warning("tables differing from the server: %s", ", ".join(wrong))
            result.verified = not wrong
            return result.verified
        return None


def sending(done: int, total: int | None) -> str:
    """The push's progress line: ``"Sending changes… 200 of 1,250"``."""
    return f"{SENDING} {done:,} of {total:,}" if total else SENDING


# Half the server's request limit: room for JSON escaping and the request's own fields.
PUSH_BUDGET_BYTES = MAX_BODY_BYTES // 2


def _within_budget(
    entries: list[outbox.Entry], budget: int = PUSH_BUDGET_BYTES
) -> list[outbox.Entry]:
    """The leading entries whose values fit in one request (always at least one), so a batch of
    big rows (territory polygons, long notes) goes out over several pushes instead of being
    refused whole as too large, again and again."""
    used = 0
    for count, entry in enumerate(entries):
        used += len(json.dumps([entry.fields, entry.clocks], default=str)) + 200
        if used > budget and count:
            return entries[:count]
    return entries


# -- signing in and out ------------------------------------------------------------------------


# local_meta: where the demo this database held was copied before it became a team database.
DEMO_KEPT_KEY = settings.DEMO_KEPT_AT.key

# What a demo's sync state was: forgotten when the demo is set aside for the team's data.
_FORGOTTEN_WITH_THE_DEMO = (
    settings.DEMO_SEED,
    settings.SYNC_CURSOR,
    settings.SYNC_SCOPE_KEY,
    settings.SYNC_REFETCH,
    settings.SYNC_REPLACING,
    settings.SYNC_VERIFIED_AT,
    settings.LAST_SYNC_AT,
)


def is_demo(conn: Any) -> bool:
    return bool(settings.get(conn, settings.DEMO_SEED))


def _demo_copy_path(conn: Any) -> Path:
    row = conn.execute("PRAGMA database_list").fetchone()
    path = Path(row[2]) if row and row[2] else Path("fieldrep.db")
    stem = path.name.removesuffix(".db")
    target = path.with_name(f"{stem}.demo.db")
    n = 2
    while target.exists():
        target = path.with_name(f"{stem}.demo-{n}.db")
        n += 1
    return target


def set_demo_aside(writer: Writer) -> Path:
    """Copy the demo this database holds to ``NAME.demo.db`` beside it, then empty it, so it
    starts as the signed-in user's own team database: demo rows never leave the laptop. The
    database is emptied in place (not replaced) so every open connection to it stays valid."""
    conn = writer.conn
    target = _demo_copy_path(conn)
    copy = sqlite3.connect(target)
    try:
        conn.backup(copy)
        copy.execute("VACUUM")
    finally:
        copy.close()
    with writer.transaction() as tx:
        for tbl in synced_tables():
            tx.execute(f"DELETE FROM {tbl}")
        for tbl in ("outbox", "tombstones", "conflicts", "account_keys", "account_keys_queue"):
            tx.execute(f"DELETE FROM {tbl}")
        for forgotten in _FORGOTTEN_WITH_THE_DEMO:
            settings.clear(tx, forgotten)
        settings.put(tx, settings.DEMO_KEPT_AT, str(target))
    log.info("the demo database was copied to %s and emptied for the team's data", target)
    return target


def sign_in(writer: Writer, transport: HttpTransport, user: str, password: str) -> LoginResponse:
    """Sign this database in: store the server URL, the device token and the user id.

    A demo database (``fieldrep demo``, or the app's first start) is never pushed: once the
    server accepts the password, the demo is copied aside and the database starts empty as the
    user's team database (:func:`set_demo_aside`; where the copy went is in ``demo_kept_at``)."""
    conn = writer.conn
    demo = is_demo(conn)
    row = conn.execute("SELECT min(seq) FROM outbox").fetchone()
    if row[0] is not None and not demo:
        base = int(row[0]) - 1
    else:
        # Nothing of a demo is ever sent: the server starts this device after its last change.
        seq_row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        base = int(seq_row[0]) if seq_row else 0
    if settings.get(conn, settings.SYNC_NEW_DEVICE):
        # This database is a copy of another (or a restored backup): from now on it is a laptop
        # of its own, with its own numbering on the server; its unsent changes go out under it.
        device = new_device_id()
        with writer.transaction() as tx:
            settings.put(tx, settings.DEVICE_ID, device)
            settings.put(tx, settings.SYNC_NEW_DEVICE, False)
        writer.clock.device_id = device
    try:
        resp = transport.login(
            LoginRequest(user=user, password=password, device_id=writer.device_id, base_seq=base)
        )
    except ServerRefused as exc:
        if exc.code != "device_taken":
            raise
        # This database's device belongs to the user who signed in on it before: continue as a
        # new device of the one signing in now (the server never hands a device to another user).
        device = new_device_id()
        with writer.transaction() as tx:
            settings.put(tx, settings.DEVICE_ID, device)
        writer.clock.device_id = device
        resp = transport.login(
            LoginRequest(user=user, password=password, device_id=device, base_seq=base)
        )
    if demo:
        set_demo_aside(writer)
    with writer.transaction() as tx:
        previous = settings.get(tx, settings.USER_ID)
        if previous and previous != resp.user_id:
            # Another person's rows must leave this laptop: fetch the new user's scope afresh.
            local_apply.start_replacement(tx)
        settings.put(tx, settings.SERVER_URL, transport.base_url)
        settings.put(tx, settings.DEVICE_TOKEN, resp.token)
        settings.put(tx, settings.USER_ID, resp.user_id)
        settings.put(tx, settings.SYNC_CLOCK_TAG, resp.clock_tag)
        settings.put(tx, settings.SYNC_LAST_ERROR, "")
    transport.token = resp.token
    return resp


def sign_out(writer: Writer, transport: HttpTransport | None) -> None:
    """Forget the device token (revoking it on the server when reachable); the outbox is kept."""
    if transport is not None and transport.token:
        try:
            transport.logout()
        except SyncError as exc:
            log.info("could not revoke the token on the server: %s", exc)
    with writer.transaction() as tx:
        settings.put(tx, settings.DEVICE_TOKEN, None)


def transport_for(writer: Writer, *, timeout: float = 60.0) -> HttpTransport:
    """A transport for the server this database signed in to; SyncError when it never did."""
    url = settings.get(writer.conn, settings.SERVER_URL)
    token = settings.get(writer.conn, settings.DEVICE_TOKEN)
    if not url or not token:
        raise SyncError("this laptop is not signed in to a sync server; sign in first")
    return HttpTransport(url, token, timeout=timeout)


__all__ = [
    "Cancelled",
    "NetworkError",
    "SyncEngine",
    "SyncError",
    "SyncResult",
    "set_demo_aside",
    "sign_in",
    "sign_out",
    "transport_for",
]
