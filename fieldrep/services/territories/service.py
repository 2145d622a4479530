"""Managing territories: create, edit, archive, hierarchy, precedence, members and handover.

Every change is validated against the whole set first (a new polygon may overlap a neighbour at equal
priority, a new parent may close a cycle), then written through the Writer in one transaction, so a
refused change leaves nothing behind. Precedence: a lower ``priority`` number wins.

Kept whole: the territory service's writes (definitions, members, precedence, archive, handover)
share its validation, and each is short.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fieldrep.domain.ids import uuid7
from fieldrep.domain.territory_rules import (
    KINDS,
    AttributeRule,
    DefinitionError,
    Region,
    TerritoryDef,
    parse_color,
    parse_geometry,
    parse_postal_codes,
    parse_priority,
)
from fieldrep.domain.territory_validation import Problem, raise_errors
from fieldrep.domain.vocabulary import OPEN_ACCOUNT_STATUSES
from fieldrep.services.context import Context
from fieldrep.store.errors import StoreError, ValidationError
from fieldrep.store.writer import utc_now

OPEN_REFERRAL_STAGES = ("new", "contacted", "qualified", "proposal")


def load_definitions(ctx: Context) -> list[TerritoryDef]:
    rows = ctx.db.query("SELECT * FROM territories ORDER BY priority, name")
    return [TerritoryDef.from_row(r) for r in rows]


def criteria_parts(row: dict[str, Any]) -> list[str]:
    """What a territory row from :func:`territory_rows` is matched by, e.g. ["polygon", "87
    postal codes"], in precedence order (the CLI and the Territories page both show this)."""
    parts = []
    if row["has_polygon"]:
        parts.append("polygon")
    if row["postal_code_count"]:
        parts.append(f"{row['postal_code_count']:,} postal codes")
    if row["region_count"]:
        parts.append(f"{row['region_count']} regions")
    if row["rule_count"]:
        parts.append(f"{row['rule_count']} rules")
    return parts


def territory_rows(ctx: Context, include_archived: bool = True) -> list[dict[str, Any]]:
    """Territories with owner name, parent name and account/member counts (for lists and trees)."""
    sql = """
        SELECT t.id, t.name, t.kind, t.parent_id, p.name AS parent_name, t.priority, t.color,
               t.owner_id, u.display_name AS owner_name, t.archived,
               t.geometry IS NOT NULL AS has_polygon,
               json_array_length(t.postal_codes) AS postal_code_count,
               json_array_length(t.regions) AS region_count,
               json_array_length(t.rules) AS rule_count,
               (SELECT count(*) FROM accounts a WHERE a.territory_id = t.id) AS accounts,
               (SELECT count(*) FROM territory_members m
                 WHERE m.territory_id = t.id AND m.active = 1) AS members
        FROM territories t
        LEFT JOIN territories p ON p.id = t.parent_id
        LEFT JOIN users u ON u.id = t.owner_id
        WHERE (? OR t.archived = 0)
        ORDER BY t.priority, t.name COLLATE NOCASE
    """
    return [dict(r) for r in ctx.db.query(sql, [int(include_archived)])]


def get_row(ctx: Context, territory_id: str) -> dict[str, Any]:
    rows = list(ctx.db.query("SELECT * FROM territories WHERE id = ?", [territory_id]))
    if not rows:
        raise StoreError(f"territory {territory_id} does not exist")
    return rows[0]


def build_definition(base: TerritoryDef, changes: Mapping[str, Any]) -> TerritoryDef:
    """Apply user-entered ``changes`` (raw values: GeoJSON text, pasted codes...) to ``base``."""
    name = str(changes.get("name", base.name) or "").strip()
    if not name:
        raise DefinitionError("a territory needs a name", field="name")
    fields: dict[str, Any] = {"name": name}
    if "kind" in changes:
        if changes["kind"] not in KINDS:
            raise DefinitionError(
                f"kind must be region or territory, not {changes['kind']!r}",
                field="kind",
                territory=name,
            )
        fields["kind"] = changes["kind"]
    if "priority" in changes:
        fields["priority"] = parse_priority(changes["priority"], name)
    if "color" in changes:
        fields["color"] = parse_color(changes["color"], name)
    for key in ("parent_id", "owner_id"):
        if key in changes:
            fields[key] = changes[key] or None
    if "archived" in changes:
        fields["archived"] = bool(changes["archived"])
    if "geometry" in changes:
        raw = changes["geometry"]
        fields["geometry"] = (
            None
            if raw in (None, "")
            else (raw if hasattr(raw, "geom_type") else parse_geometry(raw, name))
        )
    if "postal_codes" in changes:
        raw = changes["postal_codes"]
        try:
            fields["postal_codes"] = (
                frozenset() if raw is None else frozenset(parse_postal_codes(raw))
            )
        except DefinitionError as exc:
            raise DefinitionError(str(exc), field="postal_codes", territory=name) from None
    if "regions" in changes:
        raw = changes["regions"] or []
        if isinstance(raw, str):
            raw = [p for p in raw.replace(";", ",").replace("\n", ",").split(",") if p.strip()]
        fields["regions"] = tuple(dict.fromkeys(Region.parse(r) for r in raw))
    if "rules" in changes:
        raw = changes["rules"] or []
        if isinstance(raw, str):
            raw = json.loads(raw)
        fields["rules"] = tuple(
            AttributeRule.from_json(r, f"{name} rule {i}") for i, r in enumerate(raw, 1)
        )
    return replace(base, **fields)


def _validate_with(ctx: Context, changed: Sequence[TerritoryDef]) -> list[Problem]:
    by_id = {t.id: t for t in load_definitions(ctx)}
    for t in changed:
        if t.parent_id and t.parent_id not in by_id and t.parent_id not in {c.id for c in changed}:
            raise DefinitionError(
                "the parent territory does not exist", field="parent_id", territory=t.name
            )
        by_id[t.id] = t
    return raise_errors(list(by_id.values()))


def _user_exists(ctx: Context, user_id: str | None, what: str) -> None:
    if user_id and not list(ctx.db.query("SELECT 1 FROM users WHERE id = ?", [user_id])):
        raise ValidationError(
            f"{what} {user_id} is not a known user", table="territories", field="owner_id"
        )


def create_territory(ctx: Context, name: str, **changes: Any) -> str:
    """Create a territory (or region); returns its id. Raises DefinitionError on bad input."""
    new = build_definition(TerritoryDef(id=uuid7(), name=name), {"name": name, **changes})
    _user_exists(ctx, new.owner_id, "owner")
    _validate_with(ctx, [new])
    with ctx.writer.transaction():
        ctx.writer.insert(
            "territories", {**new.row_fields(), "notes": changes.get("notes")}, row_id=new.id
        )
        if new.owner_id:
            ensure_member(ctx, new.id, new.owner_id, role="owner")
    return new.id


def update_territory(ctx: Context, territory_id: str, **changes: Any) -> dict[str, Any]:
    """Edit a territory; returns the columns that changed."""
    current = TerritoryDef.from_row(get_row(ctx, territory_id))
    new = build_definition(current, changes)
    _user_exists(ctx, new.owner_id, "owner")
    _validate_with(ctx, [new])
    fields = new.row_fields()
    if "notes" in changes:
        fields["notes"] = changes["notes"]
    with ctx.writer.transaction():
        changed = ctx.writer.update("territories", territory_id, fields)
        if new.owner_id and "owner_id" in changed:
            ensure_member(ctx, territory_id, new.owner_id, role="owner")
    return changed


def archive_territory(ctx: Context, territory_id: str, archived: bool = True) -> None:
    """Archived territories keep their history but take no new accounts."""
    update_territory(ctx, territory_id, archived=archived)


def move_precedence(ctx: Context, territory_id: str, direction: int) -> None:
    """Move a territory one place up (-1: wins over its neighbour) or down (+1) in precedence."""
    active = [t for t in load_definitions(ctx) if not t.archived]
    active.sort(key=lambda t: (t.priority, t.name.casefold(), t.id))
    index = next((i for i, t in enumerate(active) if t.id == territory_id), None)
    if index is None:
        raise StoreError("only active territories have a precedence")
    other = index + (-1 if direction < 0 else 1)
    if not 0 <= other < len(active):
        return
    me, them = active[index], active[other]
    if me.priority != them.priority:
        new_me, new_them = them.priority, me.priority
    else:  # equal numbers: make the order explicit rather than leaving it to the names
        new_me, new_them = (
            (me.priority - 1, me.priority) if direction < 0 else (me.priority + 1, me.priority)
        )
        new_me = max(new_me, 0)
        if new_me == new_them:
            new_them += 1
    changed = [replace(me, priority=new_me), replace(them, priority=new_them)]
    _validate_with(ctx, changed)
    with ctx.writer.transaction():
        ctx.writer.update("territories", me.id, {"priority": new_me})
        ctx.writer.update("territories", them.id, {"priority": new_them})


# -- members --------------------------------------------------------------------------------------


def members(ctx: Context, territory_id: str) -> list[dict[str, Any]]:
    sql = """
        SELECT m.id, m.user_id, u.username, u.display_name, m.role, m.routing_weight, m.capacity,
               m.active,
               (SELECT count(*) FROM accounts a WHERE a.owner_id = m.user_id
                  AND a.territory_id = m.territory_id) AS accounts
        FROM territory_members m LEFT JOIN users u ON u.id = m.user_id
        WHERE m.territory_id = ? AND m.active = 1
        ORDER BY m.role = 'owner' DESC, u.display_name
    """
    return [dict(r) for r in ctx.db.query(sql, [territory_id])]


def ensure_member(ctx: Context, territory_id: str, user_id: str, role: str = "member") -> str:
    rows = list(
        ctx.db.query(
            "SELECT id, role, active FROM territory_members WHERE territory_id = ? AND user_id = ?",
            [territory_id, user_id],
        )
    )
    if rows:
        changes: dict[str, Any] = {"active": 1}
        if role == "owner":
            changes["role"] = "owner"
        ctx.writer.update("territory_members", rows[0]["id"], changes)
        return str(rows[0]["id"])
    return ctx.writer.insert(
        "territory_members", {"territory_id": territory_id, "user_id": user_id, "role": role}
    )


def set_member(
    ctx: Context,
    territory_id: str,
    user_id: str,
    *,
    role: str = "member",
    weight: float = 1.0,
    capacity: int | None = None,
) -> str:
    """Add or update a member with routing weight and capacity (None: unlimited)."""
    get_row(ctx, territory_id)
    _user_exists(ctx, user_id, "member")
    if weight < 0:
        raise ValidationError(
            "routing weight cannot be negative", table="territory_members", field="routing_weight"
        )
    if capacity is not None and capacity < 0:
        raise ValidationError(
            "capacity cannot be negative", table="territory_members", field="capacity"
        )
    with ctx.writer.transaction():
        member_id = ensure_member(ctx, territory_id, user_id, role)
        ctx.writer.update(
            "territory_members",
            member_id,
            {"role": role, "routing_weight": float(weight), "capacity": capacity},
        )
    return member_id


def remove_member(ctx: Context, territory_id: str, user_id: str) -> None:
    with ctx.writer.transaction():
        for row in ctx.db.query(
            "SELECT id FROM territory_members WHERE territory_id = ? AND "
            "user_id = ? AND active = 1",
            [territory_id, user_id],
        ):
            ctx.writer.update("territory_members", row["id"], {"active": 0})


# -- handover -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handover:
    accounts: int
    tasks: int
    referrals: int


def handover(
    ctx: Context,
    from_user: str,
    to_user: str,
    *,
    territory_id: str | None = None,
    reason: str = "",
    dry_run: bool = False,
) -> Handover:
    """Move a rep's open accounts, open tasks and open referrals to another rep, with history.

    With ``territory_id`` only that territory's items move and the territory changes owner too
    (a territory changing hands); without it everything the rep holds moves (a rep leaving).
    ``dry_run`` only counts what would move (the dialog shows it before the manager confirms).
    """
    if from_user == to_user:
        raise ValidationError("hand over to a different rep", table="accounts", field="owner_id")
    _user_exists(ctx, from_user, "rep")
    _user_exists(ctx, to_user, "rep")
    why = reason or "handover"
    by, now = ctx.user_id, utc_now()
    scope_sql, scope_args = ("AND territory_id = ?", [territory_id]) if territory_id else ("", [])
    marks = ",".join("?" * len(OPEN_ACCOUNT_STATUSES))
    accounts = list(
        ctx.db.query(
            f"SELECT id, territory_id FROM accounts WHERE owner_id = ? AND status IN ({marks}) "
            f"{scope_sql}",
            [from_user, *OPEN_ACCOUNT_STATUSES, *scope_args],
        )
    )
    stage_marks = ",".join("?" * len(OPEN_REFERRAL_STAGES))
    referrals = list(
        ctx.db.query(
            f"SELECT id, territory_id FROM referrals WHERE owner_id = ? AND stage IN ({stage_marks}) "
            f"{scope_sql}",
            [from_user, *OPEN_REFERRAL_STAGES, *scope_args],
        )
    )
    account_ids = {a["id"] for a in accounts}
    tasks = [
        t
        for t in ctx.db.query(
            "SELECT id, account_id, referral_id FROM tasks WHERE user_id = ? AND done = 0",
            [from_user],
        )
        if territory_id is None
        or t["account_id"] in account_ids
        or t["referral_id"] in {r["id"] for r in referrals}
    ]
    if dry_run:
        return Handover(len(accounts), len(tasks), len(referrals))
    history: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def log(entity: str, row: Mapping[str, Any]) -> None:
        history.append(
            {
                "entity": entity,
                "entity_id": row["id"],
                "from_territory_id": row.get("territory_id"),
                "to_territory_id": row.get("territory_id"),
                "from_owner_id": from_user,
                "to_owner_id": to_user,
                "reason": why,
                "by_user_id": by,
                "at": now,
            }
        )

    with ctx.writer.transaction():
        for row in accounts:
            ctx.writer.update("accounts", row["id"], {"owner_id": to_user})
            log("account", row)
        for row in referrals:
            ctx.writer.update("referrals", row["id"], {"owner_id": to_user})
            log("referral", row)
            events.append(
                {
                    "referral_id": row["id"],
                    "at": now,
                    "user_id": by,
                    "kind": "assignment",
                    "from_value": from_user,
                    "to_value": to_user,
                    "reason": why,
                }
            )
        for row in tasks:
            ctx.writer.update("tasks", row["id"], {"user_id": to_user})
            log("task", {"id": row["id"]})
        # The territories change hands too: the one named, or every one the leaving rep held.
        held = (
            [territory_id]
            if territory_id
            else [
                r["id"]
                for r in ctx.db.query(
                    "SELECT id FROM territories WHERE owner_id = ? OR id IN (SELECT territory_id "
                    "FROM territory_members WHERE user_id = ? AND active = 1)",
                    [from_user, from_user],
                )
            ]
        )
        for tid in held:
            t = get_row(ctx, tid)
            if t["owner_id"] == from_user:
                ctx.writer.update("territories", tid, {"owner_id": to_user})
            # The successor takes over the leaver's routing weight and capacity unless already a
            # member with settings of their own.
            before = list(
                ctx.db.query(
                    "SELECT user_id, routing_weight, capacity, active FROM territory_members "
                    "WHERE territory_id = ? AND user_id IN (?, ?)",
                    [tid, from_user, to_user],
                )
            )
            leaver = next((m for m in before if m["user_id"] == from_user and m["active"]), None)
            was_member = any(m["user_id"] == to_user and m["active"] for m in before)
            member_id = ensure_member(
                ctx, tid, to_user, role="owner" if t["owner_id"] == from_user else "member"
            )
            if leaver is not None and not was_member:
                ctx.writer.update(
                    "territory_members",
                    member_id,
                    {"routing_weight": leaver["routing_weight"], "capacity": leaver["capacity"]},
                )
            remove_member(ctx, tid, from_user)
        if history:
            ctx.writer.insert_many("assignment_history", history)
        if events:
            ctx.writer.insert_many("referral_events", events)
    return Handover(len(accounts), len(tasks), len(referrals))


def write_definitions(
    ctx: Context, new: Iterable[TerritoryDef], updates: Iterable[TerritoryDef]
) -> list[Problem]:
    """Insert and update many definitions in one transaction (after validating the whole set);
    returns the warnings of the validation (slivers, territories matching nothing)."""
    new, updates = list(new), list(updates)
    warnings = _validate_with(ctx, [*new, *updates])
    with ctx.writer.transaction():
        for t in sorted(new, key=lambda t: t.kind != "region"):
            ctx.writer.insert("territories", t.row_fields(), row_id=t.id)
        for t in updates:
            ctx.writer.update("territories", t.id, t.row_fields())
    return warnings
