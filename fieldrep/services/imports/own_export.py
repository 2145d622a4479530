"""The rows of our own accounts export come back (a "FieldRep id" column): each updates the account
its id names instead of being created again, changing only what the row changed."""

from __future__ import annotations

import json
from typing import Any

from fieldrep.geo.placing import Placement
from fieldrep.services.context import Context
from fieldrep.services.imports.passes import ImportReport

_NOT_COMPARED = frozenset(("geocode_quality", "geocode_source"))


def accounts_by_id(conn: Any, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The stored accounts of ``ids`` that exist, by id, as column -> value."""
    cur = conn.execute(
        "SELECT * FROM accounts WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(ids)),),
    )
    names = [d[0] for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def update_from_row(
    ctx: Context, current: dict[str, Any], values: dict[str, Any], report: ImportReport
) -> None:
    """Write what an exported-and-edited row changed of the account it names."""
    placement: Placement = values.pop("_placement")
    values.pop("_external_id", None)
    address_moved = any(
        values.get(f) != current.get(f) for f in ("street", "city", "region", "postal_code")
    )
    if "lat" in values:
        if values["lat"] == current["lat"] and values["lon"] == current["lon"]:
            del values["lat"], values["lon"]
        else:
            values["geocode_quality"] = "manual"
    elif address_moved and placement.lat is not None:
        values.update(placement.as_fields())
    changes = {
        k: v
        for k, v in values.items()
        if k in current and current[k] != v and (k not in _NOT_COMPARED or "lat" in values)
    }
    if not changes:
        report.unchanged += 1
        return
    changed = ctx.writer.update("accounts", current["id"], changes)
    report.updated += 1
    for name in changed.keys() - {"updated_at"}:
        report.updated_fields[name] = report.updated_fields.get(name, 0) + 1


__all__ = ["accounts_by_id", "update_from_row"]
