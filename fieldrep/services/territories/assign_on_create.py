"""Assigning what is created in bulk or from outside: imported accounts and referred leads.

:class:`BulkAssigner` gives each block of an import its territory and owner before the rows are
written (same transaction), with routing fair across the whole file. :func:`route_referral` routes a
referred lead to its territory and a member, as a new account would be.
"""

from __future__ import annotations

from typing import Any

from fieldrep.domain.assignment import AccountFacts, AccountTable, AssignmentEngine
from fieldrep.geo.geocoding import Address, OfflineGeocoder
from fieldrep.services.context import Context
from fieldrep.services.territories.assignment import Move
from fieldrep.services.territories.lead_routing import ROUTED, Routers, owner_for, route_lead
from fieldrep.services.territories.service import load_definitions
from fieldrep.store.errors import StoreError
from fieldrep.store.writer import utc_now


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
        self.routers = Routers(ctx, policy)
        # Rows no territory matched, kept by the importing user.
        self.kept_as_yours = 0

    def assign(self, rows: list[dict[str, Any]], row_ids: list[str]) -> list[dict[str, Any]]:
        history = self._assign(rows, row_ids)
        # What no territory takes belongs to whoever created it (the CRM convention), so it
        # stays in their view and their manager's after a sync.
        me = self.ctx.user_id
        if me:  # signed in: ownership means something to the team
            for r in rows:
                if not r.get("territory_id") and not r.get("owner_id"):
                    self.kept_as_yours += 1
                    r["owner_id"] = me
        return history

    def _assign(self, rows: list[dict[str, Any]], row_ids: list[str]) -> list[dict[str, Any]]:
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
            owner, owner_why = owner_for(self.routers, to_t, r.get("owner_id"), True)
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
