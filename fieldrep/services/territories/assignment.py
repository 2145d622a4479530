"""Running the assignment engine over the database: the reassignment diff, applying it, assign-on-save.

``assign_all(ctx, dry_run=True)`` computes, for every unlocked account, the territory the engine
picks and (when the territory changes or the account has no owner) the owner routing picks, and
returns the differences with their reasons. Applying writes every move and its assignment-history row
(who, when, why) in ONE transaction, after checking nothing changed since the diff was made.

``assign_account(ctx, account_id)`` is the hook the accounts service calls after saving an account.
Owners are picked by :mod:`fieldrep.services.territories.lead_routing`; imported accounts and referred leads are
assigned as they are created by :mod:`fieldrep.services.territories.assign_on_create`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fieldrep.domain.assignment import AccountFacts, AccountTable, AssignmentEngine, Decision
from fieldrep.domain.progress import Progress
from fieldrep.services.context import Context
from fieldrep.services.gc_pause import collector_paused
from fieldrep.services.territories.lead_routing import ROUTED, Routers, owner_for
from fieldrep.services.territories.service import load_definitions
from fieldrep.store.errors import StoreError
from fieldrep.store.writer import utc_now

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
    kept_as_yours: int = 0  # of the unassigned, owned by the user running the assignment

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "moved": len(self.moves),
            "locked": self.locked,
            "kept_as_yours": self.kept_as_yours,
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


def assign_all(
    ctx: Context,
    dry_run: bool = True,
    progress: Progress | None = None,
    policy: str = "round_robin",
) -> AssignmentDiff:
    """The reassignment diff for every account; applied (one transaction) unless ``dry_run``.

    A bulk job: it holds every account's facts, so the automatic collector is paused while it
    runs (:mod:`fieldrep.services.gc_pause`; a full collection walked them all, 40-65 ms in one
    GIL hold, and the window stopped twice that long)."""
    with collector_paused():
        return _assign_all(ctx, dry_run, progress, policy)


def _assign_all(
    ctx: Context, dry_run: bool, progress: Progress | None, policy: str
) -> AssignmentDiff:
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
    routers = Routers(ctx, policy)
    me = ctx.user_id
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
        owner, owner_why = owner_for(routers, to_t, r["owner_id"], changed)
        if to_t is None and owner is None and me:
            # What no territory takes stays with whoever runs the assignment (the CRM
            # convention): theirs, and in their view after a sync.
            owner, owner_why = me, "; owner: kept as yours (no territory matches)"
        if to_t is None and owner is not None and owner == me:
            diff.kept_as_yours += 1
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
    with collector_paused():
        _apply(ctx, diff, progress)


def _apply(ctx: Context, diff: AssignmentDiff, progress: Progress | None) -> None:
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
    owner, owner_why = owner_for(Routers(ctx, policy), to_t, r["owner_id"], changed)
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


def history(ctx: Context, entity_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in ctx.db.query(
            "SELECT * FROM assignment_history WHERE entity_id = ? ORDER BY at, id", [entity_id]
        )
    ]


def kept_as_yours_line(count: int) -> str:
    """What an import or an assignment says of the accounts that stay their creator's."""
    if count == 1:
        return "1 account matches no territory: kept as yours"
    return f"{count:,} accounts match no territory: kept as yours"


def diff_text(diff: AssignmentDiff, limit: int = 50) -> str:
    """The diff for a terminal: summary by (from -> to), then the first moves with their reasons."""
    lines = [
        f"{len(diff.moves):,} of {diff.total:,} accounts change territory or owner"
        f" ({diff.locked:,} locked, {len(diff.unassigned):,} match no territory)."
    ]
    if diff.kept_as_yours:
        lines.append(kept_as_yours_line(diff.kept_as_yours))
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
