"""Applying one pushed mutation: per-field last-writer-wins merge, domain rules and scope checks.

Merge rules, whatever order mutations arrive in:

- each field keeps the value with the larger clock string ``"<hlc hex>@<device>"`` (time, then device
  id); the other value goes to ``server_conflicts`` when the pushed one loses, or when the pushed one
  wins over a value its device had not pulled yet (a concurrent write that merely arrived first);
- insert-only tables (visits, referral_events, assignment_history) are never changed after the first
  write: a different value for an existing row is refused;
- deletes are tombstones and final: a delete wins over every edit, earlier or later, and an edit that
  reaches a deleted row is kept in the conflict log instead of bringing the row back. This makes the
  outcome independent of arrival order and never resurrects a row some laptops already removed.

The caller runs each mutation in a savepoint of the push's transaction; :class:`Refused` rolls it
back alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fieldrep.domain.merge import UNITS, FieldLoss, lost_to_delete, merge_fields
from fieldrep.server import authority, references, scope
from fieldrep.server.scope import Refused, Viewer
from fieldrep.server.storage import Tx
from fieldrep.server.validate import complete_row
from fieldrep.store.catalog import table
from fieldrep.sync.protocol import DELETE_CLOCK, UNLOGGED_FIELDS, Conflict, Mutation


@dataclass
class Outcome:
    changed: bool = False
    conflicts: list[Conflict] = field(default_factory=list)


# Key in ``_fversions`` holding the change number of the row's insert.
BASE_VERSION = ""


def dump_clocks(clocks: dict[str, str]) -> str:
    return json.dumps(clocks, separators=(",", ":"))


StoredRow = tuple[dict[str, Any], dict[str, str], bool, int, dict[str, int]]


def load_row(tx: Tx, tbl: str, row_id: str) -> StoredRow | None:
    """(values, clocks, deleted, version, field versions) of a stored row, or None; locks the row
    until the end of the (writing) transaction on PostgreSQL.

    Field versions say at which change number each field last changed; fields missing there last
    changed when the row was inserted (``BASE_VERSION``), and for rows older than this bookkeeping
    the row version stands in."""
    found = _load(tx, tbl, row_id, ("1 = 1", []))
    return found[0] if found else None


def _load(
    tx: Tx, tbl: str, row_id: str, check: tuple[str, list[Any]]
) -> tuple[StoredRow, bool] | None:
    """:func:`load_row`, with whether the row passes ``check`` (SQL over its own columns, and its
    parameters) computed in the same statement."""
    fields = table(tbl).fields
    sql, params = check
    row = tx.one(
        f"SELECT {', '.join(fields)}, _clocks, _deleted, _version, _fversions, {sql} FROM {tbl}"
        f" WHERE id = ?{tx.for_update}",
        (*params, row_id),
    )
    if row is None:
        return None
    return (
        dict(zip(fields, row[:-5], strict=True)),
        json.loads(row[-5]),
        bool(row[-4]),
        int(row[-3]),
        json.loads(row[-2] or "{}"),
    ), bool(row[-1])


def write_row(
    tx: Tx,
    tbl: str,
    row_id: str,
    values: dict[str, Any],
    clocks: dict[str, str],
    version: int,
    *,
    deleted: bool = False,
    insert: bool,
    field_versions: dict[str, int] | None = None,
) -> None:
    fields = table(tbl).fields
    if field_versions is None:
        field_versions = {BASE_VERSION: version} if insert else {}
    fversions = json.dumps(field_versions, separators=(",", ":"))
    if insert:
        cols = ", ".join(["id", *fields, "_clocks", "_version", "_deleted", "_fversions"])
        marks = ", ".join("?" * (len(fields) + 5))
        tx.execute(
            f"INSERT INTO {tbl} ({cols}) VALUES ({marks})",
            (
                row_id,
                *(values.get(f) for f in fields),
                dump_clocks(clocks),
                version,
                int(deleted),
                fversions,
            ),
        )
    else:
        sets = ", ".join(f"{f} = ?" for f in fields)
        tx.execute(
            f"UPDATE {tbl} SET {sets}, _clocks = ?, _version = ?, _deleted = ?, _fversions = ?"
            " WHERE id = ?",
            (
                *(values.get(f) for f in fields),
                dump_clocks(clocks),
                version,
                int(deleted),
                fversions,
                row_id,
            ),
        )


def _conflict(m: Mutation, loss: FieldLoss) -> Conflict:
    return Conflict(
        seq=m.seq,
        tbl=m.tbl,
        row_id=m.row_id,
        field=loss.field,
        kept_value=loss.kept_value,
        kept_clock=loss.kept_clock,
        lost_value=loss.lost_value,
        lost_clock=loss.lost_clock,
    )


def _log_conflict(tx: Tx, c: Conflict, device_id: str, now: str) -> None:
    tx.execute(
        "INSERT INTO server_conflicts (tbl, row_id, field, kept_value, kept_clock, lost_value,"
        " lost_clock, device_id, seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            c.tbl,
            c.row_id,
            c.field,
            json.dumps(c.kept_value),
            c.kept_clock,
            json.dumps(c.lost_value),
            c.lost_clock,
            device_id,
            c.seq,
            now,
        ),
    )


def _record_moves(
    tx: Tx, tbl: str, row_id: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    """Note a row (and the rows that follow it) leaving their old scope, for pulls to evict."""
    rule = scope.RULES.get(tbl)
    if rule is None or all(before.get(c) == after.get(c) for c in rule.columns):
        return
    old_t, old_p = scope.scope_values(tx, tbl, before)
    version = tx.next_versions(1)
    tx.execute(
        "INSERT INTO moves (version, tbl, row_id, old_territories, old_people)"
        " VALUES (?, ?, ?, ?, ?)",
        (version, tbl, row_id, json.dumps(old_t), json.dumps(old_p)),
    )
    for child, col in scope.CHILDREN.get(tbl, []):
        crule = scope.RULES[child]
        ccols = crule.territory + crule.people
        select = ", ".join(("id", *ccols))
        for crow in tx.all(f"SELECT {select} FROM {child} WHERE {col} = ?", (row_id,)):
            cid, own = crow[0], [v for v in crow[1:] if v]
            # New change numbers make the children arrive wherever the parent now arrives.
            version = tx.next_versions(1)
            tx.execute(f"UPDATE {child} SET _version = ? WHERE id = ?", (version, cid))
            tx.execute(
                "INSERT INTO moves (version, tbl, row_id, old_territories, old_people)"
                " VALUES (?, ?, ?, ?, ?)",
                (version, child, cid, json.dumps(old_t), json.dumps(old_p + own)),
            )


def _visible(tx: Tx, viewer: Viewer, tbl: str, row_id: str) -> bool:
    """Whether an existing row is in the viewer's scope (no query for an admin: everything is)."""
    return viewer.is_admin or scope.visible(tx, viewer, tbl, row_id)


def _territory_member(tx: Tx, territory_id: str) -> str | None:
    """Who in a territory takes a row that arrives there without an owner: the territory's owner,
    else its member with the largest routing weight (the laptops' territory engine routes, fairly,
    before pushing; this is for a row a laptop could not route)."""
    row = tx.one("SELECT owner_id FROM territories WHERE id = ? AND _deleted = 0", (territory_id,))
    if row and row[0]:
        return str(row[0])
    found = tx.one(
        "SELECT user_id FROM territory_members WHERE territory_id = ? AND active = 1"
        " AND _deleted = 0 ORDER BY routing_weight DESC, user_id LIMIT 1",
        (territory_id,),
    )
    return str(found[0]) if found else None


def _default_owner(
    tx: Tx, viewer: Viewer, tbl: str, values: dict[str, Any], clocks: dict[str, str]
) -> None:
    """What no rule assigns belongs to its creator (the CRM convention): an account or referral
    without territory or owner is the pushing user's; one placed in a territory without an owner
    goes to that territory's owner or a member; a territory a manager creates without an owner
    (nor a parent of their team's) is that manager's, so their team's. The filled field takes the
    mutation's newest clock, so a later assignment on any laptop still wins."""
    if tbl in scope.CREATOR_TABLES and values.get("territory_id") and not values.get("owner_id"):
        owner = _territory_member(tx, values["territory_id"])
        if owner is not None:
            values["owner_id"] = owner
            clocks["owner_id"] = max(clocks.values())
        return
    if viewer.is_admin:
        return
    if tbl in scope.CREATOR_TABLES:
        if values.get("territory_id") or values.get("owner_id"):
            return
    elif tbl == "territories":
        if (
            viewer.role != "manager"
            or values.get("owner_id")
            or values.get("parent_id") in viewer.territories
        ):
            return
    else:
        return
    values["owner_id"] = viewer.user_id
    clocks["owner_id"] = max(clocks.values())


def apply_mutation(
    tx: Tx,
    viewer: Viewer,
    device_id: str,
    m: Mutation,
    now: str,
    seen_through: int = 0,
    device_tag: str | None = None,
) -> Outcome:
    """Merge ``m`` into the stored row. ``seen_through`` is the cursor the device had pulled up to:
    a value it overwrites that changed after that point was never seen on the device, so it is
    logged as a conflict too (the concurrent write lost, though it reached the server first).
    ``device_tag`` is what the device's clocks carry (see :mod:`fieldrep.server.clock_tags`)."""
    own_suffix = "@" + (device_tag or device_id)
    tbl = table(m.tbl)
    public = m.tbl in scope.PUBLIC
    # The row and whether the viewer may change it, in one statement.
    loaded = _load(tx, m.tbl, m.row_id, scope.predicate(tx, viewer, m.tbl, writable=True))
    current, writable = loaded if loaded else (None, False)
    if current is not None and not current[2] and not public and not writable:
        if scope.visible(tx, viewer, m.tbl, m.row_id):
            raise Refused(
                f"{scope.handed_to(tx, m.tbl, current[0])}: only they or their manager can"
                " change it now"
            )
        raise Refused(f"this {m.tbl} row is outside your territories")
    if m.op == "delete":
        if tbl.insert_only:
            raise Refused(f"{m.tbl} rows cannot be deleted")
        if current is None or current[2]:
            return Outcome()
        values, clocks, _, _, fversions = current
        if public:
            scope.check_public_write(viewer, m.tbl, m.row_id, values, values, values)
        clocks[DELETE_CLOCK] = m.clocks[DELETE_CLOCK]
        write_row(
            tx,
            m.tbl,
            m.row_id,
            values,
            clocks,
            tx.next_versions(1),
            deleted=True,
            insert=False,
            field_versions=fversions,
        )
        return Outcome(changed=True)

    outcome = Outcome()
    if current is not None and current[2]:
        lost = lost_to_delete(
            m.fields, m.clocks, current[1].get(DELETE_CLOCK), unlogged=UNLOGGED_FIELDS
        )
        outcome.conflicts = [_conflict(m, loss) for loss in lost]
        for c in outcome.conflicts:
            _log_conflict(tx, c, device_id, now)
        return outcome

    if current is None:
        try:
            values = complete_row(m.tbl, m.row_id, dict(m.fields))
        except ValueError as exc:
            raise Refused(str(exc)) from None
        clocks = dict(m.clocks)
        _default_owner(tx, viewer, m.tbl, values, clocks)
        authority.check(tx, viewer, m.tbl, None, values, clocks, max(clocks.values()))
        references.check(tx, m.tbl, m.row_id, None, values)
        if public:
            scope.check_public_write(viewer, m.tbl, m.row_id, None, values, values)
        write_row(tx, m.tbl, m.row_id, values, clocks, tx.next_versions(1), insert=True)
        scope.note_creator(tx, m.tbl, m.row_id, viewer.user_id)
        if not public and not _visible(tx, viewer, m.tbl, m.row_id):
            if not authority.referral_follow_up(tx, viewer, m.tbl, values):
                raise Refused(f"this {m.tbl} row would be outside your territories")
            # A referral's follow-up task written for a colleague is theirs from now on: the
            # writer's next pull evicts it from their laptop (it would otherwise linger there
            # and make the laptop's checksums differ from the server's).
            tx.execute(
                "INSERT INTO moves (version, tbl, row_id, old_territories, old_people)"
                " VALUES (?, ?, ?, ?, ?)",
                (tx.next_versions(1), m.tbl, m.row_id, "[]", json.dumps([viewer.user_id])),
            )
        return Outcome(changed=True)

    before, clocks, _, row_version, fversions = current
    if tbl.insert_only:
        if any(before.get(k) != v for k, v in m.fields.items()):
            raise Refused(f"{m.tbl} rows cannot be changed once written")
        return outcome

    def unseen(name: str, stored_clock: str) -> bool:
        """A value this device overwrites without having pulled it: a concurrent write lost."""
        changed_at = fversions.get(name, fversions.get(BASE_VERSION, row_version))
        return changed_at > seen_through and not stored_clock.endswith(own_suffix)

    merged = merge_fields(
        before,
        clocks,
        m.fields,
        m.clocks,
        unlogged=UNLOGGED_FIELDS,
        log_overwrite=unseen,
        units=UNITS.get(m.tbl, ()),
    )
    after, changed = merged.values, merged.changed
    outcome.conflicts = [_conflict(m, loss) for loss in merged.lost]
    for c in outcome.conflicts:
        _log_conflict(tx, c, device_id, now)
    if not changed and merged.clocks == clocks:
        return outcome
    clocks = merged.clocks
    try:
        after = complete_row(m.tbl, m.row_id, after)
    except ValueError as exc:
        raise Refused(str(exc)) from None
    authority.check(tx, viewer, m.tbl, before, after, clocks, max(m.clocks.values()))
    references.check(tx, m.tbl, m.row_id, before, after)
    changed += [f for f, v in after.items() if before.get(f) != v and f not in changed]
    if public:
        scope.check_public_write(viewer, m.tbl, m.row_id, before, after, changed)
    _record_moves(tx, m.tbl, m.row_id, before, after)
    version = tx.next_versions(1)
    fversions.update(dict.fromkeys(changed, version))
    write_row(tx, m.tbl, m.row_id, after, clocks, version, insert=False, field_versions=fversions)
    # Visibility depends on the row's scope columns (and its parent, untouched here): when none
    # changed, the row is as visible as it was a moment ago.
    moved = public or any(before.get(c) != after.get(c) for c in scope.RULES[m.tbl].columns)
    if moved and not public and not _visible(tx, viewer, m.tbl, m.row_id):
        raise Refused(f"you cannot move this {m.tbl} row out of your territories")
    outcome.changed = True
    return outcome
