"""Rows a pushed row points at must exist on the server: no orphans.

A laptop pushes its changes in the order it made them, so a row it references (an account a
contact belongs to, a referral an event is about) reaches the server first, or in the same push:
a reference to a row the server has never had is a change that cannot be right (a forged or
corrupt row, or the child of a row the server refused). Such a change is refused with the reason;
it stays on the laptop like every refused change. A reference to a deleted row is allowed (the
row exists, as a tombstone: the laptop may not have heard of the delete yet), and only values a
change writes are checked, so an old row can still be edited.
"""

from __future__ import annotations

from typing import Any

from fieldrep.server.scope import Refused
from fieldrep.server.storage import Tx

# table -> column -> the table it points at.
REFERENCES: dict[str, dict[str, str]] = {
    "territory_members": {"territory_id": "territories", "user_id": "users"},
    "territories": {"parent_id": "territories", "owner_id": "users"},
    "accounts": {"territory_id": "territories", "owner_id": "users"},
    "contacts": {"account_id": "accounts"},
    "visits": {"account_id": "accounts", "user_id": "users"},
    "tasks": {"account_id": "accounts", "referral_id": "referrals", "user_id": "users"},
    "deals": {"account_id": "accounts", "user_id": "users", "territory_id": "territories"},
    "quotas": {"territory_id": "territories", "user_id": "users"},
    "referrals": {
        "referrer_account_id": "accounts",
        "territory_id": "territories",
        "owner_id": "users",
    },
    "referral_events": {"referral_id": "referrals"},
    "rewards": {"referral_id": "referrals", "recipient_user_id": "users"},
    "assignment_history": {
        "from_territory_id": "territories",
        "to_territory_id": "territories",
        "from_owner_id": "users",
        "to_owner_id": "users",
    },
}
# assignment_history.entity names the table its entity_id points at.
HISTORY_ENTITIES = {"account": "accounts", "referral": "referrals", "task": "tasks"}


def _targets(tbl: str, values: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(column, table, id) of each reference among ``values``."""
    out = [
        (col, target, str(values[col]))
        for col, target in REFERENCES.get(tbl, {}).items()
        if values.get(col) not in (None, "")
    ]
    if tbl == "assignment_history" and values.get("entity_id"):
        target = HISTORY_ENTITIES.get(str(values.get("entity")))
        if target is not None:
            out.append(("entity_id", target, str(values["entity_id"])))
    return out


def check(
    tx: Tx, tbl: str, row_id: str, before: dict[str, Any] | None, after: dict[str, Any]
) -> None:
    """Refused when a reference ``after`` writes (new, or changed since ``before``) names a row
    the server does not have."""
    for col, target, ref in _targets(tbl, after):
        if before is not None and before.get(col) == after.get(col):
            continue
        if target == tbl and ref == row_id:
            continue
        if tx.one(f"SELECT 1 FROM {target} WHERE id = ?", (ref,)) is None:
            raise Refused(
                f"{tbl}.{col} points at {target} {ref}, which the server does not have"
                " (it was never sent, or was refused); send that row first"
            )
