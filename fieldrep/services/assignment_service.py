"""Running the assignment engine over the database: the reassignment diff, applying it, assign-on-save.

``assign_all(ctx, dry_run=True)`` computes, for every unlocked account, the territory the engine
picks and (when the territory changes or the account has no owner) the owner routing picks, and
returns the differences with their reasons. Applying writes every move and its assignment-history row
(who, when, why) in ONE transaction, after checking nothing changed since the diff was made.

``assign_account(ctx, account_id)`` is the hook the accounts service calls after saving an account.
``route_lead(ctx, territory_id)`` picks the member for a new lead (the referrals service uses it).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fieldrep.domain.assignment import AccountFacts, AccountTable, AssignmentEngine, Decision
from fieldrep.domain.routing import Choice, Member, Router
from fieldrep.geo.geocoding import Address, OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.territories import load_definitions
from fieldrep.store.errors import StoreError
from fieldrep.store.writer import utc_now

Progress = Callable[[int, int, str], None]
ROUTED = "lead routed"
_FACT_COLUMNS = (
    "id, name, lat, lon, postal_code, country, region, industry, size, potential, "
    "status, territory_id, owner_id, locked"
)


@dataclass(frozen=True)
class Move:
    account_id: str
    account_name: str
    from_territory_id: str | None
    to_territory_id: str | None
    from_territory: str
    to_territory: str
    from_owner_id: str | None
    to_owner_id: str | None
    reason: str


@dataclass
class AssignmentDiff:
    moves: list[Move] = field(default_factory=list)
    unassigned: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, reason
    locked: int = 0
    total: int = 0
    applied: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "moved": len(self.moves),
            "locked": self.locked,
            "unassigned": [{"id": i, "name": n, "reason": r} for i, n, r in self.unassigned],
            "applied": self.applied,
            "moves": [asdict(m) for m in self.moves],
        }

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((m.from_territory, m.to_territory) for m in self.moves)


def _facts_from_row(r: dict[str, Any]) -> AccountFacts:
    return AccountFacts(
        r["id"],
        r["lat"],
        r["lon"],
        r["postal_code"],
        r["country"],
        r["region"],
        r["industry"],
        r["size"],
        r["potential"],
        r["status"],
    )


class _Routers:
    """One router per territory, seeded from the database's current counts."""

    def __init__(self, ctx: Context, policy: str = "round_robin") -> None:
        self.ctx, self.policy = ctx, policy
        self._routers: dict[str, Router] = {}
        self._members: dict[str, set[str]] = {}

    def members_of(self, territory_id: str) -> set[str]:
        self.router(territory_id)
        return self._members[territory_id]

    def router(self, territory_id: str) -> Router:
        if territory_id in self._routers:
            return self._routers[territory_id]
        rows = list(
            self.ctx.db.query(
                """SELECT m.user_id, coalesce(nullif(u.display_name, ''), u.username) AS name,
                      m.routing_weight, m.capacity,
                      (SELECT count(*) FROM accounts a WHERE a.owner_id = m.user_id) +
                      (SELECT count(*) FROM referrals r WHERE r.owner_id = m.user_id
                         AND r.stage NOT IN ('won', 'lost')) AS load,
                      (SELECT count(*) FROM accounts a WHERE a.owner_id = m.user_id
                         AND a.territory_id = m.territory_id) +
                      (SELECT count(*) FROM referrals r WHERE r.owner_id = m.user_id
                         AND r.territory_id = m.territory_id) AS received
               FROM territory_members m LEFT JOIN users u ON u.id = m.user_id
               WHERE m.territory_id = ? AND m.active = 1 AND coalesce(u.active, 1) = 1
               ORDER BY m.user_id""",
                [territory_id],
            )
        )
        owner = list(
            self.ctx.db.query(
                "SELECT t.owner_id, coalesce(nullif(u.display_name, ''), u.username) AS name "
                "FROM territories t LEFT JOIN users u ON u.id = t.owner_id WHERE t.id = ?",
                [territory_id],
            )
        )
        fallback = owner[0] if owner else {"owner_id": None, "name": ""}
        members = [
            Member(
                r["user_id"],
                r["name"] or "",
                float(r["routing_weight"]),
                r["capacity"],
                int(r["load"]),
                int(r["received"]),
            )
            for r in rows
        ]
        router = Router(
            members,
            policy=self.policy,
            fallback_owner=fallback["owner_id"],
            fallback_name=fallback["name"] or "",
        )
        self._routers[territory_id] = router
        self._members[territory_id] = {m.user_id for m in members} | (
            {fallback["owner_id"]} if fallback["owner_id"] else set()
        )
        return router

    def choose(self, territory_id: str) -> Choice:
        return self.router(territory_id).choose()


def _owner_for(
    routers: _Routers, territory_id: str | None, current_owner: str | None, territory_changed: bool
) -> tuple[str | None, str]:
    """(owner, why) for an account landing in ``territory_id``."""
    if territory_id is None:
        return current_owner, ""
    if current_owner and current_owner in routers.members_of(territory_id):
        return current_owner, ""
    if not territory_changed and current_owner:
        return current_owner, ""
    choice = routers.choose(territory_id)
    if choice.user_id is None:
        return current_owner, ""
    return choice.user_id, f"; owner: {choice.reason}"


def assign_all(
    ctx: Context,
    dry_run: bool = True,
    progress: Progress | None = None,
    policy: str = "round_robin",
) -> AssignmentDiff:
    """The reassignment diff for every account; applied (one transaction) unless ``dry_run``."""
    engine = AssignmentEngine(load_definitions(ctx))
    names = {t["id"]: t["name"] for t in ctx.db.query("SELECT id, name FROM territories")}
    rows = [dict(r) for r in ctx.db.query(f"SELECT {_FACT_COLUMNS} FROM accounts ORDER BY id")]
    if progress:
        progress(0, len(rows), "Matching accounts to territories")
    table = AccountTable([_facts_from_row(r) for r in rows])
    result = engine.assign_table(table)
    diff = AssignmentDiff(total=len(rows))
    locked = np.array([bool(r["locked"]) for r in rows], dtype=bool)
    diff.locked = int(locked.sum())
    routers = _Routers(ctx, policy)
    new_ids = [engine.territory_id(int(x)) for x in result.territory]
    for i, r in enumerate(rows):
        if progress and i % 5000 == 0:
            progress(i, len(rows), "Building the diff")
        if locked[i]:
            continue
        to_t = new_ids[i]
        if to_t is None:
            diff.unassigned.append((r["id"], r["name"], engine.reason(table, result, i)))
        changed = to_t != r["territory_id"]
        owner, owner_why = _owner_for(routers, to_t, r["owner_id"], changed)
        if not changed and owner == r["owner_id"]:
            continue
        reason = engine.reason(table, result, i) + owner_why
        diff.moves.append(
            Move(
                r["id"],
                r["name"],
                r["territory_id"],
                to_t,
                names.get(r["territory_id"], "(none)"),
                names.get(to_t, "(none)"),
                r["owner_id"],
                owner,
                reason,
            )
        )
    if not dry_run:
        apply(ctx, diff, progress)
    return diff


def apply(ctx: Context, diff: AssignmentDiff, progress: Progress | None = None) -> None:
    """Write every move and its history row in one transaction; refuse a stale diff."""
    by, now = ctx.user_id, utc_now()
    history: list[dict[str, Any]] = []
    with ctx.writer.transaction() as conn:
        for n, move in enumerate(diff.moves):
            current = conn.execute(
                "SELECT territory_id, owner_id, locked FROM accounts WHERE id = ?",
                (move.account_id,),
            ).fetchone()
            if current is None or tuple(current) != (move.from_territory_id, move.from_owner_id, 0):
                raise StoreError(
                    f"account {move.account_name!r} changed since the diff was made; "
                    "nothing was applied, run the assignment again"
                )
            ctx.writer.update(
                "accounts",
                move.account_id,
                {"territory_id": move.to_territory_id, "owner_id": move.to_owner_id},
            )
            history.append(
                {
                    "entity": "account",
                    "entity_id": move.account_id,
                    "from_territory_id": move.from_territory_id,
                    "to_territory_id": move.to_territory_id,
                    "from_owner_id": move.from_owner_id,
                    "to_owner_id": move.to_owner_id,
                    "reason": move.reason,
                    "by_user_id": by,
                    "at": now,
                }
            )
            if progress and n % 2000 == 0:
                progress(n, len(diff.moves), "Applying moves")
        if history:
            ctx.writer.insert_many("assignment_history", history)
    diff.applied = True


class BulkAssigner:
    """Assigns accounts about to be inserted in bulk (an import), block by block.

    :meth:`assign` fills ``territory_id`` and ``owner_id`` in rows that do not name a territory,
    in one vectorised pass per block, and returns the assignment-history rows to insert after the
    accounts (same transaction). Routing state carries over from block to block, so leads are
    spread fairly over the whole file.
    """

    def __init__(self, ctx: Context, policy: str = "round_robin") -> None:
        self.ctx = ctx
        self.engine = AssignmentEngine(load_definitions(ctx))
        self.routers = _Routers(ctx, policy)

    def assign(self, rows: list[dict[str, Any]], row_ids: list[str]) -> list[dict[str, Any]]:
        if not self.engine.territories:  # nothing to assign to: every row stays unassigned
            return []
        facts = [
            AccountFacts(
                row_id,
                r.get("lat"),
                r.get("lon"),
                r.get("postal_code"),
                r.get("country") or "US",  # the accounts table's defaults
                r.get("region"),
                r.get("industry"),
                r.get("size"),
                r.get("potential"),
                r.get("status") or "prospect",
            )
            for row_id, r in zip(row_ids, rows, strict=True)
        ]
        table = AccountTable(facts)
        result = self.engine.assign_table(table)
        by, now = self.ctx.user_id, utc_now()
        history: list[dict[str, Any]] = []
        for i, (row_id, r) in enumerate(zip(row_ids, rows, strict=True)):
            if r.get("territory_id") or r.get("locked"):
                continue
            to_t = self.engine.territory_id(int(result.territory[i]))
            if to_t is None:
                continue
            owner, owner_why = _owner_for(self.routers, to_t, r.get("owner_id"), True)
            r["territory_id"], r["owner_id"] = to_t, owner
            reason = self.engine.reason(table, result, i) + owner_why
            history.append(
                {
                    "entity": "account",
                    "entity_id": row_id,
                    "from_territory_id": None,
                    "to_territory_id": to_t,
                    "from_owner_id": None,
                    "to_owner_id": owner,
                    "reason": f"{ROUTED}: {reason}" if owner_why else reason,
                    "by_user_id": by,
                    "at": now,
                }
            )
        return history


def explain_account(ctx: Context, account_id: str) -> Decision:
    rows = [
        dict(r)
        for r in ctx.db.query(f"SELECT {_FACT_COLUMNS} FROM accounts WHERE id = ?", [account_id])
    ]
    if not rows:
        raise StoreError(f"account {account_id} does not exist")
    return AssignmentEngine(load_definitions(ctx)).explain(_facts_from_row(rows[0]))


def assign_account(ctx: Context, account_id: str, policy: str = "round_robin") -> Move | None:
    """Assign one new or edited account (assign-on-save); returns the move, or None if it stays.

    A locked account keeps its territory and owner. A new account with no owner is routed to a
    member of its territory; the history row records who, when and why.
    """
    rows = [
        dict(r)
        for r in ctx.db.query(f"SELECT {_FACT_COLUMNS} FROM accounts WHERE id = ?", [account_id])
    ]
    if not rows:
        raise StoreError(f"account {account_id} does not exist")
    r = rows[0]
    if r["locked"]:
        return None
    decision = AssignmentEngine(load_definitions(ctx)).explain(_facts_from_row(r))
    to_t = decision.territory_id
    changed = to_t != r["territory_id"]
    owner, owner_why = _owner_for(_Routers(ctx, policy), to_t, r["owner_id"], changed)
    if not changed and owner == r["owner_id"]:
        return None
    names = {t["id"]: t["name"] for t in ctx.db.query("SELECT id, name FROM territories")}
    reason = decision.reason + owner_why
    if owner_why:
        reason = f"{ROUTED}: {reason}"
    move = Move(
        account_id,
        r["name"],
        r["territory_id"],
        to_t,
        names.get(r["territory_id"], "(none)"),
        names.get(to_t, "(none)"),
        r["owner_id"],
        owner,
        reason,
    )
    apply(ctx, AssignmentDiff(moves=[move], total=1))
    return move


def route_lead(ctx: Context, territory_id: str, policy: str = "round_robin") -> Choice:
    """The member who gets the next lead in ``territory_id`` (not written; the caller records it)."""
    return _Routers(ctx, policy).choose(territory_id)


def route_referral(
    ctx: Context,
    referral_id: str,
    policy: str = "round_robin",
    geocoder: OfflineGeocoder | None = None,
) -> Move | None:
    """Route a referred lead to its territory and a member, as a new account would be.

    The referred party is placed offline from its postal code or city, matched by the same engine,
    and given an owner by :func:`route_lead`; the referral, a referral event and an
    assignment-history row (who, when, why) are written in one transaction. Returns the move, or
    None when nothing matches (the referral stays with whoever has it) or nothing changes.
    """
    row = ctx.conn.execute(
        "SELECT referred_name, referred_city, referred_postal_code, referred_country,"
        " territory_id, owner_id FROM referrals WHERE id = ?",
        (referral_id,),
    ).fetchone()
    if row is None:
        raise StoreError(f"referral {referral_id} does not exist")
    name, city, postal_code, country, from_t, from_owner = row
    place = (geocoder or OfflineGeocoder()).geocode(
        Address(city=city, postal_code=postal_code, country=country or "US")
    )
    facts = AccountFacts(
        referral_id,
        place.lat if place else None,
        place.lon if place else None,
        postal_code,
        country or "US",
    )
    decision = AssignmentEngine(load_definitions(ctx)).explain(facts)
    if decision.territory_id is None:
        return None
    choice = route_lead(ctx, decision.territory_id, policy)
    to_owner = choice.user_id or from_owner
    if (decision.territory_id, to_owner) == (from_t, from_owner):
        return None
    reason = f"{ROUTED}: {decision.reason}; owner: {choice.reason}"
    now = utc_now()
    with ctx.writer.transaction():
        ctx.writer.update(
            "referrals", referral_id, {"territory_id": decision.territory_id, "owner_id": to_owner}
        )
        ctx.writer.insert(
            "referral_events",
            {
                "referral_id": referral_id,
                "at": now,
                "user_id": ctx.user_id,
                "kind": "assignment",
                "from_value": from_owner,
                "to_value": to_owner,
                "reason": reason,
            },
        )
        ctx.writer.insert(
            "assignment_history",
            {
                "entity": "referral",
                "entity_id": referral_id,
                "from_territory_id": from_t,
                "to_territory_id": decision.territory_id,
                "from_owner_id": from_owner,
                "to_owner_id": to_owner,
                "reason": reason,
                "by_user_id": ctx.user_id,
                "at": now,
            },
        )
    names = {t["id"]: t["name"] for t in ctx.db.query("SELECT id, name FROM territories")}
    return Move(
        referral_id,
        name,
        from_t,
        decision.territory_id,
        names.get(from_t, "(none)"),
        names.get(decision.territory_id, "(none)"),
        from_owner,
        to_owner,
        reason,
    )


def history(ctx: Context, entity_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in ctx.db.query(
            "SELECT * FROM assignment_history WHERE entity_id = ? ORDER BY at, id", [entity_id]
        )
    ]


def diff_text(diff: AssignmentDiff, limit: int = 50) -> str:
    """The diff for a terminal: summary by (from -> to), then the first moves with their reasons."""
    lines = [
        f"{len(diff.moves):,} of {diff.total:,} accounts change territory or owner"
        f" ({diff.locked:,} locked, {len(diff.unassigned):,} match no territory)."
    ]
    for (src, dst), n in diff.counts().most_common(20):
        lines.append(f"  {n:>7,}  {src} -> {dst}")
    if diff.moves:
        lines.append("")
        lines.append("moved | from | to | why")
    for m in diff.moves[:limit]:
        lines.append(f"{m.account_name} | {m.from_territory} | {m.to_territory} | {m.reason}")
    if len(diff.moves) > limit:
        lines.append(f"... and {len(diff.moves) - limit:,} more (use --json for all)")
    for _, name, why in diff.unassigned[:10]:
        lines.append(f"unassigned: {name}: {why}")
    lines.append("applied." if diff.applied else "not applied (dry run).")
    return "\n".join(lines)


def dumps(diff: AssignmentDiff) -> str:
    return json.dumps(diff.to_json(), indent=2)
