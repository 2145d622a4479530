"""Pull pages and checksums, each read from one consistent snapshot and filtered by scope.

A page holds the rows with ``cursor < _version <= cutoff`` the viewer may see, at most ``limit`` of
them, where ``cutoff`` is the version of the last row taken (or the snapshot's high-water mark when
everything fitted). Tables are queried separately, each sorted by version, and merged; a row of any
table with a version up to the cutoff is therefore always in the page (see the storage module for why
no late commit can hide below the cursor).

Rows that left the viewer's scope since the cursor are listed in ``evict`` (from the ``moves`` log:
the row was visible before and is not now). When the viewer's own scope changed (new territories, a
new team) or the cursor is older than the oldest tombstone still kept, the answer is a ``reset``: the
client runs a replacement sync from cursor 0 and drops what it no longer receives.
"""

from __future__ import annotations

import json
from typing import Any

from fieldrep.server import auth, clock_tags, scope
from fieldrep.server.limits import MAX_PULL_BYTES, page_within_bytes
from fieldrep.server.scope import Viewer
from fieldrep.server.storage import Storage, Tx
from fieldrep.store.catalog import synced_tables
from fieldrep.sync.protocol import PullRequest


def _page_rows(
    tx: Tx, viewer: Viewer, tbl: str, lo: int, hi: int, limit: int, with_deleted: bool
) -> list[tuple[Any, ...]]:
    fields = synced_tables()[tbl].fields
    sql, params = scope.predicate(tx, viewer, tbl)
    deleted = "" if with_deleted else " AND _deleted = 0"
    return tx.all(
        f"SELECT id, _version, _deleted, _clocks, {', '.join(fields)} FROM {tbl}"
        f" WHERE _version > ? AND _version <= ?{deleted} AND {sql} ORDER BY _version LIMIT ?",
        (lo, hi, *params, limit),
    )


def _changed_tables(tx: Tx, lo: int, hi: int) -> tuple[list[str], bool]:
    """Tables with any row in ``(lo, hi]``, and whether any row moved out of a scope there, found
    in one statement: an incremental pull then asks only those tables for rows (one round trip
    each on PostgreSQL), and reads the ``moves`` log only when it holds something."""
    names = list(synced_tables())
    if lo == 0:
        return names, False
    sql = " UNION ALL ".join(
        [
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name} WHERE _version > ?"
            " AND _version <= ?)"
            for name in names
        ]
        + ["SELECT '' WHERE EXISTS (SELECT 1 FROM moves WHERE version > ? AND version <= ?)"]
    )
    found = {r[0] for r in tx.all(sql, [lo, hi] * (len(names) + 1))}
    return [name for name in names if name in found], "" in found


def pull(
    storage: Storage,
    who: str | auth.DeviceToken,
    req: PullRequest,
    max_bytes: int = MAX_PULL_BYTES,
    *,
    tagged: bool = False,
) -> dict[str, Any]:
    """One page for ``who``: a user id, or a request's device token, checked in the snapshot's
    first statement (:class:`~fieldrep.server.auth.SignedOut` when it may not be used). With
    ``tagged`` (a client of protocol 2 or later, ``who`` a token) a page that is no reset also
    carries the token's device's clock tag, so a laptop signed in before clock tags existed learns
    its tag at its next sync, not only at its next sign-in (a reset answer leaves it out:
    protocol-2 clients that predate the field validate only resets, strictly)."""
    with storage.snapshot() as tx:
        tag_device: str | None = None
        if isinstance(who, auth.DeviceToken):
            state, owner = storage.state(tx, (auth.TOKEN_OWNER, (who.hash,)))
            if owner is None:
                raise auth.SignedOut()
            user_id, tag_device = str(owner[0]), (str(owner[1]) if tagged else None)
        else:
            state, _ = storage.state(tx)
            user_id = who
        high, purged = state.high_water, state.purged_through
        viewer = scope.viewer(tx, user_id, state.scope_epoch)
        answer: dict[str, Any] = {
            "cursor": req.cursor,
            "more": False,
            "high_water": high,
            "scope_key": viewer.key,
            "clock_hint": state.max_clock or None,
            "reset": None,
            "tables": {},
            "evict": [],
        }
        if req.cursor > 0 and req.scope_key != viewer.key:
            answer["reset"] = {
                "reason": "scope_changed",
                "message": "the rows you may see changed; fetching them again",
            }
            return answer
        if 0 < req.cursor < purged:
            answer["reset"] = {
                "reason": "too_far_behind",
                "message": "this laptop was offline longer than deletions are kept;"
                " fetching everything again",
            }
            return answer
        if req.cursor > high:
            # A cursor from another server database (restored backup): start over.
            answer["reset"] = {
                "reason": "too_far_behind",
                "message": "the server does not know this laptop's position; fetching"
                " everything again",
            }
            return answer
        candidates: list[tuple[int, str, tuple[Any, ...]]] = []
        changed, moved = _changed_tables(tx, req.cursor, high)
        for tbl in changed:
            for row in _page_rows(
                tx, viewer, tbl, req.cursor, high, req.limit + 1, with_deleted=req.cursor > 0
            ):
                candidates.append((int(row[1]), tbl, row))
        candidates.sort(key=lambda c: c[0])
        if len(candidates) > req.limit:
            taken = candidates[: req.limit]
            cutoff = taken[-1][0]
            answer["more"] = True
        else:
            taken, cutoff = candidates, high
        fit = page_within_bytes([c[2] for c in taken], max_bytes)
        if fit < len(taken):  # large rows: the page ends earlier, the answer stays bounded
            taken = taken[:fit]
            cutoff = taken[-1][0]
            answer["more"] = True
        answer["cursor"] = cutoff
        tables: dict[str, dict[str, Any]] = {}
        for _, tbl, row in taken:
            _add_row(tables, tbl, row, viewer)
        evict = _evictions(tx, viewer, req.cursor, cutoff) if moved else []
        for ref in req.refetch:
            if ref.tbl not in synced_tables():
                continue
            fields = synced_tables()[ref.tbl].fields
            sql, params = scope.predicate(tx, viewer, ref.tbl)
            row = tx.one(
                f"SELECT id, _version, _deleted, _clocks, {', '.join(fields)} FROM {ref.tbl}"
                f" WHERE id = ? AND _version <= ? AND {sql}",
                (ref.id, high, *params),
            )
            if row is None:
                evict.append({"tbl": ref.tbl, "id": ref.id})
            else:
                _add_row(tables, ref.tbl, row, viewer)
        answer["tables"] = tables
        answer["evict"] = evict
        if tag_device is not None:
            answer["clock_tag"] = clock_tags.device_tag(state.clock_secret, tag_device)
        return answer


def _add_row(
    tables: dict[str, dict[str, Any]], tbl: str, row: tuple[Any, ...], viewer: Viewer
) -> None:
    page = tables.get(tbl)
    fields = synced_tables()[tbl].fields
    if page is None:
        page = tables[tbl] = {"columns": list(fields), "rows": []}
    if row[2]:
        page["rows"].append([row[0], row[1], 1, row[3]])
        return
    values = list(row[4:])
    if tbl == "users":
        # Everyone sees every user (names, roles, teams); contact details and homes only as
        # far as scope.hidden_user_fields allows. The viewer's team is part of its scope key,
        # so a laptop whose team changes fetches the users again.
        by_name = dict(zip(fields, values, strict=True))
        for name in scope.hidden_user_fields(viewer, row[0], by_name.get("manager_id")):
            values[fields.index(name)] = None
    page["rows"].append([row[0], row[1], 0, row[3], *values])


def _evictions(tx: Tx, viewer: Viewer, lo: int, hi: int) -> list[dict[str, str]]:
    if viewer.is_admin:
        return []
    moved: dict[str, list[str]] = {}
    for tbl, row_id, old_t, old_p in tx.all(
        "SELECT tbl, row_id, old_territories, old_people FROM moves"
        " WHERE version > ? AND version <= ?",
        (lo, hi),
    ):
        if viewer.sees_scope_values(json.loads(old_t), json.loads(old_p)):
            moved.setdefault(tbl, []).append(row_id)
    evict: list[dict[str, str]] = []
    for tbl, ids in moved.items():
        ids = sorted(set(ids))
        sql, params = scope.predicate(tx, viewer, tbl)
        in_sql, in_param = tx.in_list("id", ids)
        still = {
            r[0]
            for r in tx.all(f"SELECT id FROM {tbl} WHERE {in_sql} AND {sql}", (in_param, *params))
        }
        evict += [{"tbl": tbl, "id": i} for i in ids if i not in still]
    return evict


def checksums(storage: Storage, user_id: str) -> dict[str, Any]:
    """Per table: how many live rows the viewer may see and the sum of their versions."""
    with storage.snapshot() as tx:
        state, _ = storage.state(tx)
        high = state.high_water
        viewer = scope.viewer(tx, user_id, state.scope_epoch)
        tables: dict[str, dict[str, int]] = {}
        for tbl in synced_tables():
            sql, params = scope.predicate(tx, viewer, tbl)
            count, total = tx.one(
                f"SELECT count(*), coalesce(sum(_version), 0) FROM {tbl}"
                f" WHERE _deleted = 0 AND {sql}",
                params,
            ) or (0, 0)
            tables[tbl] = {"count": int(count), "version_sum": int(total)}
        return {"high_water": high, "tables": tables}
