"""The one merge rule of sync, shared by the server and the laptops.

Each field keeps the value with the larger clock (``"<hlc hex>@<device>"``, compared as strings:
time first, then device id), whatever order the writes arrive in; the value that loses is reported
so that it can go to a conflict log instead of vanishing. A delete is final: it wins over every
edit, earlier or later, and an edit (or a re-create under the same id) that reaches a deleted row is
reported as lost instead of bringing the row back.

A few fields form a unit (:data:`UNITS`: a row's territory and owner) that wins or loses as a
whole, so a reassignment is never half applied. When every write of a unit carries all of its
fields (a reassignment does) the outcome still does not depend on arrival order; a write carrying
only part of a unit is judged against the unit as it stands when it arrives, which the server
decides for everyone (laptops take the server's row).

Pure functions over plain dicts: the server (``fieldrep.server.merge``) and the laptop
(``fieldrep.sync.local_apply``) differ only in where rows are read from and written to, and in when
an overwritten value is worth logging (the server logs a value its pusher had never seen).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldLoss:
    """A value that lost a merge, with the value that beat it."""

    field: str
    kept_value: Any
    kept_clock: str | None
    lost_value: Any
    lost_clock: str | None


@dataclass
class FieldMerge:
    """The merged fields: the values and clocks to store, which values changed, what lost."""

    values: dict[str, Any]
    clocks: dict[str, str]
    changed: list[str] = field(default_factory=list)
    lost: list[FieldLoss] = field(default_factory=list)


def _never(_name: str, _stored_clock: str) -> bool:
    return False


# Fields that change together and so win or lose a merge together: a reassignment moves a row to
# a territory and an owner in it, and a concurrent newer write of one of them must not leave it
# half applied (in the new territory with the old owner). Per table.
UNITS: dict[str, tuple[tuple[str, ...], ...]] = {
    "accounts": (("territory_id", "owner_id"),),
    "referrals": (("territory_id", "owner_id"),),
}


def _as_units(
    stored_values: Mapping[str, Any],
    stored_clocks: Mapping[str, str],
    incoming_values: Mapping[str, Any],
    incoming_clocks: Mapping[str, str],
    units: tuple[tuple[str, ...], ...],
    unlogged: frozenset[str],
) -> tuple[dict[str, Any], dict[str, str], list[FieldLoss]]:
    """The incoming writes with each unit decided as a whole: the unit's incoming clock (the
    largest of the fields it carries) against its stored clock (the largest of its stored fields).
    Newer: every carried field takes that clock, so all of them win; older: all of them lose."""
    values, clocks = dict(incoming_values), dict(incoming_clocks)
    lost: list[FieldLoss] = []
    for unit in units:
        carried = [f for f in unit if f in values]
        if not carried:
            continue
        mine = max(clocks[f] for f in carried)
        theirs = max((stored_clocks[f] for f in unit if f in stored_clocks), default=None)
        if theirs is None or mine > theirs:
            clocks.update(dict.fromkeys(carried, mine))
        elif mine < theirs:
            for name in carried:
                value = values.pop(name)
                clock = clocks.pop(name)
                if stored_values.get(name) != value and name not in unlogged:
                    lost.append(FieldLoss(name, stored_values.get(name), theirs, value, clock))
    return values, clocks, lost


def merge_fields(
    stored_values: Mapping[str, Any],
    stored_clocks: Mapping[str, str],
    incoming_values: Mapping[str, Any],
    incoming_clocks: Mapping[str, str],
    *,
    unlogged: frozenset[str] = frozenset(),
    log_overwrite: Callable[[str, str], bool] = _never,
    units: tuple[tuple[str, ...], ...] = (),
) -> FieldMerge:
    """Merge incoming field writes into a stored (live) row.

    ``log_overwrite(field, stored_clock)`` says whether a stored value that the incoming one beats
    should be reported as lost too (the server does so for a concurrent value the writer had not
    seen). Fields in ``unlogged`` (bookkeeping such as ``updated_at``) merge the same way but never
    produce a loss. Each of ``units`` (see :data:`UNITS`) wins or loses as a whole.
    """
    values = dict(stored_values)
    clocks = dict(stored_clocks)
    out = FieldMerge(values=values, clocks=clocks)
    if units:
        incoming_values, incoming_clocks, out.lost = _as_units(
            stored_values, stored_clocks, incoming_values, incoming_clocks, units, unlogged
        )
    for name, value in incoming_values.items():
        mine = incoming_clocks[name]
        theirs = stored_clocks.get(name)
        if theirs is None or mine > theirs:
            before = stored_values.get(name)
            if before != value:
                out.changed.append(name)
                if theirs is not None and name not in unlogged and log_overwrite(name, theirs):
                    out.lost.append(FieldLoss(name, value, mine, before, theirs))
            values[name] = value
            clocks[name] = mine
        elif mine < theirs and stored_values.get(name) != value and name not in unlogged:
            out.lost.append(FieldLoss(name, stored_values.get(name), theirs, value, mine))
    return out


def lost_to_delete(
    incoming_values: Mapping[str, Any],
    incoming_clocks: Mapping[str, str],
    delete_clock: str | None,
    *,
    unlogged: frozenset[str] = frozenset(),
) -> list[FieldLoss]:
    """Every incoming field write that reaches a deleted row loses to the delete."""
    return [
        FieldLoss(name, None, delete_clock, value, incoming_clocks.get(name))
        for name, value in incoming_values.items()
        if name not in unlogged
    ]


@dataclass
class RowState:
    """A row as the merge sees it: its fields and clocks, and the delete's clock once deleted."""

    values: dict[str, Any] = field(default_factory=dict)
    clocks: dict[str, str] = field(default_factory=dict)
    deleted_clock: str | None = None
    exists: bool = False


@dataclass(frozen=True)
class Write:
    """One mutation of one row: field values with their clocks, or a delete with its clock."""

    values: Mapping[str, Any] = field(default_factory=dict)
    clocks: Mapping[str, str] = field(default_factory=dict)
    delete_clock: str | None = None


def apply_write(
    state: RowState,
    write: Write,
    *,
    unlogged: frozenset[str] = frozenset(),
    log_overwrite: Callable[[str, str], bool] = _never,
    units: tuple[tuple[str, ...], ...] = (),
) -> tuple[RowState, list[FieldLoss]]:
    """The row after ``write``, and what lost. Deletes are final; a write to a deleted row is lost."""
    if write.delete_clock is not None:
        if state.deleted_clock is not None:
            # Two deletes: keep the larger clock so the outcome does not depend on their order.
            kept = max(state.deleted_clock, write.delete_clock)
            return RowState(state.values, state.clocks, kept, state.exists), []
        return RowState(dict(state.values), dict(state.clocks), write.delete_clock, True), []
    if state.deleted_clock is not None:
        lost = lost_to_delete(write.values, write.clocks, state.deleted_clock, unlogged=unlogged)
        return state, lost
    merged = merge_fields(
        state.values,
        state.clocks,
        write.values,
        write.clocks,
        unlogged=unlogged,
        log_overwrite=log_overwrite,
        units=units,
    )
    return RowState(merged.values, merged.clocks, None, True), merged.lost
