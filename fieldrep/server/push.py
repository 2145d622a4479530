"""Idempotent push of a device's outbox.

The whole request is checked first (known tables and fields, value types, clocks, consecutive
sequence numbers, no gap after the device's ``last_seq``): anything wrong refuses the request before a
single mutation is applied. Then each mutation runs in its own transaction that also advances the
device's ``last_seq``, so a mutation is applied exactly once however often the request is retried or
duplicated. A mutation refused for scope or a domain rule is recorded in ``rejections``, reported
back (again when a retry replays it: the first answer may have been lost), and does not block the
ones after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from fieldrep.server import scope
from fieldrep.server.admin import note_clock
from fieldrep.server.merge import Outcome, apply_mutation
from fieldrep.server.scope import Refused, Viewer
from fieldrep.server.storage import INTEGRITY_ERRORS, TRANSIENT_ERRORS, Storage, Tx
from fieldrep.server.validate import BadRequest, check_structure, clock_too_far_ahead
from fieldrep.store.writer import utc_now
from fieldrep.sync.protocol import Conflict, Mutation, PushRequest, PushResponse, Rejection

log = logging.getLogger(__name__)


class PushError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


def _last_seq(tx: Tx, device_id: str) -> int:
    row = tx.one("SELECT last_seq FROM devices WHERE device_id = ?", (device_id,))
    return int(row[0]) if row else 0


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


def _remember(tx: Tx, device_id: str, m: Mutation) -> None:
    tx.execute(
        "INSERT INTO applied_mutations (device_id, seq, hash) VALUES (?, ?, ?)"
        " ON CONFLICT (device_id, seq) DO NOTHING",
        (device_id, m.seq, mutation_hash(m)),
    )


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
    with storage.read() as tx:
        last = _last_seq(tx, req.device_id)
        viewer = scope.load_viewer(tx, user_id)
        replayed = [m for m in req.mutations if m.seq <= last]
        _check_replays(tx, req.device_id, replayed)
        refused_before = _refusals(tx, req.device_id, replayed)
    if req.mutations and req.mutations[0].seq > last + 1:
        raise _gap(last, req.mutations[0].seq)
    applied = skipped = 0
    rejected: list[Rejection] = []
    conflicts: list[Conflict] = []
    now_ms = int(time.time() * 1000)
    for m in req.mutations:
        if m.seq <= last:
            skipped += 1
            if m.seq in refused_before:
                # Refused when first sent, and that answer may never have arrived: say it again.
                rejected.append(
                    Rejection(seq=m.seq, tbl=m.tbl, row_id=m.row_id, reason=refused_before[m.seq])
                )
            continue
        for attempt in range(3):
            try:
                outcome = _apply_one(storage, viewer, req, m, now_ms)
                if outcome is None:
                    skipped += 1
                else:
                    applied += 1
                    conflicts += outcome.conflicts
                    if m.tbl in scope.PUBLIC:
                        viewer = _reload(storage, user_id)
                break
            except Refused as exc:
                _reject(storage, req.device_id, m, str(exc), rejected)
                break
            except TRANSIENT_ERRORS as exc:
                # A deadlock between row locks (say, a parent moving while its child is edited):
                # PostgreSQL rolled this mutation back; running it again is the remedy.
                log.info("mutation %s of %s retried after %s", m.seq, req.device_id, exc)
                if attempt == 2:
                    raise
            except INTEGRITY_ERRORS as exc:
                # Two first writes of one row at once: the second, run again, merges into it.
                if attempt == 0:
                    continue
                log.info("mutation %s of %s refused by the database: %s", m.seq, req.device_id, exc)
                reason = f"{m.tbl}: the change breaks a uniqueness rule"
                if m.tbl == "users" and "username" in m.fields:
                    reason = f"users: the user name {m.fields['username']!r} is already taken"
                _reject(storage, req.device_id, m, reason, rejected)
                break
        last = max(last, m.seq)
    with storage.read() as tx:
        last = _last_seq(tx, req.device_id)
        clock = tx.max_clock()
    return PushResponse(
        last_seq=last,
        applied=applied,
        skipped=skipped,
        rejected=rejected,
        conflicts=conflicts,
        clock_hint=clock or None,
    )


def _apply_one(
    storage: Storage, viewer: Viewer, req: PushRequest, m: Mutation, now_ms: int
) -> Outcome | None:
    """Apply one mutation in its own transaction; None when it was already applied."""
    with storage.write() as tx:
        last, pulled = _lock_device(tx, req.device_id)
        if m.seq <= last:
            _check_replays(tx, req.device_id, [m])
            return None
        if m.seq != last + 1:
            raise _gap(last, m.seq)
        if any(clock_too_far_ahead(c, now_ms) for c in m.clocks.values()):
            raise Refused("this laptop's clock is more than a day ahead; correct its date and time")
        if req.cursor > pulled:
            tx.execute(
                "UPDATE devices SET pulled_through = ? WHERE device_id = ?",
                (req.cursor, req.device_id),
            )
        outcome = apply_mutation(tx, viewer, req.device_id, m, utc_now(), max(pulled, req.cursor))
        if outcome.changed:
            note_clock(tx, max(m.clocks.values()))
        tx.execute(
            "UPDATE devices SET last_seq = ?, last_seen_at = ? WHERE device_id = ?",
            (m.seq, utc_now(), req.device_id),
        )
        _remember(tx, req.device_id, m)
    return outcome


def _reload(storage: Storage, user_id: str) -> Viewer:
    with storage.read() as tx:
        return scope.load_viewer(tx, user_id)


def _reject(
    storage: Storage, device_id: str, m: Mutation, reason: str, rejected: list[Rejection]
) -> None:
    with storage.write() as tx:
        last, _ = _lock_device(tx, device_id)
        if m.seq != last + 1:
            return  # another request for the same device got there first
        tx.execute(
            "INSERT INTO rejections (device_id, seq, tbl, row_id, reason, at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (device_id, m.seq, m.tbl, m.row_id, reason, utc_now()),
        )
        tx.execute("UPDATE devices SET last_seq = ? WHERE device_id = ?", (m.seq, device_id))
        _remember(tx, device_id, m)
    rejected.append(Rejection(seq=m.seq, tbl=m.tbl, row_id=m.row_id, reason=reason))
