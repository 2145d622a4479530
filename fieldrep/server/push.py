"""Idempotent push of a device's outbox, judged as a whole.

The whole request is checked first (known tables and fields, value types, clocks, consecutive
sequence numbers, no gap after the device's ``last_seq``): anything wrong refuses the request before a
single mutation is applied. Then the request is applied in ONE transaction that also advances the
device's ``last_seq``, so its mutations are applied exactly once however often the request is
retried or duplicated, and a server stopped mid-request leaves none of them behind.

Scope is judged against the state the batch produces, not the state before it: the mutations of
tables everyone sees are applied first (users, territories, memberships, reward rules, each in
sequence order), and the viewer is read again after each that changed something, so the accounts of a territory created in the same
push (whatever their place in the outbox) are judged with that territory in place. Every mutation
runs in a savepoint: one refused for scope, a domain rule or its size (a field or row over the
limits of :mod:`fieldrep.server.limits`) is rolled back alone, recorded in
``rejections``, reported back (again when a retry replays it: the first answer may have been lost),
and does not block the others.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from fieldrep.server import clock_tags, scope
from fieldrep.server.admin import note_clock
from fieldrep.server.auth import SIGNED_OUT, TOKEN_FROM, TOKEN_VALID, DeviceToken
from fieldrep.server.limits import oversized_field
from fieldrep.server.merge import apply_mutation
from fieldrep.server.scope import Refused
from fieldrep.server.storage import INTEGRITY_ERRORS, TRANSIENT_ERRORS, Storage, Tx
from fieldrep.server.validate import BadRequest, check_structure, clock_too_far_ahead
from fieldrep.store.writer import utc_now
from fieldrep.sync.protocol import Conflict, Mutation, PushRequest, PushResponse, Rejection

log = logging.getLogger(__name__)


class PushError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _lock_device(tx: Tx, token: DeviceToken, device_id: str) -> tuple[str, int, int, int, bytes]:
    """The token's user, and its device's (last_seq, pulled_through), the device row locked (one
    push of a device at a time), with the scope epoch and the clock-tag secret: one statement.
    401 when the token may not be used, 403 when it is another device's."""
    of = " OF d" if tx.dialect == "postgres" else ""
    row = tx.one(
        "SELECT d.user_id, d.device_id, d.last_seq, d.pulled_through,"
        " (SELECT epoch FROM scope_epoch WHERE id = 1),"
        " (SELECT value FROM server_secrets WHERE name = ?)"
        f" FROM {TOKEN_FROM} WHERE {TOKEN_VALID}{tx.for_update}{of}",
        (clock_tags.SECRET_NAME, token.hash),
    )
    if row is None:
        raise PushError(401, "not_signed_in", SIGNED_OUT)
    if row[1] != device_id:
        raise PushError(
            403,
            "wrong_device",
            "this token belongs to another device; sign in again on this device",
        )
    return str(row[0]), int(row[2]), int(row[3]), int(row[4]), bytes.fromhex(row[5])


def mutation_hash(m: Mutation) -> str:
    """What identifies a mutation beyond its sequence number (its clocks carry time and device)."""
    body = json.dumps([m.tbl, m.row_id, m.op, m.fields, m.clocks], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _check_replays(tx: Tx, device_id: str, replayed: list[Mutation]) -> None:
    """A replayed sequence number must carry the very mutation applied under it; anything else
    comes from a copy of this laptop's database (or one restored from a backup), whose changes
    would otherwise be skipped as already applied and silently lost."""
    if not replayed:
        return
    sql, param = tx.in_list("seq", [m.seq for m in replayed])
    known = dict(
        tx.all(
            f"SELECT seq, hash FROM applied_mutations WHERE device_id = ? AND {sql}",
            (device_id, param),
        )
    )
    for m in replayed:
        stored = known.get(m.seq)
        if stored is not None and stored != mutation_hash(m):
            raise PushError(
                409,
                "device_copied",
                f"change {m.seq} differs from the change this laptop sent before under that"
                " number: this database was copied from another laptop or restored from a"
                " backup; sign in again to continue as a new laptop (unsent changes are kept)",
            )


def _refusals(tx: Tx, device_id: str, replayed: list[Mutation]) -> dict[int, str]:
    """Why each of these already-handled mutations was refused, by sequence number."""
    if not replayed:
        return {}
    sql, param = tx.in_list("seq", [m.seq for m in replayed])
    return {
        int(seq): str(reason)
        for seq, reason in tx.all(
            f"SELECT seq, reason FROM rejections WHERE device_id = ? AND {sql}",
            (device_id, param),
        )
    }


def _gap(last: int, seq: int) -> PushError:
    return PushError(
        409,
        "sequence_gap",
        f"the server has this device's changes up to {last} but the push starts at"
        f" {seq}: {seq - last - 1} changes are missing; sync again from the start of"
        " the outbox",
    )


# The order tables are applied in within one push: what scope is made of first (users, then the
# territories memberships point at, then memberships), everything judged by scope after.
_RANK = {"users": 0, "territories": 1, "territory_members": 2, "reward_rules": 3}


def _order(mutations: list[Mutation]) -> list[Mutation]:
    """The push's mutations in the order they are judged: by :data:`_RANK`, then sequence."""
    return sorted(mutations, key=lambda m: (_RANK.get(m.tbl, len(_RANK)), m.seq))


def _finish(
    tx: Tx, device_id: str, fresh: list[Mutation], newest: str, position: tuple[int, int, str]
) -> str:
    """Note the newest clock applied (``newest``, '' for none), the mutations handled and the
    device's new (last_seq, pulled_through, last_seen_at); returns the largest clock written so
    far. On PostgreSQL one statement (data-modifying WITH parts), on SQLite one each."""
    applied = [(m.seq, mutation_hash(m)) for m in fresh]
    update = (
        "UPDATE devices SET last_seq = ?, pulled_through = ?, last_seen_at = ? WHERE device_id = ?"
        " RETURNING (SELECT max(max_clock) FROM clock_marks)"
    )
    if tx.dialect != "postgres":
        if newest:
            note_clock(tx, newest)
        if applied:
            tx.executemany(
                "INSERT INTO applied_mutations (device_id, seq, hash) VALUES (?, ?, ?)"
                " ON CONFLICT (device_id, seq) DO NOTHING",
                [(device_id, seq, digest) for seq, digest in applied],
            )
        row = tx.one(update, (*position, device_id))
        return str(row[0] or "") if row else ""
    parts: list[str] = []
    params: list[Any] = []
    if newest:
        parts.append(
            "marks AS (INSERT INTO clock_marks (slot, max_clock) VALUES (pg_backend_pid(), ?)"
            " ON CONFLICT (slot) DO UPDATE SET max_clock = excluded.max_clock"
            " WHERE clock_marks.max_clock < excluded.max_clock)"
        )
        params.append(newest)
    if applied:
        parts.append(
            "done AS (INSERT INTO applied_mutations (device_id, seq, hash)"
            " SELECT ?, s, h FROM unnest(?::bigint[], ?::text[]) AS t (s, h)"
            " ON CONFLICT (device_id, seq) DO NOTHING)"
        )
        params += [device_id, [seq for seq, _ in applied], [digest for _, digest in applied]]
    with_parts = f"WITH {', '.join(parts)} " if parts else ""
    row = tx.one(with_parts + update, (*params, *position, device_id))
    # The WITH parts' writes are not visible to the statement's own subquery.
    return max(str(row[0] or "") if row else "", newest)


def _check_request(req: PushRequest) -> None:
    """Refuse the whole request (422) when any mutation is malformed or the sequence has a hole."""
    try:
        for index, m in enumerate(req.mutations):
            check_structure(index, m)
            if index and m.seq != req.mutations[index - 1].seq + 1:
                raise BadRequest(
                    f"mutation {index}: sequence numbers must follow each other"
                    f" ({req.mutations[index - 1].seq} then {m.seq})"
                )
    except BadRequest as exc:
        raise PushError(422, "invalid_mutation", str(exc)) from None


def push(storage: Storage, token: DeviceToken, req: PushRequest) -> PushResponse:
    """Apply ``req`` for the device whose ``token`` it carries (checked in the transaction's first
    statement: see :func:`_lock_device`; a request is checked once its sender is known)."""
    for attempt in range(3):
        try:
            with storage.write() as tx:
                return _push_in(tx, token, req)
        except TRANSIENT_ERRORS as exc:
            # A deadlock between row locks of two pushes: PostgreSQL rolled this one back whole;
            # running it again is the documented remedy.
            log.info("push of %s retried after %s", req.device_id, exc)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _push_in(tx: Tx, token: DeviceToken, req: PushRequest) -> PushResponse:
    user_id, last, pulled, epoch, secret = _lock_device(tx, token, req.device_id)
    _check_request(req)
    replayed = [m for m in req.mutations if m.seq <= last]
    _check_replays(tx, req.device_id, replayed)
    refused_before = _refusals(tx, req.device_id, replayed)
    fresh = [m for m in req.mutations if m.seq > last]
    if fresh and fresh[0].seq != last + 1:
        raise _gap(last, fresh[0].seq)
    rejected = [
        Rejection(seq=m.seq, tbl=m.tbl, row_id=m.row_id, reason=refused_before[m.seq])
        for m in replayed
        if m.seq in refused_before
    ]
    applied, skipped = 0, len(replayed)
    conflicts: list[Conflict] = []
    now_ms = int(time.time() * 1000)
    now = utc_now()
    seen = max(pulled, req.cursor)
    viewer = scope.viewer(tx, user_id, epoch)
    stale = False
    newest = ""  # the newest clock of the changes applied
    own_tag = clock_tags.device_tag(secret, req.device_id)
    # Each mutation runs in a savepoint. The one of a mutation applied is released together with
    # the next one's start (one round trip), the last by COMMIT.
    held = False
    tx.expect(len(fresh))  # a number each, mostly
    for sent in _order(fresh):
        # Clocks are kept and merged under device tags, never the device ids a laptop sends.
        m = sent.model_copy(update={"clocks": clock_tags.tag_clocks(secret, sent.clocks)})
        if stale:
            viewer, stale = scope.load_viewer(tx, user_id), False
        reason = None
        for attempt in range(2):
            tx.run(*(["RELEASE SAVEPOINT mutation"] if held else []), "SAVEPOINT mutation")
            held = True
            try:
                if (why := oversized_field(m.tbl, m.fields)) is not None:
                    # Only this change is refused; the request as a whole is bounded by bytes.
                    raise Refused(f"this change is too large: {why}")
                if any(clock_too_far_ahead(c, now_ms) for c in m.clocks.values()):
                    raise Refused(
                        "this laptop's clock is more than 5 minutes ahead of the server's;"
                        " correct its date and time, then send the change again"
                    )
                outcome = apply_mutation(
                    tx,
                    viewer,
                    req.device_id,
                    m,
                    now,
                    seen,
                    own_tag,
                )
            except Refused as exc:
                tx.run("ROLLBACK TO SAVEPOINT mutation", "RELEASE SAVEPOINT mutation")
                held = False
                reason = str(exc)
                break
            except INTEGRITY_ERRORS as exc:
                tx.run("ROLLBACK TO SAVEPOINT mutation", "RELEASE SAVEPOINT mutation")
                held = False
                # Two first writes of one row at once: the second, run again, merges into it.
                if attempt == 0:
                    continue
                log.info("mutation %s of %s refused by the database: %s", m.seq, req.device_id, exc)
                reason = f"{m.tbl}: the change breaks a uniqueness rule"
                if m.tbl == "users" and "username" in m.fields:
                    reason = f"users: the user name {m.fields['username']!r} is already taken"
                break
            applied += 1
            conflicts += outcome.conflicts
            if outcome.changed:
                newest = max(newest, *m.clocks.values())
                stale = stale or m.tbl in scope.PUBLIC
            break
        if reason is not None:
            tx.execute(
                "INSERT INTO rejections (device_id, seq, tbl, row_id, reason, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (req.device_id, m.seq, m.tbl, m.row_id, reason, now),
            )
            rejected.append(Rejection(seq=m.seq, tbl=m.tbl, row_id=m.row_id, reason=reason))
    if fresh:
        last = fresh[-1].seq
    clock = _finish(tx, req.device_id, fresh, newest, (last, seen, now))
    rejected.sort(key=lambda r: r.seq)
    return PushResponse(
        last_seq=last,
        applied=applied,
        skipped=skipped,
        rejected=rejected,
        conflicts=conflicts,
        clock_hint=clock or None,
    )
