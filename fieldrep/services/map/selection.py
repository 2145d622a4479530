"""Bulk actions on accounts picked on the map: assign them to a territory or a rep, export them.

A manual assignment is written with its assignment-history row (who, when, why) and locks the
account, so the next run of the territory rules does not move it back; all in one transaction.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from fieldrep.services.context import Context
from fieldrep.store.errors import ValidationError
from fieldrep.store.writer import utc_now

_CHUNK = 500


def assign(
    ctx: Context,
    account_ids: Sequence[str],
    *,
    territory_id: str | None = None,
    owner_id: str | None = None,
    reason: str = "assigned on the map",
) -> int:
    """Move the accounts to ``territory_id`` and/or ``owner_id``; returns how many changed."""
    if territory_id is None and owner_id is None:
        raise ValidationError("choose a territory or a rep to assign to", table="accounts")
    if (
        territory_id is not None
        and not ctx.conn.execute(
            "SELECT 1 FROM territories WHERE id = ?", (territory_id,)
        ).fetchone()
    ):
        raise ValidationError(
            "that territory no longer exists", table="accounts", field="territory_id"
        )
    if (
        owner_id is not None
        and not ctx.conn.execute("SELECT 1 FROM users WHERE id = ?", (owner_id,)).fetchone()
    ):
        raise ValidationError("that user no longer exists", table="accounts", field="owner_id")
    ids = list(dict.fromkeys(account_ids))
    now, by = utc_now(), ctx.user_id
    changed = 0
    with ctx.writer.transaction():
        history = []
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = ctx.conn.execute(
                f"SELECT id, territory_id, owner_id, locked FROM accounts WHERE id IN ({marks})",
                chunk,
            ).fetchall()
            for account_id, from_t, from_o, locked in rows:
                to_t = territory_id if territory_id is not None else from_t
                to_o = owner_id if owner_id is not None else from_o
                if (to_t, to_o) == (from_t, from_o) and locked:
                    continue
                ctx.writer.update(
                    "accounts", account_id, {"territory_id": to_t, "owner_id": to_o, "locked": 1}
                )
                history.append(
                    {
                        "entity": "account",
                        "entity_id": account_id,
                        "from_territory_id": from_t,
                        "to_territory_id": to_t,
                        "from_owner_id": from_o,
                        "to_owner_id": to_o,
                        "reason": reason,
                        "by_user_id": by,
                        "at": now,
                    }
                )
                changed += 1
        if history:
            ctx.writer.insert_many("assignment_history", history)
    return changed


def export_csv(ctx: Context, account_ids: Sequence[str], path: Path) -> int:
    """The accounts as CSV (the columns the accounts import reads back); returns the row count."""
    columns = [
        "id",
        "name",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "lat",
        "lon",
        "status",
    ]
    ids = list(dict.fromkeys(account_ids))
    written = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in ctx.conn.execute(
                f"SELECT {', '.join(columns)} FROM accounts WHERE id IN ({marks}) ORDER BY name",
                chunk,
            ):
                # Text a spreadsheet would run as a formula gets a leading apostrophe (see README).
                out.writerow(
                    ["'" + v if isinstance(v, str) and v[:1] in "=+-@" else v for v in row]
                )
                written += 1
    return written
