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

from fieldrep.server import clock_tags, scope
from fieldrep.server.admin import note_clock
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


def _lock_device(tx: Tx, device_id: str) -> tuple[int, int]:
    """(last_seq, pulled_through) of the device, its row locked: one push of a device at a time."""
    row = tx.one(
        f"SELECT last_seq, pulled_through FROM devices WHERE device_id = ?{tx.for_update}",
        (device_id,),
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


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


def push(storage: Storage, user_id: str, req: PushRequest) -> PushResponse:
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
    for attempt in range(3):
        try:
            with storage.write() as tx:
                return _push_in(tx, user_id, req)
        except TRANSIENT_ERRORS as exc:
            # A deadlock between row locks of two pushes: PostgreSQL rolled this one back whole;
            # running it again is the documented remedy.
            log.info("push of %s retried after %s", req.device_id, exc)
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _push_in(tx: Tx, user_id: str, req: PushRequest) -> PushResponse:
    last, pulled = _lock_device(tx, req.device_id)
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
    viewer = scope.load_viewer(tx, user_id)
    secret = clock_tags.load_secret(tx)
    stale = False
    newest = ""  # the newest clock of the changes applied
    for sent in _order(fresh):
        # Clocks are kept and merged under device tags, never the device ids a laptop sends.
        m = sent.model_copy(update={"clocks": clock_tags.tag_clocks(secret, sent.clocks)})
        if stale:
            viewer, stale = scope.load_viewer(tx, user_id), False
        reason = None
        for attempt in range(2):
            tx.execute("SAVEPOINT mutation")
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
                    clock_tags.device_tag(secret, req.device_id),
                )
                tx.execute("RELEASE SAVEPOINT mutation")
            except Refused as exc:
                tx.execute("ROLLBACK TO SAVEPOINT mutation")
                tx.execute("RELEASE SAVEPOINT mutation")
                reason = str(exc)
                break
            except INTEGRITY_ERRORS as exc:
                tx.execute("ROLLBACK TO SAVEPOINT mutation")
                tx.execute("RELEASE SAVEPOINT mutation")
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
    if newest:
        note_clock(tx, newest)
    if fresh:
        tx.executemany(
            "INSERT INTO applied_mutations (device_id, seq, hash) VALUES (?, ?, ?)"
            " ON CONFLICT (device_id, seq) DO NOTHING",
            [(req.device_id, m.seq, mutation_hash(m)) for m in fresh],
        )
        last = fresh[-1].seq
    tx.execute(
        "UPDATE devices SET last_seq = ?, pulled_through = ?, last_seen_at = ? WHERE device_id = ?",
        (last, seen, now, req.device_id),
    )
    clock = tx.max_clock()
    rejected.sort(key=lambda r: r.seq)
    return PushResponse(
        last_seq=last,
        applied=applied,
        skipped=skipped,
        rejected=rejected,
        conflicts=conflicts,
        clock_hint=clock or None,
    )
